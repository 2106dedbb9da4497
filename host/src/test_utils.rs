//! Test support for teams integrating Warden into their own node: a [`WardenManager`] over an
//! embedded chain of a test network, Byzantine validators for the simulator, partition
//! scenarios, a detection assertion, and the [`FaultToleranceTestFramework`] that runs the
//! design's fault scenarios through the simulator's closed loop (replicas, hosts running the
//! detector and relayer, and the chain running the module).
//!
//! These helpers are meant for tests: they panic with a clear message (including the command
//! that replays a failing simulation) instead of returning errors.
//!
//! ```no_run
//! use warden_host::test_utils::*;
//! use warden_host::ft::FaultToleranceConfig;
//!
//! let framework = FaultToleranceTestFramework::new(FaultToleranceConfig::default());
//! let report = framework.test_double_voting_detection(DoubleVotingScenario::default());
//! assert!(report.passed());
//! ```

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use warden_module::evidence::OffenceClass;
use warden_module::wire::{OperatorId, SignedMessage};

use crate::chain::genesis::GenesisFile;
use crate::chain::Chain;
use crate::ft::config::FaultToleranceConfig;
use crate::ft::manager::{EmbeddedLink, FaultError, Observation, WardenManager};
use crate::sim::hosts::WardenSpec;
use crate::sim::network::{Crash, NetworkConfig, Partition};
use crate::sim::scenario::{AdversarySpec, Expect, Scenario};
use crate::sim::world::{run_with, RunReport};
use crate::testkit::{key, TestNetwork, REPORTER_SEED};

pub use crate::sim::adversary::{Attack as ByzantineBehavior, InvalidKind};

/// The chain id of the test network.
pub const TEST_CHAIN_ID: u64 = 7;
/// Validators of the test network.
pub const TEST_VALIDATORS: u32 = 4;
/// The operator whose host the test manager runs.
pub const TEST_OPERATOR: OperatorId = 0;
/// The operator [`simulate_byzantine_validator`] makes Byzantine.
pub const DEFAULT_BYZANTINE_OPERATOR: u32 = 1;
/// Simulated time of the framework's scenarios by default, in microseconds.
pub const DEFAULT_DURATION_US: u64 = 8_000_000;
/// Validators of the framework's scenarios by default.
pub const DEFAULT_VALIDATORS: u32 = 7;
/// The seed of the framework's scenarios by default.
pub const DEFAULT_SEED: u64 = 42;

// ----- A manager over an embedded chain --------------------------------------------------

/// A [`WardenManager`] run by operator [`TEST_OPERATOR`] of a [`TEST_VALIDATORS`]-validator
/// [`TestNetwork`], over an embedded chain in a temporary directory removed on drop. It
/// dereferences to the manager; [`network`](Self::network) gives the test keys to sign
/// messages and evidence with.
#[derive(Debug)]
pub struct TestFaultToleranceManager {
    manager: WardenManager<EmbeddedLink>,
    network: TestNetwork,
    // Dropped last: the chain and the relay queue live in it.
    dir: tempfile::TempDir,
}

impl TestFaultToleranceManager {
    /// The test network (its keys sign messages, evidence and co-signatures).
    pub fn network(&self) -> &TestNetwork {
        &self.network
    }

    /// The manager.
    pub fn manager(&self) -> &WardenManager<EmbeddedLink> {
        &self.manager
    }

    /// The manager, mutably.
    pub fn manager_mut(&mut self) -> &mut WardenManager<EmbeddedLink> {
        &mut self.manager
    }

    /// The embedded chain.
    pub fn chain(&self) -> &Chain {
        &self.manager.link().chain
    }

    /// The embedded chain, mutably.
    pub fn chain_mut(&mut self) -> &mut Chain {
        &mut self.manager.link_mut().chain
    }

    /// Produces a chain block at `time_ms`, including what the relayer submitted; returns its
    /// height.
    pub fn produce_block(&mut self, time_ms: u64) -> anyhow::Result<u64> {
        Ok(self.chain_mut().produce_block(time_ms)?.height)
    }

    /// The temporary data directory (chain and relay queue).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Deref for TestFaultToleranceManager {
    type Target = WardenManager<EmbeddedLink>;

    fn deref(&self) -> &Self::Target {
        &self.manager
    }
}

impl DerefMut for TestFaultToleranceManager {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.manager
    }
}

