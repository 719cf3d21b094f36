//! The `svcc` commands: arguments, dispatch and exit codes.
//!
//! Exit status: 0 clean (or warnings only), 1 problems found, 2 svcc could
//! not run (no project, unreadable folder, bad arguments).

pub mod build;
mod init;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use svcc_core::diagnostic::{Code, render};

/// A compiler for declarative service definitions.
#[derive(Debug, Parser)]
#[command(name = "svcc", version, about, long_about = None)]
pub struct Args {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// svcc's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every manifest of the project and report every problem.
    Check {
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
        /// When to use colour (human format).
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        /// The project folder (default: the current folder or a parent holding svcc.toml).
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// Generate the project's outputs (OpenAPI, AsyncAPI, ...) into the output folder.
    Build {
        /// Write nothing; exit 1 listing every file that differs from what a build would write.
        #[arg(long)]
        check: bool,
        /// Targets to build, comma-separated (default: `[build] targets` of svcc.toml).
        #[arg(long, value_delimiter = ',')]
        target: Vec<String>,
        /// OpenAPI documents as YAML (default) or JSON.
        #[arg(long, value_enum, default_value_t = OpenapiFormat::Yaml)]
        openapi_format: OpenapiFormat,
        /// Print how long each stage took (read, load, lower, resolve, check, each emitter, write).
        #[arg(long)]
        timings: bool,
        /// wrangler configs as JSONC (default) or TOML.
        #[arg(long, value_enum, default_value_t = WranglerFormat::Jsonc)]
        wrangler_format: WranglerFormat,
        /// The project folder (default: the current folder or a parent holding svcc.toml).
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// Create a new project with a small, valid service.
    Init {
        /// The project's name (kebab-case); also the folder created.
        name: String,
    },
    /// Explain a diagnostic code, with an example and its fix.
    Explain {
        /// A code such as E0203.
        code: String,
    },
    /// Print the JSON Schema of the manifest format (for editors).
    Schema,
    /// Draw the system: services, events, calls and sagas.
    Graph {
        /// Mermaid (renders on GitHub) or Graphviz DOT.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        /// The project folder (default: the current folder or a parent holding svcc.toml).
        #[arg(long)]
        project: Option<PathBuf>,
    },
}

/// OpenAPI output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OpenapiFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}

/// wrangler config formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WranglerFormat {
    /// `wrangler.jsonc`
    Jsonc,
    /// `wrangler.toml`
    Toml,
}

/// Picture formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Diagnostic output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// rustc-style, for people.
    Human,
    /// One JSON object a line, for editors and CI.
    Json,
}

/// Colour choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Runs a command; returns the exit status.
pub fn run(args: Args) -> u8 {
    match args.command {
        Command::Check {
            message_format,
            color,
            project,
        } => check(message_format, color, project),
        Command::Init { name } => init::run(&name),
        Command::Explain { code } => explain(&code),
        Command::Graph { format, project } => graph(format, project),
        Command::Build {
            check,
            target,
            openapi_format,
            wrangler_format,
            timings,
            project,
        } => build::run(
            check,
            target,
            (openapi_format, wrangler_format),
            timings,
            project,
        ),
        Command::Schema => {
            print!("{}", svcc_core::schema::manifest_schema());
            0
        }
    }
}

pub(crate) fn use_colour(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    }
}

/// Reports that svcc could not run.
pub fn fatal(message: &str) -> u8 {
    eprintln!("error: {message}");
    2
}

/// Finds the project (from `--project` or the current folder) and checks it.
pub(crate) fn analyse(project: Option<PathBuf>) -> Result<svcc_core::Analysis, u8> {
    let start = start_dir(project)?;
    crate::workspace::check(&start).map_err(|e| fatal(&e.0))
}

fn check(format: MessageFormat, color: ColorChoice, project: Option<PathBuf>) -> u8 {
    let analysis = match analyse(project) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match format {
        MessageFormat::Json => {
            let text = render::json_lines(&analysis.sources, &analysis.diagnostics);
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
        MessageFormat::Human => {
            let text = render::human(&analysis.sources, &analysis.diagnostics, use_colour(color));
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }
    u8::from(analysis.has_errors())
}

pub(crate) fn start_dir(project: Option<PathBuf>) -> Result<PathBuf, u8> {
    match project {
        Some(p) => Ok(p),
        None => std::env::current_dir()
            .map_err(|e| fatal(&format!("cannot read the current folder: {e}"))),
    }
}

fn graph(format: GraphFormat, project: Option<PathBuf>) -> u8 {
    let analysis = match analyse(project) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if analysis.has_errors() {
        let text = render::human(
            &analysis.sources,
            &analysis.diagnostics,
            use_colour(ColorChoice::Auto),
        );
        let _ = std::io::stderr().write_all(text.as_bytes());
        return 1;
    }
    let format = match format {
        GraphFormat::Mermaid => svcc_core::graph::Format::Mermaid,
        GraphFormat::Dot => svcc_core::graph::Format::Dot,
    };
    print!("{}", svcc_core::graph::render(&analysis.model, format));
    0
}

fn explain(code: &str) -> u8 {
    match Code::parse(code) {
        Some(c) => {
            print!("{}", c.explanation());
            0
        }
        None => fatal(&format!(
            "`{code}` is not an svcc diagnostic code (codes look like E0203 or W0001)"
        )),
    }
}
