//! The `drhost` command: parses arguments, calls the library, maps errors to
//! exit codes. Nothing else happens here: the flags are defined in
//! [`cli::args`], what is printed in [`cli::output`].

mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use cli::args::{
    CheckArgs, Cli, Command, InspectArgs, KeygenArgs, ListArgs, LockArgs, PullArgs, PushArgs, RunArgs, SignArgs,
    TrustEntryArgs, VerifyArgs,
};
use cli::output::{error_json, print_check, print_json, print_list, print_report, print_verdict, shown};
use drhost::error::{EXIT_OK, EXIT_USAGE};
use drhost::trust::keys;

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
            Command::Verify(args) => verify(args),
            Command::Lock(args) => exit_code(lock(args)),
            Command::Push(args) => exit_code(push(args).await),
            Command::Pull(args) => exit_code(pull(args).await),
            Command::Inspect(args) => inspect(args).await,
            Command::Check(args) => check(args).await,
            Command::List(args) => list(args).await,
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

/// `drhost run`: the run always ends in a report, and the report's exit code.
async fn run(args: RunArgs) -> i32 {
    for warning in args.repeated_param_warnings() {
        eprintln!("warning: {warning}");
    }
    let json = args.json;
    let report = drhost::run::run(args.into()).await;
    print_report(&report, json);
    report.exit_code
}

/// `drhost inspect`: one block (or JSON object) per plugin; the exit code
/// of the first that could not be inspected.
async fn inspect(args: InspectArgs) -> i32 {
    let files = match drhost::plugin::plugin_files(&args.plugins) {
        Ok(files) => files,
        Err(error) => return fail(&error),
    };
    let config = match &args.config {
        Some(path) => match drhost::config::Config::load(path) {
            Ok(config) => Some((config, path)),
            Err(error) => return fail(&error),
        },
        None => None,
    };
    let mut code = EXIT_OK;
    let mut reports = Vec::new();
    for file in &files {
        match drhost::inspect::inspect(file, args.cache_dir.clone()).await {
            Ok(report) => {
                let report = match &config {
                    Some((config, path)) => report.against(config, path),
                    None => report,
                };
                if args.json {
                    reports.push(serde_json::to_value(&report).unwrap_or_default());
                } else {
                    if file != &files[0] {
                        println!();
                    }
                    print!("{report}");
                }
            }
            Err(error) => {
                reports.push(error_json(file, &error));
                code = first_failure(code, fail(&error));
            }
        }
    }
    print_one_or_all(&args.plugins, args.json, reports);
    code
}

/// `drhost verify`: one verdict per plugin; the exit code of the first
/// that is not trusted (or cannot be read).
fn verify(args: VerifyArgs) -> i32 {
    let loaded = args.trust.paths().and_then(|paths| {
        let files = drhost::plugin::plugin_files(&args.plugins)?;
        Ok((paths.load_trust()?, paths.load_lock()?, paths, files))
    });
    let (trust, lock, paths, files) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return fail(&error),
    };
    let mut code = EXIT_OK;
    let mut verdicts = Vec::new();
    for file in &files {
        let read = drhost::plugin::PluginFile::read(file).and_then(|f| f.check_is_component().map(|()| f));
        let plugin = match read {
            Ok(plugin) => plugin,
            Err(error) => {
                verdicts.push(error_json(file, &error));
                code = first_failure(code, fail(&error));
                continue;
            }
        };
        let (verdict, refusal) = drhost::trust::assess(&plugin, &trust, &lock, paths.lock.as_deref(), false);
        if args.json {
            verdicts.push(serde_json::to_value(&verdict).unwrap_or_default());
        } else {
            if file != &files[0] {
                println!();
            }
            print_verdict(&verdict);
        }
        if let Some(refusal) = refusal {
            code = first_failure(code, fail(&refusal.into()));
        }
    }
    print_one_or_all(&args.plugins, args.json, verdicts);
    code
}

/// `code`, unless it is still 0: then `failed`.
fn first_failure(code: i32, failed: i32) -> i32 {
    if code == EXIT_OK {
        failed
    } else {
        code
    }
}

/// `--json` output of `inspect` and `verify`: for one plugin file the
/// object alone (nothing when it failed: the error is on stderr); for
/// several files or a directory, an array with an error object for each
/// that failed.
fn print_one_or_all(asked: &[std::path::PathBuf], json: bool, values: Vec<serde_json::Value>) {
    if !json {
        return;
    }
    if asked.len() == 1 && !asked[0].is_dir() {
        if let Some(value) = values.first().filter(|v| v.get("error").is_none()) {
            print_json(value);
        }
    } else {
        print_json(&values);
    }
}

/// `drhost check`: 0 when the configuration is fine, 2 listing every problem.
async fn check(args: CheckArgs) -> i32 {
    let json = args.json;
    match drhost::check::check(args.into()).await {
        Ok(report) => {
            print_check(&report, json);
            if report.problems.is_empty() {
                EXIT_OK
            } else {
                EXIT_USAGE
            }
        }
        Err(error) => fail(&error),
    }
}

/// `drhost list`: one line per plugin; the exit code of the first that
/// could not be described.
async fn list(args: ListArgs) -> i32 {
    let listed = match args.trust.paths() {
        Ok(paths) => drhost::list::list(&args.dir, &paths, args.cache_dir).await,
        Err(error) => Err(error),
    };
    match listed {
        Ok(listed) => {
            print_list(&listed, args.json);
            listed
                .iter()
                .map(|p| p.exit_code)
                .find(|c| *c != EXIT_OK)
                .unwrap_or(EXIT_OK)
        }
        Err(error) => fail(&error),
    }
}

fn keygen(args: KeygenArgs) -> Result<(), drhost::Error> {
    let key = keys::keygen(&args.out, &args.id)?;
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
    print!("{}", keys::trust_entry(&key, &id, &scope)?);
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
    let key = keys::SigningKey::load(&key, key_id)?;
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
