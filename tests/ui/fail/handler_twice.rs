// One mailbox variant per message type, named after the type's last path segment.
use snowglobe::{Actor, Message, messages};

struct Ping(u32);

impl Message for Ping {
    type Reply = u32;
}

mod other {
    pub struct Ping;

    impl snowglobe::Message for Ping {
        type Reply = u32;
    }

    pub struct Status;

    impl snowglobe::Message for Status {
        type Reply = u32;
    }
}

#[derive(Actor)]
struct Watcher {
    pings: u32,
}

#[messages]
impl Watcher {
    #[handler]
    fn ping(&mut self, msg: Ping) -> u32 {
        msg.0
    }

    // The same type again.
    #[handler]
    fn ping_again(&mut self, msg: Ping) -> u32 {
        msg.0 + 1
    }

    // Another type with the same last segment.
    #[handler]
    fn other_ping(&mut self, _msg: other::Ping) -> u32 {
        self.pings
    }

    // A generated message struct, then a handled type, with the same name.
    #[message]
    fn status(&self) -> u32 {
        self.pings
    }

    #[handler]
    fn other_status(&self, _msg: other::Status) -> u32 {
        self.pings
    }

    // A handled type, then a generated message struct, with the same name.
    #[message(name = Ping)]
    fn ping_struct(&self) -> u32 {
        self.pings
    }
}

fn main() {}
