//! Criterion benches of supervision, two groups:
//!
//! - `restart`: the restart latency, from a handler's panic to the new instance handling the
//!   next message. Per unit a supervised actor (`Backoff::NONE`, an intensity that never
//!   escalates) is told a message whose handler panics, then asked a no-op; the ask completes
//!   when the new instance has handled it. Baselines in the same group, on the same kind of
//!   actor: the ask alone, a harmless tell then the ask (the same two messages without the
//!   panic), and the panic with `PanicDecision::Resume` (the panic caught, no restart). The
//!   restart's cost is the difference to those lines.
//! - `supervised_tell`: tell 1→1 to the `Sink` of `common/mod.rs` spawned with
//!   `spawn_supervised` against the same actor spawned plainly, in one run (the
//!   `snowglobe_tell_supervised` and `snowglobe_tell` variants of the `tell_1to1` workload).
//!   Being restartable should cost the message path nothing measurable.
//!
//! ```text
//! cargo bench --bench supervision                    # both groups, about 30 s on 2 cores
//! cargo bench --bench supervision -- restart         # one group
//! ```

mod common;

use std::time::{Duration, Instant};

use common::{Count, Env, Inc, TELL_1TO1, Variant};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use snowglobe::{
    Accepts, Actor, ActorRef, Backoff, ChildSpec, Context, Dispatch, Message, PanicDecision,
    PanicMessage, ReplyTo, Strategy, Supervisor,
};

/// What the crashing handler panics with; the panic hook stays quiet for this one only.
const PLANNED_PANIC: &str = "bench: planned panic";

/// The root supervisor of the restart benches: one-for-one and never gives up. The short
/// window keeps its log of recent restarts as small as a real supervisor's.
const LENIENT: Supervisor =
    Supervisor::new(Strategy::OneForOne).intensity(u32::MAX, Duration::from_millis(10));

// ---------------------------------------------------------------------------------------------
// The actor

/// Its handler panics.
struct Crash;
impl Message for Crash {
    type Reply = ();
}

/// Its handler does nothing.
struct Noop;
impl Message for Noop {
    type Reply = ();
}

/// A `Counter` (answers `Inc(v)` with `v + 1`, `Count` with the `Inc`s this instance handled)
/// that also takes `Crash` and `Noop`, and decides on a panic as told.
struct Fragile {
    handled: u64,
    on_panic: PanicDecision,
}

enum FragileMsg {
    Crash(Crash, ReplyTo<()>),
    Noop(Noop, ReplyTo<()>),
    Inc(Inc, ReplyTo<u64>),
    Count(Count, ReplyTo<u64>),
}

impl Actor for Fragile {
    type Msg = FragileMsg;

    fn on_panic(&mut self, _: &mut Context<Self>, _: &PanicMessage) -> PanicDecision {
        self.on_panic
    }
}

impl FragileMsg {
    #[inline]
    fn handle(self, actor: &mut Fragile) {
        match self {
            // The reply slot is dropped while unwinding, as in a `#[messages]` handler.
            FragileMsg::Crash(Crash, _reply) => std::panic::panic_any(PLANNED_PANIC),
            FragileMsg::Noop(Noop, reply) => reply.send(()),
            FragileMsg::Inc(Inc(v), reply) => {
                actor.handled += 1;
                reply.send(v + 1);
            }
            FragileMsg::Count(Count, reply) => reply.send(actor.handled),
        }
    }
}

impl Dispatch<Fragile> for FragileMsg {
    // Every handler is synchronous: `dispatch` calls them directly, as `#[messages]` does.
    async fn dispatch(self, actor: &mut Fragile, _: &mut Context<Fragile>) {
        self.handle(actor);
    }

    fn message_type(&self) -> &'static str {
        match self {
            FragileMsg::Crash(..) => "Crash",
            FragileMsg::Noop(..) => "Noop",
            FragileMsg::Inc(..) => "Inc",
            FragileMsg::Count(..) => "Count",
        }
    }

    // As `#[messages]` generates it for methods that are not `async`: no future.
    #[inline]
    fn dispatch_sync(self, actor: &mut Fragile, _: &mut Context<Fragile>) -> Option<Self> {
        self.handle(actor);
        None
    }
}

impl Accepts<Crash> for FragileMsg {
    fn from_message(msg: Crash, reply: ReplyTo<()>) -> Self {
        FragileMsg::Crash(msg, reply)
    }
}

impl Accepts<Noop> for FragileMsg {
    fn from_message(msg: Noop, reply: ReplyTo<()>) -> Self {
        FragileMsg::Noop(msg, reply)
    }
}

impl Accepts<Inc> for FragileMsg {
    fn from_message(msg: Inc, reply: ReplyTo<u64>) -> Self {
        FragileMsg::Inc(msg, reply)
    }
}

