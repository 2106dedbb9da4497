//! What every replica of one run shares: the validator set, the leader schedule, the signing
//! keys, a verification cache and a content-addressed header directory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use ed25519_dalek::SigningKey;
use warden_module::crypto::{Ed25519Strict, Verifier};
use warden_module::schedule::LeaderSchedule;
use warden_module::validators::ValidatorSet;
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, Hash, Message, OperatorId, SignedMessage,
};

use super::rng::Fx;
use crate::testkit::sign;

type FxBuild = BuildHasherDefault<Fx>;
/// (public key, signature, signed bytes).
type KeyedSignature = ([u8; 32], [u8; 64], Vec<u8>);

/// The most signature results the cache holds before it starts over (only speed depends on it).
pub const MAX_CACHED_SIGNATURES: usize = 1 << 18;
/// The most certificate results the cache holds before it starts over.
pub const MAX_CACHED_CERTIFICATES: usize = 1 << 8;
/// The most block headers the directory holds before it starts over.
pub const MAX_HEADERS: usize = 1 << 20;

/// Counts of the cryptographic work of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CryptoStats {
    /// Messages signed (each distinct: replicas keep and resend what they signed).
    pub signed: u64,
    /// Signatures actually verified with `verify_strict`.
    pub verified: u64,
    /// Signature checks answered by the cache.
    pub signature_hits: u64,
    /// Certificate checks answered by the cache.
    pub certificate_hits: u64,
}

/// Verifies each distinct `(signer, bytes, signature)` once and shares the answer between
/// replicas. Sound because the answer is a pure function of the key.
#[derive(Default)]
pub struct VerifyCache {
    signatures: HashMap<(OperatorId, [u8; 64], Vec<u8>), bool, FxBuild>,
    by_key: HashMap<KeyedSignature, bool, FxBuild>,
    certificates: HashMap<u64, Vec<(Certificate, bool)>, FxBuild>,
    /// The work done so far.
    pub stats: CryptoStats,
}

/// Parameters of the pacemaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The first view timer, in microseconds.
    pub base_timeout_us: u64,
    /// The timer doubles per consecutive failed view up to `base << max_backoff_exp`.
    pub max_backoff_exp: u32,
}

impl Timing {
    /// The view timer after `failures` consecutive failed views.
    pub fn timeout_us(&self, failures: u32) -> u64 {
        self.base_timeout_us
            .saturating_mul(1u64 << failures.min(self.max_backoff_exp).min(32))
    }

    /// The longest view timer.
    pub fn max_timeout_us(&self) -> u64 {
        self.timeout_us(self.max_backoff_exp)
    }
}

/// Shared, read-mostly state of one run.
pub struct Context {
    /// The chain id bound into every signature.
    pub chain_id: u64,
    /// The (only) epoch of the run.
    pub epoch: u64,
    /// The validator set.
    pub set: ValidatorSet,
    /// The on-chain leader schedule.
    pub schedule: LeaderSchedule,
    /// Pacemaker timing.
    pub timing: Timing,
    /// Nodes per operator (two for a Twins pair).
    pub nodes_of: Vec<Vec<u32>>,
    /// Nodes run by a faulty operator (adversaries and Twins): colluders know each other.
    pub faulty_nodes: Vec<bool>,
    /// The keys this process holds, by operator (a validator's own process holds one).
    keys: Vec<Option<SigningKey>>,
    leaders: RefCell<Vec<OperatorId>>,
    cache: RefCell<VerifyCache>,
    headers: RefCell<HashMap<Hash, BlockHeader, FxBuild>>,
}

/// How many views' leaders are computed ahead of time.
const LEADER_TABLE_GROWTH: u64 = 1024;

