//! Strict, bounded borsh decoding.
//!
//! Every variable-length field on the wire is a [`BoundedVec`] or [`BoundedBytes`]: its `u32`
//! length prefix is checked against a compile-time bound *before* anything is allocated, so a
//! peer cannot make the module reserve memory with a forged prefix. [`decode`] additionally
//! refuses inputs over a size limit and trailing bytes.

use alloc::vec::Vec;
use borsh::io::{Error as IoError, ErrorKind, Read, Write};
use borsh::{BorshDeserialize, BorshSerialize};
use core::ops::Deref;

use crate::error::Error;

/// Decodes `bytes` as exactly one `T`: inputs longer than `limit` are [`Error::TooLarge`];
/// malformed encodings, bad enum tags, oversized length prefixes and trailing bytes are
/// [`Error::Decode`].
pub fn decode<T: BorshDeserialize>(bytes: &[u8], limit: usize) -> Result<T, Error> {
    if bytes.len() > limit {
        return Err(Error::TooLarge {
            size: bytes.len() as u64,
            limit: limit as u64,
        });
    }
    borsh::from_slice(bytes).map_err(|_| Error::Decode)
}

/// Encodes a value. Encoding into a `Vec` cannot fail for the module's types.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    // Most records and events fit: one allocation instead of a growth per field.
    let mut out = Vec::with_capacity(ENCODE_CAPACITY);
    // Writing into a Vec never returns an error.
    let _ = value.serialize(&mut out);
    out
}

/// The initial capacity of [`encode`]'s output.
const ENCODE_CAPACITY: usize = 192;

fn read_len<R: Read>(reader: &mut R, bound: usize) -> borsh::io::Result<usize> {
    let len = u32::deserialize_reader(reader)? as usize;
    if len > bound {
        return Err(IoError::new(ErrorKind::InvalidData, "length over bound"));
    }
    Ok(len)
}

/// A vector of at most `N` elements, encoded as a `u32` length and the elements.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundedVec<T, const N: usize>(Vec<T>);

impl<T, const N: usize> BoundedVec<T, N> {
    /// The bound on the number of elements.
    pub const BOUND: usize = N;

    /// Wraps `items`, or returns `None` if there are more than `N`.
    pub fn new(items: Vec<T>) -> Option<Self> {
        (items.len() <= N).then_some(Self(items))
    }

    /// An empty vector.
    pub const fn empty() -> Self {
        Self(Vec::new())
    }

    /// The elements.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const N: usize> Default for BoundedVec<T, N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T, const N: usize> Deref for BoundedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: BorshSerialize, const N: usize> BorshSerialize for BoundedVec<T, N> {
    fn serialize<W: Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        (self.0.len() as u32).serialize(writer)?;
        for item in &self.0 {
            item.serialize(writer)?;
        }
        Ok(())
    }
}

impl<T: BorshDeserialize, const N: usize> BorshDeserialize for BoundedVec<T, N> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let len = read_len(reader, N)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(T::deserialize_reader(reader)?);
        }
        Ok(Self(items))
    }
}

/// A byte string of at most `N` bytes, encoded as a `u32` length and the bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BoundedBytes<const N: usize>(Vec<u8>);

impl<const N: usize> BoundedBytes<N> {
    /// Wraps `bytes`, or returns `None` if there are more than `N`.
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() <= N).then_some(Self(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> BorshSerialize for BoundedBytes<N> {
    fn serialize<W: Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        (self.0.len() as u32).serialize(writer)?;
        writer.write_all(&self.0)
    }
}

impl<const N: usize> BorshDeserialize for BoundedBytes<N> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let len = read_len(reader, N)?;
        let mut bytes = alloc::vec![0u8; len];
        reader.read_exact(&mut bytes)?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_length_prefix_is_refused_before_allocation() {
        // A prefix of u32::MAX would ask for gigabytes; the bound refuses it first.
        let bytes = u32::MAX.to_le_bytes();
        assert_eq!(
            decode::<BoundedVec<u64, 4>>(&bytes, 1024),
            Err(Error::Decode)
        );
        assert_eq!(decode::<BoundedBytes<4>>(&bytes, 1024), Err(Error::Decode));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&BoundedVec::<u8, 4>::new(alloc::vec![1, 2]).unwrap());
        bytes.push(0);
        assert_eq!(
            decode::<BoundedVec<u8, 4>>(&bytes, 1024),
            Err(Error::Decode)
        );
    }

    #[test]
    fn input_over_the_limit_is_too_large() {
        let bytes = [0u8; 9];
        assert_eq!(
            decode::<u64>(&bytes, 8),
            Err(Error::TooLarge { size: 9, limit: 8 })
        );
    }
}

/// A small map kept as a vector sorted by key: compact in wasm, canonical on the wire (a
/// `u32` count and `(key, value)` pairs in strictly increasing key order; anything else is a
/// decoding error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord + Copy, V> VecMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    fn position(&self, key: &K) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    /// The value under `key`, inserted with `default` if absent.
    pub fn entry_or(&mut self, key: K, default: V) -> &mut V {
        let i = match self.position(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, default));
                i
            }
        };
        &mut self.0[i].1
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: K, value: V) {
        match self.position(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Values in key order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The entries, in key order.
    pub fn into_vec(self) -> Vec<(K, V)> {
        self.0
    }
}

impl<K: BorshSerialize, V: BorshSerialize> BorshSerialize for VecMap<K, V> {
    fn serialize<W: Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        (self.0.len() as u32).serialize(writer)?;
        for (k, v) in &self.0 {
            k.serialize(writer)?;
            v.serialize(writer)?;
        }
        Ok(())
    }
}

/// The most entries a stored map may hold.
const MAX_MAP_ENTRIES: usize = 4 * crate::wire::MAX_VALIDATORS;

impl<K: BorshDeserialize + Ord, V: BorshDeserialize> BorshDeserialize for VecMap<K, V> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let len = read_len(reader, MAX_MAP_ENTRIES)?;
        let mut items: Vec<(K, V)> = Vec::with_capacity(len);
        for _ in 0..len {
            let k = K::deserialize_reader(reader)?;
            if items.last().is_some_and(|(last, _)| *last >= k) {
                return Err(IoError::new(
                    ErrorKind::InvalidData,
                    "map keys out of order",
                ));
            }
            let v = V::deserialize_reader(reader)?;
            items.push((k, v));
        }
        Ok(Self(items))
    }
}
