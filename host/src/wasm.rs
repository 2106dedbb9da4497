//! The wasm executor: the one place that embeds wasmtime.
//!
//! It runs `warden-module`'s `.wasm` deterministically: NaN canonicalisation, no threads, no
//! SIMD (relaxed or otherwise), a bounded stack and memory, fuel metering with a per-call
//! limit, and a fresh instance per call from a pooling allocator, its imports resolved once
//! (an `InstancePre`). The `verify` import checks one ed25519 signature natively with
//! `verify_strict` (the executor keeps the keys it has decompressed: [`crate::keys`]), for
//! [`FUEL_PER_VERIFY`] plus [`FUEL_PER_VERIFY_BYTE`] per message byte; the
//! in-wasm-verify build ([`MODULE_WASM_IN_WASM_VERIFY`]) does not import it. Host functions see a
//! per-call overlay over a [`Store`]; its writes reach the store only when the call returns
//! success, so a rejected call, a trap or fuel exhaustion leaves the state untouched.
//!
//! [`Executor::cached`] keeps the compiled module on disk, keyed by the SHA-256 of the `.wasm`,
//! so a node restarts without recompiling.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;

use borsh::BorshDeserialize;
use sha2::{Digest, Sha256};
use wasmtime::{
    Caller, Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, Store as WasmStore, Trap, TypedFunc,
};

use warden_module::codec::{decode, encode};
use warden_module::contract::MAX_GENESIS_BYTES;
use warden_module::crypto::{Verifier, MAX_VERIFY_BYTES};
use warden_module::msg::{
    Event, Genesis, Msg, MAX_QUERY_BYTES, MAX_SIGNATURES_PER_TX, MAX_TX_BYTES,
};
use warden_module::wire::{PublicKey, Signature};

use crate::keys::SharedKeyCache;

/// The module built for `wasm32-unknown-unknown` by this crate's build script, checking
/// signatures through the runtime's `verify` import (what Warden's runtime runs).
pub const MODULE_WASM: &[u8] = include_bytes!(env!("WARDEN_MODULE_WASM"));

/// The same module built with feature `in-wasm-verify`: it imports no `verify` and checks
/// signatures with ed25519-dalek's `verify_strict` compiled into the module, for runtimes that
/// offer no verification function. Its verdicts are the same.
pub const MODULE_WASM_IN_WASM_VERIFY: &[u8] =
    include_bytes!(env!("WARDEN_MODULE_WASM_IN_WASM_VERIFY"));

/// Largest storage key the module may use.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest stored value, event or output.
pub const MAX_VALUE_BYTES: usize = 4 << 20;
/// Most events one call may emit.
pub const MAX_EVENTS: usize = 10_000;
/// Linear memory of a pooled instance kept mapped between calls (see [`engine_config`]).
const KEEP_RESIDENT_BYTES: usize = 1 << 20;
/// Linear memory limit of one instance.
pub const MAX_MEMORY_BYTES: usize = 64 << 20;

/// Fuel charged per byte moved across the host boundary, on top of a fixed cost per call.
const FUEL_PER_BYTE: u64 = 1;
const FUEL_PER_HOST_CALL: u64 = 1_000;
/// Fuel of one call of the `verify` import, besides the bytes it reads: about the fuel the
/// module burns in the time a native `verify_strict` takes (an in-wasm `verify_strict` burns
/// about 4.3 M fuel, some five times longer than the native check).
pub const FUEL_PER_VERIFY: u64 = 800_000;
/// Fuel per byte of the message the `verify` import hashes (SHA-512 of `R || A || message`).
pub const FUEL_PER_VERIFY_BYTE: u64 = 16;
/// The longest message the `verify` import accepts.
pub const MAX_VERIFY_MESSAGE_BYTES: usize = 65_536;

/// The SHA-256 of a module binary: the name of its compiled form in the cache, and the module
/// a chain's data directory records.
pub fn module_digest(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

/// The state a call reads and, on success, writes.
pub trait Store {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Applies a successful call's writes (`None` removes).
    fn apply(&mut self, changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>);
}

/// A store as one call holds it: read through, and handed back as its own type afterwards.
trait CallStore {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>>;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<S: Store + 'static> CallStore for S {
    fn read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// A store in memory.
pub type MemoryStore = BTreeMap<Vec<u8>, Vec<u8>>;

impl Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        BTreeMap::get(self, key).cloned()
    }
    fn apply(&mut self, changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        for (key, value) in changes {
            match value {
                Some(value) => self.insert(key, value),
                None => self.remove(&key),
            };
        }
    }
}

