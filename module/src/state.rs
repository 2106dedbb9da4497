//! Storage: the host trait, the transaction overlay and the records the module keeps.
//!
//! Every transaction runs over an [`Overlay`]: reads go through it, writes and events stay in
//! it, and only a successful transaction flushes them to the host. An error leaves the host's
//! state exactly as it was, whatever the host does with a trap.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{encode, VecMap};
use crate::error::Error;
use crate::evidence::OffenceClass;
use crate::msg::{Event, QuarantineLevel};
use crate::wire::{Hash, OperatorId, PublicKey};

/// What the module needs from the runtime that runs it. Keys and values are opaque bytes.
pub trait Host {
    /// The value stored under `key`.
    fn read(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Stores `value` under `key`.
    fn write(&mut self, key: &[u8], value: &[u8]);
    /// Removes `key`.
    fn remove(&mut self, key: &[u8]);
    /// Height of the block being executed (or last committed, for queries).
    fn block_height(&self) -> u64;
    /// Time of that block, in milliseconds since the Unix epoch.
    fn block_time(&self) -> u64;
    /// The transaction's sender, as checked by the runtime.
    fn caller(&self) -> Option<PublicKey>;
    /// Records an event (borsh-encoded [`Event`]).
    fn emit(&mut self, event: &[u8]);
}

/// A host over an in-memory map: the reference for native execution and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryHost {
    /// The state.
    pub state: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Height handed to the module.
    pub height: u64,
    /// Time handed to the module.
    pub time: u64,
    /// Caller handed to the module.
    pub caller: Option<PublicKey>,
    /// Events emitted so far (borsh-encoded).
    pub events: Vec<Vec<u8>>,
}

impl Host for MemoryHost {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.state.get(key).cloned()
    }
    fn write(&mut self, key: &[u8], value: &[u8]) {
        self.state.insert(key.to_vec(), value.to_vec());
    }
    fn remove(&mut self, key: &[u8]) {
        self.state.remove(key);
    }
    fn block_height(&self) -> u64 {
        self.height
    }
    fn block_time(&self) -> u64 {
        self.time
    }
    fn caller(&self) -> Option<PublicKey> {
        self.caller
    }
    fn emit(&mut self, event: &[u8]) {
        self.events.push(event.to_vec());
    }
}

/// Buffered reads, writes and events of one transaction.
pub struct Overlay<'h, H: Host> {
    host: &'h mut H,
    changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    events: Vec<Event>,
}

impl<'h, H: Host> Overlay<'h, H> {
    /// An empty overlay over `host`.
    pub fn new(host: &'h mut H) -> Self {
        Self {
            host,
            changes: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// The host below (for height, time and caller).
    pub fn host(&self) -> &H {
        self.host
    }

    /// Reads and decodes `key`; a stored value that does not decode is [`Error::Decode`].
    pub fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Result<Option<T>, Error> {
        let raw = match self.changes.get(key) {
            Some(change) => change.clone(),
            None => self.host.read(key),
        };
        raw.map(|bytes| borsh::from_slice(&bytes).map_err(|_| Error::Decode))
            .transpose()
    }

    /// Encodes and buffers `value` under `key`.
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.changes.insert(key, Some(encode(value)));
    }

    /// Buffers the removal of `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.changes.insert(key, None);
    }

    /// Buffers an event.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// The events buffered so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Writes every buffered change and event to the host.
    pub fn commit(self) {
        for (key, change) in self.changes {
            match change {
                Some(value) => self.host.write(&key, &value),
                None => self.host.remove(&key),
            }
        }
        for event in &self.events {
            self.host.emit(&encode(event));
        }
    }
}

/// Storage keys. Integers are big-endian so keys sort by number.
///
/// No stored value grows with the life of the chain: what only accumulates (bans, banned keys,
/// offences, slashing proposals, isolation of operators that left the set) is one entry per
/// operator, key, offence or proposal, and every collection stored as one value is bounded by
/// the size of a validator set ([`crate::wire::MAX_VALIDATORS`]) or by a configured limit.
pub mod keys {
    use alloc::vec::Vec;

    use crate::wire::{Hash, OperatorId, PublicKey};

