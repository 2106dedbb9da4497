//! Tier 2: behaviour no signature proves, witnessed over a window of views.
//!
//! Each host judges only what reached it over its own links (channels are authenticated, so
//! the sending peer of every message is known) and accuses only peers it has seen alive:
//! - proposal withholding: a leader that sent this host a message in its own view but no
//!   proposal;
//! - vote withholding: a peer that sent no vote for this host's proposal in a view that reached a
//!   quorum, and was seen alive in a later view;
//! - selective connectivity: a leader whose view was certified (so it reached others) while this
//!   host got no proposal from it;
//! - flooding: a peer whose messages per view exceed the threshold and are a robust outlier
//!   (modified z-score over the median absolute deviation) among all peers;
//! - timing manipulation: a peer whose median lateness exceeds the network's median by the
//!   threshold and is a robust outlier.
//!
//! All state is per epoch, per validator of the set, and limited to the window, so memory is
//! bounded by the window whatever peers send.

use std::collections::{BTreeMap, VecDeque};

use warden_module::evidence::{Accusation, Behaviour};
use warden_module::validators::ValidatorSet;
use warden_module::wire::{Certificate, CertificateKind, Hash, Message, OperatorId};

use crate::config::DetectionConfig;

/// Views after a view closes before it is judged (late messages still count).
pub const GRACE_VIEWS: u64 = 2;
/// Views after a missed vote within which the peer must show it was alive (a direct message,
/// or its vote in another leader's certificate) for the miss to count: longer silences are
/// crashes or partitions, not withholding.
const CONFIRM_VIEWS: u64 = 8;
/// Lateness samples kept per peer.
const MAX_SAMPLES: usize = 64;
/// Views whose message counts are kept per peer.
const MAX_COUNTED_VIEWS: usize = 256;

/// What a host suspects a peer of, with the measured figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Suspicion {
    /// The suspect.
    pub accused: OperatorId,
    /// The behaviour.
    #[serde(serialize_with = "behaviour_name")]
    pub behaviour: Behaviour,
    /// The epoch.
    pub epoch: u64,
    /// First view of the evidence window.
    pub first_view: u64,
    /// Last view of the evidence window.
    pub last_view: u64,
    /// The measured figure: missed views, messages per view, or milliseconds of lateness.
    pub measured: u64,
}

impl From<Suspicion> for Accusation {
    fn from(s: Suspicion) -> Self {
        Accusation {
            accused: s.accused,
            behaviour: s.behaviour,
            epoch: s.epoch,
            first_view: s.first_view,
            last_view: s.last_view,
            measured: s.measured,
        }
    }
}

fn behaviour_name<S: serde::Serializer>(b: &Behaviour, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{b:?}"))
}

#[derive(Clone, Debug, Default)]
struct ViewRecord {
    entered_us: Option<u64>,
    leader: Option<OperatorId>,
    proposal_from_leader: bool,
    heard_leader: bool,
    certified: bool,
    my_proposal: Option<(Hash, u64)>,
    voters: Vec<bool>,
    /// Peers seen still sending in an older view while this host was in this one.
    behind: Vec<bool>,
    /// This host timed the view out: what arrives later is not sampled for lateness.
    timed_out: bool,
    judged: bool,
}

#[derive(Clone, Debug, Default)]
struct PeerRecord {
    proposal_misses: VecDeque<u64>,
    vote_misses_pending: VecDeque<u64>,
    vote_misses: VecDeque<u64>,
    selective_misses: VecDeque<u64>,
    /// Views it led (chances to propose).
    led: VecDeque<u64>,
    /// Views of this host's certified proposals it was not excused from (chances to vote).
    asked: VecDeque<u64>,
    counts: VecDeque<(u64, u64)>,
    lateness: [VecDeque<u64>; 2],
    last_heard_view: Option<u64>,
    last_signed_view: Option<u64>,
    /// Recent views it was heard from directly in, ascending.
    heard: VecDeque<u64>,
    /// Recent views whose certificates (of other leaders) carry its vote, ascending.
    signed: VecDeque<u64>,
    excused_through: u64,
}

/// Views of signs of life kept per peer: enough to cover the misses still pending.
const MAX_SIGNS: usize = 2 * CONFIRM_VIEWS as usize + GRACE_VIEWS as usize;