/// A test manager with the default configuration (see [`TestFaultToleranceManager`]).
///
/// # Panics
/// If the temporary directory or the chain cannot be created.
pub fn create_test_fault_tolerance_manager() -> TestFaultToleranceManager {
    match create_test_fault_tolerance_manager_with(FaultToleranceConfig::default()) {
        Ok(m) => m,
        Err(e) => panic!("cannot create the test fault-tolerance manager: {e}"),
    }
}

/// A test manager with `cfg`; an invalid configuration is refused.
pub fn create_test_fault_tolerance_manager_with(
    cfg: FaultToleranceConfig,
) -> Result<TestFaultToleranceManager, FaultError> {
    let network = TestNetwork::new(TEST_CHAIN_ID, TEST_VALIDATORS);
    let dir = tempfile::Builder::new()
        .prefix("warden-ft-test-")
        .tempdir()
        .map_err(|e| FaultError::Storage(e.to_string()))?;
    let genesis = GenesisFile::from_network(&network, 0);
    let chain = Chain::init(&genesis, &dir.path().join("chain"))
        .map_err(|e| FaultError::Chain(format!("{e:#}")))?;
    let link = EmbeddedLink::new(chain, key(REPORTER_SEED));
    let operator_key = network.keys[TEST_OPERATOR as usize].clone();
    let manager = WardenManager::open(cfg, dir.path(), TEST_OPERATOR, operator_key, link)?;
    Ok(TestFaultToleranceManager {
        manager,
        network,
        dir,
    })
}

/// The two conflicting phase-1 votes of a double vote by `operator` in `view`, signed with the
/// test keys.
pub fn double_vote_messages(
    network: &TestNetwork,
    operator: OperatorId,
    view: u64,
) -> [SignedMessage; 2] {
    [
        network.vote(operator, view, [1; 32], 0),
        network.vote(operator, view, [2; 32], 0),
    ]
}

/// The double vote of `operator` in `view` as two observations received from it at `at_us`
/// and `at_us + 1000`.
pub fn double_vote_observations(
    network: &TestNetwork,
    operator: OperatorId,
    view: u64,
    at_us: u64,
) -> [Observation; 2] {
    let [a, b] = double_vote_messages(network, operator, view);
    [
        Observation::signed(at_us, operator, a),
        Observation::signed(at_us.saturating_add(1_000), operator, b),
    ]
}

// ----- Byzantine validators and scenarios ------------------------------------------------

/// A Byzantine validator of a simulated network: its operator index and behaviours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByzantineValidator {
    /// The operator index.
    pub operator: u32,
    /// What it does.
    pub behaviours: Vec<ByzantineBehavior>,
}

impl ByzantineValidator {
    /// The same behaviours by `operator`.
    pub fn at(mut self, operator: u32) -> Self {
        self.operator = operator;
        self
    }

    /// One more behaviour.
    pub fn and(mut self, behaviour: ByzantineBehavior) -> Self {
        if !self.behaviours.contains(&behaviour) {
            self.behaviours.push(behaviour);
        }
        self
    }

    /// The scenario entry making it Byzantine.
    pub fn spec(&self) -> AdversarySpec {
        AdversarySpec {
            validator: self.operator,
            behaviours: self.behaviours.clone(),
        }
    }

    /// The offence classes its behaviours commit.
    pub fn offence_classes(&self) -> Vec<OffenceClass> {
        self.behaviours.iter().map(offence_class).collect()
    }
}

/// The offence class a simulated behaviour commits.
pub fn offence_class(behaviour: &ByzantineBehavior) -> OffenceClass {
    match behaviour {
        ByzantineBehavior::DoubleVote { .. } => OffenceClass::DoubleVote,
        ByzantineBehavior::DoubleProposal => OffenceClass::DoubleProposal,
        ByzantineBehavior::LockViolation | ByzantineBehavior::Amnesia { .. } => {
            OffenceClass::LockViolation
        }
        ByzantineBehavior::InvalidProposal { .. } => OffenceClass::InvalidProposal,
        ByzantineBehavior::ProposalWithholding => OffenceClass::ProposalWithholding,
        ByzantineBehavior::VoteWithholding => OffenceClass::VoteWithholding,
        ByzantineBehavior::Flooding { .. } => OffenceClass::MessageFlooding,
        ByzantineBehavior::TimingManipulation { .. } => OffenceClass::TimingManipulation,
        ByzantineBehavior::SelectiveConnectivity { .. } => OffenceClass::SelectiveConnectivity,
    }
}

