// The message of a `#[handler]` is a named type, taken by value.
use std::borrow::Cow;

use snowglobe::{Actor, Message, messages};

struct Ping(u32);

impl Message for Ping {
    type Reply = u32;
}

struct Labelled<T>(T);

impl<T: Send + 'static> Message for Labelled<T> {
    type Reply = ();
}

#[derive(Actor)]
struct Watcher {
    pings: u32,
}

#[messages]
impl Watcher {
    #[handler]
    fn by_ref(&mut self, msg: &Ping) -> u32 {
        msg.0
    }

    #[handler]
    fn by_mut(&mut self, msg: &mut Ping) -> u32 {
        msg.0
    }

    #[handler]
    fn any(&mut self, msg: impl Into<u32>) -> u32 {
        msg.into()
    }

    #[handler]
    fn pair(&mut self, msg: (Ping, Ping)) -> u32 {
        msg.0.0 + msg.1.0
    }

    #[handler]
    fn itself(&mut self, _msg: Self) {}

    #[handler]
    fn borrowed_inside(&mut self, _msg: Labelled<Cow<'_, str>>) {}
}

fn main() {}
