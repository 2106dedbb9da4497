//! The fault-tolerance layer closed over the simulator and the embedded chain: every honest
//! validator runs a [`ValidatorHost`] beside its replica (the same type a node embeds), fed
//! every message the replica receives, with an [`EvidenceCollector`] whose queue lives on disk;
//! the hosts exchange accusations, co-signatures and forwarded proposals as encoded frames over
//! the simulated network; an embedded chain ([`Chain`], redb on disk, the module in wasm)
//! produces a block every `block_interval_us` of simulated time; and every `epoch_heights`
//! committed heights the validator set is rebuilt from the module's isolation state and leader
//! schedule ([`Hosts::next_epoch`]).
//!
//! This module only provides what a node's surroundings provide: links, the clock, the chain
//! and its governance, and the report ([`report`]); every decision is the host's.
//!
//! Architecture invariant: the simulated network's validator set and leader schedule of each
//! epoch after the first are exactly the module's: its set (without banned and zero-power
//! operators) and the schedule it computed.
//!
//! Hosts of Byzantine operators are not run: they could only withhold co-signatures or
//! co-sign falsely, and an accusation needs more than a third of the power, so at least one
//! honest witness, either way.

pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use ed25519_dalek::SigningKey;
use serde::Serialize;
use warden_module::codec::BoundedVec;
use warden_module::crypto::Verifier;
use warden_module::evidence::OffenceClass;
use warden_module::msg::{Msg, Query, QueryResponse, Rotation};
use warden_module::schedule::LeaderSchedule;
use warden_module::state::IsolationState;
use warden_module::validators::ValidatorSet;
use warden_module::wire::{BlockHeader, Certificate, CertificateKind, OperatorId, PublicKey};

use super::context::Context;
use super::replica::{Dest, NodeId, Payload};
use crate::chain::genesis::GenesisFile;
use crate::chain::{succeeded, Chain};
use crate::ft::config::{FaultToleranceConfig, LONG_QUARANTINE_FACTOR};
use crate::ft::detect::Observed;
use crate::ft::host::{Detection, HostAction, Peers, Recovery, ValidatorHost};
use crate::ft::monitor::{HealthMonitor, ValidatorSetHealth};
use crate::ft::recovery::{Checkpoint, ConnectivityMatrix, PartitionInfo};
use crate::ft::relay::{describe, EmbeddedSubmitter, EvidenceCollector};
use crate::testkit::public;

pub use report::{
    state_name, EpochRecord, FaultTimeline, ForkRecord, IsolationChange, OperatorOutcome,
    PartitionEpisode, SlashingOutcome, WardenReport, MAX_TIMELINE_POINTS,
};

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
    /// Blocks of a first quarantine on the chain (default: the configuration's
    /// `isolation.quarantine_duration_blocks`).
    #[serde(default)]
    pub quarantine_blocks: Option<u64>,
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

impl Default for WardenSpec {
    fn default() -> Self {
        Self {
            epoch_heights: default_epoch_heights(),
            block_interval_us: default_block_interval(),
            quarantine_blocks: None,
            relayers: None,
            warnings_before_quarantine: 0,
        }
    }
}

/// One honest validator's host in the run: the [`ValidatorHost`], its relay queue and the key
/// its relayer signs with.
struct SimHost {
    host: ValidatorHost,
    relayer: EvidenceCollector,
    key: SigningKey,
}

/// A host frame the world must deliver: from a node, to a destination.
pub struct Outgoing(pub NodeId, pub Dest, pub Rc<Payload>);

/// Everything the closed loop owns.
pub struct Hosts {
    spec: WardenSpec,
    cfg: FaultToleranceConfig,
    chain_id: u64,
    chain: Chain,
    authority: SigningKey,
    _dir: Option<tempfile::TempDir>,
    dir: PathBuf,
    hosts: Vec<Option<SimHost>>,
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
    /// The network's health as an observer of every node sees it (for the report).
    monitor: HealthMonitor,
    /// Who heard whom: the connectivity the hosts are told of.
    matrix: ConnectivityMatrix,
    partition: Option<PartitionEpisode>,
    committed: u64,
    now: u64,
    /// Where to export health and counters at each chain block, if anywhere.
    pub metrics: Option<crate::ft::metrics::SharedMetrics>,
}

