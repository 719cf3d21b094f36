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
    timings: bool,
    project: Option<PathBuf>,
) -> u8 {
    let mut clock = Timings::start();
    let (format, wrangler_format) = formats;
    let start = match start_dir(project) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let ws = match crate::workspace::find(&start) {
        Ok(ws) => ws,
        Err(e) => return fatal(&e.0),
    };
    // the no-op rebuild: same inputs as the last build, outputs in place
    let targets_wanted = target.clone();
    let handler_files = handler_files(&ws);
    let option_text =
        format!("{targets_wanted:?} {format:?} {wrangler_format:?} {handler_files:?}");
    let settings = ws.settings();
    let manifests = match ws.read_manifests(&settings.manifests) {
        Ok(m) => m,
        Err(e) => return fatal(&e.0),
    };
    clock.mark("read");
    let fingerprint = inputs_fingerprint(&ws, &manifests, &option_text);
    let settings_out = settings.out;
    // an output folder that is (or goes through) a link: refused before
    // anything is read from it or written to it
    if let Err(why) = output::check_folder(&ws.root, &settings_out) {
        return fatal(&why);
    }
    if !check_only {
        let out = ws.root.join(&settings_out);
        if let Some(warnings) = output::up_to_date(&out, &fingerprint) {
            clock.mark("fingerprint");
            let _ = std::io::stderr().write_all(warnings.as_bytes());
            if timings {
                eprint!("{}", clock.report());
            }
            eprintln!(
                "`{}` is up to date: nothing changed since the last build",
                settings_out
            );
            return 0;
        }
    }
    let analysis = crate::workspace::check_read(&ws, &manifests, &mut |stage| clock.mark(stage));
    // `replay` (without colour) is what a no-op rebuild prints again; only
    // warnings get as far as being recorded
    let replay = if analysis.diagnostics.is_empty() {
        String::new()
    } else {
        render::human(&analysis.sources, &analysis.diagnostics, false)
    };
    if !replay.is_empty() {
        let text = if use_colour(ColorChoice::Auto) {
            render::human(&analysis.sources, &analysis.diagnostics, true)
        } else {
            replay.clone()
        };
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
        handler_files,
    };
    // each target on its own, so `--timings` can tell the emitters apart
    let mut artifacts = Vec::new();
    for t in &targets {
        let one = Options {
            targets: vec![t.clone()],
            ..options.clone()
        };
        artifacts.extend(emit::build(&analysis.model, &analysis.config, &one));
        clock.mark_owned(format!("emit {t}"));
    }
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    if let crate::rustfmt::Outcome::Skipped(why) = crate::rustfmt::format(&mut artifacts) {
        eprintln!("note: generated Rust is not rustfmt-formatted: {why}");
    }
    clock.mark("rustfmt");
    let out_rel = &analysis.config.out;
    let out = ws.root.join(out_rel);
    let plan = output::plan(&out, out_rel, &artifacts, &targets);
    if !plan.foreign.is_empty() || !plan.blocked.is_empty() {
        return report_in_the_way(&out, &plan);
    }
    if check_only {
        return report_check(out_rel, &plan);
    }
    clock.mark("compare");
    let mut plan = plan;
    if let Err(e) = output::apply(&out, &mut plan, &artifacts, &fingerprint, &replay) {
        eprintln!("error: {}", e.message);
        if e.recorded {
            eprintln!(
                "note: `{out_rel}/{}` records every file this build was writing: the next `svcc build` takes them over",
                output::MANIFEST
            );
        }
        return 2;
    }
    clock.mark("write");
    if timings {
        eprint!("{}", clock.report());
    }
    eprintln!(
        "built {} file(s) in `{}`: {} written, {} unchanged, {} removed",
        artifacts.len(),
        analysis.config.out,
        plan.write.len(),
        plan.unchanged.len(),
        plan.remove.len()
    );
    if !plan.modes.is_empty() {
        eprintln!(
            "set the execute bits of {} unchanged program(s) again (deploy.sh)",
            plan.modes.len()
        );
    }
    if !plan.kept.is_empty() {
        eprintln!(
            "kept {} file(s) that are yours (handlers.rs, main.rs): never overwritten",
            plan.kept.len()
        );
    }
    0
}

