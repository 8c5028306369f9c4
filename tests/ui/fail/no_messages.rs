use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Inventory {
    units: u32,
}

#[messages]
impl Inventory {
    fn restock(&mut self, units: u32) {
        self.units += units;
    }
}

fn main() {}
