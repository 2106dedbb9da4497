//! The contract as a CosmWasm chain holds it (`cosmwasm_vm`, the `cosmwasm_gas` bench): checked
//! and compiled once by the VM's own `Cache`, as `store-code` does, and instantiated afresh from
//! the compiled module for every contract a test or a bench row needs.

use cosmwasm_std::Checksum;
use cosmwasm_std::{Env, Timestamp};
use cosmwasm_vm::testing::MockStorage;
use cosmwasm_vm::testing::{mock_backend, mock_env, MockApi, MockInstanceOptions, MockQuerier};
use cosmwasm_vm::{Cache, CacheOptions, Instance, InstanceOptions, Size};

pub type Vm = Instance<MockApi, MockStorage, MockQuerier>;

/// Gas enough for any transaction a test sends.
const GAS_LIMIT: u64 = 1_000_000_000_000_000;

/// One contract's code, stored in a VM cache in a temporary directory.
pub struct StoredCode {
    cache: Cache<MockApi, MockStorage, MockQuerier>,
    checksum: Checksum,
    // Dropped after the cache, which keeps files in it.
    _dir: tempfile::TempDir,
}

impl StoredCode {
    /// Checks `wasm` as `cosmwasm-check` and a chain's `store-code` do (the same `check_wasm`,
    /// with every capability the mock chain offers) and compiles it.
    pub fn store(wasm: &[u8]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = CacheOptions::new(
            dir.path(),
            MockInstanceOptions::default().available_capabilities,
            Size::mebi(64),
            Size::mebi(32),
        );
        // SAFETY: the cache's directory is new and private to this process; nothing else writes
        // compiled modules into it.
        let cache = unsafe { Cache::new(options) }.expect("a VM cache");
        let checksum = cache
            .store_code(wasm, true, true)
            .expect("the contract passes the VM's checks and compiles");
        Self {
            cache,
            checksum,
            _dir: dir,
        }
    }

    /// A new contract (empty storage) running the stored code.
    pub fn instance(&self) -> Vm {
        self.cache
            .get_instance(
                &self.checksum,
                mock_backend(&[]),
                InstanceOptions {
                    gas_limit: GAS_LIMIT,
                },
            )
            .expect("an instance of stored code")
    }
}

/// The VM's environment at a block.
pub fn env(height: u64, time_ms: u64) -> Env {
    let mut env = mock_env();
    env.block.height = height;
    env.block.time = Timestamp::from_nanos(time_ms * 1_000_000);
    env
}
