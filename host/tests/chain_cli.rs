//! The `warden chain` command line: init from the sample genesis, submit, query, block and tx
//! on a data directory and through a running node.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn warden(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("the warden binary runs");
    assert!(
        out.status.success(),
        "warden {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn temp_dir(label: &str) -> PathBuf {
    support::temp_dir(&format!("cli-{label}"))
}

fn sample_genesis() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/genesis.toml")
}

#[test]
fn the_sample_genesis_is_current_with_the_test_keys() {
    let dir = temp_dir("genesis");
    let out = dir.join("genesis.toml");
    warden(&[
        "chain",
        "genesis",
        "--chain-id",
        "7",
        "--validators",
        "7",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    let fresh = std::fs::read_to_string(&out).expect("written");
    let stored = std::fs::read_to_string(sample_genesis()).expect("fixtures/genesis.toml");
    let body = |text: &str| {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        body(&fresh),
        body(&stored),
        "regenerate fixtures/genesis.toml"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_commands_work_on_a_data_directory_and_through_a_node() {
    let dir = temp_dir("data");
    let data = dir.join("chain");
    let data = data.to_str().expect("utf-8");
    let genesis = sample_genesis();
    let out = warden(&[
        "chain",
        "init",
        "--genesis",
        genesis.to_str().expect("utf-8"),
        "--data",
        data,
    ]);
    assert!(out.contains("initialised chain 7"), "{out}");

    // Directly on the data directory.
    let out = warden(&[
        "chain",
        "submit",
        "--data",
        data,
        "--key-seed",
        "2000000",
        "--double-vote",
        "1:5",
        "--produce",
    ]);
    assert!(
        out.contains("block 1") && out.contains("\"status\": \"ok\""),
        "{out}"
    );
    let out = warden(&["chain", "query", "--data", data, "status"]);
    assert_eq!(banned(&out), 1, "{out}");
    let out = warden(&["chain", "block", "--data", data, "1"]);
    assert!(out.contains("\"height\": 1"), "{out}");

    // Through a node.
    let mut node = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "chain",
            "serve",
            "--data",
            data,
            "--listen",
            "127.0.0.1:0",
            "--block-interval-ms",
            "0",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the node starts");
    let mut line = String::new();
    BufReader::new(node.stderr.take().expect("stderr"))
        .read_line(&mut line)
        .expect("the node prints its address");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .expect("an address")
        .to_string();
    let result = std::panic::catch_unwind(|| {
        let out = warden(&[
            "chain",
            "submit",
            "--node",
            &addr,
            "--key-seed",
            "2000000",
            "--double-vote",
            "2:5",
            "--produce",
        ]);
        assert!(
            out.contains("nonce 1") && out.contains("\"height\": 2"),
            "{out}"
        );
        let hash = out.split_whitespace().nth(1).expect("the hash").to_string();
        let out = warden(&["chain", "tx", "--node", &addr, &hash]);
        assert!(out.contains("\"status\": \"ok\""), "{out}");
        let out = warden(&["chain", "query", "--node", &addr, "status"]);
        assert_eq!(banned(&out), 2, "{out}");
        let out = warden(&["chain", "block", "--node", &addr]);
        assert!(out.contains("\"height\": 2"), "{out}");
        let out = warden(&["chain", "query", "--node", &addr, "isolation", "2"]);
        assert!(out.contains("Banned"), "{out}");
    });
    let _ = node.kill();
    let _ = node.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The `banned` count of a `warden chain query ... status` answer, from its decoded JSON.
fn banned(out: &str) -> u64 {
    let answer: serde_json::Value = serde_json::from_str(out).expect("the answer is JSON");
    answer["decoded"]["Status"]["banned"]
        .as_u64()
        .unwrap_or_else(|| panic!("no decoded status in {out}"))
}
