//! `svcc-corpus DIR SERVICES [ROUTES] [--malformed K] [--seed S]`: writes a
//! benchmark corpus (see `svcc_tests::corpus`) into DIR. One dimension of
//! one project instead: `svcc-corpus DIR --one-service OPERATIONS`,
//! `--one-type FIELDS`, `--extends-chain TYPES` or `--long-scalar BYTES`.

use std::process::ExitCode;
use svcc_tests::corpus;

const USAGE: &str = "usage: svcc-corpus DIR SERVICES [ROUTES] [--malformed K] [--seed S]\n       svcc-corpus DIR (--one-service OPERATIONS | --one-type FIELDS | --extends-chain TYPES | --long-scalar BYTES) [--seed S]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let Some(dir) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let seed = flag("--seed").unwrap_or(7) as u64;
    let files = if let Some(n) = flag("--one-service") {
        corpus::one_service(seed, n)
    } else if let Some(n) = flag("--one-type") {
        corpus::one_type(n)
    } else if let Some(n) = flag("--extends-chain") {
        corpus::extends_chain(n)
    } else if let Some(n) = flag("--long-scalar") {
        corpus::long_scalar(n)
    } else {
        let number = |i: usize| args.get(i).and_then(|s| s.parse::<usize>().ok());
        let Some(services) = number(1) else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        let routes = number(2).unwrap_or(10);
        match flag("--malformed") {
            Some(k) => corpus::malformed(seed, services, routes, k),
            None => corpus::generate(seed, services, routes),
        }
    };
    match corpus::write(std::path::Path::new(dir.as_str()), &files) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
