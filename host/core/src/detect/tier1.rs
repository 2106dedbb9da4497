//! Tier 1: provable offences. Every signed message is indexed by (epoch, signer, kind, view)
//! without touching its signature; only when a second message lands on an occupied slot (a
//! double vote or proposal), or a vote or timeout contradicts an indexed `Vote2` (a lock
//! violation), or a proposal breaks a stateless rule, are signatures verified, and then with
//! the module's own [`Evidence::offence`] and [`Evidence::verify`], so the detector reports
//! exactly what the chain will accept.
//!
//! Memory: per (epoch, signer, kind) only views inside a window around the host's view are
//! indexed, and the whole index is capped, so whatever peers send the index stays bounded.

use std::collections::{BTreeMap, BTreeSet};

use warden_module::crypto::Verifier;
use warden_module::error::Error;
use warden_module::evidence::{Evidence, OffenceKey, ProposalViolation};
use warden_module::validators::ValidatorSet;
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, Hash, Message, MessageKind, OperatorId,
    SignedMessage,
};

use super::EpochView;
use crate::forensics::part_message;

/// Views behind the host's view that stay indexed.
pub const INDEX_VIEWS_BEHIND: u64 = 256;
/// Views ahead of the host's view that are indexed (messages further ahead are ignored).
pub const INDEX_VIEWS_AHEAD: u64 = 64;
/// Offences remembered as already reported (the oldest are forgotten first).
const MAX_REPORTED: usize = 4_096;
/// Headers kept to prove height mismatches.
const MAX_HEADERS: usize = 1_024;
/// Certificates remembered as verified.
const MAX_VERIFIED_CERTS: usize = 256;
/// Certificates remembered as already taken apart into their votes.
const MAX_INGESTED_CERTS: usize = 512;

/// What identifies a certificate's votes: two certificates with the same key and as many
/// signers carry the same signed messages (a timeout certificate's locks aside).
type CertKey = (u8, u64, u64, Hash, u64, usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    epoch: u64,
    signer: OperatorId,
    kind: u8,
}

/// An indexed message (its signature unchecked until a conflict needs it).
#[derive(Clone, Debug)]
struct Entry {
    message: SignedMessage,
}

/// Counters of the Tier 1 detector's work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tier1Stats {
    /// Signed messages looked at.
    pub ingested: u64,
    /// Messages indexed.
    pub indexed: u64,
    /// Candidate conflicts found before any signature check.
    pub conflicts: u64,
    /// Signatures (or certificates) verified because of a candidate.
    pub verifications: u64,
    /// Evidence produced.
    pub evidence: u64,
    /// Messages ignored: unknown epoch or signer, or outside the window.
    pub ignored: u64,
    /// Certificates whose votes were indexed as signed messages.
    pub certificates: u64,
}

/// The Tier 1 detector.
#[derive(Debug, Default)]
pub struct Tier1 {
    index: BTreeMap<Slot, BTreeMap<u64, Entry>>,
    len: usize,
    max_len: usize,
    reported: BTreeSet<OffenceKey>,
    reported_order: std::collections::VecDeque<OffenceKey>,
    headers: BTreeMap<Hash, BlockHeader>,
    header_order: std::collections::VecDeque<Hash>,
    verified_certs: std::collections::VecDeque<Certificate>,
    ingested_certs: BTreeSet<CertKey>,
    ingested_order: std::collections::VecDeque<CertKey>,
    /// Work counters.
    pub stats: Tier1Stats,
}

fn kind_byte(message: &Message) -> u8 {
    message.kind() as u8
}

/// The stateless rules a certificate signed by `set` breaks, if any: signers strictly
/// ascending, every signer in the set, a quorum of power.
fn certificate_shape(cert: &Certificate, set: &ValidatorSet) -> Option<ProposalViolation> {
    if cert
        .signatures
        .windows(2)
        .any(|w| w[1].signer <= w[0].signer)
    {
        Some(ProposalViolation::DuplicateSigner)
    } else if cert.signatures.iter().any(|s| set.get(s.signer).is_none()) {
        Some(ProposalViolation::UnknownSigner)
    } else if set.signed_power(cert) < set.quorum() {
        Some(ProposalViolation::ShortCertificate)
    } else {
        None
    }
}

impl Tier1 {
    /// A detector indexing at most `max_len` messages.
    pub fn new(max_len: usize) -> Self {
        Self {
            max_len: max_len.max(16),
            ..Self::default()
        }
    }

    /// Messages currently indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops everything indexed for epochs before `epoch`.
    pub fn forget_before(&mut self, epoch: u64) {
        let keep = self.index.split_off(&Slot {
            epoch,
            signer: 0,
            kind: 0,
        });
        let dropped: usize = self.index.values().map(BTreeMap::len).sum();
        self.len -= dropped;
        self.index = keep;
    }

