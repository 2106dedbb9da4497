//! Recovery building blocks: stuck views, network partitions and checkpoints.
//!
//! Every part is deterministic and holds bounded memory: time is always a parameter, in
//! microseconds (`now_us`, the simulator's clock), and nothing reads a clock or allocates per
//! message.
//!
//! - [`StuckViewDetector`]: no commit for longer than a timeout means the view is stuck; it is
//!   reported once per stall episode so the caller starts one emergency view change per episode.
//! - [`ConnectivityMatrix`]: who heard whom and when; [`ConnectivityMatrix::partitions`] splits
//!   the nodes into connected components and names the primary partition, the one holding a
//!   quorum of the power.
//! - [`Checkpoint`]: a committed block proved by its double certificate, what a replica that
//!   lost its disk restores from; [`best_checkpoint`] picks the highest verified one and
//!   [`Checkpoint::restore_watermark`] says up to which view the restored replica must abstain.

use warden_module::crypto::Ed25519Strict;
use warden_module::evidence::verify_certificate;
use warden_module::validators::ValidatorSet;
use warden_module::wire::{BlockHeader, Certificate, CertificateKind, MAX_VALIDATORS};

// ---------------------------------------------------------------------------------------------
// Stuck views
// ---------------------------------------------------------------------------------------------

/// A stall reported by [`StuckViewDetector::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StuckView {
    /// The view the replica is in when the stall is reported.
    pub view: u64,
    /// When the stall began: the time of the last commit (or of the first observation when
    /// nothing has committed yet), in microseconds.
    pub since_us: u64,
    /// How long nothing has committed, in microseconds (at least the timeout).
    pub stalled_for_us: u64,
}

/// Detects a stuck view: no commit for longer than a timeout.
///
/// A stall episode starts when the time since the last commit reaches the timeout and ends with
/// the next commit of a new height. [`check`](Self::check) reports each episode once, so the
/// caller starts exactly one emergency view change per episode; view changes alone do not end
/// an episode (the chain is still not committing).
#[derive(Clone, Debug)]
pub struct StuckViewDetector {
    timeout_us: u64,
    /// Time of the last progress (a commit, or the first observation), once anything was seen.
    progress_us: Option<u64>,
    /// Highest committed height seen.
    committed: Option<u64>,
    /// The current view (the highest seen).
    view: u64,
    /// Whether the current episode has been reported.
    reported: bool,
    /// Episodes reported so far.
    emergency_view_changes: u64,
}

impl StuckViewDetector {
    /// A detector that reports a stall after `timeout_us` microseconds without a commit. A zero
    /// timeout is raised to one microsecond.
    pub fn new(timeout_us: u64) -> Self {
        Self {
            timeout_us: timeout_us.max(1),
            progress_us: None,
            committed: None,
            view: 0,
            reported: false,
            emergency_view_changes: 0,
        }
    }

    /// The timeout, in microseconds.
    pub fn timeout_us(&self) -> u64 {
        self.timeout_us
    }

    /// Starts the clock at `now_us` if nothing was observed yet.
    fn observe(&mut self, now_us: u64) {
        if self.progress_us.is_none() {
            self.progress_us = Some(now_us);
        }
    }

    /// A block at `height` committed at `now_us`. A commit of a new height ends any stall
    /// episode; a repeated or older height is not progress and is ignored.
    pub fn on_commit(&mut self, now_us: u64, height: u64) {
        if self.committed.is_some_and(|h| height <= h) {
            self.observe(now_us);
            return;
        }
        self.committed = Some(height);
        // Time never runs backwards for the detector.
        self.progress_us = Some(self.progress_us.map_or(now_us, |t| t.max(now_us)));
        self.reported = false;
    }

    /// The replica entered `view` at `now_us`. Older views are ignored.
    pub fn on_view(&mut self, now_us: u64, view: u64) {
        self.observe(now_us);
        self.view = self.view.max(view);
    }

