//! The file-system edge of `svcc check` and `svcc build`, with real
//! symbolic links: nothing outside the project is read, written or
//! deleted, whatever the project folder holds; a build that fails
//! half-way leaves a project the next build recovers by itself; odd
//! spellings of the output folder give the same output. Each test is
//! named after the bug it keeps fixed, and the files outside the project
//! that a bug would hit are checked to be untouched.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

mod common;

use common::{svcc, write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Output;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ORDERS: &str = "kind: Service\nname: OrderService\nversion: 1.0.0\ntypes:\n  Order:\n    fields:\n      id: { type: uuid, readOnly: true }\n      note: string?\nroutes:\n  GET /orders/{id}:\n    operation: getOrder\n    params: { id: uuid }\n    output: Order\n  POST /orders:\n    operation: createOrder\n    input: Order\n    output: Order\n";
const EDGE: &str = "kind: Deployment\nname: OrdersEdge\nservice: OrderService\ntarget: cloudflare\ncompatibilityDate: 2025-10-10\nenvironments:\n  production:\n    routes: [orders.example.com/*]\n";
const VICTIM: &[u8] = b"outside the project: never touched\n";

fn toml(build: &str) -> String {
    format!("[project]\nname = \"demo\"\nversion = \"0.1.0\"\n[build]\n{build}\n")
}

/// A project with one service, building `targets`, and a folder outside
/// it holding `victim.txt`.
fn project(targets: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svcc.toml",
        &toml(&format!("targets = [{targets}]")),
    );
    write(dir.path(), "manifests/orders.yaml", ORDERS);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim.txt"), VICTIM).unwrap();
    (dir, outside)
}

fn victim_untouched(outside: &Path) {
    assert_eq!(std::fs::read(outside.join("victim.txt")).unwrap(), VICTIM);
}

fn build(dir: &Path) -> Output {
    svcc(dir, &["build"])
}

/// Every file below `dir`, relative, sorted (links listed, not followed).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
            out.push(
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out.sort();
    out
}

