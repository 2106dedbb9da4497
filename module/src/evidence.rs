//! The three evidence tiers and their verification rules.
//!
//! Verification is split so that the contract can run the checks cheapest first:
//! [`Evidence::offence`] is stateless and costs no signature; the contract then checks epochs,
//! membership, duplicates and bans against its storage; only then does
//! [`Evidence::verify`] check the claimed rule against the epoch's validator set and verify
//! signatures with `verify_strict`. A relayer runs the same two functions natively to learn,
//! before paying for a transaction, whether the chain will accept its evidence.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::codec::{encode, BoundedVec};
use crate::crypto::Verifier;
use crate::error::Error;
use crate::schedule::LeaderSchedule;
use crate::validators::{SetView, ValidatorSet};
use crate::wire::{
    signing_bytes, BlockHeader, Certificate, CertificateKind, Hash, Message, MessageKind,
    OperatorId, Signature, SignedMessage, MAX_VALIDATORS,
};

/// What an offence is, for deduplication, penalties and reporting.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum OffenceClass {
    /// Tier 1: two conflicting votes of one phase in one view.
    DoubleVote = 0,
    /// Tier 1: two different proposals in one view.
    DoubleProposal = 1,
    /// Tier 1: a vote or timeout that contradicts the signer's own lock.
    LockViolation = 2,
    /// Tier 1: a proposal that breaks a stateless rule.
    InvalidProposal = 3,
    /// Tier 2: a leader that did not propose.
    ProposalWithholding = 4,
    /// Tier 2: a replica that did not vote.
    VoteWithholding = 5,
    /// Tier 2: a replica that sent far more messages than the protocol needs.
    MessageFlooding = 6,
    /// Tier 2: a replica that delayed its own messages.
    TimingManipulation = 7,
    /// Tier 2: a replica that talked only to a subset of the network.
    SelectiveConnectivity = 8,
    /// Tier 3: too few signatures over a participation window.
    LowParticipation = 9,
    /// Tier 3: too many failed views as leader over a participation window.
    LeaderFailures = 10,
}

impl OffenceClass {
    /// The evidence tier: 1 (provable), 2 (witnessed) or 3 (recorded).
    pub fn tier(self) -> u8 {
        match self {
            Self::DoubleVote
            | Self::DoubleProposal
            | Self::LockViolation
            | Self::InvalidProposal => 1,
            Self::ProposalWithholding
            | Self::VoteWithholding
            | Self::MessageFlooding
            | Self::TimingManipulation
            | Self::SelectiveConnectivity => 2,
            Self::LowParticipation | Self::LeaderFailures => 3,
        }
    }
}

/// The identity of an offence. One offence is punished once, whatever bytes prove it.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct OffenceKey {
    /// The offender's operator index (stable across key rotations).
    pub operator: OperatorId,
    /// The epoch.
    pub epoch: u64,
    /// The view (for Tier 2, the first view of the range; for Tier 3, the window number).
    pub view: u64,
    /// The class.
    pub class: OffenceClass,
}

impl OffenceKey {
    /// `SHA-256("WARDEN-OFFENCE" || borsh(key))`: the evidence id used in slashing proposals.
    pub fn id(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"WARDEN-OFFENCE");
        hasher.update(encode(self));
        hasher.finalize().into()
    }
}

/// The stateless rule an [`Evidence::InvalidProposal`] claims the proposal breaks. The module
/// checks exactly the claimed rule, so the cost of a proof is bounded and known in advance.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalViolation {
    /// The signer is not the scheduled leader of the view.
    WrongLeader,
    /// The block header names a different proposer than the signer.
    ProposerNotSigner,
    /// The justify certificate's distinct, known signers hold no quorum.
    ShortCertificate,
    /// The justify certificate's signature at `position` does not verify.
    BadCertificateSignature {
        /// Index into the certificate's signatures.
        position: u32,
    },
    /// The justify certificate's signers are not strictly increasing (a duplicate signer).
    DuplicateSigner,
    /// The justify certificate names a signer outside the validator set.
    UnknownSigner,
    /// The justify certificate is a timeout certificate, which certifies no block.
    JustifyNotBlockCertificate,
    /// The justify certificate is not older than the proposal.
    JustifyNotOlder,
    /// The block's parent is not the block the justify certificate certifies.
    ParentMismatch,
    /// The block's height is not one above its parent's (the parent header, whose hash the
    /// justify certifies, is part of the evidence).
    HeightMismatch,
}

