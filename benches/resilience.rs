//! Criterion bench of the resilience policies on the ask path, one group, `policy_ask`:
//! sequential asks of `Inc(v)` to one `Counter` (the `ask` workload of `messaging.rs`), plain
//! and through a [`Policy`], in one run so the ratio shows:
//!
//! - `snowglobe_ask`: `counter.ask(Inc(v)).await`, the baseline;
//! - `policy_breaker_retry`: the same through a policy with a closed circuit breaker and a
//!   retry of up to three attempts (nothing fails, so it never retries): the target is
//!   ≤ 1.2× the plain ask;
//! - `policy_all`: breaker, retry with a budget, a rate limiter that never runs out, a
//!   concurrency limit and a total deadline: every part on the path.
//!
//! ```text
//! cargo bench --bench resilience                     # about 15 s on 2 cores
//! ```

mod common;

use std::time::{Duration, Instant};

use common::{Count, Counter, Env, Inc, check_sum, stop};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use snowglobe::System;
use snowglobe::resilience::{
    CircuitBreaker, CircuitBreakerConfig, ConcurrencyLimit, Jitter, Policy, RateLimiter, Retry,
    RetryBudget,
};

/// Asks per iteration, as the `ask` workload.
const N: u64 = 10_000;

fn breaker(system: &System) -> CircuitBreaker {
    CircuitBreaker::new(system, CircuitBreakerConfig::new("bench")).expect("bench: breaker config")
}

fn retry() -> Retry {
    Retry::new(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(100))
        .jitter(Jitter::Full)
}

/// The policy of a variant, or none for the plain ask.
fn policy(system: &System, variant: &str) -> Option<Policy> {
    match variant {
        "snowglobe_ask" => None,
        "policy_breaker_retry" => Some(
            Policy::builder(system)
                .circuit_breaker(breaker(system))
                .retry(retry())
                .build(),
        ),
        "policy_all" => {
            let budget =
                RetryBudget::new(system, Duration::from_secs(10), 10, 0.2).expect("bench: budget");
            let limiter =
                RateLimiter::new(system, "bench", 1e9, u32::MAX).expect("bench: rate limit");
            let limit = ConcurrencyLimit::new(system, "bench", 64, Duration::from_millis(10))
                .expect("bench: concurrency limit");
            Some(
                Policy::builder(system)
                    .retry(retry().budget(budget))
                    .circuit_breaker(breaker(system))
                    .rate_limit(limiter, Duration::ZERO)
                    .timeout(Duration::from_secs(5))
                    .total_timeout(Duration::from_secs(10))
                    .concurrency_limit(limit)
                    .build(),
            )
        }
        other => unreachable!("bench: unknown variant {other}"),
    }
}

fn run(env: &Env, variant: &'static str, iters: u64) -> Duration {
    let system = env.system().clone();
    env.run(async move {
        let counter = system
            .spawn(Counter::default())
            .expect("bench: spawn failed");
        let policy = policy(&system, variant);
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let mut sum = 0u64;
            let start = Instant::now();
            match &policy {
                None => {
                    for v in 0..N {
                        sum += counter.ask(Inc(v)).await.expect("bench: ask failed");
                    }
                }
                Some(policy) => {
                    for v in 0..N {
                        sum += policy
                            .call(counter.ask(Inc(v)))
                            .await
                            .expect("bench: call failed");
                    }
                }
            }
            total += start.elapsed();
            check_sum(variant, sum, N);
        }
        let handled = counter.ask(Count).await.expect("bench: ask failed");
        assert_eq!(handled, N * iters, "bench: asks lost or repeated");
        if let Some(policy) = &policy {
            let stats = policy.stats();
            assert_eq!(stats.retries, 0, "bench: nothing fails, nothing is retried");
            assert_eq!(stats.failed_calls, 0, "bench: calls failed");
        }
        stop(&counter).await;
        total
    })
}

fn policy_ask(c: &mut Criterion) {
    let env = Env::new();
    let mut group = c.benchmark_group("policy_ask");
    group
        .throughput(Throughput::Elements(N))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for variant in ["snowglobe_ask", "policy_breaker_retry", "policy_all"] {
        group.bench_function(variant, |b| {
            b.iter_custom(|iters| run(&env, variant, iters));
        });
    }
    group.finish();
}

criterion_group!(benches, policy_ask);
criterion_main!(benches);
