//! Boxed mailbox items for actors written without `#[messages]`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::{Accepts, Dispatch, Handler, Message, ReplyTo};
use crate::actor::{Actor, Context};

type BoxFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A mailbox item holding any message its actor has a [`Handler`] for, boxed.
///
/// Set `type Msg = DynMessage<Self>` and every `impl Handler<M>` of the actor is reachable,
/// without writing a message enum. The price is two heap allocations per message (the message
/// and its handler's future); `#[messages]` generates an enum that needs neither.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
///
/// struct Greeter;
/// impl Actor for Greeter {
///     type Msg = DynMessage<Self>;
/// }
///
/// struct Hello(String);
/// impl Message for Hello {
///     type Reply = String;
/// }
/// impl Handler<Hello> for Greeter {
///     async fn handle(&mut self, Hello(name): Hello, _: &mut Context<Self>) -> String {
///         format!("hello, {name}")
///     }
/// }
///
/// let system = System::new();
/// let greeter = system.spawn(Greeter).unwrap();
/// assert_eq!(greeter.ask(Hello("ada".into())).await.unwrap(), "hello, ada");
/// # system.shutdown().await;
/// # }
/// ```
pub struct DynMessage<A: Actor> {
    inner: Box<dyn Erased<A>>,
}

trait Erased<A: Actor>: Send {
    fn dispatch<'a>(self: Box<Self>, actor: &'a mut A, ctx: &'a mut Context<A>) -> BoxFuture<'a>;
    fn message_type(&self) -> &'static str;
}

struct Typed<M: Message> {
    msg: M,
    reply: ReplyTo<M::Reply>,
}

impl<A, M> Erased<A> for Typed<M>
where
    A: Handler<M>,
    M: Message,
{
    fn dispatch<'a>(self: Box<Self>, actor: &'a mut A, ctx: &'a mut Context<A>) -> BoxFuture<'a> {
        let Typed { msg, reply } = *self;
        Box::pin(async move { reply.send(actor.handle(msg, ctx).await) })
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<M>()
    }
}

impl<A, M> Accepts<M> for DynMessage<A>
where
    A: Handler<M>,
    M: Message,
{
    fn from_message(msg: M, reply: ReplyTo<M::Reply>) -> Self {
        DynMessage {
            inner: Box::new(Typed { msg, reply }),
        }
    }
}

impl<A: Actor> Dispatch<A> for DynMessage<A> {
    fn dispatch<'a>(
        self,
        actor: &'a mut A,
        ctx: &'a mut Context<A>,
    ) -> impl Future<Output = ()> + Send + 'a {
        self.inner.dispatch(actor, ctx)
    }

    fn message_type(&self) -> &'static str {
        self.inner.message_type()
    }
}

impl<A: Actor> fmt::Debug for DynMessage<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DynMessage")
            .field(&self.inner.message_type())
            .finish()
    }
}