/// The set an invalid-proposal proof checks its justify certificate against
/// ([`Evidence::justify_source`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JustifySet {
    /// The offence epoch's own set.
    Same,
    /// No set: the justify claims a later epoch than the offence.
    Nobody(u64),
    /// The set of this earlier epoch.
    Epoch(u64),
}

/// Tier 1 evidence: signed messages that prove an offence on their own.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Evidence {
    /// Two `Vote`s, or two `Vote2`s, by one signer in one epoch and view, with different payloads.
    DoubleVote {
        /// One vote.
        first: SignedMessage,
        /// The other.
        second: SignedMessage,
    },
    /// Two proposals by one leader in one epoch and view, for different blocks.
    DoubleProposal {
        /// One proposal.
        first: SignedMessage,
        /// The other.
        second: SignedMessage,
    },
    /// The signer sent `Vote2(v, ..)` and later `Vote(v', .., j)` with `v' > v, j < v`, or
    /// `Timeout(v', l)` with `v' > v, l < v`.
    LockViolation {
        /// The `Vote2` that locked the signer at view `v`.
        locked: SignedMessage,
        /// The later vote or timeout that ignores the lock.
        later: SignedMessage,
    },
    /// A signed proposal that breaks a stateless rule.
    InvalidProposal {
        /// The proposal.
        proposal: SignedMessage,
        /// The header of the block the justify certifies; needed for [`ProposalViolation::HeightMismatch`].
        parent: Option<BlockHeader>,
        /// The rule broken.
        violation: ProposalViolation,
    },
}

fn same_origin(a: &SignedMessage, b: &SignedMessage) -> Result<(), Error> {
    if a.signer != b.signer {
        return Err(Error::SignerMismatch {
            first: a.signer,
            second: b.signer,
        });
    }
    if a.epoch != b.epoch {
        return Err(Error::EpochMismatch {
            first: a.epoch,
            second: b.epoch,
        });
    }
    Ok(())
}

fn same_view(a: &SignedMessage, b: &SignedMessage) -> Result<(), Error> {
    let (first, second) = (a.message.view(), b.message.view());
    if first != second {
        return Err(Error::ViewMismatch { first, second });
    }
    Ok(())
}

fn verify_message(
    chain_id: u64,
    set: &dyn SetView,
    msg: &SignedMessage,
    verifier: &impl Verifier,
) -> Result<(), Error> {
    let validator = set.member(msg.signer)?.ok_or(Error::UnknownValidator {
        operator: msg.signer,
        epoch: msg.epoch,
    })?;
    let bytes = msg.message.signing_bytes(chain_id, msg.epoch);
    if verifier.verify(&validator.key, &bytes, &msg.signature) {
        Ok(())
    } else {
        Err(Error::BadSignature { signer: msg.signer })
    }
}

