//! Every diagnostic code has a test case and an explanation page.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use svcc_core::diagnostic::Code;

#[test]
fn every_code_has_a_case_folder() {
    let names: Vec<String> = std::fs::read_dir(svcc_tests::cases_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !names.iter().any(|n| n.starts_with(&format!("{c}-"))))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a case under tests/cases: {missing:?}"
    );
}

#[test]
fn every_code_has_an_explanation_with_an_example_and_a_fix() {
    for code in Code::ALL {
        let text = code.explanation();
        assert!(
            text.starts_with(&format!("# {}", code.as_str())),
            "{code}: page must start with `# {code}`"
        );
        assert!(
            text.contains("## Example"),
            "{code}: no `## Example` section"
        );
        assert!(text.contains("## Fix"), "{code}: no `## Fix` section");
    }
}
