//! Fork forensics: after two conflicting commits, the validators that must have broken the
//! protocol, each with Tier 1 evidence the module verifies, from certificates alone.
//!
//! ## The rule
//! Let `C2` be the double certificate committing block `B` at view `v`, and `C2'` one
//! committing `B'` at view `v' >= v`, where neither block extends the other.
//! - `v' = v`: both are quorums of `Vote2` of one view for different blocks; every signer of
//!   both double voted (phase 2).
//! - `v' > v`: walk back from `B'` through the phase-1 certificates of its branch (each
//!   certificate names the justify view its voters signed, and the block's header names the
//!   parent that justify certified) to the first certified block `X`, at view `w > v`, whose
//!   justify view `j` is at most `v`. The walk ends, since justify views fall strictly.
//!   - `j = v`: `X`'s justify is a phase-1 certificate of view `v` for a block `Y`, and
//!     `Y != B` (else `B'` would extend `B`); `B`'s own phase-1 certificate of view `v` is
//!     another, so every signer of both double voted (phase 1).
//!   - `j < v`: every signer of both `Vote2(v, B)` in `C2` and `Vote(w, X, j)` in `X`'s
//!     certificate voted below the lock it took at `v`: a lock violation.
//!
//! Each pair is two quorums of one validator set, and two quorums share more than a third of
//! the power, so the culprits hold more than a third of it. An honest validator is never
//! among them: it signs one `Vote` and one `Vote2` per view, and after `Vote2(v, B)` it is
//! locked at `v` or higher and votes only for proposals justified at its lock or above.
//! (A `Vote` and a `Vote2` of one view for different blocks prove nothing: an honest replica
//! may vote for one proposal and then lock on a certificate others formed.)
//!
//! Every piece of evidence is checked with the module's own `Evidence::offence` and
//! `Evidence::verify` before it is returned, so the chain accepts all of it.

use std::collections::{BTreeMap, VecDeque};

use borsh::{BorshDeserialize, BorshSerialize};
use warden_module::crypto::Verifier;
use warden_module::evidence::Evidence;
use warden_module::schedule::LeaderSchedule;
use warden_module::validators::ValidatorSet;
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, CertificateSignature, Hash, OperatorId,
    SignedMessage,
};

use crate::detect::EpochView;

/// Block certificates kept by default (phase-1 and double certificates together).
pub const DEFAULT_LOG_CERTIFICATES: usize = 512;
/// Headers kept by default.
pub const DEFAULT_LOG_HEADERS: usize = 2_048;

/// The block certificates and headers a host has seen, bounded (the lowest views and the
/// oldest headers go first). Only certificates the caller verified belong here.
#[derive(Clone, Debug, Default)]
pub struct CertificateLog {
    certificates: BTreeMap<(u64, u8, Hash), Certificate>,
    headers: BTreeMap<Hash, BlockHeader>,
    header_order: VecDeque<Hash>,
    max_certificates: u32,
    max_headers: u32,
}

impl CertificateLog {
    /// A log keeping at most `max_certificates` certificates and `max_headers` headers.
    pub fn new(max_certificates: usize, max_headers: usize) -> Self {
        Self {
            max_certificates: max_certificates.clamp(4, 1 << 20) as u32,
            max_headers: max_headers.clamp(4, 1 << 20) as u32,
            ..Self::default()
        }
    }

    /// Records a verified phase-1 or double certificate (timeout certificates certify no block
    /// and are ignored). Returns whether it was new.
    pub fn insert_certificate(&mut self, cert: &Certificate) -> bool {
        if cert.kind == CertificateKind::Timeout || cert.is_genesis() {
            return false;
        }
        let key = (cert.view, cert.kind as u8, cert.block_hash);
        if self.certificates.contains_key(&key) {
            return false;
        }
        self.certificates.insert(key, cert.clone());
        while self.certificates.len() > self.max_certificates as usize {
            self.certificates.pop_first();
        }
        true
    }