    /// The current view (the highest seen).
    pub fn view(&self) -> u64 {
        self.view
    }

    /// Whether nothing has committed for at least the timeout at `now_us`.
    pub fn is_stalled(&self, now_us: u64) -> bool {
        self.progress_us
            .is_some_and(|since| now_us.saturating_sub(since) >= self.timeout_us)
    }

    /// Reports the stall at `now_us` if one has begun and was not reported yet in this episode;
    /// each report counts one emergency view change.
    pub fn check(&mut self, now_us: u64) -> Option<StuckView> {
        self.observe(now_us);
        let since_us = self.progress_us?;
        if self.reported || !self.is_stalled(now_us) {
            return None;
        }
        self.reported = true;
        self.emergency_view_changes = self.emergency_view_changes.saturating_add(1);
        Some(StuckView {
            view: self.view,
            since_us,
            stalled_for_us: now_us.saturating_sub(since_us),
        })
    }

    /// Stall episodes reported so far: the emergency view changes the caller started.
    pub fn emergency_view_changes(&self) -> u64 {
        self.emergency_view_changes
    }
}

// ---------------------------------------------------------------------------------------------
// Partitions
// ---------------------------------------------------------------------------------------------

/// The connected components of the network and its primary partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// The components: each sorted ascending, the list sorted by smallest member.
    pub components: Vec<Vec<u32>>,
    /// Index into `components` of the primary partition: the one component holding at least a
    /// quorum of the power, if any does.
    pub primary: Option<usize>,
    /// Whether the network is split into more than one component.
    pub partitioned: bool,
}

/// Marks a pair that never heard each other.
const NEVER: u64 = u64::MAX;

/// Who heard whom and when, for `n` nodes: `n * n` timestamps.
///
/// Indices at or above `n` are ignored by every method (never a panic); `n` is capped at the
/// module's validator bound ([`MAX_VALIDATORS`]), which keeps the matrix at most 8 MiB.
#[derive(Clone, Debug)]
pub struct ConnectivityMatrix {
    n: usize,
    /// `last[to * n + from]`: when `to` last heard `from`, or [`NEVER`].
    last: Vec<u64>,
}

