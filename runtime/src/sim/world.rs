//! Nodes: named groups of actors that model machines, and the faults a test puts on them and
//! on the network between them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::executor::{MAIN_NODE, NodeStatus, SimRt};
use super::net::{Link, NetStats};
use super::trace::{Note, TraceEvent, TraceKind};
use crate::actor::{Actor, CrashRoot, Root};
use crate::address::ActorRef;
use crate::supervision::ChildSpec;
use crate::system::{SpawnError, System, SystemBuilder};

/// The simulated world a [`Simulation`](super::Simulation) runs: its nodes, the network
/// between them, and the faults.
///
/// The scenario's own system (node 1, `main`) stands outside the network: what it sends
/// reaches any node at once, so test code can drive and inspect every node. Between the
/// nodes made with [`World::node`], every message crosses the network: [`Link`]s give it a
/// latency and may lose, duplicate or reorder it, partitions cut links, and nodes crash,
/// restart and pause. All of it is drawn from the seed.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::sim::{Latency, Link, Simulation, World};
///
/// let mut sim = Simulation::with_seed(7);
/// sim.run(|system| async move {
///     let world = World::of(&system).unwrap();
///     let orders = world.node("orders");
///     let payments = world.node("payments");
///     world.set_default_link(
///         Link::new().latency(Latency::uniform(Duration::from_millis(1), Duration::from_millis(50))),
///     );
///     world.partition(&[&orders], &[&payments]);
///     assert!(world.is_cut(&orders, &payments) && world.is_cut(&payments, &orders));
///     world.schedule(Duration::from_secs(10), |world| world.heal());
///     system.sleep(Duration::from_secs(11)).await;
///     assert!(!world.is_cut(&orders, &payments));
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct World {
    rt: SimRt,
}

/// What the executor keeps of a node.
pub(crate) struct NodeEntry {
    name: Arc<str>,
    rt: SimRt,
    system: System,
    roots: Vec<Arc<dyn CrashRoot>>,
}

impl NodeEntry {
    pub(crate) fn node_id(&self) -> u32 {
        self.rt.node_id()
    }

    pub(crate) fn rt(&self) -> SimRt {
        self.rt.clone()
    }
}

impl World {
    /// The world `system` runs in: `None` outside a simulation.
    ///
    /// ```
    /// use snowglobe_runtime::sim::World;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let system = snowglobe_runtime::System::new();
    /// assert!(World::of(&system).is_none());
    /// # system.shutdown().await;
    /// # }
    /// ```
    #[must_use]
    pub fn of(system: &System) -> Option<World> {
        let rt = system.shared().rt().sim()?;
        // Of no node: what it schedules runs whatever happens to the nodes.
        Some(World { rt: rt.network() })
    }

    /// A new node named `name`, with a system of its own: actors spawned on
    /// [`Node::system`] live on the node. Names need not be unique, but traces read better
    /// when they are.
    ///
    /// ```
    /// use snowglobe_runtime::sim::{Simulation, World};
    ///
    /// let mut sim = Simulation::with_seed(1);
    /// sim.run(|system| async move {
    ///     let world = World::of(&system).unwrap();
    ///     let kv = world.node("kv-1");
    ///     assert_eq!(kv.name(), "kv-1");
    ///     assert_eq!(kv.number(), 2); // node 1 is the scenario's own system
    /// })
    /// .unwrap();
    /// ```
    pub fn node(&self, name: impl Into<Arc<str>>) -> Node {
        self.node_with(name, System::builder())
    }