impl Evidence {
    /// The offence this evidence claims, from its structure alone: no state, no signature.
    /// Refuses messages of the wrong kinds, different signers, epochs or views, and pairs
    /// that do not conflict.
    pub fn offence(&self) -> Result<OffenceKey, Error> {
        match self {
            Evidence::DoubleVote { first, second } => {
                let same_phase = matches!(
                    (&first.message, &second.message),
                    (Message::Vote(_), Message::Vote(_)) | (Message::Vote2(_), Message::Vote2(_))
                );
                if !same_phase {
                    return Err(Error::NotConflicting);
                }
                same_origin(first, second)?;
                same_view(first, second)?;
                // Same payload: a re-send, or the same vote with a malleated signature.
                if first.message == second.message {
                    return Err(Error::NotConflicting);
                }
                Ok(key(first, OffenceClass::DoubleVote))
            }
            Evidence::DoubleProposal { first, second } => {
                let (Message::Proposal(a), Message::Proposal(b)) =
                    (&first.message, &second.message)
                else {
                    return Err(Error::NotConflicting);
                };
                same_origin(first, second)?;
                same_view(first, second)?;
                if a.block.hash() == b.block.hash() {
                    return Err(Error::NotConflicting);
                }
                Ok(key(first, OffenceClass::DoubleProposal))
            }
            Evidence::LockViolation { locked, later } => {
                let Message::Vote2(lock) = &locked.message else {
                    return Err(Error::NotConflicting);
                };
                same_origin(locked, later)?;
                let violates = match &later.message {
                    Message::Vote(v) => v.view > lock.view && v.justify_view < lock.view,
                    Message::Timeout(t) => t.view > lock.view && t.lock_view < lock.view,
                    _ => false,
                };
                if !violates {
                    return Err(Error::NotConflicting);
                }
                Ok(key(later, OffenceClass::LockViolation))
            }
            Evidence::InvalidProposal { proposal, .. } => {
                if !matches!(proposal.message, Message::Proposal(_)) {
                    return Err(Error::ViolationNotProven);
                }
                Ok(key(proposal, OffenceClass::InvalidProposal))
            }
        }
    }

    /// The epoch of the justify certificate an invalid-proposal proof needs the validator set
    /// of, when it differs from the proposal's epoch.
    pub fn justify_epoch(&self) -> Option<u64> {
        match self {
            Evidence::InvalidProposal {
                proposal:
                    SignedMessage {
                        message: Message::Proposal(p),
                        ..
                    },
                ..
            } => Some(p.justify.epoch),
            _ => None,
        }
    }

    /// The validator set an invalid-proposal proof checks the justify certificate against,
    /// by the one rule the chain and every relayer apply: the offence epoch's own `set` when
    /// the justify is of that epoch (or the evidence has none); nobody when it claims a later
    /// epoch, since no set could have formed it (so it is short of a quorum and has only
    /// unknown signers); otherwise the set of the justify's epoch, as `lookup` finds it.
    pub fn justify_set<'s, E>(
        &self,
        set: &'s ValidatorSet,
        lookup: impl FnOnce(u64) -> Result<ValidatorSet, E>,
    ) -> Result<Cow<'s, ValidatorSet>, E> {
        Ok(match self.justify_source(set.epoch) {
            JustifySet::Nobody(epoch) => Cow::Owned(ValidatorSet::nobody(epoch)),
            JustifySet::Epoch(epoch) => Cow::Owned(lookup(epoch)?),
            JustifySet::Same => Cow::Borrowed(set),
        })
    }

    /// Which set [`Evidence::justify_set`] takes, for evidence of an offence in `epoch`.
    pub fn justify_source(&self, epoch: u64) -> JustifySet {
        match self.justify_epoch() {
            Some(e) if e > epoch => JustifySet::Nobody(e),
            Some(e) if e != epoch => JustifySet::Epoch(e),
            _ => JustifySet::Same,
        }
    }

    /// Whether checking this evidence reads the leader schedule (only a wrong-leader proof
    /// does).
    pub fn needs_schedule(&self) -> bool {
        matches!(
            self,
            Evidence::InvalidProposal {
                violation: ProposalViolation::WrongLeader,
                ..
            }
        )
    }

    /// Checks the claimed rule against the offence epoch's validator set and leader schedule
    /// (and the justify epoch's set, for invalid proposals), then verifies the signatures with
    /// `verify_strict`. Call after [`Evidence::offence`].
    pub fn verify(
        &self,
        chain_id: u64,
        set: &dyn SetView,
        schedule: &LeaderSchedule,
        justify_set: &dyn SetView,
        verifier: &impl Verifier,
    ) -> Result<(), Error> {
        match self {
            Evidence::DoubleVote { first, second }
            | Evidence::DoubleProposal { first, second }
            | Evidence::LockViolation {
                locked: first,
                later: second,
            } => {
                verify_message(chain_id, set, first, verifier)?;
                verify_message(chain_id, set, second, verifier)
            }
            Evidence::InvalidProposal {
                proposal,
                parent,
                violation,
            } => {
                set.member(proposal.signer)?
                    .ok_or(Error::UnknownValidator {
                        operator: proposal.signer,
                        epoch: proposal.epoch,
                    })?;
                let Message::Proposal(p) = &proposal.message else {
                    return Err(Error::ViolationNotProven);
                };
                let proven = proposal_violates(
                    chain_id,
                    proposal.signer,
                    p,
                    parent.as_ref(),
                    *violation,
                    schedule,
                    justify_set,
                    verifier,
                )?;
                if !proven {
                    return Err(Error::ViolationNotProven);
                }
                verify_message(chain_id, set, proposal, verifier)
            }
        }
    }
}

