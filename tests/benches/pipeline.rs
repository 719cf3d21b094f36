//! In-process benchmarks of the pipeline (`cargo bench -p svcc-tests`):
//! `check_project` and the emitters on generated corpora of 10, 100 and
//! 1,000 services (see `tests/src/corpus.rs`), without process start-up or
//! file IO. `bench.sh` beside this file measures whole processes.

// Bench code: a panic is a failed benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use svcc_core::SourceInput;
use svcc_core::emit::{DocFormat, Options, build};

fn main() {
    divan::main();
}

fn inputs(services: usize) -> (SourceInput, Vec<SourceInput>) {
    let files = svcc_tests::corpus::generate(7, services, 10);
    let mut config = None;
    let mut manifests = Vec::new();
    for (path, text) in files {
        if path == "svcc.toml" {
            config = Some(SourceInput::new(path, text));
        } else {
            manifests.push(SourceInput::new(path, text));
        }
    }
    (config.unwrap(), manifests)
}

#[divan::bench(args = [10, 100, 1000], sample_count = 10)]
fn check(bencher: divan::Bencher, services: usize) {
    let (config, manifests) = inputs(services);
    bencher.bench(|| {
        svcc_core::check_project(Some(&config), &manifests)
            .diagnostics
            .len()
    });
}

#[divan::bench(args = [10, 100, 1000], sample_count = 10)]
fn emit_all_targets(bencher: divan::Bencher, services: usize) {
    let (config, manifests) = inputs(services);
    let analysis = svcc_core::check_project(Some(&config), &manifests);
    let options = Options {
        targets: vec!["openapi".into(), "asyncapi".into(), "wrangler".into()],
        openapi_format: DocFormat::Yaml,
        wrangler_toml: false,
        handler_files: Vec::new(),
    };
    bencher.bench(|| build(&analysis.model, &analysis.config, &options).len());
}
