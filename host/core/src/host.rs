//! [`ValidatorHost`]: everything one validator's host does, behind one sans-IO interface.
//!
//! Inputs are calls: a consensus message received over a link ([`ValidatorHost::on_message`]),
//! a host-to-host message ([`ValidatorHost::on_host_message`]), the replica entering a view
//! ([`ValidatorHost::on_view`]) or committing ([`ValidatorHost::on_commit`]), a periodic
//! [`ValidatorHost::tick`], and the chain's answers (a new epoch's set and schedule, bans, the
//! isolated operators, the network's connectivity). Every input carries the time, in
//! microseconds on the caller's clock. Outputs are [`HostAction`]s appended to a list the
//! caller passes: send this to these peers' hosts, broadcast this certificate to the replicas,
//! hand this transaction to the relayer, and what was found (for logs, metrics and reports).
//!
//! Architecture invariant: nothing in this module reads a clock, opens a socket or a file,
//! spawns a thread or blocks; the simulator and the `FaultToleranceManager` facade
//! (`warden_host::ft::manager::WardenManager`) drive the same type, so the closed loop the
//! soaks prove is the code a node embeds.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signer as _, SigningKey};
use warden_module::codec::BoundedVec;
use warden_module::crypto::Verifier;
use warden_module::evidence::{
    verify_certificate, Accusation, Evidence, OffenceKey, WitnessSignature, WitnessedAccusation,
};
use warden_module::msg::{Msg, MAX_EVIDENCE_PER_TX, MAX_TX_BYTES};
use warden_module::schedule::LeaderSchedule;
use warden_module::validators::ValidatorSet;
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, Hash, Message, OperatorId, Signature, SignedMessage,
};

use super::config::FaultToleranceConfig;
use super::detect::{ByzantineDetector, DetectorStats, Finding, Observed, Suspicion};
use super::forensics::{
    prove_forks, CertificateLog, ForensicsRecord, ForkProof, DEFAULT_LOG_CERTIFICATES,
    DEFAULT_LOG_HEADERS,
};
use super::monitor::{HealthMonitor, HealthReport, ValidatorSetHealth};
use super::recovery::{Checkpoint, PartitionInfo, StuckView, StuckViewDetector};
use super::wire::{
    HostMessage, MAX_BRANCH_CERTIFICATES, MAX_BRANCH_HEADERS, MAX_HOST_MESSAGE_BYTES,
};

/// Accusations collecting co-signatures at once (the oldest is dropped beyond).
pub const MAX_PENDING_ACCUSATIONS: usize = 256;
/// Recent views whose proposal a host keeps to forward if the view fails.
pub const FORWARD_VIEWS: usize = 4;
/// Views whose entry time a host remembers (to date a suspicion's window).
const ENTERED_VIEWS: usize = 512;
/// Committed heights a host remembers (to notice a commit that conflicts with an earlier one).
const COMMITTED_HEIGHTS: usize = 1_024;
/// Branch messages a host reads from one peer in an epoch: a whole log's worth.
pub const MAX_BRANCH_MESSAGES: u32 = DEFAULT_LOG_CERTIFICATES as u32 + 1;
/// Forks a host remembers as proven in one epoch.
const MAX_PROVEN_FORKS: usize = 64;

/// One piece of evidence as itself, several as a batch.
fn evidence_batch(mut batch: Vec<Evidence>) -> Msg {
    if batch.len() == 1 {
        return Msg::SubmitEvidence(batch.remove(0));
    }
    Msg::SubmitEvidenceBatch(BoundedVec::new(batch).unwrap_or_default())
}

fn branch(headers: Vec<BlockHeader>, certificates: Vec<Certificate>) -> HostMessage {
    HostMessage::Branch {
        headers: BoundedVec::new(headers).unwrap_or_default(),
        certificates: BoundedVec::new(certificates).unwrap_or_default(),
    }
}

/// The signature of `key` over `bytes`.
pub fn sign(key: &SigningKey, bytes: &[u8]) -> Signature {
    Signature(key.sign(bytes).to_bytes())
}

/// Whose hosts a message goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peers {
    /// Every validator's host.
    All,
    /// One operator's host.
    One(OperatorId),
}

/// Why a certificate is broadcast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Nothing committed for the view-change timeout: the emergency view change.
    StuckView(StuckView),
    /// A network split healed: the sync across it.
    HealedSplit,
}

/// Something the host found, for logs, metrics and reports.
// Detections are handled as they come and never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    /// Tier 1: evidence the chain will accept.
    Evidence {
        /// The offence.
        offence: OffenceKey,
        /// The evidence.
        evidence: Evidence,
    },
    /// Tier 2: this host's own suspicion.
    Suspicion(Suspicion),
    /// An accusation of this host's gathered enough co-signers.
    Witnessed(Accusation),
    /// Two conflicting commits, and who is proven guilty of them.
    Fork(ForkProof),
}

/// What the caller must do for the host.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostAction {
    /// Send `message` to the hosts of `to`.
    Send {
        /// The recipients.
        to: Peers,
        /// The message.
        message: HostMessage,
    },
    /// Broadcast `certificate` to every replica (on the consensus links).
    Broadcast {
        /// The highest phase-1 certificate this host holds.
        certificate: Certificate,
        /// Why.
        reason: Recovery,
    },
    /// Hand this transaction to the relayer, which re-verifies it and queues it for the chain.
    Submit(Msg),
    /// A detection (informational).
    Detected(Detection),
}

