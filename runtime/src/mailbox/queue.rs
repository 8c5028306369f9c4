//! The mailbox queue: many senders, one receiver (the actor), bounded by an atomic count.
//!
//! # The state word
//!
//! One `AtomicUsize` holds the number of reserved slots (messages queued, being pushed, or
//! taken but not yet released), a `PARKED` bit (the receiver sleeps and must be woken) and a
//! `CLOSED` bit (no more messages are accepted). A sender reserves a slot with a single
//! `fetch_add`, which also tells it whether the receiver is parked: the common send costs that
//! one read-modify-write plus the lock-free push, and no wake-up while the receiver is busy.
//!
//! # Parking without lost wake-ups
//!
//! The receiver parks only when the count is zero: it registers its waker first, then moves the
//! state from `count == 0` to `PARKED` with a compare-exchange. A sender that reserves after
//! that sees `PARKED` in its `fetch_add`, pushes, then clears the bit and wakes the receiver. A
//! sender that reserved before it made the count non-zero, so the compare-exchange fails and the
//! receiver looks again. When the count is non-zero but the queue is empty, a sender is between
//! its reservation and its push (a few instructions, unless its thread is preempted): the
//! receiver yields to the scheduler and looks again.
//!
//! # Capacity
//!
//! The receiver gives slots back in batches (`release`), so senders and receiver do not contend
//! on the state word per message. A sender that finds the mailbox full undoes its reservation;
//! senders waiting for room register a waker and are woken when slots come back, when a
//! reservation is undone, or when the mailbox closes.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::task::{Context, Poll, Waker};

use crossbeam_queue::SegQueue;
use parking_lot::Mutex;

const CLOSED: usize = 1 << (usize::BITS - 1);
const PARKED: usize = 1 << (usize::BITS - 2);
const COUNT: usize = PARKED - 1;

/// The largest capacity a bounded queue can have.
pub(crate) const MAX_CAPACITY: usize = COUNT / 2;

/// The longest batch the receiver takes before giving slots back.
const MAX_RELEASE_BATCH: usize = 64;

/// A mailbox queue of `T`.
pub(crate) struct Queue<T> {
    state: AtomicUsize,
    capacity: usize,
    release_every: usize,
    items: SegQueue<T>,
    /// Lifecycle signals for the receiver (stop, kill), checked whenever it would park.
    signals: AtomicU8,
    receiver: Mutex<Option<Waker>>,
    senders_waiting: AtomicBool,
    senders: Mutex<Vec<Waker>>,
}

/// A reserved slot: the sender must [`push`](Queue::push) exactly one item into it.
#[derive(Debug)]
#[must_use = "a reserved slot must be filled with `push`"]
pub(crate) struct Slot {
    wake_receiver: bool,
}

/// Why a reservation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    Full,
    Closed,
}

/// What the receiver gets from [`Queue::poll_pop`].
#[derive(Debug)]
pub(crate) enum Pop<T> {
    Item(T),
    /// The queue is closed and every accepted message has been taken.
    Drained,
    /// Signals were raised; take them with [`Queue::take_signals`].
    Signal,
}

/// The receiver's private bookkeeping, kept by the one task that pops.
#[derive(Debug, Default)]
pub(crate) struct Consumer {
    unreleased: usize,
    parked: bool,
}

impl<T> Queue<T> {
    /// A queue that holds at most `capacity` items, or any number for `None`.
    ///
    /// Capacities above [`MAX_CAPACITY`] are the caller's error; they are rejected before this.
    pub(crate) fn new(capacity: Option<NonZeroUsize>) -> Queue<T> {
        let capacity = capacity.map_or(MAX_CAPACITY, |c| c.get().min(MAX_CAPACITY));
        Queue {
            state: AtomicUsize::new(0),
            capacity,
            release_every: (capacity / 4).clamp(1, MAX_RELEASE_BATCH),
            items: SegQueue::new(),
            signals: AtomicU8::new(0),
            receiver: Mutex::new(None),
            senders_waiting: AtomicBool::new(false),
            senders: Mutex::new(Vec::new()),
        }
    }

