//! Golden fixture vectors: signed evidence, transactions and the outcome the module must give.
//!
//! The vectors pin the wire format and the module's rules, so that every runtime that hosts
//! the module (and every reimplementation of a relayer) can check itself against the same
//! bytes. They are built deterministically from [`crate::testkit`]'s keys; `warden fixtures
//! write` regenerates them byte for byte and `warden fixtures check` proves the files on disk
//! are current and that both the wasm module and the native build agree with them.
//!
//! ## Layout
//!
//! - `keys.json`: every key the vectors use (operator, seed, secret and public key in hex).
//!   Secrets are `SHA-256("warden-test-key" || seed as u64 LE)`, used as ed25519 seeds.
//! - `vectors/<area>.json`: one file per area (double votes, proposals, lock violations,
//!   accusations, certificates, rotations, governance, decoding, ...).
//!
//! ## Running a vector
//!
//! Each vector holds a `genesis` (hex of a borsh `Genesis`) applied at `genesis_height` and
//! `genesis_time` with no caller, a list of `setup` transactions and one transaction `tx`
//! under test. A transaction has a `caller` (hex of the sender's ed25519 public key, or
//! `null`), the block `height` and `time` (milliseconds) it runs in, and `tx`: the hex of the
//! borsh `Msg` (or of arbitrary bytes, for the decoding vectors). Start from empty state, apply
//! the genesis, execute the setup transactions in order (each must succeed), then execute
//! `tx`: its outcome must be `expected`, which is `"ok"` or the name of the module's error
//! ([`warden_module::Error::name`]), and for a refusal `expected_error` is the error's full
//! `Debug` form with the values involved. A refused transaction must leave the state as it was.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use warden_module::codec::{decode, encode, BoundedVec};
use warden_module::config::Config;
use warden_module::contract::{self, MAX_GENESIS_BYTES};
use warden_module::crypto::Ed25519Strict;
use warden_module::error::ConfigField;
use warden_module::evidence::{
    Behaviour, Evidence, ProposalViolation, WitnessSignature, WitnessedAccusation,
};
use warden_module::msg::{Event, Genesis, Msg, Rotation, MAX_CERTIFICATES_PER_TX, MAX_TX_BYTES};
use warden_module::state::MemoryHost;
use warden_module::validators::ValidatorInfo;
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, Message, OperatorId, Proposal, PublicKey, Signature,
    SignedMessage, MAX_VALIDATORS,
};
use warden_module::Error;

use crate::testkit::{self, TestNetwork, AUTHORITY_SEED, REPORTER_SEED};
use crate::wasm::{
    BlockContext, CallError, Executor, ExecutorConfig, MemoryStore, MODULE_WASM,
    MODULE_WASM_IN_WASM_VERIFY,
};

/// The chain id of every vector.
pub const CHAIN_ID: u64 = 7;
/// Validators in the genesis set (operators `0..VALIDATORS`, keys from seeds `0..VALIDATORS`,
/// power 10 each).
pub const VALIDATORS: u32 = 4;
/// An operator that is in no validator set; its key comes from the seed of the same number.
pub const OUTSIDER: OperatorId = 9;
/// Seed of operator 1's consensus key after it rotates its key in epoch 2.
pub const ROTATED_KEY_SEED: u64 = 101;
/// Height at which every vector's genesis is applied.
pub const GENESIS_HEIGHT: u64 = 1;
/// Block time of height 0, in milliseconds since the Unix epoch; blocks are one second apart.
pub const TIME_ORIGIN_MS: u64 = 1_700_000_000_000;
/// The outcome written for a transaction the module accepts.
pub const OK: &str = "ok";

const KEYS_FILE: &str = "keys.json";
const VECTORS_DIR: &str = "vectors";

/// The block time of `height`.
pub fn block_time(height: u64) -> u64 {
    TIME_ORIGIN_MS + height * 1_000
}

// ----- the file format ---------------------------------------------------------------------

/// One key of `keys.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// What the key is used for.
    pub role: String,
    /// The operator it belongs to, for validator keys.
    pub operator: Option<OperatorId>,
    /// The seed given to [`testkit::key`].
    pub seed: u64,
    /// The ed25519 secret (seed) in hex.
    pub secret: String,
    /// The ed25519 public key in hex.
    pub public: String,
}

/// `keys.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysFile {
    /// How the keys are derived.
    pub description: String,
    /// The chain id of every vector.
    pub chain_id: u64,
    /// The keys.
    pub keys: Vec<KeyEntry>,
}

/// One transaction of a vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The sender's public key in hex, or `None` for a transaction without a known sender.
    pub caller: Option<String>,
    /// Block height.
    pub height: u64,
    /// Block time, milliseconds since the Unix epoch.
    pub time: u64,
    /// The transaction's bytes in hex (a borsh `Msg`, except in decoding vectors).
    pub tx: String,
}

/// One vector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vector {
    /// A unique name.
    pub name: String,
    /// What the vector shows.
    pub description: String,
    /// The borsh `Genesis` in hex.
    pub genesis: String,
    /// Height at which the genesis is applied.
    pub genesis_height: u64,
    /// Time at which the genesis is applied.
    pub genesis_time: u64,
    /// Transactions that must all succeed before the one under test.
    pub setup: Vec<Transaction>,
    /// The transaction under test.
    pub tx: Transaction,
    /// `"ok"` or the name of the error.
    pub expected: String,
    /// The error's `Debug` form, for refusals.
    pub expected_error: Option<String>,
    /// Where the vector pins them: the `Debug` form of each event the transaction under test
    /// emits, in order (for example a slashing proposal's exact fraction and reporter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_events: Option<Vec<String>>,
}

/// One `vectors/<area>.json` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorFile {
    /// The area, also the file's stem.
    pub area: String,
    /// What the area covers.
    pub description: String,
    /// How to run a vector.
    pub format: String,
    /// The vectors.
    pub vectors: Vec<Vector>,
}

const FORMAT: &str =
    "Apply `genesis` (borsh Genesis) at genesis_height/genesis_time with no caller, \
execute every `setup` transaction in order (each must succeed), then execute `tx`. A transaction \
is the hex of its bytes (a borsh Msg) sent by `caller` (an ed25519 public key, or null) in the \
block of `height` and `time` (ms). Its outcome must be `expected`: \"ok\" or the module's error \
name; `expected_error` is the error's full Debug form. A refused transaction changes no state. \
Where `expected_events` is given, the transaction under test emits exactly those events (their \
Debug forms, in order).";

// ----- public entry points -----------------------------------------------------------------

/// Writes the vectors into `dir` (`keys.json` and `vectors/*.json`), removing vector files
/// that are no longer generated; returns how many vectors were written.
pub fn write(dir: &Path) -> anyhow::Result<usize> {
    let (files, count) = render()?;
    let vectors_dir = dir.join(VECTORS_DIR);
    std::fs::create_dir_all(&vectors_dir)
        .with_context(|| format!("creating {}", vectors_dir.display()))?;
    for stale in json_files(&vectors_dir)? {
        let relative = format!("{VECTORS_DIR}/{stale}");
        if !files.contains_key(&relative) {
            std::fs::remove_file(vectors_dir.join(&stale))
                .with_context(|| format!("removing the stale {relative}"))?;
        }
    }
    for (relative, bytes) in &files {
        let path = dir.join(relative);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(count)
}

/// Checks that the files in `dir` are byte for byte the ones [`write()`] produces, then runs
/// every vector through the wasm module (under [`Executor`]) and natively (through
/// [`warden_module::contract`]) and checks both give the expected outcome and the same state.
/// Returns how many vectors passed.
pub fn check(dir: &Path) -> anyhow::Result<usize> {
    let (files, _) = render()?;
    for (relative, expected) in &files {
        let path = dir.join(relative);
        let actual = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (run `warden fixtures write --dir {}` to create it)",
                path.display(),
                dir.display()
            )
        })?;
        if &actual != expected {
            anyhow::bail!(
                "{} differs from the generated vectors ({}); if the change of wire format or \
                 rules is intended, run `warden fixtures write --dir {}`",
                path.display(),
                first_difference(expected, &actual),
                dir.display()
            );
        }
    }
    for stale in json_files(&dir.join(VECTORS_DIR))? {
        let relative = format!("{VECTORS_DIR}/{stale}");
        anyhow::ensure!(
            files.contains_key(&relative),
            "{} is not a generated vector file; run `warden fixtures write --dir {}`",
            dir.join(&relative).display(),
            dir.display()
        );
    }

    // Every vector, through both builds of the module: its verdicts do not depend on which
    // verifier checks the signatures.
    let files = load(dir)?;
    let mut failures = Vec::new();
    let mut count = 0;
    for (build, wasm) in [
        ("runtime verify", MODULE_WASM),
        ("in-wasm verify", MODULE_WASM_IN_WASM_VERIFY),
    ] {
        let exec = Executor::from_wasm(wasm, ExecutorConfig::default())?;
        count = 0;
        for file in &files {
            for vector in &file.vectors {
                count += 1;
                if let Err(e) = run_vector(&exec, vector) {
                    failures.push(format!("{}/{} ({build}): {e:#}", file.area, vector.name));
                }
            }
        }
    }
    if !failures.is_empty() {
        anyhow::bail!(
            "{} of {} vector runs failed (each of the {count} vectors through both builds):\n  {}",
            failures.len(),
            2 * count,
            failures.join("\n  ")
        );
    }
    Ok(count)
}