/// Why an accusation or a co-signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum AccusationError {
    /// No epoch was started.
    #[error("no epoch started: the validator set is unknown")]
    NoEpoch,
    /// The accusation is about another epoch.
    #[error("the accusation is about epoch {found}, the current epoch is {expected}")]
    EpochMismatch {
        /// The current epoch.
        expected: u64,
        /// The accusation's epoch.
        found: u64,
    },
    /// A host cannot accuse its own operator.
    #[error("operator {operator} cannot accuse itself")]
    SelfAccusation {
        /// The operator.
        operator: OperatorId,
    },
    /// The last view is before the first.
    #[error("invalid view range {first}..={last}")]
    InvalidViewRange {
        /// First view.
        first: u64,
        /// Last view.
        last: u64,
    },
    /// The operator is not a member of the epoch's set.
    #[error("operator {operator} is not a validator of epoch {epoch}")]
    UnknownValidator {
        /// The operator.
        operator: OperatorId,
        /// The epoch.
        epoch: u64,
    },
    /// A co-signature for an accusation this host is not collecting.
    #[error("no accusation of operator {accused} is collecting co-signatures")]
    UnknownAccusation {
        /// The accused.
        accused: OperatorId,
    },
    /// The accused cannot witness against itself.
    #[error("the accused operator {witness} cannot co-sign its own accusation")]
    AccusedCannotWitness {
        /// The accused.
        witness: OperatorId,
    },
    /// The co-signature does not verify under the witness's key.
    #[error("the co-signature of operator {witness} does not verify")]
    BadSignature {
        /// The claimed witness.
        witness: OperatorId,
    },
    /// This host already accused the operator of this behaviour in this epoch.
    #[error("operator {accused} is already accused of this behaviour in this epoch")]
    AlreadyAccused {
        /// The accused.
        accused: OperatorId,
    },
}

impl AccusationError {
    /// A short name, for counters.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NoEpoch => "no_epoch",
            Self::EpochMismatch { .. } => "epoch_mismatch",
            Self::SelfAccusation { .. } => "self_accusation",
            Self::InvalidViewRange { .. } => "invalid_view_range",
            Self::UnknownValidator { .. } => "unknown_validator",
            Self::UnknownAccusation { .. } => "unknown_accusation",
            Self::AccusedCannotWitness { .. } => "accused_cannot_witness",
            Self::BadSignature { .. } => "bad_signature",
            Self::AlreadyAccused { .. } => "already_accused",
        }
    }
}

/// An accusation this host started, with its own signature, sent to every peer's host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccusationRequest {
    /// The accusation.
    pub accusation: Accusation,
    /// This host's signature over it.
    pub witness: WitnessSignature,
}

/// The host's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// The detector's counters.
    pub detector: DetectorStats,
    /// Accusations this host started.
    pub accusations_started: u64,
    /// Accusations that gathered enough co-signers.
    pub accusations_witnessed: u64,
    /// Peers' accusations this host co-signed.
    pub endorsed: u64,
    /// Co-signatures that arrived after their accusation was submitted (ignored).
    pub late_cosignatures: u64,
    /// Pending accusations dropped because too many were collecting.
    pub pending_dropped: u64,
    /// Emergency view changes started on a stuck view.
    pub emergency_view_changes: u64,
    /// Syncs of the highest certificate across a healed split.
    pub syncs: u64,
    /// Host messages from peers that could not be decoded.
    pub undecodable: u64,
    /// Forks this host proved.
    pub forks_proven: u64,
    /// Times this host sent its branch to its peers after a fork.
    pub branches_sent: u64,
    /// Branch messages ignored: a peer's beyond [`MAX_BRANCH_MESSAGES`] in the epoch.
    pub branches_ignored: u64,
    /// Refused accusations and co-signatures, by [`AccusationError::name`].
    pub refused: BTreeMap<&'static str, u64>,
}

struct Collecting {
    started_us: u64,
    witnesses: BTreeMap<OperatorId, WitnessSignature>,
}

/// The epoch the host judges: its chain, set and schedule, as the chain decided them.
#[derive(Clone, Debug)]
struct Epoch {
    chain_id: u64,
    set: ValidatorSet,
    schedule: LeaderSchedule,
}

/// One validator's fault-tolerance host (see the [module documentation](self)).
pub struct ValidatorHost {
    cfg: FaultToleranceConfig,
    operator: OperatorId,
    key: SigningKey,
    epoch: Option<Epoch>,
    detector: ByzantineDetector,
    monitor: HealthMonitor,
    stuck: StuckViewDetector,
    view: u64,
    entered: BTreeMap<u64, u64>,
    proposals: BTreeMap<u64, SignedMessage>,
    /// The block certified in each recent view (the first certificate seen).
    certified: BTreeMap<u64, Hash>,
    lock: Option<Certificate>,
    checkpoint: Option<Checkpoint>,
    pending: BTreeMap<Accusation, Collecting>,
    /// Accusations already submitted, oldest first (late co-signatures for them are ignored).
    submitted: std::collections::VecDeque<Accusation>,
    accused: BTreeSet<(OperatorId, u8, u64)>,
    banned: BTreeSet<OperatorId>,
    isolated_power: u64,
    partitioned: bool,
    last_sample_us: Option<u64>,
    log: CertificateLog,
    committed: BTreeMap<u64, Hash>,
    branch_sent: bool,
    branches_from: BTreeMap<OperatorId, u32>,
    proven: BTreeSet<(Hash, Hash)>,
    accountable: bool,
    fork_record: Option<ForensicsRecord>,
    stats: HostStats,
}

