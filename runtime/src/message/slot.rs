//! The reply slot behind [`ReplyTo`](super::ReplyTo): one value, one sender, one receiver,
//! used once.
//!
//! Every ask makes one, so it is built for that job alone: a heap slot shared by a [`Sender`]
//! and a [`Receiver`], with one atomic state word, the value, and the receiver's waker. No
//! reference count (the state word says who lets go last), no scheduler budget, no tracing.
//! A reply is one compare-exchange when the receiver has not parked yet, two when it has (the
//! sender wakes it in between), and taking a reply the sender is done with is one load.
//!
//! # The state word
//!
//! - `WAKER`: the waker cell holds the receiver's waker, published. Set by the receiver only.
//! - `COMPLETE`: the sender's outcome is published: a value, if `VALUE` is set too, else the
//!   news that the sender was dropped without one.
//! - `VALUE`: the value cell holds the value (only with `COMPLETE`).
//! - `TX_DONE`, `RX_DONE`: that side has let go of the slot and touches it no more.
//!
//! The sender writes the value, then sets `COMPLETE | VALUE` by a compare-exchange (release);
//! a sender dropped without a value sets `COMPLETE` alone, the same way. If `WAKER` was clear
//! it sets `TX_DONE` in the same step and is done: the receiver has not parked, and will find
//! the outcome when it looks. If `WAKER` was set it wakes the waker by reference, then sets
//! `TX_DONE`.
//!
//! The receiver looks (acquire) and takes a published outcome. Otherwise it parks: if a waker
//! is registered and [`will_wake`](Waker::will_wake) the current one, there is nothing to do;
//! else it clears `WAKER` first, writes the new waker only if the sender has not completed
//! meanwhile, and sets `WAKER` again (release), checking once more for `COMPLETE`.
//!
//! # Who frees the slot
//!
//! The side that sets its `*_DONE` bit while the other's is already set, or that sees (acquire)
//! the other's bit set and so knows itself the only owner left, frees the slot: the waker cell
//! and the allocation. Never the value: the value is the sender's until it sets `VALUE`, and the
//! receiver's from then on. A sender that finds `RX_DONE` drops the value itself. A receiver
//! dropped after `VALUE` reads the value out before it sets `RX_DONE` (the sender may free the
//! slot right after) and drops it; dropped before, it sets `RX_DONE` by a compare-exchange that
//! fails if the sender publishes meanwhile.
//!
//! # Safety argument, in short
//!
//! - The value cell is written only by the sender before it sets `VALUE`, and read only by the
//!   receiver after it saw `VALUE` (release/acquire), or by the sender if the receiver left
//!   first (then `VALUE` is never set).
//! - The waker cell is written only by the receiver while `WAKER` is clear and `COMPLETE` is
//!   not set. The sender reads it only if its compare-exchange saw `WAKER` set (acquire: the
//!   write happened before); a receiver clearing `WAKER` after that finds `COMPLETE` and does
//!   not write. Both sides may read it at once (`will_wake`, `wake_by_ref`): shared reads.
//! - Each side's last touch of the slot is the read-modify-write that sets its `*_DONE` bit
//!   (acquire-release): the value is read out, and the waker woken, before it. The slot is
//!   freed only by a side that saw the other's bit: the free happens after every access of the
//!   other side, and exactly one side frees.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire},
};
use std::task::{Context, Poll, Waker};

const WAKER: usize = 1;
const COMPLETE: usize = 2;
const VALUE: usize = 4;
const TX_DONE: usize = 8;
const RX_DONE: usize = 16;

/// The shared slot. Freed as a `Box` by the side that lets go last; its `Drop` drops the waker
/// cell, never the value (see the module docs).
struct Slot<T> {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A new slot: the sending half and the receiving half.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = NonNull::from(Box::leak(Box::new(Slot {
        state: AtomicUsize::new(0),
        waker: UnsafeCell::new(None),
        value: UnsafeCell::new(MaybeUninit::uninit()),
    })));
    (
        Sender {
            slot,
            _owns: PhantomData,
        },
        Receiver {
            slot: Some(slot),
            _owns: PhantomData,
        },
    )
}

/// Frees the slot.
///
/// # Safety
///
/// The caller is the last owner: the other side has set its `*_DONE` bit and the caller saw it
/// (acquire), and the caller does not touch the slot afterwards. The value cell holds no value
/// that is still owed a drop (see the module docs).
unsafe fn free<T>(slot: NonNull<Slot<T>>) {
    // SAFETY: the slot came from `Box::leak` in `channel`, and the caller is its last owner.
    drop(unsafe { Box::from_raw(slot.as_ptr()) });
}

