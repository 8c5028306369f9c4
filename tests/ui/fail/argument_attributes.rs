use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Till {
    cash: u32,
}

#[messages]
impl Till {
    #[message]
    fn add(&mut self, #[allow(unused_variables)] amount: u32) {
        self.cash += 1;
    }
}

fn main() {}
