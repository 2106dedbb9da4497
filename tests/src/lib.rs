//! Shared helpers for Warden's integration tests.
//!
//! - [`executor`]: one compiled wasm module per test binary (compiling it is the expensive
//!   part; every call then takes a fresh instance from the pool).
//! - [`Chain`]: the wasm module over a [`MemoryStore`], one transaction per block, with typed
//!   queries.
//! - [`Native`]: the same module linked natively (`warden_module::contract`) over a
//!   [`MemoryHost`] with `Ed25519Strict`, the reference the wasm build must agree with.
//! - Builders for transactions that [`TestNetwork`] does not make itself: certificate batches,
//!   rotations to new keys, swapped evidence, tampered signatures, weak keys.

use std::sync::OnceLock;

use borsh::BorshDeserialize;
use warden_host::wasm::{
    BlockContext, CallError, CallOutcome, Executor, ExecutorConfig, MemoryStore,
    MODULE_WASM_IN_WASM_VERIFY,
};
use warden_module::codec::{encode, BoundedVec};
use warden_module::config::Config;
use warden_module::contract;
use warden_module::crypto::Ed25519Strict;
use warden_module::error::Error;
use warden_module::evidence::{Behaviour, Evidence};
use warden_module::msg::{
    EffectivePower, Event, Genesis, Msg, Query, QueryResponse, ReputationInfo, Rotation, Status,
};
use warden_module::schedule::LeaderSchedule;
use warden_module::state::{IsolationState, MemoryHost, SlashingProposal};
use warden_module::wire::{Certificate, CertificateKind, OperatorId, PublicKey};

pub use warden_host::testkit::{self, TestNetwork};

/// Height of the genesis block.
pub const GENESIS_HEIGHT: u64 = 1;
/// Time of the genesis block (milliseconds since the Unix epoch).
pub const GENESIS_TIME: u64 = 1_700_000_000_000;
/// Milliseconds between blocks.
pub const BLOCK_MS: u64 = 1_000;

/// The block context of `height`: time advances by [`BLOCK_MS`] per block.
pub fn block(height: u64) -> BlockContext {
    BlockContext {
        height,
        time: GENESIS_TIME + height.saturating_sub(GENESIS_HEIGHT) * BLOCK_MS,
    }
}

/// The executor shared by every test of one test binary.
pub fn executor() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        Executor::new(ExecutorConfig {
            pool_size: 64,
            ..ExecutorConfig::default()
        })
        .expect("the embedded module compiles")
    })
}

/// The executor of the module built with feature `in-wasm-verify` (signatures checked inside
/// the module, no `verify` import), shared like [`executor`].
pub fn executor_in_wasm_verify() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        Executor::from_wasm(
            MODULE_WASM_IN_WASM_VERIFY,
            ExecutorConfig {
                pool_size: 16,
                ..ExecutorConfig::default()
            },
        )
        .expect("the embedded in-wasm-verify module compiles")
    })
}

/// Both executors, by the name of the verifier they use.
pub fn executors() -> [(&'static str, &'static Executor); 2] {
    [
        ("runtime verify", executor()),
        ("in-wasm verify", executor_in_wasm_verify()),
    ]
}

/// The module's error, if the wasm call was refused by it; panics on a trap or fuel exhaustion.
pub fn refusal(outcome: &CallOutcome) -> Option<Error> {
    match &outcome.result {
        Ok(_) => None,
        Err(CallError::Module(e)) => Some(*e),
        Err(other) => panic!("the call did not end cleanly: {other}"),
    }
}

/// The events of a call that must have succeeded.
#[track_caller]
pub fn ok(outcome: CallOutcome) -> Vec<Event> {
    match outcome.result {
        Ok(_) => outcome.events,
        Err(e) => panic!("expected success, got {e}"),
    }
}

/// The module's error of a call that must have been refused.
#[track_caller]
pub fn err(outcome: CallOutcome) -> Error {
    match outcome.result {
        Ok(_) => panic!(
            "expected a refusal, the call succeeded with {:?}",
            outcome.events
        ),
        Err(CallError::Module(e)) => e,
        Err(other) => panic!("expected a module refusal, got {other}"),
    }
}

