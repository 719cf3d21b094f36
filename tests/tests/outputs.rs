//! What `svcc build` generates for the examples: snapshotted under
//! `snapshots/<example>/`, accepted by the real validators, and complete
//! (every operation and schema of the manifests is in the OpenAPI document
//! with its constraints: a walk of model and document side by side).

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use svcc_core::ast::{TypeBody, TypeExprKind};
use svcc_core::emit::{Artifact, DocFormat, Options, build, schemas};

/// Whether a third-party checker is installed; outside CI a missing one
/// skips the test (with a note), in CI it fails it: CI must install it.
fn installed(present: bool, what: &str) -> bool {
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install {what} (see .ci/run)"
        );
        eprintln!("{what} is not installed: skipped (CI installs it)");
    }
    present
}

const EXAMPLES: [&str; 2] = ["shop", "email-verification"];

fn artifacts(example: &str, format: DocFormat) -> (svcc_core::Analysis, Vec<Artifact>) {
    let dir = svcc_tests::repo_root().join("examples").join(example);
    let analysis = svcc::workspace::check(&dir).unwrap();
    let options = Options {
        targets: vec![
            "openapi".into(),
            "asyncapi".into(),
            "rust".into(),
            "wrangler".into(),
        ],
        openapi_format: format,
        wrangler_toml: false,
        handler_files: svcc::cli::build::handler_files_in(&dir, &analysis.config),
    };
    let mut files = build(&analysis.model, &analysis.config, &options);
    // as `svcc build` writes them: formatted by rustfmt
    let formatted = svcc::rustfmt::format(&mut files);
    assert!(
        !matches!(formatted, svcc::rustfmt::Outcome::Skipped(_)),
        "{formatted:?}"
    );
    (analysis, files)
}

#[test]
fn generated_files_match_their_snapshots() {
    for example in EXAMPLES {
        let (_, files) = artifacts(example, DocFormat::Yaml);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(svcc_tests::repo_root().join("snapshots").join(example));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| {
            for f in &files {
                insta::assert_snapshot!(
                    f.path.replace('/', "__"),
                    String::from_utf8_lossy(&f.contents)
                );
            }
        });
    }
}

#[test]
fn builds_are_deterministic() {
    for example in EXAMPLES {
        assert_eq!(
            artifacts(example, DocFormat::Yaml).1,
            artifacts(example, DocFormat::Yaml).1
        );
    }
}

/// The OpenAPI documents of every example, and of two services of the
/// TypeSpec comparison's project (services without `auth`, which the
/// examples do not have), written to files.
fn written() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut write = |name: String, contents: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        paths.push(path);
    };
    for example in EXAMPLES {
        for f in artifacts(example, DocFormat::Yaml)
            .1
            .iter()
            .filter(|f| f.target == "openapi")
        {
            write(
                format!("{example}-{}", f.path.replace('/', "-")),
                &f.contents,
            );
        }
    }
    let project = tempfile::tempdir().unwrap();
    svcc_tests::typespec::write(
        project.path(),
        &svcc_tests::typespec::generate(2, 10, svcc_tests::typespec::Shape::ServicePerResource).0,
    )
    .unwrap();
    let analysis = svcc::workspace::check(project.path()).unwrap();
    let options = Options {
        targets: vec!["openapi".into()],
        openapi_format: DocFormat::Yaml,
        wrangler_toml: false,
        handler_files: Vec::new(),
    };
    for f in build(&analysis.model, &analysis.config, &options) {
        write(
            format!("typespec-{}", f.path.replace('/', "-")),
            &f.contents,
        );
    }
    (dir, paths)
}

fn tool(name: &str) -> Option<PathBuf> {
    let local = svcc_tests::repo_root()
        .join("tests/tools/node_modules/.bin")
        .join(name);
    if local.exists() {
        return Some(local);
    }
    let found = installed(Command::new(name).arg("--version").output().is_ok(), name);
    found.then(|| PathBuf::from(name))
}

