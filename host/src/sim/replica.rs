//! One HotStuff-2 replica (BRIEF section 1): two phases per view, the lock rule, commit on the
//! double certificate, responsive view change, and a pacemaker with timeout certificates and
//! exponential backoff. Time is an argument: the world calls [`Replica::start`],
//! [`Replica::on_message`] and [`Replica::on_timer`] and carries out the [`Output`]s.
//!
//! Everything a peer sends is checked before it changes any state, and every buffer is
//! bounded, so no message can make a replica panic or grow without limit.

use std::collections::BTreeMap;
use std::rc::Rc;

use sha2::{Digest, Sha256};
use warden_module::codec::BoundedVec;
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, CertificateSignature, Hash, Message, OperatorId,
    Proposal, Signature, SignedMessage, Timeout, Vote, Vote2,
};

use super::adversary::{Adversary, Attack, InvalidKind};
use super::context::Context;
use super::rng::Rng;

/// A node of the simulated network (a validator, or the second replica of a Twins pair).
pub type NodeId = u32;

/// What travels on the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A proposal, vote, phase-2 vote or timeout.
    Signed(SignedMessage),
    /// A phase-1, double or timeout certificate.
    Cert(Certificate),
    /// A frame between fault-tolerance hosts, opaque to the network (replicas ignore it).
    Host(Vec<u8>),
}

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Every node, the sender included.
    All,
    /// The node(s) of the scheduled leader of this view.
    Leader(u64),
    /// These nodes.
    Nodes(Rc<Vec<NodeId>>),
}

/// A replica timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The view timer of this view.
    View(u64),
    /// The deadline after which a leader proposes with the highest certificate it holds.
    Propose(u64),
}

/// What a replica asks the world to do.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send a message.
    Send(Dest, Rc<Payload>),
    /// Call [`Replica::on_timer`] at this time.
    Timer(u64, Timer),
    /// The replica committed `hash` at `height`.
    Commit {
        /// Height.
        height: u64,
        /// Block hash.
        hash: Hash,
    },
}

/// The state that makes a replica safe. It lives in durable storage: it survives a crash, and
/// every change is written before the message it allows is sent (a `warden node` keeps it in
/// a file, synced before it sends).
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct SafetyStore {
    /// The last view it sent a `Vote` in.
    pub last_vote: u64,
    /// The last view it sent a `Vote2` in.
    pub last_vote2: u64,
    /// The last view it proposed in.
    pub last_proposal: u64,
    /// Its last timeout, kept so that a resend is byte-identical.
    pub last_timeout: Option<SignedMessage>,
    /// The phase-1 certificate it is locked on.
    pub lock: Certificate,
    /// Its committed height.
    pub committed_height: u64,
    /// The block it committed at that height.
    pub committed_hash: Hash,
}

impl SafetyStore {
    /// The store of a replica that has never run.
    pub fn new(epoch: u64) -> Self {
        Self {
            last_vote: 0,
            last_vote2: 0,
            last_proposal: 0,
            last_timeout: None,
            lock: Certificate::genesis(epoch),
            committed_height: 0,
            committed_hash: [0; 32],
        }
    }

    fn last_timeout_view(&self) -> u64 {
        self.last_timeout.as_ref().map_or(0, |t| t.message.view())
    }

    /// The highest view this replica ever signed in.
    pub fn highest_view(&self) -> u64 {
        self.last_vote
            .max(self.last_vote2)
            .max(self.last_proposal)
            .max(self.last_timeout_view())
            .max(self.lock.view)
    }
}

/// Proposals for future views kept until the replica reaches them.
const MAX_FUTURE_PROPOSALS: usize = 8;
/// How far ahead of its view a replica buffers proposals.
const FUTURE_WINDOW: u64 = 8;
/// Views past its snapshot whose blocks an amnesiac still accepts after forgetting (the
/// coalition's snapshots differ by the certificates in flight when they were taken).
const AMNESIA_SLACK_VIEWS: u64 = 4;
/// How many of its own recent views a leader keeps aggregating votes for.
const AGGREGATION_VIEWS: usize = 4;

/// A leader's aggregation of the votes for one of its proposals: phase 1 (`Vote`) and, once
/// that is certified, phase 2 (`Vote2`).
#[derive(Debug)]
struct Aggregate {
    hash: Hash,
    justify_view: u64,
    dest: Dest,
    phases: [Phase; 2],
}

