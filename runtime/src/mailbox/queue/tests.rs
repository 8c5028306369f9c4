//! The queue's own tests: the claim protocol, parking, capacity, block boundaries, and burst
//! stress tests that park the receiver thousands of times.

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

/// A waker that unparks the current thread.
fn thread_waker() -> Waker {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    Waker::from(Arc::new(Unpark(std::thread::current())))
}

fn send<T>(q: &Queue<T>, item: T) -> Result<(), Reject> {
    let slot = q.try_reserve()?;
    q.push(slot, item);
    Ok(())
}

fn pop<T: std::fmt::Debug>(q: &Queue<T>) -> Poll<Pop<T>> {
    let (_, w) = waker();
    q.poll_pop(&mut Context::from_waker(&w), true)
}

#[test]
fn capacity_is_exact_while_the_receiver_waits() {
    for capacity in [1, 2, 3, 7, 31, 32, 33, 100] {
        let q = Queue::new(NonZeroUsize::new(capacity));
        for i in 0..capacity {
            send(&q, i).unwrap();
        }
        assert_eq!(send(&q, 999), Err(Reject::Full), "capacity {capacity}");
        assert_eq!(q.len(), capacity);
        // Taking one and giving it back makes room for exactly one.
        assert!(matches!(pop(&q), Poll::Ready(Pop::Item(0))));
        q.release();
        send(&q, capacity).unwrap();
        assert_eq!(send(&q, 999), Err(Reject::Full));
    }
}

#[test]
fn items_cross_many_blocks_in_order_and_blocks_are_reused() {
    let q = Queue::new(NonZeroUsize::new(10));
    let mut next = 0;
    for round in 0..200 {
        for i in 0..7 {
            send(&q, round * 7 + i).unwrap();
        }
        for _ in 0..7 {
            match pop(&q) {
                Poll::Ready(Pop::Item(v)) => {
                    assert_eq!(v, next);
                    next += 1;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(pop(&q).is_pending());
    assert_eq!(next, 1400);
}

#[test]
fn parked_receiver_is_woken_once_by_a_burst() {
    let q = Queue::new(None);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(q.poll_pop(&mut cx, true).is_pending());
    assert!(q.take_waited());
    send(&q, 1).unwrap();
    send(&q, 2).unwrap();
    send(&q, 3).unwrap();
    assert_eq!(count.0.load(SeqCst), 1, "one wake-up for the burst");
    for v in 1..=3 {
        assert!(matches!(q.poll_pop(&mut cx, true), Poll::Ready(Pop::Item(x)) if x == v));
    }
    assert!(!q.take_waited());
}

#[test]
fn closed_queue_refuses_then_drains() {
    let q = Queue::new(None);
    send(&q, 1).unwrap();
    q.close();
    assert!(q.is_closed());
    assert_eq!(send(&q, 2), Err(Reject::Closed));
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert!(matches!(pop(&q), Poll::Ready(Pop::Drained)));
}

/// A close from outside wakes a receiver parked on an empty queue, on lap 0's marker as
/// anywhere else, and it finds the queue drained.
#[test]
fn a_close_wakes_a_parked_receiver() {
    for before in [0, 1, 40] {
        let q = Queue::new(None);
        for v in 0..before {
            send(&q, v).unwrap();
            assert!(matches!(pop(&q), Poll::Ready(Pop::Item(x)) if x == v));
        }
        let (count, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(q.poll_pop(&mut cx, true).is_pending());
        q.close();
        assert_eq!(
            count.0.load(SeqCst),
            1,
            "after {before} messages: woken by the close"
        );
        assert!(matches!(
            q.poll_pop(&mut cx, true),
            Poll::Ready(Pop::Drained)
        ));
    }
}

#[test]
fn signals_interrupt_a_parked_receiver() {
    let q: Queue<u8> = Queue::new(None);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(q.poll_pop(&mut cx, true).is_pending());
    q.signal(4);
    assert_eq!(count.0.load(SeqCst), 1);
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Signal)
    ));
    assert_eq!(q.peek_signals(), 4);
    assert_eq!(q.take_signals(), 4);
    assert!(q.poll_pop(&mut cx, true).is_pending());
}

#[test]
fn waiting_sender_is_woken_by_release_and_by_close() {
    let q = Queue::new(NonZeroUsize::new(1));
    let (tx_count, tw) = waker();
    send(&q, 1).unwrap();
    assert!(q.poll_reserve(&mut Context::from_waker(&tw)).is_pending());
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert_eq!(
        tx_count.0.load(SeqCst),
        1,
        "release wakes the waiting sender"
    );
    let slot = match q.poll_reserve(&mut Context::from_waker(&tw)) {
        Poll::Ready(Ok(slot)) => slot,
        other => panic!("{other:?}"),
    };
    q.push(slot, 2);
    assert!(q.poll_reserve(&mut Context::from_waker(&tw)).is_pending());
    q.close();
    assert_eq!(tx_count.0.load(SeqCst), 2, "close wakes it too");
    assert!(matches!(
        q.poll_reserve(&mut Context::from_waker(&tw)),
        Poll::Ready(Err(Reject::Closed))
    ));
}

#[test]
fn a_slot_dropped_unfilled_is_skipped() {
    let q = Queue::new(None);
    send(&q, 1).unwrap();
    drop(q.try_reserve().unwrap());
    send(&q, 3).unwrap();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(3))));
    assert!(pop(&q).is_pending());
}

