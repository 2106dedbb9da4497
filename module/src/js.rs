//! Bindings for JavaScript relayers (feature `js`), through wasm-bindgen.
//!
//! The package in `module/js/` is built from this module. Everything runs the module's own
//! code: borsh decoding and encoding, [`Evidence::offence`], [`Evidence::verify`] with
//! [`Ed25519Strict`] and [`LeaderSchedule::compute`].
//!
//! JavaScript objects are the JSON form of the wire types (serde's externally tagged
//! representation: a unit variant is a string, any other variant an object with one key, its
//! name). Public keys, signatures, hashes and byte strings (validator names) are lowercase hex
//! strings; a leader schedule's `u128` weights are decimal strings; other integers are JavaScript
//! numbers, so values above 2^53 (no field holds such values in practice) lose precision.
//!
//! Every error is thrown as a JavaScript `Error` whose `name` is the module's error name
//! ([`Error::name`], for example `"BadSignature"`), whose `code` is [`Error::code`] and whose
//! `message` is the error's Debug form with its values. Inputs that are not a valid object of
//! the expected type are thrown with the name `"InvalidInput"` and no code.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::codec::{decode, encode, BoundedVec};
use crate::crypto::Ed25519Strict;
use crate::error::Error;
use crate::evidence::{Accusation, Evidence, OffenceKey, WitnessedAccusation};
use crate::json::to_hex;
use crate::msg::{
    EpochChange, Event, Genesis, Msg, Query, QueryResponse, Rotation, MAX_QUERY_BYTES, MAX_TX_BYTES,
};
use crate::schedule::{Candidate, LeaderSchedule};
use crate::validators::{ValidatorInfo, ValidatorSet};
use crate::wire::{
    BlockHeader, Certificate, Message, MessageKind, OperatorId, SignedMessage, MAX_VALIDATORS,
};
use crate::Config;

// ---------------------------------------------------------------------------------------------
// Conversions between JavaScript and Rust.

fn module_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&format!("{e:?}"));
    err.set_name(e.name());
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from(e.code()));
    err.into()
}

fn invalid_input(message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("InvalidInput");
    err.into()
}

fn from_js<T: DeserializeOwned>(value: &JsValue, what: &str) -> Result<T, JsValue> {
    let text: String = js_sys::JSON::stringify(value)
        .map_err(|_| invalid_input(&format!("{what}: not JSON-serialisable")))?
        .into();
    serde_json::from_str(&text).map_err(|e| invalid_input(&format!("{what}: {e}")))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| invalid_input(&e.to_string()))?;
    js_sys::JSON::parse(&text)
}

fn decode_as<T: BorshDeserialize + Serialize>(
    bytes: &[u8],
    limit: usize,
) -> Result<JsValue, JsValue> {
    to_js(&decode::<T>(bytes, limit).map_err(module_error)?)
}

fn encode_as<T: BorshSerialize + DeserializeOwned>(
    value: &JsValue,
    what: &str,
) -> Result<Vec<u8>, JsValue> {
    Ok(encode(&from_js::<T>(value, what)?))
}

macro_rules! kinds {
    ($($name:literal => $ty:ty, $limit:expr;)*) => {
        /// Decodes strict borsh `bytes` as the wire type named `kind` (one of [`kinds`]) and
        /// returns it as a plain object. Throws `Decode` or `TooLarge` as the chain would.
        #[wasm_bindgen]
        pub fn decode_kind(kind: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
            match kind {
                $($name => decode_as::<$ty>(bytes, $limit),)*
                _ => Err(invalid_input(&format!("unknown kind {kind:?}"))),
            }
        }

        /// Encodes a plain object as the borsh bytes of the wire type named `kind`.
        #[wasm_bindgen]
        pub fn encode_kind(kind: &str, value: JsValue) -> Result<Vec<u8>, JsValue> {
            match kind {
                $($name => encode_as::<$ty>(&value, $name),)*
                _ => Err(invalid_input(&format!("unknown kind {kind:?}"))),
            }
        }

        /// The names of the wire types [`decode_kind`] and [`encode_kind`] accept.
        #[wasm_bindgen]
        pub fn kinds() -> Vec<String> {
            alloc::vec![$($name.to_string()),*]
        }
    };
}

