use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Inventory {
    units: u32,
}

#[messages]
impl Inventory {
    #[message]
    fn get_units(&self) -> u32 {
        self.units
    }

    #[message(name = GetUnits)]
    fn units(&self) -> u32 {
        self.units
    }

    #[message(name = Inventory)]
    fn snapshot(&self) -> u32 {
        self.units
    }

    #[message]
    fn inventory_msg(&self) -> u32 {
        self.units
    }

    #[message]
    fn _1(&self) -> u32 {
        self.units
    }
}

fn main() {}
