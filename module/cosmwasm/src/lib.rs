//! # warden-cosmwasm
//!
//! Warden's evidence module as a CosmWasm contract. The rules are `warden-module`'s own
//! ([`warden_module::contract`]); this crate only maps CosmWasm's entry points, storage, sender,
//! block and signature check onto the module's [`Host`] and [`Verifier`] seams.
//!
//! ## Messages
//! Every message carries the module's borsh bytes unchanged, as a CosmWasm binary (base64)
//! field, so a relayer sends the very bytes it sends to Warden's own runtime:
//!
//! | entry point | JSON message | what it does |
//! |---|---|---|
//! | `instantiate` | `{"genesis": "<base64 borsh Genesis>"}` | [`contract::init`] |
//! | `execute` | `{"submit": {"tx": "<base64 borsh Msg>"}}` | [`contract::execute`] as the sender's identity |
//! | `execute` | `{"register_identity": {"key": "<base64 32 bytes>", "signature": "<base64 64 bytes>"}}` | binds the sender to an ed25519 identity it proves |
//! | `sudo` | `{"execute": {"tx": "<base64 borsh Msg>"}}` | [`contract::execute`] as the module's authority |
//! | `sudo` | `{"bind_identity": {"address": "<addr>", "identity": "<base64 32 bytes>"}}` | binds an address to an identity (governance) |
//! | `query` | `{"module": {"query": "<base64 borsh Query>"}}` | [`contract::query`]; the result is the borsh `QueryResponse` as a base64 JSON string |
//! | `query` | `{"identity": {"address": "<addr>"}}` | the identity bound to an address (JSON base64, or `null`) |
//! | `query` | `{"address": {"identity": "<base64 32 bytes>"}}` | the address bound to an identity (JSON string, or `null`) |
//!
//! ## Callers
//! The module names its callers by ed25519 public keys: the authority in the genesis, the
//! reporter of each piece of evidence (who earns the reward), and a validator reporting itself
//! (who earns none). A CosmWasm sender is an address, so the contract keeps a binding between
//! addresses and keys, one to one:
//! - **A relayer or validator binds itself** with `register_identity`: the key and its
//!   `verify_strict` signature over [`registration_message`] (the contract's and the sender's
//!   addresses), so nobody can claim another's key. A validator that registers its consensus key
//!   is recognised as itself by the module's self-report rule.
//! - **Governance binds an address** with `sudo` `bind_identity` (for example the authority's
//!   key to the governance account), or executes the authority's messages through `sudo`
//!   `execute`.
//!
//! A sender with no identity is anonymous to the module: its evidence is checked and recorded
//! the same, with no reporter (no reward). A chain finds the address to reward for a slashing
//! proposal's reporter with the `address` query.
//!
//! ## Signatures
//! Through the VM's `ed25519_verify` ([`ApiVerifier`]), which checks ZIP-215's cofactored
//! equation and accepts small-order points and non-canonical encodings. The adapter first
//! applies `verify_strict`'s own refusals ([`strict_prechecks`]): `s` canonical, `R` a
//! canonical encoding of a point not of small order, the key a point not of small order. See
//! [`strict_prechecks`] for the one case the two checks can still tell apart.
//! With feature `in-contract-verify` the contract verifies with ed25519-dalek's `verify_strict`
//! inside the contract instead (the reference of the gas table).
//!
//! ## Events
//! Every module event becomes a CosmWasm event of type `warden_<variant in snake case>`, one
//! attribute per field: numbers in decimal, keys and hashes in hex (the module's JSON form,
//! [`warden_module::json`]), enum values by name, an absent optional value as no attribute, and
//! a nested record (an offence, a proposal) flattened into its fields (see [`module_event`]).
//! The sender is not repeated: the chain's own `message` event records it.
//!
//! `instantiate`, `execute` and `sudo` write their response's JSON themselves (see
//! [`events::ResponseJson`]): `cosmwasm-std` parses the call and runs it, and a successful
//! call's events then go straight from the module's bytes into the JSON the VM reads, instead
//! of through `Response`'s strings and `serde_json`, which the VM would meter byte by byte.
//!
//! ## Errors
//! A refused call fails with `"<Name> (code <n>): <Debug form with values>"`, the module's error
//! name and code (see [`warden_module::Error`]).

#![warn(missing_docs)]

mod events;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod heap;
mod verify;

use cosmwasm_std::{
    entry_point, to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdError,
    Storage,
};
use serde::{Deserialize, Serialize};
use warden_module::codec::decode;
use warden_module::contract;
use warden_module::crypto::{is_strong_key, Verifier};
use warden_module::state::{keys, Host, Meta};
use warden_module::wire::{PublicKey, Signature};
use warden_module::Error;

