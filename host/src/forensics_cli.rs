//! `warden forensics DIR`: reads the certificate records hosts left under a data directory (a
//! `warden simulate --data DIR` run leaves one per honest host in `host-N/certificates.borsh`),
//! merges them, proves the forks they show by the rule of [`crate::ft::forensics`], and
//! prints the culprits, their power and the evidence. `--submit` sends the evidence to the
//! embedded chain in `DIR/chain` as ordinary Tier 1 transactions.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use warden_module::crypto::Ed25519Strict;
use warden_module::evidence::Evidence;
use warden_module::msg::Msg;
use warden_module::wire::{Message, OperatorId};

use crate::ft::forensics::{
    prove_forks, CertificateLog, ForensicsRecord, ForkProof, ForkRule, DEFAULT_LOG_HEADERS,
};

/// The file a host's record is kept in, inside its directory.
pub const RECORD_FILE: &str = "certificates.borsh";
/// The most fork proofs one run of forensics makes.
const MAX_PROOFS: usize = 64;

/// `warden forensics`.
#[derive(clap::Args, Debug, Clone)]
pub struct Options {
    /// The data directory: `DIR/certificates.borsh` and `DIR/*/certificates.borsh` are read
    /// (for example the directory of `warden simulate --data DIR`).
    pub dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also submit the evidence to the embedded chain in `DIR/chain`, signed with the key of
    /// `--reporter-seed`, and produce a block to include it.
    #[arg(long)]
    pub submit: bool,
    /// The seed of the reporter key `--submit` signs with (the reporter earns the reward).
    #[arg(long, default_value_t = warden_testkit::REPORTER_SEED)]
    pub reporter_seed: u64,
}

/// Keeps `record` at `path` (written to a temporary file beside it, then renamed).
pub fn write_record(path: &Path, record: &ForensicsRecord) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut file, &record.encode())?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Every record under `dir`, by path.
pub fn read_records(dir: &Path) -> anyhow::Result<Vec<(PathBuf, ForensicsRecord)>> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut paths = vec![dir.join(RECORD_FILE)];
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            paths.push(path.join(RECORD_FILE));
        }
    }
    paths.retain(|p| p.is_file());
    paths.sort();
    if paths.is_empty() {
        bail!(
            "no certificate records under {} (a `warden simulate --data {}` run leaves one per \
             host in host-N/{RECORD_FILE})",
            dir.display(),
            dir.display()
        );
    }
    paths
        .into_iter()
        .map(|path| {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let record = ForensicsRecord::decode(&bytes).map_err(|e| {
                anyhow::anyhow!("{} is not a certificate record: {e}", path.display())
            })?;
            Ok((path, record))
        })
        .collect()
}

/// What forensics found in a set of records.
#[derive(Debug)]
pub struct Findings {
    /// The chain id.
    pub chain_id: u64,
    /// The epoch judged (the latest the records hold).
    pub epoch: u64,
    /// Records read, and of those of that epoch.
    pub records: (usize, usize),
    /// Distinct certificates merged.
    pub certificates: usize,
    /// Conflicting pairs of commits in the merged log.
    pub conflicting_pairs: usize,
    /// The proofs made, earliest pair first, until one proved more than a third.
    pub proofs: Vec<ForkProof>,
    /// Each culprit with its power and its evidence.
    pub culprits: BTreeMap<OperatorId, (u64, Vec<Evidence>)>,
    /// The culprits' power.
    pub culprit_power: u64,
    /// The set's total power.
    pub total_power: u64,
}

impl Findings {
    /// Whether the culprits hold more than a third of the power.
    pub fn accountable(&self) -> bool {
        u128::from(self.culprit_power) * 3 > u128::from(self.total_power)
    }
}

