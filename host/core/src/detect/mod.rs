//! The [`ByzantineDetector`]: fed every consensus message its validator sees, it yields Tier 1
//! evidence at once ([`tier1`]) and Tier 2 suspicions over a window ([`tier2`]), which become
//! accusations once peers who saw the same co-sign them.
//!
//! Architecture invariant: Tier 1 findings are confirmed with the module's own
//! `Evidence::offence` and `Evidence::verify` before they leave the detector, so the chain
//! accepts every piece of evidence the detector reports.

pub mod tier1;
pub mod tier2;

use std::collections::BTreeMap;

use warden_module::crypto::Verifier;
use warden_module::evidence::{Accusation, Evidence, OffenceKey};
use warden_module::schedule::LeaderSchedule;
use warden_module::validators::ValidatorSet;
use warden_module::wire::{Certificate, Message, OperatorId, SignedMessage};

pub use tier1::Tier1;
pub use tier2::{Suspicion, Tier2};

use super::config::DetectionConfig;

/// What the detector knows of one epoch: its set and leader schedule.
#[derive(Clone, Debug)]
pub struct EpochView {
    /// The chain id bound into signatures.
    pub chain_id: u64,
    /// The epoch's validator set.
    pub set: ValidatorSet,
    /// The epoch's leader schedule.
    pub schedule: LeaderSchedule,
    /// The previous epoch's set (a proposal early in an epoch may justify with its certificate).
    pub previous: Option<ValidatorSet>,
}

impl EpochView {
    /// The set that signs certificates of `epoch`, if known.
    pub fn justify_set(&self, epoch: u64) -> Option<&ValidatorSet> {
        if epoch == self.set.epoch {
            Some(&self.set)
        } else {
            self.previous.as_ref().filter(|s| s.epoch == epoch)
        }
    }

    /// Whether `msg`'s signature is valid under this epoch's set.
    pub fn verify_message(&self, msg: &SignedMessage, verifier: &impl Verifier) -> bool {
        self.set.get(msg.signer).is_some_and(|v| {
            verifier.verify(
                &v.key,
                &msg.message.signing_bytes(self.chain_id, msg.epoch),
                &msg.signature,
            )
        })
    }
}

/// One message as a host received it.
#[derive(Clone, Copy, Debug)]
pub enum Observed<'a> {
    /// A signed consensus message.
    Signed(&'a SignedMessage),
    /// A certificate.
    Certificate(&'a Certificate),
    /// Something that could not be decoded or placed.
    Junk,
}

/// What the detector found.
// Findings are handled as they come and never stored in bulk.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Tier 1: evidence the chain will accept.
    Evidence {
        /// The offence it proves.
        offence: OffenceKey,
        /// The evidence.
        evidence: Evidence,
    },
    /// Tier 2: a suspicion to turn into an accusation with co-signers.
    Suspicion(Suspicion),
}

/// Counters of the detector's work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DetectorStats {
    /// Messages observed.
    pub observed: u64,
    /// The Tier 1 detector's counters.
    pub tier1: tier1::Tier1Stats,
    /// Suspicions raised.
    pub suspicions: u64,
}

/// The online detector of one host.
#[derive(Debug)]
pub struct ByzantineDetector {
    cfg: DetectionConfig,
    me: OperatorId,
    epochs: BTreeMap<u64, EpochView>,
    tier1: Tier1,
    tier2: Option<Tier2>,
    view: u64,
    observed: u64,
    suspicions: u64,
}

/// Epochs whose sets the detector keeps.
const KEPT_EPOCHS: usize = 2;

impl ByzantineDetector {
    /// A detector run by operator `me`.
    pub fn new(me: OperatorId, cfg: DetectionConfig) -> Self {
        Self {
            tier1: Tier1::new(cfg.max_indexed_messages),
            cfg,
            me,
            epochs: BTreeMap::new(),
            tier2: None,
            view: 0,
            observed: 0,
            suspicions: 0,
        }
    }

    /// Starts judging a new epoch (its set and schedule as the chain decided them). Evidence of
    /// the previous epoch is still found; older epochs are forgotten.
    pub fn start_epoch(&mut self, chain_id: u64, set: ValidatorSet, schedule: LeaderSchedule) {
        let previous = self.epochs.values().next_back().map(|e| e.set.clone());
        let epoch = set.epoch;
        self.tier2 = Some(Tier2::new(self.cfg.clone(), self.me, &set));
        self.epochs.insert(
            epoch,
            EpochView {
                chain_id,
                set,
                schedule,
                previous,
            },
        );
        while self.epochs.len() > KEPT_EPOCHS {
            self.epochs.pop_first();
        }
        if let Some(oldest) = self.epochs.keys().next() {
            self.tier1.forget_before(*oldest);
        }
        self.view = 0;
    }