pub use events::{module_event, Events, ResponseJson, Sink};
pub use verify::{strict_prechecks, ApiVerifier};

/// The contract's allocator (see [`heap`]).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: heap::Heap<heap::LinearMemory> = heap::Heap::new(heap::LinearMemory);

/// `instantiate`'s message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstantiateMsg {
    /// A borsh `Genesis`.
    pub genesis: Binary,
}

/// `execute`'s message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExecuteMsg {
    /// A module transaction from the sender's identity.
    Submit {
        /// A borsh `Msg`.
        tx: Binary,
    },
    /// Binds the sender to `key`, proven by `signature` over [`registration_message`].
    RegisterIdentity {
        /// An ed25519 public key (32 bytes).
        key: Binary,
        /// Its signature (64 bytes).
        signature: Binary,
    },
}

/// `sudo`'s message: the chain's governance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SudoMsg {
    /// A module transaction from the module's authority.
    Execute {
        /// A borsh `Msg`.
        tx: Binary,
    },
    /// Binds `address` to `identity`.
    BindIdentity {
        /// The address.
        address: String,
        /// An ed25519 public key (32 bytes).
        identity: Binary,
    },
}

/// `query`'s message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryMsg {
    /// A module query; answers the borsh `QueryResponse` as a base64 JSON string.
    Module {
        /// A borsh `Query`.
        query: Binary,
    },
    /// The identity bound to an address.
    Identity {
        /// The address.
        address: String,
    },
    /// The address bound to an identity.
    Address {
        /// The identity (32 bytes).
        identity: Binary,
    },
}

/// A refused call: the module's error, or a malformed envelope.
#[derive(Debug)]
pub enum ContractError {
    /// The module refused the call.
    Module(Error),
    /// The JSON envelope or an argument outside the module was malformed.
    Std(StdError),
}

impl core::fmt::Display for ContractError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ContractError::Module(e) => write!(f, "{} (code {}): {e:?}", e.name(), e.code()),
            ContractError::Std(e) => write!(f, "{e}"),
        }
    }
}

impl From<Error> for ContractError {
    fn from(e: Error) -> Self {
        ContractError::Module(e)
    }
}

impl From<StdError> for ContractError {
    fn from(e: StdError) -> Self {
        ContractError::Std(e)
    }
}

/// What `register_identity`'s signature signs: `"WARDEN-COSMWASM-IDENTITY"`, then the
/// contract's address and the sender's, each as a `u32` little-endian length and its bytes.
pub fn registration_message(contract: &str, sender: &str) -> Vec<u8> {
    let mut message = b"WARDEN-COSMWASM-IDENTITY".to_vec();
    for part in [contract, sender] {
        message.extend_from_slice(&(part.len() as u32).to_le_bytes());
        message.extend_from_slice(part.as_bytes());
    }
    message
}

/// The adapter's own keys: the module's keys never start with `cosmwasm/`. They are not part of
/// the module's state.
pub const ADAPTER_PREFIX: &[u8] = b"cosmwasm/";

fn identity_key(address: &str) -> Vec<u8> {
    [b"cosmwasm/identity/".as_slice(), address.as_bytes()].concat()
}

fn address_key(identity: &PublicKey) -> Vec<u8> {
    [b"cosmwasm/address/".as_slice(), identity.0.as_slice()].concat()
}

/// The identity bound to `address`.
fn identity_of(storage: &dyn Storage, address: &str) -> Option<PublicKey> {
    let bytes = storage.get(&identity_key(address))?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok().map(PublicKey)
}

/// Binds `address` and `identity` to each other, replacing either's previous binding.
fn bind(storage: &mut dyn Storage, address: &str, identity: PublicKey) {
    if let Some(old) = identity_of(storage, address) {
        storage.remove(&address_key(&old));
    }
    if let Some(old) = storage.get(&address_key(&identity)) {
        if let Ok(old) = String::from_utf8(old) {
            storage.remove(&identity_key(&old));
        }
    }
    storage.set(&identity_key(address), &identity.0);
    storage.set(&address_key(&identity), address.as_bytes());
}

fn key_bytes<const N: usize>(what: &str, bytes: &Binary) -> Result<[u8; N], ContractError> {
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        ContractError::Std(StdError::msg(format!(
            "{what}: expected {N} bytes, got {}",
            bytes.len()
        )))
    })
}

/// The storage a call may use: writable in transactions, read-only in queries.
enum Store<'a> {
    Write(&'a mut dyn Storage),
    Read(&'a dyn Storage),
}

/// The module's [`Host`] over one CosmWasm call.
struct CosmWasmHost<'a> {
    store: Store<'a>,
    height: u64,
    time_ms: u64,
    caller: Option<PublicKey>,
    events: Vec<Vec<u8>>,
}