/// Validator [`DEFAULT_BYZANTINE_OPERATOR`] behaving as `behavior` (move it with
/// [`ByzantineValidator::at`]).
pub fn simulate_byzantine_validator(behavior: ByzantineBehavior) -> ByzantineValidator {
    ByzantineValidator {
        operator: DEFAULT_BYZANTINE_OPERATOR,
        behaviours: vec![behavior],
    }
}

/// A simulator scenario of `validators` equal validators for `duration_us`, with the
/// fault-tolerance closed loop on and nothing faulty yet.
pub fn base_scenario(name: &str, seed: u64, validators: u32, duration_us: u64) -> Scenario {
    Scenario {
        name: name.to_string(),
        description: String::new(),
        seed,
        validators,
        powers: Vec::new(),
        duration_us,
        stop_at_view: None,
        base_timeout_us: 60_000,
        max_backoff_exp: 4,
        network: NetworkConfig::default(),
        adversaries: Vec::new(),
        twins: Vec::new(),
        crashes: Vec::new(),
        warden: Some(WardenSpec::default()),
        expect: Expect::default(),
    }
}

/// A network split into groups for a while, as a runnable scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionScenario {
    /// The scenario (edit it freely before running).
    pub scenario: Scenario,
}

/// The split starts at this time by default, in microseconds.
pub const PARTITION_START_US: u64 = 500_000;
/// The split heals at this time by default, in microseconds.
pub const PARTITION_END_US: u64 = 2_000_000;

/// A scenario of as many validators as the groups hold nodes, split into `partitions` from
/// 0.5 s and healing at 2 s, with the closed loop on.
pub fn create_network_partition_scenario(partitions: &[&[u32]]) -> PartitionScenario {
    let total = partitions.iter().map(|p| p.len()).sum::<usize>();
    let highest = partitions
        .iter()
        .flat_map(|p| p.iter())
        .map(|n| *n as usize + 1)
        .max()
        .unwrap_or(0);
    let validators = total.max(highest).max(1) as u32;
    let mut scenario = base_scenario("partition", DEFAULT_SEED, validators, DEFAULT_DURATION_US);
    scenario.network.partitions.push(Partition {
        start_us: PARTITION_START_US,
        end_us: PARTITION_END_US,
        groups: partitions.iter().map(|p| p.to_vec()).collect(),
    });
    PartitionScenario { scenario }
}

impl Default for PartitionScenario {
    /// Seven validators split 4/3 (no quorum on either side).
    fn default() -> Self {
        create_network_partition_scenario(&[&[0, 1, 2, 3], &[4, 5, 6]])
    }
}

// ----- Assertions ------------------------------------------------------------------------

/// An offence class given by value or by name (e.g. `"DoubleVote"`).
pub trait OffenceName {
    /// The class's name as the run report writes it.
    fn offence_name(&self) -> String;
}

impl OffenceName for OffenceClass {
    fn offence_name(&self) -> String {
        format!("{self:?}")
    }
}

impl OffenceName for &str {
    fn offence_name(&self) -> String {
        (*self).to_string()
    }
}

impl OffenceName for String {
    fn offence_name(&self) -> String {
        self.clone()
    }
}

/// The command that replays `report`'s scenario (written to `<name>.toml`).
pub fn replay_of(report: &RunReport) -> String {
    crate::sim::replay_command(&format!("{}.toml", report.name), report.seed)
}

fn fail(report: &RunReport, what: &str) -> ! {
    panic!(
        "{what}\nseed {seed}; replay with `{replay}`\n{summary}",
        seed = report.seed,
        replay = replay_of(report),
        summary = report.summary(&replay_of(report))
    )
}

