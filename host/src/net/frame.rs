//! The validator-to-validator wire: length-prefixed frames in the module's strict, bounded
//! borsh, and the signed handshake that opens every link.
//!
//! A frame is a `u32` little-endian length (at most [`MAX_FRAME_BYTES`]) followed by exactly
//! one [`Frame`]. A length over the bound is refused before anything is read or allocated;
//! bad tags, oversized inner lengths and trailing bytes are refused by the decoder.
//!
//! The handshake: each side sends `Hello { chain_id, operator, nonce }`, then
//! `Auth { signature }` over `"WARDEN-LINK-V1" || chain_id || own operator || the peer's
//! nonce || own nonce`, checked with `verify_strict` against the operator's key in the chain's
//! validator set. A link is up only once both signatures check; each side's signature binds the
//! other's fresh nonce, so an old handshake cannot be replayed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use warden_module::codec::{self, BoundedBytes, BoundedVec};
use warden_module::crypto::{Ed25519Strict, Verifier};
use warden_module::wire::{
    BlockHeader, Certificate, Hash, OperatorId, PublicKey, Signature, SignedMessage,
};

use crate::ft::wire::MAX_HOST_MESSAGE_BYTES;

/// The largest frame body: a host message and its envelope fit, a certificate of the largest
/// validator set too.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// Headers one [`Frame::Headers`] answer carries at most.
pub const MAX_SYNC_HEADERS: usize = 256;
/// How long each handshake read may wait.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const LINK_DOMAIN: &[u8] = b"WARDEN-LINK-V1";

/// One frame on a link.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Frame {
    /// The first frame of each side of a handshake.
    Hello {
        /// The chain both sides must be on.
        chain_id: u64,
        /// The operator the sender claims to be.
        operator: OperatorId,
        /// A fresh nonce the other side signs.
        nonce: [u8; 32],
    },
    /// The second frame of a handshake: the sender's signature (see the module docs).
    Auth {
        /// `verify_strict` signature by the claimed operator's key.
        signature: Signature,
    },
    /// Keeps an idle link alive (a link silent for longer than its read timeout is dropped).
    Ping,
    /// A proposal, vote, phase-2 vote or timeout.
    Signed(SignedMessage),
    /// A phase-1, double or timeout certificate.
    Certificate(Certificate),
    /// A host-to-host message ([`crate::ft::wire::HostMessage`], encoded).
    Host(BoundedBytes<MAX_HOST_MESSAGE_BYTES>),
    /// "Send me the headers below `tip`, down to (not including) height `above`": a node
    /// that restarted or fell behind fetches the blocks it needs to commit.
    GetHeaders {
        /// The highest header wanted.
        tip: Hash,
        /// The height the sender has already committed.
        above: u64,
    },
    /// Headers from a tip downwards, each the parent of the one before.
    Headers(BoundedVec<BlockHeader, MAX_SYNC_HEADERS>),
}

/// Why a frame or a handshake was refused.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The connection failed or timed out.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The length prefix is over the bound.
    #[error("frame of {0} bytes is over the bound of {MAX_FRAME_BYTES}")]
    TooLarge(u32),
    /// The body is not exactly one frame.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The handshake failed.
    #[error("handshake refused: {0}")]
    Refused(String),
}

/// Encodes `frame` with its length prefix.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let body = codec::encode(frame);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, frame: &Frame) -> Result<(), LinkError> {
    w.write_all(&encode(frame))?;
    Ok(())
}

/// Reads one frame: the length is checked against [`MAX_FRAME_BYTES`] before the body is read.
pub fn read_frame(r: &mut impl Read) -> Result<Frame, LinkError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len);
    if len as usize > MAX_FRAME_BYTES {
        return Err(LinkError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body)?;
    codec::decode(&body, MAX_FRAME_BYTES).map_err(|e| LinkError::Malformed(format!("{e:?}")))
}

/// What one side knows for a handshake.
pub struct Identity<'a> {
    /// The chain id.
    pub chain_id: u64,
    /// This side's operator.
    pub operator: OperatorId,
    /// Its key.
    pub key: &'a SigningKey,
}

fn fresh_nonce(stream: &TcpStream) -> [u8; 32] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(b"WARDEN-LINK-NONCE");
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(nanos.to_le_bytes());
    h.update(format!("{:?}{:?}", stream.local_addr(), stream.peer_addr()).as_bytes());
    h.finalize().into()
}

