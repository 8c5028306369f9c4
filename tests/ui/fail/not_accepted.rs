// Telling an actor a message none of its `#[message]` methods handles.
use snowglobe::{Actor, ActorRef, Message, messages};

#[derive(Actor)]
struct Inventory {
    units: u32,
}

#[messages]
impl Inventory {
    #[message]
    fn restock(&mut self, units: u32) {
        self.units += units;
    }

    #[message]
    fn units(&self) -> u32 {
        self.units
    }
}

struct Audit;

impl Message for Audit {
    type Reply = ();
}

async fn audit(inventory: ActorRef<Inventory>) {
    let _ = inventory.tell(Audit).await;
}

fn main() {}