    /// Reserves a slot, or says why not.
    ///
    /// A plain load first: a full or closed queue is answered without writing to the state
    /// word, so senders waiting on a full mailbox do not disturb each other or the receiver.
    #[inline]
    pub(crate) fn try_reserve(&self) -> Result<Slot, Reject> {
        let seen = self.state.load(Relaxed);
        if seen & CLOSED != 0 {
            return Err(Reject::Closed);
        }
        if seen & COUNT >= self.capacity {
            return Err(Reject::Full);
        }
        let prev = self.state.fetch_add(1, SeqCst);
        if prev & (CLOSED | COUNT) < self.capacity {
            return Ok(Slot {
                wake_receiver: prev & PARKED != 0,
            });
        }
        self.undo_reservation();
        Err(if prev & CLOSED != 0 {
            Reject::Closed
        } else {
            Reject::Full
        })
    }

    /// Takes back a reservation that raced past the capacity (or a close). Rare: the load in
    /// `try_reserve` saw room a moment before.
    #[cold]
    fn undo_reservation(&self) {
        self.state.fetch_sub(1, SeqCst);
        // A sender may have found the queue full only because of this reservation, and wait.
        self.wake_senders();
    }

    /// Reserves a slot, waiting for room: registers the task to be woken when slots come back.
    pub(crate) fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot, Reject>> {
        loop {
            match self.try_reserve() {
                Err(Reject::Full) => {}
                done => return Poll::Ready(done),
            }
            {
                let mut senders = self.senders.lock();
                if !senders.iter().any(|w| w.will_wake(cx.waker())) {
                    senders.push(cx.waker().clone());
                }
                self.senders_waiting.store(true, SeqCst);
            }
            // Slots released before the registration above would not wake us: look once
            // more, reading only, so that a full queue costs no write and wakes no one.
            let state = self.state.load(SeqCst);
            if state & CLOSED == 0 && state & COUNT >= self.capacity {
                return Poll::Pending;
            }
        }
    }

    /// Fills a reserved slot.
    #[inline]
    #[allow(clippy::needless_pass_by_value)] // taking the slot by value is what spends it
    pub(crate) fn push(&self, slot: Slot, item: T) {
        let Slot { wake_receiver } = slot;
        self.items.push(item);
        if wake_receiver {
            self.unpark();
        }
    }

    #[cold]
    fn unpark(&self) {
        if self.state.fetch_and(!PARKED, SeqCst) & PARKED != 0 {
            self.wake_receiver();
        }
    }

    fn wake_receiver(&self) {
        let waker = self.receiver.lock().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn wake_senders(&self) {
        if self.senders_waiting.load(SeqCst) {
            let wakers = {
                let mut senders = self.senders.lock();
                self.senders_waiting.store(false, SeqCst);
                std::mem::take(&mut *senders)
            };
            for waker in wakers {
                waker.wake();
            }
        }
    }

    /// Stops accepting messages. Messages already accepted stay to be taken.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, SeqCst);
        // Waiting senders learn that the queue closed.
        self.senders_waiting.store(true, SeqCst);
        self.wake_senders();
    }

