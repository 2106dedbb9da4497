//! Every group of the hosts' `FaultToleranceConfig` that concerns the chain reaches the module
//! of every chain Warden creates, and changing it changes the outcome: the evidence retention
//! period, the quarantine length and the reputation policy, through the module in wasm, through
//! `warden chain genesis`, and through the simulator's closed loop.

use warden_host::chain::cli::{run, ChainAction};
use warden_host::chain::genesis::GenesisFile;
use warden_host::ft::FaultToleranceConfig;
use warden_host::test_utils::{FaultToleranceTestFramework, TimingAttackScenario, DEFAULT_SEED};
use warden_module::config::Config;
use warden_module::error::Error;
use warden_module::msg::Msg;
use warden_module::state::IsolationState;
use warden_tests::{accuse, all_but, authority_rotation, err, ok, rotated, Chain, TestNetwork};

const CHAIN_ID: u64 = 7;

/// A four-validator test network whose module runs `cfg`'s chain settings.
fn network(cfg: &FaultToleranceConfig) -> TestNetwork {
    let mut net = TestNetwork::new(CHAIN_ID, 4);
    net.config = cfg.module_config();
    net
}

fn cfg_with(f: impl FnOnce(&mut FaultToleranceConfig)) -> FaultToleranceConfig {
    let mut cfg = FaultToleranceConfig::default();
    f(&mut cfg);
    cfg.validate().expect("a valid configuration");
    cfg
}

#[test]
fn the_default_configuration_gives_the_modules_defaults() {
    assert_eq!(
        FaultToleranceConfig::default().module_config(),
        Config::default()
    );
}

#[test]
fn the_evidence_retention_period_decides_when_evidence_expires() {
    // Evidence of epoch 1, submitted in epoch 3: admissible while two epochs before the
    // current one are retained, expired when only one is.
    let outcome = |retention: u64| {
        let cfg = cfg_with(|c| c.evidence.evidence_retention_period = retention);
        let net = network(&cfg);
        let authority = Some(net.authority_key());
        let mut chain = Chain::new(&net);
        for epoch in 2..=3 {
            ok(chain.submit(authority, &authority_rotation(&rotated(&net, epoch, &[]))));
        }
        chain.submit(None, &Msg::SubmitEvidence(net.double_vote(1, 5)))
    };
    ok(outcome(2));
    assert_eq!(
        err(outcome(1)),
        Error::Expired {
            epoch: 1,
            oldest: 2
        }
    );
}

#[test]
fn a_longer_quarantine_duration_keeps_an_offender_out_for_longer() {
    let until = |blocks: u64| {
        let cfg = cfg_with(|c| c.isolation.quarantine_duration_blocks = blocks);
        let mut net = network(&cfg);
        // Quarantine at the first accusation.
        net.config.isolation.warnings_before_quarantine = 0;
        let mut chain = Chain::new(&net);
        let at = chain.height;
        ok(chain.submit(None, &accuse(&net, 3, 10, 15, &all_but(&net, &[3]))));
        match chain.isolation(3) {
            IsolationState::Quarantined { until, .. } => until - at,
            other => panic!("operator 3 is {other:?}, not quarantined"),
        }
    };
    let short = until(20);
    let long = until(200);
    assert!(short <= 21 && long >= 200, "short {short}, long {long}");
}

#[test]
fn the_reputation_policy_decides_what_an_offence_costs_and_when_probation_ends() {
    let score_after_offence = |enabled: bool| {
        let cfg = cfg_with(|c| c.reputation.reputation_system_enabled = enabled);
        let net = network(&cfg);
        let mut chain = Chain::new(&net);
        ok(chain.submit(None, &Msg::SubmitEvidence(net.double_vote(2, 5))));
        chain.score(2)
    };
    let baseline = Config::default().reputation.baseline;
    assert!(score_after_offence(true) < baseline);
    assert_eq!(score_after_offence(false), baseline);

    let cfg = cfg_with(|c| {
        c.reputation.rehabilitation_threshold_ppm = 700_000;
        c.reputation.reputation_decay_rate_ppm = 0;
    });
    let mut chain = Chain::new(&network(&cfg));
    let config = chain.config();
    assert_eq!(config.reputation.rehabilitation_threshold, 700_000);
    assert_eq!(config.reputation.decay_ppm, 0);
}

#[test]
fn warden_chain_genesis_writes_the_configurations_module_settings() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("genesis.toml");
    let cfg = cfg_with(|c| {
        c.evidence.evidence_retention_period = 5;
        c.isolation.quarantine_duration_blocks = 33;
        c.reputation.reputation_decay_rate_ppm = 250_000;
    });
    run(
        ChainAction::Genesis {
            chain_id: CHAIN_ID,
            validators: 4,
            out: out.clone(),
        },
        &cfg,
    )
    .expect("genesis written");
    let file = GenesisFile::read(&out).expect("a genesis file");
    let chain = warden_host::chain::Chain::init(&file, &dir.path().join("data")).expect("init");
    let outcome = chain
        .query(&borsh::to_vec(&warden_module::msg::Query::Config).expect("encode"))
        .expect("query");
    let config: Config =
        match borsh::from_slice(&outcome.result.expect("answered")).expect("decode") {
            warden_module::msg::QueryResponse::Config(c) => c,
            other => panic!("unexpected answer {other:?}"),
        };
    assert_eq!(config, cfg.module_config());
    assert_eq!(config.retention_epochs, 5);
    assert_eq!(config.isolation.short_quarantine_blocks, 33);
    assert_eq!(config.reputation.decay_ppm, 250_000);
}

#[test]
fn the_closed_loops_chain_quarantines_for_the_configured_duration() {
    // A timing attacker is quarantined early in the run. With a 15-block quarantine (1.5 s of
    // simulated blocks) it comes back on probation within the run; with 1,000 blocks it does
    // not.
    let changes = |blocks: u64| {
        let cfg = cfg_with(|c| c.isolation.quarantine_duration_blocks = blocks);
        let framework = FaultToleranceTestFramework::new(cfg);
        let report = framework.test_timing_attack_detection(TimingAttackScenario {
            seed: DEFAULT_SEED,
            ..TimingAttackScenario::default()
        });
        let warden = report.warden.expect("a closed-loop run");
        warden
            .isolation
            .iter()
            .map(|c| (c.operator, c.change.clone()))
            .collect::<Vec<_>>()
    };
    let short = changes(15);
    let long = changes(1_000);
    let has = |list: &[(u32, String)], what: &str| list.iter().any(|(_, c)| c == what);
    assert!(has(&short, "quarantined") && has(&long, "quarantined"));
    assert!(has(&short, "probation"), "{short:?}");
    assert!(!has(&long, "probation"), "{long:?}");
}