    /// The current epoch, if one started.
    pub fn epoch(&self) -> Option<u64> {
        self.epochs.keys().next_back().copied()
    }

    /// The host's replica entered `view` at `at_us`.
    pub fn on_view(&mut self, at_us: u64, view: u64, out: &mut Vec<Finding>) {
        self.view = self.view.max(view);
        if !self.cfg.byzantine_detection_enabled {
            return;
        }
        if let Some(t2) = self.tier2.as_mut() {
            let schedule = self.epochs.get(&t2.epoch()).map(|e| &e.schedule);
            for s in t2.on_view(at_us, view, |v| schedule.and_then(|s| s.leader(v))) {
                self.suspicions += 1;
                out.push(Finding::Suspicion(s));
            }
        }
    }

    /// One message received at `at_us` over the link from operator `from`.
    pub fn observe(
        &mut self,
        at_us: u64,
        from: OperatorId,
        observed: Observed<'_>,
        verifier: &impl Verifier,
        out: &mut Vec<Finding>,
    ) {
        self.observed += 1;
        if !self.cfg.byzantine_detection_enabled {
            return;
        }
        match observed {
            Observed::Signed(signed) => {
                self.tier1_observe(signed, verifier, out);
                let schedule = self.epochs.get(&signed.epoch).map(|e| &e.schedule);
                if let Some(t2) = self.tier2.as_mut().filter(|t| t.epoch() == signed.epoch) {
                    t2.on_message(at_us, from, signed.signer, &signed.message, |v| {
                        schedule.and_then(|s| s.leader(v))
                    });
                    if let Message::Proposal(p) = &signed.message {
                        self.tier2_certificate(None, &p.justify, verifier);
                    }
                } else if let Some(t2) = self.tier2.as_mut() {
                    t2.on_junk(from);
                }
                if let Message::Proposal(p) = &signed.message {
                    self.tier1_certificate(&p.justify, verifier, out);
                }
            }
            Observed::Certificate(cert) => {
                self.tier2_certificate(Some(from), cert, verifier);
                self.tier1_certificate(cert, verifier, out);
            }
            Observed::Junk => {
                if let Some(t2) = self.tier2.as_mut() {
                    t2.on_junk(from);
                }
            }
        }
    }

    /// Tier 2 reads who signed a certificate as proof that they were voting, so it is told
    /// only of certificates that verify: a forged one could otherwise frame honest validators.
    /// A certificate that does not verify still counts towards its sender's traffic.
    fn tier2_certificate(
        &mut self,
        from: Option<OperatorId>,
        cert: &Certificate,
        verifier: &impl Verifier,
    ) {
        let Some(t2) = self.tier2.as_mut() else {
            return;
        };
        let valid = cert.epoch == t2.epoch()
            && t2.in_window(cert.view)
            && self
                .epochs
                .get(&cert.epoch)
                .is_some_and(|e| self.tier1.certificate_valid(cert, e, verifier));
        match (valid, from) {
            (true, _) => t2.on_certificate(from, cert),
            (false, Some(from)) => t2.on_junk(from),
            (false, None) => {}
        }
    }

    /// A message a peer's host forwarded (not received from its signer): only the Tier 1
    /// conflict index looks at it, since it says nothing about the link it came over.
    pub fn observe_forwarded(
        &mut self,
        signed: &SignedMessage,
        verifier: &impl Verifier,
        out: &mut Vec<Finding>,
    ) {
        self.observed += 1;
        if !self.cfg.byzantine_detection_enabled {
            return;
        }
        self.tier1_observe(signed, verifier, out);
    }

    /// A certificate from a peer (not necessarily received from its signers): only its votes
    /// are looked at, by the Tier 1 index, as after a fork when hosts exchange what they hold.
    pub fn observe_shared_certificate(
        &mut self,
        cert: &Certificate,
        verifier: &impl Verifier,
        out: &mut Vec<Finding>,
    ) {
        self.observed += 1;
        if self.cfg.byzantine_detection_enabled {
            self.tier1_certificate(cert, verifier, out);
        }
    }