/// The sending half. Dropped without [`send`](Sender::send), it tells the receiver so.
pub(crate) struct Sender<T> {
    slot: NonNull<Slot<T>>,
    _owns: PhantomData<T>,
}

// SAFETY: the sender hands a `T` to the receiver, possibly on another thread, hence `T: Send`.
// The slot is reached only through the protocol of the module docs.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: `&Sender` only loads the state word.
unsafe impl<T: Send> Sync for Sender<T> {}

impl<T> Sender<T> {
    /// Whether the receiver is gone: nobody will read a value sent now.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        // SAFETY: the sender holds its share of the slot until it completes, which takes
        // `self` by value.
        let slot = unsafe { self.slot.as_ref() };
        slot.state.load(Acquire) & RX_DONE != 0
    }

    /// Sends the value. If the receiver is gone, the value is dropped here.
    #[inline]
    pub(crate) fn send(self, value: T) {
        let this = ManuallyDrop::new(self);
        // The value goes straight into the slot, here where the caller has it; only the
        // publication is out of line. (Handed to it by reference, the value took a detour
        // through the stack that cost more than the compare-exchange.)
        // SAFETY: the sender has not let go yet, so the slot is alive, and the value cell is
        // the sender's until it sets `VALUE`.
        unsafe { (*this.slot.as_ref().value.get()).write(value) };
        // SAFETY: the sender completes once: `this` is not dropped. The value is written.
        unsafe { complete(this.slot, COMPLETE | VALUE) };
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // SAFETY: the sender completes once: `send` forgets the sender, so this runs only for
        // a sender that did not send.
        unsafe { complete(self.slot, COMPLETE) };
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The sender's last act: publishes the outcome (`COMPLETE | VALUE` with the value written to
/// the value cell, or `COMPLETE` alone for "dropped without one"), wakes the receiver if it
/// parked, and lets go of the slot.
///
/// # Safety
///
/// Called once per slot, by its sender, which touches the slot no more afterwards; with
/// `VALUE` in `outcome` only once the value cell holds the value.
unsafe fn complete<T>(ptr: NonNull<Slot<T>>, outcome: usize) {
    // SAFETY: the sender has not let go yet: the slot is alive.
    let slot = unsafe { ptr.as_ref() };
    let mut state = slot.state.load(Acquire);
    loop {
        if state & RX_DONE != 0 {
            // The receiver let go first: the value we wrote is still ours.
            // SAFETY: we wrote the value if `outcome` says so, and never published it.
            let value =
                (outcome & VALUE != 0).then(|| unsafe { (*slot.value.get()).assume_init_read() });
            // SAFETY: the receiver let go (acquire): we are the last owner, and the value is
            // out.
            unsafe { free(ptr) };
            drop(value);
            return;
        }
        // Not parked: nothing to wake, and the sender is done in the same step.
        let done = if state & WAKER == 0 { TX_DONE } else { 0 };
        match slot
            .state
            .compare_exchange_weak(state, state | outcome | done, AcqRel, Acquire)
        {
            Ok(_) => break,
            Err(actual) => state = actual,
        }
    }
    if state & WAKER != 0 {
        // Let go once the wake is done, even if it panics.
        let _release = ReleaseSender(ptr);
        // SAFETY: the compare-exchange saw `WAKER` (acquire: the waker's write happened
        // before); the receiver writes the cell only while `COMPLETE` is clear, and it is set.
        // The receiver may read the waker meanwhile; so do we: shared reads only.
        if let Some(waker) = unsafe { &*slot.waker.get() } {
            waker.wake_by_ref();
        }
    }
}

/// Sets `TX_DONE` when dropped, freeing the slot if the receiver let go already.
struct ReleaseSender<T>(NonNull<Slot<T>>);

impl<T> Drop for ReleaseSender<T> {
    fn drop(&mut self) {
        // SAFETY: the sender has not let go yet: the slot is alive until the `fetch_or` below.
        let previous = unsafe { self.0.as_ref() }.state.fetch_or(TX_DONE, AcqRel);
        if previous & RX_DONE != 0 {
            // SAFETY: the receiver let go first and we saw it (acquire); it took or dropped the
            // value, since `VALUE` was published before it let go.
            unsafe { free(self.0) };
        }
    }
}

/// The sender was dropped without a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecvError;

/// The receiving half: a future of the value, or [`RecvError`] if the sender was dropped
/// without one. It must not be polled again once it returned `Ready`.
pub(crate) struct Receiver<T> {
    /// `None` once the outcome is taken: the receiver has let go of the slot.
    slot: Option<NonNull<Slot<T>>>,
    _owns: PhantomData<T>,
}

// SAFETY: the receiver takes a `T` sent from another thread, hence `T: Send`. The slot is
// reached only through the protocol of the module docs.
unsafe impl<T: Send> Send for Receiver<T> {}
// SAFETY: `&Receiver` gives access to nothing.
unsafe impl<T: Send> Sync for Receiver<T> {}
// The value is never pinned: it is moved out of the slot.
impl<T> Unpin for Receiver<T> {}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let ptr = self
            .slot
            .expect("reply slot polled after it returned its outcome");
        // SAFETY: the receiver has not let go yet: the slot is alive.
        let slot = unsafe { ptr.as_ref() };
        let mut state = slot.state.load(Acquire);
        if state & COMPLETE == 0 {
            if state & WAKER != 0 {
                // SAFETY: `WAKER` is set and only this receiver clears it: the cell holds our
                // last waker and nobody writes it; the sender at most reads it too.
                let registered = unsafe { &*slot.waker.get() };
                if registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    return Poll::Pending;
                }
                // Unset first, so that the sender never reads a waker being written.
                state = slot.state.fetch_and(!WAKER, AcqRel);
            }
            if state & COMPLETE == 0 {
                // SAFETY: `WAKER` is clear and `COMPLETE` was not set when it was cleared: a
                // sender completing from now on sees `WAKER` clear and does not read the cell
                // (see the module docs). The old waker, if any, is ours to drop.
                unsafe { *slot.waker.get() = Some(cx.waker().clone()) };
                state = slot.state.fetch_or(WAKER, AcqRel);
                if state & COMPLETE == 0 {
                    return Poll::Pending;
                }
            }
        }
        self.slot = None;
        // SAFETY: `state` has `COMPLETE`, read with acquire; the receiver takes the outcome
        // once (`slot` is `None` from now on).
        Poll::Ready(unsafe { take(ptr, state) })
    }
}