    /// Looks at one signed message; pushes evidence found to `out`. `view` is the host's
    /// current view (it bounds the window).
    pub fn observe(
        &mut self,
        signed: &SignedMessage,
        epoch: &EpochView,
        view: u64,
        verifier: &impl Verifier,
        out: &mut Vec<Evidence>,
    ) {
        self.stats.ingested += 1;
        let msg_view = signed.message.view();
        if signed.epoch != epoch.set.epoch
            || epoch.set.get(signed.signer).is_none()
            || msg_view.saturating_add(INDEX_VIEWS_BEHIND) < view
            || msg_view > view.saturating_add(INDEX_VIEWS_AHEAD)
        {
            self.stats.ignored += 1;
            return;
        }
        if let Message::Proposal(p) = &signed.message {
            self.remember_header(&p.block);
            self.check_proposal(signed, epoch, verifier, out);
        }
        let slot = Slot {
            epoch: signed.epoch,
            signer: signed.signer,
            kind: kind_byte(&signed.message),
        };
        // Double votes and double proposals: a second, different message on the same slot.
        let existing = self
            .index
            .get(&slot)
            .and_then(|views| views.get(&msg_view))
            .cloned();
        match existing {
            Some(entry) if entry.message.message == signed.message => return,
            Some(entry) if slot.kind != MessageKind::Timeout as u8 => {
                self.stats.conflicts += 1;
                let candidate = match signed.message {
                    Message::Proposal(_) => Evidence::DoubleProposal {
                        first: entry.message.clone(),
                        second: signed.clone(),
                    },
                    _ => Evidence::DoubleVote {
                        first: entry.message.clone(),
                        second: signed.clone(),
                    },
                };
                match self.confirm(candidate, epoch, verifier) {
                    Confirmed::Evidence(e) => out.push(e),
                    Confirmed::FirstInvalid => {
                        // The indexed message was forged: the new one takes its place.
                        self.insert(slot, msg_view, signed.clone());
                    }
                    Confirmed::Nothing => {}
                }
                return;
            }
            Some(_) => return,
            None => {}
        }
        self.insert(slot, msg_view, signed.clone());
        self.check_lock(signed, epoch, verifier, out);
        self.trim(view);
    }

    fn insert(&mut self, slot: Slot, view: u64, message: SignedMessage) {
        let views = self.index.entry(slot).or_default();
        if views.insert(view, Entry { message }).is_none() {
            self.len += 1;
            self.stats.indexed += 1;
        }
    }

    /// Keeps the index within its cap by dropping the lowest views (the oldest epochs first).
    fn trim(&mut self, view: u64) {
        if self.len <= self.max_len {
            return;
        }
        let floor = view.saturating_sub(INDEX_VIEWS_BEHIND / 4);
        let mut empty = Vec::new();
        for (slot, views) in self.index.iter_mut() {
            let before = views.len();
            let kept = views.split_off(&floor);
            *views = kept;
            self.len -= before - views.len();
            if views.is_empty() {
                empty.push(*slot);
            }
        }
        for slot in empty {
            self.index.remove(&slot);
        }
        // Still over: drop whole slots, oldest epochs and lowest signers first.
        while self.len > self.max_len {
            let Some((_, views)) = self.index.pop_first() else {
                break;
            };
            self.len -= views.len();
        }
    }

