//! Replay: one seed gives the same run, event for event.

mod sim_common;

use sim_common::{every_behaviour, scenario, with_adversaries};
use warden_host::sim::network::{Crash, Partition};
use warden_host::sim::{run, Scenario};

fn busy(seed: u64) -> Scenario {
    let mut s = with_adversaries(
        scenario("replay", seed, 7, 1_500_000),
        &[3, 6],
        every_behaviour(),
    );
    s.twins = vec![2];
    s.network.partitions.push(Partition {
        start_us: 300_000,
        end_us: 700_000,
        groups: vec![vec![0, 1, 2], vec![3, 4, 5, 6, 7]],
    });
    s.crashes.push(Crash {
        node: 0,
        at_us: 900_000,
        restart_us: Some(1_000_000),
        lose_disk: false,
    });
    s
}

#[test]
fn replaying_a_seed_gives_the_same_run_event_for_event() {
    for seed in [1u64, 42, 9_001] {
        let a = run(&busy(seed));
        let b = run(&busy(seed));
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}: traces differ");
        assert_eq!(a.events, b.events, "seed {seed}");
        assert_eq!(a.height, b.height, "seed {seed}");
        assert_eq!(a.violations, b.violations, "seed {seed}");
        assert_eq!(a.offences, b.offences, "seed {seed}");
        assert_eq!(a.crypto, b.crypto, "seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let a = run(&busy(5));
    let b = run(&busy(6));
    assert_ne!(a.trace_hash, b.trace_hash);
}

#[test]
fn random_soak_scenarios_replay_from_their_seed() {
    for seed in [3u64, 17] {
        assert_eq!(Scenario::random(seed), Scenario::random(seed));
        assert_eq!(
            run(&Scenario::random(seed)).trace_hash,
            run(&Scenario::random(seed)).trace_hash
        );
    }
}
