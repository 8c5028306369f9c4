//! What an address does for the send futures, whatever kind of address it is.

use std::task::{Context, Poll};

use crate::mailbox::{Reject, Slot};
use crate::message::{Headers, Message, ReplyTo};
use crate::system::Shared;

pub(crate) mod sealed {
    use super::*;

    /// The operations behind [`Endpoint`](super::Endpoint). Sealed: only the runtime's own
    /// address types implement it, so the mailbox protocol stays private.
    // Public in name only, so that `Endpoint` may extend it; the runtime's private types in
    // its signatures are the point of sealing it.
    #[allow(unreachable_pub, private_interfaces)]
    pub trait Sealed<M: Message> {
        /// Reserves a mailbox slot now, or says why not.
        fn try_reserve(&self) -> Result<Slot<'_>, Reject>;
        /// Reserves a mailbox slot, waiting for room.
        fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>>;
        /// Puts the message into the reserved slot.
        fn push(&self, slot: Slot<'_>, headers: Headers, msg: M, reply: ReplyTo<M::Reply>);
        /// The system the addressed actor lives in (clock, default timeouts).
        fn system(&self) -> &Shared;
    }
}

/// An address that takes messages of type `M`: an [`ActorRef<A>`](crate::ActorRef) whose actor
/// accepts `M`, or a [`Recipient<M>`](crate::Recipient).
///
/// The send futures ([`Tell`](crate::Tell), [`Ask`](crate::Ask)) and [`Request`](crate::Request)
/// are generic over it, so one implementation serves both kinds of address, statically
/// dispatched for `ActorRef`. The trait is sealed.
pub trait Endpoint<M: Message>: sealed::Sealed<M> {}

impl<M: Message, T: sealed::Sealed<M>> Endpoint<M> for T {}

/// Sends without waiting: the shared body of every `try_tell`.
pub(crate) fn try_tell<M: Message, E: Endpoint<M>>(
    target: &E,
    msg: M,
    headers: Headers,
) -> Result<(), crate::TellError<M>> {
    match target.try_reserve() {
        Ok(slot) => {
            target.push(slot, headers, msg, ReplyTo::none());
            Ok(())
        }
        Err(Reject::Full) => Err(crate::TellError::Full(msg)),
        Err(Reject::Closed) => Err(crate::TellError::Closed(msg)),
    }
}
