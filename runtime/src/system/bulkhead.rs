//! Bulkheads: actors isolated on threads of their own, so that one group that blocks or
//! spins cannot starve the others.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use parking_lot::Mutex;

/// A group of actors on a tokio runtime of its own, with its own worker threads.
///
/// An actor that blocks its thread (synchronous I/O, a long computation, a lock held across
/// a slow call) stalls every task scheduled on that thread. Spawned into a bulkhead
/// ([`SpawnOptions::bulkhead`](crate::SpawnOptions::bulkhead)), it can only stall the
/// bulkhead's threads: the system's runtime and other bulkheads go on. The children of an
/// actor in a bulkhead start in the same bulkhead unless their spawn options say otherwise.
///
/// Messages, timers and the clock are the system's, whatever the placement: an actor in a
/// bulkhead is addressed, supervised and stopped like any other. A bulkhead's runtime shuts
/// down with the system ([`System::shutdown`](crate::System::shutdown)), or when its last
/// handle and the system are dropped.
///
/// For one actor that blocks, a thread of its own is simpler:
/// [`SpawnOptions::dedicated_thread`](crate::SpawnOptions::dedicated_thread).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use snowglobe_runtime::{Actor, Context, DynMessage, Handler, Message, SpawnOptions, System};
///
/// struct Report;
/// impl Actor for Report { type Msg = DynMessage<Self>; }
/// struct Render;
/// impl Message for Render { type Reply = Option<String>; }
/// impl Handler<Render> for Report {
///     async fn handle(&mut self, _: Render, _: &mut Context<Self>) -> Option<String> {
///         // Blocking here would only hold one of the bulkhead's threads.
///         std::thread::current().name().map(str::to_owned)
///     }
/// }
///
/// let system = System::new();
/// let reports = system.bulkhead("reports", 1).unwrap();
/// let report = system
///     .spawn_with(Report, SpawnOptions::new().bulkhead(&reports))
///     .unwrap();
/// assert_eq!(report.ask(Render).await.unwrap().as_deref(), Some("reports-worker"));
/// system.shutdown().await;
/// # }
/// ```
#[derive(Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    threads: usize,
    handle: tokio::runtime::Handle,
    /// Taken at shutdown.
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
}

impl Bulkhead {
    pub(crate) fn new(name: Arc<str>, threads: usize) -> Result<Bulkhead, BulkheadError> {
        if name.is_empty() {
            return Err(BulkheadError::EmptyName);
        }
        if threads == 0 {
            return Err(BulkheadError::ZeroThreads);
        }
        let thread_name = format!("{name}-worker");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(thread_name)
            .enable_time()
            .build()
            .map_err(|error| BulkheadError::Runtime(error.to_string().into()))?;
        Ok(Bulkhead {
            inner: Arc::new(Inner {
                name,
                threads,
                handle: runtime.handle().clone(),
                runtime: Mutex::new(Some(runtime)),
            }),
        })
    }

    /// The bulkhead's name; its threads are named after it.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// How many worker threads it has.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.inner.runtime.lock().is_none()
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.inner.handle
    }

    /// Stops the runtime without waiting for its threads (their tasks have finished, or are
    /// blocked in code no one can interrupt).
    pub(crate) fn shutdown(&self) {
        if let Some(runtime) = self.inner.runtime.lock().take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its threads end, and panics in async code; this
        // does neither.
        if let Some(runtime) = self.runtime.get_mut().take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("name", &self.inner.name)
            .field("threads", &self.inner.threads)
            .finish()
    }
}

/// Why [`System::bulkhead`](crate::System::bulkhead) made no bulkhead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BulkheadError {
    /// A bulkhead needs at least one thread.
    #[error("a bulkhead needs at least one thread")]
    ZeroThreads,
    /// Names must not be empty.
    #[error("bulkhead names must not be empty")]
    EmptyName,
    /// The system has a bulkhead of this name.
    #[error("a bulkhead named {0:?} already exists")]
    NameTaken(Arc<str>),
    /// The system is shutting down.
    #[error("the system is shutting down")]
    ShuttingDown,
    /// The runtime could not be built (the operating system refused its threads).
    #[error("could not start the bulkhead's runtime: {0}")]
    Runtime(Arc<str>),
    /// The system runs in a [`Simulation`](crate::sim::Simulation), which has one thread and
    /// no runtime to give a bulkhead.
    #[error("bulkheads cannot run inside a simulation")]
    Simulation,
}

/// A future an actor's own thread runs.
pub(crate) type ThreadTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A thread started for one actor, waiting for the actor's task.
///
/// The thread starts before the actor is registered anywhere, so that a refusal from the
/// operating system is a spawn error with nothing to undo; if the spawn fails later, the
/// sender drops and the thread ends.
pub(crate) struct DedicatedThread {
    task: std_mpsc::SyncSender<ThreadTask>,
}

impl DedicatedThread {
    pub(crate) fn start(
        name: String,
        handle: tokio::runtime::Handle,
    ) -> std::io::Result<DedicatedThread> {
        let (task, receiver) = std_mpsc::sync_channel::<ThreadTask>(1);
        std::thread::Builder::new().name(name).spawn(move || {
            if let Ok(task) = receiver.recv() {
                // The system's runtime provides timers and the clock; this thread polls the
                // actor and parks between messages.
                handle.block_on(task);
            }
        })?;
        Ok(DedicatedThread { task })
    }

    pub(crate) fn run(self, task: ThreadTask) {
        // The thread waits for exactly this; it cannot have gone.
        let _ = self.task.send(task);
    }
}
