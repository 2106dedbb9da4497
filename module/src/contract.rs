//! The contract: entry points that decode, dispatch to one `execute_*` function per message and
//! commit only on success. Every function here works on typed values; raw bytes stop at
//! [`init`], [`execute`] and [`query`].

use alloc::vec::Vec;
use core::cell::RefCell;

use crate::codec::{decode, encode, VecMap};
use crate::config::{Config, PPM};
use crate::crypto::Verifier;
use crate::error::Error;
use crate::evidence::{
    verify_certificate, witness_power, Evidence, JustifySet, OffenceClass, OffenceKey,
    WitnessedAccusation,
};
use crate::isolation::{self, IsolationTable, Powers};
use crate::msg::{
    EffectivePower, EpochChange, Event, Genesis, Msg, Query, QueryResponse, ReputationInfo,
    Rotation, Status, MAX_PAGE, MAX_QUERY_BYTES, MAX_SIGNATURES_PER_TX, MAX_TX_BYTES,
};
use crate::reputation;
use crate::schedule::{Candidate, LeaderSchedule};
use crate::slashing::{correlated_fraction, reporter_reward};
use crate::state::{
    keys, CorrelatedOffence, Host, IsolationState, LivenessState, Meta, OffenceRecord,
    OperatorRecord, Overlay, ProposalStatus, SetInfo, SlashingProposal,
};
use crate::validators::{Member, SetView, ValidatorInfo, ValidatorSet};
use crate::wire::{
    signing_bytes, Certificate, CertificateKind, Hash, MessageKind, OperatorId, PublicKey,
};

/// The most disjoint view ranges punished per (operator, behaviour, epoch); past it, further
/// accusations of that behaviour in that epoch are `Duplicate`.
pub const MAX_ACCUSATION_RANGES: usize = 1024;

/// The largest genesis the module decodes.
pub const MAX_GENESIS_BYTES: usize = MAX_TX_BYTES;

/// Initialises the module from a borsh-encoded [`Genesis`].
pub fn init<H: Host>(host: &mut H, genesis: &[u8]) -> Result<(), Error> {
    let genesis: Genesis = decode(genesis, MAX_GENESIS_BYTES)?;
    let mut ov = Overlay::new(host);
    if ov.get::<Meta>(keys::META)?.is_some() {
        return Err(Error::AlreadyInitialized);
    }
    genesis.config.validate()?;
    let set = ValidatorSet::new(genesis.epoch, genesis.validators)?;
    let meta = Meta {
        chain_id: genesis.chain_id,
        authority: genesis.authority,
        epoch: genesis.epoch,
        retained_epochs: alloc::vec![genesis.epoch],
        next_proposal_id: 0,
        banned: 0,
    };
    let height = ov.host().block_height();
    let caller = ov.host().caller();
    ov.emit(Event::Initialized {
        chain_id: genesis.chain_id,
        epoch: genesis.epoch,
    });
    let mut ctx = Contract {
        ov,
        meta,
        config: genesis.config,
        config_changed: true,
        height,
        caller,
        batch: VecMap::new(),
        members: RefCell::new(VecMap::new()),
        sets: RefCell::new(VecMap::new()),
        table: RefCell::new(None),
    };
    ctx.start_epoch(set)?;
    ctx.write_schedule()?;
    ctx.finish()
}

