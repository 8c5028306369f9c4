//! A test actor that does what a test tells it: record values, wait on a gate, panic, never
//! finish. Built without macros, on `DynMessage`, so the runtime is tested on its own.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;

use snowglobe::{Actor, BoxError, Context, DynMessage, Handler, Headers, Message, StopReason};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// What the probe saw, shared with the test so the test can read it after the actor stopped.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }
    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Default)]
pub struct Probe {
    pub name: &'static str,
    pub journal: Journal,
    pub seen: Vec<u64>,
    pub fail_start: bool,
    pub panic_on_start: bool,
}

impl Probe {
    pub fn named(name: &'static str, journal: &Journal) -> Probe {
        Probe {
            name,
            journal: journal.clone(),
            ..Probe::default()
        }
    }
}

impl Actor for Probe {
    type Msg = DynMessage<Self>;

    async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if self.panic_on_start {
            panic!("{} panicked in on_start", self.name);
        }
        if self.fail_start {
            return Err(format!("{} refused to start", self.name).into());
        }
        self.journal.push(format!("{} started", self.name));
        Ok(())
    }

    async fn on_stop(&mut self, _ctx: &mut Context<Self>, reason: &StopReason) {
        self.journal
            .push(format!("{} stopped: {reason}", self.name));
    }
}

/// Records a value; replies with how many values were recorded so far.
pub struct Record(pub u64);
impl Message for Record {
    type Reply = usize;
}
impl Handler<Record> for Probe {
    async fn handle(&mut self, Record(v): Record, _: &mut Context<Self>) -> usize {
        self.seen.push(v);
        self.seen.len()
    }
}

/// Replies with every value recorded.
pub struct Seen;
impl Message for Seen {
    type Reply = Vec<u64>;
}
impl Handler<Seen> for Probe {
    async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Vec<u64> {
        self.seen.clone()
    }
}

/// Waits until the gate opens (the sender is used or dropped), then replies.
pub struct Wait(pub oneshot::Receiver<()>);
impl Message for Wait {
    type Reply = ();
}
impl Handler<Wait> for Probe {
    async fn handle(&mut self, Wait(gate): Wait, _: &mut Context<Self>) {
        let _ = gate.await;
    }
}

/// Announces that the handler has started, then waits until the gate opens.
pub struct Hold {
    pub started: oneshot::Sender<()>,
    pub gate: oneshot::Receiver<()>,
}
impl Message for Hold {
    type Reply = ();
}
impl Handler<Hold> for Probe {
    async fn handle(&mut self, hold: Hold, _: &mut Context<Self>) {
        let _ = hold.started.send(());
        let _ = hold.gate.await;
    }
}

/// Never completes.
pub struct Forever;
impl Message for Forever {
    type Reply = ();
}
impl Handler<Forever> for Probe {
    async fn handle(&mut self, _: Forever, _: &mut Context<Self>) {
        std::future::pending::<()>().await;
    }
}

/// Panics with the given text.
pub struct Boom(pub &'static str);
impl Message for Boom {
    type Reply = u64;
}
impl Handler<Boom> for Probe {
    async fn handle(&mut self, Boom(text): Boom, _: &mut Context<Self>) -> u64 {
        panic!("{text}");
    }
}

/// Replies with the headers of this very message.
pub struct WhatHeaders;
impl Message for WhatHeaders {
    type Reply = Headers;
}
impl Handler<WhatHeaders> for Probe {
    async fn handle(&mut self, _: WhatHeaders, ctx: &mut Context<Self>) -> Headers {
        *ctx.headers()
    }
}

/// Stops the probe from inside a handler.
pub struct StopSelf;
impl Message for StopSelf {
    type Reply = ();
}
impl Handler<StopSelf> for Probe {
    async fn handle(&mut self, _: StopSelf, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A gate: `open` lets a `Wait` handler finish.
pub fn gate() -> (oneshot::Sender<()>, Wait) {
    let (tx, rx) = oneshot::channel();
    (tx, Wait(rx))
}

/// Kills its own actor from the handler's synchronous part, then waits forever.
pub struct KillSelfThenWait;
impl Message for KillSelfThenWait {
    type Reply = ();
}
impl Handler<KillSelfThenWait> for Probe {
    async fn handle(&mut self, _: KillSelfThenWait, ctx: &mut Context<Self>) {
        ctx.actor_ref().kill();
        std::future::pending::<()>().await;
    }
}

/// Panics when dropped.
pub struct Bomb;
impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("bomb dropped");
    }
}

/// Holds a `Bomb` across an await that never completes; says when it started.
pub struct HoldBomb(pub oneshot::Sender<()>);
impl Message for HoldBomb {
    type Reply = ();
}
impl Handler<HoldBomb> for Probe {
    async fn handle(&mut self, HoldBomb(started): HoldBomb, _: &mut Context<Self>) {
        let _bomb = Bomb;
        let _ = started.send(());
        std::future::pending::<()>().await;
    }
}
