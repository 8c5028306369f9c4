//! What a supervised child is: how to make it, when to restart it, how long to wait.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::actor::Actor;
use crate::mailbox::Mailbox;
use crate::system::SpawnOptions;

/// When a supervised child is restarted.
///
/// A stop asked for from outside (through its [`ActorRef`](crate::ActorRef), its parent
/// stopping, or the system shutting down) and a kill are final whatever the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Restart {
    /// Restarted after a failure, and after it stopped itself ([`Context::stop`]): a service
    /// that should always run.
    ///
    /// [`Context::stop`]: crate::Context::stop
    #[default]
    Permanent,
    /// Restarted after a failure only (a panic, a failed start, an escalation); stopping
    /// itself ends it.
    Transient,
    /// Never restarted.
    Temporary,
}

/// How long a child waits before it restarts: exponential, with jitter, reset after it has
/// run healthily for a while.
///
/// The n-th restart in a row waits `min × 2^n`, capped at `max`, then scaled by a random
/// factor in `[0.5, 1]` (so that children that failed together do not restart together).
/// After the child ran for `reset_after` without failing, the count starts over. Time and
/// randomness come from the system (the runtime seam), so a simulated clock drives it.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::Backoff;
///
/// let b = Backoff::new(Duration::from_millis(10), Duration::from_secs(1)).without_jitter();
/// assert_eq!(b.delay(0, 0), Duration::from_millis(10));
/// assert_eq!(b.delay(3, 0), Duration::from_millis(80));
/// assert_eq!(b.delay(20, 0), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    reset_after: Duration,
    jitter: bool,
}

impl Backoff {
    /// From 10 ms up to 5 s, reset after 30 s of health, with jitter.
    pub const DEFAULT: Backoff = Backoff {
        min: Duration::from_millis(10),
        max: Duration::from_secs(5),
        reset_after: Duration::from_secs(30),
        jitter: true,
    };

    /// No wait at all (Erlang's behaviour).
    pub const NONE: Backoff = Backoff {
        min: Duration::ZERO,
        max: Duration::ZERO,
        reset_after: Duration::ZERO,
        jitter: false,
    };

    /// Waits from `min` up to `max`.
    #[must_use]
    pub const fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            ..Backoff::DEFAULT
        }
    }

    /// Starts the count over once the child ran this long without failing.
    #[must_use]
    pub const fn reset_after(mut self, healthy: Duration) -> Backoff {
        self.reset_after = healthy;
        self
    }

    /// Waits exactly the exponential delay.
    #[must_use]
    pub const fn without_jitter(mut self) -> Backoff {
        self.jitter = false;
        self
    }

    /// How long the child that restarted `attempt` times in a row waits; `random` is a
    /// random number (used for the jitter).
    #[must_use]
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let exp = self
            .min
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        if !self.jitter || exp.is_zero() {
            return exp;
        }
        // A factor in [0.5, 1): half the wait is fixed, half is random.
        let half = exp / 2;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let extra = if spread == 0 { 0 } else { random % spread };
        half + Duration::from_nanos(extra)
    }

    /// How long the child must run without failing for the count to start over.
    #[must_use]
    pub const fn healthy_after(&self) -> Duration {
        self.reset_after
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

/// A supervised child: how to make a fresh instance, when to restart it, how long to wait.
///
/// A restart builds a fresh instance with the factory and runs its `on_start` again; the
/// mailbox and every address stay the same, so messages queued meanwhile are handled by the
/// new instance, in order.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::{Actor, Backoff, ChildSpec, DynMessage, Restart, System};
///
/// #[derive(Default)]
/// struct Payments;
/// impl Actor for Payments { type Msg = DynMessage<Self>; }
///
/// let system = System::new();
/// let payments = system
///     .spawn_supervised(
///         ChildSpec::new(Payments::default)
///             .restart(Restart::Transient)
///             .backoff(Backoff::new(Duration::from_millis(50), Duration::from_secs(2)))
///             .name("payments"),
///     )
///     .unwrap();
/// assert_eq!(payments.name(), Some("payments"));
/// # system.shutdown().await;
/// # }
/// ```
pub struct ChildSpec<A> {
    pub(crate) factory: Arc<dyn Fn() -> A + Send + Sync>,
    pub(crate) restart: Restart,
    pub(crate) backoff: Backoff,
    pub(crate) options: SpawnOptions,
}

// By hand: a spec is cloneable whatever the actor type is (the factory is shared).
impl<A> Clone for ChildSpec<A> {
    fn clone(&self) -> Self {
        ChildSpec {
            factory: self.factory.clone(),
            restart: self.restart,
            backoff: self.backoff,
            options: self.options.clone(),
        }
    }
}

impl<A: Actor> ChildSpec<A> {
    /// A permanent child made by `factory`, with the default backoff.
    pub fn new(factory: impl Fn() -> A + Send + Sync + 'static) -> ChildSpec<A> {
        ChildSpec {
            factory: Arc::new(factory),
            restart: Restart::Permanent,
            backoff: Backoff::DEFAULT,
            options: SpawnOptions::new(),
        }
    }

    /// When to restart it.
    #[must_use]
    pub fn restart(mut self, restart: Restart) -> ChildSpec<A> {
        self.restart = restart;
        self
    }

    /// How long to wait before a restart.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> ChildSpec<A> {
        self.backoff = backoff;
        self
    }

    /// Registers the child under `name`. The name stays with it across restarts.
    #[must_use]
    pub fn name(mut self, name: impl Into<Arc<str>>) -> ChildSpec<A> {
        self.options = self.options.name(name);
        self
    }

    /// Uses this mailbox instead of the actor type's.
    #[must_use]
    pub fn mailbox(mut self, mailbox: Mailbox) -> ChildSpec<A> {
        self.options = self.options.mailbox(mailbox);
        self
    }

    /// The spawn options (name, mailbox) all at once.
    #[must_use]
    pub fn options(mut self, options: SpawnOptions) -> ChildSpec<A> {
        self.options = options;
        self
    }
}

impl<A: Actor + Default> Default for ChildSpec<A> {
    fn default() -> Self {
        ChildSpec::new(A::default)
    }
}

impl<A> fmt::Debug for ChildSpec<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("actor", &std::any::type_name::<A>())
            .field("restart", &self.restart)
            .field("backoff", &self.backoff)
            .field("options", &self.options)
            .finish()
    }
}

/// What an actor wants after one of its handlers panicked, from
/// [`Actor::on_panic`](crate::Actor::on_panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PanicDecision {
    /// Keep this instance and go on with the next message.
    Resume,
    /// Let the supervisor restart it (as its restart policy and intensity allow).
    Restart,
    /// Stop for good.
    Stop,
}