/// The votes of one phase, until they make a certificate.
#[derive(Debug, Default)]
struct Phase {
    votes: BTreeMap<OperatorId, Signature>,
    power: u64,
    cert: Option<Certificate>,
}

impl Phase {
    /// Adds `signer`'s vote of `power`; once the votes reach `quorum`, the certificate
    /// `template` with their signatures (made once).
    fn add(
        &mut self,
        signer: OperatorId,
        signature: Signature,
        power: u64,
        quorum: u64,
        template: Certificate,
    ) -> Option<Certificate> {
        self.votes.insert(signer, signature);
        self.power = self.power.saturating_add(power);
        if self.power < quorum || self.cert.is_some() {
            return None;
        }
        let parts = self
            .votes
            .iter()
            .map(|(signer, signature)| CertificateSignature {
                signer: *signer,
                lock_view: 0,
                signature: *signature,
            })
            .collect();
        let cert = Certificate {
            signatures: BoundedVec::new(parts)?,
            ..template
        };
        self.cert = Some(cert.clone());
        Some(cert)
    }
}

/// One HotStuff-2 replica, honest or with an [`Adversary`].
pub struct Replica {
    /// Its node.
    pub node: NodeId,
    /// The operator whose key it signs with.
    pub operator: OperatorId,
    ctx: Rc<Context>,
    store: SafetyStore,
    adversary: Option<Adversary>,
    rng: Rng,
    view: u64,
    high_cert: Certificate,
    failures: u32,
    aggregates: BTreeMap<u64, Vec<Aggregate>>,
    latest_timeouts: BTreeMap<OperatorId, (u64, u64, Signature)>,
    timeout_views: BTreeMap<u64, u64>,
    last_tc: Option<Certificate>,
    /// The proposals it sent as the leader of the view (at most two, with their
    /// destinations), sent again with each of the view's timeouts.
    proposed: (u64, Vec<(Dest, Rc<Payload>)>),
    future: BTreeMap<u64, SignedMessage>,
    seen_blocks: BTreeMap<u64, Vec<Hash>>,
    /// An amnesiac's snapshot of its highest certificate, whether it went back to it, and
    /// the blocks it saw since the snapshot (which it then never extends again).
    remembered: Option<Certificate>,
    forgotten: bool,
    forgotten_blocks: std::collections::BTreeSet<Hash>,
}

impl Replica {
    /// A replica of `node` signing as `operator`, resuming from `store`.
    pub fn new(
        node: NodeId,
        operator: OperatorId,
        ctx: Rc<Context>,
        store: SafetyStore,
        adversary: Option<Adversary>,
        rng: Rng,
    ) -> Self {
        let high_cert = store.lock.clone();
        Self {
            node,
            operator,
            ctx,
            store,
            adversary,
            rng,
            view: 0,
            high_cert,
            failures: 0,
            aggregates: BTreeMap::new(),
            latest_timeouts: BTreeMap::new(),
            timeout_views: BTreeMap::new(),
            last_tc: None,
            proposed: (0, Vec::new()),
            future: BTreeMap::new(),
            seen_blocks: BTreeMap::new(),
            remembered: None,
            forgotten: false,
            forgotten_blocks: std::collections::BTreeSet::new(),
        }
    }

    /// The durable store (what survives a crash).
    pub fn into_store(self) -> SafetyStore {
        self.store
    }

    /// The durable store.
    pub fn store(&self) -> &SafetyStore {
        &self.store
    }

    /// The current view.
    pub fn view(&self) -> u64 {
        self.view
    }

    fn faulty(&self) -> bool {
        self.adversary.is_some()
    }

    fn adv(&self) -> Adversary {
        self.adversary.clone().unwrap_or_default()
    }

    /// Starts (or restarts) the replica at `now`: it enters the view after the highest it ever
    /// signed in.
    pub fn start(&mut self, now: u64, out: &mut Vec<Output>) {
        let view = self.store.highest_view().max(1);
        self.enter_view(now, view, out);
    }

    fn is_leader(&self, view: u64) -> bool {
        self.ctx.leader(view) == self.operator
    }