fn no_temp_files(dir: &Path) {
    let temps: Vec<String> = tree(dir)
        .into_iter()
        .filter(|p| p.contains("svcc-tmp"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

#[test]
fn a_link_planted_at_a_temp_file_name_is_never_followed() {
    let (dir, outside) = project("\"openapi\"");
    assert!(build(dir.path()).status.success());
    // the name older versions of svcc wrote through, and a guess at others
    for name in [
        ".order-service.openapi.yaml.svcc-tmp",
        ".svcc-tmp-order-service.openapi.yaml",
    ] {
        symlink(
            outside.path().join("victim.txt"),
            dir.path().join("gen/openapi").join(name),
        )
        .unwrap();
    }
    write(
        dir.path(),
        "manifests/orders.yaml",
        &ORDERS.replace("version: 1.0.0", "version: 1.1.0"),
    );
    let out = build(dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 written"), "{}", stderr(&out));
    victim_untouched(outside.path());
    let doc =
        std::fs::read_to_string(dir.path().join("gen/openapi/order-service.openapi.yaml")).unwrap();
    assert!(doc.contains("version: 1.1.0"), "{doc}");
}

#[test]
fn a_stale_entry_through_a_linked_folder_deletes_nothing_outside() {
    let (dir, outside) = project("\"openapi\"");
    assert!(build(dir.path()).status.success());
    symlink(outside.path(), dir.path().join("gen/link")).unwrap();
    // a manifest (edited, or written by another tool) naming a file
    // behind the link as svcc's own
    let path = dir.path().join("gen/.svcc-manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["files"]["link/victim.txt"] = "openapi".into();
    manifest["inputs"] = "".into();
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let out = build(dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    victim_untouched(outside.path());
    // forgotten: no longer svcc's
    let manifest = std::fs::read_to_string(&path).unwrap();
    assert!(!manifest.contains("link/victim.txt"), "{manifest}");
}

#[test]
fn a_linked_output_folder_is_refused_before_anything_is_written() {
    let (dir, outside) = project("\"openapi\", \"asyncapi\"");
    symlink(outside.path(), dir.path().join("gen")).unwrap();
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`gen`, a symbolic link"), "{err}");
    assert_eq!(tree(outside.path()), ["victim.txt"]);
    // `--check` reads nothing through it either
    let out = svcc(dir.path(), &["build", "--check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // a link to a folder inside the project is refused too: svcc writes
    // only into real folders
    std::fs::remove_file(dir.path().join("gen")).unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    symlink("real", dir.path().join("gen")).unwrap();
    assert_eq!(build(dir.path()).status.code(), Some(2));
    assert!(tree(&dir.path().join("real")).is_empty());
}

#[test]
fn a_linked_subfolder_of_the_output_folder_is_refused() {
    let (dir, outside) = project("\"openapi\", \"asyncapi\"");
    std::fs::create_dir(dir.path().join("gen")).unwrap();
    symlink(outside.path(), dir.path().join("gen/openapi")).unwrap();
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`gen/openapi` is a symbolic link"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(tree(outside.path()), ["victim.txt"]);
    assert_eq!(tree(&dir.path().join("gen")), ["openapi"]);
    // an output folder below a link: `out = "build/gen"`, `build -> outside`
    let (dir, outside) = project("\"openapi\"");
    write(
        dir.path(),
        "svcc.toml",
        &toml("out = \"build/gen\"\ntargets = [\"openapi\"]"),
    );
    symlink(outside.path(), dir.path().join("build")).unwrap();
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("goes through `build`, a symbolic link"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tree(outside.path()), ["victim.txt"]);
}

#[test]
fn a_generated_file_replaced_by_a_link_is_refused_and_its_target_untouched() {
    let (dir, outside) = project("\"openapi\"");
    assert!(build(dir.path()).status.success());
    let doc = dir.path().join("gen/openapi/order-service.openapi.yaml");
    std::fs::remove_file(&doc).unwrap();
    symlink(outside.path().join("victim.txt"), &doc).unwrap();
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("order-service.openapi.yaml` is a symbolic link"),
        "{}",
        stderr(&out)
    );
    victim_untouched(outside.path());
    // a link to an endless device is never read (the build would hang)
    std::fs::remove_file(&doc).unwrap();
    symlink("/dev/zero", &doc).unwrap();
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_user_folder_where_a_generated_file_goes_is_reported_before_anything_is_written() {
    let (dir, _outside) = project("\"openapi\", \"asyncapi\"");
    std::fs::create_dir_all(
        dir.path()
            .join("gen/openapi/order-service.openapi.yaml/mine"),
    )
    .unwrap();
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "`gen/openapi/order-service.openapi.yaml` is a folder, where svcc writes a file"
        ),
        "{err}"
    );
    assert_eq!(
        tree(&dir.path().join("gen")),
        [
            "openapi",
            "openapi/order-service.openapi.yaml",
            "openapi/order-service.openapi.yaml/mine"
        ],
        "nothing written"
    );
    // a file where svcc needs a folder
    std::fs::remove_dir_all(dir.path().join("gen")).unwrap();
    write(dir.path(), "gen/asyncapi", "mine\n");
    let out = build(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`gen/asyncapi` is a file, where svcc needs a folder"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tree(&dir.path().join("gen")), ["asyncapi"]);
    // moved away, the build goes through
    std::fs::remove_file(dir.path().join("gen/asyncapi")).unwrap();
    assert!(build(dir.path()).status.success());
}

fn artifact(path: &str, contents: &str) -> svcc_core::emit::Artifact {
    svcc_core::emit::Artifact {
        target: "openapi",
        path: path.to_string(),
        contents: contents.as_bytes().to_vec(),
        seed: false,
        executable: false,
    }
}

#[test]
fn a_build_that_fails_half_way_is_taken_over_by_the_next() {
    // A name the file system refuses (longer than 255 bytes) stops the
    // write phase after other files were written. The next build, without
    // it, must take those files over instead of calling them foreign.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let targets = ["openapi".to_string()];
    let long = format!("b/{}.yaml", "x".repeat(300));
    let first = [
        artifact("a/one.yaml", "one\n"),
        artifact(&long, "long\n"),
        artifact("c/two.yaml", "two\n"),
    ];
    let mut plan = svcc::output::plan(&out, "gen", &first, &targets);
    assert!(plan.foreign.is_empty() && plan.blocked.is_empty());
    let err = svcc::output::apply(&out, &mut plan, &first, "fp1", "").unwrap_err();
    assert!(err.message.contains("File name too long"), "{err:?}");
    assert!(err.recorded);
    no_temp_files(&out);
    assert!(
        svcc::output::up_to_date(&out, "fp1").is_none(),
        "a half-written folder is never up to date"
    );
    let second = [
        artifact("a/one.yaml", "one, changed\n"),
        artifact("c/two.yaml", "two, changed\n"),
    ];
    let mut plan = svcc::output::plan(&out, "gen", &second, &targets);
    assert!(plan.foreign.is_empty(), "{:?}", plan.foreign);
    svcc::output::apply(&out, &mut plan, &second, "fp2", "").unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("c/two.yaml")).unwrap(),
        "two, changed\n"
    );
    no_temp_files(&out);
    assert_eq!(
        tree(&out),
        [".svcc-manifest.json", "a", "a/one.yaml", "c", "c/two.yaml"]
    );
    assert!(svcc::output::up_to_date(&out, "fp2").is_some());
    // a build killed between writing a temporary file and renaming it:
    // the next build clears it away (a link of that name is left alone)
    std::fs::write(out.join("a/.svcc-tmp-AbCdEfGh"), "half").unwrap();
    std::fs::write(out.join("c/.two.yaml.svcc-tmp"), "older svcc").unwrap();
    let third = [
        artifact("a/one.yaml", "one, third\n"),
        artifact("c/two.yaml", "two, changed\n"),
    ];
    let mut plan = svcc::output::plan(&out, "gen", &third, &targets);
    svcc::output::apply(&out, &mut plan, &third, "fp3", "").unwrap();
    no_temp_files(&out);
}

#[test]
fn a_manifests_folder_linked_outside_the_project_is_refused() {
    let (dir, outside) = project("\"openapi\"");
    std::fs::remove_dir_all(dir.path().join("manifests")).unwrap();
    write(outside.path(), "orders.yaml", ORDERS);
    symlink(outside.path(), dir.path().join("manifests")).unwrap();
    for args in [&["check"][..], &["build"]] {
        let out = svcc(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("outside the project"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!dir.path().join("gen").exists());
    // a link that stays inside the project is followed
    std::fs::remove_file(dir.path().join("manifests")).unwrap();
    write(dir.path(), "specs/orders.yaml", ORDERS);
    symlink("specs", dir.path().join("manifests")).unwrap();
    let out = build(dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        dir.path()
            .join("gen/openapi/order-service.openapi.yaml")
            .is_file()
    );
}

#[test]
fn linked_manifest_files_are_left_out_with_a_warning_not_silently() {
    let (dir, outside) = project("\"openapi\"");
    let m = dir.path().join("manifests");
    write(
        outside.path(),
        "billing.yaml",
        "kind: Service\nname: BillingService\n",
    );
    symlink(outside.path().join("billing.yaml"), m.join("billing.yaml")).unwrap();
    symlink("/dev/zero", m.join("zero.yaml")).unwrap();
    symlink(m.join("loop-b.yaml"), m.join("loop-a.yaml")).unwrap();
    symlink(m.join("loop-a.yaml"), m.join("loop-b.yaml")).unwrap();
    symlink(m.join("gone.yaml"), m.join("dangling.yaml")).unwrap();
    symlink(".", m.join("again")).unwrap();
    symlink(outside.path(), m.join("shared")).unwrap();
    // inside the project: followed, and read under the link's name
    write(
        dir.path(),
        "common/inventory.yaml",
        "kind: Service\nname: InventoryService\nroutes:\n  GET /stock:\n    operation: getStock\n    output: integer\n",
    );
    symlink(
        dir.path().join("common/inventory.yaml"),
        m.join("inventory.yaml"),
    )
    .unwrap();
    let out = svcc(dir.path(), &["check", "--message-format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let left_out: Vec<(&str, &str)> = lines
        .iter()
        .filter(|d| d["code"] == "W0011")
        .map(|d| (d["file"].as_str().unwrap(), d["message"].as_str().unwrap()))
        .collect();
    let files: Vec<&str> = left_out.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        files,
        [
            "manifests/again",
            "manifests/billing.yaml",
            "manifests/dangling.yaml",
            "manifests/loop-a.yaml",
            "manifests/loop-b.yaml",
            "manifests/shared",
            "manifests/zero.yaml",
        ],
        "{left_out:#?}"
    );
    let why = |file: &str| left_out.iter().find(|(f, _)| *f == file).unwrap().1;
    assert!(why("manifests/billing.yaml").contains("outside the project"));
    assert!(why("manifests/zero.yaml").contains("not a regular file"));
    assert!(why("manifests/dangling.yaml").contains("does not exist"));
    assert!(why("manifests/again").contains("a loop"));
    assert!(why("manifests/loop-a.yaml").contains("cannot be resolved"));
    // the inside link was read: its service is built
    let out = build(dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("W0011"), "{}", stderr(&out));
    assert!(
        dir.path()
            .join("gen/openapi/inventory-service.openapi.yaml")
            .is_file()
    );
    assert!(
        !dir.path()
            .join("gen/openapi/billing-service.openapi.yaml")
            .exists()
    );
    // an empty file in place of a link left out is another input: no
    // "up to date" (which would replay the old warnings)
    std::fs::remove_file(m.join("dangling.yaml")).unwrap();
    std::fs::write(m.join("dangling.yaml"), "").unwrap();
    let again = stderr(&build(dir.path()));
    assert!(!again.contains("up to date"), "{again}");
    assert!(!again.contains("dangling.yaml"), "{again}");
}

#[test]
fn a_file_over_the_size_limit_reports_its_own_size_not_the_read_limit() {
    let (dir, _outside) = project("\"openapi\"");
    let big = std::fs::File::create(dir.path().join("manifests/dump.yaml")).unwrap();
    big.set_len(20_000_000).unwrap(); // sparse: no 20 MB written
    let out = svcc(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("`manifests/dump.yaml` is larger than 16 MiB (20000000 bytes)"),
        "{err}"
    );
}

/// Builds a project with `out = "<out>"`, rust and wrangler targets, a
/// deployment and a handlers folder; every generated file, by path.
fn outputs_with(out: &str) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "svcc.toml",
        &format!(
            "{}[rust]\nruntime = {{ path = \"./vendor/./svcc-runtime/\" }}\nhandlers = \"./handlers\"\n",
            toml(&format!(
                "out = \"{out}\"\ntargets = [\"openapi\", \"rust\", \"wrangler\"]"
            ))
        ),
    );
    write(dir.path(), "manifests/orders.yaml", ORDERS);
    write(dir.path(), "manifests/edge.yaml", EDGE);
    write(dir.path(), "handlers/order-service.rs", "// mine\n");
    let o = build(dir.path());
    assert!(o.status.success(), "out = {out:?}: {}", stderr(&o));
    let clean = out
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/");
    let root = dir.path().join(clean);
    tree(&root)
        .into_iter()
        // the manifest's fingerprint covers svcc.toml, which differs
        .filter(|p| root.join(p).is_file() && p != ".svcc-manifest.json")
        .map(|p| {
            let bytes = std::fs::read(root.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn dot_segments_in_out_give_the_same_relative_paths() {
    let gen_files = outputs_with("gen");
    let text = |files: &[(String, Vec<u8>)], path: &str| {
        let (_, bytes) = files.iter().find(|(p, _)| p == path).unwrap();
        String::from_utf8(bytes.clone()).unwrap()
    };
    // from gen/rust/order-service: three folders up to the project
    let cargo = text(&gen_files, "rust/order-service/Cargo.toml");
    assert!(
        cargo.contains("svcc-runtime = { path = \"../../../vendor/svcc-runtime\" }"),
        "{cargo}"
    );
    let lib = text(&gen_files, "rust/order-service/src/lib.rs");
    assert!(
        lib.contains("#[path = \"../../../../handlers/order-service.rs\"]"),
        "{lib}"
    );
    let wrangler = text(&gen_files, "wrangler/orders-edge/wrangler.jsonc");
    assert!(
        wrangler.contains("\"$schema\": \"../../../node_modules/wrangler/config-schema.json\""),
        "{wrangler}"
    );
    for out in ["./gen", "gen/.", "gen/", "./gen/./"] {
        assert!(outputs_with(out) == gen_files, "out = {out:?} differs");
    }
    let nested = outputs_with("a/b");
    assert!(outputs_with("a/./b") == nested);
    assert!(outputs_with("./a//b/.") == nested);
}

#[test]
fn generated_scripts_are_executable_and_get_their_mode_back() {
    let (dir, _outside) = project("\"wrangler\"");
    write(dir.path(), "manifests/edge.yaml", EDGE);
    let out = build(dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let script = dir.path().join("gen/wrangler/orders-edge/deploy.sh");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
    assert_eq!(mode(&script) & 0o100, 0o100, "{:o}", mode(&script));
    let config = dir.path().join("gen/wrangler/orders-edge/wrangler.jsonc");
    assert_eq!(mode(&config) & 0o111, 0, "only programs are executable");
    // the mode lost (a checkout, an archive): the next build sets it again
    // without rewriting the file, even with nothing else changed
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::metadata(&script).unwrap().modified().unwrap();
    let check = svcc(dir.path(), &["build", "--check"]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert!(
        stderr(&check).contains("would chmod +x"),
        "{}",
        stderr(&check)
    );
    let out = build(dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("set the execute bits of 1 unchanged program(s)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(mode(&script) & 0o777, 0o755);
    assert_eq!(
        std::fs::metadata(&script).unwrap().modified().unwrap(),
        before
    );
    assert!(stderr(&build(dir.path())).contains("up to date"));
}