impl Accepts<Count> for FragileMsg {
    fn from_message(msg: Count, reply: ReplyTo<u64>) -> Self {
        FragileMsg::Count(msg, reply)
    }
}

// ---------------------------------------------------------------------------------------------
// Restart latency

/// What precedes each ask.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Before {
    Nothing,
    Noop,
    Crash,
}

const RESTART: [Variant; 4] = [
    Variant {
        name: "panic_restart_then_ask",
        run: restart::panic_restart,
    },
    Variant {
        name: "panic_resume_then_ask",
        run: restart::panic_resume,
    },
    Variant {
        name: "noop_tell_then_ask",
        run: restart::noop_tell,
    },
    Variant {
        name: "ask",
        run: restart::ask_only,
    },
];

mod restart {
    use super::*;

    pub(super) fn panic_restart(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Before::Crash, PanicDecision::Restart)
    }

    pub(super) fn panic_resume(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Before::Crash, PanicDecision::Resume)
    }

    pub(super) fn noop_tell(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Before::Noop, PanicDecision::Restart)
    }

    pub(super) fn ask_only(env: &Env, n: u64, iters: u64) -> Duration {
        run(env, n, iters, Before::Nothing, PanicDecision::Restart)
    }

    /// Per unit: `before` (told), then `Inc(v)` asked and awaited. The actor is a permanent
    /// child of the system's (lenient) supervisor with no backoff, spawned outside the timed
    /// span.
    fn run(env: &Env, n: u64, iters: u64, before: Before, on_panic: PanicDecision) -> Duration {
        let system = env.system().clone();
        env.run(async move {
            let spec = ChildSpec::new(move || Fragile {
                handled: 0,
                on_panic,
            })
            .backoff(Backoff::NONE);
            let actor = system.spawn_supervised(spec).expect("bench: spawn failed");
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sum = 0u64;
                let start = Instant::now();
                for v in 0..n {
                    match before {
                        Before::Nothing => {}
                        Before::Noop => tell(&actor, Noop).await,
                        Before::Crash => tell(&actor, Crash).await,
                    }
                    // Answered by the new instance after a restart: an ask queued behind a
                    // crash never fails, it waits.
                    sum += actor.ask(Inc(v)).await.expect("bench: ask failed");
                }
                total += start.elapsed();
                common::check_sum("restart ask", sum, n);
            }
            check(&actor, n * iters, before, on_panic).await;
            common::stop(&actor).await;
            total
        })
    }

    async fn tell<M>(actor: &ActorRef<Fragile>, msg: M)
    where
        M: Message,
        FragileMsg: Accepts<M>,
    {
        assert!(actor.tell(msg).await.is_ok(), "bench: actor stopped");
    }

    /// Each crash restarted the actor exactly once (or never, when it resumes), and the last
    /// instance counted what it handled.
    async fn check(actor: &ActorRef<Fragile>, units: u64, before: Before, on: PanicDecision) {
        let restarted = before == Before::Crash && on == PanicDecision::Restart;
        let restarts = u64::from(actor.restarts());
        let handled = actor.ask(Count).await.expect("bench: ask failed");
        if restarted {
            assert_eq!(restarts, units, "bench: restarts miscounted");
            assert_eq!(handled, 1, "bench: the instance was not fresh");
        } else {
            assert_eq!(restarts, 0, "bench: unexpected restarts");
            assert_eq!(handled, units, "bench: asks lost");
        }
    }
}

/// Keeps the planned panics from printing (thousands per second); any other panic still goes
/// to the default hook.
fn quiet_planned_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // `panic_any(PLANNED_PANIC)`: the payload is that very `&'static str`.
        if info.payload().downcast_ref::<&str>() != Some(&PLANNED_PANIC) {
            default(info);
        }
    }));
}

fn restarts(c: &mut Criterion) {
    quiet_planned_panics();
    let env = Env::build(|builder| builder.supervisor(LENIENT));
    // One unit per iteration: criterion's time is the time per restart (or per ask).
    let n = 1;
    let mut group = c.benchmark_group("restart");
    group
        .throughput(Throughput::Elements(n))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for variant in &RESTART {
        group.bench_function(variant.name, |b| {
            b.iter_custom(|iters| (variant.run)(&env, n, iters));
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// The tell path of a supervised actor

fn supervised_tell(c: &mut Criterion) {
    let env = Env::new();
    // As `tell_1to1` in `messaging.rs`.
    let n = 100_000;
    let mut group = c.benchmark_group("supervised_tell");
    group
        .throughput(Throughput::Elements(n))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for name in ["snowglobe_tell", "snowglobe_tell_supervised"] {
        let variant = TELL_1TO1.variant(name);
        group.bench_function(variant.name, |b| {
            b.iter_custom(|iters| (variant.run)(&env, n, iters));
        });
    }
    group.finish();
}

criterion_group!(benches, restarts, supervised_tell);
criterion_main!(benches);
