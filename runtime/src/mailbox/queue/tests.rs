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

/// A close from outside wakes a receiver parked on an empty queue, in a hollow lap as
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
    // Under Miri, a fiftieth: still many laps, parks and pool hand-overs per run.
    let per_sender = if cfg!(miri) {
        per_sender / 50
    } else {
        per_sender
    };
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
fn news_is_a_claimed_slot_written_or_not_or_a_signal() {
    let q: Queue<u32> = Queue::new(NonZeroUsize::new(4));
    assert!(!q.has_news(), "nothing sent");
    let slot = q.try_reserve().unwrap();
    assert!(q.has_news(), "claimed, not yet written");
    q.push(slot, 1);
    assert!(q.has_news());
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert!(!q.has_news(), "taken");
    assert!(pop(&q).is_pending());
    assert!(!q.has_news(), "parked: the lap given up is not news");
    q.signal(1);
    assert!(q.has_news(), "a signal");
}

#[test]
fn messages_that_came_while_the_receiver_took_others_are_told_apart() {
    let q: Queue<u32> = Queue::new(NonZeroUsize::new(8));
    // What was there when the receiver came back: nothing came meanwhile.
    send(&q, 1).unwrap();
    send(&q, 2).unwrap();
    q.start_go();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(1))));
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(2))));
    assert_eq!(q.came_while_taking(), 0);
    // A message sent while it took the first.
    send(&q, 3).unwrap();
    q.start_go();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(3))));
    send(&q, 4).unwrap();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(4))));
    assert_eq!(q.came_while_taking(), 1);
    send(&q, 5).unwrap();
    send(&q, 6).unwrap();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(5))));
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(6))));
    assert_eq!(q.came_while_taking(), 3);
    // Parked, woken, and back: a new start.
    assert!(pop(&q).is_pending());
    send(&q, 7).unwrap();
    q.start_go();
    assert!(matches!(pop(&q), Poll::Ready(Pop::Item(7))));
    assert_eq!(q.came_while_taking(), 0);
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

// --- hollow laps: the small block, and the full block given back on parking ----------------

/// Takes every item waiting, in order, and gives their room back.
fn drain<T: std::fmt::Debug>(q: &Queue<T>) -> Vec<T> {
    let mut items = Vec::new();
    while let Poll::Ready(Pop::Item(item)) = pop(q) {
        items.push(item);
    }
    q.release();
    items
}

/// Whether the queue holds a full block in use (the receiver's or the tail's), seen from a
/// test that runs both sides: the tail's pointer counts only while the tail is not hollow.
fn uses_a_full_block<T>(q: &Queue<T>) -> bool {
    // SAFETY: the test is the receiver; nothing else runs.
    let head = unsafe { &*q.head.get() };
    !head.block.is_null() || q.tail.index.load(SeqCst) & HOLLOW == 0
}

/// Whether the queue holds a full block at all: in use, or the spare.
fn holds_a_full_block<T>(q: &Queue<T>) -> bool {
    uses_a_full_block(q) || q.holds_spare()
}

/// Whether the spare is marked: kept at the last park, freed at the next unless taken.
fn spare_is_marked<T>(q: &Queue<T>) -> bool {
    q.spare.load(SeqCst).addr() & IDLE_SPARE != 0
}

/// One message, taken, then a park.
fn one_round_trip(q: &Queue<usize>, v: usize) {
    send(q, v).unwrap();
    assert!(matches!(pop(q), Poll::Ready(Pop::Item(x)) if x == v));
    assert!(pop(q).is_pending());
}

#[test]
fn capacity_is_exact_across_hollow_laps() {
    for capacity in [1, 2, 3, 31, 32, 64] {
        let q = Queue::new(NonZeroUsize::new(capacity));
        let mut next = 0;
        // Each round starts where the receiver parked at the end of the last: round 0 in
        // lap 0, later rounds in the hollow lap after the one it gave up. The receiver makes
        // no progress within a round.
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
            assert_eq!(q.len(), 0, "the skipped positions are given back");
            next += capacity;
        }
    }
}

