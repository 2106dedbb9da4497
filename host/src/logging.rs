//! Logs through `tracing` on standard error: quiet by default (warnings and errors only), `-v`
//! for what the hosts and the chain do (detections, inclusions, epochs, partitions), `-vv` for
//! detail. `WARDEN_LOG=debug` (or `info`, `trace`, ...) sets the level too.

use tracing::Level;

/// Installs the subscriber once; later calls do nothing.
pub fn init(verbose: u8) {
    let from_env = std::env::var("WARDEN_LOG")
        .ok()
        .and_then(|v| v.parse::<Level>().ok());
    let level = from_env.unwrap_or(match verbose {
        0 => Level::WARN,
        1 => Level::INFO,
        2 => Level::DEBUG,
        _ => Level::TRACE,
    });
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}