#[test]
fn dropping_the_queue_drops_what_it_holds() {
    #[derive(Debug)]
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    {
        let q = Queue::new(None);
        for _ in 0..100 {
            send(&q, Counted(drops.clone())).unwrap();
        }
        for _ in 0..40 {
            assert!(matches!(pop(&q), Poll::Ready(Pop::Item(_))));
        }
        assert_eq!(drops.load(SeqCst), 40);
    }
    assert_eq!(drops.load(SeqCst), 100);
}

/// Sender `s` sends `(s, 0)` to `(s, per_sender - 1)`, parking while the queue is full and
/// yielding its thread every `burst` items.
fn send_in_order(q: &Queue<(usize, usize)>, s: usize, per_sender: usize, burst: usize) {
    let w = thread_waker();
    let mut cx = Context::from_waker(&w);
    for i in 0..per_sender {
        loop {
            match q.poll_reserve(&mut cx) {
                Poll::Ready(Ok(slot)) => {
                    q.push(slot, (s, i));
                    break;
                }
                Poll::Ready(Err(e)) => panic!("queue rejected: {e:?}"),
                Poll::Pending => std::thread::park(),
            }
        }
        if i % burst == burst - 1 {
            std::thread::yield_now();
        }
    }
}

/// Takes what `senders` senders of [`send_in_order`] send, checking that each item comes once
/// and in order per sender; returns how often the receiver parked.
fn receive_in_order(
    q: &Queue<(usize, usize)>,
    cx: &mut Context<'_>,
    senders: usize,
    per_sender: usize,
) -> usize {
    let mut next = vec![0usize; senders];
    let mut received = 0;
    let mut parks = 0;
    while received < senders * per_sender {
        match q.poll_pop(cx, true) {
            Poll::Ready(Pop::Item((s, i))) => {
                assert_eq!(i, next[s], "FIFO per sender, exactly once");
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
    parks
}

/// Many senders on threads, a receiver that parks between bursts: every item arrives once,
/// in order per sender, and the receiver is never left parked with items queued (a lost
/// wake-up hangs the test).
fn stress(senders: usize, per_sender: usize, capacity: Option<usize>, burst: usize) {
    use std::sync::Barrier;
    let q = Arc::new(Queue::new(capacity.and_then(NonZeroUsize::new)));
    let barrier = Arc::new(Barrier::new(senders + 1));
    let handles: Vec<_> = (0..senders)
        .map(|s| {
            let q = q.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                send_in_order(&q, s, per_sender, burst);
            })
        })
        .collect();
    let w = thread_waker();
    let mut cx = Context::from_waker(&w);
    barrier.wait();
    let parks = receive_in_order(&q, &mut cx, senders, per_sender);
    for h in handles {
        h.join().unwrap();
    }
    assert!(parks > 0, "the receiver should have parked at least once");
    assert!(q.poll_pop(&mut cx, true).is_pending());
}

#[test]
fn stress_one_sender_small_capacity() {
    stress(1, 50_000, Some(3), 5);
}

#[test]
fn stress_many_senders_bounded() {
    for capacity in [1, 8, 31, 64] {
        stress(4, 10_000, Some(capacity), 3);
    }
}

#[test]
fn stress_many_senders_unbounded() {
    stress(4, 20_000, None, 7);
}

#[test]
fn a_skipped_slot_gives_its_room_back() {
    let q: Queue<u32> = Queue::new(NonZeroUsize::new(1));
    send(&q, 1).unwrap();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert!(pop(&q).is_pending()); // parks; slot 0 released
    drop(q.try_reserve().unwrap()); // a sender claims, then drops its slot unfilled
    assert!(pop(&q).is_pending()); // the receiver steps over it
    assert_eq!(q.len(), 0, "the skipped slot is not counted");
    assert!(send(&q, 2).is_ok(), "its room came back");
}

// --- lap 0: the small first block ---------------------------------------------------------

/// Takes every item waiting, in order, and gives their room back.
fn drain<T: std::fmt::Debug>(q: &Queue<T>) -> Vec<T> {
    let mut items = Vec::new();
    while let Poll::Ready(Pop::Item(item)) = pop(q) {
        items.push(item);
    }
    q.release();
    items
}

#[test]
fn capacity_is_exact_across_the_small_block() {
    for capacity in [1, 2, 3, 31, 32, 64] {
        let q = Queue::new(NonZeroUsize::new(capacity));
        let mut next = 0;
        // Round 0 starts in the small block and ends in lap 1 or later; each later round
        // starts where the receiver left off. The receiver makes no progress within a round.
        for round in 0..4 {
            for i in 0..capacity {
                assert!(
                    send(&q, next + i).is_ok(),
                    "capacity {capacity}, round {round}: send {i} refused"
                );
            }
            assert_eq!(
                send(&q, usize::MAX),
                Err(Reject::Full),
                "capacity {capacity}, round {round}"
            );
            assert_eq!(q.len(), capacity);
            let items = drain(&q);
            assert_eq!(items, (next..next + capacity).collect::<Vec<_>>());
            assert_eq!(q.len(), 0);
            next += capacity;
        }
    }
}

#[test]
fn capacity_counts_the_small_block_while_the_receiver_sits_on_its_marker() {
    // The receiver took lap 0's slot and waits on its marker; lap 1 is not installed yet.
    for capacity in [1, 2, 3, 31, 32, 64] {
        let q = Queue::new(NonZeroUsize::new(capacity));
        send(&q, 0).unwrap();
        assert!(matches!(pop(&q), Poll::Ready(Pop::Item(0))));
        assert!(pop(&q).is_pending());
        assert!(
            q.tail.block.load(SeqCst).is_null(),
            "lap 1 not installed yet"
        );
        for i in 1..=capacity {
            send(&q, i).unwrap();
        }
        assert_eq!(send(&q, 0), Err(Reject::Full), "capacity {capacity}");
        assert_eq!(drain(&q), (1..=capacity).collect::<Vec<_>>());
    }
}

#[test]
fn one_message_allocates_only_the_small_block() {
    let q = Queue::new(None);
    assert!(q.first.load(SeqCst).is_null());
    send(&q, 1).unwrap();
    assert!(!q.first.load(SeqCst).is_null());
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert!(pop(&q).is_pending());
    assert!(
        q.tail.block.load(SeqCst).is_null(),
        "no full block for one message"
    );
    assert!(q.spare.load(SeqCst).is_null());
    // The second message installs lap 1's block.
    send(&q, 2).unwrap();
    assert!(!q.tail.block.load(SeqCst).is_null());
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(2))));
    // The small block is freed, never kept as the spare; a full block is.
    assert!(q.spare.load(SeqCst).is_null());
    for i in 3..3 + 2 * BLOCK_CAP {
        send(&q, i).unwrap();
    }
    assert_eq!(drain(&q), (3..3 + 2 * BLOCK_CAP).collect::<Vec<_>>());
    assert!(!q.spare.load(SeqCst).is_null(), "lap 1's block is kept");
}