kinds! {
    "Msg" => Msg, MAX_TX_BYTES;
    "Evidence" => Evidence, MAX_TX_BYTES;
    "SignedMessage" => SignedMessage, MAX_TX_BYTES;
    "Message" => Message, MAX_TX_BYTES;
    "Certificate" => Certificate, MAX_TX_BYTES;
    "BlockHeader" => BlockHeader, MAX_TX_BYTES;
    "Accusation" => Accusation, MAX_TX_BYTES;
    "WitnessedAccusation" => WitnessedAccusation, MAX_TX_BYTES;
    "Rotation" => Rotation, MAX_TX_BYTES;
    "EpochChange" => EpochChange, MAX_TX_BYTES;
    "Genesis" => Genesis, MAX_TX_BYTES;
    "Config" => Config, MAX_TX_BYTES;
    "ValidatorInfo" => ValidatorInfo, MAX_TX_BYTES;
    "ValidatorSet" => ValidatorSet, MAX_TX_BYTES;
    "LeaderSchedule" => LeaderSchedule, MAX_TX_BYTES;
    "OffenceKey" => OffenceKey, MAX_TX_BYTES;
    "Query" => Query, MAX_QUERY_BYTES;
    "QueryResponse" => QueryResponse, MAX_TX_BYTES;
    "Event" => Event, MAX_TX_BYTES;
}

/// Decodes a transaction payload (borsh `Msg`).
#[wasm_bindgen]
pub fn decode_msg(bytes: &[u8]) -> Result<JsValue, JsValue> {
    decode_as::<Msg>(bytes, MAX_TX_BYTES)
}

/// Encodes a transaction payload (a `Msg` object) as the bytes to submit.
#[wasm_bindgen]
pub fn encode_msg(msg: JsValue) -> Result<Vec<u8>, JsValue> {
    let bytes = encode_as::<Msg>(&msg, "Msg")?;
    if bytes.len() > MAX_TX_BYTES {
        return Err(module_error(Error::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_TX_BYTES as u64,
        }));
    }
    Ok(bytes)
}

/// The transaction payload (borsh `Msg::SubmitEvidence`) that submits `evidence`.
#[wasm_bindgen]
pub fn evidence_tx(evidence: JsValue) -> Result<Vec<u8>, JsValue> {
    let evidence: Evidence = from_js(&evidence, "Evidence")?;
    Ok(encode(&Msg::SubmitEvidence(evidence)))
}

/// Builds Tier 1 evidence from two signed messages by one signer: two proposals make a
/// `DoubleProposal`, two `Vote`s or two `Vote2`s a `DoubleVote`, and a `Vote2` with a later
/// `Vote` or `Timeout` (in either order) a `LockViolation`. The result passes
/// `Evidence::offence` (the structural check); otherwise its error is thrown.
#[wasm_bindgen]
pub fn build_evidence(first: JsValue, second: JsValue) -> Result<JsValue, JsValue> {
    let first: SignedMessage = from_js(&first, "first")?;
    let second: SignedMessage = from_js(&second, "second")?;
    use MessageKind as K;
    let evidence = match (first.message.kind(), second.message.kind()) {
        (K::Proposal, K::Proposal) => Evidence::DoubleProposal { first, second },
        (K::Vote, K::Vote) | (K::Vote2, K::Vote2) => Evidence::DoubleVote { first, second },
        (K::Vote2, K::Vote | K::Timeout) => Evidence::LockViolation {
            locked: first,
            later: second,
        },
        (K::Vote | K::Timeout, K::Vote2) => Evidence::LockViolation {
            locked: second,
            later: first,
        },
        _ => return Err(module_error(Error::NotConflicting)),
    };
    evidence.offence().map_err(module_error)?;
    to_js(&evidence)
}

/// The offence a piece of evidence claims (`Evidence::offence`), from its structure alone.
#[wasm_bindgen]
pub fn evidence_offence(evidence: JsValue) -> Result<JsValue, JsValue> {
    let evidence: Evidence = from_js(&evidence, "Evidence")?;
    to_js(&evidence.offence().map_err(module_error)?)
}

