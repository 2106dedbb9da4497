//! The JSON form of the wire types (feature `serde`), shared by the JavaScript bindings and the
//! CosmWasm adapter's events.
//!
//! serde's externally tagged representation: a unit variant is a string, any other variant an
//! object with one key, its name. Public keys, signatures, hashes and byte strings (validator
//! names) are lowercase hex strings; a leader schedule's `u128` weights are decimal strings.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{BoundedBytes, BoundedVec};
use crate::schedule::{LeaderSchedule, LeaderWeight};
use crate::wire::{OperatorId, PublicKey, Signature, MAX_VALIDATORS};

// ---------------------------------------------------------------------------------------------
// Hex encodings of the byte types.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// The bytes of a hex string (with or without `0x`).
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let s = s.strip_prefix("0x").unwrap_or(s).as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

fn hex_array<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    let s = <String as Deserialize>::deserialize(d)?;
    from_hex(&s)
        .and_then(|v| <[u8; N]>::try_from(v).ok())
        .ok_or_else(|| D::Error::custom(format!("expected {N} bytes as hex, got {s:?}")))
}

/// Serde helpers for a 32-byte hash as a hex string.
pub mod hex32 {
    use super::*;

    /// Writes the hash as hex.
    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(bytes))
    }

    /// Reads the hash from hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        hex_array(d)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        hex_array(d).map(PublicKey)
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        hex_array(d).map(Signature)
    }
}

impl<T: Serialize, const N: usize> Serialize for BoundedVec<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for BoundedVec<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = <Vec<T> as Deserialize>::deserialize(d)?;
        let len = items.len();
        BoundedVec::new(items)
            .ok_or_else(|| D::Error::custom(format!("{len} elements, at most {N} allowed")))
    }
}

impl<const N: usize> Serialize for BoundedBytes<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(self.as_bytes()))
    }
}

impl<'de, const N: usize> Deserialize<'de> for BoundedBytes<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let bytes =
            from_hex(&s).ok_or_else(|| D::Error::custom(format!("expected hex, got {s:?}")))?;
        let len = bytes.len();
        BoundedBytes::new(bytes)
            .ok_or_else(|| D::Error::custom(format!("{len} bytes, at most {N} allowed")))
    }
}

/// A leader schedule entry as JavaScript sees it: the `u128` weights as decimal strings.
#[derive(Serialize, Deserialize)]
struct WeightJs {
    operator: OperatorId,
    weight: String,
    cumulative: String,
}

/// A leader schedule as JavaScript sees it.
#[derive(Serialize, Deserialize)]
struct ScheduleJs {
    chain_id: u64,
    epoch: u64,
    entries: Vec<WeightJs>,
}

impl Serialize for LeaderSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ScheduleJs {
            chain_id: self.chain_id,
            epoch: self.epoch,
            entries: self
                .entries
                .iter()
                .map(|e| WeightJs {
                    operator: e.operator,
                    weight: e.weight.to_string(),
                    cumulative: e.cumulative.to_string(),
                })
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LeaderSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let js = <ScheduleJs as Deserialize>::deserialize(d)?;
        let number = |s: &str| {
            s.parse::<u128>()
                .map_err(|_| D::Error::custom(format!("expected a decimal u128, got {s:?}")))
        };
        let mut entries = Vec::with_capacity(js.entries.len());
        for e in &js.entries {
            entries.push(LeaderWeight {
                operator: e.operator,
                weight: number(&e.weight)?,
                cumulative: number(&e.cumulative)?,
            });
        }
        let len = entries.len();
        Ok(LeaderSchedule {
            chain_id: js.chain_id,
            epoch: js.epoch,
            entries: BoundedVec::new(entries).ok_or_else(|| {
                D::Error::custom(format!("{len} entries, at most {MAX_VALIDATORS} allowed"))
            })?,
        })
    }
}