    /// The [`super::Meta`] record.
    pub const META: &[u8] = b"meta";
    /// The configuration.
    pub const CONFIG: &[u8] = b"config";
    /// The isolation table of the current set: its members that are not active (at most one
    /// entry per member).
    pub const ISOLATION: &[u8] = b"isolation";
    /// Tier 3 window state (counts for members of the current set only).
    pub const LIVENESS: &[u8] = b"liveness";

    fn with(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(prefix.len() + suffix.len());
        key.extend_from_slice(prefix);
        key.extend_from_slice(suffix);
        key
    }

    /// The totals of an epoch's validator set ([`super::SetInfo`]).
    pub fn set(epoch: u64) -> Vec<u8> {
        with(b"set/", &epoch.to_be_bytes())
    }
    /// The operators of an epoch's set, in increasing order (read only by what needs the whole
    /// set: rotations, windows, schedules and queries).
    pub fn members(epoch: u64) -> Vec<u8> {
        with(b"members/", &epoch.to_be_bytes())
    }
    /// One validator of an epoch's set (a `ValidatorInfo`).
    pub fn member(epoch: u64, operator: OperatorId) -> Vec<u8> {
        let mut suffix = [0u8; 12];
        suffix[..8].copy_from_slice(&epoch.to_be_bytes());
        suffix[8..].copy_from_slice(&operator.to_be_bytes());
        with(b"member/", &suffix)
    }
    /// The leader schedule of an epoch.
    pub fn schedule(epoch: u64) -> Vec<u8> {
        with(b"schedule/", &epoch.to_be_bytes())
    }
    /// An operator's record.
    pub fn operator(operator: OperatorId) -> Vec<u8> {
        with(b"operator/", &operator.to_be_bytes())
    }
    /// The isolation state of an operator outside the current set (members are in
    /// [`ISOLATION`]); moved in and out of the table at each rotation.
    pub fn isolation_of(operator: OperatorId) -> Vec<u8> {
        with(b"isolation/", &operator.to_be_bytes())
    }
    /// The operator a banned key belonged to.
    pub fn banned_key(key: &PublicKey) -> Vec<u8> {
        with(b"banned-key/", &key.0)
    }
    /// The `index`-th banned operator, in the order of the bans (for paging).
    pub fn banned(index: u64) -> Vec<u8> {
        with(b"banned/", &index.to_be_bytes())
    }
    /// The Tier 1 offences of an epoch, for correlated slashing (at most one per member), with
    /// the fraction and reward of each one's proposal while it is pending.
    pub fn correlation(epoch: u64) -> Vec<u8> {
        with(b"correlation/", &epoch.to_be_bytes())
    }
    /// A punished offence, by its id.
    pub fn offence(id: &Hash) -> Vec<u8> {
        with(b"offence/", id)
    }
    /// A slashing proposal.
    pub fn proposal(id: u64) -> Vec<u8> {
        with(b"slash/", &id.to_be_bytes())
    }
    /// The view ranges punished for a Tier 2 behaviour of an operator in an epoch.
    pub fn accusation_ranges(operator: OperatorId, class: u8, epoch: u64) -> Vec<u8> {
        let mut suffix = Vec::with_capacity(13);
        suffix.extend_from_slice(&operator.to_be_bytes());
        suffix.push(class);
        suffix.extend_from_slice(&epoch.to_be_bytes());
        with(b"accused/", &suffix)
    }
}

/// Chain-wide facts.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Meta {
    /// Chain id.
    pub chain_id: u64,
    /// The authority.
    pub authority: PublicKey,
    /// Current epoch.
    pub epoch: u64,
    /// Epochs whose sets are retained, increasing.
    pub retained_epochs: Vec<u64>,
    /// Id of the next slashing proposal.
    pub next_proposal_id: u64,
    /// Operators banned so far (the next index of [`keys::banned`]).
    pub banned: u64,
}

/// The totals of an epoch's validator set; its members are stored one record each
/// ([`keys::member`]), its operators as a list ([`keys::members`]).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SetInfo {
    /// The epoch.
    pub epoch: u64,
    /// Sum of the validators' power.
    pub total_power: u64,
    /// Number of validators.
    pub validators: u32,
}

/// An operator's standing, kept across epochs and key rotations.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct OperatorRecord {
    /// Reputation score.
    pub reputation: u32,
    /// Tier 2 and 3 offences so far.
    pub offences: u32,
}