    /// Whether the queue has closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(SeqCst) & CLOSED != 0
    }

    /// Messages waiting to be taken. Exact when no one sends or takes meanwhile.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// The capacity (`MAX_CAPACITY` when unbounded).
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Raises signals for the receiver and wakes it.
    pub(crate) fn signal(&self, bits: u8) {
        self.signals.fetch_or(bits, SeqCst);
        self.wake_receiver();
    }

    /// The raised signals, left in place.
    pub(crate) fn peek_signals(&self) -> u8 {
        self.signals.load(SeqCst)
    }

    /// Takes the raised signals.
    pub(crate) fn take_signals(&self) -> u8 {
        self.signals.swap(0, SeqCst)
    }

    /// Registers the receiver's waker so that [`signal`](Queue::signal) can wake it while it is
    /// busy in a handler rather than parked here.
    pub(crate) fn register_receiver(&self, waker: &Waker) {
        let mut receiver = self.receiver.lock();
        match &*receiver {
            Some(w) if w.will_wake(waker) => {}
            _ => *receiver = Some(waker.clone()),
        }
    }

    /// Takes the next item, for the receiver only.
    ///
    /// With `signals` set, raised signals interrupt the wait ([`Pop::Signal`]); without, they
    /// are left for later (used while draining a stopping actor).
    pub(crate) fn poll_pop(
        &self,
        consumer: &mut Consumer,
        cx: &mut Context<'_>,
        signals: bool,
    ) -> Poll<Pop<T>> {
        if consumer.parked {
            consumer.parked = false;
            self.state.fetch_and(!PARKED, SeqCst);
        }
        loop {
            if signals && self.signals.load(SeqCst) != 0 {
                return Poll::Ready(Pop::Signal);
            }
            if let Some(item) = self.items.pop() {
                consumer.unreleased += 1;
                if consumer.unreleased >= self.release_every {
                    self.release(consumer);
                }
                return Poll::Ready(Pop::Item(item));
            }
            self.release(consumer);
            let state = self.state.load(SeqCst);
            if state & COUNT != 0 {
                // A sender reserved a slot and is about to fill it: look again soon.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if state & CLOSED != 0 {
                return Poll::Ready(Pop::Drained);
            }
            self.register_receiver(cx.waker());
            if signals && self.signals.load(SeqCst) != 0 {
                return Poll::Ready(Pop::Signal);
            }
            if self
                .state
                .compare_exchange(state, state | PARKED, SeqCst, SeqCst)
                .is_ok()
            {
                consumer.parked = true;
                return Poll::Pending;
            }
        }
    }

    /// Gives the slots the receiver has taken back to the senders.
    pub(crate) fn release(&self, consumer: &mut Consumer) {
        if consumer.unreleased > 0 {
            self.state.fetch_sub(consumer.unreleased, SeqCst);
            consumer.unreleased = 0;
            self.wake_senders();
        }
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn waker() -> (Arc<CountingWaker>, Waker) {
        let w = Arc::new(CountingWaker(AtomicUsize::new(0)));
        (w.clone(), Waker::from(w))
    }

    fn send<T>(q: &Queue<T>, item: T) -> Result<(), Reject> {
        let slot = q.try_reserve()?;
        q.push(slot, item);
        Ok(())
    }

    #[test]
    fn full_then_room_after_release() {
        let q = Queue::new(NonZeroUsize::new(2));
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        let mut c = Consumer::default();
        send(&q, 1).unwrap();
        send(&q, 2).unwrap();
        assert_eq!(send(&q, 3), Err(Reject::Full));
        assert!(matches!(
            q.poll_pop(&mut c, &mut cx, true),
            Poll::Ready(Pop::Item(1))
        ));
        // Capacity 2 releases every slot at once.
        send(&q, 3).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(send(&q, 4), Err(Reject::Full));
    }

    #[test]
    fn parked_receiver_is_woken_once_by_a_send() {
        let q = Queue::new(None);
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        let mut c = Consumer::default();
        assert!(q.poll_pop(&mut c, &mut cx, true).is_pending());
        send(&q, 1).unwrap();
        send(&q, 2).unwrap();
        assert_eq!(count.0.load(SeqCst), 1, "one wake-up for the batch");
        assert!(matches!(
            q.poll_pop(&mut c, &mut cx, true),
            Poll::Ready(Pop::Item(1))
        ));
        assert!(matches!(
            q.poll_pop(&mut c, &mut cx, true),
            Poll::Ready(Pop::Item(2))
        ));
    }

    #[test]
    fn closed_queue_drains_then_reports_drained() {
        let q = Queue::new(None);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        let mut c = Consumer::default();
        send(&q, 1).unwrap();
        q.close();
        assert_eq!(send(&q, 2), Err(Reject::Closed));
        assert!(matches!(
            q.poll_pop(&mut c, &mut cx, true),
            Poll::Ready(Pop::Item(1))
        ));
        assert!(matches!(
            q.poll_pop(&mut c, &mut cx, true),
            Poll::Ready(Pop::Drained)
        ));
    }

    #[test]
    fn signal_wakes_a_parked_receiver() {
        let q: Queue<u8> = Queue::new(None);
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        let mut c = Consumer::default();
        assert!(q.poll_pop(&mut c, &mut cx, true).is_pending());
        q.signal(1);
        assert_eq!(count.0.load(SeqCst), 1);
        assert!(matches!(
            q.poll_pop(&mut c, &mut cx, true),
            Poll::Ready(Pop::Signal)
        ));
        assert_eq!(q.take_signals(), 1);
    }

    #[test]
    fn waiting_sender_is_woken_by_release() {
        let q = Queue::new(NonZeroUsize::new(1));
        let (rx_count, rw) = waker();
        let (tx_count, tw) = waker();
        let mut c = Consumer::default();
        send(&q, 1).unwrap();
        assert!(q.poll_reserve(&mut Context::from_waker(&tw)).is_pending());
        assert!(matches!(
            q.poll_pop(&mut c, &mut Context::from_waker(&rw), true),
            Poll::Ready(Pop::Item(1))
        ));
        assert_eq!(tx_count.0.load(SeqCst), 1);
        assert!(matches!(
            q.poll_reserve(&mut Context::from_waker(&tw)),
            Poll::Ready(Ok(_))
        ));
        let _ = rx_count;
    }

    /// Many senders on threads, a receiver that parks between bursts: every item arrives once,
    /// in order per sender, and the receiver is never left parked with items queued.
    #[test]
    fn burst_stress_never_loses_a_wake_up() {
        use std::sync::Barrier;
        const SENDERS: usize = 4;
        const BURSTS: usize = 2_000;
        const PER_BURST: usize = 3;

        let q = Arc::new(Queue::new(NonZeroUsize::new(8)));
        let barrier = Arc::new(Barrier::new(SENDERS + 1));
        let mut handles = Vec::new();
        for s in 0..SENDERS {
            let q = q.clone();
            let barrier = barrier.clone();
            handles.push(std::thread::spawn(move || {
                barrier.wait();
                let (_, w) = waker();
                let mut cx = Context::from_waker(&w);
                for i in 0..BURSTS * PER_BURST {
                    loop {
                        match q.poll_reserve(&mut cx) {
                            Poll::Ready(Ok(slot)) => {
                                q.push(slot, (s, i));
                                break;
                            }
                            Poll::Ready(Err(e)) => panic!("queue rejected: {e:?}"),
                            Poll::Pending => std::thread::yield_now(),
                        }
                    }
                    if i % PER_BURST == 0 {
                        std::thread::yield_now();
                    }
                }
            }));
        }
        barrier.wait();
        // A thread-parking receiver: a lost wake-up shows as a hang (the test times out).
        let thread = std::thread::current();
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let w = Waker::from(Arc::new(Unpark(thread)));
        let mut cx = Context::from_waker(&w);
        let mut c = Consumer::default();
        let mut next = [0usize; SENDERS];
        let mut received = 0;
        let mut parks = 0;
        while received < SENDERS * BURSTS * PER_BURST {
            match q.poll_pop(&mut c, &mut cx, true) {
                Poll::Ready(Pop::Item((s, i))) => {
                    assert_eq!(i, next[s], "FIFO per sender");
                    next[s] += 1;
                    received += 1;
                }
                Poll::Ready(other) => panic!("unexpected {other:?}"),
                Poll::Pending => {
                    parks += 1;
                    std::thread::park();
                }
            }
        }
        for h in handles {
            h.join().unwrap();
        }
        assert!(parks > 0, "the receiver should have parked at least once");
    }
}