#[test]
fn capacity_counts_the_small_block_while_the_receiver_waits_for_the_full_one() {
    // The receiver took the small block's slot and waits at offset 1 without parking (it
    // only looked); the lap's full block is not installed yet.
    for capacity in [1, 2, 3, 31, 32, 64] {
        let q = Queue::new(NonZeroUsize::new(capacity));
        send(&q, 0).unwrap();
        assert!(matches!(pop(&q), Poll::Ready(Pop::Item(0))));
        q.release();
        assert!(!holds_a_full_block(&q));
        for i in 1..=capacity {
            send(&q, i).unwrap();
        }
        assert_eq!(send(&q, 0), Err(Reject::Full), "capacity {capacity}");
        assert_eq!(drain(&q), (1..=capacity).collect::<Vec<_>>());
    }
}

#[test]
fn one_message_at_a_time_never_allocates_a_full_block() {
    let q = Queue::new(None);
    assert!(q.first.load(SeqCst).is_null(), "no block before a message");
    for i in 0..100 {
        send(&q, i).unwrap();
        assert!(!q.first.load(SeqCst).is_null());
        assert!(matches!(pop(&q), Poll::Ready(Pop::Item(x)) if x == i));
        assert!(pop(&q).is_pending());
        assert!(!holds_a_full_block(&q), "message {i}");
        assert_eq!(q.len(), 0);
    }
}

#[test]
fn parking_gives_the_full_blocks_back() {
    for burst in [2, 3, BLOCK_CAP, BLOCK_CAP + 1, 3 * BLOCK_CAP + 5] {
        let q = Queue::new(None);
        let mut next = 0;
        for round in 0..=KEEP_AFTER_BURSTS {
            for i in 0..burst {
                send(&q, next + i).unwrap();
            }
            assert!(uses_a_full_block(&q), "a burst of {burst} needs one");
            assert_eq!(drain(&q), (next..next + burst).collect::<Vec<_>>());
            // `drain` ended with a park: the lap is given up. The first three bursts' blocks
            // go back there; from the fourth in a row on, a burst keeps its block as the spare
            // until the next park.
            if round + 1 < KEEP_AFTER_BURSTS {
                assert!(!holds_a_full_block(&q), "burst of {burst}, round {round}");
            } else {
                assert!(
                    !uses_a_full_block(&q) && spare_is_marked(&q),
                    "burst of {burst}, round {round}"
                );
            }
            next += burst;
        }
        // A message that needs no full block, a park: the spare goes too.
        one_round_trip(&q, next);
        next += 1;
        assert!(!holds_a_full_block(&q), "burst of {burst}");
        // Taking a burst in two goes, parking between them, keeps the order.
        for i in 0..burst {
            send(&q, next + i).unwrap();
        }
        let half = burst / 2;
        for i in 0..half {
            assert!(matches!(pop(&q), Poll::Ready(Pop::Item(x)) if x == next + i));
        }
        assert_eq!(drain(&q), (next + half..next + burst).collect::<Vec<_>>());
        one_round_trip(&q, next + burst);
        assert!(!holds_a_full_block(&q));
    }
}