/// The block a call runs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockContext {
    /// Block height.
    pub height: u64,
    /// Block time, milliseconds since the Unix epoch.
    pub time: u64,
}

/// Fuel a genesis may burn per validator, besides the per-call allowance: a key's subgroup
/// check costs about one in-wasm `verify_strict` (4 M).
pub const GENESIS_FUEL_PER_KEY: u64 = 6_000_000;

/// Executor settings.
#[derive(Clone, Copy, Debug)]
pub struct ExecutorConfig {
    /// Fuel each call may burn, besides the signatures' allowance.
    pub fuel_per_call: u64,
    /// Fuel added to a transaction's allowance for each signature or key it makes the module
    /// check ([`Msg::signature_count`], at most [`MAX_SIGNATURES_PER_TX`]), so that quorum
    /// operations of the largest sets fit: an in-wasm `verify_strict` burns about 4.3 M, a
    /// key's subgroup check about 4 M.
    pub fuel_per_signature: u64,
    /// Instances the pooling allocator keeps ready.
    pub pool_size: u32,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            // About 400 in-wasm signature verifications.
            fuel_per_call: 1_000_000_000,
            fuel_per_signature: 5_000_000,
            pool_size: 16,
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The module refused the call with a named error.
    #[error("{0}")]
    Module(warden_module::Error),
    /// The call ran out of fuel.
    #[error("out of fuel")]
    OutOfFuel,
    /// The call trapped (a bug in the module or a host-function refusal).
    #[error("trap: {0}")]
    Trap(String),
}

/// What a call did.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    /// The output bytes on success (a query's response), or why it failed.
    pub result: Result<Vec<u8>, CallError>,
    /// Fuel burnt.
    pub fuel_used: u64,
    /// Events emitted (empty unless it succeeded).
    pub events: Vec<Event>,
}

impl CallOutcome {
    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The module's error, if it refused the call.
    pub fn module_error(&self) -> Option<warden_module::Error> {
        match &self.result {
            Err(CallError::Module(e)) => Some(*e),
            _ => None,
        }
    }
}

/// Per-call host state. It owns the store for the length of the call.
struct CallState {
    store: Box<dyn CallStore>,
    changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    events: Vec<Vec<u8>>,
    output: Option<Vec<u8>>,
    context: BlockContext,
    caller: Option<PublicKey>,
    abort: Option<String>,
    /// The instance's exported memory, looked up once per call rather than by host function.
    memory: Option<Memory>,
}

type EntryFunc = TypedFunc<(u32, u32), u32>;

/// The module's entry points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Init,
    Execute,
    Query,
    Verify,
}

impl Entry {
    fn export(self) -> &'static str {
        match self {
            Entry::Init => "warden_init",
            Entry::Execute => "warden_execute",
            Entry::Query => "warden_query",
            Entry::Verify => "warden_verify",
        }
    }

    /// The largest input the module decodes at this entry point.
    fn input_limit(self) -> usize {
        match self {
            Entry::Init => MAX_GENESIS_BYTES,
            Entry::Execute => MAX_TX_BYTES,
            Entry::Query => MAX_QUERY_BYTES,
            Entry::Verify => MAX_VERIFY_BYTES,
        }
    }

    /// Whether a successful call's writes are kept.
    fn commits(self) -> bool {
        matches!(self, Entry::Init | Entry::Execute)
    }
}

/// Loads and runs the module.
pub struct Executor {
    engine: Engine,
    /// The module with its imports resolved once: each call only instantiates it.
    instance_pre: InstancePre<CallState>,
    config: ExecutorConfig,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.config)
            .finish()
    }
}

