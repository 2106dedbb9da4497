//! Invariants checked as the run goes.
//!
//! - Safety: no two honest replicas commit different blocks at one height.
//! - Honest signing: no honest replica signs two messages that the module's own
//!   [`Evidence::offence`] accepts as a Tier 1 offence (double vote, double proposal, lock
//!   violation). The same check over faulty validators counts the provable offences they
//!   committed.
//! - Accountability (closed loop, [`Checker::accountability`]): when safety breaks with
//!   Byzantine power at most 2f, the run must end with more than a third of the power banned
//!   on chain for Tier 1 offences, and no honest validator among them.
//! - Detection (closed loop, [`Checker::missed_offences`]): with the faulty power at most f,
//!   every provable offence whose two messages honest nodes received (together, not
//!   necessarily one node both) has its offender banned on chain within a bound of the later
//!   of that delivery and the heal. Offences only faulty nodes received are not owed.
//! - Liveness: once the faulty power is at most f and every partition and crash has healed,
//!   some honest replica commits a new block within [`Checker::liveness_bound_us`], plus one
//!   view timer ([`Checker::bad_view_us`]) for each view since the last commit whose leader is
//!   faulty or down, again and again until the end of the run. The schedule draws each view's
//!   leader at random by weight, so a run of faulty leaders has no fixed length; the bound
//!   grows with the run that happened and with nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::rc::Rc;

use warden_module::evidence::{Evidence, OffenceClass};
use warden_module::wire::{Hash, Message, MessageKind, OperatorId, SignedMessage};

use super::replica::NodeId;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two honest replicas committed different blocks at one height.
    ConflictingCommit {
        /// The height.
        height: u64,
        /// One replica and its block.
        first: (NodeId, Hash),
        /// Another replica and its different block.
        second: (NodeId, Hash),
        /// Simulated time of the second commit.
        at_us: u64,
    },
    /// An honest replica signed two messages that prove an offence.
    HonestOffence {
        /// The operator.
        operator: OperatorId,
        /// The offence.
        class: OffenceClass,
        /// Its view.
        view: u64,
    },
    /// The chain broke safety with Byzantine power at most 2f, and the run ended without
    /// more than a third of the power proven guilty on chain, or with an honest culprit.
    Unaccountable {
        /// Power the chain banned for Tier 1 offences.
        proven_power: u64,
        /// The set's total power.
        total_power: u64,
        /// Honest operators among the culprits.
        honest: Vec<OperatorId>,
    },
    /// A provable offence by a faulty validator reached honest nodes, within f and after the
    /// network healed, and its offender was not banned on chain within the bound.
    MissedOffence {
        /// The offender.
        operator: OperatorId,
        /// The offence.
        class: OffenceClass,
        /// When honest nodes (together) had received both messages, or the network healed if
        /// later.
        owed_us: u64,
        /// The bound the checker allows.
        bound_us: u64,
    },
    /// Commits did not resume, or stalled, after the faults healed.
    Liveness {
        /// Since when no honest replica committed.
        since_us: u64,
        /// The bound the checker allows.
        bound_us: u64,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::ConflictingCommit {
                height,
                first,
                second,
                at_us,
            } => write!(
                f,
                "safety: node {} committed {} and node {} committed {} at height {height} (t={at_us}us)",
                first.0,
                hex::encode(&first.1[..6]),
                second.0,
                hex::encode(&second.1[..6])
            ),
            Violation::HonestOffence {
                operator,
                class,
                view,
            } => write!(f, "honest operator {operator} signed a {class:?} in view {view}"),
            Violation::Unaccountable {
                proven_power,
                total_power,
                honest,
            } => write!(
                f,
                "accountability: after the fork the chain proved {proven_power} of {total_power} power guilty (more than a third is owed), honest culprits {honest:?}"
            ),
            Violation::MissedOffence {
                operator,
                class,
                owed_us,
                bound_us,
            } => write!(
                f,
                "detection: operator {operator}'s {class:?}, on honest nodes from t={owed_us}us, not banned on chain within the bound of {bound_us}us"
            ),
            Violation::Liveness { since_us, bound_us } => write!(
                f,
                "liveness: no honest commit from t={since_us}us for longer than the bound of {bound_us}us"
            ),
        }
    }
}

impl Violation {
    /// Whether it breaks safety (a conflicting commit, an honest offence, an unaccountable
    /// fork) rather than liveness or detection.
    pub fn is_safety(&self) -> bool {
        !matches!(
            self,
            Violation::Liveness { .. } | Violation::MissedOffence { .. }
        )
    }
}

