use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Inventory;

#[messages]
impl Inventory {
    #[message]
    fn restock(units: u32) -> u32 {
        units
    }
}

fn main() {}
