//! Shared helpers of the chain runtime tests: temporary data directories and test chains.

#![allow(dead_code)]

use std::path::Path;

use warden_host::chain::envelope::Envelope;
use warden_host::chain::genesis::GenesisFile;
use warden_host::chain::Chain;
use warden_host::testkit::{key, TestNetwork, REPORTER_SEED};
use warden_module::codec::encode;
use warden_module::msg::Msg;

/// The chain id of the test chains.
pub const CHAIN_ID: u64 = 7;
/// Their genesis time.
pub const GENESIS_TIME: u64 = 1_700_000_000_000;

/// A directory removed when dropped.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// A fresh, empty directory under the system's temporary directory.
    pub fn new(label: &str) -> Self {
        Self(
            tempfile::Builder::new()
                .prefix(&format!("warden-{label}-"))
                .tempdir()
                .expect("a temporary directory"),
        )
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// The seven-validator test network.
pub fn network() -> TestNetwork {
    TestNetwork::new(CHAIN_ID, 7)
}

/// Its genesis file.
pub fn genesis() -> GenesisFile {
    GenesisFile::from_network(&network(), GENESIS_TIME)
}

/// A new chain from `genesis` in `dir`.
pub fn chain(dir: &Path, genesis: &GenesisFile) -> Chain {
    Chain::init(genesis, dir).expect("the chain initialises")
}

/// An encoded envelope of `msg` from the reporter's key at `nonce`.
pub fn envelope(msg: &Msg, nonce: u64) -> Vec<u8> {
    envelope_from(REPORTER_SEED, CHAIN_ID, msg, nonce)
}

/// An encoded envelope of `msg` from the key of `seed` for `chain_id` at `nonce`.
pub fn envelope_from(seed: u64, chain_id: u64, msg: &Msg, nonce: u64) -> Vec<u8> {
    Envelope::sign(chain_id, &key(seed), nonce, encode(msg))
        .expect("a small payload")
        .encode()
}

/// Produces a block at the parent's time plus one second.
pub fn produce(chain: &mut Chain) -> warden_host::chain::block::Header {
    let time = chain.head().time + 1_000;
    chain.produce_block(time).expect("the block commits")
}