/// Executes a borsh-encoded [`Msg`] sent by the host's caller. On any error nothing is written.
pub fn execute<H: Host>(host: &mut H, verifier: &impl Verifier, tx: &[u8]) -> Result<(), Error> {
    let msg: Msg = decode(tx, MAX_TX_BYTES)?;
    let count = msg.signature_count();
    if count > MAX_SIGNATURES_PER_TX as u64 {
        return Err(Error::TooManySignatures {
            count,
            limit: MAX_SIGNATURES_PER_TX as u64,
        });
    }
    let mut ctx = Contract::load(host)?;
    ctx.refresh_isolation()?;
    match msg {
        Msg::SubmitEvidence(evidence) => ctx.execute_evidence(&evidence, verifier)?,
        Msg::SubmitEvidenceBatch(batch) => {
            // First the new offenders (no signature yet: a forged piece fails the batch below).
            for evidence in batch.iter() {
                let Ok(offence) = evidence.offence() else {
                    continue;
                };
                let known = ctx
                    .ov
                    .get::<OffenceRecord>(&keys::offence(&offence.id()))?
                    .is_some();
                if !known && !ctx.is_banned(offence.operator)? {
                    let power = match ctx.epoch_set(offence.epoch) {
                        Ok(set) => Some(set.power(offence.operator)?),
                        Err(_) => None,
                    };
                    if let Some(power) = power {
                        ctx.batch.insert(offence.operator, (offence.epoch, power));
                    }
                }
            }
            let mut accepted = false;
            for evidence in batch.iter() {
                match ctx.execute_evidence(evidence, verifier) {
                    Ok(()) => accepted = true,
                    Err(Error::Duplicate | Error::AlreadyBanned { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if !accepted {
                return Err(Error::Duplicate);
            }
        }
        Msg::SubmitAccusation(accusation) => ctx.execute_accusation(&accusation, verifier)?,
        Msg::RecordCertificates(certs) => ctx.execute_certificates(&certs, verifier)?,
        Msg::RotateValidators(rotation) => ctx.execute_rotation(rotation, verifier)?,
        Msg::UpdateConfig(config) => ctx.execute_update_config(config)?,
        Msg::VetoSlashing { id } => ctx.execute_veto(id)?,
        Msg::FinaliseSlashing { id } => ctx.execute_finalise(id)?,
    }
    ctx.finish()
}

/// Answers a borsh-encoded [`Query`] with a borsh-encoded [`QueryResponse`], as of the host's
/// block height. Nothing is written.
pub fn query<H: Host>(host: &mut H, query: &[u8]) -> Result<Vec<u8>, Error> {
    let query: Query = decode(query, MAX_QUERY_BYTES)?;
    let mut ctx = Contract::load(host)?;
    // Bring isolation up to the current height in the (discarded) overlay.
    ctx.refresh_isolation()?;
    let response = ctx.answer(query)?;
    Ok(encode(&response))
}

/// The indices of a page: from `start`, at most `limit` (capped at [`MAX_PAGE`]), below `count`.
fn page(start: u64, limit: u32, count: u64) -> core::ops::Range<u64> {
    let end = start
        .saturating_add(u64::from(limit.min(MAX_PAGE)))
        .min(count);
    start..end.max(start)
}

/// The Tier 1 offences of one epoch, by offender.
type Correlated = VecMap<OperatorId, CorrelatedOffence>;

/// One transaction's view of the module's state.
struct Contract<'h, H: Host> {
    ov: Overlay<'h, H>,
    meta: Meta,
    config: Config,
    /// Whether the configuration changed (it is written back only then).
    config_changed: bool,
    height: u64,
    caller: Option<PublicKey>,
    /// The new offenders of the evidence batch being executed, with their epoch and power:
    /// they count in every correlated fraction of the batch, so each of its proposals gets
    /// the final fraction at once (no raise per piece).
    batch: VecMap<OperatorId, (u64, u64)>,
    /// The members read so far, by (epoch, operator): each record is decoded at most once
    /// per transaction.
    members: RefCell<VecMap<(u64, OperatorId), Option<Member>>>,
    /// The sets' totals read so far, by epoch.
    sets: RefCell<VecMap<u64, SetInfo>>,
    /// The isolation table as stored (or as last written by this transaction).
    table: RefCell<Option<IsolationTable>>,
}

/// A stored validator set: its totals, and its members read through the transaction's cache
/// when the rules ask for them.
struct StoredSet<'c, 'h, H: Host> {
    ctx: &'c Contract<'h, H>,
    info: SetInfo,
}

impl<H: Host> SetView for StoredSet<'_, '_, H> {
    fn epoch(&self) -> u64 {
        self.info.epoch
    }
    fn total_power(&self) -> u64 {
        self.info.total_power
    }
    fn member(&self, operator: OperatorId) -> Result<Option<Member>, Error> {
        self.ctx.member(self.info.epoch, operator)
    }
}

impl<'h, H: Host> Contract<'h, H> {
    fn load(host: &'h mut H) -> Result<Self, Error> {
        let ov = Overlay::new(host);
        let meta: Meta = ov.get(keys::META)?.ok_or(Error::NotInitialized)?;
        let config: Config = ov.get(keys::CONFIG)?.ok_or(Error::NotInitialized)?;
        let height = ov.host().block_height();
        let caller = ov.host().caller();
        Ok(Self {
            ov,
            meta,
            config,
            config_changed: false,
            height,
            caller,
            batch: VecMap::new(),
            members: RefCell::new(VecMap::new()),
            sets: RefCell::new(VecMap::new()),
            table: RefCell::new(None),
        })
    }

    fn finish(mut self) -> Result<(), Error> {
        self.ov.put(keys::META.to_vec(), &self.meta);
        if self.config_changed {
            self.ov.put(keys::CONFIG.to_vec(), &self.config);
        }
        self.ov.commit();
        Ok(())
    }

    fn is_authority(&self) -> bool {
        self.caller == Some(self.meta.authority)
    }

    fn require_authority(&self) -> Result<(), Error> {
        if self.is_authority() {
            Ok(())
        } else {
            Err(Error::Unauthorized)
        }
    }

    // ----- storage helpers -------------------------------------------------------------

    fn oldest_epoch(&self) -> u64 {
        self.meta.epoch.saturating_sub(self.config.retention_epochs)
    }

    /// The validator set of an admissible epoch: not in the future, not expired, retained.
    fn epoch_set(&self, epoch: u64) -> Result<StoredSet<'_, 'h, H>, Error> {
        if epoch > self.meta.epoch {
            return Err(Error::FutureEpoch {
                epoch,
                current: self.meta.epoch,
            });
        }
        let oldest = self.oldest_epoch();
        if epoch < oldest {
            return Err(Error::Expired { epoch, oldest });
        }
        self.stored_set(epoch)
    }

    fn current_set(&self) -> Result<StoredSet<'_, 'h, H>, Error> {
        self.stored_set(self.meta.epoch)
    }

    fn stored_set(&self, epoch: u64) -> Result<StoredSet<'_, 'h, H>, Error> {
        if let Some(info) = self.sets.borrow().get(&epoch) {
            return Ok(StoredSet {
                ctx: self,
                info: *info,
            });
        }
        let info: SetInfo = self
            .ov
            .get(&keys::set(epoch))?
            .ok_or(Error::UnknownEpoch { epoch })?;
        self.sets.borrow_mut().insert(epoch, info);
        Ok(StoredSet { ctx: self, info })
    }

    /// A member of an epoch's set, decoded once per transaction.
    fn member(&self, epoch: u64, operator: OperatorId) -> Result<Option<Member>, Error> {
        if let Some(member) = self.members.borrow().get(&(epoch, operator)) {
            return Ok(*member);
        }
        let member = self
            .ov
            .get::<ValidatorInfo>(&keys::member(epoch, operator))?
            .map(|v| Member::from(&v));
        self.members.borrow_mut().insert((epoch, operator), member);
        Ok(member)
    }

    /// The whole set of a retained epoch, for what needs every member.
    fn full_set(&self, epoch: u64) -> Result<ValidatorSet, Error> {
        let info = self.stored_set(epoch)?.info;
        let operators: Vec<OperatorId> = self
            .ov
            .get(&keys::members(epoch))?
            .ok_or(Error::UnknownEpoch { epoch })?;
        let mut validators = Vec::with_capacity(operators.len());
        for operator in operators {
            validators.push(
                self.ov
                    .get::<ValidatorInfo>(&keys::member(epoch, operator))?
                    .ok_or(Error::Decode)?,
            );
        }
        Ok(ValidatorSet {
            epoch,
            validators: crate::codec::BoundedVec::new(validators).ok_or(Error::Decode)?,
            total_power: info.total_power,
        })
    }

    /// The current set's total power and the power of every operator in `table`, for the cap.
    fn powers(&self, table: &IsolationTable) -> Result<Powers, Error> {
        let set = self.current_set()?;
        let mut of = VecMap::new();
        if isolation::needs_power(table) {
            for (&operator, _) in table.iter() {
                of.insert(operator, set.power(operator)?);
            }
        }
        Ok(Powers {
            total: set.total_power(),
            of,
        })
    }

    fn schedule(&self, epoch: u64) -> Result<LeaderSchedule, Error> {
        self.ov
            .get(&keys::schedule(epoch))?
            .ok_or(Error::UnknownEpoch { epoch })
    }

    /// An operator's record; a score above a since-lowered maximum reads as the maximum.
    fn record(&self, operator: OperatorId) -> Result<OperatorRecord, Error> {
        let mut record = self
            .ov
            .get(&keys::operator(operator))?
            .unwrap_or(OperatorRecord {
                reputation: self.config.reputation.baseline,
                offences: 0,
            });
        record.reputation = record.reputation.min(self.config.reputation.max);
        Ok(record)
    }

    fn put_record(&mut self, operator: OperatorId, record: &OperatorRecord) {
        self.ov.put(keys::operator(operator), record);
    }

    /// The isolation table of the current set's members.
    fn isolation(&self) -> Result<IsolationTable, Error> {
        if let Some(table) = self.table.borrow().as_ref() {
            return Ok(table.clone());
        }
        let table: IsolationTable = self.ov.get(keys::ISOLATION)?.unwrap_or_default();
        *self.table.borrow_mut() = Some(table.clone());
        Ok(table)
    }

    /// The isolation of an operator outside the current set, as of this height: its record,
    /// aged as [`refresh_isolation`](Self::refresh_isolation) ages the table's entries (a
    /// quarantine that is over is probation, probation with enough reputation is over).
    /// `None` if it is active. The record itself is brought up to date, with its events, when
    /// the operator rejoins a set.
    fn outside_state(&self, operator: OperatorId) -> Result<Option<IsolationState>, Error> {
        let Some(state) = self.ov.get(&keys::isolation_of(operator))? else {
            return Ok(None);
        };
        let state = isolation::aged(state, self.height);
        let threshold = self.config.reputation.rehabilitation_threshold;
        if matches!(state, IsolationState::Probation { .. })
            && self.record(operator)?.reputation >= threshold
        {
            return Ok(None);
        }
        Ok(Some(state))
    }

    /// The table with `operator` in it: from its own record when it is not a member.
    fn isolation_with(&self, operator: OperatorId) -> Result<IsolationTable, Error> {
        let mut table = self.isolation()?;
        if table.get(&operator).is_none() {
            if let Some(state) = self.outside_state(operator)? {
                table.insert(operator, state);
            }
        }
        Ok(table)
    }

    /// An operator's isolation state, member of the current set or not.
    fn state_of(&self, operator: OperatorId) -> Result<IsolationState, Error> {
        Ok(self
            .isolation_with(operator)?
            .get(&operator)
            .copied()
            .unwrap_or(IsolationState::Active))
    }

    /// Stores the table: members of the current set in it, anyone else in its own record, so
    /// the table never holds more than one entry per member. The stored table holds members
    /// only, so only the operators new to it are looked up.
    fn put_isolation(&mut self, mut table: IsolationTable) -> Result<(), Error> {
        let stored = self.isolation()?;
        let set = self.current_set()?;
        let mut outside: Vec<(OperatorId, IsolationState)> = Vec::new();
        for (&operator, &state) in table.iter() {
            if stored.get(&operator).is_none() && set.member(operator)?.is_none() {
                outside.push((operator, state));
            }
        }
        for (operator, state) in outside {
            table.remove(&operator);
            self.ov.put(keys::isolation_of(operator), &state);
        }
        self.ov.put(keys::ISOLATION.to_vec(), &table);
        *self.table.borrow_mut() = Some(table);
        Ok(())
    }

    /// After a rotation to `set`: members' records move into the table, leavers' out of it.
    fn migrate_isolation(&mut self, set: &ValidatorSet) -> Result<(), Error> {
        let mut table = self.isolation()?;
        for v in set.validators.iter() {
            let key = keys::isolation_of(v.operator);
            if let Some(state) = self.ov.get::<IsolationState>(&key)? {
                table.insert(v.operator, state);
                self.ov.delete(key);
            }
        }
        let leavers: Vec<(OperatorId, IsolationState)> = table
            .iter()
            .filter(|(op, _)| set.get(**op).is_none())
            .map(|(op, state)| (*op, *state))
            .collect();
        for (operator, state) in leavers {
            table.remove(&operator);
            self.ov.put(keys::isolation_of(operator), &state);
        }
        self.ov.put(keys::ISOLATION.to_vec(), &table);
        *self.table.borrow_mut() = Some(table);
        Ok(())
    }

    /// Changes an operator's reputation and emits the change.
    fn set_reputation(
        &mut self,
        operator: OperatorId,
        f: impl FnOnce(u32) -> u32,
    ) -> Result<(), Error> {
        let mut record = self.record(operator)?;
        let from = record.reputation;
        record.reputation = f(from).min(self.config.reputation.max);
        if record.reputation != from {
            self.put_record(operator, &record);
            self.ov.emit(Event::ReputationChanged {
                operator,
                from,
                to: record.reputation,
            });
        }
        Ok(())
    }

    // ----- isolation ---------------------------------------------------------------------

    /// Brings isolation to the current height (quarantine ends, rehabilitation, the cap).
    fn refresh_isolation(&mut self) -> Result<(), Error> {
        let mut table = self.isolation()?;
        if !isolation::needs_power(&table) {
            return Ok(());
        }
        let set = self.powers(&table)?;
        let mut reputations = VecMap::new();
        for (&op, state) in table.iter() {
            if matches!(state, IsolationState::Probation { .. }) {
                reputations.insert(op, self.record(op)?.reputation);
            }
        }
        let events = isolation::refresh(
            &mut table,
            &set,
            self.height,
            |op| reputations.get(&op).copied().unwrap_or(0),
            self.config.reputation.rehabilitation_threshold,
            self.config.isolation.probation_influence_ppm,
        );
        if !events.is_empty() {
            self.put_isolation(table)?;
            for event in events {
                self.ov.emit(event);
            }
        }
        Ok(())
    }

    fn is_banned(&self, operator: OperatorId) -> Result<bool, Error> {
        Ok(matches!(
            self.state_of(operator)?,
            IsolationState::Banned { .. }
        ))
    }

    fn ban(&mut self, operator: OperatorId, class: OffenceClass) -> Result<(), Error> {
        let mut table = self.isolation_with(operator)?;
        table.insert(
            operator,
            IsolationState::Banned {
                since: self.height,
                class,
            },
        );
        self.ov.emit(Event::Banned { operator, class });
        let influence = self.config.isolation.probation_influence_ppm;
        let set = self.powers(&table)?;
        for event in isolation::rebalance(&mut table, &set, self.height, influence) {
            self.ov.emit(event);
        }
        self.put_isolation(table)?;
        let index = self.meta.banned;
        self.meta.banned = index.checked_add(1).ok_or(Error::Overflow)?;
        self.ov.put(keys::banned(index), &operator);
        self.ban_keys(operator)
    }

    /// Records every retained key of a banned operator, so no rotation can bring the same key
    /// back under another operator index.
    fn ban_keys(&mut self, operator: OperatorId) -> Result<(), Error> {
        for epoch in self.meta.retained_epochs.clone() {
            if let Some(member) = self.member(epoch, operator)? {
                self.ov.put(keys::banned_key(&member.key), &operator);
            }
        }
        Ok(())
    }

    /// The operator a banned key belonged to.
    fn banned_key(&self, key: &PublicKey) -> Result<Option<OperatorId>, Error> {
        self.ov.get(&keys::banned_key(key))
    }

    /// The graduated response to a Tier 2 or Tier 3 offence: a penalty, then a warning or a
    /// quarantine that grows with the operator's history.
    fn sanction(&mut self, operator: OperatorId, class: OffenceClass) -> Result<(), Error> {
        let penalty = match class.tier() {
            2 => self.config.reputation.tier2_penalty,
            _ => self.config.reputation.tier3_penalty,
        };
        self.set_reputation(operator, |r| reputation::penalise(r, penalty))?;
        let mut record = self.record(operator)?;
        record.offences = record.offences.saturating_add(1);
        self.put_record(operator, &record);
        match isolation::graduated_response(record.offences, &self.config.isolation) {
            None => self.ov.emit(Event::Warned { operator, class }),
            Some((level, blocks)) => {
                let mut table = self.isolation_with(operator)?;
                let before = isolation::state_of(&table, operator);
                isolation::impose_quarantine(&mut table, operator, level, blocks, self.height);
                let set = self.powers(&table)?;
                let influence = self.config.isolation.probation_influence_ppm;
                for event in isolation::rebalance(&mut table, &set, self.height, influence) {
                    self.ov.emit(event);
                }
                match isolation::state_of(&table, operator) {
                    IsolationState::Deferred { .. } => {
                        self.ov.emit(Event::QuarantineDeferred { operator })
                    }
                    // A quarantine in force that this offence extended or made more severe.
                    after @ IsolationState::Quarantined { until, level, .. }
                        if matches!(before, IsolationState::Quarantined { .. })
                            && before != after =>
                    {
                        self.ov.emit(Event::Quarantined {
                            operator,
                            until,
                            level,
                        })
                    }
                    _ => {}
                }
                self.put_isolation(table)?;
            }
        }
        Ok(())
    }

    // ----- Tier 1 ------------------------------------------------------------------------

    fn execute_evidence(
        &mut self,
        evidence: &Evidence,
        verifier: &impl Verifier,
    ) -> Result<(), Error> {
        // 1. Structure: kinds, signers, epochs, views, conflict. No state, no signature.
        let offence = evidence.offence()?;
        // 2. Epoch: not future, not expired, known.
        let set = self.epoch_set(offence.epoch)?;
        let power = set
            .member(offence.operator)?
            .ok_or(Error::UnknownValidator {
                operator: offence.operator,
                epoch: offence.epoch,
            })?
            .power;
        let total_power = set.total_power();
        // 3. Duplicates and bans: storage reads.
        let id = offence.id();
        if self.ov.get::<OffenceRecord>(&keys::offence(&id))?.is_some() {
            return Err(Error::Duplicate);
        }
        if self.is_banned(offence.operator)? {
            return Err(Error::AlreadyBanned {
                operator: offence.operator,
            });
        }
        // 4. The rule and the signatures. The schedule is read only by a wrong-leader proof.
        let schedule = if evidence.needs_schedule() {
            self.schedule(offence.epoch)?
        } else {
            LeaderSchedule::empty(self.meta.chain_id, offence.epoch)
        };
        let nobody;
        let other;
        let justify_set: &dyn SetView = match evidence.justify_source(offence.epoch) {
            JustifySet::Same => &set,
            JustifySet::Nobody(epoch) => {
                nobody = ValidatorSet::nobody(epoch);
                &nobody
            }
            JustifySet::Epoch(epoch) => {
                other = self.epoch_set(epoch)?;
                &other
            }
        };
        evidence.verify(self.meta.chain_id, &set, &schedule, justify_set, verifier)?;

        // Accepted: record, ban, penalise, propose a slash.
        self.ov.put(
            keys::offence(&id),
            &OffenceRecord {
                height: self.height,
            },
        );
        self.ov.emit(Event::EvidenceAccepted {
            offence,
            reporter: self.caller,
        });
        let penalty = self.config.reputation.tier1_penalty;
        self.set_reputation(offence.operator, |r| reputation::penalise(r, penalty))?;
        self.ban(offence.operator, offence.class)?;
        // The ban recorded every key the offender held in the retained epochs: a report sent
        // from any of them is a self-report.
        let self_report = match self.caller {
            Some(caller) => self.banned_key(&caller)? == Some(offence.operator),
            None => false,
        };
        self.propose_slash(offence, id, power, total_power, self_report)
    }

    fn propose_slash(
        &mut self,
        offence: OffenceKey,
        evidence_id: Hash,
        power: u64,
        total_power: u64,
        self_report: bool,
    ) -> Result<(), Error> {
        let window = self.config.slashing.correlation_window_epochs;
        let oldest = self.oldest_epoch();
        // The Tier 1 offences of the retained epochs within the window of this one, by epoch.
        let mut recent: Vec<(u64, Correlated)> = Vec::new();
        for &epoch in self.meta.retained_epochs.iter() {
            if epoch < oldest || epoch.abs_diff(offence.epoch) >= window {
                continue;
            }
            let list: Option<Correlated> = self.ov.get(&keys::correlation(epoch))?;
            recent.push((epoch, list.unwrap_or_default()));
        }
        // Each offender once: a banned operator cannot offend again, but be safe.
        let mut offenders: VecMap<OperatorId, u64> = VecMap::new();
        for o in recent.iter().flat_map(|(_, list)| list.values()) {
            offenders.insert(o.operator, o.power);
        }
        for (operator, (epoch, p)) in self.batch.iter() {
            if epoch.abs_diff(offence.epoch) < window {
                offenders.insert(*operator, *p);
            }
        }
        offenders.insert(offence.operator, power);
        let k = offenders.values().fold(0u64, |a, p| a.saturating_add(*p));
        let fraction_ppb =
            correlated_fraction(k, total_power, self.config.slashing.min_fraction_ppb);
        let reporter = if self_report { None } else { self.caller };
        let reward_ppm = self.config.slashing.reporter_reward_ppm;
        let id = self.meta.next_proposal_id;
        self.meta.next_proposal_id = id.checked_add(1).ok_or(Error::Overflow)?;
        let proposal = SlashingProposal {
            id,
            offence,
            evidence_id,
            fraction_ppb,
            reporter,
            reporter_reward_ppb: reporter_reward(reporter.is_some(), fraction_ppb, reward_ppm),
            created: self.height,
            execute_after: self
                .height
                .saturating_add(self.config.slashing.deferral_blocks),
            status: ProposalStatus::Pending,
        };
        self.ov.put(keys::proposal(id), &proposal);
        self.ov.emit(Event::SlashingProposed { proposal });
        // Raise earlier correlated proposals that are still pending. An open entry holds its
        // proposal's fraction and reward, so raising it rewrites the entry alone (the list is
        // written once per epoch) and the proposals' records are not read at all.
        let mut own: Option<Correlated> = None;
        for (epoch, mut list) in recent {
            let mut changed = false;
            for (_, o) in list.iter_mut() {
                if !o.open || o.fraction_ppb >= fraction_ppb {
                    continue;
                }
                o.fraction_ppb = fraction_ppb;
                o.reporter_reward_ppb = reporter_reward(o.reported, fraction_ppb, reward_ppm);
                changed = true;
                self.ov.emit(Event::SlashingFractionRaised {
                    id: o.proposal,
                    fraction_ppb,
                    reporter_reward_ppb: o.reporter_reward_ppb,
                });
            }
            if epoch == offence.epoch {
                own = Some(list);
            } else if changed {
                self.ov.put(keys::correlation(epoch), &list);
            }
        }
        let key = keys::correlation(offence.epoch);
        let mut list: Correlated = match own {
            Some(list) => list,
            None => self.ov.get(&key)?.unwrap_or_default(),
        };
        // A banned operator cannot offend again; should an entry be replaced all the same,
        // its proposal keeps the fraction the entry gave it.
        if let Some(replaced) = list.get(&offence.operator).copied() {
            self.settle(&replaced)?;
        }
        list.insert(
            offence.operator,
            CorrelatedOffence {
                operator: offence.operator,
                epoch: offence.epoch,
                power,
                proposal: id,
                fraction_ppb,
                reporter_reward_ppb: proposal.reporter_reward_ppb,
                reported: reporter.is_some(),
                open: true,
            },
        );
        self.ov.put(key, &list);
        Ok(())
    }

    /// A slashing proposal as it stands: while it is pending, its correlation entry holds its
    /// fraction and reward (see [`CorrelatedOffence`]).
    fn proposal(&self, id: u64) -> Result<Option<SlashingProposal>, Error> {
        self.proposal_reading(id, &mut None)
    }

    /// [`Self::proposal`], keeping the last correlation record it read in `last` (with its
    /// epoch): a page of proposals, whose ids run in the order they were raised and so mostly
    /// epoch by epoch, decodes an epoch's record once rather than once per proposal.
    fn proposal_reading(
        &self,
        id: u64,
        last: &mut Option<(u64, Option<Correlated>)>,
    ) -> Result<Option<SlashingProposal>, Error> {
        let Some(mut proposal) = self.ov.get::<SlashingProposal>(&keys::proposal(id))? else {
            return Ok(None);
        };
        if proposal.status == ProposalStatus::Pending {
            let epoch = proposal.offence.epoch;
            if last.as_ref().is_none_or(|(read, _)| *read != epoch) {
                *last = Some((epoch, self.ov.get(&keys::correlation(epoch))?));
            }
            if let Some(entry) = last
                .as_ref()
                .and_then(|(_, list)| list.as_ref())
                .and_then(|l| l.get(&proposal.offence.operator))
            {
                entry.apply_to(&mut proposal);
            }
        }
        Ok(Some(proposal))
    }

    /// Stores a proposal that leaves pending (read with [`Self::proposal`], so with the
    /// fraction and reward correlation gave it) and closes its correlation entry, which is
    /// then never raised again.
    fn close_proposal(&mut self, proposal: &SlashingProposal) -> Result<(), Error> {
        self.ov.put(keys::proposal(proposal.id), proposal);
        let key = keys::correlation(proposal.offence.epoch);
        let Some(mut list) = self.ov.get::<Correlated>(&key)? else {
            return Ok(());
        };
        let operator = proposal.offence.operator;
        let Some((_, entry)) = list
            .iter_mut()
            .find(|(op, o)| **op == operator && o.open && o.proposal == proposal.id)
        else {
            return Ok(());
        };
        entry.open = false;
        self.ov.put(key, &list);
        Ok(())
    }

    /// Writes into a pending proposal's record the fraction and reward its correlation entry
    /// holds, before the entry goes (its epoch leaves retention, or the entry is replaced).
    fn settle(&mut self, entry: &CorrelatedOffence) -> Result<(), Error> {
        if !entry.open {
            return Ok(());
        }
        let key = keys::proposal(entry.proposal);
        let Some(mut proposal) = self.ov.get::<SlashingProposal>(&key)? else {
            return Ok(());
        };
        let before = proposal;
        entry.apply_to(&mut proposal);
        if proposal != before {
            self.ov.put(key, &proposal);
        }
        Ok(())
    }

    fn execute_veto(&mut self, id: u64) -> Result<(), Error> {
        self.require_authority()?;
        let mut proposal = self.proposal(id)?.ok_or(Error::UnknownProposal { id })?;
        if proposal.status != ProposalStatus::Pending || self.height >= proposal.execute_after {
            return Err(Error::NotPending { id });
        }
        proposal.status = ProposalStatus::Vetoed;
        self.close_proposal(&proposal)?;
        self.ov.emit(Event::SlashingVetoed { id });
        Ok(())
    }

    fn execute_finalise(&mut self, id: u64) -> Result<(), Error> {
        let mut proposal = self.proposal(id)?.ok_or(Error::UnknownProposal { id })?;
        if proposal.status != ProposalStatus::Pending {
            return Err(Error::NotPending { id });
        }
        if self.height < proposal.execute_after {
            return Err(Error::DeferralPending {
                until: proposal.execute_after,
            });
        }
        proposal.status = ProposalStatus::Finalised;
        self.close_proposal(&proposal)?;
        self.ov.emit(Event::SlashingFinalised {
            id,
            operator: proposal.offence.operator,
            fraction_ppb: proposal.fraction_ppb,
            reporter_reward_ppb: proposal.reporter_reward_ppb,
            reporter: proposal.reporter,
        });
        Ok(())
    }

    // ----- Tier 2 ------------------------------------------------------------------------

    fn execute_accusation(
        &mut self,
        witnessed: &WitnessedAccusation,
        verifier: &impl Verifier,
    ) -> Result<(), Error> {
        let a = &witnessed.accusation;
        let (first, last) = (a.first_view, a.last_view);
        if last < first || last - first >= self.config.liveness.max_accusation_views {
            return Err(Error::InvalidViewRange { first, last });
        }
        let set = self.epoch_set(a.epoch)?;
        if set.member(a.accused)?.is_none() {
            return Err(Error::UnknownValidator {
                operator: a.accused,
                epoch: a.epoch,
            });
        }
        let class = a.behaviour.class();
        let ranges_key = keys::accusation_ranges(a.accused, class as u8, a.epoch);
        let mut ranges: VecMap<u64, u64> = self.ov.get(&ranges_key)?.unwrap_or_default();
        // One penalty per view: a range overlapping one already punished is the same offence.
        let overlaps = ranges.iter().any(|(&f, &l)| f <= last && first <= l);
        if overlaps || ranges.len() >= MAX_ACCUSATION_RANGES {
            return Err(Error::Duplicate);
        }
        if self.is_banned(a.accused)? {
            return Err(Error::AlreadyBanned {
                operator: a.accused,
            });
        }
        let message = a.signing_bytes(self.meta.chain_id);
        let witness_power = witness_power(
            &set,
            &message,
            &witnessed.witnesses,
            Some(a.accused),
            set.one_third_plus(),
            verifier,
        )?;
        ranges.insert(first, last);
        self.ov.put(ranges_key, &ranges);
        let offence = OffenceKey {
            operator: a.accused,
            epoch: a.epoch,
            view: first,
            class,
        };
        self.ov.emit(Event::AccusationAccepted {
            offence,
            witness_power,
            measured: a.measured,
        });
        self.sanction(a.accused, class)
    }

    // ----- Tier 3 ------------------------------------------------------------------------

    fn execute_certificates(
        &mut self,
        certs: &[Certificate],
        verifier: &impl Verifier,
    ) -> Result<(), Error> {
        if certs.is_empty() {
            return Err(Error::EmptyBatch);
        }
        let mut liveness: LivenessState = self.ov.get(keys::LIVENESS)?.unwrap_or_default();
        // The window is judged over the current set: only its members are counted, which also
        // bounds the window's maps by the set's size.
        for cert in certs {
            let current = self.current_set()?;
            let set = self.epoch_set(cert.epoch)?;
            let kind = cert.kind as u8;
            let position = (cert.epoch, cert.view);
            if liveness
                .watermarks
                .get(&kind)
                .is_some_and(|w| position <= *w)
            {
                return Err(Error::Duplicate);
            }
            verify_certificate(self.meta.chain_id, &set, cert, verifier)?;
            liveness.watermarks.insert(kind, position);
            liveness.certificates = liveness.certificates.saturating_add(1);
            for part in cert.signatures.iter() {
                if current.member(part.signer)?.is_some() {
                    let count = liveness.signed.entry_or(part.signer, 0);
                    *count = count.saturating_add(1);
                }
            }
            if cert.kind == CertificateKind::Timeout {
                let leader = self.schedule(cert.epoch)?.leader(cert.view);
                let leader = match leader {
                    Some(l) if current.member(l)?.is_some() => Some(l),
                    _ => None,
                };
                if let Some(leader) = leader {
                    let count = liveness.leader_failures.entry_or(leader, 0);
                    *count = count.saturating_add(1);
                }
            }
            if liveness.certificates >= self.config.liveness.participation_window {
                self.close_window(&mut liveness)?;
            }
        }
        self.ov.put(keys::LIVENESS.to_vec(), &liveness);
        self.ov.emit(Event::CertificatesRecorded {
            count: certs.len() as u32,
        });
        Ok(())
    }

    /// Evaluates the window: rewards those who signed enough, sanctions those who did not and
    /// leaders who failed too often, then opens the next window.
    fn close_window(&mut self, liveness: &mut LivenessState) -> Result<(), Error> {
        let set = self.full_set(self.meta.epoch)?;
        let total = u64::from(liveness.certificates.max(1));
        let min_ppm = u64::from(self.config.liveness.min_participation_ppm);
        let max_failures = self.config.liveness.max_leader_failures;
        let reward = self.config.reputation.participation_reward;
        let max = self.config.reputation.max;
        let table = self.isolation()?;
        for v in set.validators.iter() {
            if isolation::is_isolated(isolation::state_of(&table, v.operator)) {
                continue;
            }
            let signed = u64::from(liveness.signed.get(&v.operator).copied().unwrap_or(0));
            if signed * PPM / total < min_ppm {
                self.sanction(v.operator, OffenceClass::LowParticipation)?;
            } else {
                self.set_reputation(v.operator, |r| reputation::reward(r, reward, max))?;
            }
            let failures = liveness
                .leader_failures
                .get(&v.operator)
                .copied()
                .unwrap_or(0);
            if failures >= max_failures {
                self.sanction(v.operator, OffenceClass::LeaderFailures)?;
            }
        }
        self.ov.emit(Event::ParticipationWindowClosed {
            window: liveness.window,
            certificates: liveness.certificates,
        });
        liveness.window = liveness.window.saturating_add(1);
        liveness.certificates = 0;
        liveness.signed.clear();
        liveness.leader_failures.clear();
        // Rehabilitation may follow the rewards.
        self.refresh_isolation()
    }

    // ----- epochs and governance --------------------------------------------------------

    fn execute_rotation(
        &mut self,
        rotation: Rotation,
        verifier: &impl Verifier,
    ) -> Result<(), Error> {
        if rotation.epoch <= self.meta.epoch {
            return Err(Error::EpochNotAfter {
                epoch: rotation.epoch,
                current: self.meta.epoch,
            });
        }
        let current = self.full_set(self.meta.epoch)?;
        let next = ValidatorSet::after(rotation.epoch, rotation.validators, &current)?;
        // Bans are permanent and follow the operator, whose effective power stays zero in any
        // set; a banned key may not come back under another operator index.
        for v in next.validators.iter() {
            match self.banned_key(&v.key)? {
                Some(operator) if operator != v.operator => {
                    return Err(Error::AlreadyBanned { operator })
                }
                _ => {}
            }
        }
        if !self.is_authority() {
            if rotation.approvals.is_empty() {
                return Err(Error::Unauthorized);
            }
            let change = EpochChange {
                epoch: next.epoch,
                set_hash: next.hash(),
            };
            let message = signing_bytes(
                self.meta.chain_id,
                self.meta.epoch,
                MessageKind::EpochChange,
                &change,
            );
            witness_power(
                &current,
                &message,
                &rotation.approvals,
                None,
                current.quorum(),
                verifier,
            )?;
        }
        // Reputation decays toward the baseline at every epoch change.
        let mut operators: Vec<OperatorId> = current
            .validators
            .iter()
            .chain(next.validators.iter())
            .map(|v| v.operator)
            .collect();
        operators.sort_unstable();
        operators.dedup();
        let config = self.config.reputation.clone();
        for op in operators {
            self.set_reputation(op, |r| reputation::decay(r, &config))?;
        }
        self.meta.epoch = next.epoch;
        let next = self.start_epoch(next)?;
        self.migrate_isolation(&next)?;
        // Isolation under the new set's power (and rehabilitation after the decay).
        self.refresh_isolation()?;
        self.write_schedule()
    }

    /// Stores `set` as the current epoch's set (its totals, its operators and one record per
    /// member) and prunes epochs past retention. Returns the set.
    fn start_epoch(&mut self, set: ValidatorSet) -> Result<ValidatorSet, Error> {
        let epoch = set.epoch;
        self.ov.emit(Event::EpochStarted {
            epoch,
            validators: set.validators.len() as u32,
            total_power: set.total_power,
            set_hash: set.hash(),
        });
        self.ov.put(
            keys::set(epoch),
            &SetInfo {
                epoch,
                total_power: set.total_power,
                validators: set.validators.len() as u32,
            },
        );
        let operators: Vec<OperatorId> = set.validators.iter().map(|v| v.operator).collect();
        self.ov.put(keys::members(epoch), &operators);
        for v in set.validators.iter() {
            self.ov.put(keys::member(epoch, v.operator), v);
        }
        self.members.borrow_mut().clear();
        self.sets.borrow_mut().clear();
        if self.meta.retained_epochs.last() != Some(&epoch) {
            self.meta.retained_epochs.push(epoch);
        }
        let oldest = self.oldest_epoch();
        let (expired, kept): (Vec<u64>, Vec<u64>) =
            self.meta.retained_epochs.iter().partition(|e| **e < oldest);
        for e in expired {
            let operators: Vec<OperatorId> = self.ov.get(&keys::members(e))?.unwrap_or_default();
            for operator in operators {
                self.ov.delete(keys::member(e, operator));
            }
            self.ov.delete(keys::members(e));
            self.ov.delete(keys::set(e));
            self.ov.delete(keys::schedule(e));
            let correlated: Correlated = self.ov.get(&keys::correlation(e))?.unwrap_or_default();
            for entry in correlated.values() {
                self.settle(entry)?;
            }
            self.ov.delete(keys::correlation(e));
        }
        self.meta.retained_epochs = kept;
        Ok(set)
    }

    /// The current epoch's schedule from effective power and reputation.
    fn write_schedule(&mut self) -> Result<(), Error> {
        let set = self.full_set(self.meta.epoch)?;
        let table = self.isolation()?;
        let influence = self.config.isolation.probation_influence_ppm;
        let mut candidates = Vec::with_capacity(set.validators.len());
        for v in set.validators.iter() {
            candidates.push(Candidate {
                operator: v.operator,
                effective_power: isolation::effective_power(
                    isolation::state_of(&table, v.operator),
                    v.power,
                    influence,
                ),
                reputation: self.record(v.operator)?.reputation,
            });
        }
        let schedule = LeaderSchedule::compute(self.meta.chain_id, set.epoch, &candidates);
        self.ov.put(keys::schedule(set.epoch), &schedule);
        Ok(())
    }

    fn execute_update_config(&mut self, config: Config) -> Result<(), Error> {
        self.require_authority()?;
        config.validate()?;
        self.config = config;
        self.config_changed = true;
        self.ov.emit(Event::ConfigUpdated);
        Ok(())
    }

    // ----- queries -----------------------------------------------------------------------

    fn answer(&self, query: Query) -> Result<QueryResponse, Error> {
        Ok(match query {
            Query::Status => {
                let set = self.full_set(self.meta.epoch)?;
                let table = self.isolation()?;
                let count =
                    |f: fn(&IsolationState) -> bool| table.values().filter(|s| f(s)).count() as u32;
                let isolated_power = set
                    .validators
                    .iter()
                    .filter(|v| isolation::is_isolated(isolation::state_of(&table, v.operator)))
                    .fold(0u64, |a, v| a.saturating_add(v.power));
                QueryResponse::Status(Status {
                    chain_id: self.meta.chain_id,
                    epoch: self.meta.epoch,
                    height: self.height,
                    authority: self.meta.authority,
                    validators: set.validators.len() as u32,
                    total_power: set.total_power,
                    active_power: set.total_power.saturating_sub(isolated_power),
                    banned: u32::try_from(self.meta.banned).unwrap_or(u32::MAX),
                    quarantined: count(|s| matches!(s, IsolationState::Quarantined { .. })),
                    slashing_proposals: self.meta.next_proposal_id,
                })
            }
            Query::Config => QueryResponse::Config(self.config.clone()),
            Query::Reputation { operator } => {
                let record = self.record(operator)?;
                QueryResponse::Reputation(ReputationInfo {
                    operator,
                    score: record.reputation,
                    offences: record.offences,
                })
            }
            Query::Isolation { operator } => QueryResponse::Isolation(self.state_of(operator)?),
            Query::Isolated => QueryResponse::Isolated(self.isolation()?.into_vec()),
            Query::Banned { start, limit } => {
                let table = self.isolation()?;
                let mut out = Vec::new();
                for index in page(start, limit, self.meta.banned) {
                    let Some(operator) = self.ov.get::<OperatorId>(&keys::banned(index))? else {
                        continue;
                    };
                    let state = match table.get(&operator) {
                        Some(state) => *state,
                        None => self.state_of(operator)?,
                    };
                    out.push((operator, state));
                }
                QueryResponse::Banned(out)
            }
            Query::SlashingProposals { start, limit } => {
                let mut out = Vec::new();
                let mut last = None;
                for id in page(start, limit, self.meta.next_proposal_id) {
                    if let Some(p) = self.proposal_reading(id, &mut last)? {
                        out.push(p);
                    }
                }
                QueryResponse::SlashingProposals(out)
            }
            Query::EffectivePower => {
                let set = self.full_set(self.meta.epoch)?;
                let table = self.isolation()?;
                let influence = self.config.isolation.probation_influence_ppm;
                QueryResponse::EffectivePower(
                    set.validators
                        .iter()
                        .map(|v| EffectivePower {
                            operator: v.operator,
                            power: v.power,
                            effective: isolation::effective_power(
                                isolation::state_of(&table, v.operator),
                                v.power,
                                influence,
                            ),
                        })
                        .collect(),
                )
            }
            Query::Leader { epoch, view } => {
                self.epoch_set(epoch)?;
                QueryResponse::Leader(self.schedule(epoch)?.leader(view))
            }
            Query::Schedule { epoch } => {
                self.epoch_set(epoch)?;
                QueryResponse::Schedule(self.schedule(epoch)?)
            }
            Query::ValidatorSet { epoch } => {
                self.epoch_set(epoch)?;
                QueryResponse::ValidatorSet(self.full_set(epoch)?)
            }
        })
    }
}
