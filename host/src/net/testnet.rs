//! `warden testnet`: a chain node (`warden chain serve`), one `warden node` process per
//! validator and a relayer (`warden relay`) on loopback, with Byzantine validators (the
//! simulator's adversaries) and real perturbations at given times: SIGKILL and restart,
//! SIGSTOP and SIGCONT. The testnet is the chain's governance: when the validators have
//! committed an epoch's blocks, it rotates the set as the chain's isolation decides
//! ([`crate::chain::rotation`], as the simulator does). At the end it reads what every node
//! committed and what the chain recorded, and judges safety, liveness, detection, isolation
//! and recovery.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_module::msg::{Msg, Query, QueryResponse, Rotation};
use warden_module::wire::{OperatorId, PublicKey};

use super::node::{commits_path, now_us};
use super::proxy::Proxy;
use crate::chain::client::Client;
use crate::chain::genesis::GenesisFile;
use crate::chain::rotation::{bounded, next_validators};
use crate::chain::Chain;
use crate::ft::config::FaultToleranceConfig;
use crate::ft::manager::http_query;
use crate::ft::relay::{HttpSubmitter, Submitter};
use crate::sim::adversary::Attack;
use crate::testkit::TestNetwork;

/// The manifest `warden testnet` runs with no arguments.
pub const DEFAULT_MANIFEST: &str = include_str!("../../../fixtures/testnets/default.toml");

/// Every validator's power in the genesis set (`TestNetwork`'s).
const NOMINAL_POWER: u64 = 10;
/// The relayer's key seed (its chain account).
const RELAYER_SEED: u64 = 3_000_000;
/// How long a process may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// A run passes liveness when honest validators committed within this much of its end.
const LIVENESS_WINDOW_US: u64 = 5_000_000;

/// A testnet: validators, their behaviours and what happens to them when.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Its name, for the report.
    #[serde(default = "default_name")]
    pub name: String,
    /// Validators (operators 0..n, keys of test seeds 0..n, power 10 each).
    pub validators: u32,
    /// How long it runs, in seconds.
    pub duration_s: u64,
    /// The chain id.
    #[serde(default = "default_chain_id")]
    pub chain_id: u64,
    /// The first view timer, in milliseconds.
    #[serde(default = "default_view_timeout_ms")]
    pub view_timeout_ms: u64,
    /// A leader proposes no sooner than this after its previous proposal.
    #[serde(default = "default_block_interval_ms")]
    pub block_interval_ms: u64,
    /// Blocks per epoch: once a validator committed this many in an epoch, the governance
    /// rotates the set.
    #[serde(default = "default_epoch_blocks")]
    pub epoch_blocks: u64,
    /// Byzantine validators.
    #[serde(default)]
    pub byzantine: Vec<Byzantine>,
    /// Perturbations, in time order.
    #[serde(default)]
    pub events: Vec<Perturbation>,
}

fn default_name() -> String {
    "testnet".into()
}
fn default_chain_id() -> u64 {
    7
}
fn default_view_timeout_ms() -> u64 {
    1000
}
fn default_block_interval_ms() -> u64 {
    100
}
fn default_epoch_blocks() -> u64 {
    100
}

/// One Byzantine validator.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Byzantine {
    /// Its operator.
    pub validator: OperatorId,
    /// Its behaviours, as in simulator scenarios (`{ kind = "double_vote", phase = 1 }`).
    pub behaviours: Vec<Attack>,
}

/// What a perturbation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// SIGKILL: no clean shutdown, no flush.
    Kill,
    /// Start a killed process again, on the same data directory.
    Restart,
    /// SIGSTOP: the process freezes (its peers see a silent link).
    Stop,
    /// SIGCONT.
    Resume,
    /// Cut every link between validators of different `groups` (through the fault proxies in
    /// front of the validators' ports); the processes run on.
    Partition,
    /// Heal every cut link.
    Heal,
}

/// A perturbation at a given time.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perturbation {
    /// Milliseconds after the validators start.
    pub at_ms: u64,
    /// What to do.
    pub action: Action,
    /// To whom (kill, restart, stop, resume): `v<N>` (a validator) or `relayer`.
    #[serde(default)]
    pub process: Option<String>,
    /// For a partition: the sides, as lists of validators.
    #[serde(default)]
    pub groups: Vec<Vec<OperatorId>>,
}

