// A `#[handler]` returns its message's `Message::Reply`; rustc checks it.
use snowglobe::{Actor, Message, messages};

struct Ping(u32);

impl Message for Ping {
    type Reply = u32;
}

struct Quote;

impl Message for Quote {
    type Reply = u64;
}

struct Tick;

impl Message for Tick {
    type Reply = bool;
}

#[derive(Actor)]
struct Watcher {
    pings: u32,
}

#[messages]
impl Watcher {
    #[handler]
    fn ping(&mut self, msg: Ping) -> String {
        msg.0.to_string()
    }

    #[handler]
    async fn quote(&self, _msg: Quote) -> u32 {
        self.pings
    }

    #[handler]
    fn tick(&mut self, _msg: Tick) {
        self.pings += 1;
    }
}

fn main() {}
