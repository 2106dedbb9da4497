//! The fault-tolerance layer closed over the simulator and the embedded chain: every honest
//! validator runs a host beside its replica ([`Host`]: a [`ByzantineDetector`] fed every
//! message the replica receives, and an [`EvidenceCollector`] whose queue lives on disk); the
//! hosts co-sign each other's accusations over the simulated network; an embedded chain
//! ([`Chain`], redb on disk, the module in wasm) produces a block every `block_interval_us` of
//! simulated time; and every `epoch_heights` committed heights the validator set is rebuilt
//! from the module's isolation state and leader schedule ([`Hosts::next_epoch`]).
//!
//! Architecture invariant: the simulated network's validator set and leader schedule of each
//! epoch after the first are exactly the module's: its set (without banned and zero-power
//! operators) and the schedule it computed.
//!
//! Hosts of Byzantine operators are not run: they could only withhold co-signatures or
//! co-sign falsely, and an accusation needs more than a third of the power, so at least one
//! honest witness, either way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use warden_module::codec::{BoundedBytes, BoundedVec};
use warden_module::crypto::Verifier;
use warden_module::evidence::{Accusation, OffenceClass, WitnessSignature, WitnessedAccusation};
use warden_module::isolation;
use warden_module::msg::{Event, Msg, Query, QueryResponse, Rotation};
use warden_module::schedule::LeaderSchedule;
use warden_module::state::IsolationState;
use warden_module::validators::{ValidatorInfo, ValidatorSet};
use warden_module::wire::{
    Certificate, CertificateKind, Message, OperatorId, PublicKey, SignedMessage,
};

use super::context::Context;
use super::replica::{Dest, NodeId, Payload};
use crate::chain::genesis::GenesisFile;
use crate::chain::{succeeded, Chain};
use crate::ft::config::FaultToleranceConfig;
use crate::ft::detect::{ByzantineDetector, Finding, Observed};
use crate::ft::monitor::{HealthMonitor, HealthReport, ValidatorSetHealth};
use crate::ft::recovery::{Checkpoint, ConnectivityMatrix, StuckViewDetector};
use crate::ft::relay::{describe, EmbeddedSubmitter, EvidenceCollector};
use crate::testkit::{public, sign};

/// A host-to-host message: an accusation looking for co-signers, or a co-signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMessage {
    /// "I saw this; did you?" with the sender's own signature.
    Accuse(Accusation, WitnessSignature),
    /// "I saw it too."
    Endorse(Accusation, WitnessSignature),
    /// The proposal this host saw in a view that failed, so that a leader who showed each
    /// half of the network a different block is caught.
    Forward(SignedMessage),
}

/// One honest validator's fault-tolerance host.
pub struct Host {
    /// Its node.
    pub node: NodeId,
    /// Its operator.
    pub operator: OperatorId,
    key: SigningKey,
    detector: ByzantineDetector,
    relayer: EvidenceCollector,
    pending: BTreeMap<Vec<u8>, Collecting>,
    accused: BTreeSet<(OperatorId, u8, u64)>,
    view: u64,
    checkpoint: Option<Checkpoint>,
    lock: Option<Certificate>,
    proposals: BTreeMap<u64, SignedMessage>,
    certified: BTreeSet<u64>,
    stuck: StuckViewDetector,
    entered: BTreeMap<u64, u64>,
}

impl Host {
    /// Its highest certificate sent to every node: the emergency view change on a stuck view,
    /// and the sync across a healed split.
    fn broadcast_highest(&self) -> Option<HostAction> {
        let lock = self.lock.clone()?;
        Some(HostAction::Send(
            self.node,
            Dest::All,
            Rc::new(Payload::Cert(lock)),
        ))
    }
}

/// Recent views whose proposal a host keeps to forward if the view fails.
const FORWARD_VIEWS: usize = 4;

struct Collecting {
    accusation: Accusation,
    witnesses: BTreeMap<OperatorId, WitnessSignature>,
}

/// When things happened to one offence, in simulated microseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FaultTimeline {
    /// The offender.
    pub operator: OperatorId,
    /// The offence class.
    pub class: String,
    /// 1 (provable) or 2 (witnessed).
    pub tier: u8,
    /// When the offence became provable (Tier 1: the second conflicting message was sent),
    /// or when the behaviour began (Tier 2: the run's start).
    pub onset_us: u64,
    /// The view (counted over all epochs) the offence or behaviour began in.
    pub onset_view: Option<u64>,
    /// The first host detection.
    pub detected_us: Option<u64>,
    /// The detecting host's view then.
    pub detected_view: Option<u64>,
    /// Hosts that detected it on their own.
    pub detectors: u32,
    /// The operator whose host detected it first.
    pub first_detector: Option<OperatorId>,
    /// Whether the operator is honest: a suspicion of an honest operator that no quorum of
    /// witnesses co-signed (a run fails if one reaches the chain).
    pub honest: bool,
    /// Tier 2: when the accusation gathered enough co-signers.
    pub witnessed_us: Option<u64>,
    /// When the chain included the evidence or accusation.
    pub on_chain_us: Option<u64>,
    /// The chain height that included it.
    pub on_chain_height: Option<u64>,
    /// What the module decided (banned, quarantined, warned).
    pub isolation: Option<String>,
    /// When the isolation was recorded.
    pub isolated_us: Option<u64>,
    /// When the offender's power was taken away (the next epoch's start).
    pub power_lost_us: Option<u64>,
}

/// One epoch of the run.
#[derive(Clone, Debug, Serialize)]
pub struct EpochRecord {
    /// The epoch.
    pub epoch: u64,
    /// When it started.
    pub start_us: u64,
    /// The committed height it started from.
    pub start_height: u64,
    /// Its validators and their power.
    pub validators: Vec<(OperatorId, u64)>,
    /// Operators left out and why.
    pub excluded: Vec<(OperatorId, String)>,
}

/// An isolation change the chain recorded.
#[derive(Clone, Debug, Serialize)]
pub struct IsolationChange {
    /// When (the block's time).
    pub at_us: u64,
    /// The chain height.
    pub height: u64,
    /// The operator.
    pub operator: OperatorId,
    /// `banned`, `quarantined`, `deferred`, `probation`, `rehabilitated`, `warned`.
    pub change: String,
}