impl ConnectivityMatrix {
    /// A matrix for `n` nodes (at most [`MAX_VALIDATORS`]) in which nobody has heard anybody.
    pub fn new(n: usize) -> Self {
        let n = n.min(MAX_VALIDATORS);
        Self {
            n,
            last: vec![NEVER; n * n],
        }
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the matrix has no nodes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn index(&self, from: u32, to: u32) -> Option<usize> {
        let (from, to) = (from as usize, to as usize);
        (from < self.n && to < self.n).then(|| to * self.n + from)
    }

    /// Records that `to` heard `from` at `now_us`. Out-of-range nodes are ignored; an earlier
    /// time than one already recorded does not move the record back.
    pub fn heard(&mut self, now_us: u64, from: u32, to: u32) {
        if let Some(i) = self.index(from, to) {
            let slot = &mut self.last[i];
            // `NEVER` is `u64::MAX`; a real time of `u64::MAX` is clamped just below it.
            let now_us = now_us.min(NEVER - 1);
            *slot = if *slot == NEVER {
                now_us
            } else {
                (*slot).max(now_us)
            };
        }
    }

    /// Whether `to` heard `from` within `threshold_us` before `now_us`. A node always reaches
    /// itself; out-of-range nodes reach nobody.
    pub fn reachable(&self, from: u32, to: u32, now_us: u64, threshold_us: u64) -> bool {
        let Some(i) = self.index(from, to) else {
            return false;
        };
        if from == to {
            return true;
        }
        let last = self.last[i];
        last != NEVER && now_us.saturating_sub(last) <= threshold_us
    }

    /// The connected components of the graph in which `i` and `j` are linked when either heard
    /// the other within `threshold_us` before `now_us`, and the primary partition: the one
    /// component whose power (from `powers`, indexed by node; missing entries count zero) is at
    /// least `quorum`. A quorum is more than two thirds of the power, so at most one component
    /// can hold one; if a caller's `quorum` lets several qualify, or `quorum` is zero, there is
    /// no primary.
    pub fn partitions(
        &self,
        now_us: u64,
        threshold_us: u64,
        powers: &[u64],
        quorum: u64,
    ) -> PartitionInfo {
        let n = self.n;
        let mut seen = vec![false; n];
        let mut components = Vec::new();
        let mut stack = Vec::new();
        for start in 0..n {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let mut component = Vec::new();
            while let Some(i) = stack.pop() {
                component.push(i as u32);
                for (j, seen_j) in seen.iter_mut().enumerate() {
                    if !*seen_j
                        && (self.reachable(i as u32, j as u32, now_us, threshold_us)
                            || self.reachable(j as u32, i as u32, now_us, threshold_us))
                    {
                        *seen_j = true;
                        stack.push(j);
                    }
                }
            }
            component.sort_unstable();
            components.push(component);
        }
        // Components are found in order of their smallest member, so the list is sorted.
        let power = |component: &Vec<u32>| {
            component.iter().fold(0u64, |sum, &i| {
                sum.saturating_add(powers.get(i as usize).copied().unwrap_or(0))
            })
        };
        let mut qualifying = components
            .iter()
            .enumerate()
            .filter(|(_, c)| quorum > 0 && power(c) >= quorum)
            .map(|(i, _)| i);
        let primary = match (qualifying.next(), qualifying.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        };
        PartitionInfo {
            partitioned: components.len() > 1,
            components,
            primary,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

/// Why a [`Checkpoint`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Only a double certificate (`Vote2`) commits a block.
    #[error(
        "the checkpoint's certificate is a {kind:?} certificate, not a double (Vote2) certificate"
    )]
    NotDoubleCertificate {
        /// The certificate's kind.
        kind: CertificateKind,
    },
    /// The certificate was signed by another epoch's validator set.
    #[error(
        "the checkpoint's certificate is of epoch {cert}, the validator set is of epoch {set}"
    )]
    WrongEpoch {
        /// The certificate's epoch.
        cert: u64,
        /// The validator set's epoch.
        set: u64,
    },
    /// The certificate certifies another block than the checkpoint's header.
    #[error("the checkpoint's certificate is over another block than its header")]
    BlockMismatch,
    /// The certificate is short of a quorum, has an unknown or unsorted signer, or a bad
    /// signature.
    #[error("the checkpoint's certificate does not verify: {0}")]
    Certificate(warden_module::Error),
}

/// A committed block proved by its double certificate: a `Vote2` certificate over the header's
/// hash, signed by a quorum of the epoch's validator set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The committed block.
    pub header: BlockHeader,
    /// Its double certificate.
    pub cert: Certificate,
}

impl Checkpoint {
    /// Checks that the certificate is a double certificate of `set`'s epoch over this header,
    /// signed by a quorum of `set` on `chain_id`.
    pub fn verify(&self, chain_id: u64, set: &ValidatorSet) -> Result<(), CheckpointError> {
        if self.cert.kind != CertificateKind::Vote2 {
            return Err(CheckpointError::NotDoubleCertificate {
                kind: self.cert.kind,
            });
        }
        if self.cert.epoch != set.epoch {
            return Err(CheckpointError::WrongEpoch {
                cert: self.cert.epoch,
                set: set.epoch,
            });
        }
        if self.cert.block_hash != self.header.hash() {
            return Err(CheckpointError::BlockMismatch);
        }
        verify_certificate(chain_id, set, &self.cert, &Ed25519Strict)
            .map_err(CheckpointError::Certificate)
    }

