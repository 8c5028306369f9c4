//! What an address does for the send futures, whatever kind of address it is.

use std::task::{Context, Poll};

use crate::actor::Core;
use crate::mailbox::{Reject, Slot};
use crate::message::{Headers, Message, ReplyTo};
use crate::sim::Crossing;
use crate::system::{Claim, Claimed, Shared};

pub(crate) mod sealed {
    use super::*;

    /// The operations behind [`Endpoint`](super::Endpoint). Sealed: only the runtime's own
    /// address types implement it, so the mailbox protocol stays private.
    // Public in name only, so that `Endpoint` may extend it; the runtime's private types in
    // its signatures are the point of sealing it.
    #[allow(unreachable_pub, private_interfaces)]
    pub trait Sealed<M: Message>: Clone + Send + Sync + 'static {
        /// Reserves a mailbox slot now, or says why not.
        fn try_reserve(&self) -> Result<Slot<'_>, Reject>;
        /// Reserves a mailbox slot, waiting for room.
        fn poll_reserve(&self, cx: &mut Context<'_>) -> Poll<Result<Slot<'_>, Reject>>;
        /// Puts the message into the reserved slot; returns whether the mailbox is unbounded
        /// with a backlog a sender should help with (see `Queue::push`).
        fn push(&self, slot: Slot<'_>, headers: Headers, msg: M, reply: ReplyTo<M::Reply>) -> bool;
        /// Calls `claim` with the waker the actor's mailbox keeps of its receiver (see
        /// `Scheduler::help`).
        fn claim_receiver(&self, claim: &Claim<'_>) -> Option<Claimed>;
        /// The system the addressed actor lives in (clock, default timeouts).
        fn system(&self) -> &Shared;
        /// The addressed actor's cell.
        fn core(&self) -> &Core;
        /// The simulated node the actor lives on (0 outside a simulation).
        fn node(&self) -> u32;
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
    if target.node() != 0 {
        return try_tell_simulated(target, msg, headers);
    }
    try_tell_local(target, msg, headers)
}

/// Under simulation: to the network between nodes, else into the mailbox. Out of line, so
/// that the send path keeps only the node check.
#[cold]
#[inline(never)]
fn try_tell_simulated<M: Message, E: Endpoint<M>>(
    target: &E,
    msg: M,
    headers: Headers,
) -> Result<(), crate::TellError<M>> {
    if let Some(crossing) = crossing::<M, E>(target, &headers) {
        crate::sim::send_remote(crossing, target, headers, msg, ReplyTo::none());
        return Ok(());
    }
    try_tell_local(target, msg, headers)
}

#[inline(always)]
fn try_tell_local<M: Message, E: Endpoint<M>>(
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

/// Under simulation, records a send and says whether it crosses the network to another node;
/// outside one, a load and a branch.
#[inline(always)]
pub(crate) fn crossing<M: Message, E: Endpoint<M>>(
    target: &E,
    headers: &Headers,
) -> Option<Crossing> {
    match target.node() {
        0 => None,
        node => crate::sim::route_send(node, target.core(), headers, std::any::type_name::<M>()),
    }
}
