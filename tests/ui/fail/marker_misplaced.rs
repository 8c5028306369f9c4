use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Till {
    cash: u32,
}

#[messages]
impl Till {
    #[message]
    const LIMIT: u32 = 100;

    #[message]
    #[message]
    fn cash(&self) -> u32 {
        self.cash
    }
}

fn main() {}