impl Perturbation {
    /// What it acts on, for the report.
    pub fn target(&self) -> String {
        match self.action {
            Action::Partition => self
                .groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|v| format!("v{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect::<Vec<_>>()
                .join(" | "),
            Action::Heal => "every link".into(),
            _ => self.process.clone().unwrap_or_default(),
        }
    }
}

impl Manifest {
    /// Parses and checks a manifest: every field named, values in range, processes that
    /// exist, perturbations in a sensible order.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let m: Manifest = toml::from_str(text).context("the testnet manifest")?;
        anyhow::ensure!(
            (4..=32).contains(&m.validators),
            "validators = {}: a testnet has 4 to 32",
            m.validators
        );
        anyhow::ensure!(
            (1..=3_600).contains(&m.duration_s),
            "duration_s = {}: 1 to 3600",
            m.duration_s
        );
        anyhow::ensure!(
            (50..=60_000).contains(&m.view_timeout_ms),
            "view_timeout_ms = {}: 50 to 60000",
            m.view_timeout_ms
        );
        anyhow::ensure!(
            m.block_interval_ms <= 10_000,
            "block_interval_ms = {}: at most 10000",
            m.block_interval_ms
        );
        anyhow::ensure!(
            m.epoch_blocks >= 10,
            "epoch_blocks = {}: at least 10",
            m.epoch_blocks
        );
        let mut faulty = BTreeSet::new();
        for b in &m.byzantine {
            anyhow::ensure!(
                b.validator < m.validators,
                "byzantine validator {} is not one of the {} validators",
                b.validator,
                m.validators
            );
            anyhow::ensure!(
                faulty.insert(b.validator),
                "byzantine validator {} is listed twice",
                b.validator
            );
            anyhow::ensure!(
                !b.behaviours.is_empty(),
                "byzantine validator {} has no behaviours",
                b.validator
            );
        }
        anyhow::ensure!(
            3 * faulty.len() < m.validators as usize,
            "{} byzantine validators of {}: HotStuff-2 tolerates fewer than a third",
            faulty.len(),
            m.validators
        );
        let mut last = 0;
        for e in &m.events {
            anyhow::ensure!(
                e.at_ms >= last,
                "events must be in time order (at_ms {})",
                e.at_ms
            );
            anyhow::ensure!(
                e.at_ms < m.duration_s * 1_000,
                "an event at {} ms is after the end",
                e.at_ms
            );
            last = e.at_ms;
            match e.action {
                Action::Partition => {
                    anyhow::ensure!(
                        e.groups.len() >= 2,
                        "a partition at {} ms needs at least two groups",
                        e.at_ms
                    );
                    let mut seen = BTreeSet::new();
                    for v in e.groups.iter().flatten() {
                        anyhow::ensure!(
                            *v < m.validators && seen.insert(*v),
                            "partition at {} ms: validator {v} is unknown or listed twice",
                            e.at_ms
                        );
                    }
                }
                Action::Heal => {}
                _ => {
                    let process = e.process.as_deref().unwrap_or_default();
                    anyhow::ensure!(
                        process == "relayer"
                            || validator_of(process).is_some_and(|v| v < m.validators),
                        "event at {} ms: process `{process}`: expected v0..v{} or relayer",
                        e.at_ms,
                        m.validators - 1
                    );
                }
            }
        }
        Ok(m)
    }

    fn behaviours(&self, v: OperatorId) -> &[Attack] {
        self.byzantine
            .iter()
            .find(|b| b.validator == v)
            .map_or(&[], |b| b.behaviours.as_slice())
    }
}

fn validator_of(name: &str) -> Option<OperatorId> {
    name.strip_prefix('v')?.parse().ok()
}

/// `warden testnet`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// The manifest (default: the embedded one, `fixtures/testnets/default.toml`).
    pub manifest: Option<PathBuf>,
    /// Keep every process's data and log here (default: a temporary directory, removed at
    /// the end).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write a self-contained HTML report with a timeline to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Override the manifest's duration, in seconds.
    #[arg(long)]
    pub duration_s: Option<u64>,
    /// The fault-tolerance configuration (the global `--config`): the genesis takes its module
    /// settings, and every process the testnet starts runs with it.
    #[arg(skip)]
    pub config: Option<PathBuf>,
}

/// The options every process the testnet starts is given before its subcommand: the
/// configuration file, by an absolute path (the processes may not share the testnet's working
/// directory).
fn global_args(config: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let Some(path) = config else {
        return Ok(Vec::new());
    };
    let path = std::path::absolute(path)
        .with_context(|| format!("the configuration's path {}", path.display()))?;
    Ok(vec!["--config".into(), path.display().to_string()])
}

/// A process the testnet started.
struct Proc {
    name: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    stopped: bool,
    starts: u32,
}

