//! Byzantine behaviours, composable per validator. A Byzantine replica runs the honest code
//! and consults its [`Adversary`] at each decision; what it changes is listed per behaviour.

use serde::{Deserialize, Serialize};

/// How an invalid proposal is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidKind {
    /// Proposes in every view it does not lead.
    WrongLeader,
    /// As leader, justifies with a certificate whose signatures are forged.
    ForgedCertificate,
    /// As leader, justifies with a certificate signed by itself alone.
    ShortCertificate,
}

/// One Byzantine behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attack {
    /// Votes for every block it sees in a view, and for one made-up block, in phase 1 or 2.
    DoubleVote {
        /// 1 (`Vote`) or 2 (`Vote2`).
        phase: u8,
    },
    /// As leader, proposes two blocks and sends each, and everything certifying it, to half
    /// of the honest replicas (and to every faulty one).
    DoubleProposal,
    /// Times out claiming no lock, votes whatever its lock, and as leader extends genesis.
    LockViolation,
    /// Sends proposals that break a stateless rule.
    InvalidProposal {
        /// Which rule.
        invalid: InvalidKind,
    },
    /// Never proposes.
    ProposalWithholding,
    /// Never votes, in either phase.
    VoteWithholding,
    /// Sends `per_view` junk messages (bad signatures, far views, oversized certificates) to
    /// everyone in every view.
    Flooding {
        /// Junk messages per view (at most 1,000).
        per_view: u32,
    },
    /// Delays every message it sends.
    TimingManipulation {
        /// The added delay, in microseconds.
        delay_us: u64,
    },
    /// Talks only to these nodes.
    SelectiveConnectivity {
        /// The nodes it sends to.
        peers: Vec<u32>,
    },
    /// Amnesia: from `forget_us` it acts as if it had seen nothing after `remember_us`. It
    /// goes back to the highest certificate it held then (its lock and the justify it
    /// proposes with) and votes for any proposal whatever its lock. It still signs at most one
    /// message of each kind per view, so it never double votes: with a partition that puts it
    /// beside one half of the network until `forget_us` and beside the other after, a coalition
    /// of more than f forks the chain by lock violations alone.
    Amnesia {
        /// When it takes the snapshot it will return to.
        remember_us: u64,
        /// When it returns to it.
        forget_us: u64,
    },
}

impl Attack {
    /// The behaviour's name without its parameters (as in scenario files, phase and kind
    /// kept where they change the offence).
    pub fn name(&self) -> &'static str {
        match self {
            Attack::DoubleVote { phase: 2 } => "double_vote (phase 2)",
            Attack::DoubleVote { .. } => "double_vote (phase 1)",
            Attack::DoubleProposal => "double_proposal",
            Attack::LockViolation => "lock_violation",
            Attack::InvalidProposal {
                invalid: InvalidKind::WrongLeader,
            } => "invalid_proposal (wrong_leader)",
            Attack::InvalidProposal {
                invalid: InvalidKind::ForgedCertificate,
            } => "invalid_proposal (forged_certificate)",
            Attack::InvalidProposal {
                invalid: InvalidKind::ShortCertificate,
            } => "invalid_proposal (short_certificate)",
            Attack::ProposalWithholding => "proposal_withholding",
            Attack::VoteWithholding => "vote_withholding",
            Attack::Flooding { .. } => "flooding",
            Attack::TimingManipulation { .. } => "timing_manipulation",
            Attack::SelectiveConnectivity { .. } => "selective_connectivity",
            Attack::Amnesia { .. } => "amnesia",
        }
    }
}

/// The most junk messages per view a flooding adversary may be configured with.
pub const MAX_FLOOD_PER_VIEW: u32 = 1_000;

/// The behaviours of one Byzantine validator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adversary {
    /// The behaviours, all active at once.
    pub behaviours: Vec<Attack>,
}

impl Adversary {
    /// Whether it double votes in `phase`.
    pub fn double_votes(&self, phase: u8) -> bool {
        self.behaviours
            .iter()
            .any(|b| matches!(b, Attack::DoubleVote { phase: p } if *p == phase))
    }

    /// Whether it has `behaviour` (compared by kind for the unit variants).
    pub fn has(&self, behaviour: &Attack) -> bool {
        self.behaviours.contains(behaviour)
    }

    /// The kind of invalid proposal it sends, if any.
    pub fn invalid_proposal(&self) -> Option<InvalidKind> {
        self.behaviours.iter().find_map(|b| match b {
            Attack::InvalidProposal { invalid } => Some(*invalid),
            _ => None,
        })
    }

    /// Junk messages per view.
    pub fn flood_per_view(&self) -> u32 {
        self.behaviours
            .iter()
            .map(|b| match b {
                Attack::Flooding { per_view } => (*per_view).min(MAX_FLOOD_PER_VIEW),
                _ => 0,
            })
            .sum::<u32>()
            .min(MAX_FLOOD_PER_VIEW)
    }

    /// The delay it adds to its own messages.
    pub fn delay_us(&self) -> u64 {
        self.behaviours
            .iter()
            .map(|b| match b {
                Attack::TimingManipulation { delay_us } => *delay_us,
                _ => 0,
            })
            .fold(0u64, u64::saturating_add)
    }

    /// When it remembers and when it forgets, if it has amnesia.
    pub fn amnesia(&self) -> Option<(u64, u64)> {
        self.behaviours.iter().find_map(|b| match b {
            Attack::Amnesia {
                remember_us,
                forget_us,
            } => Some((*remember_us, *forget_us)),
            _ => None,
        })
    }

    /// The only nodes it sends to, if it restricts itself.
    pub fn peers(&self) -> Option<&[u32]> {
        self.behaviours.iter().find_map(|b| match b {
            Attack::SelectiveConnectivity { peers } => Some(peers.as_slice()),
            _ => None,
        })
    }
}