/// The park that ends a lone burst frees the lap's block and the spare while a sender installs
/// the next lap's block (taking the spare if it gets there first) and, every other round, the
/// sweeper sheds the spare: each block is freed once (Miri checks), every message arrives in
/// order, and nothing is left once the receiver has parked twice after single messages (a
/// block the sender prepared for a claim the park beat becomes the spare, unmarked, and is
/// marked at the first of those parks).
#[test]
fn a_lone_burst_gives_its_blocks_back_while_a_sender_installs_the_next() {
    let rounds = if cfg!(miri) { 20 } else { 2_000 };
    let burst = BLOCK_CAP + 2; // past a block's end: a finished block is the spare
    for round in 0..rounds {
        let q = Queue::new(None);
        one_round_trip(&q, usize::MAX); // a park with no full block: the burst is lone
        for i in 0..burst {
            send(&q, i).unwrap();
        }
        let got = std::thread::scope(|scope| {
            let q = &q;
            let sender = scope.spawn(move || {
                for i in burst..burst + 3 {
                    send(q, i).unwrap();
                }
            });
            if round % 2 == 0 {
                scope.spawn(move || q.shed_spare());
            }
            let mut got = drain(q);
            sender.join().unwrap();
            got.extend(drain(q));
            got
        });
        assert_eq!(got, (0..burst + 3).collect::<Vec<_>>(), "round {round}");
        one_round_trip(&q, usize::MAX);
        one_round_trip(&q, usize::MAX);
        assert!(!holds_a_full_block(&q), "round {round}");
    }
}

#[test]
fn a_busy_mailbox_keeps_a_spare_block() {
    // While the receiver does not park, a finished block is kept for the next lap.
    let q = Queue::new(None);
    // Three first bursts, given back at their parks: the bursts below are the fourth and the
    // fifth in a row.
    for round in 0..KEEP_AFTER_BURSTS - 1 {
        for i in 0..BLOCK_CAP {
            send(&q, i).unwrap();
        }
        assert_eq!(drain(&q), (0..BLOCK_CAP).collect::<Vec<_>>());
        assert!(!holds_a_full_block(&q), "burst {round} keeps nothing");
    }
    for i in 0..3 * BLOCK_CAP {
        send(&q, i).unwrap();
    }
    for i in 0..2 * BLOCK_CAP {
        assert!(matches!(pop(&q), Poll::Ready(Pop::Item(x)) if x == i));
    }
    assert_eq!(q.pooled(), 2, "the finished blocks are kept");
    for i in 3 * BLOCK_CAP..4 * BLOCK_CAP {
        send(&q, i).unwrap();
    }
    assert_eq!(q.pooled(), 1, "and one taken for the next lap");
    assert_eq!(
        drain(&q),
        (2 * BLOCK_CAP..4 * BLOCK_CAP).collect::<Vec<_>>()
    );
    assert!(spare_is_marked(&q), "kept over the park");
    assert_eq!(q.pooled(), 1, "one of them");
    // The next burst takes it: no allocation.
    let spare = untagged(q.spare.load(SeqCst));
    send(&q, 0).unwrap();
    send(&q, 1).unwrap();
    assert!(q.spare.load(SeqCst).is_null());
    assert_eq!(q.tail.block.load(SeqCst), spare, "the spare was installed");
    assert_eq!(drain(&q), vec![0, 1]);
    assert!(spare_is_marked(&q));
    // Not taken before the next park: freed there.
    one_round_trip(&q, 2);
    assert!(!holds_a_full_block(&q));
}

#[test]
fn a_mailbox_taken_whole_while_its_senders_wait_allocates_nothing_after_the_first_fill() {
    // A sender fills the mailbox and waits; the receiver takes it all without parking; the
    // sender fills it again. The blocks the receiver finished serve the next fill.
    let capacity = 1024;
    let q = Queue::new(NonZeroUsize::new(capacity));
    let mut next = 0;
    let mut first_fill = 0;
    for round in 0..4 {
        while let Ok(slot) = q.try_reserve() {
            q.push(slot, next);
            next += 1;
        }
        assert_eq!(q.len(), capacity);
        if round == 0 {
            first_fill = q.counts.2.load(SeqCst);
        } else {
            assert_eq!(
                q.counts.2.load(SeqCst),
                first_fill,
                "fill {round} allocated blocks"
            );
        }
        for i in next - capacity..next {
            assert!(matches!(pop(&q), Poll::Ready(Pop::Item(x)) if x == i));
        }
        assert!(q.pooled() * BLOCK_CAP >= capacity - BLOCK_CAP);
        assert!(q.pooled() <= usize::from(POOL_MAX));
    }
    // Parked after a burst (a lone one): every block goes back.
    assert!(pop(&q).is_pending());
    assert_eq!(q.pooled(), 0);
    assert!(!holds_a_full_block(&q));
}