/// The wasm module over an in-memory store: each [`Chain::submit`] runs in a new block.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The module's state.
    pub store: MemoryStore,
    /// Height of the latest block (the block the latest transaction ran in).
    pub height: u64,
}

impl Chain {
    /// A chain initialised with `net`'s genesis at [`GENESIS_HEIGHT`].
    #[track_caller]
    pub fn new(net: &TestNetwork) -> Self {
        Self::from_genesis(&net.genesis())
    }

    /// A chain initialised with `genesis`; panics if the module refuses it.
    #[track_caller]
    pub fn from_genesis(genesis: &Genesis) -> Self {
        let (chain, outcome) = Self::try_genesis(genesis);
        if let Err(e) = outcome.result {
            panic!("genesis refused: {e}");
        }
        chain
    }

    /// Initialises a chain with `genesis` and returns the outcome, whatever it is.
    pub fn try_genesis(genesis: &Genesis) -> (Self, CallOutcome) {
        let mut store = MemoryStore::new();
        let outcome = executor().init(&mut store, block(GENESIS_HEIGHT), genesis);
        (
            Self {
                store,
                height: GENESIS_HEIGHT,
            },
            outcome,
        )
    }

    /// Runs `msg` from `caller` in the next block.
    pub fn submit(&mut self, caller: Option<PublicKey>, msg: &Msg) -> CallOutcome {
        self.height += 1;
        self.submit_in_block(caller, msg)
    }

    /// Runs `msg` from `caller` in the current block (after the previous transaction).
    pub fn submit_in_block(&mut self, caller: Option<PublicKey>, msg: &Msg) -> CallOutcome {
        self.submit_raw(caller, &encode(msg))
    }

    /// Runs `msg` from `caller` in block `height` (which becomes the current block).
    pub fn submit_at(&mut self, height: u64, caller: Option<PublicKey>, msg: &Msg) -> CallOutcome {
        self.height = height;
        self.submit_in_block(caller, msg)
    }

    /// Runs raw transaction bytes from `caller` in the current block.
    pub fn submit_raw(&mut self, caller: Option<PublicKey>, tx: &[u8]) -> CallOutcome {
        executor().execute(&mut self.store, block(self.height), caller, tx)
    }

    /// Moves to block `height` without a transaction (queries answer as of it).
    pub fn advance_to(&mut self, height: u64) {
        self.height = height;
    }

    /// Answers a query as of the current block.
    pub fn try_query(&mut self, query: &Query) -> Result<QueryResponse, Error> {
        let outcome = executor().query(&mut self.store, block(self.height), &encode(query));
        match outcome.result {
            Ok(bytes) => {
                Ok(QueryResponse::try_from_slice(&bytes).expect("a query response decodes"))
            }
            Err(CallError::Module(e)) => Err(e),
            Err(other) => panic!("query {query:?} did not end cleanly: {other}"),
        }
    }

    /// Answers a query that must succeed.
    #[track_caller]
    pub fn query(&mut self, query: &Query) -> QueryResponse {
        self.try_query(query)
            .unwrap_or_else(|e| panic!("query {query:?} refused: {e}"))
    }