fn key(msg: &SignedMessage, class: OffenceClass) -> OffenceKey {
    OffenceKey {
        operator: msg.signer,
        epoch: msg.epoch,
        view: msg.message.view(),
        class,
    }
}

#[allow(clippy::too_many_arguments)]
fn proposal_violates(
    chain_id: u64,
    signer: OperatorId,
    p: &crate::wire::Proposal,
    parent: Option<&BlockHeader>,
    violation: ProposalViolation,
    schedule: &LeaderSchedule,
    justify_set: &dyn SetView,
    verifier: &impl Verifier,
) -> Result<bool, Error> {
    let justify = &p.justify;
    Ok(match violation {
        ProposalViolation::WrongLeader => schedule.leader(p.view) != Some(signer),
        ProposalViolation::ProposerNotSigner => p.block.proposer != signer,
        ProposalViolation::ShortCertificate => {
            !justify.is_genesis() && justify_set.signers_power(justify)? < justify_set.quorum()
        }
        ProposalViolation::BadCertificateSignature { position } => {
            let Some(part) = justify.signatures.get(position as usize) else {
                return Ok(false);
            };
            let Some(validator) = justify_set.member(part.signer)? else {
                return Ok(false);
            };
            let msg = justify
                .signed_message(part)
                .signing_bytes(chain_id, justify.epoch);
            !verifier.verify(&validator.key, &msg, &part.signature)
        }
        ProposalViolation::DuplicateSigner => justify
            .signatures
            .windows(2)
            .any(|w| w[1].signer <= w[0].signer),
        ProposalViolation::UnknownSigner => {
            for s in justify.signatures.iter() {
                if justify_set.member(s.signer)?.is_none() {
                    return Ok(true);
                }
            }
            false
        }
        ProposalViolation::JustifyNotBlockCertificate => justify.kind == CertificateKind::Timeout,
        ProposalViolation::JustifyNotOlder => justify.view >= p.view,
        ProposalViolation::ParentMismatch => p.block.parent_hash != justify.block_hash,
        ProposalViolation::HeightMismatch => {
            if justify.is_genesis() {
                return Ok(p.block.height != 1);
            }
            match parent {
                Some(parent) => {
                    parent.hash() == justify.block_hash
                        && p.block.height != parent.height.saturating_add(1)
                }
                None => false,
            }
        }
    })
}

/// A Tier 2 behaviour: seen by witnesses, provable by no signature.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum Behaviour {
    /// A leader that did not propose in its views.
    ProposalWithholding = 0,
    /// A replica that did not vote.
    VoteWithholding = 1,
    /// A replica that flooded its peers.
    MessageFlooding = 2,
    /// A replica that delayed its own messages.
    TimingManipulation = 3,
    /// A replica that talked to a subset of the network only.
    SelectiveConnectivity = 4,
}

impl Behaviour {
    /// The offence class of this behaviour.
    pub fn class(self) -> OffenceClass {
        match self {
            Behaviour::ProposalWithholding => OffenceClass::ProposalWithholding,
            Behaviour::VoteWithholding => OffenceClass::VoteWithholding,
            Behaviour::MessageFlooding => OffenceClass::MessageFlooding,
            Behaviour::TimingManipulation => OffenceClass::TimingManipulation,
            Behaviour::SelectiveConnectivity => OffenceClass::SelectiveConnectivity,
        }
    }
}