/// Reads every `vectors/*.json` file of `dir`, in file name order.
pub fn load(dir: &Path) -> anyhow::Result<Vec<VectorFile>> {
    let vectors_dir = dir.join(VECTORS_DIR);
    let mut out = Vec::new();
    for name in json_files(&vectors_dir)? {
        let path = vectors_dir.join(&name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let file: VectorFile =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        out.push(file);
    }
    Ok(out)
}

fn json_files(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    if !dir.exists() {
        return Ok(names);
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let expected = String::from_utf8_lossy(expected);
    let actual = String::from_utf8_lossy(actual);
    let mut lines = expected.lines().zip(actual.lines()).enumerate();
    match lines.find(|(_, (e, a))| e != a) {
        Some((i, (e, a))) => {
            let clip = |s: &str| s.chars().take(120).collect::<String>();
            format!(
                "line {}: expected `{}`, found `{}`",
                i + 1,
                clip(e),
                clip(a)
            )
        }
        None => format!(
            "{} lines expected, {} found",
            expected.lines().count(),
            actual.lines().count()
        ),
    }
}

// ----- running a vector --------------------------------------------------------------------

struct Step {
    caller: Option<PublicKey>,
    ctx: BlockContext,
    bytes: Vec<u8>,
}

fn parse_step(t: &Transaction) -> anyhow::Result<Step> {
    let caller = match &t.caller {
        None => None,
        Some(h) => {
            Some(PublicKey(hex::decode(h)?.try_into().map_err(|_| {
                anyhow::anyhow!("a caller key is not 32 bytes")
            })?))
        }
    };
    Ok(Step {
        caller,
        ctx: BlockContext {
            height: t.height,
            time: t.time,
        },
        bytes: hex::decode(&t.tx).context("transaction hex")?,
    })
}

fn outcome_name(result: &Result<(), Error>) -> (String, Option<String>) {
    match result {
        Ok(()) => (OK.into(), None),
        Err(e) => (e.name().into(), Some(format!("{e:?}"))),
    }
}

/// Runs one vector through the wasm module and natively, side by side.
fn run_vector(exec: &Executor, v: &Vector) -> anyhow::Result<()> {
    let genesis_bytes = hex::decode(&v.genesis).context("genesis hex")?;
    let genesis: Genesis = decode(&genesis_bytes, MAX_GENESIS_BYTES)
        .map_err(|e| anyhow::anyhow!("the genesis does not decode: {e:?}"))?;
    let genesis_ctx = BlockContext {
        height: v.genesis_height,
        time: v.genesis_time,
    };

    let mut store = MemoryStore::new();
    let init = exec.init(&mut store, genesis_ctx, &genesis);
    anyhow::ensure!(init.is_ok(), "wasm refused the genesis: {:?}", init.result);
    let mut host = MemoryHost {
        height: genesis_ctx.height,
        time: genesis_ctx.time,
        ..MemoryHost::default()
    };
    contract::init(&mut host, &genesis_bytes)
        .map_err(|e| anyhow::anyhow!("the native module refused the genesis: {e:?}"))?;

    let mut run = |step: &Step| -> anyhow::Result<(Result<(), Error>, Vec<Event>)> {
        let before = store.clone();
        let outcome = exec.execute(&mut store, step.ctx, step.caller, &step.bytes);
        let wasm = match outcome.result {
            Ok(_) => Ok(()),
            Err(CallError::Module(e)) => Err(e),
            Err(other) => anyhow::bail!("the wasm call failed without a module error: {other}"),
        };
        host.height = step.ctx.height;
        host.time = step.ctx.time;
        host.caller = step.caller;
        let native = contract::execute(&mut host, &Ed25519Strict, &step.bytes);
        anyhow::ensure!(
            wasm == native,
            "wasm and native disagree: wasm {wasm:?}, native {native:?}"
        );
        anyhow::ensure!(host.state == store, "wasm and native states differ");
        if wasm.is_err() {
            anyhow::ensure!(store == before, "a refused transaction changed the state");
        }
        Ok((wasm, outcome.events))
    };

    for (i, t) in v.setup.iter().enumerate() {
        let (outcome, _) = run(&parse_step(t)?)?;
        anyhow::ensure!(
            outcome.is_ok(),
            "setup transaction {i} was refused: {outcome:?}"
        );
    }
    let (outcome, events) = run(&parse_step(&v.tx)?)?;
    if let Some(expected) = &v.expected_events {
        let actual: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
        anyhow::ensure!(
            &actual == expected,
            "expected the events {expected:#?}, got {actual:#?}"
        );
    }
    let (name, full) = outcome_name(&outcome);
    anyhow::ensure!(
        name == v.expected && full == v.expected_error,
        "expected {} ({}), got {name} ({})",
        v.expected,
        v.expected_error.as_deref().unwrap_or("-"),
        full.as_deref().unwrap_or("-")
    );
    Ok(())
}

// ----- rendering ---------------------------------------------------------------------------

/// The files, by path relative to the fixture directory, and the number of vectors.
fn render() -> anyhow::Result<(BTreeMap<String, Vec<u8>>, usize)> {
    let fx = Fx::new();
    let mut files = BTreeMap::new();
    files.insert(KEYS_FILE.to_string(), to_json(&keys_file())?);
    let mut count = 0;
    let mut names = std::collections::BTreeSet::new();
    for area in areas(&fx) {
        let file = VectorFile {
            area: area.name.into(),
            description: area.description.into(),
            format: FORMAT.into(),
            vectors: area
                .vectors
                .iter()
                .map(Draft::to_vector)
                .collect::<anyhow::Result<_>>()?,
        };
        for v in &file.vectors {
            anyhow::ensure!(names.insert(v.name.clone()), "two vectors named {}", v.name);
        }
        count += file.vectors.len();
        files.insert(format!("{VECTORS_DIR}/{}.json", area.name), to_json(&file)?);
    }
    Ok((files, count))
}

fn to_json<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text.into_bytes())
}

fn keys_file() -> KeysFile {
    let entry = |role: &str, operator: Option<OperatorId>, seed: u64| {
        let key = testkit::key(seed);
        KeyEntry {
            role: role.into(),
            operator,
            seed,
            secret: hex::encode(key.to_bytes()),
            public: hex::encode(testkit::public(&key).0),
        }
    };
    let mut keys: Vec<KeyEntry> = (0..VALIDATORS)
        .map(|op| entry("validator", Some(op), u64::from(op)))
        .collect();
    keys.push(entry(
        "validator, rotated key in epoch 2",
        Some(1),
        ROTATED_KEY_SEED,
    ));
    keys.push(entry(
        "validator, rotated key in epoch 3",
        Some(1),
        ROTATED_KEY_SEED + 1,
    ));
    keys.push(entry(
        "outsider, in no validator set",
        Some(OUTSIDER),
        u64::from(OUTSIDER),
    ));
    keys.push(entry("authority", None, AUTHORITY_SEED));
    keys.push(entry("reporter", None, REPORTER_SEED));
    KeysFile {
        description: "ed25519 keys of the vectors: secret = SHA-256(\"warden-test-key\" || seed \
                      as u64 LE), used as the ed25519 secret seed. Genesis validators are \
                      operators 0..3 with keys from seeds 0..3 and power 10 each."
            .into(),
        chain_id: CHAIN_ID,
        keys,
    }
}

// ----- building vectors --------------------------------------------------------------------

/// A vector as built, before it is rendered to hex.
struct Draft {
    name: &'static str,
    description: &'static str,
    genesis: Genesis,
    setup: Vec<DraftStep>,
    tx: DraftStep,
    expected: Result<(), Error>,
    /// Whether the vector pins the events of the transaction under test.
    pin_events: bool,
}

#[derive(Clone)]
struct DraftStep {
    caller: Option<PublicKey>,
    height: u64,
    bytes: Vec<u8>,
}

impl DraftStep {
    fn to_transaction(&self) -> Transaction {
        Transaction {
            caller: self.caller.map(|k| hex::encode(k.0)),
            height: self.height,
            time: block_time(self.height),
            tx: hex::encode(&self.bytes),
        }
    }
}

impl Draft {
    /// The vector also pins the events of the transaction under test.
    fn with_events(mut self) -> Self {
        self.pin_events = true;
        self
    }

    /// The events of the transaction under test, run natively.
    fn native_events(&self) -> anyhow::Result<Vec<String>> {
        let mut host = MemoryHost {
            height: GENESIS_HEIGHT,
            time: block_time(GENESIS_HEIGHT),
            ..MemoryHost::default()
        };
        contract::init(&mut host, &encode(&self.genesis))
            .map_err(|e| anyhow::anyhow!("{}: genesis refused: {e:?}", self.name))?;
        let mut start = 0;
        for step in self.setup.iter().chain(std::iter::once(&self.tx)) {
            host.height = step.height;
            host.time = block_time(step.height);
            host.caller = step.caller;
            start = host.events.len();
            // The setup must succeed and the outcome is checked when the vector runs.
            let _ = contract::execute(&mut host, &Ed25519Strict, &step.bytes);
        }
        host.events[start..]
            .iter()
            .map(|raw| {
                decode::<Event>(raw, usize::MAX)
                    .map(|e| format!("{e:?}"))
                    .map_err(|e| anyhow::anyhow!("{}: an event does not decode: {e:?}", self.name))
            })
            .collect()
    }

    fn to_vector(&self) -> anyhow::Result<Vector> {
        let (expected, expected_error) = outcome_name(&self.expected);
        let expected_events = match self.pin_events {
            true => Some(self.native_events()?),
            false => None,
        };
        Ok(Vector {
            name: self.name.into(),
            description: self.description.into(),
            genesis: hex::encode(encode(&self.genesis)),
            genesis_height: GENESIS_HEIGHT,
            genesis_time: block_time(GENESIS_HEIGHT),
            setup: self.setup.iter().map(DraftStep::to_transaction).collect(),
            tx: self.tx.to_transaction(),
            expected,
            expected_error,
            expected_events,
        })
    }
}

/// A chain's history up to the transaction under test: a genesis and setup transactions,
/// one block each unless told otherwise.
#[derive(Clone)]
struct Chain {
    genesis: Genesis,
    setup: Vec<DraftStep>,
    next_height: u64,
}

impl Chain {
    fn new(genesis: Genesis) -> Self {
        Self {
            genesis,
            setup: Vec::new(),
            next_height: GENESIS_HEIGHT + 1,
        }
    }

    /// A setup transaction in the next block.
    fn then(mut self, caller: Option<PublicKey>, msg: &Msg) -> Self {
        self.setup.push(DraftStep {
            caller,
            height: self.next_height,
            bytes: encode(msg),
        });
        self.next_height += 1;
        self
    }

    /// The next transaction runs in the same block as the previous one.
    fn same_block(mut self) -> Self {
        self.next_height -= 1;
        self
    }

    /// The next transaction runs at `height`.
    fn at(mut self, height: u64) -> Self {
        self.next_height = height;
        self
    }

