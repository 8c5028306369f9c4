//! The mailbox queue: many senders, one receiver (the actor's task), bounded.
//!
//! One of the two modules of `unsafe` code in the runtime (the other is the reply slot,
//! `message/slot.rs`). It is a segmented queue in the manner of crossbeam's `SegQueue`,
//! specialised for a single consumer and for a mailbox's needs: the capacity check, the
//! receiver's parking and the closing of the queue ride on the same compare-exchange that claims
//! a slot, so a send is one read-modify-write, and taking a message is none.
//!
//! # The tail word
//!
//! `tail` holds a position (shifted left by [`SHIFT`]) and three flags: `PARKED` (the receiver
//! sleeps and must be woken), `CLOSED` (no more messages are accepted) and `HOLLOW` (the
//! tail's lap has no full block yet; see Memory below). Positions count slots of blocks of
//! [`LAP`] positions, of which the last one of each block is not a slot: a tail at that offset
//! means "the next block is being installed", and senders wait for it.
//!
//! A sender loads the tail, checks `CLOSED`, checks the capacity against `released` (how far
//! the receiver has taken, published in batches), and claims the position with a
//! compare-exchange. The new tail value has `PARKED` cleared: the one sender that saw it set
//! wakes the receiver once its message is written. Then it writes the message into the slot
//! and marks the slot ready with a release store.
//!
//! # Parking without lost wake-ups
//!
//! The receiver parks only when the tail equals its own position (nothing claimed that it has
//! not taken): it registers its waker, then sets `PARKED` by a compare-exchange that fails if
//! a sender claimed a slot meanwhile. A sender that claims after that sees `PARKED`. A tail
//! ahead of the receiver's position with the slot not yet ready means a sender is between its
//! claim and its write (a few instructions): the receiver spins briefly, then yields.
//!
//! # Memory: hollow laps
//!
//! Most actors spend most of their life idle, and many get one message at a time: a full
//! block of [`BLOCK_CAP`] envelopes (2.3 KB for 72-byte envelopes, more than the rest of the
//! actor) would stay with each of them for good. So a mailbox uses a full block only while
//! messages come faster than the receiver takes them, and gives it up whenever the receiver
//! parks.
//!
//! A lap is *hollow* while it has no full block: its offset 0 is the one slot of the queue's
//! [`SmallBlock`] (the same generic [`Block`] with one slot, 88 bytes for a 72-byte envelope,
//! allocated by the first sender and kept until the queue is dropped), and its other slots
//! live in the full block its second sender installs. The tail's `HOLLOW` flag says so to
//! senders; the receiver knows it by its own block pointer being null. Lap 0 starts hollow,
//! so a mailbox that never got a message holds no block, and one that got one message holds
//! the small block alone.
//!
//! - The claimer of offset 0 writes into the small block; the tail moves to offset 1, still
//!   hollow.
//! - A sender that finds room at offset 1 of a hollow lap claims offset 1 and installs the
//!   lap's full block in one go: its compare-exchange moves the tail to offset 2 with
//!   `HOLLOW` still set (senders that see that wait, as on a full block's marker), it stores
//!   the block as the tail's block, links it from the small block's `next`, and clears
//!   `HOLLOW`. The block's offset 0 stays unused; from offset 1 on the lap is an ordinary one.
//! - The receiver takes offset 0 from the small block, then waits at offset 1 until the
//!   small block's `next` appears, takes the full block from there (resetting `next` for the
//!   next hollow lap) and goes on as in any lap.
//! - When the receiver parks, its compare-exchange that sets `PARKED` also moves the tail to
//!   the start of the next lap, hollow: the positions left in its lap are skipped. It gives
//!   them back to the senders with the rest, so `released` stays a count of positions behind
//!   the receiver, and no sender can reach the lap's full block any more (a claim in its lap
//!   would need the tail there). Only a receiver parked at offset 0 of a hollow lap (nothing
//!   came since it last parked) parks without moving.
//! - A burst (a lap left at a park with its full block) gives its blocks back at the park
//!   that ends it, the lap's and the pool's (below), unless it is the fourth burst in a row
//!   ([`KEEP_AFTER_BURSTS`]; a lap of one message each ends a row). A burst taken in two or
//!   three goes, as an actor running beside its sender takes one, or two bursts one of them
//!   taken in two goes, are not yet a pattern.
//! - From the fourth burst in a row on, one block stays: the pool's first, or else the full
//!   block the receiver left; the rest are freed. That *spare* is marked ([`IDLE_SPARE`], a
//!   bit of the pool's word). A sender that takes a block takes the mark with it; a spare
//!   still marked at the next park was not needed since, and is freed. So the blocks of
//!   back-to-back bursts outlive them by one park: an actor that gets bursts allocates
//!   nothing for them in the steady state, and one that gets a single message after a burst
//!   is back to the small block. One that gets nothing more is listed with the system's sweeper
//!   ([`Queue::take_sweep_request`]), which frees the spare if it is still marked within 10 s
//!   ([`Queue::shed_spare`]).
//!
//! A sender can see the moved tail before the receiver's release that follows it, and the
//! skipped positions and the receiver's last batch would then count as waiting: a sender that
//! got its reply and sends again at once would find an empty mailbox full. So a hollow tail at
//! offset `o` counts at most `o` messages waiting (every position before the lap was taken),
//! and the sender that installs the lap's full block, which ends the cap, first raises
//! `released` to the lap's start. Neither gives back more than was taken, so capacity is never
//! exceeded.
//!
//! An actor asked one question at a time therefore never allocates a full block (each message
//! goes through the small block, on the senders' and the receiver's fast paths). A block the
//! receiver has finished while more messages follow goes to the queue's *pool* for the next
//! blocks senders need: up to a mailbox's worth ([`POOL_MAX`] blocks at most, enough for the
//! default 1,024 messages), so a busy mailbox allocates nothing in the steady state either,
//! even one its sender fills while the receiver waits its turn and that the receiver then
//! takes whole (an actor on the same worker thread as its sender). The pool is a stack
//! linked through the blocks' `next`, behind a lock bit in its word ([`POOL_LOCKED`]) held
//! for a few instructions per block: a pop must read the top block's `next`, which a
//! lock-free stack could only do safely with the receiver's frees deferred. What stays with an
//! idle actor is the small block, and after back-to-back bursts the spare, until the next
//! park or the sweep.
//!
//! # Safety argument, in short
//!
//! - A slot is written only by the sender whose compare-exchange claimed it, and read only by
//!   the receiver after the slot's state says `READY` (release/acquire).
//! - A sender dereferences a block only after its claim succeeded, and a block is recycled or
//!   freed only after the receiver took every slot of it that was claimed; a claimed slot is
//!   always marked (`READY` by `push`, `SKIPPED` if its [`Slot`] was dropped unfilled), so
//!   the receiver never leaves a block that a sender still writes to. When the receiver moves
//!   the tail past a lap's unclaimed positions, the tail equals its position: every claim in
//!   that lap was taken, and no later one can succeed.
//! - The small block is written at offset 0 of a hollow lap only by that position's claimer,
//!   which the compare-exchange that made the lap (the receiver's, after it took the previous
//!   hollow lap's slot) happened before. Its `next` is written by the one sender whose
//!   compare-exchange claimed offset 1 of a hollow lap, and reset by the receiver once it
//!   read it, before it can make another hollow lap.
//! - Positions only grow, so a sender with a stale snapshot of the tail fails its
//!   compare-exchange instead of claiming a recycled block's slot or installing a lap's
//!   block twice.
//! - The receiver's state (`head`) is touched only by the single consumer: the actor's task,
//!   which is the only caller of the `&self` methods documented as receiver-only, or `Drop`.
//! - Pooled blocks are reached only under the pool's lock (acquired by a compare-exchange,
//!   released by a store): a block is pushed by whoever owns it (the receiver that finished
//!   it, a sender that took one and did not need it), and popped or freed off the pool only
//!   by the lock's holder, so no one reads the `next` of a block another thread took.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::num::NonZeroUsize;
use std::ptr;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst},
};
use std::task::{Context, Poll, Waker};

