//! Group restarts: one-for-all and rest-for-one, at the top of the tree and under an actor.
//!
//! Members report their `on_start` and `on_stop` to a channel; the tests wait on those
//! events, so the order in which the group retires and starts is what they assert.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use snowglobe::{
    Actor, ActorRef, Backoff, BoxError, ChildSpec, Context, DeadLetterReason, Restart, StopReason,
    Strategy, Supervisor, System, messages,
};
use tokio::sync::mpsc;

type Journal = mpsc::UnboundedSender<String>;

struct Member {
    name: &'static str,
    generation: u32,
    journal: Journal,
    handled: Arc<AtomicU64>,
}

impl Member {
    /// A spec whose every instance knows its generation and reports to `journal`.
    fn spec(name: &'static str, journal: &Journal, handled: &Arc<AtomicU64>) -> ChildSpec<Member> {
        let (journal, handled) = (journal.clone(), handled.clone());
        let generations = AtomicU64::new(0);
        ChildSpec::new(move || Member {
            name,
            generation: u32::try_from(generations.fetch_add(1, Ordering::SeqCst) + 1).unwrap(),
            journal: journal.clone(),
            handled: handled.clone(),
        })
        .backoff(Backoff::NONE)
    }
}

impl Actor for Member {
    type Msg = MemberMsg;

    async fn on_start(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        let _ = self.journal.send(format!("start {}", self.name));
        Ok(())
    }

    async fn on_stop(&mut self, _: &mut Context<Self>, reason: &StopReason) {
        let _ = self.journal.send(format!("stop {} ({reason})", self.name));
    }
}

#[messages]
impl Member {
    #[message]
    fn generation(&self) -> u32 {
        self.generation
    }

    #[message]
    fn work(&mut self) {
        self.handled.fetch_add(1, Ordering::SeqCst);
    }

    #[message]
    fn crash(&mut self) {
        panic!("{} crashed", self.name);
    }
}

/// Takes the next `n` journal entries.
async fn next(journal: &mut mpsc::UnboundedReceiver<String>, n: usize) -> Vec<String> {
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push(journal.recv().await.expect("the journal stays open"));
    }
    entries
}

fn lenient(strategy: Strategy) -> Supervisor {
    Supervisor::new(strategy).intensity(100, Duration::from_secs(1))
}

#[tokio::test]
async fn one_for_all_at_the_top_retires_the_last_spawned_first_and_starts_in_spawn_order() {
    let system = System::builder()
        .supervisor(lenient(Strategy::OneForAll))
        .build()
        .unwrap();
    let (journal, mut entries) = mpsc::unbounded_channel();
    let handled = Arc::new(AtomicU64::new(0));
    let a = system
        .spawn_supervised(Member::spec("a", &journal, &handled))
        .unwrap();
    let b = system
        .spawn_supervised(Member::spec("b", &journal, &handled))
        .unwrap();
    let c = system
        .spawn_supervised(Member::spec("c", &journal, &handled))
        .unwrap();
    // Spawned without a spec: not a member, left alone.
    let loner = system
        .spawn(Member {
            name: "loner",
            generation: 1,
            journal: journal.clone(),
            handled: handled.clone(),
        })
        .unwrap();
    let mut started = next(&mut entries, 4).await;
    started.sort();
    assert_eq!(started, ["start a", "start b", "start c", "start loner"]);

    assert!(b.crash().await.is_err());
    assert_eq!(
        next(&mut entries, 6).await,
        [
            "stop b (panicked: b crashed)",
            "stop c (shut down)",
            "stop a (shut down)",
            "start a",
            "start b",
            "start c",
        ]
    );
    for member in [&a, &b, &c] {
        assert_eq!(member.generation().await.unwrap(), 2);
        assert_eq!(member.restarts(), 1);
    }
    assert_eq!(loner.generation().await.unwrap(), 1);
    assert_eq!(loner.restarts(), 0);
    system.shutdown().await;
}

/// A supervisor that spawns three members, in order, when it starts.
struct Crew {
    journal: Journal,
    handled: Arc<AtomicU64>,
    members: Vec<ActorRef<Member>>,
    /// Whether the last member is temporary.
    temporary_last: bool,
}

impl Actor for Crew {
    type Msg = CrewMsg;
    const SUPERVISOR: Supervisor =
        Supervisor::new(Strategy::RestForOne).intensity(100, Duration::from_secs(1));

    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        for name in ["a", "b", "c"] {
            let mut spec = Member::spec(name, &self.journal, &self.handled);
            if name == "c" && self.temporary_last {
                spec = spec.restart(Restart::Temporary);
            }
            self.members.push(ctx.spawn_supervised(spec)?);
        }
        Ok(())
    }
}

#[messages]
impl Crew {
    #[message]
    fn members(&self) -> Vec<ActorRef<Member>> {
        self.members.clone()
    }
}

