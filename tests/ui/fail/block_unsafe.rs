use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Clicks {
    n: u32,
}

#[messages]
unsafe impl Clicks {
    #[message]
    fn bump(&mut self) -> u32 {
        self.n += 1;
        self.n
    }
}

fn main() {}
