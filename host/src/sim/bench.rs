//! The simulator benchmark: simulated views per wall-clock second and peak memory for honest
//! networks of several sizes with real signatures, next to the floor: the time it takes just to
//! sign each distinct message of the run once and verify it once.

use std::fmt::Write as _;
use std::time::Instant;

use warden_module::crypto::{Ed25519Strict, Verifier};
use warden_module::wire::{Message, Vote};

use super::network::NetworkConfig;
use super::scenario::{Expect, Scenario};
use crate::testkit::{key, public, sign};

/// One size's figures.
#[derive(Clone, Debug)]
pub struct BenchRow {
    /// Validators.
    pub validators: u32,
    /// Views simulated.
    pub views: u64,
    /// Committed height.
    pub height: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Distinct messages signed.
    pub signed: u64,
    /// Signatures verified (each distinct signature once).
    pub verified: u64,
    /// Seconds to sign and verify each distinct message once.
    pub floor_seconds: f64,
    /// Processor seconds (user and system) of the run, if the platform reports them.
    pub cpu_seconds: Option<f64>,
    /// Peak resident memory in KiB (`VmHWM`), if the platform reports it.
    pub peak_kib: Option<u64>,
}

/// Mean processor seconds to sign and to verify one vote (processor time, so that other
/// load on the machine does not skew the floor).
pub fn signing_costs(samples: u32) -> (f64, f64) {
    let k = key(1);
    let pk = public(&k);
    let msgs: Vec<Vec<u8>> = (0..samples)
        .map(|i| {
            Message::Vote(Vote {
                view: u64::from(i),
                block_hash: [i as u8; 32],
                justify_view: 0,
            })
            .signing_bytes(1, 1)
        })
        .collect();
    let clock = || cpu_seconds().unwrap_or(0.0);
    let wall = Instant::now();
    let start = clock();
    let sigs: Vec<_> = msgs.iter().map(|m| sign(&k, m)).collect();
    let mut sign_s = clock() - start;
    let middle = wall.elapsed().as_secs_f64();
    let start = clock();
    let ok = msgs
        .iter()
        .zip(&sigs)
        .filter(|(m, s)| Ed25519Strict.verify(&pk, m, s))
        .count();
    let mut verify_s = clock() - start;
    if cpu_seconds().is_none() {
        sign_s = middle;
        verify_s = wall.elapsed().as_secs_f64() - middle;
    }
    assert_eq!(ok, msgs.len(), "fresh signatures verify");
    let n = f64::from(samples.max(1));
    (sign_s / n, verify_s / n)
}

/// User plus system time of this process, in seconds (Linux `/proc/self/stat`, at the usual
/// 100 ticks per second).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The honest scenario the benchmark runs for `validators` and `views`.
pub fn bench_scenario(validators: u32, views: u64) -> Scenario {
    Scenario {
        name: format!("bench-{validators}"),
        description: "honest network, real signatures".into(),
        seed: 1,
        validators,
        powers: Vec::new(),
        duration_us: 3_600_000_000,
        stop_at_view: Some(views),
        base_timeout_us: 500_000,
        max_backoff_exp: 4,
        network: NetworkConfig {
            latency_min_us: 1_000,
            latency_max_us: 2_000,
            ..NetworkConfig::default()
        },
        adversaries: Vec::new(),
        twins: Vec::new(),
        crashes: Vec::new(),
        warden: None,
        expect: Expect::default(),
    }
}

/// Runs one size.
pub fn bench_one(validators: u32, views: u64, costs: (f64, f64)) -> BenchRow {
    reset_peak();
    let scenario = bench_scenario(validators, views);
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let report = super::run(&scenario);
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    BenchRow {
        validators,
        views: report.max_view,
        height: report.height,
        seconds,
        signed: report.crypto.signed,
        verified: report.crypto.verified,
        floor_seconds: report.crypto.signed as f64 * (costs.0 + costs.1),
        cpu_seconds: cpu,
        peak_kib: peak_kib(),
    }
}

/// Runs every size and formats the table.
pub fn run(sizes: &[u32], views: u64) -> String {
    let costs = signing_costs(2_000);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "sign {:.1} us, verify_strict {:.1} us per message (processor time); floor = distinct messages x (sign + verify)",
        costs.0 * 1e6,
        costs.1 * 1e6
    );
    let _ = writeln!(
        s,
        "{:>10} {:>7} {:>7} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "validators",
        "views",
        "height",
        "wall s",
        "cpu s",
        "views/s",
        "views/cpu",
        "floor v/s",
        "of floor",
        "peak MiB"
    );
    for &n in sizes {
        let row = bench_one(n, views, costs);
        let rate = row.views as f64 / row.seconds.max(1e-9);
        let cpu_rate = row.views as f64 / row.cpu_seconds.unwrap_or(row.seconds).max(1e-9);
        let floor = row.views as f64 / row.floor_seconds.max(1e-9);
        let _ = writeln!(
            s,
            "{:>10} {:>7} {:>7} {:>9.2} {:>8} {:>10.1} {:>10.1} {:>10.1} {:>9.0}% {:>10}",
            row.validators,
            row.views,
            row.height,
            row.seconds,
            row.cpu_seconds
                .map_or("n/a".to_string(), |c| format!("{c:.2}")),
            rate,
            cpu_rate,
            floor,
            100.0 * cpu_rate / floor.max(1e-9),
            row.peak_kib
                .map_or("n/a".to_string(), |k| format!("{:.1}", k as f64 / 1024.0))
        );
    }
    s
}
