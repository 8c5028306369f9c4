//! What a simulation records: one fixed-size event per spawn, poll, completion and timer, with
//! its virtual time.

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::system::Instant;

/// What happened in one [`TraceEvent`].
///
/// ```
/// use snowglobe_runtime::sim::TraceKind;
///
/// assert_eq!(TraceKind::Poll.as_str(), "poll");
/// assert_eq!(TraceKind::Drop.as_str(), "drop");
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
    /// A message was sent: `id` is its message id, `parent` the receiving actor, `from` and
    /// `to` the nodes, `label` its type. Within a node the message is in the mailbox at once;
    /// between nodes it is now on the network.
    Send,
    /// A message crossed the network and reached the receiver's mailbox.
    Deliver,
    /// The network lost a message; `note` says why.
    Drop,
    /// The network delivers a second copy of a message.
    Duplicate,
    /// A node crashed (`from` and `to` are the node): its actors' state and mailboxes are gone.
    Crash,
    /// A crashed node started again; its root actors were rebuilt from their factories.
    Restart,
    /// A node stopped running: its tasks wait, messages queue in its mailboxes.
    Pause,
    /// A paused node runs again.
    Resume,
    /// The link `from` → `to` was cut.
    Partition,
    /// The link `from` → `to` carries messages again.
    Heal,
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
            TraceKind::Send => "send",
            TraceKind::Deliver => "deliver",
            TraceKind::Drop => "drop",
            TraceKind::Duplicate => "duplicate",
            TraceKind::Crash => "crash",
            TraceKind::Restart => "restart",
            TraceKind::Pause => "pause",
            TraceKind::Resume => "resume",
            TraceKind::Partition => "partition",
            TraceKind::Heal => "heal",
        }
    }

    /// The kind named `name` by [`TraceKind::as_str`].
    ///
    /// ```
    /// use snowglobe_runtime::sim::TraceKind;
    ///
    /// assert_eq!(TraceKind::from_name("deliver"), Some(TraceKind::Deliver));
    /// assert_eq!(TraceKind::from_name("teleport"), None);
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<TraceKind> {
        ALL_KINDS.iter().copied().find(|k| k.as_str() == name)
    }

    /// Whether the event is about a message (send, deliver, drop, duplicate).
    #[must_use]
    pub const fn is_message(self) -> bool {
        matches!(
            self,
            TraceKind::Send | TraceKind::Deliver | TraceKind::Drop | TraceKind::Duplicate
        )
    }
}

const ALL_KINDS: [TraceKind; 16] = [
    TraceKind::Spawn,
    TraceKind::Poll,
    TraceKind::Complete,
    TraceKind::Abort,
    TraceKind::Panic,
    TraceKind::TimerFire,
    TraceKind::Send,
    TraceKind::Deliver,
    TraceKind::Drop,
    TraceKind::Duplicate,
    TraceKind::Crash,
    TraceKind::Restart,
    TraceKind::Pause,
    TraceKind::Resume,
    TraceKind::Partition,
    TraceKind::Heal,
];

/// Why the network dropped a message.
///
/// ```
/// use snowglobe_runtime::sim::Note;
///
/// assert_eq!(Note::Partitioned.as_str(), "partitioned");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Note {
    /// Nothing more to say.
    #[default]
    None,
    /// The link lost it (its loss rate).
    Lost,
    /// A partition cut the link.
    Partitioned,
    /// The sending or the receiving node was down (crashed) or restarted meanwhile.
    NodeDown,
    /// The receiving actor had stopped: its mailbox was closed.
    Closed,
}

impl Note {
    /// The name used in [`Trace::to_json_lines`] (empty for [`Note::None`]).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Note::None => "",
            Note::Lost => "lost",
            Note::Partitioned => "partitioned",
            Note::NodeDown => "node down",
            Note::Closed => "closed",
        }
    }

    /// The note named `name` by [`Note::as_str`].
    ///
    /// ```
    /// use snowglobe_runtime::sim::Note;
    ///
    /// assert_eq!(Note::from_name("lost"), Some(Note::Lost));
    /// assert_eq!(Note::from_name(""), Some(Note::None));
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Note> {
        [
            Note::None,
            Note::Lost,
            Note::Partitioned,
            Note::NodeDown,
            Note::Closed,
        ]
        .into_iter()
        .find(|n| n.as_str() == name)
    }
}

/// One recorded event. `Copy`, so that recording one is a push onto a `Vec`.
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
    /// The task, the timer (for [`TraceKind::TimerFire`]) or the message id (for message
    /// events). Task 0 is the run's own future.
    pub id: u64,
    /// For [`TraceKind::Spawn`], the task that spawned it; for message events, the actor the
    /// message is for (for a reply, the actor that answered); otherwise 0.
    pub parent: u64,
    /// The node it happened on, or the sending node of a message (see
    /// [`Trace::node_name`]); 0 for events that belong to no node.
    pub from: u32,
    /// The receiving node of a message or a link; otherwise the same as `from`.
    pub to: u32,
    /// For message events, the message's type; otherwise empty.
    pub label: &'static str,
    /// For a message event, whether the message is the reply to the ask with this id,
    /// travelling back between nodes.
    pub reply: bool,
    /// For [`TraceKind::Drop`], why.
    pub note: Note,
}

