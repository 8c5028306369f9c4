//! Virtual time: the clock only moves when every task waits, and then straight to the next
//! timer, so idle time costs nothing.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::executor::Core;

/// The timers tasks wait on, earliest first; ties fire in the order they were set.
#[derive(Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    next_id: u64,
}

/// What a [`SimSleep`] and the heap share: the waiting task's waker, and whether the sleep
/// was dropped (its entry is then skipped without moving the clock).
#[derive(Default)]
struct Slot {
    waker: Mutex<Option<Waker>>,
    cancelled: AtomicBool,
}

struct Entry {
    at: u64,
    id: u64,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

impl Timers {
    fn insert(&mut self, at: u64, slot: Arc<Slot>) {
        let id = self.next_id;
        self.next_id += 1;
        self.heap.push(Reverse(Entry { at, id, slot }));
    }

    /// The earliest deadline a live sleep waits for; dropped sleeps on top are discarded.
    pub(super) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if !top.slot.cancelled.load(Ordering::Acquire) {
                return Some(top.at);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes every live timer due at `now`: `(timer id, waker)` in firing order.
    pub(super) fn fire(&mut self, now: u64, due: &mut Vec<(u64, Waker)>) {
        while self.heap.peek().is_some_and(|Reverse(top)| top.at <= now) {
            let Some(Reverse(entry)) = self.heap.pop() else {
                break;
            };
            if entry.slot.cancelled.load(Ordering::Acquire) {
                continue;
            }
            if let Some(waker) = entry.slot.waker.lock().take() {
                due.push((entry.id, waker));
            }
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Everything, for the end of a run.
    pub(super) fn take(&mut self) -> Timers {
        std::mem::take(self)
    }
}

/// A sleep on virtual time: the seam's `Sleep::Sim`.
pub(crate) struct SimSleep {
    core: Arc<Core>,
    deadline: u64,
    /// Set on the first poll that has to wait.
    slot: Option<Arc<Slot>>,
}

impl SimSleep {
    pub(super) fn new(core: Arc<Core>, deadline: u64) -> SimSleep {
        SimSleep {
            core,
            deadline,
            slot: None,
        }
    }
}

impl Future for SimSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.core.now_nanos() >= self.deadline {
            return Poll::Ready(());
        }
        match &self.slot {
            Some(slot) => {
                let mut waker = slot.waker.lock();
                match &*waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
            }
            None => {
                let slot = Arc::new(Slot {
                    waker: Mutex::new(Some(cx.waker().clone())),
                    cancelled: AtomicBool::new(false),
                });
                self.core
                    .with_timers(|timers| timers.insert(self.deadline, slot.clone()));
                self.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

impl Drop for SimSleep {
    fn drop(&mut self) {
        // The heap entry stays until its time; marked, it neither fires nor moves the clock.
        if let Some(slot) = &self.slot {
            slot.cancelled.store(true, Ordering::Release);
        }
    }
}

impl fmt::Debug for SimSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimSleep")
            .field("deadline_ns", &self.deadline)
            .finish_non_exhaustive()
    }
}
