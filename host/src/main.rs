//! The `drhost` command: parses arguments, calls the library, maps errors to
//! exit codes. Nothing else happens here: the flags are defined in
//! [`cli::args`], what is printed in [`cli::output`].

mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use cli::args::{
    Cli, Command, InspectArgs, KeygenArgs, LockArgs, PullArgs, PushArgs, RunArgs, SignArgs, TrustEntryArgs, VerifyArgs,
};
use cli::output::{print_json, print_report, print_verdict, shown};
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
        "{what} {} ({} as read) with `{}` → {}, now {} (signers: {})",
        plugin.display(),
        outcome.read_digest,
        outcome.key_id,
        outcome.written_to.display(),
        outcome.plugin_digest,
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