/// Asserts that each expected `(operator, class)` was detected, put on chain and isolated, and
/// that no honest validator was accused.
///
/// # Panics
/// With the seed, the replay command and the run's summary, if not.
pub fn assert_fault_detection<C: OffenceName>(report: &RunReport, expected: &[(u32, C)]) {
    let Some(warden) = &report.warden else {
        fail(
            report,
            "the run had no fault-tolerance layer (scenario.warden is None)",
        );
    };
    for (operator, class) in expected {
        let class = class.offence_name();
        let Some(fault) = warden
            .faults
            .iter()
            .find(|f| f.operator == *operator && f.class == class)
        else {
            fail(report, &format!("{class} by {operator} was not detected"));
        };
        if fault.detected_us.is_none() {
            fail(report, &format!("{class} by {operator} was not detected"));
        }
        if fault.on_chain_us.is_none() {
            fail(
                report,
                &format!("{class} by {operator} was detected but never reached the chain"),
            );
        }
        if fault.isolation.is_none() || fault.isolated_us.is_none() {
            fail(
                report,
                &format!("{class} by {operator} reached the chain but was not isolated"),
            );
        }
    }
    if !warden.honest_isolated.is_empty() {
        fail(
            report,
            &format!(
                "honest validators were accused or isolated: {:?}",
                warden.honest_isolated
            ),
        );
    }
}

/// Asserts that the run passed (safety, liveness, expected height, no layer failure, no honest
/// validator isolated).
///
/// # Panics
/// With the seed, the replay command and the run's summary, if not.
pub fn assert_passed(report: &RunReport) {
    if !report.passed() {
        fail(report, &format!("scenario {} failed", report.name));
    }
}

// ----- The framework ---------------------------------------------------------------------

/// Validators double-voting in every view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleVotingScenario {
    /// The simulator's seed.
    pub seed: u64,
    /// Validators.
    pub validators: u32,
    /// The double voters.
    pub byzantine: Vec<u32>,
    /// The phase of the conflicting votes (1 or 2).
    pub phase: u8,
    /// Simulated time, in microseconds.
    pub duration_us: u64,
}

impl Default for DoubleVotingScenario {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            validators: DEFAULT_VALIDATORS,
            byzantine: vec![DEFAULT_BYZANTINE_OPERATOR],
            phase: 1,
            duration_us: DEFAULT_DURATION_US,
        }
    }
}

/// A validator proposing invalid blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidProposalScenario {
    /// The simulator's seed.
    pub seed: u64,
    /// Validators.
    pub validators: u32,
    /// The offender.
    pub byzantine: u32,
    /// What is wrong with its proposals.
    pub invalid: InvalidKind,
    /// Simulated time, in microseconds.
    pub duration_us: u64,
}

impl Default for InvalidProposalScenario {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            validators: DEFAULT_VALIDATORS,
            byzantine: DEFAULT_BYZANTINE_OPERATOR,
            invalid: InvalidKind::WrongLeader,
            duration_us: DEFAULT_DURATION_US,
        }
    }
}

/// A validator delaying every message it sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimingAttackScenario {
    /// The simulator's seed.
    pub seed: u64,
    /// Validators.
    pub validators: u32,
    /// The offender.
    pub byzantine: u32,
    /// The delay, in microseconds.
    pub delay_us: u64,
    /// Simulated time, in microseconds.
    pub duration_us: u64,
}

impl Default for TimingAttackScenario {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            validators: DEFAULT_VALIDATORS,
            byzantine: DEFAULT_BYZANTINE_OPERATOR,
            delay_us: 40_000,
            duration_us: DEFAULT_DURATION_US,
        }
    }
}

/// More than f validators crash, so views stall until they restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckViewScenario {
    /// The simulator's seed.
    pub seed: u64,
    /// Validators.
    pub validators: u32,
    /// The validators that crash.
    pub crashed: Vec<u32>,
    /// When they crash, in microseconds.
    pub crash_at_us: u64,
    /// When they restart, in microseconds.
    pub restart_at_us: u64,
    /// Simulated time, in microseconds.
    pub duration_us: u64,
}

impl Default for StuckViewScenario {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            validators: DEFAULT_VALIDATORS,
            crashed: vec![4, 5, 6],
            crash_at_us: 1_000_000,
            restart_at_us: 3_000_000,
            duration_us: DEFAULT_DURATION_US,
        }
    }
}

/// A Byzantine validator banned on chain and left out of the next epoch, after which
/// consensus goes on without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsolationScenario {
    /// The simulator's seed.
    pub seed: u64,
    /// Validators.
    pub validators: u32,
    /// The offender and its behaviours.
    pub byzantine: ByzantineValidator,
    /// Committed heights per epoch (short, so the next epoch starts within the run).
    pub epoch_heights: u64,
    /// Simulated time, in microseconds.
    pub duration_us: u64,
}

impl Default for IsolationScenario {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            validators: DEFAULT_VALIDATORS,
            byzantine: simulate_byzantine_validator(ByzantineBehavior::DoubleVote { phase: 1 }),
            epoch_heights: 20,
            duration_us: DEFAULT_DURATION_US,
        }
    }
}