/// An offence's id (`OffenceKey::id`) as hex.
#[wasm_bindgen]
pub fn offence_id(offence: JsValue) -> Result<String, JsValue> {
    let offence: OffenceKey = from_js(&offence, "OffenceKey")?;
    Ok(to_hex(&offence.id()))
}

/// The bytes a signed message's signer signs.
#[wasm_bindgen]
pub fn signing_bytes(chain_id: f64, signed: JsValue) -> Result<Vec<u8>, JsValue> {
    let signed: SignedMessage = from_js(&signed, "SignedMessage")?;
    Ok(signed
        .message
        .signing_bytes(u64_arg(chain_id, "chain_id")?, signed.epoch))
}

fn u64_arg(value: f64, what: &str) -> Result<u64, JsValue> {
    // 2^53: the largest range in which every integer is exact in a JavaScript number.
    if value.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&value) {
        Ok(value as u64)
    } else {
        Err(invalid_input(&format!(
            "{what}: not a safe non-negative integer"
        )))
    }
}

/// One candidate of a leader schedule, as JavaScript passes it.
#[derive(Deserialize)]
struct JsCandidate {
    operator: OperatorId,
    effective_power: u64,
    #[serde(default)]
    reputation: u32,
}

/// A validator set as JavaScript passes it: its epoch and validators (a `total_power` field is
/// ignored; `ValidatorSet::new` recomputes it and checks the list).
#[derive(Deserialize)]
struct JsSet {
    epoch: u64,
    validators: BoundedVec<ValidatorInfo, MAX_VALIDATORS>,
}

/// What [`pre_verify_evidence`] checks evidence against: the chain's view of the offence's
/// epoch, supplied by the caller.
#[derive(Deserialize)]
struct Context {
    chain_id: u64,
    /// The validator set of the evidence's epoch.
    set: JsSet,
    /// The epoch's leader schedule; if absent, it is computed from `candidates`.
    #[serde(default)]
    schedule: Option<LeaderSchedule>,
    /// Candidates for `LeaderSchedule::compute`; if absent too, every validator with its full
    /// power and `reputation` (0 by default: the schedule then weighs power alone).
    #[serde(default)]
    candidates: Option<Vec<JsCandidate>>,
    #[serde(default)]
    reputation: u32,
    /// The justify epoch's set, for an invalid proposal whose justify is from an earlier epoch.
    #[serde(default)]
    justify_set: Option<JsSet>,
}

fn schedule_of(chain_id: u64, epoch: u64, candidates: &[JsCandidate]) -> LeaderSchedule {
    let candidates: Vec<Candidate> = candidates
        .iter()
        .map(|c| Candidate {
            operator: c.operator,
            effective_power: c.effective_power,
            reputation: c.reputation,
        })
        .collect();
    LeaderSchedule::compute(chain_id, epoch, &candidates)
}

fn pre_verify(evidence: &Evidence, ctx: Context) -> Result<OffenceKey, Error> {
    let set = ValidatorSet::new(ctx.set.epoch, ctx.set.validators)?;
    let offence = evidence.offence()?;
    if offence.epoch != set.epoch {
        return Err(Error::UnknownEpoch {
            epoch: offence.epoch,
        });
    }
    if set.get(offence.operator).is_none() {
        return Err(Error::UnknownValidator {
            operator: offence.operator,
            epoch: offence.epoch,
        });
    }
    let schedule = match (ctx.schedule, ctx.candidates) {
        (Some(schedule), _) => schedule,
        (None, Some(candidates)) => schedule_of(ctx.chain_id, set.epoch, &candidates),
        (None, None) => {
            let candidates: Vec<JsCandidate> = set
                .validators
                .iter()
                .map(|v| JsCandidate {
                    operator: v.operator,
                    effective_power: v.power,
                    reputation: ctx.reputation,
                })
                .collect();
            schedule_of(ctx.chain_id, set.epoch, &candidates)
        }
    };
    let justify_set = evidence.justify_set(&set, |epoch| match ctx.justify_set {
        Some(s) if s.epoch == epoch => ValidatorSet::new(s.epoch, s.validators),
        _ => Err(Error::UnknownEpoch { epoch }),
    })?;
    evidence.verify(ctx.chain_id, &set, &schedule, &*justify_set, &Ed25519Strict)?;
    Ok(offence)
}

