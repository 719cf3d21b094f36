//! `svcc build` as a user runs it: nothing written on errors, only changed
//! files rewritten, stale files removed, foreign files never touched,
//! `--check` for CI, target subsets, byte-identical output.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{svcc, write};
use std::path::Path;
use std::process::Output;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ORDERS: &str = "kind: Service\nname: OrderService\nversion: 1.0.0\ntypes:\n  Order:\n    fields:\n      id: { type: uuid, readOnly: true }\n      note: string?\nroutes:\n  GET /orders/{id}:\n    operation: getOrder\n    params: { id: uuid }\n    output: Order\n  POST /orders:\n    operation: createOrder\n    input: Order\n    output: Order\n";
const BILLING: &str = "kind: Service\nname: BillingService\nroutes:\n  GET /invoices:\n    operation: listInvoices\n    output: list<string>\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svcc.toml",
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n[build]\ntargets = [\"openapi\", \"asyncapi\"]\n",
    );
    write(dir.path(), "manifests/orders.yaml", ORDERS);
    write(dir.path(), "manifests/billing.yaml", BILLING);
    dir
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap()
}

#[test]
fn builds_each_document_and_a_manifest() {
    let dir = project();
    let out = svcc(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for f in [
        "gen/openapi/order-service.openapi.yaml",
        "gen/openapi/billing-service.openapi.yaml",
        "gen/asyncapi/demo.asyncapi.yaml",
        "gen/.svcc-manifest.json",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let doc =
        String::from_utf8(read(dir.path(), "gen/openapi/order-service.openapi.yaml")).unwrap();
    assert!(doc.starts_with("openapi: 3.1.0\n"), "{doc}");
    assert!(
        doc.contains("OrderInput"),
        "a type with readOnly fields gets a request variant"
    );
}

#[test]
fn an_error_writes_nothing() {
    let dir = project();
    write(
        dir.path(),
        "manifests/orders.yaml",
        &ORDERS.replace("output: Order\n  POST", "output: Ordr\n  POST"),
    );
    let out = svcc(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("E0200"));
    assert!(
        !dir.path().join("gen").exists(),
        "nothing may be written when the check fails"
    );
}

#[test]
fn a_rebuild_rewrites_nothing_and_output_is_byte_identical() {
    let dir = project();
    svcc(dir.path(), &["build"]);
    let path = dir.path().join("gen/openapi/order-service.openapi.yaml");
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = svcc(dir.path(), &["build"]);
    assert!(
        stderr(&out).contains("is up to date: nothing changed"),
        "{}",
        stderr(&out)
    );
    // a change that does not change the output: a full build writes nothing
    write(
        dir.path(),
        "manifests/orders.yaml",
        &format!("{ORDERS}# a comment\n"),
    );
    let out = svcc(dir.path(), &["build"]);
    assert!(
        stderr(&out).contains("0 written, 3 unchanged"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before,
        "unchanged file keeps its mtime"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_no_op_rebuild_prints_the_warnings_again() {
    let dir = project();
    write(
        dir.path(),
        "manifests/orders.yaml",
        &ORDERS.replace(
            "types:\n",
            "types:\n  Unused:\n    fields:\n      a: string\n",
        ),
    );
    let first = stderr(&svcc(dir.path(), &["build"]));
    assert!(first.contains("W0002"), "{first}");
    let again = stderr(&svcc(dir.path(), &["build"]));
    assert!(again.contains("is up to date"), "{again}");
    let warning = |text: &str| {
        text.lines()
            .find(|l| l.contains("W0002"))
            .map(str::to_string)
    };
    assert_eq!(warning(&again), warning(&first));
    // fixed, the warning is gone from the next builds, no-op ones too
    write(dir.path(), "manifests/orders.yaml", ORDERS);
    assert!(!stderr(&svcc(dir.path(), &["build"])).contains("W0002"));
    let clean = stderr(&svcc(dir.path(), &["build"]));
    assert!(
        clean.contains("is up to date") && !clean.contains("W0002"),
        "{clean}"
    );
}

/// Runs a freshly copied executable. While the copy is written, another
/// test thread may fork a child that inherits the open file for a moment,
/// and exec then fails with ETXTBSY ("Text file busy"); it passes once that
/// child has exec'd in turn.
fn output_retrying_busy(command: &mut std::process::Command) -> std::process::Output {
    for _ in 0..50 {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => return other.unwrap(),
        }
    }
    command.output().unwrap()
}

#[test]
fn another_svcc_binary_does_not_take_the_no_op_path() {
    // A rebuilt or upgraded svcc may emit other output: its first build
    // regenerates (and rewrites nothing when the output is the same).
    let dir = project();
    let bin = tempfile::tempdir().unwrap();
    let copy = bin.path().join("svcc");
    std::fs::copy(env!("CARGO_BIN_EXE_svcc"), &copy).unwrap();
    let run = |exe: &Path| {
        let out = output_retrying_busy(
            std::process::Command::new(exe)
                .arg("build")
                .current_dir(dir.path()),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    run(&copy);
    assert!(run(&copy).contains("is up to date: nothing changed"));
    // the same file rebuilt later: another modification time
    let later =
        std::fs::metadata(&copy).unwrap().modified().unwrap() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let out = run(&copy);
    assert!(out.contains("0 written, 3 unchanged"), "{out}");
    assert!(run(&copy).contains("is up to date: nothing changed"));
}

#[test]
fn a_deleted_or_edited_output_is_rebuilt() {
    let dir = project();
    svcc(dir.path(), &["build"]);
    let doc = dir.path().join("gen/openapi/order-service.openapi.yaml");
    let bytes = std::fs::read(&doc).unwrap();
    std::fs::remove_file(&doc).unwrap();
    let out = svcc(dir.path(), &["build"]);
    assert!(
        stderr(&out).contains("1 written, 2 unchanged"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&doc).unwrap(), bytes);
    std::fs::write(&doc, "edited\n").unwrap();
    let out = svcc(dir.path(), &["build"]);
    assert!(stderr(&out).contains("1 written"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&doc).unwrap(), bytes);
}

#[test]
fn stale_files_are_removed_and_foreign_files_never_touched() {
    let dir = project();
    svcc(dir.path(), &["build"]);
    write(dir.path(), "gen/notes.txt", "mine\n");
    std::fs::remove_file(dir.path().join("manifests/billing.yaml")).unwrap();
    let out = svcc(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !dir.path()
            .join("gen/openapi/billing-service.openapi.yaml")
            .exists(),
        "stale file removed"
    );
    assert_eq!(read(dir.path(), "gen/notes.txt"), b"mine\n");
    // a file svcc never wrote, in the way of one it wants to write
    write(dir.path(), "manifests/billing.yaml", BILLING);
    write(
        dir.path(),
        "gen/openapi/billing-service.openapi.yaml",
        "hand written\n",
    );
    let out = svcc(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("was not written by svcc"));
    assert_eq!(
        read(dir.path(), "gen/openapi/billing-service.openapi.yaml"),
        b"hand written\n"
    );
}

#[test]
fn check_mode_writes_nothing_and_lists_differences() {
    let dir = project();
    let out = svcc(dir.path(), &["build", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("would write   gen/openapi/order-service.openapi.yaml"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("gen").exists());
    svcc(dir.path(), &["build"]);
    assert_eq!(
        svcc(dir.path(), &["build", "--check"]).status.code(),
        Some(0)
    );
    write(
        dir.path(),
        "manifests/orders.yaml",
        &ORDERS.replace("version: 1.0.0", "version: 1.1.0"),
    );
    let out = svcc(dir.path(), &["build", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("order-service.openapi.yaml"));
}

#[test]
fn a_target_subset_keeps_the_other_targets_files() {
    let dir = project();
    svcc(dir.path(), &["build"]);
    let out = svcc(
        dir.path(),
        &["build", "--target", "openapi", "--openapi-format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        dir.path().join("gen/asyncapi/demo.asyncapi.yaml").exists(),
        "asyncapi output kept"
    );
    assert!(
        dir.path()
            .join("gen/openapi/order-service.openapi.json")
            .exists()
    );
    assert!(
        !dir.path()
            .join("gen/openapi/order-service.openapi.yaml")
            .exists(),
        "the YAML form is stale now"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&read(dir.path(), "gen/openapi/order-service.openapi.json"))
            .unwrap();
    assert_eq!(json["openapi"], "3.1.0");
    assert_eq!(
        svcc(dir.path(), &["build", "--target", "terraform"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn rust_dependencies_go_into_every_generated_crate_and_bad_ones_are_errors() {
    let dir = project();
    write(
        dir.path(),
        "svcc.toml",
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n[build]\ntargets = [\"rust\"]\n\
         [rust]\nruntime = { path = \"../svcc/runtime\" }\n\
         [rust.dependencies]\nitoa = \"1\"\n\
         uuid = { version = \"1\", features = [\"v7\"], default-features = false }\n\
         shared = { path = \"libs/shared\" }\n",
    );
    let out = svcc(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let toml = String::from_utf8(read(dir.path(), "gen/rust/order-service/Cargo.toml")).unwrap();
    assert!(
        toml.ends_with(
            "[dependencies]\nsvcc-runtime = { path = \"../../../../svcc/runtime\" }\n\
             itoa = { version = \"1\" }\n\
             shared = { path = \"../../../libs/shared\" }\n\
             uuid = { version = \"1\", features = [\"v7\"], default-features = false }\n"
        ),
        "{toml}"
    );
    write(
        dir.path(),
        "svcc.toml",
        "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n[build]\ntargets = [\"rust\"]\n\
         [rust.dependencies]\nitoa = 1\n\"bad name\" = \"1\"\n",
    );
    let out = svcc(dir.path(), &["build"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("E0009"), "{err}");
    assert!(err.contains("dependency `itoa` must be a version"), "{err}");
    assert!(
        err.contains("`bad name` cannot be a dependency here"),
        "{err}"
    );
}