/// Several failures one after another: a Byzantine validator, crashes and a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureCascade {
    /// The simulator's seed.
    pub seed: u64,
    /// Validators.
    pub validators: u32,
    /// Byzantine validators.
    pub byzantine: Vec<ByzantineValidator>,
    /// Honest validators crashing (and restarting).
    pub crashes: Vec<Crash>,
    /// Network splits.
    pub partitions: Vec<Partition>,
    /// Simulated time, in microseconds.
    pub duration_us: u64,
}

impl Default for FailureCascade {
    fn default() -> Self {
        Self {
            seed: DEFAULT_SEED,
            validators: DEFAULT_VALIDATORS,
            byzantine: vec![simulate_byzantine_validator(
                ByzantineBehavior::DoubleVote { phase: 1 },
            )],
            crashes: vec![Crash {
                node: 3,
                at_us: 1_000_000,
                restart_us: Some(2_000_000),
                lose_disk: false,
            }],
            partitions: vec![Partition {
                start_us: 3_000_000,
                end_us: 4_000_000,
                groups: vec![vec![0, 1, 2, 3], vec![4, 5, 6]],
            }],
            duration_us: DEFAULT_DURATION_US,
        }
    }
}

/// Runs the design's fault scenarios through the simulator's closed loop with one
/// [`FaultToleranceConfig`] for every host, asserts their outcome, and returns the run report.
/// Each test panics (with the seed and the replay command) when the outcome is wrong.
#[derive(Clone, Debug)]
pub struct FaultToleranceTestFramework {
    cfg: FaultToleranceConfig,
    data_dir: Option<PathBuf>,
}

impl FaultToleranceTestFramework {
    /// A framework whose hosts run with `cfg`.
    pub fn new(cfg: FaultToleranceConfig) -> Self {
        Self {
            cfg,
            data_dir: None,
        }
    }

    /// Keeps the chain and relay queues of each run in `dir` (a temporary directory otherwise).
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The hosts' configuration.
    pub fn config(&self) -> &FaultToleranceConfig {
        &self.cfg
    }

    /// Runs `scenario` (the closed loop is switched on if it is off).
    pub fn run(&self, scenario: &Scenario) -> RunReport {
        let mut scenario = scenario.clone();
        if scenario.warden.is_none() {
            scenario.warden = Some(WardenSpec::default());
        }
        if let Err(e) = scenario.validate() {
            panic!("scenario {} is invalid: {e}", scenario.name);
        }
        run_with(&scenario, &self.cfg, self.data_dir.as_deref())
    }

    fn run_byzantine(&self, mut scenario: Scenario, byzantine: &[ByzantineValidator]) -> RunReport {
        scenario.adversaries = byzantine.iter().map(ByzantineValidator::spec).collect();
        let report = self.run(&scenario);
        assert_passed(&report);
        let expected: Vec<(u32, OffenceClass)> = byzantine
            .iter()
            .flat_map(|b| b.offence_classes().into_iter().map(|c| (b.operator, c)))
            .collect();
        assert_fault_detection(&report, &expected);
        if report.height == 0 {
            fail(&report, "nothing was committed");
        }
        report
    }

    /// Double voters are detected, proven on chain and banned; commits continue.
    pub fn test_double_voting_detection(&self, scenario: DoubleVotingScenario) -> RunReport {
        let byzantine: Vec<ByzantineValidator> = scenario
            .byzantine
            .iter()
            .map(|v| {
                simulate_byzantine_validator(ByzantineBehavior::DoubleVote {
                    phase: scenario.phase,
                })
                .at(*v)
            })
            .collect();
        let base = base_scenario(
            "double-voting",
            scenario.seed,
            scenario.validators,
            scenario.duration_us,
        );
        self.run_byzantine(base, &byzantine)
    }

    /// A validator proposing invalid blocks is detected, proven on chain and isolated.
    pub fn test_invalid_proposal_detection(&self, scenario: InvalidProposalScenario) -> RunReport {
        let byzantine = simulate_byzantine_validator(ByzantineBehavior::InvalidProposal {
            invalid: scenario.invalid,
        })
        .at(scenario.byzantine);
        let base = base_scenario(
            "invalid-proposal",
            scenario.seed,
            scenario.validators,
            scenario.duration_us,
        );
        self.run_byzantine(base, &[byzantine])
    }