/// Records that a peer showed it was alive in `view`.
fn note_sign_of_life(signs: &mut VecDeque<u64>, view: u64) {
    if signs.back().is_some_and(|v| *v >= view) {
        if !signs.contains(&view) {
            // Out of order (a late message): kept in place, the deque stays sorted.
            let at = signs.partition_point(|v| *v < view);
            signs.insert(at, view);
            if signs.len() > MAX_SIGNS {
                signs.pop_front();
            }
        }
        return;
    }
    push_bounded(signs, view, MAX_SIGNS);
}

/// A sign of life in `view`: the misses pending before it are settled. A miss counts (moves
/// to `into`) when the peer showed it was alive after it, within [`CONFIRM_VIEWS`], and before
/// its next miss: misses with no sign of life between them are one silence, which one outage
/// explains (a crash and restart), so such a run counts once, as its last miss. A peer that
/// withholds while alive shows itself between its misses (its proposals, its timeouts, its
/// votes in others' certificates), and each miss counts.
fn confirm_misses(
    pending: &mut VecDeque<u64>,
    signs: &VecDeque<u64>,
    into: &mut VecDeque<u64>,
    view: u64,
) {
    while let Some(missed) = pending.front().copied() {
        if missed >= view {
            break;
        }
        pending.pop_front();
        let next = pending.front().copied().filter(|m| *m < view);
        let until = next.unwrap_or(view.saturating_add(1));
        let alive = signs
            .iter()
            .any(|s| *s > missed && *s < until && *s <= missed.saturating_add(CONFIRM_VIEWS));
        if alive {
            push_bounded(into, missed, MAX_COUNTED_VIEWS);
        }
    }
}

const LATE_PROPOSAL: usize = 0;
const LATE_VOTE: usize = 1;
/// Lateness samples a peer needs before it is judged.
const MIN_SAMPLES: usize = 4;
/// Peers with enough samples before anyone's timing is judged (robust statistics need a
/// population).
const MIN_TIMING_PEERS: usize = 4;
/// The smallest spread assumed among honest peers' lateness (network jitter), in microseconds.
const LATENESS_MAD_FLOOR_US: u64 = 1_000;

/// The Tier 2 detector of one epoch.
#[derive(Debug)]
pub struct Tier2 {
    cfg: DetectionConfig,
    me: OperatorId,
    epoch: u64,
    operators: Vec<OperatorId>,
    views: BTreeMap<u64, ViewRecord>,
    peers: Vec<PeerRecord>,
    view: u64,
    flagged: BTreeMap<(OperatorId, u8), (Suspicion, u64)>,
}

fn push_bounded<T>(q: &mut VecDeque<T>, item: T, max: usize) {
    if q.len() >= max {
        q.pop_front();
    }
    q.push_back(item);
}

/// The median of `values` (sorted in place); 0 when empty.
pub fn median(values: &mut [u64]) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        values[mid - 1] / 2 + values[mid] / 2 + (values[mid - 1] % 2 + values[mid] % 2) / 2
    }
}

/// Whether `x` is a high outlier of `population`: its modified z-score
/// `0.6745 (x - median) / MAD` exceeds `sensitivity`. With a zero MAD (most peers identical) any
/// value above the median is an outlier; callers also apply an absolute threshold.
pub fn is_high_outlier(x: u64, population: &[u64], sensitivity: f64) -> bool {
    is_high_outlier_floored(x, population, sensitivity, 0)
}

/// [`is_high_outlier`] with the MAD taken as at least `mad_floor` (the spread honest peers
/// show anyway, such as network jitter).
pub fn is_high_outlier_floored(
    x: u64,
    population: &[u64],
    sensitivity: f64,
    mad_floor: u64,
) -> bool {
    let mut values = population.to_vec();
    let med = median(&mut values);
    if x <= med {
        return false;
    }
    let mut deviations: Vec<u64> = population.iter().map(|v| v.abs_diff(med)).collect();
    let mad = median(&mut deviations).max(mad_floor);
    if mad == 0 {
        return true;
    }
    0.6745 * (x - med) as f64 / mad as f64 > sensitivity
}