/// Pre-verifies Tier 1 evidence with the chain's own rules against a context the caller
/// supplies: `{ chain_id, set: { epoch, validators }, schedule?, candidates?, reputation?,
/// justify_set? }`. Runs `Evidence::offence` then `Evidence::verify` with `verify_strict`, and
/// returns the offence, or throws the error the chain would.
///
/// The chain also refuses evidence for an epoch that is in the future, expired or unknown to
/// it, evidence it has already accepted, and offences of an operator already banned: those
/// depend on its state and are not checked here (an epoch other than the set's is thrown as
/// `UnknownEpoch`).
#[wasm_bindgen]
pub fn pre_verify_evidence(evidence: JsValue, context: JsValue) -> Result<JsValue, JsValue> {
    let evidence: Evidence = from_js(&evidence, "Evidence")?;
    let ctx: Context = from_js(&context, "context")?;
    to_js(&pre_verify(&evidence, ctx).map_err(module_error)?)
}

/// Pre-verifies the evidence in a transaction payload (borsh `Msg::SubmitEvidence`) against
/// the state right after `genesis` (borsh `Genesis`): its set, and the schedule from full
/// powers and the baseline reputation. Throws as [`pre_verify_evidence`] does, and `Decode`
/// for a payload that is not a valid `Msg` or not evidence.
#[wasm_bindgen]
pub fn pre_verify_tx_at_genesis(genesis: &[u8], tx: &[u8]) -> Result<JsValue, JsValue> {
    let genesis: Genesis = decode(genesis, MAX_TX_BYTES).map_err(module_error)?;
    let msg: Msg = decode(tx, MAX_TX_BYTES).map_err(module_error)?;
    let Msg::SubmitEvidence(evidence) = msg else {
        return Err(invalid_input("the transaction is not Msg::SubmitEvidence"));
    };
    let ctx = Context {
        chain_id: genesis.chain_id,
        set: JsSet {
            epoch: genesis.epoch,
            validators: genesis.validators,
        },
        schedule: None,
        candidates: None,
        reputation: genesis.config.reputation.baseline,
        justify_set: None,
    };
    to_js(&pre_verify(&evidence, ctx).map_err(module_error)?)
}

/// The leader of `view` under the schedule `LeaderSchedule::compute(chain_id, epoch,
/// candidates)`, where each candidate is `{ operator, effective_power, reputation }`; `null`
/// if no candidate has power.
#[wasm_bindgen]
pub fn leader_of_view(
    chain_id: f64,
    epoch: f64,
    candidates: JsValue,
    view: f64,
) -> Result<Option<u32>, JsValue> {
    let candidates: Vec<JsCandidate> = from_js(&candidates, "candidates")?;
    let schedule = schedule_of(
        u64_arg(chain_id, "chain_id")?,
        u64_arg(epoch, "epoch")?,
        &candidates,
    );
    Ok(schedule.leader(u64_arg(view, "view")?))
}

/// The leader schedule `LeaderSchedule::compute(chain_id, epoch, candidates)` as an object.
#[wasm_bindgen]
pub fn leader_schedule(chain_id: f64, epoch: f64, candidates: JsValue) -> Result<JsValue, JsValue> {
    let candidates: Vec<JsCandidate> = from_js(&candidates, "candidates")?;
    to_js(&schedule_of(
        u64_arg(chain_id, "chain_id")?,
        u64_arg(epoch, "epoch")?,
        &candidates,
    ))
}

/// The leader of `view` under a schedule object (see [`leader_schedule`]); `null` if empty.
#[wasm_bindgen]
pub fn leader_from_schedule(schedule: JsValue, view: f64) -> Result<Option<u32>, JsValue> {
    let schedule: LeaderSchedule = from_js(&schedule, "LeaderSchedule")?;
    Ok(schedule.leader(u64_arg(view, "view")?))
}

/// The hash of a validator set (`ValidatorSet::hash`) as hex.
#[wasm_bindgen]
pub fn validator_set_hash(set: JsValue) -> Result<String, JsValue> {
    let set: ValidatorSet = from_js(&set, "ValidatorSet")?;
    Ok(to_hex(&set.hash()))
}