use crossbeam_utils::Backoff;
use parking_lot::Mutex;

/// Flag bits at the bottom of the tail word.
const PARKED: usize = 1;
const CLOSED: usize = 2;
/// The tail's lap has no full block (yet): see the module docs, Memory.
const HOLLOW: usize = 4;
const SHIFT: usize = 3;
const ONE: usize = 1 << SHIFT;

/// Positions per block; the last is the "installing the next block" marker, not a slot.
const LAP: usize = 32;
const BLOCK_CAP: usize = LAP - 1;

/// The largest capacity a bounded queue can have.
pub(crate) const MAX_CAPACITY: usize = usize::MAX >> (SHIFT + 2);

/// Messages waiting in an unbounded queue from which a sender that is a tokio task runs the
/// actor itself for a turn, as one that finds a bounded mailbox full does (see
/// `Scheduler::help_receiver`): the default capacity of a bounded mailbox.
pub(crate) const UNBOUNDED_HELP_AT: usize = super::Mailbox::DEFAULT_CAPACITY;

/// The longest batch the receiver takes before giving slots back.
const MAX_RELEASE_BATCH: usize = 64;

/// The burst in a row (a lap with its full block, left at a park) from which the lap's block
/// is kept as the spare for the next: earlier ones give their blocks back at the park. One
/// burst taken in two or three goes (its actor running beside its sender), or two back to
/// back with one taken in two goes (the sender paused longer than the actor looks before
/// parking), is not yet a pattern worth a block of idle memory; a fifth burst in a row
/// allocates nothing.
pub(crate) const KEEP_AFTER_BURSTS: u8 = 4;

/// How often the receiver re-reads a slot that a sender claimed but has not filled yet,
/// before it yields to the scheduler.
const IN_FLIGHT_SPINS: u32 = 16;

// Positions count messages for the life of a mailbox (and skip at most a lap per park): 64
// bits never wrap.
const _: () = assert!(
    usize::BITS >= 64,
    "snowglobe's mailbox needs 64-bit positions (a 64-bit target)"
);

const EMPTY: u8 = 0;
const READY: u8 = 1;
const SKIPPED: u8 = 2;

/// A segment of the queue: `N` slots, [`BLOCK_CAP`] for a full block. The slot states sit
/// together, apart from the values, so that a new block only needs its states and its link
/// initialised, not its values. Whatever its size, a block's successor is a full block.
struct Block<T, const N: usize = BLOCK_CAP> {
    next: AtomicPtr<Block<T>>,
    states: [AtomicU8; N],
    /// While the block is in the queue's pool: how many pooled blocks it heads (itself
    /// included). Read and written under the pool's lock only; a byte that sits in the
    /// padding before the values.
    pooled: AtomicU8,
    values: [UnsafeCell<MaybeUninit<T>>; N],
}

/// The one slot of every hollow lap (see the module docs, Memory).
type SmallBlock<T> = Block<T, 1>;

impl<T, const N: usize> Block<T, N> {
    /// A block with every slot `EMPTY` and no successor. The values stay uninitialised.
    fn new() -> Box<Block<T, N>> {
        let mut block = Box::<Block<T, N>>::new_uninit();
        let raw = block.as_mut_ptr();
        // SAFETY: `raw` points to an allocation for a `Block<T, N>`; the link and the states
        // are written before `assume_init`, and the values are `MaybeUninit`, valid as they
        // are.
        unsafe {
            ptr::addr_of_mut!((*raw).next).write(AtomicPtr::new(ptr::null_mut()));
            ptr::addr_of_mut!((*raw).states).write([const { AtomicU8::new(EMPTY) }; N]);
            ptr::addr_of_mut!((*raw).pooled).write(AtomicU8::new(0));
            block.assume_init()
        }
    }
}

/// The sending side of the tail: the word senders claim slots on, and the current block.
struct Tail<T> {
    index: AtomicUsize,
    /// The full block of the tail's lap. Stale (possibly freed) while the tail is `HOLLOW`,
    /// and then never read.
    block: AtomicPtr<Block<T>>,
    /// How many slots the receiver has taken and given back, skipped positions included (a
    /// sequence number, not a position). Senders read it for the capacity check; the
    /// receiver writes it in batches, and the sender that installs a hollow lap's full block
    /// raises it to the lap's start (which the receiver passed when it made the lap).
    released: AtomicUsize,
}

/// The receiver's side; only the consumer touches it.
struct Head<T> {
    /// The next position to take.
    position: usize,
    /// The full block of `position`'s lap; null while the lap is hollow for the receiver
    /// (offset 0, in the small block, or offset 1 before it found the lap's full block).
    block: *mut Block<T>,
    /// Messages taken and not yet given back to the senders.
    unreleased: usize,
    /// The receiver parked or yielded since [`Queue::take_waited`] last looked.
    waited: bool,
    /// A spare was marked at a park and the queue is not on the sweeper's list: see
    /// [`Queue::take_sweep_request`].
    sweep_request: bool,
    /// How many laps in a row, up to [`KEEP_AFTER_BURSTS`], had their full block when the
    /// receiver left them at a park: bursts, one after the other.
    bursts: u8,
    /// The tail's position (its low 32 bits) when the receiver last came back from a park or
    /// a yield: see [`Queue::came_while_taking`].
    go_start: u32,
}

/// A mailbox queue of `T`.
///
/// `repr(C)` fixes the order: the senders' tail first, then the fields both sides only read
/// or rarely write, then the receiver's head. Tail and head are more than a cache line apart,
/// so a busy sender and a busy receiver do not write to the same line; no alignment padding
/// is spent on it, which keeps an idle actor small.
#[repr(C)]
pub(crate) struct Queue<T> {
    tail: Tail<T>,
    /// The small block of every hollow lap, allocated by the first sender and kept until the
    /// queue is dropped.
    first: AtomicPtr<SmallBlock<T>>,
    /// Finished blocks kept for reuse while the receiver is busy (a stack linked through
    /// `next`, at most [`pool_limit`](Queue::pool_limit) deep); one at most once it parked,
    /// then marked with [`IDLE_SPARE`] (a sender that took a block before its claim, lost the
    /// claim to the park and then claimed a slot gives it back after: one more, until the
    /// next park). The word's [`POOL_LOCKED`] bit is a lock held for the few instructions
    /// that push or pop a block.
    spare: AtomicPtr<Block<T>>,
    capacity: usize,
    release_every: u32,
    /// The actor's simulated node (0 outside a simulation): next to the capacity, so that
    /// the send path's check costs no cache line of its own.
    node: u32,
    wakers: Wakers,
    head: UnsafeCell<Head<T>>,
    /// How often the receiver gave a lap up and a sender installed a hollow lap's block, for
    /// the stress tests to show that they raced over both; and how many full blocks senders
    /// allocated.
    #[cfg(test)]
    counts: (AtomicUsize, AtomicUsize, AtomicUsize),
}

