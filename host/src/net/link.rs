//! The link layer of `warden node`: one authenticated TCP link per pair of validators (the
//! lower operator dials the higher), a bounded outbound queue per peer, and reconnection with
//! backoff. Everything a link reads goes to the node's event loop through one bounded channel
//! (a peer that floods fills it and waits: TCP pushes back on the sender).

use std::collections::BTreeMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use warden_module::wire::{OperatorId, PublicKey};

use super::frame::{self, handshake, read_frame, Frame, Identity, LinkError};

/// Frames queued per peer before new ones are dropped.
pub const PEER_QUEUE: usize = 1024;
/// Events (frames read, links up and down) waiting for the event loop at most.
pub const EVENT_QUEUE: usize = 8192;
/// A link with nothing to send sends a [`Frame::Ping`] this often.
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// A link silent for this long is dropped (and redialled).
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The first reconnection delay; it doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest reconnection delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// An authenticated link as the event loop holds it.
#[derive(Debug)]
pub struct PeerLink {
    /// This link's number (a newer link to the same peer replaces an older one).
    pub link: u64,
    /// Its outbound queue.
    pub tx: SyncSender<Arc<Vec<u8>>>,
    /// The socket (to close it when replaced).
    pub stream: TcpStream,
}

/// What the links tell the event loop.
#[derive(Debug)]
pub enum LinkEvent {
    /// An authenticated link to the peer is up.
    Up(OperatorId, PeerLink),
    /// The link numbered `link` to `peer` is down.
    Down {
        /// The peer.
        peer: OperatorId,
        /// The link's number.
        link: u64,
    },
    /// A frame from a peer.
    Frame(OperatorId, Box<Frame>),
}

/// Who this node is and whom it trusts, shared by the link threads.
pub struct LinkConfig {
    /// The chain id.
    pub chain_id: u64,
    /// This node's operator.
    pub operator: OperatorId,
    /// Its key.
    pub key: SigningKey,
    /// Every validator's key (any epoch's set this node knows).
    pub keys: BTreeMap<OperatorId, PublicKey>,
}

/// The running link layer.
pub struct Links {
    /// The event loop's end of the channel.
    pub events: Receiver<LinkEvent>,
    /// Frames refused by readers (malformed, oversized, bad handshakes), for the metrics.
    pub refused: Arc<AtomicU64>,
    shared: Arc<Shared>,
}

/// What every link thread shares.
struct Shared {
    cfg: LinkConfig,
    tx: SyncSender<LinkEvent>,
    stop: AtomicBool,
    refused: Arc<AtomicU64>,
    counter: AtomicU64,
}

impl Drop for Links {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts accepting on `listener` and dialling every peer in `dial` (those above this node's
/// operator; the others dial it).
pub fn start(
    cfg: LinkConfig,
    listener: TcpListener,
    dial: BTreeMap<OperatorId, SocketAddr>,
) -> anyhow::Result<Links> {
    let (tx, events) = sync_channel(EVENT_QUEUE);
    let shared = Arc::new(Shared {
        cfg,
        tx,
        stop: AtomicBool::new(false),
        refused: Arc::new(AtomicU64::new(0)),
        counter: AtomicU64::new(0),
    });
    let s = shared.clone();
    std::thread::Builder::new()
        .name("accept".into())
        .spawn(move || accept_loop(&s, &listener))?;
    // Operators outside the validator set (banned, say) are not dialled.
    for (peer, addr) in dial
        .into_iter()
        .filter(|(p, _)| *p > shared.cfg.operator && shared.cfg.keys.contains_key(p))
    {
        let s = shared.clone();
        std::thread::Builder::new()
            .name(format!("dial-{peer}"))
            .spawn(move || dial_loop(&s, peer, addr))?;
    }
    Ok(Links {
        events,
        refused: shared.refused.clone(),
        shared,
    })
}

fn key_lookup(cfg: &LinkConfig) -> impl Fn(OperatorId) -> Option<PublicKey> + '_ {
    move |op| cfg.keys.get(&op).copied()
}

fn identity(cfg: &LinkConfig) -> Identity<'_> {
    Identity {
        chain_id: cfg.chain_id,
        operator: cfg.operator,
        key: &cfg.key,
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        let shared = shared.clone();
        // The handshake runs on its own thread: a silent client holds only that thread, for
        // at most the handshake's timeout.
        let _ = std::thread::Builder::new()
            .name("link-in".into())
            .spawn(move || {
                let from = stream.peer_addr().map_or("?".into(), |a| a.to_string());
                let cfg = &shared.cfg;
                match handshake(&mut stream, &identity(cfg), &key_lookup(cfg), None) {
                    Ok(peer) => run_link(stream, peer, &shared),
                    Err(e) => {
                        shared.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("refused a connection from {from}: {e}");
                    }
                }
            });
    }
}