    /// A new node whose system is built from `builder` (its ask timeout, shutdown timeout,
    /// supervisor, dead-letter capacity; a seed given there replaces the node's own). The
    /// runtime settings (a tokio handle, worker threads) do not apply under simulation.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::System;
    /// use snowglobe_runtime::sim::{Simulation, World};
    ///
    /// let mut sim = Simulation::with_seed(1);
    /// sim.run(|system| async move {
    ///     let world = World::of(&system).unwrap();
    ///     let edge = world.node_with(
    ///         "edge",
    ///         System::builder().ask_timeout(Duration::from_millis(300)),
    ///     );
    ///     assert_eq!(edge.system().ask_timeout(), Duration::from_millis(300));
    /// })
    /// .unwrap();
    /// ```
    pub fn node_with(&self, name: impl Into<Arc<str>>, builder: SystemBuilder) -> Node {
        let name = name.into();
        let rt = self.rt.add_node(name.clone());
        let number = rt.node_id();
        self.rt.core.net.lock().add_node();
        // A generator of its own per node: two nodes with one seed do not draw the same
        // numbers.
        let seed = self.rt.core.seed() ^ u64::from(number).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let system = builder.seed_if_unset(seed).build_simulated(rt.clone());
        self.rt.core.nodes.lock().push(NodeEntry {
            name: name.clone(),
            rt,
            system: system.clone(),
            roots: Vec::new(),
        });
        Node {
            world: self.clone(),
            number,
            name,
            system,
        }
    }

    /// Every node made so far, in the order they were made.
    #[must_use]
    pub fn nodes(&self) -> Vec<Node> {
        self.rt
            .core
            .nodes
            .lock()
            .iter()
            .map(|entry| Node {
                world: self.clone(),
                number: entry.rt.node_id(),
                name: entry.name.clone(),
                system: entry.system.clone(),
            })
            .collect()
    }

    /// The link every pair of nodes uses unless [`set_link`](World::set_link) gave it
    /// another.
    pub fn set_default_link(&self, link: Link) {
        self.rt.core.net.lock().set_default(link);
    }

    /// The link from `from` to `to` (one direction).
    pub fn set_link(&self, from: &Node, to: &Node, link: Link) {
        self.rt
            .core
            .net
            .lock()
            .set_link(from.number, to.number, link);
    }

    /// The link between `a` and `b`, both directions.
    pub fn set_links_between(&self, a: &Node, b: &Node, link: Link) {
        let mut net = self.rt.core.net.lock();
        net.set_link(a.number, b.number, link);
        net.set_link(b.number, a.number, link);
    }

    /// What the link from `from` to `to` does now.
    #[must_use]
    pub fn link(&self, from: &Node, to: &Node) -> Link {
        self.rt.core.net.lock().link(from.number, to.number)
    }

    /// Cuts every link between the two sides, both ways. Messages on the way across are lost
    /// when they arrive.
    pub fn partition(&self, side_a: &[&Node], side_b: &[&Node]) {
        self.partition_one_way(side_a, side_b);
        self.partition_one_way(side_b, side_a);
    }

    /// Cuts every link from a node in `from` to a node in `to`; the other way still works.
    pub fn partition_one_way(&self, from: &[&Node], to: &[&Node]) {
        for a in from {
            for b in to {
                if a.number != b.number && self.rt.core.net.lock().cut(a.number, b.number) {
                    self.record(TraceKind::Partition, a.number, b.number);
                }
            }
        }
    }

    /// Heals every partition.
    pub fn heal(&self) {
        let healed = self.rt.core.net.lock().heal_all();
        for (a, b) in healed {
            self.record(TraceKind::Heal, a, b);
        }
    }

    /// Heals the links between `a` and `b`, both ways.
    pub fn heal_between(&self, a: &Node, b: &Node) {
        for (x, y) in [(a.number, b.number), (b.number, a.number)] {
            if self.rt.core.net.lock().heal(x, y) {
                self.record(TraceKind::Heal, x, y);
            }
        }
    }

    /// Whether the link from `from` to `to` is cut.
    #[must_use]
    pub fn is_cut(&self, from: &Node, to: &Node) -> bool {
        self.rt.core.net.lock().is_cut(from.number, to.number)
    }

    /// Runs `fault` at `after` from now on virtual time: a partition at t = 5 s, a crash at
    /// t = 20 s. The run goes on meanwhile.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::{NodeState, Simulation, World};
    ///
    /// let mut sim = Simulation::with_seed(3);
    /// sim.run(|system| async move {
    ///     let world = World::of(&system).unwrap();
    ///     let payments = world.node("payments");
    ///     let p = payments.clone();
    ///     world.schedule(Duration::from_secs(20), move |_| p.crash());
    ///     system.sleep(Duration::from_secs(21)).await;
    ///     assert_eq!(payments.state(), NodeState::Crashed);
    /// })
    /// .unwrap();
    /// ```
    pub fn schedule(&self, after: Duration, fault: impl FnOnce(&World) + Send + 'static) {
        let world = self.clone();
        let at = self.rt.true_now() + after;
        drop(self.rt.spawn(async move {
            world.rt.sleep_until_true(at).await;
            fault(&world);
        }));
    }