/// What each signer has signed, enough to test every new message against the earlier ones.
#[derive(Default)]
struct Signed {
    by_view: BTreeMap<(u64, u8), Vec<Rc<SignedMessage>>>,
    vote2: BTreeMap<u64, Rc<SignedMessage>>,
    votes: BTreeMap<u64, Rc<SignedMessage>>,
    timeouts: BTreeMap<u64, Rc<SignedMessage>>,
}

impl Signed {
    /// Records `message` and returns the evidence it makes with what was recorded before
    /// (none for a resend).
    fn record(&mut self, message: &SignedMessage) -> Vec<Evidence> {
        let view = message.message.view();
        let kind = message.message.kind() as u8;
        let mut found: Vec<Evidence> = Vec::new();
        if let Some(((newest, _), _)) = self.by_view.last_key_value() {
            // Prune in batches, once the history spans a quarter window more than it keeps.
            let cutoff = newest.saturating_sub(HISTORY_VIEWS);
            let oldest = self.by_view.first_key_value().map_or(0, |((v, _), _)| *v);
            if oldest.saturating_add(HISTORY_VIEWS / 4) < cutoff {
                self.by_view = self.by_view.split_off(&(cutoff, 0));
                self.vote2 = self.vote2.split_off(&cutoff);
                self.votes = self.votes.split_off(&cutoff);
                self.timeouts = self.timeouts.split_off(&cutoff);
            }
        }
        let list = self.by_view.entry((view, kind)).or_default();
        if list.iter().any(|m| **m == *message) {
            return found; // A resend.
        }
        for earlier in list.iter() {
            let first = (**earlier).clone();
            let second = message.clone();
            found.push(match message.message.kind() {
                MessageKind::Proposal => Evidence::DoubleProposal { first, second },
                _ => Evidence::DoubleVote { first, second },
            });
        }
        let rc = Rc::new(message.clone());
        if list.len() < MAX_PER_VIEW {
            list.push(rc.clone());
        }
        match &message.message {
            Message::Vote2(v) => {
                // A lock at v is contradicted by a later vote or timeout below it.
                let after = v.view.saturating_add(1)..;
                let below = |m: &&Rc<SignedMessage>| match &m.message {
                    Message::Vote(x) => x.justify_view < v.view,
                    Message::Timeout(x) => x.lock_view < v.view,
                    _ => false,
                };
                if let Some(later) = self
                    .votes
                    .range(after.clone())
                    .map(|e| e.1)
                    .take(64)
                    .find(below)
                {
                    found.push(lock_violation(&rc, later));
                }
                if let Some(later) = self.timeouts.range(after).map(|e| e.1).take(64).find(below) {
                    found.push(lock_violation(&rc, later));
                }
                self.vote2.entry(v.view).or_insert(rc);
            }
            Message::Vote(v) => {
                if let Some((_, locked)) = self.vote2.range(..v.view).next_back() {
                    found.push(lock_violation(locked, &rc));
                }
                keep_lowest(&mut self.votes, v.view, v.justify_view, rc, |m| {
                    match &m.message {
                        Message::Vote(v) => v.justify_view,
                        _ => u64::MAX,
                    }
                });
            }
            Message::Timeout(t) => {
                if let Some((_, locked)) = self.vote2.range(..t.view).next_back() {
                    found.push(lock_violation(locked, &rc));
                }
                keep_lowest(&mut self.timeouts, t.view, t.lock_view, rc, |m| {
                    match &m.message {
                        Message::Timeout(t) => t.lock_view,
                        _ => u64::MAX,
                    }
                });
            }
            Message::Proposal(_) => {}
        }
        found
    }
}

/// Most distinct messages per signer, kind and view the checker keeps (an adversary may sign
/// without limit; one conflicting pair is all the proof needed).
const MAX_PER_VIEW: usize = 4;

/// How many views of each signer's history the checker keeps behind the newest view it
/// signed in. Honest replicas only sign in recent views, and a later vote below an old lock
/// is also below every newer lock, so the window loses no conflict an honest replica could
/// produce while keeping memory flat over long runs.
pub const HISTORY_VIEWS: u64 = 1_024;

/// What a fork cost its culprits, at the end of a closed-loop run that broke safety.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Accountability {
    /// When the first conflicting commit happened.
    pub fork_us: u64,
    /// When the last partition healed (zero without one): no host can prove a fork whose
    /// branches it cannot hear.
    pub healed_us: u64,
    /// Operators the chain banned for Tier 1 offences.
    pub culprits: Vec<OperatorId>,
    /// Their power.
    pub proven_power: u64,
    /// The set's total power.
    pub total_power: u64,
    /// Honest operators among the culprits.
    pub honest: Vec<OperatorId>,
    /// When the bans first covered more than a third of the power.
    pub accountable_us: Option<u64>,
}

