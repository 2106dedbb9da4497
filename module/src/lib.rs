//! # warden-module
//!
//! Warden's on-chain evidence module: a deterministic `no_std` contract that verifies evidence
//! of Byzantine behaviour in a HotStuff-2 network, keeps validator reputation, records
//! quarantine, bans and rehabilitation, and proposes slashing. The same code builds as a
//! `cdylib` for `wasm32-unknown-unknown` (what a chain runs) and as an `rlib` (what hosts,
//! relayers and tests link).
//!
//! ## Code map
//! - [`wire`]: consensus messages (`Proposal`, `Vote`, `Vote2`, `Timeout`, `Certificate`, block
//!   header) and their signing bytes.
//! - [`evidence`]: the three evidence tiers and their verification rules.
//! - [`msg`]: genesis, transactions (`Msg`), queries, responses and events.
//! - [`contract`]: the entry points and one `execute_*` function per message.
//! - [`isolation`], [`reputation`], [`slashing`], [`schedule`]: the state machines, the slashing
//!   arithmetic and the leader schedule, as pure functions.
//! - [`state`]: the `Host` trait, the transaction overlay and the stored records.
//! - [`codec`], [`crypto`], [`config`], [`error`], [`validators`]: support.
//! - `exports` (wasm only, feature `abi`, on by default): Warden's raw ABI, the only `unsafe`
//!   code. A crate that embeds the rules in another runtime (the CosmWasm adapter,
//!   `module/cosmwasm/`) builds without it.
//! - [`json`] (feature `serde`): the JSON form of the wire types.
//! - [`js`] (feature `js`, off by default): wasm-bindgen bindings for JavaScript relayers; see
//!   `module/js/`. The on-chain build never includes them.
//!
//! ## Wire format
//!
//! Everything is [borsh](https://borsh.io): little-endian fixed-width integers, `u8` enum tags
//! in declaration order, `Option` as a `u8` tag (0 none, 1 some), fixed arrays as raw bytes,
//! and variable-length fields as a `u32` length followed by the elements. Decoding is strict:
//! trailing bytes, unknown tags, a `bool` other than 0 or 1 and a length prefix over the
//! field's bound are all `Decode` errors, and a length is checked before anything is
//! allocated. Bounds: validator sets, certificate signatures and witness lists at most
//! [`wire::MAX_VALIDATORS`] (1024) entries; names [`validators::MAX_NAME_BYTES`] (64) bytes;
//! transactions [`msg::MAX_TX_BYTES`] (512 KiB); queries [`msg::MAX_QUERY_BYTES`] (1 KiB); at
//! most [`msg::MAX_CERTIFICATES_PER_TX`] (16) certificates per transaction.
//!
//! Signing bytes of every signed message ([`wire::signing_bytes`]):
//!
//! ```text
//! "WARDEN-HS2" (10 bytes) || version: u8 = 1 || chain_id: u64 LE || epoch: u64 LE
//!     || kind: u8 (1 Proposal, 2 Vote, 3 Vote2, 4 Timeout, 5 Accusation, 6 EpochChange)
//!     || borsh(body)
//! ```
//!
//! where `body` is the `Proposal`, `Vote`, `Vote2`, `Timeout`, `Accusation` or `EpochChange`
//! struct itself. Signatures are ed25519 and are checked with `verify_strict` only. A block's
//! hash is `SHA-256("WARDEN-BLOCK" || borsh(BlockHeader))`; an offence's id is
//! `SHA-256("WARDEN-OFFENCE" || borsh(OffenceKey))`; a validator set's hash is
//! `SHA-256("WARDEN-SET" || borsh(validators))`.
//!
//! A certificate carries its kind, epoch, view, block hash, the justify view (phase-1 only)
//! and `(signer, lock_view, signature)` triples in strictly increasing signer order. Each
//! signature is over the message the kind fixes: `Vote { view, block_hash, justify_view }`,
//! `Vote2 { view, block_hash }`, or `Timeout { view, lock_view }` with the signer's own lock view.
//!
//! ## The wasm ABI
//!
//! Exports (all integers are wasm `i32`/`i64`; pointers are offsets into the exported `memory`):
//!
//! | export | signature | meaning |
//! |---|---|---|
//! | `warden_alloc` | `(len: i32) -> i32` | reserve `len` bytes for an input; returns the pointer |
//! | `warden_init` | `(ptr, len) -> i32` | initialise from a borsh `Genesis` |
//! | `warden_execute` | `(ptr, len) -> i32` | execute a borsh `Msg` from the caller |
//! | `warden_query` | `(ptr, len) -> i32` | answer a borsh `Query`; the `QueryResponse` goes to `output` |
//! | `warden_verify` | `(ptr, len) -> i32` | `verify_strict` of borsh `(PublicKey, bytes, Signature)` |
//!
//! Each returns 0 on success or an [`error::Error::code`]; on an error the borsh-encoded
//! `Error` (with the values involved) is passed to `output`. A runtime uses a fresh instance
//! per call (the module's allocator never frees across calls).
//!
//! Error codes (stable; see [`error::Error`] for the values each carries):
//!
//! | code | error |
//! |---|---|
//! | 1 | `Decode` |
//! | 2 | `TooLarge` |
//! | 3 | `NotConflicting` |
//! | 4 | `ViewMismatch` |
//! | 5 | `EpochMismatch` |
//! | 6 | `SignerMismatch` |
//! | 7 | `UnknownEpoch` |
//! | 8 | `UnknownValidator` |
//! | 9 | `BadSignature` |
//! | 10 | `Duplicate` |
//! | 11 | `Expired` |
//! | 12 | `FutureEpoch` |
//! | 13 | `AlreadyBanned` |
//! | 14 | `InsufficientWitnesses` |
//! | 15 | `Unauthorized` |
//! | 16 | `ViolationNotProven` |
//! | 17 | `InvalidViewRange` |
//! | 18 | `InvalidConfig` |
//! | 19 | `WeakKey` |
//! | 20 | `DuplicateKey` |
//! | 21 | `InvalidValidatorSet` |
//! | 22 | `InvalidPower` |
//! | 23 | `EpochNotAfter` |
//! | 24 | `UnsortedSigners` |
//! | 25 | `UnknownProposal` |
//! | 26 | `DeferralPending` |
//! | 27 | `NotPending` |
//! | 28 | `NotInitialized` |
//! | 29 | `AlreadyInitialized` |
//! | 30 | `EmptyBatch` |
//! | 31 | `Overflow` |
//! | 32 | `TooManySignatures` |
//!
//! Imports, all from module `"warden"`:
//!
//! | import | signature | meaning |
//! |---|---|---|
//! | `storage_read` | `(key_ptr, key_len, val_ptr, val_cap) -> i32` | -1 if absent; else the value's length, copied only if it fits in `val_cap` |
//! | `storage_write` | `(key_ptr, key_len, val_ptr, val_len)` | store a value |
//! | `storage_remove` | `(key_ptr, key_len)` | remove a key |
//! | `block_height` | `() -> i64` | height of the block being executed |
//! | `block_time` | `() -> i64` | its time, milliseconds since the Unix epoch |
//! | `caller` | `(out_ptr) -> i32` | 1 and the sender's 32-byte key at `out_ptr`, or 0 if none |
//! | `emit_event` | `(ptr, len)` | a borsh `Event` |
//! | `output` | `(ptr, len)` | the call's result bytes |
//! | `abort` | `(msg_ptr, msg_len)` | a fatal error: the runtime traps and discards the call |
//! | `verify` | `(key_ptr, msg_ptr, msg_len, sig_ptr) -> i32` | 1 if the 64-byte ed25519 signature at `sig_ptr` over the message verifies under the 32-byte key at `key_ptr` by `verify_strict` (small-order keys and non-canonical encodings refused), else 0; never batched, deterministic. Warden's runtime charges 800,000 fuel plus 16 per message byte |
//!
//! The default build imports `verify`; built with feature `in-wasm-verify` the module imports
//! no `verify` and checks signatures with ed25519-dalek's `verify_strict` compiled into it, for
//! runtimes that offer no such function. The two builds give the same verdict on every input.
//! The on-chain build's stack is 32 KiB (`build.rs`), below the data, so that a call touches a
//! few pages of linear memory; an overflow traps.
//!
//! The module writes state only at the end of a successful call (it buffers every write), so
//! a failed call writes nothing; a runtime must still discard the writes of a call that traps
//! or runs out of fuel.
//!
//! ## Determinism
//!
//! No floats, no `HashMap`, no clock or randomness but the block height and time handed in,
//! checked or saturating arithmetic, and no panics on input.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;
// Native builds (and the JavaScript bindings) link `std` only for its panic handler and
// allocator; nothing here uses it.
#[cfg(any(not(target_arch = "wasm32"), feature = "js", not(feature = "abi")))]
extern crate std;

pub mod codec;
pub mod config;
pub mod contract;
pub mod crypto;
pub mod error;
pub mod evidence;
pub mod isolation;
pub mod msg;
pub mod reputation;
pub mod schedule;
pub mod slashing;
pub mod state;
pub mod validators;
pub mod wire;

// The on-chain ABI, panic handler and allocator: only in the on-chain build.
#[cfg(all(target_arch = "wasm32", feature = "abi", not(feature = "js")))]
mod exports;

#[cfg(feature = "serde")]
pub mod json;

#[cfg(feature = "js")]
pub mod js;

pub use config::Config;
pub use error::Error;
