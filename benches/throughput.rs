//! The messaging scorecard: snowglobe against raw tokio (and crossbeam) baselines, printed as
//! a markdown table with the targets and whether each is met. The event bus's fan-out is
//! judged against snowglobe's own tells of the same messages (`fan_out_100`).
//!
//! ```text
//! cargo bench --bench throughput                     # 5 interleaved runs per variant
//! cargo bench --bench throughput -- --quick          # 3 runs of a tenth of the work
//! cargo bench --bench throughput -- --runs 9 --messages 2000000
//! ```
//!
//! Every variant runs `--runs` times; runs of a workload's variants are interleaved (a
//! different one goes first each round) so that drift (frequency scaling, a noisy neighbour)
//! spreads over all of them, and the table shows medians. The workloads themselves live in
//! `common/mod.rs` and check what the receiver got, so a broken runtime panics instead of
//! scoring.
//!
//! Idle memory per actor is measured with a counting global allocator: live heap bytes after
//! spawning `--actors` actors, after one ask to each, after a second, after a burst of tells,
//! after a second burst, 10.5 s later, after one more ask, and after stopping them all.
//!
//! Without `--bench` (which `cargo bench` passes), as under `cargo test --benches`, it runs a
//! small smoke pass: one run of tiny workloads, to check that everything still works.

mod common;

use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use common::{
    ASK, Counter, Env, FAN_IN_8TO1, FAN_OUT_100, Inc, PING_PONG, POLICY_ASK, SPAWN_ASK_STOP,
    TELL_1TO1, Workload,
};

// ---------------------------------------------------------------------------------------------
// Heap accounting

