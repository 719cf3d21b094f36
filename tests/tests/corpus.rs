//! The benchmark corpus is a real project: the valid one checks clean (no
//! error, no warning) and builds; the malformed one reports its mistakes.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use svcc_tests::corpus;

fn check(files: &[corpus::File]) -> svcc_core::Analysis {
    let dir = tempfile::tempdir().unwrap();
    corpus::write(dir.path(), files).unwrap();
    svcc::workspace::check(dir.path()).unwrap()
}

#[test]
fn the_generated_corpus_checks_clean() {
    for n in [1, 2, 12] {
        let analysis = check(&corpus::generate(7, n, 10));
        let rendered =
            svcc_core::diagnostic::render::human(&analysis.sources, &analysis.diagnostics, false);
        assert!(analysis.diagnostics.is_empty(), "{n} services:\n{rendered}");
        assert_eq!(analysis.model.ast.services.len(), n + 1);
    }
}

#[test]
fn the_corpus_is_deterministic_and_proportioned() {
    assert_eq!(corpus::generate(7, 30, 10), corpus::generate(7, 30, 10));
    let analysis = check(&corpus::generate(7, 30, 10));
    let ast = &analysis.model.ast;
    assert_eq!(
        (ast.sagas.len(), ast.pricing.len(), ast.deployments.len()),
        (3, 3, 3)
    );
    let routes: usize = ast.services.iter().map(|s| s.routes.len()).sum();
    assert_eq!(routes, 30 * 10 + 1);
}

#[test]
fn the_malformed_corpus_reports_every_planted_mistake() {
    let analysis = check(&corpus::malformed(7, 40, 10, 25));
    let errors = analysis
        .diagnostics
        .iter()
        .filter(|d| d.severity == svcc_core::diagnostic::Severity::Error)
        .count();
    assert!(errors >= 25, "{errors} errors for 25 planted mistakes");
}
