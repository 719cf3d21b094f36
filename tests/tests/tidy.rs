//! House rules that a reviewer would otherwise have to remember.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && name != "target" && name != "node_modules" && !name.starts_with('.') {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let root = svcc_tests::repo_root();
    let mut files = Vec::new();
    for dir in ["compiler", "runtime", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` module doc saying why they exist: {missing:#?}"
    );
}

#[test]
fn the_checking_core_does_no_io() {
    let mut files = Vec::new();
    rust_files(
        &svcc_tests::repo_root().join("compiler/core/src"),
        &mut files,
    );
    let forbidden = [
        "std::fs",
        "std::env",
        "std::net",
        "std::process",
        "SystemTime",
        "Instant::now",
    ];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for word in forbidden {
            assert!(
                !text.contains(word),
                "{} uses `{word}`: the core is pure, IO belongs in the CLI crate",
                f.display()
            );
        }
    }
}

#[test]
fn emitters_read_the_model_not_the_checks() {
    // Facts emitters need (publishers, saga coordinators, pricing, owner
    // fields, success statuses) are the model's (resolve/shared.rs); the
    // checks only report.
    let mut files = Vec::new();
    let root = svcc_tests::repo_root().join("compiler/core/src");
    rust_files(&root.join("emit"), &mut files);
    files.push(root.join("graph.rs"));
    let offenders: Vec<String> = files
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            text.contains("crate::check::") || text.contains("use crate::check")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "emitters using check/ (move the fact to the model): {offenders:#?}"
    );
}

/// The sibling modules `text` (a module of the folder holding `siblings`)
/// reaches through `super::`, comments and test code left out.
fn sibling_uses(text: &str, siblings: &[String]) -> Vec<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out: Vec<String> = Vec::new();
    for (at, _) in code.match_indices("super::") {
        let rest = &code[at + "super::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if siblings.contains(&name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// A cycle among `edges` (module -> modules it uses), if any.
fn cycle(edges: &std::collections::BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut c = path[i..].to_vec();
            c.push(node.to_string());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn sibling_modules_import_each_other_one_way() {
    // The Rust emitter's builders and the YAML readers used to import each
    // other (sagas.rs <-> service.rs, fast.rs <-> yaml.rs); a module that
    // both need lives beside them instead.
    let root = svcc_tests::repo_root().join("compiler/core/src");
    for folder in [
        "emit/rust",
        "emit",
        "load",
        "lower",
        "check",
        "resolve",
        "syntax",
    ] {
        let dir = root.join(folder);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        let stem = |p: &std::path::Path| p.file_stem().unwrap().to_string_lossy().to_string();
        let siblings: Vec<String> = files
            .iter()
            .map(|p| stem(p))
            .filter(|s| s != "mod")
            .collect();
        let mut edges = std::collections::BTreeMap::new();
        for file in files.iter().filter(|p| stem(p) != "mod") {
            let text = std::fs::read_to_string(file).unwrap();
            edges.insert(stem(file), sibling_uses(&text, &siblings));
        }
        assert!(
            edges.values().any(|v| !v.is_empty()) || folder != "emit/rust",
            "{folder}: no imports found (is the scan broken?)"
        );
        if let Some(c) = cycle(&edges) {
            panic!("{folder}: modules import each other: {}", c.join(" -> "));
        }
    }
}
