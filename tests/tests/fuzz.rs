//! Property tests: no input makes svcc panic or hang.
//!
//! Arbitrary bytes, and near-valid manifests (the examples with random
//! edits: deleted ranges, inserted YAML/TOML punctuation, duplicated and
//! swapped lines) go through the whole pipeline. Any panic fails the test;
//! a stack overflow aborts the test binary, which fails it too.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use svcc_core::{SourceInput, check_project};

fn example_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for example in ["shop", "email-verification"] {
        let dir = svcc_tests::repo_root()
            .join("examples")
            .join(example)
            .join("manifests");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for p in paths {
            out.push((
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

fn run(name: &str, bytes: Vec<u8>) {
    let analysis = check_project(None, &[SourceInput::new(name, bytes)]);
    // rendering must not panic either
    let _ = svcc_core::diagnostic::render::human(&analysis.sources, &analysis.diagnostics, false);
    let _ = svcc_core::diagnostic::render::json_lines(&analysis.sources, &analysis.diagnostics);
}

#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let punct = prop::sample::select(vec![
        ":", ": ", "{", "}", "[", "]", "-", "- ", "\"", "'", "&a ", "*a", "!", "|", ">", "#", "\n",
        "\t", "  ", "?", ",", "=", "<", "$.", "---\n", "\u{e9}", "\u{0}",
    ]);
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), prop::collection::vec(punct, 1..4))
            .prop_map(|(a, s)| Edit::Insert(a, s.concat())),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let len = bytes.len().max(1);
    match edit {
        Edit::Delete(at, n) => {
            let a = at % len;
            let b = (a + n).min(bytes.len());
            bytes.drain(a.min(bytes.len())..b);
        }
        Edit::Insert(at, s) => {
            let a = (at % len).min(bytes.len());
            bytes.splice(a..a, s.bytes());
        }
        Edit::DuplicateLine(i) | Edit::SwapLines(i, _) => {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let i = i % lines.len();
            match edit {
                Edit::SwapLines(_, j) => {
                    let j = j % lines.len();
                    lines.swap(i, j);
                }
                _ => {
                    let line = lines[i].clone();
                    lines.insert(i, line);
                }
            }
            return lines.join("\n");
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), toml in any::<bool>()) {
        run(if toml { "fuzz.toml" } else { "fuzz.yaml" }, bytes);
    }

    #[test]
    fn near_valid_manifests_never_panic(file in 0usize..64, edits in prop::collection::vec(edit(), 1..6)) {
        let sources = example_sources();
        let (name, text) = &sources[file % sources.len()];
        let mut text = text.clone();
        for e in &edits {
            text = apply(&text, e);
        }
        run(name, text.into_bytes());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for (name, open, close) in [
        ("deep.yaml", "[", "]"),
        ("deep.toml", "a = [", "]"),
        ("deep2.yaml", "{a: ", "}"),
    ] {
        let text = format!("{}{}", open.repeat(100_000), close.repeat(100_000));
        let analysis = check_project(None, &[SourceInput::new(name, text.into_bytes())]);
        assert!(analysis.has_errors(), "{name}");
    }
}

#[test]
fn billion_laughs_is_refused() {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, c) in ('b'..='j').enumerate() {
        let prev = (b'a' + u8::try_from(i).unwrap()) as char;
        text.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    let analysis = check_project(None, &[SourceInput::new("bomb.yaml", text.into_bytes())]);
    assert!(
        analysis
            .diagnostics
            .iter()
            .any(|d| d.code == svcc_core::diagnostic::Code::E0005)
    );
}

/// A manifest whose one route returns a type nested `depth` levels deep.
fn nested_type_manifest(depth: usize) -> String {
    let mut ty = String::from("Money");
    for i in 0..depth {
        let container = ["list", "map", "set"][i % 3];
        let optional = if i % 4 == 3 { "?" } else { "" };
        ty = format!("{container}<{ty}>{optional}");
    }
    format!(
        "kind: Service\nname: DeepService\ntypes:\n  Money: {{ fields: {{ amount: decimal }} }}\n  \
         Ledger: {{ fields: {{ id: uuid, entries: \"{ty}\" }} }}\n\
         routes:\n  GET /ledgers/{{id}}: {{ operation: getLedger, output: Ledger }}\n"
    )
}

