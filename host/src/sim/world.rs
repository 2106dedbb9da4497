//! The discrete-event loop: simulated time in microseconds, one seeded generator, a queue of
//! deliveries, timers, crashes and restarts ordered by (time, sequence number).
//!
//! Architecture invariant: nothing in a run reads the wall clock or an unseeded generator, and
//! no decision depends on the iteration order of a hash map, so a seed replays event for event.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::rc::Rc;

use warden_module::codec::{BoundedBytes, BoundedVec};
use warden_module::evidence::OffenceClass;
use warden_module::schedule::{Candidate, LeaderSchedule};
use warden_module::validators::{ValidatorInfo, ValidatorSet};

use super::adversary::Adversary;
use super::checker::{Accountability, Checker, Violation};
use super::context::{Context, CryptoStats, Timing};
use super::hosts::{Hosts, Outgoing, WardenReport};
use super::network::Network;
use super::replica::{Dest, NodeId, Output, Payload, Replica, SafetyStore, Timer};
use super::rng::{Fx, Rng};
use super::scenario::Scenario;
use crate::ft::config::FaultToleranceConfig;
use crate::ft::recovery::{best_checkpoint, Checkpoint};
use crate::testkit::{key, public};
use ed25519_dalek::SigningKey;

/// The chain id of simulated networks.
pub const SIM_CHAIN_ID: u64 = 0x5157;
/// The epoch of simulated networks.
pub const SIM_EPOCH: u64 = 1;
/// The most events one run may process (a guard against runaway scenarios).
pub const MAX_EVENTS: u64 = 200_000_000;

enum Kind {
    Deliver {
        from: NodeId,
        to: NodeId,
        payload: Rc<Payload>,
        id: u64,
    },
    Timer {
        node: NodeId,
        incarnation: u64,
        timer: Timer,
    },
    Crash(NodeId),
    Restart(NodeId),
    /// The embedded chain produces a block (closed-loop runs only).
    ChainBlock,
    /// The validator set changes to the next epoch's (closed-loop runs only).
    EpochSwitch,
}

struct Event {
    at: u64,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the heap pops the earliest event first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Slot {
    operator: u32,
    replica: Option<Replica>,
    store: Option<SafetyStore>,
    adversary: Option<Adversary>,
    incarnation: u64,
    rng_seed: u64,
}

/// The outcome of one run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Scenario name.
    pub name: String,
    /// The seed.
    pub seed: u64,
    /// Validators.
    pub validators: usize,
    /// Nodes (validators plus Twins).
    pub nodes: usize,
    /// Faulty validators (adversaries and Twins).
    pub faulty: Vec<u32>,
    /// Whether the faulty power is at most f.
    pub within_f: bool,
    /// Simulated time at the end, in microseconds.
    pub end_us: u64,
    /// Events processed.
    pub events: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// The highest view an honest replica reached.
    pub max_view: u64,
    /// The highest honest committed height.
    pub height: u64,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// What a fork cost its culprits (closed-loop runs that broke safety with Byzantine power
    /// at most 2f).
    pub accountability: Option<Accountability>,
    /// Whether the scenario allows a fork as long as it is accountable (Tier 1 culprits over
    /// a third of the power, none honest).
    pub expect_accountable: bool,
    /// Provable offences by faulty validators, per class.
    pub offences: BTreeMap<OffenceClass, u64>,
    /// Hash of every event in order: equal hashes mean equal runs.
    pub trace_hash: u64,
    /// The cryptographic work.
    pub crypto: CryptoStats,
    /// When liveness checking started, if it did.
    pub liveness_from_us: Option<u64>,
    /// The liveness bound.
    pub liveness_bound_us: u64,
    /// What each view led by a faulty or crashed validator adds to the liveness bound.
    pub bad_view_us: u64,
    /// Whether the scenario expects a safety violation.
    pub expect_violation: bool,
    /// The height the scenario requires.
    pub min_height: u64,
    /// What the fault-tolerance layer did, for closed-loop runs.
    pub warden: Option<WardenReport>,
    /// Why the closed loop stopped, if it failed (a chain or disk error).
    pub warden_error: Option<String>,
    /// Commits resuming after views led by faulty validators.
    pub resumption: Resumption,
    /// Nodes that lost their disk: (node, checkpoint height restored, views abstained up to).
    pub restored: Vec<(NodeId, Option<u64>, u64)>,
    /// Each node's highest committed height (over all epochs).
    pub node_heights: Vec<u64>,
}