/// Merges the records of the latest epoch and proves the forks they show.
pub fn analyse(records: &[(PathBuf, ForensicsRecord)]) -> anyhow::Result<Findings> {
    let Some((_, latest)) = records.iter().max_by_key(|(_, r)| r.set.epoch) else {
        bail!("no records");
    };
    let epoch = latest.set.epoch;
    if let Some((path, other)) = records.iter().find(|(_, r)| r.chain_id != latest.chain_id) {
        bail!(
            "{} is of chain {}, the others of chain {}",
            path.display(),
            other.chain_id,
            latest.chain_id
        );
    }
    let of_epoch: Vec<&ForensicsRecord> = records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.set.epoch == epoch)
        .collect();
    let total: usize = of_epoch.iter().map(|r| r.certificates.len()).sum();
    let mut log = CertificateLog::new(total.max(16), DEFAULT_LOG_HEADERS * of_epoch.len());
    for r in &of_epoch {
        for h in &r.headers {
            log.insert_header(h);
        }
        for c in r.certificates.iter().filter(|c| c.epoch == epoch) {
            log.insert_certificate(c);
        }
    }
    let view = latest.epoch_view();
    let conflicting_pairs = log.conflicting_commits().len();
    let proofs = prove_forks(&view, &log, |_, _| false, MAX_PROOFS, &Ed25519Strict);
    let mut culprits: BTreeMap<OperatorId, (u64, Vec<Evidence>)> = BTreeMap::new();
    for proof in &proofs {
        for (op, evidence) in &proof.culprits {
            let entry = culprits
                .entry(*op)
                .or_insert_with(|| (view.set.power_of(*op), Vec::new()));
            if !entry.1.contains(evidence) {
                entry.1.push(evidence.clone());
            }
        }
    }
    let culprit_power = culprits
        .values()
        .fold(0u64, |acc, (p, _)| acc.saturating_add(*p));
    Ok(Findings {
        chain_id: latest.chain_id,
        epoch,
        records: (records.len(), of_epoch.len()),
        certificates: log.len(),
        conflicting_pairs,
        proofs,
        culprits,
        culprit_power,
        total_power: view.set.total_power,
    })
}

fn short(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..6])
}

fn rule_name(rule: ForkRule) -> &'static str {
    match rule {
        ForkRule::DoubleVote2 => "both commits in one view: phase-2 double votes",
        ForkRule::DoubleVote1 => {
            "justified at the commit's view with another block: phase-1 double votes"
        }
        ForkRule::LockViolation => "justified below the commit's view: lock violations",
    }
}

fn describe(evidence: &Evidence) -> String {
    let msg = |m: &Message| match m {
        Message::Vote(v) => format!(
            "Vote(view {}, block {}, justify {})",
            v.view,
            short(&v.block_hash),
            v.justify_view
        ),
        Message::Vote2(v) => format!("Vote2(view {}, block {})", v.view, short(&v.block_hash)),
        Message::Timeout(t) => format!("Timeout(view {}, lock {})", t.view, t.lock_view),
        Message::Proposal(p) => format!("Proposal(view {})", p.view),
    };
    match evidence {
        Evidence::DoubleVote { first, second } => format!(
            "DoubleVote: {} and {}",
            msg(&first.message),
            msg(&second.message)
        ),
        Evidence::LockViolation { locked, later } => format!(
            "LockViolation: locked by {}, then {}",
            msg(&locked.message),
            msg(&later.message)
        ),
        other => format!("{:?}", other.offence().map(|o| o.class)),
    }
}

