//! The `drhost` command: parses arguments, calls the library, maps errors to
//! exit codes. Nothing else happens here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use drhost::config::{parse_duration, parse_size};
use drhost::error::EXIT_USAGE;
use drhost::run::{RunOptions, RunReport, Status};

const EXIT_CODES: &str = "\
Exit codes:
  0  recovered: the plugin reported success
  1  the plugin ran and reported a failure
  2  usage or configuration error; nothing ran
  3  refused: missing grant, not a plugin, incompatible contract version
  4  sandbox limit or trap: deadline, memory, guest panic";

/// Runs disaster-recovery runbooks as sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "drhost", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a recovery plugin under the grants in drhost.toml.
    #[command(after_help = EXIT_CODES)]
    Run {
        /// The plugin, e.g. plugins/db-restore.wasm.
        plugin: PathBuf,
        /// A plugin parameter, `name=value`; repeat for more.
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// Configuration file [default: $DRHOST_CONFIG, else ./drhost.toml].
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the result as one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Wall-clock deadline for the whole run, e.g. 90s, 15m [default: 15m].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Option<Duration>,
        /// Memory cap per plugin memory, e.g. 256MiB [default: 256MiB].
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        memory: Option<u64>,
        /// Where the run journal goes [default: $XDG_STATE_HOME/drhost/runs].
        #[arg(long, value_name = "DIR")]
        journal_dir: Option<PathBuf>,
        /// Where compiled plugins are cached [default: $XDG_CACHE_HOME/drhost/components].
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Approve every confirmation the plugin asks for (journaled).
        #[arg(long, short = 'y')]
        yes: bool,
        /// Do not draw progress on stderr.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Show what a plugin is and what it needs, granting it nothing.
    Inspect {
        /// The plugin file.
        plugin: PathBuf,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Where compiled plugins are cached.
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("drhost: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE as u8);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Run { plugin, params, config, json, timeout, memory, journal_dir, cache_dir, yes, quiet } => {
                let opts = RunOptions { plugin, params, config, timeout, memory, journal_dir, cache_dir, yes, quiet: quiet || json };
                let report = drhost::run::run(opts).await;
                print_report(&report, json);
                report.exit_code
            }
            Command::Inspect { plugin, json, cache_dir } => match drhost::inspect::inspect(&plugin, cache_dir).await {
                Ok(report) if json => {
                    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
                    0
                }
                Ok(report) => {
                    print!("{report}");
                    0
                }
                Err(error) => {
                    eprintln!("drhost: {error}");
                    error.exit_code()
                }
            },
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    ExitCode::from(code as u8)
}

fn print_report(report: &RunReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
        return;
    }
    let name = report
        .plugin
        .as_ref()
        .and_then(|p| Some(format!("{} {}", p.id.as_ref()?, p.version.as_deref().unwrap_or(""))))
        .unwrap_or_else(|| "plugin".to_string());
    let seconds = report.wall_ms as f64 / 1000.0;
    match report.status {
        Status::Recovered => {
            println!("✓ {name}: {} ({seconds:.1}s)", report.summary);
            for fact in &report.facts {
                println!("    {}: {}", fact.name, fact.value);
            }
        }
        Status::Failed => {
            let step = report.failed_step.as_deref().map(|s| format!(" in step `{s}`")).unwrap_or_default();
            eprintln!("✗ {name} failed{step}: {} ({seconds:.1}s)", report.summary);
            if let Some(hint) = &report.hint {
                eprintln!("  hint: {hint}");
            }
        }
        _ => eprintln!("drhost: {}", report.summary),
    }
    if let Some(journal) = &report.journal {
        eprintln!("  journal: {}", journal.display());
    }
}
