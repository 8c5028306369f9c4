// `#[handler]` takes no options, goes on methods, and does not combine with `#[message]`.
use snowglobe::{Actor, Message, messages};

struct Ping;

impl Message for Ping {
    type Reply = ();
}

struct Pong;

impl Message for Pong {
    type Reply = ();
}

struct Tick;

impl Message for Tick {
    type Reply = ();
}

#[derive(Actor)]
struct Watcher {
    pings: u32,
}

#[messages]
impl Watcher {
    #[handler]
    const LIMIT: u32 = 10;

    #[handler(name = Pinged, derive(Debug))]
    fn ping(&mut self, _msg: Ping) {
        self.pings += 1;
    }

    #[handler = "Pong"]
    fn pong(&mut self, _msg: Pong) {}

    #[handler]
    #[handler]
    fn tick(&mut self, _msg: Tick) {}

    #[message]
    #[handler]
    fn both(&mut self) {}
}

fn main() {}
