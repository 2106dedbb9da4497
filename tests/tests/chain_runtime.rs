//! The embedded chain runtime: persistence, atomicity of transactions, determinism across
//! nodes, envelope checks and the sender as the module's caller.

mod chain_support;

use chain_support::*;
use warden_host::chain::block::TxStatus;
use warden_host::chain::envelope::EnvelopeError;
use warden_host::chain::mempool::MempoolError;
use warden_host::chain::{Chain, SubmitError};
use warden_host::testkit::{key, public, AUTHORITY_SEED, REPORTER_SEED};
use warden_host::wasm::{Executor, ExecutorConfig};
use warden_module::codec::{encode, BoundedVec};
use warden_module::msg::{Event, Msg, Query};
use warden_module::wire::CertificateKind;
use warden_module::Error;

fn double_vote(operator: u32, view: u64) -> Msg {
    Msg::SubmitEvidence(network().double_vote(operator, view))
}

fn certificates(view: u64) -> Msg {
    let net = network();
    let cert = net.certificate(
        CertificateKind::Vote2,
        view,
        [view as u8; 32],
        0,
        &net.quorum_signers(),
    );
    Msg::RecordCertificates(BoundedVec::new(vec![cert]).expect("one"))
}

fn status_of(chain: &Chain, hash: &[u8; 32]) -> TxStatus {
    chain
        .tx(hash)
        .expect("readable")
        .expect("committed")
        .result
        .status
}

#[test]
fn restart_resumes_from_disk_with_every_committed_transaction_and_the_same_state_root() {
    let dir = TempDir::new("restart");
    let mut chain = chain(dir.path(), &genesis());
    let mut hashes = Vec::new();
    let mut nonce = 0;
    for block in 0..3u64 {
        for i in 0..3u64 {
            let msg = if i == 0 {
                double_vote(block as u32 + 1, 5)
            } else {
                certificates(10 + block * 3 + i)
            };
            hashes.push(chain.submit(&envelope(&msg, nonce)).expect("admitted"));
            nonce += 1;
        }
        produce(&mut chain);
    }
    let head = chain.head().clone();
    let status = chain.query(&encode(&Query::Status)).expect("query").result;
    let blocks: Vec<_> = (0..=head.height)
        .map(|h| chain.block(h).expect("readable").expect("stored"))
        .collect();
    drop(chain);

    let mut reopened = Chain::open(dir.path()).expect("reopens");
    assert_eq!(reopened.head(), &head, "the head survives a restart");
    assert_eq!(
        reopened.verify_integrity().expect("consistent"),
        head.height + 1
    );
    for (h, block) in blocks.iter().enumerate() {
        assert_eq!(
            &reopened.block(h as u64).expect("readable").expect("stored"),
            block
        );
    }
    for hash in &hashes {
        assert_eq!(
            status_of(&reopened, hash),
            TxStatus::Ok,
            "every transaction survives"
        );
    }
    assert_eq!(
        reopened
            .query(&encode(&Query::Status))
            .expect("query")
            .result,
        status,
        "the module's state survives"
    );
    // The chain goes on where it stopped: the sender's nonce continues.
    let sender = public(&key(REPORTER_SEED));
    assert_eq!(reopened.next_nonce(&sender).expect("nonce"), nonce);
    let hash = reopened
        .submit(&envelope(&certificates(40), nonce))
        .expect("admitted");
    let next = produce(&mut reopened);
    assert_eq!(next.height, head.height + 1);
    assert_eq!(next.parent_hash, head.hash());
    assert_eq!(status_of(&reopened, &hash), TxStatus::Ok);
    reopened.verify_integrity().expect("consistent");
}

#[test]
fn a_rejected_transaction_leaves_the_state_root_unchanged_and_the_next_succeeds() {
    let dir = TempDir::new("rejected");
    let mut chain = chain(dir.path(), &genesis());
    chain
        .submit(&envelope(&double_vote(1, 5), 0))
        .expect("admitted");
    let first = produce(&mut chain);
    // The same offence again: the module refuses it as a duplicate.
    let again = chain
        .submit(&envelope(&double_vote(1, 5), 1))
        .expect("admitted");
    let refused = produce(&mut chain);
    assert_eq!(
        status_of(&chain, &again),
        TxStatus::Refused(Error::Duplicate)
    );
    assert_eq!(
        refused.state_root, first.state_root,
        "a refusal changes no state"
    );
    let next = chain
        .submit(&envelope(&double_vote(2, 5), 2))
        .expect("admitted");
    let accepted = produce(&mut chain);
    assert_eq!(status_of(&chain, &next), TxStatus::Ok);
    assert_ne!(accepted.state_root, refused.state_root);
    chain.verify_integrity().expect("consistent");
}

