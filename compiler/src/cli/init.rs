//! `svcc init NAME`: a new project that checks clean.
//!
//! Never overwrites anything: a folder that already exists and is not empty
//! is refused.

use super::fatal;
use std::path::Path;
use svcc_core::lower::shape::Ident;
use svcc_core::lower::validate::name_ok;
use svcc_core::names::{to_kebab, to_pascal};

/// Creates the project; returns the exit status.
pub fn run(name: &str) -> u8 {
    if !name_ok(name, Ident::Kebab) {
        let fixed = to_kebab(name);
        let hint = if name_ok(&fixed, Ident::Kebab) {
            format!("\nhelp: try `svcc init {fixed}`")
        } else {
            String::new()
        };
        return fatal(&format!(
            "`{name}` is not a valid project name: use kebab-case, like `my-shop`{hint}"
        ));
    }
    let root = Path::new(name);
    if root.exists() && std::fs::read_dir(root).map_or(true, |mut d| d.next().is_some()) {
        return fatal(&format!(
            "`{name}` already exists and is not empty; svcc init never overwrites files"
        ));
    }
    match write(root, name) {
        Ok(()) => {
            println!("created project `{name}`\n\n    cd {name}\n    svcc check\n");
            0
        }
        Err(e) => fatal(&format!("could not create `{name}`: {e}")),
    }
}

fn write(root: &Path, name: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(root.join("manifests"))?;
    std::fs::write(root.join("svcc.toml"), project_file(name))?;
    std::fs::write(root.join("manifests").join("service.yaml"), service(name))?;
    // The database `cargo run` of a generated crate keeps state in.
    std::fs::write(root.join(".gitignore"), "/gen/\n/.svcc/state.db*\n")?;
    std::fs::create_dir_all(root.join(".svcc"))?;
    std::fs::write(
        root.join(".svcc").join("svcc.schema.json"),
        svcc_core::schema::manifest_schema(),
    )?;
    Ok(())
}

fn project_file(name: &str) -> String {
    format!(
        r#"[project]
name = "{name}"
version = "0.1.0"

[build]
manifests = "manifests"
out = "gen"

# Lints can be silenced or made errors here:
# [lints]
# W0002 = "allow"
{rust}"#,
        rust = rust_section()
    )
}

/// `[rust] runtime`: the runtime of the svcc checkout this binary was built
/// from, when it is still there (svcc-runtime is not published yet);
/// otherwise a commented example.
fn rust_section() -> String {
    let runtime = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    match runtime.join("Cargo.toml").exists().then(|| runtime.canonicalize()) {
        Some(Ok(path)) => format!(
            "\n# Where the generated Rust crates (gen/rust/) find svcc-runtime.\n[rust]\nruntime = {{ path = {:?} }}\n",
            path.display().to_string()
        ),
        _ => "\n# Where the generated Rust crates (gen/rust/) find svcc-runtime:\n# [rust]\n# runtime = { path = \"../svcc/runtime\" }\n".to_string(),
    }
}

fn service(name: &str) -> String {
    let service = format!("{}Service", to_pascal(name));
    format!(
        r#"# yaml-language-server: $schema=../.svcc/svcc.schema.json
# Your first service. Run `svcc check` after every edit, and
# `svcc explain CODE` for more about any problem it reports.
kind: Service
name: {service}
version: 0.1.0
description: A small service to start from

types:
  Greeting:
    description: A greeting for someone
    fields:
      id: {{ type: uuid, readOnly: true }}
      name: {{ type: string, minLength: 1, maxLength: 100, example: Ada }}
      message: {{ type: string, readOnly: true }}

routes:
  POST /greetings:
    operation: createGreeting
    summary: Greet someone
    input: Greeting
    output: Greeting
    status: 201
  GET /greetings/{{id}}:
    operation: getGreeting
    summary: Read a greeting back
    params: {{ id: uuid }}
    output: Greeting
"#
    )
}
