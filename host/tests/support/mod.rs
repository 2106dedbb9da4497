//! What the `warden` binary's tests share.
#![allow(dead_code)] // Each test binary uses its own part.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use warden_host::chain::client::Client;

/// A fresh directory under the system's temporary directory, named after `label`, this
/// process and the time.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "warden-{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// Every wait in these tests ends by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// A `warden` process, killed (SIGKILL) when dropped; its standard error is kept for failure
/// messages.
pub struct Proc {
    pub child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `warden args` and waits for the first line of standard error that names an
    /// address after `marker` (the processes print theirs once they listen).
    pub fn start(args: &[&str], marker: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the warden binary starts");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut first = String::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                panic!("warden {args:?} ended before listening: {first}");
            };
            first.push_str(&line);
            first.push('\n');
            if let Some(rest) = line.split(marker).nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .expect("an address")
                    .to_string();
            }
        };
        let stderr = Arc::new(Mutex::new(first));
        let kept = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Self {
            child,
            addr,
            stderr,
        }
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr.parse().expect("a socket address")).with_timeout(WAIT)
    }

    pub fn log(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// SIGKILL: no destructor, no flush, no clean shutdown.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_chain(data: &Path, listen: &str) -> Proc {
    Proc::start(
        &[
            "chain",
            "serve",
            "--data",
            data.to_str().expect("utf-8"),
            "--listen",
            listen,
            "--block-interval-ms",
            "100",
        ],
        " on http://",
    )
}
