//! `warden forensics` driven as a user would, on what a simulation left on disk: the culprits
//! of a fork by amnesia, their power and their evidence; JSON that says the same; and clear
//! errors for a directory without records and for a file that is not one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("the warden binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/scenarios/accountable")
        .join(name)
        .display()
        .to_string()
}

/// A simulation of the amnesia fork on four validators, with its data kept in a temporary
/// directory.
fn forked_data() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().to_str().expect("utf-8 path");
    let out = run(&[
        "simulate",
        "--scenario",
        &scenario("amnesia_4.toml"),
        "--data",
        data,
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    dir
}

#[test]
fn forensics_on_a_simulation_of_an_amnesia_fork_prints_the_coalition_and_its_lock_violations() {
    let dir = forked_data();
    let data = dir.path().to_str().expect("utf-8 path");
    let out = run(&["forensics", data]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("lock violations"), "{stdout}");
    assert!(
        stdout.contains("culprits: 20 of 40 power (more than a third)"),
        "{stdout}"
    );
    for culprit in ["v0  power 10  LockViolation", "v1  power 10  LockViolation"] {
        assert!(stdout.contains(culprit), "{culprit} missing:\n{stdout}");
    }
    for honest in ["v2  power", "v3  power"] {
        assert!(!stdout.contains(honest), "{honest} accused:\n{stdout}");
    }

    let out = run(&["forensics", data, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["accountable"], true);
    assert_eq!(json["culprit_power"], 20);
    let operators: Vec<u64> = json["culprits"]
        .as_array()
        .expect("culprits")
        .iter()
        .map(|c| c["operator"].as_u64().expect("operator"))
        .collect();
    assert_eq!(operators, vec![0, 1]);

    // The hosts relayed the same evidence during the run: the chain knows it already.
    let out = run(&["forensics", data, "--submit"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("submitted 2 pieces of evidence"),
        "{stdout}"
    );
    assert!(stdout.contains("Duplicate"), "{stdout}");
}

#[test]
fn forensics_without_records_or_on_a_corrupt_record_says_why() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = run(&["forensics", dir.path().to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no certificate records"),
        "{}",
        text(&out.stderr)
    );

    let host: PathBuf = dir.path().join("host-0");
    std::fs::create_dir_all(&host).expect("dir");
    std::fs::write(host.join("certificates.borsh"), b"not a record").expect("write");
    let out = run(&["forensics", dir.path().to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not a certificate record"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&["forensics", "/definitely/not/here"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("is not a directory"),
        "{}",
        text(&out.stderr)
    );
}
