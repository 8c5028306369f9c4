// A `pub` actor whose message methods are all private gets a private mailbox enum, which
// cannot be the `Actor::Msg` of a public type. The fix: `pub` methods, or
// `#[messages(vis = pub)]`.
use snowglobe::{Actor, messages};

#[derive(Actor)]
pub struct Till {
    cash: u32,
}

#[messages]
impl Till {
    #[message]
    fn cash(&self) -> u32 {
        self.cash
    }
}

fn main() {}
