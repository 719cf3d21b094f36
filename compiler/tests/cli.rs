//! The `svcc` binary as a user runs it: exit codes, output formats, `init`,
//! `explain`, project discovery.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{svcc, write};
use std::path::Path;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

const BROKEN: &str = "kind: Service\nname: OrderService\nroutes:\n  GET /orders/{id}:\n    operation: getOrder\n    output: Ordr\n";

fn broken_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svcc.toml",
        "[project]\nname = \"broken\"\nversion = \"0.1.0\"\n",
    );
    write(dir.path(), "manifests/orders.yaml", BROKEN);
    write(
        dir.path(),
        "manifests/types.yaml",
        "kind: Types\nname: Shop\ntypes:\n  Order:\n    fields:\n      id: uuid\n",
    );
    dir
}

#[test]
fn clean_example_exits_zero() {
    let out = svcc(&repo().join("examples/shop"), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "no problems found\n");
}

#[test]
fn errors_exit_one_with_rustc_style_output() {
    let dir = broken_project();
    let out = svcc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("error[E0200]: unknown type `Ordr`"), "{err}");
    assert!(err.contains("manifests/orders.yaml:6:13"), "{err}");
    assert!(err.contains("help: did you mean `Order`?"), "{err}");
    assert!(!err.contains('\u{1b}'), "no colour when not on a terminal");
}

#[test]
fn json_lines_have_the_documented_fields() {
    let dir = broken_project();
    let out = svcc(dir.path(), &["check", "--message-format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let d = &lines[0];
    assert_eq!(d["code"], "E0200");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "manifests/orders.yaml");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(6), Some(13))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(6), Some(17))
    );
    assert_eq!(d["help"], "did you mean `Order`?");
    assert!(d["labels"].as_array().is_some_and(|l| !l.is_empty()));
}

#[test]
fn colour_is_forced_with_always_and_never_by_default_off_terminal() {
    let dir = broken_project();
    let out = svcc(dir.path(), &["check", "--color", "always"]);
    assert!(text(&out.stderr).contains('\u{1b}'));
}

#[test]
fn project_is_found_from_a_subfolder() {
    let dir = broken_project();
    let out = svcc(&dir.path().join("manifests"), &["check"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn no_project_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let out = svcc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("could not find `svcc.toml`"));
}

#[test]
fn missing_manifests_folder_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svcc.toml",
        "[project]\nname = \"x\"\nversion = \"0.1.0\"\n",
    );
    let out = svcc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("manifests folder"));
}

#[test]
fn init_creates_a_clean_project_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = svcc(dir.path(), &["init", "shop"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let project = dir.path().join("shop");
    let check = svcc(&project, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert_eq!(text(&check.stderr), "no problems found\n");
    write(&project, "manifests/service.yaml", "# mine\n");
    let again = svcc(dir.path(), &["init", "shop"]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(project.join("manifests/service.yaml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn init_rejects_a_bad_name_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let out = svcc(dir.path(), &["init", "My Shop"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("svcc init my-shop"));
}

#[test]
fn explain_prints_the_page_and_rejects_unknown_codes() {
    let out = svcc(repo(), &["explain", "e0203"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("# E0203"));
    let bad = svcc(repo(), &["explain", "E9999"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn lint_levels_from_svcc_toml_apply() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svcc.toml",
        "[project]\nname = \"x\"\nversion = \"0.1.0\"\n[lints]\nW0002 = \"deny\"\n",
    );
    write(
        dir.path(),
        "manifests/t.yaml",
        "kind: Types\nname: Shop\ntypes:\n  Unused:\n    fields:\n      id: uuid\n",
    );
    let out = svcc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1), "a denied lint is an error");
    assert!(text(&out.stderr).contains("error[W0002]"));
}

#[test]
fn graph_draws_a_clean_project_and_refuses_a_broken_one() {
    let out = svcc(&repo().join("examples/shop"), &["graph"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("flowchart LR\n"));
    let dot = svcc(&repo().join("examples/shop"), &["graph", "--format", "dot"]);
    assert!(text(&dot.stdout).starts_with("digraph system {"));
    let dir = broken_project();
    let bad = svcc(dir.path(), &["graph"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stdout).is_empty(),
        "no picture of a broken project"
    );
}