pub(crate) fn ms(us: u64) -> u64 {
    us / 1_000
}

/// The module configuration of the closed loop's chain: the hosts' configuration
/// ([`FaultToleranceConfig::module_config`]), with the scenario's quarantine (if it sets one)
/// and warnings.
fn module_config(spec: &WardenSpec, cfg: &FaultToleranceConfig) -> warden_module::config::Config {
    let mut config = cfg.module_config();
    if let Some(blocks) = spec.quarantine_blocks {
        config.isolation.short_quarantine_blocks = blocks;
        config.isolation.long_quarantine_blocks = blocks.saturating_mul(LONG_QUARANTINE_FACTOR);
    }
    config.isolation.warnings_before_quarantine = spec.warnings_before_quarantine;
    config
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
                let t = tempfile::Builder::new()
                    .prefix(&format!("warden-sim-{seed:x}-"))
                    .tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        let authority = crate::testkit::key(0xA07);
        let config = module_config(&spec, &cfg);
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
        let n_nodes = node_operator.len();
        let mut monitor = HealthMonitor::new(&cfg.monitoring);
        monitor.set_peers(n_nodes);
        let mut report = WardenReport {
            total_power: set.total_power,
            ..WardenReport::default()
        };
        report.epochs.push(EpochRecord {
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
        Ok(Self {
            next_epoch_height: spec.epoch_heights.max(1),
            spec,
            cfg,
            chain_id,
            chain,
            authority,
            _dir: tmp,
            dir,
            hosts: (0..n_nodes).map(|_| None).collect(),
            honest: honest_node,
            relays,
            node_operator,
            keys,
            nominal,
            banned: BTreeSet::new(),
            set,
            report,
            timeline: BTreeMap::new(),
            detected_by: BTreeMap::new(),
            onsets: BTreeMap::new(),
            view_base: 0,
            epoch_max_view: 0,
            monitor,
            matrix: ConnectivityMatrix::new(n_nodes),
            partition: None,
            committed: 0,
            now: 0,
            metrics: None,
        })
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
        let key = self.keys[operator as usize].clone();
        let mut host = ValidatorHost::new(self.cfg.clone(), operator, key.clone());
        host.start_epoch(self.chain_id, self.set.clone(), schedule.clone());
        for op in &self.banned {
            host.on_banned(*op);
        }
        let dir = crate::ft::relay::relay_dir(&self.dir.join(format!("host-{node}")));
        let relayer = EvidenceCollector::open(&dir, self.cfg.relayer.clone())?;
        self.hosts[i] = Some(SimHost { host, relayer, key });
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
    pub fn on_view(
        &mut self,
        now: u64,
        node: NodeId,
        view: u64,
        ctx: &Context,
        out: &mut Vec<Outgoing>,
    ) {
        let Some(h) = self.hosts.get_mut(node as usize).and_then(Option::as_mut) else {
            return;
        };
        if view <= h.host.view() {
            return;
        }
        if view > self.epoch_max_view {
            self.epoch_max_view = view;
            thin_push(
                &mut self.report.view_starts,
                (now, self.view_base + view, ctx.leader(view)),
            );
            let by_timeout = !h.host.saw_certificate(view.saturating_sub(1));
            self.monitor.on_view_change(ms(now), view, by_timeout);
        }
        let mut actions = Vec::new();
        h.host.on_view(now, view, &mut actions);
        self.apply(now, node, actions, ctx, out);
    }

    /// `payload` from `from` reached `to` at `now`.
    pub fn observe(
        &mut self,
        now: u64,
        from: NodeId,
        to: NodeId,
        payload: &Payload,
        ctx: &Context,
        out: &mut Vec<Outgoing>,
    ) {
        let from_op = self
            .node_operator
            .get(from as usize)
            .copied()
            .unwrap_or(u32::MAX);
        self.now = now;
        self.matrix.heard(now, from, to);
        self.monitor.on_peer_heard(ms(now), from);
        let Some(h) = self.hosts.get_mut(to as usize).and_then(Option::as_mut) else {
            return;
        };
        let verifier = CtxVerifier(ctx);
        let mut actions = Vec::new();
        match payload {
            Payload::Signed(s) => {
                h.host
                    .on_message(now, from_op, Observed::Signed(s), &verifier, &mut actions)
            }
            Payload::Cert(c) => {
                // The node's block store answers which block a double certificate commits.
                if c.kind == CertificateKind::Vote2 && h.host.wants_checkpoint(c) {
                    if let Some(header) = ctx.header(&c.block_hash) {
                        h.host.offer_checkpoint(Checkpoint {
                            header,
                            cert: c.clone(),
                        });
                    }
                }
                h.host.on_message(
                    now,
                    from_op,
                    Observed::Certificate(c),
                    &verifier,
                    &mut actions,
                )
            }
            Payload::Host(frame) => {
                h.host
                    .on_host_frame(now, from_op, frame, &verifier, &mut actions)
            }
        }
        self.apply(now, to, actions, ctx, out);
    }

    /// Carries out what the host of `node` asked for.
    fn apply(
        &mut self,
        now: u64,
        node: NodeId,
        actions: Vec<HostAction>,
        ctx: &Context,
        out: &mut Vec<Outgoing>,
    ) {
        for action in actions {
            match action {
                HostAction::Send { to, message } => {
                    let dest = match to {
                        Peers::All => Dest::All,
                        Peers::One(op) => Dest::Nodes(Rc::new(
                            ctx.nodes_of.get(op as usize).cloned().unwrap_or_default(),
                        )),
                    };
                    out.push(Outgoing(
                        node,
                        dest,
                        Rc::new(Payload::Host(message.encode())),
                    ));
                }
                HostAction::Broadcast {
                    certificate,
                    reason,
                } => {
                    match reason {
                        Recovery::StuckView(_) => {
                            tracing::info!(
                                at_ms = ms(now),
                                host = self.node_operator[node as usize],
                                "stuck view: emergency view change"
                            );
                            self.report.emergency_view_changes += 1;
                        }
                        Recovery::HealedSplit => {}
                    }
                    out.push(Outgoing(
                        node,
                        Dest::All,
                        Rc::new(Payload::Cert(certificate)),
                    ));
                }
                HostAction::Submit(msg) => self.collect(now, node, msg),
                HostAction::Detected(detection) => self.detected(now, node, detection),
            }
        }
    }

    fn detected(&mut self, now: u64, node: NodeId, detection: Detection) {
        match detection {
            Detection::Evidence { offence, .. } => {
                let key = (offence.operator, offence.class);
                let onset_view = (offence.epoch == self.set.epoch).then_some(offence.view);
                self.note_detection(now, node, key, 1, None, onset_view);
            }
            Detection::Suspicion(s) => {
                let key = (s.accused, s.behaviour.class());
                let began = self.hosts[node as usize]
                    .as_ref()
                    .and_then(|h| h.host.entered_at(s.first_view));
                self.note_detection(now, node, key, 2, began, Some(s.first_view));
            }
            Detection::Witnessed(a) => {
                if let Some(t) = self.timeline.get_mut(&(a.accused, a.behaviour.class())) {
                    t.witnessed_us.get_or_insert(now);
                }
            }
            Detection::Fork(proof) => {
                let host = self.node_operator[node as usize];
                if !self
                    .report
                    .forks
                    .iter()
                    .any(|f| f.first == proof.first && f.second == proof.second)
                {
                    tracing::info!(
                        at_ms = ms(now),
                        host,
                        culprits = ?proof.culprit_operators(),
                        "fork proven"
                    );
                    self.report.forks.push(ForkRecord::new(now, host, &proof));
                }
            }
        }
    }

    /// Hands `msg` to the relayer of `node`, if that host relays.
    fn collect(&mut self, now: u64, node: NodeId, msg: Msg) {
        if !self.relays[node as usize] {
            return;
        }
        let Some(h) = self.hosts[node as usize].as_mut() else {
            return;
        };
        let label = describe(&msg);
        if let Err(e) = h.relayer.collect(&msg, &label, ms(now), &self.chain) {
            tracing::debug!(at_ms = ms(now), node, error = %e, "relayer refused");
            self.report.relay_refused += 1;
        }
    }

    /// `node`'s replica committed `block` at `height` (counted over all epochs) at `now`.
    pub fn on_commit(
        &mut self,
        now: u64,
        node: NodeId,
        height: u64,
        block: &BlockHeader,
        ctx: &Context,
        out: &mut Vec<Outgoing>,
    ) {
        if let Some(h) = self.hosts.get_mut(node as usize).and_then(Option::as_mut) {
            let mut actions = Vec::new();
            h.host
                .on_commit(now, height, block, &CtxVerifier(ctx), &mut actions);
            self.apply(now, node, actions, ctx, out);
        }
        if height > self.committed {
            self.committed = height;
            thin_push(&mut self.report.commits, (now, height));
            self.monitor.on_commit(ms(now), height);
            let committed = self.committed;
            if let Some(p) = self.report.partitions.last_mut().filter(|p| {
                p.healed_us.is_some() && p.resumed_us.is_none() && committed > p.height_at_heal
            }) {
                p.resumed_us = Some(now);
            }
        }
    }

    /// The hosts' periodic tick, on the chain's block clock (a stuck view starts an emergency
    /// view change); then the connectivity matrix is checked for a split, the primary partition
    /// (the component holding a quorum) named, and every host told, so that when the split
    /// heals each syncs its highest certificate across it.
    pub fn tick(&mut self, now: u64, ctx: &Context, out: &mut Vec<Outgoing>) {
        self.now = now;
        for node in 0..self.hosts.len() {
            let Some(h) = self.hosts[node].as_mut() else {
                continue;
            };
            let mut actions = Vec::new();
            h.host.tick(now, &mut actions);
            self.apply(now, node as NodeId, actions, ctx, out);
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
        let mut healed = None;
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
                episode.height_at_heal = self.committed;
                tracing::info!(
                    at_ms = ms(now),
                    "network split healed; syncing the highest certificates"
                );
                healed = Some(episode);
            }
        }
        // The hosts see components of operators (a Twins pair is one operator in both halves).
        let components = info
            .components
            .iter()
            .map(|c| {
                let mut ops: Vec<u32> = c
                    .iter()
                    .filter_map(|n| self.node_operator.get(*n as usize).copied())
                    .collect();
                ops.sort_unstable();
                ops.dedup();
                ops
            })
            .collect();
        let seen = PartitionInfo {
            partitioned: self.partition.is_some(),
            components,
            ..info
        };
        let mut synced = 0;
        for node in 0..self.hosts.len() {
            let Some(h) = self.hosts[node].as_mut() else {
                continue;
            };
            let mut actions = Vec::new();
            if h.host.on_partition(&seen, &mut actions) {
                synced += 1;
            }
            self.apply(now, node as NodeId, actions, ctx, out);
        }
        if let Some(mut episode) = healed {
            episode.synced = synced;
            if self.report.partitions.len() < 64 {
                self.report.partitions.push(episode);
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
            self.export(shared);
        }
    }

    fn export(&self, shared: &crate::ft::metrics::SharedMetrics) {
        let report = self.monitor.report(ms(self.now));
        let mut m = match shared.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let _ = report.export(&mut m);
        let gauges = [
            (
                "warden_chain_height",
                "Blocks of the embedded chain.",
                self.report.chain_height,
            ),
            ("warden_epoch", "The current epoch.", self.set.epoch),
        ];
        for (name, help, value) in gauges {
            let _ = m.gauge(name, help, &[], value as f64);
        }
        let counters = [
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
        ];
        for (name, help, value) in counters {
            let _ = m.counter(name, help, &[], value as f64);
        }
        for operator in 0..self.hosts.len() {
            let power = self
                .set
                .validators
                .iter()
                .find(|v| v.operator as usize == operator)
                .map_or(0, |v| v.power);
            let _ = m.gauge(
                "warden_validator_power",
                "Voting power in the current epoch's set, per validator (0 once out of it).",
                &[("validator", &operator.to_string())],
                power as f64,
            );
        }
    }

    /// A chain block at `now`: every live relayer submits what it has, the block is produced,
    /// and its events are recorded.
    pub fn produce_block(&mut self, now: u64) -> anyhow::Result<()> {
        for h in self.hosts.iter_mut().flatten() {
            let mut submitter = EmbeddedSubmitter {
                chain: &mut self.chain,
                key: h.key.clone(),
            };
            let report = h.relayer.tick(ms(now), &mut submitter);
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

    pub fn next_epoch(
        &mut self,
        now: u64,
        committed: u64,
    ) -> anyhow::Result<(ValidatorSet, LeaderSchedule)> {
        self.produce_block(now)?;
        let epoch = self.set.epoch + 1;
        let nominal = self
            .nominal
            .iter()
            .map(|(&op, &power)| (op, (power, PublicKey(public(&self.keys[op as usize]).0))))
            .collect();
        let next = crate::chain::rotation::next_validators(
            &nominal,
            self.cfg.isolation.isolation_escalation_enabled,
            &mut |q| self.query(q),
        )?;
        for op in &next.banned {
            self.nominal.remove(op);
        }
        let (validators, excluded) = (next.validators, next.excluded);
        let set = ValidatorSet::new(epoch, crate::chain::rotation::bounded(validators.clone())?)
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
        for h in self.hosts.iter_mut().flatten() {
            h.host
                .start_epoch(self.chain_id, set.clone(), schedule.clone());
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

    fn query_isolation(&self, operator: OperatorId) -> anyhow::Result<IsolationState> {
        match self.query(&Query::Isolation { operator })? {
            QueryResponse::Isolation(s) => Ok(s),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    }

    /// What the live hosts hold for a peer restoring in `epoch`: their highest double
    /// certificates (with headers) and phase-1 certificates.
    pub fn checkpoints(&self, epoch: u64) -> (Vec<Checkpoint>, Vec<Certificate>) {
        let live = self.hosts.iter().flatten().map(|h| &h.host);
        (
            live.clone()
                .filter_map(|h| h.checkpoint().cloned())
                .filter(|c| c.cert.epoch == epoch)
                .collect(),
            live.filter_map(|h| h.highest_certificate().cloned())
                .filter(|c| c.epoch == epoch)
                .collect(),
        )
    }

    /// Finishes the report: the timeline in a stable order, the hosts' counters. Each live
    /// host's certificates are left in `host-N/certificates.borsh` for `warden forensics`.
    pub fn finish(&mut self) -> WardenReport {
        for (node, h) in self.hosts.iter().enumerate() {
            let Some(record) = h.as_ref().and_then(|h| h.host.forensics_record()) else {
                continue;
            };
            let path = self
                .dir
                .join(format!("host-{node}"))
                .join(crate::forensics_cli::RECORD_FILE);
            if let Err(e) = crate::forensics_cli::write_record(&path, &record) {
                tracing::warn!(path = %path.display(), error = %e, "cannot keep the certificates");
            }
        }
        for h in self.hosts.iter().flatten() {
            let stats = h.host.stats();
            self.report.observed += stats.detector.observed;
            self.report.detector_verifications += stats.detector.tier1.verifications;
            for (why, n) in stats.refused {
                *self
                    .report
                    .host_refusals
                    .entry(why.to_string())
                    .or_default() += n;
            }
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

fn thin_push<T: Clone>(points: &mut Vec<T>, point: T) {
    report::thin(points);
    points.push(point);
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
