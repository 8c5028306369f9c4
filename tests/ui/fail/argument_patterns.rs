use snowglobe::{Actor, messages};

struct Range {
    from: u32,
    to: u32,
}

#[derive(Actor)]
struct Ledger {
    total: u32,
}

#[messages]
impl Ledger {
    #[message]
    fn ignore(&mut self, _: u32) {}

    #[message]
    fn pair(&mut self, (a, b): (u32, u32)) {
        self.total += a + b;
    }

    #[message]
    fn range(&mut self, Range { from, to }: Range) {
        self.total += to - from;
    }

    #[message]
    fn by_ref(&mut self, ref amount: u32) {
        self.total += *amount;
    }
}

fn main() {}
