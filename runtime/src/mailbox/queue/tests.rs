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
                let w = thread_waker();
                let mut cx = Context::from_waker(&w);
                barrier.wait();
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
                    if i % burst == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let w = thread_waker();
    let mut cx = Context::from_waker(&w);
    barrier.wait();
    let mut next = vec![0usize; senders];
    let mut received = 0;
    let mut parks = 0;
    while received < senders * per_sender {
        match q.poll_pop(&mut cx, true) {
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
