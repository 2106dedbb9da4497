//! Liveness: once faults are at most f and partitions have healed, commits resume within the
//! bound the checker states.

mod sim_common;

use sim_common::{run_expecting, scenario, with_adversaries};
use warden_host::sim::adversary::Attack;
use warden_host::sim::network::Partition;
use warden_host::sim::run;

#[test]
fn commits_resume_after_a_partition_heals() {
    for seed in 0..4u64 {
        let mut s = scenario("partition", 5_000 + seed, 7, 6_000_000);
        // 4 / 3: neither side holds a quorum while the partition lasts.
        s.network.partitions.push(Partition {
            start_us: 1_000_000,
            end_us: 3_000_000,
            groups: vec![vec![0, 1, 2, 3], vec![4, 5, 6]],
        });
        let report = run_expecting(&s, |r| r.violations.is_empty(), "liveness after heal");
        assert_eq!(report.liveness_from_us, Some(3_000_000));
        // The same seed cut at the heal is a prefix of the full run.
        let mut cut = s.clone();
        cut.duration_us = 3_000_000;
        let at_heal = run(&cut).height;
        let mut during = s.clone();
        during.duration_us = 1_000_000;
        let before = run(&during).height;
        assert!(
            at_heal <= before + 1,
            "seed {}: no quorum while partitioned, yet height went from {before} to {at_heal}",
            s.seed
        );
        assert!(
            report.height > at_heal + 10,
            "seed {}: commits did not resume after the heal ({at_heal} -> {})",
            s.seed,
            report.height
        );
    }
}

#[test]
fn commits_resume_after_a_three_way_partition_with_f_byzantine() {
    for seed in 0..2u64 {
        let mut s = scenario("split3", 6_000 + seed, 10, 8_000_000);
        s = with_adversaries(s, &[9], vec![Attack::ProposalWithholding]);
        s = with_adversaries(s, &[3], vec![Attack::VoteWithholding]);
        s.network.partitions.push(Partition {
            start_us: 500_000,
            end_us: 2_500_000,
            groups: vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8, 9]],
        });
        let report = run_expecting(
            &s,
            |r| r.violations.is_empty(),
            "liveness after a 3-way heal",
        );
        assert!(
            report.height > 10,
            "seed {}: height {}",
            s.seed,
            report.height
        );
    }
}

#[test]
fn the_checker_reports_a_stall_it_is_owed() {
    // Permanently partitioned with no quorum anywhere: the checker must flag liveness.
    let mut s = scenario("stall", 7_000, 4, 30_000_000);
    s.network.partitions.push(Partition {
        start_us: 0,
        end_us: 1_000,
        groups: vec![vec![0, 1], vec![2, 3]],
    });
    s.crashes.push(warden_host::sim::network::Crash {
        node: 0,
        at_us: 1_000_000,
        restart_us: Some(1_000_001),
        lose_disk: false,
    });
    // Two crashed for good is more than f: liveness is not owed, and none is flagged.
    let mut owed_none = s.clone();
    owed_none.crashes = vec![
        warden_host::sim::network::Crash {
            node: 0,
            at_us: 500_000,
            restart_us: None,
            lose_disk: false,
        },
        warden_host::sim::network::Crash {
            node: 1,
            at_us: 500_000,
            restart_us: None,
            lose_disk: false,
        },
    ];
    let report = run(&owed_none);
    assert_eq!(report.liveness_from_us, None);
    assert!(report.violations.is_empty());
    // One crashed for good is within f: commits continue.
    let mut one = owed_none.clone();
    one.crashes.truncate(1);
    one.duration_us = 3_000_000;
    run_expecting(
        &one,
        |r| r.violations.is_empty() && r.height > 10,
        "one replica down for good",
    );
}