    /// The vector: `bytes` sent by `caller` in the next block must give `expected`.
    fn test(
        self,
        name: &'static str,
        description: &'static str,
        caller: Option<PublicKey>,
        bytes: Vec<u8>,
        expected: Result<(), Error>,
    ) -> Draft {
        Draft {
            name,
            description,
            genesis: self.genesis,
            setup: self.setup,
            tx: DraftStep {
                caller,
                height: self.next_height,
                bytes,
            },
            expected,
            pin_events: false,
        }
    }
}

/// An area of vectors: one file.
struct Area {
    name: &'static str,
    description: &'static str,
    vectors: Vec<Draft>,
}

/// The networks and keys the vectors are built from.
struct Fx {
    /// The genesis network, epoch 1.
    net: TestNetwork,
    /// The genesis keys plus outsiders, for signatures by operators outside the set.
    wide: TestNetwork,
}

impl Fx {
    fn new() -> Self {
        let net = TestNetwork::new(CHAIN_ID, VALIDATORS);
        let mut wide = TestNetwork::new(CHAIN_ID, OUTSIDER + 1);
        wide.config = net.config.clone();
        Self { net, wide }
    }

    fn authority(&self) -> Option<PublicKey> {
        Some(self.net.authority_key())
    }

    fn reporter(&self) -> Option<PublicKey> {
        Some(self.net.reporter_key())
    }

    fn chain(&self) -> Chain {
        Chain::new(self.net.genesis())
    }

    /// A chain whose genesis has `config`.
    fn chain_with(&self, config: Config) -> Chain {
        let mut net = self.net.clone();
        net.config = config;
        Chain::new(net.genesis())
    }

    /// The genesis network as of `epoch` (same keys and powers).
    fn epoch(&self, epoch: u64) -> TestNetwork {
        let mut net = self.net.clone();
        net.epoch = epoch;
        net
    }

    /// The authority's rotation to `next`.
    fn rotate(&self, next: &TestNetwork) -> Msg {
        Msg::RotateValidators(self.net.rotation(next, &[]))
    }

    /// A chain where the authority rotated to each of `epochs` in turn (same keys).
    fn rotated(&self, chain: Chain, epochs: &[u64]) -> Chain {
        epochs.iter().fold(chain, |c, &e| {
            c.then(self.authority(), &self.rotate(&self.epoch(e)))
        })
    }
}

fn evidence(e: Evidence) -> Msg {
    Msg::SubmitEvidence(e)
}

fn tx(msg: &Msg) -> Vec<u8> {
    encode(msg)
}

/// `sig` with `L` (the order of the ed25519 base point) added to its `S` half: the same
/// signature to a lax verifier, refused by `verify_strict` as non-canonical.
pub fn malleate(sig: Signature) -> Signature {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = sig.0;
    let mut carry = 0u16;
    for (i, l) in L.iter().enumerate() {
        let sum = u16::from(out[32 + i]) + u16::from(*l) + carry;
        out[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    Signature(out)
}

fn with_signature(msg: &SignedMessage, signature: Signature) -> SignedMessage {
    SignedMessage {
        signature,
        ..msg.clone()
    }
}

fn pair(e: &Evidence) -> (SignedMessage, SignedMessage) {
    match e {
        Evidence::DoubleVote { first, second } | Evidence::DoubleProposal { first, second } => {
            (first.clone(), second.clone())
        }
        Evidence::LockViolation { locked, later } => (locked.clone(), later.clone()),
        Evidence::InvalidProposal { proposal, .. } => (proposal.clone(), proposal.clone()),
    }
}

fn swapped(e: &Evidence) -> Evidence {
    let (first, second) = pair(e);
    match e {
        Evidence::DoubleProposal { .. } => Evidence::DoubleProposal {
            first: second,
            second: first,
        },
        _ => Evidence::DoubleVote {
            first: second,
            second: first,
        },
    }
}

fn certs(list: Vec<Certificate>) -> Msg {
    Msg::RecordCertificates(BoundedVec::new(list).expect("at most 16 certificates"))
}

fn replace_signature(cert: &mut Certificate, position: usize, signature: Signature) {
    let mut parts = cert.signatures.to_vec();
    parts[position].signature = signature;
    cert.signatures = BoundedVec::new(parts).expect("same length");
}

fn areas(fx: &Fx) -> Vec<Area> {
    vec![
        double_vote(fx),
        double_proposal(fx),
        lock_violation(fx),
        invalid_proposal(fx),
        evidence_admission(fx),
        accusation(fx),
        certificates(fx),
        rotation(fx),
        governance(fx),
        decoding(fx),
        too_large(fx),
        hardening(fx),
    ]
}

/// `f0`, `ff` x 30, `7f`: y = 3 + p, which the curve library would reduce to the point of
/// `03` followed by 31 zero bytes.
fn aliased_key() -> PublicKey {
    let mut alias = [0xffu8; 32];
    alias[0] = 0xf0;
    alias[31] = 0x7f;
    PublicKey(alias)
}

/// A full-order point (operator 1's key) plus a point of order 8.
fn torsioned_key(fx: &Fx) -> PublicKey {
    let point = curve25519_dalek::edwards::CompressedEdwardsY(fx.net.public(1).0)
        .decompress()
        .expect("a test key is a point");
    PublicKey(
        (point + curve25519_dalek::constants::EIGHT_TORSION[3])
            .compress()
            .0,
    )
}

fn hardening(fx: &Fx) -> Area {
    let net = &fx.net;
    let with_key = |operator: usize, key: PublicKey| {
        let mut list = fx.epoch(2).validators().to_vec();
        list[operator].key = key;
        Msg::RotateValidators(Rotation {
            epoch: 2,
            validators: BoundedVec::new(list).expect("small"),
            approvals: BoundedVec::empty(),
        })
    };
    let later = |violation| evidence(net.justify_from_epoch(2, 2, 3, violation));
    let after_rotation = fx.rotated(fx.chain(), &[2]);
    // Operator 1 rotates keys in epoch 2 and again in epoch 3, then reports its own epoch-1
    // double vote from the epoch-2 key: accepted, as a self-report without reward.
    let mut epoch2 = fx.epoch(2);
    epoch2.keys[1] = testkit::key(ROTATED_KEY_SEED);
    let mut epoch3 = fx.epoch(3);
    epoch3.keys[1] = testkit::key(ROTATED_KEY_SEED + 1);
    // Four validators of 10^15 each, no minimum fraction.
    let mut big = fx.net.clone();
    big.powers = vec![1_000_000_000_000_000; big.powers.len()];
    big.config.slashing.min_fraction_ppb = 0;
    let large_stakes = Chain::new(big.genesis());
    let rotated_twice = fx
        .chain()
        .then(fx.authority(), &fx.rotate(&epoch2))
        .then(fx.authority(), &fx.rotate(&epoch3));
    Area {
        name: "hardening",
        description: "Key identity (canonical, torsion-free encodings only), the justify-epoch \
                      rule shared by the chain and relayers, self-reports across rotations, and \
                      exact slashing fractions for large stakes.",
        vectors: vec![
            fx.chain().test(
                "rotation_non_canonical_key_refused",
                "A rotation gives operator 3 a key whose y coordinate is at least p.",
                fx.authority(),
                tx(&with_key(3, aliased_key())),
                Err(Error::WeakKey { operator: 3 }),
            ),
            fx.chain().test(
                "rotation_torsioned_key_refused",
                "A rotation gives operator 3 operator 1's point plus a point of order 8.",
                fx.authority(),
                tx(&with_key(3, torsioned_key(fx))),
                Err(Error::WeakKey { operator: 3 }),
            ),
            fx.chain().test(
                "justify_from_later_epoch_short_accepted",
                "An epoch-1 proposal whose justify claims epoch 2, before epoch 2: no set \
                 certifies it, so it is short of a quorum.",
                fx.reporter(),
                tx(&later(ProposalViolation::ShortCertificate)),
                Ok(()),
            ),
            after_rotation.clone().test(
                "justify_from_later_epoch_short_accepted_after_rotation",
                "The same proof once epoch 2 exists: still certified by nobody.",
                fx.reporter(),
                tx(&later(ProposalViolation::ShortCertificate)),
                Ok(()),
            ),
            after_rotation.test(
                "justify_from_later_epoch_bad_signature_not_proven",
                "A bad-signature claim against a justify from a later epoch: its signers are \
                 nobody's, so no signature of theirs is proven bad.",
                fx.reporter(),
                tx(&later(ProposalViolation::BadCertificateSignature {
                    position: 0,
                })),
                Err(Error::ViolationNotProven),
            ),
            rotated_twice
                .test(
                    "self_report_from_an_older_rotated_key_accepted",
                    "Operator 1 reports its own epoch-1 double vote from its epoch-2 key: a \
                     self-report, so the proposal has no reporter and no reward.",
                    Some(epoch2.public(1)),
                    tx(&evidence(net.double_vote(1, 5))),
                    Ok(()),
                )
                .with_events(),
            large_stakes
                .clone()
                .test(
                    "large_stake_double_vote_fraction_exact",
                    "Four validators of 10^15: one double voter is slashed (3/4)^2 = \
                     562,500,000 ppb.",
                    fx.reporter(),
                    tx(&evidence(big.double_vote(1, 5))),
                    Ok(()),
                )
                .with_events(),
            large_stakes
                .then(fx.reporter(), &evidence(big.double_vote(1, 5)))
                .test(
                    "large_stake_second_offender_slashes_fully",
                    "A second double voter of the four: both proposals rise to 10^9 ppb.",
                    fx.reporter(),
                    tx(&evidence(big.double_vote(2, 5))),
                    Ok(()),
                )
                .with_events(),
        ],
    }
}

fn double_vote(fx: &Fx) -> Area {
    let net = &fx.net;
    let dv = net.double_vote(1, 5);
    let dv2 = net.double_vote2(1, 5);
    let (first, second) = pair(&dv);
    let accepted = fx.chain().then(fx.reporter(), &evidence(dv.clone()));
    let other_pair = Evidence::DoubleVote {
        first: net.vote(1, 5, [3; 32], 0),
        second: net.vote(1, 5, [4; 32], 0),
    };
    let reencoded = Evidence::DoubleVote {
        first: with_signature(&first, malleate(first.signature)),
        second: second.clone(),
    };
    Area {
        name: "double_vote",
        description: "Tier 1: two votes of one phase by one signer in one epoch and view.",
        vectors: vec![
            fx.chain().test(
                "double_vote_phase1_accepted",
                "Two phase-1 votes by validator 1 in view 5 for different blocks: accepted, the \
                 validator is banned and a slash proposed.",
                fx.reporter(),
                tx(&evidence(dv.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "double_vote_phase2_accepted",
                "Two phase-2 votes (Vote2) by validator 1 in view 5 for different blocks: accepted.",
                fx.reporter(),
                tx(&evidence(dv2.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "double_vote_same_block_other_justify_accepted",
                "Two phase-1 votes for the same block that sign different justify views: the \
                 signed payloads differ, so they conflict.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: net.vote(1, 5, [1; 32], 3),
                    second: net.vote(1, 5, [1; 32], 4),
                })),
                Ok(()),
            ),
            fx.chain().test(
                "double_vote_self_report_accepted",
                "The offender reports its own double vote: accepted (with no reporter reward).",
                Some(net.public(1)),
                tx(&evidence(dv.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "double_vote_without_caller_accepted",
                "Evidence in a transaction without a known sender: accepted.",
                None,
                tx(&evidence(dv.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "double_vote_identical_payloads",
                "The same vote twice: not a conflict.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: first.clone(),
                })),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "double_vote_malleated_signature",
                "A vote and the same vote with its signature malleated (S + L): the payloads are \
                 equal, so it is refused as not conflicting before any signature is checked.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: with_signature(&first, malleate(first.signature)),
                })),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "double_vote_vote_and_timeout",
                "A vote paired with a timeout of the same view: different kinds never conflict.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: net.timeout(1, 5, 0),
                })),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "double_vote_vote_and_vote2",
                "A phase-1 vote paired with a phase-2 vote of the same view: different phases.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: net.vote2(1, 5, [2; 32]),
                })),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "double_vote_view_mismatch",
                "Votes of views 5 and 6.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: net.vote(1, 6, [2; 32], 0),
                })),
                Err(Error::ViewMismatch { first: 5, second: 6 }),
            ),
            fx.chain().test(
                "double_vote_epoch_mismatch",
                "Votes signed in epochs 1 and 2.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: fx.epoch(2).vote(1, 5, [2; 32], 0),
                })),
                Err(Error::EpochMismatch { first: 1, second: 2 }),
            ),
            fx.chain().test(
                "double_vote_signer_mismatch",
                "Votes by validators 1 and 2.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: net.vote(2, 5, [2; 32], 0),
                })),
                Err(Error::SignerMismatch { first: 1, second: 2 }),
            ),
            fx.chain().test(
                "double_vote_unknown_validator",
                "A double vote by operator 9, which is not in the validator set.",
                fx.reporter(),
                tx(&evidence(fx.wide.double_vote(OUTSIDER, 5))),
                Err(Error::UnknownValidator {
                    operator: OUTSIDER,
                    epoch: 1,
                }),
            ),
            fx.chain().test(
                "double_vote_forged_signature",
                "The second vote carries validator 2's signature, not validator 1's.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: with_signature(&second, net.vote(2, 5, [2; 32], 0).signature),
                })),
                Err(Error::BadSignature { signer: 1 }),
            ),
            fx.chain().test(
                "double_vote_malleated_signature_refused_by_verify_strict",
                "A genuine conflict whose second signature is malleated (S + L): verify_strict \
                 refuses the non-canonical S.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleVote {
                    first: first.clone(),
                    second: with_signature(&second, malleate(second.signature)),
                })),
                Err(Error::BadSignature { signer: 1 }),
            ),
            accepted.clone().test(
                "double_vote_duplicate_swapped",
                "The accepted double vote again with its two votes swapped: the same offence.",
                fx.reporter(),
                tx(&evidence(swapped(&dv))),
                Err(Error::Duplicate),
            ),
            accepted.clone().test(
                "double_vote_duplicate_reencoded",
                "The accepted double vote again with one signature malleated, so the bytes \
                 differ: the same offence, refused before any signature is checked.",
                fx.reporter(),
                tx(&evidence(reencoded)),
                Err(Error::Duplicate),
            ),
            accepted.clone().test(
                "double_vote_duplicate_other_pair",
                "A different pair of conflicting votes by the same validator in the same view.",
                fx.reporter(),
                tx(&evidence(other_pair)),
                Err(Error::Duplicate),
            ),
            accepted.clone().test(
                "double_vote_duplicate_phase2_same_view",
                "A phase-2 double vote in the view already punished for a phase-1 double vote: \
                 one offence class, one penalty.",
                fx.reporter(),
                tx(&evidence(dv2)),
                Err(Error::Duplicate),
            ),
            accepted.clone().same_block().test(
                "double_vote_duplicate_same_block",
                "The same evidence twice in one block: punished once.",
                fx.reporter(),
                tx(&evidence(dv.clone())),
                Err(Error::Duplicate),
            ),
            accepted.clone().test(
                "double_vote_duplicate_later_block",
                "The same evidence again in a later block.",
                None,
                tx(&evidence(dv.clone())),
                Err(Error::Duplicate),
            ),
            accepted.test(
                "double_vote_already_banned",
                "A double vote in another view by validator 1, already banned.",
                fx.reporter(),
                tx(&evidence(net.double_vote(1, 8))),
                Err(Error::AlreadyBanned { operator: 1 }),
            ),
        ],
    }
}