/// A behaviour one judgement saw over the window: the measured figure and the views it spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    measured: u64,
    first: u64,
    last: u64,
}

/// The views of `q` in the window (already pruned to start at `from`) as a [`Seen`].
fn seen_in(q: &VecDeque<u64>, from: u64) -> Seen {
    Seen {
        measured: q.len() as u64,
        first: q.front().copied().unwrap_or(from),
        last: q.back().copied().unwrap_or(from),
    }
}

/// A behaviour is a pattern, not an accident: the misses must be at least two thirds of the
/// peer's chances in the window.
fn pattern(misses: u64, chances: u64) -> bool {
    misses.saturating_mul(3) >= chances.saturating_mul(2)
}

/// Proposal withholding: views the peer led, in which this host heard from it (it was alive
/// and connected) yet saw no proposal and no certificate, at least
/// `proposal_withholding_min_views` of them and two thirds of the views it led.
fn proposal_withholding(peer: &PeerRecord, cfg: &DetectionConfig, from: u64) -> Option<Seen> {
    let seen = seen_in(&peer.proposal_misses, from);
    (seen.measured >= u64::from(cfg.proposal_withholding_min_views)
        && pattern(seen.measured, peer.led.len() as u64))
    .then_some(seen)
}

/// Vote withholding: this host's certified proposals the peer did not vote for although it
/// was neither behind nor excused (confirmed a few views later), at least
/// `vote_withholding_min_views` of them and two thirds of the times it was asked.
fn vote_withholding(peer: &PeerRecord, cfg: &DetectionConfig, from: u64) -> Option<Seen> {
    let seen = seen_in(&peer.vote_misses, from);
    (seen.measured >= u64::from(cfg.vote_withholding_min_views)
        && pattern(seen.measured, peer.asked.len() as u64))
    .then_some(seen)
}

/// Selective connectivity: views the peer led that others certified while this host heard
/// nothing from it, at least `selective_min_views` of them and two thirds of its chances, and
/// nothing direct from it anywhere in the window (it talks to others, not to this host).
fn selective_connectivity(peer: &PeerRecord, cfg: &DetectionConfig, from: u64) -> Option<Seen> {
    let seen = seen_in(&peer.selective_misses, from);
    let chances = (peer.led.len() + peer.asked.len()) as u64;
    let silent_to_me = peer.last_heard_view.is_none_or(|v| v < from);
    (seen.measured >= u64::from(cfg.selective_min_views)
        && pattern(seen.measured, chances)
        && silent_to_me)
        .then_some(seen)
}

/// Flooding: the peer's messages per view over the window reach `flooding_min_per_view` and
/// are a high outlier among every peer's rate.
fn flooding(rate: u64, rates: &[u64], cfg: &DetectionConfig, from: u64, view: u64) -> Option<Seen> {
    (rate >= cfg.flooding_min_per_view && is_high_outlier(rate, rates, cfg.detection_sensitivity))
        .then_some(Seen {
            measured: rate,
            first: from,
            last: view.saturating_sub(1),
        })
}

/// Timing manipulation: for proposals or votes, the peer's median lateness exceeds the
/// network's median by at least `timing_min_delay_ms` and by the typical lateness itself, and
/// is a high outlier, with enough peers sampled for the statistics to mean something. The
/// measured figure is the excess in milliseconds.
fn timing_manipulation(
    peer: usize,
    medians: &[Vec<Option<u64>>; 2],
    cfg: &DetectionConfig,
    from: u64,
    view: u64,
) -> Option<Seen> {
    let mut excess_max = 0u64;
    for kind_medians in medians {
        let Some(mine) = kind_medians.get(peer).copied().flatten() else {
            continue;
        };
        let population: Vec<u64> = kind_medians.iter().flatten().copied().collect();
        if population.len() < MIN_TIMING_PEERS {
            continue;
        }
        let mut sorted = population.clone();
        let baseline = median(&mut sorted);
        let excess = mine.saturating_sub(baseline);
        // Honest lateness spreads with the links' latencies (a proposal's lateness spans three
        // links): a peer must at least double the typical lateness, and by the configured
        // margin, before it counts as delaying on purpose.
        if excess >= cfg.timing_min_delay_ms.saturating_mul(1_000).max(baseline)
            && is_high_outlier_floored(
                mine,
                &population,
                cfg.detection_sensitivity,
                LATENESS_MAD_FLOOR_US,
            )
        {
            excess_max = excess_max.max(excess);
        }
    }
    (excess_max > 0).then_some(Seen {
        measured: excess_max / 1_000,
        first: from,
        last: view.saturating_sub(1),
    })
}

