//! Ask deadlines: one timer for the whole system instead of one per ask.
//!
//! Every ask has a deadline, but almost every ask is answered long before it. Arming a
//! runtime timer per ask (register in the timer wheel, then cancel) costs more than the rest
//! of the ask together, and on a multi-thread runtime its locks are contended. Here an ask
//! that has to wait registers its deadline and waker in a small heap (one short lock on a
//! shard picked by thread), and cancels on completion (one more). A single driver task sleeps
//! on the runtime seam until the earliest deadline, wakes the asks that are due, and marks
//! them fired; an ask woken that way sees it and fails with `Timeout`.
//!
//! Cancelled entries leave their heap items behind; an item is skipped when its entry's
//! generation no longer matches, and a shard's heap is rebuilt when stale items outnumber live
//! entries, so memory stays proportional to the asks in flight.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::poll_fn;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Poll, Waker};

use parking_lot::Mutex;

use super::{Instant, Shared};

/// Shards of the deadline table; a thread always uses the same one.
const SHARDS: usize = 4;

/// A registered deadline, held by the ask that registered it.
#[derive(Debug)]
pub(crate) struct Registration {
    shard: u32,
    key: u32,
    generation: u32,
}

struct Entry {
    generation: u32,
    waker: Option<Waker>,
    fired: bool,
    live: bool,
}

#[derive(Default)]
struct Shard {
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// (deadline, key, generation), earliest first.
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    live: usize,
}

/// The system's deadline table and its driver.
pub(crate) struct Deadlines {
    shards: [Mutex<Shard>; SHARDS],
    /// The deadline (nanoseconds) the driver sleeps until; `u64::MAX` when it sleeps without
    /// one.
    armed: AtomicU64,
    driver: Mutex<Option<Waker>>,
    started: AtomicBool,
}

impl Shard {
    fn insert(&mut self, deadline: u64, waker: Waker) -> (u32, u32) {
        let key = if let Some(key) = self.free.pop() {
            let entry = &mut self.entries[key as usize];
            entry.generation = entry.generation.wrapping_add(1);
            entry.waker = Some(waker);
            entry.fired = false;
            entry.live = true;
            key
        } else {
            let key = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            self.entries.push(Entry {
                generation: 0,
                waker: Some(waker),
                fired: false,
                live: true,
            });
            key
        };
        let generation = self.entries[key as usize].generation;
        self.heap.push(Reverse((deadline, key, generation)));
        self.live += 1;
        (key, generation)
    }

    fn entry(&mut self, registration: &Registration) -> Option<&mut Entry> {
        self.entries
            .get_mut(registration.key as usize)
            .filter(|e| e.live && e.generation == registration.generation)
    }

    fn remove(&mut self, registration: &Registration) -> Option<Waker> {
        let entry = self.entry(registration)?;
        entry.live = false;
        let waker = entry.waker.take();
        self.free.push(registration.key);
        self.live -= 1;
        if self.heap.len() > 2 * self.live + 64 {
            let entries = &self.entries;
            self.heap.retain(|Reverse((_, key, generation))| {
                let e = &entries[*key as usize];
                e.live && e.generation == *generation
            });
        }
        waker
    }

    /// Fires the entries due at `now`; returns the earliest deadline left.
    fn fire(&mut self, now: u64, wake: &mut Vec<Waker>) -> u64 {
        while let Some(&Reverse((deadline, key, generation))) = self.heap.peek() {
            if deadline > now {
                return deadline;
            }
            self.heap.pop();
            let entry = &mut self.entries[key as usize];
            if entry.live && entry.generation == generation && !entry.fired {
                entry.fired = true;
                wake.extend(entry.waker.take());
            }
        }
        u64::MAX
    }
}

