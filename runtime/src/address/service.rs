//! `ActorRef` as a `tower_service::Service`: tower's layers (timeouts, retries, load
//! shedding, concurrency limits) apply to an actor like to any service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{ActorRef, AskError};
use crate::actor::Actor;
use crate::message::{Accepts, Message};

/// An actor that accepts `M` is a [`tower_service::Service<M>`]: `call` asks it, with the
/// system's default ask timeout, and the response is the reply.
///
/// `poll_ready` is always ready: the ask itself waits for mailbox room (within its deadline).
/// Each call boxes its future, as tower's object-safe layers expect a nameable one; the
/// actor's own [`ask`](ActorRef::ask) is the allocation-free path.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::future::poll_fn;
/// use tower_service::Service;
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
///
/// struct Doubler;
/// impl Actor for Doubler { type Msg = DynMessage<Self>; }
/// struct Double(u32);
/// impl Message for Double { type Reply = u32; }
/// impl Handler<Double> for Doubler {
///     async fn handle(&mut self, Double(n): Double, _: &mut Context<Self>) -> u32 { n * 2 }
/// }
///
/// let system = System::new();
/// let mut doubler = system.spawn(Doubler).unwrap();
/// poll_fn(|cx| Service::<Double>::poll_ready(&mut doubler, cx)).await.unwrap();
/// assert_eq!(doubler.call(Double(21)).await.unwrap(), 42);
/// # system.shutdown().await;
/// # }
/// ```
impl<A, M> tower_service::Service<M> for ActorRef<A>
where
    A: Actor,
    M: Message,
    A::Msg: Accepts<M>,
{
    type Response = M::Reply;
    type Error = AskError<M>;
    type Future = Pin<Box<dyn Future<Output = Result<M::Reply, AskError<M>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, msg: M) -> Self::Future {
        let target = self.clone();
        Box::pin(async move { target.ask(msg).await })
    }
}