/// The blocks in the pool, counted along the chain (not by the top's depth byte).
fn pool_chain<T>(q: &Queue<T>) -> usize {
    let pool = q.lock_pool();
    let mut block = untagged(pool);
    let mut blocks = 0;
    while !block.is_null() {
        blocks += 1;
        // SAFETY: under the lock, the pooled blocks are the test's to read.
        block = unsafe { (*block).next.load(SeqCst) };
    }
    q.unlock_pool(pool);
    blocks
}

#[test]
fn the_pool_keeps_a_mailbox_s_worth_of_blocks_and_frees_the_rest() {
    for (capacity, limit) in [(Some(40), 3), (Some(1024), 34), (None, 34), (Some(1), 2)] {
        let q: Queue<usize> = Queue::new(capacity.and_then(NonZeroUsize::new));
        assert_eq!(usize::from(q.pool_limit()), limit, "capacity {capacity:?}");
        for given in 1..=limit + 5 {
            q.recycle(Box::into_raw(Block::new()));
            assert_eq!(q.pooled(), given.min(limit), "capacity {capacity:?}");
            assert_eq!(pool_chain(&q), given.min(limit), "capacity {capacity:?}");
        }
        // Taken one by one, then allocated anew.
        for left in (0..limit).rev() {
            drop(q.take_block());
            assert_eq!(pool_chain(&q), left);
            assert_eq!(q.pooled(), left);
        }
        let allocated = q.counts.2.load(SeqCst);
        drop(q.take_block());
        assert_eq!(q.counts.2.load(SeqCst), allocated + 1);
    }
}

#[test]
fn a_block_given_back_keeps_the_pool_s_mark_and_a_block_taken_clears_it() {
    let q: Queue<usize> = Queue::new(None);
    q.recycle(Box::into_raw(Block::new()));
    assert!(!spare_is_marked(&q));
    assert!(q.keep_or_free(ptr::null_mut()), "one block kept, marked");
    assert!(spare_is_marked(&q));
    q.recycle(Box::into_raw(Block::new()));
    assert!(spare_is_marked(&q), "giving back is not using the pool");
    assert_eq!(pool_chain(&q), 2);
    drop(q.take_block());
    assert!(!spare_is_marked(&q), "taking is");
    assert_eq!(pool_chain(&q), 1);
}

#[test]
fn the_sweep_frees_a_marked_pool_and_leaves_a_busy_one() {
    let q: Queue<usize> = Queue::new(None);
    q.recycle(Box::into_raw(Block::new()));
    q.recycle(Box::into_raw(Block::new()));
    q.shed_spare();
    assert_eq!(pool_chain(&q), 2, "not marked: the actor is busy");
    assert!(q.keep_or_free(ptr::null_mut()));
    assert_eq!(pool_chain(&q), 1, "a park keeps one");
    q.shed_spare();
    assert_eq!(pool_chain(&q), 0, "marked and not taken since: freed");
    assert!(!q.holds_spare());
}

#[test]
fn a_marked_pool_not_taken_from_before_the_next_park_is_freed_there() {
    let q: Queue<usize> = Queue::new(None);
    q.recycle(Box::into_raw(Block::new()));
    assert!(q.keep_or_free(ptr::null_mut()));
    let block = Box::into_raw(Block::new());
    // The next park after bursts: the marked pool goes, the lap's block stays, marked.
    assert!(q.keep_or_free(block));
    assert_eq!(pool_chain(&q), 1);
    assert_eq!(untagged(q.spare.load(SeqCst)), block);
    assert!(spare_is_marked(&q));
}

