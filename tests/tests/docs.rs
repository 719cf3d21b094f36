//! The reference in `compiler/docs/` is true for the code: every example in it runs
//! through `svcc check`, and every field and diagnostic code of the
//! language is in it.
//!
//! Why: the reference is the one page users learn the language from. An
//! example that no longer checks, or a field added to the shape table and
//! never written down, is a lie a user finds by trial and error. So every
//! fenced ` ```yaml ` and ` ```toml ` block of `compiler/docs/*.md` is an example,
//! and its info string says what it is (words after the language, in any
//! order):
//!
//! - nothing: a complete example. It is checked as a project of its own and
//!   must give no diagnostic at all (no warning either).
//! - `check=E0302` or `check=E0302,W0002`: it must give exactly these codes
//!   (each at least once, and no other), in its own file.
//! - `project=NAME`: the fences with the same NAME in one page are the
//!   files of one project, checked together (a service, and the saga that
//!   uses it). Each fence's `check=` is about the diagnostics in its own
//!   file; a fence without `check=` must have none in its file.
//! - `file=NAME`: the file's name in the project (default
//!   `example-<line>.yaml` or `.toml`); `file=svcc.toml` is the project
//!   file.
//! - `fragment`: a piece of a document (a few keys to show a form), not
//!   run; it must still be valid YAML or TOML. Keep these rare: a reader
//!   should be able to copy an example and have it work.
//!
//! Fences of other languages (`text`, `sh`, `json`, ...) are not read.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use svcc_core::diagnostic::{Code, render};
use svcc_core::lower::shape::{self, Block, Value};
use svcc_core::{SourceInput, check_project};

/// One fenced example.
#[derive(Debug)]
struct Example {
    /// The page it is on (`compiler/docs/language.md`).
    page: String,
    /// Line of its opening fence.
    line: usize,
    /// `yaml` or `toml`.
    language: String,
    /// Its text.
    text: String,
    /// `check=`: the codes it must give (empty: none).
    expect: BTreeSet<Code>,
    /// `project=`.
    project: Option<String>,
    /// `file=`.
    file: Option<String>,
    /// `fragment`.
    fragment: bool,
}

impl Example {
    fn at(&self) -> String {
        format!("{}:{}", self.page, self.line)
    }

    fn file_name(&self) -> String {
        self.file
            .clone()
            .unwrap_or_else(|| format!("example-{}.{}", self.line, self.language))
    }
}

fn docs_dir() -> PathBuf {
    svcc_tests::repo_root().join("compiler").join("docs")
}

/// The pages of the reference, sorted.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(docs_dir())
        .expect("compiler/docs/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages
}

fn page_name(path: &Path) -> String {
    format!(
        "compiler/docs/{}",
        path.file_name().unwrap_or_default().to_string_lossy()
    )
}

