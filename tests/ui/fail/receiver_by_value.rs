use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Inventory {
    units: u32,
}

#[messages]
impl Inventory {
    #[message]
    fn close(self) -> u32 {
        self.units
    }

    #[message]
    fn drain(mut self) -> u32 {
        self.units = 0;
        self.units
    }

    #[message]
    fn boxed(self: Box<Self>) -> u32 {
        self.units
    }
}

fn main() {}