#[test]
fn items_stay_in_order_across_hollow_laps() {
    // All at once: the small block, then the rest of lap 0 and lap 1 and 2, taken after.
    let q = Queue::new(None);
    for i in 0..100 {
        send(&q, i).unwrap();
    }
    assert_eq!(drain(&q), (0..100).collect::<Vec<_>>());
    // One at a time, the receiver keeping up and parking after each: a hollow lap each.
    let q = Queue::new(None);
    for i in 0..100 {
        send(&q, i).unwrap();
        assert!(matches!(pop(&q), Poll::Ready(Pop::Item(x)) if x == i));
        assert!(pop(&q).is_pending());
    }
    // Bursts of every length up to two laps, each followed by a park.
    let q = Queue::new(NonZeroUsize::new(2 * LAP));
    let mut next = 0;
    for burst in 1..2 * LAP {
        for i in 0..burst {
            send(&q, next + i).unwrap();
        }
        assert_eq!(drain(&q), (next..next + burst).collect::<Vec<_>>());
        next += burst;
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
    // (messages sent and taken before, with a park after them: the receiver then starts in
    // the hollow lap after the one it gave up; sent; taken before the queue is dropped;
    // whether the receiver then polls once more and parks where it stands).
    let cases = [
        (0, 0, 0, false),
        (0, 1, 0, false),   // the small block's value alone
        (0, 1, 1, true),    // the receiver parked after the small block: a new hollow lap
        (0, 2, 0, false),   // the small block and the lap's full block
        (0, 2, 1, false),   // the receiver at offset 1, the full block installed
        (0, 40, 0, false),  // the small block, lap 0's full block and lap 1
        (0, 40, 1, false),  // from offset 1 on
        (0, 40, 5, false),  // from the middle of lap 0's full block
        (0, 40, 32, false), // lap 0 done (kept as the spare), in lap 1
        (0, 100, 70, false),
        (0, 32, 32, true), // the receiver parked at the start of lap 1, gave it up
        (0, 10, 10, true), // parked in the middle of lap 0's full block, gave it up
        (5, 0, 0, false),  // parked after a burst, nothing since
        (5, 1, 0, false),
        (5, 3, 0, false),
        (5, 3, 1, false),
        (5, 40, 20, false),
        (1, 2, 0, false),
        (1, 2, 2, true),
    ];
    for (before, sent, taken, poll_again) in cases {
        let case = format!("case {before}+{sent}/{taken}");
        let counts = Arc::new(
            (0..before + sent)
                .map(|_| AtomicUsize::new(0))
                .collect::<Vec<_>>(),
        );
        {
            let q = Queue::new(None);
            for i in 0..before {
                send(&q, Counted(i, counts.clone())).unwrap();
            }
            assert_eq!(drain(&q).len(), before);
            for i in before..before + sent {
                send(&q, Counted(i, counts.clone())).unwrap();
            }
            for i in before..before + taken {
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
                let expected = usize::from(i < before + taken);
                assert_eq!(count.load(SeqCst), expected, "{case}, item {i}");
            }
        }
        for (i, count) in counts.iter().enumerate() {
            assert_eq!(count.load(SeqCst), 1, "{case}, item {i}: dropped once");
        }
    }
}

#[test]
fn a_skipped_slot_in_the_small_block() {
    // Skipped, then a message in the next hollow lap.
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
    // Dropped with a skipped small slot and a value in the lap's full block.
    let counts = Arc::new(vec![AtomicUsize::new(0)]);
    {
        let q = Queue::new(None);
        drop(q.try_reserve().unwrap());
        send(&q, Counted(0, counts.clone())).unwrap();
    }
    assert_eq!(counts[0].load(SeqCst), 1);
}

#[test]
fn receiver_parked_after_the_small_block_is_woken_by_the_next_lap() {
    let q = Queue::new(None);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    send(&q, 1).unwrap();
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Item(1))
    ));
    // The small block's slot taken: the receiver parks, giving lap 0 up.
    assert!(q.poll_pop(&mut cx, true).is_pending());
    assert!(q.take_waited());
    assert_eq!(count.0.load(SeqCst), 0);
    // The first message goes to the small block again and wakes the receiver; the second
    // installs lap 1's full block. One wake-up.
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
    // The receiver takes the small block's slot and looks again before the second message's
    // sender has installed the lap's full block: it waits at offset 1, then finds it there.
    send(&q, 4).unwrap();
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Item(4))
    ));
    let slot = q.try_reserve().unwrap();
    assert!(
        q.poll_pop(&mut cx, true).is_pending(),
        "claimed, not filled"
    );
    q.push(slot, 5);
    assert!(matches!(
        q.poll_pop(&mut cx, true),
        Poll::Ready(Pop::Item(5))
    ));
    assert!(q.poll_pop(&mut cx, true).is_pending());
    // Closed while the receiver waits in a hollow lap: drained.
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
/// starts in lap 0, hollow, and races senders over the small block's slot and the
/// installation of the lap's full block with the receiver parking anywhere on the way, each
/// park giving its lap up. Every value arrives exactly once, in order per sender.
///
/// Scoped threads, started together by an atomic counter and joined, and no `Arc` or channel:
/// the queue's own atomics are the only synchronisation between the sides besides spawning
/// and joining, so that the thread sanitizer (the command of the reply slot's stress test,
/// with `mailbox::queue` for `message::slot`) reports this module's races. It may also report
/// the test harness's channel and the reference counts of the test's wakers (`Arc`s in an
/// uninstrumented standard library, whose fences it does not see).
#[test]
fn stress_bursts_across_hollow_laps() {
    const SENDERS: usize = 3;
    const ROUNDS: usize = if cfg!(miri) { 40 } else { 2_000 };
    let w = thread_waker();
    let mut cx = Context::from_waker(&w);
    let mut parks = 0;
    let (mut moves, mut installs) = (0, 0);
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
        moves += q.counts.0.load(SeqCst);
        installs += q.counts.1.load(SeqCst);
    }
    assert!(parks > 0, "the receiver should have parked at least once");
    assert!(
        moves > ROUNDS && installs > ROUNDS,
        "laps given up {moves}, hollow laps' blocks installed {installs}: the races this \
         test is for did not happen often"
    );
}