/// The findings as text.
pub fn render(f: &Findings) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "forensics: {} records ({} of epoch {}), {} certificates, {} conflicting pairs of commits",
        f.records.0, f.records.1, f.epoch, f.certificates, f.conflicting_pairs
    );
    if f.proofs.is_empty() {
        let _ = writeln!(
            s,
            "  no fork proven{}",
            if f.conflicting_pairs == 0 {
                ": the records show no conflicting commits"
            } else {
                ": the records miss certificates of the later branches"
            }
        );
        return s;
    }
    for p in &f.proofs {
        let _ = writeln!(
            s,
            "  fork: block {} committed at view {} and block {} at view {}: {}{}",
            short(&p.first.block),
            p.first.view,
            short(&p.second.block),
            p.second.view,
            rule_name(p.rule),
            p.pivot
                .map(|c| format!(" (paired with the certificate of view {})", c.view))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        s,
        "  culprits: {} of {} power{}",
        f.culprit_power,
        f.total_power,
        if f.accountable() {
            " (more than a third)"
        } else {
            " (NOT more than a third: the records are incomplete)"
        }
    );
    for (op, (power, evidence)) in &f.culprits {
        for e in evidence {
            let id = e
                .offence()
                .map(|o| hex::encode(&o.id()[..8]))
                .unwrap_or_default();
            let _ = writeln!(s, "    v{op}  power {power}  {}  offence {id}", describe(e));
        }
    }
    s
}

/// The findings as JSON.
pub fn to_json(f: &Findings) -> serde_json::Value {
    serde_json::json!({
        "chain_id": f.chain_id,
        "epoch": f.epoch,
        "records": f.records.0,
        "certificates": f.certificates,
        "conflicting_pairs": f.conflicting_pairs,
        "forks": f.proofs.iter().map(|p| serde_json::json!({
            "first": p.first,
            "second": p.second,
            "rule": p.rule,
            "pivot": p.pivot,
            "culprits": p.culprit_operators(),
            "culprit_power": p.culprit_power,
        })).collect::<Vec<_>>(),
        "culprits": f.culprits.iter().map(|(op, (power, evidence))| serde_json::json!({
            "operator": op,
            "power": power,
            "evidence": evidence.iter().map(|e| serde_json::json!({
                "description": describe(e),
                "offence_id": e.offence().map(|o| hex::encode(o.id())).unwrap_or_default(),
                "borsh_hex": hex::encode(warden_module::codec::encode(e)),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "culprit_power": f.culprit_power,
        "total_power": f.total_power,
        "accountable": f.accountable(),
    })
}

/// Submits every culprit's evidence to the embedded chain in `dir/chain` and produces a block.
fn submit(dir: &Path, f: &Findings, reporter_seed: u64) -> anyhow::Result<String> {
    let chain_dir = dir.join("chain");
    let mut chain = crate::chain::Chain::open(&chain_dir)
        .with_context(|| format!("opening the chain in {}", chain_dir.display()))?;
    let key = warden_testkit::key(reporter_seed);
    let mut hashes = Vec::new();
    for (_, evidence) in f.culprits.values() {
        for e in evidence {
            let msg = Msg::SubmitEvidence(e.clone());
            hashes.push(chain.submit_signed(&key, warden_module::codec::encode(&msg))?);
        }
    }
    let time = chain.head().time.saturating_add(1_000);
    let header = chain.produce_block(time)?;
    let (mut accepted, mut refused) = (0, BTreeMap::<String, u64>::new());
    for hash in &hashes {
        match chain.tx(hash)? {
            Some(record) if crate::chain::succeeded(&record.result.status) => accepted += 1,
            Some(record) => {
                *refused
                    .entry(format!("{:?}", record.result.status))
                    .or_default() += 1
            }
            None => *refused.entry("not included".into()).or_default() += 1,
        }
    }
    Ok(format!(
        "submitted {} pieces of evidence in block {}: {accepted} accepted, refused {refused:?}\n",
        hashes.len(),
        header.height
    ))
}

/// Runs `warden forensics`.
pub fn run(options: &Options) -> anyhow::Result<String> {
    let records = read_records(&options.dir)?;
    let findings = analyse(&records)?;
    let mut out = if options.json {
        format!("{:#}\n", to_json(&findings))
    } else {
        render(&findings)
    };
    if options.submit {
        out.push_str(&submit(&options.dir, &findings, options.reporter_seed)?);
    }
    Ok(out)
}
