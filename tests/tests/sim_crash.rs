//! Crashes and restarts of honest replicas never make them sign conflicting messages: their
//! safety state survives in the durable store.

mod sim_common;

use sim_common::{run_expecting, scenario};
use warden_host::sim::checker::Violation;
use warden_host::sim::network::Crash;
use warden_host::sim::rng::Rng;

#[test]
fn crash_restart_never_makes_an_honest_replica_sign_conflicting_messages() {
    for seed in 0..6u64 {
        let mut s = scenario("crashes", 8_000 + seed, 4, 3_000_000);
        let mut rng = Rng::new(seed);
        // Crash each replica several times at arbitrary instants, mid-view included.
        for _ in 0..12 {
            let node = rng.range(0, 3) as u32;
            let at_us = rng.range(10_000, 2_500_000);
            s.crashes.push(Crash {
                node,
                at_us,
                restart_us: Some(at_us + rng.range(1, 200_000)),
                lose_disk: false,
            });
        }
        s.expect.liveness = false;
        let report = run_expecting(
            &s,
            |r| {
                !r.violations
                    .iter()
                    .any(|v| matches!(v, Violation::HonestOffence { .. }))
                    && r.safe()
            },
            "crash and restart",
        );
        assert!(report.height > 0, "seed {}: nothing committed", s.seed);
    }
}

#[test]
fn a_restarted_replica_catches_up_and_commits() {
    let mut s = scenario("catch-up", 8_100, 4, 5_000_000);
    s.crashes.push(Crash {
        node: 2,
        at_us: 500_000,
        restart_us: Some(3_000_000),
        lose_disk: false,
    });
    let report = run_expecting(&s, |r| r.violations.is_empty(), "catch up after restart");
    assert!(report.height > 30, "height {}", report.height);
}