    /// A validator delaying its messages is suspected, accused with co-signers, and
    /// quarantined.
    pub fn test_timing_attack_detection(&self, scenario: TimingAttackScenario) -> RunReport {
        let byzantine = simulate_byzantine_validator(ByzantineBehavior::TimingManipulation {
            delay_us: scenario.delay_us,
        })
        .at(scenario.byzantine);
        let base = base_scenario(
            "timing-attack",
            scenario.seed,
            scenario.validators,
            scenario.duration_us,
        );
        self.run_byzantine(base, &[byzantine])
    }

    /// Views stall while more than f validators are down; hosts start emergency view changes
    /// and commits resume after the restart, with no honest validator accused.
    pub fn test_view_change_recovery(&self, scenario: StuckViewScenario) -> RunReport {
        let mut base = base_scenario(
            "stuck-view",
            scenario.seed,
            scenario.validators,
            scenario.duration_us,
        );
        base.crashes = scenario
            .crashed
            .iter()
            .map(|node| Crash {
                node: *node,
                at_us: scenario.crash_at_us,
                restart_us: Some(scenario.restart_at_us),
                lose_disk: false,
            })
            .collect();
        let report = self.run(&base);
        assert_passed(&report);
        assert_fault_detection::<&str>(&report, &[]);
        let Some(warden) = &report.warden else {
            fail(&report, "the run had no fault-tolerance layer");
        };
        if warden.emergency_view_changes == 0 {
            fail(&report, "no host started an emergency view change");
        }
        if report.height == 0 {
            fail(&report, "nothing was committed");
        }
        report
    }

    /// The split is seen, the network heals, commits resume, nobody honest is accused.
    pub fn test_network_partition_recovery(&self, scenario: PartitionScenario) -> RunReport {
        let report = self.run(&scenario.scenario);
        assert_passed(&report);
        assert_fault_detection::<&str>(&report, &[]);
        let Some(warden) = &report.warden else {
            fail(&report, "the run had no fault-tolerance layer");
        };
        if !scenario.scenario.network.partitions.is_empty() {
            let Some(episode) = warden.partitions.first() else {
                fail(&report, "the split was not seen");
            };
            if episode.healed_us.is_none() {
                fail(&report, "the split never healed");
            }
            if episode.resumed_us.is_none() {
                fail(&report, "commits did not resume after the heal");
            }
        }
        report
    }

    /// The offender is isolated on chain, loses its power at the next epoch, and the network
    /// commits on without it.
    pub fn test_validator_isolation_recovery(&self, scenario: IsolationScenario) -> RunReport {
        let mut base = base_scenario(
            "isolation-recovery",
            scenario.seed,
            scenario.validators,
            scenario.duration_us,
        );
        if let Some(w) = base.warden.as_mut() {
            w.epoch_heights = scenario.epoch_heights.max(1);
        }
        let operator = scenario.byzantine.operator;
        let report = self.run_byzantine(base, std::slice::from_ref(&scenario.byzantine));
        let Some(warden) = &report.warden else {
            fail(&report, "the run had no fault-tolerance layer");
        };
        if !warden
            .faults
            .iter()
            .any(|f| f.operator == operator && f.power_lost_us.is_some())
        {
            fail(
                &report,
                &format!("operator {operator} kept its power: no later epoch left it out"),
            );
        }
        let Some(last) = warden.epochs.last() else {
            fail(&report, "no epoch was recorded");
        };
        if last
            .validators
            .iter()
            .any(|(o, p)| *o == operator && *p > 0)
        {
            fail(
                &report,
                &format!("operator {operator} still has power in the last epoch"),
            );
        }
        if report.height <= last.start_height {
            fail(
                &report,
                "nothing was committed after the offender was left out",
            );
        }
        report
    }

    /// `byzantine_count` double voters among `3 * byzantine_count + 1` validators (the most
    /// the protocol tolerates): all are banned and safety holds.
    pub fn test_maximum_byzantine_tolerance(&self, byzantine_count: usize) -> RunReport {
        let count = u32::try_from(byzantine_count).unwrap_or(u32::MAX).min(100);
        let validators = (3 * count + 1).max(4);
        let scenario = DoubleVotingScenario {
            validators,
            byzantine: (1..=count).collect(),
            ..DoubleVotingScenario::default()
        };
        let report = self.test_double_voting_detection(scenario);
        if !report.safe() {
            fail(&report, "safety was violated");
        }
        let Some(warden) = &report.warden else {
            fail(&report, "the run had no fault-tolerance layer");
        };
        for operator in 1..=count {
            let banned = warden
                .isolation
                .iter()
                .any(|c| c.operator == operator && c.change == "banned");
            if !banned {
                fail(&report, &format!("operator {operator} was not banned"));
            }
        }
        report
    }