    /// Tier 1 over the votes inside a certificate of a kept epoch.
    fn tier1_certificate(
        &mut self,
        cert: &Certificate,
        verifier: &impl Verifier,
        out: &mut Vec<Finding>,
    ) {
        let Some(epoch) = self.epochs.get(&cert.epoch) else {
            return;
        };
        let mut evidence = Vec::new();
        self.tier1
            .observe_certificate(cert, epoch, self.view, verifier, &mut evidence);
        push_evidence(evidence, out);
    }

    /// Tier 1 over one signed message of a kept epoch; confirmed evidence becomes findings.
    fn tier1_observe(
        &mut self,
        signed: &SignedMessage,
        verifier: &impl Verifier,
        out: &mut Vec<Finding>,
    ) {
        let Some(epoch) = self.epochs.get(&signed.epoch) else {
            return;
        };
        let mut evidence = Vec::new();
        self.tier1
            .observe(signed, epoch, self.view, verifier, &mut evidence);
        push_evidence(evidence, out);
    }

    /// `operator` is cut off from this host by a split: see [`Tier2::excuse`].
    pub fn excuse(&mut self, operator: OperatorId) {
        if let Some(t2) = self.tier2.as_mut() {
            t2.excuse(operator);
        }
    }

    /// Whether this host would co-sign `accusation`: it saw the same behaviour itself.
    pub fn endorses(&self, accusation: &Accusation) -> bool {
        accusation.accused != self.me
            && self.tier2.as_ref().is_some_and(|t| {
                t.endorses(accusation.accused, accusation.behaviour, accusation.epoch)
            })
    }

    /// The epoch view of `epoch`, if kept.
    pub fn epoch_view(&self, epoch: u64) -> Option<&EpochView> {
        self.epochs.get(&epoch)
    }

    /// Current Tier 2 suspicions.
    pub fn suspicions(&self) -> Vec<Suspicion> {
        self.tier2
            .as_ref()
            .map(|t| t.suspicions().copied().collect())
            .unwrap_or_default()
    }

    /// Work counters.
    pub fn stats(&self) -> DetectorStats {
        DetectorStats {
            observed: self.observed,
            tier1: self.tier1.stats,
            suspicions: self.suspicions,
        }
    }

    /// Whether `cert` verified in this detector (it remembers the last few hundred).
    pub fn verified(&self, cert: &Certificate) -> bool {
        cert.is_genesis() || self.tier1.is_verified(cert)
    }

    /// Marks `offence` as reported; `false` if it already was (evidence found elsewhere, such
    /// as by forensics, is submitted once).
    pub fn claim(&mut self, offence: OffenceKey) -> bool {
        self.tier1.claim(offence)
    }

    /// Messages in the Tier 1 index.
    pub fn indexed(&self) -> usize {
        self.tier1.len()
    }
}

