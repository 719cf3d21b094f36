//! The `svcc` binary: parses arguments and hands over to [`svcc::cli`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = svcc::cli::Args::parse();
    ExitCode::from(svcc::cli::run(args))
}
