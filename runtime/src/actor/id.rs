//! Actor identity.

use std::fmt;
use std::num::NonZeroU64;

/// The identity of one actor within its [`System`](crate::System).
///
/// Ids are handed out in spawn order and never reused while the system runs, so a smaller id
/// means an earlier spawn. An id is eight bytes and `Option<ActorId>` is too.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{ActorId, System};
/// # use snowglobe_runtime::{Actor, DynMessage};
/// # struct Idle;
/// # impl Actor for Idle { type Msg = DynMessage<Self>; }
///
/// let system = System::new();
/// let a = system.spawn(Idle).unwrap();
/// let b = system.spawn(Idle).unwrap();
/// assert!(a.id() < b.id());
/// assert_eq!(format!("{}", a.id()), format!("#{}", a.id().get()));
/// # system.shutdown().await;
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(NonZeroU64);

impl ActorId {
    /// The id with the given number, or `None` for zero.
    #[must_use]
    pub const fn new(n: u64) -> Option<ActorId> {
        match NonZeroU64::new(n) {
            Some(n) => Some(ActorId(n)),
            None => None,
        }
    }

    /// The id for a counter that starts at 1 (zero maps to 1).
    pub(crate) const fn from_counter(n: u64) -> ActorId {
        ActorId(NonZeroU64::MIN.saturating_add(n.saturating_sub(1)))
    }

    /// The id as a number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorId(#{})", self.0)
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
