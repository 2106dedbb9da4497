//! HotStuff-2 consensus messages as Warden signs and proves them.
//!
//! Every message is signed with ed25519 over [`signing_bytes`]: a domain tag, a version, the
//! chain id, the epoch and the message kind, followed by the borsh encoding of the message
//! body. Binding all of these means a signature from one chain, epoch or message kind can never
//! be replayed as another.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::codec::{encode, BoundedVec};

/// The largest validator set the module accepts.
pub const MAX_VALIDATORS: usize = 1024;

/// A 32-byte SHA-256 hash.
pub type Hash = [u8; 32];

/// A stable operator index. A validator's consensus key may rotate between epochs; its
/// operator index does not, and reputation, isolation and bans follow it.
pub type OperatorId = u32;

/// An ed25519 public key (compressed Edwards point).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct PublicKey(pub [u8; 32]);

/// An ed25519 signature.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct Signature(pub [u8; 64]);

/// The domain tag that starts every signed message.
pub const DOMAIN_TAG: &[u8; 10] = b"WARDEN-HS2";
/// The version of the signing format.
pub const SIGNING_VERSION: u8 = 1;

/// The kind of a signed message, bound into its signing bytes.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum MessageKind {
    /// A leader's [`Proposal`].
    Proposal = 1,
    /// A phase-1 [`Vote`].
    Vote = 2,
    /// A phase-2 [`Vote2`].
    Vote2 = 3,
    /// A pacemaker [`Timeout`].
    Timeout = 4,
    /// A witness signature on an [`crate::evidence::Accusation`].
    Accusation = 5,
    /// A quorum's approval of the next validator set.
    EpochChange = 6,
}

/// The bytes a signer signs: `DOMAIN_TAG || SIGNING_VERSION || chain_id (u64 LE) ||
/// epoch (u64 LE) || kind (u8) || borsh(body)`.
pub fn signing_bytes<T: BorshSerialize>(
    chain_id: u64,
    epoch: u64,
    kind: MessageKind,
    body: &T,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(DOMAIN_TAG);
    out.push(SIGNING_VERSION);
    out.extend_from_slice(&chain_id.to_le_bytes());
    out.extend_from_slice(&epoch.to_le_bytes());
    out.push(kind as u8);
    let _ = body.serialize(&mut out);
    out
}

/// A block header. Its hash is what votes and certificates sign.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockHeader {
    /// Height in the chain; the genesis block has height 0.
    pub height: u64,
    /// Hash of the parent block.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
    pub parent_hash: Hash,
    /// Hash of the block's payload.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
    pub payload_hash: Hash,
    /// Operator that proposed the block.
    pub proposer: OperatorId,
}

impl BlockHeader {
    /// `SHA-256("WARDEN-BLOCK" || borsh(header))`.
    pub fn hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"WARDEN-BLOCK");
        hasher.update(encode(self));
        hasher.finalize().into()
    }
}

/// A leader's proposal for a view.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// The view.
    pub view: u64,
    /// The proposed block.
    pub block: BlockHeader,
    /// The highest certificate the leader knows; the block extends the block it certifies.
    pub justify: Certificate,
}

/// A phase-1 vote.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    /// The view.
    pub view: u64,
    /// Hash of the block voted for.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
    pub block_hash: Hash,
    /// View of the proposal's justify certificate; signing it makes lock violations provable.
    pub justify_view: u64,
}

/// A phase-2 vote, sent after seeing the phase-1 certificate; it locks the signer.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote2 {
    /// The view.
    pub view: u64,
    /// Hash of the certified block.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
    pub block_hash: Hash,
}

/// A pacemaker timeout.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Timeout {
    /// The view whose timer fired.
    pub view: u64,
    /// The view of the signer's lock.
    pub lock_view: u64,
}

/// The kind of a [`Certificate`], which fixes the message its signatures are over.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
#[borsh(use_discriminant = true)]
#[repr(u8)]
pub enum CertificateKind {
    /// Phase-1 certificate: signatures over `Vote { view, block_hash, justify_view }`.
    Vote = 0,
    /// Double certificate: signatures over `Vote2 { view, block_hash }`; it commits the block.
    Vote2 = 1,
    /// Timeout certificate: signatures over `Timeout { view, lock_view }`, each signer with
    /// its own lock view.
    Timeout = 2,
}

