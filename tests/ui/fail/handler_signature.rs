// What a `#[handler]` method shares with `#[message]`: a `&self` / `&mut self` receiver, no
// generics, no `unsafe`, an owned reply.
use snowglobe::{Actor, Message, messages};

struct Ping(u32);

impl Message for Ping {
    type Reply = u32;
}

#[derive(Actor)]
struct Watcher {
    pings: u32,
}

#[messages]
impl Watcher {
    #[handler]
    fn consume(self, msg: Ping) -> u32 {
        msg.0 + self.pings
    }

    #[handler]
    fn detached(msg: Ping) -> u32 {
        msg.0
    }

    #[handler]
    fn generic<M: Message<Reply = u32>>(&mut self, _msg: M) -> u32 {
        self.pings
    }

    #[handler]
    fn bounded(&mut self, msg: Ping) -> u32
    where
        Self: Sized,
    {
        msg.0
    }

    #[handler]
    unsafe fn risky(&mut self, msg: Ping) -> u32 {
        msg.0
    }

    #[handler]
    fn opaque(&mut self, msg: Ping) -> impl Copy {
        msg.0
    }
}

fn main() {}