fn double_proposal(fx: &Fx) -> Area {
    let net = &fx.net;
    let view = 10;
    let leader = net.leader(view);
    let dp = net.double_proposal(leader, view);
    let (first, _) = pair(&dp);
    let accepted = fx.chain().then(fx.reporter(), &evidence(dp.clone()));
    let other = (leader + 1) % VALIDATORS;
    Area {
        name: "double_proposal",
        description:
            "Tier 1: two proposals for different blocks by one leader in one epoch and view.",
        vectors: vec![
            fx.chain().test(
                "double_proposal_accepted",
                "The leader of view 10 proposes two different blocks: accepted.",
                fx.reporter(),
                tx(&evidence(dp.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "double_proposal_identical",
                "The same proposal twice: not a conflict.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleProposal {
                    first: first.clone(),
                    second: first.clone(),
                })),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "double_proposal_same_block_other_justify",
                "Two proposals of the same block that differ only in the justify certificate: \
                 the block is the same, so no conflict.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleProposal {
                    first: first.clone(),
                    second: {
                        let Message::Proposal(mut p) = first.message.clone() else {
                            unreachable!("a proposal")
                        };
                        p.justify = net.certificate(
                            CertificateKind::Vote,
                            view - 1,
                            [8; 32],
                            0,
                            &net.quorum_signers(),
                        );
                        net.signed(leader, Message::Proposal(p))
                    },
                })),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "double_proposal_with_a_vote",
                "A proposal paired with a vote.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleProposal {
                    first: first.clone(),
                    second: net.vote(leader, view, [2; 32], 0),
                })),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "double_proposal_view_mismatch",
                "Proposals of two views.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleProposal {
                    first: first.clone(),
                    second: net.proposal(leader, view + 1, 2),
                })),
                Err(Error::ViewMismatch {
                    first: view,
                    second: view + 1,
                }),
            ),
            fx.chain().test(
                "double_proposal_signer_mismatch",
                "Proposals by two validators.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleProposal {
                    first: first.clone(),
                    second: net.proposal(other, view, 2),
                })),
                Err(Error::SignerMismatch {
                    first: leader,
                    second: other,
                }),
            ),
            fx.chain().test(
                "double_proposal_bad_signature",
                "The second proposal's signature is over the first proposal.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleProposal {
                    first: first.clone(),
                    second: with_signature(&net.proposal(leader, view, 2), first.signature),
                })),
                Err(Error::BadSignature { signer: leader }),
            ),
            accepted.clone().test(
                "double_proposal_duplicate_swapped",
                "The accepted double proposal with its proposals swapped.",
                fx.reporter(),
                tx(&evidence(swapped(&dp))),
                Err(Error::Duplicate),
            ),
            accepted.clone().test(
                "double_proposal_duplicate_other_pair",
                "Another pair of proposals by the same leader in the same view.",
                fx.reporter(),
                tx(&evidence(Evidence::DoubleProposal {
                    first: net.proposal(leader, view, 3),
                    second: net.proposal(leader, view, 4),
                })),
                Err(Error::Duplicate),
            ),
            accepted.test(
                "double_proposal_already_banned",
                "A double vote by the leader already banned for its double proposal.",
                fx.reporter(),
                tx(&evidence(net.double_vote(leader, view))),
                Err(Error::AlreadyBanned { operator: leader }),
            ),
        ],
    }
}