impl Context {
    /// A context over `set` whose operator `i` signs with `keys[i]`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain_id: u64,
        epoch: u64,
        set: ValidatorSet,
        schedule: LeaderSchedule,
        keys: Vec<SigningKey>,
        timing: Timing,
        nodes_of: Vec<Vec<u32>>,
        faulty_nodes: Vec<bool>,
    ) -> Self {
        Self {
            chain_id,
            epoch,
            set,
            schedule,
            timing,
            nodes_of,
            faulty_nodes,
            keys: keys.into_iter().map(Some).collect(),
            leaders: RefCell::new(Vec::new()),
            cache: RefCell::new(VerifyCache::default()),
            headers: RefCell::new(HashMap::default()),
        }
    }

    /// The context of one validator's own process: it holds `operator`'s key alone, so it can
    /// sign for nobody else (a signature it is asked to make for another operator is all zeros,
    /// which no one accepts).
    pub fn for_validator(
        chain_id: u64,
        set: ValidatorSet,
        schedule: LeaderSchedule,
        operator: OperatorId,
        key: SigningKey,
        timing: Timing,
    ) -> Self {
        let n = set
            .validators
            .iter()
            .map(|v| v.operator as usize + 1)
            .max()
            .unwrap_or(0)
            .max(operator as usize + 1);
        let mut ctx = Self::new(
            chain_id,
            set.epoch,
            set,
            schedule,
            Vec::new(),
            timing,
            (0..n as u32).map(|i| vec![i]).collect(),
            vec![false; n],
        );
        ctx.keys = (0..n as u32)
            .map(|i| (i == operator).then(|| key.clone()))
            .collect();
        ctx
    }

    fn signature(&self, operator: OperatorId, bytes: &[u8]) -> warden_module::wire::Signature {
        self.keys
            .get(operator as usize)
            .and_then(Option::as_ref)
            .map_or(warden_module::wire::Signature([0; 64]), |key| {
                sign(key, bytes)
            })
    }

    /// The scheduled leader of `view` (memoised; the schedule always has one here).
    pub fn leader(&self, view: u64) -> OperatorId {
        let mut table = self.leaders.borrow_mut();
        if view >= table.len() as u64 {
            // Grow the table only along the run's own views; a peer's far-future view is
            // computed directly and never allocates.
            if view > (table.len() as u64).saturating_add(LEADER_TABLE_GROWTH) {
                return self.schedule.leader(view).unwrap_or(0);
            }
            let from = table.len() as u64;
            for v in from..=view.saturating_add(LEADER_TABLE_GROWTH) {
                table.push(self.schedule.leader(v).unwrap_or(0));
            }
        }
        table[view as usize]
    }

    /// `message` signed by `operator`.
    pub fn sign(&self, operator: OperatorId, message: Message) -> SignedMessage {
        let bytes = message.signing_bytes(self.chain_id, self.epoch);
        self.cache.borrow_mut().stats.signed += 1;
        SignedMessage {
            epoch: self.epoch,
            signer: operator,
            signature: self.signature(operator, &bytes),
            message,
        }
    }

    /// Signs raw certificate bytes of `message` as `operator` (used by adversaries to build
    /// short certificates).
    pub fn sign_part(
        &self,
        operator: OperatorId,
        message: &Message,
    ) -> warden_module::wire::Signature {
        self.cache.borrow_mut().stats.signed += 1;
        self.signature(operator, &message.signing_bytes(self.chain_id, self.epoch))
    }

    /// Whether `signature` by `signer` over `message` is valid in this run's epoch.
    pub fn verify(
        &self,
        signer: OperatorId,
        message: &Message,
        signature: &warden_module::wire::Signature,
    ) -> bool {
        let Some(info) = self.set.get(signer) else {
            return false;
        };
        let bytes = message.signing_bytes(self.chain_id, self.epoch);
        let key = (signer, signature.0, bytes);
        let mut cache = self.cache.borrow_mut();
        if let Some(ok) = cache.signatures.get(&key).copied() {
            cache.stats.signature_hits += 1;
            return ok;
        }
        let ok = Ed25519Strict.verify(&info.key, &key.2, signature);
        cache.stats.verified += 1;
        if cache.signatures.len() >= MAX_CACHED_SIGNATURES {
            cache.signatures.clear();
        }
        cache.signatures.insert(key, ok);
        ok
    }

    /// Whether `signature` by `key` over `bytes` is valid (`verify_strict`, cached).
    pub fn verify_key(
        &self,
        key: &warden_module::wire::PublicKey,
        bytes: &[u8],
        signature: &warden_module::wire::Signature,
    ) -> bool {
        let entry = (key.0, signature.0, bytes.to_vec());
        let mut cache = self.cache.borrow_mut();
        if let Some(ok) = cache.by_key.get(&entry).copied() {
            cache.stats.signature_hits += 1;
            return ok;
        }
        let ok = Ed25519Strict.verify(key, bytes, signature);
        cache.stats.verified += 1;
        if cache.by_key.len() >= MAX_CACHED_SIGNATURES {
            cache.by_key.clear();
        }
        cache.by_key.insert(entry, ok);
        ok
    }

    /// Whether `signed` is a message of this epoch with a valid signature of a known signer.
    pub fn verify_signed(&self, signed: &SignedMessage) -> bool {
        signed.epoch == self.epoch && self.verify(signed.signer, &signed.message, &signed.signature)
    }

    /// Whether `cert` is a valid certificate of `kind` in this epoch: known signers in strictly
    /// increasing order holding a quorum, every signature valid. The genesis certificate is
    /// valid as a phase-1 certificate. Cheap structural checks run before any signature.
    pub fn check_certificate(&self, cert: &Certificate, kind: CertificateKind) -> bool {
        if cert.kind != kind || cert.epoch != self.epoch {
            return false;
        }
        if kind == CertificateKind::Vote && cert.is_genesis() {
            return true;
        }
        if cert.view == 0
            || cert
                .signatures
                .windows(2)
                .any(|w| w[1].signer <= w[0].signer)
        {
            return false;
        }
        let mut power = 0u64;
        for part in cert.signatures.iter() {
            let Some(v) = self.set.get(part.signer) else {
                return false;
            };
            if kind == CertificateKind::Timeout && part.lock_view > cert.view {
                return false;
            }
            power = power.saturating_add(v.power);
        }
        if power < self.set.quorum() {
            return false;
        }
        let digest = certificate_digest(cert);
        {
            let mut cache = self.cache.borrow_mut();
            let hit = cache
                .certificates
                .get(&digest)
                .and_then(|list| list.iter().find(|(c, _)| c == cert).map(|(_, ok)| *ok));
            if let Some(ok) = hit {
                cache.stats.certificate_hits += 1;
                return ok;
            }
        }
        let ok = cert
            .signatures
            .iter()
            .all(|part| self.verify(part.signer, &cert.signed_message(part), &part.signature));
        let mut cache = self.cache.borrow_mut();
        if cache.certificates.len() >= MAX_CACHED_CERTIFICATES {
            cache.certificates.clear();
        }
        cache
            .certificates
            .entry(digest)
            .or_default()
            .push((cert.clone(), ok));
        ok
    }

    /// Records a header in the content-addressed directory (it is keyed by its own hash, so
    /// no peer can plant a header under another block's hash).
    pub fn record_header(&self, header: &BlockHeader) -> Hash {
        let hash = header.hash();
        let mut headers = self.headers.borrow_mut();
        if headers.len() >= MAX_HEADERS {
            headers.clear();
        }
        headers.entry(hash).or_insert_with(|| header.clone());
        hash
    }

    /// The header whose hash is `hash`, if any node has accepted it.
    pub fn header(&self, hash: &Hash) -> Option<BlockHeader> {
        self.headers.borrow().get(hash).cloned()
    }

    /// The cryptographic work so far.
    pub fn stats(&self) -> CryptoStats {
        self.cache.borrow().stats
    }
}

fn certificate_digest(cert: &Certificate) -> u64 {
    let mut fx = Fx::default();
    fx.word(cert.kind as u64);
    fx.word(cert.epoch);
    fx.word(cert.view);
    fx.bytes(&cert.block_hash);
    fx.word(cert.justify_view);
    for part in cert.signatures.iter() {
        fx.word(u64::from(part.signer));
        fx.word(part.lock_view);
        fx.bytes(&part.signature.0);
    }
    fx.0
}
