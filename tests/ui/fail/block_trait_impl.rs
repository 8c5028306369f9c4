use snowglobe::{Actor, messages};

trait Counter {
    fn bump(&mut self) -> u32;
}

#[derive(Actor)]
struct Clicks {
    n: u32,
}

#[messages]
impl Counter for Clicks {
    #[message]
    fn bump(&mut self) -> u32 {
        self.n += 1;
        self.n
    }
}

fn main() {}