/// One signer's part of a certificate.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CertificateSignature {
    /// The signer.
    pub signer: OperatorId,
    /// The signer's lock view (timeout certificates only; zero otherwise).
    pub lock_view: u64,
    /// The signature.
    pub signature: Signature,
}

/// A quorum certificate. Signers are listed in strictly increasing operator order.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Certificate {
    /// What the signatures are over.
    pub kind: CertificateKind,
    /// The epoch whose validator set signed.
    pub epoch: u64,
    /// The view.
    pub view: u64,
    /// The certified block (zero for timeout certificates).
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
    pub block_hash: Hash,
    /// For phase-1 certificates, the justify view every vote signed (zero otherwise).
    pub justify_view: u64,
    /// The signatures.
    pub signatures: BoundedVec<CertificateSignature, MAX_VALIDATORS>,
}

impl Certificate {
    /// The certificate of the genesis block: view 0, no signatures, the zero block hash.
    /// It is the justify of the first proposal and needs no quorum.
    pub fn genesis(epoch: u64) -> Self {
        Self {
            kind: CertificateKind::Vote,
            epoch,
            view: 0,
            block_hash: [0; 32],
            justify_view: 0,
            signatures: BoundedVec::empty(),
        }
    }

    /// Whether this is the genesis certificate.
    pub fn is_genesis(&self) -> bool {
        self.view == 0
            && self.kind == CertificateKind::Vote
            && self.block_hash == [0; 32]
            && self.signatures.is_empty()
    }

    /// The message that the signature at `position` signed.
    pub fn signed_message(&self, part: &CertificateSignature) -> Message {
        match self.kind {
            CertificateKind::Vote => Message::Vote(Vote {
                view: self.view,
                block_hash: self.block_hash,
                justify_view: self.justify_view,
            }),
            CertificateKind::Vote2 => Message::Vote2(Vote2 {
                view: self.view,
                block_hash: self.block_hash,
            }),
            CertificateKind::Timeout => Message::Timeout(Timeout {
                view: self.view,
                lock_view: part.lock_view,
            }),
        }
    }
}

/// Any consensus message.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Message {
    /// A proposal.
    Proposal(Proposal),
    /// A phase-1 vote.
    Vote(Vote),
    /// A phase-2 vote.
    Vote2(Vote2),
    /// A timeout.
    Timeout(Timeout),
}

impl Message {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Proposal(_) => MessageKind::Proposal,
            Message::Vote(_) => MessageKind::Vote,
            Message::Vote2(_) => MessageKind::Vote2,
            Message::Timeout(_) => MessageKind::Timeout,
        }
    }

    /// The message's view.
    pub fn view(&self) -> u64 {
        match self {
            Message::Proposal(p) => p.view,
            Message::Vote(v) => v.view,
            Message::Vote2(v) => v.view,
            Message::Timeout(t) => t.view,
        }
    }

    /// The bytes the signer signed for this message in `epoch` of `chain_id`. The body is the
    /// inner message, not the enum, so the kind is bound exactly once.
    pub fn signing_bytes(&self, chain_id: u64, epoch: u64) -> Vec<u8> {
        match self {
            Message::Proposal(p) => signing_bytes(chain_id, epoch, MessageKind::Proposal, p),
            Message::Vote(v) => signing_bytes(chain_id, epoch, MessageKind::Vote, v),
            Message::Vote2(v) => signing_bytes(chain_id, epoch, MessageKind::Vote2, v),
            Message::Timeout(t) => signing_bytes(chain_id, epoch, MessageKind::Timeout, t),
        }
    }
}

/// A consensus message with its signer and signature.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedMessage {
    /// The epoch the message was signed in.
    pub epoch: u64,
    /// The signer's operator index.
    pub signer: OperatorId,
    /// The message.
    pub message: Message,
    /// Signature over `message.signing_bytes(chain_id, epoch)`.
    pub signature: Signature,
}
