use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Inventory {
    units: u32,
}

#[messages(visibility = pub, vis = pub(crate), vis = pub)]
impl Inventory {
    #[message]
    fn count(&self) -> u32 {
        self.units
    }
}

fn main() {}
