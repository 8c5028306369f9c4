use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Clicks {
    n: u32,
}

#[messages]
impl Clicks
where
    u32: Copy,
{
    #[message]
    fn bump(&mut self) -> u32 {
        self.n += 1;
        self.n
    }
}

fn main() {}
