//! The [`FaultToleranceManager`] facade: the design's operations (detect, monitor, analyze,
//! isolate, quarantine, recover, collect and verify evidence, submit for slashing, status,
//! byzantine list) for integrators.
//!
//! [`WardenManager`] implements it over one [`ValidatorHost`] (every decision is the host's:
//! the simulator drives the same type), an [`EvidenceCollector`] (the relay queue under
//! `<data dir>/relay`) and a [`ChainLink`]: an embedded chain ([`EmbeddedLink`]) or a node's
//! HTTP API ([`HttpLink`]). The manager is the I/O shell around the host: it reads the chain,
//! queues and submits, and returns what the host asks to send to peers.
//!
//! Every operation is synchronous: a host drives the manager from its own event loop (one call
//! per received consensus message, per view entered, per commit, and a periodic
//! [`FaultToleranceManager::tick`] for the relayer). Time is always a parameter; calls that
//! take none use the latest time a call gave.
//!
//! Every operation answers bad input with a [`FaultError`] or an empty answer, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use warden_module::crypto::Ed25519Strict;
use warden_module::error::Error as ModuleError;
use warden_module::evidence::{
    Accusation, Evidence, OffenceKey, WitnessSignature, WitnessedAccusation,
};
use warden_module::msg::{Msg, Query, QueryResponse};
use warden_module::schedule::LeaderSchedule;
use warden_module::state::IsolationState;
use warden_module::validators::ValidatorSet;
use warden_module::wire::{BlockHeader, Certificate, OperatorId, SignedMessage};

use crate::chain::client::Client;
use crate::chain::Chain;
use crate::ft::config::{ConfigError, FaultToleranceConfig};
use crate::ft::detect::{ByzantineDetector, DetectorStats, Observed, Suspicion};
use crate::ft::forensics::ForkProof;
use crate::ft::host::{AccusationError, Detection, HostAction, HostStats, Peers, ValidatorHost};
use crate::ft::monitor::{Anomaly, FailurePrediction, HealthMonitor, HealthReport, HealthStatus};
use crate::ft::recovery::{PartitionInfo, StuckView};
use crate::ft::relay::{
    describe, relay_dir, reverify, ChainView, Collected, EmbeddedSubmitter, EvidenceCollector,
    HttpChainView, HttpSubmitter, Inclusion, ItemId, RelayError, RelaySubmitter, SubmitFailure,
    Submitter, TickReport, TxRef,
};
use crate::ft::wire::HostMessage;

pub use crate::ft::host::{AccusationRequest, MAX_PENDING_ACCUSATIONS};

/// Evidence kept per operator for [`FaultToleranceManager::collect_misbehavior_evidence`].
pub const MAX_KEPT_EVIDENCE_PER_OPERATOR: usize = 16;
/// Operators with kept evidence.
pub const MAX_KEPT_OFFENDERS: usize = 1024;
/// Fork proofs the manager keeps (the oldest goes first).
pub const MAX_KEPT_FORKS: usize = 16;

