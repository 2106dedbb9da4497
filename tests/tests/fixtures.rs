//! The golden fixture vectors in `fixtures/`: current with the code, passing through the wasm
//! module and the native build, and covering every evidence kind and every named error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use borsh::BorshDeserialize;
use warden_host::fixtures::{self, VectorFile};
use warden_module::evidence::{Behaviour, Evidence, ProposalViolation};
use warden_module::msg::Msg;
use warden_module::wire::{CertificateKind, Message};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn vector_files() -> Vec<VectorFile> {
    let files = fixtures::load(&fixture_dir()).expect("the fixture vectors load");
    assert!(
        !files.is_empty(),
        "no vector files in {}",
        fixture_dir().display()
    );
    files
}

/// Every error the evidence and governance rules name; each must be the expected outcome of
/// at least one vector.
const ERRORS: &[&str] = &[
    "Decode",
    "TooLarge",
    "NotConflicting",
    "ViewMismatch",
    "EpochMismatch",
    "SignerMismatch",
    "UnknownEpoch",
    "UnknownValidator",
    "BadSignature",
    "Duplicate",
    "Expired",
    "FutureEpoch",
    "AlreadyBanned",
    "InsufficientWitnesses",
    "Unauthorized",
    "ViolationNotProven",
    "InvalidViewRange",
    "InvalidConfig",
    "WeakKey",
    "DuplicateKey",
    "InvalidValidatorSet",
    "InvalidPower",
    "EpochNotAfter",
    "UnknownProposal",
    "DeferralPending",
    "NotPending",
    "UnsortedSigners",
    "EmptyBatch",
];

/// The name of a violation. The match has no wildcard, so a new rule fails to compile here
/// until it is listed in [`VIOLATIONS`] and given an accepted vector.
fn violation_name(v: &ProposalViolation) -> &'static str {
    match v {
        ProposalViolation::WrongLeader => "WrongLeader",
        ProposalViolation::ProposerNotSigner => "ProposerNotSigner",
        ProposalViolation::ShortCertificate => "ShortCertificate",
        ProposalViolation::BadCertificateSignature { .. } => "BadCertificateSignature",
        ProposalViolation::DuplicateSigner => "DuplicateSigner",
        ProposalViolation::UnknownSigner => "UnknownSigner",
        ProposalViolation::JustifyNotBlockCertificate => "JustifyNotBlockCertificate",
        ProposalViolation::JustifyNotOlder => "JustifyNotOlder",
        ProposalViolation::ParentMismatch => "ParentMismatch",
        ProposalViolation::HeightMismatch => "HeightMismatch",
    }
}

const VIOLATIONS: &[&str] = &[
    "WrongLeader",
    "ProposerNotSigner",
    "ShortCertificate",
    "BadCertificateSignature",
    "DuplicateSigner",
    "UnknownSigner",
    "JustifyNotBlockCertificate",
    "JustifyNotOlder",
    "ParentMismatch",
    "HeightMismatch",
];

/// The name of a Tier 2 behaviour, exhaustive like [`violation_name`].
fn behaviour_name(b: Behaviour) -> &'static str {
    match b {
        Behaviour::ProposalWithholding => "ProposalWithholding",
        Behaviour::VoteWithholding => "VoteWithholding",
        Behaviour::MessageFlooding => "MessageFlooding",
        Behaviour::TimingManipulation => "TimingManipulation",
        Behaviour::SelectiveConnectivity => "SelectiveConnectivity",
    }
}

const BEHAVIOURS: &[&str] = &[
    "ProposalWithholding",
    "VoteWithholding",
    "MessageFlooding",
    "TimingManipulation",
    "SelectiveConnectivity",
];

fn message_kind(m: &Message) -> &'static str {
    match m {
        Message::Proposal(_) => "Proposal",
        Message::Vote(_) => "Vote",
        Message::Vote2(_) => "Vote2",
        Message::Timeout(_) => "Timeout",
    }
}

/// What an accepted transaction exercised, e.g. `DoubleVote/Vote2` or
/// `InvalidProposal/HeightMismatch`.
fn kinds(msg: &Msg) -> Vec<String> {
    match msg {
        Msg::SubmitEvidence(Evidence::DoubleVote { first, second }) => vec![format!(
            "DoubleVote/{}+{}",
            message_kind(&first.message),
            message_kind(&second.message)
        )],
        Msg::SubmitEvidence(Evidence::DoubleProposal { .. }) => vec!["DoubleProposal".into()],
        Msg::SubmitEvidence(Evidence::LockViolation { later, .. }) => {
            vec![format!("LockViolation/{}", message_kind(&later.message))]
        }
        Msg::SubmitEvidence(Evidence::InvalidProposal { violation, .. }) => {
            vec![format!("InvalidProposal/{}", violation_name(violation))]
        }
        Msg::SubmitEvidenceBatch(batch) => batch
            .iter()
            .flat_map(|e| kinds(&Msg::SubmitEvidence(e.clone())))
            .collect(),
        Msg::SubmitAccusation(a) => {
            vec![format!(
                "Accusation/{}",
                behaviour_name(a.accusation.behaviour)
            )]
        }
        Msg::RecordCertificates(list) => list
            .iter()
            .map(|c| {
                format!(
                    "Certificate/{}",
                    match c.kind {
                        CertificateKind::Vote => "Vote",
                        CertificateKind::Vote2 => "Vote2",
                        CertificateKind::Timeout => "Timeout",
                    }
                )
            })
            .collect(),
        Msg::RotateValidators(r) if r.approvals.is_empty() => vec!["Rotation/Authority".into()],
        Msg::RotateValidators(_) => vec!["Rotation/Quorum".into()],
        Msg::UpdateConfig(_) => vec!["UpdateConfig".into()],
        Msg::VetoSlashing { .. } => vec!["VetoSlashing".into()],
        Msg::FinaliseSlashing { .. } => vec!["FinaliseSlashing".into()],
    }
}