impl Proc {
    fn new(name: &str, args: Vec<String>, dir: &Path) -> Self {
        Self {
            name: name.into(),
            args,
            log: dir.join(format!("{name}.log")),
            child: None,
            stopped: false,
            starts: 0,
        }
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("the warden binary's path")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let child = Command::new(exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.child = Some(child);
        self.stopped = false;
        self.starts += 1;
        Ok(())
    }

    fn signal(&mut self, signal: libc::c_int) {
        if let Some(child) = &self.child {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: sending a signal to a child this process started and has not reaped.
                unsafe {
                    libc::kill(pid, signal);
                }
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    fn terminate(&mut self, grace: Duration) {
        if self.stopped {
            self.signal(libc::SIGCONT);
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while let Some(child) = self.child.as_mut() {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => {
                    self.child = None;
                    break;
                }
                Ok(None) if Instant::now() >= deadline => {
                    self.kill();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status.to_string())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }
}

/// Every process of a run; all are stopped when it is dropped (also on an error or Ctrl-C).
struct Processes(Vec<Proc>);

impl Drop for Processes {
    fn drop(&mut self) {
        for p in &mut self.0 {
            if p.stopped {
                p.signal(libc::SIGCONT);
            }
            p.kill();
        }
    }
}

impl Processes {
    fn get(&mut self, name: &str) -> Option<&mut Proc> {
        self.0.iter_mut().find(|p| p.name == name)
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn wait_until(what: &str, proc: &mut Proc, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while !ready() {
        if let Some(status) = proc.exited() {
            anyhow::bail!("{what} exited ({status}):\n{}", proc.log_tail());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what} did not answer within {START_TIMEOUT:?}:\n{}",
            proc.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// One committed block as a node logged it.
#[derive(Clone, Debug, Serialize)]
pub struct Commit {
    /// Epoch.
    pub epoch: u64,
    /// Height in the epoch.
    pub height: u64,
    /// Block hash (hex).
    pub hash: String,
    /// When, in microseconds since the run's start.
    pub at_us: u64,
}

/// Reads a node's commit log as it grows.
struct CommitLog {
    path: PathBuf,
    offset: u64,
    commits: Vec<Commit>,
}

impl CommitLog {
    fn read_new(&mut self, start_us: u64) {
        let Ok(mut file) = File::open(&self.path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !line.ends_with('\n') {
                break; // A line still being written: read it next time.
            }
            self.offset += line.len() as u64;
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [epoch, height, hash, at] = f[..] {
                if let (Ok(epoch), Ok(height), Ok(at)) =
                    (epoch.parse(), height.parse(), at.parse::<u64>())
                {
                    self.commits.push(Commit {
                        epoch,
                        height,
                        hash: hash.to_string(),
                        at_us: at.saturating_sub(start_us),
                    });
                }
            }
            line.clear();
        }
    }
}

/// An epoch the governance started.
#[derive(Clone, Debug, Serialize)]
pub struct EpochStart {
    /// The epoch.
    pub epoch: u64,
    /// When the rotation was included, in microseconds since the start.
    pub at_us: u64,
    /// Its validators and their power.
    pub validators: Vec<(OperatorId, u64)>,
    /// Operators left out, and why.
    pub excluded: Vec<(OperatorId, String)>,
}

/// A perturbation as carried out.
#[derive(Clone, Debug, Serialize)]
pub struct Done {
    /// When, in microseconds since the start.
    pub at_us: u64,
    /// What.
    pub action: Action,
    /// To whom.
    pub process: String,
}

/// How one operator fared on chain.
#[derive(Clone, Debug, Serialize)]
pub struct OperatorRecord {
    /// The operator.
    pub operator: OperatorId,
    /// Its behaviours (empty for an honest validator).
    pub behaviours: Vec<String>,
    /// Offences accepted on chain against it.
    pub offences: u64,
    /// Offence keys accepted more than once (must be 0).
    pub duplicates: u64,
    /// The first offence's block time, in microseconds since the start.
    pub first_offence_us: Option<u64>,
    /// Its isolation state at the end.
    pub state: String,
    /// The first epoch the governance started without it or with less than its nominal
    /// power: the epoch, when, and its power there.
    pub isolated_from: Option<(u64, u64, u64)>,
    /// Blocks it committed (over every epoch), and the last time.
    pub committed: u64,
    /// Blocks committed after its last restart.
    pub committed_after_restart: Option<u64>,
}

/// The run's report.
#[derive(Clone, Debug, Serialize)]
pub struct TestnetReport {
    /// The manifest.
    pub manifest: Manifest,
    /// Wall-clock length of the run, in microseconds.
    pub ran_us: u64,
    /// Whether Ctrl-C (or SIGTERM) ended it early.
    pub interrupted: bool,
    /// Perturbations carried out.
    pub perturbations: Vec<Done>,
    /// Epochs started.
    pub epochs: Vec<EpochStart>,
    /// Per operator.
    pub operators: Vec<OperatorRecord>,
    /// Heights at which two nodes committed different blocks.
    pub conflicts: Vec<(u64, u64)>,
    /// Distinct blocks committed by any node.
    pub blocks: u64,
    /// Verdicts.
    pub safety: bool,
    /// Honest validators committed in the run's last seconds.
    pub liveness: bool,
    /// Every Byzantine validator has offences on chain, is isolated, and left the set.
    pub detected_and_isolated: bool,
    /// No honest validator has an offence on chain or is isolated.
    pub no_honest_accused: bool,
    /// No offence was recorded twice.
    pub recorded_once: bool,
    /// Every restarted validator committed again after its restart.
    pub restarted_caught_up: bool,
    /// Where the data is (when kept).
    pub data: Option<PathBuf>,
    /// Each validator's commit times, in microseconds since the start (for the HTML timeline).
    #[serde(skip)]
    pub commit_times_us: Vec<Vec<u64>>,
}

impl TestnetReport {
    /// Whether every verdict holds.
    pub fn passed(&self) -> bool {
        self.safety
            && self.liveness
            && self.detected_and_isolated
            && self.no_honest_accused
            && self.recorded_once
            && self.restarted_caught_up
            && !self.interrupted
    }

    /// The text report.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let m = &self.manifest;
        let s = |us: u64| format!("{:.1} s", us as f64 / 1e6);
        let yes = |b: bool| if b { "yes" } else { "NO" };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Warden testnet `{}`: {}",
            m.name,
            if self.passed() { "PASS" } else { "FAIL" }
        );
        let faulty: Vec<String> = m
            .byzantine
            .iter()
            .map(|b| {
                let names: Vec<&str> = b.behaviours.iter().map(Attack::name).collect();
                format!("v{} {}", b.validator, names.join(" + "))
            })
            .collect();
        let _ = writeln!(
            out,
            "  {} validator processes, a chain node and a relayer on loopback, {} of wall time{}; {}",
            m.validators,
            s(self.ran_us),
            if self.interrupted { " (interrupted)" } else { "" },
            if faulty.is_empty() {
                "no Byzantine validator".to_string()
            } else {
                faulty.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "  {} blocks committed in {} epochs",
            self.blocks,
            self.epochs.len() + 1
        );
        if !self.perturbations.is_empty() {
            let _ = writeln!(out, "\nPerturbations:");
            for p in &self.perturbations {
                let _ = writeln!(out, "  at {:>7}  {:?} {}", s(p.at_us), p.action, p.process);
            }
        }
        let _ = writeln!(
            out,
            "\nEpochs (rotated by the testnet as the chain's isolation decides):"
        );
        for e in &self.epochs {
            let excluded: Vec<String> = e
                .excluded
                .iter()
                .map(|(op, why)| format!("v{op} {why}"))
                .collect();
            let _ = writeln!(
                out,
                "  epoch {} from {}: {} validators{}",
                e.epoch,
                s(e.at_us),
                e.validators.len(),
                if excluded.is_empty() {
                    String::new()
                } else {
                    format!(", without {}", excluded.join(", "))
                }
            );
        }
        let _ = writeln!(out, "\nValidators:");
        let _ = writeln!(
            out,
            "  validator behaviour                offences  first on chain  state         isolated from               committed"
        );
        for o in &self.operators {
            let behaviour = if o.behaviours.is_empty() {
                "honest".to_string()
            } else {
                o.behaviours.join(" + ")
            };
            let restart = o
                .committed_after_restart
                .map_or(String::new(), |c| format!(" ({c} after its restart)"));
            let _ = writeln!(
                out,
                "  v{:<8} {:<26} {:>8}  {:>14}  {:<12}  {:<26}  {}{}",
                o.operator,
                behaviour,
                o.offences,
                o.first_offence_us.map_or("-".into(), s),
                o.state,
                o.isolated_from.map_or("-".into(), |(e, at, power)| format!(
                    "epoch {e} at {}: power {power}",
                    s(at)
                )),
                o.committed,
                restart
            );
        }
        let _ = writeln!(out, "\nVerdicts:");
        let _ = writeln!(
            out,
            "  safety (every node's committed blocks agree): {}",
            yes(self.safety)
        );
        let _ = writeln!(
            out,
            "  liveness (honest commits in the last {}): {}",
            s(LIVENESS_WINDOW_US),
            yes(self.liveness)
        );
        let _ = writeln!(
            out,
            "  every Byzantine validator detected, isolated on chain and cut in power: {}",
            yes(self.detected_and_isolated)
        );
        let _ = writeln!(
            out,
            "  no honest validator accused: {}",
            yes(self.no_honest_accused)
        );
        let _ = writeln!(
            out,
            "  every offence recorded once: {}",
            yes(self.recorded_once)
        );
        let _ = writeln!(
            out,
            "  restarted validators caught up: {}",
            yes(self.restarted_caught_up)
        );
        if let Some(d) = &self.data {
            let _ = writeln!(out, "  data and logs: {}", d.display());
        }
        out
    }
}

impl TestnetReport {
    /// The report as one self-contained HTML page: the text report and an SVG timeline (a lane
    /// per validator with its commits, its first offence on chain and its isolation; the
    /// perturbations and epoch starts across all lanes). No external resource is loaded.
    pub fn html(&self) -> String {
        use crate::simulate::html::escape;
        use std::fmt::Write;
        const LEFT: f64 = 60.0;
        const WIDTH: f64 = 1100.0;
        const TOP: f64 = 40.0;
        const LANE: f64 = 24.0;
        let span = self.ran_us.max(1) as f64;
        let x = |t: u64| LEFT + (t as f64 / span).min(1.0) * WIDTH;
        let n = self.manifest.validators as f64;
        let height = TOP + n * LANE + 30.0;
        let lane = |v: u32| TOP + f64::from(v) * LANE + LANE / 2.0;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="11">"##,
            w = LEFT + WIDTH + 20.0
        );
        for e in &self.epochs {
            let _ = write!(
                svg,
                r##"<line class="epoch" x1="{x}" x2="{x}" y1="{TOP}" y2="{y2}" stroke="#999" stroke-dasharray="3,3"><title>epoch {e} from {t:.1} s</title></line>"##,
                x = x(e.at_us),
                y2 = height - 30.0,
                e = e.epoch,
                t = e.at_us as f64 / 1e6
            );
        }
        for p in &self.perturbations {
            let _ = write!(
                svg,
                r##"<line class="perturbation" x1="{x}" x2="{x}" y1="{y1}" y2="{y2}" stroke="#d60"/><text x="{x}" y="{ty}" fill="#d60">{what}</text>"##,
                x = x(p.at_us),
                y1 = TOP - 12.0,
                y2 = height - 30.0,
                ty = TOP - 16.0,
                what = escape(&format!("{:?} {}", p.action, p.process))
            );
        }
        for o in &self.operators {
            let y = lane(o.operator);
            let _ = write!(
                svg,
                r##"<text x="4" y="{ty}">v{v}</text><line x1="{LEFT}" x2="{x2}" y1="{y}" y2="{y}" stroke="#eee"/>"##,
                ty = y + 4.0,
                v = o.operator,
                x2 = LEFT + WIDTH
            );
            let times = self
                .commit_times_us
                .get(o.operator as usize)
                .map_or(&[][..], Vec::as_slice);
            // One mark per pixel at most.
            let mut last = f64::MIN;
            for t in times {
                let cx = x(*t);
                if cx - last >= 1.0 {
                    last = cx;
                    let _ = write!(
                        svg,
                        r##"<rect class="commit" x="{cx:.1}" y="{y0}" width="1" height="10" fill="#3a7"/>"##,
                        y0 = y - 5.0
                    );
                }
            }
            if let Some(t) = o.first_offence_us {
                let _ = write!(
                    svg,
                    r##"<circle class="offence" cx="{cx}" cy="{y}" r="5" fill="#c22"><title>first offence on chain at {s:.1} s</title></circle>"##,
                    cx = x(t),
                    s = t as f64 / 1e6
                );
            }
            if let Some((epoch, t, power)) = o.isolated_from {
                let _ = write!(
                    svg,
                    r##"<rect class="isolated" x="{x0}" y="{y0}" width="{w}" height="4" fill="#c22" opacity="0.5"><title>epoch {epoch} on: power {power}</title></rect>"##,
                    x0 = x(t),
                    y0 = y + 6.0,
                    w = (LEFT + WIDTH - x(t)).max(0.0)
                );
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{LEFT}" y="{ty}">0 s</text><text x="{xe}" y="{ty}" text-anchor="end">{end:.1} s</text></svg>"##,
            ty = height - 10.0,
            xe = LEFT + WIDTH,
            end = span / 1e6
        );
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Warden testnet {name}</title></head>\n<body>\n<h1>Warden testnet <code>{name}</code>: {verdict}</h1>\n<p>Green: commits. Red dot: the first offence on chain; red bar: less power from that epoch on. Orange: perturbations. Dashed: epoch starts.</p>\n{svg}\n<pre>{text}</pre>\n</body></html>\n",
            name = escape(&self.manifest.name),
            verdict = if self.passed() { "PASS" } else { "FAIL" },
            text = escape(&self.text())
        )
    }
}

/// Runs `warden testnet`; returns the report.
pub fn run(options: &Options) -> anyhow::Result<TestnetReport> {
    let text = match &options.manifest {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => DEFAULT_MANIFEST.to_string(),
    };
    let mut manifest = Manifest::parse(&text)?;
    if let Some(d) = options.duration_s {
        anyhow::ensure!((1..=3_600).contains(&d), "--duration-s {d}: 1 to 3600");
        manifest.duration_s = d;
    }
    let (_tmp, dir) = match &options.data {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            anyhow::ensure!(
                std::fs::read_dir(d)?.next().is_none(),
                "{} is not empty: give a new directory",
                d.display()
            );
            (None, d.clone())
        }
        None => {
            let t = tempfile::tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let stop = super::stop_on_signals();
    let cfg = match &options.config {
        Some(path) => FaultToleranceConfig::read(path)?,
        None => FaultToleranceConfig::default(),
    };
    let global = global_args(options.config.as_deref())?;
    let network = TestNetwork::new(manifest.chain_id, manifest.validators);
    let mut genesis = GenesisFile::from_network(&network, crate::chain::now_ms());
    genesis.config = (&cfg.module_config()).into();
    drop(Chain::init(&genesis, &dir.join("chain")).context("initialising the chain")?);

    let chain_addr = free_port()?;
    let relay_addr = free_port()?;
    let node_addrs: Vec<SocketAddr> = (0..manifest.validators)
        .map(|_| free_port())
        .collect::<anyhow::Result<_>>()?;
    // Validator i dials validator j > i through the proxy (i, j), which partitions cut.
    let mut proxies = BTreeMap::new();
    for i in 0..manifest.validators {
        for j in i + 1..manifest.validators {
            proxies.insert((i, j), Proxy::start(node_addrs[j as usize])?);
        }
    }
    let s = |p: &Path| p.display().to_string();
    let with_global = |args: Vec<String>| [global.clone(), args].concat();
    let mut procs = Processes(Vec::new());
    procs.0.push(Proc::new(
        "chain",
        with_global(vec![
            "chain".into(),
            "serve".into(),
            "--data".into(),
            s(&dir.join("chain")),
            "--listen".into(),
            chain_addr.to_string(),
            "--block-interval-ms".into(),
            "200".into(),
        ]),
        &dir,
    ));
    procs.0.push(Proc::new(
        "relayer",
        with_global(vec![
            "relay".into(),
            "--node".into(),
            chain_addr.to_string(),
            "--data".into(),
            s(&dir.join("relayer")),
            "--listen".into(),
            relay_addr.to_string(),
            "--key-seed".into(),
            RELAYER_SEED.to_string(),
        ]),
        &dir,
    ));
    for v in 0..manifest.validators {
        let mut args: Vec<String> = vec![
            "-v".into(),
            "node".into(),
            "--operator".into(),
            v.to_string(),
            "--key-seed".into(),
            v.to_string(),
            "--data".into(),
            s(&dir.join(format!("v{v}"))),
            "--listen".into(),
            node_addrs[v as usize].to_string(),
            "--chain".into(),
            chain_addr.to_string(),
            "--relay".into(),
            relay_addr.to_string(),
            "--view-timeout-ms".into(),
            manifest.view_timeout_ms.to_string(),
            "--block-interval-ms".into(),
            manifest.block_interval_ms.to_string(),
        ];
        for (peer, addr) in node_addrs.iter().enumerate() {
            let peer = peer as OperatorId;
            let addr = proxies.get(&(v, peer)).map_or(*addr, Proxy::addr);
            if peer != v {
                args.push("--peer".into());
                args.push(format!("{peer}={addr}"));
            }
        }
        for b in manifest.behaviours(v) {
            args.push("--byzantine".into());
            args.push(serde_json::to_string(b)?);
        }
        procs
            .0
            .push(Proc::new(&format!("v{v}"), with_global(args), &dir));
    }

    let chain = Client::new(chain_addr).with_timeout(super::CHAIN_TIMEOUT);
    let relay = Client::new(relay_addr).with_timeout(super::CHAIN_TIMEOUT);
    let proc = procs.get("chain").context("the chain process")?;
    proc.spawn()?;
    wait_until("the chain node", proc, || {
        http_query(&chain, &Query::Status).is_ok()
    })?;
    let proc = procs.get("relayer").context("the relayer process")?;
    proc.spawn()?;
    wait_until("the relayer", proc, || {
        relay.get("/status").is_ok_and(|r| r.status == 200)
    })?;
    for v in 0..manifest.validators {
        procs
            .get(&format!("v{v}"))
            .context("a validator process")?
            .spawn()?;
    }
    eprintln!(
        "testnet `{}`: chain node at http://{chain_addr}, relayer at http://{relay_addr}, {} validators; running {} s (data in {})",
        manifest.name,
        manifest.validators,
        manifest.duration_s,
        dir.display()
    );

    let start_us = now_us();
    let end_us = start_us + manifest.duration_s * 1_000_000;
    let mut logs: Vec<CommitLog> = (0..manifest.validators)
        .map(|v| CommitLog {
            path: commits_path(&dir.join(format!("v{v}"))),
            offset: 0,
            commits: Vec::new(),
        })
        .collect();
    let mut nominal: BTreeMap<OperatorId, (u64, PublicKey)> = (0..manifest.validators)
        .map(|v| (v, (NOMINAL_POWER, network.public(v))))
        .collect();
    let mut governance = HttpSubmitter {
        client: chain,
        key: network.authority.clone(),
        chain_id: manifest.chain_id,
    };
    let mut pending = manifest.events.iter().peekable();
    let mut done = Vec::new();
    let mut epochs = Vec::new();
    let mut epoch = 1u64;
    let mut restarted: BTreeMap<OperatorId, u64> = BTreeMap::new();
    let mut last_progress = start_us;
    let mut interrupted = false;
    loop {
        let now = now_us();
        if now >= end_us {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        while let Some(e) = pending.next_if(|e| start_us + e.at_ms * 1_000 <= now) {
            if e.action == Action::Partition {
                let side = |v: OperatorId| e.groups.iter().position(|g| g.contains(&v));
                for ((i, j), proxy) in &proxies {
                    if let (Some(a), Some(b)) = (side(*i), side(*j)) {
                        if a != b {
                            proxy.cut();
                        }
                    }
                }
            } else if e.action == Action::Heal {
                proxies.values().for_each(Proxy::heal);
            }
            if let Some(p) = e.process.as_deref().and_then(|name| procs.get(name)) {
                match e.action {
                    Action::Kill => p.kill(),
                    Action::Restart => {
                        p.kill();
                        p.spawn()?;
                        if let Some(v) = e.process.as_deref().and_then(validator_of) {
                            restarted.insert(v, now - start_us);
                        }
                    }
                    Action::Stop => {
                        p.signal(libc::SIGSTOP);
                        p.stopped = true;
                    }
                    Action::Resume => {
                        p.signal(libc::SIGCONT);
                        p.stopped = false;
                    }
                    Action::Partition | Action::Heal => {}
                }
            }
            eprintln!(
                "  at {:.1} s: {:?} {}",
                (now - start_us) as f64 / 1e6,
                e.action,
                e.target()
            );
            done.push(Done {
                at_us: now - start_us,
                action: e.action,
                process: e.target(),
            });
        }
        for p in &mut procs.0 {
            if let Some(status) = p.exited() {
                anyhow::bail!("{} exited ({status}):\n{}", p.name, p.log_tail());
            }
        }
        for log in &mut logs {
            log.read_new(start_us);
        }
        let highest = logs
            .iter()
            .flat_map(|l| l.commits.iter().rev().take(1))
            .filter(|c| c.epoch == epoch)
            .map(|c| c.height)
            .max()
            .unwrap_or(0);
        if highest >= manifest.epoch_blocks {
            match rotate(&mut governance, &mut nominal, epoch + 1) {
                Ok(started) => {
                    eprintln!(
                        "  at {:.1} s: epoch {} with {} validators",
                        (now - start_us) as f64 / 1e6,
                        started.epoch,
                        started.validators.len()
                    );
                    epoch = started.epoch;
                    epochs.push(EpochStart {
                        at_us: now_us() - start_us,
                        ..started
                    });
                }
                Err(e) => tracing::warn!("rotating to epoch {}: {e:#}", epoch + 1),
            }
        }
        if now >= last_progress + 5_000_000 {
            last_progress = now;
            let heights: Vec<String> = logs
                .iter()
                .enumerate()
                .map(|(v, l)| {
                    l.commits.last().map_or(format!("v{v} -"), |c| {
                        format!("v{v} {}:{}", c.epoch, c.height)
                    })
                })
                .collect();
            eprintln!(
                "  {:.0} s of {}: committed {}",
                (now - start_us) as f64 / 1e6,
                manifest.duration_s,
                heights.join(", ")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let ran_us = now_us() - start_us;
    for p in procs.0.iter_mut().filter(|p| p.name.starts_with('v')) {
        p.terminate(Duration::from_secs(3));
    }
    for log in &mut logs {
        log.read_new(start_us);
    }
    let chain = Client::new(chain_addr).with_timeout(super::CHAIN_TIMEOUT);
    // Let the relayer finish what it holds before the chain is read.
    let settle = Instant::now() + Duration::from_secs(5);
    while Instant::now() < settle {
        let idle = relay.get("/status").ok().is_some_and(|r| {
            r.body["inbox"].as_u64() == Some(0) && r.body["queued"].as_u64() == Some(0)
        });
        if idle {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let report = judge(
        &manifest,
        &chain,
        &logs,
        epochs,
        done,
        &restarted,
        start_us,
        ran_us,
        interrupted,
        options.data.clone(),
    )?;
    for p in &mut procs.0 {
        p.terminate(Duration::from_secs(3));
    }
    Ok(report)
}

/// Submits the rotation to `epoch` as the authority and waits for its inclusion.
fn rotate(
    governance: &mut HttpSubmitter,
    nominal: &mut BTreeMap<OperatorId, (u64, PublicKey)>,
    epoch: u64,
) -> anyhow::Result<EpochStart> {
    let client = governance.client;
    let next = next_validators(nominal, true, &mut |q| Ok(http_query(&client, q)?))?;
    for op in &next.banned {
        nominal.remove(op);
    }
    let rotation = Msg::RotateValidators(Rotation {
        epoch,
        validators: bounded(next.validators.clone())?,
        approvals: warden_module::codec::BoundedVec::empty(),
    });
    let tx = governance
        .submit(&borsh::to_vec(&rotation)?)
        .map_err(|e| anyhow::anyhow!("submitting the rotation: {e:?}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match governance.inclusion(&tx) {
            Ok(crate::ft::relay::Inclusion::Included {
                accepted, error, ..
            }) => {
                anyhow::ensure!(accepted, "the module refused the rotation: {error:?}");
                break;
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("rotation inclusion: {e:?}"),
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the rotation was not included within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(EpochStart {
        epoch,
        at_us: 0,
        validators: next
            .validators
            .iter()
            .map(|v| (v.operator, v.power))
            .collect(),
        excluded: next.excluded,
    })
}

/// Reads the chain's offences: per operator, each accepted offence key and its block time.
fn offences_on_chain(chain: &Client) -> anyhow::Result<BTreeMap<OperatorId, Vec<(String, u64)>>> {
    let mut out: BTreeMap<OperatorId, Vec<(String, u64)>> = BTreeMap::new();
    let mut from = 0;
    loop {
        let page = chain.events(from, Duration::ZERO)?;
        for block in page["blocks"].as_array().into_iter().flatten() {
            let time = block["time"].as_u64().unwrap_or(0);
            for tx in block["txs"].as_array().into_iter().flatten() {
                for event in tx["events"].as_array().into_iter().flatten() {
                    for kind in ["EvidenceAccepted", "AccusationAccepted"] {
                        let offence = &event[kind]["offence"];
                        if let Some(op) = offence["operator"].as_u64() {
                            out.entry(op as OperatorId)
                                .or_default()
                                .push((offence.to_string(), time));
                        }
                    }
                }
            }
        }
        let next = page["next"].as_u64().unwrap_or(from);
        let head = page["head"].as_u64().unwrap_or(0);
        if next <= from || next > head {
            break;
        }
        from = next;
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn judge(
    manifest: &Manifest,
    chain: &Client,
    logs: &[CommitLog],
    epochs: Vec<EpochStart>,
    done: Vec<Done>,
    restarted: &BTreeMap<OperatorId, u64>,
    start_us: u64,
    ran_us: u64,
    interrupted: bool,
    data: Option<PathBuf>,
) -> anyhow::Result<TestnetReport> {
    let mut by_height: BTreeMap<(u64, u64), BTreeSet<&str>> = BTreeMap::new();
    for log in logs {
        for c in &log.commits {
            by_height
                .entry((c.epoch, c.height))
                .or_default()
                .insert(&c.hash);
        }
    }
    let conflicts: Vec<(u64, u64)> = by_height
        .iter()
        .filter(|(_, hashes)| hashes.len() > 1)
        .map(|(k, _)| *k)
        .collect();
    let offences = offences_on_chain(chain)?;
    let faulty: BTreeSet<OperatorId> = manifest.byzantine.iter().map(|b| b.validator).collect();
    let mut operators = Vec::new();
    for v in 0..manifest.validators {
        let list = offences.get(&v).cloned().unwrap_or_default();
        let distinct: BTreeSet<&String> = list.iter().map(|(k, _)| k).collect();
        let state = match http_query(chain, &Query::Isolation { operator: v })? {
            QueryResponse::Isolation(s) => s,
            other => anyhow::bail!("unexpected answer to an isolation query: {other:?}"),
        };
        let commits = &logs[v as usize].commits;
        operators.push(OperatorRecord {
            operator: v,
            behaviours: manifest
                .behaviours(v)
                .iter()
                .map(|b| b.name().to_string())
                .collect(),
            offences: distinct.len() as u64,
            duplicates: (list.len() - distinct.len()) as u64,
            first_offence_us: list
                .iter()
                .map(|(_, t)| t.saturating_mul(1_000).saturating_sub(start_us))
                .min(),
            state: crate::sim::hosts::report::state_name(&state),
            isolated_from: epochs.iter().find_map(|e| {
                let power = e
                    .validators
                    .iter()
                    .find(|(op, _)| *op == v)
                    .map_or(0, |(_, p)| *p);
                (power < NOMINAL_POWER).then_some((e.epoch, e.at_us, power))
            }),
            committed: commits.len() as u64,
            committed_after_restart: restarted
                .get(&v)
                .map(|at| commits.iter().filter(|c| c.at_us > *at).count() as u64),
        });
    }
    let honest = |o: &&OperatorRecord| !faulty.contains(&o.operator);
    let liveness = operators.iter().filter(honest).any(|o| {
        logs[o.operator as usize]
            .commits
            .last()
            .is_some_and(|c| c.at_us + LIVENESS_WINDOW_US >= ran_us)
    });
    let detected_and_isolated = operators
        .iter()
        .filter(|o| faulty.contains(&o.operator))
        .all(|o| o.offences > 0 && o.state != "active" && o.isolated_from.is_some());
    let no_honest_accused = operators
        .iter()
        .filter(honest)
        .all(|o| o.offences == 0 && o.state == "active");
    let recorded_once = operators.iter().all(|o| o.duplicates == 0);
    let restarted_caught_up = operators
        .iter()
        .all(|o| o.committed_after_restart.is_none_or(|c| c > 0));
    Ok(TestnetReport {
        manifest: manifest.clone(),
        ran_us,
        interrupted,
        perturbations: done,
        epochs,
        operators,
        safety: conflicts.is_empty(),
        conflicts,
        blocks: by_height.len() as u64,
        liveness,
        detected_and_isolated,
        no_honest_accused,
        recorded_once,
        restarted_caught_up,
        data,
        commit_times_us: logs
            .iter()
            .map(|l| l.commits.iter().map(|c| c.at_us).collect())
            .collect(),
    })
}

/// `warden testnet` from the command line: runs, prints the report, writes the JSON, and
/// fails when a verdict does not hold.
pub fn main(options: &Options) -> anyhow::Result<()> {
    let report = run(options)?;
    print!("{}", report.text());
    if let Some(path) = &options.json {
        let json: Value = serde_json::to_value(&report)?;
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &options.html {
        std::fs::write(path, report.html())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    anyhow::ensure!(report.passed(), "a verdict failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "validators = 4\nduration_s = 10\n";

    fn refused(extra: &str) -> String {
        format!(
            "{:#}",
            Manifest::parse(&format!("{BASE}{extra}")).expect_err("refused")
        )
    }

    #[test]
    fn the_configuration_reaches_every_process_by_an_absolute_path() {
        assert!(global_args(None).expect("no configuration").is_empty());
        let args = global_args(Some(Path::new("warden.toml"))).expect("a configuration");
        assert_eq!(args[0], "--config");
        let path = Path::new(&args[1]);
        assert!(path.is_absolute(), "{}", path.display());
        assert!(path.ends_with("warden.toml"), "{}", path.display());
    }

    #[test]
    fn the_default_and_long_manifests_parse() {
        let m = Manifest::parse(DEFAULT_MANIFEST).expect("the default manifest");
        assert_eq!((m.validators, m.byzantine.len(), m.events.len()), (5, 1, 2));
        let long = include_str!("../../../fixtures/testnets/long.toml");
        let m = Manifest::parse(long).expect("the long manifest");
        assert_eq!(m.events[0].action, Action::Partition);
    }

    #[test]
    fn a_manifest_with_an_unknown_field_is_refused() {
        assert!(refused("colour = 1\n").contains("colour"));
    }

    #[test]
    fn a_third_or_more_byzantine_validators_are_refused() {
        let two = "[[byzantine]]\nvalidator = 0\nbehaviours = [{ kind = \"lock_violation\" }]\n\
                   [[byzantine]]\nvalidator = 1\nbehaviours = [{ kind = \"lock_violation\" }]\n";
        assert!(refused(two).contains("fewer than a third"));
    }

    #[test]
    fn events_out_of_order_after_the_end_or_on_unknown_processes_are_refused() {
        let ev = |at: u64, what: &str| format!("[[events]]\nat_ms = {at}\n{what}\n");
        let kill = |p: &str| format!("action = \"kill\"\nprocess = \"{p}\"");
        assert!(refused(&(ev(5000, &kill("v1")) + &ev(1000, &kill("v2")))).contains("time order"));
        assert!(refused(&ev(20_000, &kill("v1"))).contains("after the end"));
        assert!(refused(&ev(1000, &kill("v9"))).contains("expected v0..v3 or relayer"));
        assert!(
            refused(&ev(1000, "action = \"partition\"\ngroups = [[0, 1]]")).contains("two groups")
        );
        assert!(
            refused(&ev(1000, "action = \"partition\"\ngroups = [[0, 1], [1]]"))
                .contains("listed twice")
        );
    }

    #[test]
    fn out_of_range_sizes_are_refused() {
        let m = |text: &str| format!("{:#}", Manifest::parse(text).expect_err("refused"));
        assert!(m("validators = 3\nduration_s = 10\n").contains("4 to 32"));
        assert!(m("validators = 4\nduration_s = 0\n").contains("1 to 3600"));
        assert!(refused("epoch_blocks = 2\n").contains("at least 10"));
    }
}
