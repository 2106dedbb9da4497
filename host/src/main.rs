//! The `warden` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Warden: Byzantine fault tolerance for HotStuff-2 networks.
#[derive(Parser, Debug)]
#[command(
    name = "warden",
    version,
    after_help = "Start with `warden demo`. Then `warden sim run fixtures/scenarios/partition_heals.toml` \
                  runs a simulated network, and `warden chain init --genesis fixtures/genesis.toml --data DIR` \
                  creates a local chain."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Prove misbehaviour of a small validator network through the wasm module and print the
    /// resulting on-chain state (reputation, isolation, slashing proposals).
    Demo,
    /// Write or check the golden fixture vectors (keys, evidence and expected outcomes).
    Fixtures {
        #[command(subcommand)]
        action: FixturesAction,
    },
    /// Measure signature verification, evidence checks and wasm transactions in one run.
    Bench {
        /// Iterations per measurement.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        iterations: u32,
    },
    /// The embedded chain runtime: init, serve, submit, query, block, tx, fill, bench.
    Chain {
        #[command(subcommand)]
        action: warden_host::chain::cli::ChainAction,
    },
    /// The seeded HotStuff-2 network simulator: run a scenario, soak random seeds, bench.
    Sim {
        #[command(subcommand)]
        action: warden_host::sim::cli::SimAction,
    },
    /// The fault-tolerance layer: its benchmark.
    Ft {
        #[command(subcommand)]
        action: FtAction,
    },
}

#[derive(Subcommand, Debug)]
enum FtAction {
    /// The detector's ingest rate per core, evidence verification time, and per behaviour the
    /// closed loop's detection, isolation and recovery times in simulated time.
    Bench {
        /// Views of traffic fed to the detector.
        #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        views: u64,
        /// Directory of `ft_*.toml` scenarios.
        #[arg(long, default_value = "fixtures/scenarios")]
        scenarios: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum FixturesAction {
    /// Regenerate the vectors from the deterministic keys.
    Write {
        /// Directory to write into.
        #[arg(long, default_value = "fixtures")]
        dir: PathBuf,
    },
    /// Compare the stored vectors with regenerated ones and run them through the wasm module.
    Check {
        /// Directory to read from.
        #[arg(long, default_value = "fixtures")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => warden_host::demo::run().map(|report| print!("{report}")),
        Command::Fixtures { action } => match action {
            FixturesAction::Write { dir } => warden_host::fixtures::write(&dir)
                .map(|n| println!("wrote {n} vectors to {}", dir.display())),
            FixturesAction::Check { dir } => warden_host::fixtures::check(&dir)
                .map(|n| println!("{n} vectors match and pass through the wasm module")),
        },
        Command::Bench { iterations } => {
            warden_host::bench::run(&warden_host::bench::BenchOptions { iterations })
                .map(|report| print!("{report}"))
        }
        Command::Chain { action } => {
            warden_host::chain::cli::run(action).map(|report| print!("{report}"))
        }
        Command::Sim { action } => {
            warden_host::sim::cli::run_action(action).map(|report| print!("{report}"))
        }
        Command::Ft {
            action: FtAction::Bench { views, scenarios },
        } => warden_host::ft::bench::run(views, &scenarios).map(|report| print!("{report}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
