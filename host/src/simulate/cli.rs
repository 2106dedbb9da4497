//! `warden simulate`: options, the progress bar, the metrics endpoint, the outputs.

use std::io::{IsTerminal, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::ft::metrics::{Metrics, MetricsServer};
use crate::ft::FaultToleranceConfig;
use crate::sim::Scenario;

/// What `warden simulate` was asked: its command-line arguments, and the configuration.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Options {
    /// A scenario file instead of the default (see fixtures/scenarios/).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Override the seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report with an SVG timeline.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Keep the chain and relay queues here (default: a temporary directory, removed after).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Serve Prometheus metrics here while the simulation runs (for example 127.0.0.1:9184).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// The hosts' configuration (from the global `--config`, not an argument of its own).
    #[arg(skip)]
    pub config: FaultToleranceConfig,
}

fn bar(now_us: u64, duration_us: u64) -> String {
    let fraction = (now_us as f64 / duration_us.max(1) as f64).min(1.0);
    let filled = (fraction * 30.0).round() as usize;
    format!(
        "\r  simulating [{}{}] {:>3.0}%  {:.1} of {:.1} simulated s",
        "#".repeat(filled),
        ".".repeat(30 - filled),
        fraction * 100.0,
        now_us as f64 / 1e6,
        duration_us as f64 / 1e6
    )
}

/// Runs `warden simulate`; prints the report and returns an error when the run failed (so the
/// exit status says so).
pub fn run(options: &Options) -> anyhow::Result<()> {
    let (mut scenario, replay) = match &options.scenario {
        Some(path) => (
            Scenario::load(path)?,
            format!("warden simulate --scenario {}", path.display()),
        ),
        None => (super::default_scenario(), "warden simulate".to_string()),
    };
    if let Some(seed) = options.seed {
        scenario.seed = seed;
    }
    let replay = format!("{replay} --seed {}", scenario.seed);
    if let Some(dir) = &options.data {
        anyhow::ensure!(
            !dir.join("chain").join(crate::chain::DB_FILE).exists(),
            "{} already holds a simulation's chain; choose an empty directory",
            dir.display()
        );
    }
    let metrics = Arc::new(Mutex::new(Metrics::new()));
    let _server = match options.metrics_addr {
        Some(addr) => {
            let server = MetricsServer::serve(addr, metrics.clone())?;
            eprintln!("metrics at http://{}/metrics", server.addr());
            Some(server)
        }
        None => None,
    };
    let tty = std::io::stderr().is_terminal();
    let mut progress = |now: u64, duration: u64| {
        if let Ok(mut m) = metrics.lock() {
            let _ = m.gauge(
                "warden_sim_time_seconds",
                "Simulated time so far.",
                &[],
                now as f64 / 1e6,
            );
            let _ = m.gauge(
                "warden_sim_progress_ratio",
                "Share of the simulated duration done.",
                &[],
                now as f64 / duration.max(1) as f64,
            );
        }
        if tty {
            let mut err = std::io::stderr();
            let _ = write!(err, "{}", bar(now, duration));
            let _ = err.flush();
        }
    };
    let report = super::simulate_with_metrics(
        &scenario,
        &options.config,
        options.data.as_deref(),
        replay,
        &mut progress,
        Some(metrics.clone()),
    );
    if tty {
        eprint!("\r{}\r", " ".repeat(80));
    }
    if let Some(path) = &options.html {
        std::fs::write(path, report.html())
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
        if let Some(path) = &options.html {
            println!("HTML report with the timeline: {}", path.display());
        }
    }
    anyhow::ensure!(
        report.verdicts.passed,
        "the simulation failed (seed {}): {}",
        report.seed,
        report.replay
    );
    Ok(())
}