    fn enter_view(&mut self, now: u64, view: u64, out: &mut Vec<Output>) {
        if view <= self.view {
            return;
        }
        self.view = view;
        out.push(Output::Timer(
            now.saturating_add(self.ctx.timing.timeout_us(self.failures)),
            Timer::View(view),
        ));
        // Forget what no longer matters.
        self.aggregates = self.aggregates.split_off(&view.saturating_sub(2));
        while self.aggregates.len() > AGGREGATION_VIEWS {
            self.aggregates.pop_first();
        }
        self.seen_blocks = self.seen_blocks.split_off(&view);
        let later = self.future.split_off(&view);
        let current = std::mem::replace(&mut self.future, later);
        drop(current);
        if let Some(p) = self.future.remove(&view) {
            self.on_proposal(now, &p, out);
        }
        if self.faulty() {
            self.flood(view, out);
            if self.adv().invalid_proposal() == Some(InvalidKind::WrongLeader)
                && !self.is_leader(view)
            {
                self.propose_block(view, self.high_cert.clone(), 0, Dest::All, out);
            }
        }
        if self.is_leader(view) && self.view == view && !self.try_propose(now, false, out) {
            out.push(Output::Timer(
                now.saturating_add(self.ctx.timing.base_timeout_us / 2),
                Timer::Propose(view),
            ));
        }
    }

    /// An amnesiac takes its snapshot, or goes back to it, once its time has come; between
    /// the two it notes the blocks it sees, and after it ignores them and whatever extends
    /// them. Returns whether `payload` is to be ignored.
    fn amnesia(&mut self, now: u64, payload: Option<&Payload>) -> bool {
        let Some((remember_us, forget_us)) = self.adversary.as_ref().and_then(Adversary::amnesia)
        else {
            return false;
        };
        if now < remember_us {
            return false;
        }
        if self.remembered.is_none() {
            self.remembered = Some(self.high_cert.clone());
        }
        if now >= forget_us && !self.forgotten {
            self.forgotten = true;
            if let Some(cert) = self.remembered.clone() {
                self.store.lock = cert.clone();
                self.high_cert = cert;
            }
        }
        // A few views of slack: another amnesiac's snapshot may be a certificate or two ahead.
        let snapshot = self
            .remembered
            .as_ref()
            .map_or(0, |c| c.view)
            .saturating_add(AMNESIA_SLACK_VIEWS);
        // The blocks a message builds on, and the new block it brings (if after the snapshot).
        let (builds_on, new_block) = match payload {
            Some(Payload::Signed(SignedMessage {
                message: Message::Proposal(p),
                ..
            })) => (
                vec![p.justify.block_hash, p.block.parent_hash],
                (p.view > snapshot).then(|| p.block.hash()),
            ),
            Some(Payload::Cert(c)) if c.kind != CertificateKind::Timeout => (
                vec![c.block_hash],
                (c.view > snapshot).then_some(c.block_hash),
            ),
            _ => return false,
        };
        if !self.forgotten {
            if let Some(b) = new_block.filter(|_| self.forgotten_blocks.len() < 100_000) {
                self.forgotten_blocks.insert(b);
            }
            return false;
        }
        if builds_on.iter().any(|b| self.forgotten_blocks.contains(b)) {
            if let Some(b) = new_block.filter(|_| self.forgotten_blocks.len() < 100_000) {
                self.forgotten_blocks.insert(b);
            }
            return true;
        }
        false
    }

    /// A timer set earlier fired.
    pub fn on_timer(&mut self, now: u64, timer: Timer, out: &mut Vec<Output>) {
        self.amnesia(now, None);
        match timer {
            Timer::View(view) if view == self.view => {
                self.send_timeout(view, out);
                // A leader's proposal goes out again too: replicas that lost it (in a split
                // that has since healed, say) are still in the view before, and without it
                // they cannot enter this one, whose leader has already timed it out.
                if self.proposed.0 == view {
                    for (dest, payload) in &self.proposed.1 {
                        out.push(Output::Send(dest.clone(), payload.clone()));
                    }
                }
                // The certificate that brought this replica into the view goes out again with
                // every timeout: replicas left behind (the first copy was lost, say in a split
                // that has since healed) catch up, and those still in the view can time out
                // together. Without it, halves that split in different views wait for each
                // other's timeouts forever.
                if let Some(tc) = self
                    .last_tc
                    .as_ref()
                    .filter(|tc| tc.view.saturating_add(1) == view)
                {
                    out.push(Output::Send(Dest::All, Rc::new(Payload::Cert(tc.clone()))));
                } else if self.high_cert.view.saturating_add(1) >= view
                    && !self.high_cert.is_genesis()
                {
                    out.push(Output::Send(
                        Dest::All,
                        Rc::new(Payload::Cert(self.high_cert.clone())),
                    ));
                }
                out.push(Output::Timer(
                    now.saturating_add(self.ctx.timing.timeout_us(self.failures)),
                    Timer::View(view),
                ));
            }
            Timer::Propose(view) if view == self.view => {
                self.try_propose(now, true, out);
            }
            _ => {}
        }
    }