#[test]
fn type_expressions_nested_too_deep_are_refused_before_build() {
    // `list<list<...>>` about 1,700 deep passed `check`, then overflowed the
    // stack in `build --target rust`; 10,000 levels made a 400 MB OpenAPI file
    for depth in [svcc_core::syntax::type_expr::MAX_DEPTH + 1, 1_700, 10_000] {
        let text = nested_type_manifest(depth);
        let analysis = check_project(None, &[SourceInput::new("deep.yaml", text.into_bytes())]);
        assert!(
            analysis
                .diagnostics
                .iter()
                .any(|d| d.code == svcc_core::diagnostic::Code::E0201),
            "{depth} levels"
        );
    }
}

#[test]
fn the_deepest_type_expression_check_allows_builds_readable_outputs() {
    use svcc_core::emit::{DocFormat, Options};
    let text = nested_type_manifest(svcc_core::syntax::type_expr::MAX_DEPTH);
    let analysis = check_project(None, &[SourceInput::new("deep.yaml", text.into_bytes())]);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    // on this test's thread (2 MiB of stack, as the emitter's worker
    // threads have): every target, both document formats
    for format in [DocFormat::Json, DocFormat::Yaml] {
        let options = Options {
            targets: ["openapi", "asyncapi", "rust", "wrangler"]
                .map(String::from)
                .to_vec(),
            openapi_format: format,
            wrangler_toml: false,
            handler_files: Vec::new(),
        };
        let files = svcc_core::emit::build(&analysis.model, &analysis.config, &options);
        for f in files.iter().filter(|f| f.path.ends_with(".json")) {
            // serde_json, which generated crates read `schemas.json` with,
            // stops at 128 levels of nesting, like svcc's own reader
            let parsed = serde_json::from_slice::<serde_json::Value>(&f.contents);
            assert!(parsed.is_ok(), "{}: {parsed:?}", f.path);
        }
        let openapi = files.iter().find(|f| f.path.starts_with("openapi/"));
        assert!(openapi.is_some_and(|f| f.contents.len() < 100_000));
    }
}

#[test]
fn a_long_chain_of_types_builds_without_overflowing_the_stack() {
    use svcc_core::emit::{DocFormat, Options};
    // each type holds the next: valid, and about 20,000 of them overflowed
    // the stack of `svcc build --target rust` (walks that recursed once
    // per type); this thread has 2 MiB, a quarter of the main thread's
    let n = 8_000;
    let mut text = String::from("kind: Service\nname: ChainService\ntypes:\n");
    for i in 0..n {
        let next = if i + 1 < n {
            format!("T{}", i + 1)
        } else {
            "string".into()
        };
        text.push_str(&format!(
            "  T{i}: {{ fields: {{ id: uuid, secret: {{ type: string, sensitive: true }}, next: {next}? }} }}\n"
        ));
    }
    text.push_str("routes:\n  GET /t/{id}: { operation: getT, output: T0 }\n");
    let analysis = check_project(None, &[SourceInput::new("chain.yaml", text.into_bytes())]);
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    let options = Options {
        targets: vec!["rust".into(), "openapi".into()],
        openapi_format: DocFormat::Json,
        wrangler_toml: false,
        handler_files: Vec::new(),
    };
    let files = svcc_core::emit::build(&analysis.model, &analysis.config, &options);
    let generated = files
        .iter()
        .find(|f| f.path.ends_with("src/generated.rs"))
        .map(|f| String::from_utf8_lossy(&f.contents).into_owned())
        .unwrap_or_default();
    assert!(generated.contains(&format!("pub struct T{}", n - 1)));
}
