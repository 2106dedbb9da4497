//! `warden node`: one validator as an OS process. It runs the simulator's HotStuff-2
//! [`Replica`] (the same state machine, with the same optional Byzantine [`Adversary`]) on
//! wall-clock timers, over the authenticated TCP links of [`super::link`], and embeds the
//! [`WardenManager`] facade: every consensus message it receives is fed to the host, host
//! messages travel on the same links, and evidence leaves through the manager's chain link
//! (a relayer, or a chain node directly).
//!
//! Safety: the replica's [`SafetyStore`] is written to `<data>/safety` and synced before any
//! message it allows leaves, so a `kill -9` and restart never makes the node sign two
//! conflicting messages. Epochs: the node polls the chain; when the chain's epoch moves on, it
//! takes the new set and schedule from the chain and starts a fresh replica in that epoch (as
//! the simulator does), or stays an observer if it is no longer in the set.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use warden_module::codec::{BoundedBytes, BoundedVec};
use warden_module::msg::{Query, QueryResponse};
use warden_module::wire::{Certificate, CertificateKind, Hash, Message, OperatorId, SignedMessage};

use super::frame::{self, Frame, MAX_SYNC_HEADERS};
use super::link::{self, LinkEvent, Links, PeerLink};
use crate::ft::host::Peers;
use crate::ft::manager::{ChainLink, Observation};
use crate::ft::metrics::Metrics;
use crate::ft::wire::HostMessage;
use crate::ft::{FaultToleranceManager, WardenManager};
use crate::sim::adversary::Adversary;
use crate::sim::context::{Context, Timing};
use crate::sim::replica::{Dest, Output, Payload, Replica, SafetyStore, Timer};
use crate::sim::rng::Rng;

/// How often the relayer ticks and the chain's isolation is read.
const TICK_EVERY_US: u64 = 100_000;
/// How often the chain's epoch is checked.
const EPOCH_EVERY_US: u64 = 300_000;
/// How often the metrics are refreshed.
const METRICS_EVERY_US: u64 = 1_000_000;
/// The longest the loop sleeps.
const MAX_WAIT: Duration = Duration::from_millis(50);
/// A header request not answered within this is sent again (to another peer).
const SYNC_RETRY_US: u64 = 500_000;
/// Events handled per wake-up before timers are looked at again.
const EVENTS_PER_TURN: usize = 256;

/// The wall clock, in microseconds since the Unix epoch (the same on every process of a
/// machine, so their logs line up).
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What a node is started with.
pub struct NodeSpec {
    /// Its data directory (safety state, commit log, relay queue).
    pub data: PathBuf,
    /// Its operator.
    pub operator: OperatorId,
    /// Its validator key.
    pub key: SigningKey,
    /// Pacemaker timing.
    pub timing: Timing,
    /// A leader proposes no sooner than this after its previous proposal (the block time).
    pub block_interval_us: u64,
    /// Byzantine behaviours (for test networks), as the simulator's adversaries.
    pub adversary: Option<Adversary>,
}

/// What a node has done, for its metrics and its log.
#[derive(Clone, Debug, Default)]
pub struct NodeStats {
    /// Blocks committed (over every epoch).
    pub committed: u64,
    /// Frames received.
    pub received: u64,
    /// Frames queued to peers.
    pub sent: u64,
    /// Frames dropped because a peer's queue was full or its link down.
    pub dropped: u64,
    /// Host messages that did not decode.
    pub bad_host_messages: u64,
    /// Pieces of evidence the host found and queued.
    pub evidence: u64,
    /// Links up now.
    pub links: u64,
}

/// The durable state: the epoch the store belongs to, and the store.
#[derive(borsh::BorshSerialize, borsh::BorshDeserialize)]
struct Persisted {
    epoch: u64,
    store: SafetyStore,
}

/// One validator process's event loop.
pub struct Node<L: ChainLink> {
    spec: NodeSpec,
    manager: WardenManager<L>,
    chain_id: u64,
    ctx: Rc<Context>,
    replica: Option<Replica>,
    timers: BinaryHeap<Reverse<(u64, u64)>>,
    timer_of: HashMap<u64, (u64, Timer)>,
    next_timer: u64,
    peers: BTreeMap<OperatorId, PeerLink>,
    local: VecDeque<Rc<Payload>>,
    held: VecDeque<(Dest, Rc<Payload>)>,
    /// Frames for peers waiting for the safety state to be synced.
    staged: Vec<(OperatorId, Arc<Vec<u8>>)>,
    last_proposal_us: u64,
    persisted: Vec<u8>,
    commits: File,
    last_view: u64,
    sync: Option<(Hash, u64)>,
    stats: NodeStats,
}