/// Why a manager operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The configuration is invalid; the message names the field.
    #[error("invalid fault-tolerance configuration: {0}")]
    Config(#[from] ConfigError),
    /// The chain could not be reached or read.
    #[error("the chain could not be read: {0}")]
    Chain(String),
    /// The chain answered a query with something else than asked for.
    #[error("the chain answered {query} with an unexpected response")]
    UnexpectedResponse {
        /// The query.
        query: &'static str,
    },
    /// The relay queue could not be opened.
    #[error("the relay queue could not be opened: {0}")]
    Storage(String),
    /// No epoch was started (the chain's set was not read yet).
    #[error("no epoch started: the validator set is unknown")]
    NoEpoch,
    /// The module's own code refuses the evidence or accusation.
    #[error("the module refuses {what}: {error:?} ({error})")]
    Refused {
        /// What was refused.
        what: String,
        /// The module's error.
        error: ModuleError,
    },
    /// Evidence given to isolate one operator proves an offence of another.
    #[error("evidence against operator {found} cannot isolate operator {expected}")]
    WrongOffender {
        /// The operator to isolate.
        expected: OperatorId,
        /// The operator the evidence is against.
        found: OperatorId,
    },
    /// This host's signing key is not the key its operator has in the set.
    #[error("the signing key is not the key of operator {operator} in epoch {epoch}")]
    KeyMismatch {
        /// This host's operator.
        operator: OperatorId,
        /// The epoch.
        epoch: u64,
    },
    /// The host refused an accusation or a co-signature.
    #[error(transparent)]
    Accusation(#[from] AccusationError),
    /// The relay queue refused the item.
    #[error("the relayer failed: {0}")]
    Relay(#[from] RelayError),
}

/// The manager's result.
pub type Result<T, E = FaultError> = std::result::Result<T, E>;

// ----- The chain connection --------------------------------------------------------------

/// The manager's connection to the chain: what it reads to re-verify, what submits, and
/// module queries.
pub trait ChainLink {
    /// What [`reverify`] reads (sets and schedules of retained epochs).
    fn view(&self) -> &dyn ChainView;
    /// What the relayer submits through.
    fn submitter(&mut self) -> &mut dyn Submitter;
    /// One module query.
    fn query(&self, query: &Query) -> Result<QueryResponse>;
}

/// An embedded [`Chain`] owned by the manager, with the key that signs relayed transactions.
#[derive(Debug)]
pub struct EmbeddedLink {
    /// The chain.
    pub chain: Chain,
    /// The sender's key (anyone may submit evidence).
    pub key: SigningKey,
}

impl EmbeddedLink {
    /// A link over `chain`, submitting with `key`.
    pub fn new(chain: Chain, key: SigningKey) -> Self {
        Self { chain, key }
    }
}

impl Submitter for EmbeddedLink {
    fn submit(&mut self, payload: &[u8]) -> Result<TxRef, SubmitFailure> {
        EmbeddedSubmitter {
            chain: &mut self.chain,
            key: self.key.clone(),
        }
        .submit(payload)
    }

    fn inclusion(&mut self, tx: &TxRef) -> Result<Inclusion, SubmitFailure> {
        EmbeddedSubmitter {
            chain: &mut self.chain,
            key: self.key.clone(),
        }
        .inclusion(tx)
    }
}

fn decode_response(query: &Query, bytes: &[u8]) -> Result<QueryResponse> {
    borsh::from_slice(bytes).map_err(|_| FaultError::UnexpectedResponse {
        query: query_name(query),
    })
}

fn query_name(query: &Query) -> &'static str {
    match query {
        Query::Status => "Status",
        Query::Config => "Config",
        Query::Reputation { .. } => "Reputation",
        Query::Isolation { .. } => "Isolation",
        Query::Isolated => "Isolated",
        Query::SlashingProposals { .. } => "SlashingProposals",
        Query::EffectivePower => "EffectivePower",
        Query::Leader { .. } => "Leader",
        Query::Schedule { .. } => "Schedule",
        Query::ValidatorSet { .. } => "ValidatorSet",
        Query::Banned { .. } => "Banned",
    }
}

fn encode_query(query: &Query) -> Result<Vec<u8>> {
    borsh::to_vec(query).map_err(|e| FaultError::Chain(format!("cannot encode the query: {e}")))
}

impl ChainLink for EmbeddedLink {
    fn view(&self) -> &dyn ChainView {
        &self.chain
    }

    fn submitter(&mut self) -> &mut dyn Submitter {
        self
    }

    fn query(&self, query: &Query) -> Result<QueryResponse> {
        let outcome = self
            .chain
            .query(&encode_query(query)?)
            .map_err(|e| FaultError::Chain(format!("{e:#}")))?;
        match outcome.result {
            Ok(bytes) => decode_response(query, &bytes),
            Err(e) => Err(FaultError::Chain(format!(
                "the module refused {}: {e}",
                query_name(query)
            ))),
        }
    }
}

/// A node's HTTP API (`POST /query`, `GET /nonce`, `POST /tx`, `GET /tx`), submitting with
/// this host's own chain account ([`HttpSubmitter`]) or through a relayer ([`RelayLink`]).
#[derive(Debug)]
pub struct HttpLink<S = HttpSubmitter> {
    view: HttpChainView,
    submitter: S,
}

/// Reads from a node's HTTP API, hands evidence to a `warden relay` process
/// ([`RelaySubmitter`]): the host holds no chain account.
pub type RelayLink = HttpLink<RelaySubmitter>;

impl HttpLink {
    /// A link to the node `client` of chain `chain_id`, submitting with `key`.
    pub fn new(client: Client, chain_id: u64, key: SigningKey) -> Self {
        Self {
            view: HttpChainView { client, chain_id },
            submitter: HttpSubmitter {
                client,
                key,
                chain_id,
            },
        }
    }
}

impl RelayLink {
    /// Reads from the node `node` of chain `chain_id`, hands evidence to the relayer `relay`.
    pub fn relayed(node: Client, chain_id: u64, relay: Client) -> Self {
        Self {
            view: HttpChainView {
                client: node,
                chain_id,
            },
            submitter: RelaySubmitter { client: relay },
        }
    }
}

impl<S: Submitter> ChainLink for HttpLink<S> {
    fn view(&self) -> &dyn ChainView {
        &self.view
    }

    fn submitter(&mut self) -> &mut dyn Submitter {
        &mut self.submitter
    }

    fn query(&self, query: &Query) -> Result<QueryResponse> {
        http_query(&self.view.client, query)
    }
}

/// A module query over a node's `POST /query`.
pub(crate) fn http_query(client: &Client, query: &Query) -> Result<QueryResponse> {
    let body = serde_json::json!({ "query": hex::encode(encode_query(query)?) });
    let reply = client
        .post("/query", &body)
        .map_err(|e| FaultError::Chain(format!("{e:#}")))?;
    if reply.status != 200 {
        return Err(FaultError::Chain(format!(
            "the node answered {} to {}: {}",
            reply.status,
            query_name(query),
            reply.body
        )));
    }
    let bytes = reply
        .body
        .get("response")
        .and_then(|r| r.as_str())
        .and_then(|r| hex::decode(r).ok())
        .ok_or(FaultError::UnexpectedResponse {
            query: query_name(query),
        })?;
    decode_response(query, &bytes)
}

// ----- The facade's types ----------------------------------------------------------------

/// A consensus message as the host received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObservedMessage {
    /// A signed consensus message received from its sender.
    Signed(SignedMessage),
    /// A certificate.
    Certificate(Certificate),
    /// A message a peer's host forwarded (only the Tier 1 conflict index looks at it).
    Forwarded(SignedMessage),
    /// Something that could not be decoded or placed.
    Junk,
}

/// One received consensus message, its arrival time and the peer it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Arrival time, in microseconds on the host's clock.
    pub at_us: u64,
    /// The peer (operator) whose link it came over.
    pub from: OperatorId,
    /// The message.
    pub message: ObservedMessage,
}

impl Observation {
    /// A signed message received at `at_us` from `from`.
    pub fn signed(at_us: u64, from: OperatorId, message: SignedMessage) -> Self {
        Self {
            at_us,
            from,
            message: ObservedMessage::Signed(message),
        }
    }

    /// A certificate received at `at_us` from `from`.
    pub fn certificate(at_us: u64, from: OperatorId, cert: Certificate) -> Self {
        Self {
            at_us,
            from,
            message: ObservedMessage::Certificate(cert),
        }
    }
}

/// What happened to detected evidence in the relayer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelayOutcome {
    /// Not relayed: `automatic_isolation` is off (relay it with
    /// [`FaultToleranceManager::isolate_byzantine_validator`]).
    NotRelayed,
    /// Re-verified and queued durably.
    Queued,
    /// The same item already waits.
    Duplicate,
    /// The relayer refused it (a full queue, a disk failure, or the chain cannot be read).
    Failed(String),
}

impl From<Result<Collected, RelayError>> for RelayOutcome {
    fn from(r: Result<Collected, RelayError>) -> Self {
        match r {
            Ok(Collected::Queued) => RelayOutcome::Queued,
            Ok(Collected::Duplicate) => RelayOutcome::Duplicate,
            Err(e) => RelayOutcome::Failed(e.to_string()),
        }
    }
}

/// Tier 1 evidence the detector found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectedEvidence {
    /// The offence it proves.
    pub offence: OffenceKey,
    /// The evidence (the chain accepts it).
    pub evidence: Evidence,
    /// What the relayer did with it.
    pub relay: RelayOutcome,
}

/// What [`FaultToleranceManager::detect_byzantine_behavior`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectionResult {
    /// Tier 1 evidence.
    pub evidence: Vec<DetectedEvidence>,
    /// Tier 2 suspicions (rarely raised by a message; mostly by a view change).
    pub suspicions: Vec<Suspicion>,
    /// Messages for peers' hosts (accusations, co-signatures): send each.
    pub send: Vec<(Peers, HostMessage)>,
}

impl DetectionResult {
    /// Whether nothing was found and nothing is to be sent.
    pub fn is_empty(&self) -> bool {
        self.evidence.is_empty() && self.suspicions.is_empty() && self.send.is_empty()
    }
}

