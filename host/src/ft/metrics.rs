//! The HTTP endpoint, [`MetricsServer`], that serves a [`Metrics`] registry on `GET /metrics`
//! (the registry and its text format are `warden_core::metrics`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

pub use warden_core::metrics::*;

/// The HTTP endpoint serving a shared [`Metrics`] on `GET /metrics`, on a background thread.
///
/// Other paths answer 404, other methods on `/metrics` answer 405. Dropping the server stops the
/// thread and closes the listening socket. A poisoned mutex (a writer panicked while holding it)
/// does not stop the server: it renders the values as they were left.
pub struct MetricsServer {
    addr: SocketAddr,
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free port, see [`addr`](Self::addr)) and serves `shared`
    /// until the returned server is dropped.
    pub fn serve(addr: SocketAddr, shared: Arc<Mutex<Metrics>>) -> anyhow::Result<MetricsServer> {
        let server = Server::http(addr).map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("{addr} is not an IP address"))?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let server = Arc::clone(&server);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("warden-metrics".to_string())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        // `unblock` wakes this wait at once; the timeout is a backstop.
                        match server.recv_timeout(Duration::from_millis(200)) {
                            Ok(Some(request)) => handle(request, &shared),
                            Ok(None) => {}
                            // A failed accept: keep serving (the stop flag ends the loop).
                            Err(_) => std::thread::sleep(Duration::from_millis(10)),
                        }
                    }
                })?
        };
        Ok(MetricsServer {
            addr: bound,
            server,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(request: Request, shared: &Mutex<Metrics>) {
    let path = request.url().split('?').next().unwrap_or("");
    let (status, body, allow) = if path != "/metrics" {
        (404, "not found\n".to_string(), false)
    } else if *request.method() != Method::Get {
        (405, "method not allowed\n".to_string(), true)
    } else {
        let metrics = shared.lock().unwrap_or_else(PoisonError::into_inner);
        (200, metrics.render(), false)
    };
    let content_type = if status == 200 {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = Response::from_string(body).with_status_code(status);
    if let Ok(header) = Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
        response.add_header(header);
    }
    if allow {
        if let Ok(header) = Header::from_bytes(&b"Allow"[..], &b"GET"[..]) {
            response.add_header(header);
        }
    }
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    fn fetch(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: localhost\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_string(), body.to_string())
    }

    #[test]
    fn the_server_serves_metrics_and_refuses_other_paths_and_methods() {
        let shared = Arc::new(Mutex::new(Metrics::new()));
        shared
            .lock()
            .unwrap()
            .gauge("warden_test", "A test.", &[("a", "b")], 3.0)
            .unwrap();
        let server =
            MetricsServer::serve("127.0.0.1:0".parse().unwrap(), Arc::clone(&shared)).unwrap();
        let addr = server.addr();
        assert_ne!(addr.port(), 0);

        let (status, head, body) = fetch(addr, "GET", "/metrics");
        assert_eq!(status, 200, "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        assert_eq!(body, shared.lock().unwrap().render());
        assert!(body.contains("warden_test{a=\"b\"} 3\n"));

        assert_eq!(fetch(addr, "GET", "/other").0, 404);
        assert_eq!(fetch(addr, "POST", "/metrics").0, 405);

        // A writer panicking while holding the lock poisons it; the server keeps serving.
        let poisoner = Arc::clone(&shared);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.lock().unwrap();
            panic!("poison the metrics mutex");
        })
        .join();
        assert!(shared.is_poisoned());
        let (status, _, body) = fetch(addr, "GET", "/metrics");
        assert_eq!(status, 200);
        assert!(body.contains("warden_test"));

        // Dropping stops the serving thread (joined in `drop`) and, shortly after, tiny_http's
        // accept thread closes the listening socket.
        drop(server);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(addr).is_ok() {
            assert!(std::time::Instant::now() < deadline, "still listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