    fn send_timeout(&mut self, view: u64, out: &mut Vec<Output>) {
        let signed = match &self.store.last_timeout {
            Some(t) if t.message.view() == view => t.clone(),
            Some(t) if t.message.view() > view => return,
            _ => {
                let lock_view = if self.adv().has(&Attack::LockViolation) {
                    0
                } else {
                    self.store.lock.view
                };
                let signed = self
                    .ctx
                    .sign(self.operator, Message::Timeout(Timeout { view, lock_view }));
                self.store.last_timeout = Some(signed.clone());
                signed
            }
        };
        out.push(Output::Send(Dest::All, Rc::new(Payload::Signed(signed))));
        if !self.store.lock.is_genesis() {
            out.push(Output::Send(
                Dest::Leader(view.saturating_add(1)),
                Rc::new(Payload::Cert(self.store.lock.clone())),
            ));
        }
    }

    /// A message arrived from the network. Anything invalid is dropped.
    pub fn on_message(&mut self, now: u64, payload: &Payload, out: &mut Vec<Output>) {
        if self.amnesia(now, Some(payload)) {
            return;
        }
        match payload {
            Payload::Signed(signed) => match &signed.message {
                Message::Proposal(_) => self.on_proposal(now, signed, out),
                Message::Vote(v) => self.on_vote(signed, v, out),
                Message::Vote2(v) => self.on_vote2(signed, v, out),
                Message::Timeout(t) => self.on_timeout(now, signed, t, out),
            },
            Payload::Cert(cert) => match cert.kind {
                CertificateKind::Vote => {
                    if self.ctx.check_certificate(cert, CertificateKind::Vote) {
                        self.on_block_cert(now, cert, out);
                    }
                }
                CertificateKind::Vote2 => {
                    if cert.view.saturating_add(64) >= self.view
                        && self.ctx.check_certificate(cert, CertificateKind::Vote2)
                    {
                        self.on_double_cert(now, cert, out);
                    }
                }
                CertificateKind::Timeout => {
                    if cert.view >= self.view
                        && self.ctx.check_certificate(cert, CertificateKind::Timeout)
                    {
                        self.on_tc(now, cert, out);
                    }
                }
            },
            Payload::Host(_) => {}
        }
    }

    fn parent_height(&self, justify: &Certificate) -> Option<u64> {
        if justify.is_genesis() {
            return Some(0);
        }
        self.ctx.header(&justify.block_hash).map(|h| h.height)
    }