    /// Records a block header; returns its hash.
    pub fn insert_header(&mut self, header: &BlockHeader) -> Hash {
        let hash = header.hash();
        if self.headers.insert(hash, header.clone()).is_none() {
            self.header_order.push_back(hash);
            while self.header_order.len() > self.max_headers as usize {
                if let Some(old) = self.header_order.pop_front() {
                    self.headers.remove(&old);
                }
            }
        }
        hash
    }

    /// The certificate of `kind` for `block` at `view`, if held.
    pub fn certificate(
        &self,
        kind: CertificateKind,
        view: u64,
        block: &Hash,
    ) -> Option<&Certificate> {
        self.certificates.get(&(view, kind as u8, *block))
    }

    /// The header of `hash`, if held.
    pub fn header(&self, hash: &Hash) -> Option<&BlockHeader> {
        self.headers.get(hash)
    }

    /// Every certificate held, lowest view first.
    pub fn certificates(&self) -> impl Iterator<Item = &Certificate> {
        self.certificates.values()
    }

    /// Every header held, oldest first.
    pub fn headers(&self) -> impl Iterator<Item = &BlockHeader> {
        self.header_order.iter().filter_map(|h| self.headers.get(h))
    }

    /// Certificates held.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// Whether no certificate is held.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    /// Whether `descendant` is `ancestor` or extends it, as far as the headers held tell
    /// (`None` when a header on the way is missing). The zero hash is the genesis block.
    pub fn extends(&self, descendant: &Hash, ancestor: &Hash) -> Option<bool> {
        if descendant == ancestor || *ancestor == [0; 32] {
            return Some(true);
        }
        let floor = self.header(ancestor)?.height;
        let mut cursor = *descendant;
        loop {
            if cursor == *ancestor {
                return Some(true);
            }
            if cursor == [0; 32] {
                return Some(false);
            }
            let header = self.header(&cursor)?;
            if header.height <= floor {
                return Some(false);
            }
            cursor = header.parent_hash;
        }
    }

    /// Whether two blocks conflict (neither extends the other), if the headers tell.
    pub fn conflict(&self, a: &Hash, b: &Hash) -> Option<bool> {
        Some(!self.extends(a, b)? && !self.extends(b, a)?)
    }

    /// Pairs of double certificates of one epoch whose blocks provably conflict, the lower
    /// view first.
    pub fn conflicting_commits(&self) -> Vec<(&Certificate, &Certificate)> {
        let doubles: Vec<&Certificate> = self
            .certificates
            .values()
            .filter(|c| c.kind == CertificateKind::Vote2)
            .collect();
        let mut out = Vec::new();
        for (i, a) in doubles.iter().enumerate() {
            for b in &doubles[i + 1..] {
                if a.epoch == b.epoch && self.conflict(&a.block_hash, &b.block_hash) == Some(true) {
                    out.push((*a, *b));
                }
            }
        }
        out
    }
}

/// What a host leaves on disk for `warden forensics`: the epoch it judged and what its log
/// held.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ForensicsRecord {
    /// The chain id bound into signatures.
    pub chain_id: u64,
    /// The epoch's validator set.
    pub set: ValidatorSet,
    /// The epoch's leader schedule.
    pub schedule: LeaderSchedule,
    /// The certificates held, lowest view first.
    pub certificates: Vec<Certificate>,
    /// The headers held, oldest first.
    pub headers: Vec<BlockHeader>,
}

/// The largest record file `warden forensics` reads.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

impl ForensicsRecord {
    /// The record of `log` for the epoch `epoch`.
    pub fn new(epoch: &EpochView, log: &CertificateLog) -> Self {
        Self {
            chain_id: epoch.chain_id,
            set: epoch.set.clone(),
            schedule: epoch.schedule.clone(),
            certificates: log.certificates().cloned().collect(),
            headers: log.headers().cloned().collect(),
        }
    }

    /// The epoch it judged.
    pub fn epoch_view(&self) -> EpochView {
        EpochView {
            chain_id: self.chain_id,
            set: self.set.clone(),
            schedule: self.schedule.clone(),
            previous: None,
        }
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        warden_module::codec::encode(self)
    }