impl Tier2 {
    /// A detector for `set`'s epoch, run by operator `me`.
    pub fn new(cfg: DetectionConfig, me: OperatorId, set: &ValidatorSet) -> Self {
        let operators: Vec<OperatorId> = set.validators.iter().map(|v| v.operator).collect();
        Self {
            peers: vec![PeerRecord::default(); operators.len()],
            cfg,
            me,
            epoch: set.epoch,
            operators,
            views: BTreeMap::new(),
            view: 0,
            flagged: BTreeMap::new(),
        }
    }

    fn index(&self, operator: OperatorId) -> Option<usize> {
        self.operators.binary_search(&operator).ok()
    }

    fn window(&self) -> u64 {
        self.cfg.pattern_analysis_window.max(1)
    }

    /// Whether `view` is inside the window around the host's view (only those are recorded).
    pub fn in_window(&self, view: u64) -> bool {
        let window = self.window();
        view.saturating_add(window) >= self.view && view <= self.view.saturating_add(window)
    }

    fn record(&mut self, view: u64) -> Option<&mut ViewRecord> {
        if !self.in_window(view) {
            return None;
        }
        let n = self.operators.len();
        Some(self.views.entry(view).or_insert_with(|| ViewRecord {
            voters: vec![false; n],
            behind: vec![false; n],
            ..ViewRecord::default()
        }))
    }

    /// A message arrived from peer `from` (the authenticated link's operator).
    pub fn on_message(
        &mut self,
        at_us: u64,
        from: OperatorId,
        signer: OperatorId,
        message: &Message,
        leader_of: impl Fn(u64) -> Option<OperatorId>,
    ) {
        self.count(from);
        if from != signer {
            return;
        }
        let Some(peer) = self.index(from) else {
            return;
        };
        let view = message.view();
        let me = self.me;
        if view < self.view {
            // It lags: whatever it fails to do in this host's current view is not on purpose.
            let current = self.view;
            if let Some(r) = self.record(current) {
                r.behind[peer] = true;
            }
        }
        // A leader whose predecessor's view failed may wait for the highest lock before it
        // proposes (the protocol's propose deadline): only a proposal that follows a certified
        // view is due as soon as the leader enters, so only those are timed.
        let after_certified = matches!(message, Message::Proposal(_))
            && self
                .views
                .get(&view.saturating_sub(1))
                .is_some_and(|r| r.certified);
        let Some(record) = self.record(view) else {
            return;
        };
        if record.leader.is_none() {
            record.leader = leader_of(view);
        }
        let entered = record.entered_us;
        let is_leader = record.leader == Some(from);
        let mut late = None;
        match message {
            // Lateness is sampled from the first copy only, and only until this host times
            // the view out: a copy sent again (a leader re-sends its proposal with its view's
            // timeouts, and votes then answer that copy) or duplicated by the network says
            // nothing about when the first was sent, and a delay past the view timer fails the
            // view, which the withholding rules judge.
            Message::Proposal(p) => {
                if is_leader && !record.proposal_from_leader {
                    record.proposal_from_leader = true;
                    if from == me {
                        record.my_proposal = Some((p.block.hash(), at_us));
                    }
                    late = entered
                        .filter(|_| !record.timed_out && after_certified)
                        .map(|e| (LATE_PROPOSAL, at_us.saturating_sub(e)));
                }
            }
            Message::Vote(v) => {
                if let Some((hash, sent)) = record.my_proposal {
                    if v.block_hash == hash && !record.voters[peer] {
                        record.voters[peer] = true;
                        late = (!record.timed_out).then(|| (LATE_VOTE, at_us.saturating_sub(sent)));
                    }
                }
            }
            Message::Vote2(v) => {
                if let Some((hash, _)) = record.my_proposal {
                    if v.block_hash == hash {
                        record.voters[peer] = true;
                    }
                }
            }
            Message::Timeout(_) => {
                if from == me {
                    record.timed_out = true;
                }
            }
        }
        if is_leader {
            record.heard_leader = true;
        }
        let host_view = self.view;
        let rejoined = self.rejoined(peer, view);
        let record_peer = &mut self.peers[peer];
        if rejoined || view.saturating_add(1) < host_view {
            // The peer is back after being absent, or behind (still sending in old views, say
            // after a partition or a restart): the votes it could not give are excused.
            record_peer.vote_misses_pending.clear();
            record_peer.excused_through = host_view.saturating_add(1);
        }
        record_peer.last_heard_view =
            Some(record_peer.last_heard_view.map_or(view, |v| v.max(view)));
        // A peer that talks to this host soon after confirms the votes it withheld before.
        note_sign_of_life(&mut record_peer.heard, view);
        confirm_misses(
            &mut record_peer.vote_misses_pending,
            &record_peer.heard,
            &mut record_peer.vote_misses,
            view,
        );
        if let Some((kind, lateness)) = late {
            if from != me {
                push_bounded(&mut record_peer.lateness[kind], lateness, MAX_SAMPLES);
            }
        }
    }