impl Accountability {
    /// More than a third of the power proven guilty, nobody honest among them.
    pub fn holds(&self) -> bool {
        u128::from(self.proven_power) * 3 > u128::from(self.total_power) && self.honest.is_empty()
    }

    /// The violation when it does not hold.
    pub fn violation(&self) -> Option<Violation> {
        (!self.holds()).then(|| Violation::Unaccountable {
            proven_power: self.proven_power,
            total_power: self.total_power,
            honest: self.honest.clone(),
        })
    }
}

/// The run's invariant checker.
pub struct Checker {
    honest_node: Vec<bool>,
    honest_operator: BTreeSet<OperatorId>,
    commits: BTreeMap<u64, (NodeId, Hash)>,
    signed: BTreeMap<OperatorId, Signed>,
    /// What honest nodes received from faulty signers, all honest nodes together.
    delivered: BTreeMap<OperatorId, Signed>,
    /// Offences by faulty validators that honest nodes together received both messages of:
    /// (operator, class) and when that first happened.
    pub owed: BTreeMap<(OperatorId, OffenceClass), u64>,
    /// Violations found so far.
    pub violations: Vec<Violation>,
    /// Distinct provable offences by faulty validators: (operator, view, class).
    pub offences: BTreeSet<(OperatorId, u64, OffenceClass)>,
    /// Offences found since the world last took them (operator, class).
    pub fresh: Vec<(OperatorId, OffenceClass)>,
    /// The highest honest committed height.
    pub height: u64,
    /// When faults end (the last heal or restart), if faulty power is at most f.
    pub liveness_from_us: Option<u64>,
    /// The longest the checker allows without an honest commit after faults end, before
    /// views led by faulty or crashed validators.
    pub liveness_bound_us: u64,
    /// What each view led by a faulty or crashed validator adds to the bound: one view timer
    /// at full backoff.
    pub bad_view_us: u64,
    /// When honest replicas first entered each view led by a faulty or crashed validator,
    /// since the last honest commit.
    bad_views_at: Vec<u64>,
    last_commit_us: u64,
    first_commit_after_heal_us: Option<u64>,
}

impl Checker {
    /// The time of the first conflicting commit, if safety broke.
    pub fn first_fork_us(&self) -> Option<u64> {
        self.violations
            .iter()
            .filter_map(|v| match v {
                Violation::ConflictingCommit { at_us, .. } => Some(*at_us),
                _ => None,
            })
            .min()
    }

    /// A checker for a run whose honest nodes are marked in `honest_node`; liveness is checked
    /// from `liveness_from_us` (if any) with `liveness_bound_us`, plus `bad_view_us` for each
    /// view led by a faulty or crashed validator ([`Checker::on_bad_leader_view`]).
    pub fn new(
        honest_node: Vec<bool>,
        honest_operator: BTreeSet<OperatorId>,
        liveness_from_us: Option<u64>,
        liveness_bound_us: u64,
        bad_view_us: u64,
    ) -> Self {
        Self {
            honest_node,
            honest_operator,
            commits: BTreeMap::new(),
            signed: BTreeMap::new(),
            delivered: BTreeMap::new(),
            owed: BTreeMap::new(),
            violations: Vec::new(),
            offences: BTreeSet::new(),
            fresh: Vec::new(),
            height: 0,
            liveness_from_us,
            liveness_bound_us,
            bad_view_us,
            bad_views_at: Vec::new(),
            last_commit_us: 0,
            first_commit_after_heal_us: None,
        }
    }

    /// Whether no safety invariant (commits and honest signatures) is broken.
    pub fn safe(&self) -> bool {
        !self.violations.iter().any(Violation::is_safety)
    }

    /// Whether `operator` is honest.
    pub fn is_honest_operator(&self, operator: OperatorId) -> bool {
        self.honest_operator.contains(&operator)
    }

    /// Whether `node` runs honest code under an honest operator.
    pub fn is_honest(&self, node: NodeId) -> bool {
        self.honest_node
            .get(node as usize)
            .copied()
            .unwrap_or(false)
    }

    /// An honest or faulty node committed `hash` at `height` at `now`.
    pub fn on_commit(&mut self, now: u64, node: NodeId, height: u64, hash: Hash) {
        if !self.is_honest(node) {
            return;
        }
        match self.commits.get(&height) {
            Some((other, h)) if *h != hash => {
                if self.violations.len() < 16 {
                    self.violations.push(Violation::ConflictingCommit {
                        height,
                        first: (*other, *h),
                        second: (node, hash),
                        at_us: now,
                    });
                }
            }
            Some(_) => {}
            None => {
                self.commits.insert(height, (node, hash));
            }
        }
        if height > self.height {
            self.height = height;
            self.on_progress(now);
        }
    }