fn lock_violation(fx: &Fx) -> Area {
    let net = &fx.net;
    let by_vote = net.lock_violation_vote(2, 9);
    let by_timeout = net.lock_violation_timeout(2, 9);
    let (locked, later_vote) = pair(&by_vote);
    let accepted = fx.chain().then(fx.reporter(), &evidence(by_vote.clone()));
    let lv =
        |locked: SignedMessage, later: SignedMessage| Evidence::LockViolation { locked, later };
    Area {
        name: "lock_violation",
        description: "Tier 1: a Vote2 locks its signer at view v; a later vote or timeout that \
                      claims an older lock contradicts it.",
        vectors: vec![
            fx.chain().test(
                "lock_violation_by_vote_accepted",
                "Vote2 in view 9, then a vote in view 10 whose justify view is 8: accepted.",
                fx.reporter(),
                tx(&evidence(by_vote.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "lock_violation_by_timeout_accepted",
                "Vote2 in view 9, then a timeout of view 11 claiming a lock at view 8: accepted.",
                fx.reporter(),
                tx(&evidence(by_timeout.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "lock_violation_vote_respects_lock",
                "A later vote whose justify view equals the lock: no violation.",
                fx.reporter(),
                tx(&evidence(lv(locked.clone(), net.vote(2, 10, [2; 32], 9)))),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "lock_violation_timeout_respects_lock",
                "A later timeout reporting the lock's view: no violation.",
                fx.reporter(),
                tx(&evidence(lv(locked.clone(), net.timeout(2, 11, 9)))),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "lock_violation_not_later",
                "A vote in the lock's own view with an older justify: not a later view.",
                fx.reporter(),
                tx(&evidence(lv(locked.clone(), net.vote(2, 9, [2; 32], 8)))),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "lock_violation_lock_not_vote2",
                "The claimed lock is a phase-1 vote, which locks nothing.",
                fx.reporter(),
                tx(&evidence(lv(
                    net.vote(2, 9, [1; 32], 8),
                    later_vote.clone(),
                ))),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "lock_violation_later_is_a_proposal",
                "The later message is a proposal, which carries no lock.",
                fx.reporter(),
                tx(&evidence(lv(locked.clone(), net.proposal(2, 10, 1)))),
                Err(Error::NotConflicting),
            ),
            fx.chain().test(
                "lock_violation_signer_mismatch",
                "The lock is validator 2's, the later vote validator 3's.",
                fx.reporter(),
                tx(&evidence(lv(locked.clone(), net.vote(3, 10, [2; 32], 8)))),
                Err(Error::SignerMismatch {
                    first: 2,
                    second: 3,
                }),
            ),
            fx.chain().test(
                "lock_violation_epoch_mismatch",
                "The lock is from epoch 1, the later vote from epoch 2.",
                fx.reporter(),
                tx(&evidence(lv(
                    locked.clone(),
                    fx.epoch(2).vote(2, 10, [2; 32], 8),
                ))),
                Err(Error::EpochMismatch {
                    first: 1,
                    second: 2,
                }),
            ),
            fx.chain().test(
                "lock_violation_bad_signature",
                "The lock's signature is replaced by the later vote's.",
                fx.reporter(),
                tx(&evidence(lv(
                    with_signature(&locked, later_vote.signature),
                    later_vote.clone(),
                ))),
                Err(Error::BadSignature { signer: 2 }),
            ),
            accepted.clone().test(
                "lock_violation_duplicate_other_lock",
                "The same later vote proven with another lock (a Vote2 in view 9 for another \
                 block): the offence is the later message's, already punished.",
                fx.reporter(),
                tx(&evidence(lv(net.vote2(2, 9, [5; 32]), later_vote.clone()))),
                Err(Error::Duplicate),
            ),
            accepted.test(
                "lock_violation_already_banned",
                "A lock violation by timeout in another view, after the ban.",
                fx.reporter(),
                tx(&evidence(by_timeout)),
                Err(Error::AlreadyBanned { operator: 2 }),
            ),
        ],
    }
}

/// A proposal by the leader of `view` whose justify certifies a parent at height 1 with a
/// quorum, for a block at height 2; `edit` changes it before it is signed.
fn proposal_with(
    net: &TestNetwork,
    view: u64,
    edit: impl FnOnce(&mut Proposal),
) -> (SignedMessage, BlockHeader) {
    let leader = net.leader(view);
    let parent = net.block(1, [0; 32], 1, leader);
    let justify = net.certificate(
        CertificateKind::Vote,
        view - 1,
        parent.hash(),
        0,
        &net.quorum_signers(),
    );
    let block = net.block(2, parent.hash(), 9, leader);
    let mut proposal = Proposal {
        view,
        block,
        justify,
    };
    edit(&mut proposal);
    (net.signed(leader, Message::Proposal(proposal)), parent)
}

fn invalid(
    proposal: SignedMessage,
    parent: Option<BlockHeader>,
    violation: ProposalViolation,
) -> Msg {
    evidence(Evidence::InvalidProposal {
        proposal,
        parent,
        violation,
    })
}

fn invalid_proposal(fx: &Fx) -> Area {
    let net = &fx.net;
    let view = 10;
    let leader = net.leader(view);
    let other = (leader + 1) % VALIDATORS;
    let quorum = net.quorum_signers();
    let (valid, parent) = proposal_with(net, view, |_| {});
    let wrong_leader = net.wrong_leader(other, view);
    let accepted = fx
        .chain()
        .then(fx.reporter(), &evidence(wrong_leader.clone()));
    let (wrong_proposal, _) = pair(&wrong_leader);
    let wrong_view = wrong_proposal.message.view();

    let ok = |name, description, msg: Msg| {
        fx.chain()
            .test(name, description, fx.reporter(), tx(&msg), Ok(()))
    };
    let refused = |name, description, msg: Msg, e: Error| {
        fx.chain()
            .test(name, description, fx.reporter(), tx(&msg), Err(e))
    };
    use ProposalViolation as V;
    Area {
        name: "invalid_proposal",
        description:
            "Tier 1: a signed proposal that breaks the stateless rule the evidence claims.",
        vectors: vec![
            ok(
                "invalid_proposal_wrong_leader_accepted",
                "A validator proposes in a view the schedule gives to another.",
                evidence(wrong_leader.clone()),
            ),
            ok(
                "invalid_proposal_proposer_not_signer_accepted",
                "The leader signs a block header that names another proposer.",
                invalid(
                    proposal_with(net, view, |p| p.block.proposer = other).0,
                    None,
                    V::ProposerNotSigner,
                ),
            ),
            ok(
                "invalid_proposal_short_certificate_accepted",
                "The justify certificate is signed by the leader alone.",
                evidence(net.short_certificate(leader, view)),
            ),
            ok(
                "invalid_proposal_bad_certificate_signature_accepted",
                "The justify certificate's second signature is the first signer's.",
                invalid(
                    proposal_with(net, view, |p| {
                        let first = p.justify.signatures[0].signature;
                        replace_signature(&mut p.justify, 1, first);
                    })
                    .0,
                    None,
                    V::BadCertificateSignature { position: 1 },
                ),
            ),
            ok(
                "invalid_proposal_duplicate_signer_accepted",
                "The justify certificate lists signer 1 twice.",
                invalid(
                    proposal_with(net, view, |p| {
                        p.justify = net.certificate(
                            CertificateKind::Vote,
                            view - 1,
                            parent.hash(),
                            0,
                            &[0, 1, 1, 2],
                        );
                    })
                    .0,
                    None,
                    V::DuplicateSigner,
                ),
            ),
            ok(
                "invalid_proposal_unknown_signer_accepted",
                "The justify certificate is signed by operator 9, outside the set.",
                invalid(
                    proposal_with(net, view, |p| {
                        let mut signers = quorum.clone();
                        signers.push(OUTSIDER);
                        p.justify = fx.wide.certificate(
                            CertificateKind::Vote,
                            view - 1,
                            parent.hash(),
                            0,
                            &signers,
                        );
                    })
                    .0,
                    None,
                    V::UnknownSigner,
                ),
            ),
            ok(
                "invalid_proposal_justify_not_block_certificate_accepted",
                "The justify is a timeout certificate, which certifies no block.",
                invalid(
                    proposal_with(net, view, |p| {
                        p.justify = net.certificate(
                            CertificateKind::Timeout,
                            view - 1,
                            [0; 32],
                            0,
                            &quorum,
                        );
                        p.block.parent_hash = [0; 32];
                    })
                    .0,
                    None,
                    V::JustifyNotBlockCertificate,
                ),
            ),
            ok(
                "invalid_proposal_justify_not_older_accepted",
                "The justify certificate is of the proposal's own view.",
                invalid(
                    proposal_with(net, view, |p| {
                        p.justify =
                            net.certificate(CertificateKind::Vote, view, parent.hash(), 0, &quorum);
                    })
                    .0,
                    None,
                    V::JustifyNotOlder,
                ),
            ),
            ok(
                "invalid_proposal_parent_mismatch_accepted",
                "The block's parent is not the block the justify certifies.",
                invalid(
                    proposal_with(net, view, |p| p.block.parent_hash = [5; 32]).0,
                    None,
                    V::ParentMismatch,
                ),
            ),
            ok(
                "invalid_proposal_height_mismatch_accepted",
                "The block is at height 3 over a certified parent at height 1 (the parent \
                 header is part of the evidence).",
                invalid(
                    proposal_with(net, view, |p| p.block.height = 3).0,
                    Some(parent.clone()),
                    V::HeightMismatch,
                ),
            ),
            ok(
                "invalid_proposal_height_mismatch_over_genesis_accepted",
                "A block over the genesis certificate at height 2 instead of 1.",
                invalid(
                    proposal_with(net, view, |p| {
                        p.justify = Certificate::genesis(1);
                        p.block = net.block(2, [0; 32], 9, leader);
                    })
                    .0,
                    None,
                    V::HeightMismatch,
                ),
            ),
            refused(
                "invalid_proposal_rightful_leader",
                "A wrong-leader claim against the scheduled leader of the view.",
                invalid(valid.clone(), None, V::WrongLeader),
                Error::ViolationNotProven,
            ),
            refused(
                "invalid_proposal_valid_certificate",
                "A short-certificate claim against a justify signed by a quorum.",
                invalid(valid.clone(), None, V::ShortCertificate),
                Error::ViolationNotProven,
            ),
            refused(
                "invalid_proposal_certificate_signature_is_good",
                "A bad-signature claim against a justify signature that verifies.",
                invalid(
                    valid.clone(),
                    None,
                    V::BadCertificateSignature { position: 1 },
                ),
                Error::ViolationNotProven,
            ),
            refused(
                "invalid_proposal_signature_position_out_of_range",
                "A bad-signature claim at a position past the certificate's signatures.",
                invalid(
                    valid.clone(),
                    None,
                    V::BadCertificateSignature { position: 40 },
                ),
                Error::ViolationNotProven,
            ),
            refused(
                "invalid_proposal_height_without_parent",
                "A height claim over a non-genesis justify without the parent header.",
                invalid(
                    proposal_with(net, view, |p| p.block.height = 3).0,
                    None,
                    V::HeightMismatch,
                ),
                Error::ViolationNotProven,
            ),
            refused(
                "invalid_proposal_not_a_proposal",
                "The evidence carries a vote instead of a proposal.",
                invalid(net.vote(leader, view, [1; 32], 0), None, V::WrongLeader),
                Error::ViolationNotProven,
            ),
            refused(
                "invalid_proposal_bad_signature",
                "A proven wrong-leader proposal whose own signature does not verify.",
                evidence(Evidence::InvalidProposal {
                    proposal: with_signature(&wrong_proposal, valid.signature),
                    parent: None,
                    violation: V::WrongLeader,
                }),
                Error::BadSignature { signer: other },
            ),
            refused(
                "invalid_proposal_unknown_proposer",
                "A proposal signed by operator 9, outside the set.",
                evidence(fx.wide.wrong_leader(OUTSIDER, view)),
                Error::UnknownValidator {
                    operator: OUTSIDER,
                    epoch: 1,
                },
            ),
            ok(
                "invalid_proposal_justify_from_later_epoch_accepted",
                "A proposal of epoch 1 whose justify certificate claims epoch 2: no set of an \
                 epoch after the proposal's own can certify it, so it is short of a quorum.",
                invalid(
                    proposal_with(net, view, |p| p.justify.epoch = 2).0,
                    None,
                    V::ShortCertificate,
                ),
            ),
            fx.rotated(fx.chain(), &[2]).test(
                "invalid_proposal_justify_from_previous_epoch_accepted",
                "A proposal of epoch 2 justified by an epoch-1 certificate signed by one \
                 validator: judged against epoch 1's set, it is short of a quorum.",
                fx.reporter(),
                tx(&invalid(
                    proposal_with(&fx.epoch(2), view, |p| {
                        p.justify = net.certificate(
                            CertificateKind::Vote,
                            view - 1,
                            p.block.parent_hash,
                            0,
                            &[0],
                        );
                    })
                    .0,
                    None,
                    V::ShortCertificate,
                )),
                Ok(()),
            ),
            fx.rotated(fx.chain(), &[3]).test(
                "invalid_proposal_justify_from_skipped_epoch",
                "A proposal of epoch 3 whose justify claims epoch 2, which the chain skipped: \
                 no validator set can judge it.",
                fx.reporter(),
                tx(&invalid(
                    proposal_with(&fx.epoch(3), view, |p| p.justify.epoch = 2).0,
                    None,
                    V::ShortCertificate,
                )),
                Err(Error::UnknownEpoch { epoch: 2 }),
            ),
            accepted.clone().test(
                "invalid_proposal_duplicate_other_rule",
                "Another invalid proposal by the same validator in the same view, proven by a \
                 different rule: one offence per view.",
                fx.reporter(),
                tx(&invalid(
                    {
                        let Message::Proposal(mut p) = wrong_proposal.message.clone() else {
                            unreachable!("a proposal")
                        };
                        p.block.proposer = (other + 1) % VALIDATORS;
                        net.signed(other, Message::Proposal(p))
                    },
                    None,
                    V::ProposerNotSigner,
                )),
                Err(Error::Duplicate),
            ),
            accepted.test(
                "invalid_proposal_already_banned",
                "A double proposal by the validator already banned for an invalid proposal.",
                fx.reporter(),
                tx(&evidence(net.double_proposal(other, wrong_view + 1))),
                Err(Error::AlreadyBanned { operator: other }),
            ),
        ],
    }
}

fn evidence_admission(fx: &Fx) -> Area {
    let net = &fx.net;
    let e2 = fx.epoch(2);
    let retention = Config {
        retention_epochs: 2,
        ..Config::default()
    };
    let short = || fx.rotated(fx.chain_with(retention.clone()), &[2, 3, 4]);
    Area {
        name: "evidence_admission",
        description: "Which epochs' evidence the module admits: not future, not expired, known.",
        vectors: vec![
            fx.chain().test(
                "evidence_future_epoch",
                "A double vote signed in epoch 2 while the chain is in epoch 1.",
                fx.reporter(),
                tx(&evidence(e2.double_vote(1, 5))),
                Err(Error::FutureEpoch {
                    epoch: 2,
                    current: 1,
                }),
            ),
            fx.rotated(fx.chain(), &[3]).test(
                "evidence_unknown_epoch",
                "The authority rotated from epoch 1 straight to epoch 3; evidence from the \
                 skipped epoch 2 has no validator set.",
                fx.reporter(),
                tx(&evidence(e2.double_vote(1, 5))),
                Err(Error::UnknownEpoch { epoch: 2 }),
            ),
            short().test(
                "evidence_expired",
                "Retention of 2 epochs, rotated to epoch 4: evidence from epoch 1 is past the \
                 window (the oldest admissible epoch is 2).",
                fx.reporter(),
                tx(&evidence(net.double_vote(1, 5))),
                Err(Error::Expired {
                    epoch: 1,
                    oldest: 2,
                }),
            ),
            short().test(
                "evidence_oldest_retained_epoch_accepted",
                "Retention of 2 epochs, rotated to epoch 4: evidence from epoch 2 is still \
                 admissible.",
                fx.reporter(),
                tx(&evidence(e2.double_vote(1, 5))),
                Ok(()),
            ),
            fx.rotated(fx.chain(), &[2]).test(
                "evidence_previous_epoch_accepted",
                "After a rotation to epoch 2, evidence from epoch 1 is checked against epoch \
                 1's set.",
                fx.reporter(),
                tx(&evidence(net.lock_violation_timeout(3, 9))),
                Ok(()),
            ),
        ],
    }
}

fn accusation(fx: &Fx) -> Area {
    let net = &fx.net;
    let witnesses = [0, 1];
    let accuse = |first, last, witnesses: &[OperatorId]| {
        net.accusation(3, Behaviour::VoteWithholding, first, last, witnesses)
    };
    let accepted = fx.chain().then(
        fx.reporter(),
        &Msg::SubmitAccusation(accuse(10, 20, &witnesses)),
    );
    let submit = |a: WitnessedAccusation| tx(&Msg::SubmitAccusation(a));
    let mut forged = accuse(10, 20, &witnesses);
    forged.witnesses = {
        let mut parts = forged.witnesses.to_vec();
        parts[1].signature = parts[0].signature;
        BoundedVec::new(parts).expect("two")
    };
    let mut unsorted = accuse(10, 20, &witnesses);
    unsorted.witnesses = {
        let mut parts = unsorted.witnesses.to_vec();
        parts.reverse();
        BoundedVec::new(parts).expect("two")
    };
    let mut vectors: Vec<Draft> = [
        (
            Behaviour::ProposalWithholding,
            "accusation_proposal_withholding_accepted",
        ),
        (
            Behaviour::VoteWithholding,
            "accusation_vote_withholding_accepted",
        ),
        (
            Behaviour::MessageFlooding,
            "accusation_message_flooding_accepted",
        ),
        (
            Behaviour::TimingManipulation,
            "accusation_timing_manipulation_accepted",
        ),
        (
            Behaviour::SelectiveConnectivity,
            "accusation_selective_connectivity_accepted",
        ),
    ]
    .into_iter()
    .map(|(behaviour, name)| {
        fx.chain().test(
            name,
            "Validator 3 accused by validators 0 and 1 (20 of 40, over a third): accepted; a \
             first offence is a warning.",
            fx.reporter(),
            submit(net.accusation(3, behaviour, 10, 20, &witnesses)),
            Ok(()),
        )
    })
    .collect();
    vectors.extend([
        accepted.clone().test(
            "accusation_second_offence_quarantines",
            "A second accusation of validator 3 for later views: accepted (a quarantine).",
            fx.reporter(),
            submit(accuse(21, 30, &witnesses)),
            Ok(()),
        ),
        fx.chain().test(
            "accusation_insufficient_witnesses",
            "One witness holds 10 of 40: not more than a third.",
            fx.reporter(),
            submit(accuse(10, 20, &[0])),
            Err(Error::InsufficientWitnesses {
                power: 10,
                required: 14,
            }),
        ),
        fx.chain().test(
            "accusation_accused_is_no_witness",
            "The accused signs its own accusation: its power never counts.",
            fx.reporter(),
            submit(accuse(10, 20, &[0, 3])),
            Err(Error::InsufficientWitnesses {
                power: 10,
                required: 14,
            }),
        ),
        fx.chain().test(
            "accusation_reversed_view_range",
            "The last view is before the first.",
            fx.reporter(),
            submit({
                let mut a = accuse(10, 20, &witnesses);
                a.accusation.first_view = 20;
                a.accusation.last_view = 10;
                a
            }),
            Err(Error::InvalidViewRange {
                first: 20,
                last: 10,
            }),
        ),
        fx.chain().test(
            "accusation_view_range_too_long",
            "10,001 views, over the configured 10,000.",
            fx.reporter(),
            submit(accuse(1, 10_001, &witnesses)),
            Err(Error::InvalidViewRange {
                first: 1,
                last: 10_001,
            }),
        ),
        fx.chain().test(
            "accusation_unsorted_witnesses",
            "Witnesses listed as 1, 0.",
            fx.reporter(),
            submit(unsorted),
            Err(Error::UnsortedSigners),
        ),
        fx.chain().test(
            "accusation_unknown_witness",
            "A witness outside the validator set.",
            fx.reporter(),
            submit(
                fx.wide
                    .accusation(3, Behaviour::VoteWithholding, 10, 20, &[0, OUTSIDER]),
            ),
            Err(Error::UnknownValidator {
                operator: OUTSIDER,
                epoch: 1,
            }),
        ),
        fx.chain().test(
            "accusation_unknown_accused",
            "The accused is outside the validator set.",
            fx.reporter(),
            submit(
                fx.wide
                    .accusation(OUTSIDER, Behaviour::VoteWithholding, 10, 20, &witnesses),
            ),
            Err(Error::UnknownValidator {
                operator: OUTSIDER,
                epoch: 1,
            }),
        ),
        fx.chain().test(
            "accusation_bad_witness_signature",
            "Witness 1's signature is witness 0's.",
            fx.reporter(),
            submit(forged),
            Err(Error::BadSignature { signer: 1 }),
        ),
        fx.chain().test(
            "accusation_future_epoch",
            "An accusation about epoch 2 while the chain is in epoch 1.",
            fx.reporter(),
            submit(
                fx.epoch(2)
                    .accusation(3, Behaviour::VoteWithholding, 10, 20, &witnesses),
            ),
            Err(Error::FutureEpoch {
                epoch: 2,
                current: 1,
            }),
        ),
        accepted.clone().test(
            "accusation_duplicate_overlapping_views",
            "An accusation of the same behaviour whose views overlap one already punished.",
            fx.reporter(),
            submit(accuse(15, 25, &witnesses)),
            Err(Error::Duplicate),
        ),
        fx.chain()
            .then(fx.reporter(), &evidence(net.double_vote(3, 5)))
            .test(
                "accusation_already_banned",
                "An accusation of a validator banned for a double vote.",
                fx.reporter(),
                submit(accuse(10, 20, &witnesses)),
                Err(Error::AlreadyBanned { operator: 3 }),
            ),
    ]);
    Area {
        name: "accusation",
        description: "Tier 2: witnessed behaviour, actionable when witnesses other than the \
                      accused hold more than a third of the power.",
        vectors,
    }
}

fn certificates(fx: &Fx) -> Area {
    let net = &fx.net;
    let quorum = net.quorum_signers();
    let vote2 = |view: u64| net.certificate(CertificateKind::Vote2, view, [3; 32], 0, &quorum);
    let recorded = fx.chain().then(fx.reporter(), &certs(vec![vote2(12)]));
    let mut forged = vote2(12);
    replace_signature(&mut forged, 2, vote2(13).signatures[2].signature);
    let mut window = Config::default();
    window.liveness.participation_window = 2;
    Area {
        name: "certificates",
        description: "Tier 3: committed certificates, whose signers feed participation windows.",
        vectors: vec![
            fx.chain().test(
                "certificates_all_kinds_recorded",
                "A phase-1, a phase-2 and a timeout certificate signed by a quorum: recorded.",
                fx.reporter(),
                tx(&certs(vec![
                    net.certificate(CertificateKind::Vote, 12, [3; 32], 11, &quorum),
                    vote2(12),
                    net.certificate(CertificateKind::Timeout, 13, [0; 32], 0, &quorum),
                ])),
                Ok(()),
            ),
            fx.chain_with(window).test(
                "certificates_window_closes_with_low_participation",
                "A participation window of 2 certificates that validator 3 signed none of: \
                 the window closes and validator 3 is warned.",
                fx.reporter(),
                tx(&certs(vec![vote2(12), vote2(13)])),
                Ok(()),
            ),
            fx.chain().test(
                "certificates_empty_batch",
                "No certificates.",
                fx.reporter(),
                tx(&certs(vec![])),
                Err(Error::EmptyBatch),
            ),
            fx.chain().test(
                "certificates_unsorted_signers",
                "Signers listed as 2, 1, 0.",
                fx.reporter(),
                tx(&certs(vec![net.certificate(
                    CertificateKind::Vote2,
                    12,
                    [3; 32],
                    0,
                    &[2, 1, 0],
                )])),
                Err(Error::UnsortedSigners),
            ),
            fx.chain().test(
                "certificates_short_of_quorum",
                "Two signers hold 20 of 40; a quorum is 27.",
                fx.reporter(),
                tx(&certs(vec![net.certificate(
                    CertificateKind::Vote2,
                    12,
                    [3; 32],
                    0,
                    &[0, 1],
                )])),
                Err(Error::InsufficientWitnesses {
                    power: 20,
                    required: 27,
                }),
            ),
            fx.chain().test(
                "certificates_unknown_signer",
                "A signer outside the validator set.",
                fx.reporter(),
                tx(&certs(vec![fx.wide.certificate(
                    CertificateKind::Vote2,
                    12,
                    [3; 32],
                    0,
                    &[0, 1, 2, OUTSIDER],
                )])),
                Err(Error::UnknownValidator {
                    operator: OUTSIDER,
                    epoch: 1,
                }),
            ),
            fx.chain().test(
                "certificates_bad_signature",
                "Signer 2's signature is over another view.",
                fx.reporter(),
                tx(&certs(vec![forged])),
                Err(Error::BadSignature { signer: 2 }),
            ),
            fx.chain().test(
                "certificates_future_epoch",
                "A certificate of epoch 2 while the chain is in epoch 1.",
                fx.reporter(),
                tx(&certs(vec![fx.epoch(2).certificate(
                    CertificateKind::Vote2,
                    12,
                    [3; 32],
                    0,
                    &quorum,
                )])),
                Err(Error::FutureEpoch {
                    epoch: 2,
                    current: 1,
                }),
            ),
            fx.chain().test(
                "certificates_duplicate_in_batch",
                "The same certificate twice in one batch.",
                fx.reporter(),
                tx(&certs(vec![vote2(12), vote2(12)])),
                Err(Error::Duplicate),
            ),
            fx.chain().test(
                "certificates_out_of_order",
                "View 13 before view 12 of the same kind.",
                fx.reporter(),
                tx(&certs(vec![vote2(13), vote2(12)])),
                Err(Error::Duplicate),
            ),
            recorded.test(
                "certificates_duplicate_recorded",
                "A certificate of a view already recorded.",
                fx.reporter(),
                tx(&certs(vec![vote2(12)])),
                Err(Error::Duplicate),
            ),
        ],
    }
}

fn rotation(fx: &Fx) -> Area {
    let net = &fx.net;
    let next = fx.epoch(2);
    let mut rotated_key = fx.epoch(2);
    rotated_key.keys[1] = testkit::key(ROTATED_KEY_SEED);
    let by = |approvers: &[OperatorId]| Msg::RotateValidators(net.rotation(&next, approvers));
    let with_validators = |edit: &dyn Fn(&mut Vec<ValidatorInfo>)| {
        let mut list = next.validators().to_vec();
        edit(&mut list);
        Msg::RotateValidators(Rotation {
            epoch: 2,
            validators: BoundedVec::new(list).expect("small"),
            approvals: BoundedVec::empty(),
        })
    };
    let approvals = |edit: &dyn Fn(&mut Vec<WitnessSignature>)| {
        let mut rotation = net.rotation(&next, &[0, 1, 2]);
        let mut list = rotation.approvals.to_vec();
        edit(&mut list);
        rotation.approvals = BoundedVec::new(list).expect("small");
        Msg::RotateValidators(rotation)
    };
    let banned = fx
        .chain()
        .then(fx.reporter(), &evidence(net.double_vote(1, 5)));
    Area {
        name: "rotation",
        description: "Validator set rotation, by the authority or a quorum of the current set.",
        vectors: vec![
            fx.chain().test(
                "rotation_by_authority_accepted",
                "The authority rotates to epoch 2.",
                fx.authority(),
                tx(&by(&[])),
                Ok(()),
            ),
            fx.chain().test(
                "rotation_by_quorum_accepted",
                "A reporter submits a rotation approved by validators 0, 1 and 2 (30 of 40).",
                fx.reporter(),
                tx(&by(&[0, 1, 2])),
                Ok(()),
            ),
            fx.chain().test(
                "rotation_skipping_epochs_accepted",
                "The authority rotates from epoch 1 to epoch 3.",
                fx.authority(),
                tx(&fx.rotate(&fx.epoch(3))),
                Ok(()),
            ),
            fx.chain().test(
                "rotation_key_change_accepted",
                "Operator 1 rotates its consensus key in epoch 2.",
                fx.authority(),
                tx(&fx.rotate(&rotated_key)),
                Ok(()),
            ),
            banned
                .clone()
                .then(fx.authority(), &fx.rotate(&rotated_key))
                .test(
                    "rotation_new_key_escapes_nothing",
                    "Operator 1, banned in epoch 1, double votes with its new key in epoch 2: \
                     the ban follows the operator.",
                    fx.reporter(),
                    tx(&evidence(rotated_key.double_vote(1, 3))),
                    Err(Error::AlreadyBanned { operator: 1 }),
                ),
            fx.chain().test(
                "rotation_unauthorized",
                "A rotation without approvals sent by someone other than the authority.",
                fx.reporter(),
                tx(&by(&[])),
                Err(Error::Unauthorized),
            ),
            fx.chain().test(
                "rotation_insufficient_approvals",
                "Approvals of validators 0 and 1 (20 of 40; a quorum is 27).",
                fx.reporter(),
                tx(&by(&[0, 1])),
                Err(Error::InsufficientWitnesses {
                    power: 20,
                    required: 27,
                }),
            ),
            fx.chain().test(
                "rotation_unsorted_approvals",
                "Approvals listed as 1, 0, 2.",
                fx.reporter(),
                tx(&approvals(&|list| list.swap(0, 1))),
                Err(Error::UnsortedSigners),
            ),
            fx.chain().test(
                "rotation_bad_approval_signature",
                "Validator 2's approval carries validator 1's signature.",
                fx.reporter(),
                tx(&approvals(&|list| list[2].signature = list[1].signature)),
                Err(Error::BadSignature { signer: 2 }),
            ),
            fx.chain().test(
                "rotation_weak_key",
                "The new set gives operator 2 the identity point, a small-order key.",
                fx.authority(),
                tx(&with_validators(&|list| {
                    let mut identity = [0u8; 32];
                    identity[0] = 1;
                    list[2].key = PublicKey(identity);
                })),
                Err(Error::WeakKey { operator: 2 }),
            ),
            fx.chain().test(
                "rotation_duplicate_key",
                "The new set gives operator 3 operator 0's key.",
                fx.authority(),
                tx(&with_validators(&|list| list[3].key = list[0].key)),
                Err(Error::DuplicateKey { operator: 3 }),
            ),
            fx.chain().test(
                "rotation_empty_set",
                "A rotation to an empty set.",
                fx.authority(),
                tx(&with_validators(&|list| list.clear())),
                Err(Error::InvalidValidatorSet),
            ),
            fx.chain().test(
                "rotation_zero_power",
                "A validator with no power.",
                fx.authority(),
                tx(&with_validators(&|list| list[1].power = 0)),
                Err(Error::InvalidPower { operator: 1 }),
            ),
            fx.chain().test(
                "rotation_epoch_not_after",
                "A rotation to the current epoch.",
                fx.authority(),
                tx(&Msg::RotateValidators(Rotation {
                    epoch: 1,
                    ..net.rotation(&next, &[])
                })),
                Err(Error::EpochNotAfter {
                    epoch: 1,
                    current: 1,
                }),
            ),
        ],
    }
}

fn governance(fx: &Fx) -> Area {
    let net = &fx.net;
    let slashed = fx
        .chain()
        .then(fx.reporter(), &evidence(net.double_vote(1, 5)));
    // The proposal made at height 2 may be finalised from height 2 + deferral.
    let deferral_end = GENESIS_HEIGHT + 1 + Config::default().slashing.deferral_blocks;
    let veto = Msg::VetoSlashing { id: 0 };
    let finalise = Msg::FinaliseSlashing { id: 0 };
    let lower_retention = Config {
        retention_epochs: 4,
        ..Config::default()
    };
    let bad_retention = Config {
        retention_epochs: 0,
        ..Config::default()
    };
    let mut bad_window = Config::default();
    bad_window.slashing.correlation_window_epochs = bad_window.retention_epochs + 1;
    Area {
        name: "governance",
        description: "The authority's configuration changes and vetoes, and the finalisation of \
                      slashing proposals.",
        vectors: vec![
            fx.chain().test(
                "update_config_by_authority_accepted",
                "The authority lowers the retention to 4 epochs.",
                fx.authority(),
                tx(&Msg::UpdateConfig(lower_retention.clone())),
                Ok(()),
            ),
            fx.chain().test(
                "update_config_unauthorized",
                "A validator tries to change the configuration.",
                Some(net.public(0)),
                tx(&Msg::UpdateConfig(lower_retention.clone())),
                Err(Error::Unauthorized),
            ),
            fx.chain().test(
                "update_config_without_caller",
                "A configuration change without a known sender.",
                None,
                tx(&Msg::UpdateConfig(lower_retention)),
                Err(Error::Unauthorized),
            ),
            fx.chain().test(
                "update_config_invalid_retention",
                "A retention of 0 epochs.",
                fx.authority(),
                tx(&Msg::UpdateConfig(bad_retention)),
                Err(Error::InvalidConfig {
                    field: ConfigField::RetentionEpochs,
                }),
            ),
            fx.chain().test(
                "update_config_invalid_correlation_window",
                "A correlation window longer than the retention.",
                fx.authority(),
                tx(&Msg::UpdateConfig(bad_window)),
                Err(Error::InvalidConfig {
                    field: ConfigField::CorrelationWindow,
                }),
            ),
            slashed.clone().test(
                "veto_by_authority_accepted",
                "The authority vetoes slashing proposal 0 inside its deferral window.",
                fx.authority(),
                tx(&veto),
                Ok(()),
            ),
            slashed.clone().test(
                "veto_unauthorized",
                "The reporter tries to veto.",
                fx.reporter(),
                tx(&veto),
                Err(Error::Unauthorized),
            ),
            slashed.clone().test(
                "veto_unknown_proposal",
                "A veto of a proposal that does not exist.",
                fx.authority(),
                tx(&Msg::VetoSlashing { id: 5 }),
                Err(Error::UnknownProposal { id: 5 }),
            ),
            slashed.clone().at(deferral_end).test(
                "veto_after_deferral",
                "A veto once the deferral window is over.",
                fx.authority(),
                tx(&veto),
                Err(Error::NotPending { id: 0 }),
            ),
            slashed.clone().then(fx.authority(), &veto).test(
                "veto_twice",
                "A second veto of the same proposal.",
                fx.authority(),
                tx(&veto),
                Err(Error::NotPending { id: 0 }),
            ),
            slashed.clone().at(deferral_end).test(
                "finalise_after_deferral_accepted",
                "Anyone finalises the proposal once its deferral window is over.",
                fx.reporter(),
                tx(&finalise),
                Ok(()),
            ),
            slashed.clone().at(deferral_end - 1).test(
                "finalise_during_deferral",
                "Finalisation one block before the deferral window ends.",
                fx.reporter(),
                tx(&finalise),
                Err(Error::DeferralPending {
                    until: deferral_end,
                }),
            ),
            slashed
                .clone()
                .then(fx.authority(), &veto)
                .at(deferral_end)
                .test(
                    "finalise_vetoed",
                    "Finalisation of a vetoed proposal.",
                    fx.reporter(),
                    tx(&finalise),
                    Err(Error::NotPending { id: 0 }),
                ),
            slashed
                .clone()
                .at(deferral_end)
                .then(fx.reporter(), &finalise)
                .test(
                    "finalise_twice",
                    "A second finalisation of the same proposal.",
                    fx.reporter(),
                    tx(&finalise),
                    Err(Error::NotPending { id: 0 }),
                ),
            slashed.test(
                "finalise_unknown_proposal",
                "Finalisation of a proposal that does not exist.",
                fx.reporter(),
                tx(&Msg::FinaliseSlashing { id: 5 }),
                Err(Error::UnknownProposal { id: 5 }),
            ),
        ],
    }
}

fn decoding(fx: &Fx) -> Area {
    let net = &fx.net;
    let valid = tx(&evidence(net.double_vote(1, 5)));
    let mut trailing = valid.clone();
    trailing.push(0);
    let mut truncated = valid.clone();
    truncated.pop();
    // Msg::SubmitEvidence (0), Evidence::DoubleVote (0), then the first SignedMessage:
    // epoch (8 bytes), signer (4 bytes), then the Message tag.
    let mut bad_message_tag = valid.clone();
    bad_message_tag[2 + 8 + 4] = 9;
    // Msg::SubmitEvidence, Evidence::InvalidProposal, the proposal, then the parent's Option tag.
    let wrong = net.wrong_leader(1, 1);
    let (proposal, _) = pair(&wrong);
    let mut bad_option = tx(&evidence(wrong));
    bad_option[2 + encode(&proposal).len()] = 2;
    // Msg::RecordCertificates (2) with a length prefix of u32::MAX.
    let huge_prefix = [vec![2u8], u32::MAX.to_le_bytes().to_vec()].concat();
    // One more certificate than a transaction may carry: the length prefix is over its bound.
    let cert = Certificate::genesis(1);
    let mut too_many = vec![2u8];
    too_many.extend((MAX_CERTIFICATES_PER_TX as u32 + 1).to_le_bytes());
    for _ in 0..=MAX_CERTIFICATES_PER_TX {
        too_many.extend(encode(&cert));
    }
    // One certificate whose signature count is over the validator bound.
    let mut too_many_signatures = vec![2u8];
    too_many_signatures.extend(1u32.to_le_bytes());
    let cert_bytes = encode(&cert);
    too_many_signatures.extend(&cert_bytes[..cert_bytes.len() - 4]);
    too_many_signatures.extend((MAX_VALIDATORS as u32 + 1).to_le_bytes());
    // Msg::VetoSlashing (5) whose u64 id has only 3 bytes.
    let short_id = vec![5u8, 1, 0, 0];
    let refused = |name, description, bytes: Vec<u8>| {
        fx.chain()
            .test(name, description, fx.reporter(), bytes, Err(Error::Decode))
    };
    Area {
        name: "decoding",
        description: "Strict borsh: malformed transactions are refused as Decode errors before \
                      any other check.",
        vectors: vec![
            refused("decode_empty", "An empty transaction.", vec![]),
            refused(
                "decode_unknown_msg_tag",
                "A Msg tag past the last variant.",
                vec![7],
            ),
            refused(
                "decode_trailing_byte",
                "A valid double vote followed by one byte.",
                trailing,
            ),
            refused(
                "decode_truncated",
                "A valid double vote missing its last byte.",
                truncated,
            ),
            refused(
                "decode_unknown_message_tag",
                "A signed message whose Message tag is 9.",
                bad_message_tag,
            ),
            refused(
                "decode_bad_option_tag",
                "An invalid-proposal evidence whose parent Option tag is 2.",
                bad_option,
            ),
            refused(
                "decode_huge_length_prefix",
                "A certificate list announcing u32::MAX entries: refused before allocating.",
                huge_prefix,
            ),
            refused(
                "decode_too_many_certificates",
                "17 certificates, over the bound of 16 per transaction.",
                too_many,
            ),
            refused(
                "decode_too_many_certificate_signatures",
                "A certificate announcing 1,025 signatures, over the bound of 1,024.",
                too_many_signatures,
            ),
            refused(
                "decode_short_integer",
                "A veto whose u64 id has 3 bytes.",
                short_id,
            ),
        ],
    }
}

fn too_large(fx: &Fx) -> Area {
    Area {
        name: "too_large",
        description: "The size bound on transactions, checked before decoding.",
        vectors: vec![fx.chain().test(
            "too_large_transaction",
            "A transaction of 512 KiB + 1 byte.",
            fx.reporter(),
            vec![0; MAX_TX_BYTES + 1],
            Err(Error::TooLarge {
                size: MAX_TX_BYTES as u64 + 1,
                limit: MAX_TX_BYTES as u64,
            }),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malleated_signature_is_refused_by_verify_strict_and_has_the_same_r() {
        let net = TestNetwork::new(CHAIN_ID, 1);
        let vote = net.vote(0, 1, [1; 32], 0);
        let malleated = malleate(vote.signature);
        assert_eq!(vote.signature.0[..32], malleated.0[..32]);
        assert_ne!(vote.signature, malleated);
        let bytes = vote.message.signing_bytes(CHAIN_ID, 1);
        use warden_module::crypto::Verifier;
        assert!(Ed25519Strict.verify(&net.public(0), &bytes, &vote.signature));
        assert!(!Ed25519Strict.verify(&net.public(0), &bytes, &malleated));
    }

    #[test]
    fn the_runner_refuses_a_wrong_expectation_and_a_refused_setup() {
        let exec = Executor::new(ExecutorConfig::default()).expect("executor");
        let fx = Fx::new();
        let msg = evidence(fx.net.double_vote(1, 5));
        let mut v = fx
            .chain()
            .test("x", "x", None, tx(&msg), Err(Error::Duplicate))
            .to_vector()
            .expect("a vector");
        let err = run_vector(&exec, &v).expect_err("a wrong expectation");
        assert!(err.to_string().contains("expected Duplicate"), "{err:#}");
        v.expected = OK.into();
        v.expected_error = None;
        run_vector(&exec, &v).expect("the right expectation");

        // Pinned events must match exactly.
        let mut pinned = fx
            .chain()
            .test("z", "z", None, tx(&msg), Ok(()))
            .with_events()
            .to_vector()
            .expect("a vector");
        run_vector(&exec, &pinned).expect("the recorded events");
        pinned.expected_events.as_mut().expect("pinned").pop();
        let err = run_vector(&exec, &pinned).expect_err("a missing event");
        assert!(err.to_string().contains("expected the events"), "{err:#}");

        let v = fx
            .chain()
            .then(None, &Msg::VetoSlashing { id: 0 })
            .test("y", "y", None, tx(&msg), Ok(()))
            .to_vector()
            .expect("a vector");
        let err = run_vector(&exec, &v).expect_err("a refused setup");
        assert!(err.to_string().contains("setup transaction 0"), "{err:#}");
    }

    #[test]
    fn rendering_is_deterministic() {
        let (a, n) = render().expect("render");
        let (b, m) = render().expect("render");
        assert_eq!(n, m);
        assert!(a == b, "two renderings differ");
    }
}
