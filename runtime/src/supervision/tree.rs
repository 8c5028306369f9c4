//! A snapshot of the supervision tree, for inspection and printing.

use std::fmt;

use crate::actor::{ActorId, Core, Lifecycle, Node};

/// Where an actor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActorState {
    /// Running `on_start`.
    Starting,
    /// Handling messages.
    Running,
    /// Failed, and waiting to start again (its mailbox keeps taking messages).
    Restarting,
    /// Its node crashed in a simulation: its state and mailbox are lost, and it starts again
    /// from its factory when the node restarts.
    Crashed,
    /// Stopping: handling what is queued, stopping its children, running `on_stop`.
    Stopping,
    /// Stopped.
    Stopped,
}

impl ActorState {
    pub(crate) fn of(lifecycle: Lifecycle) -> ActorState {
        match lifecycle {
            Lifecycle::Starting => ActorState::Starting,
            Lifecycle::Running => ActorState::Running,
            Lifecycle::Restarting => ActorState::Restarting,
            Lifecycle::Crashed => ActorState::Crashed,
            Lifecycle::Stopping | Lifecycle::Ending => ActorState::Stopping,
            Lifecycle::Stopped => ActorState::Stopped,
        }
    }
}

impl fmt::Display for ActorState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActorState::Starting => "starting",
            ActorState::Running => "running",
            ActorState::Restarting => "restarting",
            ActorState::Crashed => "crashed",
            ActorState::Stopping => "stopping",
            ActorState::Stopped => "stopped",
        })
    }
}

/// One actor in a [`Tree`] snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    /// The actor's id.
    pub id: ActorId,
    /// Its registered name.
    pub name: Option<String>,
    /// Its type.
    pub type_name: &'static str,
    /// Where it is in its life.
    pub state: ActorState,
    /// How many times it was restarted.
    pub restarts: u32,
    /// Its children, in spawn order.
    pub children: Vec<TreeNode>,
}

/// A snapshot of the supervision tree, from [`System::tree`](crate::System::tree): the
/// top-level actors and, under each, its children.
///
/// Printed, it reads like this:
///
/// ```text
/// system
/// ├── #1 orders (shop::Orders) running
/// │   └── #3 (shop::Ledger) running
/// └── #2 payments (shop::Payments) restarting, 2 restarts
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tree {
    /// The top-level actors, in spawn order.
    pub roots: Vec<TreeNode>,
}

impl Tree {
    pub(crate) fn node(node: &dyn Node) -> TreeNode {
        let core: &Core = node.core();
        let children: Vec<_> = core.children.lock().values().cloned().collect();
        TreeNode {
            id: core.id,
            name: core.name().map(str::to_owned),
            type_name: core.type_name,
            state: ActorState::of(core.lifecycle()),
            restarts: core.restarts(),
            children: children.iter().map(|c| Tree::node(&**c)).collect(),
        }
    }

    /// Every actor in the tree, depth first.
    pub fn iter(&self) -> impl Iterator<Item = &TreeNode> {
        let mut stack: Vec<&TreeNode> = self.roots.iter().rev().collect();
        std::iter::from_fn(move || {
            let node = stack.pop()?;
            stack.extend(node.children.iter().rev());
            Some(node)
        })
    }

    /// The node of actor `id`, if it is in the tree.
    #[must_use]
    pub fn find(&self, id: ActorId) -> Option<&TreeNode> {
        self.iter().find(|n| n.id == id)
    }
}

impl fmt::Display for TreeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        write!(f, " ({}) {}", self.type_name, self.state)?;
        match self.restarts {
            0 => Ok(()),
            1 => f.write_str(", 1 restart"),
            n => write!(f, ", {n} restarts"),
        }
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn level(f: &mut fmt::Formatter<'_>, nodes: &[TreeNode], prefix: &str) -> fmt::Result {
            for (i, node) in nodes.iter().enumerate() {
                let last = i + 1 == nodes.len();
                writeln!(f, "{prefix}{}{node}", if last { "└── " } else { "├── " })?;
                let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
                level(f, &node.children, &deeper)?;
            }
            Ok(())
        }
        writeln!(f, "system")?;
        level(f, &self.roots, "")
    }
}
