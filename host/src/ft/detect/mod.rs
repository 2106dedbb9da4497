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
            for s in t2.on_view(at_us, view) {
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
                        t2.on_certificate(None, &p.justify);
                    }
                } else if let Some(t2) = self.tier2.as_mut() {
                    t2.on_junk(from);
                }
            }
            Observed::Certificate(cert) => {
                if let Some(t2) = self.tier2.as_mut() {
                    t2.on_certificate(Some(from), cert);
                }
            }
            Observed::Junk => {
                if let Some(t2) = self.tier2.as_mut() {
                    t2.on_junk(from);
                }
            }
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
        for e in evidence {
            if let Ok(offence) = e.offence() {
                out.push(Finding::Evidence {
                    offence,
                    evidence: e,
                });
            }
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

    /// Messages in the Tier 1 index.
    pub fn indexed(&self) -> usize {
        self.tier1.len()
    }
}