#[test]
fn a_transaction_out_of_fuel_leaves_the_state_root_unchanged_and_the_next_succeeds() {
    let dir = TempDir::new("fuel");
    let mut file = genesis();
    // A double vote is allowed 0.9 M + 2 x 0.2 M = 1.3 M fuel and checks two signatures
    // (about 1.75 M fuel with the runtime's verifier); a wrong-leader proposal is allowed 1.1 M
    // and checks one (about 0.98 M): the first starves and the second goes through.
    file.runtime.fuel_per_tx = 900_000;
    file.runtime.fuel_per_signature = 200_000;
    let mut chain = chain(dir.path(), &file);
    let before = chain.head().state_root;
    let starved = chain
        .submit(&envelope(&double_vote(1, 5), 0))
        .expect("admitted");
    let block = produce(&mut chain);
    let record = chain.tx(&starved).expect("readable").expect("committed");
    assert_eq!(record.result.status, TxStatus::OutOfFuel);
    assert!(record.result.fuel_used <= 1_300_000);
    assert!(record.result.events.is_empty());
    assert_eq!(
        block.state_root, before,
        "running out of fuel changes no state"
    );
    let wrong_leader = Msg::SubmitEvidence(network().wrong_leader(3, 5));
    let next = chain.submit(&envelope(&wrong_leader, 1)).expect("admitted");
    let block = produce(&mut chain);
    assert_eq!(status_of(&chain, &next), TxStatus::Ok);
    assert_ne!(block.state_root, before);
    chain.verify_integrity().expect("consistent");
}

#[test]
fn two_nodes_fed_the_same_transactions_produce_identical_blocks_and_state_roots() {
    let (a_dir, b_dir) = (TempDir::new("node-a"), TempDir::new("node-b"));
    let mut a = chain(a_dir.path(), &genesis());
    let mut b = chain(b_dir.path(), &genesis());
    assert_eq!(a.head().hash(), b.head().hash(), "same genesis block");
    let mut nonce = 0;
    for block in 0..4u64 {
        let txs = [
            envelope(&double_vote((block % 3) as u32 + 1, 5 + block), nonce),
            envelope(&certificates(20 + block), nonce + 1),
            // Operator 6 again in every block: accepted once, then refused as already banned;
            // results are part of the block.
            envelope(&double_vote(6, 1_000_000), nonce + 2),
        ];
        nonce += 3;
        for tx in &txs {
            a.submit(tx).expect("a admits");
            b.submit(tx).expect("b admits");
        }
        let time = GENESIS_TIME + 1_000 * (block + 1);
        let (ha, hb) = (
            a.produce_block(time).expect("a commits"),
            b.produce_block(time).expect("b commits"),
        );
        assert_eq!(ha, hb, "block {} differs between the nodes", ha.height);
        assert_eq!(ha.hash(), hb.hash());
    }
    for h in 0..=a.head().height {
        assert_eq!(a.block(h).expect("a"), b.block(h).expect("b"));
    }
}

#[test]
fn replayed_foreign_and_forged_envelopes_are_refused() {
    let dir = TempDir::new("replay");
    let mut chain = chain(dir.path(), &genesis());
    let tx = envelope(&double_vote(1, 5), 0);
    chain.submit(&tx).expect("admitted");
    assert!(matches!(
        chain.submit(&tx),
        Err(SubmitError::Mempool(MempoolError::Duplicate))
    ));
    produce(&mut chain);
    assert!(matches!(
        chain.submit(&tx),
        Err(SubmitError::AlreadyCommitted)
    ));
    // The same nonce with another payload is a replayed nonce.
    assert!(matches!(
        chain.submit(&envelope(&certificates(30), 0)),
        Err(SubmitError::Mempool(MempoolError::NonceUsed {
            nonce: 0,
            next: 1
        }))
    ));
    // Signed for another chain.
    assert!(matches!(
        chain.submit(&envelope_from(
            REPORTER_SEED,
            CHAIN_ID + 1,
            &certificates(30),
            1
        )),
        Err(SubmitError::Envelope(EnvelopeError::ForeignChain { .. }))
    ));
    // A signature that does not match: flip a byte of the payload.
    let mut forged = envelope(&certificates(30), 1);
    let at = forged.len() - 70;
    forged[at] ^= 1;
    assert!(matches!(
        chain.submit(&forged),
        Err(SubmitError::Envelope(
            EnvelopeError::BadSignature | EnvelopeError::Malformed
        ))
    ));
    // Trailing bytes and garbage.
    let mut trailing = envelope(&certificates(30), 1);
    trailing.push(0);
    assert!(matches!(
        chain.submit(&trailing),
        Err(SubmitError::Envelope(EnvelopeError::Malformed))
    ));
    assert!(matches!(
        chain.submit(&[0xff; 7]),
        Err(SubmitError::Envelope(EnvelopeError::Malformed))
    ));
    // The replay is still refused after a restart.
    drop(chain);
    let mut chain = Chain::open(dir.path()).expect("reopens");
    assert!(matches!(
        chain.submit(&tx),
        Err(SubmitError::AlreadyCommitted)
    ));
    assert_eq!(chain.head().height, 1);
}

