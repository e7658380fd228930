//! The `drhost` command: parses arguments, calls the library, maps errors to
//! exit codes. Nothing else happens here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use drhost::config::{parse_deadline, parse_size};
use drhost::console::plugin_text;
use drhost::error::{EXIT_OK, EXIT_USAGE};
use drhost::run::{RunOptions, RunReport, Status};
use drhost::trust::{signature, TrustPaths};

const EXIT_CODES: &str = "\
Exit codes:
  0  recovered: the plugin reported success
  1  the plugin ran and reported a failure
  2  usage or configuration error; nothing ran
  3  refused: missing grant, not a plugin, incompatible contract version,
     no trusted signature, tampered, revoked, not the file the lock pins
  4  sandbox limit or trap: deadline, memory, guest panic
130  interrupted by the operator (Ctrl-C or SIGTERM); the journal ends with run-end";

/// `drhost --version`: the program and the plugin contract it implements.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (plugin contract drhost:runbook@",
    drhost::contract_version!(),
    ")"
);

/// Runs disaster-recovery runbooks as sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "drhost", version = VERSION, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a recovery plugin under the grants in drhost.toml.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Create an Ed25519 signing key pair: DIR/NAME.key (0600) and DIR/NAME.pub.
    Keygen(KeygenArgs),
    /// Print the trust.toml `[[key]]` entry for a public key file.
    TrustEntry(TrustEntryArgs),
    /// Sign a plugin (adds a signature, keeps existing ones). Writes the
    /// plugin's identity (id, version, contract, capabilities) first, so the
    /// signature covers it.
    Sign(SignArgs),
    /// Show which trusted keys signed a plugin; exit 3 when none may vouch for it.
    Verify(VerifyArgs),
    /// Verify plugins and pin them (version, digest, signers) in drhost.lock.
    Lock(LockArgs),
    /// Push a signed plugin to an OCI registry (CNCF Wasm artifact layout).
    Push(PushArgs),
    /// Pull a plugin from an OCI registry: verify it, write DIR/<id>.wasm, pin it in drhost.lock.
    Pull(PullArgs),
    /// Show what a plugin is and what it needs, granting it nothing.
    Inspect(InspectArgs),
}

/// `drhost run`, as parsed; [`RunOptions`] is what the library runs.
#[derive(clap::Args)]
struct RunArgs {
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
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline)]
    timeout: Option<Duration>,
    /// Memory cap for all of the plugin's memories together, e.g. 256MiB [default: 256MiB].
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
    /// Run even without a trusted signature (unsigned, unknown, expired or
    /// revoked key, tampered). Loud, and journaled. Never overrides a
    /// revoked digest or the lock.
    #[arg(long)]
    allow_unsigned: bool,
    /// Run an older version than drhost.lock pins.
    #[arg(long)]
    allow_downgrade: bool,
    #[command(flatten)]
    trust: TrustFileArgs,
}

impl From<RunArgs> for RunOptions {
    fn from(args: RunArgs) -> RunOptions {
        RunOptions {
            plugin: args.plugin,
            params: args.params,
            config: args.config,
            timeout: args.timeout,
            memory: args.memory,
            journal_dir: args.journal_dir,
            cache_dir: args.cache_dir,
            yes: args.yes,
            // The JSON report owns stdout; progress on stderr would only be noise.
            quiet: args.quiet || args.json,
            allow_unsigned: args.allow_unsigned,
            allow_downgrade: args.allow_downgrade,
            trust: args.trust.trust_file,
            lock: args.trust.lock_file,
        }
    }
}

/// `drhost keygen`.
#[derive(clap::Args)]
struct KeygenArgs {
    /// Directory for the key files.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Key id: the file names, and the id signatures carry.
    #[arg(long, value_name = "NAME")]
    id: String,
}

/// `drhost trust-entry`.
#[derive(clap::Args)]
struct TrustEntryArgs {
    /// The public key (NAME.pub from `drhost keygen`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The key's id [default: the file's stem].
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Globs of plugin ids the key may vouch for; repeat for more [default: *].
    #[arg(long, value_name = "GLOB")]
    scope: Vec<String>,
}

