//! The `svcc` binary: parses arguments and hands over to [`svcc::cli`].

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: the compiler allocates many
/// small, short-lived values, and glibc's malloc was 40% of a build's
/// instructions (see the workspace Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = svcc::cli::Args::parse();
    ExitCode::from(svcc::cli::run(args))
}