fn dial_loop(shared: &Shared, peer: OperatorId, addr: SocketAddr) {
    let cfg = &shared.cfg;
    let mut backoff = MIN_BACKOFF;
    while !shared.stop.load(Ordering::Relaxed) {
        let attempt = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(LinkError::from)
            .and_then(|mut s| {
                handshake(&mut s, &identity(cfg), &key_lookup(cfg), Some(peer)).map(|_| s)
            });
        match attempt {
            Ok(stream) => {
                backoff = MIN_BACKOFF;
                run_link(stream, peer, shared);
            }
            Err(LinkError::Refused(reason)) => {
                shared.refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("link to operator {peer} at {addr} refused: {reason}");
            }
            Err(e) => tracing::debug!("link to operator {peer} at {addr}: {e}"),
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Runs an authenticated link until it fails: a writer thread drains the peer's bounded
/// queue (pinging when idle), this thread reads frames into the event channel.
fn run_link(stream: TcpStream, peer: OperatorId, shared: &Shared) {
    let (tx, refused) = (&shared.tx, &shared.refused);
    let link = shared.counter.fetch_add(1, Ordering::Relaxed);
    let (Ok(writer), Ok(closer)) = (stream.try_clone(), stream.try_clone()) else {
        return;
    };
    if stream.set_read_timeout(Some(READ_TIMEOUT)).is_err() {
        return;
    }
    let (out_tx, out_rx) = sync_channel::<Arc<Vec<u8>>>(PEER_QUEUE);
    if std::thread::Builder::new()
        .name(format!("write-{peer}"))
        .spawn(move || write_loop(writer, &out_rx))
        .is_err()
    {
        return;
    }
    tracing::info!("link {link} to operator {peer} is up");
    if tx
        .send(LinkEvent::Up(
            peer,
            PeerLink {
                link,
                tx: out_tx,
                stream: closer,
            },
        ))
        .is_err()
    {
        return;
    }
    let mut reader = std::io::BufReader::new(&stream);
    loop {
        match read_frame(&mut reader) {
            Ok(Frame::Ping) => {}
            Ok(Frame::Hello { .. } | Frame::Auth { .. }) => {
                refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "operator {peer} sent a handshake frame on an open link: closing it"
                );
                break;
            }
            Ok(f) => {
                if tx.send(LinkEvent::Frame(peer, Box::new(f))).is_err() {
                    break;
                }
            }
            Err(LinkError::Io(e)) => {
                tracing::debug!("link {link} to operator {peer}: {e}");
                break;
            }
            Err(e) => {
                refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("operator {peer} sent a refused frame, closing the link: {e}");
                break;
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    let _ = tx.send(LinkEvent::Down { peer, link });
}

fn write_loop(mut stream: TcpStream, rx: &Receiver<Arc<Vec<u8>>>) {
    use std::io::Write;
    let ping = frame::encode(&Frame::Ping);
    if stream.set_write_timeout(Some(READ_TIMEOUT)).is_err() {
        return;
    }
    loop {
        let bytes = match rx.recv_timeout(PING_EVERY) {
            Ok(bytes) => bytes,
            Err(RecvTimeoutError::Timeout) => Arc::new(ping.clone()),
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if stream.write_all(&bytes).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Queues `bytes` for a peer; `false` when its queue is full (the frame is dropped).
pub fn offer(tx: &SyncSender<Arc<Vec<u8>>>, bytes: Arc<Vec<u8>>) -> bool {
    match tx.try_send(bytes) {
        Ok(()) => true,
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
    }
}
