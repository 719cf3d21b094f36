//! The editor JSON Schema: committed copy is fresh, and it accepts every
//! example manifest (so editors do not flag valid files) while rejecting
//! an unknown field (so it is not vacuous).

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use svcc_core::diagnostic::Diagnostics;
use svcc_core::load::{Format, load_file};
use svcc_core::source::SourceMap;

fn schema() -> serde_json::Value {
    serde_json::from_str(&svcc_core::schema::manifest_schema()).unwrap()
}

#[test]
fn committed_schema_is_fresh() {
    let path = svcc_tests::repo_root().join("schemas/svcc.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == svcc_core::schema::manifest_schema(),
        "schemas/svcc.schema.json is stale: run `cargo run -p svcc -- schema > schemas/svcc.schema.json`"
    );
}

fn documents(path: &std::path::Path) -> Vec<serde_json::Value> {
    let bytes = std::fs::read(path).unwrap();
    let name = path.to_string_lossy().into_owned();
    let format = Format::from_name(&name).unwrap();
    let mut sources = SourceMap::new();
    let mut out = Diagnostics::new();
    let loaded = load_file(&mut sources, &name, &bytes, format, &mut out);
    assert!(out.is_empty(), "{name} does not load");
    loaded.documents.iter().map(|d| d.root.to_json()).collect()
}

#[test]
fn every_example_manifest_validates_against_the_schema() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let mut checked = 0;
    for example in ["shop", "email-verification"] {
        let dir = svcc_tests::repo_root()
            .join("examples")
            .join(example)
            .join("manifests");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            for doc in documents(&path) {
                let errors: Vec<String> = validator
                    .iter_errors(&doc)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "only {checked} documents checked");
}

#[test]
fn the_schema_rejects_an_unknown_field_and_a_bad_kind() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let bad_field = serde_json::json!({"kind": "Service", "name": "OrderService", "routez": {}});
    assert!(!validator.is_valid(&bad_field));
    let bad_kind = serde_json::json!({"kind": "Servic", "name": "OrderService"});
    assert!(!validator.is_valid(&bad_kind));
    let good = serde_json::json!({"kind": "Service", "name": "OrderService", "routes": {"GET /x": "getX"}});
    assert!(validator.is_valid(&good));
}
