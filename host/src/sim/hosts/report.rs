//! What the closed loop reports: per offence, when it began, was detected, reached the chain,
//! was isolated and lost its power; the epochs, isolation changes, partitions, health and each
//! operator's standing at the end; and the text of the run's summary.

use serde::Serialize;
use warden_module::evidence::OffenceClass;
use warden_module::msg::{Event, Query, QueryResponse};
use warden_module::state::IsolationState;
use warden_module::wire::OperatorId;

use super::{ms, Hosts};
use crate::ft::monitor::HealthReport;
use crate::sim::replica::NodeId;

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
    /// Transactions the relayers refused to queue (the module's own checks refused them, or
    /// a queue was full).
    pub relay_refused: u64,
    /// Accusations and co-signatures the hosts refused, by reason.
    pub host_refusals: std::collections::BTreeMap<String, u64>,
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
    /// Forks the hosts proved (each once, as the first host proved it).
    pub forks: Vec<ForkRecord>,
    /// Operators the chain banned for Tier 1 offences, in order.
    pub proven_culprits: Vec<OperatorId>,
    /// Honest operators among them (must stay empty: Tier 1 evidence needs two messages an
    /// honest replica never signs).
    pub honest_culprits: Vec<OperatorId>,
    /// Their power in the first epoch's set.
    pub proven_power: u64,
    /// The first epoch's total power.
    pub total_power: u64,
    /// When the chain's Tier 1 bans first covered more than a third of the power.
    pub accountable_us: Option<u64>,
}

/// A fork a host proved.
#[derive(Clone, Debug, Serialize)]
pub struct ForkRecord {
    /// When, in simulated microseconds.
    pub at_us: u64,
    /// The host that proved it first.
    pub host: OperatorId,
    /// The commit at the lower view.
    pub first: crate::ft::forensics::CommitRef,
    /// The conflicting commit.
    pub second: crate::ft::forensics::CommitRef,
    /// The case of the rule.
    pub rule: crate::ft::forensics::ForkRule,
    /// The culprits.
    pub culprits: Vec<OperatorId>,
    /// Their power.
    pub culprit_power: u64,
    /// The set's total power.
    pub total_power: u64,
}

impl ForkRecord {
    /// The record of `proof`, proved by `host` at `at_us`.
    pub fn new(at_us: u64, host: OperatorId, proof: &crate::ft::forensics::ForkProof) -> Self {
        Self {
            at_us,
            host,
            first: proof.first,
            second: proof.second,
            rule: proof.rule,
            culprits: proof.culprit_operators(),
            culprit_power: proof.culprit_power,
            total_power: proof.total_power,
        }
    }
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

pub(super) fn thin<T: Clone>(points: &mut Vec<T>) {
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
        if self.relay_refused > 0 || !self.host_refusals.is_empty() {
            let reasons: Vec<String> = self
                .host_refusals
                .iter()
                .map(|(why, n)| format!("{why} x{n}"))
                .collect();
            let _ = writeln!(
                s,
                "  refused by the hosts: {} transactions not queued; accusations and co-signatures: {}",
                self.relay_refused,
                if reasons.is_empty() { "none".to_string() } else { reasons.join(", ") }
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

pub(super) fn class_name(class: OffenceClass) -> String {
    format!("{class:?}")
}

impl Hosts {
    pub(super) fn note_detection(
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
            .map(|h| self.view_base + h.host.view());
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

    pub(super) fn is_honest_operator(&self, op: OperatorId) -> bool {
        self.node_operator
            .iter()
            .zip(&self.honest)
            .filter(|(o, _)| **o == op)
            .all(|(_, h)| *h)
    }

    pub(super) fn on_event(&mut self, now: u64, height: u64, event: &Event) {
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
                if class.tier() == 1 && !self.report.proven_culprits.contains(operator) {
                    self.report.proven_culprits.push(*operator);
                    if honest_op(*operator, self) {
                        self.report.honest_culprits.push(*operator);
                    }
                    let power = self.nominal.get(operator).copied().unwrap_or(0);
                    self.report.proven_power = self.report.proven_power.saturating_add(power);
                    if self.report.accountable_us.is_none()
                        && u128::from(self.report.proven_power) * 3
                            > u128::from(self.report.total_power)
                    {
                        self.report.accountable_us = Some(now);
                    }
                }
                for h in self.hosts.iter_mut().flatten() {
                    h.host.on_banned(*operator);
                }
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
    pub(super) fn final_standing(&self) -> Vec<OperatorOutcome> {
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

    pub(super) fn final_slashing(&self) -> Vec<SlashingOutcome> {
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
}