impl Deadlines {
    pub(crate) fn new() -> Deadlines {
        Deadlines {
            shards: Default::default(),
            armed: AtomicU64::new(u64::MAX),
            driver: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }

    fn shard_index() -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
        }
        SHARD.with(|s| *s)
    }

    /// Registers a deadline; `waker` is woken when it passes.
    pub(crate) fn register(
        &self,
        system: &Shared,
        deadline: Instant,
        waker: &Waker,
    ) -> Registration {
        let at = deadline.as_nanos();
        let shard = Self::shard_index();
        let (key, generation) = self.shards[shard].lock().insert(at, waker.clone());
        if at < self.armed.load(Ordering::Acquire) {
            self.rearm(system, at);
        }
        Registration {
            shard: u32::try_from(shard).unwrap_or(0),
            key,
            generation,
        }
    }

    /// Whether the deadline passed; if not, the waker to wake when it does is updated.
    pub(crate) fn poll_fired(&self, registration: &Registration, waker: &Waker) -> bool {
        let mut shard = self.shards[registration.shard as usize].lock();
        match shard.entry(registration) {
            Some(entry) if entry.fired => true,
            Some(entry) => {
                match &entry.waker {
                    Some(w) if w.will_wake(waker) => {}
                    _ => entry.waker = Some(waker.clone()),
                }
                false
            }
            None => true,
        }
    }

    /// Forgets a registration (the ask completed or was dropped).
    pub(crate) fn cancel(&self, registration: &Registration) {
        let waker = self.shards[registration.shard as usize]
            .lock()
            .remove(registration);
        drop(waker);
    }

    /// Makes the driver wake by `at`: starts it on first use, or wakes it to sleep less.
    #[cold]
    fn rearm(&self, system: &Shared, at: u64) {
        self.armed.fetch_min(at, Ordering::AcqRel);
        if !self.started.swap(true, Ordering::AcqRel) {
            let weak = system.weak();
            // Of no simulated node: a paused or crashed node must not hold back the deadlines
            // of asks made elsewhere to its actors.
            system.rt().spawn_unbound(drive(weak));
        } else if let Some(waker) = &*self.driver.lock() {
            waker.wake_by_ref();
        }
    }

    /// Fires what is due at `now`; returns the earliest deadline left.
    fn fire(&self, now: u64) -> u64 {
        let mut wake = Vec::new();
        let mut next = u64::MAX;
        for shard in &self.shards {
            next = next.min(shard.lock().fire(now, &mut wake));
        }
        for waker in wake {
            waker.wake();
        }
        next
    }
}

/// The driver: sleeps until the earliest deadline, fires what is due, repeats. It holds the
/// system weakly and ends with it.
async fn drive(system: Weak<Shared>) {
    loop {
        let Some(shared) = system.upgrade() else {
            return;
        };
        let deadlines = &shared.deadlines;
        // Registrations from now on see `armed` above their deadline and wake the driver,
        // until `fetch_min` below publishes what the scan found.
        deadlines.armed.store(u64::MAX, Ordering::Release);
        let next = deadlines.fire(shared.rt().now().as_nanos());
        deadlines.armed.fetch_min(next, Ordering::AcqRel);
        let mut sleep = (next != u64::MAX)
            .then(|| Box::pin(shared.rt().sleep_until(Instant::from_nanos(next))));
        drop(shared);
        poll_fn(|cx| {
            let Some(shared) = system.upgrade() else {
                return Poll::Ready(());
            };
            *shared.deadlines.driver.lock() = Some(cx.waker().clone());
            // A registration with an earlier deadline lowered `armed`: look again now.
            if shared.deadlines.armed.load(Ordering::Acquire) < next {
                return Poll::Ready(());
            }
            match sleep.as_mut() {
                Some(sleep) => sleep.as_mut().poll(cx),
                None => Poll::Pending,
            }
        })
        .await;
    }
}

impl Drop for Deadlines {
    fn drop(&mut self) {
        // The system is gone: the driver, which holds it weakly, sees that when woken and ends.
        if let Some(driver) = self.driver.get_mut().take() {
            driver.wake();
        }
    }
}

