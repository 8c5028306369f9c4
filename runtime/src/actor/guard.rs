//! Runs an actor's code so that a panic or a kill ends only that code, never the task.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

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

pin_project! {
    /// Polls `fut` with panics caught and a kill signal checked before every poll.
    ///
    /// When the code is cut short, the future is dropped here with the reason set, so the reply
    /// slots it holds answer their askers with that reason.
    pub(crate) struct Guarded<'q, F, T> {
        queue: &'q Queue<T>,
        handler: bool,
        #[pin]
        fut: Option<F>,
    }
}

impl<'q, F: Future, T> Guarded<'q, F, T> {
    pub(crate) fn new(queue: &'q Queue<T>, fut: F) -> Self {
        Guarded {
            queue,
            handler: false,
            fut: Some(fut),
        }
    }

    /// Guards a message handler. While it waits, the mailbox slots taken so far go back to
    /// the senders, so a mailbox in front of a busy actor holds its full capacity.
    pub(crate) fn handler(queue: &'q Queue<T>, fut: F) -> Self {
        Guarded {
            queue,
            handler: true,
            fut: Some(fut),
        }
    }
}

impl<F: Future, T> Future for Guarded<'_, F, T> {
    type Output = Result<F::Output, Interrupt>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Some(fut) = this.fut.as_mut().as_pin_mut() else {
            // Polled after completion; the actor loop never does this.
            return Poll::Pending;
        };
        if this.queue.peek_signals() & signal::KILL != 0 {
            drop_with(this.fut, Failure::Interrupted);
            return Poll::Ready(Err(Interrupt::Killed));
        }
        match catch_panic(|| fut.poll(cx)) {
            Ok(Poll::Ready(out)) => {
                this.fut.set(None);
                Poll::Ready(Ok(out))
            }
            Ok(Poll::Pending) => {
                // The code waits on something else: make sure a kill can still wake the task,
                // including one raised before the waker was registered.
                this.queue.register_receiver(cx.waker());
                if this.queue.peek_signals() & signal::KILL != 0 {
                    cx.waker().wake_by_ref();
                }
                if *this.handler {
                    this.queue.release();
                }
                Poll::Pending
            }
            Err(message) => {
                drop_with(this.fut, Failure::Panicked(message.clone()));
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