impl<'a> CosmWasmHost<'a> {
    fn new(store: Store<'a>, env: &Env, caller: Option<PublicKey>) -> Self {
        CosmWasmHost {
            store,
            height: env.block.height,
            time_ms: env.block.time.nanos() / 1_000_000,
            caller,
            events: Vec::new(),
        }
    }
}

/// What a successful call emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Emitted {
    /// The module's events, borsh-encoded.
    Module(Vec<Vec<u8>>),
    /// `address` and `identity` were bound to each other (`warden_identity_bound`).
    IdentityBound {
        /// The address.
        address: String,
        /// Its identity.
        identity: PublicKey,
    },
}

impl Emitted {
    /// Hands every event to `sink`.
    pub fn write<S: Sink>(&self, sink: &mut S) -> Result<(), StdError> {
        match self {
            Emitted::Module(events) => events
                .iter()
                .try_for_each(|event| events::write_event(sink, event)),
            Emitted::IdentityBound { address, identity } => {
                sink.event("IdentityBound");
                sink.attribute(None, "address", address, true);
                let identity = warden_module::json::to_hex(&identity.0);
                sink.attribute(None, "identity", &identity, false);
                Ok(())
            }
        }
    }

    /// The call's `Response`.
    pub fn response(&self) -> Result<Response, ContractError> {
        let mut events = Events::default();
        self.write(&mut events)?;
        Ok(Response::new().add_events(events.0))
    }
}

impl Host for CosmWasmHost<'_> {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        match &self.store {
            Store::Write(s) => s.get(key),
            Store::Read(s) => s.get(key),
        }
    }

    fn write(&mut self, key: &[u8], value: &[u8]) {
        // The module writes only when a transaction succeeds, and a query never does.
        if let Store::Write(s) = &mut self.store {
            s.set(key, value);
        }
    }

    fn remove(&mut self, key: &[u8]) {
        if let Store::Write(s) = &mut self.store {
            s.remove(key);
        }
    }

    fn block_height(&self) -> u64 {
        self.height
    }

    fn block_time(&self) -> u64 {
        self.time_ms
    }

    fn caller(&self) -> Option<PublicKey> {
        self.caller
    }

    fn emit(&mut self, event: &[u8]) {
        self.events.push(event.to_vec());
    }
}

/// The verifier this build uses.
#[cfg(not(feature = "in-contract-verify"))]
fn verifier<'a>(deps: &DepsMut<'a>) -> ApiVerifier<'a> {
    ApiVerifier::new(deps.api)
}

#[cfg(feature = "in-contract-verify")]
fn verifier(_: &DepsMut<'_>) -> warden_module::crypto::Ed25519Strict {
    warden_module::crypto::Ed25519Strict
}

/// Initialises the module from the borsh genesis.
pub fn instantiate(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Emitted, ContractError> {
    let caller = identity_of(deps.storage, info.sender.as_str());
    let mut host = CosmWasmHost::new(Store::Write(deps.storage), &env, caller);
    contract::init(&mut host, msg.genesis.as_slice())?;
    Ok(Emitted::Module(host.events))
}

/// A module transaction from the sender, or the sender's registration.
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Emitted, ContractError> {
    let sender = info.sender.as_str();
    match msg {
        ExecuteMsg::Submit { tx } => {
            let caller = identity_of(deps.storage, sender);
            run(deps, &env, caller, &tx)
        }
        ExecuteMsg::RegisterIdentity { key, signature } => {
            let key = PublicKey(key_bytes("key", &key)?);
            let signature = Signature(key_bytes("signature", &signature)?);
            if !is_strong_key(&key) {
                return Err(Error::WeakKey { operator: 0 }.into());
            }
            let message = registration_message(env.contract.address.as_str(), sender);
            if !verifier(&deps).verify(&key, &message, &signature) {
                return Err(Error::BadSignature { signer: 0 }.into());
            }
            bind(deps.storage, sender, key);
            Ok(Emitted::IdentityBound {
                address: sender.to_string(),
                identity: key,
            })
        }
    }
}

/// The chain's governance: a module transaction from the module's authority, or a binding.
pub fn sudo(deps: DepsMut, env: Env, msg: SudoMsg) -> Result<Emitted, ContractError> {
    match msg {
        SudoMsg::Execute { tx } => {
            let meta: Meta = match deps.storage.get(keys::META) {
                Some(bytes) => decode(&bytes, bytes.len())?,
                None => return Err(Error::NotInitialized.into()),
            };
            run(deps, &env, Some(meta.authority), &tx)
        }
        SudoMsg::BindIdentity { address, identity } => {
            let address = deps.api.addr_validate(&address)?;
            let identity = PublicKey(key_bytes("identity", &identity)?);
            bind(deps.storage, address.as_str(), identity);
            Ok(Emitted::IdentityBound {
                address: address.into_string(),
                identity,
            })
        }
    }
}

fn run(
    deps: DepsMut,
    env: &Env,
    caller: Option<PublicKey>,
    tx: &Binary,
) -> Result<Emitted, ContractError> {
    let verifier = verifier(&deps);
    let mut host = CosmWasmHost::new(Store::Write(deps.storage), env, caller);
    contract::execute(&mut host, &verifier, tx.as_slice())?;
    Ok(Emitted::Module(host.events))
}

/// Answers a query.
#[entry_point]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    match msg {
        QueryMsg::Module { query } => {
            let mut host = CosmWasmHost::new(Store::Read(deps.storage), &env, None);
            // A query's result must be JSON: the borsh bytes as a base64 string.
            let response = Binary::new(contract::query(&mut host, query.as_slice())?);
            Ok(to_json_binary(&response)?)
        }
        QueryMsg::Identity { address } => {
            let identity = identity_of(deps.storage, &address).map(|k| Binary::from(k.0));
            Ok(to_json_binary(&identity)?)
        }
        QueryMsg::Address { identity } => {
            let identity = PublicKey(key_bytes("identity", &identity)?);
            let address = deps
                .storage
                .get(&address_key(&identity))
                .map(String::from_utf8)
                .transpose()
                .map_err(|_| StdError::msg("a stored address is not UTF-8"))?;
            Ok(to_json_binary(&address)?)
        }
    }
}

