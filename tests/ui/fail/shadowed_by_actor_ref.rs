// `conveyor.stop()` would call `ActorRef::stop`, never the message.
use snowglobe::{Actor, messages};

#[derive(Actor)]
struct Conveyor {
    running: bool,
}

#[messages]
impl Conveyor {
    #[message]
    fn stop(&mut self) {
        self.running = false;
    }

    #[message]
    fn id(&self) -> u32 {
        7
    }
}

fn main() {}