/// The deterministic wasmtime configuration every Warden node uses.
pub fn engine_config(pool_size: u32) -> Config {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .relaxed_simd_deterministic(true)
        .wasm_multi_memory(false)
        .max_wasm_stack(512 * 1024)
        // Explicit bounds checks instead of guard pages: a pooled memory is then never
        // re-protected between calls (an mprotect and a TLB flush each time), which halves the
        // fixed cost of a call. Traps are the same.
        .signals_based_traps(false)
        .memory_guard_size(0);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_memories(pool_size)
        .total_tables(pool_size)
        .total_core_instances(pool_size)
        .max_memory_size(MAX_MEMORY_BYTES)
        // A call touches a few hundred KiB (the module's stack is 32 KiB): zeroing them with
        // memset when the slot is reused costs less than the page faults that follow a reset
        // by madvise.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(64 << 10);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

impl Executor {
    /// Compiles the embedded module.
    pub fn new(config: ExecutorConfig) -> anyhow::Result<Self> {
        Self::from_wasm(MODULE_WASM, config)
    }

    /// The embedded module, compiled once and cached on disk in `cache_dir` (see
    /// [`Executor::from_wasm_cached`]).
    pub fn cached(config: ExecutorConfig, cache_dir: &Path) -> anyhow::Result<Self> {
        Self::from_wasm_cached(MODULE_WASM, config, cache_dir)
    }

    /// Compiles `wasm`, or loads its compiled form from `cache_dir`, where it is stored as
    /// `warden-module-<SHA-256 of the .wasm>.cwasm`. A cached file that wasmtime refuses (another
    /// wasmtime version or configuration, a damaged file) is compiled again and replaced; the
    /// file is written to a temporary name and renamed, so a crash never leaves half a file
    /// under the final name.
    pub fn from_wasm_cached(
        wasm: &[u8],
        config: ExecutorConfig,
        cache_dir: &Path,
    ) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(config.pool_size))
            .map_err(|e| anyhow::anyhow!("wasmtime engine: {e}"))?;
        let digest = module_digest(wasm);
        let name = format!("warden-module-{}.cwasm", hex::encode(digest));
        let path = cache_dir.join(&name);
        if path.is_file() {
            // SAFETY: `Module::deserialize_file` runs the file's machine code as is, so it must
            // only ever see bytes that `Module::serialize` produced. This file sits in the
            // node's own data directory, under a name that binds the SHA-256 of the exact
            // `.wasm` it was compiled from, and only this function writes it: the output of
            // `Module::serialize`, written to a temporary file, synced to disk, then renamed
            // into place, so a crash never leaves a partial file under the final name.
            // wasmtime also checks the file's header (its version and the engine configuration
            // must match) and returns an error otherwise, and the module is compiled again
            // below. wasmtime maps the file into memory, so it must never change in place
            // while a process has it loaded: it is only ever replaced by a rename, which leaves
            // a mapped file intact. Whoever can write into the data directory can already
            // replace the database and the binary, so the cache adds no new trust.
            if let Ok(module) = unsafe { Module::deserialize_file(&engine, &path) } {
                return Self::with_module(engine, module, config);
            }
        }
        let module =
            Module::new(&engine, wasm).map_err(|e| anyhow::anyhow!("compiling the module: {e}"))?;
        let bytes = module
            .serialize()
            .map_err(|e| anyhow::anyhow!("serialising the compiled module: {e}"))?;
        std::fs::create_dir_all(cache_dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", cache_dir.display()))?;
        let tmp = cache_dir.join(format!("{name}.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut file| {
                use std::io::Write as _;
                file.write_all(&bytes)?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            anyhow::bail!("writing {}: {e}", path.display());
        }
        Self::with_module(engine, module, config)
    }

    /// Compiles a given module binary.
    pub fn from_wasm(wasm: &[u8], config: ExecutorConfig) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(config.pool_size))
            .map_err(|e| anyhow::anyhow!("wasmtime engine: {e}"))?;
        let module =
            Module::new(&engine, wasm).map_err(|e| anyhow::anyhow!("compiling the module: {e}"))?;
        Self::with_module(engine, module, config)
    }

    /// Resolves the module's imports against the runtime's functions, once.
    fn with_module(engine: Engine, module: Module, config: ExecutorConfig) -> anyhow::Result<Self> {
        let instance_pre = linker(&engine)
            .and_then(|linker| linker.instantiate_pre(&module))
            .map_err(|e| anyhow::anyhow!("linking the module: {e:#}"))?;
        Ok(Self {
            engine,
            instance_pre,
            config,
        })
    }

    /// The executor's settings.
    pub fn config(&self) -> ExecutorConfig {
        self.config
    }

    /// Initialises the module's state in `store` from `genesis`.
    pub fn init<S: Store + Default + 'static>(
        &self,
        store: &mut S,
        ctx: BlockContext,
        genesis: &Genesis,
    ) -> CallOutcome {
        // A genesis is no transaction: whatever the per-transaction settings, it may check
        // every validator key.
        let keys = genesis.validators.len() as u64;
        let fuel = self
            .config
            .fuel_per_call
            .saturating_add(keys.saturating_mul(GENESIS_FUEL_PER_KEY));
        let genesis = encode(genesis);
        self.call(store, ctx, None, Entry::Init, &genesis, fuel)
    }

    /// Executes a borsh-encoded transaction payload sent by `caller`.
    pub fn execute<S: Store + Default + 'static>(
        &self,
        store: &mut S,
        ctx: BlockContext,
        caller: Option<PublicKey>,
        tx: &[u8],
    ) -> CallOutcome {
        self.call(store, ctx, caller, Entry::Execute, tx, self.fuel_for(tx))
    }

    /// A transaction's fuel: the per-call allowance and the per-signature one for each
    /// signature it carries. An input that does not decode gets the per-call allowance (the
    /// module refuses it at once).
    pub fn fuel_for(&self, tx: &[u8]) -> u64 {
        let signatures = decode::<Msg>(tx, MAX_TX_BYTES)
            .map(|msg| msg.signature_count().min(MAX_SIGNATURES_PER_TX as u64))
            .unwrap_or(0);
        self.config
            .fuel_per_call
            .saturating_add(signatures.saturating_mul(self.config.fuel_per_signature))
    }

    /// Answers a borsh-encoded query; the state is never written.
    pub fn query<S: Store + Default + 'static>(
        &self,
        store: &mut S,
        ctx: BlockContext,
        query: &[u8],
    ) -> CallOutcome {
        let fuel = self.config.fuel_per_call;
        self.call(store, ctx, None, Entry::Query, query, fuel)
    }

    /// Runs the module's own `verify_strict` on one signature (borsh `(key, bytes, signature)`).
    pub fn verify(&self, input: &[u8]) -> CallOutcome {
        self.call(
            &mut MemoryStore::new(),
            BlockContext::default(),
            None,
            Entry::Verify,
            input,
            self.config.fuel_per_call,
        )
    }

    fn call<S: Store + Default + 'static>(
        &self,
        store: &mut S,
        ctx: BlockContext,
        caller: Option<PublicKey>,
        entry: Entry,
        input: &[u8],
        fuel: u64,
    ) -> CallOutcome {
        // The module refuses an input over its bound; refuse it before copying it in, so
        // that no input, however large, reaches the module's allocator.
        let limit = entry.input_limit();
        if input.len() > limit {
            return CallOutcome {
                result: Err(CallError::Module(warden_module::Error::TooLarge {
                    size: input.len() as u64,
                    limit: limit as u64,
                })),
                fuel_used: 0,
                events: Vec::new(),
            };
        }
        let commit = entry.commits();
        // The call owns the store while it runs and hands it back after.
        let state = CallState {
            store: Box::new(std::mem::take(store)),
            changes: BTreeMap::new(),
            events: Vec::new(),
            output: None,
            context: ctx,
            caller,
            abort: None,
            memory: None,
        };
        let mut wasm_store = WasmStore::new(&self.engine, state);
        let result = self.run(&mut wasm_store, entry.export(), input, fuel);
        let fuel_used = fuel.saturating_sub(wasm_store.get_fuel().unwrap_or(0));
        let mut state = wasm_store.into_data();
        let held = std::mem::replace(&mut state.store, Box::new(MemoryStore::new()));
        match held.into_any().downcast::<S>() {
            Ok(held) => *store = *held,
            Err(_) => unreachable!("a call hands back the store it was given"),
        }
        let result = match result {
            Ok(0) => Ok(state.output.clone().unwrap_or_default()),
            Ok(code) => Err(CallError::Module(decode_error(
                code,
                state.output.as_deref(),
            ))),
            Err(e) => Err(e),
        };
        let result = match (result, state.abort) {
            (Err(CallError::Trap(_)), Some(msg)) => Err(CallError::Trap(msg)),
            (r, _) => r,
        };
        if result.is_err() {
            return CallOutcome {
                result,
                fuel_used,
                events: Vec::new(),
            };
        }
        let mut events = Vec::with_capacity(state.events.len());
        for raw in &state.events {
            match Event::try_from_slice(raw) {
                Ok(event) => events.push(event),
                Err(e) => {
                    return CallOutcome {
                        result: Err(CallError::Trap(format!("undecodable event: {e}"))),
                        fuel_used,
                        events: Vec::new(),
                    }
                }
            }
        }
        let changes = state.changes;
        if commit {
            store.apply(changes);
        }
        CallOutcome {
            result,
            fuel_used,
            events,
        }
    }

    fn run(
        &self,
        wasm_store: &mut WasmStore<CallState>,
        entry: &str,
        input: &[u8],
        fuel: u64,
    ) -> Result<u32, CallError> {
        let trap = |e: wasmtime::Error| -> CallError {
            match e.downcast_ref::<Trap>() {
                Some(Trap::OutOfFuel) => CallError::OutOfFuel,
                _ => CallError::Trap(format!("{e:#}")),
            }
        };
        wasm_store.set_fuel(fuel).map_err(trap)?;
        let instance = self
            .instance_pre
            .instantiate(&mut *wasm_store)
            .map_err(trap)?;
        let memory = instance
            .get_memory(&mut *wasm_store, "memory")
            .ok_or_else(|| CallError::Trap("module exports no memory".into()))?;
        wasm_store.data_mut().memory = Some(memory);
        let alloc: TypedFunc<u32, u32> = instance
            .get_typed_func(&mut *wasm_store, "warden_alloc")
            .map_err(trap)?;
        let func: EntryFunc = instance
            .get_typed_func(&mut *wasm_store, entry)
            .map_err(trap)?;
        let len =
            u32::try_from(input.len()).map_err(|_| CallError::Trap("input too large".into()))?;
        let ptr = alloc.call(&mut *wasm_store, len).map_err(trap)?;
        memory
            .write(&mut *wasm_store, ptr as usize, input)
            .map_err(|e| CallError::Trap(format!("writing the input: {e}")))?;
        func.call(&mut *wasm_store, (ptr, len)).map_err(trap)
    }
}

