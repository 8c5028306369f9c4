use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Inventory {
    units: u32,
}

#[messages]
impl Inventory {
    #[message(rename = Refill)]
    fn restock(&mut self, units: u32) {
        self.units += units;
    }

    #[message(name = Count, name = Units)]
    fn count(&self) -> u32 {
        self.units
    }

    #[message(derive(Debug), derive(Clone))]
    fn clear(&mut self) {
        self.units = 0;
    }

    #[message = "Double"]
    fn double(&mut self) {
        self.units *= 2;
    }
}

fn main() {}
