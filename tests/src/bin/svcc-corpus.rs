//! `svcc-corpus DIR SERVICES [ROUTES] [--malformed K] [--seed S]`: writes a
//! benchmark corpus (see `svcc_tests::corpus`) into DIR.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(dir), Some(services)) = (
        positional.first(),
        positional.get(1).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: svcc-corpus DIR SERVICES [ROUTES] [--malformed K] [--seed S]");
        return ExitCode::from(2);
    };
    let routes = positional
        .get(2)
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(10);
    let seed = flag("--seed").unwrap_or(7);
    let files = match flag("--malformed") {
        Some(k) => svcc_tests::corpus::malformed(seed, services, routes, k as usize),
        None => svcc_tests::corpus::generate(seed, services, routes),
    };
    match svcc_tests::corpus::write(std::path::Path::new(dir.as_str()), &files) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