    fn on_proposal(&mut self, now: u64, signed: &SignedMessage, out: &mut Vec<Output>) {
        let Message::Proposal(p) = &signed.message else {
            return;
        };
        // Cheapest checks first: stale, wrong leader, wrong proposer, justify shape.
        if p.view < self.view
            || signed.epoch != self.ctx.epoch
            || self.ctx.leader(p.view) != signed.signer
            || p.block.proposer != signed.signer
            || p.justify.view >= p.view
            || p.block.parent_hash != p.justify.block_hash
        {
            return;
        }
        if p.view > self.view.saturating_add(FUTURE_WINDOW)
            && p.justify.view.saturating_add(1) < p.view
        {
            return;
        }
        if !self.ctx.verify_signed(signed)
            || !self
                .ctx
                .check_certificate(&p.justify, CertificateKind::Vote)
        {
            return;
        }
        let Some(parent_height) = self.parent_height(&p.justify) else {
            return;
        };
        if p.block.height != parent_height.saturating_add(1) {
            return;
        }
        let hash = self.ctx.record_header(&p.block);
        self.on_block_cert(now, &p.justify, out);
        if p.justify.view.saturating_add(1) == p.view && p.view > self.view {
            // A certificate of the previous view: the leader moved on responsively.
            self.enter_view(now, p.view, out);
            if self.view != p.view {
                return;
            }
        }
        if p.view > self.view {
            if self.future.len() < MAX_FUTURE_PROPOSALS {
                self.future.entry(p.view).or_insert_with(|| signed.clone());
            }
            return;
        }
        if p.view != self.view {
            return;
        }
        let adv = self.adv();
        if adv.has(&Attack::VoteWithholding) {
            return;
        }
        let seen = self.seen_blocks.entry(p.view).or_default();
        if seen.contains(&hash) || seen.len() >= 4 {
            return;
        }
        seen.push(hash);
        let first_seen = seen.len() == 1;
        let vote = Vote {
            view: p.view,
            block_hash: hash,
            justify_view: p.justify.view,
        };
        if adv.double_votes(1) {
            self.send_vote(Message::Vote(vote), p.view, out);
            if first_seen {
                let fake = Vote {
                    block_hash: self.rng.bytes32(),
                    ..vote
                };
                self.send_vote(Message::Vote(fake), p.view, out);
            }
            self.store.last_vote = self.store.last_vote.max(p.view);
            return;
        }
        let lock_ok = p.justify.view >= self.store.lock.view
            || adv.has(&Attack::LockViolation)
            || self.forgotten;
        if self.store.last_vote < p.view && self.store.last_timeout_view() < p.view && lock_ok {
            self.store.last_vote = p.view;
            self.send_vote(Message::Vote(vote), p.view, out);
        }
    }

    fn send_vote(&mut self, message: Message, view: u64, out: &mut Vec<Output>) {
        let signed = self.ctx.sign(self.operator, message);
        out.push(Output::Send(
            Dest::Leader(view),
            Rc::new(Payload::Signed(signed)),
        ));
    }

    fn on_block_cert(&mut self, now: u64, cert: &Certificate, out: &mut Vec<Output>) {
        if cert.view > self.high_cert.view {
            self.high_cert = cert.clone();
        }
        if cert.view > self.store.lock.view {
            self.store.lock = cert.clone();
        }
        if cert.view > self.view {
            self.enter_view(now, cert.view, out);
        }
        if cert.view == self.view && !cert.is_genesis() {
            let adv = self.adv();
            if !adv.has(&Attack::VoteWithholding) {
                let vote2 = Vote2 {
                    view: cert.view,
                    block_hash: cert.block_hash,
                };
                if adv.double_votes(2) {
                    let seen = self.seen_blocks.entry(cert.view).or_default();
                    let first = !seen.contains(&[0xFF; 32]);
                    if first {
                        seen.push([0xFF; 32]);
                    }
                    self.send_vote(Message::Vote2(vote2), cert.view, out);
                    if first {
                        let fake = Vote2 {
                            view: cert.view,
                            block_hash: self.rng.bytes32(),
                        };
                        self.send_vote(Message::Vote2(fake), cert.view, out);
                    }
                    self.store.last_vote2 = self.store.last_vote2.max(cert.view);
                } else if self.store.last_vote2 < cert.view
                    && self.store.last_timeout_view() < cert.view
                {
                    self.store.last_vote2 = cert.view;
                    self.send_vote(Message::Vote2(vote2), cert.view, out);
                }
            }
        }
        let next = cert.view.saturating_add(1);
        let timed_out = self.store.last_timeout_view() >= cert.view;
        if cert.view == self.view && !cert.is_genesis() && (self.is_leader(next) || timed_out) {
            // The next leader proposes as soon as it holds this view's certificate. A replica
            // that already timed this view out has no vote left to give in it, so it moves on
            // with the certificate too: otherwise, with the next leader's proposal lost (or
            // shown to others only) and that leader's timeout in the next view, the replicas
            // left behind wait for a timeout certificate of this view that can never form.
            self.enter_view(now, next, out);
        } else if self.is_leader(self.view) {
            self.try_propose(now, false, out);
        }
    }

    fn on_double_cert(&mut self, now: u64, cert: &Certificate, out: &mut Vec<Output>) {
        self.commit(cert.block_hash, out);
        if cert.view >= self.view {
            self.failures = 0;
            self.enter_view(now, cert.view.saturating_add(1), out);
        }
    }