/// What [`FaultToleranceManager::monitor_validator_behavior`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorOutcome {
    /// Tier 2 suspicions raised by the windows that closed.
    pub suspicions: Vec<Suspicion>,
    /// Accusations started for them (when `automatic_isolation` is on): their requests are in
    /// [`send`](Self::send); each peer's host answers with [`FaultToleranceManager::endorse`].
    pub accusations: Vec<AccusationRequest>,
    /// Messages for peers' hosts (accusation requests, proposals of failed views): send each.
    pub send: Vec<(Peers, HostMessage)>,
    /// A stall, reported once per episode.
    pub stuck: Option<StuckView>,
    /// The recovery to run for it (when `automatic_recovery` is on).
    pub recovery: Option<RecoveryAction>,
}

/// What [`FaultToleranceManager::analyze_consensus_anomalies`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalysisResult {
    /// Anomalies of the latest health sample.
    pub anomalies: Vec<Anomaly>,
    /// The earliest predicted failure, if a metric trends towards one.
    pub prediction: Option<FailurePrediction>,
    /// The Byzantine tolerance margin.
    pub margin: i128,
    /// The monitor's verdict.
    pub status: HealthStatus,
}

/// What the host should do to recover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryAction {
    /// Nothing to do.
    Nothing,
    /// Rebroadcast the highest certificate known, so every replica can enter the next view.
    BroadcastCertificate(Certificate),
    /// No certificate is known: broadcast a timeout for `view`.
    Timeout {
        /// The stuck view.
        view: u64,
    },
    /// In the primary partition: keep going, and send the highest certificate to the nodes of
    /// the other components when they can be reached again.
    ContinueAndSync {
        /// The nodes outside this host's component.
        sync_to: Vec<u32>,
        /// The highest certificate known.
        certificate: Option<Certificate>,
    },
    /// Outside the primary partition: stop proposing, wait for the merge and sync from the
    /// primary partition.
    StopProposing {
        /// The nodes of this host's component.
        component: Vec<u32>,
        /// The primary partition's nodes, if there is one.
        sync_from: Vec<u32>,
    },
    /// The network is whole again: resume normal operation, sending the highest certificate
    /// known (if any) to every replica.
    Resume {
        /// The certificate to send.
        sync: Option<Certificate>,
    },
}

/// What [`FaultToleranceManager::submit_evidence_for_slashing`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmissionReceipt {
    /// The offence the evidence proves.
    pub offence: OffenceKey,
    /// The relay item's id.
    pub item: ItemId,
    /// Whether it was newly queued or already waiting.
    pub collected: Collected,
    /// The relayer tick that followed.
    pub tick: TickReport,
}

/// The manager's state, as [`FaultToleranceManager::get_fault_tolerance_status`] reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultToleranceStatus {
    /// This host's operator.
    pub operator: OperatorId,
    /// The current epoch, if one started.
    pub epoch: Option<u64>,
    /// The highest view the host's replica entered.
    pub view: u64,
    /// Current Tier 2 suspicions.
    pub suspicions: Vec<Suspicion>,
    /// Items waiting in the relay queue.
    pub pending_relays: usize,
    /// Accusations collecting co-signatures.
    pub pending_accusations: usize,
    /// The health report.
    pub health: HealthReport,
    /// Banned and quarantined operators, as the chain reported them at the last refresh (a
    /// [`FaultToleranceManager::tick`] per sampling interval, or
    /// [`FaultToleranceManager::sync_with_chain`]).
    pub byzantine: Vec<OperatorId>,
    /// Why the chain could not be read at the last refresh, if it could not.
    pub chain_error: Option<String>,
    /// The detector's counters.
    pub detector: DetectorStats,
    /// The partition the host is recovering from, if any.
    pub partition: Option<PartitionInfo>,
    /// Emergency view changes started.
    pub emergency_view_changes: u64,
    /// The host's counters (refused accusations and co-signatures among them).
    pub host: HostStats,
}

// ----- The facade ------------------------------------------------------------------------

/// The design's fault-tolerance operations. Hosts drive it from their event loop: every call
/// is synchronous and takes the time as a parameter.
pub trait FaultToleranceManager {
    /// Feeds one received consensus message to the detector. Tier 1 evidence is re-verified and
    /// queued in the relayer at once when `isolation.automatic_isolation` is on. Returns what
    /// was found.
    fn detect_byzantine_behavior(&mut self, observation: Observation) -> Result<DetectionResult>;

    /// The host's replica entered `view` at `now_us`: closes Tier 2 windows (starting
    /// accusations for new suspicions when `automatic_isolation` is on), feeds the stuck-view
    /// detector and the health monitor, and reports a stall once per episode (with the
    /// recovery to run when `automatic_recovery` is on). A host that knows the view was
    /// entered through a timeout certificate also tells the monitor
    /// ([`WardenManager::monitor_mut`], `on_view_change(now_us / 1_000, view, true)`); commits are
    /// reported with [`WardenManager::on_commit`].
    fn monitor_validator_behavior(&mut self, now_us: u64, view: u64) -> Result<MonitorOutcome>;

    /// The health monitor's anomalies and failure prediction at `now_us`.
    fn analyze_consensus_anomalies(&self, now_us: u64) -> AnalysisResult;

    /// Re-verifies every piece of `evidence` with the module's code (all must prove an offence
    /// of `validator`) and queues them for the chain, which bans. Nothing is queued unless all
    /// verify.
    fn isolate_byzantine_validator(
        &mut self,
        validator: OperatorId,
        evidence: &[Evidence],
    ) -> Result<Vec<Collected>>;

    /// Starts an accusation from a Tier 2 suspicion, signed by this host; send it to the peers'
    /// hosts, whose co-signatures come back through [`add_cosignature`](Self::add_cosignature).
    fn quarantine_suspicious_validator(
        &mut self,
        suspicion: Suspicion,
    ) -> Result<AccusationRequest>;

    /// Adds a peer's co-signature to an accusation this host started. Once the witnesses (the
    /// accused excluded) hold more than a third of the power (and the configured aggregation
    /// threshold and `evidence.minimum_witness_count`), the witnessed accusation is queued for
    /// the chain and returned.
    fn add_cosignature(
        &mut self,
        accusation: &Accusation,
        signature: WitnessSignature,
    ) -> Result<Option<WitnessedAccusation>>;

    /// This host's co-signature of a peer's accusation, only if its own detector saw the same
    /// behaviour.
    fn endorse(&self, accusation: &Accusation) -> Option<WitnessSignature>;

    /// The replica is stuck in `stuck_view`: what to broadcast to leave it.
    fn initiate_view_change_recovery(&mut self, stuck_view: u64) -> RecoveryAction;

    /// The network is (or was) split as `info` says: what this host should do.
    fn recover_from_network_partition(&mut self, info: PartitionInfo) -> RecoveryAction;

    /// Leaves every recovery mode (partition, stall).
    fn restore_normal_operation(&mut self);

    /// Evidence against `validator` that the relayer holds or the detector found.
    fn collect_misbehavior_evidence(&self, validator: OperatorId) -> Vec<Evidence>;