fn auth_bytes(chain_id: u64, signer: OperatorId, their: &[u8; 32], own: &[u8; 32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(LINK_DOMAIN.len() + 76);
    bytes.extend_from_slice(LINK_DOMAIN);
    bytes.extend_from_slice(&chain_id.to_le_bytes());
    bytes.extend_from_slice(&signer.to_le_bytes());
    bytes.extend_from_slice(their);
    bytes.extend_from_slice(own);
    bytes
}

/// Runs the handshake on `stream` and returns the authenticated peer. `key_of` gives an
/// operator's key (from the chain's validator set); `expect` is the operator a dialer meant
/// to reach. Each read waits at most [`HANDSHAKE_TIMEOUT`]; the stream's read timeout is left
/// at that value.
pub fn handshake(
    stream: &mut TcpStream,
    me: &Identity<'_>,
    key_of: &dyn Fn(OperatorId) -> Option<PublicKey>,
    expect: Option<OperatorId>,
) -> Result<OperatorId, LinkError> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let own_nonce = fresh_nonce(stream);
    write_frame(
        stream,
        &Frame::Hello {
            chain_id: me.chain_id,
            operator: me.operator,
            nonce: own_nonce,
        },
    )?;
    let Frame::Hello {
        chain_id,
        operator: peer,
        nonce: their_nonce,
    } = read_frame(stream)?
    else {
        return Err(LinkError::Refused("the first frame is not a Hello".into()));
    };
    if chain_id != me.chain_id {
        return Err(LinkError::Refused(format!(
            "peer is on chain {chain_id}, not {}",
            me.chain_id
        )));
    }
    if peer == me.operator {
        return Err(LinkError::Refused(format!(
            "peer claims this node's operator {peer}"
        )));
    }
    if expect.is_some_and(|e| e != peer) {
        return Err(LinkError::Refused(format!(
            "dialled operator {:?}, reached {peer}",
            expect.unwrap_or_default()
        )));
    }
    let Some(peer_key) = key_of(peer) else {
        return Err(LinkError::Refused(format!(
            "operator {peer} is not a validator"
        )));
    };
    let signature = crate::testkit::sign(
        me.key,
        &auth_bytes(me.chain_id, me.operator, &their_nonce, &own_nonce),
    );
    write_frame(stream, &Frame::Auth { signature })?;
    let Frame::Auth { signature } = read_frame(stream)? else {
        return Err(LinkError::Refused("the second frame is not an Auth".into()));
    };
    let signed = auth_bytes(me.chain_id, peer, &own_nonce, &their_nonce);
    if !Ed25519Strict.verify(&peer_key, &signed, &signature) {
        return Err(LinkError::Refused(format!(
            "operator {peer}'s handshake signature does not verify"
        )));
    }
    Ok(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let a = TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
        let (b, _) = listener.accept().expect("accepts");
        (a, b)
    }

    fn keys() -> Vec<SigningKey> {
        (0..3).map(crate::testkit::key).collect()
    }

    fn key_of(op: OperatorId) -> Option<PublicKey> {
        (op < 3).then(|| crate::testkit::public(&crate::testkit::key(u64::from(op))))
    }

    #[test]
    fn a_length_over_the_bound_is_refused_before_the_body_is_read() {
        let bytes = (MAX_FRAME_BYTES as u32 + 1).to_le_bytes();
        let err = read_frame(&mut &bytes[..]).expect_err("refused");
        assert!(matches!(err, LinkError::TooLarge(_)), "{err}");
    }

    #[test]
    fn trailing_bytes_and_unknown_tags_are_malformed() {
        let mut bytes = encode(&Frame::Ping);
        bytes.push(0);
        bytes[0] += 1;
        let err = read_frame(&mut &bytes[..]).expect_err("refused");
        assert!(matches!(err, LinkError::Malformed(_)), "{err}");
        let err = read_frame(&mut &[1u8, 0, 0, 0, 200][..]).expect_err("refused");
        assert!(matches!(err, LinkError::Malformed(_)), "{err}");
    }

    #[test]
    fn the_handshake_authenticates_both_sides() {
        let keys = keys();
        let (mut a, mut b) = pair();
        let kb = keys[1].clone();
        let t = std::thread::spawn(move || {
            let me = Identity {
                chain_id: 7,
                operator: 1,
                key: &kb,
            };
            handshake(&mut b, &me, &key_of, None)
        });
        let me = Identity {
            chain_id: 7,
            operator: 0,
            key: &keys[0],
        };
        assert_eq!(handshake(&mut a, &me, &key_of, Some(1)).expect("up"), 1);
        assert_eq!(t.join().expect("joins").expect("up"), 0);
    }

    #[test]
    fn a_handshake_signed_with_another_key_or_for_another_chain_is_refused() {
        let keys = keys();
        for (chain, signer_key) in [(7u64, 2usize), (8, 1)] {
            let (mut a, mut b) = pair();
            let kb = keys[signer_key].clone();
            let t = std::thread::spawn(move || {
                // Claims operator 1, signs with `kb`.
                let me = Identity {
                    chain_id: chain,
                    operator: 1,
                    key: &kb,
                };
                let _ = handshake(&mut b, &me, &key_of, None);
            });
            let me = Identity {
                chain_id: 7,
                operator: 0,
                key: &keys[0],
            };
            let err = handshake(&mut a, &me, &key_of, Some(1)).expect_err("refused");
            assert!(matches!(err, LinkError::Refused(_)), "{err}");
            drop(a);
            t.join().expect("joins");
        }
    }
}
