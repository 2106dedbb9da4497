//! Transactions, queries, their responses, events and genesis: the module's interface.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::BoundedVec;
use crate::config::Config;
use crate::evidence::{Evidence, OffenceClass, OffenceKey, WitnessSignature, WitnessedAccusation};
use crate::schedule::LeaderSchedule;
use crate::state::{IsolationState, SlashingProposal};
use crate::validators::{ValidatorInfo, ValidatorSet};
use crate::wire::{Certificate, Hash, OperatorId, PublicKey, MAX_VALIDATORS};

/// The largest transaction the module decodes.
pub const MAX_TX_BYTES: usize = 512 * 1024;
/// The largest query the module decodes.
pub const MAX_QUERY_BYTES: usize = 1024;
/// The most certificates one transaction may record.
pub const MAX_CERTIFICATES_PER_TX: usize = 16;
/// The most signature and key checks ([`Msg::signature_count`]) one transaction may ask of the
/// module: two full certificates of the largest set. Every evidence, accusation and rotation
/// (its keys and a full set's approvals) of a [`MAX_VALIDATORS`] set fits; a
/// `RecordCertificates` over it is [`crate::Error::TooManySignatures`] (send fewer certificates
/// per transaction). Runtimes budget fuel per check up to it.
pub const MAX_SIGNATURES_PER_TX: usize = 2 * MAX_VALIDATORS;
/// The most pieces of Tier 1 evidence one [`Msg::SubmitEvidenceBatch`] carries: the more than
/// a third of the largest set that a fork proves guilty fits in six. The bound is memory: each
/// piece decodes its epoch's validator set and reads the earlier correlated proposals of its
/// window, and one call's memory is bounded (64 MiB in Warden's runtime).
pub const MAX_EVIDENCE_PER_TX: usize = 64;
/// The most slashing proposals one query returns.
pub const MAX_PAGE: u32 = 100;

/// The module's initial state.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Genesis {
    /// The chain id bound into every signature.
    pub chain_id: u64,
    /// The first epoch.
    pub epoch: u64,
    /// The key allowed to change the configuration, rotate sets and veto slashing.
    pub authority: PublicKey,
    /// The first epoch's validators.
    pub validators: BoundedVec<ValidatorInfo, MAX_VALIDATORS>,
    /// The configuration.
    pub config: Config,
}

/// A rotation to the next validator set.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Rotation {
    /// The new epoch; greater than the current one (epochs may be skipped).
    pub epoch: u64,
    /// The new validators.
    pub validators: BoundedVec<ValidatorInfo, MAX_VALIDATORS>,
    /// Signatures of the current set over [`EpochChange`]; may be empty when the authority sends
    /// the rotation.
    pub approvals: BoundedVec<WitnessSignature, MAX_VALIDATORS>,
}

/// What the current set signs (as `MessageKind::EpochChange`, in the current epoch) to approve
/// a rotation.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EpochChange {
    /// The new epoch.
    pub epoch: u64,
    /// `ValidatorSet::hash` of the new set.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
    pub set_hash: Hash,
}

/// A transaction's payload.
// One `Msg` is decoded per transaction and never stored in bulk, so the size of its largest
// variant costs nothing worth an extra allocation.
#[allow(clippy::large_enum_variant)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Msg {
    /// Tier 1 evidence: bans the offender and proposes a slash.
    SubmitEvidence(Evidence),
    /// A Tier 2 accusation: quarantines the accused.
    SubmitAccusation(WitnessedAccusation),
    /// Tier 3: committed certificates, in increasing view order per kind.
    RecordCertificates(BoundedVec<Certificate, MAX_CERTIFICATES_PER_TX>),
    /// Moves to a new validator set (authority, or a quorum of the current set).
    RotateValidators(Rotation),
    /// Replaces the configuration (authority only).
    UpdateConfig(Config),
    /// Vetoes a pending slashing proposal (authority only, within its deferral window).
    VetoSlashing {
        /// The proposal.
        id: u64,
    },
    /// Finalises a slashing proposal whose deferral window is over (anyone).
    FinaliseSlashing {
        /// The proposal.
        id: u64,
    },
    /// Tier 1 evidence against many offenders at once (after a fork, more than a third of the
    /// set): each piece as [`Msg::SubmitEvidence`]; pieces already punished (`Duplicate`,
    /// `AlreadyBanned`) are passed over, any other refusal refuses the whole batch, and a batch
    /// with nothing new is `Duplicate`.
    SubmitEvidenceBatch(BoundedVec<Evidence, MAX_EVIDENCE_PER_TX>),
}

