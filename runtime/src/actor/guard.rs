//! Runs an actor's code so that a panic or a kill ends only that code, never the task.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::PanicMessage;
use super::cell::signal;
use crate::mailbox::Queue;
use crate::message::{Failure, answer_orphans, catch_panic, dropping_with};

/// Why guarded code did not complete.
#[derive(Debug)]
pub(crate) enum Interrupt {
    Panicked(PanicMessage),
    Killed,
}

/// Polls a future with panics caught and a kill signal checked before every poll.
///
/// The future lives in its caller's slot, not in the guard: a handler's future is built
/// straight into that slot under [`catch_panic`] (a hand-written `dispatch` may panic before
/// it returns one), where returning it through the catch and moving it into the guard cost a
/// copy of the whole future per message.
///
/// When the code is cut short, the future is dropped in its slot with the reason set, so the
/// reply slots it holds answer their askers with that reason. Once it completes, it is left
/// in the slot for its owner to drop; the guard is not polled again after it returned
/// `Ready`.
///
/// `HANDLER`: the code is a message handler. While it waits, the mailbox slots taken so far go
/// back to the senders, so a mailbox in front of a busy actor holds its full capacity. (A
/// parameter rather than a field: this guard sits in the future every idle actor keeps.)
pub(crate) struct Guarded<'q, 'f, F, T, const HANDLER: bool> {
    queue: &'q Queue<T>,
    fut: Pin<&'f mut Option<F>>,
}

/// Guards a lifecycle hook.
pub(crate) type HookGuard<'q, 'f, F, T> = Guarded<'q, 'f, F, T, false>;
/// Guards a message handler.
pub(crate) type HandlerGuard<'q, 'f, F, T> = Guarded<'q, 'f, F, T, true>;

impl<'q, 'f, F: Future, T, const HANDLER: bool> Guarded<'q, 'f, F, T, HANDLER> {
    pub(crate) fn new(queue: &'q Queue<T>, fut: Pin<&'f mut Option<F>>) -> Self {
        Guarded { queue, fut }
    }
}

impl<F: Future, T, const HANDLER: bool> Future for Guarded<'_, '_, F, T, HANDLER> {
    type Output = Result<F::Output, Interrupt>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            // Polled after it was cut short, or given an empty slot; the actor loop does
            // neither.
            return Poll::Pending;
        };
        if this.queue.peek_signals() & signal::KILL != 0 {
            drop_with(this.fut.as_mut(), Failure::Interrupted);
            return Poll::Ready(Err(Interrupt::Killed));
        }
        match catch_panic(|| fut.poll(cx)) {
            // The completed future stays in its slot, which its owner drops right after: one
            // call of its drop glue per message rather than two.
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => {
                // The code waits on something else: make sure a kill can still wake the task,
                // including one raised before the waker was registered.
                this.queue.register_receiver(cx.waker());
                if this.queue.peek_signals() & signal::KILL != 0 {
                    cx.waker().wake_by_ref();
                }
                if HANDLER {
                    this.queue.release();
                }
                Poll::Pending
            }
            Err(message) => {
                drop_with(this.fut.as_mut(), Failure::Panicked(message.clone()));
                Poll::Ready(Err(Interrupt::Panicked(message)))
            }
        }
    }
}

/// Drops the future in place so that the reply slots inside answer with `reason`. A panic
/// while dropping is caught too: the future is gone either way.
fn drop_with<F>(mut fut: Pin<&mut Option<F>>, reason: Failure) {
    let answer = reason.clone();
    dropping_with(reason, || {
        if catch_unwind(AssertUnwindSafe(|| fut.set(None))).is_err() {
            // A `Drop` panicked: the reply slots dropped while it unwound wait to be answered.
            answer_orphans(&answer);
        }
    });
}
