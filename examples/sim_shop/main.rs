//! The shop's payment path on three simulated machines, with a bug only a fault finds.
//!
//! Orders, payments and inventory run on three nodes of a deterministic simulation:
//! 1–50 ms latency, 1 % message loss, a 10-second partition between orders and payments at
//! t = 5 s, and a crash of the payments machine at t = 20 s (back at t = 22 s). Checkout
//! workers retry every lost charge with the order number as its idempotency key, and
//! payments answers a repeated key from its dedup window instead of charging again.
//!
//! The bug: payments keeps that window in memory, the runtime's default. A crash forgets it,
//! so a charge whose answer was lost just before the crash is charged again when its retry
//! reaches the restarted machine. A sweep over seeds finds the runs where that happens,
//! prints the one command that repeats each, and shows the duplicate charge message by
//! message. The fix keeps the keys next to the ledger, on disk (a store given at spawn),
//! and the same sweep passes.
//!
//! Run it with `cargo run --release --example sim_shop` (a few seconds; with
//! `SNOWGLOBE_SEED=<n>` only that seed runs).

mod services;

use std::time::Instant as WallClock;

use services::{Failure, Keys, sweep};
use snowglobe::Instant;
use snowglobe::sim::SimError;

const SEEDS: u64 = 300;

/// Sweeps the seeds with `keys` and prints how many broke a check.
fn sweep_and_count(keys: Keys, what: &str) -> snowglobe::sim::SweepReport<Box<Failure>> {
    let started = WallClock::now();
    let report = sweep(keys, 0..SEEDS);
    println!(
        "idempotency keys {what}: {} of {} seeds broke a check ({:.1?})",
        report.failures.len(),
        report.runs,
        started.elapsed()
    );
    report
}

fn main() {
    let report = sweep_and_count(Keys::InMemory, "in memory");
    if let Some(first) = report.failures.first() {
        let seed = first.seed;
        match services::failure_of(&first.error) {
            Some(Failure {
                error,
                trace,
                charged_twice,
            }) => {
                println!("\nseed {seed}: {error}\n");
                if let (SimError::Invariant { at, .. }, Some(order)) = (error, charged_twice) {
                    println!("order {order}, message by message:");
                    for event in trace
                        .events()
                        .iter()
                        .filter(|e| e.id == *order && e.kind.is_message())
                    {
                        let node = |n| trace.node_name(n).unwrap_or("?");
                        println!("  {event}  ({} → {})", node(event.from), node(event.to));
                    }
                    let from = Instant::from_nanos(at.as_nanos().saturating_sub(2_500_000_000));
                    println!("\nthe last 2.5 s between the machines, as a Mermaid diagram:\n");
                    println!("{}", trace.to_mermaid(from, *at));
                }
            }
            None => println!("\nseed {seed}: {:?}", first.error),
        }
        println!("repeat it: SNOWGLOBE_SEED={seed} cargo run --release --example sim_shop\n");
    }

    sweep_and_count(Keys::OnDisk, "on disk");
}