    /// A record from a file's bytes (at most [`MAX_RECORD_BYTES`], nothing trailing).
    pub fn decode(bytes: &[u8]) -> Result<Self, warden_module::error::Error> {
        warden_module::codec::decode(bytes, MAX_RECORD_BYTES)
    }
}

/// Which case of the rule proved the fork.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ForkRule {
    /// Both commits in one view: the shared signers double voted in phase 2.
    DoubleVote2,
    /// The later branch justified at the first commit's view with another block: the shared
    /// signers double voted in phase 1.
    DoubleVote1,
    /// The later branch justified below the first commit's view: the shared signers violated
    /// the lock they took.
    LockViolation,
}

/// A committed block: its view and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommitRef {
    /// The view of its double certificate.
    pub view: u64,
    /// The block.
    #[serde(with = "hex_hash")]
    pub block: Hash,
}

/// What forensics proved about one fork.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForkProof {
    /// The epoch of both commits.
    pub epoch: u64,
    /// The commit at the lower (or equal) view.
    pub first: CommitRef,
    /// The conflicting commit.
    pub second: CommitRef,
    /// The case of the rule that applied.
    pub rule: ForkRule,
    /// The phase-1 certificate that the rule paired with the first commit's certificate
    /// (`None` for [`ForkRule::DoubleVote2`]).
    pub pivot: Option<CommitRef>,
    /// Each culprit with the evidence the chain accepts.
    pub culprits: Vec<(OperatorId, Evidence)>,
    /// Signers shared by the two certificates whose evidence did not verify (forged parts).
    pub unproven: Vec<OperatorId>,
    /// The culprits' power in the epoch's set.
    pub culprit_power: u64,
    /// The set's total power.
    pub total_power: u64,
}

impl ForkProof {
    /// Whether the culprits hold more than a third of the power: the guarantee.
    pub fn accountable(&self) -> bool {
        u128::from(self.culprit_power) * 3 > u128::from(self.total_power)
    }

    /// The culprits' operators.
    pub fn culprit_operators(&self) -> Vec<OperatorId> {
        self.culprits.iter().map(|(op, _)| *op).collect()
    }
}

/// Why forensics could not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForensicsError {
    /// A commit is proven by a double certificate, and this is not one.
    #[error("the certificate of view {view} is not a double certificate")]
    NotDoubleCertificate {
        /// Its view.
        view: u64,
    },
    /// Both commits must be of the epoch whose set is given.
    #[error(
        "the commits are of epochs {first} and {second}; forensics needs both in epoch {expected}"
    )]
    EpochMismatch {
        /// The set's epoch.
        expected: u64,
        /// The first commit's epoch.
        first: u64,
        /// The second commit's epoch.
        second: u64,
    },
    /// The two commits are of one block, or one extends the other.
    #[error("the blocks do not conflict: one extends the other")]
    NotConflicting,
    /// A header on the later branch is not held.
    #[error("the header of block {} is not held", hex(.block))]
    MissingHeader {
        /// The block.
        block: Hash,
    },
    /// A phase-1 certificate on the walk is not held.
    #[error("no phase-1 certificate of view {view} for block {} is held", hex(.block))]
    MissingCertificate {
        /// Its view.
        view: u64,
        /// Its block.
        block: Hash,
    },
}

fn hex(hash: &Hash) -> String {
    hash[..6].iter().map(|b| format!("{b:02x}")).collect()
}