/// The system allocator, counting bytes allocated and freed while [`COUNTING`] is on.
///
/// Counting is off except around the memory measurement: two shared counters updated from
/// both workers on every allocation would cost the timed workloads cache-line traffic.
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the counters only observe.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let ptr = unsafe { SystemAlloc.alloc(layout) };
        if !ptr.is_null() && COUNTING.load(Relaxed) {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { SystemAlloc.alloc_zeroed(layout) };
        if !ptr.is_null() && COUNTING.load(Relaxed) {
            ALLOCATED.fetch_add(layout.size(), Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (so the system one) handed out.
        unsafe { SystemAlloc.dealloc(ptr, layout) };
        if COUNTING.load(Relaxed) {
            FREED.fetch_add(layout.size(), Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, which we pass on.
        let new = unsafe { SystemAlloc.realloc(ptr, layout, new_size) };
        if !new.is_null() && COUNTING.load(Relaxed) {
            FREED.fetch_add(layout.size(), Relaxed);
            ALLOCATED.fetch_add(new_size, Relaxed);
        }
        new
    }
}

#[global_allocator]
static HEAP: CountingAlloc = CountingAlloc;

/// Live heap bytes allocated since counting started (negative when more was freed).
fn live_bytes() -> f64 {
    ALLOCATED.load(Relaxed) as f64 - FREED.load(Relaxed) as f64
}

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
    runs: usize,
    /// Messages per run of the tell workloads; deliveries per run of fan-out.
    messages: u64,
    /// Asks or round trips per run.
    round_trips: u64,
    /// Actors per run of spawn+ask+stop, and for the memory measurement.
    actors: u64,
    smoke: bool,
    /// Workload groups to measure (`memory` for the memory figures); empty for all.
    only: Vec<String>,
}

const USAGE: &str = "usage: cargo bench --bench throughput -- [--quick] [--runs R] \
                     [--messages N] [--round-trips N] [--actors N] [--only GROUP]...\n\
                     groups: tell_1to1 fan_in_8to1 ask ping_pong spawn_ask_stop fan_out_100 \
                     policy_ask memory";

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let (mut runs, mut messages, mut round_trips, mut actors) = (None, None, None, None);
        let (mut quick, mut smoke, mut only) = (false, true, Vec::new());
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> Result<Option<u64>, String> {
                let text = args.next().ok_or(format!("{name} needs a value"))?;
                match text.replace('_', "").parse::<u64>() {
                    Ok(v) if v > 0 => Ok(Some(v)),
                    _ => Err(format!("{name}: expected a positive number, got {text:?}")),
                }
            };
            match arg.as_str() {
                "--bench" => smoke = false,
                "--quick" => quick = true,
                "--runs" => runs = value("--runs")?,
                "--messages" => messages = value("--messages")?,
                "--round-trips" => round_trips = value("--round-trips")?,
                "--actors" => actors = value("--actors")?,
                "--only" => {
                    let group = args.next().ok_or("--only needs a workload group")?;
                    let known = common::WORKLOADS.iter().any(|w| w.group == group);
                    if !known && group != "memory" {
                        return Err(format!("--only: no workload group {group:?}"));
                    }
                    only.push(group);
                }
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        // Defaults by mode (runs, messages, round trips, actors); explicit values win.
        let defaults = match (smoke, quick) {
            (true, _) => (1, 8_000, 1_000, 1_000),
            (false, true) => (3, 100_000, 10_000, 1_000),
            (false, false) => (5, 1_000_000, 100_000, 10_000),
        };
        Ok(Options {
            runs: common::usize_of(runs.unwrap_or(defaults.0)),
            // Fan-in splits the messages over its producers.
            messages: messages.unwrap_or(defaults.1).max(common::FAN_IN_PRODUCERS),
            round_trips: round_trips.unwrap_or(defaults.2),
            actors: actors.unwrap_or(defaults.3),
            smoke,
            only,
        })
    }

    fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }

    fn units(&self, workload: &Workload) -> u64 {
        match workload.group {
            "tell_1to1" | "fan_in_8to1" => self.messages,
            // Whole events: a multiple of the subscriber count, at least one event.
            "fan_out_100" => {
                let per_event = common::FAN_OUT_SUBSCRIBERS;
                (self.messages / per_event).max(1) * per_event
            }
            "ask" | "ping_pong" | "policy_ask" => self.round_trips,
            _ => self.actors,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring

/// Nanoseconds per unit of every run of one variant.
struct Samples {
    group: &'static str,
    variant: &'static str,
    unit: &'static str,
    ns: Vec<f64>,
}

impl Samples {
    fn median(&self) -> f64 {
        median(&self.ns)
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// Runs every variant of `workload` once untimed, then `runs` times, rotating which variant
/// goes first each round.
fn measure(env: &Env, workload: &'static Workload, n: u64, runs: usize) -> Vec<Samples> {
    let variants = workload.variants;
    for variant in variants {
        (variant.run)(env, n, 1);
    }
    let mut samples: Vec<Samples> = variants
        .iter()
        .map(|v| Samples {
            group: workload.group,
            variant: v.name,
            unit: workload.unit,
            ns: Vec::with_capacity(runs),
        })
        .collect();
    for round in 0..runs {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let elapsed = (variants[i].run)(env, n, 1);
            samples[i].ns.push(elapsed.as_nanos() as f64 / n as f64);
        }
    }
    samples
}

/// Bytes per actor, from the counting allocator.
struct Memory {
    /// Spawned, before any message.
    idle: f64,
    /// After one ask each, idle again.
    after_ask: f64,
    /// After a second ask each, idle again.
    after_two_asks: f64,
    /// After a burst of [`BURST`] tells each (a reply not awaited, for tokio), handled,
    /// idle again: a burst after asks gives its blocks back as the actor parks (one the actor
    /// takes in two or three goes, parking between them, counts as bursts in a row, and the
    /// fourth in a row keeps a block).
    after_burst: f64,
    /// After a second burst right after the first, handled, idle again: a mailbox keeps the
    /// block of the fourth burst in a row (counting the goes each burst was taken in) for the
    /// next one, until its next park or the system's sweep.
    after_second_burst: f64,
    /// [`SWEEP_WAIT`] later, still idle.
    after_burst_and_sweep: f64,
    /// After one more ask each, idle again: that park gives the block back.
    after_burst_and_ask: f64,
    /// After every actor stopped and every address was dropped: what was not given back.
    after_stop: f64,
}

/// Messages per actor in the memory measurement's burst: more than a mailbox block holds.
const BURST: u64 = 100;

/// How long the memory measurement leaves actors idle after the bursts: past the 10 s after
/// which the system gives back the block back-to-back bursts left in an idle actor's mailbox.
const SWEEP_WAIT: Duration = Duration::from_millis(10_500);

/// Lets tasks that were just woken or spawned run to their next wait. Only the memory
/// measurement uses it; the counters say nothing about when the workers are done.
fn let_workers_settle() {
    std::thread::sleep(Duration::from_millis(100));
}

fn snowglobe_memory(env: &Env, actors: u64) -> Memory {
    let count = common::usize_of(actors);
    let mut refs = Vec::with_capacity(count);
    let system = env.system().clone();
    COUNTING.store(true, Relaxed);
    let base = live_bytes();
    for _ in 0..count {
        refs.push(
            system
                .spawn(Counter::default())
                .expect("bench: spawn failed"),
        );
    }
    let_workers_settle();
    let idle = live_bytes() - base;

    let ask_each = |refs: Vec<snowglobe::ActorRef<Counter>>| {
        env.run(async move {
            for (v, counter) in (0..).zip(&refs) {
                let reply = counter.ask(Inc(v)).await.expect("bench: ask failed");
                assert_eq!(reply, v + 1, "bench: wrong reply");
            }
            refs
        })
    };
    let refs = ask_each(refs);
    let_workers_settle();
    let after_ask = live_bytes() - base;
    let refs = ask_each(refs);
    let_workers_settle();
    let after_two_asks = live_bytes() - base;
    let burst_each = |refs: Vec<snowglobe::ActorRef<Counter>>| {
        env.run(async move {
            for counter in &refs {
                for v in 0..BURST {
                    counter.tell(Inc(v)).await.expect("bench: tell failed");
                }
            }
            refs
        })
    };
    let refs = burst_each(refs);
    let_workers_settle();
    let after_burst = live_bytes() - base;
    let refs = burst_each(refs);
    let_workers_settle();
    let after_second_burst = live_bytes() - base;
    std::thread::sleep(SWEEP_WAIT);
    let after_burst_and_sweep = live_bytes() - base;
    let refs = ask_each(refs);
    let_workers_settle();
    let after_burst_and_ask = live_bytes() - base;

    env.run(async move {
        for counter in &refs {
            counter.stop();
        }
        for counter in &refs {
            counter.stopped().await;
        }
    });
    let_workers_settle();
    let after_stop = live_bytes() - base;
    COUNTING.store(false, Relaxed);

    let per_actor = |bytes: f64| bytes / actors as f64;
    Memory {
        idle: per_actor(idle),
        after_ask: per_actor(after_ask),
        after_two_asks: per_actor(after_two_asks),
        after_burst: per_actor(after_burst),
        after_second_burst: per_actor(after_second_burst),
        after_burst_and_sweep: per_actor(after_burst_and_sweep),
        after_burst_and_ask: per_actor(after_burst_and_ask),
        after_stop: per_actor(after_stop),
    }
}

/// The same for the tokio equivalent of an actor: a task serving an unbounded channel.
fn tokio_memory(env: &Env, actors: u64) -> Memory {
    let count = common::usize_of(actors);
    let mut servers = Vec::with_capacity(count);
    COUNTING.store(true, Relaxed);
    let base = live_bytes();
    {
        let _runtime = env.enter();
        for _ in 0..count {
            servers.push(common::tokio_server());
        }
    }
    let_workers_settle();
    let idle = live_bytes() - base;

    let ask_each = |servers: Vec<_>| {
        env.run(async move {
            for (v, (tx, _)) in (0..).zip(&servers) {
                let reply = common::tokio_request(tx, v).await;
                assert_eq!(reply, v + 1, "bench: wrong reply");
            }
            servers
        })
    };
    let servers = ask_each(servers);
    let_workers_settle();
    let after_ask = live_bytes() - base;
    let servers = ask_each(servers);
    let_workers_settle();
    let after_two_asks = live_bytes() - base;
    type Server = (
        tokio::sync::mpsc::UnboundedSender<common::Request>,
        tokio::task::JoinHandle<u64>,
    );
    let burst_each = |servers: Vec<Server>| {
        env.run(async move {
            for (tx, _) in &servers {
                for v in 0..BURST {
                    // The reply is not awaited, like a tell's.
                    let (reply, _) = tokio::sync::oneshot::channel();
                    assert!(tx.send((v, reply)).is_ok(), "bench: server gone");
                }
            }
            servers
        })
    };
    let servers = burst_each(servers);
    let_workers_settle();
    let after_burst = live_bytes() - base;
    let servers = burst_each(servers);
    let_workers_settle();
    let after_second_burst = live_bytes() - base;
    std::thread::sleep(SWEEP_WAIT);
    let after_burst_and_sweep = live_bytes() - base;
    let servers = ask_each(servers);
    let_workers_settle();
    let after_burst_and_ask = live_bytes() - base;

    env.run(async move {
        for (tx, server) in servers {
            drop(tx);
            server.await.expect("bench: server panicked");
        }
    });
    let_workers_settle();
    let after_stop = live_bytes() - base;
    COUNTING.store(false, Relaxed);

    let per_actor = |bytes: f64| bytes / actors as f64;
    Memory {
        idle: per_actor(idle),
        after_ask: per_actor(after_ask),
        after_two_asks: per_actor(after_two_asks),
        after_burst: per_actor(after_burst),
        after_second_burst: per_actor(after_second_burst),
        after_burst_and_sweep: per_actor(after_burst_and_sweep),
        after_burst_and_ask: per_actor(after_burst_and_ask),
        after_stop: per_actor(after_stop),
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting

/// What a comparison must achieve.
#[derive(Clone, Copy)]
enum Target {
    /// snowglobe / baseline at most this.
    Ratio(f64),
    /// snowglobe's own figure at most this many nanoseconds per unit.
    Nanos(f64),
    /// snowglobe's own figure at most this many bytes.
    Bytes(f64),
    /// Shown for context.
    None,
}

impl Target {
    fn text(self) -> String {
        match self {
            Target::Ratio(r) => format!("≤ {r:.2}×"),
            Target::Nanos(ns) => format!("≤ {} µs/actor", ns / 1_000.0),
            Target::Bytes(b) => format!("≤ {b:.0} B"),
            Target::None => "—".to_string(),
        }
    }

    fn verdict(self, snowglobe: f64, baseline: f64) -> &'static str {
        let met = match self {
            Target::Ratio(r) => snowglobe / baseline <= r,
            Target::Nanos(limit) | Target::Bytes(limit) => snowglobe <= limit,
            Target::None => return "—",
        };
        if met { "pass" } else { "**miss**" }
    }
}

/// A duration per unit, in ns below 10 µs and in µs above.
fn time(ns: f64, unit: &str) -> String {
    if ns < 10_000.0 {
        format!("{ns:.1} ns/{unit}")
    } else {
        format!("{:.2} µs/{unit}", ns / 1_000.0)
    }
}

/// One row of the scorecard: a snowglobe variant against a baseline variant.
struct Row {
    label: &'static str,
    workload: &'static Workload,
    snowglobe: &'static str,
    baseline: &'static str,
    target: Target,
}

const fn row(
    label: &'static str,
    workload: &'static Workload,
    snowglobe: &'static str,
    baseline: &'static str,
    target: Target,
) -> Row {
    Row {
        label,
        workload,
        snowglobe,
        baseline,
        target,
    }
}

const ROWS: &[Row] = &[
    row(
        "tell 1→1 · `tell`, bounded 1024 vs tokio unbounded",
        &TELL_1TO1,
        "snowglobe_tell",
        "tokio_unbounded",
        Target::Ratio(0.7),
    ),
    row(
        "tell 1→1 · `try_tell` + yield vs tokio unbounded",
        &TELL_1TO1,
        "snowglobe_try_tell_yield",
        "tokio_unbounded",
        Target::None,
    ),
    row(
        "tell 1→1 · unbounded mailbox vs tokio unbounded",
        &TELL_1TO1,
        "snowglobe_tell_unbounded_mailbox",
        "tokio_unbounded",
        Target::None,
    ),
    row(
        "tell 1→1 · `DynMessage` (boxed) vs tokio unbounded",
        &TELL_1TO1,
        "snowglobe_tell_dynmessage",
        "tokio_unbounded",
        Target::None,
    ),
    // The goal is no measurable difference (about 1.00×). No pass/miss: with 5 runs the
    // median ratio of two identical paths still moves by ±20 % on 2 cores, more than any
    // honest tolerance; `--runs 15` or the `supervised_tell` criterion group narrow it.
    row(
        "tell 1→1 · supervised (`spawn_supervised`) vs plain `spawn`, goal ≈ 1.00×",
        &TELL_1TO1,
        "snowglobe_tell_supervised",
        "snowglobe_tell",
        Target::None,
    ),
    row(
        "tell 1→1 · bounded 1024 vs tokio bounded 1024",
        &TELL_1TO1,
        "snowglobe_tell",
        "tokio_bounded1024",
        Target::None,
    ),
    row(
        "tell 1→1 · bounded 1024 vs crossbeam bounded 1024 (threads)",
        &TELL_1TO1,
        "snowglobe_tell",
        "crossbeam_bounded1024_threads",
        Target::None,
    ),
    row(
        "tell 1→1 · unbounded mailbox vs crossbeam unbounded (threads)",
        &TELL_1TO1,
        "snowglobe_tell_unbounded_mailbox",
        "crossbeam_unbounded_threads",
        Target::None,
    ),
    row(
        "fan-in 8→1 · `tell`, bounded 1024 vs tokio unbounded",
        &FAN_IN_8TO1,
        "snowglobe_tell",
        "tokio_unbounded",
        Target::Ratio(0.7),
    ),
    row(
        "fan-in 8→1 · unbounded mailbox vs tokio unbounded",
        &FAN_IN_8TO1,
        "snowglobe_tell_unbounded_mailbox",
        "tokio_unbounded",
        Target::None,
    ),
    row(
        "fan-in 8→1 · bounded 1024 vs tokio bounded 1024",
        &FAN_IN_8TO1,
        "snowglobe_tell",
        "tokio_bounded1024",
        Target::None,
    ),
    row(
        "ask round trip vs tokio mpsc + oneshot",
        &ASK,
        "snowglobe_ask",
        "tokio_mpsc_oneshot",
        Target::Ratio(1.0),
    ),
    row(
        "ask round trip vs tokio mpsc + oneshot under `tokio::time::timeout` (a deadline each)",
        &ASK,
        "snowglobe_ask",
        "tokio_mpsc_oneshot_timeout",
        Target::None,
    ),
    row(
        "ask round trip vs tokio bounded mpsc (1024) + oneshot, like the default mailbox",
        &ASK,
        "snowglobe_ask",
        "tokio_bounded1024_oneshot",
        Target::None,
    ),
    row(
        "ping-pong between two actors vs two tokio tasks",
        &PING_PONG,
        "snowglobe_tell",
        "tokio_two_mpsc",
        Target::Ratio(1.0),
    ),
    row(
        "ping-pong between two actors vs two tokio tasks on bounded channels (1024)",
        &PING_PONG,
        "snowglobe_tell",
        "tokio_two_mpsc_bounded1024",
        Target::None,
    ),
    row(
        "spawn + ask + stop vs tokio task + channel",
        &SPAWN_ASK_STOP,
        "snowglobe_actor",
        "tokio_task_mpsc",
        Target::Nanos(3_000.0),
    ),
    // Per ask, to the same actor: a policy's breaker and retry cost ≤ 1.2× the plain ask.
    row(
        "ask through a policy (closed breaker + retry) vs plain ask",
        &POLICY_ASK,
        "policy_breaker_retry",
        "snowglobe_ask",
        Target::Ratio(1.2),
    ),
    row(
        "ask through a policy (every part) vs plain ask",
        &POLICY_ASK,
        "policy_all",
        "snowglobe_ask",
        Target::None,
    ),
    // Per delivery: one publisher, 100 subscribed actors; the baseline tells the same
    // values to the same actors round-robin from one task. The target row holds the
    // subscribers during each burst, so the scheduler's wake-ups stay out of it; the live
    // rows have no pass/miss because on 2 workers they settle in one of two steady states
    // (see benches/README.md) and the ratio moves with it.
    row(
        "fan-out 1→100, burst · `publish().await` vs `tell` round-robin to the same actors",
        &FAN_OUT_100,
        "snowglobe_publish_burst",
        "snowglobe_tell_round_robin_burst",
        Target::Ratio(1.5),
    ),
    // The bus delivers through `Recipient`s: what it adds on top of that address.
    row(
        "fan-out 1→100, burst · `publish().await` vs `tell` round-robin through `Recipient`s",
        &FAN_OUT_100,
        "snowglobe_publish_burst",
        "snowglobe_recipient_tell_round_robin_burst",
        Target::None,
    ),
    row(
        "fan-out 1→100, live · `publish().await` vs `tell` round-robin to the same actors",
        &FAN_OUT_100,
        "snowglobe_publish",
        "snowglobe_tell_round_robin",
        Target::None,
    ),
    row(
        "fan-out 1→100, live · `try_publish` vs `tell` round-robin to the same actors",
        &FAN_OUT_100,
        "snowglobe_try_publish",
        "snowglobe_tell_round_robin",
        Target::None,
    ),
    row(
        "fan-out 1→100, live · `tell` round-robin vs `tell` 1→1, same message count",
        &FAN_OUT_100,
        "snowglobe_tell_round_robin",
        "snowglobe_tell_1to1",
        Target::None,
    ),
];

fn report(options: &Options, samples: &[Samples], memory: Option<&(Memory, Memory)>) -> String {
    let median = |group: &str, variant: &str| -> Option<f64> {
        samples
            .iter()
            .find(|s| s.group == group && s.variant == variant)
            .map(Samples::median)
    };
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "### snowglobe messaging scorecard\n");
    let _ = writeln!(
        w,
        "{} tokio worker threads; median of {} interleaved run{}; {} messages (tell, fan-in; \
         deliveries for fan-out), {} asks / round trips, {} actors.{}\n",
        common::WORKER_THREADS,
        options.runs,
        if options.runs == 1 { "" } else { "s" },
        options.messages,
        options.round_trips,
        options.actors,
        if options.smoke {
            " SMOKE RUN (no `--bench`): the numbers mean nothing."
        } else {
            ""
        },
    );
    let _ = writeln!(
        w,
        "| workload | snowglobe | baseline | ratio | target | result |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---|---|");
    for r in ROWS {
        let group = r.workload.group;
        let (Some(sg), Some(base)) = (median(group, r.snowglobe), median(group, r.baseline)) else {
            continue;
        };
        let unit = r.workload.unit;
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.2} | {} | {} |",
            r.label,
            time(sg, unit),
            time(base, unit),
            sg / base,
            r.target.text(),
            r.target.verdict(sg, base),
        );
    }
    if let Some((sg, tokio)) = memory {
        let kib = Target::Bytes(1024.0);
        let rows = [
            ("spawned, no message yet", sg.idle, tokio.idle),
            ("after one ask", sg.after_ask, tokio.after_ask),
            ("after two asks", sg.after_two_asks, tokio.after_two_asks),
            (
                "after a burst of 100 messages",
                sg.after_burst,
                tokio.after_burst,
            ),
            (
                "after a second burst right after the first",
                sg.after_second_burst,
                tokio.after_second_burst,
            ),
            (
                "after the bursts, 10.5 s idle",
                sg.after_burst_and_sweep,
                tokio.after_burst_and_sweep,
            ),
            (
                "after the bursts and one more ask",
                sg.after_burst_and_ask,
                tokio.after_burst_and_ask,
            ),
        ];
        for (when, sg, base) in rows {
            let _ = writeln!(
                w,
                "| idle actor memory · {when} vs tokio task + unbounded channel \
                 | {sg:.0} B/actor | {base:.0} B/actor | {:.2} | {} | {} |",
                sg / base,
                kib.text(),
                kib.verdict(sg, base),
            );
        }
        let _ = writeln!(
            w,
            "| heap kept after stop and drop (leak check) | {:.0} B/actor | {:.0} B/actor \
             | — | — | — |",
            sg.after_stop, tokio.after_stop,
        );
    }
    let _ = writeln!(
        w,
        "\nratio = snowglobe / baseline: below 1 snowglobe is faster. A round trip is 2 messages.\n"
    );

    let _ = writeln!(w, "#### every variant, ns per unit over the runs\n");
    let _ = writeln!(w, "| workload | variant | unit | median | min | max |");
    let _ = writeln!(w, "|---|---|---|---:|---:|---:|");
    for s in samples {
        let min = s.ns.iter().copied().fold(f64::INFINITY, f64::min);
        let max = s.ns.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            w,
            "| {} | {} | {} | {:.1} | {min:.1} | {max:.1} |",
            s.group,
            s.variant,
            s.unit,
            s.median(),
        );
    }
    out
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("throughput: {error}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    for r in ROWS {
        // A misspelt variant would silently drop its row from the table.
        let _ = (
            r.workload.variant(r.snowglobe),
            r.workload.variant(r.baseline),
        );
    }
    let env = Env::new();
    // Memory first: what the workloads leave behind for a while (the cells of stopped actors
    // listed for the mailbox sweep, up to 10 s) would be given back during its wait.
    let memory = options.wants("memory").then(|| {
        eprintln!("measuring idle memory ({} actors)", options.actors);
        let snowglobe = snowglobe_memory(&env, options.actors);
        (snowglobe, tokio_memory(&env, options.actors))
    });
    let mut samples = Vec::new();
    for workload in common::WORKLOADS {
        if !options.wants(workload.group) {
            continue;
        }
        let n = options.units(workload);
        eprintln!(
            "measuring {} ({n} units per run, unit: {})",
            workload.group, workload.unit
        );
        samples.extend(measure(&env, workload, n, options.runs));
    }
    print!("{}", report(&options, &samples, memory.as_ref()));
    ExitCode::SUCCESS
}