/// Who to wake: the receiver, and senders waiting for room. Not generic, so that a
/// type-erased [`Slot`] can reach it.
struct Wakers {
    /// Lifecycle signals for the receiver (stop, kill), checked whenever it would park.
    signals: AtomicU8,
    receiver: Mutex<Option<Waker>>,
    senders_waiting: AtomicBool,
    /// The queue is on the system's list of mailboxes whose spare to give back (set by the
    /// receiver when it asks to be listed, cleared by [`Queue::shed_spare`]).
    sweep_listed: AtomicBool,
    senders: Mutex<Vec<Waker>>,
}

// SAFETY: the queue hands `T`s from senders to the receiver, possibly on other threads, so
// it needs `T: Send`; the raw pointers inside are owned by the queue, and the receiver-only
// state is only touched by the one consumer (see the module docs).
unsafe impl<T: Send> Send for Queue<T> {}
// SAFETY: as above; shared access from senders only goes through atomics and the claim
// protocol.
unsafe impl<T: Send> Sync for Queue<T> {}

/// A claimed slot: the sender must [`push`](Queue::push) one item into it. Dropped unfilled
/// (the sender panicked between claim and push), it is marked skipped so the receiver moves
/// past it.
#[must_use = "a claimed slot must be filled with `push`"]
pub(crate) struct Slot<'q> {
    value: *mut (),
    state: *const AtomicU8,
    /// [`WAKE`] and [`DEEP`]: one test on the push's fast path for both.
    flags: u8,
    wakers: &'q Wakers,
    _queue: PhantomData<&'q ()>,
}

impl std::fmt::Debug for Slot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

/// A slot's flag: its claim cleared `PARKED`, so its sender wakes the receiver.
const WAKE: u8 = 1;
/// A slot's flag: the queue is unbounded and had [`UNBOUNDED_HELP_AT`] messages or more
/// waiting when the slot was claimed. Looked at on the claims of the slow path only (the
/// last slot of every block among them), so that the fast path reads nothing more for it.
const DEEP: u8 = 2;

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        // SAFETY: the slot was claimed by this sender and not filled (`push` forgets the
        // `Slot`); the block stays alive until the receiver sees this slot marked.
        unsafe { (*self.state).store(SKIPPED, Release) };
        if self.flags & WAKE != 0 {
            self.wakers.wake_receiver();
        }
    }
}

/// Why a reservation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    Full,
    Closed,
}

/// What [`Queue::poll_ready`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// A message (or a skipped slot) waits to be taken with [`Queue::try_pop`].
    Item,
    /// The queue is closed and every accepted message has been taken.
    Drained,
    /// Signals were raised; take them with [`Queue::take_signals`].
    Signal,
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

/// How many slots come before `position`: positions minus one marker per lap (`(position /
/// LAP) * BLOCK_CAP + position % LAP`, which is this). For a marker this is the count
/// including the block's last slot, which is what a tail sitting on the marker has claimed.
/// Slots a receiver skipped when it made a hollow lap count too; it gives them back at once.
///
/// Senders compare it with `released` using `saturating_sub`: a sender's tail may be older
/// than the receiver's progress, and then its compare-exchange fails anyway.
const fn sequence(position: usize) -> usize {
    position - position / LAP
}

/// The mark on `spare` of a block kept when the receiver last parked and not taken since.
/// Blocks are aligned to at least 8 bytes, so the pointer's lowest bits are free.
const IDLE_SPARE: usize = 1;

/// The lock bit of `spare`: set while one side pushes or pops a block (see [`Queue::lock_pool`]).
const POOL_LOCKED: usize = 2;

/// The most blocks a busy mailbox keeps for reuse: enough for a default mailbox's 1,024
/// messages (33 blocks and the one of a hollow lap's start), so that an actor that takes a
/// full mailbox at a time while its sender waits allocates nothing in the steady state.
const POOL_MAX: u8 = 34;

/// The block `spare` points to, without its mark or lock bit.
fn untagged<T>(spare: *mut Block<T>) -> *mut Block<T> {
    spare.map_addr(|a| a & !(IDLE_SPARE | POOL_LOCKED))
}

/// How many messages count against the capacity with the tail word at `tail` and `released`
/// given back: the slots claimed and not given back, except that a hollow tail at offset `o`
/// counts at most `o`. Every position before a hollow lap was taken when the receiver made
/// the lap, whether or not its release (which follows the move) is visible yet: without the
/// cap, a sender racing a parking receiver would see the skipped positions and the
/// receiver's last batch as waiting, and find an empty mailbox full.
#[inline]
const fn waiting(tail: usize, released: usize) -> usize {
    let position = tail >> SHIFT;
    let count = sequence(position).saturating_sub(released);
    if tail & HOLLOW != 0 && count > position % LAP {
        position % LAP
    } else {
        count
    }
}

/// The first position of the lap after `position`'s.
const fn next_lap(position: usize) -> usize {
    (position / LAP + 1) * LAP
}

impl<T> Queue<T> {
    /// The same queue, for an actor on simulated node `node`.
    pub(crate) fn on_node(mut self, node: u32) -> Queue<T> {
        self.node = node;
        self
    }

    /// The actor's simulated node; 0 outside a simulation.
    #[inline]
    pub(crate) fn node(&self) -> u32 {
        self.node
    }

    /// A queue that holds at most `capacity` items, or any number for `None`.
    ///
    /// Capacities above [`MAX_CAPACITY`] are the caller's error; they are rejected before this.
    pub(crate) fn new(capacity: Option<NonZeroUsize>) -> Queue<T> {
        let capacity = capacity.map_or(MAX_CAPACITY, |c| c.get().min(MAX_CAPACITY));
        Queue {
            tail: Tail {
                // Lap 0 starts hollow.
                index: AtomicUsize::new(HOLLOW),
                block: AtomicPtr::new(ptr::null_mut()),
                released: AtomicUsize::new(0),
            },
            head: UnsafeCell::new(Head {
                position: 0,
                block: ptr::null_mut(),
                unreleased: 0,
                waited: false,
                sweep_request: false,
                bursts: 0,
                go_start: 0,
            }),
            first: AtomicPtr::new(ptr::null_mut()),
            spare: AtomicPtr::new(ptr::null_mut()),
            capacity,
            // At most `MAX_RELEASE_BATCH`, which fits.
            #[allow(clippy::cast_possible_truncation)]
            release_every: (capacity / 4).clamp(1, MAX_RELEASE_BATCH) as u32,
            node: 0,
            wakers: Wakers {
                signals: AtomicU8::new(0),
                receiver: Mutex::new(None),
                senders_waiting: AtomicBool::new(false),
                sweep_listed: AtomicBool::new(false),
                senders: Mutex::new(Vec::new()),
            },
            #[cfg(test)]
            counts: (
                AtomicUsize::new(0),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
            ),
        }
    }

    // --- senders ---------------------------------------------------------------------------