/// The exports of `instantiate`, `execute` and `sudo`. `cosmwasm-std`'s `do_*` parse the call
/// and run it; a successful call hands its [`Emitted`] out and an empty `Response` in, whose
/// JSON is replaced by the events' (a refused call's JSON is `cosmwasm-std`'s).
#[cfg(target_arch = "wasm32")]
mod exports {
    use super::*;
    use core::cell::RefCell;
    use cosmwasm_std::{to_json_vec, ContractResult};

    type Slot = RefCell<Option<Emitted>>;

    /// Keeps a successful call's events in `slot`.
    fn keep(
        slot: &Slot,
        result: Result<Emitted, ContractError>,
    ) -> Result<Response, ContractError> {
        *slot.borrow_mut() = Some(result?);
        Ok(Response::new())
    }

    /// The VM's view of a byte buffer, as `cosmwasm-std` lays it out (the VM reads it and hands
    /// it back to the `deallocate` export).
    #[repr(C)]
    struct Region {
        offset: u32,
        capacity: u32,
        length: u32,
    }

    fn region(data: Vec<u8>) -> u32 {
        let data = core::mem::ManuallyDrop::new(data);
        let region = Region {
            offset: data.as_ptr() as u32,
            capacity: data.capacity() as u32,
            length: data.len() as u32,
        };
        Box::into_raw(Box::new(region)) as u32
    }

    /// The result region: the events' JSON for a successful call, else `cosmwasm-std`'s.
    /// The region replaced is left to the end of the call, like every block the allocator does
    /// not take back.
    fn respond(region_of_std: u32, slot: Slot) -> u32 {
        let Some(emitted) = slot.into_inner() else {
            return region_of_std;
        };
        let mut json = ResponseJson::default();
        let result = match emitted.write(&mut json) {
            Ok(()) => json.finish(),
            Err(e) => {
                to_json_vec(&ContractResult::<Response>::Err(e.to_string())).unwrap_or_default()
            }
        };
        region(result)
    }

    #[no_mangle]
    extern "C" fn instantiate(env: u32, info: u32, msg: u32) -> u32 {
        let slot = Slot::default();
        let std = cosmwasm_std::do_instantiate(
            &|deps, env, info, msg| keep(&slot, super::instantiate(deps, env, info, msg)),
            env,
            info,
            msg,
        );
        respond(std, slot)
    }

    #[no_mangle]
    extern "C" fn execute(env: u32, info: u32, msg: u32) -> u32 {
        let slot = Slot::default();
        let std = cosmwasm_std::do_execute(
            &|deps, env, info, msg| keep(&slot, super::execute(deps, env, info, msg)),
            env,
            info,
            msg,
        );
        respond(std, slot)
    }

    #[no_mangle]
    extern "C" fn sudo(env: u32, msg: u32) -> u32 {
        let slot = Slot::default();
        let std = cosmwasm_std::do_sudo(
            &|deps, env, msg| keep(&slot, super::sudo(deps, env, msg)),
            env,
            msg,
        );
        respond(std, slot)
    }
}