fn handler_files(ws: &crate::workspace::Workspace) -> Vec<String> {
    handler_files_in(&ws.root, &ws.settings())
}

/// Services (kebab-case) with a hand-written file in the `[rust] handlers`
/// folder of a project: `<folder>/<service>.rs`.
pub fn handler_files_in(
    root: &std::path::Path,
    config: &svcc_core::project::Config,
) -> Vec<String> {
    let Some(folder) = &config.handlers else {
        return Vec::new();
    };
    let mut found: Vec<String> = std::fs::read_dir(root.join(folder))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".rs").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Files svcc never wrote, and links, folders or special files, where
/// the build would write: reported before anything is written.
fn report_in_the_way(out: &std::path::Path, plan: &output::Plan) -> u8 {
    for f in &plan.foreign {
        eprintln!(
            "error: `{}` exists and was not written by svcc; move it away (svcc never replaces files it did not write)",
            out.join(f).display()
        );
    }
    for why in &plan.blocked {
        eprintln!("error: {why}; move it away");
    }
    eprintln!("error: not building: nothing was written");
    2
}

fn report_check(out: &str, plan: &output::Plan) -> u8 {
    if plan.is_clean() {
        eprintln!("`{out}` is up to date");
        return 0;
    }
    for f in &plan.write {
        eprintln!("would write   {out}/{f}");
    }
    for f in &plan.modes {
        eprintln!("would chmod +x {out}/{f}");
    }
    for f in &plan.remove {
        eprintln!("would remove  {out}/{f}");
    }
    eprintln!("error: `{out}` is not what `svcc build` would write: run `svcc build`");
    1
}

/// Wall-clock marks between stages, for `--timings` (the clock lives here,
/// at the edge: the core only says when a stage ends).
struct Timings {
    last: std::time::Instant,
    first: std::time::Instant,
    stages: Vec<(String, std::time::Duration)>,
}

impl Timings {
    fn start() -> Self {
        let now = std::time::Instant::now();
        Timings {
            last: now,
            first: now,
            stages: Vec::new(),
        }
    }

    fn mark(&mut self, stage: &str) {
        self.mark_owned(stage.to_string());
    }

    fn mark_owned(&mut self, stage: String) {
        let now = std::time::Instant::now();
        self.stages.push((stage, now - self.last));
        self.last = now;
    }

    fn report(&self) -> String {
        let mut out = String::from("timings:\n");
        for (stage, took) in &self.stages {
            out.push_str(&format!(
                "  {stage:<16} {:>9.1} ms\n",
                took.as_secs_f64() * 1000.0
            ));
        }
        out.push_str(&format!(
            "  {:<16} {:>9.1} ms\n",
            "total",
            (self.last - self.first).as_secs_f64() * 1000.0
        ));
        out
    }
}

/// Fingerprint of svcc.toml, every manifest and the options.
fn inputs_fingerprint(
    ws: &crate::workspace::Workspace,
    manifests: &[svcc_core::SourceInput],
    options: &str,
) -> String {
    let mut inputs: Vec<(&str, &[u8])> =
        vec![(crate::workspace::PROJECT_FILE, ws.config.bytes.as_slice())];
    for m in manifests {
        inputs.push((m.name.as_str(), m.bytes.as_slice()));
        // what was not read counts too: a link left out, an unreadable
        // file, a file cut at the size limit, each differs from a file
        // with no bytes
        let why = m.not_followed.as_deref().or(m.read_error.as_deref());
        if let Some(why) = why {
            inputs.push(("(not read)", why.as_bytes()));
        }
        if m.size.is_some() {
            inputs.push(("(too large)", &[]));
        }
    }
    output::fingerprint(options, &inputs)
}
