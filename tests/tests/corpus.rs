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

#[test]
fn the_one_dimension_shapes_check_clean_and_have_their_size() {
    let shapes = [
        ("one service", corpus::one_service(7, 40)),
        ("one type", corpus::one_type(50)),
        ("extends chain", corpus::extends_chain(30)),
        ("long scalar", corpus::long_scalar(10_000)),
    ];
    for (name, files) in &shapes {
        let analysis = check(files);
        let rendered =
            svcc_core::diagnostic::render::human(&analysis.sources, &analysis.diagnostics, false);
        assert!(analysis.diagnostics.is_empty(), "{name}:\n{rendered}");
    }
    let one_service = check(&shapes[0].1);
    let catalog = one_service
        .model
        .service("CatalogService")
        .expect("the large service");
    assert_eq!(catalog.routes.len(), 40);
    assert_eq!(
        one_service
            .model
            .ast
            .types
            .iter()
            .filter(|t| t.origin != svcc_core::ast::Origin::Library)
            .count(),
        20
    );
    let wide = check(&shapes[1].1);
    let record = wide.model.type_named("Record", false).expect("Record");
    assert_eq!(wide.model.all_fields(record).len(), 50);
    let chain = check(&shapes[2].1);
    let last = chain.model.type_named("Level29", false).expect("Level29");
    // id, label, and field1 to field29
    assert_eq!(chain.model.all_fields(last).len(), 31);
    assert!(corpus::long_scalar(10_000)[1].1.len() > 10_000);
}
