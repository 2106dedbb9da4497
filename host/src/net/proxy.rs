//! A fault proxy for `warden testnet`: it stands in front of one validator's port for the
//! link one other validator dials, so the testnet can cut that link (closing the connection
//! and refusing new ones) and heal it, while both processes run on.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A proxy forwarding to `target` until it is cut.
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (c, o) = (cut.clone(), open.clone());
        std::thread::Builder::new()
            .name(format!("proxy-{addr}"))
            .spawn(move || {
                for client in listener.incoming().map_while(Result::ok) {
                    if c.load(Ordering::SeqCst) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else {
                        continue;
                    };
                    if let (Ok(c1), Ok(s1)) = (client.try_clone(), server.try_clone()) {
                        let mut list = o.lock().unwrap_or_else(|p| p.into_inner());
                        list.retain(|s: &TcpStream| s.peer_addr().is_ok());
                        list.push(c1);
                        list.push(s1);
                    }
                    pipe(client, server);
                }
            })?;
        Ok(Self { addr, cut, open })
    }

    /// The address to dial instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the link: open connections are closed, new ones refused.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Heals it: new connections are forwarded again (the dialler reconnects with backoff).
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies both ways until either side closes, then closes both.
fn pipe(a: TcpStream, b: TcpStream) {
    for (mut from, mut to) in [
        (a.try_clone(), b.try_clone()),
        (b.try_clone(), a.try_clone()),
    ]
    .into_iter()
    .filter_map(|(f, t)| Some((f.ok()?, t.ok()?)))
    {
        let _ = std::thread::Builder::new()
            .name("pipe".into())
            .spawn(move || {
                let _ = std::io::copy(&mut from, &mut to);
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
            });
    }
}
