//! The event a breaker publishes on the system's bus at each change of state.

use std::fmt;
use std::sync::Arc;

use super::state::BreakerState;
use crate::Instant;
use crate::message::Message;

/// A breaker changed state. Published on its system's bus
/// ([`System::events`](crate::System::events)) at every transition, automatic or manual:
/// subscribe to the topic `events().topic::<BreakerTransition>()` to watch every breaker of
/// the system.
///
/// Published without waiting ([`Topic::try_publish`](crate::Topic::try_publish)), while the
/// breaker's lock is held so that subscribers see one breaker's transitions in order; a
/// subscription filter on this topic must therefore not call into the breaker.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, System};
/// use snowglobe_runtime::resilience::{
///     BreakerState, BreakerTransition, CircuitBreaker, CircuitBreakerConfig,
/// };
///
/// #[derive(Default)]
/// struct Watcher { seen: Vec<String> }
/// impl Actor for Watcher { type Msg = DynMessage<Self>; }
/// impl Handler<BreakerTransition> for Watcher {
///     async fn handle(&mut self, event: BreakerTransition, _: &mut Context<Self>) {
///         self.seen.push(format!("{} {} -> {}", event.breaker, event.from, event.to));
///     }
/// }
/// struct Seen;
/// impl Message for Seen { type Reply = Vec<String>; }
/// impl Handler<Seen> for Watcher {
///     async fn handle(&mut self, _: Seen, _: &mut Context<Self>) -> Vec<String> { self.seen.clone() }
/// }
///
/// let system = System::new();
/// let watcher = system.spawn(Watcher::default()).unwrap();
/// system.events().subscribe::<BreakerTransition>(watcher.recipient()).unwrap();
///
/// let breaker = CircuitBreaker::new(&system, CircuitBreakerConfig::new("payments")).unwrap();
/// breaker.transition_to_forced_open();
/// breaker.transition_to_closed();
/// assert_eq!(watcher.ask(Seen).await.unwrap(), [
///     "payments closed -> forced open",
///     "payments forced open -> closed",
/// ]);
/// # system.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BreakerTransition {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
    /// When, on the system's clock. A transition that time alone causes (open to half-open,
    /// a half-open breaker waiting too long) happens on the first look at the breaker after
    /// it is due, and carries that instant.
    pub at: Instant,
}

impl Message for BreakerTransition {
    type Reply = ();
}

impl fmt::Display for BreakerTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuit breaker `{}`: {} -> {} at {}",
            self.breaker, self.from, self.to, self.at
        )
    }
}