/// What the fault-tolerance layer did in a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WardenReport {
    /// Per offence.
    pub faults: Vec<FaultTimeline>,
    /// Per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Isolation changes, in order.
    pub isolation: Vec<IsolationChange>,
    /// Honest operators the chain accused, quarantined or banned (must stay empty).
    pub honest_isolated: Vec<OperatorId>,
    /// Chain blocks produced.
    pub chain_height: u64,
    /// Evidence transactions included.
    pub evidence_included: u64,
    /// Accusation transactions included.
    pub accusations_included: u64,
    /// Relayed transactions the module refused as already known (harmless resubmissions).
    pub duplicates: u64,
    /// Relayed transactions refused for another reason.
    pub refused: u64,
    /// Slashing proposals made.
    pub slashing_proposals: u64,
    /// Messages all detectors observed.
    pub observed: u64,
    /// Signature checks detectors made because of a candidate conflict.
    pub detector_verifications: u64,
    /// Host crashes the relay queues survived.
    pub host_restarts: u64,
    /// Emergency view changes hosts started on a stuck view (highest certificate rebroadcast).
    pub emergency_view_changes: u64,
    /// Splits the connectivity matrix showed.
    pub partitions: Vec<PartitionEpisode>,
    /// Network-wide health at the end of the run.
    pub health: Option<HealthReport>,
    /// Views (all epochs) the network went through.
    pub views: u64,
    /// Each operator's standing on the chain at the end.
    pub operators: Vec<OperatorOutcome>,
    /// The chain's slashing proposals at the end.
    pub slashing: Vec<SlashingOutcome>,
    /// (time, committed height) each time the network's height grew (thinned to at most
    /// [`MAX_TIMELINE_POINTS`]).
    pub commits: Vec<(u64, u64)>,
    /// (time, view counted over all epochs, leader) as the network entered each view (thinned
    /// likewise).
    pub view_starts: Vec<(u64, u64, OperatorId)>,
}

/// The most points kept per timeline series.
pub const MAX_TIMELINE_POINTS: usize = 4_000;

/// One operator's standing on the chain at the end of a run.
#[derive(Clone, Debug, Serialize)]
pub struct OperatorOutcome {
    /// The operator.
    pub operator: OperatorId,
    /// Whether it ran honestly in the run.
    pub honest: bool,
    /// Its reputation score.
    pub reputation: u32,
    /// Its isolation state (`active`, `quarantined`, `probation`, `banned`, ...).
    pub isolation: String,
    /// Its power in the last epoch's set (0 when left out).
    pub power: u64,
}

/// A slashing proposal on the chain at the end of a run.
#[derive(Clone, Debug, Serialize)]
pub struct SlashingOutcome {
    /// Its id.
    pub id: u64,
    /// The offender.
    pub operator: OperatorId,
    /// The offence class.
    pub class: String,
    /// Fraction of stake, parts per billion.
    pub fraction_ppb: u64,
    /// Pending, vetoed or finalised.
    pub status: String,
}

fn thin<T: Clone>(points: &mut Vec<T>) {
    if points.len() >= MAX_TIMELINE_POINTS {
        // Keep every other point: the series stays evenly spread and bounded.
        let kept: Vec<T> = points.iter().step_by(2).cloned().collect();
        *points = kept;
    }
}

fn ms_opt(from: u64, to: Option<u64>) -> String {
    to.map_or("-".into(), |t| {
        format!("{:.1}", t.saturating_sub(from) as f64 / 1_000.0)
    })
}

impl WardenReport {
    /// The fault-tolerance part of a run's summary.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "  chain: {} blocks, {} evidence and {} accusations included, {} resubmissions refused as duplicates, {} other refusals, {} slashing proposals",
            self.chain_height,
            self.evidence_included,
            self.accusations_included,
            self.duplicates,
            self.refused,
            self.slashing_proposals
        );
        if !self.faults.is_empty() {
            let _ = writeln!(
                s,
                "  {:<9} {:<22} {:>4} {:>8} {:>9} {:>5} {:>9} {:>11} {:>10} {:>9}",
                "offender",
                "offence",
                "tier",
                "onset ms",
                "+detect",
                "views",
                "+on chain",
                "isolation",
                "+isolated",
                "+power"
            );
        }
        for f in &self.faults {
            let views = match (f.onset_view, f.detected_view) {
                (Some(o), Some(d)) => d.saturating_sub(o).to_string(),
                _ => "-".into(),
            };
            let _ = writeln!(
                s,
                "  {:<9} {:<22} {:>4} {:>8} {:>9} {:>5} {:>9} {:>11} {:>10} {:>9}",
                format!("v{}{}", f.operator, if f.honest { "*" } else { "" }),
                f.class,
                f.tier,
                f.onset_us / 1_000,
                ms_opt(f.onset_us, f.detected_us),
                views,
                ms_opt(f.onset_us, f.on_chain_us),
                f.isolation.as_deref().unwrap_or("-"),
                ms_opt(f.onset_us, f.isolated_us),
                ms_opt(f.onset_us, f.power_lost_us),
            );
        }
        if !self.faults.is_empty() {
            let _ = writeln!(
                s,
                "  (simulated ms after onset; views from onset to the first detection{})",
                if self
                    .faults
                    .iter()
                    .any(|f| f.honest && f.on_chain_us.is_none())
                {
                    "; * an honest validator one host suspected, never co-signed by enough witnesses"
                } else {
                    ""
                }
            );
        }
        let epochs: Vec<String> = self
            .epochs
            .iter()
            .map(|e| {
                let out: Vec<String> = e
                    .excluded
                    .iter()
                    .map(|(op, why)| format!("v{op} {why}"))
                    .collect();
                if out.is_empty() {
                    format!("{}@{}ms", e.epoch, e.start_us / 1_000)
                } else {
                    format!(
                        "{}@{}ms (without {})",
                        e.epoch,
                        e.start_us / 1_000,
                        out.join(", ")
                    )
                }
            })
            .collect();
        let changed: Vec<&String> = epochs
            .iter()
            .zip(&self.epochs)
            .filter(|(_, e)| !e.excluded.is_empty() || e.epoch == self.epochs[0].epoch)
            .map(|(text, _)| text)
            .collect();
        let _ = writeln!(
            s,
            "  epochs: {} ({} with isolated operators: {})",
            self.epochs.len(),
            changed.len().saturating_sub(1),
            changed
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        for p in &self.partitions {
            let _ = writeln!(
                s,
                "  partition seen at {} ms: {} components, primary {}; healed {}, {} hosts synced their highest certificate, commits resumed {}",
                p.detected_us / 1_000,
                p.components.len(),
                p.primary.as_ref().map_or("none (no quorum)".into(), |c| format!("{c:?}")),
                p.healed_us.map_or("never".into(), |h| format!("at {} ms", h / 1_000)),
                p.synced,
                match (p.healed_us, p.resumed_us) {
                    (Some(h), Some(r)) => format!("{} ms after", r.saturating_sub(h) / 1_000),
                    _ => "-".into(),
                }
            );
        }
        if self.emergency_view_changes > 0 {
            let _ = writeln!(
                s,
                "  emergency view changes on stuck views: {}",
                self.emergency_view_changes
            );
        }
        if let Some(h) = &self.health {
            let _ = writeln!(
                s,
                "  health {:?}: {:.0} commits/s, {:.1} timeouts/s, margin {} power, {} anomalies{}",
                h.status,
                h.consensus.commit_rate_per_s,
                h.consensus.view_changes_per_s,
                h.margin,
                h.anomalies.len(),
                h.prediction.as_ref().map_or(String::new(), |p| format!(
                    ", predicted failure of {} in {} ms",
                    p.metric, p.remaining_ms
                ))
            );
        }
        if self.honest_isolated.is_empty() {
            let _ = writeln!(s, "  no honest validator accused or isolated");
        } else {
            let _ = writeln!(
                s,
                "  HONEST VALIDATORS ACCUSED OR ISOLATED: {:?}",
                self.honest_isolated
            );
        }
        s
    }
}

