//! `svcc build`: check, emit, then write only what changed.
//!
//! Nothing is written when the check finds an error. Warnings are shown and
//! the build goes on.

use super::{ColorChoice, OpenapiFormat, WranglerFormat, fatal, start_dir, use_colour};
use crate::output;
use std::io::Write;
use std::path::PathBuf;
use svcc_core::diagnostic::{Severity, render};
use svcc_core::emit::{self, DocFormat, IMPLEMENTED, Options};
use svcc_core::project::TARGETS;

/// Runs `svcc build`; returns the exit status.
pub fn run(
    check_only: bool,
    target: Vec<String>,
    formats: (OpenapiFormat, WranglerFormat),
    project: Option<PathBuf>,
) -> u8 {
    let (format, wrangler_format) = formats;
    let start = match start_dir(project) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let ws = match crate::workspace::find(&start) {
        Ok(ws) => ws,
        Err(e) => return fatal(&e.0),
    };
    let analysis = match crate::workspace::check(&ws.root) {
        Ok(a) => a,
        Err(e) => return fatal(&e.0),
    };
    if !analysis.diagnostics.is_empty() {
        let text = render::human(
            &analysis.sources,
            &analysis.diagnostics,
            use_colour(ColorChoice::Auto),
        );
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    if analysis
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error)
    {
        eprintln!("error: not building: fix the errors above first (nothing was written)");
        return 1;
    }
    let targets = if target.is_empty() {
        analysis.config.targets.clone()
    } else {
        target
    };
    if let Some(bad) = targets.iter().find(|t| !TARGETS.contains(&t.as_str())) {
        return fatal(&format!(
            "unknown target `{bad}` (targets: {})",
            TARGETS.join(", ")
        ));
    }
    let skipped: Vec<&str> = targets
        .iter()
        .map(String::as_str)
        .filter(|t| !IMPLEMENTED.contains(t))
        .collect();
    if !skipped.is_empty() {
        eprintln!(
            "note: skipping {}: not implemented in this version of svcc",
            skipped.join(", ")
        );
    }
    let options = Options {
        targets: targets.clone(),
        openapi_format: match format {
            OpenapiFormat::Yaml => DocFormat::Yaml,
            OpenapiFormat::Json => DocFormat::Json,
        },
        wrangler_toml: wrangler_format == WranglerFormat::Toml,
    };
    let artifacts = emit::build(&analysis.model, &analysis.config, &options);
    let out = ws.root.join(&analysis.config.out);
    let plan = output::plan(&out, &artifacts, &targets);
    if !plan.foreign.is_empty() {
        for f in &plan.foreign {
            eprintln!(
                "error: `{}` exists and was not written by svcc; move it away (svcc never replaces files it did not write)",
                out.join(f).display()
            );
        }
        return 2;
    }
    if check_only {
        return report_check(&analysis.config.out, &plan);
    }
    if let Err(e) = output::apply(&out, &plan, &artifacts) {
        return fatal(&format!("could not write to `{}`: {e}", out.display()));
    }
    eprintln!(
        "built {} file(s) in `{}`: {} written, {} unchanged, {} removed",
        artifacts.len(),
        analysis.config.out,
        plan.write.len(),
        plan.unchanged.len(),
        plan.remove.len()
    );
    0
}

fn report_check(out: &str, plan: &output::Plan) -> u8 {
    if plan.is_clean() {
        eprintln!("`{out}` is up to date");
        return 0;
    }
    for f in &plan.write {
        eprintln!("would write   {out}/{f}");
    }
    for f in &plan.remove {
        eprintln!("would remove  {out}/{f}");
    }
    eprintln!("error: `{out}` is not what `svcc build` would write: run `svcc build`");
    1
}
