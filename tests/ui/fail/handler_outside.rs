// `#[handler]` only means something inside a `#[messages]` block.
use snowglobe::{Message, handler};

struct Ping;

impl Message for Ping {
    type Reply = ();
}

struct Watcher {
    pings: u32,
}

impl Watcher {
    #[handler]
    fn ping(&mut self, _msg: Ping) {
        self.pings += 1;
    }
}

fn main() {}