    /// A certificate arrived from `from` (directly, or inside a proposal with `from` = leader).
    pub fn on_certificate(&mut self, from: Option<OperatorId>, cert: &Certificate) {
        if let Some(from) = from {
            self.count(from);
        }
        if cert.kind == CertificateKind::Timeout || cert.epoch != self.epoch {
            return;
        }
        if let Some(record) = self.record(cert.view) {
            record.certified = true;
        } else {
            return;
        }
        // A peer whose vote is in another leader's certificate is alive and voting: the votes
        // it denied this host before that view were withheld selectively.
        for part in cert.signatures.iter() {
            let Some(i) = self.index(part.signer) else {
                continue;
            };
            let peer = &mut self.peers[i];
            peer.last_signed_view = Some(
                peer.last_signed_view
                    .map_or(cert.view, |v| v.max(cert.view)),
            );
            note_sign_of_life(&mut peer.signed, cert.view);
            confirm_misses(
                &mut peer.vote_misses_pending,
                &peer.signed,
                &mut peer.selective_misses,
                cert.view,
            );
        }
    }

    /// Whether peer `i`, now heard from directly in `view`, was absent since it was last heard
    /// from or seen signing: a view it led went by that this host sat through with nothing
    /// from it and no certificate for it. A peer absent from its own view and then back in
    /// touch was down or cut off, not withholding, so the votes it missed meanwhile are not
    /// held against it. (Only direct contact counts as coming back: a peer that shuns this
    /// host is also absent from its own views here, and is seen only in others' certificates.)
    fn rejoined(&self, i: usize, view: u64) -> bool {
        let peer = &self.peers[i];
        let since = peer.last_heard_view.max(peer.last_signed_view);
        let from = since.map_or(0, |v| v.saturating_add(1));
        let to = view.min(self.view);
        let operator = self.operators[i];
        from < to
            && self.views.range(from..to).any(|(_, r)| {
                r.leader == Some(operator)
                    && r.entered_us.is_some()
                    && !r.heard_leader
                    && !r.certified
            })
    }

    /// The network is split with `operator` outside this host's component: it cannot reach
    /// this host, so the views up to the current one are not held against it (no vote, no
    /// proposal and no silence of those views counts as withholding or shunning).
    pub fn excuse(&mut self, operator: OperatorId) {
        let Some(i) = self.index(operator) else {
            return;
        };
        let through = self.view.saturating_add(1);
        let peer = &mut self.peers[i];
        peer.vote_misses_pending.clear();
        peer.excused_through = peer.excused_through.max(through);
    }

    /// A message this host could not even decode or place (junk) arrived from `from`.
    pub fn on_junk(&mut self, from: OperatorId) {
        self.count(from);
    }

    fn count(&mut self, from: OperatorId) {
        let view = self.view;
        let Some(peer) = self.index(from) else {
            return;
        };
        let counts = &mut self.peers[peer].counts;
        match counts.back_mut() {
            Some((v, c)) if *v == view => *c += 1,
            _ => push_bounded(counts, (view, 1), MAX_COUNTED_VIEWS),
        }
    }

