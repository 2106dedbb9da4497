//! The module's one error type. Every rejection is named and carries the values involved; the
//! same input yields the same error on every node.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::wire::OperatorId;

/// A configuration field, named in [`Error::InvalidConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[allow(missing_docs)]
pub enum ConfigField {
    RetentionEpochs,
    ReputationMax,
    ReputationBaseline,
    ReputationDecay,
    RehabilitationThreshold,
    Penalty,
    ParticipationReward,
    QuarantineBlocks,
    WarningsBeforeQuarantine,
    ProbationInfluence,
    SlashFraction,
    DeferralBlocks,
    ReporterReward,
    CorrelationWindow,
    ParticipationWindow,
    MinParticipation,
    MaxLeaderFailures,
    MaxAccusationViews,
}

/// Why a transaction, query or piece of evidence was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Error {
    /// The input is not a valid strict borsh encoding of the expected type (bad tag, trailing
    /// bytes, a length prefix over its bound, ...).
    Decode,
    /// The input is larger than the module accepts.
    TooLarge {
        /// Size of the input in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The two messages do not conflict: identical payloads (perhaps with a malleated
    /// signature), different message kinds, or views that violate no lock.
    NotConflicting,
    /// The two messages are for different views.
    ViewMismatch {
        /// View of the first message.
        first: u64,
        /// View of the second message.
        second: u64,
    },
    /// The two messages are from different epochs.
    EpochMismatch {
        /// Epoch of the first message.
        first: u64,
        /// Epoch of the second message.
        second: u64,
    },
    /// The two messages have different signers.
    SignerMismatch {
        /// Signer of the first message.
        first: OperatorId,
        /// Signer of the second message.
        second: OperatorId,
    },
    /// No validator set is known for this epoch (it was skipped by a rotation).
    UnknownEpoch {
        /// The epoch.
        epoch: u64,
    },
    /// The operator is not in the epoch's validator set.
    UnknownValidator {
        /// The operator.
        operator: OperatorId,
        /// The epoch.
        epoch: u64,
    },
    /// A signature does not verify under `verify_strict`.
    BadSignature {
        /// The operator whose signature failed.
        signer: OperatorId,
    },
    /// This offence (operator, epoch, view, offence class) was already punished.
    Duplicate,
    /// The evidence is older than the retention window.
    Expired {
        /// Epoch of the evidence.
        epoch: u64,
        /// Oldest epoch still accepted.
        oldest: u64,
    },
    /// The evidence is from an epoch that has not started.
    FutureEpoch {
        /// Epoch of the evidence.
        epoch: u64,
        /// The current epoch.
        current: u64,
    },
    /// The offender is already banned.
    AlreadyBanned {
        /// The operator.
        operator: OperatorId,
    },
    /// The witnesses of an accusation hold no more than 1/3 of the power, or a certificate
    /// is short of a quorum.
    InsufficientWitnesses {
        /// Power of the valid, distinct witnesses.
        power: u64,
        /// Power needed.
        required: u64,
    },
    /// The caller may not do this.
    Unauthorized,
    /// The proposal does not break the rule the evidence claims it breaks.
    ViolationNotProven,
    /// An accusation's view range is empty or longer than the configuration allows.
    InvalidViewRange {
        /// First view.
        first: u64,
        /// Last view.
        last: u64,
    },
    /// A configuration value is out of range.
    InvalidConfig {
        /// The field.
        field: ConfigField,
    },
    /// A validator key is not the canonical encoding of a point of the prime-order subgroup:
    /// not a point at all, a non-canonical encoding, a small-order (weak) point, or a point
    /// with a torsion component.
    WeakKey {
        /// The operator registering it.
        operator: OperatorId,
    },
    /// Two validators of one set share a key.
    DuplicateKey {
        /// The second operator with the key.
        operator: OperatorId,
    },
    /// A validator set is empty, unsorted or lists an operator twice.
    InvalidValidatorSet,
    /// A validator has zero power, or the total power overflows.
    InvalidPower {
        /// The operator.
        operator: OperatorId,
    },
    /// A rotation names an epoch that is not after the current one.
    EpochNotAfter {
        /// The epoch asked for.
        epoch: u64,
        /// The current epoch.
        current: u64,
    },
    /// Signers of a certificate or accusation are not strictly increasing.
    UnsortedSigners,
    /// No slashing proposal has this id.
    UnknownProposal {
        /// The id.
        id: u64,
    },
    /// The slashing proposal's deferral window has not ended.
    DeferralPending {
        /// Height from which it may be finalised.
        until: u64,
    },
    /// The slashing proposal's deferral window is over, or it is no longer pending.
    NotPending {
        /// The id.
        id: u64,
    },
    /// The module has not been initialised with a genesis.
    NotInitialized,
    /// The module was already initialised.
    AlreadyInitialized,
    /// A batch is empty.
    EmptyBatch,
    /// An integer computation overflowed.
    Overflow,
    /// A transaction carries more signatures than one transaction may verify; split it (for
    /// example, fewer certificates per `RecordCertificates`).
    TooManySignatures {
        /// Signatures the transaction carries.
        count: u64,
        /// The limit, [`crate::msg::MAX_SIGNATURES_PER_TX`].
        limit: u64,
    },
}