async fn crew(
    system: &System,
    temporary_last: bool,
) -> (
    ActorRef<Crew>,
    Vec<ActorRef<Member>>,
    mpsc::UnboundedReceiver<String>,
    Arc<AtomicU64>,
) {
    let (journal, mut entries) = mpsc::unbounded_channel();
    let handled = Arc::new(AtomicU64::new(0));
    let crew = system
        .spawn(Crew {
            journal,
            handled: handled.clone(),
            members: Vec::new(),
            temporary_last,
        })
        .unwrap();
    let members = crew.members().await.unwrap();
    let mut started = next(&mut entries, 3).await;
    started.sort();
    assert_eq!(started, ["start a", "start b", "start c"]);
    (crew, members, entries, handled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_restarts_the_failed_member_and_those_spawned_after_it() {
    let system = System::new();
    let (_crew, members, mut entries, handled) = crew(&system, false).await;
    let [a, b, c] = <[_; 3]>::try_from(members).unwrap();

    assert!(b.crash().await.is_err());
    // Tells to `c` while the group restarts: the old instance handles those that arrive
    // before it retires, the new one the rest. None is lost.
    for _ in 0..100 {
        c.work().tell().await.unwrap();
    }
    assert_eq!(
        next(&mut entries, 4).await,
        [
            "stop b (panicked: b crashed)",
            "stop c (shut down)",
            "start b",
            "start c",
        ]
    );
    assert_eq!(
        a.generation().await.unwrap(),
        1,
        "spawned before b: untouched"
    );
    assert_eq!(a.restarts(), 0);
    assert_eq!(b.generation().await.unwrap(), 2);
    assert_eq!(c.generation().await.unwrap(), 2);
    assert_eq!(c.restarts(), 1);
    assert_eq!(handled.load(Ordering::SeqCst), 100);
    let letters = system.dead_letters().recent();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert!(matches!(
        letters[0].reason(),
        DeadLetterReason::HandlerPanicked(_)
    ));
    system.shutdown().await;
}

#[tokio::test]
async fn rest_for_one_from_the_first_member_restarts_them_all_in_order() {
    let system = System::new();
    let (_crew, members, mut entries, _) = crew(&system, false).await;
    assert!(members[0].crash().await.is_err());
    assert_eq!(
        next(&mut entries, 6).await,
        [
            "stop a (panicked: a crashed)",
            "stop c (shut down)",
            "stop b (shut down)",
            "start a",
            "start b",
            "start c",
        ]
    );
    system.shutdown().await;
}

#[tokio::test]
async fn a_temporary_member_in_the_group_is_stopped_not_restarted() {
    let system = System::new();
    let (_crew, members, mut entries, _) = crew(&system, true).await;
    assert!(members[1].crash().await.is_err());
    assert_eq!(
        next(&mut entries, 3).await,
        [
            "stop b (panicked: b crashed)",
            "stop c (shut down)",
            "start b"
        ]
    );
    assert!(matches!(members[2].stopped().await, StopReason::Shutdown));
    assert_eq!(members[1].generation().await.unwrap(), 2);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_supervisor_during_a_group_restart_stops_every_member() {
    let system = System::new();
    let (crew, members, _entries, _) = crew(&system, false).await;
    let _ = members[0].crash().tell().await;
    crew.stop();
    crew.stopped().await;
    for member in &members {
        assert!(!member.is_alive());
        member.stopped().await;
    }
    assert!(system.tree().roots.is_empty());
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_during_a_group_restart_make_another_round() {
    let system = System::builder()
        .supervisor(lenient(Strategy::OneForAll))
        .build()
        .unwrap();
    let (journal, mut entries) = mpsc::unbounded_channel();
    let handled = Arc::new(AtomicU64::new(0));
    let members: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| {
            system
                .spawn_supervised(Member::spec(name, &journal, &handled))
                .unwrap()
        })
        .collect();
    let mut log = next(&mut entries, 3).await;
    // Two members fail at once: one round or two, every member ends up running, and each
    // failure is answered.
    let (first, second) = tokio::join!(members[0].crash(), members[2].crash());
    assert!(first.is_err() && second.is_err());
    for member in &members {
        let generation = member.generation().await.unwrap();
        assert!(generation >= 2, "restarted at least once: {generation}");
    }
    system.shutdown().await;
    // Whatever the rounds were, each member's instances started and stopped in turn.
    while let Ok(entry) = entries.try_recv() {
        log.push(entry);
    }
    for name in ["a", "b", "c"] {
        let own: Vec<_> = log
            .iter()
            .filter_map(|e| {
                let (what, rest) = e.split_once(' ').unwrap();
                rest.starts_with(name).then_some(what)
            })
            .collect();
        assert!(own.len() >= 4, "{name}: {log:?}");
        for (i, what) in own.iter().enumerate() {
            let expected = if i % 2 == 0 { "start" } else { "stop" };
            assert_eq!(*what, expected, "{name}: {log:?}");
        }
        assert_eq!(own.last(), Some(&"stop"), "{name}: {log:?}");
    }
}
