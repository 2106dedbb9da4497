//! The `warden` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Warden: Byzantine fault tolerance for HotStuff-2 networks.
#[derive(Parser, Debug)]
#[command(
    name = "warden",
    version,
    after_help = "Start with `warden simulate`: a 16-validator HotStuff-2 network with Byzantine validators \
                  and a partition, watched by Warden's hosts, recorded on an embedded chain, ending in a report. \
                  `warden simulate --html report.html` draws its timeline; `warden config default` prints every \
                  setting. `warden demo` shows the on-chain module alone."
)]
struct Cli {
    /// The fault-tolerance configuration (`warden config default` prints one with every field).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// More logs on standard error: -v for what the hosts and the chain do, -vv for detail.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Warden's main job: simulate a HotStuff-2 network with Byzantine validators and a
    /// partition that heals, with every honest validator's host detecting misbehaviour and an
    /// embedded chain recording evidence, isolation and slashing; print the report.
    Simulate(warden_host::simulate::cli::Options),
    /// The fault-tolerance configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
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
    /// After a fork: read the certificates hosts left in a data directory (for example that
    /// of `warden simulate --data DIR`), prove who broke the protocol (more than a third of
    /// the power, from certificates alone), print the culprits, their power and the evidence,
    /// and with --submit send the evidence to the chain in DIR/chain.
    Forensics(warden_host::forensics_cli::Options),
    /// The evidence module as a CosmWasm contract: write the deployable artifact.
    Cosmwasm {
        #[command(subcommand)]
        action: CosmwasmAction,
    },
    /// A relayer beside a chain node: accept evidence and accusations from validators' hosts
    /// over HTTP (`POST /evidence`), re-verify each with the module's own code, keep it on disk
    /// (a kill -9 loses nothing) and submit it to the node in batches with bounded retries,
    /// signed with the relayer's key. `GET /status` reports the queue and what was settled.
    Relay(warden_host::ft::relay_server::Options),
    /// One validator as a process: the HotStuff-2 replica over authenticated TCP links to its
    /// peers (a signed handshake bound to the chain id, length-prefixed bounded frames,
    /// reconnection with backoff), its safety state synced to disk before anything it signs
    /// leaves, epochs and validator sets from the chain node, and Warden's host beside it,
    /// submitting evidence through a relayer (--relay) or straight to the chain.
    Node(warden_host::net::NodeOptions),
    /// A local testnet of real processes: a chain node, one `warden node` per validator and a
    /// relayer on loopback, with Byzantine validators and perturbations (SIGKILL and restart,
    /// SIGSTOP and SIGCONT, partitions cut and healed through fault proxies) from a TOML manifest; epochs rotated as the chain's isolation
    /// decides. Prints what each validator committed, what the chain recorded, and verdicts
    /// (safety, liveness, detection and isolation, no honest validator accused, recovery).
    /// With no manifest it runs `fixtures/testnets/default.toml`.
    Testnet(warden_host::net::testnet::Options),
    /// The fault-tolerance layer: its benchmark.
    Ft {
        #[command(subcommand)]
        action: FtAction,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigAction {
    /// Print a commented `warden.toml` with every field and its default.
    Default,
    /// Check a configuration file (the global --config, or this one) and print it back.
    Check {
        /// The file (default: the global --config).
        file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum CosmwasmAction {
    /// Write the contract `.wasm` (lowered for CosmWasm's VM; check it with `cosmwasm-check`)
    /// and print its size and checksum.
    Build {
        /// Where to write it.
        #[arg(long, default_value = "target/cosmwasm/warden_cosmwasm.wasm")]
        out: PathBuf,
        /// Write the build that verifies signatures inside the contract instead.
        #[arg(long)]
        in_contract_verify: bool,
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
    warden_host::logging::init(cli.verbose);
    let config = match &cli.config {
        Some(path) => match warden_host::ft::FaultToleranceConfig::read(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => warden_host::ft::FaultToleranceConfig::default(),
    };
    let result = match cli.command {
        Command::Simulate(options) => {
            warden_host::simulate::cli::run(&warden_host::simulate::cli::Options {
                config: config.clone(),
                ..options
            })
        }
        Command::Config { action } => match action {
            ConfigAction::Default => {
                print!("{}", warden_host::ft::FaultToleranceConfig::default_toml());
                Ok(())
            }
            ConfigAction::Check { file } => match file.or(cli.config.clone()) {
                Some(path) => warden_host::ft::FaultToleranceConfig::read(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|c| Ok(toml::to_string(&c)?))
                    .map(|text| print!("{} is valid:\n{text}", path.display())),
                None => Err(anyhow::anyhow!("give a file, or --config FILE")),
            },
        },
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
            warden_host::chain::cli::run(action, &config).map(|report| print!("{report}"))
        }
        Command::Forensics(options) => {
            warden_host::forensics_cli::run(&options).map(|report| print!("{report}"))
        }
        Command::Sim { action } => {
            warden_host::sim::cli::run_action(action, &config).map(|report| print!("{report}"))
        }
        Command::Cosmwasm {
            action:
                CosmwasmAction::Build {
                    out,
                    in_contract_verify,
                },
        } => warden_host::cosmwasm::write_contract(&out, in_contract_verify)
            .map(|line| print!("{line}")),
        Command::Relay(options) => warden_host::ft::relay_server::run(&options, &config.relayer),
        Command::Node(options) => warden_host::net::run_node(&options, &config),
        Command::Testnet(options) => {
            warden_host::net::testnet::main(&warden_host::net::testnet::Options {
                config: cli.config.clone(),
                ..options
            })
        }
        Command::Ft {
            action: FtAction::Bench { views, scenarios },
        } => warden_host::ft_bench::run(views, &scenarios).map(|report| print!("{report}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