    /// The view up to which (inclusive of views below it) a replica restoring from this
    /// checkpoint must not sign anything: `max(cert.view, highest_view_seen) + 1`.
    ///
    /// A replica that lost its disk has forgotten what it signed. It may have signed in any view
    /// up to the highest view it can learn of (the checkpoint's view, or a higher one it hears
    /// from peers), and signing again in such a view could equivocate. So it abstains — no
    /// votes, no timeouts, no proposals — in every view below the returned watermark, and
    /// resumes signing only from that view on.
    pub fn restore_watermark(&self, highest_view_seen: u64) -> u64 {
        self.cert.view.max(highest_view_seen).saturating_add(1)
    }
}

/// The verified checkpoint with the highest `(header.height, cert.view)` among `candidates`;
/// forged, short, mismatched or other-epoch candidates are ignored. Among equal ranks the first
/// is kept.
pub fn best_checkpoint(
    chain_id: u64,
    set: &ValidatorSet,
    candidates: impl IntoIterator<Item = Checkpoint>,
) -> Option<Checkpoint> {
    let mut best: Option<Checkpoint> = None;
    for candidate in candidates {
        let rank = (candidate.header.height, candidate.cert.view);
        if best
            .as_ref()
            .is_some_and(|b| (b.header.height, b.cert.view) >= rank)
        {
            continue;
        }
        if candidate.verify(chain_id, set).is_ok() {
            best = Some(candidate);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_module::codec::BoundedVec;
    use warden_module::wire::{CertificateSignature, Signature};
    use warden_testkit::{sign, TestNetwork};

    const CHAIN: u64 = 7;

    // -- stuck views ----------------------------------------------------------------------

    #[test]
    fn a_stall_is_reported_once_per_episode() {
        let mut d = StuckViewDetector::new(1_000);
        d.on_commit(0, 1);
        d.on_view(10, 2);
        assert_eq!(d.check(999), None);
        let stall = d.check(1_000).expect("stalled at the timeout");
        assert_eq!(
            stall,
            StuckView {
                view: 2,
                since_us: 0,
                stalled_for_us: 1_000
            }
        );
        // The same episode is not reported again, even across view changes.
        d.on_view(2_000, 3);
        assert_eq!(d.check(2_500), None);
        assert_eq!(d.check(50_000), None);
        assert_eq!(d.emergency_view_changes(), 1);
        assert!(d.is_stalled(50_000));
    }

    #[test]
    fn a_commit_clears_a_stall() {
        let mut d = StuckViewDetector::new(1_000);
        d.on_view(0, 1);
        assert!(d.check(1_500).is_some());
        d.on_commit(1_600, 5);
        assert!(!d.is_stalled(1_700));
        assert_eq!(d.check(2_000), None);
        // A repeated height is not progress.
        d.on_commit(2_500, 5);
        let stall = d.check(2_600).expect("a second episode");
        assert_eq!(stall.since_us, 1_600);
        assert_eq!(stall.stalled_for_us, 1_000);
        assert_eq!(d.emergency_view_changes(), 2);
        // Time running backwards neither panics nor reports.
        d.on_commit(3_000, 6);
        assert_eq!(d.check(0), None);
    }

    // -- partitions ------------------------------------------------------------------------

    /// Links every pair within `group` both ways at `now`.
    fn link(m: &mut ConnectivityMatrix, now: u64, group: &[u32]) {
        for &a in group {
            for &b in group {
                m.heard(now, a, b);
            }
        }
    }

    #[test]
    fn the_primary_partition_holds_a_quorum() {
        let mut m = ConnectivityMatrix::new(4);
        link(&mut m, 100, &[0, 1, 2]);
        let info = m.partitions(150, 100, &[10, 10, 10, 10], 27);
        assert_eq!(info.components, vec![vec![0, 1, 2], vec![3]]);
        assert_eq!(info.primary, Some(0));
        assert!(info.partitioned);
        assert!(m.reachable(0, 1, 150, 100));
        assert!(!m.reachable(0, 3, 150, 100));
        // One direction is enough to link two nodes.
        m.heard(150, 3, 2);
        let info = m.partitions(150, 100, &[10, 10, 10, 10], 27);
        assert_eq!(info.components, vec![vec![0, 1, 2, 3]]);
        assert!(!info.partitioned);
        // Links older than the threshold are gone.
        let info = m.partitions(1_000, 100, &[10, 10, 10, 10], 27);
        assert_eq!(info.components.len(), 4);
        assert_eq!(info.primary, None);
    }

    #[test]
    fn no_partition_holds_a_quorum_in_a_three_way_split() {
        let mut m = ConnectivityMatrix::new(7);
        link(&mut m, 0, &[0, 1, 2]);
        link(&mut m, 0, &[3, 4]);
        link(&mut m, 0, &[5, 6]);
        let info = m.partitions(10, 100, &[10; 7], 47);
        assert_eq!(info.components, vec![vec![0, 1, 2], vec![3, 4], vec![5, 6]]);
        assert_eq!(info.primary, None);
        assert!(info.partitioned);
        // A quorum of zero never names a primary.
        assert_eq!(m.partitions(10, 100, &[10; 7], 0).primary, None);
    }

    #[test]
    fn a_healed_partition_is_one_component() {
        let mut m = ConnectivityMatrix::new(4);
        link(&mut m, 0, &[0, 1]);
        link(&mut m, 0, &[2, 3]);
        let split = m.partitions(10, 100, &[10; 4], 27);
        assert_eq!(split.components, vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(split.primary, None);
        link(&mut m, 500, &[0, 1, 2, 3]);
        let healed = m.partitions(550, 100, &[10; 4], 27);
        assert_eq!(healed.components, vec![vec![0, 1, 2, 3]]);
        assert_eq!(healed.primary, Some(0));
        assert!(!healed.partitioned);
    }

    #[test]
    fn out_of_range_nodes_are_ignored() {
        let mut m = ConnectivityMatrix::new(3);
        m.heard(0, 3, 0);
        m.heard(0, 0, 3);
        m.heard(0, u32::MAX, u32::MAX);
        assert!(!m.reachable(3, 0, 0, 100));
        assert!(!m.reachable(0, u32::MAX, 0, 100));
        assert!(!m.reachable(0, 1, 0, 100));
        // Short power lists count missing nodes as zero.
        let info = m.partitions(0, 100, &[10], 10);
        assert_eq!(info.components, vec![vec![0], vec![1], vec![2]]);
        assert_eq!(info.primary, Some(0));
        let empty = ConnectivityMatrix::new(0);
        assert!(empty.is_empty());
        let info = empty.partitions(0, 1, &[], 1);
        assert!(info.components.is_empty() && !info.partitioned && info.primary.is_none());
        assert_eq!(ConnectivityMatrix::new(usize::MAX).len(), MAX_VALIDATORS);
        // The largest time is recorded without overflow.
        let mut m = ConnectivityMatrix::new(2);
        m.heard(u64::MAX, 0, 1);
        assert!(m.reachable(0, 1, u64::MAX, 100));
    }

    // -- checkpoints -----------------------------------------------------------------------

    fn header(height: u64) -> BlockHeader {
        BlockHeader {
            height,
            parent_hash: [height as u8; 32],
            payload_hash: [0xab; 32],
            proposer: 0,
        }
    }

    /// A checkpoint of `header` at `view`, its double certificate signed by `signers`.
    fn checkpoint(
        net: &TestNetwork,
        header: BlockHeader,
        view: u64,
        signers: &[u32],
    ) -> Checkpoint {
        let mut cert = Certificate {
            kind: CertificateKind::Vote2,
            epoch: net.epoch,
            view,
            block_hash: header.hash(),
            justify_view: 0,
            signatures: BoundedVec::empty(),
        };
        let parts = signers
            .iter()
            .map(|&signer| {
                let mut part = CertificateSignature {
                    signer,
                    lock_view: 0,
                    signature: Signature([0; 64]),
                };
                let bytes = cert
                    .signed_message(&part)
                    .signing_bytes(net.chain_id, net.epoch);
                part.signature = sign(&net.keys[signer as usize], &bytes);
                part
            })
            .collect();
        cert.signatures = BoundedVec::new(parts).unwrap();
        Checkpoint { header, cert }
    }

    #[test]
    fn a_forged_checkpoint_is_refused() {
        let net = TestNetwork::new(CHAIN, 4);
        let set = net.set();
        let good = checkpoint(&net, header(5), 9, &[0, 1, 2]);
        assert_eq!(good.verify(CHAIN, &set), Ok(()));

        // Another header under the same certificate.
        let mut swapped = good.clone();
        swapped.header = header(6);
        assert_eq!(
            swapped.verify(CHAIN, &set),
            Err(CheckpointError::BlockMismatch)
        );
        // A tampered signature.
        let mut tampered = good.clone();
        let mut parts = tampered.cert.signatures.to_vec();
        parts[1].signature.0[0] ^= 1;
        tampered.cert.signatures = BoundedVec::new(parts).unwrap();
        assert!(matches!(
            tampered.verify(CHAIN, &set),
            Err(CheckpointError::Certificate(_))
        ));
        // Signed for another chain.
        assert!(matches!(
            good.verify(CHAIN + 1, &set),
            Err(CheckpointError::Certificate(_))
        ));
        // A phase-1 certificate does not commit.
        let mut phase1 = good.clone();
        phase1.cert.kind = CertificateKind::Vote;
        assert_eq!(
            phase1.verify(CHAIN, &set),
            Err(CheckpointError::NotDoubleCertificate {
                kind: CertificateKind::Vote
            })
        );
        // Another epoch's certificate.
        let mut later = net.clone();
        later.epoch = 2;
        let err = good.verify(CHAIN, &later.set()).unwrap_err();
        assert_eq!(err, CheckpointError::WrongEpoch { cert: 1, set: 2 });
        assert!(err.to_string().contains("epoch 1"));
    }

    #[test]
    fn a_short_certificate_checkpoint_is_refused() {
        let net = TestNetwork::new(CHAIN, 4);
        let short = checkpoint(&net, header(5), 9, &[0, 1]);
        let err = short.verify(CHAIN, &net.set()).unwrap_err();
        assert!(matches!(err, CheckpointError::Certificate(_)), "{err:?}");
        assert!(err
            .to_string()
            .starts_with("the checkpoint's certificate does not verify"));
        let empty = checkpoint(&net, header(5), 9, &[]);
        assert!(empty.verify(CHAIN, &net.set()).is_err());
    }

    #[test]
    fn the_best_checkpoint_is_the_highest_verified_one() {
        let net = TestNetwork::new(CHAIN, 4);
        let set = net.set();
        let low = checkpoint(&net, header(3), 4, &[0, 1, 2]);
        let mid = checkpoint(&net, header(5), 7, &[1, 2, 3]);
        let same_height_later_view = checkpoint(&net, header(5), 8, &[0, 1, 3]);
        let short_high = checkpoint(&net, header(9), 12, &[0, 1]);
        let mut forged_high = checkpoint(&net, header(8), 11, &[0, 1, 2]);
        forged_high.header = header(10);

        let best = best_checkpoint(
            CHAIN,
            &set,
            [
                low.clone(),
                short_high.clone(),
                mid.clone(),
                forged_high.clone(),
                same_height_later_view.clone(),
            ],
        );
        assert_eq!(best, Some(same_height_later_view.clone()));
        assert_eq!(
            best_checkpoint(CHAIN, &set, [mid.clone(), low.clone()]),
            Some(mid)
        );
        assert_eq!(
            best_checkpoint(CHAIN, &set, [short_high, forged_high]),
            None
        );
        assert_eq!(best_checkpoint(CHAIN, &set, []), None);

        assert_eq!(same_height_later_view.restore_watermark(0), 9);
        assert_eq!(same_height_later_view.restore_watermark(20), 21);
        assert_eq!(low.restore_watermark(u64::MAX), u64::MAX);
    }
}