    fn commit(&mut self, hash: Hash, out: &mut Vec<Output>) {
        let mut chain = Vec::new();
        let mut cursor = hash;
        loop {
            let Some(header) = self.ctx.header(&cursor) else {
                return; // An unknown block: nothing can be committed yet.
            };
            if header.height <= self.store.committed_height {
                return; // Already committed at this height (or below).
            }
            chain.push((header.height, cursor));
            if header.height == self.store.committed_height.saturating_add(1) {
                if header.parent_hash != self.store.committed_hash {
                    // A fork below the committed tip: report the conflicting block so the
                    // checker sees it; the replica keeps its own chain.
                    out.push(Output::Commit {
                        height: header.height,
                        hash: cursor,
                    });
                    return;
                }
                break;
            }
            cursor = header.parent_hash;
        }
        for (height, hash) in chain.into_iter().rev() {
            self.store.committed_height = height;
            self.store.committed_hash = hash;
            out.push(Output::Commit { height, hash });
        }
    }

    fn on_tc(&mut self, now: u64, tc: &Certificate, out: &mut Vec<Output>) {
        if tc.view < self.view {
            return;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_tc = Some(tc.clone());
        let next = tc.view.saturating_add(1);
        if self.is_leader(next) {
            out.push(Output::Send(Dest::All, Rc::new(Payload::Cert(tc.clone()))));
        }
        self.enter_view(now, next, out);
    }

    fn on_timeout(&mut self, now: u64, signed: &SignedMessage, t: &Timeout, out: &mut Vec<Output>) {
        if t.lock_view > t.view || t.view < self.view || signed.epoch != self.ctx.epoch {
            return;
        }
        if let Some((view, _, _)) = self.latest_timeouts.get(&signed.signer) {
            if *view >= t.view {
                return;
            }
        }
        if !self.ctx.verify_signed(signed) {
            return;
        }
        let power = self.ctx.set.power_of(signed.signer);
        if let Some((old, _, _)) = self
            .latest_timeouts
            .insert(signed.signer, (t.view, t.lock_view, signed.signature))
        {
            if let Some(p) = self.timeout_views.get_mut(&old) {
                *p = p.saturating_sub(power);
                if *p == 0 {
                    self.timeout_views.remove(&old);
                }
            }
        }
        *self.timeout_views.entry(t.view).or_insert(0) += power;
        // A quorum of timeouts of one view forms its timeout certificate.
        if self.timeout_views.get(&t.view).copied().unwrap_or(0) >= self.ctx.set.quorum() {
            let parts: Vec<CertificateSignature> = self
                .latest_timeouts
                .iter()
                .filter(|(_, (view, _, _))| *view == t.view)
                .map(|(signer, (_, lock_view, signature))| CertificateSignature {
                    signer: *signer,
                    lock_view: *lock_view,
                    signature: *signature,
                })
                .collect();
            if let Some(signatures) = BoundedVec::new(parts) {
                let tc = Certificate {
                    kind: CertificateKind::Timeout,
                    epoch: self.ctx.epoch,
                    view: t.view,
                    block_hash: [0; 32],
                    justify_view: 0,
                    signatures,
                };
                self.on_tc(now, &tc, out);
                return;
            }
        }
        // More than a third of the power timed out of a later view: an honest replica is
        // there, so join it and time out with them.
        let mut acc = 0u64;
        let mut join = None;
        for (view, power) in self.timeout_views.iter().rev() {
            acc = acc.saturating_add(*power);
            if acc >= self.ctx.set.one_third_plus() {
                join = Some(*view);
                break;
            }
        }
        if self.forgotten && t.view > self.view {
            // An amnesiac coalition keeps together: it joins any later view it sees.
            join = Some(join.map_or(t.view, |j| j.max(t.view)));
        }
        if let Some(view) = join {
            if view > self.view || (view == self.view && self.store.last_timeout_view() < view) {
                self.enter_view(now, view, out);
                self.send_timeout(view, out);
            }
        }
    }

    fn on_vote(&mut self, signed: &SignedMessage, v: &Vote, out: &mut Vec<Output>) {
        self.on_phase_vote(signed, 0, v.view, v.block_hash, v.justify_view, out);
    }

    fn on_vote2(&mut self, signed: &SignedMessage, v: &Vote2, out: &mut Vec<Output>) {
        self.on_phase_vote(signed, 1, v.view, v.block_hash, 0, out);
    }

    /// A vote of phase `phase` (0: `Vote`, 1: `Vote2`) for a proposal this leader aggregates:
    /// counted once per signer if it verifies; the quorum's certificate goes to the
    /// aggregate's destination. Phase 2 counts only once phase 1 is certified.
    fn on_phase_vote(
        &mut self,
        signed: &SignedMessage,
        phase: usize,
        view: u64,
        hash: Hash,
        justify_view: u64,
        out: &mut Vec<Output>,
    ) {
        let Some(list) = self.aggregates.get(&view) else {
            return;
        };
        let Some(i) = list.iter().position(|a| {
            a.hash == hash
                && if phase == 0 {
                    a.justify_view == justify_view
                } else {
                    a.phases[0].cert.is_some() && a.phases[1].cert.is_none()
                }
        }) else {
            return;
        };
        let counted = &list[i].phases[phase];
        if counted.votes.contains_key(&signed.signer)
            || counted.cert.is_some()
            || !self.ctx.verify_signed(signed)
        {
            return;
        }
        let power = self.ctx.set.power_of(signed.signer);
        let quorum = self.ctx.set.quorum();
        let epoch = self.ctx.epoch;
        let Some(agg) = self.aggregates.get_mut(&view).and_then(|l| l.get_mut(i)) else {
            return;
        };
        let template = Certificate {
            kind: if phase == 0 {
                CertificateKind::Vote
            } else {
                CertificateKind::Vote2
            },
            epoch,
            view,
            block_hash: hash,
            justify_view: if phase == 0 { agg.justify_view } else { 0 },
            signatures: BoundedVec::empty(),
        };
        if let Some(cert) =
            agg.phases[phase].add(signed.signer, signed.signature, power, quorum, template)
        {
            out.push(Output::Send(agg.dest.clone(), Rc::new(Payload::Cert(cert))));
        }
    }

    /// Proposes in the current view if it leads it and may: at once with a certificate of the
    /// previous view, after a timeout certificate once it holds a certificate at least as high
    /// as every lock in it, or at its deadline (`force`) with the highest it holds.
    fn try_propose(&mut self, _now: u64, force: bool, out: &mut Vec<Output>) -> bool {
        let view = self.view;
        if !self.is_leader(view) || self.store.last_proposal >= view {
            return false;
        }
        let ready = force
            || self.high_cert.view.saturating_add(1) == view
            || self.last_tc.as_ref().is_some_and(|tc| {
                tc.view.saturating_add(1) == view
                    && tc
                        .signatures
                        .iter()
                        .all(|s| s.lock_view <= self.high_cert.view)
            });
        if !ready {
            return false;
        }
        self.store.last_proposal = view;
        let adv = self.adv();
        if adv.has(&Attack::ProposalWithholding) {
            return true;
        }
        let mut justify = self.high_cert.clone();
        match adv.invalid_proposal() {
            Some(InvalidKind::ForgedCertificate) => {
                justify.view = view.saturating_sub(1).max(1);
                let mut parts = justify.signatures.to_vec();
                if parts.is_empty() {
                    parts = self
                        .ctx
                        .set
                        .validators
                        .iter()
                        .map(|v| CertificateSignature {
                            signer: v.operator,
                            lock_view: 0,
                            signature: Signature([7; 64]),
                        })
                        .collect();
                }
                for p in &mut parts {
                    p.signature.0[0] ^= 1;
                }
                justify.signatures = BoundedVec::new(parts).unwrap_or_default();
            }
            Some(InvalidKind::ShortCertificate) => {
                let part = CertificateSignature {
                    signer: self.operator,
                    lock_view: 0,
                    signature: Signature([0; 64]),
                };
                justify.view = view.saturating_sub(1).max(1);
                justify.kind = CertificateKind::Vote;
                let message = justify.signed_message(&part);
                let signature = self.ctx.sign_part(self.operator, &message);
                justify.signatures =
                    BoundedVec::new(vec![CertificateSignature { signature, ..part }])
                        .unwrap_or_default();
            }
            _ => {}
        }
        if adv.has(&Attack::LockViolation) {
            justify = Certificate::genesis(self.ctx.epoch);
        }
        if adv.has(&Attack::DoubleProposal) {
            let honest: Vec<NodeId> = (0..self.ctx.faulty_nodes.len() as NodeId)
                .filter(|n| !self.ctx.faulty_nodes[*n as usize])
                .collect();
            let faulty: Vec<NodeId> = (0..self.ctx.faulty_nodes.len() as NodeId)
                .filter(|n| self.ctx.faulty_nodes[*n as usize])
                .collect();
            for half in 0..2u8 {
                let mut nodes: Vec<NodeId> = honest
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| (*i % 2) as u8 == half)
                    .map(|(_, n)| *n)
                    .collect();
                nodes.extend(&faulty);
                self.propose_block(
                    view,
                    justify.clone(),
                    half + 1,
                    Dest::Nodes(Rc::new(nodes)),
                    out,
                );
            }
        } else {
            self.propose_block(view, justify, 0, Dest::All, out);
        }
        true
    }