mod hex_hash {
    pub fn serialize<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&h.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// The signed message one certificate entry is.
pub fn part_message(cert: &Certificate, part: &CertificateSignature) -> SignedMessage {
    SignedMessage {
        epoch: cert.epoch,
        signer: part.signer,
        message: cert.signed_message(part),
        signature: part.signature,
    }
}

/// Proves the fork between the double certificates `a` and `b` (in either order) by the rule
/// of this module's documentation, from the certificates and headers in `log`.
pub fn prove_fork(
    epoch: &EpochView,
    log: &CertificateLog,
    a: &Certificate,
    b: &Certificate,
    verifier: &impl Verifier,
) -> Result<ForkProof, ForensicsError> {
    for c in [a, b] {
        if c.kind != CertificateKind::Vote2 {
            return Err(ForensicsError::NotDoubleCertificate { view: c.view });
        }
    }
    if a.epoch != epoch.set.epoch || b.epoch != epoch.set.epoch {
        return Err(ForensicsError::EpochMismatch {
            expected: epoch.set.epoch,
            first: a.epoch,
            second: b.epoch,
        });
    }
    let (first, second) = if a.view <= b.view { (a, b) } else { (b, a) };
    if first.block_hash == second.block_hash {
        return Err(ForensicsError::NotConflicting);
    }
    let v = first.view;
    let missing = |view: u64, block: Hash| ForensicsError::MissingCertificate { view, block };
    let parent_of = |block: &Hash| {
        log.header(block)
            .map(|h| h.parent_hash)
            .ok_or(ForensicsError::MissingHeader { block: *block })
    };
    // The rule's case, and the two certificates whose shared signers are the culprits.
    let (rule, x, y) = if second.view == v {
        (ForkRule::DoubleVote2, first, second)
    } else {
        // Walk back from B' to the first certified block X whose justify view is <= v.
        let mut cursor = log
            .certificate(CertificateKind::Vote, second.view, &second.block_hash)
            .ok_or(missing(second.view, second.block_hash))?;
        while cursor.justify_view > v {
            let parent = parent_of(&cursor.block_hash)?;
            cursor = log
                .certificate(CertificateKind::Vote, cursor.justify_view, &parent)
                .ok_or(missing(cursor.justify_view, parent))?;
        }
        if cursor.justify_view == v {
            let parent = parent_of(&cursor.block_hash)?;
            if parent == first.block_hash {
                return Err(ForensicsError::NotConflicting);
            }
            let ours = log
                .certificate(CertificateKind::Vote, v, &first.block_hash)
                .ok_or(missing(v, first.block_hash))?;
            let theirs = log
                .certificate(CertificateKind::Vote, v, &parent)
                .ok_or(missing(v, parent))?;
            (ForkRule::DoubleVote1, ours, theirs)
        } else {
            (ForkRule::LockViolation, first, cursor)
        }
    };
    let pivot = (rule != ForkRule::DoubleVote2).then_some(y);
    let theirs: BTreeMap<OperatorId, &CertificateSignature> =
        y.signatures.iter().map(|p| (p.signer, p)).collect();
    let mut culprits = Vec::new();
    let mut unproven = Vec::new();
    for part in x.signatures.iter() {
        let Some(other) = theirs.get(&part.signer) else {
            continue;
        };
        let (one, two) = (part_message(x, part), part_message(y, other));
        let evidence = match rule {
            ForkRule::LockViolation => Evidence::LockViolation {
                locked: one,
                later: two,
            },
            _ => Evidence::DoubleVote {
                first: one,
                second: two,
            },
        };
        let proven = evidence.offence().is_ok()
            && evidence
                .verify(
                    epoch.chain_id,
                    &epoch.set,
                    &epoch.schedule,
                    &epoch.set,
                    verifier,
                )
                .is_ok();
        if proven {
            culprits.push((part.signer, evidence));
        } else {
            unproven.push(part.signer);
        }
    }
    let culprit_power = culprits.iter().fold(0u64, |acc, (op, _)| {
        acc.saturating_add(epoch.set.power_of(*op))
    });
    let commit = |c: &Certificate| CommitRef {
        view: c.view,
        block: c.block_hash,
    };
    Ok(ForkProof {
        epoch: epoch.set.epoch,
        first: commit(first),
        second: commit(second),
        rule,
        pivot: pivot.map(commit),
        culprits,
        unproven,
        culprit_power,
        total_power: epoch.set.total_power,
    })
}

/// Proves the conflicting pairs of commits in `log` that `skip` does not exclude, earliest
/// first (their walks are the shortest), until one proves more than a third of the power
/// guilty or `limit` proofs are made. Pairs whose walk misses a certificate are passed over.
pub fn prove_forks(
    epoch: &EpochView,
    log: &CertificateLog,
    skip: impl Fn(&Hash, &Hash) -> bool,
    limit: usize,
    verifier: &impl Verifier,
) -> Vec<ForkProof> {
    let mut pairs: Vec<(&Certificate, &Certificate)> = log
        .conflicting_commits()
        .into_iter()
        .filter(|(a, b)| a.epoch == epoch.set.epoch && !skip(&a.block_hash, &b.block_hash))
        .collect();
    pairs.sort_by_key(|(a, b)| (a.view.max(b.view), a.view.min(b.view)));
    let mut proofs = Vec::new();
    for (a, b) in pairs {
        if proofs.len() >= limit {
            break;
        }
        if let Ok(proof) = prove_fork(epoch, log, a, b, verifier) {
            let done = proof.accountable();
            proofs.push(proof);
            if done {
                break;
            }
        }
    }
    proofs
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_module::crypto::Ed25519Strict;
    use warden_module::evidence::OffenceClass;
    use warden_testkit::TestNetwork;

    /// Four validators of power 10: a quorum is three, so two quorums share at least two.
    struct Fork {
        net: TestNetwork,
        log: CertificateLog,
    }

    impl Fork {
        fn new() -> Self {
            Self {
                net: TestNetwork::new(7, 4),
                log: CertificateLog::new(64, 64),
            }
        }

        fn epoch(&self) -> EpochView {
            EpochView {
                chain_id: self.net.chain_id,
                set: self.net.set(),
                schedule: self.net.schedule(),
                previous: None,
            }
        }

        /// A block at `view` extending `parent` (height `height`), certified in phase 1 with
        /// `justify_view` and committed by `signers`; returns its hash and double certificate.
        fn certify(
            &mut self,
            view: u64,
            height: u64,
            parent: Hash,
            justify_view: u64,
            payload: u8,
            signers: &[OperatorId],
        ) -> (Hash, Certificate) {
            let header = self.net.block(height, parent, payload, 0);
            let hash = self.log.insert_header(&header);
            let qc = self
                .net
                .certificate(CertificateKind::Vote, view, hash, justify_view, signers);
            let c2 = self
                .net
                .certificate(CertificateKind::Vote2, view, hash, 0, signers);
            self.log.insert_certificate(&qc);
            self.log.insert_certificate(&c2);
            (hash, c2)
        }

        fn prove(&self, a: &Certificate, b: &Certificate) -> Result<ForkProof, ForensicsError> {
            prove_fork(&self.epoch(), &self.log, a, b, &Ed25519Strict)
        }
    }

    fn classes(proof: &ForkProof) -> Vec<OffenceClass> {
        proof
            .culprits
            .iter()
            .map(|(_, e)| e.offence().expect("checked").class)
            .collect()
    }

    #[test]
    fn a_fork_across_views_below_the_lock_proves_the_shared_signers_violated_their_lock() {
        let mut f = Fork::new();
        let (_, c2) = f.certify(2, 1, [0; 32], 0, 1, &[0, 1, 2]);
        // The other branch: X at view 4 justified by genesis (view 0 < 2), then B' on it.
        let (x, _) = f.certify(4, 1, [0; 32], 0, 2, &[0, 1, 3]);
        let (_, c2b) = f.certify(5, 2, x, 4, 3, &[0, 1, 3]);
        let proof = f.prove(&c2b, &c2).expect("provable");
        assert_eq!(proof.rule, ForkRule::LockViolation);
        assert_eq!(proof.first.view, 2);
        assert_eq!(proof.pivot.map(|p| p.view), Some(4));
        assert_eq!(proof.culprit_operators(), vec![0, 1]);
        assert_eq!(classes(&proof), vec![OffenceClass::LockViolation; 2]);
        assert_eq!((proof.culprit_power, proof.total_power), (20, 40));
        assert!(proof.accountable());
    }

    #[test]
    fn a_fork_justified_at_the_commit_view_with_another_block_proves_phase_one_double_votes() {
        let mut f = Fork::new();
        let (_, c2) = f.certify(2, 1, [0; 32], 0, 1, &[0, 1, 2]);
        // Y certified at view 2 too (not committed), and X at view 3 on Y.
        let (y, _) = f.certify(2, 1, [0; 32], 0, 2, &[0, 1, 3]);
        let (_, c2b) = f.certify(3, 2, y, 2, 3, &[0, 1, 3]);
        let proof = f.prove(&c2, &c2b).expect("provable");
        assert_eq!(proof.rule, ForkRule::DoubleVote1);
        assert_eq!(proof.culprit_operators(), vec![0, 1]);
        assert_eq!(classes(&proof), vec![OffenceClass::DoubleVote; 2]);
        assert!(proof.accountable());
    }

    #[test]
    fn two_commits_in_one_view_prove_phase_two_double_votes() {
        let mut f = Fork::new();
        let (_, c2) = f.certify(2, 1, [0; 32], 0, 1, &[0, 1, 2]);
        let (_, c2b) = f.certify(2, 1, [0; 32], 0, 2, &[1, 2, 3]);
        let proof = f.prove(&c2, &c2b).expect("provable");
        assert_eq!(proof.rule, ForkRule::DoubleVote2);
        assert_eq!(proof.culprit_operators(), vec![1, 2]);
        assert!(proof
            .culprits
            .iter()
            .all(|(_, e)| matches!(e, Evidence::DoubleVote { first, .. }
                if matches!(first.message, warden_module::wire::Message::Vote2(_)))));
    }

    #[test]
    fn a_branch_that_extends_the_commit_is_no_fork() {
        let mut f = Fork::new();
        let (b, c2) = f.certify(2, 1, [0; 32], 0, 1, &[0, 1, 2]);
        let (_, c2b) = f.certify(3, 2, b, 2, 2, &[0, 1, 2]);
        assert_eq!(f.log.conflict(&b, &c2b.block_hash), Some(false));
        assert_eq!(f.prove(&c2, &c2b), Err(ForensicsError::NotConflicting));
        assert!(f.log.conflicting_commits().is_empty());
    }

    #[test]
    fn a_walk_that_needs_a_certificate_not_held_names_it() {
        let mut f = Fork::new();
        let (_, c2) = f.certify(2, 1, [0; 32], 0, 1, &[0, 1, 2]);
        // B' at view 5 justified at view 4 by a block whose certificate is not held.
        let header = f.net.block(1, [0; 32], 9, 0);
        let missing = header.hash();
        f.log.insert_header(&header);
        let (_, c2b) = f.certify(5, 2, missing, 4, 3, &[0, 1, 3]);
        assert_eq!(
            f.prove(&c2, &c2b),
            Err(ForensicsError::MissingCertificate {
                view: 4,
                block: missing
            })
        );
    }

    #[test]
    fn a_forged_entry_is_not_a_culprit() {
        let mut f = Fork::new();
        let (_, c2) = f.certify(2, 1, [0; 32], 0, 1, &[0, 1, 2]);
        let (_, mut c2b) = f.certify(2, 1, [0; 32], 0, 2, &[0, 1, 3]);
        let mut parts = c2b.signatures.to_vec();
        parts[0].signature.0[0] ^= 1;
        c2b.signatures = warden_module::codec::BoundedVec::new(parts).expect("small");
        let proof = f.prove(&c2, &c2b).expect("runs");
        assert_eq!(proof.culprit_operators(), vec![1]);
        assert_eq!(proof.unproven, vec![0]);
        assert!(!proof.accountable());
    }

    #[test]
    fn the_log_finds_conflicting_commits_and_stays_bounded() {
        let mut f = Fork::new();
        f.certify(2, 1, [0; 32], 0, 1, &[0, 1, 2]);
        f.certify(4, 1, [0; 32], 0, 2, &[0, 1, 3]);
        assert_eq!(f.log.conflicting_commits().len(), 1);
        let mut small = CertificateLog::new(4, 4);
        for view in 1..20 {
            let c = f
                .net
                .certificate(CertificateKind::Vote2, view, [view as u8; 32], 0, &[0]);
            small.insert_certificate(&c);
            small.insert_header(&f.net.block(view, [0; 32], view as u8, 0));
        }
        assert_eq!(small.len(), 4);
        assert_eq!(small.certificates().next().map(|c| c.view), Some(16));
        assert_eq!(small.headers().count(), 4);
    }
}