impl Error {
    /// The stable numeric code of the error, returned across the wasm ABI. Codes never change
    /// meaning; new errors get new codes.
    pub fn code(&self) -> u32 {
        match self {
            Error::Decode => 1,
            Error::TooLarge { .. } => 2,
            Error::NotConflicting => 3,
            Error::ViewMismatch { .. } => 4,
            Error::EpochMismatch { .. } => 5,
            Error::SignerMismatch { .. } => 6,
            Error::UnknownEpoch { .. } => 7,
            Error::UnknownValidator { .. } => 8,
            Error::BadSignature { .. } => 9,
            Error::Duplicate => 10,
            Error::Expired { .. } => 11,
            Error::FutureEpoch { .. } => 12,
            Error::AlreadyBanned { .. } => 13,
            Error::InsufficientWitnesses { .. } => 14,
            Error::Unauthorized => 15,
            Error::ViolationNotProven => 16,
            Error::InvalidViewRange { .. } => 17,
            Error::InvalidConfig { .. } => 18,
            Error::WeakKey { .. } => 19,
            Error::DuplicateKey { .. } => 20,
            Error::InvalidValidatorSet => 21,
            Error::InvalidPower { .. } => 22,
            Error::EpochNotAfter { .. } => 23,
            Error::UnsortedSigners => 24,
            Error::UnknownProposal { .. } => 25,
            Error::DeferralPending { .. } => 26,
            Error::NotPending { .. } => 27,
            Error::NotInitialized => 28,
            Error::AlreadyInitialized => 29,
            Error::EmptyBatch => 30,
            Error::Overflow => 31,
            Error::TooManySignatures { .. } => 32,
        }
    }

    /// The error's name, as used in fixtures and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Error::Decode => "Decode",
            Error::TooLarge { .. } => "TooLarge",
            Error::NotConflicting => "NotConflicting",
            Error::ViewMismatch { .. } => "ViewMismatch",
            Error::EpochMismatch { .. } => "EpochMismatch",
            Error::SignerMismatch { .. } => "SignerMismatch",
            Error::UnknownEpoch { .. } => "UnknownEpoch",
            Error::UnknownValidator { .. } => "UnknownValidator",
            Error::BadSignature { .. } => "BadSignature",
            Error::Duplicate => "Duplicate",
            Error::Expired { .. } => "Expired",
            Error::FutureEpoch { .. } => "FutureEpoch",
            Error::AlreadyBanned { .. } => "AlreadyBanned",
            Error::InsufficientWitnesses { .. } => "InsufficientWitnesses",
            Error::Unauthorized => "Unauthorized",
            Error::ViolationNotProven => "ViolationNotProven",
            Error::InvalidViewRange { .. } => "InvalidViewRange",
            Error::InvalidConfig { .. } => "InvalidConfig",
            Error::WeakKey { .. } => "WeakKey",
            Error::DuplicateKey { .. } => "DuplicateKey",
            Error::InvalidValidatorSet => "InvalidValidatorSet",
            Error::InvalidPower { .. } => "InvalidPower",
            Error::EpochNotAfter { .. } => "EpochNotAfter",
            Error::UnsortedSigners => "UnsortedSigners",
            Error::UnknownProposal { .. } => "UnknownProposal",
            Error::DeferralPending { .. } => "DeferralPending",
            Error::NotPending { .. } => "NotPending",
            Error::NotInitialized => "NotInitialized",
            Error::AlreadyInitialized => "AlreadyInitialized",
            Error::EmptyBatch => "EmptyBatch",
            Error::Overflow => "Overflow",
            Error::TooManySignatures { .. } => "TooManySignatures",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{self:?}")
    }
}