/// Takes the published outcome and lets go of the slot.
///
/// # Safety
///
/// `state` is a value of the state word with `COMPLETE`, read by the receiver with acquire
/// ordering; called once, by the receiver, which touches the slot no more afterwards.
#[inline]
unsafe fn take<T>(ptr: NonNull<Slot<T>>, state: usize) -> Result<T, RecvError> {
    // SAFETY: the receiver has not let go yet: the slot is alive.
    let slot = unsafe { ptr.as_ref() };
    let outcome = if state & VALUE != 0 {
        // SAFETY: `VALUE` was seen with acquire: the sender's write happened before, the value
        // is the receiver's, and it is read once.
        Ok(unsafe { (*slot.value.get()).assume_init_read() })
    } else {
        Err(RecvError)
    };
    if state & TX_DONE != 0 || slot.state.fetch_or(RX_DONE, AcqRel) & TX_DONE != 0 {
        // SAFETY: the sender let go and we saw it (acquire); the value is out.
        unsafe { free(ptr) };
    }
    outcome
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let Some(ptr) = self.slot.take() else {
            return;
        };
        // SAFETY: the receiver has not let go yet: the slot is alive.
        let slot = unsafe { ptr.as_ref() };
        let mut state = slot.state.load(Acquire);
        let value = loop {
            if state & COMPLETE != 0 {
                // A published outcome is ours: it is taken out before we let go, and dropped
                // after.
                // SAFETY: `COMPLETE` was seen with acquire; the receiver lets go here, once.
                break unsafe { take(ptr, state) }.ok();
            }
            // Let go only if the sender has not published meanwhile: then it keeps its value,
            // and frees the slot when it completes (it completes after we let go, so it sees
            // `RX_DONE`).
            match slot
                .state
                .compare_exchange_weak(state, state | RX_DONE, AcqRel, Acquire)
            {
                Ok(_) => break None,
                Err(actual) => state = actual,
            }
        };
        drop(value);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("taken", &self.slot.is_none())
            .finish()
    }
}

#[cfg(test)]
mod tests;