/// How fast commits resumed after views whose leader was faulty or down, in simulated time.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Resumption {
    /// Views led by a faulty or crashed validator that an honest replica entered.
    pub bad_views: u64,
    /// Of those, views that produced no certificate of their own.
    pub failed_views: u64,
    /// The longest time from entering such a failed view to the next honest commit.
    pub max_gap_us: u64,
    /// The median of those times.
    pub median_gap_us: u64,
    /// One view timer plus two of the slowest network delays: the target.
    pub target_us: u64,
    /// The longest time from entering such a failed view to the next certificate formed.
    pub max_cert_gap_us: u64,
}

impl RunReport {
    /// Whether the safety invariants held.
    pub fn safe(&self) -> bool {
        !self.violations.iter().any(Violation::is_safety)
    }

    /// Whether a fork went without more than a third of the power proven guilty.
    pub fn unaccountable(&self) -> bool {
        self.violations
            .iter()
            .any(|v| matches!(v, Violation::Unaccountable { .. }))
    }

    /// Whether the run shows what its scenario expects.
    pub fn passed(&self) -> bool {
        if self.expect_violation {
            !self.safe() && !self.unaccountable()
        } else if self.expect_accountable {
            // A coalition above f may fork the chain; nothing else may break. (Tier 2 gives
            // no guarantee above f, where the coalition alone holds a third of the witness
            // power: an honest validator it gets accused is reported, not a failure.)
            self.violations
                .iter()
                .all(|v| matches!(v, Violation::ConflictingCommit { .. }))
                && self.warden_error.is_none()
        } else {
            self.violations.is_empty()
                && self.height >= self.min_height
                && self.warden_error.is_none()
                && self
                    .warden
                    .as_ref()
                    .is_none_or(|w| w.honest_isolated.is_empty())
        }
    }
}

/// Runs `scenario` to its end (with the default fault-tolerance configuration for its hosts).
pub fn run(scenario: &Scenario) -> RunReport {
    run_with(scenario, &FaultToleranceConfig::default(), None)
}

/// Runs `scenario` with `cfg` for its hosts, keeping the chain and relay queues in `data_dir`
/// (a temporary directory when `None`).
pub fn run_with(
    scenario: &Scenario,
    cfg: &FaultToleranceConfig,
    data_dir: Option<&std::path::Path>,
) -> RunReport {
    run_observed(scenario, cfg, data_dir, &mut |_, _| {})
}

/// [`run_with`], calling `progress(now_us, duration_us)` each time another hundredth of the
/// simulated duration has passed.
pub fn run_observed(
    scenario: &Scenario,
    cfg: &FaultToleranceConfig,
    data_dir: Option<&std::path::Path>,
    progress: &mut dyn FnMut(u64, u64),
) -> RunReport {
    run_full(scenario, cfg, data_dir, progress, None)
}

/// [`run_observed`], exporting the hosts' health and the chain's counters into `metrics` at
/// every chain block.
pub fn run_full(
    scenario: &Scenario,
    cfg: &FaultToleranceConfig,
    data_dir: Option<&std::path::Path>,
    progress: &mut dyn FnMut(u64, u64),
    metrics: Option<SharedMetrics>,
) -> RunReport {
    let mut world = World::new(scenario, cfg, data_dir);
    if let Some(hosts) = world.hosts.as_mut() {
        hosts.metrics = metrics;
    }
    world.run(progress)
}

pub use crate::ft::metrics::SharedMetrics;

struct World {
    scenario: Scenario,
    ctx: Rc<Context>,
    network: Network,
    slots: Vec<Slot>,
    queue: BinaryHeap<Event>,
    seq: u64,
    now: u64,
    checker: Checker,
    /// When the last partition healed and the last crashed node restarted.
    healed_us: u64,
    trace: Fx,
    events: u64,
    delivered: u64,
    next_id: u64,
    max_view: u64,
    outputs: Vec<Output>,
    hosts: Option<Hosts>,
    warden_error: Option<String>,
    keys: Vec<SigningKey>,
    height_base: u64,
    epoch_switching: bool,
    lose_disk: BTreeSet<NodeId>,
    host_actions: Vec<Outgoing>,
    /// First honest entry into each view of the current epoch led by a faulty or crashed node.
    bad_entries: BTreeMap<u64, (u64, bool)>,
    certified: BTreeSet<u64>,
    gaps: Vec<u64>,
    cert_gaps: Vec<u64>,
    bad_views: u64,
    last_commit_height: u64,
    down: BTreeSet<NodeId>,
    restored: Vec<(NodeId, Option<u64>, u64)>,
    node_heights: Vec<u64>,
}

