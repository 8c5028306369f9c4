//! What a simulation records: one fixed-size event per spawn, poll, completion and timer, with
//! its virtual time.

use std::fmt;
use std::fmt::Write as _;

use crate::system::Instant;

/// What happened in one [`TraceEvent`].
///
/// ```
/// use snowglobe_runtime::sim::TraceKind;
///
/// assert_eq!(TraceKind::Poll.as_str(), "poll");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceKind {
    /// A task was spawned; the event's `id` is the new task's, `parent` the spawning task's
    /// (0 outside any task).
    Spawn,
    /// A task was polled.
    Poll,
    /// A task's future finished.
    Complete,
    /// A task was aborted before it finished.
    Abort,
    /// A task panicked; the simulation dropped it, as tokio does.
    Panic,
    /// Virtual time reached a timer and woke it; `id` is the timer's number.
    TimerFire,
}

impl TraceKind {
    /// The name used in [`Trace::to_json_lines`].
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TraceKind::Spawn => "spawn",
            TraceKind::Poll => "poll",
            TraceKind::Complete => "complete",
            TraceKind::Abort => "abort",
            TraceKind::Panic => "panic",
            TraceKind::TimerFire => "timer",
        }
    }
}

/// One recorded event. Fixed-size and `Copy`, so that recording one is a push onto a `Vec`.
///
/// ```
/// use snowglobe_runtime::sim::Simulation;
///
/// let mut sim = Simulation::with_seed(1);
/// sim.run(|_system| async {}).unwrap();
/// let first = sim.trace().events()[0];
/// println!("{first}"); // t+0ns poll task 0
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceEvent {
    /// The virtual time.
    pub at: Instant,
    /// What happened.
    pub kind: TraceKind,
    /// The task (or, for [`TraceKind::TimerFire`], the timer). Task 0 is the run's own future.
    pub id: u64,
    /// For [`TraceKind::Spawn`], the task that spawned it; otherwise 0.
    pub parent: u64,
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TraceKind::TimerFire => write!(f, "{} timer {}", self.at, self.id),
            TraceKind::Spawn => write!(
                f,
                "{} spawn task {} from task {}",
                self.at, self.id, self.parent
            ),
            kind => write!(f, "{} {} task {}", self.at, kind.as_str(), self.id),
        }
    }
}

/// Everything one simulation run did, in order.
///
/// Two runs with the same seed on the same code record the same trace, byte for byte; the
/// first place two traces differ ([`Trace::first_divergence`]) is where determinism broke.
///
/// ```
/// use snowglobe_runtime::sim::Simulation;
///
/// let run = |seed| {
///     let mut sim = Simulation::with_seed(seed);
///     sim.run(|system| async move { system.sleep(std::time::Duration::from_secs(1)).await })
///         .unwrap();
///     sim.trace().clone()
/// };
/// let (a, b) = (run(3), run(3));
/// assert_eq!(a.to_json_lines(), b.to_json_lines());
/// assert!(a.first_divergence(&b).is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    events: Vec<TraceEvent>,
}

impl Trace {
    pub(crate) fn push(&mut self, event: TraceEvent) {
        self.events.push(event);
    }

    /// The events, oldest first.
    ///
    /// ```
    /// use snowglobe_runtime::sim::{Simulation, TraceKind};
    ///
    /// let mut sim = Simulation::with_seed(1);
    /// sim.run(|system| async move { system.sleep(std::time::Duration::from_secs(5)).await })
    ///     .unwrap();
    /// let timers = sim.trace().events().iter().filter(|e| e.kind == TraceKind::TimerFire);
    /// assert_eq!(timers.last().unwrap().at.as_nanos(), 5_000_000_000);
    /// ```
    #[must_use]
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// How many events were recorded.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Trace;
    ///
    /// assert_eq!(Trace::default().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing was recorded.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Trace;
    ///
    /// assert!(Trace::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// One JSON object per line:
    /// `{"seq":0,"at_ns":0,"kind":"spawn","id":1,"parent":0}`.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(1);
    /// sim.run(|_system| async {}).unwrap();
    /// let json = sim.trace().to_json_lines();
    /// assert!(json.starts_with(r#"{"seq":0,"at_ns":0,"kind":"poll","id":0,"parent":0}"#));
    /// ```
    #[must_use]
    pub fn to_json_lines(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 64);
        for (seq, e) in self.events.iter().enumerate() {
            // Writing into a `String` cannot fail.
            let _ = writeln!(
                out,
                r#"{{"seq":{seq},"at_ns":{},"kind":"{}","id":{},"parent":{}}}"#,
                e.at.as_nanos(),
                e.kind.as_str(),
                e.id,
                e.parent
            );
        }
        out
    }

    /// The first event where `self` and `other` differ, or `None` when they are equal.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(9);
    /// sim.run(|_system| async {}).unwrap();
    /// let short = sim.trace().clone();
    /// sim.run(|system| async move { system.sleep(std::time::Duration::from_secs(1)).await })
    ///     .unwrap();
    /// let divergence = short.first_divergence(sim.trace()).unwrap();
    /// assert_eq!(divergence.index, 1);
    /// ```
    #[must_use]
    pub fn first_divergence(&self, other: &Trace) -> Option<Divergence> {
        let index = self
            .events
            .iter()
            .zip(&other.events)
            .position(|(a, b)| a != b)
            .or_else(|| {
                (self.events.len() != other.events.len())
                    .then(|| self.events.len().min(other.events.len()))
            })?;
        Some(Divergence {
            index,
            first: self.events.get(index).copied(),
            second: other.events.get(index).copied(),
        })
    }
}

/// Where two traces part: the index of the first differing event and each side's event there
/// (`None` where that trace had already ended).
///
/// ```
/// use snowglobe_runtime::sim::Trace;
///
/// assert!(Trace::default().first_divergence(&Trace::default()).is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The position of the first differing event.
    pub index: usize,
    /// The first trace's event there.
    pub first: Option<TraceEvent>,
    /// The second trace's event there.
    pub second: Option<TraceEvent>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side =
            |e: Option<TraceEvent>| e.map_or_else(|| "end of trace".to_owned(), |e| e.to_string());
        write!(
            f,
            "event {}: `{}` in the first run, `{}` in the second",
            self.index,
            side(self.first),
            side(self.second)
        )
    }
}