/// A Tier 2 accusation: what witnesses saw an operator do over a range of views.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct Accusation {
    /// The accused operator.
    pub accused: OperatorId,
    /// What it did.
    pub behaviour: Behaviour,
    /// The epoch of the views.
    pub epoch: u64,
    /// First view of the range.
    pub first_view: u64,
    /// Last view of the range (inclusive).
    pub last_view: u64,
    /// The measured figure behind the accusation (for example missed proposals, or messages
    /// per view), as the detector reported it.
    pub measured: u64,
}

impl Accusation {
    /// The bytes each witness signs.
    pub fn signing_bytes(&self, chain_id: u64) -> alloc::vec::Vec<u8> {
        signing_bytes(chain_id, self.epoch, MessageKind::Accusation, self)
    }
}

/// One witness's signature over an accusation or an epoch change.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct WitnessSignature {
    /// The witness.
    pub witness: OperatorId,
    /// Its signature.
    pub signature: Signature,
}

/// An accusation with its witnesses' signatures, listed in strictly increasing operator order.
/// It is actionable when the witnesses (the accused excluded) hold more than 1/3 of the power.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct WitnessedAccusation {
    /// What is claimed.
    pub accusation: Accusation,
    /// Who stands behind it.
    pub witnesses: BoundedVec<WitnessSignature, MAX_VALIDATORS>,
}

/// Checks that `signatures` over `message` come from strictly increasing members of `set`
/// (`exclude` never counts) holding at least `required` power, then verifies each signature.
/// Membership and power are checked before any signature. Returns the power.
pub fn witness_power(
    set: &dyn SetView,
    message: &[u8],
    signatures: &[WitnessSignature],
    exclude: Option<OperatorId>,
    required: u64,
    verifier: &impl Verifier,
) -> Result<u64, Error> {
    if signatures.windows(2).any(|w| w[1].witness <= w[0].witness) {
        return Err(Error::UnsortedSigners);
    }
    let mut counted = Vec::with_capacity(signatures.len());
    let mut power = 0u64;
    for part in signatures {
        if Some(part.witness) == exclude {
            continue;
        }
        let validator = set.member(part.witness)?.ok_or(Error::UnknownValidator {
            operator: part.witness,
            epoch: set.epoch(),
        })?;
        power = power.checked_add(validator.power).ok_or(Error::Overflow)?;
        counted.push((validator, part));
    }
    if power < required {
        return Err(Error::InsufficientWitnesses { power, required });
    }
    for (validator, part) in counted {
        if !verifier.verify(&validator.key, message, &part.signature) {
            return Err(Error::BadSignature {
                signer: part.witness,
            });
        }
    }
    Ok(power)
}

/// Verifies every signature of a certificate and that its signers hold a quorum of `set`.
/// The genesis certificate needs no signatures.
pub fn verify_certificate(
    chain_id: u64,
    set: &dyn SetView,
    cert: &Certificate,
    verifier: &impl Verifier,
) -> Result<(), Error> {
    if cert
        .signatures
        .windows(2)
        .any(|w| w[1].signer <= w[0].signer)
    {
        return Err(Error::UnsortedSigners);
    }
    // Cheap first: membership and power, then the signatures.
    let mut power = 0u64;
    let mut counted = Vec::with_capacity(cert.signatures.len());
    for part in cert.signatures.iter() {
        let validator = set.member(part.signer)?.ok_or(Error::UnknownValidator {
            operator: part.signer,
            epoch: cert.epoch,
        })?;
        power = power.checked_add(validator.power).ok_or(Error::Overflow)?;
        counted.push((validator, part));
    }
    let required = set.quorum();
    if power < required {
        return Err(Error::InsufficientWitnesses { power, required });
    }
    for (validator, part) in counted {
        let msg = cert
            .signed_message(part)
            .signing_bytes(chain_id, cert.epoch);
        if !verifier.verify(&validator.key, &msg, &part.signature) {
            return Err(Error::BadSignature {
                signer: part.signer,
            });
        }
    }
    Ok(())
}