    /// A vote or timeout against an indexed `Vote2`, or a `Vote2` against indexed votes and
    /// timeouts: the lock rule of BRIEF section 2.
    fn check_lock(
        &mut self,
        signed: &SignedMessage,
        epoch: &EpochView,
        verifier: &impl Verifier,
        out: &mut Vec<Evidence>,
    ) {
        let slot_of = |kind: MessageKind| Slot {
            epoch: signed.epoch,
            signer: signed.signer,
            kind: kind as u8,
        };
        let later_claim = |m: &Message| match m {
            Message::Vote(v) => Some((v.view, v.justify_view)),
            Message::Timeout(t) => Some((t.view, t.lock_view)),
            _ => None,
        };
        let mut candidates = Vec::new();
        match &signed.message {
            Message::Vote2(v2) => {
                let locked = v2.view;
                for kind in [MessageKind::Vote, MessageKind::Timeout] {
                    if let Some(views) = self.index.get(&slot_of(kind)) {
                        for entry in views.range(locked.saturating_add(1)..).map(|(_, e)| e) {
                            if let Some((_, claimed)) = later_claim(&entry.message.message) {
                                if claimed < locked {
                                    candidates.push((signed.clone(), entry.message.clone()));
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            m => {
                let Some((later_view, claimed)) = later_claim(m) else {
                    return;
                };
                if let Some(views) = self.index.get(&slot_of(MessageKind::Vote2)) {
                    // The highest Vote2 below the later message's view is the strongest lock.
                    if let Some((locked, entry)) = views.range(..later_view).next_back() {
                        if claimed < *locked {
                            candidates.push((entry.message.clone(), signed.clone()));
                        }
                    }
                }
            }
        }
        for (locked, later) in candidates {
            self.stats.conflicts += 1;
            if let Confirmed::Evidence(e) =
                self.confirm(Evidence::LockViolation { locked, later }, epoch, verifier)
            {
                out.push(e);
                return;
            }
        }
    }

    /// Stateless proposal rules, cheapest first; only a proposal that breaks one is verified.
    fn check_proposal(
        &mut self,
        signed: &SignedMessage,
        epoch: &EpochView,
        verifier: &impl Verifier,
        out: &mut Vec<Evidence>,
    ) {
        let Message::Proposal(p) = &signed.message else {
            return;
        };
        let justify = &p.justify;
        let justify_set = epoch.justify_set(justify.epoch);
        let mut violation = None;
        if epoch.schedule.leader(p.view) != Some(signed.signer) {
            violation = Some(ProposalViolation::WrongLeader);
        } else if p.block.proposer != signed.signer {
            violation = Some(ProposalViolation::ProposerNotSigner);
        } else if justify.kind == CertificateKind::Timeout {
            violation = Some(ProposalViolation::JustifyNotBlockCertificate);
        } else if justify.view >= p.view {
            violation = Some(ProposalViolation::JustifyNotOlder);
        } else if p.block.parent_hash != justify.block_hash {
            violation = Some(ProposalViolation::ParentMismatch);
        } else if justify.is_genesis() {
            if p.block.height != 1 {
                violation = Some(ProposalViolation::HeightMismatch);
            }
        } else if let Some(set) = justify_set {
            violation = certificate_shape(justify, set).or_else(|| {
                self.headers
                    .get(&justify.block_hash)
                    .filter(|h| p.block.height != h.height.saturating_add(1))
                    .map(|_| ProposalViolation::HeightMismatch)
            });
            if violation.is_none() {
                violation = self.certificate_signatures(justify, set, epoch.chain_id, verifier);
            }
        }
        let Some(violation) = violation else {
            return;
        };
        self.stats.conflicts += 1;
        let parent = match violation {
            ProposalViolation::HeightMismatch => self.headers.get(&justify.block_hash).cloned(),
            _ => None,
        };
        let candidate = Evidence::InvalidProposal {
            proposal: signed.clone(),
            parent,
            violation,
        };
        if let Confirmed::Evidence(e) = self.confirm(candidate, epoch, verifier) {
            out.push(e);
        }
    }

    /// Indexes the votes inside a certificate as the signed messages they are: each
    /// `(signer, lock_view, signature)` entry is a `Vote`, `Vote2` or `Timeout` its signer
    /// signed, so a certificate of one branch and one of another prove double votes and lock
    /// violations like the votes themselves. Only a certificate of `epoch` that verifies (once,
    /// and remembered) is taken apart: a forged one could otherwise fill the index with entries
    /// that cost a signature check each to dislodge.
    pub fn observe_certificate(
        &mut self,
        cert: &Certificate,
        epoch: &EpochView,
        view: u64,
        verifier: &impl Verifier,
        out: &mut Vec<Evidence>,
    ) {
        if cert.is_genesis() || cert.epoch != epoch.set.epoch {
            return;
        }
        let key = (
            cert.kind as u8,
            cert.epoch,
            cert.view,
            cert.block_hash,
            cert.justify_view,
            cert.signatures.len(),
        );
        if self.ingested_certs.contains(&key)
            || cert.view.saturating_add(INDEX_VIEWS_BEHIND) < view
            || cert.view > view.saturating_add(INDEX_VIEWS_AHEAD)
        {
            return;
        }
        if certificate_shape(cert, &epoch.set).is_some()
            || self
                .certificate_signatures(cert, &epoch.set, epoch.chain_id, verifier)
                .is_some()
        {
            return;
        }
        if self.ingested_order.len() >= MAX_INGESTED_CERTS {
            if let Some(old) = self.ingested_order.pop_front() {
                self.ingested_certs.remove(&old);
            }
        }
        self.ingested_certs.insert(key);
        self.ingested_order.push_back(key);
        self.stats.certificates += 1;
        for part in cert.signatures.iter() {
            self.observe(&part_message(cert, part), epoch, view, verifier, out);
        }
    }

    /// Whether `cert` is a block certificate of a known epoch signed by a quorum of its set,
    /// every signature valid. Cheap checks come first and a forged signature stops the check;
    /// a certificate found valid is remembered, so each is verified once.
    pub fn certificate_valid(
        &mut self,
        cert: &Certificate,
        epoch: &EpochView,
        verifier: &impl Verifier,
    ) -> bool {
        if cert.kind != CertificateKind::Vote || cert.is_genesis() {
            return false;
        }
        let Some(set) = epoch.justify_set(cert.epoch) else {
            return false;
        };
        certificate_shape(cert, set).is_none()
            && self
                .certificate_signatures(cert, set, epoch.chain_id, verifier)
                .is_none()
    }

    /// Verifies `cert`'s signatures (once: valid certificates are remembered); the first bad
    /// one is the violation.
    fn certificate_signatures(
        &mut self,
        cert: &Certificate,
        set: &ValidatorSet,
        chain_id: u64,
        verifier: &impl Verifier,
    ) -> Option<ProposalViolation> {
        if self.verified_certs.contains(cert) {
            return None;
        }
        self.stats.verifications += 1;
        let bad = cert.signatures.iter().position(|part| {
            set.get(part.signer).is_none_or(|v| {
                !verifier.verify(
                    &v.key,
                    &cert
                        .signed_message(part)
                        .signing_bytes(chain_id, cert.epoch),
                    &part.signature,
                )
            })
        });
        match bad {
            Some(position) => Some(ProposalViolation::BadCertificateSignature {
                position: position as u32,
            }),
            None => {
                if self.verified_certs.len() >= MAX_VERIFIED_CERTS {
                    self.verified_certs.pop_front();
                }
                self.verified_certs.push_back(cert.clone());
                None
            }
        }
    }

    /// Checks a candidate with the module's own code; reports each offence once.
    fn confirm(
        &mut self,
        candidate: Evidence,
        epoch: &EpochView,
        verifier: &impl Verifier,
    ) -> Confirmed {
        let Ok(offence) = candidate.offence() else {
            return Confirmed::Nothing;
        };
        if self.reported.contains(&offence) {
            return Confirmed::Nothing;
        }
        self.stats.verifications += 1;
        // The chain's own rule; a justify of an epoch this host holds no set for is unprovable here.
        let Ok(justify_set) = candidate.justify_set(&epoch.set, |e| {
            epoch
                .justify_set(e)
                .cloned()
                .ok_or(Error::UnknownEpoch { epoch: e })
        }) else {
            return Confirmed::Nothing;
        };
        match candidate.verify(
            epoch.chain_id,
            &epoch.set,
            &epoch.schedule,
            &*justify_set,
            verifier,
        ) {
            Ok(()) => {
                self.claim(offence);
                self.stats.evidence += 1;
                Confirmed::Evidence(candidate)
            }
            Err(_) => {
                let first_bad = match &candidate {
                    Evidence::DoubleVote { first, .. } | Evidence::DoubleProposal { first, .. } => {
                        !epoch.verify_message(first, verifier)
                    }
                    _ => false,
                };
                if first_bad {
                    Confirmed::FirstInvalid
                } else {
                    Confirmed::Nothing
                }
            }
        }
    }

    fn remember_header(&mut self, header: &BlockHeader) {
        let hash = header.hash();
        if self.headers.contains_key(&hash) {
            return;
        }
        if self.headers.len() >= MAX_HEADERS {
            if let Some(old) = self.header_order.pop_front() {
                self.headers.remove(&old);
            }
        }
        self.headers.insert(hash, header.clone());
        self.header_order.push_back(hash);
    }

    /// Marks `offence` as reported; `false` if it already was.
    pub fn claim(&mut self, offence: OffenceKey) -> bool {
        if self.reported.contains(&offence) {
            return false;
        }
        if self.reported.len() >= MAX_REPORTED {
            if let Some(old) = self.reported_order.pop_front() {
                self.reported.remove(&old);
            }
        }
        self.reported.insert(offence);
        self.reported_order.push_back(offence);
        true
    }

    /// Whether `cert` verified here (among the certificates remembered).
    pub fn is_verified(&self, cert: &Certificate) -> bool {
        self.verified_certs.contains(cert)
    }

    /// Whether `offence` was already reported.
    pub fn reported(&self, offence: &OffenceKey) -> bool {
        self.reported.contains(offence)
    }
}

// Short-lived and never stored in bulk.
#[allow(clippy::large_enum_variant)]
enum Confirmed {
    Evidence(Evidence),
    FirstInvalid,
    Nothing,
}