    /// The host entered `view` at `at_us`; judges the views that are now old enough and
    /// returns new suspicions (each (accused, behaviour) once per epoch).
    pub fn on_view(
        &mut self,
        at_us: u64,
        view: u64,
        leader_of: impl Fn(u64) -> Option<OperatorId>,
    ) -> Vec<Suspicion> {
        if view <= self.view && self.view != 0 {
            return Vec::new();
        }
        self.view = view;
        if let Some(record) = self.record(view) {
            record.entered_us.get_or_insert(at_us);
            if record.leader.is_none() {
                record.leader = leader_of(view);
            }
        }
        let window = self.window();
        let floor = view.saturating_sub(window.saturating_add(GRACE_VIEWS));
        self.views = self.views.split_off(&floor);
        let judge_to = view.saturating_sub(GRACE_VIEWS);
        let due: Vec<u64> = self
            .views
            .range(..judge_to)
            .filter(|(_, r)| !r.judged)
            .map(|(v, _)| *v)
            .collect();
        for v in due {
            self.judge(v);
        }
        self.evaluate()
    }

    fn judge(&mut self, view: u64) {
        let me = self.me;
        let Some(record) = self.views.get_mut(&view) else {
            return;
        };
        record.judged = true;
        let record = record.clone();
        if let Some(leader) = record.leader.filter(|l| *l != me) {
            if let Some(i) = self.index(leader) {
                let previous_certified = self
                    .views
                    .get(&view.saturating_sub(1))
                    .is_some_and(|r| r.certified);
                if record.behind[i] || self.peers[i].excused_through >= view {
                    // A leader that reached its view late had nothing to propose with; one cut
                    // off from this host could not be heard.
                } else if !record.proposal_from_leader && !previous_certified {
                    // The view before failed here: whether the leader held the timeout
                    // certificate it must justify a proposal with is unknown, so its silence
                    // proves nothing (a faulty predecessor can leave it without one).
                } else if !record.proposal_from_leader {
                    push_bounded(&mut self.peers[i].led, view, MAX_COUNTED_VIEWS);
                    if record.heard_leader && !record.certified {
                        push_bounded(&mut self.peers[i].proposal_misses, view, MAX_COUNTED_VIEWS);
                    } else if record.certified && !record.heard_leader {
                        push_bounded(&mut self.peers[i].selective_misses, view, MAX_COUNTED_VIEWS);
                    }
                } else {
                    push_bounded(&mut self.peers[i].led, view, MAX_COUNTED_VIEWS);
                }
            }
        }
        for peer in &mut self.peers {
            while peer
                .vote_misses_pending
                .front()
                .is_some_and(|m| m.saturating_add(CONFIRM_VIEWS) < view)
            {
                peer.vote_misses_pending.pop_front();
            }
        }
        if record.my_proposal.is_some() && record.certified {
            for (i, voted) in record.voters.iter().enumerate() {
                if self.operators[i] == me
                    || self.peers[i].excused_through >= view
                    || record.behind[i]
                {
                    continue;
                }
                push_bounded(&mut self.peers[i].asked, view, MAX_COUNTED_VIEWS);
                if !voted {
                    push_bounded(
                        &mut self.peers[i].vote_misses_pending,
                        view,
                        MAX_COUNTED_VIEWS,
                    );
                }
            }
        }
    }