    /// Claims a slot, or says why not. Costs one compare-exchange when there is room; a full
    /// or closed queue is answered by loads alone.
    #[inline]
    pub(crate) fn try_reserve(&self) -> Result<Slot<'_>, Reject> {
        // The fast path: an open queue with room, a lap with its full block, in the middle of
        // the block, and no other sender racing for the same position.
        let tail = self.tail.index.load(Acquire);
        let position = tail >> SHIFT;
        let offset = position % LAP;
        // (`waiting` without its cap for hollow laps: this one is not.)
        if tail & (CLOSED | HOLLOW) == 0
            && offset + 1 < BLOCK_CAP
            && sequence(position).saturating_sub(self.tail.released.load(Acquire)) < self.capacity
        {
            // Not hollow, this is the full block of the position's lap, or a newer one if the
            // tail moved on: its sender stored it before moving the tail into the lap or
            // clearing `HOLLOW` (release, and the acquire load of the tail above), and a newer
            // one fails the claim below.
            let block = self.tail.block.load(Acquire);
            if self
                .tail
                .index
                .compare_exchange(tail, (tail + ONE) & !PARKED, SeqCst, Relaxed)
                .is_ok()
            {
                // SAFETY: the claim makes this slot ours, in the full block `block` (see
                // above); the block lives until the receiver has seen it marked.
                let (value, state) =
                    unsafe { ((*block).values[offset].get(), &(*block).states[offset]) };
                return Ok(self.claimed(value, state, tail & PARKED != 0));
            }
        } else if tail & (CLOSED | HOLLOW) == HOLLOW && offset == 0 {
            // Offset 0 of a hollow lap, the small block's slot: claimed here too, so that an
            // actor that gets one message at a time is sent to on this path. There is room:
            // nothing counts as waiting there (see `waiting`), and the capacity is at least 1.
            let small = self.first.load(Acquire);
            if !small.is_null()
                && self
                    .tail
                    .index
                    .compare_exchange(tail, (tail + ONE) & !PARKED, SeqCst, Relaxed)
                    .is_ok()
            {
                // SAFETY: see the same claim in `try_reserve_slow`.
                let (value, state) = unsafe { ((*small).values[0].get(), &(*small).states[0]) };
                return Ok(self.claimed(value, state, tail & PARKED != 0));
            }
        }
        self.try_reserve_slow()
    }

    /// The general case of [`try_reserve`](Queue::try_reserve): full, closed, a block to
    /// install, a hollow lap, or a race with another sender.
    #[cold]
    fn try_reserve_slow(&self) -> Result<Slot<'_>, Reject> {
        let backoff = Backoff::new();
        let mut tail = self.tail.index.load(Acquire);
        let mut next_block: Option<Box<Block<T>>> = None;
        let claimed = loop {
            if tail & CLOSED != 0 {
                break Err(Reject::Closed);
            }
            let position = tail >> SHIFT;
            let offset = position % LAP;
            let hollow = tail & HOLLOW != 0;
            if offset == BLOCK_CAP || (hollow && offset > 1) {
                // Another sender is installing a block: wait for it.
                backoff.snooze();
                tail = self.tail.index.load(Acquire);
                continue;
            }
            let queued = waiting(tail, self.tail.released.load(Acquire));
            if queued >= self.capacity {
                break Err(Reject::Full);
            }
            if hollow && offset == 0 {
                // The small block's slot.
                let small = self.first_block();
                match self.tail.index.compare_exchange_weak(
                    tail,
                    (tail + ONE) & !PARKED,
                    SeqCst,
                    Acquire,
                ) {
                    Ok(_) => {
                        // SAFETY: the claim makes the small block's slot ours: the receiver
                        // took the previous hollow lap's before it made this one (see the
                        // module docs); the block lives as long as the queue.
                        let (value, state) =
                            unsafe { ((*small).values[0].get(), &(*small).states[0]) };
                        break Ok(self.claimed(value, state, tail & PARKED != 0));
                    }
                    Err(current) => {
                        tail = current;
                        backoff.spin();
                        continue;
                    }
                }
            }
            // The block the claim lands in: at offset 1 of a hollow lap, the lap's full block,
            // which this claim installs; else the tail's block (see `try_reserve` for why it is
            // the position's if the claim succeeds).
            let block = if hollow {
                ptr::null_mut()
            } else {
                self.tail.block.load(Acquire)
            };
            // A claim that installs a block takes it from the pool once it succeeded (senders
            // racing for the claim would each take one, and all but one give it back); an
            // allocation is made before, so that the other senders do not wait through it.
            if (hollow || offset + 1 == BLOCK_CAP) && next_block.is_none() && self.pool_is_empty() {
                next_block = Some(self.new_block());
            }
            // Claim the position; the claimer that sees `PARKED` takes over the wake-up. In a
            // hollow lap, `HOLLOW` stays set on offset 2 until the block is installed.
            let new_tail = (tail + ONE) & !PARKED;
            match self
                .tail
                .index
                .compare_exchange_weak(tail, new_tail, SeqCst, Acquire)
            {
                Ok(_) if hollow => {
                    #[cfg(test)]
                    self.counts.1.fetch_add(1, Relaxed);
                    let block =
                        Box::into_raw(next_block.take().unwrap_or_else(|| self.take_block()));
                    self.tail.block.store(block, Release);
                    let small = self.first.load(Acquire);
                    // SAFETY: offset 0 of this lap was claimed, so the small block is
                    // allocated (its claimer loaded it before its compare-exchange, whose
                    // release sequence this one read from), and it lives as long as the queue.
                    // Only this sender, the claimer of offset 1, sets its `next` in this lap;
                    // the receiver resets it once it has read it.
                    unsafe { (*small).next.store(block, Release) };
                    // Past `HOLLOW`, `waiting` no longer caps the count: give back for the
                    // receiver what it had taken before it made this lap, in case its own
                    // release is not visible yet.
                    self.tail.released.fetch_max(sequence(position - 1), SeqCst);
                    self.tail.index.fetch_and(!HOLLOW, Release);
                    // SAFETY: the claim makes offset 1 of the new block ours.
                    let (value, state) = unsafe { ((*block).values[1].get(), &(*block).states[1]) };
                    break Ok(self.claimed(value, state, tail & PARKED != 0));
                }
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // This was the block's last slot: install the next one. The
                        // `fetch_add` moves the tail past the marker and keeps the flags.
                        let next =
                            Box::into_raw(next_block.take().unwrap_or_else(|| self.take_block()));
                        self.tail.block.store(next, Release);
                        self.tail.index.fetch_add(ONE, Release);
                        // SAFETY: the block is alive: this sender's slot in it is unfilled.
                        unsafe { (*block).next.store(next, Release) };
                    }
                    // SAFETY: the claim makes this slot ours; the block lives until the
                    // receiver has seen it marked.
                    let (value, state) =
                        unsafe { ((*block).values[offset].get(), &(*block).states[offset]) };
                    let mut slot = self.claimed(value, state, tail & PARKED != 0);
                    if self.capacity == MAX_CAPACITY && queued >= UNBOUNDED_HELP_AT {
                        slot.flags |= DEEP;
                    }
                    break Ok(slot);
                }
                Err(current) => {
                    tail = current;
                    backoff.spin();
                }
            }
        };
        if let Some(unused) = next_block {
            if claimed.is_ok() {
                // The receiver will take this sender's message and park again after it,
                // which trims the pool: kept, the block saves the next install an allocation.
                self.recycle(Box::into_raw(unused));
            } else {
                // Full or closed: the receiver may have parked already, trimming the pool,
                // and a block pooled now would stay with an idle actor.
                drop(unused);
            }
        }
        claimed
    }

    /// Claims a slot, waiting for room: registers the task to be woken when slots come back.
    #[inline]
    pub(crate) fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>> {
        match self.try_reserve() {
            Err(Reject::Full) => self.poll_reserve_slow(cx),
            done => Poll::Ready(done),
        }
    }

    #[cold]
    fn poll_reserve_slow(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>> {
        loop {
            match self.try_reserve() {
                Err(Reject::Full) => {}
                done => return Poll::Ready(done),
            }
            self.wakers.register_sender(cx.waker());
            // Slots given back before the registration above would not wake us: look once
            // more, reading only.
            let tail = self.tail.index.load(SeqCst);
            let taken = self.tail.released.load(SeqCst);
            if tail & CLOSED == 0 && waiting(tail, taken) >= self.capacity {
                return Poll::Pending;
            }
        }
    }

    /// Fills a claimed slot.
    ///
    /// Returns whether the queue is unbounded with a backlog of [`UNBOUNDED_HELP_AT`] or more,
    /// as its claim found it (see [`DEEP`]): a sender that may should run the receiver.
    #[inline]
    pub(crate) fn push(&self, slot: Slot<'_>, item: T) -> bool {
        let slot = std::mem::ManuallyDrop::new(slot);
        // SAFETY: the slot was claimed from this queue (its lifetime ties it to `self`), so
        // `value` points to an unfilled `MaybeUninit<T>` in a live block, written by no one
        // else.
        unsafe {
            slot.value.cast::<T>().write(item);
            (*slot.state).store(READY, Release);
        }
        if slot.flags != 0 {
            return self.pushed_flagged(slot.flags);
        }
        false
    }

    /// The rest of a push whose slot has flags: wakes the receiver, says whether deep.
    #[cold]
    fn pushed_flagged(&self, flags: u8) -> bool {
        if flags & WAKE != 0 {
            self.wakers.wake_receiver();
        }
        flags & DEEP != 0
    }

    /// The small block, allocated if no sender has done it yet.
    fn first_block(&self) -> *mut SmallBlock<T> {
        let small = self.first.load(Acquire);
        if !small.is_null() {
            return small;
        }
        let new = Box::into_raw(SmallBlock::new());
        match self
            .first
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
        {
            Ok(_) => new,
            Err(installed) => {
                // SAFETY: `new` was not published; it is still ours.
                drop(unsafe { Box::from_raw(new) });
                installed
            }
        }
    }

    /// The slot a sender's claim made its own; `wake_receiver`: the claim cleared `PARKED`,
    /// and this sender wakes the receiver once its message is written.
    fn claimed<'q>(
        &'q self,
        value: *mut MaybeUninit<T>,
        state: &'q AtomicU8,
        wake_receiver: bool,
    ) -> Slot<'q> {
        Slot {
            value: value.cast(),
            state,
            flags: u8::from(wake_receiver),
            wakers: &self.wakers,
            _queue: PhantomData,
        }
    }

    /// A full block for a sender: one from the pool if there is one, else a new allocation.
    fn take_block(&self) -> Box<Block<T>> {
        // A load only, for a mailbox that keeps no block (most of them, most of the time).
        if self.pool_is_empty() {
            return self.new_block();
        }
        let pool = self.lock_pool();
        let top = untagged(pool);
        if top.is_null() {
            self.unlock_pool(pool);
            return self.new_block();
        }
        // SAFETY: pooled blocks are owned by the queue and reached only under the lock.
        let rest = unsafe { (*top).next.swap(ptr::null_mut(), Relaxed) };
        // The mark goes with the block: the pool was needed since the receiver parked.
        self.unlock_pool(rest);
        // SAFETY: as above; off the pool, the block is ours (allocated by `Block::new`).
        unsafe { Box::from_raw(top) }
    }

    /// A newly allocated full block.
    fn new_block(&self) -> Box<Block<T>> {
        #[cfg(test)]
        self.counts.2.fetch_add(1, Relaxed);
        Block::new()
    }

    /// Whether the pool holds no block, by a load (a block may come or go at any time).
    fn pool_is_empty(&self) -> bool {
        untagged(self.spare.load(Relaxed)).is_null()
    }

    /// Pools a full block no one uses, or frees it if the pool is full. Its slots must all be
    /// `EMPTY`, and nothing may point to it.
    fn recycle(&self, block: *mut Block<T>) {
        let pool = self.lock_pool();
        let top = untagged(pool);
        // SAFETY: pooled blocks are reached only under the lock.
        let depth = if top.is_null() {
            0
        } else {
            unsafe { (*top).pooled.load(Relaxed) }
        };
        if depth >= self.pool_limit() {
            self.unlock_pool(pool);
            // SAFETY: the caller owns `block`; it was allocated by `Block::new`.
            drop(unsafe { Box::from_raw(block) });
            return;
        }
        // SAFETY: the caller owns `block`.
        unsafe {
            (*block).next.store(top, Relaxed);
            (*block).pooled.store(depth + 1, Relaxed);
        }
        // A block given back keeps the mark: it says no block was taken since the park.
        self.unlock_pool(block.map_addr(|a| a | (pool.addr() & IDLE_SPARE)));
    }

    /// How many blocks the pool keeps: a mailbox's worth, at most [`POOL_MAX`].
    fn pool_limit(&self) -> u8 {
        let blocks = self.capacity / BLOCK_CAP + 2;
        u8::try_from(blocks).map_or(POOL_MAX, |b| b.min(POOL_MAX))
    }

    /// Takes the pool's lock; returns the pool (its top block and mark). Whoever holds it
    /// runs a few instructions, allocating and freeing nothing, before
    /// [`unlock_pool`](Queue::unlock_pool).
    fn lock_pool(&self) -> *mut Block<T> {
        let backoff = Backoff::new();
        loop {
            let pool = self.spare.load(Relaxed);
            if pool.addr() & POOL_LOCKED == 0
                && self
                    .spare
                    .compare_exchange_weak(
                        pool,
                        pool.map_addr(|a| a | POOL_LOCKED),
                        Acquire,
                        Relaxed,
                    )
                    .is_ok()
            {
                return pool;
            }
            backoff.snooze();
        }
    }

    /// Leaves `pool` (top block and mark) as the pool and lets go of the lock.
    fn unlock_pool(&self, pool: *mut Block<T>) {
        // Cleared whatever the caller passed: a lock left set would hang every other side.
        self.spare
            .store(pool.map_addr(|a| a & !POOL_LOCKED), Release);
        debug_assert_eq!(pool.addr() & POOL_LOCKED, 0, "a word with the lock bit");
    }

    /// Frees a chain of pooled blocks, taken off the pool.
    fn free_chain(mut block: *mut Block<T>) {
        while !block.is_null() {
            // SAFETY: the caller took the chain off the pool: its blocks are ours alone,
            // allocated by `Block::new`.
            let next = unsafe { (*block).next.load(Relaxed) };
            drop(unsafe { Box::from_raw(block) });
            block = next;
        }
    }

    // --- state ----------------------------------------------------------------------------

    /// Stops accepting messages. Messages already accepted stay to be taken.
    ///
    /// A receiver parked on an empty queue is woken to find it closed: whoever closes, no
    /// sender will claim a slot and wake it any more.
    pub(crate) fn close(&self) {
        let previous = self.tail.index.fetch_or(CLOSED, SeqCst);
        if previous & PARKED != 0 {
            self.wakers.wake_receiver();
        }
        // Waiting senders learn that the queue closed.
        self.wakers.senders_waiting.store(true, SeqCst);
        self.wakers.wake_senders();
    }

    /// Accepts messages again after [`close`](Queue::close): a restarted actor takes new
    /// messages where the stopped instance left off.
    pub(crate) fn reopen(&self) {
        self.tail.index.fetch_and(!CLOSED, SeqCst);
    }

    /// Whether the queue has closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.tail.index.load(SeqCst) & CLOSED != 0
    }

    /// Messages accepted and not yet given back by the receiver: the messages waiting, plus
    /// up to a batch the receiver has taken while it is busy. Exact while the receiver waits.
    pub(crate) fn len(&self) -> usize {
        let tail = self.tail.index.load(SeqCst);
        let taken = self.tail.released.load(SeqCst);
        waiting(tail, taken)
    }

    /// The capacity ([`MAX_CAPACITY`] when unbounded).
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Raises signals for the receiver and wakes it.
    pub(crate) fn signal(&self, bits: u8) {
        self.wakers.signals.fetch_or(bits, SeqCst);
        self.wakers.wake_receiver();
    }

    /// The raised signals, left in place.
    pub(crate) fn peek_signals(&self) -> u8 {
        self.wakers.signals.load(SeqCst)
    }

    /// Takes the raised signals.
    pub(crate) fn take_signals(&self) -> u8 {
        self.wakers.signals.swap(0, SeqCst)
    }

    /// Registers the receiver's waker so that [`signal`](Queue::signal) can wake it while it
    /// is busy in a handler rather than parked here.
    pub(crate) fn register_receiver(&self, waker: &Waker) {
        self.wakers.register_receiver(waker);
    }

    /// Calls `f` with the receiver's waker, as it last registered it, under the lock that
    /// keeps it (`f` must not wake it, or register another).
    pub(crate) fn with_receiver_waker<R>(&self, f: impl FnOnce(Option<&Waker>) -> R) -> R {
        f(self.wakers.receiver.lock().as_ref())
    }

    // --- the receiver -----------------------------------------------------------------------

    /// Takes the next item. Receiver only.
    ///
    /// With `signals` set, raised signals interrupt the wait ([`Pop::Signal`]); without, they
    /// are left for later (used while draining a stopping actor).
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>, signals: bool) -> Poll<Pop<T>> {
        loop {
            if !(signals && self.wakers.signals.load(SeqCst) != 0)
                && let Some(item) = self.try_pop()
            {
                return Poll::Ready(Pop::Item(item));
            }
            match self.poll_ready(cx, signals) {
                Poll::Ready(Ready::Item) => {}
                Poll::Ready(Ready::Drained) => return Poll::Ready(Pop::Drained),
                Poll::Ready(Ready::Signal) => return Poll::Ready(Pop::Signal),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Whether a sender has claimed a slot the receiver has not taken, or a signal is raised:
    /// loads only, for a receiver looking again before it parks. Receiver only.
    pub(crate) fn has_news(&self) -> bool {
        // SAFETY: receiver only (see the module docs): no `&mut Head` exists while this runs.
        let head = unsafe { &*self.head.get() };
        self.tail.index.load(Acquire) >> SHIFT != head.position
            || self.wakers.signals.load(Relaxed) != 0
    }

    /// Waits until there is something to take (or the queue is drained, or a signal is
    /// raised), without taking it. Receiver only. This is where the receiver parks.
    #[inline(never)]
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>, signals: bool) -> Poll<Ready> {
        // SAFETY: receiver only (see the module docs): no other `&mut Head` exists.
        let head = unsafe { &mut *self.head.get() };
        loop {
            if signals && self.wakers.signals.load(SeqCst) != 0 {
                return Poll::Ready(Ready::Signal);
            }
            if self.ready(head) {
                return Poll::Ready(Ready::Item);
            }
            let tail = self.tail.index.load(SeqCst);
            if tail >> SHIFT != head.position {
                self.release_head(head);
                // A sender claimed a slot and is about to fill it (or installs a block).
                let mut spins = 0;
                while spins < IN_FLIGHT_SPINS && !self.ready(head) {
                    std::hint::spin_loop();
                    spins += 1;
                }
                if spins < IN_FLIGHT_SPINS {
                    continue;
                }
                cx.waker().wake_by_ref();
                head.waited = true;
                return Poll::Pending;
            }
            if tail & CLOSED != 0 {
                self.release_head(head);
                return Poll::Ready(Ready::Drained);
            }
            self.wakers.register_receiver(cx.waker());
            if signals && self.wakers.signals.load(SeqCst) != 0 {
                self.release_head(head);
                return Poll::Ready(Ready::Signal);
            }
            // Park, and unless nothing came since the last park (the receiver waits at the
            // start of a hollow lap), give the lap up: the tail moves to the start of the next
            // one, hollow (see the module docs, Memory), and `leave_lap` gives back what was
            // taken with the positions skipped.
            let stay = head.block.is_null() && head.position.is_multiple_of(LAP);
            let parked = if stay {
                self.release_head(head);
                tail | PARKED
            } else {
                (next_lap(head.position) << SHIFT) | HOLLOW | PARKED
            };
            if self
                .tail
                .index
                .compare_exchange(tail, parked, SeqCst, SeqCst)
                .is_ok()
            {
                if !stay {
                    self.leave_lap(head);
                }
                head.waited = true;
                return Poll::Pending;
            }
        }
    }

    /// Once the receiver's compare-exchange moved the tail from its position to the start of
    /// the next lap: moves the receiver there, gives the skipped positions back to the
    /// senders, and keeps the lap's full block as the spare after bursts in a row or gives
    /// it back after a lone one (see the module docs, Memory).
    fn leave_lap(&self, head: &mut Head<T>) {
        #[cfg(test)]
        self.counts.0.fetch_add(1, Relaxed);
        head.position = next_lap(head.position);
        head.unreleased = 0;
        self.tail.released.store(sequence(head.position), SeqCst);
        self.wakers.wake_senders();
        let block = std::mem::replace(&mut head.block, ptr::null_mut());
        head.bursts = if block.is_null() {
            0
        } else {
            (head.bursts + 1).min(KEEP_AFTER_BURSTS)
        };
        let spare = untagged(self.spare.load(Relaxed));
        if spare.is_null() && block.is_null() {
            return;
        }
        if !block.is_null() && head.bursts < KEEP_AFTER_BURSTS {
            self.give_back(block);
            return;
        }
        if self.keep_or_free(block) && !self.wakers.sweep_listed.swap(true, AcqRel) {
            head.sweep_request = true;
        }
    }

    /// A burst ended at this park before the fourth in a row: its blocks go back at once,
    /// `block` (the lap the receiver left) and the spare, if no sender took it. Kept, they
    /// would save the next burst one allocation; an actor that gets bursts back to back keeps
    /// them from the fourth on (see [`keep_or_free`](Queue::keep_or_free)), one asked a question
    /// at a time with a burst now and then is back to its smallest size as soon as it parks.
    #[cold]
    fn give_back(&self, block: *mut Block<T>) {
        // SAFETY: as in `keep_or_free`: with the tail in a later lap, nothing refers to the
        // block any more; it was allocated by `Block::new`.
        drop(unsafe { Box::from_raw(block) });
        let pool = self.lock_pool();
        self.unlock_pool(ptr::null_mut());
        Self::free_chain(untagged(pool));
    }

    /// The pool's turn at a park after bursts in a row: a pool marked at the last park and
    /// not taken from since is freed; one block is kept, the pool's top or else `block` (the
    /// lap the receiver left, or null), and the rest freed; and the block kept is marked, to
    /// be freed at the next park unless a sender takes it first. So a burst's blocks outlive
    /// it by one park at most. Returns whether a marked block is left.
    #[cold]
    fn keep_or_free(&self, block: *mut Block<T>) -> bool {
        let pool = self.lock_pool();
        // Chains to free once the lock is let go: a marked pool, and what hung below the
        // block kept.
        let mut free = ptr::null_mut();
        let mut rest = ptr::null_mut();
        let mut top = untagged(pool);
        if pool.addr() & IDLE_SPARE != 0 {
            free = top;
            top = ptr::null_mut();
        }
        let mut block = block;
        if top.is_null() {
            top = std::mem::replace(&mut block, ptr::null_mut());
        }
        if !top.is_null() {
            // SAFETY: pooled blocks are reached only under the lock; `block`, if it became
            // the top, is ours (below). Either way nothing else refers to it.
            rest = unsafe {
                (*top).pooled.store(1, Relaxed);
                (*top).next.swap(ptr::null_mut(), Relaxed)
            };
        }
        self.unlock_pool(top.map_addr(|a| if a == 0 { 0 } else { a | IDLE_SPARE }));
        Self::free_chain(free);
        Self::free_chain(rest);
        if !block.is_null() {
            // SAFETY: the tail stood on the receiver's position, so every slot of the block
            // that was claimed has been taken, and with the tail in a later lap no claim in
            // this one can succeed: nothing refers to the block any more (the tail's stale
            // pointer to it is never read). It was allocated by `Block::new`.
            drop(unsafe { Box::from_raw(block) });
        }
        !top.is_null()
    }

    /// Whether the receiver's last park left a marked spare in a queue that is not on the
    /// sweeper's list yet, once: the caller then lists it, so that an actor that parks for
    /// good after a burst gives the block back too ([`shed_spare`](Queue::shed_spare)).
    /// Receiver only.
    pub(crate) fn take_sweep_request(&self) -> bool {
        // SAFETY: receiver only.
        let head = unsafe { &mut *self.head.get() };
        std::mem::take(&mut head.sweep_request)
    }

    /// Frees the spare if it is still marked: kept at the receiver's last park and not taken
    /// since. Takes the queue off the sweeper's list first, so that a spare marked from now on
    /// asks to be listed again. Any thread.
    pub(crate) fn shed_spare(&self) {
        self.wakers.sweep_listed.store(false, SeqCst);
        if self.spare.load(Acquire).addr() & IDLE_SPARE == 0 {
            return;
        }
        let pool = self.lock_pool();
        if pool.addr() & IDLE_SPARE == 0 {
            self.unlock_pool(pool);
            return;
        }
        self.unlock_pool(ptr::null_mut());
        Self::free_chain(untagged(pool));
    }

    /// Whether the queue keeps a spare block (for tests outside this module).
    #[cfg(test)]
    pub(crate) fn holds_spare(&self) -> bool {
        !untagged(self.spare.load(SeqCst)).is_null()
    }

    /// How many blocks the pool holds (for tests).
    #[cfg(test)]
    pub(crate) fn pooled(&self) -> usize {
        let pool = self.lock_pool();
        let top = untagged(pool);
        // SAFETY: pooled blocks are reached only under the lock.
        let depth = if top.is_null() {
            0
        } else {
            unsafe { (*top).pooled.load(Relaxed) }
        };
        self.unlock_pool(pool);
        usize::from(depth)
    }

    /// Whether the receiver parked or yielded since the last call. Receiver only.
    pub(crate) fn take_waited(&self) -> bool {
        // SAFETY: receiver only.
        let head = unsafe { &mut *self.head.get() };
        std::mem::take(&mut head.waited)
    }

    /// Notes where the tail stands as the receiver comes back from a park or a yield, for
    /// [`came_while_taking`](Queue::came_while_taking). Receiver only.
    pub(crate) fn start_go(&self) {
        // SAFETY: receiver only.
        let head = unsafe { &mut *self.head.get() };
        // Truncated: a receiver takes far fewer than 2^32 messages between two parks or yields.
        #[allow(clippy::cast_possible_truncation)]
        let tail = (self.tail.index.load(Relaxed) >> SHIFT) as u32;
        head.go_start = tail;
    }

    /// How many messages came while the receiver was taking the ones there since its last
    /// [`start_go`](Queue::start_go), as it finds the queue empty: more than none, a sender
    /// on another thread sending while it runs. Receiver only.
    pub(crate) fn came_while_taking(&self) -> u32 {
        // SAFETY: receiver only.
        let head = unsafe { &*self.head.get() };
        // The receiver stands at the tail (the queue is empty): what lies past the start came.
        #[allow(clippy::cast_possible_truncation)]
        let position = head.position as u32;
        position.wrapping_sub(head.go_start)
    }

    /// Takes the next item if it is there. Receiver only.
    ///
    /// The fast path: one load of the slot's state, one read of the value. Empty slots,
    /// skipped slots, the end of a block and offset 1 of a hollow lap once its full block is
    /// installed go to [`take_slow`](Queue::take_slow).
    #[inline]
    pub(crate) fn try_pop(&self) -> Option<T> {
        // SAFETY: receiver only (see the module docs): no other `&mut Head` exists.
        let head = unsafe { &mut *self.head.get() };
        let offset = head.position % LAP;
        let block = head.block;
        let (state, value) = if !block.is_null() && offset + 1 < BLOCK_CAP {
            // SAFETY: the receiver's block is the full block of its lap, alive until the
            // receiver moves past it.
            unsafe { (&(*block).states[offset], (*block).values[offset].get()) }
        } else if block.is_null() && offset == 0 {
            // Offset 0 of a hollow lap: the small block's slot, taken here too, so that an
            // actor that gets one message at a time reads it straight out.
            let small = self.first.load(Acquire);
            if small.is_null() {
                return None;
            }
            // SAFETY: the small block lives as long as the queue.
            unsafe { (&(*small).states[0], (*small).values[0].get()) }
        } else if block.is_null() && offset == 1 {
            // Offset 1 of a hollow lap, where an actor that gets one message at a time looks
            // after each: a second message came only if its sender installed the lap's full
            // block. Answered here, out of the slow path, when it did not.
            let small = self.first.load(Relaxed);
            // SAFETY: the small block lives as long as the queue.
            if small.is_null() || unsafe { (*small).next.load(Relaxed) }.is_null() {
                return None;
            }
            return self.take_slow(head);
        } else {
            return self.take_slow(head);
        };
        match state.load(Acquire) {
            READY => {}
            EMPTY => return None,
            _ => return self.take_slow(head),
        }
        state.store(EMPTY, Relaxed);
        head.position += 1;
        head.unreleased += 1;
        if head.unreleased >= self.release_every as usize {
            self.release_head(head);
        }
        // SAFETY: the slot is `READY` (acquire): its sender's write happened before, and no
        // one else reads it.
        Some(unsafe { value.read().assume_init() })
    }

    /// Whether the slot at the receiver's position is marked. Receiver only.
    ///
    /// At offset 1 of a hollow lap (offset 0 taken), this moves the receiver to the lap's full
    /// block once a sender has installed it.
    fn ready(&self, head: &mut Head<T>) -> bool {
        if head.block.is_null() {
            let small = self.first.load(Acquire);
            if small.is_null() {
                return false;
            }
            if head.position.is_multiple_of(LAP) {
                // SAFETY: the small block lives as long as the queue.
                return unsafe { (*small).states[0].load(Acquire) != EMPTY };
            }
            // SAFETY: as above.
            let next = unsafe { (*small).next.load(Acquire) };
            if next.is_null() {
                return false;
            }
            // Reset for the next hollow lap, which only this receiver can make, later.
            // SAFETY: as above; only the claimer of offset 1 of this lap set `next`.
            unsafe { (*small).next.store(ptr::null_mut(), Relaxed) };
            head.block = next;
        }
        let offset = head.position % LAP;
        // SAFETY: the receiver's block is the full block of its lap, alive until the receiver
        // moves past it.
        unsafe { (*head.block).states[offset].load(Acquire) != EMPTY }
    }

    /// The state and the value of the slot at the receiver's position, which
    /// [`ready`](Queue::ready) found marked. Receiver only.
    fn head_slot(&self, head: &Head<T>) -> (*const AtomicU8, *mut MaybeUninit<T>) {
        let offset = head.position % LAP;
        // SAFETY: `ready` found the slot in a live block: the small block (loaded with
        // acquire there) at offset 0 of a hollow lap, else the receiver's full block.
        unsafe {
            if head.block.is_null() {
                let small = self.first.load(Relaxed);
                (&raw const (*small).states[0], (*small).values[0].get())
            } else {
                let block = head.block;
                (
                    &raw const (*block).states[offset],
                    (*block).values[offset].get(),
                )
            }
        }
    }

    /// Takes the item at the receiver's position if it is there, moving past skipped slots
    /// and finished blocks.
    #[cold]
    fn take_slow(&self, head: &mut Head<T>) -> Option<T> {
        loop {
            if !self.ready(head) {
                return None;
            }
            let offset = head.position % LAP;
            let (state, value) = self.head_slot(head);
            // SAFETY: `ready` checked the block and the slot's mark (acquire): the sender's
            // write of the value happened before, and no one else reads this slot.
            let (state, item) = unsafe {
                let mark = (*state).load(Acquire);
                let item = (mark == READY).then(|| value.read().assume_init());
                (*state).store(EMPTY, Relaxed);
                (mark, item)
            };
            head.position += 1;
            // The small block's slot taken, the receiver waits at offset 1 for the lap's full
            // block (`ready` takes it up); a full block's last slot hands over at once.
            if !head.block.is_null() && offset + 1 == BLOCK_CAP {
                // The block is done: every slot was marked, so no sender touches it any more.
                // SAFETY: as said; `next` is non-null because the last slot's claimer
                // installed it before marking the slot.
                let next = unsafe { (*head.block).next.load(Acquire) };
                self.recycle(head.block);
                head.block = next;
                head.position += 1; // past the marker
            }
            // A skipped slot counts as taken too: its room goes back to the senders.
            head.unreleased += 1;
            if head.unreleased >= self.release_every as usize {
                self.release_head(head);
            }
            if state == READY {
                return item;
            }
        }
    }

    #[cold]
    fn release_head(&self, head: &mut Head<T>) {
        if head.unreleased > 0 {
            head.unreleased = 0;
            self.tail.released.store(sequence(head.position), SeqCst);
            self.wakers.wake_senders();
        }
    }

    /// Gives the slots the receiver has taken back to the senders. Receiver only.
    pub(crate) fn release(&self) {
        // SAFETY: receiver only.
        let head = unsafe { &mut *self.head.get() };
        self.release_head(head);
    }
}

impl Wakers {
    /// Wakes the receiver. The waker stays registered: the receiver's next park finds it
    /// there and does not clone it again.
    fn wake_receiver(&self) {
        if let Some(waker) = &*self.receiver.lock() {
            waker.wake_by_ref();
        }
    }

    /// Registers the receiver's waker. Receiver only.
    ///
    /// An actor's task parks with the same waker every time, so the check that it is already
    /// registered comes first, without the lock.
    #[inline]
    fn register_receiver(&self, waker: &Waker) {
        // SAFETY: only the receiver writes this slot, and it writes it under the lock (in
        // `replace_receiver`); senders only read it, under the lock. This unlocked read by the
        // receiver therefore races with no write.
        let registered = unsafe { &*self.receiver.data_ptr() };
        if !registered.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.replace_receiver(waker);
        }
    }

    /// The first registration, or one from another task: out of line, off the park's path.
    #[cold]
    #[inline(never)]
    fn replace_receiver(&self, waker: &Waker) {
        *self.receiver.lock() = Some(waker.clone());
    }

    fn register_sender(&self, waker: &Waker) {
        let mut senders = self.senders.lock();
        if !senders.iter().any(|w| w.will_wake(waker)) {
            senders.push(waker.clone());
        }
        self.senders_waiting.store(true, SeqCst);
    }

    #[inline]
    fn wake_senders(&self) {
        if self.senders_waiting.load(SeqCst) {
            self.wake_waiting_senders();
        }
    }

    #[cold]
    fn wake_waiting_senders(&self) {
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

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        let tail = *self.tail.index.get_mut() >> SHIFT;
        let head = self.head.get_mut();
        let mut block = head.block;
        let mut position = head.position;
        let small = *self.first.get_mut();
        if block.is_null() && !small.is_null() {
            // A hollow lap for the receiver: the small block's slot, then the lap's full
            // block if a sender installed it.
            // SAFETY: `&mut self`: no sender or receiver runs. A `READY` slot holds an
            // initialised value no one took.
            unsafe {
                if position.is_multiple_of(LAP)
                    && position < tail
                    && (*small).states[0].load(Relaxed) == READY
                {
                    (*small).values[0].get().cast::<T>().drop_in_place();
                }
                block = (*small).next.load(Relaxed);
            }
            position = position / LAP * LAP + 1;
        }
        // Drop the items still queued and free the full blocks they sit in.
        while !block.is_null() {
            let offset = position % LAP;
            if position < tail && offset < BLOCK_CAP {
                // SAFETY: `&mut self`: no sender or receiver runs. A `READY` slot holds an
                // initialised value no one took.
                unsafe {
                    if (*block).states[offset].load(Relaxed) == READY {
                        (*block).values[offset].get().cast::<T>().drop_in_place();
                    }
                }
                position += 1;
                continue;
            }
            // SAFETY: as above; full blocks were allocated by `Block::new` and are linked once.
            let next = unsafe { (*block).next.load(Relaxed) };
            drop(unsafe { Box::from_raw(block) });
            block = next;
            position = next_lap(position);
        }
        if !small.is_null() {
            // SAFETY: as above; allocated by `SmallBlock::new`, its value dropped above if any.
            drop(unsafe { Box::from_raw(small) });
        }
        Self::free_chain(untagged(*self.spare.get_mut()));
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
mod tests;