    fn propose_block(
        &mut self,
        view: u64,
        justify: Certificate,
        variant: u8,
        dest: Dest,
        out: &mut Vec<Output>,
    ) {
        let parent_height = match self.parent_height(&justify) {
            Some(h) => h,
            // An honest leader that holds a certificate but not the block it certifies (its
            // proposal never reached this replica) waits for the header rather than proposing
            // a block of the wrong height.
            None if !self.faulty() => return,
            None => 0,
        };
        let mut hasher = Sha256::new();
        hasher.update(b"WARDEN-SIM-PAYLOAD");
        hasher.update(view.to_le_bytes());
        hasher.update(self.node.to_le_bytes());
        hasher.update([variant]);
        let block = BlockHeader {
            height: parent_height.saturating_add(1),
            parent_hash: justify.block_hash,
            payload_hash: hasher.finalize().into(),
            proposer: self.operator,
        };
        let hash = block.hash();
        let justify_view = justify.view;
        let signed = self.ctx.sign(
            self.operator,
            Message::Proposal(Proposal {
                view,
                block,
                justify,
            }),
        );
        let payload = Rc::new(Payload::Signed(signed));
        if self.is_leader(view) {
            let list = self.aggregates.entry(view).or_default();
            if list.len() < 2 {
                list.push(Aggregate {
                    hash,
                    justify_view,
                    dest: dest.clone(),
                    phases: Default::default(),
                });
            }
            if self.proposed.0 != view {
                self.proposed = (view, Vec::new());
            }
            if self.proposed.1.len() < 2 {
                self.proposed.1.push((dest.clone(), payload.clone()));
            }
        }
        out.push(Output::Send(dest, payload));
    }

