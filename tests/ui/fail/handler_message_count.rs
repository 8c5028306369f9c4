// A `#[handler]` takes exactly one message besides `self` and the context.
use snowglobe::{Actor, Context, Message, messages};

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
    fn none(&mut self) -> u32 {
        self.pings
    }

    #[handler]
    fn only_context(&mut self, ctx: &mut Context<Self>) -> u32 {
        let _ = ctx.id();
        self.pings
    }

    #[handler]
    fn two(&mut self, msg: Ping, times: u32) -> u32 {
        msg.0 * times
    }

    #[handler]
    fn three(&mut self, msg: Ping, ctx: &Context<Self>, times: u32, label: String) -> u32 {
        let _ = (ctx.id(), label);
        msg.0 * times
    }

    #[handler]
    fn attributed(&mut self, #[allow(unused_variables)] msg: Ping) -> u32 {
        self.pings
    }
}

fn main() {}