impl std::fmt::Debug for ValidatorHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidatorHost")
            .field("operator", &self.operator)
            .field("epoch", &self.epoch.as_ref().map(|e| e.set.epoch))
            .field("view", &self.view)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl ValidatorHost {
    /// The host of `operator`, signing with `key`. It judges nothing until
    /// [`start_epoch`](Self::start_epoch).
    pub fn new(cfg: FaultToleranceConfig, operator: OperatorId, key: SigningKey) -> Self {
        Self {
            detector: ByzantineDetector::new(operator, cfg.detection.clone()),
            monitor: HealthMonitor::new(&cfg.monitoring),
            stuck: StuckViewDetector::new(
                cfg.recovery.view_change_timeout_ms.saturating_mul(1_000),
            ),
            cfg,
            operator,
            key,
            epoch: None,
            view: 0,
            entered: BTreeMap::new(),
            proposals: BTreeMap::new(),
            certified: BTreeMap::new(),
            lock: None,
            checkpoint: None,
            pending: BTreeMap::new(),
            submitted: std::collections::VecDeque::new(),
            accused: BTreeSet::new(),
            banned: BTreeSet::new(),
            isolated_power: 0,
            partitioned: false,
            last_sample_us: None,
            log: CertificateLog::new(DEFAULT_LOG_CERTIFICATES, DEFAULT_LOG_HEADERS),
            committed: BTreeMap::new(),
            branch_sent: false,
            branches_from: BTreeMap::new(),
            proven: BTreeSet::new(),
            accountable: false,
            fork_record: None,
            stats: HostStats::default(),
        }
    }

    /// The chain's answer: a new epoch's set and schedule. Evidence of the previous epoch is
    /// still found; accusations collecting co-signatures, the view, the highest certificate and
    /// the checkpoint belong to the old epoch and are dropped.
    pub fn start_epoch(&mut self, chain_id: u64, set: ValidatorSet, schedule: LeaderSchedule) {
        self.detector
            .start_epoch(chain_id, set.clone(), schedule.clone());
        self.monitor.set_peers(set.validators.len());
        self.epoch = Some(Epoch {
            chain_id,
            set,
            schedule,
        });
        self.view = 0;
        self.pending.clear();
        self.submitted.clear();
        self.accused.clear();
        self.lock = None;
        self.checkpoint = None;
        self.proposals.clear();
        self.certified.clear();
        self.entered.clear();
        self.committed.clear();
        self.branch_sent = false;
        self.branches_from.clear();
        self.proven.clear();
        self.accountable = false;
        self.fork_record = None;
        self.refresh_set_health();
    }

    // ----- Inputs ------------------------------------------------------------------------

    /// A consensus message received at `now_us` over the link of `from`.
    pub fn on_message(
        &mut self,
        now_us: u64,
        from: OperatorId,
        message: Observed<'_>,
        verifier: &impl Verifier,
        out: &mut Vec<HostAction>,
    ) {
        self.monitor.on_peer_heard(now_us / 1_000, from);
        let Some(epoch) = self.current_epoch() else {
            return;
        };
        let mut findings = Vec::new();
        self.detector
            .observe(now_us, from, message, verifier, &mut findings);
        match message {
            Observed::Signed(s) => {
                if let Message::Proposal(p) = &s.message {
                    if s.epoch == epoch && p.view + FORWARD_VIEWS as u64 > self.view {
                        self.proposals.entry(p.view).or_insert_with(|| s.clone());
                        while self.proposals.len() > FORWARD_VIEWS {
                            self.proposals.pop_first();
                        }
                    }
                    if s.epoch == epoch {
                        self.log.insert_header(&p.block);
                        if self.detector.verified(&p.justify) {
                            self.log.insert_certificate(&p.justify);
                        }
                    }
                }
            }
            Observed::Certificate(c) => {
                if c.kind != CertificateKind::Timeout && c.view + FORWARD_VIEWS as u64 > self.view {
                    self.certified.entry(c.view).or_insert(c.block_hash);
                }
                // The detector verified it above (and remembers that); without detection the
                // host checks it itself.
                let valid =
                    c.epoch == epoch && (self.detector.verified(c) || self.holds(c, verifier));
                if valid {
                    self.log.insert_certificate(c);
                }
                if valid
                    && c.kind == CertificateKind::Vote
                    && self.lock.as_ref().is_none_or(|k| k.view < c.view)
                {
                    self.lock = Some(c.clone());
                }
            }
            Observed::Junk => {}
        }
        self.handle(now_us, findings, out);
    }

    /// A host-to-host frame from the host of `from`, received at `now_us`. Frames that do not
    /// decode are counted and dropped.
    pub fn on_host_frame(
        &mut self,
        now_us: u64,
        from: OperatorId,
        frame: &[u8],
        verifier: &impl Verifier,
        out: &mut Vec<HostAction>,
    ) {
        match HostMessage::decode(frame) {
            Ok(message) => self.on_host_message(now_us, from, &message, verifier, out),
            Err(_) => self.stats.undecodable += 1,
        }
    }

    /// A host-to-host message from the host of `from`, received at `now_us`: a peer's
    /// accusation is co-signed if this host saw the same; a co-signature is added to the
    /// accusation it answers (refusals are counted in [`HostStats::refused`]); a forwarded
    /// proposal goes to the Tier 1 index.
    pub fn on_host_message(
        &mut self,
        now_us: u64,
        from: OperatorId,
        message: &HostMessage,
        verifier: &impl Verifier,
        out: &mut Vec<HostAction>,
    ) {
        match message {
            HostMessage::Accuse(accusation, _) => {
                if from != self.operator {
                    if let Some(sig) = self.endorse(accusation) {
                        self.stats.endorsed += 1;
                        out.push(HostAction::Send {
                            to: Peers::One(from),
                            message: HostMessage::Endorse(*accusation, sig),
                        });
                    }
                }
            }
            HostMessage::Endorse(accusation, sig) => {
                if let Err(e) = self.add_cosignature(now_us, accusation, *sig, verifier, out) {
                    *self.stats.refused.entry(e.name()).or_default() += 1;
                }
            }
            HostMessage::Forward(signed) => {
                let mut findings = Vec::new();
                self.detector
                    .observe_forwarded(signed, verifier, &mut findings);
                self.handle(now_us, findings, out);
            }
            HostMessage::Branch {
                headers,
                certificates,
            } => self.on_branch(now_us, from, headers, certificates, verifier, out),
        }
    }

    /// A peer's branch after a fork: its certificates go to the Tier 1 index (each verified
    /// first) and, with its headers, to the log forensics reads; if the log now holds two
    /// conflicting commits, this host proves the fork and sends its own branch. At most
    /// [`MAX_BRANCH_MESSAGES`] are read from one peer in an epoch.
    fn on_branch(
        &mut self,
        now_us: u64,
        from: OperatorId,
        headers: &[BlockHeader],
        certificates: &[Certificate],
        verifier: &impl Verifier,
        out: &mut Vec<HostAction>,
    ) {
        let Some(epoch) = self.current_epoch() else {
            return;
        };
        let count = self.branches_from.entry(from).or_default();
        if *count >= MAX_BRANCH_MESSAGES {
            // More than a whole log's worth from one peer this epoch: ignored, so that no
            // peer can make this host redo forensics without end.
            self.stats.branches_ignored += 1;
            return;
        }
        *count += 1;
        for header in headers {
            self.log.insert_header(header);
        }
        let mut findings = Vec::new();
        let mut new_commit = false;
        for cert in certificates.iter().filter(|c| c.epoch == epoch) {
            self.detector
                .observe_shared_certificate(cert, verifier, &mut findings);
            if self.detector.verified(cert) && self.log.insert_certificate(cert) {
                new_commit |= cert.kind == CertificateKind::Vote2;
            }
        }
        self.handle(now_us, findings, out);
        // Only a commit new to the log can make a new fork.
        if new_commit && !self.log.conflicting_commits().is_empty() {
            self.on_fork(verifier, out);
        }
    }

    /// A fork is known: send this host's branch to every peer (once an epoch) and prove the
    /// conflicting pairs of commits the log holds, earliest first, until one proves more than
    /// a third of the power guilty (at most [`MAX_PROVEN_FORKS`] an epoch).
    fn on_fork(&mut self, verifier: &impl Verifier, out: &mut Vec<HostAction>) {
        if !self.branch_sent {
            self.branch_sent = true;
            self.stats.branches_sent += 1;
            for message in self.branch_messages() {
                out.push(HostAction::Send {
                    to: Peers::All,
                    message,
                });
            }
        }
        let Some(epoch) = self.current_epoch() else {
            return;
        };
        let Some(view) = self.detector.epoch_view(epoch).cloned() else {
            return;
        };
        if self.accountable {
            // More than a third of the power is proven guilty already: nothing more to prove.
            return;
        }
        if self.fork_record.is_none() {
            // What the host held when it learnt of the fork, kept for `warden forensics`
            // whatever the bounded log forgets later.
            self.fork_record = Some(ForensicsRecord::new(&view, &self.log));
        }
        let proven = &self.proven;
        let proofs = prove_forks(
            &view,
            &self.log,
            |a, b| proven.contains(&(*a, *b)),
            MAX_PROVEN_FORKS.saturating_sub(self.proven.len()),
            verifier,
        );
        if !proofs.is_empty() {
            self.fork_record = Some(ForensicsRecord::new(&view, &self.log));
        }
        for proof in proofs {
            self.proven.insert((proof.first.block, proof.second.block));
            self.accountable |= proof.accountable();
            self.stats.forks_proven += 1;
            // The culprits' evidence not yet reported goes to the chain in batches: after a
            // fork of a large set, more than a third of it fits in a few transactions.
            let mut batch = Vec::new();
            let mut bytes = 0;
            for (_, evidence) in &proof.culprits {
                let Ok(offence) = evidence.offence() else {
                    continue;
                };
                if !self.detector.claim(offence) {
                    continue;
                }
                out.push(HostAction::Detected(Detection::Evidence {
                    offence,
                    evidence: evidence.clone(),
                }));
                if !self.cfg.isolation.automatic_isolation
                    || self.banned.contains(&offence.operator)
                {
                    continue;
                }
                let size = warden_module::codec::encode(evidence).len();
                if batch.len() == MAX_EVIDENCE_PER_TX || bytes + size > MAX_TX_BYTES / 2 {
                    out.push(HostAction::Submit(evidence_batch(std::mem::take(
                        &mut batch,
                    ))));
                    bytes = 0;
                }
                bytes += size;
                batch.push(evidence.clone());
            }
            if !batch.is_empty() {
                out.push(HostAction::Submit(evidence_batch(batch)));
            }
            out.push(HostAction::Detected(Detection::Fork(proof)));
        }
    }

    /// The log as branch messages, each within the frame bound.
    fn branch_messages(&self) -> Vec<HostMessage> {
        let headers: Vec<BlockHeader> = self.log.headers().cloned().collect();
        let header_start = headers.len().saturating_sub(MAX_BRANCH_HEADERS);
        let mut messages = Vec::new();
        let mut batch: Vec<Certificate> = Vec::new();
        // Headers take at most 256 * 80 bytes of the first frame.
        let mut size = MAX_BRANCH_HEADERS * 96;
        let mut first = Some(headers[header_start..].to_vec());
        for cert in self.log.certificates() {
            let bytes = warden_module::codec::encode(cert).len();
            if !batch.is_empty()
                && (batch.len() == MAX_BRANCH_CERTIFICATES
                    || size + bytes > MAX_HOST_MESSAGE_BYTES - 64)
            {
                messages.push(branch(
                    first.take().unwrap_or_default(),
                    std::mem::take(&mut batch),
                ));
                size = 0;
            }
            size += bytes;
            batch.push(cert.clone());
        }
        if !batch.is_empty() || first.is_some() {
            messages.push(branch(first.take().unwrap_or_default(), batch));
        }
        messages
    }

    /// The replica entered `view` at `now_us`: Tier 2 windows close (starting accusations when
    /// `isolation.automatic_isolation` is on), and the proposals of views left without a
    /// certificate of their block (no certificate, or one of another block) are forwarded to
    /// every peer's host.
    pub fn on_view(&mut self, now_us: u64, view: u64, out: &mut Vec<HostAction>) {
        if self.epoch.is_none() || view <= self.view {
            return;
        }
        self.view = view;
        self.entered.insert(view, now_us);
        while self.entered.len() > ENTERED_VIEWS {
            self.entered.pop_first();
        }
        self.stuck.on_view(now_us, view);
        let by_timeout = !self.certified.contains_key(&view.saturating_sub(1));
        self.monitor
            .on_view_change(now_us / 1_000, view, by_timeout);
        let failed: Vec<u64> = self.proposals.range(..view).map(|(v, _)| *v).collect();
        for v in failed {
            if let Some(p) = self.proposals.remove(&v) {
                // Forwarded unless this very block was certified: a leader that showed
                // another block to a quorum elsewhere is proven by the hosts that saw that one.
                let block = match &p.message {
                    Message::Proposal(proposal) => Some(proposal.block.hash()),
                    _ => None,
                };
                if self.certified.get(&v).copied() != block {
                    out.push(HostAction::Send {
                        to: Peers::All,
                        message: HostMessage::Forward(p),
                    });
                }
            }
        }
        let floor = view.saturating_sub(FORWARD_VIEWS as u64);
        self.certified = self.certified.split_off(&floor);
        let mut findings = Vec::new();
        self.detector.on_view(now_us, view, &mut findings);
        self.handle(now_us, findings, out);
    }

    /// The replica committed `block` at `now_us`; `height` counts over every epoch. A block
    /// that conflicts with one committed earlier (another block at its height, or a parent
    /// other than the block committed below it) is a fork: see [`ValidatorHost::on_branch`].
    pub fn on_commit(
        &mut self,
        now_us: u64,
        height: u64,
        block: &BlockHeader,
        verifier: &impl Verifier,
        out: &mut Vec<HostAction>,
    ) {
        self.stuck.on_commit(now_us, height);
        self.monitor.on_commit(now_us / 1_000, height);
        let hash = self.log.insert_header(block);
        let below = block.height.saturating_sub(1);
        let conflicting = self
            .committed
            .get(&block.height)
            .is_some_and(|h| *h != hash)
            || (below > 0
                && self
                    .committed
                    .get(&below)
                    .is_some_and(|p| *p != block.parent_hash));
        self.committed.entry(block.height).or_insert(hash);
        while self.committed.len() > COMMITTED_HEIGHTS {
            self.committed.pop_first();
        }
        if conflicting {
            self.on_fork(verifier, out);
        }
    }

    /// The certificates and headers this host holds, for forensics.
    pub fn certificate_log(&self) -> &CertificateLog {
        &self.log
    }

    /// What `warden forensics` reads (`None` before an epoch): the log as it was when this
    /// host last proved a fork of the current epoch (or first learnt of one), else as it is.
    pub fn forensics_record(&self) -> Option<ForensicsRecord> {
        if let Some(record) = &self.fork_record {
            return Some(record.clone());
        }
        let epoch = self.current_epoch()?;
        let view = self.detector.epoch_view(epoch)?;
        Some(ForensicsRecord::new(view, &self.log))
    }

    /// A committed block with its double certificate, from the caller's block store: the host
    /// keeps the highest of the current epoch for peers restoring a lost disk.
    pub fn offer_checkpoint(&mut self, checkpoint: Checkpoint) {
        if self.wants_checkpoint(&checkpoint.cert) {
            self.checkpoint = Some(checkpoint);
        }
    }

    /// The chain's answer: `operator` is banned. Further evidence against it changes nothing
    /// on the chain and is no longer submitted.
    pub fn on_banned(&mut self, operator: OperatorId) {
        self.banned.insert(operator);
    }

    /// The chain's answer: the operators it isolates (banned, quarantined or deferred), for the
    /// health monitor's view of the set.
    pub fn on_isolated(&mut self, operators: &[OperatorId]) {
        self.isolated_power = self
            .epoch
            .as_ref()
            .map_or(0, |e| operators.iter().map(|o| e.set.power_of(*o)).sum());
        self.refresh_set_health();
    }

    /// The network's connectivity as the caller sees it, components by operator: while it is
    /// split, peers outside this host's component are excused from Tier 2 judgement; when a
    /// split this host was told of heals, it sends its highest certificate across (when
    /// `recovery.automatic_recovery` is on). Returns whether it did.
    pub fn on_partition(&mut self, info: &PartitionInfo, out: &mut Vec<HostAction>) -> bool {
        if info.partitioned {
            // Peers outside this host's component cannot reach it: what they could not send
            // meanwhile is no evidence of withholding.
            if let Some(mine) = info.components.iter().find(|c| c.contains(&self.operator)) {
                let cut: Vec<OperatorId> = info
                    .components
                    .iter()
                    .flatten()
                    .filter(|op| !mine.contains(op))
                    .copied()
                    .collect();
                for op in cut {
                    self.detector.excuse(op);
                }
            }
        }
        let was = std::mem::replace(&mut self.partitioned, info.partitioned);
        if !was || info.partitioned || !self.cfg.recovery.automatic_recovery {
            return false;
        }
        let Some(certificate) = self.lock.clone() else {
            return false;
        };
        self.stats.syncs += 1;
        out.push(HostAction::Broadcast {
            certificate,
            reason: Recovery::HealedSplit,
        });
        true
    }

    /// The periodic tick at `now_us`: a stuck view starts an emergency view change (the host
    /// broadcasts the highest certificate it holds, so replicas that missed it move on, when
    /// `recovery.automatic_recovery` is on); the health monitor takes its sample.
    pub fn tick(&mut self, now_us: u64, out: &mut Vec<HostAction>) {
        if let Some(stuck) = self.check_stuck(now_us) {
            if self.cfg.recovery.automatic_recovery {
                if let Some(certificate) = self.emergency_view_change() {
                    out.push(HostAction::Broadcast {
                        certificate,
                        reason: Recovery::StuckView(stuck),
                    });
                }
            }
        }
        self.sample(now_us);
    }

    /// A stall at `now_us`: nothing committed for `recovery.view_change_timeout_ms`, reported
    /// once per episode.
    pub fn check_stuck(&mut self, now_us: u64) -> Option<StuckView> {
        self.stuck.check(now_us)
    }

    /// The emergency view change for a stall: the highest certificate this host holds, to
    /// broadcast to every replica (counted), if it holds one.
    pub fn emergency_view_change(&mut self) -> Option<Certificate> {
        let certificate = self.lock.clone()?;
        self.stats.emergency_view_changes += 1;
        Some(certificate)
    }

    /// Takes a health sample at `now_us`, once per `monitoring.sample_interval_ms`.
    pub fn sample(&mut self, now_us: u64) {
        if self
            .cfg
            .monitoring
            .sample_due(&mut self.last_sample_us, now_us)
        {
            self.refresh_set_health();
            self.monitor.sample(now_us / 1_000);
        }
    }

    // ----- Accusations -------------------------------------------------------------------

    /// Starts an accusation from a suspicion, signed by this host: the request goes to every
    /// peer's host (an action), and the accusation waits for co-signatures. Refused for another
    /// epoch, the host's own operator, a reversed view range, non-members (the accused or this
    /// host), or a repeat of an accusation this host already made in the epoch.
    pub fn accuse(
        &mut self,
        now_us: u64,
        suspicion: Suspicion,
        out: &mut Vec<HostAction>,
    ) -> Result<AccusationRequest, AccusationError> {
        let accusation = Accusation::from(suspicion);
        self.check_accusation(&accusation)?;
        if !self.accused.insert((
            accusation.accused,
            accusation.behaviour as u8,
            accusation.epoch,
        )) {
            return Err(AccusationError::AlreadyAccused {
                accused: accusation.accused,
            });
        }
        let witness = self.sign_accusation(&accusation)?;
        if !self.pending.contains_key(&accusation) && self.pending.len() >= MAX_PENDING_ACCUSATIONS
        {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, c)| c.started_us)
                .map(|(a, _)| *a);
            if let Some(oldest) = oldest {
                self.pending.remove(&oldest);
                self.stats.pending_dropped += 1;
            }
        }
        self.pending
            .entry(accusation)
            .or_insert_with(|| Collecting {
                started_us: now_us,
                witnesses: BTreeMap::new(),
            })
            .witnesses
            .insert(self.operator, witness);
        self.stats.accusations_started += 1;
        out.push(HostAction::Send {
            to: Peers::All,
            message: HostMessage::Accuse(accusation, witness),
        });
        // A set where this host alone holds enough power submits at once.
        self.try_submit(&accusation, out);
        Ok(AccusationRequest {
            accusation,
            witness,
        })
    }

    /// Adds a peer's co-signature to an accusation this host is collecting. Only a valid
    /// signature of a member other than the accused counts. Once the witnesses (the accused
    /// never among them) hold more than a third of the power, and the configured aggregation
    /// threshold and `evidence.minimum_witness_count`, the witnessed accusation is submitted
    /// (an action) and returned.
    pub fn add_cosignature(
        &mut self,
        _now_us: u64,
        accusation: &Accusation,
        signature: WitnessSignature,
        verifier: &impl Verifier,
        out: &mut Vec<HostAction>,
    ) -> Result<Option<WitnessedAccusation>, AccusationError> {
        let epoch = self.epoch.as_ref().ok_or(AccusationError::NoEpoch)?;
        let Some(collecting) = self.pending.get(accusation) else {
            if self.submitted.contains(accusation) {
                self.stats.late_cosignatures += 1;
                return Ok(None);
            }
            return Err(AccusationError::UnknownAccusation {
                accused: accusation.accused,
            });
        };
        if signature.witness == accusation.accused {
            return Err(AccusationError::AccusedCannotWitness {
                witness: signature.witness,
            });
        }
        if collecting.witnesses.contains_key(&signature.witness) {
            return Ok(None);
        }
        let member = epoch
            .set
            .get(signature.witness)
            .ok_or(AccusationError::UnknownValidator {
                operator: signature.witness,
                epoch: epoch.set.epoch,
            })?;
        if !verifier.verify(
            &member.key,
            &accusation.signing_bytes(epoch.chain_id),
            &signature.signature,
        ) {
            return Err(AccusationError::BadSignature {
                witness: signature.witness,
            });
        }
        if let Some(c) = self.pending.get_mut(accusation) {
            c.witnesses.insert(signature.witness, signature);
        }
        Ok(self.try_submit(accusation, out))
    }

    /// This host's co-signature of a peer's accusation, only if this host is a member and its
    /// own detector saw the same behaviour.
    pub fn endorse(&self, accusation: &Accusation) -> Option<WitnessSignature> {
        if !self.is_member() || !self.detector.endorses(accusation) {
            return None;
        }
        self.sign_accusation(accusation).ok()
    }

    // ----- Reads -------------------------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &FaultToleranceConfig {
        &self.cfg
    }

    /// This host's operator.
    pub fn operator(&self) -> OperatorId {
        self.operator
    }

    /// The current epoch's set, once one started.
    pub fn validator_set(&self) -> Option<&ValidatorSet> {
        self.epoch.as_ref().map(|e| &e.set)
    }

    /// The current epoch's schedule, once one started.
    pub fn schedule(&self) -> Option<&LeaderSchedule> {
        self.epoch.as_ref().map(|e| &e.schedule)
    }

    /// The chain id, once an epoch started.
    pub fn chain_id(&self) -> Option<u64> {
        self.epoch.as_ref().map(|e| e.chain_id)
    }

    /// The highest view the replica entered in this epoch.
    pub fn view(&self) -> u64 {
        self.view
    }

    /// When the replica entered the first remembered view at or after `view`.
    pub fn entered_at(&self, view: u64) -> Option<u64> {
        self.entered.range(view..).next().map(|(_, t)| *t)
    }

    /// The detector.
    pub fn detector(&self) -> &ByzantineDetector {
        &self.detector
    }

    /// The health monitor.
    pub fn monitor(&self) -> &HealthMonitor {
        &self.monitor
    }

    /// The health monitor, mutably (to feed what only the caller knows).
    pub fn monitor_mut(&mut self) -> &mut HealthMonitor {
        &mut self.monitor
    }

    /// The health report at `now_us`.
    pub fn health(&self, now_us: u64) -> HealthReport {
        self.monitor.report(now_us / 1_000)
    }

    /// The highest verified phase-1 certificate of the epoch this host received.
    pub fn highest_certificate(&self) -> Option<&Certificate> {
        self.lock.as_ref()
    }

    /// Whether this host saw a (phase-1 or double) certificate of `view` among the recent
    /// views.
    pub fn saw_certificate(&self, view: u64) -> bool {
        self.certified.contains_key(&view)
    }

    /// Whether `cert` would become this host's checkpoint if offered with its block.
    pub fn wants_checkpoint(&self, cert: &Certificate) -> bool {
        cert.kind == CertificateKind::Vote2
            && Some(cert.epoch) == self.current_epoch()
            && self
                .checkpoint
                .as_ref()
                .is_none_or(|k| k.cert.view < cert.view)
    }

    /// The highest checkpoint of the epoch offered to this host.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.checkpoint.as_ref()
    }

    /// Accusations collecting co-signatures.
    pub fn pending_accusations(&self) -> usize {
        self.pending.len()
    }

    /// The counters.
    pub fn stats(&self) -> HostStats {
        HostStats {
            detector: self.detector.stats(),
            ..self.stats.clone()
        }
    }

    // ----- Internals ---------------------------------------------------------------------

    fn current_epoch(&self) -> Option<u64> {
        self.epoch.as_ref().map(|e| e.set.epoch)
    }

    fn is_member(&self) -> bool {
        self.epoch
            .as_ref()
            .is_some_and(|e| e.set.get(self.operator).is_some())
    }

    /// Whether `cert` is a certificate of the current epoch a quorum signed (the genesis
    /// certificate carries nothing to check).
    fn holds(&self, cert: &Certificate, verifier: &impl Verifier) -> bool {
        let Some(epoch) = &self.epoch else {
            return false;
        };
        cert.epoch == epoch.set.epoch
            && (cert.is_genesis()
                || verify_certificate(epoch.chain_id, &epoch.set, cert, verifier).is_ok())
    }

    fn check_accusation(&self, a: &Accusation) -> Result<(), AccusationError> {
        let epoch = self.epoch.as_ref().ok_or(AccusationError::NoEpoch)?;
        let current = epoch.set.epoch;
        if a.epoch != current {
            return Err(AccusationError::EpochMismatch {
                expected: current,
                found: a.epoch,
            });
        }
        if a.accused == self.operator {
            return Err(AccusationError::SelfAccusation {
                operator: self.operator,
            });
        }
        if a.last_view < a.first_view {
            return Err(AccusationError::InvalidViewRange {
                first: a.first_view,
                last: a.last_view,
            });
        }
        for operator in [a.accused, self.operator] {
            if epoch.set.get(operator).is_none() {
                return Err(AccusationError::UnknownValidator {
                    operator,
                    epoch: current,
                });
            }
        }
        Ok(())
    }

    fn sign_accusation(&self, a: &Accusation) -> Result<WitnessSignature, AccusationError> {
        let epoch = self.epoch.as_ref().ok_or(AccusationError::NoEpoch)?;
        Ok(WitnessSignature {
            witness: self.operator,
            signature: sign(&self.key, &a.signing_bytes(epoch.chain_id)),
        })
    }

    /// The witnessed accusation if its witnesses suffice, submitted.
    fn try_submit(
        &mut self,
        accusation: &Accusation,
        out: &mut Vec<HostAction>,
    ) -> Option<WitnessedAccusation> {
        let set = &self.epoch.as_ref()?.set;
        let collecting = self.pending.get(accusation)?;
        let power: u64 = collecting
            .witnesses
            .keys()
            .filter(|w| **w != accusation.accused)
            .map(|w| set.power_of(*w))
            .sum();
        let threshold = (u128::from(set.total_power)
            * u128::from(self.cfg.evidence.evidence_aggregation_threshold_ppm)
            / 1_000_000) as u64;
        let needed = threshold.max(set.one_third_plus());
        if power < needed || collecting.witnesses.len() < self.cfg.evidence.minimum_witness_count {
            return None;
        }
        let collecting = self.pending.remove(accusation)?;
        if self.submitted.len() >= MAX_PENDING_ACCUSATIONS {
            self.submitted.pop_front();
        }
        self.submitted.push_back(*accusation);
        let witnesses = BoundedVec::new(collecting.witnesses.into_values().collect())?;
        let witnessed = WitnessedAccusation {
            accusation: *accusation,
            witnesses,
        };
        self.stats.accusations_witnessed += 1;
        out.push(HostAction::Detected(Detection::Witnessed(*accusation)));
        out.push(HostAction::Submit(Msg::SubmitAccusation(witnessed.clone())));
        Some(witnessed)
    }

    fn handle(&mut self, now_us: u64, findings: Vec<Finding>, out: &mut Vec<HostAction>) {
        for finding in findings {
            match finding {
                Finding::Evidence { offence, evidence } => {
                    let submit = self.cfg.isolation.automatic_isolation
                        && !self.banned.contains(&offence.operator);
                    let msg = submit.then(|| Msg::SubmitEvidence(evidence.clone()));
                    out.push(HostAction::Detected(Detection::Evidence {
                        offence,
                        evidence,
                    }));
                    if let Some(msg) = msg {
                        out.push(HostAction::Submit(msg));
                    }
                }
                Finding::Suspicion(s) => {
                    out.push(HostAction::Detected(Detection::Suspicion(s)));
                    if self.cfg.isolation.automatic_isolation && self.is_member() {
                        // A refusal here is a repeat or a suspicion outside the set: nothing
                        // to send.
                        if let Err(e) = self.accuse(now_us, s, out) {
                            if !matches!(e, AccusationError::AlreadyAccused { .. }) {
                                *self.stats.refused.entry(e.name()).or_default() += 1;
                            }
                        }
                    }
                }
            }
        }
    }

    fn refresh_set_health(&mut self) {
        let Some(epoch) = &self.epoch else {
            return;
        };
        let suspected: BTreeSet<OperatorId> = self
            .detector
            .suspicions()
            .iter()
            .map(|s| s.accused)
            .collect();
        self.monitor.set_validator_set(ValidatorSetHealth {
            validators: epoch.set.validators.len(),
            total_power: epoch.set.total_power,
            quorum: epoch.set.quorum(),
            isolated_power: self.isolated_power,
            suspected_power: suspected.iter().map(|o| epoch.set.power_of(*o)).sum(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_module::crypto::Ed25519Strict;
    use warden_module::evidence::Behaviour;
    use warden_testkit::TestNetwork;

    const CHAIN_ID: u64 = 7;

    fn host_of(net: &TestNetwork, operator: OperatorId) -> ValidatorHost {
        let mut h = ValidatorHost::new(
            FaultToleranceConfig::default(),
            operator,
            net.keys[operator as usize].clone(),
        );
        h.start_epoch(CHAIN_ID, net.set(), net.schedule());
        h
    }

    fn suspicion(accused: OperatorId, behaviour: Behaviour, first_view: u64) -> Suspicion {
        Suspicion {
            accused,
            behaviour,
            epoch: 1,
            first_view,
            last_view: first_view + 5,
            measured: 3,
        }
    }

    fn cosign(net: &TestNetwork, witness: OperatorId, a: &Accusation) -> WitnessSignature {
        WitnessSignature {
            witness,
            signature: warden_testkit::sign(
                &net.keys[witness as usize],
                &a.signing_bytes(CHAIN_ID),
            ),
        }
    }

    fn submitted(out: &[HostAction]) -> Vec<&WitnessedAccusation> {
        out.iter()
            .filter_map(|a| match a {
                HostAction::Submit(Msg::SubmitAccusation(w)) => Some(w),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_accused_never_counts_as_a_witness_and_a_member_completes_the_accusation() {
        let net = TestNetwork::new(CHAIN_ID, 4);
        let mut h = host_of(&net, 0);
        let mut out = Vec::new();
        let request = h
            .accuse(1, suspicion(3, Behaviour::VoteWithholding, 10), &mut out)
            .expect("a valid accusation");
        assert!(matches!(
            out.as_slice(),
            [HostAction::Send {
                to: Peers::All,
                message: HostMessage::Accuse(..)
            }]
        ));
        let a = request.accusation;
        assert_eq!(
            h.add_cosignature(2, &a, cosign(&net, 3, &a), &Ed25519Strict, &mut out),
            Err(AccusationError::AccusedCannotWitness { witness: 3 })
        );
        let done = h
            .add_cosignature(3, &a, cosign(&net, 1, &a), &Ed25519Strict, &mut out)
            .expect("a member's valid co-signature")
            .expect("two of four make more than a third");
        let witnesses: Vec<OperatorId> = done.witnesses.iter().map(|w| w.witness).collect();
        assert_eq!(witnesses, vec![0, 1]);
        assert_eq!(submitted(&out).len(), 1);
        // A co-signature that arrives after the submission changes nothing and is no refusal.
        assert_eq!(
            h.add_cosignature(4, &a, cosign(&net, 2, &a), &Ed25519Strict, &mut out),
            Ok(None)
        );
        assert_eq!(submitted(&out).len(), 1);
        assert_eq!(h.stats().late_cosignatures, 1);
    }

    #[test]
    fn self_accusation_a_reversed_range_another_epoch_a_non_member_and_a_repeat_are_refused() {
        let net = TestNetwork::new(CHAIN_ID, 4);
        let mut h = host_of(&net, 0);
        let mut out = Vec::new();
        let mut accuse = |s: Suspicion| h.accuse(1, s, &mut out).map(|_| ());
        assert_eq!(
            accuse(suspicion(0, Behaviour::VoteWithholding, 1)),
            Err(AccusationError::SelfAccusation { operator: 0 })
        );
        let reversed = Suspicion {
            last_view: 0,
            ..suspicion(2, Behaviour::VoteWithholding, 1)
        };
        assert_eq!(
            accuse(reversed),
            Err(AccusationError::InvalidViewRange { first: 1, last: 0 })
        );
        let later = Suspicion {
            epoch: 2,
            ..suspicion(2, Behaviour::VoteWithholding, 1)
        };
        assert_eq!(
            accuse(later),
            Err(AccusationError::EpochMismatch {
                expected: 1,
                found: 2
            })
        );
        assert_eq!(
            accuse(suspicion(9, Behaviour::VoteWithholding, 1)),
            Err(AccusationError::UnknownValidator {
                operator: 9,
                epoch: 1
            })
        );
        assert_eq!(accuse(suspicion(2, Behaviour::VoteWithholding, 1)), Ok(()));
        assert_eq!(
            accuse(suspicion(2, Behaviour::VoteWithholding, 30)),
            Err(AccusationError::AlreadyAccused { accused: 2 })
        );
    }

    #[test]
    fn pending_accusations_are_bounded_and_the_oldest_is_dropped() {
        // 60 validators: this host alone holds too little power to submit, and 59 peers times
        // five behaviours is more than the bound.
        let net = TestNetwork::new(CHAIN_ID, 60);
        let mut h = host_of(&net, 0);
        let behaviours = [
            Behaviour::ProposalWithholding,
            Behaviour::VoteWithholding,
            Behaviour::SelectiveConnectivity,
            Behaviour::MessageFlooding,
            Behaviour::TimingManipulation,
        ];
        let mut first = None;
        let mut started = 0;
        for accused in 1..60 {
            for b in behaviours {
                let mut out = Vec::new();
                let r = h
                    .accuse(started, suspicion(accused, b, 1), &mut out)
                    .expect("a valid accusation");
                first.get_or_insert(r.accusation);
                started += 1;
            }
        }
        assert_eq!(started, 295);
        assert_eq!(h.pending_accusations(), MAX_PENDING_ACCUSATIONS);
        assert_eq!(
            h.stats().pending_dropped,
            295 - MAX_PENDING_ACCUSATIONS as u64
        );
        let oldest = first.expect("one accusation");
        let mut out = Vec::new();
        assert_eq!(
            h.add_cosignature(
                1_000,
                &oldest,
                cosign(&net, 1, &oldest),
                &Ed25519Strict,
                &mut out
            ),
            Err(AccusationError::UnknownAccusation { accused: 1 })
        );
    }

    #[test]
    fn a_frame_that_does_not_decode_is_counted_and_dropped() {
        let net = TestNetwork::new(CHAIN_ID, 4);
        let mut h = host_of(&net, 0);
        let mut out = Vec::new();
        h.on_host_frame(1, 2, &[0xff; 40], &Ed25519Strict, &mut out);
        h.on_host_frame(1, 2, &[], &Ed25519Strict, &mut out);
        assert!(out.is_empty());
        assert_eq!(h.stats().undecodable, 2);
    }

    #[test]
    fn a_forged_certificate_never_becomes_the_certificate_a_stuck_host_broadcasts() {
        let net = TestNetwork::new(CHAIN_ID, 4);
        let mut h = host_of(&net, 0);
        let mut out = Vec::new();
        let good = net.certificate(CertificateKind::Vote, 3, [5; 32], 0, &net.quorum_signers());
        let mut forged =
            net.certificate(CertificateKind::Vote, 9, [6; 32], 0, &net.quorum_signers());
        if let Some(first) = forged.signatures.first().copied() {
            let mut parts: Vec<_> = forged.signatures.iter().copied().collect();
            parts[0] = warden_module::wire::CertificateSignature {
                signature: Signature([1; 64]),
                ..first
            };
            forged.signatures = BoundedVec::new(parts).expect("bounded");
        }
        h.on_message(1, 1, Observed::Certificate(&good), &Ed25519Strict, &mut out);
        h.on_message(
            2,
            1,
            Observed::Certificate(&forged),
            &Ed25519Strict,
            &mut out,
        );
        assert_eq!(h.highest_certificate(), Some(&good));
        // Nothing commits for the view-change timeout: the emergency view change sends it.
        let timeout = h.config().recovery.view_change_timeout_ms * 1_000;
        h.on_view(3, 1, &mut out);
        out.clear();
        h.tick(timeout + 10, &mut out);
        assert!(
            out.iter().any(|a| matches!(a, HostAction::Broadcast { certificate, reason: Recovery::StuckView(_) } if *certificate == good)),
            "{out:?}"
        );
        assert_eq!(h.stats().emergency_view_changes, 1);
    }
}