#[test]
fn fixture_vectors_match_and_pass_through_wasm() {
    let count = fixtures::check(&fixture_dir()).unwrap_or_else(|e| panic!("{e:#}"));
    let on_disk: usize = vector_files().iter().map(|f| f.vectors.len()).sum();
    assert_eq!(count, on_disk);
}

#[test]
fn fixture_vectors_expect_every_named_error() {
    let expected: BTreeSet<String> = vector_files()
        .iter()
        .flat_map(|f| f.vectors.iter().map(|v| v.expected.clone()))
        .collect();
    let missing: Vec<&str> = ERRORS
        .iter()
        .copied()
        .filter(|e| !expected.contains(*e))
        .collect();
    assert!(missing.is_empty(), "no vector expects {missing:?}");
    assert!(
        expected.contains(fixtures::OK),
        "no vector expects acceptance"
    );
}

#[test]
fn fixture_vectors_accept_every_evidence_kind_and_transaction() {
    let mut accepted = BTreeSet::new();
    for file in vector_files() {
        for v in file.vectors.iter().filter(|v| v.expected == fixtures::OK) {
            let bytes = hex::decode(&v.tx.tx).expect("hex");
            let msg = Msg::try_from_slice(&bytes)
                .unwrap_or_else(|e| panic!("accepted vector {} is not a Msg: {e}", v.name));
            accepted.extend(kinds(&msg));
        }
    }
    let mut required: Vec<String> = vec![
        "DoubleVote/Vote+Vote".into(),
        "DoubleVote/Vote2+Vote2".into(),
        "DoubleProposal".into(),
        "LockViolation/Vote".into(),
        "LockViolation/Timeout".into(),
        "Certificate/Vote".into(),
        "Certificate/Vote2".into(),
        "Certificate/Timeout".into(),
        "Rotation/Authority".into(),
        "Rotation/Quorum".into(),
        "UpdateConfig".into(),
        "VetoSlashing".into(),
        "FinaliseSlashing".into(),
    ];
    required.extend(VIOLATIONS.iter().map(|v| format!("InvalidProposal/{v}")));
    required.extend(BEHAVIOURS.iter().map(|b| format!("Accusation/{b}")));
    let missing: Vec<&String> = required.iter().filter(|k| !accepted.contains(*k)).collect();
    assert!(missing.is_empty(), "no accepted vector for {missing:?}");
}

#[test]
fn fixture_vectors_pin_the_conflict_and_duplicate_rules() {
    // The cases the evidence rules single out, by vector name and expected outcome.
    let pinned = [
        ("double_vote_identical_payloads", "NotConflicting"),
        ("double_vote_malleated_signature", "NotConflicting"),
        ("double_vote_vote_and_timeout", "NotConflicting"),
        (
            "double_vote_malleated_signature_refused_by_verify_strict",
            "BadSignature",
        ),
        ("double_vote_duplicate_swapped", "Duplicate"),
        ("double_vote_duplicate_reencoded", "Duplicate"),
        ("double_vote_duplicate_other_pair", "Duplicate"),
        ("double_vote_duplicate_same_block", "Duplicate"),
        ("double_vote_duplicate_later_block", "Duplicate"),
        ("double_vote_already_banned", "AlreadyBanned"),
        ("rotation_new_key_escapes_nothing", "AlreadyBanned"),
        ("evidence_unknown_epoch", "UnknownEpoch"),
        ("evidence_expired", "Expired"),
        ("evidence_future_epoch", "FutureEpoch"),
        ("rotation_weak_key", "WeakKey"),
        ("update_config_unauthorized", "Unauthorized"),
        ("veto_unauthorized", "Unauthorized"),
    ];
    let by_name: BTreeMap<String, String> = vector_files()
        .into_iter()
        .flat_map(|f| f.vectors.into_iter().map(|v| (v.name, v.expected)))
        .collect();
    for (name, expected) in pinned {
        assert_eq!(
            by_name.get(name).map(String::as_str),
            Some(expected),
            "vector {name}"
        );
    }
}

#[test]
fn fixture_check_names_a_changed_file_and_the_write_command() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("vectors")).expect("temp dir");
    let source = fixture_dir();
    std::fs::copy(source.join("keys.json"), dir.join("keys.json")).expect("copy keys");
    for entry in std::fs::read_dir(source.join("vectors")).expect("vectors") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join("vectors").join(entry.file_name())).expect("copy");
    }
    let target = dir.join("vectors/double_vote.json");
    let text = std::fs::read_to_string(&target).expect("read");
    std::fs::write(&target, text.replacen("\"ok\"", "\"Duplicate\"", 1)).expect("write");

    let err = fixtures::check(&dir).expect_err("a changed vector file is refused");
    let message = format!("{err:#}");
    assert!(message.contains("double_vote.json"), "{message}");
    assert!(message.contains("warden fixtures write"), "{message}");
}