fn decode_error(code: u32, output: Option<&[u8]>) -> warden_module::Error {
    // The module passes the full error; fall back on the code alone only if it did not.
    output
        .and_then(|bytes| warden_module::Error::try_from_slice(bytes).ok())
        .filter(|e| e.code() == code)
        .unwrap_or(warden_module::Error::Decode)
}

fn memory(caller: &mut Caller<'_, CallState>) -> wasmtime::Result<Memory> {
    caller
        .data()
        .memory
        .ok_or_else(|| wasmtime::Error::msg("module exports no memory"))
}

fn read_bytes(
    caller: &mut Caller<'_, CallState>,
    ptr: u32,
    len: u32,
    limit: usize,
) -> wasmtime::Result<Vec<u8>> {
    let len = len as usize;
    if len > limit {
        return Err(wasmtime::Error::msg(format!(
            "host call with {len} bytes, over the limit of {limit}"
        )));
    }
    charge(caller, len)?;
    let mem = memory(caller)?;
    let mut buf = vec![0u8; len];
    mem.read(&*caller, ptr as usize, &mut buf)
        .map_err(|_| wasmtime::Error::msg("host call outside memory"))?;
    Ok(buf)
}

fn charge(caller: &mut Caller<'_, CallState>, bytes: usize) -> wasmtime::Result<()> {
    burn(
        caller,
        FUEL_PER_HOST_CALL.saturating_add(FUEL_PER_BYTE.saturating_mul(bytes as u64)),
    )
}