    /// Whether the chain would accept `evidence`, checked with the module's own code. An error
    /// means the answer is unknown (the epoch's set cannot be read).
    fn verify_evidence_validity(&self, evidence: &Evidence) -> Result<bool>;

    /// Queues `evidence` (re-verified) and runs one relayer tick, which submits it.
    fn submit_evidence_for_slashing(
        &mut self,
        evidence: &Evidence,
        now_us: u64,
    ) -> Result<SubmissionReceipt>;

    /// One relayer tick at `now_us`: submits due items and settles included ones; once per
    /// `monitoring.sample_interval_ms` it also reads the chain's isolated operators (for the
    /// status and the validator set's health) and takes a health sample. Call it periodically.
    fn tick(&mut self, now_us: u64) -> TickReport;

    /// Reads the chain's current epoch and, if it changed, starts judging it (pending
    /// accusations of the old epoch are dropped). Returns whether a new epoch started. Call it
    /// when the chain reports a new block or epoch.
    fn sync_with_chain(&mut self) -> Result<bool>;

    /// The manager's state at `now_us` (no chain call: the chain's answers are those of the
    /// last refresh).
    fn get_fault_tolerance_status(&self, now_us: u64) -> FaultToleranceStatus;

    /// The banned and quarantined operators, as the chain reports them.
    fn get_byzantine_validator_list(&self) -> Result<Vec<OperatorId>>;
}

// ----- WardenManager ---------------------------------------------------------------------

/// The [`FaultToleranceManager`] over one [`ValidatorHost`], a relay queue and a [`ChainLink`].
#[derive(Debug)]
pub struct WardenManager<L: ChainLink> {
    host: ValidatorHost,
    link: L,
    relayer: EvidenceCollector,
    found: BTreeMap<OperatorId, Vec<Evidence>>,
    forks: Vec<ForkProof>,
    partition: Option<PartitionInfo>,
    /// The chain's isolated operators at the last refresh, or why it could not be read.
    byzantine: std::result::Result<Vec<OperatorId>, String>,
    /// The latest time a call gave, in microseconds.
    now_us: u64,
    last_refresh_us: Option<u64>,
}

/// What the host's actions came to once the manager carried them out.
#[derive(Default)]
struct Carried {
    evidence: Vec<DetectedEvidence>,
    suspicions: Vec<Suspicion>,
    send: Vec<(Peers, HostMessage)>,
    broadcast: Vec<Certificate>,
    accusation_relay: Option<std::result::Result<Collected, RelayError>>,
}

impl<L: ChainLink> WardenManager<L> {
    /// Opens the manager of operator `operator` (signing with `key`) over `link`: validates
    /// `cfg`, opens the relay queue under `data_dir/relay`, reads the current epoch's set and
    /// schedule from the chain and starts the host's epoch. A host whose operator is not in the
    /// set runs as an observer (it detects and relays, but cannot co-sign); an operator of the
    /// set must hold its key.
    pub fn open(
        cfg: FaultToleranceConfig,
        data_dir: &Path,
        operator: OperatorId,
        key: SigningKey,
        link: L,
    ) -> Result<Self> {
        cfg.validate()?;
        let (chain_id, set, schedule) = read_epoch(&link)?;
        if let Some(v) = set.get(operator) {
            if v.key.0 != key.verifying_key().to_bytes() {
                return Err(FaultError::KeyMismatch {
                    operator,
                    epoch: set.epoch,
                });
            }
        }
        let relayer = EvidenceCollector::open(&relay_dir(data_dir), cfg.relayer.clone())
            .map_err(|e| FaultError::Storage(format!("{e:#}")))?;
        let mut host = ValidatorHost::new(cfg, operator, key);
        host.start_epoch(chain_id, set, schedule);
        let mut manager = Self {
            host,
            link,
            relayer,
            found: BTreeMap::new(),
            forks: Vec::new(),
            partition: None,
            byzantine: Ok(Vec::new()),
            now_us: 0,
            last_refresh_us: None,
        };
        manager.refresh_isolated();
        Ok(manager)
    }

    /// The configuration.
    pub fn config(&self) -> &FaultToleranceConfig {
        self.host.config()
    }

    /// This host's operator.
    pub fn operator(&self) -> OperatorId {
        self.host.operator()
    }

    /// The host the manager drives.
    pub fn host(&self) -> &ValidatorHost {
        &self.host
    }

    /// The current validator set.
    pub fn validator_set(&self) -> Option<&ValidatorSet> {
        self.host.validator_set()
    }

    /// The current leader schedule.
    pub fn schedule(&self) -> Option<&LeaderSchedule> {
        self.host.schedule()
    }

    /// The chain connection.
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The chain connection, mutably (e.g. to produce a block on an embedded chain).
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// The detector.
    pub fn detector(&self) -> &ByzantineDetector {
        self.host.detector()
    }

    /// The relayer.
    pub fn relayer(&self) -> &EvidenceCollector {
        &self.relayer
    }

    /// The health monitor (to feed what only the node knows, such as timeout certificates).
    pub fn monitor_mut(&mut self) -> &mut HealthMonitor {
        self.host.monitor_mut()
    }

    /// The highest verified phase-1 certificate seen.
    pub fn highest_certificate(&self) -> Option<&Certificate> {
        self.host.highest_certificate()
    }

    /// The host's replica committed `block` at `now_us` (`height` counts over every epoch).
    /// Returns what to send to peers' hosts: after a commit that conflicts with an earlier
    /// one, this host's branch, so that every host can prove the fork; the evidence found is
    /// queued for the chain and the proof kept ([`WardenManager::forks`]).
    pub fn on_commit(
        &mut self,
        now_us: u64,
        height: u64,
        block: &BlockHeader,
    ) -> Vec<(Peers, HostMessage)> {
        self.advance(now_us);
        let mut actions = Vec::new();
        self.host
            .on_commit(now_us, height, block, &Ed25519Strict, &mut actions);
        self.carry(actions).send
    }

    /// The forks this host proved, with their culprits (the most recent few).
    pub fn forks(&self) -> &[ForkProof] {
        &self.forks
    }

    /// A host-to-host message from the host of `from`, received at `now_us` (a co-signature
    /// of this host's accusation, a peer's accusation, a forwarded proposal). Returns what to
    /// send back; a witnessed accusation is queued for the chain.
    pub fn on_host_message(
        &mut self,
        now_us: u64,
        from: OperatorId,
        message: &HostMessage,
    ) -> Vec<(Peers, HostMessage)> {
        self.advance(now_us);
        let mut actions = Vec::new();
        self.host
            .on_host_message(now_us, from, message, &Ed25519Strict, &mut actions);
        self.carry(actions).send
    }

    /// One module query over the link.
    pub fn query(&self, query: &Query) -> Result<QueryResponse> {
        self.link.query(query)
    }