    /// Honest replicas entered, at `now`, a view whose leader is faulty or crashed (called once
    /// per view).
    pub fn on_bad_leader_view(&mut self, now: u64) {
        self.bad_views_at.push(now);
    }

    /// The bound on a stretch without honest commits from `since` to `now`.
    fn bound_us(&self, since: u64, now: u64) -> u64 {
        let bad = self
            .bad_views_at
            .iter()
            .filter(|at| (since..=now).contains(*at))
            .count() as u64;
        self.liveness_bound_us
            .saturating_add(self.bad_view_us.saturating_mul(bad))
    }

    fn on_progress(&mut self, now: u64) {
        if let Some(from) = self.liveness_from_us {
            if now >= from {
                let since = self.last_commit_us.max(from);
                let bound_us = self.bound_us(since, now);
                if now - since > bound_us {
                    self.liveness_failure(since, bound_us);
                }
                self.first_commit_after_heal_us.get_or_insert(now);
            }
        }
        self.last_commit_us = now;
        self.bad_views_at.clear();
    }

    fn liveness_failure(&mut self, since_us: u64, bound_us: u64) {
        if !self
            .violations
            .iter()
            .any(|v| matches!(v, Violation::Liveness { .. }))
        {
            self.violations
                .push(Violation::Liveness { since_us, bound_us });
        }
    }

    /// The run ended at `now`: checks the final stretch without commits.
    pub fn finish(&mut self, now: u64) {
        if let Some(from) = self.liveness_from_us {
            let since = self.last_commit_us.max(from);
            let bound_us = self.bound_us(since, now);
            if now > since && now - since > bound_us {
                self.liveness_failure(since, bound_us);
            }
        }
    }

    /// A signed message was delivered to an honest node at `now` (whether or not its replica
    /// then uses it): what honest nodes together could prove about faulty signers.
    pub fn on_delivered(&mut self, now: u64, message: &SignedMessage) {
        let operator = message.signer;
        if self.honest_operator.contains(&operator) {
            return;
        }
        let found = self.delivered.entry(operator).or_default().record(message);
        for evidence in found {
            if let Ok(key) = evidence.offence() {
                self.owed.entry((operator, key.class)).or_insert(now);
            }
        }
    }

    /// The offences owed on chain that were missed: each one honest nodes had both messages
    /// of by `owed` (or when the network healed, `healed_us`, if later) whose offender was not
    /// banned (`banned_at`) within `bound_us`, as long as the run lasted until then (`end_us`).
    pub fn missed_offences(
        &self,
        healed_us: u64,
        end_us: u64,
        bound_us: u64,
        banned_at: &BTreeMap<OperatorId, u64>,
    ) -> Vec<Violation> {
        self.owed
            .iter()
            .filter_map(|(&(operator, class), &at)| {
                let owed_us = at.max(healed_us);
                let deadline = owed_us.saturating_add(bound_us);
                let banned_in_time = banned_at.get(&operator).is_some_and(|b| *b <= deadline);
                (deadline <= end_us && !banned_in_time).then_some(Violation::MissedOffence {
                    operator,
                    class,
                    owed_us,
                    bound_us,
                })
            })
            .collect()
    }

    /// Every signed message a node sends passes here.
    pub fn on_signed(&mut self, message: &SignedMessage) {
        let operator = message.signer;
        let honest = self.honest_operator.contains(&operator);
        let found = self.signed.entry(operator).or_default().record(message);
        for evidence in found {
            if let Ok(key) = evidence.offence() {
                if honest {
                    if self.violations.len() < 16 {
                        self.violations.push(Violation::HonestOffence {
                            operator,
                            class: key.class,
                            view: key.view,
                        });
                    }
                } else if self.offences.len() < 100_000
                    && self.offences.insert((operator, key.view, key.class))
                    && self.fresh.len() < 1_024
                {
                    self.fresh.push((operator, key.class));
                }
            }
        }
    }
}

fn lock_violation(locked: &Rc<SignedMessage>, later: &Rc<SignedMessage>) -> Evidence {
    Evidence::LockViolation {
        locked: (**locked).clone(),
        later: (**later).clone(),
    }
}

/// Keeps, per view, the message with the lowest claimed lock (the one most likely to
/// contradict a later lock).
fn keep_lowest(
    map: &mut BTreeMap<u64, Rc<SignedMessage>>,
    view: u64,
    claim: u64,
    message: Rc<SignedMessage>,
    claim_of: impl Fn(&SignedMessage) -> u64,
) {
    match map.get(&view) {
        Some(old) if claim_of(old) <= claim => {}
        _ => {
            map.insert(view, message);
        }
    }
}
