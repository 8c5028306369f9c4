// A binary-style crate: private actor and items, most messages never sent, no warnings
// allowed. Nothing generated may be reported as dead code.
#![deny(warnings)]

use snowglobe::{Actor, Context, Message, System, messages};

#[derive(Actor, Default)]
struct Inventory {
    units: u32,
}

#[messages]
impl Inventory {
    /// Reserves units.
    #[message]
    async fn reserve(&mut self, qty: u32) -> Result<u32, String> {
        if qty > self.units {
            return Err(format!("only {} left", self.units));
        }
        self.units -= qty;
        Ok(self.units)
    }

    #[message(derive(Debug))]
    fn restock(&mut self, qty: u32) {
        self.units += qty;
    }

    #[message]
    fn units(&self, ctx: &mut Context<Self>) -> u32 {
        let _ = ctx.id();
        self.units
    }

    #[message]
    pub fn ping(&self) {}

    #[message]
    pub(crate) fn unused(&mut self, _reason: String, _code: u8) {}
}

struct Beat;

impl Message for Beat {
    type Reply = ();
}

struct Audit(u32);

impl Message for Audit {
    type Reply = u32;
}

/// Only handlers: no client trait is generated, and nothing is reported as unused.
#[derive(Actor, Default)]
struct Auditor {
    beats: u32,
}

#[messages]
impl Auditor {
    #[handler]
    fn beat(&mut self, _: Beat) {
        self.beats += 1;
    }

    #[handler]
    async fn audit(&self, Audit(n): Audit, ctx: &mut Context<Self>) -> u32 {
        let _ = ctx.id();
        n + self.beats
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let system = System::new();
    let inventory = system.spawn(Inventory { units: 5 }).unwrap();
    assert_eq!(inventory.reserve(2).await.unwrap(), Ok(3));
    let auditor = system.spawn(Auditor::default()).unwrap();
    auditor.tell(Beat).await.unwrap();
    assert_eq!(auditor.ask(Audit(1)).await.unwrap(), 2);
    system.shutdown().await;
}