impl TraceEvent {
    /// An event of a task or a timer, on no node in particular.
    pub(crate) fn task(at: Instant, kind: TraceKind, id: u64, parent: u64) -> TraceEvent {
        TraceEvent {
            at,
            kind,
            id,
            parent,
            from: 0,
            to: 0,
            label: "",
            reply: false,
            note: Note::None,
        }
    }
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
            kind if kind.is_message() => {
                write!(
                    f,
                    "{} {} {}{} #{} node {} -> node {} (actor {})",
                    self.at,
                    kind.as_str(),
                    if self.reply { "reply to " } else { "" },
                    self.label,
                    self.id,
                    self.from,
                    self.to,
                    self.parent
                )?;
                if self.note != Note::None {
                    write!(f, " [{}]", self.note.as_str())?;
                }
                Ok(())
            }
            TraceKind::Partition | TraceKind::Heal => write!(
                f,
                "{} {} node {} -> node {}",
                self.at,
                self.kind.as_str(),
                self.from,
                self.to
            ),
            TraceKind::Crash | TraceKind::Restart | TraceKind::Pause | TraceKind::Resume => {
                write!(f, "{} {} node {}", self.at, self.kind.as_str(), self.from)
            }
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
    seed: u64,
    /// Node names by node number; node 0 is "no node".
    nodes: Vec<Arc<str>>,
    events: Vec<TraceEvent>,
}

