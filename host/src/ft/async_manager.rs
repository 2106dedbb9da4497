//! The design's asynchronous `FaultToleranceManager`, for nodes whose event loop is async
//! (tokio): [`AsyncFaultToleranceManager`] (with `async_trait`, `&mut self` as the design writes
//! it) and [`AsyncWarden`], a thin layer over any synchronous [`FaultToleranceManager`]. Each
//! call runs the synchronous one on tokio's blocking pool (it may wait on the chain node over
//! HTTP, or on the disk), so the caller's reactor never blocks. There is one implementation of
//! the rules: this layer only moves the calls.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use warden_module::evidence::{Accusation, Evidence, WitnessSignature, WitnessedAccusation};
use warden_module::wire::OperatorId;

use super::detect::Suspicion;
use super::manager::{
    AccusationRequest, AnalysisResult, DetectionResult, FaultError, FaultToleranceManager,
    FaultToleranceStatus, MonitorOutcome, Observation, RecoveryAction, Result, SubmissionReceipt,
};
use super::recovery::PartitionInfo;
use super::relay::{Collected, TickReport};

/// The fault-tolerance operations for an async node; see [`FaultToleranceManager`] for what
/// each does.
#[async_trait]
pub trait AsyncFaultToleranceManager: Send {
    /// [`FaultToleranceManager::detect_byzantine_behavior`].
    async fn detect_byzantine_behavior(
        &mut self,
        observation: Observation,
    ) -> Result<DetectionResult>;
    /// [`FaultToleranceManager::monitor_validator_behavior`].
    async fn monitor_validator_behavior(
        &mut self,
        now_us: u64,
        view: u64,
    ) -> Result<MonitorOutcome>;
    /// [`FaultToleranceManager::analyze_consensus_anomalies`].
    async fn analyze_consensus_anomalies(&mut self, now_us: u64) -> Result<AnalysisResult>;
    /// [`FaultToleranceManager::isolate_byzantine_validator`].
    async fn isolate_byzantine_validator(
        &mut self,
        validator: OperatorId,
        evidence: &[Evidence],
    ) -> Result<Vec<Collected>>;
    /// [`FaultToleranceManager::quarantine_suspicious_validator`].
    async fn quarantine_suspicious_validator(
        &mut self,
        suspicion: Suspicion,
    ) -> Result<AccusationRequest>;
    /// [`FaultToleranceManager::add_cosignature`].
    async fn add_cosignature(
        &mut self,
        accusation: &Accusation,
        signature: WitnessSignature,
    ) -> Result<Option<WitnessedAccusation>>;
    /// [`FaultToleranceManager::endorse`].
    async fn endorse(&self, accusation: &Accusation) -> Result<Option<WitnessSignature>>;
    /// [`FaultToleranceManager::initiate_view_change_recovery`].
    async fn initiate_view_change_recovery(&mut self, stuck_view: u64) -> Result<RecoveryAction>;
    /// [`FaultToleranceManager::recover_from_network_partition`].
    async fn recover_from_network_partition(
        &mut self,
        info: PartitionInfo,
    ) -> Result<RecoveryAction>;
    /// [`FaultToleranceManager::restore_normal_operation`].
    async fn restore_normal_operation(&mut self) -> Result<()>;
    /// [`FaultToleranceManager::collect_misbehavior_evidence`].
    async fn collect_misbehavior_evidence(
        &mut self,
        validator: OperatorId,
    ) -> Result<Vec<Evidence>>;
    /// [`FaultToleranceManager::verify_evidence_validity`].
    async fn verify_evidence_validity(&self, evidence: &Evidence) -> Result<bool>;
    /// [`FaultToleranceManager::submit_evidence_for_slashing`].
    async fn submit_evidence_for_slashing(
        &mut self,
        evidence: &Evidence,
        now_us: u64,
    ) -> Result<SubmissionReceipt>;
    /// [`FaultToleranceManager::tick`].
    async fn tick(&mut self, now_us: u64) -> Result<TickReport>;
    /// [`FaultToleranceManager::sync_with_chain`].
    async fn sync_with_chain(&mut self) -> Result<bool>;
    /// [`FaultToleranceManager::get_fault_tolerance_status`].
    async fn get_fault_tolerance_status(&self, now_us: u64) -> Result<FaultToleranceStatus>;
    /// [`FaultToleranceManager::get_byzantine_validator_list`].
    async fn get_byzantine_validator_list(&self) -> Result<Vec<OperatorId>>;
}

/// A synchronous manager made asynchronous: every call runs on tokio's blocking pool. Clones
/// share the manager (calls take turns).
pub struct AsyncWarden<M> {
    inner: Arc<Mutex<M>>,
}

impl<M> Clone for AsyncWarden<M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<M: FaultToleranceManager + Send + 'static> AsyncWarden<M> {
    /// Wraps `manager`.
    pub fn new(manager: M) -> Self {
        Self {
            inner: Arc::new(Mutex::new(manager)),
        }
    }

    /// Runs `f` on the manager on the blocking pool. A call that panicked leaves the manager
    /// as it was (the next call goes on with it); the panic is an error of this call.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut M) -> R + Send + 'static,
    ) -> Result<R> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            f(&mut inner.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        .map_err(|e| FaultError::Storage(format!("the manager's call failed: {e}")))
    }
}

