//! The simulated shop's bug is found by a seed sweep, and the fixed shop passes the same
//! sweep over a thousand seeds. The services and the scenario are the example's
//! (`examples/sim_shop`).

#[path = "../examples/sim_shop/services.rs"]
mod services;

use services::{Keys, failure_of, sweep};
use snowglobe::sim::{SimError, TraceKind};

#[test]
fn a_sweep_finds_the_duplicate_charge_that_in_memory_keys_allow() {
    let report = sweep(Keys::InMemory, 0..100);
    assert!(!report.passed(), "a hundred seeds expose the bug");
    for failure in &report.failures {
        let failure = failure_of(&failure.error).expect("the run failed a check");
        let SimError::Invariant { check, .. } = &failure.error else {
            panic!("expected the ledger's invariant, got {:?}", failure.error);
        };
        assert_eq!(&**check, "no order is charged twice");
        // The trace tells how: the order's charge reached payments before the crash and
        // again after the restart.
        let order = failure.charged_twice.expect("the ledger names the order");
        let hops: Vec<_> = failure
            .trace
            .events()
            .iter()
            .filter(|e| {
                (e.kind == TraceKind::Deliver && e.id == order && !e.reply)
                    || e.kind == TraceKind::Crash
            })
            .map(|e| e.kind)
            .collect();
        let crash = hops.iter().position(|k| *k == TraceKind::Crash).unwrap();
        assert!(hops[..crash].contains(&TraceKind::Deliver), "{hops:?}");
        assert!(hops[crash..].contains(&TraceKind::Deliver), "{hops:?}");
    }
}

#[test]
fn with_the_keys_on_disk_a_thousand_seeds_pass() {
    let report = sweep(Keys::OnDisk, 0..1_000);
    assert!(report.passed(), "{:?}", report.failing_seeds());
    assert_eq!(report.runs, 1_000);
}