impl Msg {
    /// The most signature and key checks the module may make for this transaction: two
    /// signatures for Tier 1 evidence, one per witness, approval or certificate signature, and
    /// one per validator key of a rotation (a key's subgroup check costs about what a
    /// signature does). Runtimes size a transaction's fuel by it.
    pub fn signature_count(&self) -> u64 {
        let count = match self {
            Msg::SubmitEvidence(_) => 2,
            Msg::SubmitEvidenceBatch(batch) => 2 * batch.len(),
            Msg::SubmitAccusation(a) => a.witnesses.len(),
            Msg::RecordCertificates(certs) => certs.iter().map(|c| c.signatures.len()).sum(),
            Msg::RotateValidators(r) => r.approvals.len() + r.validators.len(),
            Msg::UpdateConfig(_) | Msg::VetoSlashing { .. } | Msg::FinaliseSlashing { .. } => 0,
        };
        count as u64
    }
}

/// A read-only query.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Query {
    /// The module's status.
    Status,
    /// The configuration.
    Config,
    /// An operator's reputation and offence history.
    Reputation {
        /// The operator.
        operator: OperatorId,
    },
    /// An operator's isolation state at the current height.
    Isolation {
        /// The operator.
        operator: OperatorId,
    },
    /// Every member of the current set that is not active (quarantined, deferred, on
    /// probation, banned). Operators outside the set: [`Query::Isolation`], [`Query::Banned`].
    Isolated,
    /// Slashing proposals from `start`, at most `limit` (capped at [`MAX_PAGE`]).
    SlashingProposals {
        /// First id.
        start: u64,
        /// Most to return.
        limit: u32,
    },
    /// The effective power of every operator of the current set.
    EffectivePower,
    /// The leader of a view in an epoch still retained.
    Leader {
        /// The epoch.
        epoch: u64,
        /// The view.
        view: u64,
    },
    /// The leader schedule of an epoch still retained.
    Schedule {
        /// The epoch.
        epoch: u64,
    },
    /// The validator set of an epoch still retained.
    ValidatorSet {
        /// The epoch.
        epoch: u64,
    },
    /// Banned operators in the order of their bans, from the `start`-th, at most `limit`
    /// (capped at [`MAX_PAGE`]); [`Status::banned`] says how many there are.
    Banned {
        /// Index of the first.
        start: u64,
        /// Most to return.
        limit: u32,
    },
}

/// The module's status.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Status {
    /// Chain id.
    pub chain_id: u64,
    /// Current epoch.
    pub epoch: u64,
    /// Block height at the query.
    pub height: u64,
    /// The authority.
    pub authority: PublicKey,
    /// Validators in the current set.
    pub validators: u32,
    /// Their total power.
    pub total_power: u64,
    /// Power not quarantined or banned.
    pub active_power: u64,
    /// Operators banned so far (in any epoch's set).
    pub banned: u32,
    /// Quarantined members of the current set.
    pub quarantined: u32,
    /// Slashing proposals ever made.
    pub slashing_proposals: u64,
}

/// An operator's reputation record.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ReputationInfo {
    /// The operator.
    pub operator: OperatorId,
    /// Its score.
    pub score: u32,
    /// Tier 2 and 3 offences so far (drives the graduated response).
    pub offences: u32,
}

/// One operator's effective power.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EffectivePower {
    /// The operator.
    pub operator: OperatorId,
    /// Its power in the set.
    pub power: u64,
    /// Its power after isolation (zero if quarantined or banned, reduced on probation).
    pub effective: u64,
}

