//! Validator sets, one per epoch. Operators are listed in strictly increasing order.

use alloc::vec::Vec;
use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::codec::{encode, BoundedBytes, BoundedVec};
use crate::crypto::is_strong_key;
use crate::error::Error;
use crate::wire::{Certificate, Hash, OperatorId, PublicKey, MAX_VALIDATORS};

/// The longest validator name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// One validator of a set.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ValidatorInfo {
    /// Stable operator index.
    pub operator: OperatorId,
    /// Human-readable name (UTF-8 is expected but not required).
    pub name: BoundedBytes<MAX_NAME_BYTES>,
    /// Consensus key for this epoch.
    pub key: PublicKey,
    /// Voting power.
    pub power: u64,
}

/// The validator set of one epoch.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ValidatorSet {
    /// The epoch.
    pub epoch: u64,
    /// Validators in strictly increasing operator order.
    pub validators: BoundedVec<ValidatorInfo, MAX_VALIDATORS>,
    /// Sum of the validators' power.
    pub total_power: u64,
}

impl ValidatorSet {
    /// Checks a list of validators (non-empty, strictly increasing operators, positive power
    /// without overflow, strong and distinct keys) and builds the set.
    pub fn new(
        epoch: u64,
        validators: BoundedVec<ValidatorInfo, MAX_VALIDATORS>,
    ) -> Result<Self, Error> {
        Self::build(epoch, validators, None)
    }

    /// [`ValidatorSet::new`] for the set that follows `current`: a key an operator already
    /// holds in `current` was checked when it was registered and is not checked again (a
    /// key's subgroup check costs about a signature verification).
    pub fn after(
        epoch: u64,
        validators: BoundedVec<ValidatorInfo, MAX_VALIDATORS>,
        current: &ValidatorSet,
    ) -> Result<Self, Error> {
        Self::build(epoch, validators, Some(current))
    }

    fn build(
        epoch: u64,
        validators: BoundedVec<ValidatorInfo, MAX_VALIDATORS>,
        known: Option<&ValidatorSet>,
    ) -> Result<Self, Error> {
        if validators.is_empty()
            || validators
                .windows(2)
                .any(|w| w[1].operator <= w[0].operator)
        {
            return Err(Error::InvalidValidatorSet);
        }
        let mut total_power = 0u64;
        let mut keys: Vec<(PublicKey, OperatorId)> = Vec::with_capacity(validators.len());
        for v in validators.iter() {
            if v.power == 0 {
                return Err(Error::InvalidPower {
                    operator: v.operator,
                });
            }
            total_power = total_power
                .checked_add(v.power)
                .ok_or(Error::InvalidPower {
                    operator: v.operator,
                })?;
            let checked = known.is_some_and(|k| k.get(v.operator).is_some_and(|o| o.key == v.key));
            if !checked && !is_strong_key(&v.key) {
                return Err(Error::WeakKey {
                    operator: v.operator,
                });
            }
            keys.push((v.key, v.operator));
        }
        // Quorum arithmetic multiplies the total by 2; keep it far from overflow.
        if total_power > u64::MAX / 4 {
            return Err(Error::InvalidPower {
                operator: validators[validators.len() - 1].operator,
            });
        }
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::DuplicateKey {
                operator: w[0].1.max(w[1].1),
            });
        }
        Ok(Self {
            epoch,
            validators,
            total_power,
        })
    }

    /// A set with no validators: nothing it certifies holds a quorum.
    pub fn nobody(epoch: u64) -> Self {
        Self {
            epoch,
            validators: BoundedVec::empty(),
            total_power: 0,
        }
    }

    /// The validator with this operator index.
    pub fn get(&self, operator: OperatorId) -> Option<&ValidatorInfo> {
        self.validators
            .binary_search_by_key(&operator, |v| v.operator)
            .ok()
            .map(|i| &self.validators[i])
    }

    /// Power of an operator in this set (zero if absent).
    pub fn power_of(&self, operator: OperatorId) -> u64 {
        self.get(operator).map_or(0, |v| v.power)
    }

    /// The operator whose key this is.
    pub fn operator_of(&self, key: &PublicKey) -> Option<OperatorId> {
        self.validators
            .iter()
            .find(|v| &v.key == key)
            .map(|v| v.operator)
    }

    /// The smallest power that is more than 2/3 of the total.
    pub fn quorum(&self) -> u64 {
        quorum(self.total_power)
    }

    /// The smallest power that is more than 1/3 of the total.
    pub fn one_third_plus(&self) -> u64 {
        self.total_power / 3 + 1
    }

    /// The power of a certificate's distinct, known signers (no signature is checked).
    pub fn signed_power(&self, cert: &Certificate) -> u64 {
        // A set in memory reads no storage: the view cannot fail.
        SetView::signers_power(self, cert).unwrap_or(0)
    }

    /// `SHA-256("WARDEN-SET" || borsh(validators))`: what a quorum signs to approve a rotation.
    pub fn hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"WARDEN-SET");
        hasher.update(encode(&self.validators));
        hasher.finalize().into()
    }
}

/// What the rules read of one member of a set: its key and its power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Consensus key for the epoch.
    pub key: PublicKey,
    /// Voting power.
    pub power: u64,
}

impl From<&ValidatorInfo> for Member {
    fn from(v: &ValidatorInfo) -> Self {
        Self {
            key: v.key,
            power: v.power,
        }
    }
}

/// A validator set as the evidence rules read it: its totals and one member at a time. A
/// [`ValidatorSet`] in memory is one; the contract's stored sets are another, which read from
/// storage only the members a transaction names, so that checking evidence costs the same in
/// a set of four and in a set of a thousand.
pub trait SetView {
    /// The epoch.
    fn epoch(&self) -> u64;
    /// Sum of the members' power.
    fn total_power(&self) -> u64;
    /// The member with this operator index; an error only if its stored record is damaged.
    fn member(&self, operator: OperatorId) -> Result<Option<Member>, Error>;

    /// The smallest power that is more than 2/3 of the total.
    fn quorum(&self) -> u64 {
        quorum(self.total_power())
    }

    /// The smallest power that is more than 1/3 of the total.
    fn one_third_plus(&self) -> u64 {
        self.total_power() / 3 + 1
    }

    /// Power of an operator (zero if absent).
    fn power(&self, operator: OperatorId) -> Result<u64, Error> {
        Ok(self.member(operator)?.map_or(0, |m| m.power))
    }

    /// The power of a certificate's distinct, known signers (no signature is checked).
    fn signers_power(&self, cert: &Certificate) -> Result<u64, Error> {
        let mut signers: Vec<OperatorId> = cert.signatures.iter().map(|s| s.signer).collect();
        signers.sort_unstable();
        signers.dedup();
        let mut power = 0u64;
        for op in signers {
            power = power.saturating_add(self.power(op)?);
        }
        Ok(power)
    }
}

impl SetView for ValidatorSet {
    fn epoch(&self) -> u64 {
        self.epoch
    }
    fn total_power(&self) -> u64 {
        self.total_power
    }
    fn member(&self, operator: OperatorId) -> Result<Option<Member>, Error> {
        Ok(self.get(operator).map(Member::from))
    }
}

/// The smallest power that is more than 2/3 of `total`.
pub fn quorum(total: u64) -> u64 {
    (total as u128 * 2 / 3 + 1) as u64
}
