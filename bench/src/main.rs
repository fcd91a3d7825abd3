//! `axt-bench`: parses the command line and runs the benchmark (see the library).

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    axt_bench::run(axt_bench::Args::parse())
}