#[test]
fn items_stay_in_order_across_the_small_block() {
    // All at once: the small block, then lap 1 and 2, taken after.
    let q = Queue::new(None);
    for i in 0..100 {
        send(&q, i).unwrap();
    }
    assert_eq!(drain(&q), (0..100).collect::<Vec<_>>());
    // One at a time, the receiver keeping up: it waits on lap 0's marker for lap 1.
    let q = Queue::new(None);
    for i in 0..100 {
        send(&q, i).unwrap();
        assert!(matches!(pop(&q), Poll::Ready(Pop::Item(x)) if x == i));
        assert!(pop(&q).is_pending());
    }
    // Two at a time across the boundary.
    let q = Queue::new(NonZeroUsize::new(2));
    for i in (0..100).step_by(2) {
        send(&q, i).unwrap();
        send(&q, i + 1).unwrap();
        assert_eq!(drain(&q), vec![i, i + 1]);
    }
}

#[derive(Debug)]
struct Counted(usize, Arc<Vec<AtomicUsize>>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1[self.0].fetch_add(1, SeqCst);
    }
}

#[test]
fn dropping_the_queue_drops_each_value_once_in_every_block() {
    // (sent, taken before the queue is dropped, whether the receiver then polls once more and
    // parks where it stands).
    let cases = [
        (0, 0, false),
        (1, 0, false),   // the small block's value alone
        (1, 1, true),    // the receiver waits on lap 0's marker, no lap 1
        (2, 0, false),   // the small block and lap 1
        (2, 1, false),   // the receiver on lap 0's marker, lap 1 installed
        (40, 0, false),  // the small block, lap 1 and lap 2
        (40, 1, false),  // from lap 0's marker on
        (40, 5, false),  // from the middle of lap 1
        (40, 32, false), // lap 1 done (kept as the spare), in lap 2
        (100, 70, false),
        (32, 32, true), // the receiver parked at the start of lap 2
    ];
    for (sent, taken, poll_again) in cases {
        let counts = Arc::new((0..sent).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
        {
            let q = Queue::new(None);
            for i in 0..sent {
                send(&q, Counted(i, counts.clone())).unwrap();
            }
            for i in 0..taken {
                match pop(&q) {
                    Poll::Ready(Pop::Item(item)) => assert_eq!(item.0, i),
                    other => panic!("{other:?}"),
                }
            }
            if poll_again {
                assert_eq!(sent, taken);
                assert!(pop(&q).is_pending());
            }
            for (i, count) in counts.iter().enumerate() {
                let expected = usize::from(i < taken);
                assert_eq!(
                    count.load(SeqCst),
                    expected,
                    "case {sent}/{taken}, item {i}"
                );
            }
        }
        for (i, count) in counts.iter().enumerate() {
            assert_eq!(
                count.load(SeqCst),
                1,
                "case {sent}/{taken}, item {i}: dropped once"
            );
        }
    }
}

#[test]
fn a_skipped_slot_in_the_small_block() {
    // Skipped, then a message in lap 1.
    let q = Queue::new(None);
    drop(q.try_reserve().unwrap());
    assert!(pop(&q).is_pending(), "nothing but the skipped slot");
    send(&q, 2).unwrap();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(2))));
    assert!(pop(&q).is_pending());
    // Skipped with the receiver parked on it, at capacity 1: it is woken, steps over the
    // slot, and its room comes back.
    let q: Queue<u32> = Queue::new(NonZeroUsize::new(1));
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert!(q.poll_pop(&mut cx, true).is_pending());
    let slot = q.try_reserve().unwrap();
    assert_eq!(send(&q, 9), Err(Reject::Full));
    drop(slot);
    assert_eq!(count.0.load(SeqCst), 1, "the skip wakes the receiver");
    assert!(q.poll_pop(&mut cx, true).is_pending());
    assert_eq!(q.len(), 0);
    send(&q, 2).unwrap();
    assert_eq!(send(&q, 9), Err(Reject::Full));
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Item(2))
    ));
    // Dropped with a skipped small slot and a value in lap 1.
    let counts = Arc::new(vec![AtomicUsize::new(0)]);
    {
        let q = Queue::new(None);
        drop(q.try_reserve().unwrap());
        send(&q, Counted(0, counts.clone())).unwrap();
    }
    assert_eq!(counts[0].load(SeqCst), 1);
}

