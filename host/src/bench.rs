//! `warden bench`: the module's costs, measured in one run.

/// Benchmark settings.
#[derive(Clone, Copy, Debug)]
pub struct BenchOptions {
    /// Iterations per measurement.
    pub iterations: u32,
}

/// Runs the benchmark and returns the report.
pub fn run(_options: &BenchOptions) -> anyhow::Result<String> {
    anyhow::bail!("the module benchmark is not built yet")
}