/// An operator's isolation. Operators absent from the isolation table are active.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum IsolationState {
    /// Full standing.
    Active,
    /// Excluded from voting and leading until `until`.
    Quarantined {
        /// Height at which it began.
        since: u64,
        /// Height at which it ends.
        until: u64,
        /// Severity.
        level: QuarantineLevel,
    },
    /// A quarantine that waits for room under the cap that keeps a quorum active.
    Deferred {
        /// Its length once applied.
        blocks: u64,
        /// Severity.
        level: QuarantineLevel,
        /// Height at which it was imposed.
        since: u64,
    },
    /// Back in the set with reduced influence until reputation reaches the threshold.
    Probation {
        /// Height at which it began.
        since: u64,
    },
    /// Permanently excluded.
    Banned {
        /// Height of the ban.
        since: u64,
        /// The offence.
        class: OffenceClass,
    },
}

/// A punished offence.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct OffenceRecord {
    /// Height at which it was punished.
    pub height: u64,
}

/// Where a slashing proposal stands.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalStatus {
    /// Inside its deferral window, or waiting to be finalised.
    Pending,
    /// Vetoed by the authority.
    Vetoed,
    /// Final: the chain's staking code executes it.
    Finalised,
}

/// A proposal to slash an offender's stake; the module holds no stake itself.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SlashingProposal {
    /// The proposal's id.
    pub id: u64,
    /// The offence.
    pub offence: crate::evidence::OffenceKey,
    /// `OffenceKey::id` of the offence: the evidence id.
    #[cfg_attr(feature = "serde", serde(with = "crate::json::hex32"))]
    pub evidence_id: Hash,
    /// Fraction of stake to slash (ppb), raised as correlated offenders appear.
    pub fraction_ppb: u64,
    /// Who reported it (none for a self-report or when no sender is known).
    pub reporter: Option<PublicKey>,
    /// The reporter's reward (ppb of the offender's stake).
    pub reporter_reward_ppb: u64,
    /// Height at which it was made.
    pub created: u64,
    /// First height at which it may be finalised; the authority may veto before.
    pub execute_after: u64,
    /// Where it stands.
    pub status: ProposalStatus,
}

/// A recent Tier 1 offence, for correlated slashing.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CorrelatedOffence {
    /// The offender.
    pub operator: OperatorId,
    /// Epoch of the offence.
    pub epoch: u64,
    /// Power of the offender in that epoch.
    pub power: u64,
    /// Its slashing proposal.
    pub proposal: u64,
    /// The proposal's fraction (ppb) as correlation raised it. While the proposal is open this
    /// entry, not the proposal's record, holds its fraction and reward, so that a later
    /// offender raises every earlier proposal of the window without reading or rewriting
    /// them; a veto, a finalisation or the end of the entry's retention writes them into the
    /// record.
    pub fraction_ppb: u64,
    /// The reporter's reward (ppb) at that fraction.
    pub reporter_reward_ppb: u64,
    /// Whether the proposal names a reporter (who is rewarded).
    pub reported: bool,
    /// Whether the proposal is still pending: a vetoed or finalised one is never raised.
    pub open: bool,
}

impl CorrelatedOffence {
    /// `proposal` with the fraction and reward this entry holds, if it is the entry of that
    /// proposal and the proposal is still pending.
    pub fn apply_to(&self, proposal: &mut SlashingProposal) {
        if self.open && self.proposal == proposal.id && proposal.status == ProposalStatus::Pending {
            proposal.fraction_ppb = self.fraction_ppb;
            proposal.reporter_reward_ppb = self.reporter_reward_ppb;
        }
    }
}

/// Tier 3 state: the open participation window and the recording watermarks.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct LivenessState {
    /// Number of the open window.
    pub window: u64,
    /// Certificates recorded in it.
    pub certificates: u32,
    /// Certificates each operator signed in it.
    pub signed: VecMap<OperatorId, u32>,
    /// Failed views (timeout certificates) per scheduled leader in it.
    pub leader_failures: VecMap<OperatorId, u32>,
    /// Highest (epoch, view) recorded per certificate kind (`CertificateKind as u8`).
    pub watermarks: VecMap<u8, (u64, u64)>,
}