impl World {
    fn new(
        scenario: &Scenario,
        cfg: &FaultToleranceConfig,
        data_dir: Option<&std::path::Path>,
    ) -> Self {
        let mut rng = Rng::new(scenario.seed);
        let powers = scenario.power_list();
        let n = powers.len();
        let keys: Vec<_> = (0..n as u64).map(key).collect();
        let validators = keys
            .iter()
            .zip(&powers)
            .enumerate()
            .map(|(i, (k, p))| ValidatorInfo {
                operator: i as u32,
                name: BoundedBytes::new(format!("v{i}").into_bytes()).unwrap_or_default(),
                key: public(k),
                power: *p,
            })
            .collect();
        let set = ValidatorSet::new(SIM_EPOCH, BoundedVec::new(validators).unwrap_or_default())
            .unwrap_or_else(|_| ValidatorSet::nobody(SIM_EPOCH));
        let candidates: Vec<Candidate> = powers
            .iter()
            .enumerate()
            .map(|(i, p)| Candidate {
                operator: i as u32,
                effective_power: *p,
                reputation: 1,
            })
            .collect();
        let schedule = LeaderSchedule::compute(SIM_CHAIN_ID, SIM_EPOCH, &candidates);
        let adversaries: BTreeMap<u32, Adversary> = scenario
            .adversaries
            .iter()
            .map(|a| {
                (
                    a.validator,
                    Adversary {
                        behaviours: a.behaviours.clone(),
                    },
                )
            })
            .collect();
        let twins: BTreeSet<u32> = scenario.twins.iter().copied().collect();
        let mut node_operator: Vec<u32> = (0..n as u32).collect();
        node_operator.extend(scenario.twins.iter().copied());
        let mut nodes_of = vec![Vec::new(); n];
        for (node, op) in node_operator.iter().enumerate() {
            nodes_of[*op as usize].push(node as u32);
        }
        let faulty_nodes: Vec<bool> = node_operator
            .iter()
            .map(|op| adversaries.contains_key(op) || twins.contains(op))
            .collect();
        let timing = Timing {
            base_timeout_us: scenario.base_timeout_us,
            max_backoff_exp: scenario.max_backoff_exp,
        };
        let all_keys = keys.clone();
        let first_set = set.clone();
        let ctx = Rc::new(Context::new(
            SIM_CHAIN_ID,
            SIM_EPOCH,
            set,
            schedule,
            keys,
            timing,
            nodes_of,
            faulty_nodes.clone(),
        ));
        let network = Network::new(scenario.network.clone(), node_operator.len(), rng.fork(1));
        let slots = node_operator
            .iter()
            .map(|op| Slot {
                operator: *op,
                replica: None,
                store: Some(SafetyStore::new(SIM_EPOCH)),
                adversary: adversaries.get(op).cloned(),
                incarnation: 0,
                rng_seed: rng.next_u64(),
            })
            .collect();
        // Liveness is owed once the faulty power (plus honest nodes that never restart) is at
        // most f and every partition and crash has healed.
        let mut down_forever: BTreeSet<u32> = BTreeSet::new();
        let mut healed = network.healed_at();
        for c in &scenario.crashes {
            match c.restart_us {
                Some(r) => healed = healed.max(r),
                None => {
                    down_forever.insert(node_operator[c.node as usize]);
                }
            }
        }
        let faulty_ops: BTreeSet<u32> = adversaries
            .keys()
            .copied()
            .chain(twins.iter().copied())
            .collect();
        let lost: u64 = faulty_ops
            .union(&down_forever)
            .map(|op| powers[*op as usize])
            .sum();
        let liveness_from_us = (scenario.expect.liveness && lost <= scenario.f()).then_some(healed);
        let bound = liveness_bound_us(scenario);
        let honest_node = faulty_nodes.iter().map(|f| !f).collect();
        let honest_ops = (0..n as u32)
            .filter(|op| !faulty_ops.contains(op))
            .collect();
        let honest_nodes: Vec<bool> = faulty_nodes.iter().map(|f| !f).collect();
        let checker = Checker::new(
            honest_node,
            honest_ops,
            liveness_from_us,
            bound,
            timing.max_timeout_us(),
        );
        let mut warden_error = None;
        let hosts = scenario.warden.as_ref().and_then(|spec| {
            Hosts::new(
                spec.clone(),
                cfg.clone(),
                SIM_CHAIN_ID,
                first_set,
                all_keys.clone(),
                node_operator.clone(),
                honest_nodes,
                data_dir,
                scenario.seed,
            )
            .map_err(|e| warden_error = Some(format!("starting the chain: {e:#}")))
            .ok()
        });
        let mut world = Self {
            scenario: scenario.clone(),
            ctx,
            network,
            slots,
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            checker,
            healed_us: healed,
            trace: Fx::default(),
            events: 0,
            delivered: 0,
            next_id: 0,
            max_view: 0,
            outputs: Vec::new(),
            hosts,
            warden_error,
            keys: all_keys,
            height_base: 0,
            epoch_switching: false,
            lose_disk: BTreeSet::new(),
            host_actions: Vec::new(),
            bad_entries: BTreeMap::new(),
            certified: BTreeSet::new(),
            gaps: Vec::new(),
            cert_gaps: Vec::new(),
            bad_views: 0,
            last_commit_height: 0,
            down: BTreeSet::new(),
            restored: Vec::new(),
            node_heights: vec![0; node_operator.len()],
        };
        for c in &scenario.crashes {
            world.push(c.at_us, Kind::Crash(c.node));
            if c.lose_disk {
                world.lose_disk.insert(c.node);
            }
            if let Some(r) = c.restart_us {
                world.push(r, Kind::Restart(c.node));
            }
        }
        if let Some(spec) = &scenario.warden {
            world.push(spec.block_interval_us.max(1_000), Kind::ChainBlock);
        }
        world
    }