/// `drhost sign`.
#[derive(clap::Args)]
struct SignArgs {
    /// The plugin file.
    plugin: PathBuf,
    /// The secret key (NAME.key from `drhost keygen`).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The key id stored with the signature [default: the key file's stem].
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// Write the signature to PLUGIN.sig instead of into the plugin.
    #[arg(long)]
    detached: bool,
    /// Where compiled plugins are cached.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// `drhost verify`.
#[derive(clap::Args)]
struct VerifyArgs {
    /// The plugin file.
    plugin: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

/// `drhost lock`.
#[derive(clap::Args)]
struct LockArgs {
    /// The plugin files.
    #[arg(required = true)]
    plugins: Vec<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
}

/// `drhost push`.
#[derive(clap::Args)]
struct PushArgs {
    /// The plugin file.
    plugin: PathBuf,
    /// oci://HOST[:PORT]/REPO:TAG
    reference: String,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

/// `drhost pull`.
#[derive(clap::Args)]
struct PullArgs {
    /// oci://HOST[:PORT]/REPO:TAG or oci://HOST[:PORT]/REPO@sha256:DIGEST
    reference: String,
    /// Directory to write the plugin to.
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Accept an older version than the lock pins.
    #[arg(long)]
    allow_downgrade: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    trust: TrustArgs,
}

/// `drhost inspect`.
#[derive(clap::Args)]
struct InspectArgs {
    /// The plugin file.
    plugin: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Where compiled plugins are cached.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// Where the trust and lock files are (else `[trust]` in drhost.toml, else
/// $DRHOST_TRUST / $DRHOST_LOCK, else $XDG_CONFIG_HOME/drhost/). `run`
/// takes these beside its own `--config`; the other commands through
/// [`TrustArgs`].
#[derive(clap::Args)]
struct TrustFileArgs {
    /// The trust file (keys, scopes, revocations).
    #[arg(long = "trust", value_name = "FILE")]
    trust_file: Option<PathBuf>,
    /// The lock file (pinned digests).
    #[arg(long = "lock", value_name = "FILE")]
    lock_file: Option<PathBuf>,
}

/// The trust and lock files, and the configuration file whose `[trust]`
/// table names them: for the commands that read no grants.
#[derive(clap::Args)]
struct TrustArgs {
    #[command(flatten)]
    files: TrustFileArgs,
    /// Configuration file, for its `[trust]` table [default: $DRHOST_CONFIG, else ./drhost.toml].
    #[arg(long = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
}

impl TrustArgs {
    fn paths(&self) -> Result<TrustPaths, drhost::Error> {
        let config_path = drhost::config::locate(self.config_file.as_deref());
        let config = config_path
            .as_deref()
            .map(drhost::config::Config::load)
            .transpose()?
            .unwrap_or_default();
        Ok(TrustPaths::locate(
            self.files.trust_file.as_deref(),
            self.files.lock_file.as_deref(),
            &config,
            config_path.as_deref(),
        ))
    }
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
            Command::Run(args) => run(args).await,
            Command::Keygen(args) => exit_code(keygen(args)),
            Command::TrustEntry(args) => exit_code(trust_entry(args)),
            Command::Sign(args) => exit_code(sign(args).await),
            Command::Verify(args) => exit_code(verify(args)),
            Command::Lock(args) => exit_code(lock(args)),
            Command::Push(args) => exit_code(push(args).await),
            Command::Pull(args) => exit_code(pull(args).await),
            Command::Inspect(args) => exit_code(inspect(args).await),
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    ExitCode::from(code as u8)
}

/// 0, or the error on stderr and its exit code.
fn exit_code(done: Result<(), drhost::Error>) -> i32 {
    match done {
        Ok(()) => EXIT_OK,
        Err(error) => fail(&error),
    }
}

fn fail(error: &drhost::Error) -> i32 {
    eprintln!("drhost: {}", shown(&error.to_string()));
    error.exit_code()
}

/// A message that may quote plugin text, line by line through
/// [`plugin_text`]: the host's own line breaks stay, nothing else can move
/// the cursor or colour the screen.
fn shown(text: &str) -> String {
    text.lines()
        .map(|l| plugin_text(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// `drhost run`: the run always ends in a report, and the report's exit code.
async fn run(args: RunArgs) -> i32 {
    let json = args.json;
    let report = drhost::run::run(args.into()).await;
    print_report(&report, json);
    report.exit_code
}

async fn inspect(args: InspectArgs) -> Result<(), drhost::Error> {
    let report = drhost::inspect::inspect(&args.plugin, args.cache_dir).await?;
    if args.json {
        print_json(&report);
    } else {
        print!("{report}");
    }
    Ok(())
}

fn keygen(args: KeygenArgs) -> Result<(), drhost::Error> {
    let key = signature::keygen(&args.out, &args.id)?;
    eprintln!(
        "wrote {} (secret, mode 0600) and {}; add this to trust.toml:",
        key.secret.display(),
        key.public.display()
    );
    print!("{}", key.trust_entry);
    Ok(())
}

fn trust_entry(args: TrustEntryArgs) -> Result<(), drhost::Error> {
    let TrustEntryArgs { key, id, scope } = args;
    let id = id.unwrap_or_else(|| {
        key.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let scope = if scope.is_empty() { vec!["*".to_string()] } else { scope };
    print!("{}", signature::trust_entry(&key, &id, &scope)?);
    Ok(())
}

async fn sign(args: SignArgs) -> Result<(), drhost::Error> {
    let SignArgs {
        plugin,
        key,
        key_id,
        detached,
        cache_dir,
    } = args;
    let key = signature::SigningKey::load(&key, key_id)?;
    let (outcome, warning) = drhost::trust::sign(&plugin, &key, detached, cache_dir).await?;
    if let Some(warning) = warning {
        eprintln!("warning: {}: {warning}", plugin.display());
    }
    let what = if outcome.signed { "signed" } else { "already signed" };
    println!(
        "{what} {} with `{}` → {} (signers: {})",
        plugin.display(),
        outcome.key_id,
        outcome.written_to.display(),
        outcome.key_ids.join(", ")
    );
    Ok(())
}

fn verify(args: VerifyArgs) -> Result<(), drhost::Error> {
    let paths = args.trust.paths()?;
    let file = drhost::plugin::PluginFile::read(&args.plugin)?;
    file.check_is_component()?;
    let (verdict, refusal) = drhost::trust::assess(
        &file,
        &paths.load_trust()?,
        &paths.load_lock()?,
        paths.lock.as_deref(),
        false,
    );
    if args.json {
        print_json(&verdict);
    } else {
        print_verdict(&verdict);
    }
    match refusal {
        Some(refusal) => Err(refusal.into()),
        None => Ok(()),
    }
}

fn lock(args: LockArgs) -> Result<(), drhost::Error> {
    let paths = args.trust.paths()?;
    for plugin in args.plugins {
        let file = drhost::plugin::PluginFile::read(&plugin)?;
        file.check_is_component()?;
        let source = std::fs::canonicalize(&plugin)
            .unwrap_or(plugin.clone())
            .display()
            .to_string();
        let (verdict, lock) = drhost::trust::pin(&file, &paths, &source)?;
        let id = verdict
            .identity
            .as_ref()
            .map(|i| format!("{} {}", i.id, i.version))
            .unwrap_or_default();
        println!(
            "pinned {id} at {} in {} (signers: {})",
            verdict.digest,
            lock.display(),
            verdict.signers.join(", ")
        );
    }
    Ok(())
}

async fn push(args: PushArgs) -> Result<(), drhost::Error> {
    let report = drhost::oci::push(&args.plugin, &args.reference).await?;
    if args.json {
        print_json(&report);
    } else {
        println!(
            "pushed {} → {} ({})",
            args.plugin.display(),
            report.reference,
            report.pinned
        );
    }
    Ok(())
}

async fn pull(args: PullArgs) -> Result<(), drhost::Error> {
    let report = drhost::oci::pull(&args.reference, &args.out, &args.trust.paths()?, args.allow_downgrade).await?;
    if args.json {
        print_json(&report);
    } else {
        println!(
            "pulled {} → {} ({}, signed by {}); pinned in {}",
            report.source,
            report.path.display(),
            report.verdict.digest,
            report.verdict.signers.join(", "),
            report.lock.display()
        );
    }
    Ok(())
}

fn print_verdict(verdict: &drhost::trust::Verdict) {
    println!("{}  {}", verdict.path.display(), verdict.digest);
    match &verdict.identity {
        Some(i) => println!(
            "  identity  {} {} (contract {})",
            i.id,
            i.version,
            i.contract.as_deref().unwrap_or("?")
        ),
        None => println!("  identity  (none signed)"),
    }
    if verdict.signatures.is_empty() {
        println!("  no signatures");
    }
    for s in &verdict.signatures {
        let mark = if s.standing == "trusted" { "✓" } else { "✗" };
        let id = s
            .signer
            .clone()
            .or_else(|| s.key_id.clone())
            .unwrap_or_else(|| "(no key id)".into());
        println!(
            "  {mark} {id:<20} {}{}",
            s.standing,
            s.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    println!("  lock      {}", verdict.lock);
    println!(
        "verdict: {}{}",
        verdict.verdict,
        if verdict.signers.is_empty() {
            String::new()
        } else {
            format!(" (signed by {})", verdict.signers.join(", "))
        }
    );
}

fn print_report(report: &RunReport, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
        return;
    }
    let name = report
        .plugin
        .as_ref()
        .and_then(|p| {
            Some(format!(
                "{} {}",
                p.id.as_ref()?,
                plugin_text(p.version.as_deref().unwrap_or(""))
            ))
        })
        .unwrap_or_else(|| "plugin".to_string());
    // Everything below but the name's id (validated) and the numbers is the plugin's text.
    let summary = plugin_text(&report.summary);
    let seconds = report.wall_ms as f64 / 1000.0;
    match report.status {
        Status::Recovered => {
            println!("✓ {name}: {summary} ({seconds:.1}s)");
            for fact in &report.facts {
                println!("    {}: {}", plugin_text(&fact.name), plugin_text(&fact.value));
            }
        }
        Status::Failed => {
            let step = report
                .failed_step
                .as_deref()
                .map(|s| format!(" in step `{}`", plugin_text(s)))
                .unwrap_or_default();
            eprintln!("✗ {name} failed{step}: {summary} ({seconds:.1}s)");
            if let Some(hint) = &report.hint {
                eprintln!("  hint: {}", plugin_text(hint));
            }
        }
        _ => eprintln!("drhost: {}", shown(&report.summary)),
    }
    if let Some(journal) = &report.journal {
        eprintln!("  journal: {}", journal.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// clap's own self-check of the whole command tree. It only checks
    /// where clap itself is compiled with debug assertions (a debug build;
    /// `cargo test --release` skips it), hence the test below.
    #[test]
    fn clap_finds_the_command_line_well_formed() {
        Cli::command().debug_assert();
    }

    /// The first thing clap's self-check looks at, checked in every build:
    /// no command declares a flag name twice, counting the `--help` and
    /// `--version` clap adds (`run --config` once was, through the trust flags).
    #[test]
    fn no_flag_is_declared_twice() {
        fn check(command: &clap::Command) {
            let mut seen = std::collections::HashSet::new();
            for arg in command.get_arguments() {
                let longs = arg.get_long_and_visible_aliases().into_iter().flatten();
                let shorts = arg.get_short_and_visible_aliases().into_iter().flatten();
                let names = longs.map(|l| format!("--{l}")).chain(shorts.map(|s| format!("-{s}")));
                for name in names {
                    assert!(
                        seen.insert(name.clone()),
                        "`{} {name}` is declared twice",
                        command.get_name()
                    );
                }
            }
            command.get_subcommands().for_each(check);
        }
        let mut command = Cli::command();
        command.build();
        check(&command);
    }
}
