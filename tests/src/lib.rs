//! The test harness: runs one case folder through svcc and snapshots what a
//! user would see.
//!
//! A case is a folder under `tests/cases/` named after the code it is about
//! (`E0203-min-above-max`). Every `*.yaml`, `*.yml` and `*.toml` in it is a
//! manifest, except `svcc.toml` (the project file, optional) and `case.toml`
//! (inputs that cannot be committed as files: a file over 16 MiB, a file
//! that cannot be read, a symbolic link the CLI did not follow). The rendered human diagnostics and the JSON lines
//! are compared with `human.snap` and `json.snap` beside the input, so a
//! reviewer sees input and output together.

pub mod corpus;
pub mod typespec;

use std::path::{Path, PathBuf};
use svcc_core::diagnostic::{Code, render};
use svcc_core::{Analysis, SourceInput};

/// Folder holding the cases.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Reads a case folder into the inputs `svcc check` would get.
pub fn load_case(dir: &Path) -> (Option<SourceInput>, Vec<SourceInput>) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut config = None;
    let mut manifests = Vec::new();
    for name in names {
        let Ok(bytes) = std::fs::read(dir.join(&name)) else {
            continue;
        };
        match name.as_str() {
            "svcc.toml" => config = Some(SourceInput::new(name, bytes)),
            "case.toml" => manifests.extend(synthesised(&bytes)),
            _ if svcc_core::load::Format::from_name(&name).is_some() => {
                manifests.push(SourceInput::new(name, bytes))
            }
            _ => {}
        }
    }
    manifests.sort_by(|a, b| a.name.cmp(&b.name));
    (config, manifests)
}

/// Inputs described by `case.toml`.
fn synthesised(bytes: &[u8]) -> Vec<SourceInput> {
    let text = String::from_utf8_lossy(bytes);
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(big) = table.get("big_file").and_then(|v| v.as_table()) {
        let name = big
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("big.yaml");
        let size = big.get("bytes").and_then(|v| v.as_integer()).unwrap_or(0);
        let line = b"# filler line to make the file large\n";
        let content: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(usize::try_from(size).unwrap_or(0))
            .collect();
        out.push(SourceInput::new(name, content));
    }
    for name in table
        .get("unreadable")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(name) = name.as_str() {
            out.push(SourceInput {
                read_error: Some("Permission denied (os error 13)".to_string()),
                ..SourceInput::new(name, Vec::new())
            });
        }
    }
    // symbolic links that the CLI did not follow, with its reason
    for link in table
        .get("not_followed")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_table())
    {
        let text = |key: &str| link.get(key).and_then(|v| v.as_str()).unwrap_or("");
        out.push(SourceInput {
            not_followed: Some(text("reason").to_string()),
            ..SourceInput::new(text("name"), Vec::new())
        });
    }
    out
}

/// Checks a case folder.
pub fn analyse(dir: &Path) -> Analysis {
    let (config, manifests) = load_case(dir);
    svcc_core::check_project(config.as_ref(), &manifests)
}

/// Runs one case: snapshots both renderings and checks that the code the
/// folder is named after was reported.
pub fn run_case(name: &str) {
    let dir = cases_dir().join(name);
    let analysis = analyse(&dir);
    let human = render::human(&analysis.sources, &analysis.diagnostics, false);
    let json = render::json_lines(&analysis.sources, &analysis.diagnostics);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_snapshot!("human", human);
        insta::assert_snapshot!("json", json);
    });
    if let Some(code) = name.split('-').next().and_then(Code::parse) {
        assert!(
            analysis.diagnostics.iter().any(|d| d.code == code),
            "case `{name}` is named after {code} but svcc did not report it:\n{human}"
        );
    }
}