/// A query's answer.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum QueryResponse {
    /// For [`Query::Status`].
    Status(Status),
    /// For [`Query::Config`].
    Config(Config),
    /// For [`Query::Reputation`].
    Reputation(ReputationInfo),
    /// For [`Query::Isolation`].
    Isolation(IsolationState),
    /// For [`Query::Isolated`].
    Isolated(Vec<(OperatorId, IsolationState)>),
    /// For [`Query::SlashingProposals`].
    SlashingProposals(Vec<SlashingProposal>),
    /// For [`Query::EffectivePower`].
    EffectivePower(Vec<EffectivePower>),
    /// For [`Query::Leader`].
    Leader(Option<OperatorId>),
    /// For [`Query::Schedule`].
    Schedule(LeaderSchedule),
    /// For [`Query::ValidatorSet`].
    ValidatorSet(ValidatorSet),
    /// For [`Query::Banned`].
    Banned(Vec<(OperatorId, IsolationState)>),
}

/// The severity of a quarantine.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum QuarantineLevel {
    /// A first quarantine.
    Short,
    /// A repeat offender's quarantine.
    Long,
}

/// A state change, emitted for indexers and relayers.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Event {
    /// The module was initialised.
    Initialized {
        /// Chain id.
        chain_id: u64,
        /// First epoch.
        epoch: u64,
    },
    /// A validator set took effect.
    EpochStarted {
        /// The epoch.
        epoch: u64,
        /// Its validators.
        validators: u32,
        /// Their power.
        total_power: u64,
        /// `ValidatorSet::hash`.
        #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
        set_hash: Hash,
    },
    /// Tier 1 evidence was accepted.
    EvidenceAccepted {
        /// The offence.
        offence: OffenceKey,
        /// The transaction's sender.
        reporter: Option<PublicKey>,
    },
    /// A Tier 2 accusation was accepted.
    AccusationAccepted {
        /// The offence.
        offence: OffenceKey,
        /// Power of its witnesses.
        witness_power: u64,
        /// The measured figure.
        measured: u64,
    },
    /// Tier 3 certificates were recorded.
    CertificatesRecorded {
        /// How many.
        count: u32,
    },
    /// A participation window closed and was evaluated.
    ParticipationWindowClosed {
        /// The window's number.
        window: u64,
        /// Certificates in it.
        certificates: u32,
    },
    /// An operator's reputation changed.
    ReputationChanged {
        /// The operator.
        operator: OperatorId,
        /// The old score.
        from: u32,
        /// The new score.
        to: u32,
    },
    /// An offence was answered with a warning.
    Warned {
        /// The operator.
        operator: OperatorId,
        /// The offence.
        class: OffenceClass,
    },
    /// An operator was quarantined.
    Quarantined {
        /// The operator.
        operator: OperatorId,
        /// Height at which the quarantine ends.
        until: u64,
        /// Severity.
        level: QuarantineLevel,
    },
    /// A quarantine waits: applying it would leave less than a quorum of power active.
    QuarantineDeferred {
        /// The operator.
        operator: OperatorId,
    },
    /// A quarantine ended and probation began.
    ProbationStarted {
        /// The operator.
        operator: OperatorId,
    },
    /// An operator on probation regained full standing.
    Rehabilitated {
        /// The operator.
        operator: OperatorId,
    },
    /// An operator was banned for good.
    Banned {
        /// The operator.
        operator: OperatorId,
        /// The offence.
        class: OffenceClass,
    },
    /// A slashing proposal was made.
    SlashingProposed {
        /// The proposal.
        proposal: SlashingProposal,
    },
    /// A pending proposal's fraction grew because more offenders joined its window.
    SlashingFractionRaised {
        /// The proposal.
        id: u64,
        /// The new fraction (ppb).
        fraction_ppb: u64,
        /// The new reporter reward (ppb).
        reporter_reward_ppb: u64,
    },
    /// The authority vetoed a proposal.
    SlashingVetoed {
        /// The proposal.
        id: u64,
    },
    /// A proposal is final: the chain's staking code executes it.
    SlashingFinalised {
        /// The proposal.
        id: u64,
        /// The offender.
        operator: OperatorId,
        /// The fraction to slash (ppb).
        fraction_ppb: u64,
        /// The reporter's reward (ppb of the offender's stake).
        reporter_reward_ppb: u64,
        /// The reporter.
        reporter: Option<PublicKey>,
    },
    /// The configuration changed.
    ConfigUpdated,
}