#[async_trait]
impl<M: FaultToleranceManager + Send + 'static> AsyncFaultToleranceManager for AsyncWarden<M> {
    async fn detect_byzantine_behavior(
        &mut self,
        observation: Observation,
    ) -> Result<DetectionResult> {
        self.call(move |m| m.detect_byzantine_behavior(observation))
            .await?
    }

    async fn monitor_validator_behavior(
        &mut self,
        now_us: u64,
        view: u64,
    ) -> Result<MonitorOutcome> {
        self.call(move |m| m.monitor_validator_behavior(now_us, view))
            .await?
    }

    async fn analyze_consensus_anomalies(&mut self, now_us: u64) -> Result<AnalysisResult> {
        self.call(move |m| m.analyze_consensus_anomalies(now_us))
            .await
    }

    async fn isolate_byzantine_validator(
        &mut self,
        validator: OperatorId,
        evidence: &[Evidence],
    ) -> Result<Vec<Collected>> {
        let evidence = evidence.to_vec();
        self.call(move |m| m.isolate_byzantine_validator(validator, &evidence))
            .await?
    }

    async fn quarantine_suspicious_validator(
        &mut self,
        suspicion: Suspicion,
    ) -> Result<AccusationRequest> {
        self.call(move |m| m.quarantine_suspicious_validator(suspicion))
            .await?
    }

    async fn add_cosignature(
        &mut self,
        accusation: &Accusation,
        signature: WitnessSignature,
    ) -> Result<Option<WitnessedAccusation>> {
        let accusation = *accusation;
        self.call(move |m| m.add_cosignature(&accusation, signature))
            .await?
    }

    async fn endorse(&self, accusation: &Accusation) -> Result<Option<WitnessSignature>> {
        let accusation = *accusation;
        self.call(move |m| m.endorse(&accusation)).await
    }

    async fn initiate_view_change_recovery(&mut self, stuck_view: u64) -> Result<RecoveryAction> {
        self.call(move |m| m.initiate_view_change_recovery(stuck_view))
            .await
    }

    async fn recover_from_network_partition(
        &mut self,
        info: PartitionInfo,
    ) -> Result<RecoveryAction> {
        self.call(move |m| m.recover_from_network_partition(info))
            .await
    }

    async fn restore_normal_operation(&mut self) -> Result<()> {
        self.call(|m| m.restore_normal_operation()).await
    }

    async fn collect_misbehavior_evidence(
        &mut self,
        validator: OperatorId,
    ) -> Result<Vec<Evidence>> {
        self.call(move |m| m.collect_misbehavior_evidence(validator))
            .await
    }

    async fn verify_evidence_validity(&self, evidence: &Evidence) -> Result<bool> {
        let evidence = evidence.clone();
        self.call(move |m| m.verify_evidence_validity(&evidence))
            .await?
    }

    async fn submit_evidence_for_slashing(
        &mut self,
        evidence: &Evidence,
        now_us: u64,
    ) -> Result<SubmissionReceipt> {
        let evidence = evidence.clone();
        self.call(move |m| m.submit_evidence_for_slashing(&evidence, now_us))
            .await?
    }

    async fn tick(&mut self, now_us: u64) -> Result<TickReport> {
        self.call(move |m| m.tick(now_us)).await
    }

    async fn sync_with_chain(&mut self) -> Result<bool> {
        self.call(|m| m.sync_with_chain()).await?
    }

    async fn get_fault_tolerance_status(&self, now_us: u64) -> Result<FaultToleranceStatus> {
        self.call(move |m| m.get_fault_tolerance_status(now_us))
            .await
    }

    async fn get_byzantine_validator_list(&self) -> Result<Vec<OperatorId>> {
        self.call(|m| m.get_byzantine_validator_list()).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::genesis::GenesisFile;
    use crate::chain::Chain;
    use crate::ft::manager::{EmbeddedLink, WardenManager};
    use crate::ft::FaultToleranceConfig;
    use crate::test_utils::double_vote_observations;
    use crate::testkit::{key, TestNetwork};

    #[test]
    fn the_async_manager_finds_a_double_vote_and_answers_from_the_blocking_pool() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let network = TestNetwork::new(7, 4);
        let chain = Chain::init(
            &GenesisFile::from_network(&network, 1_700_000_000_000),
            &dir.path().join("chain"),
        )
        .expect("the chain initialises");
        let manager = WardenManager::open(
            FaultToleranceConfig::default(),
            dir.path(),
            0,
            key(0),
            EmbeddedLink::new(chain, key(100)),
        )
        .expect("the manager opens");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut warden = AsyncWarden::new(manager);
            let [a, b] = double_vote_observations(&network, 2, 5, 1_000);
            let first = warden.detect_byzantine_behavior(a).await.expect("observed");
            assert!(first.evidence.is_empty(), "one vote proves nothing");
            let second = warden.detect_byzantine_behavior(b).await.expect("observed");
            assert_eq!(
                second.evidence.len(),
                1,
                "the second vote proves a double vote"
            );
            let evidence = second.evidence[0].evidence.clone();
            assert!(warden
                .verify_evidence_validity(&evidence)
                .await
                .expect("answers"));
            let held = warden
                .collect_misbehavior_evidence(2)
                .await
                .expect("answers");
            assert_eq!(held, vec![evidence]);
            assert!(warden
                .get_byzantine_validator_list()
                .await
                .expect("answers")
                .is_empty());
        });
    }
}
