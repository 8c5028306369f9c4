//! Seed sweeps: one scenario over many seeds, one simulation per thread.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::{SEED_VAR, SimError, Simulation, Trace};
use crate::System;
use crate::actor::PanicMessage;

/// What [`Simulation::sweep`] found: how many seeds ran, and each one that failed.
#[derive(Debug)]
pub struct SweepReport<E> {
    /// Seeds run.
    pub runs: u64,
    /// The failing seeds, lowest first.
    pub failures: Vec<SweepFailure<E>>,
    /// The command that repeats a seed, after the seed's variable: `cargo test -- --exact
    /// <test>` inside `cargo test`.
    pub command: String,
}

/// One failing seed of a sweep.
#[derive(Debug)]
pub struct SweepFailure<E> {
    /// The seed: `SNOWGLOBE_SEED=<seed>` repeats the run.
    pub seed: u64,
    /// How it failed.
    pub error: SweepError<E>,
}

/// How one seed's run failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum SweepError<E> {
    /// The scenario returned an error (a check that did not hold).
    Scenario(E),
    /// The simulation could not finish the run (it stalled, say).
    Simulation(SimError),
    /// The scenario panicked.
    Panicked(PanicMessage),
}

impl<E> SweepReport<E> {
    /// Whether every seed passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failing seeds, lowest first.
    #[must_use]
    pub fn failing_seeds(&self) -> Vec<u64> {
        self.failures.iter().map(|f| f.seed).collect()
    }
}

impl<E: fmt::Display> fmt::Display for SweepReport<E> {
    /// One line for the sweep, then one per failing seed with the command that repeats it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} seeds, {} failed", self.runs, self.failures.len())?;
        for failure in &self.failures {
            write!(f, "\n  seed {}: ", failure.seed)?;
            match &failure.error {
                SweepError::Scenario(error) => write!(f, "{error}")?,
                SweepError::Simulation(error) => write!(f, "{error}")?,
                SweepError::Panicked(panic) => write!(f, "panicked: {panic}")?,
            }
            write!(
                f,
                " (repeat it: {SEED_VAR}={} {})",
                failure.seed, self.command
            )?;
        }
        Ok(())
    }
}

impl Simulation {
    /// Runs `scenario` once per seed of `seeds`, each in a simulation of its own, on
    /// `threads` threads at once (at least one), and reports the seeds whose run failed:
    /// returned an error, panicked, or could not finish.
    ///
    /// ```
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::Simulation;
    ///
    /// let report = Simulation::sweep(0..64, 2, |system| async move {
    ///     let wait = system.random_u64() % 100;
    ///     system.sleep(Duration::from_millis(wait)).await;
    ///     // A bug that shows for some seeds only.
    ///     if wait == 42 { Err(format!("waited {wait} ms")) } else { Ok(()) }
    /// });
    /// assert_eq!(report.runs, 64);
    /// for failure in &report.failures {
    ///     // Each failing seed fails again, alone.
    ///     let again = Simulation::with_seed(failure.seed).run(|system| async move {
    ///         system.random_u64() % 100
    ///     });
    ///     assert_eq!(again.unwrap(), 42);
    /// }
    /// ```
    pub fn sweep<F, Fut, E>(seeds: Range<u64>, threads: usize, scenario: F) -> SweepReport<E>
    where
        F: Fn(System) -> Fut + Sync,
        Fut: Future<Output = Result<(), E>>,
        E: Send,
    {
        Simulation::with_seed(seeds.start).sweep_seeds(seeds, threads, scenario)
    }