#[test]
fn receiver_parked_on_the_small_block_is_woken_by_lap_one() {
    let q = Queue::new(None);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    send(&q, 1).unwrap();
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Item(1))
    ));
    // Lap 0's slot taken: the receiver parks on its marker.
    assert!(q.poll_pop(&mut cx, true).is_pending());
    assert!(q.take_waited());
    assert_eq!(count.0.load(SeqCst), 0);
    // The first message of lap 1's block installs it and wakes the receiver, once.
    send(&q, 2).unwrap();
    send(&q, 3).unwrap();
    assert_eq!(count.0.load(SeqCst), 1, "one wake-up");
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Item(2))
    ));
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Item(3))
    ));
    assert!(q.poll_pop(&mut cx, true).is_pending());
    // Closed while the receiver waits on the marker: drained.
    let q: Queue<u32> = Queue::new(None);
    send(&q, 1).unwrap();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert!(pop(&q).is_pending());
    q.close();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Drained)));
    assert_eq!(send(&q, 2), Err(Reject::Closed));
    q.reopen();
    send(&q, 2).unwrap();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(2))));
}

#[test]
fn sender_waiting_on_the_small_block_is_woken_by_release() {
    let q = Queue::new(NonZeroUsize::new(1));
    let (tx_count, tw) = waker();
    send(&q, 1).unwrap();
    assert!(q.poll_reserve(&mut Context::from_waker(&tw)).is_pending());
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert_eq!(tx_count.0.load(SeqCst), 1);
    let slot = match q.poll_reserve(&mut Context::from_waker(&tw)) {
        Poll::Ready(Ok(slot)) => slot,
        other => panic!("{other:?}"),
    };
    q.push(slot, 2);
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(2))));
}