/// A sender that sends as soon as everything it sent was taken (capacity 1: taken is given
/// back at once) never finds the mailbox full, however it races the receiver's park, which
/// moves the tail to a new lap before it gives the skipped positions back. Every round is one
/// message and one park.
#[test]
fn a_mailbox_emptied_by_a_parking_receiver_is_never_full() {
    let rounds = if cfg!(miri) { 200 } else { 100_000 };
    let q: Queue<usize> = Queue::new(NonZeroUsize::new(1));
    let taken = AtomicUsize::new(0);
    let mut full = 0;
    std::thread::scope(|scope| {
        let (q, taken) = (&q, &taken);
        let receiver = scope.spawn(move || {
            let w = thread_waker();
            let mut cx = Context::from_waker(&w);
            let mut got = 0;
            while got < rounds {
                match q.poll_pop(&mut cx, true) {
                    Poll::Ready(Pop::Item(v)) => {
                        assert_eq!(v, got);
                        got += 1;
                        taken.store(got, SeqCst);
                    }
                    Poll::Ready(other) => panic!("{other:?}"),
                    Poll::Pending => std::thread::park(),
                }
            }
        });
        for i in 0..rounds {
            while taken.load(SeqCst) < i {
                std::thread::yield_now();
            }
            let mut refused = false;
            loop {
                match q.try_reserve() {
                    Ok(slot) => {
                        q.push(slot, i);
                        break;
                    }
                    Err(Reject::Full) => {
                        // Counted once per round; retried until the receiver's release lands,
                        // so that a failure reports how often, not a hang.
                        full += usize::from(!refused);
                        refused = true;
                        std::hint::spin_loop();
                    }
                    Err(Reject::Closed) => unreachable!("never closed"),
                }
            }
        }
        receiver.join().unwrap();
    });
    assert_eq!(
        full, 0,
        "{full} of {rounds} sends found the empty mailbox full"
    );
}

