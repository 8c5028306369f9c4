// `#[derive(Actor)]` takes its mailbox from a `#[messages]` block; here there is none.
use snowglobe::Actor;

#[derive(Actor)]
struct Inventory {
    units: u32,
}

impl Inventory {
    fn restock(&mut self, units: u32) {
        self.units += units;
    }
}

fn main() {}