    fn evaluate(&mut self) -> Vec<Suspicion> {
        let window = self.window();
        let from = self.view.saturating_sub(window);
        let cfg = self.cfg.clone();
        // Rates per peer over the window, for the robust statistics.
        let rates: Vec<u64> = self
            .peers
            .iter()
            .map(|p| {
                let (sum, views) = p
                    .counts
                    .iter()
                    .filter(|(v, _)| *v >= from && *v < self.view)
                    .fold((0u64, 0u64), |(s, n), (_, c)| (s + c, n + 1));
                if views == 0 {
                    0
                } else {
                    sum / views.max(window.min(8))
                }
            })
            .collect();
        let medians: [Vec<Option<u64>>; 2] = std::array::from_fn(|kind| {
            self.peers
                .iter()
                .map(|p| {
                    (p.lateness[kind].len() >= MIN_SAMPLES).then(|| {
                        let mut v: Vec<u64> = p.lateness[kind].iter().copied().collect();
                        median(&mut v)
                    })
                })
                .collect()
        });
        let mut found = Vec::new();
        for (i, peer) in self.peers.iter_mut().enumerate() {
            let accused = self.operators[i];
            if accused == self.me {
                continue;
            }
            for q in [
                &mut peer.proposal_misses,
                &mut peer.vote_misses,
                &mut peer.selective_misses,
                &mut peer.led,
                &mut peer.asked,
            ] {
                while q.front().is_some_and(|v| *v < from) {
                    q.pop_front();
                }
            }
            let judgements = [
                (
                    Behaviour::ProposalWithholding,
                    proposal_withholding(peer, &cfg, from),
                ),
                (
                    Behaviour::VoteWithholding,
                    vote_withholding(peer, &cfg, from),
                ),
                (
                    Behaviour::SelectiveConnectivity,
                    selective_connectivity(peer, &cfg, from),
                ),
                (
                    Behaviour::MessageFlooding,
                    flooding(rates[i], &rates, &cfg, from, self.view),
                ),
                (
                    Behaviour::TimingManipulation,
                    timing_manipulation(i, &medians, &cfg, from, self.view),
                ),
            ];
            for (behaviour, seen) in judgements {
                if let Some(Seen {
                    measured,
                    first,
                    last,
                }) = seen
                {
                    found.push(Suspicion {
                        accused,
                        behaviour,
                        epoch: self.epoch,
                        first_view: first,
                        last_view: last.max(first),
                        measured,
                    });
                }
            }
        }
        let mut new = Vec::new();
        for s in found {
            let key = (s.accused, s.behaviour as u8);
            if !self.flagged.contains_key(&key) {
                new.push(s);
            }
            self.flagged.insert(key, (s, self.view));
        }
        new
    }

    /// Whether this host saw the same behaviour itself (within its window): the condition for
    /// co-signing a peer's accusation.
    pub fn endorses(&self, accused: OperatorId, behaviour: Behaviour, epoch: u64) -> bool {
        epoch == self.epoch
            && self
                .flagged
                .get(&(accused, behaviour as u8))
                .is_some_and(|(_, at)| at.saturating_add(self.window()) >= self.view)
    }

    /// The epoch judged.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The host's view as last reported.
    pub fn view(&self) -> u64 {
        self.view
    }

