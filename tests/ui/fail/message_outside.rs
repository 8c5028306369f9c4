// `#[message]` only means something inside a `#[messages]` block.
use snowglobe::message;

struct Inventory {
    units: u32,
}

impl Inventory {
    #[message]
    fn restock(&mut self, units: u32) {
        self.units += units;
    }
}

#[message]
fn free_standing() {}

fn main() {}