    /// Byzantine validators, crashes and a partition in sequence: every offender is isolated,
    /// safety holds and commits continue.
    pub fn test_cascading_failure_resilience(&self, cascade: FailureCascade) -> RunReport {
        let mut base = base_scenario(
            "cascading-failures",
            cascade.seed,
            cascade.validators,
            cascade.duration_us,
        );
        base.crashes = cascade.crashes.clone();
        base.network.partitions = cascade.partitions.clone();
        self.run_byzantine(base, &cascade.byzantine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ft::manager::FaultToleranceManager;

    fn framework() -> FaultToleranceTestFramework {
        FaultToleranceTestFramework::new(FaultToleranceConfig::default())
    }

    #[test]
    fn a_double_voter_is_detected_put_on_chain_and_isolated() {
        let report = framework().test_double_voting_detection(DoubleVotingScenario::default());
        assert!(report.passed());
    }

    #[test]
    fn a_partition_heals_and_commits_resume_without_accusing_anyone() {
        let report = framework().test_network_partition_recovery(PartitionScenario::default());
        assert!(report.warden.is_some_and(|w| w.honest_isolated.is_empty()));
    }

    #[test]
    fn f_double_voters_among_seven_are_all_banned_and_safety_holds() {
        let report = framework().test_maximum_byzantine_tolerance(2);
        assert_eq!(report.validators, 7);
        assert!(report.safe());
    }

    #[test]
    fn the_test_manager_detects_a_double_vote_fed_as_two_observations() {
        let mut m = create_test_fault_tolerance_manager();
        let [a, b] = double_vote_observations(m.network(), 2, 5, 1_000);
        assert!(m.detect_byzantine_behavior(a).expect("epoch").is_empty());
        let found = m.detect_byzantine_behavior(b).expect("epoch");
        assert_eq!(found.evidence.len(), 1);
        assert_eq!(found.evidence[0].offence.operator, 2);
    }

    #[test]
    fn a_partition_scenario_counts_every_node_and_heals() {
        let p = create_network_partition_scenario(&[&[0, 1], &[2, 3, 4]]);
        assert_eq!(p.scenario.validators, 5);
        let split = &p.scenario.network.partitions[0];
        assert_eq!((split.start_us, split.end_us), (500_000, 2_000_000));
        assert!(p.scenario.warden.is_some());
        assert!(p.scenario.validate().is_ok());
    }

    #[test]
    fn a_byzantine_validator_maps_onto_the_simulator() {
        let v = simulate_byzantine_validator(ByzantineBehavior::Flooding { per_view: 5 })
            .at(3)
            .and(ByzantineBehavior::VoteWithholding);
        assert_eq!(v.spec().validator, 3);
        assert_eq!(
            v.offence_classes(),
            vec![OffenceClass::MessageFlooding, OffenceClass::VoteWithholding]
        );
    }

    #[test]
    #[should_panic(expected = "DoubleVote by 3 was not detected")]
    fn the_detection_assertion_names_what_is_missing_and_how_to_replay() {
        let report = framework().run(&base_scenario("honest", 1, 4, 1_000_000));
        assert_fault_detection(&report, &[(3, "DoubleVote")]);
    }

    #[test]
    fn a_wrong_leader_proposal_is_proven_and_isolated() {
        framework().test_invalid_proposal_detection(InvalidProposalScenario::default());
    }

    #[test]
    fn a_delaying_validator_is_accused_and_quarantined() {
        framework().test_timing_attack_detection(TimingAttackScenario::default());
    }

    #[test]
    fn a_stall_starts_emergency_view_changes_and_commits_resume() {
        framework().test_view_change_recovery(StuckViewScenario::default());
    }

    #[test]
    fn a_banned_validator_loses_its_power_and_commits_go_on() {
        framework().test_validator_isolation_recovery(IsolationScenario::default());
    }

    #[test]
    fn a_cascade_of_failures_is_survived() {
        framework().test_cascading_failure_resilience(FailureCascade::default());
    }
}