fn push_evidence(evidence: Vec<Evidence>, out: &mut Vec<Finding>) {
    for e in evidence {
        if let Ok(offence) = e.offence() {
            out.push(Finding::Evidence {
                offence,
                evidence: e,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ops::RangeInclusive;

    use warden_module::crypto::Ed25519Strict;
    use warden_module::evidence::Behaviour;
    use warden_module::wire::{CertificateKind, Hash, Signature};

    use super::*;
    use warden_testkit::TestNetwork;

    /// What validator 3 does, as seen by the host of validator 0.
    #[derive(Clone, Copy, PartialEq)]
    enum Peer3 {
        /// Proposes in its views but never votes.
        WithholdsVotes,
        /// Proposes to and votes for everyone but validator 0.
        ShunsMe,
        /// Down in these views (no message, no signature), honest otherwise.
        Down(u64, u64),
        /// Down for good, while validator 1 forges certificates naming it.
        DownAndFramed,
    }

    /// Runs `views` of a 4-validator network as validator 0's detector sees them and returns
    /// every suspicion it raised.
    fn run(peer3: Peer3, views: RangeInclusive<u64>, window: u64) -> Vec<Suspicion> {
        let net = TestNetwork::new(7, 4);
        let cfg = DetectionConfig {
            pattern_analysis_window: window,
            ..DetectionConfig::default()
        };
        let mut det = ByzantineDetector::new(0, cfg);
        det.start_epoch(net.chain_id, net.set(), net.schedule());
        let verifier = Ed25519Strict;
        let mut found = Vec::new();
        let mut keep = |out: Vec<Finding>| {
            for f in out {
                if let Finding::Suspicion(s) = f {
                    found.push(s);
                }
            }
        };
        for view in views {
            let at = view * 20_000;
            let mut out = Vec::new();
            det.on_view(at, view, &mut out);
            let down = match peer3 {
                Peer3::Down(from, to) => (from..=to).contains(&view),
                Peer3::DownAndFramed => true,
                _ => false,
            };
            let leader = net.leader(view);
            let proposal = net.proposal(leader, view, view as u8);
            let Message::Proposal(p) = &proposal.message else {
                unreachable!()
            };
            let hash: Hash = p.block.hash();
            let heard_by_me = !(leader == 3 && (down || peer3 == Peer3::ShunsMe));
            if heard_by_me {
                det.observe(
                    at + 1_000,
                    leader,
                    Observed::Signed(&proposal),
                    &verifier,
                    &mut out,
                );
            }
            // Who votes for this leader's block.
            let three_votes = !down
                && match peer3 {
                    Peer3::WithholdsVotes => false,
                    Peer3::ShunsMe => leader != 0,
                    _ => true,
                };
            let mut signers = if leader == 3 && peer3 == Peer3::ShunsMe {
                vec![1, 2]
            } else {
                vec![0, 1, 2]
            };
            if three_votes {
                signers.push(3);
            }
            if leader == 0 {
                for voter in signers.iter().copied().filter(|v| *v != 0) {
                    let vote = net.vote(voter, view, hash, 0);
                    det.observe(
                        at + 2_000,
                        voter,
                        Observed::Signed(&vote),
                        &verifier,
                        &mut out,
                    );
                }
            }
            if !(leader == 3 && down) {
                let cert = net.certificate(CertificateKind::Vote, view, hash, 0, &signers);
                det.observe(
                    at + 3_000,
                    1,
                    Observed::Certificate(&cert),
                    &verifier,
                    &mut out,
                );
            }
            if peer3 == Peer3::DownAndFramed {
                // Validator 1 floods certificates naming everyone; 3's part is made up.
                let mut forged = net.certificate(CertificateKind::Vote, view, hash, 0, &[0, 1, 2]);
                let mut parts = forged.signatures.to_vec();
                let mut fake = parts[0];
                fake.signer = 3;
                fake.signature = Signature([7; 64]);
                parts.push(fake);
                forged.signatures = warden_module::codec::BoundedVec::new(parts).expect("small");
                det.observe(
                    at + 4_000,
                    1,
                    Observed::Certificate(&forged),
                    &verifier,
                    &mut out,
                );
            }
            keep(out);
        }
        found
    }

    fn accused_of(found: &[Suspicion], behaviour: Behaviour) -> bool {
        found
            .iter()
            .any(|s| s.accused == 3 && s.behaviour == behaviour)
    }

    #[test]
    fn a_peer_that_proposes_but_never_votes_for_this_host_is_suspected_of_vote_withholding() {
        let found = run(Peer3::WithholdsVotes, 1..=60, 32);
        assert!(accused_of(&found, Behaviour::VoteWithholding), "{found:?}");
    }

    #[test]
    fn a_peer_that_votes_for_others_but_shuns_this_host_is_suspected_of_selective_connectivity() {
        let found = run(Peer3::ShunsMe, 1..=60, 32);
        assert!(
            accused_of(&found, Behaviour::SelectiveConnectivity),
            "{found:?}"
        );
    }

    #[test]
    fn forged_certificates_naming_a_down_validator_do_not_frame_it() {
        let found = run(Peer3::DownAndFramed, 1..=60, 32);
        assert!(found.iter().all(|s| s.accused != 3), "{found:?}");
    }

    #[test]
    fn a_validator_back_from_a_crash_is_not_accused_of_the_votes_it_missed() {
        for (from, to) in [(10, 17), (10, 25), (5, 40)] {
            let found = run(Peer3::Down(from, to), 1..=60, 8);
            assert!(
                found.iter().all(|s| s.accused != 3),
                "down {from}..={to}: {found:?}"
            );
        }
    }

    /// Five validators seen by validator 0; proposals come 5 ms after this host enters a
    /// view, but validator 4's come 60 ms late. With `after_failures`, the view before each
    /// of 4's views fails (no certificate), so 4 may wait for the highest lock before it
    /// proposes; otherwise every view is certified and 4's delay is its own.
    fn late_leader_suspicions(after_failures: bool) -> Vec<Suspicion> {
        let net = TestNetwork::new(11, 5);
        let mut det = ByzantineDetector::new(0, DetectionConfig::default());
        det.start_epoch(net.chain_id, net.set(), net.schedule());
        let verifier = Ed25519Strict;
        let mut out = Vec::new();
        for view in 1..=120u64 {
            let at = view * 100_000;
            det.on_view(at, view, &mut out);
            let leader = net.leader(view);
            let proposal = net.proposal(leader, view, view as u8);
            let Message::Proposal(p) = &proposal.message else {
                unreachable!()
            };
            let hash: Hash = p.block.hash();
            let delay = if leader == 4 { 60_000 } else { 5_000 };
            if leader != 0 {
                det.observe(
                    at + delay,
                    leader,
                    Observed::Signed(&proposal),
                    &verifier,
                    &mut out,
                );
            }
            let next_is_4 = net.leader(view + 1) == 4;
            if !(after_failures && next_is_4) {
                let cert = net.certificate(CertificateKind::Vote, view, hash, 0, &[0, 1, 2, 3]);
                det.observe(
                    at + 70_000,
                    1,
                    Observed::Certificate(&cert),
                    &verifier,
                    &mut out,
                );
            }
        }
        out.into_iter()
            .filter_map(|f| match f {
                Finding::Suspicion(s) => Some(s),
                Finding::Evidence { .. } => None,
            })
            .collect()
    }

    #[test]
    fn a_proposal_after_a_failed_view_is_not_timed_for_timing_manipulation() {
        let timing_of_4 = |found: &[Suspicion]| {
            found
                .iter()
                .any(|s| s.accused == 4 && s.behaviour == Behaviour::TimingManipulation)
        };
        let found = late_leader_suspicions(false);
        assert!(
            timing_of_4(&found),
            "a late leader after certified views: {found:?}"
        );
        let found = late_leader_suspicions(true);
        assert!(
            !timing_of_4(&found),
            "a leader waiting after failed views: {found:?}"
        );
    }

    fn tier1_findings(certificates: &[Certificate], net: &TestNetwork) -> Vec<Evidence> {
        let mut det = ByzantineDetector::new(3, DetectionConfig::default());
        det.start_epoch(net.chain_id, net.set(), net.schedule());
        det.on_view(0, 6, &mut Vec::new());
        let mut out = Vec::new();
        for cert in certificates {
            det.observe(1, 2, Observed::Certificate(cert), &Ed25519Strict, &mut out);
        }
        out.into_iter()
            .filter_map(|f| match f {
                Finding::Evidence { evidence, .. } => Some(evidence),
                Finding::Suspicion(_) => None,
            })
            .collect()
    }

    #[test]
    fn votes_inside_certificates_of_two_branches_prove_lock_violations() {
        let net = TestNetwork::new(5, 4);
        // Validators 0, 1, 2 lock on block 1 at view 2; 0, 1, 3 later vote at view 4 for a
        // block justified below it.
        let c2 = net.certificate(CertificateKind::Vote2, 2, [1; 32], 0, &[0, 1, 2]);
        let qc = net.certificate(CertificateKind::Vote, 4, [2; 32], 0, &[0, 1, 3]);
        for order in [[c2.clone(), qc.clone()], [qc, c2]] {
            let found = tier1_findings(&order, &net);
            let offenders: Vec<OperatorId> = found
                .iter()
                .filter(|e| matches!(e, Evidence::LockViolation { .. }))
                .map(|e| e.offence().expect("confirmed").operator)
                .collect();
            assert_eq!(offenders, vec![0, 1], "{found:?}");
        }
    }

    #[test]
    fn two_certificates_of_one_view_for_different_blocks_prove_double_votes() {
        let net = TestNetwork::new(5, 4);
        let a = net.certificate(CertificateKind::Vote2, 3, [1; 32], 0, &[0, 1, 2]);
        let b = net.certificate(CertificateKind::Vote2, 3, [2; 32], 0, &[1, 2, 3]);
        let found = tier1_findings(&[a, b], &net);
        let offenders: Vec<OperatorId> = found
            .iter()
            .map(|e| e.offence().expect("confirmed").operator)
            .collect();
        assert_eq!(offenders, vec![1, 2], "{found:?}");
    }

    #[test]
    fn a_certificate_that_does_not_verify_lends_its_votes_to_no_evidence() {
        let net = TestNetwork::new(5, 4);
        let c2 = net.certificate(CertificateKind::Vote2, 3, [1; 32], 0, &[0, 1, 2]);
        let mut forged = net.certificate(CertificateKind::Vote2, 3, [2; 32], 0, &[0, 1, 2]);
        let mut parts = forged.signatures.to_vec();
        parts[2].signature = Signature([9; 64]);
        forged.signatures = warden_module::codec::BoundedVec::new(parts).expect("small");
        assert!(tier1_findings(&[c2, forged], &net).is_empty());
    }
}
