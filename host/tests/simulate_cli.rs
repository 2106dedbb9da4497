//! `warden simulate`, `warden config` and `--help`, driven as a user would: the default run and
//! its report, `--json` parsed and checked, a bad configuration refused with the field and the
//! reason, `--help` for every subcommand, and the HTML report rendered by headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn run(args: &[&str]) -> Output {
    warden()
        .args(args)
        .output()
        .expect("the warden binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("warden-simulate-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

#[test]
fn the_default_simulation_reports_detections_chain_outcome_recovery_and_verdicts() {
    let dir = scratch("default");
    let html = dir.join("report.html");
    let out = run(&["simulate", "--html", html.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for expected in [
        "Faults injected and detected",
        "DoubleVote (tier 1)",
        "ProposalWithholding (tier 2)",
        "MessageFlooding (tier 2)",
        "On chain at the end:",
        "slashing proposal #0",
        "Recovery:",
        "split seen at",
        "safety: yes",
        "liveness: yes",
        "every injected fault detected and isolated: yes",
        "no honest validator accused: yes",
        "replay: warden simulate --seed 2026",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // Not a terminal: no progress bar on standard error.
    assert!(!text(&out.stderr).contains("simulating ["));
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(page.contains("<svg id=\"timeline\""));
    render_in_chromium(&html);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_output_parses_and_holds_the_same_report() {
    let out = run(&["simulate", "--json", "--seed", "7"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(report["seed"], 7);
    assert_eq!(report["validators"], 16);
    assert_eq!(report["verdicts"]["passed"], true);
    assert_eq!(report["verdicts"]["safety"], true);
    let faults = report["faults"].as_array().expect("faults");
    assert_eq!(faults.len(), 3);
    for fault in faults {
        let detected = fault["detected"].as_array().expect("detections");
        assert!(!detected.is_empty(), "{fault}");
        assert!(detected[0]["detected_us"].is_u64(), "{fault}");
        assert!(detected[0]["isolated_us"].is_u64(), "{fault}");
    }
    let operators = report["operators"].as_array().expect("operators");
    assert_eq!(operators.len(), 16);
    assert!(operators
        .iter()
        .any(|o| o["operator"] == 13 && o["isolation"] == "banned"));
    assert!(report["slashing"].as_array().is_some_and(|s| !s.is_empty()));
    assert_eq!(report["replay"], "warden simulate --seed 7");
}

#[test]
fn a_bad_configuration_is_refused_with_the_field_and_the_reason() {
    let dir = scratch("bad-config");
    let bad = dir.join("warden.toml");
    std::fs::write(&bad, "[detection]\ndetection_sensitivity = -1.0\n").unwrap();
    let out = run(&["--config", bad.to_str().unwrap(), "simulate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("detection.detection_sensitivity") && stderr.contains("must be"),
        "{stderr}"
    );
    std::fs::write(&bad, "[detection]\nsensitivity_typo = 3.0\n").unwrap();
    let out = run(&["--config", bad.to_str().unwrap(), "config", "check"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("sensitivity_typo"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_default_prints_every_field_commented_and_parses_back() {
    let out = run(&["config", "default"]);
    assert!(out.status.success());
    let toml = text(&out.stdout);
    assert!(toml.lines().any(|l| l.starts_with('#')));
    for key in [
        "byzantine_detection_enabled",
        "detection_sensitivity",
        "pattern_analysis_window",
        "minimum_witness_count",
        "automatic_isolation",
        "view_change_timeout_ms",
        "reputation_decay_rate_ppm",
        "batch_size",
    ] {
        assert!(toml.contains(key), "{key} missing");
    }
    let dir = scratch("default-config");
    let file = dir.join("warden.toml");
    std::fs::write(&file, &toml).unwrap();
    let out = run(&["--config", file.to_str().unwrap(), "config", "check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_subcommand_answers_help() {
    let commands: &[&[&str]] = &[
        &[],
        &["simulate"],
        &["config"],
        &["config", "default"],
        &["config", "check"],
        &["demo"],
        &["fixtures"],
        &["fixtures", "write"],
        &["fixtures", "check"],
        &["bench"],
        &["chain"],
        &["chain", "genesis"],
        &["chain", "init"],
        &["chain", "serve"],
        &["chain", "submit"],
        &["chain", "query"],
        &["chain", "block"],
        &["chain", "tx"],
        &["chain", "fill"],
        &["chain", "bench"],
        &["sim"],
        &["sim", "run"],
        &["sim", "soak"],
        &["sim", "bench"],
        &["ft"],
        &["ft", "bench"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run(&args);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "warden {args:?}: {}",
            text(&out.stderr)
        );
        assert!(stdout.contains("Usage:"), "warden {args:?}:\n{stdout}");
    }
    let top = text(&run(&["--help"]).stdout);
    assert!(top.contains("warden simulate"), "{top}");
}

/// Renders the report in headless Chromium and reads back what the page's script found laid
/// out: marks of each kind with a non-empty box, and the timeline's width.
fn render_in_chromium(html: &Path) {
    let browser = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(browser) = browser else {
        eprintln!(
            "SKIPPED: the HTML timeline was not rendered: no chromium on this machine \
             (.ci/run installs Debian's `chromium` package; install it to run this check)"
        );
        return;
    };
    let profile = html.with_extension("profile");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=5000",
            &format!("--user-data-dir={}", profile.display()),
            "--window-size=1300,1200",
            "--dump-dom",
        ])
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    let dom = text(&out.stdout);
    let drawn = dom
        .split("data-drawn=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    assert!(
        !drawn.is_empty(),
        "the page's script did not run in {browser}: {}",
        text(&out.stderr)
    );
    let count = |kind: &str| -> u64 {
        drawn
            .split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{kind}:")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    for kind in [
        "onset",
        "detect",
        "isolated",
        "power",
        "leader",
        "commits",
        "epoch",
        "partition",
    ] {
        assert!(count(kind) > 0, "no {kind} drawn: {drawn}");
    }
    assert!(count("width") >= 1000, "timeline too narrow: {drawn}");
}

/// Starts `warden ARGS` with `--metrics-addr 127.0.0.1:0`, reads the address it announces on
/// standard error, and returns the first scrape that contains `metric`.
fn scrape_while_running(args: &[&str], metric: &str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = warden()
        .args(args)
        .args(["--metrics-addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("warden starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("warden announces its metrics address")
            .expect("a line");
        if let Some(rest) = line.strip_prefix("metrics at http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    let mut found = String::new();
    for _ in 0..200 {
        if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
            let mut body = String::new();
            let _ = stream.read_to_string(&mut body);
            if body.contains(metric) {
                found = body;
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    found
}

#[test]
fn metrics_are_served_while_a_simulation_runs() {
    let body = scrape_while_running(&["simulate"], "warden_chain_height");
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE warden_sim_progress_ratio gauge"),
        "{body}"
    );
    assert!(body.contains("warden_byzantine_tolerance_margin"), "{body}");
}

#[test]
fn metrics_are_served_while_a_node_runs() {
    let dir = scratch("node-metrics");
    let data = dir.join("data");
    let genesis = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/genesis.toml");
    let out = run(&[
        "chain",
        "init",
        "--genesis",
        genesis.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body = scrape_while_running(
        &[
            "chain",
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        "warden_chain_height",
    );
    assert!(body.contains("warden_chain_mempool"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}