    fn flood(&mut self, view: u64, out: &mut Vec<Output>) {
        let count = self.adv().flood_per_view();
        for i in 0..count {
            let payload = match i % 3 {
                0 => Payload::Signed(SignedMessage {
                    epoch: self.ctx.epoch,
                    signer: self.operator,
                    message: Message::Vote(Vote {
                        view: view.saturating_add(self.rng.range(0, 1 << 40)),
                        block_hash: self.rng.bytes32(),
                        justify_view: view,
                    }),
                    signature: Signature([i as u8; 64]),
                }),
                1 => Payload::Signed(SignedMessage {
                    epoch: self.ctx.epoch,
                    signer: self.rng.range(0, 1 << 20) as OperatorId,
                    message: Message::Timeout(Timeout {
                        view: self.rng.range(view, u64::MAX),
                        lock_view: self.rng.next_u64(),
                    }),
                    signature: Signature([0xAB; 64]),
                }),
                _ => {
                    let parts = (0..warden_module::wire::MAX_VALIDATORS as u32)
                        .map(|s| CertificateSignature {
                            signer: s,
                            lock_view: 0,
                            signature: Signature([1; 64]),
                        })
                        .collect();
                    Payload::Cert(Certificate {
                        kind: CertificateKind::Vote,
                        epoch: self.ctx.epoch,
                        view: view.saturating_add(1),
                        block_hash: self.rng.bytes32(),
                        justify_view: 0,
                        signatures: BoundedVec::new(parts).unwrap_or_default(),
                    })
                }
            };
            out.push(Output::Send(Dest::All, Rc::new(payload)));
        }
    }
}