    /// [`sweep`](Simulation::sweep) with this simulation's settings: its
    /// [`invariant`](Simulation::invariant)s checked after every step of every run, and its
    /// FIFO mode. Its own seed is not used; each run has one of `seeds`. The invariants are
    /// shared by runs on different threads at once: with `threads` above one, what they read
    /// must belong to one run (a thread-local, say), not to the whole sweep.
    ///
    /// With [`SEED_VAR`] set, the sweep runs that one seed instead of `seeds`, so that the
    /// command a failure prints repeats just the failing run.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use snowglobe_runtime::sim::{SimError, Simulation, SweepError};
    ///
    /// let high = Arc::new(AtomicU64::new(0));
    /// let sim = Simulation::with_seed(0).invariant("draws stay below 250", {
    ///     let high = high.clone();
    ///     move || high.load(Ordering::Relaxed) < 250
    /// });
    /// let report = sim.sweep_seeds(0..100, 1, |system| {
    ///     let high = high.clone();
    ///     async move {
    ///         high.store(system.random_u64() % 256, Ordering::Relaxed);
    ///         Ok::<(), String>(())
    ///     }
    /// });
    /// assert!(report.failures.iter().all(|f| matches!(
    ///     &f.error,
    ///     SweepError::Simulation(SimError::Invariant { .. })
    /// )));
    /// ```
    pub fn sweep_seeds<F, Fut, E>(
        &self,
        seeds: Range<u64>,
        threads: usize,
        scenario: F,
    ) -> SweepReport<E>
    where
        F: Fn(System) -> Fut + Sync,
        Fut: Future<Output = Result<(), E>>,
        E: Send,
    {
        Simulation::sweep_runs(seeds, threads, |seed| {
            let mut sim = Simulation {
                seed,
                fifo: self.fifo,
                link: self.link,
                trace: Trace::default(),
                invariants: self.invariants.clone(),
                eventually: self.eventually.clone(),
                check_every: self.check_every,
            };
            match sim.run(&scenario) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(SweepError::Scenario(error)),
                Err(error) => Err(SweepError::Simulation(error)),
            }
        })
    }

    /// The most general sweep: `run` runs one seed however it likes (builds its own
    /// simulation, with checks that read state of that run only, runs it, looks at the
    /// trace) and says whether it passed. Seeds go to `threads` threads at once (at least
    /// one); a panic in `run` counts as a failure of that seed. With [`SEED_VAR`] set, only
    /// that seed runs.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    /// use snowglobe_runtime::sim::{Simulation, SweepError};
    ///
    /// let report = Simulation::sweep_runs(0..50, 2, |seed| {
    ///     // State of this run alone, read by its invariant.
    ///     let waited = Arc::new(AtomicU64::new(0));
    ///     let check = waited.clone();
    ///     let mut sim = Simulation::with_seed(seed)
    ///         .invariant("waits stay short", move || check.load(Ordering::Relaxed) < 90);
    ///     sim.run(|system| async move {
    ///         let ms = system.random_u64() % 100;
    ///         waited.store(ms, Ordering::Relaxed);
    ///         system.sleep(Duration::from_millis(ms)).await;
    ///     })
    ///     .map_err(SweepError::<()>::Simulation)
    /// });
    /// assert_eq!(report.runs, 50);
    /// assert!(!report.passed()); // about one seed in ten draws 90 or more
    /// ```
    pub fn sweep_runs<F, E>(seeds: Range<u64>, threads: usize, run: F) -> SweepReport<E>
    where
        F: Fn(u64) -> Result<(), SweepError<E>> + Sync,
        E: Send,
    {
        let seeds = match std::env::var(SEED_VAR)
            .ok()
            .as_deref()
            .and_then(super::parse_seed)
        {
            Some(seed) => seed..seed.saturating_add(1),
            None => seeds,
        };
        let command = super::repeat_command(0).replacen(&format!("{SEED_VAR}=0 "), "", 1);
        let next = AtomicU64::new(seeds.start);
        let failures = Mutex::new(Vec::new());
        let work = || {
            loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds.end {
                    return;
                }
                let error = match catch_unwind(AssertUnwindSafe(|| run(seed))) {
                    Ok(Ok(())) => continue,
                    Ok(Err(error)) => error,
                    Err(payload) => SweepError::Panicked(PanicMessage::from_payload(&*payload)),
                };
                failures.lock().push(SweepFailure { seed, error });
            }
        };
        // The workers carry the caller's name (inside `cargo test`, the test's), so that a
        // failure's command names the test to repeat.
        let name = std::thread::current().name().map(str::to_owned);
        std::thread::scope(|scope| {
            for _ in 1..threads.max(1) {
                let mut builder = std::thread::Builder::new();
                if let Some(name) = &name {
                    builder = builder.name(name.clone());
                }
                if builder.spawn_scoped(scope, work).is_err() {
                    // No thread to be had: this one does the work alone.
                    break;
                }
            }
            work();
        });
        let mut failures = failures.into_inner();
        failures.sort_by_key(|f| f.seed);
        SweepReport {
            runs: seeds.end.saturating_sub(seeds.start),
            failures,
            command,
        }
    }
}