/// Settings of the closed loop, from the scenario's `[warden]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WardenSpec {
    /// Committed heights per epoch.
    #[serde(default = "default_epoch_heights")]
    pub epoch_heights: u64,
    /// Simulated time between chain blocks, in microseconds.
    #[serde(default = "default_block_interval")]
    pub block_interval_us: u64,
    /// Blocks of a first quarantine on the chain.
    #[serde(default = "default_quarantine")]
    pub quarantine_blocks: u64,
    /// Operators whose hosts relay to the chain (default: every honest one).
    #[serde(default)]
    pub relayers: Option<Vec<u32>>,
    /// Accepted accusations that only warn before one quarantines (the chain's graduated
    /// response; 0 quarantines at the first).
    #[serde(default)]
    pub warnings_before_quarantine: u32,
}

fn default_epoch_heights() -> u64 {
    100
}
fn default_block_interval() -> u64 {
    100_000
}
fn default_quarantine() -> u64 {
    50
}

impl Default for WardenSpec {
    fn default() -> Self {
        Self {
            epoch_heights: default_epoch_heights(),
            block_interval_us: default_block_interval(),
            quarantine_blocks: default_quarantine(),
            relayers: None,
            warnings_before_quarantine: 0,
        }
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: u64) -> anyhow::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("warden-sim-{}-{tag:x}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything the closed loop owns.
pub struct Hosts {
    spec: WardenSpec,
    cfg: FaultToleranceConfig,
    chain_id: u64,
    chain: Chain,
    authority: SigningKey,
    _dir: Option<TempDir>,
    dir: PathBuf,
    hosts: Vec<Option<Host>>,
    honest: Vec<bool>,
    relays: Vec<bool>,
    node_operator: Vec<OperatorId>,
    keys: Vec<SigningKey>,
    nominal: BTreeMap<OperatorId, u64>,
    banned: BTreeSet<OperatorId>,
    set: ValidatorSet,
    /// The report being built.
    pub report: WardenReport,
    timeline: BTreeMap<(OperatorId, OffenceClass), FaultTimeline>,
    detected_by: BTreeMap<(OperatorId, OffenceClass), BTreeSet<OperatorId>>,
    onsets: BTreeMap<(OperatorId, OffenceClass), u64>,
    /// The committed height at which the next epoch starts.
    pub next_epoch_height: u64,
    view_base: u64,
    epoch_max_view: u64,
    monitor: HealthMonitor,
    matrix: ConnectivityMatrix,
    partition: Option<PartitionEpisode>,
    committed: u64,
    now: u64,
    /// Where to export health and counters at each chain block, if anywhere.
    pub metrics: Option<super::world::SharedMetrics>,
}

/// A time the connectivity matrix showed the network split.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionEpisode {
    /// When the split was first seen.
    pub detected_us: u64,
    /// When every node was reachable again, if it healed.
    pub healed_us: Option<u64>,
    /// The components (nodes in the set), when first seen.
    pub components: Vec<Vec<u32>>,
    /// The component holding a quorum (the primary partition), if one did.
    pub primary: Option<Vec<u32>>,
    /// Hosts that sent their highest certificate across the healed split.
    pub synced: u32,
    /// The committed height when it healed.
    pub height_at_heal: u64,
    /// The first commit after the heal.
    pub resumed_us: Option<u64>,
}

/// What the world must do for the hosts.
pub enum HostAction {
    /// Send a host message from a node.
    Send(NodeId, Dest, Rc<Payload>),
}

/// A short lower-case name of an isolation state.
pub fn state_name(state: &IsolationState) -> String {
    match state {
        IsolationState::Active => "active",
        IsolationState::Quarantined { .. } => "quarantined",
        IsolationState::Deferred { .. } => "deferred",
        IsolationState::Probation { .. } => "probation",
        IsolationState::Banned { .. } => "banned",
    }
    .to_string()
}

fn class_name(class: OffenceClass) -> String {
    format!("{class:?}")
}

fn ms(us: u64) -> u64 {
    us / 1_000
}

impl Hosts {
    /// The loop for a run over `set` (the first epoch's), whose node `i` is run by
    /// `node_operator[i]` signing with `keys[operator]`. `data_dir` holds the chain and the
    /// relay queues (a temporary directory when `None`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: WardenSpec,
        cfg: FaultToleranceConfig,
        chain_id: u64,
        set: ValidatorSet,
        keys: Vec<SigningKey>,
        node_operator: Vec<OperatorId>,
        honest_node: Vec<bool>,
        data_dir: Option<&Path>,
        seed: u64,
    ) -> anyhow::Result<Self> {
        let (tmp, dir) = match data_dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (None, d.to_path_buf())
            }
            None => {
                let t = TempDir::new(seed)?;
                let d = t.0.clone();
                (Some(t), d)
            }
        };
        let authority = crate::testkit::key(0xA07);
        let mut config = warden_module::config::Config::default();
        config.isolation.short_quarantine_blocks = spec.quarantine_blocks;
        config.isolation.long_quarantine_blocks = spec.quarantine_blocks.saturating_mul(4);
        config.isolation.warnings_before_quarantine = spec.warnings_before_quarantine;
        let genesis = GenesisFile {
            chain_id,
            epoch: set.epoch,
            time_ms: 0,
            authority: hex::encode(public(&authority).0),
            runtime: Default::default(),
            validators: set
                .validators
                .iter()
                .map(|v| crate::chain::genesis::ValidatorToml {
                    operator: v.operator,
                    name: String::from_utf8_lossy(v.name.as_bytes()).into_owned(),
                    key: hex::encode(v.key.0),
                    power: v.power,
                })
                .collect(),
            config: (&config).into(),
        };
        let chain_dir = dir.join("chain");
        let chain = if chain_dir.join(crate::chain::DB_FILE).exists() {
            Chain::open(&chain_dir)?
        } else {
            Chain::init(&genesis, &chain_dir)?
        };
        let relays = (0..node_operator.len())
            .map(|n| {
                honest_node[n]
                    && spec
                        .relayers
                        .as_ref()
                        .is_none_or(|r| r.contains(&node_operator[n]))
            })
            .collect();
        let nominal = set
            .validators
            .iter()
            .map(|v| (v.operator, v.power))
            .collect();
        let cfg_monitoring = cfg.monitoring.clone();
        let n_nodes = node_operator.len();
        let mut hosts = Self {
            next_epoch_height: spec.epoch_heights.max(1),
            spec,
            cfg,
            chain_id,
            chain,
            authority,
            _dir: tmp,
            dir,
            hosts: (0..node_operator.len()).map(|_| None).collect(),
            honest: honest_node,
            relays,
            node_operator,
            keys,
            nominal,
            banned: BTreeSet::new(),
            set: set.clone(),
            report: WardenReport::default(),
            timeline: BTreeMap::new(),
            detected_by: BTreeMap::new(),
            onsets: BTreeMap::new(),
            view_base: 0,
            epoch_max_view: 0,
            monitor: HealthMonitor::new(&cfg_monitoring),
            matrix: ConnectivityMatrix::new(n_nodes),
            partition: None,
            committed: 0,
            now: 0,
            metrics: None,
        };
        hosts.monitor.set_peers(n_nodes);
        hosts.report.epochs.push(EpochRecord {
            epoch: set.epoch,
            start_us: 0,
            start_height: 0,
            validators: set
                .validators
                .iter()
                .map(|v| (v.operator, v.power))
                .collect(),
            excluded: Vec::new(),
        });
        Ok(hosts)
    }

    /// The chain (for reports and tests).
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Starts (or restarts after a crash) the host of `node`, with the schedule of the current
    /// epoch. Its relay queue is reopened from disk.
    pub fn boot(&mut self, node: NodeId, schedule: &LeaderSchedule) -> anyhow::Result<()> {
        let i = node as usize;
        if !self.honest.get(i).copied().unwrap_or(false) || self.hosts[i].is_some() {
            return Ok(());
        }
        let operator = self.node_operator[i];
        let mut detector = ByzantineDetector::new(operator, self.cfg.detection.clone());
        detector.start_epoch(self.chain_id, self.set.clone(), schedule.clone());
        let dir = crate::ft::relay::relay_dir(&self.dir.join(format!("host-{node}")));
        let relayer = EvidenceCollector::open(&dir, self.cfg.relayer.clone())?;
        self.hosts[i] = Some(Host {
            node,
            operator,
            key: self.keys[operator as usize].clone(),
            detector,
            relayer,
            pending: BTreeMap::new(),
            accused: BTreeSet::new(),
            view: 0,
            checkpoint: None,
            lock: None,
            proposals: BTreeMap::new(),
            certified: BTreeSet::new(),
            entered: BTreeMap::new(),
            stuck: StuckViewDetector::new(
                self.cfg
                    .recovery
                    .view_change_timeout_ms
                    .saturating_mul(1_000),
            ),
        });
        Ok(())
    }

    /// The host of `node` crashed: everything in memory is lost, the relay queue stays.
    pub fn crash(&mut self, node: NodeId) {
        if let Some(slot) = self.hosts.get_mut(node as usize) {
            if slot.take().is_some() {
                self.report.host_restarts += 1;
            }
        }
    }

    /// Records that `operator` committed an offence of `class`, provable from `at_us`.
    pub fn on_offence(&mut self, operator: OperatorId, class: OffenceClass, at_us: u64) {
        self.onsets.entry((operator, class)).or_insert(at_us);
    }

    /// The replica of `node` is in `view` at `now`.
    pub fn on_view(&mut self, now: u64, node: NodeId, view: u64, out: &mut Vec<HostAction>) {
        let Some(host) = self.hosts.get_mut(node as usize).and_then(Option::as_mut) else {
            return;
        };
        if view <= host.view {
            return;
        }
        host.view = view;
        host.entered.insert(view, now);
        while host.entered.len() > 512 {
            host.entered.pop_first();
        }
        host.stuck.on_view(now, view);
        if view > self.epoch_max_view {
            self.epoch_max_view = view;
            let leader = host
                .detector
                .epoch_view(self.set.epoch)
                .and_then(|e| e.schedule.leader(view))
                .unwrap_or(u32::MAX);
            thin(&mut self.report.view_starts);
            self.report
                .view_starts
                .push((now, self.view_base + view, leader));
            let by_timeout = !host.certified.contains(&view.saturating_sub(1));
            self.monitor.on_view_change(ms(now), view, by_timeout);
        }
        // Views left without a certificate: show peers the proposal seen there.
        let failed: Vec<u64> = host.proposals.range(..view).map(|(v, _)| *v).collect();
        for v in failed {
            if let Some(p) = host.proposals.remove(&v) {
                if !host.certified.contains(&v) {
                    out.push(HostAction::Send(
                        node,
                        Dest::All,
                        Rc::new(Payload::Host(HostMessage::Forward(p))),
                    ));
                }
            }
        }
        let floor = view.saturating_sub(FORWARD_VIEWS as u64);
        host.certified = host.certified.split_off(&floor);
        let mut findings = Vec::new();
        host.detector.on_view(now, view, &mut findings);
        self.handle(now, node, findings, out);
    }

    /// `payload` from `from` reached `to` at `now`.
    pub fn observe(
        &mut self,
        now: u64,
        from: NodeId,
        to: NodeId,
        payload: &Payload,
        ctx: &Context,
        out: &mut Vec<HostAction>,
    ) {
        let from_op = self
            .node_operator
            .get(from as usize)
            .copied()
            .unwrap_or(u32::MAX);
        self.now = now;
        self.matrix.heard(now, from, to);
        self.monitor.on_peer_heard(ms(now), from);
        let Some(host) = self.hosts.get_mut(to as usize).and_then(Option::as_mut) else {
            return;
        };
        let verifier = CtxVerifier(ctx);
        let mut findings = Vec::new();
        match payload {
            Payload::Signed(s) => {
                if let Message::Proposal(p) = &s.message {
                    if s.epoch == self.set.epoch && p.view + FORWARD_VIEWS as u64 > host.view {
                        host.proposals.entry(p.view).or_insert_with(|| s.clone());
                        while host.proposals.len() > FORWARD_VIEWS {
                            host.proposals.pop_first();
                        }
                    }
                }
                host.detector
                    .observe(now, from_op, Observed::Signed(s), &verifier, &mut findings)
            }
            Payload::Cert(c) => {
                // Candidates for peers restoring from a checkpoint (verified when used).
                match c.kind {
                    CertificateKind::Vote2
                        if host
                            .checkpoint
                            .as_ref()
                            .is_none_or(|k| k.cert.view < c.view) =>
                    {
                        if let Some(header) = ctx.header(&c.block_hash) {
                            host.checkpoint = Some(Checkpoint {
                                header,
                                cert: c.clone(),
                            });
                        }
                    }
                    CertificateKind::Vote if host.lock.as_ref().is_none_or(|k| k.view < c.view) => {
                        host.lock = Some(c.clone());
                    }
                    _ => {}
                }
                if c.kind != CertificateKind::Timeout && c.view + FORWARD_VIEWS as u64 > host.view {
                    host.certified.insert(c.view);
                }
                host.detector.observe(
                    now,
                    from_op,
                    Observed::Certificate(c),
                    &verifier,
                    &mut findings,
                )
            }
            Payload::Host(m) => {
                self.on_host_message(now, from, to, m, ctx, out);
                return;
            }
        }
        self.handle(now, to, findings, out);
    }

    fn handle(
        &mut self,
        now: u64,
        node: NodeId,
        findings: Vec<Finding>,
        out: &mut Vec<HostAction>,
    ) {
        for finding in findings {
            match finding {
                Finding::Evidence { offence, evidence } => {
                    let key = (offence.operator, offence.class);
                    let onset_view = (offence.epoch == self.set.epoch).then_some(offence.view);
                    self.note_detection(now, node, key, 1, None, onset_view);
                    self.collect(now, node, Msg::SubmitEvidence(evidence));
                }
                Finding::Suspicion(s) => {
                    let key = (s.accused, s.behaviour.class());
                    let began = self.hosts[node as usize]
                        .as_ref()
                        .and_then(|h| h.entered.range(s.first_view..).next().map(|(_, t)| *t));
                    self.note_detection(now, node, key, 2, began, Some(s.first_view));
                    let Some(host) = self.hosts[node as usize].as_mut() else {
                        continue;
                    };
                    if !self.cfg.isolation.automatic_isolation
                        || !host.accused.insert((s.accused, s.behaviour as u8, s.epoch))
                    {
                        continue;
                    }
                    let accusation = Accusation {
                        accused: s.accused,
                        behaviour: s.behaviour,
                        epoch: s.epoch,
                        first_view: s.first_view,
                        last_view: s.last_view,
                        measured: s.measured,
                    };
                    let own = witness(&host.key, host.operator, &accusation, self.chain_id);
                    let mut witnesses = BTreeMap::new();
                    witnesses.insert(host.operator, own);
                    host.pending.insert(
                        borsh::to_vec(&accusation).unwrap_or_default(),
                        Collecting {
                            accusation,
                            witnesses,
                        },
                    );
                    out.push(HostAction::Send(
                        node,
                        Dest::All,
                        Rc::new(Payload::Host(HostMessage::Accuse(accusation, own))),
                    ));
                    self.try_submit_accusation(
                        now,
                        node,
                        &borsh::to_vec(&accusation).unwrap_or_default(),
                    );
                }
            }
        }
    }

    fn note_detection(
        &mut self,
        now: u64,
        node: NodeId,
        key: (OperatorId, OffenceClass),
        tier: u8,
        began_us: Option<u64>,
        onset_view: Option<u64>,
    ) {
        let view = self.hosts[node as usize]
            .as_ref()
            .map(|h| self.view_base + h.view);
        let detector = self.node_operator[node as usize];
        let onset = self.onsets.get(&key).copied().or(began_us).unwrap_or(0);
        let base = self.view_base;
        let honest = self.is_honest_operator(key.0);
        let entry = self.timeline.entry(key).or_insert_with(|| FaultTimeline {
            operator: key.0,
            class: class_name(key.1),
            tier,
            onset_us: onset,
            onset_view: onset_view.map(|v| base + v),
            honest,
            ..FaultTimeline::default()
        });
        if entry.detected_us.is_none() {
            entry.detected_us = Some(now);
            entry.detected_view = view;
            entry.first_detector = Some(detector);
            tracing::info!(
                at_ms = ms(now),
                offender = key.0,
                offence = ?key.1,
                tier,
                host = detector,
                "detected"
            );
        }
        if self.detected_by.entry(key).or_default().insert(detector) {
            entry.detectors += 1;
        }
    }

    fn is_honest_operator(&self, op: OperatorId) -> bool {
        self.node_operator
            .iter()
            .zip(&self.honest)
            .filter(|(o, _)| **o == op)
            .all(|(_, h)| *h)
    }

    fn collect(&mut self, now: u64, node: NodeId, msg: Msg) {
        if !self.relays[node as usize] {
            return;
        }
        if let Msg::SubmitEvidence(e) = &msg {
            // The chain bans once; more evidence against a banned operator changes nothing.
            if e.offence().is_ok_and(|o| self.banned.contains(&o.operator)) {
                return;
            }
        }
        let Some(host) = self.hosts[node as usize].as_mut() else {
            return;
        };
        let label = describe(&msg);
        // A refusal here means the module would refuse it too: nothing is lost by dropping it.
        let _ = host.relayer.collect(&msg, &label, ms(now), &self.chain);
    }

    fn on_host_message(
        &mut self,
        now: u64,
        from: NodeId,
        to: NodeId,
        message: &HostMessage,
        ctx: &Context,
        out: &mut Vec<HostAction>,
    ) {
        let chain_id = self.chain_id;
        let Some(host) = self.hosts.get_mut(to as usize).and_then(Option::as_mut) else {
            return;
        };
        match message {
            HostMessage::Accuse(accusation, _) => {
                if from != to && host.detector.endorses(accusation) {
                    let sig = witness(&host.key, host.operator, accusation, chain_id);
                    out.push(HostAction::Send(
                        to,
                        Dest::Nodes(Rc::new(vec![from])),
                        Rc::new(Payload::Host(HostMessage::Endorse(*accusation, sig))),
                    ));
                }
            }
            HostMessage::Forward(signed) => {
                let mut findings = Vec::new();
                host.detector
                    .observe_forwarded(signed, &CtxVerifier(ctx), &mut findings);
                self.handle(now, to, findings, out);
            }
            HostMessage::Endorse(accusation, sig) => {
                let key = borsh::to_vec(accusation).unwrap_or_default();
                let Some(collecting) = host.pending.get_mut(&key) else {
                    return;
                };
                if sig.witness == accusation.accused
                    || collecting.witnesses.contains_key(&sig.witness)
                {
                    return;
                }
                // Only a valid signature of a member counts.
                let ok = self.set.get(sig.witness).is_some_and(|v| {
                    CtxVerifier(ctx).verify(
                        &v.key,
                        &accusation.signing_bytes(chain_id),
                        &sig.signature,
                    )
                });
                if ok {
                    collecting.witnesses.insert(sig.witness, *sig);
                    self.try_submit_accusation(now, to, &key);
                }
            }
        }
    }

    fn try_submit_accusation(&mut self, now: u64, node: NodeId, key: &[u8]) {
        let Some(host) = self.hosts[node as usize].as_mut() else {
            return;
        };
        let Some(collecting) = host.pending.get(key) else {
            return;
        };
        let power: u64 = collecting
            .witnesses
            .keys()
            .map(|w| self.set.power_of(*w))
            .sum();
        let threshold = (u128::from(self.set.total_power)
            * u128::from(self.cfg.evidence.evidence_aggregation_threshold_ppm)
            / 1_000_000) as u64;
        let needed = threshold.max(self.set.one_third_plus());
        if power < needed || collecting.witnesses.len() < self.cfg.evidence.minimum_witness_count {
            return;
        }
        let Some(collecting) = host.pending.remove(key) else {
            return;
        };
        let accusation = collecting.accusation;
        let witnesses: Vec<WitnessSignature> = collecting.witnesses.into_values().collect();
        let tkey = (accusation.accused, accusation.behaviour.class());
        if let Some(t) = self.timeline.get_mut(&tkey) {
            t.witnessed_us.get_or_insert(now);
        }
        let Some(witnesses) = BoundedVec::new(witnesses) else {
            return;
        };
        self.collect(
            now,
            node,
            Msg::SubmitAccusation(WitnessedAccusation {
                accusation,
                witnesses,
            }),
        );
    }

    /// `node`'s replica committed `height` (counted over all epochs) at `now`.
    pub fn on_commit(&mut self, now: u64, node: NodeId, height: u64) {
        if let Some(host) = self.hosts.get_mut(node as usize).and_then(Option::as_mut) {
            host.stuck.on_commit(now, height);
        }
        if height > self.committed {
            self.committed = height;
            thin(&mut self.report.commits);
            self.report.commits.push((now, height));
            self.monitor.on_commit(ms(now), height);
            let committed = self.committed;
            if let Some(p) = self.report.partitions.last_mut().filter(|p| {
                p.healed_us.is_some() && p.resumed_us.is_none() && committed > p.height_at_heal
            }) {
                p.resumed_us = Some(now);
            }
        }
    }

    /// Recovery and monitoring, run on the chain's block clock: a stuck view starts an
    /// emergency view change (the host rebroadcasts the highest certificate it holds, so
    /// replicas that missed it move on); the connectivity matrix is checked for a split, the
    /// primary partition (the component holding a quorum) named, and when the split heals every
    /// host syncs its highest certificate across it.
    pub fn tick(&mut self, now: u64, out: &mut Vec<HostAction>) {
        self.now = now;
        if self.cfg.recovery.automatic_recovery {
            for host in self.hosts.iter_mut().flatten() {
                if host.stuck.check(now).is_some() {
                    if let Some(action) = host.broadcast_highest() {
                        tracing::info!(
                            at_ms = ms(now),
                            host = host.operator,
                            "stuck view: emergency view change"
                        );
                        self.report.emergency_view_changes += 1;
                        out.push(action);
                    }
                }
            }
        }
        let powers: Vec<u64> = self
            .node_operator
            .iter()
            .map(|op| self.set.power_of(*op))
            .collect();
        let threshold = self
            .cfg
            .recovery
            .partition_detection_threshold_ms
            .saturating_mul(1_000);
        let info = self
            .matrix
            .partitions(now, threshold, &powers, self.set.quorum());
        // Nodes outside the set are expected to be silent: only members count.
        let live: Vec<Vec<u32>> = info
            .components
            .iter()
            .map(|c| {
                c.iter()
                    .copied()
                    .filter(|n| powers.get(*n as usize).is_some_and(|p| *p > 0))
                    .collect::<Vec<u32>>()
            })
            .filter(|c| !c.is_empty())
            .collect();
        let split = live.len() > 1;
        if split && self.partition.is_none() && now > threshold {
            let primary = info.primary.and_then(|i| info.components.get(i).cloned());
            tracing::info!(at_ms = ms(now), components = ?live, primary = ?primary, "network split");
            self.partition = Some(PartitionEpisode {
                detected_us: now,
                healed_us: None,
                components: live,
                primary,
                synced: 0,
                height_at_heal: 0,
                resumed_us: None,
            });
        } else if !split {
            if let Some(mut episode) = self.partition.take() {
                episode.healed_us = Some(now);
                tracing::info!(
                    at_ms = ms(now),
                    "network split healed; syncing the highest certificates"
                );
                episode.height_at_heal = self.committed;
                if self.cfg.recovery.automatic_recovery {
                    for action in self
                        .hosts
                        .iter()
                        .flatten()
                        .filter_map(Host::broadcast_highest)
                    {
                        episode.synced += 1;
                        out.push(action);
                    }
                }
                if self.report.partitions.len() < 64 {
                    self.report.partitions.push(episode);
                }
            }
        }
        self.monitor.set_validator_set(ValidatorSetHealth {
            validators: self.set.validators.len(),
            total_power: self.set.total_power,
            quorum: self.set.quorum(),
            // The isolated operators are out of the set: they no longer count against it.
            isolated_power: 0,
            suspected_power: 0,
        });
        self.monitor.sample(ms(now));
        if let Some(shared) = &self.metrics {
            let report = self.monitor.report(ms(now));
            let mut m = match shared.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            let _ = report.export(&mut m);
            let counters = [
                (
                    "warden_chain_height",
                    "Blocks of the embedded chain.",
                    self.report.chain_height,
                ),
                (
                    "warden_evidence_included_total",
                    "Evidence transactions included.",
                    self.report.evidence_included,
                ),
                (
                    "warden_accusations_included_total",
                    "Accusation transactions included.",
                    self.report.accusations_included,
                ),
                (
                    "warden_slashing_proposals_total",
                    "Slashing proposals made.",
                    self.report.slashing_proposals,
                ),
                (
                    "warden_emergency_view_changes_total",
                    "Emergency view changes on stuck views.",
                    self.report.emergency_view_changes,
                ),
                ("warden_epoch", "The current epoch.", self.set.epoch),
            ];
            for (name, help, value) in counters {
                let _ = m.gauge(name, help, &[], value as f64);
            }
        }
    }

    /// A chain block at `now`: every live relayer submits what it has, the block is produced,
    /// and its events are recorded.
    pub fn produce_block(&mut self, now: u64) -> anyhow::Result<()> {
        for host in self.hosts.iter_mut().flatten() {
            let mut submitter = EmbeddedSubmitter {
                chain: &mut self.chain,
                key: host.key.clone(),
            };
            let report = host.relayer.tick(ms(now), &mut submitter);
            self.report.duplicates += report.already_on_chain.len() as u64;
            self.report.refused += report.refused.len() as u64;
        }
        let header = self.chain.produce_block(ms(now))?;
        self.report.chain_height = header.height;
        let Some(block) = self.chain.block(header.height)? else {
            return Ok(());
        };
        for hash in &block.txs {
            let Some(record) = self.chain.tx(hash)? else {
                continue;
            };
            if !succeeded(&record.result.status) {
                continue;
            }
            for event in &record.result.events {
                self.on_event(now, header.height, event);
            }
        }
        Ok(())
    }

    fn on_event(&mut self, now: u64, height: u64, event: &Event) {
        let honest_op = |op: OperatorId, me: &Self| {
            me.node_operator
                .iter()
                .zip(&me.honest)
                .any(|(o, h)| *o == op && *h)
        };
        let change = |me: &mut Self, operator: OperatorId, what: &str| {
            tracing::info!(
                at_ms = ms(now),
                height,
                operator,
                change = what,
                "isolation"
            );
            me.report.isolation.push(IsolationChange {
                at_us: now,
                height,
                operator,
                change: what.to_string(),
            });
        };
        match event {
            Event::EvidenceAccepted { offence, .. } | Event::AccusationAccepted { offence, .. } => {
                if matches!(event, Event::EvidenceAccepted { .. }) {
                    self.report.evidence_included += 1;
                } else {
                    self.report.accusations_included += 1;
                }
                if honest_op(offence.operator, self) {
                    self.report.honest_isolated.push(offence.operator);
                }
                let key = (offence.operator, offence.class);
                let onset = self.onsets.get(&key).copied().unwrap_or(0);
                let t = self.timeline.entry(key).or_insert_with(|| FaultTimeline {
                    operator: key.0,
                    class: class_name(key.1),
                    tier: if matches!(event, Event::EvidenceAccepted { .. }) {
                        1
                    } else {
                        2
                    },
                    onset_us: onset,
                    ..FaultTimeline::default()
                });
                if t.on_chain_us.is_none() {
                    t.on_chain_us = Some(now);
                    t.on_chain_height = Some(height);
                    tracing::info!(at_ms = ms(now), height, offender = key.0, offence = ?key.1, "recorded on chain");
                }
            }
            Event::Banned { operator, class } => {
                change(self, *operator, "banned");
                self.banned.insert(*operator);
                if honest_op(*operator, self) {
                    self.report.honest_isolated.push(*operator);
                }
                if let Some(t) = self.timeline.get_mut(&(*operator, *class)) {
                    t.isolation.get_or_insert_with(|| "banned".into());
                    t.isolated_us.get_or_insert(now);
                }
            }
            Event::Quarantined { operator, .. }
            | Event::QuarantineDeferred { operator }
            | Event::Warned { operator, .. } => {
                let what = match event {
                    Event::Quarantined { .. } => "quarantined",
                    Event::QuarantineDeferred { .. } => "deferred",
                    _ => "warned",
                };
                change(self, *operator, what);
                if honest_op(*operator, self) {
                    self.report.honest_isolated.push(*operator);
                }
                for t in self
                    .timeline
                    .values_mut()
                    .filter(|t| t.operator == *operator && t.tier == 2)
                {
                    if t.on_chain_us.is_some() && t.isolation.is_none() {
                        t.isolation = Some(what.into());
                        t.isolated_us = Some(now);
                    }
                }
            }
            Event::ProbationStarted { operator } => change(self, *operator, "probation"),
            Event::Rehabilitated { operator } => change(self, *operator, "rehabilitated"),
            Event::SlashingProposed { .. } => self.report.slashing_proposals += 1,
            _ => {}
        }
    }

    /// Ends the current epoch at `now` (the committed height reached `next_epoch_height`):
    /// flushes the relayers, rotates the chain to a set rebuilt from the module's isolation
    /// state (banned operators removed for good, quarantined ones out until they return, those
    /// on probation at reduced power) and returns the next epoch's set and the module's
    /// schedule for it.
    pub fn next_epoch(
        &mut self,
        now: u64,
        committed: u64,
    ) -> anyhow::Result<(ValidatorSet, LeaderSchedule)> {
        self.produce_block(now)?;
        let epoch = self.set.epoch + 1;
        let influence = self.query_config()?.isolation.probation_influence_ppm;
        let mut validators = Vec::new();
        let mut excluded = Vec::new();
        for (op, power) in self.nominal.clone() {
            let state = self.query_isolation(op)?;
            if let IsolationState::Banned { .. } = state {
                self.nominal.remove(&op);
                excluded.push((op, "banned".to_string()));
                continue;
            }
            let effective = if self.cfg.isolation.isolation_escalation_enabled {
                isolation::effective_power(state, power, influence)
            } else {
                power
            };
            if effective == 0 {
                excluded.push((op, state_name(&state)));
                continue;
            }
            validators.push(ValidatorInfo {
                operator: op,
                name: BoundedBytes::new(format!("v{op}").into_bytes()).unwrap_or_default(),
                key: PublicKey(public(&self.keys[op as usize]).0),
                power: effective,
            });
        }
        let set = ValidatorSet::new(
            epoch,
            BoundedVec::new(validators.clone())
                .ok_or_else(|| anyhow::anyhow!("too many validators"))?,
        )
        .map_err(|e| anyhow::anyhow!("next validator set: {e:?}"))?;
        let rotation = Msg::RotateValidators(Rotation {
            epoch,
            validators: BoundedVec::new(validators).unwrap_or_default(),
            approvals: BoundedVec::empty(),
        });
        let hash = self
            .chain
            .submit_signed(&self.authority, borsh::to_vec(&rotation)?)?;
        self.produce_block(now)?;
        let record = self
            .chain
            .tx(&hash)?
            .ok_or_else(|| anyhow::anyhow!("the rotation was not included"))?;
        anyhow::ensure!(
            succeeded(&record.result.status),
            "the module refused the rotation: {:?}",
            record.result.status
        );
        let schedule = match self.query(&Query::Schedule { epoch })? {
            QueryResponse::Schedule(s) => s,
            other => anyhow::bail!("unexpected answer {other:?}"),
        };
        for (op, _) in &excluded {
            for t in self.timeline.values_mut().filter(|t| t.operator == *op) {
                t.power_lost_us.get_or_insert(now);
            }
        }
        tracing::info!(
            at_ms = ms(now),
            epoch,
            validators = set.validators.len(),
            excluded = ?excluded,
            "epoch change"
        );
        self.report.epochs.push(EpochRecord {
            epoch,
            start_us: now,
            start_height: committed,
            validators: set
                .validators
                .iter()
                .map(|v| (v.operator, v.power))
                .collect(),
            excluded,
        });
        self.set = set.clone();
        self.view_base += self.epoch_max_view;
        self.epoch_max_view = 0;
        self.next_epoch_height = committed.saturating_add(self.spec.epoch_heights.max(1));
        for host in self.hosts.iter_mut().flatten() {
            host.detector
                .start_epoch(self.chain_id, set.clone(), schedule.clone());
            host.view = 0;
            host.pending.clear();
            host.checkpoint = None;
            host.lock = None;
        }
        Ok((set, schedule))
    }

    fn query(&self, query: &Query) -> anyhow::Result<QueryResponse> {
        let outcome = self.chain.query(&borsh::to_vec(query)?)?;
        let bytes = outcome
            .result
            .map_err(|e| anyhow::anyhow!("query {query:?}: {e}"))?;
        Ok(borsh::from_slice(&bytes)?)
    }

    fn final_standing(&self) -> Vec<OperatorOutcome> {
        let mut operators: Vec<OperatorId> = self.node_operator.clone();
        operators.sort_unstable();
        operators.dedup();
        operators
            .into_iter()
            .map(|op| {
                let reputation = match self.query(&Query::Reputation { operator: op }) {
                    Ok(QueryResponse::Reputation(r)) => r.score,
                    _ => 0,
                };
                let isolation = self
                    .query_isolation(op)
                    .map(|s| state_name(&s))
                    .unwrap_or_else(|e| format!("unknown ({e})"));
                OperatorOutcome {
                    operator: op,
                    honest: self.is_honest_operator(op),
                    reputation,
                    isolation,
                    power: self.set.power_of(op),
                }
            })
            .collect()
    }

    fn final_slashing(&self) -> Vec<SlashingOutcome> {
        match self.query(&Query::SlashingProposals {
            start: 0,
            limit: warden_module::msg::MAX_PAGE,
        }) {
            Ok(QueryResponse::SlashingProposals(list)) => list
                .into_iter()
                .map(|p| SlashingOutcome {
                    id: p.id,
                    operator: p.offence.operator,
                    class: class_name(p.offence.class),
                    fraction_ppb: p.fraction_ppb,
                    status: format!("{:?}", p.status).to_lowercase(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn query_isolation(&self, operator: OperatorId) -> anyhow::Result<IsolationState> {
        match self.query(&Query::Isolation { operator })? {
            QueryResponse::Isolation(s) => Ok(s),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    }

    fn query_config(&self) -> anyhow::Result<warden_module::config::Config> {
        match self.query(&Query::Config)? {
            QueryResponse::Config(c) => Ok(c),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    }

    /// What the live hosts hold for a peer restoring in `epoch`: their highest double
    /// certificates (with headers) and phase-1 certificates, unverified.
    pub fn checkpoints(&self, epoch: u64) -> (Vec<Checkpoint>, Vec<Certificate>) {
        let live = self.hosts.iter().flatten();
        (
            live.clone()
                .filter_map(|h| h.checkpoint.clone())
                .filter(|c| c.cert.epoch == epoch)
                .collect(),
            live.filter_map(|h| h.lock.clone())
                .filter(|c| c.epoch == epoch)
                .collect(),
        )
    }

    /// Finishes the report: the timeline in a stable order, the detectors' counters.
    pub fn finish(&mut self) -> WardenReport {
        for host in self.hosts.iter().flatten() {
            let stats = host.detector.stats();
            self.report.observed += stats.observed;
            self.report.detector_verifications += stats.tier1.verifications;
        }
        if let Some(open) = self.partition.take() {
            self.report.partitions.push(open);
        }
        self.report.views = self.view_base + self.epoch_max_view;
        self.report.operators = self.final_standing();
        self.report.slashing = self.final_slashing();
        self.report.health = Some(self.monitor.report(ms(self.now)));
        self.report.honest_isolated.sort_unstable();
        self.report.honest_isolated.dedup();
        let mut report = self.report.clone();
        report.faults = self.timeline.values().cloned().collect();
        report
    }
}

fn witness(
    key: &SigningKey,
    operator: OperatorId,
    accusation: &Accusation,
    chain_id: u64,
) -> WitnessSignature {
    WitnessSignature {
        witness: operator,
        signature: sign(key, &accusation.signing_bytes(chain_id)),
    }
}

/// The run's shared verification cache as a [`Verifier`] (it only changes speed).
pub struct CtxVerifier<'a>(pub &'a Context);

impl Verifier for CtxVerifier<'_> {
    fn verify(
        &self,
        key: &PublicKey,
        message: &[u8],
        signature: &warden_module::wire::Signature,
    ) -> bool {
        self.0.verify_key(key, message, signature)
    }
}