impl std::fmt::Debug for Deadlines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadlines")
            .field("armed", &self.armed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::System;

    fn system() -> System {
        System::new()
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_fire_in_order_and_an_earlier_one_rearms_the_driver() {
        let system = system();
        let shared = system.shared();
        let start = system.now();
        let fired = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // The long one first, so that the short ones must rearm a sleeping driver.
        for ms in [300u64, 100, 200, 50] {
            let system = system.clone();
            let fired = fired.clone();
            tasks.push(tokio::spawn(async move {
                let deadline = start + Duration::from_millis(ms);
                let shared = system.shared();
                let mut registration = None;
                poll_fn(|cx| match &registration {
                    None => {
                        registration =
                            Some(shared.deadlines.register(shared, deadline, cx.waker()));
                        Poll::Pending
                    }
                    Some(r) if shared.deadlines.poll_fired(r, cx.waker()) => Poll::Ready(()),
                    Some(_) => Poll::Pending,
                })
                .await;
                let at = system.now().saturating_duration_since(start);
                fired.lock().push((ms, at));
                if let Some(r) = registration {
                    shared.deadlines.cancel(&r);
                }
            }));
            // Let each task register before the next one.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let fired = fired.lock().clone();
        assert_eq!(
            fired.iter().map(|(ms, _)| *ms).collect::<Vec<_>>(),
            vec![50, 100, 200, 300]
        );
        for (ms, at) in fired {
            assert_eq!(
                at,
                Duration::from_millis(ms),
                "fired exactly at its deadline"
            );
        }
        assert_eq!(
            shared
                .deadlines
                .shards
                .iter()
                .map(|s| s.lock().live)
                .sum::<usize>(),
            0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_registrations_do_not_pile_up() {
        let system = system();
        let shared = system.shared();
        let waker = Waker::noop();
        let far = system.now() + Duration::from_secs(3600);
        for _ in 0..10_000 {
            let r = shared.deadlines.register(shared, far, waker);
            shared.deadlines.cancel(&r);
        }
        for shard in &shared.deadlines.shards {
            let shard = shard.lock();
            assert_eq!(shard.live, 0);
            assert!(
                shard.heap.len() <= 64,
                "stale heap items: {}",
                shard.heap.len()
            );
            assert!(shard.entries.len() <= 2, "entries are reused");
        }
    }

    fn entries(shared: &Shared) -> usize {
        shared
            .deadlines
            .shards
            .iter()
            .map(|s| s.lock().entries.len())
            .sum()
    }

    struct Echo;
    impl crate::Actor for Echo {
        type Msg = crate::DynMessage<Self>;
    }
    struct Ping(u32);
    impl crate::Message for Ping {
        type Reply = u32;
    }
    impl crate::Handler<Ping> for Echo {
        async fn handle(&mut self, Ping(n): Ping, _: &mut crate::Context<Self>) -> u32 {
            n
        }
    }
    struct Stall;
    impl crate::Message for Stall {
        type Reply = ();
    }
    impl crate::Handler<Stall> for Echo {
        async fn handle(&mut self, _: Stall, _: &mut crate::Context<Self>) {
            std::future::pending::<()>().await;
        }
    }

    /// An ask answered by an actor that runs while the asker waits behind its deferred
    /// wake-up never touches the deadline table; one that is not answered by then registers
    /// its deadline, and times out at it.
    #[tokio::test(start_paused = true)]
    async fn a_prompt_answer_skips_the_deadline_table_and_a_late_one_does_not() {
        let system = system();
        let shared = system.shared();
        let echo = system.spawn(Echo).unwrap();
        for n in 0..100 {
            assert_eq!(echo.ask(Ping(n)).await.unwrap(), n);
        }
        assert_eq!(entries(shared), 0, "no deadline was registered");

        let start = system.now();
        let stalled = echo.ask(Stall).timeout(Duration::from_millis(40)).await;
        assert!(matches!(stalled, Err(crate::AskError::Timeout)));
        assert_eq!(
            system.now().saturating_duration_since(start),
            Duration::from_millis(40)
        );
        assert_eq!(
            entries(shared),
            1,
            "the stalled ask registered its deadline"
        );
        system.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_deadline_never_fires() {
        let system = system();
        let shared = system.shared();
        let soon = system.now() + Duration::from_millis(10);
        let r = shared.deadlines.register(shared, soon, Waker::noop());
        shared.deadlines.cancel(&r);
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The slot may be reused by a new registration; the old one stays dead.
        let r2 =
            shared
                .deadlines
                .register(shared, system.now() + Duration::from_secs(1), Waker::noop());
        assert!(
            shared.deadlines.poll_fired(&r, Waker::noop()),
            "gone counts as fired"
        );
        assert!(!shared.deadlines.poll_fired(&r2, Waker::noop()));
        shared.deadlines.cancel(&r2);
    }
}
