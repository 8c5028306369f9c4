//! The mailbox sweeper: gives back the spare block of mailboxes whose actor went idle after a
//! burst.
//!
//! A mailbox keeps the full block of a burst that came right after another as its spare when
//! its actor parks, and frees it at the actor's next park if no burst needed it meanwhile (see
//! `mailbox/queue.rs`, Memory). An actor that parks for good after such a burst has no next
//! park: the actor's loop lists its mailbox here instead, once per marked spare, and a task of
//! the system's frees what is still marked [`SWEEP_AFTER`] later. The task runs only while
//! mailboxes are listed, so a system whose actors never get a burst has none, and under the
//! simulator nothing is listed: its schedule, and so its traces, do not depend on memory.

use std::future::{Future, poll_fn};
use std::sync::Weak;
use std::task::{Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use crate::actor::Node;
use crate::system::{Rt, Shared};

/// How long after a burst an idle actor's mailbox gives its spare block back, at most. The
/// next sweep frees every spare marked before it and still unused; a listed actor that got
/// another burst meanwhile allocates its next block again, at most once per sweep.
pub(crate) const SWEEP_AFTER: Duration = Duration::from_secs(10);

/// The list of mailboxes to sweep, and the task that sweeps them.
#[derive(Default)]
pub(crate) struct Sweeper {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The actors whose mailbox asked to be listed since the last sweep.
    listed: Vec<Weak<dyn Node>>,
    /// Whether the task runs (it ends when a sweep finds nothing listed).
    running: bool,
    /// The task's waker while it sleeps, to end it when the system goes.
    waker: Option<Waker>,
}

impl Sweeper {
    /// Lists an actor whose mailbox keeps a marked spare, and starts the task if it is not
    /// running. Nothing under the simulator.
    #[cold]
    pub(crate) fn list(&self, system: &Shared, node: Weak<dyn Node>) {
        if matches!(system.rt(), Rt::Sim(_)) {
            return;
        }
        let start = {
            let mut state = self.state.lock();
            state.listed.push(node);
            !std::mem::replace(&mut state.running, true)
        };
        if start {
            // Of no simulated node, and holding the system weakly, as the deadline driver.
            system.rt().spawn_unbound(sweep(system.weak()));
        }
    }

    /// How many actors wait for the next sweep, and whether the task runs.
    #[cfg(test)]
    fn status(&self) -> (usize, bool) {
        let state = self.state.lock();
        (state.listed.len(), state.running)
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        // The system is gone: the task, which holds it weakly, sees that when woken and ends.
        if let Some(waker) = self.state.get_mut().waker.take() {
            waker.wake();
        }
    }
}

impl std::fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Sweeper")
            .field("listed", &state.listed.len())
            .field("running", &state.running)
            .finish()
    }
}

/// The task: sleeps [`SWEEP_AFTER`], gives back the spares of what was listed, and goes on
/// while more is listed.
async fn sweep(system: Weak<Shared>) {
    loop {
        let mut sleep = {
            let Some(shared) = system.upgrade() else {
                return;
            };
            Box::pin(shared.rt().sleep(SWEEP_AFTER))
        };
        poll_fn(|cx| {
            let Some(shared) = system.upgrade() else {
                return Poll::Ready(());
            };
            shared.sweeper.state.lock().waker = Some(cx.waker().clone());
            sleep.as_mut().poll(cx)
        })
        .await;
        let Some(shared) = system.upgrade() else {
            return;
        };
        let listed = std::mem::take(&mut shared.sweeper.state.lock().listed);
        for node in listed {
            if let Some(node) = node.upgrade() {
                node.shed_spare();
            }
        }
        let mut state = shared.sweeper.state.lock();
        state.waker = None;
        if state.listed.is_empty() {
            state.running = false;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, ActorRef, Context, DynMessage, Handler, Message, System};

    struct Sink;
    impl Actor for Sink {
        type Msg = DynMessage<Self>;
    }

    struct Put;
    impl Message for Put {
        type Reply = ();
    }
    impl Handler<Put> for Sink {
        async fn handle(&mut self, _: Put, _: &mut Context<Self>) {}
    }

    /// Tells faster than the actor takes them (it runs once this task waits), then an ask that
    /// waits for them all; the actor has parked when the reply is in.
    async fn burst(sink: &ActorRef<Sink>) {
        for _ in 0..100 {
            sink.tell(Put).await.unwrap();
        }
        sink.ask(Put).await.unwrap();
    }

    fn holds_spare(sink: &ActorRef<Sink>) -> bool {
        sink.cell().queue.holds_spare()
    }

    #[tokio::test(start_paused = true)]
    async fn an_actor_idle_after_a_burst_gives_its_spare_back() {
        let system = System::new();
        let sweeper = &system.shared().sweeper;
        let sink = system.spawn(Sink).unwrap();
        sink.ask(Put).await.unwrap();
        assert_eq!(sweeper.status(), (0, false), "no burst, no sweep");

        burst(&sink).await;
        assert!(
            !holds_spare(&sink),
            "a burst after asks gives its blocks back as it parks"
        );
        assert_eq!(sweeper.status(), (0, false), "nothing to sweep");

        for nth in ["second", "third"] {
            burst(&sink).await;
            assert!(
                !holds_spare(&sink),
                "a {nth} burst in a row gives its blocks back too"
            );
            assert_eq!(sweeper.status(), (0, false));
        }

        burst(&sink).await;
        assert!(
            holds_spare(&sink),
            "the fourth burst in a row: its block, kept over one park"
        );
        assert_eq!(
            sweeper.status(),
            (1, true),
            "listed once, the sweep started"
        );
        // Another burst takes the spare and leaves one again; the mailbox is listed already.
        burst(&sink).await;
        assert!(holds_spare(&sink));
        assert_eq!(sweeper.status(), (1, true));

        let start = system.now();
        tokio::time::sleep(SWEEP_AFTER).await;
        assert_eq!(system.now() - start, SWEEP_AFTER);
        // The sweep ran at this very instant, before or after this task: let it finish.
        tokio::task::yield_now().await;
        assert!(!holds_spare(&sink), "swept");
        assert_eq!(
            sweeper.status(),
            (0, false),
            "nothing listed: the task ended"
        );

        // Listed again by the next burst, swept again.
        burst(&sink).await;
        assert_eq!(sweeper.status(), (1, true));
        tokio::time::sleep(SWEEP_AFTER).await;
        tokio::task::yield_now().await;
        assert!(!holds_spare(&sink));
        system.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_actor_or_a_dropped_system_ends_the_sweep() {
        let system = System::new();
        let sink = system.spawn(Sink).unwrap();
        for _ in 0..crate::mailbox::KEEP_AFTER_BURSTS {
            burst(&sink).await;
        }
        assert_eq!(system.shared().sweeper.status(), (1, true));
        sink.stop();
        sink.stopped().await;
        drop(sink);
        tokio::time::sleep(SWEEP_AFTER).await;
        tokio::task::yield_now().await;
        assert_eq!(system.shared().sweeper.status(), (0, false));
        // (Its scheduler's drivers live as long as it does.)
        drop(system);

        // A system dropped while the sweep sleeps: its task ends without waiting it out.
        let system = System::new();
        let sink = system.spawn(Sink).unwrap();
        for _ in 0..crate::mailbox::KEEP_AFTER_BURSTS {
            burst(&sink).await;
        }
        assert_eq!(system.shared().sweeper.status(), (1, true));
        system.shutdown().await;
        drop((sink, system));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let alive = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        assert_eq!(alive, 0, "tasks left behind by the dropped system");
    }
}