    fn push(&mut self, at: u64, kind: Kind) {
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    fn boot(&mut self, node: NodeId) {
        if self.slots[node as usize].store.is_none() && self.lose_disk.contains(&node) {
            // The disk is gone: restore from the best checkpoint the peers hold.
            let store = self.restore_from_checkpoint(node);
            self.slots[node as usize].store = store;
        }
        let slot = &mut self.slots[node as usize];
        let Some(store) = slot.store.take() else {
            return;
        };
        if self.ctx.set.get(slot.operator).is_none() {
            // Not in this epoch's set (isolated): the node stays down until it returns.
            slot.store = Some(store);
            return;
        }
        slot.incarnation += 1;
        let rng = Rng::new(slot.rng_seed ^ slot.incarnation);
        let mut replica = Replica::new(
            node,
            slot.operator,
            self.ctx.clone(),
            store,
            slot.adversary.clone(),
            rng,
        );
        let mut out = std::mem::take(&mut self.outputs);
        replica.start(self.now, &mut out);
        self.slots[node as usize].replica = Some(replica);
        if let Some(hosts) = self.hosts.as_mut() {
            if let Err(e) = hosts.boot(node, &self.ctx.schedule) {
                self.warden_error
                    .get_or_insert(format!("host {node}: {e:#}"));
            }
        }
        self.apply(node, &mut out);
        self.outputs = out;
    }

    fn run(mut self, progress: &mut dyn FnMut(u64, u64)) -> RunReport {
        let step = (self.scenario.duration_us / 100).max(1);
        let mut next_progress = step;
        for node in 0..self.slots.len() as NodeId {
            self.boot(node);
        }
        let stop_view = self.scenario.stop_at_view.unwrap_or(u64::MAX);
        while let Some(event) = self.queue.pop() {
            if event.at > self.scenario.duration_us
                || self.events >= MAX_EVENTS
                || self.max_view >= stop_view
            {
                break;
            }
            self.now = event.at;
            if self.now >= next_progress {
                progress(self.now, self.scenario.duration_us);
                next_progress = (self.now / step + 1) * step;
            }
            self.events += 1;
            self.trace.word(event.at);
            match event.kind {
                Kind::Deliver {
                    from,
                    to,
                    payload,
                    id,
                } => {
                    self.trace.word(u64::from(to) << 32 | 1);
                    self.trace.word(id);
                    if !self.network.connected(from, to, self.now) {
                        continue;
                    }
                    let mut out = std::mem::take(&mut self.outputs);
                    if let Some(replica) = self.slots[to as usize].replica.as_mut() {
                        self.delivered += 1;
                        if let Payload::Signed(signed) = &*payload {
                            if self.checker.is_honest(to)
                                && !self.checker.is_honest_operator(signed.signer)
                                && self.ctx.verify_signed(signed)
                            {
                                self.checker.on_delivered(self.now, signed);
                            }
                        }
                        replica.on_message(self.now, &payload, &mut out);
                        if let Some(hosts) = self.hosts.as_mut() {
                            hosts.observe(
                                self.now,
                                from,
                                to,
                                &payload,
                                &self.ctx,
                                &mut self.host_actions,
                            );
                        }
                        // Only a certificate that verifies certifies its view: a flooder's
                        // forged ones would otherwise hide the views its leaders fail.
                        if let Payload::Cert(c) = &*payload {
                            if c.kind != warden_module::wire::CertificateKind::Timeout
                                && self.ctx.check_certificate(c, c.kind)
                            {
                                self.on_certified(c.view);
                            }
                        }
                    }
                    self.apply(to, &mut out);
                    self.outputs = out;
                }
                Kind::Timer {
                    node,
                    incarnation,
                    timer,
                } => {
                    self.trace.word(u64::from(node) << 32 | 2);
                    if self.slots[node as usize].incarnation != incarnation {
                        continue;
                    }
                    let mut out = std::mem::take(&mut self.outputs);
                    if let Some(replica) = self.slots[node as usize].replica.as_mut() {
                        replica.on_timer(self.now, timer, &mut out);
                    }
                    self.apply(node, &mut out);
                    self.outputs = out;
                }
                Kind::Crash(node) => {
                    self.trace.word(u64::from(node) << 32 | 3);
                    let lose_disk = self.lose_disk.contains(&node);
                    self.down.insert(node);
                    let slot = &mut self.slots[node as usize];
                    if let Some(replica) = slot.replica.take() {
                        let store = replica.into_store();
                        slot.store = (!lose_disk).then_some(store);
                        slot.incarnation += 1;
                    }
                    if let Some(hosts) = self.hosts.as_mut() {
                        hosts.crash(node);
                    }
                }
                Kind::ChainBlock => {
                    self.trace.word(5);
                    self.chain_block();
                }
                Kind::EpochSwitch => {
                    self.trace.word(6);
                    self.switch_epoch();
                }
                Kind::Restart(node) => {
                    self.trace.word(u64::from(node) << 32 | 4);
                    self.down.remove(&node);
                    self.boot(node);
                }
            }
        }
        let end = self.now.min(self.scenario.duration_us);
        let stopped_early = self.max_view >= stop_view;
        if !stopped_early {
            self.checker.finish(self.scenario.duration_us.max(end));
        }
        let mut offences = BTreeMap::new();
        for (_, _, class) in &self.checker.offences {
            *offences.entry(*class).or_insert(0) += 1;
        }
        let faulty: Vec<u32> = {
            let mut f: BTreeSet<u32> = self
                .scenario
                .adversaries
                .iter()
                .map(|a| a.validator)
                .collect();
            f.extend(self.scenario.twins.iter().copied());
            f.into_iter().collect()
        };
        let warden = self.hosts.as_mut().map(Hosts::finish);
        let mut violations = self.checker.violations.clone();
        if let Some(w) = &warden {
            if self.scenario.faulty_power() <= self.scenario.f() && !stopped_early {
                let mut banned_at = BTreeMap::new();
                for change in w.isolation.iter().filter(|c| c.change == "banned") {
                    banned_at.entry(change.operator).or_insert(change.at_us);
                }
                violations.extend(self.checker.missed_offences(
                    self.healed_us,
                    self.scenario.duration_us.max(end),
                    evidence_bound_us(&self.scenario),
                    &banned_at,
                ));
            }
        }
        let accountability = match (&warden, self.checker.first_fork_us()) {
            (Some(w), Some(fork_us))
                if self.scenario.faulty_power() <= self.scenario.f().saturating_mul(2) =>
            {
                let a = Accountability {
                    fork_us,
                    healed_us: self.network.healed_at(),
                    culprits: w.proven_culprits.clone(),
                    proven_power: w.proven_power,
                    total_power: w.total_power,
                    honest: w.honest_culprits.clone(),
                    accountable_us: w.accountable_us,
                };
                violations.extend(a.violation());
                Some(a)
            }
            _ => None,
        };
        RunReport {
            name: self.scenario.name.clone(),
            seed: self.scenario.seed,
            validators: self.scenario.power_list().len(),
            nodes: self.slots.len(),
            faulty,
            within_f: self.scenario.faulty_power() <= self.scenario.f(),
            end_us: end,
            events: self.events,
            delivered: self.delivered,
            max_view: self.max_view,
            height: self.checker.height,
            violations,
            accountability,
            expect_accountable: self.scenario.expect.accountable,
            offences,
            trace_hash: self.trace.0,
            crypto: self.ctx.stats(),
            liveness_from_us: self.checker.liveness_from_us,
            liveness_bound_us: self.checker.liveness_bound_us,
            bad_view_us: self.checker.bad_view_us,
            expect_violation: self.scenario.expect.safety_violation,
            min_height: self.scenario.expect.min_height,
            warden,
            warden_error: self.warden_error.clone(),
            resumption: self.resumption(),
            restored: self.restored.clone(),
            node_heights: self.node_heights.clone(),
        }
    }

    fn apply(&mut self, node: NodeId, out: &mut Vec<Output>) {
        if self.checker.is_honest(node) {
            if let Some(r) = &self.slots[node as usize].replica {
                let view = r.view();
                self.max_view = self.max_view.max(view);
                self.on_honest_view(view);
                if let Some(hosts) = self.hosts.as_mut() {
                    hosts.on_view(self.now, node, view, &self.ctx, &mut self.host_actions);
                }
            }
        }
        let incarnation = self.slots[node as usize].incarnation;
        for output in out.drain(..) {
            match output {
                Output::Timer(at, timer) => self.push(
                    at,
                    Kind::Timer {
                        node,
                        incarnation,
                        timer,
                    },
                ),
                Output::Commit { height, hash } => {
                    self.trace.word(height);
                    self.trace.bytes(&hash[..8]);
                    let height = self.height_base.saturating_add(height);
                    self.checker.on_commit(self.now, node, height, hash);
                    if let Some(h) = self.node_heights.get_mut(node as usize) {
                        *h = (*h).max(height);
                    }
                    if let Some(hosts) = self.hosts.as_mut() {
                        if let Some(block) = self.ctx.header(&hash) {
                            hosts.on_commit(
                                self.now,
                                node,
                                height,
                                &block,
                                &self.ctx,
                                &mut self.host_actions,
                            );
                        }
                    }
                    self.on_commit(height);
                }
                Output::Send(dest, payload) => self.send(node, dest, payload),
            }
        }
        let actions = std::mem::take(&mut self.host_actions);
        for Outgoing(from, dest, payload) in actions {
            self.send(from, dest, payload);
        }
    }

    /// The embedded chain's block: relayers submit, the block is produced, the next is due.
    fn chain_block(&mut self) {
        let Some(hosts) = self.hosts.as_mut() else {
            return;
        };
        if let Err(e) = hosts.produce_block(self.now) {
            self.warden_error
                .get_or_insert(format!("chain block: {e:#}"));
            return;
        }
        hosts.tick(self.now, &self.ctx, &mut self.host_actions);
        let actions = std::mem::take(&mut self.host_actions);
        for Outgoing(from, dest, payload) in actions {
            self.send(from, dest, payload);
        }
        let interval = self
            .scenario
            .warden
            .as_ref()
            .map_or(100_000, |w| w.block_interval_us.max(1_000));
        self.push(self.now.saturating_add(interval), Kind::ChainBlock);
    }

    /// Moves every node to the next epoch's set and schedule, as the chain decided them. Each
    /// epoch is a fresh HotStuff-2 instance continuing from the committed height; signatures
    /// bind the epoch, so nothing signed before can conflict with anything signed after.
    fn switch_epoch(&mut self) {
        self.epoch_switching = false;
        let committed = self.checker.height;
        let Some(hosts) = self.hosts.as_mut() else {
            return;
        };
        let (set, schedule) = match hosts.next_epoch(self.now, committed) {
            Ok(next) => next,
            Err(e) => {
                self.warden_error
                    .get_or_insert(format!("epoch change: {e:#}"));
                return;
            }
        };
        let epoch = set.epoch;
        self.ctx = Rc::new(Context::new(
            SIM_CHAIN_ID,
            epoch,
            set,
            schedule,
            self.keys.clone(),
            self.ctx.timing,
            self.ctx.nodes_of.clone(),
            self.ctx.faulty_nodes.clone(),
        ));
        self.height_base = committed;
        self.bad_entries.clear();
        self.certified.clear();
        for node in 0..self.slots.len() as NodeId {
            let slot = &mut self.slots[node as usize];
            let up = slot.replica.take().is_some() || !self.down.contains(&node);
            slot.incarnation += 1;
            slot.store = Some(SafetyStore::new(epoch));
            if up {
                self.boot(node);
            }
        }
    }

    fn on_commit(&mut self, height: u64) {
        if height > self.last_commit_height {
            self.last_commit_height = height;
            let moved_past = self.max_view;
            let due: Vec<u64> = self
                .bad_entries
                .range(..moved_past)
                .map(|(v, _)| *v)
                .collect();
            for v in due {
                if let Some((entered, _)) = self.bad_entries.remove(&v) {
                    if !self.certified.contains(&v) {
                        self.gaps.push(self.now.saturating_sub(entered));
                    }
                }
            }
        }
        let due = self
            .hosts
            .as_ref()
            .is_some_and(|h| height >= h.next_epoch_height);
        if due && !self.epoch_switching {
            self.epoch_switching = true;
            self.push(self.now, Kind::EpochSwitch);
        }
    }

    fn on_certified(&mut self, view: u64) {
        if !self.certified.insert(view) {
            return;
        }
        while self.certified.len() > 4_096 {
            self.certified.pop_first();
        }
        let now = self.now;
        for (v, (entered, recorded)) in self.bad_entries.range_mut(..view) {
            if !*recorded && !self.certified.contains(v) {
                *recorded = true;
                self.cert_gaps.push(now.saturating_sub(*entered));
            }
        }
    }

    fn on_honest_view(&mut self, view: u64) {
        if self.bad_entries.contains_key(&view) || self.certified.contains(&view) {
            return;
        }
        let leader = self.ctx.leader(view);
        let bad = self.ctx.nodes_of.get(leader as usize).is_none_or(|nodes| {
            nodes.iter().any(|n| {
                self.ctx
                    .faulty_nodes
                    .get(*n as usize)
                    .copied()
                    .unwrap_or(true)
                    || self.slots[*n as usize].replica.is_none()
            })
        });
        if bad && self.bad_entries.len() < 4_096 {
            self.bad_views += 1;
            self.bad_entries.insert(view, (self.now, false));
            self.checker.on_bad_leader_view(self.now);
        }
    }

    fn resumption(&self) -> Resumption {
        let mut gaps = self.gaps.clone();
        gaps.sort_unstable();
        let slowest = self
            .scenario
            .network
            .latency_max_us
            .saturating_add(self.scenario.network.jitter_us);
        Resumption {
            bad_views: self.bad_views,
            failed_views: gaps.len() as u64,
            max_gap_us: gaps.last().copied().unwrap_or(0),
            median_gap_us: gaps.get(gaps.len() / 2).copied().unwrap_or(0),
            target_us: self
                .scenario
                .base_timeout_us
                .saturating_add(slowest.saturating_mul(2)),
            max_cert_gap_us: self.cert_gaps.iter().copied().max().unwrap_or(0),
        }
    }

    /// The durable state of a node that lost its disk, rebuilt from the best checkpoint its
    /// peers hold (a committed block proved by a double certificate): it commits from there and
    /// signs nothing in any view up to one past the highest view its peers report.
    fn restore_from_checkpoint(&mut self, node: NodeId) -> Option<SafetyStore> {
        let epoch = self.ctx.epoch;
        let highest_seen = self
            .slots
            .iter()
            .filter_map(|s| s.replica.as_ref())
            .map(Replica::view)
            .max()
            .unwrap_or(0);
        let mut store = SafetyStore::new(epoch);
        let (checkpoints, locks) = self
            .hosts
            .as_ref()
            .map(|h| h.checkpoints(epoch))
            .unwrap_or_default();
        let best = best_checkpoint(SIM_CHAIN_ID, &self.ctx.set, checkpoints);
        let watermark = best
            .as_ref()
            .map_or(highest_seen.saturating_add(1), |c: &Checkpoint| {
                c.restore_watermark(highest_seen)
            });
        if let Some(cp) = &best {
            store.committed_height = cp.header.height;
            store.committed_hash = cp.header.hash();
        }
        if let Some(lock) = locks
            .into_iter()
            .filter(|c| {
                self.ctx
                    .check_certificate(c, warden_module::wire::CertificateKind::Vote)
            })
            .max_by_key(|c| c.view)
        {
            store.lock = lock;
        }
        store.last_vote = watermark;
        store.last_vote2 = watermark;
        store.last_proposal = watermark;
        self.restored
            .push((node, best.map(|c| c.header.height), watermark));
        Some(store)
    }

    fn send(&mut self, from: NodeId, dest: Dest, payload: Rc<Payload>) {
        if let Payload::Signed(signed) = &*payload {
            // Only real signatures count: junk with a bad signature proves nothing.
            if self.ctx.verify_signed(signed) {
                self.checker.on_signed(signed);
                for (operator, class) in self.checker.fresh.drain(..) {
                    if let Some(hosts) = self.hosts.as_mut() {
                        hosts.on_offence(operator, class, self.now);
                    }
                }
            }
        }
        self.next_id += 1;
        let id = self.next_id;
        let (delay, peers) = match &self.slots[from as usize].adversary {
            Some(a) => (a.delay_us(), a.peers().map(|p| p.to_vec())),
            None => (0, None),
        };
        let recipients: Vec<NodeId> = match &dest {
            Dest::All => (0..self.slots.len() as NodeId).collect(),
            Dest::Leader(view) => self
                .ctx
                .nodes_of
                .get(self.ctx.leader(*view) as usize)
                .cloned()
                .unwrap_or_default(),
            Dest::Nodes(list) => list
                .iter()
                .copied()
                .filter(|n| (*n as usize) < self.slots.len())
                .collect(),
        };
        for to in recipients {
            if to != from && peers.as_ref().is_some_and(|p| !p.contains(&to)) {
                continue;
            }
            if !self.network.connected(from, to, self.now) {
                continue;
            }
            for d in self.network.delays(from, to) {
                let at =
                    self.now
                        .saturating_add(d)
                        .saturating_add(if to == from { 0 } else { delay });
                self.push(
                    at,
                    Kind::Deliver {
                        from,
                        to,
                        payload: payload.clone(),
                        id,
                    },
                );
            }
        }
    }
}

/// The time the checker allows from a provable offence reaching honest nodes (or the network
/// healing, if later) to its offender's ban on chain: two of the longest view timers (a
/// proposal split between honest nodes is forwarded when a view fails) plus ten chain blocks
/// (relaying and inclusion).
pub fn evidence_bound_us(scenario: &Scenario) -> u64 {
    let timing = Timing {
        base_timeout_us: scenario.base_timeout_us,
        max_backoff_exp: scenario.max_backoff_exp,
    };
    let block = scenario.warden.as_ref().map_or(0, |w| w.block_interval_us);
    timing
        .max_timeout_us()
        .saturating_mul(2)
        .saturating_add(block.saturating_mul(10))
}

/// The longest view timers the liveness bound allows without a commit.
pub const LIVENESS_TIMERS: u64 = 4;

/// The liveness bound the checker states for a scenario, before views led by faulty or
/// crashed validators (the checker adds one longest view timer for each such view since the
/// last commit, since the schedule draws leaders at random and a run of faulty leaders has no
/// fixed length): four of the longest view timers (views still at full backoff after a heal,
/// resynchronising them, and an honest leader's view) plus forty of the slowest message
/// delays (running two phases). A 12 s soak run whose faults heal in its first half can
/// exceed it.
pub fn liveness_bound_us(scenario: &Scenario) -> u64 {
    let timing = Timing {
        base_timeout_us: scenario.base_timeout_us,
        max_backoff_exp: scenario.max_backoff_exp,
    };
    let slowest = scenario
        .network
        .latency_max_us
        .saturating_add(scenario.network.jitter_us)
        .saturating_add(
            scenario
                .adversaries
                .iter()
                .map(|a| {
                    Adversary {
                        behaviours: a.behaviours.clone(),
                    }
                    .delay_us()
                })
                .max()
                .unwrap_or(0),
        );
    timing
        .max_timeout_us()
        .saturating_mul(LIVENESS_TIMERS)
        .saturating_add(slowest.saturating_mul(40))
}