    fn advance(&mut self, now_us: u64) {
        self.now_us = self.now_us.max(now_us);
    }

    fn now_ms(&self) -> u64 {
        self.now_us / 1_000
    }

    /// Reads the chain's isolated operators for the status and the host's health view.
    fn refresh_isolated(&mut self) {
        self.byzantine = self
            .get_byzantine_validator_list()
            .map_err(|e| e.to_string());
        if let Ok(list) = &self.byzantine {
            self.host.on_isolated(list);
        }
    }

    fn keep_evidence(&mut self, operator: OperatorId, evidence: &Evidence) {
        if !self.found.contains_key(&operator) && self.found.len() >= MAX_KEPT_OFFENDERS {
            return;
        }
        let kept = self.found.entry(operator).or_default();
        if kept.len() < MAX_KEPT_EVIDENCE_PER_OPERATOR && !kept.contains(evidence) {
            kept.push(evidence.clone());
        }
    }

    /// Carries out the host's actions: submissions are re-verified and queued in the relayer,
    /// the rest is returned for the caller to send.
    fn carry(&mut self, actions: Vec<HostAction>) -> Carried {
        let mut carried = Carried::default();
        for action in actions {
            match action {
                HostAction::Detected(Detection::Evidence { offence, evidence }) => {
                    self.keep_evidence(offence.operator, &evidence);
                    carried.evidence.push(DetectedEvidence {
                        offence,
                        evidence,
                        relay: RelayOutcome::NotRelayed,
                    });
                }
                HostAction::Detected(Detection::Suspicion(s)) => carried.suspicions.push(s),
                HostAction::Detected(Detection::Witnessed(_)) => {}
                HostAction::Detected(Detection::Fork(proof)) => {
                    if self.forks.len() >= MAX_KEPT_FORKS {
                        self.forks.remove(0);
                    }
                    self.forks.push(proof);
                }
                HostAction::Submit(msg) => {
                    let label = describe(&msg);
                    let outcome =
                        self.relayer
                            .collect(&msg, &label, self.now_ms(), self.link.view());
                    match &msg {
                        Msg::SubmitEvidence(e) => {
                            if let Some(d) =
                                carried.evidence.iter_mut().rev().find(|d| &d.evidence == e)
                            {
                                d.relay = outcome.into();
                            }
                        }
                        Msg::SubmitEvidenceBatch(batch) => {
                            let outcome = RelayOutcome::from(outcome);
                            for d in carried
                                .evidence
                                .iter_mut()
                                .filter(|d| batch.contains(&d.evidence))
                            {
                                d.relay = outcome.clone();
                            }
                        }
                        _ => carried.accusation_relay = Some(outcome),
                    }
                }
                HostAction::Send { to, message } => carried.send.push((to, message)),
                HostAction::Broadcast { certificate, .. } => carried.broadcast.push(certificate),
            }
        }
        carried
    }

    /// The witnessed accusation's relay outcome as the manager's result.
    fn relayed(
        carried: Carried,
        witnessed: Option<WitnessedAccusation>,
    ) -> Result<Option<WitnessedAccusation>> {
        match (witnessed, carried.accusation_relay) {
            (Some(w), Some(Err(e))) => Err(match e {
                RelayError::Refused(error) => FaultError::Refused {
                    what: describe(&Msg::SubmitAccusation(w)),
                    error,
                },
                e => FaultError::Relay(e),
            }),
            (w, _) => Ok(w),
        }
    }

    fn check_evidence(&self, evidence: &Evidence) -> Result<OffenceKey> {
        let msg = Msg::SubmitEvidence(evidence.clone());
        let refused = |error| FaultError::Refused {
            what: describe(&msg),
            error,
        };
        let offence = evidence.offence().map_err(refused)?;
        reverify(&msg, self.link.view()).map_err(refused)?;
        Ok(offence)
    }
}

/// The chain's current epoch: chain id, set and schedule.
fn read_epoch(link: &impl ChainLink) -> Result<(u64, ValidatorSet, LeaderSchedule)> {
    let status = match link.query(&Query::Status)? {
        QueryResponse::Status(s) => s,
        _ => return Err(FaultError::UnexpectedResponse { query: "Status" }),
    };
    let epoch = status.epoch;
    let set = match link.query(&Query::ValidatorSet { epoch })? {
        QueryResponse::ValidatorSet(s) => s,
        _ => {
            return Err(FaultError::UnexpectedResponse {
                query: "ValidatorSet",
            })
        }
    };
    let schedule = match link.query(&Query::Schedule { epoch })? {
        QueryResponse::Schedule(s) => s,
        _ => return Err(FaultError::UnexpectedResponse { query: "Schedule" }),
    };
    Ok((status.chain_id, set, schedule))
}

fn is_byzantine(state: &IsolationState) -> bool {
    matches!(
        state,
        IsolationState::Banned { .. }
            | IsolationState::Quarantined { .. }
            | IsolationState::Deferred { .. }
    )
}

impl<L: ChainLink> FaultToleranceManager for WardenManager<L> {
    fn detect_byzantine_behavior(&mut self, observation: Observation) -> Result<DetectionResult> {
        if self.host.validator_set().is_none() {
            return Err(FaultError::NoEpoch);
        }
        let Observation {
            at_us,
            from,
            message,
        } = observation;
        self.advance(at_us);
        let mut actions = Vec::new();
        match &message {
            ObservedMessage::Signed(signed) => self.host.on_message(
                at_us,
                from,
                Observed::Signed(signed),
                &Ed25519Strict,
                &mut actions,
            ),
            ObservedMessage::Certificate(cert) => self.host.on_message(
                at_us,
                from,
                Observed::Certificate(cert),
                &Ed25519Strict,
                &mut actions,
            ),
            ObservedMessage::Forwarded(signed) => self.host.on_host_message(
                at_us,
                from,
                &HostMessage::Forward(signed.clone()),
                &Ed25519Strict,
                &mut actions,
            ),
            ObservedMessage::Junk => {
                self.host
                    .on_message(at_us, from, Observed::Junk, &Ed25519Strict, &mut actions)
            }
        }
        let carried = self.carry(actions);
        Ok(DetectionResult {
            evidence: carried.evidence,
            suspicions: carried.suspicions,
            send: carried.send,
        })
    }

