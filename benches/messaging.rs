//! Criterion benches of snowglobe's messaging, one group per workload: `tell_1to1`,
//! `fan_in_8to1`, `ask`, `ping_pong`, `spawn_ask_stop`, `fan_out_100`, `policy_ask`. Each group
//! holds the snowglobe variants and the baselines they are compared with (tokio channels
//! between tasks on the same two-worker runtime; crossbeam channels between OS threads; the
//! plain ask for the resilience policies), so one run shows the ratio.
//!
//! `fan_out_100` is the event bus: one publisher, 100 subscribed actors, against plain tells of
//! the same messages to the same actors round-robin; its unit is one delivery. Its `_burst`
//! variants (1 000 events while the subscribers are held, then drained) carry the target; the
//! live ones let the subscribers run meanwhile.
//!
//! Each measured iteration covers exactly `n` units (messages, asks, round trips, actors; the
//! group's throughput), see `common/mod.rs`. `benches/throughput.rs` prints the same
//! comparison as a table with targets.
//!
//! ```text
//! cargo bench --bench messaging                      # everything, a few minutes on 2 cores
//! cargo bench --bench messaging -- ping_pong         # one group
//! cargo bench --bench messaging -- fan_out_100       # the event bus
//! cargo bench --bench messaging -- policy_ask        # resilience policies on the ask path
//! cargo bench --bench messaging -- --quick           # a short pass
//! ```

mod common;

use std::time::Duration;

use common::{Env, WORKLOADS, Workload};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Units per measured iteration: long enough that setup outside the timed span is rare, short
/// enough that each sample holds several iterations.
fn units(workload: &Workload) -> u64 {
    match workload.group {
        // fan-out: deliveries, 1 000 events to 100 subscribers
        "tell_1to1" | "fan_in_8to1" | "fan_out_100" => 100_000,
        // asks, round trips, actors: each costs a few wake-ups
        _ => 10_000,
    }
}

fn workloads(c: &mut Criterion) {
    let env = Env::new();
    for workload in WORKLOADS {
        let n = units(workload);
        let mut group = c.benchmark_group(workload.group);
        group
            .throughput(Throughput::Elements(n))
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for variant in workload.variants {
            group.bench_function(variant.name, |b| {
                b.iter_custom(|iters| (variant.run)(&env, n, iters));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
