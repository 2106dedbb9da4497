//! Crash safety of the chain runtime: the `warden` binary is killed with SIGKILL at random
//! points while it produces blocks, and every restart finds whole blocks only.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warden_host::chain::genesis::GenesisFile;
use warden_host::chain::Chain;
use warden_host::testkit::TestNetwork;

/// SplitMix64: a small seeded generator, so a failing run replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn temp_dir() -> PathBuf {
    support::temp_dir("crash")
}

#[test]
fn sigkill_during_block_production_never_leaves_a_partial_block() {
    let seed = std::env::var("WARDEN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0003_u64);
    let rounds: u32 = std::env::var("WARDEN_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    println!("crash test seed {seed} ({rounds} rounds; rerun with WARDEN_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dir = temp_dir();
    let genesis = GenesisFile::from_network(&TestNetwork::new(7, 7), 1_700_000_000_000);
    let chain = Chain::init(&genesis, &dir).expect("the chain initialises");
    let mut height = chain.head().height;
    drop(chain);
    let start = Instant::now();
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args([
                "chain", "fill", "--blocks", "100000", "--txs", "4", "--data",
            ])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the warden binary starts");
        // Kill at a random point: from before the database is open to deep into production.
        let wait = Duration::from_millis(50 + rng.next() % 700);
        std::thread::sleep(wait);
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                use std::io::Read;
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("seed {seed}, round {round}: warden exited early ({status}): {err}");
        }
        // `Child::kill` sends SIGKILL on Unix: no destructor, no flush, no clean shutdown.
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");

        let chain = Chain::open(&dir)
            .unwrap_or_else(|e| panic!("seed {seed}, round {round}: reopening failed: {e:#}"));
        let checked = chain.verify_integrity().unwrap_or_else(|e| {
            panic!("seed {seed}, round {round} (killed after {wait:?}): {e:#}")
        });
        assert!(
            chain.head().height >= height,
            "seed {seed}, round {round}: the head went back from {height} to {}",
            chain.head().height
        );
        println!(
            "round {round}: killed after {wait:?}, head {} ({checked} blocks checked)",
            chain.head().height
        );
        height = chain.head().height;
    }
    assert!(
        height > 0,
        "seed {seed}: no block was ever committed in {:?}; the kills all came too early",
        start.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