    /// The module's status.
    pub fn status(&mut self) -> Status {
        match self.query(&Query::Status) {
            QueryResponse::Status(s) => s,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// The configuration in force.
    pub fn config(&mut self) -> Config {
        match self.query(&Query::Config) {
            QueryResponse::Config(c) => c,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// An operator's reputation record.
    pub fn reputation(&mut self, operator: OperatorId) -> ReputationInfo {
        match self.query(&Query::Reputation { operator }) {
            QueryResponse::Reputation(r) => r,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// An operator's reputation score.
    pub fn score(&mut self, operator: OperatorId) -> u32 {
        self.reputation(operator).score
    }

    /// An operator's isolation state as of the current block.
    pub fn isolation(&mut self, operator: OperatorId) -> IsolationState {
        match self.query(&Query::Isolation { operator }) {
            QueryResponse::Isolation(s) => s,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// Every operator that is not active.
    pub fn isolated(&mut self) -> Vec<(OperatorId, IsolationState)> {
        match self.query(&Query::Isolated) {
            QueryResponse::Isolated(list) => list,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// Every slashing proposal (the first page).
    pub fn proposals(&mut self) -> Vec<SlashingProposal> {
        match self.query(&Query::SlashingProposals {
            start: 0,
            limit: 100,
        }) {
            QueryResponse::SlashingProposals(list) => list,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// One slashing proposal.
    #[track_caller]
    pub fn proposal(&mut self, id: u64) -> SlashingProposal {
        match self.query(&Query::SlashingProposals {
            start: id,
            limit: 1,
        }) {
            QueryResponse::SlashingProposals(list) => {
                *list.first().unwrap_or_else(|| panic!("no proposal {id}"))
            }
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// The effective power of every operator of the current set.
    pub fn effective_power(&mut self) -> Vec<EffectivePower> {
        match self.query(&Query::EffectivePower) {
            QueryResponse::EffectivePower(list) => list,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// The effective power of one operator.
    #[track_caller]
    pub fn effective_power_of(&mut self, operator: OperatorId) -> u64 {
        self.effective_power()
            .into_iter()
            .find(|e| e.operator == operator)
            .unwrap_or_else(|| panic!("operator {operator} is not in the current set"))
            .effective
    }

    /// The leader schedule of an epoch.
    pub fn schedule(&mut self, epoch: u64) -> LeaderSchedule {
        match self.query(&Query::Schedule { epoch }) {
            QueryResponse::Schedule(s) => s,
            other => panic!("unexpected response {other:?}"),
        }
    }

    /// The leader of a view.
    pub fn leader(&mut self, epoch: u64, view: u64) -> Option<OperatorId> {
        match self.query(&Query::Leader { epoch, view }) {
            QueryResponse::Leader(l) => l,
            other => panic!("unexpected response {other:?}"),
        }
    }
}

/// The module linked natively, over a [`MemoryHost`], verifying with `Ed25519Strict`.
#[derive(Debug, Clone, Default)]
pub struct Native {
    /// The host: state, height, caller and every event emitted so far (borsh).
    pub host: MemoryHost,
}

impl Native {
    /// Initialises the module with `genesis` at [`GENESIS_HEIGHT`].
    pub fn init(&mut self, genesis: &Genesis) -> (Result<(), Error>, Vec<Event>) {
        self.set_block(GENESIS_HEIGHT, None);
        let before = self.host.events.len();
        let result = contract::init(&mut self.host, &encode(genesis));
        (result, self.events_since(before))
    }

    /// Executes raw transaction bytes from `caller` in block `height`; returns the result and
    /// the events it emitted (decoded).
    pub fn execute(
        &mut self,
        height: u64,
        caller: Option<PublicKey>,
        tx: &[u8],
    ) -> (Result<(), Error>, Vec<Event>) {
        self.set_block(height, caller);
        let before = self.host.events.len();
        let result = contract::execute(&mut self.host, &Ed25519Strict, tx);
        (result, self.events_since(before))
    }

    /// Answers raw query bytes as of block `height`.
    pub fn query(&mut self, height: u64, query: &[u8]) -> Result<Vec<u8>, Error> {
        self.set_block(height, None);
        contract::query(&mut self.host, query)
    }

    fn set_block(&mut self, height: u64, caller: Option<PublicKey>) {
        let ctx = block(height);
        self.host.height = ctx.height;
        self.host.time = ctx.time;
        self.host.caller = caller;
    }

    fn events_since(&self, start: usize) -> Vec<Event> {
        self.host.events[start..]
            .iter()
            .map(|raw| Event::try_from_slice(raw).expect("the module emits decodable events"))
            .collect()
    }
}

/// `net` with a smaller participation window (and otherwise its configuration).
pub fn with_window(mut net: TestNetwork, window: u32) -> TestNetwork {
    net.config.liveness.participation_window = window;
    net
}

/// `net` in `epoch` with the keys of `operators` replaced by keys from `seeds` (a key
/// rotation: the operators keep their indices).
pub fn rotated(net: &TestNetwork, epoch: u64, new_keys: &[(OperatorId, u64)]) -> TestNetwork {
    let mut next = net.clone();
    next.epoch = epoch;
    for &(operator, seed) in new_keys {
        next.keys[operator as usize] = testkit::key(seed);
    }
    next
}

/// A rotation to `next` sent by the authority (no approvals).
pub fn authority_rotation(next: &TestNetwork) -> Msg {
    Msg::RotateValidators(Rotation {
        epoch: next.epoch,
        validators: next.validators(),
        approvals: BoundedVec::empty(),
    })
}

/// A batch of certificates of `kind`, one per view, each signed by `signers` (increasing).
pub fn certificates(
    net: &TestNetwork,
    kind: CertificateKind,
    views: impl IntoIterator<Item = u64>,
    signers: &[OperatorId],
) -> Msg {
    let certs: Vec<Certificate> = views
        .into_iter()
        .map(|view| {
            let hash = match kind {
                CertificateKind::Timeout => [0; 32],
                _ => view_hash(view),
            };
            net.certificate(kind, view, hash, 0, signers)
        })
        .collect();
    Msg::RecordCertificates(BoundedVec::new(certs).expect("at most 16 certificates"))
}

/// A distinct block hash per view.
pub fn view_hash(view: u64) -> [u8; 32] {
    let mut hash = [0xB1; 32];
    hash[..8].copy_from_slice(&view.to_le_bytes());
    hash
}

/// Every operator of `net` but `excluded`, in increasing order.
pub fn all_but(net: &TestNetwork, excluded: &[OperatorId]) -> Vec<OperatorId> {
    (0..net.keys.len() as OperatorId)
        .filter(|op| !excluded.contains(op))
        .collect()
}

/// The same pair of messages in the other order.
pub fn swapped(evidence: Evidence) -> Evidence {
    match evidence {
        Evidence::DoubleVote { first, second } => Evidence::DoubleVote {
            first: second,
            second: first,
        },
        Evidence::DoubleProposal { first, second } => Evidence::DoubleProposal {
            first: second,
            second: first,
        },
        other => other,
    }
}

/// The evidence with one bit of its (last) signature flipped.
pub fn tampered(evidence: Evidence) -> Evidence {
    let flip = |m: &mut warden_module::wire::SignedMessage| m.signature.0[10] ^= 0x01;
    match evidence {
        Evidence::DoubleVote { first, mut second } => {
            flip(&mut second);
            Evidence::DoubleVote { first, second }
        }
        Evidence::DoubleProposal { first, mut second } => {
            flip(&mut second);
            Evidence::DoubleProposal { first, second }
        }
        Evidence::LockViolation { locked, mut later } => {
            flip(&mut later);
            Evidence::LockViolation { locked, later }
        }
        Evidence::InvalidProposal {
            mut proposal,
            parent,
            violation,
        } => {
            flip(&mut proposal);
            Evidence::InvalidProposal {
                proposal,
                parent,
                violation,
            }
        }
    }
}

/// The identity point: a valid encoding of a small-order (weak) ed25519 key.
pub const WEAK_KEY: PublicKey = PublicKey([
    1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
]);

/// Whether `events` holds an event matching `pred`.
pub fn has(events: &[Event], pred: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(pred)
}

/// The total power of `operators` in `net`.
pub fn power_of(net: &TestNetwork, operators: &[OperatorId]) -> u64 {
    operators.iter().map(|&op| net.powers[op as usize]).sum()
}

/// A copy of the default configuration adjusted by `f`.
pub fn config_with(f: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    f(&mut config);
    config
}

/// `accusation` signed by `witnesses` of `net` (in the given order), whatever its fields.
pub fn witnessed(
    net: &TestNetwork,
    accusation: warden_module::evidence::Accusation,
    witnesses: &[OperatorId],
) -> warden_module::evidence::WitnessedAccusation {
    let bytes = accusation.signing_bytes(net.chain_id);
    let witnesses = witnesses
        .iter()
        .map(|&w| warden_module::evidence::WitnessSignature {
            witness: w,
            signature: testkit::sign(&net.keys[w as usize], &bytes),
        })
        .collect();
    warden_module::evidence::WitnessedAccusation {
        accusation,
        witnesses: BoundedVec::new(witnesses).expect("at most 1024 witnesses"),
    }
}

/// A vote-withholding accusation of `accused` over `first..=last`, signed by `witnesses`.
pub fn accuse(
    net: &TestNetwork,
    accused: OperatorId,
    first: u64,
    last: u64,
    witnesses: &[OperatorId],
) -> Msg {
    Msg::SubmitAccusation(net.accusation(
        accused,
        Behaviour::VoteWithholding,
        first,
        last,
        witnesses,
    ))
}