#[test]
fn the_sender_becomes_the_modules_caller() {
    let dir = TempDir::new("caller");
    let mut chain = chain(dir.path(), &genesis());
    let evidence = chain
        .submit(&envelope(&double_vote(1, 5), 0))
        .expect("admitted");
    produce(&mut chain);
    let record = chain.tx(&evidence).expect("readable").expect("committed");
    let reporter = public(&key(REPORTER_SEED));
    assert!(record.result.events.iter().any(|e| matches!(
        e,
        Event::EvidenceAccepted { reporter: Some(r), .. } if *r == reporter
    )));
    // Only the authority may veto: the reporter is refused, the authority is not.
    let veto = Msg::VetoSlashing { id: 0 };
    let by_reporter = chain.submit(&envelope(&veto, 1)).expect("admitted");
    let by_authority = chain
        .submit(&envelope_from(AUTHORITY_SEED, CHAIN_ID, &veto, 0))
        .expect("admitted");
    produce(&mut chain);
    assert!(matches!(
        status_of(&chain, &by_reporter),
        TxStatus::Refused(Error::Unauthorized)
    ));
    assert_eq!(status_of(&chain, &by_authority), TxStatus::Ok);
}

#[test]
fn a_block_takes_each_senders_transactions_in_nonce_order() {
    let dir = TempDir::new("order");
    let mut chain = chain(dir.path(), &genesis());
    let second = chain
        .submit(&envelope(&certificates(11), 1))
        .expect("admitted ahead of its turn");
    let first = chain
        .submit(&envelope(&certificates(10), 0))
        .expect("admitted");
    produce(&mut chain);
    let block = chain.block(1).expect("readable").expect("stored");
    assert_eq!(block.txs, vec![first, second]);
    assert_eq!(status_of(&chain, &second), TxStatus::Ok);
}

#[test]
fn a_genesis_the_module_refuses_creates_no_chain() {
    let dir = TempDir::new("bad-genesis");
    let mut file = genesis();
    file.config.reputation.baseline = file.config.reputation.max + 1;
    let err = Chain::init(&file, dir.path()).expect_err("refused");
    assert!(format!("{err:#}").contains("InvalidConfig"), "{err:#}");
    assert!(Chain::open(dir.path()).is_err());
    // A directory holding a chain is never initialised twice.
    let ok = TempDir::new("twice");
    drop(chain(ok.path(), &genesis()));
    assert!(Chain::init(&genesis(), ok.path()).is_err());
}

#[test]
fn the_compiled_module_is_cached_on_disk_and_a_damaged_cache_is_rebuilt() {
    let dir = TempDir::new("cache");
    let config = ExecutorConfig::default();
    Executor::cached(config, dir.path()).expect("compiles and caches");
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listable")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "one cached module: {files:?}");
    let name = files[0]
        .file_name()
        .expect("named")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("warden-module-") && name.ends_with(".cwasm"),
        "{name}"
    );
    let exec = Executor::cached(config, dir.path()).expect("loads the cache");
    assert!(
        exec.verify(&[]).module_error().is_some(),
        "the cached module runs"
    );
    // The loaded module maps the file: damage it only once no executor uses it (the cache
    // itself only ever replaces the file by a rename, never rewrites it in place).
    drop(exec);
    std::fs::write(&files[0], b"not a compiled module").expect("writable");
    let exec = Executor::cached(config, dir.path()).expect("recompiles");
    assert!(exec.verify(&[]).module_error().is_some());
    assert!(
        std::fs::metadata(&files[0]).expect("exists").len() > 1_000,
        "rewritten"
    );
}
