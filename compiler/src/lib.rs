//! svcc: the command-line edge of the compiler.
//!
//! Everything that touches the outside world lives here: finding the
//! project, reading files, writing to the terminal, exit codes. The checking
//! itself is `svcc-core`, which is pure. The test harness uses this library
//! to load a case folder exactly as the CLI does.

pub mod cli;
pub mod output;
pub mod rustfmt;
pub mod workspace;