impl Trace {
    pub(crate) fn new(seed: u64) -> Trace {
        Trace {
            seed,
            nodes: vec![Arc::from("-")],
            events: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, event: TraceEvent) {
        self.events.push(event);
    }

    pub(crate) fn add_node(&mut self, name: Arc<str>) {
        self.nodes.push(name);
    }

    /// The seed of the run that recorded it.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(31);
    /// sim.run(|_system| async {}).unwrap();
    /// assert_eq!(sim.trace().seed(), 31);
    /// ```
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The name of node `node` (as in [`TraceEvent::from`]), if the run had it. Node 1 is the
    /// scenario's own system, `main`.
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(1);
    /// sim.run(|_system| async {}).unwrap();
    /// assert_eq!(sim.trace().node_name(1), Some("main"));
    /// assert_eq!(sim.trace().node_name(9), None);
    /// ```
    #[must_use]
    pub fn node_name(&self, node: u32) -> Option<&str> {
        self.nodes.get(node as usize).map(|n| &**n)
    }

    /// The node names, by node number (0 stands for no node).
    #[must_use]
    pub fn node_names(&self) -> &[Arc<str>] {
        &self.nodes
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

    /// One JSON object per line: first the run's seed and node names, then one line per
    /// event.
    ///
    /// ```text
    /// {"seed":42,"nodes":["-","main","orders","payments"]}
    /// {"seq":0,"at_ns":0,"kind":"poll","id":0,"parent":0,"from":0,"to":0,"label":"","reply":false,"note":""}
    /// {"seq":9,"at_ns":3000000,"kind":"deliver","id":17,"parent":4,"from":2,"to":3,"label":"shop::Charge","reply":false,"note":""}
    /// ```
    ///
    /// ```
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(1);
    /// sim.run(|_system| async {}).unwrap();
    /// let json = sim.trace().to_json_lines();
    /// let mut lines = json.lines();
    /// assert_eq!(lines.next(), Some(r#"{"seed":1,"nodes":["-","main"]}"#));
    /// assert!(lines.next().unwrap().starts_with(r#"{"seq":0,"at_ns":0,"kind":"poll","id":0,"#));
    /// ```
    #[must_use]
    pub fn to_json_lines(&self) -> String {
        let mut out = String::with_capacity(64 + self.events.len() * 128);
        let _ = write!(out, r#"{{"seed":{},"nodes":["#, self.seed);
        for (i, name) in self.nodes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json_str(&mut out, name);
        }
        out.push_str("]}\n");
        for (seq, e) in self.events.iter().enumerate() {
            // Writing into a `String` cannot fail.
            let _ = write!(
                out,
                r#"{{"seq":{seq},"at_ns":{},"kind":"{}","id":{},"parent":{},"from":{},"to":{},"label":"#,
                e.at.as_nanos(),
                e.kind.as_str(),
                e.id,
                e.parent,
                e.from,
                e.to,
            );
            write_json_str(&mut out, e.label);
            let _ = writeln!(
                out,
                r#","reply":{},"note":"{}"}}"#,
                e.reply,
                e.note.as_str()
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

    /// The messages between nodes and what befell the nodes from `from` to `until` (both
    /// included), as a Mermaid `sequenceDiagram`.
    ///
    /// A failing run is a conversation between services; reading it as hundreds of events is
    /// slow, seeing it as arrows between lifelines is not. Paste the text into a Markdown
    /// file, an issue or <https://mermaid.live>. The window keeps the picture to the moments
    /// that matter, say the second before an invariant broke.
    ///
    /// Each node that takes part in the window is a participant, in node-number order. A
    /// delivered message is a solid arrow, a delivered reply a dotted one, a lost message or
    /// reply an arrow ending in a cross with the reason, a duplicated one a note over both
    /// nodes. Crashes, restarts, pauses and resumes are notes over their node, partitions and
    /// heals notes over the two ends of the link. Every label starts with its virtual time,
    /// and names a message by its type without the module path and by its message id.
    ///
    /// Left out: the tasks' events, messages within one node (they never touch the network)
    /// and sends between nodes (the delivery or the drop says where each one went). For those,
    /// read [`Trace::events`].
    ///
    /// A run where `orders` charges `payments`, which then crashes, draws as below. Mermaid
    /// ends a label at `#` and `;` and drops what looks like HTML, so those characters and
    /// `<`, `>`, `&`, `%` are written as Mermaid entity codes (`#35;` shows as `#`).
    ///
    /// ```text
    /// sequenceDiagram
    ///     participant n2 as orders
    ///     participant n3 as payments
    ///     n2->>n3: t=0.003s Charge #35;17
    ///     n3-->>n2: t=0.005s reply to Charge #35;17
    ///     Note over n3: t=0.010s crash
    ///     n2-xn3: t=0.013s Charge #35;18 (node down)
    /// ```
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::Instant;
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let mut sim = Simulation::with_seed(1);
    /// sim.run(|system| async move { system.sleep(Duration::from_secs(1)).await }).unwrap();
    /// let whole_run = sim.trace().to_mermaid(Instant::ZERO, Instant::from_nanos(u64::MAX));
    /// // One node and no network: a diagram without participants.
    /// assert!(whole_run.starts_with("sequenceDiagram"));
    /// ```
    #[must_use]
    pub fn to_mermaid(&self, from: Instant, until: Instant) -> String {
        let mut body = String::new();
        let mut present = BTreeSet::new();
        for e in self
            .events
            .iter()
            .filter(|e| (from..=until).contains(&e.at))
        {
            let at = Seconds(e.at);
            let (a, b) = (e.from, e.to);
            // Writing into a `String` cannot fail.
            let _ = match e.kind {
                TraceKind::Deliver | TraceKind::Drop | TraceKind::Duplicate if a != b => {
                    present.extend([a, b]);
                    let message = MessageName(e);
                    match e.kind {
                        TraceKind::Deliver => {
                            let arrow = if e.reply { "-->>" } else { "->>" };
                            writeln!(body, "    n{a}{arrow}n{b}: t={at} {message}")
                        }
                        TraceKind::Drop => {
                            let arrow = if e.reply { "--x" } else { "-x" };
                            let why = match e.note {
                                Note::None => "dropped",
                                note => note.as_str(),
                            };
                            writeln!(body, "    n{a}{arrow}n{b}: t={at} {message} ({why})")
                        }
                        _ => writeln!(body, "    Note over n{a},n{b}: t={at} {message} duplicated"),
                    }
                }
                TraceKind::Crash | TraceKind::Restart | TraceKind::Pause | TraceKind::Resume => {
                    present.insert(a);
                    writeln!(body, "    Note over n{a}: t={at} {}", e.kind.as_str())
                }
                TraceKind::Partition | TraceKind::Heal => {
                    present.extend([a, b]);
                    writeln!(
                        body,
                        "    Note over n{a},n{b}: t={at} {} {} → {}",
                        e.kind.as_str(),
                        Mermaid(&self.mermaid_node(a)),
                        Mermaid(&self.mermaid_node(b)),
                    )
                }
                _ => Ok(()),
            };
        }
        let mut out = String::with_capacity(body.len() + 16 + present.len() * 32);
        out.push_str("sequenceDiagram\n");
        for node in present {
            let _ = writeln!(
                out,
                "    participant n{node} as {}",
                Mermaid(&self.mermaid_node(node))
            );
        }
        out.push_str(&body);
        out
    }

    /// Node `node`'s name, or `node 7` for a number the trace has no name for (a trace put
    /// together by hand or edited) or an empty name, which would leave a blank lifeline.
    fn mermaid_node(&self, node: u32) -> std::borrow::Cow<'_, str> {
        self.node_name(node)
            .filter(|name| !name.is_empty())
            .map_or_else(|| format!("node {node}").into(), std::borrow::Cow::Borrowed)
    }

    /// Reads back what [`Trace::to_json_lines`] wrote: a trace saved from one run (a CI
    /// artifact, a bug report) can be compared with a new run's
    /// ([`Trace::first_divergence`]) or drawn ([`Trace::to_mermaid`]) without running the
    /// old code again.
    ///
    /// The format is the fixed one `to_json_lines` writes, not JSON at large: the header line,
    /// then one line per event, each with every field in its place and `seq` counting up from
    /// 0, so that a cut or edited file is refused instead of read as another run. Strings may
    /// use any JSON escape, so a trace that went through a JSON tool still reads; lines may
    /// end in `\r\n`, and the last newline may be missing.
    ///
    /// Message types are `&'static str` in an event. Each distinct type name read is kept
    /// once for the rest of the process (a test suite reads the same few names again and
    /// again), so reading endless traces with ever new names grows memory.
    ///
    /// # Errors
    ///
    /// [`TraceParseError`], with the line and column, when the text is not such a trace.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::{Simulation, Trace};
    ///
    /// let mut sim = Simulation::with_seed(4);
    /// sim.run(|system| async move { system.sleep(Duration::from_millis(20)).await }).unwrap();
    /// let saved = sim.trace().to_json_lines();
    /// assert_eq!(Trace::from_json_lines(&saved).as_ref(), Ok(sim.trace()));
    ///
    /// // An edited trace: the first event is no longer a poll.
    /// let edited = saved.replacen(r#""kind":"poll""#, r#""kind":"pole""#, 1);
    /// let error = Trace::from_json_lines(&edited).unwrap_err();
    /// assert_eq!(error.to_string(), r#"trace line 2, column 27: no event kind is called "pole""#);
    /// ```
    pub fn from_json_lines(text: &str) -> Result<Trace, TraceParseError> {
        let mut lines = text.lines().zip(1..);
        let Some((header, _)) = lines.next() else {
            return Err(TraceParseError::new(
                1,
                1,
                "no header line: the text is empty",
            ));
        };
        let (seed, nodes) = Cursor::new(header, 1).header()?;
        let mut events = Vec::new();
        for (line, number) in lines {
            events.push(Cursor::new(line, number).event(events.len())?);
        }
        Ok(Trace {
            seed,
            nodes,
            events,
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

/// Writes `s` as a JSON string, quoted and escaped.
fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Why [`Trace::from_json_lines`] refused a text: where (line and column, both from 1;
/// the header is line 1) and what was wrong there.
///
/// ```
/// use snowglobe_runtime::sim::Trace;
///
/// let error = Trace::from_json_lines(r#"{"seed":1,"nodes":["-"]"#).unwrap_err();
/// assert_eq!((error.line(), error.column()), (1, 24));
/// assert_eq!(error.reason(), "expected `}`, found the end of the line");
/// assert_eq!(error.to_string(), format!("trace line 1, column 24: {}", error.reason()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("trace line {line}, column {column}: {reason}")]
pub struct TraceParseError {
    line: usize,
    column: usize,
    reason: Box<str>,
}

impl TraceParseError {
    fn new(line: usize, column: usize, reason: impl Into<Box<str>>) -> TraceParseError {
        TraceParseError {
            line,
            column,
            reason: reason.into(),
        }
    }

    /// The line, from 1: the header is line 1, event `seq` is on line `seq + 2`.
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column, in characters from 1, where the problem starts.
    #[must_use]
    pub fn column(&self) -> usize {
        self.column
    }

    /// What was wrong, without the place.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Reads one line of [`Trace::to_json_lines`]'s format, left to right, never backing up.
struct Cursor<'a> {
    text: &'a str,
    /// Byte offset of the next character to read; always on a character boundary.
    pos: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str, line: usize) -> Cursor<'a> {
        Cursor { text, pos: 0, line }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn error_at(&self, pos: usize, reason: impl Into<Box<str>>) -> TraceParseError {
        let column = self.text[..pos].chars().count() + 1;
        TraceParseError::new(self.line, column, reason)
    }

    fn error(&self, reason: impl Into<Box<str>>) -> TraceParseError {
        self.error_at(self.pos, reason)
    }

    /// What is at the cursor, for an error message: a few characters or the end of the line.
    fn found(&self) -> String {
        let rest = self.rest();
        if rest.is_empty() {
            return "the end of the line".to_owned();
        }
        let shown: String = rest.chars().take(12).collect();
        let more = if shown.len() < rest.len() { "…" } else { "" };
        format!("`{shown}{more}`")
    }

    /// Steps over `literal` if the text goes on with it.
    fn eat(&mut self, literal: &str) -> bool {
        let found = self.rest().starts_with(literal);
        if found {
            self.pos += literal.len();
        }
        found
    }

    fn expect(&mut self, literal: &str) -> Result<(), TraceParseError> {
        if self.eat(literal) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{literal}`, found {}", self.found())))
        }
    }

    fn end(&self) -> Result<(), TraceParseError> {
        if self.rest().is_empty() {
            Ok(())
        } else {
            Err(self.error(format!(
                "expected the end of the line, found {}",
                self.found()
            )))
        }
    }

    /// A decimal `u64` as `to_json_lines` writes it: digits only, no sign, no leading zero.
    fn number(&mut self) -> Result<u64, TraceParseError> {
        let rest = self.rest();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(self.error(format!("expected a number, found {}", self.found())));
        }
        if digits > 1 && rest.starts_with('0') {
            return Err(self.error("a number with a leading zero"));
        }
        let n = rest[..digits]
            .parse()
            .map_err(|_| self.error("a number too large for 64 bits"))?;
        self.pos += digits;
        Ok(n)
    }

    fn node(&mut self) -> Result<u32, TraceParseError> {
        let start = self.pos;
        let n = self.number()?;
        u32::try_from(n).map_err(|_| self.error_at(start, format!("node number {n} is too large")))
    }

    fn boolean(&mut self) -> Result<bool, TraceParseError> {
        if self.eat("true") {
            Ok(true)
        } else if self.eat("false") {
            Ok(false)
        } else {
            Err(self.error(format!(
                "expected `true` or `false`, found {}",
                self.found()
            )))
        }
    }

    /// A quoted JSON string; borrowed from the line unless it has escapes.
    fn string(&mut self) -> Result<std::borrow::Cow<'a, str>, TraceParseError> {
        let open = self.pos;
        self.expect("\"")?;
        let special = |c: char| c == '"' || c == '\\' || c < ' ';
        let rest = self.rest();
        if let Some(stop) = rest.find(special)
            && rest[stop..].starts_with('"')
        {
            self.pos += stop + 1;
            return Ok(std::borrow::Cow::Borrowed(&rest[..stop]));
        }
        let mut out = String::new();
        loop {
            let rest = self.rest();
            let Some(stop) = rest.find(special) else {
                return Err(self.error_at(open, "a string that does not end"));
            };
            out.push_str(&rest[..stop]);
            self.pos += stop;
            if self.eat("\"") {
                return Ok(out.into());
            }
            if !self.eat("\\") {
                return Err(self.error("a control character in a string, not escaped"));
            }
            out.push(self.escape()?);
        }
    }

    /// The character an escape stands for; the cursor is just past the backslash.
    fn escape(&mut self) -> Result<char, TraceParseError> {
        let backslash = self.pos - 1;
        let Some(c) = self.rest().chars().next() else {
            return Err(self.error_at(backslash, "a `\\` at the end of the line"));
        };
        self.pos += c.len_utf8();
        let plain = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.unicode_escape(backslash),
            other => {
                return Err(self.error_at(backslash, format!("an unknown escape `\\{other}`")));
            }
        };
        Ok(plain)
    }

    /// The rest of a `\uXXXX` escape, or of a pair of them for a character beyond the Basic
    /// Multilingual Plane.
    fn unicode_escape(&mut self, backslash: usize) -> Result<char, TraceParseError> {
        let first = self.hex4(backslash)?;
        let code = if (0xd800..0xdc00).contains(&first) {
            let second = if self.eat("\\u") {
                self.hex4(backslash)?
            } else {
                0
            };
            if !(0xdc00..0xe000).contains(&second) {
                return Err(self.error_at(backslash, "a lone UTF-16 surrogate in `\\u` escapes"));
            }
            0x1_0000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code)
            .ok_or_else(|| self.error_at(backslash, "a lone UTF-16 surrogate in `\\u` escapes"))
    }

    fn hex4(&mut self, backslash: usize) -> Result<u32, TraceParseError> {
        let digits = self
            .rest()
            .get(..4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error_at(backslash, "`\\u` without four hex digits"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16)
            .map_err(|_| self.error_at(backslash, "`\\u` without four hex digits"))
    }

    /// The header line: the seed and the node names.
    fn header(mut self) -> Result<(u64, Vec<Arc<str>>), TraceParseError> {
        self.expect(r#"{"seed":"#)?;
        let seed = self.number()?;
        self.expect(r#","nodes":["#)?;
        let mut nodes = Vec::new();
        if !self.eat("]") {
            loop {
                nodes.push(Arc::from(&*self.string()?));
                if self.eat("]") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.error(format!("expected `,` or `]`, found {}", self.found())));
                }
            }
        }
        self.expect("}")?;
        self.end()?;
        Ok((seed, nodes))
    }

    /// An event line; `seq` is the number it must carry.
    fn event(mut self, seq: usize) -> Result<TraceEvent, TraceParseError> {
        self.expect(r#"{"seq":"#)?;
        let start = self.pos;
        let n = self.number()?;
        if usize::try_from(n) != Ok(seq) {
            return Err(self.error_at(
                start,
                format!("event number {n} where {seq} was due: events count up from 0"),
            ));
        }
        self.expect(r#","at_ns":"#)?;
        let at = Instant::from_nanos(self.number()?);
        self.expect(r#","kind":"#)?;
        let start = self.pos;
        let name = self.string()?;
        let kind = TraceKind::from_name(&name)
            .ok_or_else(|| self.error_at(start, format!("no event kind is called {name:?}")))?;
        self.expect(r#","id":"#)?;
        let id = self.number()?;
        self.expect(r#","parent":"#)?;
        let parent = self.number()?;
        self.expect(r#","from":"#)?;
        let from = self.node()?;
        self.expect(r#","to":"#)?;
        let to = self.node()?;
        self.expect(r#","label":"#)?;
        let label = self.string()?;
        self.expect(r#","reply":"#)?;
        let reply = self.boolean()?;
        self.expect(r#","note":"#)?;
        let start = self.pos;
        let name = self.string()?;
        let note = Note::from_name(&name)
            .ok_or_else(|| self.error_at(start, format!("no drop note is called {name:?}")))?;
        self.expect("}")?;
        self.end()?;
        Ok(TraceEvent {
            at,
            kind,
            id,
            parent,
            from,
            to,
            // Last, once the line is known good: a refused line keeps nothing.
            label: intern(&label),
            reply,
            note,
        })
    }
}

/// `label` as a `&'static str`, the same one for every equal label: each distinct message
/// type name read from a saved trace is leaked once for the process, not once per event.
fn intern(label: &str) -> &'static str {
    static LABELS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    if label.is_empty() {
        return "";
    }
    let mut labels = LABELS.lock();
    if let Some(&known) = labels.get(label) {
        return known;
    }
    let leaked: &'static str = Box::leak(label.into());
    labels.insert(leaked);
    leaked
}

/// An instant as seconds, to the millisecond unless something finer happened:
/// `1.250`, `0.000125`, `0.000000007`.
struct Seconds(Instant);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        let (secs, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
        if frac % 1_000_000 == 0 {
            write!(f, "{secs}.{:03}s", frac / 1_000_000)
        } else if frac % 1_000 == 0 {
            write!(f, "{secs}.{:06}s", frac / 1_000)
        } else {
            write!(f, "{secs}.{frac:09}s")
        }
    }
}

/// A message event's name in a diagram: `Charge #17`, `reply to Charge #17`, escaped.
struct MessageName<'a>(&'a TraceEvent);

impl fmt::Display for MessageName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        if e.reply {
            f.write_str("reply to ")?;
        }
        let name = short_type_name(e.label);
        let name = if name.is_empty() { "message" } else { &name };
        write!(f, "{} {}{}", Mermaid(name), Mermaid("#"), e.id)
    }
}

/// A type name without its module paths, also inside generics:
/// `alloc::vec::Vec<shop::Charge>` is `Vec<Charge>`.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    // Where the path segment being copied starts in `out`.
    let mut segment = 0;
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            if segment < out.len() {
                // `shop::` before `Charge`: drop the module.
                out.truncate(segment);
            } else {
                // `<T as Trait>::Assoc`, `::std::…`: nothing to drop, keep the path.
                out.push_str("::");
                segment = out.len();
            }
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                segment = out.len();
            }
        }
    }
    out
}