    /// What the network did so far.
    #[must_use]
    pub fn stats(&self) -> NetStats {
        self.rt.core.net.lock().stats()
    }

    fn record(&self, kind: TraceKind, from: u32, to: u32) {
        self.rt.core.record_event(TraceEvent {
            at: self.rt.true_now(),
            kind,
            id: 0,
            parent: 0,
            from,
            to,
            label: "",
            reply: false,
            note: Note::None,
        });
    }

    fn roots(&self, node: u32) -> Vec<Arc<dyn CrashRoot>> {
        self.rt
            .core
            .nodes
            .lock()
            .iter()
            .find(|e| e.rt.node_id() == node)
            .map(|e| e.roots.clone())
            .unwrap_or_default()
    }

    /// Shuts every node's system down, at the end of a run: a crashed node's roots end at
    /// once, the others stop gracefully.
    pub(super) async fn shutdown(&self) {
        for node in self.nodes() {
            node.resume();
            node.system.shutdown().await;
        }
    }
}

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeState {
    /// Running.
    Up,
    /// Paused: its tasks wait, messages queue in its mailboxes.
    Paused,
    /// Crashed: its actors' state and mailboxes are gone until it restarts.
    Crashed,
}

/// A simulated machine: a [`System`] whose actors the network separates from other nodes'.
///
/// Spawn services on it with [`Node::spawn_root`] so that a restart after a
/// [`crash`](Node::crash) rebuilds them from their factories; their addresses stay good
/// across the crash.
#[derive(Clone)]
pub struct Node {
    world: World,
    number: u32,
    name: Arc<str>,
    system: System,
}

impl Node {
    /// The node's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's number in traces ([`TraceEvent::from`](super::TraceEvent::from)).
    #[must_use]
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The node's system: what is spawned there lives on the node.
    #[must_use]
    pub fn system(&self) -> &System {
        &self.system
    }

    /// Spawns a root service on the node from `spec`: supervised as
    /// [`System::spawn_supervised`] does, and rebuilt from the spec's factory when the node
    /// restarts after a crash.
    ///
    /// # Errors
    ///
    /// As [`System::spawn_supervised`].
    ///
    /// ```
    /// use snowglobe_runtime::{Actor, ChildSpec, Context, DynMessage, Handler, Message};
    /// use snowglobe_runtime::sim::{Simulation, World};
    ///
    /// #[derive(Default)]
    /// struct Counter(u32);
    /// impl Actor for Counter { type Msg = DynMessage<Self>; }
    /// struct Bump;
    /// impl Message for Bump { type Reply = u32; }
    /// impl Handler<Bump> for Counter {
    ///     async fn handle(&mut self, _: Bump, _: &mut Context<Self>) -> u32 { self.0 += 1; self.0 }
    /// }
    ///
    /// let mut sim = Simulation::with_seed(5);
    /// sim.run(|system| async move {
    ///     let world = World::of(&system).unwrap();
    ///     let node = world.node("counter");
    ///     let counter = node.spawn_root(ChildSpec::new(Counter::default)).unwrap();
    ///     assert_eq!(counter.ask(Bump).await.unwrap(), 1);
    ///     assert_eq!(counter.ask(Bump).await.unwrap(), 2);
    ///     node.crash(); // the count was in memory: it is gone
    ///     node.restart();
    ///     assert_eq!(counter.ask(Bump).await.unwrap(), 1);
    /// })
    /// .unwrap();
    /// ```
    pub fn spawn_root<A: Actor>(&self, spec: ChildSpec<A>) -> Result<ActorRef<A>, SpawnError> {
        let actor = self.system.spawn_supervised(spec.clone())?;
        let root: Arc<dyn CrashRoot> = Arc::new(Root::new(&actor, spec));
        let mut nodes = self.world.rt.core.nodes.lock();
        if let Some(entry) = nodes.iter_mut().find(|e| e.rt.node_id() == self.number) {
            entry.roots.push(root);
        }
        Ok(actor)
    }