/// Several sender threads, one receiver thread, a new queue every round so that each round
/// starts in the small block and races senders over lap 0's slot, its marker and lap 1's
/// installation, with the receiver parking anywhere on the way. Every value arrives exactly
/// once, in order per sender.
///
/// Scoped threads, started together by an atomic counter and joined, and no `Arc` or channel:
/// the queue's own atomics are the only synchronisation between the sides besides spawning
/// and joining, so that the thread sanitizer (the command of the reply slot's stress test,
/// with `mailbox::queue` for `message::slot`) reports this module's races. It still reports
/// the test harness's channel and the reference counts of the test's wakers (`Arc`s in the
/// uninstrumented standard library, whose fences it does not see).
#[test]
fn stress_bursts_across_the_small_block() {
    const SENDERS: usize = 3;
    const ROUNDS: usize = 2_000;
    let w = thread_waker();
    let mut cx = Context::from_waker(&w);
    let mut parks = 0;
    for round in 0..ROUNDS {
        let per_sender = 1 + round % 13;
        let capacity = [Some(1), Some(2), Some(3), None][round % 4];
        let q = Queue::new(capacity.and_then(NonZeroUsize::new));
        let started = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let senders: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let (q, started) = (&q, &started);
                    scope.spawn(move || {
                        started.fetch_add(1, SeqCst);
                        while started.load(SeqCst) < SENDERS {
                            std::thread::yield_now();
                        }
                        send_in_order(q, s, per_sender, usize::MAX);
                    })
                })
                .collect();
            parks += receive_in_order(&q, &mut cx, SENDERS, per_sender);
            // Joined here rather than at the end of the scope, which ThreadSanitizer does not
            // see as synchronisation.
            for sender in senders {
                sender.join().unwrap();
            }
        });
        assert!(
            q.poll_pop(&mut cx, true).is_pending(),
            "round {round}: nothing more"
        );
    }
    assert!(parks > 0, "the receiver should have parked at least once");
}