/// Small concurrent rounds, sized for Miri (whose checks of data races and weak memory are
/// what they are for): two sender threads race the receiver over hollow laps, the small
/// block, the installation of a lap's full block and the receiver's parks.
#[test]
fn senders_race_the_receiver_over_hollow_laps() {
    let rounds = if cfg!(miri) { 30 } else { 2_000 };
    let w = thread_waker();
    let mut cx = Context::from_waker(&w);
    for round in 0..rounds {
        let per_sender = 1 + round % 5;
        let capacity = [Some(1), Some(2), None][round % 3];
        let q = Queue::new(capacity.and_then(NonZeroUsize::new));
        std::thread::scope(|scope| {
            let senders: Vec<_> = (0..2)
                .map(|s| {
                    let q = &q;
                    scope.spawn(move || send_in_order(q, s, per_sender, 2))
                })
                .collect();
            receive_in_order(&q, &mut cx, 2, per_sender);
            for sender in senders {
                sender.join().unwrap();
            }
        });
        assert!(q.poll_pop(&mut cx, true).is_pending(), "round {round}");
    }
}

/// A queue dropped after concurrent sends, with the receiver stopped anywhere on the way,
/// drops every value once.
#[test]
fn dropping_the_queue_after_concurrent_sends_drops_each_value_once() {
    let rounds = if cfg!(miri) { 14 } else { 500 };
    for round in 0..rounds {
        let per_sender = 1 + round % 7;
        let counts = Arc::new(
            (0..2 * per_sender)
                .map(|_| AtomicUsize::new(0))
                .collect::<Vec<_>>(),
        );
        {
            let q = Queue::new(None);
            std::thread::scope(|scope| {
                for s in 0..2 {
                    let (q, counts) = (&q, &counts);
                    scope.spawn(move || {
                        for i in 0..per_sender {
                            send(q, Counted(s * per_sender + i, counts.clone())).unwrap();
                        }
                    });
                }
                for _ in 0..3 {
                    if let Poll::Ready(Pop::Item(item)) = pop(&q) {
                        assert_eq!(item.1[item.0].load(SeqCst), 0);
                    }
                }
            });
        }
        for (i, count) in counts.iter().enumerate() {
            assert_eq!(count.load(SeqCst), 1, "round {round}, item {i}");
        }
    }
}

/// Claims `count` slots of `q`, filling each; returns how many of the claims said the queue
/// was deep.
fn deep_claims(q: &Queue<u64>, count: u64) -> usize {
    let mut deep = 0;
    for v in 0..count {
        let slot = q.try_reserve().unwrap();
        deep += usize::from(q.push(slot, v));
    }
    deep
}

#[test]
fn an_unbounded_queue_says_deep_once_a_block_past_its_help_mark() {
    let q: Queue<u64> = Queue::new(None);
    assert_eq!(
        deep_claims(&q, UNBOUNDED_HELP_AT as u64),
        0,
        "not before the mark"
    );
    // From the mark on, the claim of each block's last slot says so: one in every block.
    let more = 10 * BLOCK_CAP as u64;
    let deep = deep_claims(&q, more);
    assert!((9..=10).contains(&deep), "{deep} deep claims in {more}");
    // Taken down below the mark, the queue is not deep any more.
    let (_, w) = waker();
    let mut cx = Context::from_waker(&w);
    for _ in 0..UNBOUNDED_HELP_AT {
        assert!(matches!(
            q.poll_pop(&mut cx, true),
            Poll::Ready(Pop::Item(_))
        ));
    }
    q.release();
    assert_eq!(deep_claims(&q, 2 * BLOCK_CAP as u64), 0);
}

#[test]
fn a_bounded_queue_is_never_deep() {
    let capacity = 4 * UNBOUNDED_HELP_AT;
    let q: Queue<u64> = Queue::new(NonZeroUsize::new(capacity));
    assert_eq!(deep_claims(&q, capacity as u64), 0);
    assert!(matches!(q.try_reserve(), Err(Reject::Full)));
}