    fn monitor_validator_behavior(&mut self, now_us: u64, view: u64) -> Result<MonitorOutcome> {
        if self.host.validator_set().is_none() {
            return Err(FaultError::NoEpoch);
        }
        self.advance(now_us);
        let mut actions = Vec::new();
        self.host.on_view(now_us, view, &mut actions);
        let carried = self.carry(actions);
        let accusations = carried
            .send
            .iter()
            .filter_map(|(_, m)| match m {
                HostMessage::Accuse(accusation, witness) => Some(AccusationRequest {
                    accusation: *accusation,
                    witness: *witness,
                }),
                _ => None,
            })
            .collect();
        let stuck = self.host.check_stuck(now_us);
        let recovery = stuck
            .filter(|_| self.host.config().recovery.automatic_recovery)
            .map(|s| self.initiate_view_change_recovery(s.view));
        Ok(MonitorOutcome {
            suspicions: carried.suspicions,
            accusations,
            send: carried.send,
            stuck,
            recovery,
        })
    }

    fn analyze_consensus_anomalies(&self, now_us: u64) -> AnalysisResult {
        let report = self.host.health(now_us);
        AnalysisResult {
            anomalies: report.anomalies,
            prediction: report.prediction,
            margin: report.margin,
            status: report.status,
        }
    }

    fn isolate_byzantine_validator(
        &mut self,
        validator: OperatorId,
        evidence: &[Evidence],
    ) -> Result<Vec<Collected>> {
        for e in evidence {
            let offence = self.check_evidence(e)?;
            if offence.operator != validator {
                return Err(FaultError::WrongOffender {
                    expected: validator,
                    found: offence.operator,
                });
            }
        }
        let mut out = Vec::with_capacity(evidence.len());
        for e in evidence {
            let msg = Msg::SubmitEvidence(e.clone());
            let label = describe(&msg);
            let collected = self
                .relayer
                .collect(&msg, &label, self.now_ms(), self.link.view())?;
            self.keep_evidence(validator, e);
            out.push(collected);
        }
        Ok(out)
    }

    fn quarantine_suspicious_validator(
        &mut self,
        suspicion: Suspicion,
    ) -> Result<AccusationRequest> {
        let mut actions = Vec::new();
        let request = self.host.accuse(self.now_us, suspicion, &mut actions)?;
        let witnessed = actions.iter().find_map(|a| match a {
            HostAction::Submit(Msg::SubmitAccusation(w)) => Some(w.clone()),
            _ => None,
        });
        let carried = self.carry(actions);
        Self::relayed(carried, witnessed)?;
        Ok(request)
    }

    fn add_cosignature(
        &mut self,
        accusation: &Accusation,
        signature: WitnessSignature,
    ) -> Result<Option<WitnessedAccusation>> {
        let mut actions = Vec::new();
        let witnessed = self.host.add_cosignature(
            self.now_us,
            accusation,
            signature,
            &Ed25519Strict,
            &mut actions,
        )?;
        let carried = self.carry(actions);
        Self::relayed(carried, witnessed)
    }

    fn endorse(&self, accusation: &Accusation) -> Option<WitnessSignature> {
        self.host.endorse(accusation)
    }

    fn initiate_view_change_recovery(&mut self, stuck_view: u64) -> RecoveryAction {
        match self.host.emergency_view_change() {
            Some(cert) => RecoveryAction::BroadcastCertificate(cert),
            None => RecoveryAction::Timeout { view: stuck_view },
        }
    }