fn safety_path(data: &Path) -> PathBuf {
    data.join("safety")
}

/// The file of committed blocks: one line per block, `epoch height hash time_us`.
pub fn commits_path(data: &Path) -> PathBuf {
    data.join("commits")
}

fn read_persisted(data: &Path) -> anyhow::Result<Option<Persisted>> {
    let path = safety_path(data);
    match std::fs::read(&path) {
        Ok(bytes) => warden_module::codec::decode(&bytes, 1 << 22)
            .map(Some)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: the safety state does not decode ({e:?}); refusing to start, since \
                     signing without it could equivocate",
                    path.display()
                )
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    }
}

impl<L: ChainLink> Node<L> {
    /// Opens the node over `manager` (already opened on the chain's current epoch): resumes
    /// the safety state if it belongs to that epoch.
    pub fn open(spec: NodeSpec, manager: WardenManager<L>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&spec.data)
            .with_context(|| format!("creating {}", spec.data.display()))?;
        let set = manager
            .validator_set()
            .cloned()
            .context("the chain has no validator set")?;
        let schedule = manager
            .schedule()
            .cloned()
            .context("the chain has no leader schedule")?;
        let chain_id = manager
            .host()
            .chain_id()
            .context("the host has no chain id")?;
        let epoch = set.epoch;
        let store = match read_persisted(&spec.data)? {
            Some(p) if p.epoch == epoch => {
                tracing::info!(
                    "resuming epoch {epoch} from the safety state: highest view signed {}, committed height {}",
                    p.store.highest_view(),
                    p.store.committed_height
                );
                p.store
            }
            Some(p) if p.epoch > epoch => anyhow::bail!(
                "the safety state is of epoch {}, ahead of the chain's epoch {epoch}: is this the right chain?",
                p.epoch
            ),
            _ => SafetyStore::new(epoch),
        };
        let ctx = Rc::new(Context::for_validator(
            chain_id,
            set,
            schedule,
            spec.operator,
            spec.key.clone(),
            spec.timing,
        ));
        let commits = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(commits_path(&spec.data))
            .with_context(|| format!("opening {}", commits_path(&spec.data).display()))?;
        let mut node = Self {
            manager,
            chain_id,
            ctx,
            replica: None,
            timers: BinaryHeap::new(),
            timer_of: HashMap::new(),
            next_timer: 0,
            peers: BTreeMap::new(),
            local: VecDeque::new(),
            held: VecDeque::new(),
            staged: Vec::new(),
            last_proposal_us: 0,
            persisted: Vec::new(),
            commits,
            last_view: 0,
            sync: None,
            stats: NodeStats::default(),
            spec,
        };
        node.persisted = read_persisted(&node.spec.data)?
            .map(|p| borsh::to_vec(&p).unwrap_or_default())
            .unwrap_or_default();
        node.new_replica(store);
        Ok(node)
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.ctx.epoch
    }

    /// What the node has done so far.
    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// The manager (host, relay queue, chain link).
    pub fn manager(&self) -> &WardenManager<L> {
        &self.manager
    }

    fn new_replica(&mut self, store: SafetyStore) {
        let op = self.spec.operator;
        self.timers.clear();
        self.timer_of.clear();
        self.held.clear();
        self.local.clear();
        self.staged.clear();
        self.last_view = 0;
        self.sync = None;
        self.replica = self.ctx.set.get(op).is_some().then(|| {
            Replica::new(
                op,
                op,
                self.ctx.clone(),
                store,
                self.spec.adversary.clone(),
                Rng::new(u64::from(op) ^ self.ctx.epoch.rotate_left(32) ^ now_us()),
            )
        });
        if self.replica.is_none() {
            tracing::warn!(
                "operator {op} is not in epoch {}'s validator set: observing only",
                self.ctx.epoch
            );
        }
    }

    /// Runs until `stop` is set (or the links' channel closes).
    pub fn run(
        &mut self,
        links: &Links,
        stop: &AtomicBool,
        metrics: Option<&Mutex<Metrics>>,
    ) -> anyhow::Result<()> {
        let start = now_us();
        self.drive(start, |r, now, out| r.start(now, out))?;
        let (mut next_tick, mut next_epoch, mut next_metrics) = (start, start, start);
        while !stop.load(Ordering::Relaxed) {
            let now = now_us();
            self.fire_timers(now)?;
            self.release_held(now)?;
            if now >= next_tick {
                next_tick = now + TICK_EVERY_US;
                let report = self.manager.tick(now);
                for e in &report.errors {
                    tracing::warn!("relay queue: {e}");
                }
            }
            if now >= next_epoch {
                next_epoch = now + EPOCH_EVERY_US;
                self.follow_epoch(now)?;
            }
            if now >= next_metrics {
                next_metrics = now + METRICS_EVERY_US;
                if let Some(m) = metrics {
                    let refused = links.refused.load(Ordering::Relaxed);
                    self.export(
                        &mut m.lock().unwrap_or_else(|p| p.into_inner()),
                        refused,
                        now,
                    );
                }
            }
            let due = [
                self.timers.peek().map(|Reverse((at, _))| *at),
                self.held.front().map(|_| self.proposal_due()),
                Some(next_tick),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now);
            self.flush()?;
            let wait = Duration::from_micros(due.saturating_sub(now)).min(MAX_WAIT);
            match links.events.recv_timeout(wait) {
                Ok(event) => {
                    self.on_event(event)?;
                    for _ in 0..EVENTS_PER_TURN {
                        match links.events.try_recv() {
                            Ok(event) => self.on_event(event)?,
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => anyhow::bail!("the link layer stopped"),
            }
        }
        Ok(())
    }

    fn proposal_due(&self) -> u64 {
        self.last_proposal_us
            .saturating_add(self.spec.block_interval_us)
    }

    fn fire_timers(&mut self, now: u64) -> anyhow::Result<()> {
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some((epoch, timer)) = self.timer_of.remove(&id) {
                if epoch == self.ctx.epoch {
                    self.drive(now, |r, now, out| r.on_timer(now, timer, out))?;
                }
            }
        }
        Ok(())
    }

    fn release_held(&mut self, now: u64) -> anyhow::Result<()> {
        while !self.held.is_empty() && now >= self.proposal_due() {
            // A leader's proposals of one view leave together.
            let view = self.held.front().and_then(|(_, p)| proposal_view(p));
            while let Some((dest, payload)) = self.held.pop_front() {
                if proposal_view(&payload) != view {
                    self.held.push_front((dest, payload));
                    break;
                }
                self.send(dest, payload);
            }
            self.last_proposal_us = now;
        }
        self.deliver_local(now)
    }

    /// Calls the replica and carries out what it asked for: its messages to itself are
    /// delivered at once, those to peers are staged until [`Node::flush`] has synced the safety
    /// state (the order that makes a crash safe; one sync serves a whole turn of events).
    fn drive(
        &mut self,
        now: u64,
        call: impl FnOnce(&mut Replica, u64, &mut Vec<Output>),
    ) -> anyhow::Result<()> {
        let Some(replica) = self.replica.as_mut() else {
            return Ok(());
        };
        let mut out = Vec::new();
        call(replica, now, &mut out);
        self.carry(now, out)?;
        self.on_view(now);
        self.deliver_local(now)
    }

    fn deliver_local(&mut self, now: u64) -> anyhow::Result<()> {
        let mut budget = 10_000;
        while let Some(payload) = self.local.pop_front() {
            budget -= 1;
            if budget == 0 {
                self.local.clear();
                break;
            }
            let Some(replica) = self.replica.as_mut() else {
                break;
            };
            let mut out = Vec::new();
            replica.on_message(now, &payload, &mut out);
            self.carry(now, out)?;
            self.on_view(now);
        }
        Ok(())
    }

    fn on_view(&mut self, now: u64) {
        let Some(view) = self.replica.as_ref().map(Replica::view) else {
            return;
        };
        if view == self.last_view {
            return;
        }
        self.last_view = view;
        match self.manager.monitor_validator_behavior(now, view) {
            Ok(outcome) => self.send_host(outcome.send),
            Err(e) => tracing::debug!("monitor: {e}"),
        }
    }

    /// Syncs the safety state (if it changed), then lets the staged messages leave.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.staged.is_empty() {
            return self.persist();
        }
        self.persist()?;
        for (to, bytes) in std::mem::take(&mut self.staged) {
            self.offer(to, bytes);
        }
        Ok(())
    }

    fn persist(&mut self) -> anyhow::Result<()> {
        let Some(replica) = self.replica.as_ref() else {
            return Ok(());
        };
        let bytes = borsh::to_vec(&Persisted {
            epoch: self.ctx.epoch,
            store: replica.store().clone(),
        })?;
        if bytes == self.persisted {
            return Ok(());
        }
        write_synced(&safety_path(&self.spec.data), &bytes)?;
        self.persisted = bytes;
        Ok(())
    }

    fn carry(&mut self, now: u64, out: Vec<Output>) -> anyhow::Result<()> {
        for output in out {
            match output {
                Output::Timer(at, timer) => {
                    let id = self.next_timer;
                    self.next_timer += 1;
                    self.timer_of.insert(id, (self.ctx.epoch, timer));
                    self.timers.push(Reverse((at, id)));
                }
                Output::Commit { height, hash } => self.on_commit(now, height, hash)?,
                Output::Send(dest, payload) => {
                    if proposal_view(&payload).is_some()
                        && self.spec.block_interval_us > 0
                        && (now < self.proposal_due() || !self.held.is_empty())
                    {
                        self.held.push_back((dest, payload));
                        continue;
                    }
                    if proposal_view(&payload).is_some() {
                        self.last_proposal_us = now;
                    }
                    self.send(dest, payload);
                }
            }
        }
        Ok(())
    }

    fn on_commit(&mut self, now: u64, height: u64, hash: Hash) -> anyhow::Result<()> {
        writeln!(
            self.commits,
            "{} {height} {} {now}",
            self.ctx.epoch,
            hex::encode(hash)
        )
        .context("appending to the commit log")?;
        self.stats.committed += 1;
        if let Some(block) = self.ctx.header(&hash) {
            let send = self.manager.on_commit(now, self.stats.committed, &block);
            self.send_host(send);
        }
        Ok(())
    }

    /// Sends a replica's message: to peers over their links, to itself through the local
    /// queue. A faulty node's selective connectivity limits whom it sends to.
    fn send(&mut self, dest: Dest, payload: Rc<Payload>) {
        let me = self.spec.operator;
        let targets: Vec<OperatorId> = match &dest {
            Dest::All => self.ctx.set.validators.iter().map(|v| v.operator).collect(),
            Dest::Leader(view) => vec![self.ctx.leader(*view)],
            Dest::Nodes(nodes) => nodes.to_vec(),
        };
        let only = self
            .spec
            .adversary
            .as_ref()
            .and_then(Adversary::peers)
            .map(<[u32]>::to_vec);
        let frame = match &*payload {
            Payload::Signed(m) => Frame::Signed(m.clone()),
            Payload::Cert(c) => Frame::Certificate(c.clone()),
            Payload::Host(bytes) => match BoundedBytes::new(bytes.clone()) {
                Some(b) => Frame::Host(b),
                None => return,
            },
        };
        let bytes = Arc::new(frame::encode(&frame));
        for to in targets {
            if to == me {
                self.local.push_back(payload.clone());
            } else if only.as_ref().is_none_or(|o| o.contains(&to)) {
                self.staged.push((to, bytes.clone()));
            }
        }
    }

    fn offer(&mut self, to: OperatorId, bytes: Arc<Vec<u8>>) {
        match self.peers.get(&to) {
            Some(peer) if link::offer(&peer.tx, bytes) => self.stats.sent += 1,
            _ => self.stats.dropped += 1,
        }
    }

    fn send_host(&mut self, messages: Vec<(Peers, HostMessage)>) {
        for (to, message) in messages {
            let Some(body) = BoundedBytes::new(message.encode()) else {
                continue;
            };
            let bytes = Arc::new(frame::encode(&Frame::Host(body)));
            let targets: Vec<OperatorId> = match to {
                Peers::All => self.peers.keys().copied().collect(),
                Peers::One(op) => vec![op],
            };
            for op in targets {
                self.offer(op, bytes.clone());
            }
        }
    }

    fn on_event(&mut self, event: LinkEvent) -> anyhow::Result<()> {
        let now = now_us();
        match event {
            LinkEvent::Up(peer, link) => {
                if let Some(old) = self.peers.insert(peer, link) {
                    let _ = old.stream.shutdown(std::net::Shutdown::Both);
                }
                self.stats.links = self.peers.len() as u64;
            }
            LinkEvent::Down { peer, link } => {
                if self.peers.get(&peer).is_some_and(|p| p.link == link) {
                    self.peers.remove(&peer);
                }
                self.stats.links = self.peers.len() as u64;
            }
            LinkEvent::Frame(from, frame) => {
                self.stats.received += 1;
                self.on_frame(now, from, *frame)?;
            }
        }
        Ok(())
    }

    fn on_frame(&mut self, now: u64, from: OperatorId, frame: Frame) -> anyhow::Result<()> {
        match frame {
            Frame::Signed(signed) => {
                self.observe(Observation::signed(now, from, signed.clone()));
                if let Message::Proposal(p) = &signed.message {
                    self.want_headers(now, from, &p.justify);
                }
                let payload = Payload::Signed(signed);
                self.drive(now, |r, now, out| r.on_message(now, &payload, out))?;
            }
            Frame::Certificate(cert) => {
                self.observe(Observation::certificate(now, from, cert.clone()));
                self.want_headers(now, from, &cert);
                let payload = Payload::Cert(cert);
                self.drive(now, |r, now, out| r.on_message(now, &payload, out))?;
            }
            Frame::Host(bytes) => match HostMessage::decode(bytes.as_bytes()) {
                Ok(message) => {
                    let send = self.manager.on_host_message(now, from, &message);
                    self.send_host(send);
                }
                Err(e) => {
                    self.stats.bad_host_messages += 1;
                    tracing::warn!(
                        "operator {from} sent a host message that does not decode: {e:?}"
                    );
                }
            },
            Frame::GetHeaders { tip, above } => {
                let mut headers = Vec::new();
                let mut cursor = tip;
                while headers.len() < MAX_SYNC_HEADERS {
                    let Some(h) = self.ctx.header(&cursor) else {
                        break;
                    };
                    if h.height <= above {
                        break;
                    }
                    cursor = h.parent_hash;
                    headers.push(h);
                }
                if !headers.is_empty() {
                    if let Some(list) = BoundedVec::new(headers) {
                        self.offer(from, Arc::new(frame::encode(&Frame::Headers(list))));
                    }
                }
            }
            Frame::Headers(list) => {
                let Some((tip, _)) = self.sync else {
                    return Ok(());
                };
                // Only the chain asked for: the first header is the one requested, each next
                // one the parent of the one before. (An answer to an older request is stale.)
                if list.first().map(|h| h.hash()) != Some(tip) {
                    return Ok(());
                }
                let mut want = tip;
                for header in list.iter() {
                    if header.hash() != want {
                        tracing::warn!(
                            "operator {from} answered a header request with headers that do not link"
                        );
                        break;
                    }
                    want = header.parent_hash;
                    self.ctx.record_header(header);
                }
                self.sync = None;
            }
            Frame::Ping | Frame::Hello { .. } | Frame::Auth { .. } => {}
        }
        Ok(())
    }

    fn observe(&mut self, observation: Observation) {
        match self.manager.detect_byzantine_behavior(observation) {
            Ok(found) => {
                self.stats.evidence += found.evidence.len() as u64;
                for e in &found.evidence {
                    let rule = match &e.evidence {
                        warden_module::evidence::Evidence::InvalidProposal {
                            violation, ..
                        } => {
                            format!(" {violation:?}")
                        }
                        _ => String::new(),
                    };
                    tracing::info!(
                        "evidence against operator {} in view {}: {:?}{rule} ({:?})",
                        e.offence.operator,
                        e.offence.view,
                        e.offence.class,
                        e.relay
                    );
                }
                self.send_host(found.send);
            }
            Err(e) => tracing::debug!("detector: {e}"),
        }
    }

    /// A certificate (alone, or a proposal's justify) of a block whose ancestry this node lacks
    /// (it restarted, fell behind, or missed a proposal): asks the sender for the headers down
    /// to its committed height.
    fn want_headers(&mut self, now: u64, from: OperatorId, cert: &Certificate) {
        if cert.is_genesis()
            || cert.kind == CertificateKind::Timeout
            || cert.epoch != self.ctx.epoch
        {
            return;
        }
        let committed = self
            .replica
            .as_ref()
            .map_or(0, |r| r.store().committed_height);
        // The lowest header this node lacks on the way down from the certified block.
        let mut missing = cert.block_hash;
        let mut steps = 0;
        while let Some(h) = self.ctx.header(&missing) {
            if h.height <= committed.saturating_add(1) || steps > 100_000 {
                return;
            }
            missing = h.parent_hash;
            steps += 1;
        }
        if self
            .sync
            .is_some_and(|(tip, at)| tip == missing && now < at.saturating_add(SYNC_RETRY_US))
        {
            return;
        }
        self.sync = Some((missing, now));
        self.offer(
            from,
            Arc::new(frame::encode(&Frame::GetHeaders {
                tip: missing,
                above: committed,
            })),
        );
    }

    /// When the chain's epoch has moved on: the new set and schedule, and a fresh replica.
    fn follow_epoch(&mut self, now: u64) -> anyhow::Result<()> {
        let epoch = match self.manager.query(&Query::Status) {
            Ok(QueryResponse::Status(s)) => s.epoch,
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::debug!("chain status: {e}");
                return Ok(());
            }
        };
        if epoch <= self.ctx.epoch {
            return Ok(());
        }
        if let Err(e) = self.manager.sync_with_chain() {
            tracing::warn!("reading epoch {epoch} from the chain: {e}");
            return Ok(());
        }
        let (Some(set), Some(schedule)) = (
            self.manager.validator_set().cloned(),
            self.manager.schedule().cloned(),
        ) else {
            return Ok(());
        };
        tracing::info!(
            "epoch {} from the chain: {} validators",
            set.epoch,
            set.validators.len()
        );
        self.ctx = Rc::new(Context::for_validator(
            self.chain_id,
            set,
            schedule,
            self.spec.operator,
            self.spec.key.clone(),
            self.spec.timing,
        ));
        self.new_replica(SafetyStore::new(self.ctx.epoch));
        self.persist()?;
        self.drive(now, |r, now, out| r.start(now, out))
    }

    fn export(&self, m: &mut Metrics, refused: u64, now: u64) {
        let op = self.spec.operator.to_string();
        let labels = [("operator", op.as_str())];
        let s = &self.stats;
        let view = self.replica.as_ref().map_or(0, Replica::view);
        let gauges = [
            (
                "warden_node_view",
                "The replica's current view.",
                view as f64,
            ),
            (
                "warden_node_epoch",
                "The epoch the node runs.",
                self.ctx.epoch as f64,
            ),
            (
                "warden_node_links",
                "Authenticated links up.",
                s.links as f64,
            ),
            (
                "warden_node_relay_queue",
                "Items waiting in the node's relay queue.",
                self.manager.relayer().pending_len() as f64,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = m.gauge(name, help, &labels, value);
        }
        let counters = [
            (
                "warden_node_committed_blocks_total",
                "Blocks committed, over every epoch.",
                s.committed,
            ),
            (
                "warden_node_frames_received_total",
                "Frames received from peers.",
                s.received,
            ),
            (
                "warden_node_frames_sent_total",
                "Frames queued to peers.",
                s.sent,
            ),
            (
                "warden_node_frames_dropped_total",
                "Frames dropped: a peer's queue was full or its link down.",
                s.dropped,
            ),
            (
                "warden_node_frames_refused_total",
                "Connections and frames refused: bad handshakes, malformed or oversized frames.",
                refused + s.bad_host_messages,
            ),
            (
                "warden_node_evidence_total",
                "Pieces of evidence found.",
                s.evidence,
            ),
        ];
        for (name, help, value) in counters {
            let _ = m.counter(name, help, &labels, value as f64);
        }
        let _ = self.manager.host().health(now).export(m);
    }
}

fn proposal_view(payload: &Payload) -> Option<u64> {
    match payload {
        Payload::Signed(SignedMessage {
            message: Message::Proposal(p),
            ..
        }) => Some(p.view),
        _ => None,
    }
}

/// Writes `bytes` to `path` durably: a temporary file, synced, renamed over `path`, and the
/// directory synced.
fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}
