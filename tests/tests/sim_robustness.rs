//! Nothing a Byzantine peer sends can make a replica panic: random and extreme messages,
//! well-signed or not, are fed straight to replicas.

use std::rc::Rc;

use warden_host::sim::context::{Context, Timing};
use warden_host::sim::replica::{Output, Payload, Replica, SafetyStore, Timer};
use warden_host::sim::rng::Rng;
use warden_host::testkit::TestNetwork;
use warden_module::codec::BoundedVec;
use warden_module::wire::{
    BlockHeader, Certificate, CertificateKind, CertificateSignature, Message, Proposal, Signature,
    SignedMessage, Timeout, Vote, Vote2,
};

fn pick(rng: &mut Rng) -> u64 {
    match rng.range(0, 5) {
        0 => 0,
        1 => u64::MAX,
        2 => u64::MAX - rng.range(0, 3),
        3 => rng.range(0, 20),
        _ => rng.next_u64(),
    }
}

fn cert(rng: &mut Rng, net: &TestNetwork) -> Certificate {
    let kind = [
        CertificateKind::Vote,
        CertificateKind::Vote2,
        CertificateKind::Timeout,
    ][rng.range(0, 2) as usize];
    let view = pick(rng);
    if rng.range(0, 2) == 0 {
        // Well signed by a quorum, with possibly extreme fields.
        let mut c = net.certificate(kind, view, rng.bytes32(), pick(rng), &net.quorum_signers());
        if kind == CertificateKind::Timeout && rng.range(0, 1) == 0 {
            let parts: Vec<_> = c
                .signatures
                .iter()
                .map(|p| CertificateSignature {
                    lock_view: pick(rng),
                    ..*p
                })
                .collect();
            c.signatures = BoundedVec::new(parts).unwrap_or_default();
        }
        return c;
    }
    let count = rng.range(0, 8) as usize;
    let parts = (0..count)
        .map(|_| CertificateSignature {
            signer: pick(rng) as u32 % 12,
            lock_view: pick(rng),
            signature: Signature([rng.range(0, 255) as u8; 64]),
        })
        .collect();
    Certificate {
        kind,
        epoch: if rng.range(0, 3) == 0 {
            pick(rng)
        } else {
            net.epoch
        },
        view,
        block_hash: rng.bytes32(),
        justify_view: pick(rng),
        signatures: BoundedVec::new(parts).unwrap_or_default(),
    }
}

fn payload(rng: &mut Rng, net: &TestNetwork) -> Payload {
    let signer = (pick(rng) % 6) as u32;
    let message = match rng.range(0, 4) {
        0 => Message::Proposal(Proposal {
            view: pick(rng),
            block: BlockHeader {
                height: pick(rng),
                parent_hash: rng.bytes32(),
                payload_hash: rng.bytes32(),
                proposer: signer,
            },
            justify: cert(rng, net),
        }),
        1 => Message::Vote(Vote {
            view: pick(rng),
            block_hash: rng.bytes32(),
            justify_view: pick(rng),
        }),
        2 => Message::Vote2(Vote2 {
            view: pick(rng),
            block_hash: rng.bytes32(),
        }),
        3 => Message::Timeout(Timeout {
            view: pick(rng),
            lock_view: pick(rng),
        }),
        _ => return Payload::Cert(cert(rng, net)),
    };
    if signer < 4 && rng.range(0, 1) == 0 {
        Payload::Signed(net.signed(signer, message))
    } else {
        Payload::Signed(SignedMessage {
            epoch: net.epoch,
            signer,
            message,
            signature: Signature([7; 64]),
        })
    }
}

#[test]
fn random_and_extreme_messages_never_panic_a_replica() {
    let net = TestNetwork::new(0x5157, 4);
    for seed in 0..3u64 {
        let nodes_of = (0..4).map(|i| vec![i]).collect();
        let ctx = Rc::new(Context::new(
            net.chain_id,
            net.epoch,
            net.set(),
            net.schedule(),
            net.keys.clone(),
            Timing {
                base_timeout_us: 1_000,
                max_backoff_exp: 4,
            },
            nodes_of,
            vec![false; 4],
        ));
        let mut rng = Rng::new(seed);
        let mut replica =
            Replica::new(1, 1, ctx, SafetyStore::new(net.epoch), None, Rng::new(seed));
        let mut out: Vec<Output> = Vec::new();
        replica.start(0, &mut out);
        for step in 0..600u64 {
            let p = payload(&mut rng, &net);
            replica.on_message(step, &p, &mut out);
            replica.on_timer(step, Timer::View(replica.view()), &mut out);
            replica.on_timer(step, Timer::Propose(pick(&mut rng)), &mut out);
            out.clear();
        }
    }
}