/// `N` bytes of the instance's memory at `ptr`.
fn read_array<const N: usize>(
    caller: &mut Caller<'_, CallState>,
    ptr: u32,
) -> wasmtime::Result<[u8; N]> {
    let mem = memory(caller)?;
    let mut buf = [0u8; N];
    mem.read(&*caller, ptr as usize, &mut buf)
        .map_err(|_| wasmtime::Error::msg("host call outside memory"))?;
    Ok(buf)
}

/// Takes `cost` from the call's fuel; out of fuel when less is left.
fn burn(caller: &mut Caller<'_, CallState>, cost: u64) -> wasmtime::Result<()> {
    let left = caller.get_fuel()?;
    if left < cost {
        caller.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    caller.set_fuel(left - cost)
}

/// The runtime's imports. `verify` keeps the keys it has decompressed, for every instance of
/// this executor.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut linker: Linker<CallState> = Linker::new(engine);
    let keys = SharedKeyCache::default();
    linker.func_wrap(
        "warden",
        "storage_read",
        |mut caller: Caller<'_, CallState>,
         kp: u32,
         kl: u32,
         vp: u32,
         cap: u32|
         -> wasmtime::Result<i32> {
            let key = read_bytes(&mut caller, kp, kl, MAX_KEY_BYTES)?;
            let state = caller.data();
            let value = match state.changes.get(&key) {
                Some(change) => change.clone(),
                None => state.store.read(&key),
            };
            let Some(value) = value else {
                return Ok(-1);
            };
            charge(&mut caller, value.len())?;
            if value.len() <= cap as usize {
                let mem = memory(&mut caller)?;
                mem.write(&mut caller, vp as usize, &value)
                    .map_err(|_| wasmtime::Error::msg("storage_read outside memory"))?;
            }
            i32::try_from(value.len()).map_err(|_| wasmtime::Error::msg("stored value too large"))
        },
    )?;
    linker.func_wrap(
        "warden",
        "storage_write",
        |mut caller: Caller<'_, CallState>,
         kp: u32,
         kl: u32,
         vp: u32,
         vl: u32|
         -> wasmtime::Result<()> {
            let key = read_bytes(&mut caller, kp, kl, MAX_KEY_BYTES)?;
            let value = read_bytes(&mut caller, vp, vl, MAX_VALUE_BYTES)?;
            caller.data_mut().changes.insert(key, Some(value));
            Ok(())
        },
    )?;
    linker.func_wrap(
        "warden",
        "storage_remove",
        |mut caller: Caller<'_, CallState>, kp: u32, kl: u32| -> wasmtime::Result<()> {
            let key = read_bytes(&mut caller, kp, kl, MAX_KEY_BYTES)?;
            caller.data_mut().changes.insert(key, None);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "warden",
        "block_height",
        |caller: Caller<'_, CallState>| -> u64 { caller.data().context.height },
    )?;
    linker.func_wrap(
        "warden",
        "block_time",
        |caller: Caller<'_, CallState>| -> u64 { caller.data().context.time },
    )?;
    linker.func_wrap(
        "warden",
        "caller",
        |mut caller: Caller<'_, CallState>, out: u32| -> wasmtime::Result<i32> {
            let Some(key) = caller.data().caller else {
                return Ok(0);
            };
            let mem = memory(&mut caller)?;
            mem.write(&mut caller, out as usize, &key.0)
                .map_err(|_| wasmtime::Error::msg("caller outside memory"))?;
            Ok(1)
        },
    )?;
    linker.func_wrap(
        "warden",
        "emit_event",
        |mut caller: Caller<'_, CallState>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            let event = read_bytes(&mut caller, ptr, len, MAX_VALUE_BYTES)?;
            let events = &mut caller.data_mut().events;
            if events.len() >= MAX_EVENTS {
                return Err(wasmtime::Error::msg("too many events"));
            }
            events.push(event);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "warden",
        "output",
        |mut caller: Caller<'_, CallState>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            let out = read_bytes(&mut caller, ptr, len, MAX_VALUE_BYTES)?;
            caller.data_mut().output = Some(out);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "warden",
        "verify",
        move |mut caller: Caller<'_, CallState>,
              key_ptr: u32,
              msg_ptr: u32,
              msg_len: u32,
              sig_ptr: u32|
              -> wasmtime::Result<i32> {
            let len = u64::from(msg_len);
            burn(
                &mut caller,
                FUEL_PER_VERIFY.saturating_add(FUEL_PER_VERIFY_BYTE.saturating_mul(len)),
            )?;
            let message = read_bytes(&mut caller, msg_ptr, msg_len, MAX_VERIFY_MESSAGE_BYTES)?;
            let key = read_array::<32>(&mut caller, key_ptr)?;
            let signature = read_array::<64>(&mut caller, sig_ptr)?;
            let valid = keys.verify(&PublicKey(key), &message, &Signature(signature));
            Ok(i32::from(valid))
        },
    )?;
    linker.func_wrap(
        "warden",
        "abort",
        |mut caller: Caller<'_, CallState>, ptr: u32, len: u32| -> wasmtime::Result<()> {
            let msg = read_bytes(&mut caller, ptr, len, 4096)?;
            let msg = String::from_utf8_lossy(&msg).into_owned();
            caller.data_mut().abort = Some(msg.clone());
            Err(wasmtime::Error::msg(format!("module aborted: {msg}")))
        },
    )?;
    Ok(linker)
}