/// Text in a Mermaid label. Mermaid's sequence grammar ends a label at `#` and `;`, reads
/// `%%` as a comment and passes labels through an HTML sanitizer that drops `<Charge>` as
/// an unknown tag; its entity codes (`#35;`, `#lt;`) survive all of that and show as the
/// character. Line breaks and other control characters become spaces: a label is one line.
struct Mermaid<'a>(&'a str);

impl fmt::Display for Mermaid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '#' => f.write_str("#35;")?,
                ';' => f.write_str("#59;")?,
                '%' => f.write_str("#37;")?,
                '&' => f.write_str("#amp;")?,
                '<' => f.write_str("#lt;")?,
                '>' => f.write_str("#gt;")?,
                c if c.is_control() => f.write_char(' ')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Note, Trace, TraceEvent, TraceKind, short_type_name};
    use crate::system::Instant;

    const MS: u64 = 1_000_000;

    /// Nodes 1 to 4: `main`, `orders`, `payments`, `ledger`.
    fn shop() -> Trace {
        let mut trace = Trace::new(7);
        for name in ["main", "orders", "payments", "ledger"] {
            trace.add_node(Arc::from(name));
        }
        trace
    }

    /// A `shop::Charge` message event; other messages, replies and drop notes by struct
    /// update.
    fn charge(at_ms: u64, kind: TraceKind, id: u64, from: u32, to: u32) -> TraceEvent {
        TraceEvent {
            at: Instant::from_nanos(at_ms * MS),
            kind,
            id,
            parent: 9,
            from,
            to,
            label: "shop::Charge",
            reply: false,
            note: Note::None,
        }
    }

    fn node_event(at_ms: u64, kind: TraceKind, from: u32, to: u32) -> TraceEvent {
        TraceEvent {
            from,
            to,
            ..TraceEvent::task(Instant::from_nanos(at_ms * MS), kind, 0, 0)
        }
    }

    fn whole(trace: &Trace) -> String {
        trace.to_mermaid(Instant::ZERO, Instant::from_nanos(u64::MAX))
    }

    /// The diagram's lines after `sequenceDiagram`.
    fn diagram(trace: &Trace) -> Vec<String> {
        let text = whole(trace);
        let mut lines = text.lines().map(str::to_owned);
        assert_eq!(lines.next().as_deref(), Some("sequenceDiagram"));
        assert!(text.ends_with('\n'));
        lines.collect()
    }

    #[test]
    fn a_delivery_is_a_solid_arrow_and_its_send_and_the_tasks_are_left_out() {
        let mut trace = shop();
        trace.push(TraceEvent::task(Instant::ZERO, TraceKind::Poll, 0, 0));
        trace.push(charge(1_250, TraceKind::Send, 17, 2, 3));
        trace.push(TraceEvent::task(Instant::ZERO, TraceKind::Spawn, 4, 0));
        trace.push(charge(1_253, TraceKind::Deliver, 17, 2, 3));
        assert_eq!(
            diagram(&trace),
            [
                "    participant n2 as orders",
                "    participant n3 as payments",
                "    n2->>n3: t=1.253s Charge #35;17",
            ]
        );
    }

    #[test]
    fn a_reply_is_a_dotted_arrow_back() {
        let mut trace = shop();
        trace.push(charge(3, TraceKind::Deliver, 17, 2, 3));
        trace.push(TraceEvent {
            reply: true,
            ..charge(5, TraceKind::Deliver, 17, 3, 2)
        });
        assert_eq!(
            diagram(&trace),
            [
                "    participant n2 as orders",
                "    participant n3 as payments",
                "    n2->>n3: t=0.003s Charge #35;17",
                "    n3-->>n2: t=0.005s reply to Charge #35;17",
            ]
        );
    }

    #[test]
    fn a_drop_ends_in_a_cross_with_its_reason() {
        let mut trace = shop();
        trace.push(TraceEvent {
            note: Note::Lost,
            ..charge(13, TraceKind::Drop, 18, 2, 3)
        });
        trace.push(TraceEvent {
            label: "shop::Post",
            reply: true,
            note: Note::NodeDown,
            ..charge(14, TraceKind::Drop, 19, 4, 2)
        });
        trace.push(TraceEvent {
            label: "shop::Post",
            ..charge(15, TraceKind::Drop, 20, 2, 4)
        });
        assert_eq!(
            diagram(&trace),
            [
                "    participant n2 as orders",
                "    participant n3 as payments",
                "    participant n4 as ledger",
                "    n2-xn3: t=0.013s Charge #35;18 (lost)",
                "    n4--xn2: t=0.014s reply to Post #35;19 (node down)",
                "    n2-xn4: t=0.015s Post #35;20 (dropped)",
            ]
        );
    }

    #[test]
    fn a_duplicate_is_a_note_over_both_nodes() {
        let mut trace = shop();
        trace.push(charge(2_000, TraceKind::Duplicate, 17, 3, 2));
        assert_eq!(
            diagram(&trace),
            [
                "    participant n2 as orders",
                "    participant n3 as payments",
                "    Note over n3,n2: t=2.000s Charge #35;17 duplicated",
            ]
        );
    }

    #[test]
    fn crashes_restarts_pauses_and_resumes_are_notes_over_the_node() {
        let mut trace = shop();
        trace.push(node_event(20_000, TraceKind::Crash, 3, 3));
        trace.push(node_event(21_500, TraceKind::Restart, 3, 3));
        trace.push(node_event(22_000, TraceKind::Pause, 2, 2));
        trace.push(node_event(22_001, TraceKind::Resume, 2, 2));
        assert_eq!(
            diagram(&trace),
            [
                "    participant n2 as orders",
                "    participant n3 as payments",
                "    Note over n3: t=20.000s crash",
                "    Note over n3: t=21.500s restart",
                "    Note over n2: t=22.000s pause",
                "    Note over n2: t=22.001s resume",
            ]
        );
    }

    #[test]
    fn a_partition_and_its_heal_name_the_link() {
        let mut trace = shop();
        trace.push(node_event(5_000, TraceKind::Partition, 4, 2));
        trace.push(node_event(9_000, TraceKind::Heal, 4, 2));
        assert_eq!(
            diagram(&trace),
            [
                "    participant n2 as orders",
                "    participant n4 as ledger",
                "    Note over n4,n2: t=5.000s partition ledger → orders",
                "    Note over n4,n2: t=9.000s heal ledger → orders",
            ]
        );
    }

    #[test]
    fn messages_within_a_node_and_sends_are_left_out() {
        let mut trace = shop();
        for kind in [
            TraceKind::Send,
            TraceKind::Deliver,
            TraceKind::Drop,
            TraceKind::Duplicate,
        ] {
            trace.push(charge(1, kind, 1, 2, 2));
        }
        trace.push(charge(2, TraceKind::Send, 2, 2, 3));
        assert_eq!(whole(&trace), "sequenceDiagram\n");
    }

    #[test]
    fn the_window_includes_both_ends_and_only_its_participants() {
        let mut trace = shop();
        trace.push(charge(1_000, TraceKind::Deliver, 1, 4, 2));
        trace.push(charge(2_000, TraceKind::Deliver, 2, 2, 3));
        trace.push(node_event(3_000, TraceKind::Crash, 3, 3));
        trace.push(charge(3_001, TraceKind::Deliver, 3, 3, 4));
        let window = trace.to_mermaid(
            Instant::from_nanos(2_000 * MS),
            Instant::from_nanos(3_000 * MS),
        );
        assert_eq!(
            window,
            "sequenceDiagram\n\
             \x20   participant n2 as orders\n\
             \x20   participant n3 as payments\n\
             \x20   n2->>n3: t=2.000s Charge #35;2\n\
             \x20   Note over n3: t=3.000s crash\n"
        );
        let empty = trace.to_mermaid(Instant::from_nanos(1), Instant::from_nanos(2));
        assert_eq!(empty, "sequenceDiagram\n");
    }

    #[test]
    fn labels_and_names_are_escaped_for_mermaid() {
        let mut trace = Trace::new(1);
        trace.add_node(Arc::from("main"));
        trace.add_node(Arc::from("a;b#c%d"));
        trace.add_node(Arc::from("x\ny"));
        trace.add_node(Arc::from(""));
        trace.push(TraceEvent {
            label: "alloc::vec::Vec<shop::Line<&'static str>>",
            ..charge(1, TraceKind::Deliver, 3, 2, 3)
        });
        // Node 4's name is empty, node 9 has none in the trace.
        trace.push(node_event(2, TraceKind::Partition, 3, 9));
        trace.push(node_event(3, TraceKind::Crash, 4, 4));
        assert_eq!(
            diagram(&trace),
            [
                "    participant n2 as a#59;b#35;c#37;d",
                "    participant n3 as x y",
                "    participant n4 as node 4",
                "    participant n9 as node 9",
                "    n2->>n3: t=0.001s Vec#lt;Line#lt;#amp;'static str#gt;#gt; #35;3",
                "    Note over n3,n9: t=0.002s partition x y → node 9",
                "    Note over n4: t=0.003s crash",
            ]
        );
    }

    #[test]
    fn times_show_as_much_as_they_need() {
        let mut trace = shop();
        for nanos in [0, 1_250_000_000, 125_000, 7, 61_000_000_001] {
            trace.push(TraceEvent {
                at: Instant::from_nanos(nanos),
                ..node_event(0, TraceKind::Pause, 2, 2)
            });
        }
        let times: Vec<String> = diagram(&trace)
            .iter()
            .skip(1)
            .map(|l| l.split(' ').nth(7).unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            times,
            [
                "t=0.000s",
                "t=1.250s",
                "t=0.000125s",
                "t=0.000000007s",
                "t=61.000000001s",
            ]
        );
    }

    #[test]
    fn short_type_names() {
        for (full, short) in [
            ("shop::Charge", "Charge"),
            ("Charge", "Charge"),
            ("alloc::vec::Vec<shop::orders::Line>", "Vec<Line>"),
            (
                "std::collections::HashMap<alloc::string::String, u64>",
                "HashMap<String, u64>",
            ),
            ("(shop::A, [shop::B; 4])", "(A, [B; 4])"),
            ("&'static str", "&'static str"),
            ("<shop::A as shop::Tr>::Out", "<A as Tr>::Out"),
            ("", ""),
        ] {
            assert_eq!(short_type_name(full), short, "{full}");
        }
    }

    /// A trace with every kind and every note, and labels that need escaping.
    fn everything() -> Trace {
        let mut trace = Trace::new(u64::MAX);
        trace.add_node(Arc::from("main"));
        trace.add_node(Arc::from("or\"ders\\ ü €"));
        trace.add_node(Arc::from(""));
        let labels = [
            "shop::Charge",
            r#"shop::Say<"hi" \ there>"#,
            "tab\tnew\nline\u{1}\u{1f}",
            "😀 ünï",
            "",
        ];
        let notes = [
            Note::None,
            Note::Lost,
            Note::Partitioned,
            Note::NodeDown,
            Note::Closed,
        ];
        for (i, kind) in super::ALL_KINDS.into_iter().enumerate() {
            trace.push(TraceEvent {
                at: Instant::from_nanos(u64::try_from(i).unwrap() * 1_000_003),
                kind,
                id: u64::MAX - u64::try_from(i).unwrap(),
                parent: u64::try_from(i).unwrap(),
                from: u32::MAX,
                to: u32::try_from(i).unwrap(),
                label: labels[i % labels.len()],
                reply: i % 2 == 1,
                note: notes[i % notes.len()],
            });
        }
        trace
    }

    #[test]
    fn json_lines_round_trip() {
        let trace = everything();
        let text = trace.to_json_lines();
        assert_eq!(Trace::from_json_lines(&text), Ok(trace.clone()));
        // Without the last newline and with Windows line ends, too.
        assert_eq!(Trace::from_json_lines(text.trim_end()), Ok(trace.clone()));
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(Trace::from_json_lines(&crlf), Ok(trace));
        for empty in [Trace::default(), Trace::new(3)] {
            assert_eq!(Trace::from_json_lines(&empty.to_json_lines()), Ok(empty));
        }
    }

    #[test]
    fn a_simulated_run_round_trips() {
        let mut sim = crate::sim::Simulation::with_seed(11);
        sim.run(|system| async move {
            system.sleep(std::time::Duration::from_millis(3)).await;
        })
        .unwrap();
        let text = sim.trace().to_json_lines();
        assert_eq!(Trace::from_json_lines(&text).as_ref(), Ok(sim.trace()));
    }

    #[test]
    fn labels_read_back_are_shared() {
        let text = everything().to_json_lines();
        let (a, b) = (
            Trace::from_json_lines(&text).unwrap(),
            Trace::from_json_lines(&text).unwrap(),
        );
        let (a, b) = (a.events()[1].label, b.events()[6].label);
        assert_eq!(a, r#"shop::Say<"hi" \ there>"#);
        assert!(std::ptr::eq(a, b));
    }

    #[test]
    fn other_json_escapes_read_too() {
        let text = concat!(
            r#"{"seed":1,"nodes":["\u002d","a\/b\u00fc\ud83d\ude00"]}"#,
            "\n",
            r#"{"seq":0,"at_ns":0,"kind":"\u0073end","id":1,"parent":2,"from":1,"to":1,"#,
            r#""label":"\b\f\n\r\t","reply":true,"note":"node\u0020down"}"#,
        );
        let trace = Trace::from_json_lines(text).unwrap();
        assert_eq!(trace.node_name(0), Some("-"));
        assert_eq!(trace.node_name(1), Some("a/bü😀"));
        let e = trace.events()[0];
        assert_eq!(
            (e.kind, e.label, e.note),
            (TraceKind::Send, "\u{8}\u{c}\n\r\t", Note::NodeDown)
        );
    }

    const HEADER: &str = r#"{"seed":1,"nodes":["-","main"]}"#;
    const EVENT: &str = concat!(
        r#"{"seq":0,"at_ns":5,"kind":"poll","id":0,"parent":0,"from":0,"to":0,"#,
        r#""label":"","reply":false,"note":""}"#,
    );

    #[test]
    fn errors_say_where_and_what() {
        // On the event line, `good` becomes `bad`; the error is `at` characters into `bad`.
        let cases = [
            (
                r#""poll""#,
                r#""teleport""#,
                0,
                r#"no event kind is called "teleport""#,
            ),
            (
                r#""seq":0"#,
                r#""seq":1"#,
                6,
                "event number 1 where 0 was due: events count up from 0",
            ),
            (
                r#""at_ns":5"#,
                r#""at_ns":05"#,
                8,
                "a number with a leading zero",
            ),
            (
                r#""at_ns":5"#,
                r#""at_ns":-5"#,
                8,
                r#"expected a number, found `-5,"kind":"p…`"#,
            ),
            (
                r#""id":0"#,
                r#""id":18446744073709551616"#,
                5,
                "a number too large for 64 bits",
            ),
            (
                r#""from":0"#,
                r#""from":4294967296"#,
                7,
                "node number 4294967296 is too large",
            ),
            (
                r#""label":"""#,
                r#""label":"\x""#,
                9,
                r"an unknown escape `\x`",
            ),
            (
                r#""label":"""#,
                r#""label":"\ud800x""#,
                9,
                r"a lone UTF-16 surrogate in `\u` escapes",
            ),
            (
                r#""label":"""#,
                r#""label":"\u12""#,
                9,
                r"`\u` without four hex digits",
            ),
            (
                r#""label":"""#,
                "\"label\":\"a\tb\"",
                10,
                "a control character in a string, not escaped",
            ),
            (
                r#""note":""}"#,
                r#""note":"}"#,
                7,
                "a string that does not end",
            ),
            (
                r#""reply":false"#,
                r#""reply":no"#,
                8,
                r#"expected `true` or `false`, found `no,"note":""…`"#,
            ),
            (
                r#""note":"""#,
                r#""note":"meh""#,
                7,
                r#"no drop note is called "meh""#,
            ),
            (
                r#""note":""}"#,
                r#""note":""},"#,
                10,
                "expected the end of the line, found `,`",
            ),
            (
                r#","id":0"#,
                r#","ID":0"#,
                0,
                r#"expected `,"id":`, found `,"ID":0,"par…`"#,
            ),
        ];
        for (good, bad, at, reason) in cases {
            let column = EVENT.find(good).expect(good) + at + 1;
            let text = format!("{HEADER}\n{}\n", EVENT.replacen(good, bad, 1));
            let error = Trace::from_json_lines(&text).unwrap_err();
            assert_eq!(
                (error.line(), error.column(), error.reason()),
                (2, column, reason),
                "{error}"
            );
        }
        let error = Trace::from_json_lines(&format!("{HEADER}\n{EVENT}\n\n")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "trace line 3, column 1: expected `{\"seq\":`, found the end of the line"
        );
        let error = Trace::from_json_lines("").unwrap_err();
        assert_eq!(
            error.to_string(),
            "trace line 1, column 1: no header line: the text is empty"
        );
        let error = Trace::from_json_lines(r#"{"seed":1,"nodes":["-" "main"]}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "trace line 1, column 23: expected `,` or `]`, found ` \"main\"]}`"
        );
        // An event where the header should be.
        let error = Trace::from_json_lines(&format!("{EVENT}\n")).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"trace line 1, column 1: expected `{"seed":`, found `{"seq":0,"at…`"#
        );
    }

    /// Cut, garbled or shortened text is refused with an error, never a panic, and what is
    /// accepted writes back the same.
    #[test]
    fn malformed_text_never_panics() {
        let mut trace = everything();
        trace.events.truncate(6);
        let text = trace.to_json_lines();
        let check = |candidate: &str| {
            if let Ok(parsed) = Trace::from_json_lines(candidate) {
                assert_eq!(
                    Trace::from_json_lines(&parsed.to_json_lines()).as_ref(),
                    Ok(&parsed)
                );
            }
        };
        let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        for &i in &boundaries {
            let prefix = &text[..i];
            check(prefix);
            if prefix.ends_with('\n') {
                let events = prefix.lines().count() - 1;
                assert_eq!(Trace::from_json_lines(prefix).map(|t| t.len()), Ok(events));
            }
        }
        for (n, &i) in boundaries.iter().enumerate() {
            let next = boundaries.get(n + 1).copied().unwrap_or(text.len());
            let (before, after) = (&text[..i], &text[next..]);
            check(&format!("{before}{after}"));
            for replacement in ["x", "\"", "\\", "9", "}", "\n", "ü", "\\u", ""] {
                check(&format!("{before}{replacement}{after}"));
                check(&format!("{before}{replacement}{}", &text[i..]));
            }
        }
    }
}