/// Every YAML and TOML fence of a page, with its annotations parsed.
/// A malformed annotation is an error (a typo must not turn a checked
/// example into an unchecked one).
fn examples_of(page: &str, text: &str) -> Result<Vec<Example>, String> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize)> = None;
    let mut body = String::new();
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let line = text[..range.start].matches('\n').count() + 1;
                open = Some((info.to_string(), line));
                body.clear();
            }
            Event::Text(t) if open.is_some() => body.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                let Some((info, line)) = open.take() else {
                    continue;
                };
                let mut words = info.split_whitespace();
                let language = words.next().unwrap_or("").to_string();
                if language != "yaml" && language != "toml" {
                    continue;
                }
                let mut example = Example {
                    page: page.to_string(),
                    line,
                    language,
                    text: body.clone(),
                    expect: BTreeSet::new(),
                    project: None,
                    file: None,
                    fragment: false,
                };
                for word in words {
                    match word.split_once('=') {
                        Some(("check", codes)) => {
                            for c in codes.split(',') {
                                let code = Code::parse(c).ok_or_else(|| {
                                    format!("{page}:{line}: `{c}` is not a diagnostic code")
                                })?;
                                example.expect.insert(code);
                            }
                        }
                        Some(("project", name)) => example.project = Some(name.to_string()),
                        Some(("file", name)) => example.file = Some(name.to_string()),
                        None if word == "fragment" => example.fragment = true,
                        _ => {
                            return Err(format!(
                                "{page}:{line}: unknown fence annotation `{word}` (expected check=CODES, project=NAME, file=NAME or fragment)"
                            ));
                        }
                    }
                }
                if example.fragment
                    && (!example.expect.is_empty()
                        || example.project.is_some()
                        || example.file.is_some())
                {
                    return Err(format!(
                        "{page}:{line}: a fragment is not run, so it takes no other annotation"
                    ));
                }
                out.push(example);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn all_examples() -> Vec<Example> {
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for path in pages() {
        let text = std::fs::read_to_string(&path).expect("readable page");
        match examples_of(&page_name(&path), &text) {
            Ok(examples) => all.extend(examples),
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    all
}

/// The projects the examples make: a group per `project=` name and page,
/// and a project of its own for every other example.
fn projects(examples: &[Example]) -> Vec<Vec<&Example>> {
    let mut grouped: BTreeMap<(String, String), Vec<&Example>> = BTreeMap::new();
    let mut alone = Vec::new();
    for e in examples.iter().filter(|e| !e.fragment) {
        match &e.project {
            Some(name) => grouped
                .entry((e.page.clone(), name.clone()))
                .or_default()
                .push(e),
            None => alone.push(vec![e]),
        }
    }
    alone.extend(grouped.into_values());
    alone
}

/// Checks one project; returns what is wrong with it, if anything.
fn check(project: &[&Example]) -> Option<String> {
    let mut config = None;
    let mut manifests = Vec::new();
    let mut names = BTreeSet::new();
    for e in project {
        let name = e.file_name();
        if !names.insert(name.clone()) {
            return Some(format!("{}: a second file `{name}` in its project", e.at()));
        }
        let input = SourceInput::new(name.clone(), e.text.as_bytes());
        if name == "svcc.toml" {
            config = Some(input);
        } else {
            manifests.push(input);
        }
    }
    manifests.sort_by(|a, b| a.name.cmp(&b.name));
    let analysis = check_project(config.as_ref(), &manifests);
    let mut found: BTreeMap<String, BTreeSet<Code>> = BTreeMap::new();
    for d in &analysis.diagnostics {
        let file = analysis.sources.name(d.primary.span.file).to_string();
        found.entry(file).or_default().insert(d.code);
    }
    let mut wrong = Vec::new();
    for e in project {
        let got = found.remove(&e.file_name()).unwrap_or_default();
        if got != e.expect {
            wrong.push(format!(
                "{}: expected {}, got {}",
                e.at(),
                codes(&e.expect),
                codes(&got)
            ));
        }
    }
    for (file, got) in found {
        wrong.push(format!("{file} (not an example): got {}", codes(&got)));
    }
    if wrong.is_empty() {
        return None;
    }
    let human = render::human(&analysis.sources, &analysis.diagnostics, false);
    Some(format!("{}\n{human}", wrong.join("\n")))
}

fn codes(set: &BTreeSet<Code>) -> String {
    if set.is_empty() {
        return "no diagnostic".to_string();
    }
    set.iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn every_example_checks_as_its_fence_says() {
    let examples = all_examples();
    let failures: Vec<String> = projects(&examples)
        .iter()
        .filter_map(|p| check(p))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of the reference's examples do not check as their fences say:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn fragments_are_valid_yaml_or_toml() {
    let mut failures = Vec::new();
    for e in all_examples().iter().filter(|e| e.fragment) {
        let mut sources = svcc_core::source::SourceMap::new();
        let mut out = svcc_core::diagnostic::Diagnostics::new();
        let format = if e.language == "toml" {
            svcc_core::load::Format::Toml
        } else {
            svcc_core::load::Format::Yaml
        };
        svcc_core::load::load_file(
            &mut sources,
            "fragment",
            e.text.as_bytes(),
            format,
            &mut out,
        );
        let diagnostics = out.into_sorted();
        if !diagnostics.is_empty() {
            failures.push(format!(
                "{}:\n{}",
                e.at(),
                render::human(&sources, &diagnostics, false)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The test above cannot pass by finding nothing: the language page has
/// many complete examples, and every page that has examples runs some.
#[test]
fn the_reference_has_examples_that_run() {
    let examples = all_examples();
    let run = |page: &str| {
        examples
            .iter()
            .filter(|e| e.page == page && !e.fragment)
            .count()
    };
    assert!(
        run("compiler/docs/language.md") >= 40,
        "{}",
        run("compiler/docs/language.md")
    );
    let fragments = examples.iter().filter(|e| e.fragment).count();
    assert!(
        fragments * 5 <= examples.len(),
        "{fragments} of {} examples are fragments: keep them rare",
        examples.len()
    );
}

/// Every block of the shape table, each once.
fn blocks() -> Vec<&'static Block> {
    fn walk(value: &'static Value, out: &mut Vec<&'static Block>) {
        match value {
            Value::Block(b) if !out.iter().any(|o| std::ptr::eq(*o, *b)) => {
                out.push(b);
                for f in b.fields {
                    walk(&f.value, out);
                }
            }
            Value::List(v) => walk(v, out),
            Value::Map { key, value } => {
                walk(key, out);
                walk(value, out);
            }
            Value::Either(a, b) => {
                walk(a, out);
                walk(b, out);
            }
            _ => {}
        }
    }
    static ROOTS: [Value; 6] = [
        Value::Block(&shape::TYPES_DOC),
        Value::Block(&shape::SERVICE_DOC),
        Value::Block(&shape::SAGA_DOC),
        Value::Block(&shape::PRICING_DOC),
        Value::Block(&shape::DEPLOYMENT_DOC),
        Value::Block(&svcc_core::project::PROJECT_FILE),
    ];
    let mut out = Vec::new();
    for root in &ROOTS {
        walk(root, &mut out);
    }
    out
}

fn reference_text() -> String {
    pages()
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("readable page"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A field added to the shape table is a field users must be told about.
#[test]
fn every_field_of_the_format_is_in_the_reference() {
    let text = std::fs::read_to_string(docs_dir().join("language.md")).expect("language.md");
    let mut missing = Vec::new();
    for block in blocks() {
        for field in block.fields {
            if !text.contains(&format!("`{}`", field.key)) {
                missing.push(format!("`{}` of {}", field.key, block.name));
            }
        }
    }
    for kind in shape::KINDS {
        if !text.contains(&format!("`kind: {kind}`")) {
            missing.push(format!("the kind `{kind}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "compiler/docs/language.md does not mention: {}",
        missing.join(", ")
    );
}

/// So is a new diagnostic code: the reference says which rule gives it.
#[test]
fn every_diagnostic_code_is_in_the_reference() {
    let text = reference_text();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !text.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "compiler/docs/ never mentions {}",
        missing.join(", ")
    );
}

/// Users clone the repository: nothing they read may point outside it.
#[test]
fn nothing_points_at_the_spec_outside_the_repository() {
    let root = svcc_tests::repo_root();
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    files.extend(pages());
    let explain = root.join("compiler/core/src/diagnostic/explain");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(explain)
        .expect("explain pages")
        .map(|e| e.expect("readable entry").path())
        .collect();
    pages.sort();
    files.extend(pages);
    let pointing: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .contains("shared/spec")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(pointing.is_empty(), "{}", pointing.join("\n"));
}