    /// Current suspicions (for status reports).
    pub fn suspicions(&self) -> impl Iterator<Item = &Suspicion> {
        self.flagged.values().map(|(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn views(list: &[u64]) -> VecDeque<u64> {
        list.iter().copied().collect()
    }

    fn cfg() -> DetectionConfig {
        DetectionConfig::default()
    }

    #[test]
    fn proposal_withholding_needs_the_threshold_and_two_thirds_of_the_views_led() {
        let mut peer = PeerRecord {
            proposal_misses: views(&[10, 11, 12]),
            led: views(&[10, 11, 12]),
            ..PeerRecord::default()
        };
        assert_eq!(
            proposal_withholding(&peer, &cfg(), 0),
            Some(Seen {
                measured: 3,
                first: 10,
                last: 12
            })
        );
        // Three misses among six views led is an accident, not a pattern.
        peer.led = views(&[7, 8, 9, 10, 11, 12]);
        assert_eq!(proposal_withholding(&peer, &cfg(), 0), None);
        // Two misses are under the threshold of three.
        let few = PeerRecord {
            proposal_misses: views(&[11, 12]),
            led: views(&[11, 12]),
            ..PeerRecord::default()
        };
        assert_eq!(proposal_withholding(&few, &cfg(), 0), None);
    }

    #[test]
    fn vote_withholding_needs_the_threshold_and_two_thirds_of_the_times_asked() {
        let mut peer = PeerRecord {
            vote_misses: views(&[4, 9]),
            asked: views(&[4, 6, 9]),
            ..PeerRecord::default()
        };
        assert!(vote_withholding(&peer, &cfg(), 0).is_some());
        peer.asked = views(&[3, 4, 6, 9]);
        assert_eq!(vote_withholding(&peer, &cfg(), 0), None);
    }

    #[test]
    fn a_silence_ended_by_a_restart_counts_as_one_miss_and_withholding_while_alive_counts_each() {
        // Misses at 3, 5 and 6 with nothing from the peer until view 9: one outage.
        let mut pending = views(&[3, 5, 6]);
        let mut signs = views(&[1]);
        note_sign_of_life(&mut signs, 9);
        let mut counted = VecDeque::new();
        confirm_misses(&mut pending, &signs, &mut counted, 9);
        assert_eq!(counted, views(&[6]));
        assert!(pending.is_empty());
        // Misses with the peer heard between them (proposing in views 4 and 8, a late
        // timeout of view 6 arriving out of order): it was alive at each.
        let mut pending = views(&[3, 5, 7]);
        let mut signs = VecDeque::new();
        for v in [4, 8, 6, 9] {
            note_sign_of_life(&mut signs, v);
        }
        assert_eq!(signs, views(&[4, 6, 8, 9]));
        let mut counted = VecDeque::new();
        confirm_misses(&mut pending, &signs, &mut counted, 9);
        assert_eq!(counted, views(&[3, 5, 7]));
        // A sign of life more than CONFIRM_VIEWS after the miss confirms nothing, and misses
        // at or after the sign's view stay pending.
        let mut pending = views(&[2, 20]);
        let signs = views(&[19]);
        let mut counted = VecDeque::new();
        confirm_misses(&mut pending, &signs, &mut counted, 19);
        assert!(counted.is_empty());
        assert_eq!(pending, views(&[20]));
    }

    #[test]
    fn selective_connectivity_holds_only_for_a_peer_silent_to_this_host_all_window() {
        let mut peer = PeerRecord {
            selective_misses: views(&[20, 23, 26]),
            led: views(&[20, 23, 26]),
            ..PeerRecord::default()
        };
        assert!(selective_connectivity(&peer, &cfg(), 16).is_some());
        // Heard from directly within the window: it is not shunning this host.
        peer.last_heard_view = Some(18);
        assert_eq!(selective_connectivity(&peer, &cfg(), 16), None);
        // Heard from only before the window: still silent to it.
        peer.last_heard_view = Some(15);
        assert!(selective_connectivity(&peer, &cfg(), 16).is_some());
    }

    #[test]
    fn flooding_needs_the_absolute_rate_and_an_outlier_among_the_peers() {
        let rates = [0, 1, 60, 0];
        assert_eq!(
            flooding(60, &rates, &cfg(), 8, 40),
            Some(Seen {
                measured: 60,
                first: 8,
                last: 39
            })
        );
        // Under the configured 50 per view.
        assert_eq!(flooding(40, &[0, 1, 40, 0], &cfg(), 8, 40), None);
        // Everyone sends as much: busy, not flooding.
        assert_eq!(flooding(60, &[60, 61, 60, 59], &cfg(), 8, 40), None);
    }

    #[test]
    fn timing_manipulation_needs_enough_peers_and_a_delay_past_the_margin_and_the_norm() {
        let ms = |v: u64| Some(v * 1_000);
        // Peer 3's proposals are 95 ms late where the network's median is 5.5 ms: 89 ms over.
        let late = [vec![ms(5), ms(6), ms(5), ms(95)], vec![None; 4]];
        assert_eq!(
            timing_manipulation(3, &late, &cfg(), 0, 10),
            Some(Seen {
                measured: 89,
                first: 0,
                last: 9
            })
        );
        assert_eq!(timing_manipulation(1, &late, &cfg(), 0, 10), None);
        // Three sampled peers are too few to judge anyone.
        let few = [vec![ms(5), ms(6), None, ms(95)], vec![None; 4]];
        assert_eq!(timing_manipulation(3, &few, &cfg(), 0, 10), None);
        // 15 ms over the norm is under the configured 20 ms margin.
        let slight = [vec![ms(5), ms(6), ms(5), ms(20)], vec![None; 4]];
        assert_eq!(timing_manipulation(3, &slight, &cfg(), 0, 10), None);
    }
}