    fn recover_from_network_partition(&mut self, info: PartitionInfo) -> RecoveryAction {
        let mut actions = Vec::new();
        self.host.on_partition(&info, &mut actions);
        if !info.partitioned {
            self.partition = None;
            let sync = self.carry(actions).broadcast.pop();
            return RecoveryAction::Resume { sync };
        }
        let me = self.host.operator();
        let mine = info.components.iter().position(|c| c.contains(&me));
        let others = |skip: Option<usize>| -> Vec<u32> {
            info.components
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != skip)
                .flat_map(|(_, c)| c.iter().copied())
                .collect()
        };
        let action = match (mine, info.primary) {
            (Some(m), Some(p)) if m == p => RecoveryAction::ContinueAndSync {
                sync_to: others(Some(m)),
                certificate: self.host.highest_certificate().cloned(),
            },
            (m, p) => RecoveryAction::StopProposing {
                component: m
                    .and_then(|m| info.components.get(m).cloned())
                    .unwrap_or_default(),
                sync_from: p
                    .and_then(|p| info.components.get(p).cloned())
                    .unwrap_or_default(),
            },
        };
        self.partition = Some(info);
        action
    }

    fn restore_normal_operation(&mut self) {
        self.partition = None;
    }

    fn collect_misbehavior_evidence(&self, validator: OperatorId) -> Vec<Evidence> {
        let mut out: Vec<Evidence> = Vec::new();
        for item in self.relayer.iter() {
            if let Ok(Msg::SubmitEvidence(e)) = borsh::from_slice::<Msg>(&item.payload) {
                if e.offence().is_ok_and(|o| o.operator == validator) && !out.contains(&e) {
                    out.push(e);
                }
            }
        }
        for e in self.found.get(&validator).into_iter().flatten() {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        out
    }

    fn verify_evidence_validity(&self, evidence: &Evidence) -> Result<bool> {
        match reverify(&Msg::SubmitEvidence(evidence.clone()), self.link.view()) {
            Ok(()) => Ok(true),
            Err(ModuleError::UnknownEpoch { epoch }) => Err(FaultError::Chain(format!(
                "the validator set of epoch {epoch} is not known to the chain"
            ))),
            Err(_) => Ok(false),
        }
    }

    fn submit_evidence_for_slashing(
        &mut self,
        evidence: &Evidence,
        now_us: u64,
    ) -> Result<SubmissionReceipt> {
        self.advance(now_us);
        let offence = self.check_evidence(evidence)?;
        let msg = Msg::SubmitEvidence(evidence.clone());
        let label = describe(&msg);
        let collected = self
            .relayer
            .collect(&msg, &label, self.now_ms(), self.link.view())?;
        self.keep_evidence(offence.operator, evidence);
        let payload = borsh::to_vec(&msg).map_err(|e| FaultError::Storage(e.to_string()))?;
        let item: ItemId = Sha256::digest(&payload).into();
        let tick = self.tick(now_us);
        Ok(SubmissionReceipt {
            offence,
            item,
            collected,
            tick,
        })
    }

    fn tick(&mut self, now_us: u64) -> TickReport {
        self.advance(now_us);
        if self
            .host
            .config()
            .monitoring
            .sample_due(&mut self.last_refresh_us, now_us)
        {
            self.refresh_isolated();
        }
        self.host.sample(now_us);
        let now_ms = self.now_ms();
        let submitter = self.link.submitter();
        self.relayer.tick(now_ms, submitter)
    }

    fn sync_with_chain(&mut self) -> Result<bool> {
        let (chain_id, set, schedule) = read_epoch(&self.link)?;
        let same = self.host.validator_set().map(|s| s.epoch) == Some(set.epoch)
            && self.host.chain_id() == Some(chain_id);
        if !same {
            self.host.start_epoch(chain_id, set, schedule);
        }
        self.refresh_isolated();
        Ok(!same)
    }

    fn get_fault_tolerance_status(&self, now_us: u64) -> FaultToleranceStatus {
        let (byzantine, chain_error) = match &self.byzantine {
            Ok(list) => (list.clone(), None),
            Err(e) => (Vec::new(), Some(e.clone())),
        };
        let host = self.host.stats();
        FaultToleranceStatus {
            operator: self.host.operator(),
            epoch: self.host.detector().epoch(),
            view: self.host.view(),
            suspicions: self.host.detector().suspicions(),
            pending_relays: self.relayer.pending_len(),
            pending_accusations: self.host.pending_accusations(),
            health: self.host.health(now_us),
            byzantine,
            chain_error,
            detector: host.detector,
            partition: self.partition.clone(),
            emergency_view_changes: host.emergency_view_changes,
            host,
        }
    }

    fn get_byzantine_validator_list(&self) -> Result<Vec<OperatorId>> {
        match self.link.query(&Query::Isolated)? {
            QueryResponse::Isolated(list) => Ok(list
                .into_iter()
                .filter(|(_, state)| is_byzantine(state))
                .map(|(operator, _)| operator)
                .collect()),
            _ => Err(FaultError::UnexpectedResponse { query: "Isolated" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ft::host::sign;
    use crate::test_utils::{
        create_test_fault_tolerance_manager, create_test_fault_tolerance_manager_with,
        double_vote_observations, TestFaultToleranceManager,
    };
    use warden_module::evidence::Behaviour;

    /// A suspicion in the test network's epoch (1).
    fn suspicion(accused: OperatorId) -> Suspicion {
        Suspicion {
            accused,
            behaviour: Behaviour::ProposalWithholding,
            epoch: 1,
            first_view: 3,
            last_view: 9,
            measured: 4,
        }
    }

    #[test]
    fn a_double_vote_seen_twice_ends_on_chain_and_bans_the_voter() {
        let mut m = create_test_fault_tolerance_manager();
        let [a, b] = double_vote_observations(m.network(), 2, 9, 10_000);
        assert!(m.detect_byzantine_behavior(a).expect("epoch").is_empty());
        let found = m.detect_byzantine_behavior(b).expect("epoch");
        assert_eq!(found.evidence.len(), 1, "{found:?}");
        assert_eq!(found.evidence[0].relay, RelayOutcome::Queued);
        let evidence = found.evidence[0].evidence.clone();
        assert_eq!(m.collect_misbehavior_evidence(2), vec![evidence.clone()]);
        assert!(m.collect_misbehavior_evidence(1).is_empty());

        // Submitting it again finds it waiting; the tick sends it.
        let receipt = m
            .submit_evidence_for_slashing(&evidence, 20_000)
            .expect("valid");
        assert_eq!(receipt.collected, Collected::Duplicate);
        assert_eq!(receipt.offence.operator, 2);
        assert_eq!(receipt.tick.submitted, vec![receipt.item]);
        m.produce_block(1_000).expect("block");
        let tick = m.tick(30_000);
        assert_eq!(tick.included.len(), 1, "{tick:?}");
        assert_eq!(m.get_byzantine_validator_list().expect("chain"), vec![2]);
        // The status reads no chain: it shows the chain's answer of the last refresh.
        assert_eq!(
            m.get_fault_tolerance_status(35_000).byzantine,
            Vec::<u32>::new()
        );
        assert!(!m.sync_with_chain().expect("chain"), "still epoch 1");
        let status = m.get_fault_tolerance_status(40_000);
        assert_eq!(status.byzantine, vec![2]);
        assert_eq!(status.pending_relays, 0);
        assert_eq!(status.epoch, Some(1));
        assert_eq!(status.chain_error, None);
    }

    #[test]
    fn isolation_queues_only_verified_evidence_against_the_named_validator() {
        let mut m = create_test_fault_tolerance_manager();
        let good = m.network().double_vote(3, 4);
        let other = m.network().double_vote(1, 4);
        assert!(matches!(
            m.isolate_byzantine_validator(3, &[good.clone(), other]),
            Err(FaultError::WrongOffender {
                expected: 3,
                found: 1
            })
        ));
        assert_eq!(m.relayer().pending_len(), 0);
        assert_eq!(
            m.isolate_byzantine_validator(3, &[good]).expect("valid"),
            vec![Collected::Queued]
        );
        assert_eq!(m.relayer().pending_len(), 1);
    }

    #[test]
    fn forged_evidence_is_not_valid() {
        let m = create_test_fault_tolerance_manager();
        let genuine = m.network().double_vote(2, 7);
        assert!(m.verify_evidence_validity(&genuine).expect("known epoch"));
        let Evidence::DoubleVote { first, mut second } = genuine else {
            unreachable!("a double vote")
        };
        // The second vote's signature is replaced by the first's.
        second.signature = first.signature;
        let forged = Evidence::DoubleVote { first, second };
        assert!(!m.verify_evidence_validity(&forged).expect("known epoch"));
        let mut m = m;
        assert!(matches!(
            m.submit_evidence_for_slashing(&forged, 0),
            Err(FaultError::Refused { .. })
        ));
        assert_eq!(m.relayer().pending_len(), 0);
    }

    #[test]
    fn an_endorsement_from_a_non_member_or_with_a_bad_signature_is_refused() {
        let mut m = create_test_fault_tolerance_manager();
        let request = m
            .quarantine_suspicious_validator(suspicion(3))
            .expect("member");
        let a = request.accusation;
        let bytes = a.signing_bytes(m.network().chain_id);
        let outsider = WitnessSignature {
            witness: 9,
            signature: sign(&crate::testkit::key(9), &bytes),
        };
        assert!(matches!(
            m.add_cosignature(&a, outsider),
            Err(FaultError::Accusation(AccusationError::UnknownValidator {
                operator: 9,
                ..
            }))
        ));
        let forged = WitnessSignature {
            witness: 1,
            signature: sign(&m.network().keys[2], &bytes),
        };
        assert!(matches!(
            m.add_cosignature(&a, forged),
            Err(FaultError::Accusation(AccusationError::BadSignature {
                witness: 1
            }))
        ));
        let accused = WitnessSignature {
            witness: 3,
            signature: sign(&m.network().keys[3], &bytes),
        };
        assert!(matches!(
            m.add_cosignature(&a, accused),
            Err(FaultError::Accusation(
                AccusationError::AccusedCannotWitness { witness: 3 }
            ))
        ));
        let unknown = Accusation { last_view: 10, ..a };
        let sig = WitnessSignature {
            witness: 1,
            signature: sign(&m.network().keys[1], &unknown.signing_bytes(7)),
        };
        assert!(matches!(
            m.add_cosignature(&unknown, sig),
            Err(FaultError::Accusation(AccusationError::UnknownAccusation {
                accused: 3
            }))
        ));
        // This host's detector saw nothing: it does not endorse.
        assert_eq!(m.endorse(&a), None);
    }

    #[test]
    fn an_accusation_is_queued_only_once_witnesses_exceed_one_third() {
        // Four validators of power 10: more than a third is 14, so two witnesses.
        let mut m = create_test_fault_tolerance_manager();
        assert!(matches!(
            m.quarantine_suspicious_validator(suspicion(0)),
            Err(FaultError::Accusation(AccusationError::SelfAccusation {
                operator: 0
            }))
        ));
        let request = m
            .quarantine_suspicious_validator(suspicion(3))
            .expect("member");
        assert_eq!(request.witness.witness, 0);
        assert_eq!(m.relayer().pending_len(), 0);
        let a = request.accusation;
        let bytes = a.signing_bytes(m.network().chain_id);
        let witness = |w: OperatorId, m: &TestFaultToleranceManager| WitnessSignature {
            witness: w,
            signature: sign(&m.network().keys[w as usize], &bytes),
        };
        // Our own signature again changes nothing.
        let own = request.witness;
        assert_eq!(m.add_cosignature(&a, own).expect("valid"), None);
        assert_eq!(m.relayer().pending_len(), 0);
        let w1 = witness(1, &m);
        let queued = m.add_cosignature(&a, w1).expect("valid").expect("queued");
        assert_eq!(queued.witnesses.len(), 2);
        assert_eq!(m.relayer().pending_len(), 1);
        assert_eq!(m.get_fault_tolerance_status(0).pending_accusations, 0);
        // A late co-signature changes nothing; one for an accusation never made is refused.
        let w2 = witness(2, &m);
        assert_eq!(m.add_cosignature(&a, w2).expect("late"), None);
        assert_eq!(m.host().stats().late_cosignatures, 1);
        let never = Accusation { accused: 2, ..a };
        let w1 = witness(1, &m);
        assert!(matches!(
            m.add_cosignature(&never, w1),
            Err(FaultError::Accusation(AccusationError::UnknownAccusation {
                accused: 2
            }))
        ));
    }

    #[test]
    fn the_configured_minimum_witness_count_holds_back_an_accusation() {
        let mut cfg = FaultToleranceConfig::default();
        cfg.evidence.minimum_witness_count = 3;
        let mut m = create_test_fault_tolerance_manager_with(cfg).expect("valid");
        let a = m
            .quarantine_suspicious_validator(suspicion(3))
            .expect("member")
            .accusation;
        let bytes = a.signing_bytes(7);
        for (w, queued) in [(1, false), (2, true)] {
            let sig = WitnessSignature {
                witness: w,
                signature: sign(&m.network().keys[w as usize], &bytes),
            };
            assert_eq!(m.add_cosignature(&a, sig).expect("valid").is_some(), queued);
        }
    }

    #[test]
    fn an_invalid_config_is_refused_naming_the_field() {
        let mut cfg = FaultToleranceConfig::default();
        cfg.detection.detection_sensitivity = -1.0;
        let err = create_test_fault_tolerance_manager_with(cfg).expect_err("invalid");
        assert!(matches!(err, FaultError::Config(_)));
        assert!(
            err.to_string().contains("detection.detection_sensitivity"),
            "{err}"
        );
    }

    #[test]
    fn a_stuck_view_rebroadcasts_the_highest_certificate_known() {
        let mut m = create_test_fault_tolerance_manager();
        assert_eq!(
            m.initiate_view_change_recovery(4),
            RecoveryAction::Timeout { view: 4 }
        );
        let net = m.network().clone();
        let cert = net.certificate(
            warden_module::wire::CertificateKind::Vote,
            3,
            [5; 32],
            0,
            &net.quorum_signers(),
        );
        let short = net.certificate(
            warden_module::wire::CertificateKind::Vote,
            8,
            [6; 32],
            0,
            &[1],
        );
        m.detect_byzantine_behavior(Observation::certificate(10, 1, cert.clone()))
            .expect("epoch");
        // A certificate short of a quorum is not kept.
        m.detect_byzantine_behavior(Observation::certificate(11, 1, short))
            .expect("epoch");
        assert_eq!(
            m.initiate_view_change_recovery(4),
            RecoveryAction::BroadcastCertificate(cert)
        );
        // The stuck-view detector reports a stall once the timeout passes without a commit.
        let timeout_us = m.config().recovery.view_change_timeout_ms * 1_000;
        let first = m.monitor_validator_behavior(0, 1).expect("epoch");
        assert_eq!(first.stuck, None);
        let later = m
            .monitor_validator_behavior(timeout_us + 1, 2)
            .expect("epoch");
        assert!(later.stuck.is_some());
        assert!(matches!(
            later.recovery,
            Some(RecoveryAction::BroadcastCertificate(_))
        ));
    }

    #[test]
    fn the_primary_partition_continues_and_a_minority_stops_proposing() {
        let mut m = create_test_fault_tolerance_manager();
        let split = |primary| PartitionInfo {
            components: vec![vec![0, 1, 2], vec![3]],
            primary,
            partitioned: true,
        };
        assert_eq!(
            m.recover_from_network_partition(split(Some(0))),
            RecoveryAction::ContinueAndSync {
                sync_to: vec![3],
                certificate: None
            }
        );
        let minority = PartitionInfo {
            components: vec![vec![0, 1], vec![2, 3]],
            primary: None,
            partitioned: true,
        };
        assert_eq!(
            m.recover_from_network_partition(minority),
            RecoveryAction::StopProposing {
                component: vec![0, 1],
                sync_from: vec![]
            }
        );
        assert!(m.get_fault_tolerance_status(0).partition.is_some());
        m.restore_normal_operation();
        assert!(m.get_fault_tolerance_status(0).partition.is_none());
        let whole = PartitionInfo {
            components: vec![vec![0, 1, 2, 3]],
            primary: Some(0),
            partitioned: false,
        };
        assert_eq!(
            m.recover_from_network_partition(whole),
            RecoveryAction::Resume { sync: None }
        );
    }

    #[test]
    fn analysis_and_status_answer_before_any_sample() {
        let m = create_test_fault_tolerance_manager();
        let analysis = m.analyze_consensus_anomalies(0);
        assert!(analysis.anomalies.is_empty());
        assert!(analysis.margin > 0);
        assert!(m.get_byzantine_validator_list().expect("chain").is_empty());
        let mut m = m;
        assert!(!m.sync_with_chain().expect("chain"), "still epoch 1");
        // A tick takes a health sample once per sampling interval.
        m.tick(1_000_000);
        m.tick(1_001_000);
        assert_eq!(m.get_fault_tolerance_status(1_001_000).health.samples, 1);
    }
}