fn run(tool: &Path, args: &[&str], file: &Path) -> (bool, String) {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .env("REDOCLY_TELEMETRY", "off")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn openapi_spec_validator_accepts_every_document() {
    let Some(validator) = tool("openapi-spec-validator") else {
        return;
    };
    let (_dir, files) = written();
    for f in &files {
        let (ok, text) = run(&validator, &[], f);
        assert!(ok && text.contains("OK"), "{}: {text}", f.display());
    }
}

#[test]
fn redocly_recommended_ruleset_finds_no_error() {
    let Some(redocly) = tool("redocly") else {
        return;
    };
    let (_dir, files) = written();
    for f in &files {
        let (ok, text) = run(&redocly, &["lint", "--format=stylish"], f);
        assert!(ok, "{}: {text}", f.display());
        assert!(!text.contains(" error "), "{}: {text}", f.display());
    }
}

#[test]
fn spectral_oas_ruleset_finds_nothing_the_emitter_could_avoid() {
    let Some(spectral) = tool("spectral") else {
        return;
    };
    let (dir, files) = written();
    let ruleset = dir.path().join(".spectral.yaml");
    std::fs::write(&ruleset, "extends: [\"spectral:oas\"]\n").unwrap();
    let ruleset = ruleset.to_string_lossy().into_owned();
    for f in &files {
        let (_, text) = run(
            &spectral,
            &["lint", "--fail-severity", "error", "-r", &ruleset],
            f,
        );
        // `info-contact` needs data manifests do not have; anything else is an emitter bug
        let problems: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("warning") || l.contains("error"))
            .filter(|l| !l.contains("info-contact") && !l.contains(" problem"))
            .collect();
        assert!(problems.is_empty(), "{}: {problems:#?}", f.display());
    }
}

fn document(example: &str, service: &str) -> Value {
    let (_, files) = artifacts(example, DocFormat::Json);
    let name = format!(
        "openapi/{}.openapi.json",
        svcc_core::names::to_kebab(service)
    );
    let f = files.iter().find(|f| f.path == name).unwrap();
    serde_json::from_slice(&f.contents).unwrap()
}

/// Follows `$ref`, `allOf` and `anyOf` to the properties a schema has.
fn properties(doc: &Value, schema: &Value, into: &mut serde_json::Map<String, Value>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        properties(doc, &doc["components"]["schemas"][name], into);
    }
    for key in ["allOf", "anyOf"] {
        for s in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            properties(doc, s, into);
        }
    }
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        into.extend(p.clone());
    }
}

#[test]
fn every_operation_and_schema_round_trips_into_openapi() {
    for example in EXAMPLES {
        let (analysis, _) = artifacts(example, DocFormat::Json);
        let model = &analysis.model;
        for service in &model.ast.services {
            let doc = document(example, &service.name.value);
            for route in &service.routes {
                let op = &doc["paths"][&route.path][route.method.value.as_str().to_lowercase()];
                assert_eq!(
                    op["operationId"].as_str(),
                    route.operation.as_ref().map(|o| o.value.as_str()),
                    "{} {}",
                    service.name.value,
                    route.key.value
                );
                let status = route.success_status().to_string();
                assert!(
                    op["responses"][&status].is_object(),
                    "{}: no {status}",
                    route.key.value
                );
                if service.has_auth() && route.auth.as_ref().is_none_or(|a| a.value != "none") {
                    assert!(
                        op["responses"]["401"].is_object(),
                        "{}: authenticated route without 401",
                        route.key.value
                    );
                }
                if route.rate_limit.is_some() {
                    assert!(
                        op["responses"]["429"].is_object(),
                        "{}: rate-limited route without 429",
                        route.key.value
                    );
                }
                for e in &route.errors {
                    let declared = service
                        .errors
                        .iter()
                        .find(|d| d.name.value == e.value)
                        .unwrap();
                    let code = declared.status.as_ref().unwrap().value.to_string();
                    assert!(
                        op["responses"][&code]["content"]["application/problem+json"].is_object(),
                        "{}: {} missing",
                        route.key.value,
                        e.value
                    );
                }
                if let Some(input) = &route.input
                    && let Some(def) = model.named(input)
                    && !matches!(input.required().kind, TypeExprKind::List(_))
                {
                    let mut props = serde_json::Map::new();
                    properties(
                        &doc,
                        &op["requestBody"]["content"]["application/json"]["schema"],
                        &mut props,
                    );
                    // a saga passes server-made values whole: readOnly
                    // fields stay, writeOnly ones were never sent back
                    let whole = schemas::body_mode(model, &service.name.value, route)
                        == schemas::Mode::Response;
                    for (f, _) in model.all_fields(def) {
                        let present = props.contains_key(&f.name.value);
                        let expected = if whole {
                            !f.constraints.write_only
                        } else {
                            !f.constraints.read_only
                        };
                        assert_eq!(
                            present, expected,
                            "{}: request field `{}`",
                            route.key.value, f.name.value
                        );
                    }
                }
            }
            for t in model.ast.types.iter().filter(|t| matches!(&t.origin, svcc_core::ast::Origin::Service(s) if *s == service.name.value)) {
                if let TypeBody::Object { fields, .. } = &t.body {
                    let schema = &doc["components"]["schemas"][&t.name.value];
                    if schema.is_null() {
                        continue; // not reachable from this service's routes
                    }
                    let mut props = serde_json::Map::new();
                    properties(&doc, schema, &mut props);
                    for f in fields.iter().filter(|f| !f.constraints.write_only) {
                        let p = &props[&f.name.value];
                        let c = &f.constraints;
                        let decimal = f.ty.as_ref().is_some_and(|t| t.required().display() == "decimal");
                        let (min, max) = if decimal { ("x-svcc-minimum", "x-svcc-maximum") } else { ("minimum", "maximum") };
                        if let Some(v) = &c.min { assert_eq!(p[min].as_f64(), Some(v.value.as_f64()), "{}.{}", t.name.value, f.name.value); }
                        if let Some(v) = &c.max { assert_eq!(p[max].as_f64(), Some(v.value.as_f64()), "{}.{}", t.name.value, f.name.value); }
                        if let Some(v) = &c.max_length { assert_eq!(p["maxLength"].as_u64(), Some(v.value)); }
                        if let Some(v) = &c.min_items { assert_eq!(p["minItems"].as_u64(), Some(v.value)); }
                        if let Some((pat, _)) = &c.pattern { assert_eq!(p["pattern"].as_str(), Some(pat.as_str())); }
                    }
                }
            }
        }
    }
}

