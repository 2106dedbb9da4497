//! The `FaultToleranceManager` facade an integrator embeds, driven over an embedded chain
//! through a whole Tier 2 case: every host sees a peer flood, the facade's host accuses, its
//! peers' hosts (the same `ValidatorHost` type the facade wraps) co-sign, the facade queues
//! the witnessed accusation, its relayer submits it, and the chain quarantines the flooder.
//! (The whole Tier 1 case is `a_double_vote_seen_twice_ends_on_chain_and_bans_the_voter` in
//! the facade's own tests.)

use warden_host::chain::genesis::GenesisFile;
use warden_host::chain::Chain;
use warden_host::ft::detect::Observed;
use warden_host::ft::host::{HostAction, Peers, ValidatorHost};
use warden_host::ft::manager::{
    EmbeddedLink, FaultToleranceManager, Observation, ObservedMessage, WardenManager,
};
use warden_host::ft::wire::HostMessage;
use warden_host::ft::FaultToleranceConfig;
use warden_host::testkit::{key, REPORTER_SEED};
use warden_module::crypto::Ed25519Strict;
use warden_module::evidence::Behaviour;
use warden_module::msg::{Query, QueryResponse};
use warden_module::state::IsolationState;
use warden_module::wire::OperatorId;
use warden_tests::TestNetwork;

const FLOODER: OperatorId = 3;
const JUNK_PER_VIEW: u64 = 80;

#[test]
fn a_flood_seen_by_every_host_is_accused_co_signed_relayed_and_quarantined_through_the_facade() {
    let mut net = TestNetwork::new(7, 4);
    net.config.isolation.warnings_before_quarantine = 0;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let chain = Chain::init(
        &GenesisFile::from_network(&net, 0),
        &dir.path().join("chain"),
    )
    .expect("a chain");
    let cfg = FaultToleranceConfig::default();
    let link = EmbeddedLink::new(chain, key(REPORTER_SEED));
    let mut manager = WardenManager::open(cfg.clone(), dir.path(), 0, net.keys[0].clone(), link)
        .expect("the facade opens over the chain");
    let mut peers: Vec<ValidatorHost> = [1, 2]
        .into_iter()
        .map(|op| {
            let mut h = ValidatorHost::new(cfg.clone(), op, net.keys[op as usize].clone());
            h.start_epoch(7, net.set(), net.schedule());
            h
        })
        .collect();

    let mut requests = 0;
    for view in 1..=40u64 {
        let now = view * 100_000;
        // Every host enters the view, then the flooder's junk arrives at each.
        let mut wire: Vec<(OperatorId, Peers, HostMessage)> = Vec::new();
        for h in &mut peers {
            let mut out = Vec::new();
            h.on_view(now, view, &mut out);
            for _ in 0..JUNK_PER_VIEW {
                h.on_message(now + 1, FLOODER, Observed::Junk, &Ed25519Strict, &mut out);
            }
            wire.extend(sends(h.operator(), out));
        }
        let outcome = manager
            .monitor_validator_behavior(now, view)
            .expect("an epoch");
        requests += outcome.accusations.len();
        wire.extend(outcome.send.into_iter().map(|(to, m)| (0, to, m)));
        for _ in 0..JUNK_PER_VIEW {
            manager
                .detect_byzantine_behavior(Observation {
                    at_us: now + 1,
                    from: FLOODER,
                    message: ObservedMessage::Junk,
                })
                .expect("an epoch");
        }
        // Accusations go to every other host; co-signatures back to the accuser.
        while let Some((from, to, message)) = wire.pop() {
            if let HostMessage::Accuse(a, _) = &message {
                assert_eq!(
                    (a.accused, a.behaviour),
                    (FLOODER, Behaviour::MessageFlooding)
                );
            }
            let reaches = |op: OperatorId| op != from && (to == Peers::All || to == Peers::One(op));
            if reaches(0) {
                for (to, m) in manager.on_host_message(now + 2, from, &message) {
                    wire.push((0, to, m));
                }
            }
            for h in &mut peers {
                if reaches(h.operator()) {
                    let mut out = Vec::new();
                    h.on_host_message(now + 2, from, &message, &Ed25519Strict, &mut out);
                    wire.extend(sends(h.operator(), out));
                }
            }
        }
        if manager.host().stats().accusations_witnessed > 0 {
            break;
        }
    }
    assert_eq!(requests, 1, "the facade accused the flooder once");
    let stats = manager.host().stats();
    assert_eq!(stats.accusations_witnessed, 1, "{stats:?}");
    assert!(
        stats.endorsed >= 1,
        "the facade co-signed its peers' accusations: {stats:?}"
    );
    assert!(stats.refused.is_empty(), "{stats:?}");
    assert_eq!(manager.relayer().pending_len(), 1, "queued for the chain");

    // The relayer submits, a block includes it, the next tick settles it.
    let submitted = manager.tick(5_000_000);
    assert_eq!(submitted.submitted.len(), 1, "{submitted:?}");
    manager
        .link_mut()
        .chain
        .produce_block(5_100)
        .expect("a block");
    let settled = manager.tick(5_200_000);
    assert_eq!(settled.included.len(), 1, "{settled:?}");
    match manager
        .query(&Query::Isolation { operator: FLOODER })
        .expect("the chain answers")
    {
        QueryResponse::Isolation(IsolationState::Quarantined { .. }) => {}
        other => panic!("the flooder is {other:?}, not quarantined"),
    }
    assert!(manager.sync_with_chain().is_ok());
    let status = manager.get_fault_tolerance_status(5_300_000);
    assert_eq!(status.byzantine, vec![FLOODER]);
    assert_eq!(status.pending_relays, 0);
    assert_eq!(status.host.accusations_witnessed, 1);
}

/// The host messages among the actions of `from`'s host, with their recipients.
fn sends(from: OperatorId, actions: Vec<HostAction>) -> Vec<(OperatorId, Peers, HostMessage)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            HostAction::Send { to, message } => Some((from, to, message)),
            _ => None,
        })
        .collect()
}
