//! Deterministic keys, a signing validator network and evidence builders: what fixtures,
//! tests, benchmarks and the demonstration use to produce real signed evidence.
//!
//! Keys come from fixed seeds (`SHA-256("warden-test-key" || seed)`), so every run and every
//! machine produces the same bytes.

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use warden_module::codec::{BoundedBytes, BoundedVec};
use warden_module::config::Config;
use warden_module::evidence::{
    Accusation, Behaviour, Evidence, ProposalViolation, WitnessSignature, WitnessedAccusation,
};
use warden_module::msg::{EpochChange, Genesis, Rotation};
use warden_module::schedule::LeaderSchedule;
use warden_module::validators::{ValidatorInfo, ValidatorSet};
use warden_module::wire::{
    signing_bytes, BlockHeader, Certificate, CertificateKind, CertificateSignature, Hash, Message,
    MessageKind, OperatorId, Proposal, PublicKey, Signature, SignedMessage, Timeout, Vote, Vote2,
};

/// The signing key derived from `seed`.
pub fn key(seed: u64) -> SigningKey {
    let mut hasher = Sha256::new();
    hasher.update(b"warden-test-key");
    hasher.update(seed.to_le_bytes());
    SigningKey::from_bytes(&hasher.finalize().into())
}

/// The public half of a signing key, as the module's type.
pub fn public(key: &SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

/// Signs `bytes`.
pub fn sign(key: &SigningKey, bytes: &[u8]) -> Signature {
    Signature(key.sign(bytes).to_bytes())
}

/// A signature by `key` over `message` whose nonce point is `[r]B + extra`: an ordinary
/// signature when `extra` is the identity; with a small-order `extra` (and `r` zero, or not) one
/// that a cofactored verifier (ZIP-215) accepts and `verify_strict` refuses. Only the key's
/// holder can make one.
pub fn sign_with_nonce_point(
    key: &SigningKey,
    message: &[u8],
    r: curve25519_dalek::Scalar,
    extra: curve25519_dalek::EdwardsPoint,
) -> Signature {
    use sha2::Sha512;
    let nonce = (curve25519_dalek::EdwardsPoint::mul_base(&r) + extra).compress();
    let mut h = Sha512::new();
    h.update(nonce.as_bytes());
    h.update(key.verifying_key().to_bytes());
    h.update(message);
    let k = curve25519_dalek::Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = r + k * key.to_scalar();
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(nonce.as_bytes());
    out[32..].copy_from_slice(s.as_bytes());
    Signature(out)
}

/// The point of order 4 with `y = 0` (encoded as 32 zero bytes).
pub fn order_four_point() -> curve25519_dalek::EdwardsPoint {
    curve25519_dalek::edwards::CompressedEdwardsY([0; 32])
        .decompress()
        .unwrap_or_default()
}

/// The seed of the authority's key.
pub const AUTHORITY_SEED: u64 = 1_000_000;
/// The seed of an outside reporter's key.
pub const REPORTER_SEED: u64 = 2_000_000;

/// A network of validators with known keys, for building signed messages and evidence.
#[derive(Clone, Debug)]
pub struct TestNetwork {
    /// The chain id.
    pub chain_id: u64,
    /// The current epoch.
    pub epoch: u64,
    /// One key per operator, indexed by operator.
    pub keys: Vec<SigningKey>,
    /// Power per operator.
    pub powers: Vec<u64>,
    /// The authority's key.
    pub authority: SigningKey,
    /// The configuration for genesis.
    pub config: Config,
}

impl TestNetwork {
    /// `n` validators of power 10 each, keys from seeds `0..n`, epoch 1.
    pub fn new(chain_id: u64, n: u32) -> Self {
        Self {
            chain_id,
            epoch: 1,
            keys: (0..u64::from(n)).map(key).collect(),
            powers: vec![10; n as usize],
            authority: key(AUTHORITY_SEED),
            config: Config::default(),
        }
    }

    /// The authority's public key.
    pub fn authority_key(&self) -> PublicKey {
        public(&self.authority)
    }

    /// An outside reporter's public key.
    pub fn reporter_key(&self) -> PublicKey {
        public(&key(REPORTER_SEED))
    }

    /// The public key of `operator`.
    pub fn public(&self, operator: OperatorId) -> PublicKey {
        public(&self.keys[operator as usize])
    }

    /// The validator list.
    pub fn validators(&self) -> BoundedVec<ValidatorInfo, { warden_module::wire::MAX_VALIDATORS }> {
        let list = self
            .keys
            .iter()
            .zip(&self.powers)
            .enumerate()
            .map(|(i, (k, p))| ValidatorInfo {
                operator: i as OperatorId,
                name: BoundedBytes::new(format!("validator-{i}").into_bytes()).unwrap_or_default(),
                key: public(k),
                power: *p,
            })
            .collect();
        BoundedVec::new(list).expect("test networks are small")
    }

    /// The validator set of the current epoch.
    pub fn set(&self) -> ValidatorSet {
        ValidatorSet::new(self.epoch, self.validators()).expect("test keys are valid")
    }

    /// The genesis of this network.
    pub fn genesis(&self) -> Genesis {
        Genesis {
            chain_id: self.chain_id,
            epoch: self.epoch,
            authority: self.authority_key(),
            validators: self.validators(),
            config: self.config.clone(),
        }
    }

    /// The genesis leader schedule (every operator at the baseline reputation).
    pub fn schedule(&self) -> LeaderSchedule {
        let candidates: Vec<_> = self
            .powers
            .iter()
            .enumerate()
            .map(|(i, p)| warden_module::schedule::Candidate {
                operator: i as OperatorId,
                effective_power: *p,
                reputation: self.config.reputation.baseline,
            })
            .collect();
        LeaderSchedule::compute(self.chain_id, self.epoch, &candidates)
    }

    /// `message` signed by `operator` in the current epoch.
    pub fn signed(&self, operator: OperatorId, message: Message) -> SignedMessage {
        self.signed_in(operator, self.epoch, message)
    }

    /// `message` signed by `operator` in `epoch`.
    pub fn signed_in(&self, operator: OperatorId, epoch: u64, message: Message) -> SignedMessage {
        let signature = sign(
            &self.keys[operator as usize],
            &message.signing_bytes(self.chain_id, epoch),
        );
        SignedMessage {
            epoch,
            signer: operator,
            message,
            signature,
        }
    }

    /// A phase-1 vote.
    pub fn vote(
        &self,
        operator: OperatorId,
        view: u64,
        block_hash: Hash,
        justify_view: u64,
    ) -> SignedMessage {
        self.signed(
            operator,
            Message::Vote(Vote {
                view,
                block_hash,
                justify_view,
            }),
        )
    }

    /// A phase-2 vote.
    pub fn vote2(&self, operator: OperatorId, view: u64, block_hash: Hash) -> SignedMessage {
        self.signed(operator, Message::Vote2(Vote2 { view, block_hash }))
    }

    /// A timeout.
    pub fn timeout(&self, operator: OperatorId, view: u64, lock_view: u64) -> SignedMessage {
        self.signed(operator, Message::Timeout(Timeout { view, lock_view }))
    }

    /// A certificate of `kind` signed by `signers` (in the given order) in the current epoch.
    pub fn certificate(
        &self,
        kind: CertificateKind,
        view: u64,
        block_hash: Hash,
        justify_view: u64,
        signers: &[OperatorId],
    ) -> Certificate {
        let mut cert = Certificate {
            kind,
            epoch: self.epoch,
            view,
            block_hash,
            justify_view,
            signatures: BoundedVec::empty(),
        };
        let parts = signers
            .iter()
            .map(|&signer| {
                let part = CertificateSignature {
                    signer,
                    lock_view: 0,
                    signature: Signature([0; 64]),
                };
                let bytes = cert
                    .signed_message(&part)
                    .signing_bytes(self.chain_id, self.epoch);
                CertificateSignature {
                    signature: sign(&self.keys[signer as usize], &bytes),
                    ..part
                }
            })
            .collect();
        cert.signatures = BoundedVec::new(parts).expect("small");
        cert
    }

    /// The first `q` operators: the smallest prefix holding a quorum.
    pub fn quorum_signers(&self) -> Vec<OperatorId> {
        let set = self.set();
        let mut power = 0;
        let mut out = Vec::new();
        for v in set.validators.iter() {
            if power >= set.quorum() {
                break;
            }
            power += v.power;
            out.push(v.operator);
        }
        out
    }

    /// A block at `height` extending `parent`, proposed by `proposer`.
    pub fn block(
        &self,
        height: u64,
        parent: Hash,
        payload: u8,
        proposer: OperatorId,
    ) -> BlockHeader {
        BlockHeader {
            height,
            parent_hash: parent,
            payload_hash: [payload; 32],
            proposer,
        }
    }

    /// A proposal by the scheduled leader of `view`, extending the genesis certificate.
    pub fn proposal(&self, proposer: OperatorId, view: u64, payload: u8) -> SignedMessage {
        let justify = Certificate::genesis(self.epoch);
        let block = self.block(1, [0; 32], payload, proposer);
        self.signed(
            proposer,
            Message::Proposal(Proposal {
                view,
                block,
                justify,
            }),
        )
    }

    /// The scheduled leader of `view` in the current epoch.
    pub fn leader(&self, view: u64) -> OperatorId {
        self.schedule().leader(view).expect("a schedule with power")
    }

    /// A view whose scheduled leader is not `operator`, at or after `from`.
    pub fn view_not_led_by(&self, operator: OperatorId, from: u64) -> u64 {
        (from..)
            .find(|v| self.leader(*v) != operator)
            .expect("some view")
    }

    /// A view led by `operator`, at or after `from`.
    pub fn view_led_by(&self, operator: OperatorId, from: u64) -> u64 {
        (from..from + 100_000)
            .find(|v| self.leader(*v) == operator)
            .expect("operator leads some view")
    }

    /// Double-vote evidence (phase 1) against `operator` in `view`.
    pub fn double_vote(&self, operator: OperatorId, view: u64) -> Evidence {
        Evidence::DoubleVote {
            first: self.vote(operator, view, [1; 32], 0),
            second: self.vote(operator, view, [2; 32], 0),
        }
    }

    /// Double-vote evidence (phase 2) against `operator` in `view`.
    pub fn double_vote2(&self, operator: OperatorId, view: u64) -> Evidence {
        Evidence::DoubleVote {
            first: self.vote2(operator, view, [1; 32]),
            second: self.vote2(operator, view, [2; 32]),
        }
    }

    /// Double-proposal evidence against `operator` in `view`.
    pub fn double_proposal(&self, operator: OperatorId, view: u64) -> Evidence {
        Evidence::DoubleProposal {
            first: self.proposal(operator, view, 1),
            second: self.proposal(operator, view, 2),
        }
    }

    /// Lock violation by a later vote: `Vote2` at `view`, then a vote at `view + 1` whose
    /// justify is older than the lock.
    pub fn lock_violation_vote(&self, operator: OperatorId, view: u64) -> Evidence {
        Evidence::LockViolation {
            locked: self.vote2(operator, view, [1; 32]),
            later: self.vote(operator, view + 1, [2; 32], view - 1),
        }
    }

    /// Lock violation by a later timeout claiming an older lock.
    pub fn lock_violation_timeout(&self, operator: OperatorId, view: u64) -> Evidence {
        Evidence::LockViolation {
            locked: self.vote2(operator, view, [1; 32]),
            later: self.timeout(operator, view + 2, view - 1),
        }
    }

    /// Invalid-proposal evidence: `operator` proposes in a view it does not lead.
    pub fn wrong_leader(&self, operator: OperatorId, from_view: u64) -> Evidence {
        let view = self.view_not_led_by(operator, from_view);
        Evidence::InvalidProposal {
            proposal: self.proposal(operator, view, 7),
            parent: None,
            violation: ProposalViolation::WrongLeader,
        }
    }

    /// Invalid-proposal evidence: the scheduled leader justifies with a certificate short of
    /// a quorum.
    pub fn short_certificate(&self, operator: OperatorId, from_view: u64) -> Evidence {
        let view = self.view_led_by(operator, from_view.max(3));
        self.justified_proposal(
            operator,
            view,
            |parent| self.certificate(CertificateKind::Vote, view - 1, parent, 0, &[operator]),
            ProposalViolation::ShortCertificate,
        )
    }

    /// Invalid-proposal evidence claiming `violation` against a proposal of this epoch by the
    /// scheduled leader `operator`, whose justify certificate claims `justify_epoch` and is
    /// signed (with that epoch's signing bytes) by the first `signers` operators.
    pub fn justify_from_epoch(
        &self,
        operator: OperatorId,
        justify_epoch: u64,
        signers: u32,
        violation: ProposalViolation,
    ) -> Evidence {
        let view = self.view_led_by(operator, 10);
        let mut other = self.clone();
        other.epoch = justify_epoch;
        let signers: Vec<OperatorId> = (0..signers).collect();
        self.justified_proposal(
            operator,
            view,
            |parent| other.certificate(CertificateKind::Vote, view - 1, parent, 0, &signers),
            violation,
        )
    }

    /// Invalid-proposal evidence claiming `violation` against `operator`'s proposal in `view`
    /// of a block at height 2 whose parent, at height 1, the certificate `justify` makes of
    /// the parent's hash certifies.
    fn justified_proposal(
        &self,
        operator: OperatorId,
        view: u64,
        justify: impl FnOnce(Hash) -> Certificate,
        violation: ProposalViolation,
    ) -> Evidence {
        let parent = self.block(1, [0; 32], 1, operator);
        let justify = justify(parent.hash());
        let block = self.block(2, parent.hash(), 9, operator);
        Evidence::InvalidProposal {
            proposal: self.signed(
                operator,
                Message::Proposal(Proposal {
                    view,
                    block,
                    justify,
                }),
            ),
            parent: Some(parent),
            violation,
        }
    }

    /// An accusation of `accused` signed by `witnesses`.
    pub fn accusation(
        &self,
        accused: OperatorId,
        behaviour: Behaviour,
        first_view: u64,
        last_view: u64,
        witnesses: &[OperatorId],
    ) -> WitnessedAccusation {
        let accusation = Accusation {
            accused,
            behaviour,
            epoch: self.epoch,
            first_view,
            last_view,
            measured: last_view.saturating_sub(first_view).saturating_add(1),
        };
        let bytes = accusation.signing_bytes(self.chain_id);
        let witnesses = witnesses
            .iter()
            .map(|&w| WitnessSignature {
                witness: w,
                signature: sign(&self.keys[w as usize], &bytes),
            })
            .collect();
        WitnessedAccusation {
            accusation,
            witnesses: BoundedVec::new(witnesses).expect("small"),
        }
    }

    /// A rotation to `next` (a network with the new keys and powers) approved by `approvers`
    /// of this network's current set.
    pub fn rotation(&self, next: &TestNetwork, approvers: &[OperatorId]) -> Rotation {
        let set = next.set();
        let change = EpochChange {
            epoch: next.epoch,
            set_hash: set.hash(),
        };
        let bytes = signing_bytes(self.chain_id, self.epoch, MessageKind::EpochChange, &change);
        let approvals = approvers
            .iter()
            .map(|&w| WitnessSignature {
                witness: w,
                signature: sign(&self.keys[w as usize], &bytes),
            })
            .collect();
        Rotation {
            epoch: next.epoch,
            validators: next.validators(),
            approvals: BoundedVec::new(approvals).expect("small"),
        }
    }
}