#[test]
fn the_asyncapi_parser_accepts_every_document() {
    let tools = svcc_tests::repo_root().join("tests/tools");
    if !installed(
        tools.join("node_modules/@asyncapi/parser").exists(),
        "@asyncapi/parser",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for example in EXAMPLES {
        for f in artifacts(example, DocFormat::Yaml)
            .1
            .iter()
            .filter(|f| f.target == "asyncapi")
        {
            let path = dir.path().join(format!("{example}.asyncapi.yaml"));
            std::fs::write(&path, &f.contents).unwrap();
            let out = Command::new("node")
                .arg(tools.join("asyncapi-check.mjs"))
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{example}: {text}");
            assert!(text.contains("parsed 0 errors"), "{example}: {text}");
        }
    }
}

/// The examples' wrangler configs with their environments, written to a
/// temporary folder (as generated: JSONC).
fn wrangler_configs() -> (tempfile::TempDir, Vec<(PathBuf, Vec<String>, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    for example in EXAMPLES {
        let (analysis, files) = artifacts(example, DocFormat::Yaml);
        for f in files.iter().filter(|f| f.path.ends_with("wrangler.jsonc")) {
            let name = f.path.split('/').nth(1).unwrap().to_string();
            let d = analysis
                .model
                .ast
                .deployments
                .iter()
                .find(|d| svcc_core::emit::wrangler::worker_name(d) == name)
                .unwrap();
            let envs = d
                .environments
                .iter()
                .map(|e| e.name.value.clone())
                .collect();
            let path = dir.path().join(format!("{example}-{name}.jsonc"));
            std::fs::write(&path, &f.contents).unwrap();
            out.push((
                path,
                envs,
                String::from_utf8_lossy(&f.contents).into_owned(),
            ));
        }
    }
    assert!(
        out.len() >= 3,
        "the examples have at least three deployments"
    );
    (dir, out)
}

/// JSONC as written by svcc: comment lines, then JSON.
fn json_of_jsonc(text: &str) -> Value {
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    serde_json::from_str(&body.join("\n")).unwrap()
}

fn wrangler_tools() -> Option<PathBuf> {
    let tools = svcc_tests::repo_root().join("tests/tools");
    installed(
        tools
            .join("node_modules/wrangler/config-schema.json")
            .exists(),
        "wrangler",
    )
    .then_some(tools)
}

#[test]
fn wrangler_configs_match_wranglers_own_schema() {
    let Some(tools) = wrangler_tools() else {
        return;
    };
    let schema: Value = serde_json::from_slice(
        &std::fs::read(tools.join("node_modules/wrangler/config-schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    for (path, _, text) in wrangler_configs().1 {
        let config = json_of_jsonc(&text);
        let errors: Vec<String> = validator
            .iter_errors(&config)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn wrangler_reads_every_config_and_environment_without_a_warning() {
    let Some(tools) = wrangler_tools() else {
        return;
    };
    let (_dir, configs) = wrangler_configs();
    for (path, envs, _) in configs {
        let out = Command::new("node")
            .arg(tools.join("wrangler-check.mjs"))
            .arg(&path)
            .args(&envs)
            .env("WRANGLER_SEND_METRICS", "false")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.trim() == "ok",
            "{}: {text}",
            path.display()
        );
    }
}

#[test]
fn every_environment_repeats_every_binding_and_no_secret_is_written() {
    let binding_keys = [
        "kv_namespaces",
        "r2_buckets",
        "d1_databases",
        "durable_objects",
        "queues",
        "ratelimits",
    ];
    for (path, envs, text) in wrangler_configs().1 {
        let config = json_of_jsonc(&text);
        for env in &envs {
            let here = &config["env"][env];
            for key in binding_keys {
                assert_eq!(
                    here[key],
                    config[key],
                    "{}: `{key}` of env `{env}`",
                    path.display()
                );
            }
            for (k, v) in config["vars"].as_object().into_iter().flatten() {
                let own = here["vars"][k].clone();
                assert!(
                    own == *v || own.is_string(),
                    "{}: var `{k}` missing from env `{env}`",
                    path.display()
                );
            }
        }
        let body: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect();
        let body = body.join("\n");
        for line in text.lines().filter(|l| l.starts_with("// Secrets (")) {
            for name in line.rsplit(": ").next().unwrap_or("").split(", ") {
                assert!(
                    !body.contains(name),
                    "{}: secret `{name}` outside the comment",
                    path.display()
                );
            }
        }
        for v in config["vars"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            assert!(
                svcc_core::check::secret_like(v.as_str().unwrap_or("")).is_none(),
                "{}: {v}",
                path.display()
            );
        }
    }
}

#[test]
fn deploy_scripts_pass_shellcheck() {
    if !installed(
        Command::new("shellcheck").arg("--version").output().is_ok(),
        "shellcheck",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for example in EXAMPLES {
        for f in artifacts(example, DocFormat::Yaml)
            .1
            .iter()
            .filter(|f| f.path.ends_with("deploy.sh"))
        {
            let path = dir.path().join(f.path.replace('/', "-"));
            std::fs::write(&path, &f.contents).unwrap();
            let out = Command::new("shellcheck")
                .arg("--shell=bash")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                f.path,
                String::from_utf8_lossy(&out.stdout)
            );
            checked += 1;
        }
    }
    assert!(checked >= 3);
}

#[test]
fn wrangler_reads_the_toml_form_too() {
    let Some(tools) = wrangler_tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let analysis = svcc::workspace::check(&svcc_tests::repo_root().join("examples/shop")).unwrap();
    let options = Options {
        targets: vec!["wrangler".into()],
        openapi_format: DocFormat::Yaml,
        wrangler_toml: true,
        handler_files: Vec::new(),
    };
    for f in build(&analysis.model, &analysis.config, &options)
        .iter()
        .filter(|f| f.path.ends_with("wrangler.toml"))
    {
        let path = dir.path().join(f.path.replace('/', "-"));
        std::fs::write(&path, &f.contents).unwrap();
        let out = Command::new("node")
            .arg(tools.join("wrangler-check.mjs"))
            .arg(&path)
            .args(["staging", "production"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.trim() == "ok",
            "{}: {text}",
            f.path
        );
    }
}

/// Every `$ref` in a document, recursively.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r.to_string());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn generated_names_never_clobber_project_types() {
    let manifest = "kind: Service\nname: OrderService\nerrors:\n  OutOfStock: { status: 409 }\ntypes:\n  Problem:\n    fields: { severity: string }\n  OrderInput:\n    fields: { raw: string }\n  OutOfStockProblem:\n    fields: { sku: string }\n  Order:\n    fields:\n      id: { type: uuid, readOnly: true }\n      problem: Problem\n      input: OrderInput\n      stock: OutOfStockProblem\nroutes:\n  POST /orders:\n    operation: createOrder\n    input: Order\n    output: Order\n    errors: [OutOfStock]\n";
    let analysis = svcc_core::check_project(
        None,
        &[svcc_core::SourceInput::new("orders.yaml", manifest)],
    );
    assert!(
        analysis.diagnostics.is_empty(),
        "{:?}",
        analysis.diagnostics
    );
    let options = Options {
        targets: vec!["openapi".into()],
        openapi_format: DocFormat::Json,
        wrangler_toml: false,
        handler_files: Vec::new(),
    };
    let files = build(&analysis.model, &analysis.config, &options);
    let doc: Value = serde_json::from_slice(&files[0].contents).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Problem"]["properties"]["severity"]["type"], "string",
        "the project's Problem is kept"
    );
    assert_eq!(
        schemas["OrderInput"]["properties"]["raw"]["type"], "string",
        "the project's OrderInput is kept"
    );
    assert_eq!(
        schemas["OutOfStockProblem"]["properties"]["sku"]["type"],
        "string"
    );
    assert!(
        schemas["OrderRequestBody"].is_object(),
        "the request form of Order gets another name"
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        let path: Vec<&str> = r.trim_start_matches("#/").split('/').collect();
        let mut at = &doc;
        for p in &path {
            at = &at[*p];
        }
        assert!(at.is_object(), "dangling {r}");
    }
}