    /// Where the node is in its life.
    #[must_use]
    pub fn state(&self) -> NodeState {
        match self.world.rt.node_status(self.number) {
            NodeStatus::Up => NodeState::Up,
            NodeStatus::Paused => NodeState::Paused,
            NodeStatus::Crashed => NodeState::Crashed,
        }
    }

    /// Crashes the node now: every actor task on it is dropped between two steps, without
    /// running another line (no `on_stop`). Actors spawned with
    /// [`spawn_root`](Node::spawn_root) keep their addresses and wait for the restart, their
    /// mailboxes emptied; every other actor on the node stops with
    /// [`StopReason::Killed`](crate::StopReason::Killed) and its queued messages become dead
    /// letters. Messages on their way to or from the node are lost; asks waiting on it time
    /// out. State kept outside the node (a store given at spawn, an `Arc` the factory
    /// captured) survives, as a disk would. Crashing a crashed node does nothing.
    pub fn crash(&self) {
        if self.state() == NodeState::Crashed {
            return;
        }
        let rt = &self.world.rt;
        self.world
            .record(TraceKind::Crash, self.number, self.number);
        rt.core.net.lock().crashed(self.number);
        let roots = self.world.roots(self.number);
        for root in &roots {
            root.down();
        }
        for task in rt.crash_tasks(self.number) {
            task.drop_future();
        }
        let node = self.number;
        for root in &roots {
            root.wipe(&mut |label, id, actor| {
                rt.core.record_event(TraceEvent {
                    at: rt.true_now(),
                    kind: TraceKind::Drop,
                    id,
                    parent: actor,
                    from: node,
                    to: node,
                    label,
                    reply: false,
                    note: Note::NodeDown,
                });
            });
        }
    }

    /// Starts a crashed node again: its root actors get fresh instances from their
    /// factories. Does nothing unless the node crashed.
    pub fn restart(&self) {
        if self.state() != NodeState::Crashed {
            return;
        }
        self.world.rt.set_up(self.number);
        self.world
            .record(TraceKind::Restart, self.number, self.number);
        for root in self.world.roots(self.number) {
            root.up();
        }
    }

    /// Pauses the node: none of its tasks runs until [`resume`](Node::resume), though its
    /// timers expire and messages reach its mailboxes, as with a stopped process or a long
    /// garbage-collection pause.
    pub fn pause(&self) {
        if self.state() == NodeState::Up {
            self.world.rt.set_paused(self.number, true);
            self.world
                .record(TraceKind::Pause, self.number, self.number);
        }
    }

    /// Resumes a paused node.
    pub fn resume(&self) {
        if self.state() == NodeState::Paused {
            self.world.rt.set_paused(self.number, false);
            self.world
                .record(TraceKind::Resume, self.number, self.number);
        }
    }

    /// Sets the node's clock `ahead` of the simulation's (or behind it, with
    /// [`set_clock_behind`](Node::set_clock_behind)): [`System::now`] on the node, its
    /// timers and its ask deadlines all read the skewed clock.
    pub fn set_clock_ahead(&self, ahead: Duration) {
        self.set_skew(nanos_i64(ahead));
    }

    /// Sets the node's clock `behind` the simulation's: at most as far as the simulation
    /// has run, since a clock does not read before zero (skew a node after some virtual
    /// time has passed to set it further behind).
    pub fn set_clock_behind(&self, behind: Duration) {
        let elapsed = self.world.rt.true_now().as_nanos();
        let behind = nanos_i64(behind).min(i64::try_from(elapsed).unwrap_or(i64::MAX));
        self.set_skew(-behind);
    }

    fn set_skew(&self, nanos: i64) {
        let nodes = self.world.rt.core.nodes.lock();
        if let Some(entry) = nodes.iter().find(|e| e.rt.node_id() == self.number) {
            entry.rt.node_clock().set_skew(nanos);
        }
    }
}

fn nanos_i64(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("nodes", &self.rt.core.nodes.lock().len())
            .field("main", &MAIN_NODE)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("number", &self.number)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
