//! The `drhost` command: parses arguments, calls the library, maps errors to
//! exit codes. Nothing else happens here: the flags are defined in
//! [`cli::args`], what is printed in [`cli::output`].

mod cli;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use cli::args::{
    CheckArgs, Cli, Command, DrillArgs, InspectArgs, JournalCommand, JournalVerifyArgs, KeygenArgs, ListArgs, LockArgs,
    NewArgs, PrepareArgs, PullArgs, PushArgs, ReportArgs, ResumeArgs, RunArgs, RunsArgs, ScheduleArgs, ShowArgs,
    SignArgs, TrustEntryArgs, VerifyArgs,
};
use cli::output::{
    print_check, print_error, print_json, print_json_error, print_list, print_plugin_results, print_report, print_runs,
    print_show_line, print_verdict, warn, PluginResult, WithError,
};
use drhost::console::Style;
use drhost::error::{EXIT_OK, EXIT_USAGE};
use drhost::trust::keys;

/// `drhost runs | head`: when the reader goes away, end quietly as `ls` and
/// `git log` do (the default for SIGPIPE), not with a panic about a broken
/// pipe. Not for `run`: a closed pipe must never end a recovery half-way;
/// its journal is complete before anything is printed to stdout.
fn quiet_on_closed_pipe() {
    // SAFETY: restores the default disposition of one signal before any
    // thread is started; no handler is installed.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        quiet_on_closed_pipe();
    }
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
            Command::Resume(args) => resume(args).await,
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
            Command::Prepare(args) => prepare(args),
            Command::New(args) => exit_code(new_plugin(args)),
            Command::Completions(args) => {
                cli::docs::completions(args.shell);
                EXIT_OK
            }
            Command::Man(args) => exit_code(cli::docs::man(args.subcommand.as_deref())),
            Command::Runs(args) => exit_code(runs(args)),
            Command::Show(args) => exit_code(show(args)),
            Command::Report(args) => exit_code(report(args)),
            Command::Drill(args) => drill(args).await,
            Command::Schedule(args) => exit_code(schedule(args)),
            Command::Journal(JournalCommand::Verify(args)) => journal_verify(args),
            Command::Journal(JournalCommand::Sign(args)) => exit_code(journal_sign(args)),
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
    print_error(error);
    error.exit_code()
}

/// [`exit_code`] for a command with `--json`: then its error is a JSON
/// object on stdout (`{"schema", "error": {kind, exit_code, message}}`),
/// not a line on stderr.
fn exit_code_as(done: Result<(), drhost::Error>, json: bool) -> i32 {
    match done {
        Ok(()) => EXIT_OK,
        Err(error) if json => {
            print_json_error(&error);
            error.exit_code()
        }
        Err(error) => fail(&error),
    }
}

/// `drhost run`: the run always ends in a report, and the report's exit code.
async fn run(args: RunArgs) -> i32 {
    for warning in args.repeated_param_warnings() {
        eprintln!("warning: {warning}");
    }
    let json = args.json;
    // Progress (a denial's advice with it) went to stderr unless -q.
    let progress_shown = !args.quiet;
    let report = drhost::run::run(args.into()).await;
    print_report(&report, json, progress_shown);
    report.exit_code
}

/// `drhost resume`: the dead run's journal read (an error here ran
/// nothing), then a run as `drhost run`'s, reported the same way.
async fn resume(args: ResumeArgs) -> i32 {
    let (json, progress_shown) = (args.json, !args.quiet);
    match drhost::run::resume::prepare(args.into()) {
        Ok(opts) => {
            let report = drhost::run::run(opts).await;
            print_report(&report, json, progress_shown);
            report.exit_code
        }
        Err(error) => exit_code_as(Err(error), json),
    }
}

/// `drhost inspect`: one block per plugin on stdout, or `--json` (see
/// [`print_plugin_results`]); the exit code of the first plugin that could
/// not be inspected, the others are still inspected.
async fn inspect(args: InspectArgs) -> i32 {
    let mut batch = Batch::new(&args.plugins, args.json);
    let set_up = drhost::plugin::plugin_files(&args.plugins).and_then(|files| {
        let config = match &args.config {
            Some(path) => Some((drhost::config::Config::load(path)?, path)),
            None => None,
        };
        Ok((files, config))
    });
    let (files, config) = match set_up {
        Ok(set_up) => set_up,
        Err(error) => return exit_code_as(Err(error), args.json),
    };
    for file in &files {
        let inspected = drhost::inspect::inspect(file, args.cache_dir.clone())
            .await
            .map(|report| match &config {
                Some((config, path)) => report.against(config, path),
                None => report,
            });
        match inspected {
            Ok(report) if args.json => batch.done(report),
            Ok(report) => {
                batch.separate();
                print!("{report}");
            }
            Err(error) => batch.failed(file, &error),
        }
    }
    batch.finish()
}

/// `drhost verify`: each plugin's verdict on stdout, or `--json` (see
/// [`print_plugin_results`]; a verdict carries its refusal as its
/// `error`); the exit code of the first plugin that is not trusted or
/// cannot be read (exit 3 when no trusted key vouches for one).
fn verify(args: VerifyArgs) -> i32 {
    let mut batch = Batch::new(&args.plugins, args.json);
    let loaded = args.trust.paths().and_then(|paths| {
        let files = drhost::plugin::plugin_files(&args.plugins)?;
        Ok((paths.load_trust()?, paths.load_lock()?, paths, files))
    });
    let (trust, lock, paths, files) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return exit_code_as(Err(error), args.json),
    };
    for file in &files {
        let read = drhost::plugin::PluginFile::read(file).and_then(|f| f.check_is_component().map(|()| f));
        let plugin = match read {
            Ok(plugin) => plugin,
            Err(error) => {
                batch.failed(file, &error);
                continue;
            }
        };
        let (verdict, refusal) = drhost::trust::assess(&plugin, &trust, &lock, paths.lock.as_deref(), false);
        let refusal = refusal.map(drhost::Error::from);
        if args.json {
            batch.done(WithError::new(verdict, refusal.as_ref()));
        } else {
            batch.separate();
            print_verdict(&verdict);
        }
        if let Some(refusal) = &refusal {
            batch.refused(refusal);
        }
    }
    batch.finish()
}

/// What `inspect` and `verify` gather over several plugins: the `--json`
/// results, and the exit code of the first plugin that failed.
struct Batch<T: serde::Serialize> {
    json: bool,
    /// One plugin file was named (not a directory): `--json` prints one object.
    one_file: bool,
    results: Vec<PluginResult<T>>,
    code: i32,
    printed: bool,
}

impl<T: serde::Serialize> Batch<T> {
    fn new(asked: &[std::path::PathBuf], json: bool) -> Batch<T> {
        Batch {
            json,
            one_file: asked.len() == 1 && !asked[0].is_dir(),
            results: Vec::new(),
            code: EXIT_OK,
            printed: false,
        }
    }

    /// A blank line between two plugins' blocks on stdout.
    fn separate(&mut self) {
        if self.printed {
            println!();
        }
        self.printed = true;
    }

    /// A plugin's `--json` object.
    fn done(&mut self, value: T) {
        self.results.push(PluginResult::Done(value));
    }

    /// A plugin that could not be read: in the JSON, else on stderr.
    fn failed(&mut self, path: &std::path::Path, error: &drhost::Error) {
        if self.json {
            self.results.push(PluginResult::failed(path, error));
        } else {
            print_error(error);
        }
        self.first_failure(error.exit_code());
    }

    /// A plugin refused after its verdict was shown: the verdict carries it
    /// in the JSON, else it is on stderr.
    fn refused(&mut self, refusal: &drhost::Error) {
        if !self.json {
            print_error(refusal);
        }
        self.first_failure(refusal.exit_code());
    }

    fn first_failure(&mut self, code: i32) {
        if self.code == EXIT_OK {
            self.code = code;
        }
    }

    /// Prints the JSON (when asked for) and returns the exit code.
    fn finish(self) -> i32 {
        if self.json {
            print_plugin_results(&self.results, self.one_file);
        }
        self.code
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

/// Where `runs` and `show` read journals; a configuration that cannot be
/// read is a warning (the journals are where `drhost run` put them anyway).
fn journal_dir(args: &cli::args::JournalArgs) -> Result<std::path::PathBuf, drhost::Error> {
    Ok(located_journals(args)?.path)
}

/// The journal directory and the configuration read to find it.
fn located_journals(args: &cli::args::JournalArgs) -> Result<drhost::history::JournalDir, drhost::Error> {
    let dir = drhost::history::locate(args.journal_dir.as_deref(), args.config.as_deref())?;
    if let Some(warning) = &dir.warning {
        warn(warning);
    }
    Ok(dir)
}

fn runs(args: RunsArgs) -> Result<(), drhost::Error> {
    let dir = journal_dir(&args.journals)?;
    let listing = drhost::history::list(&dir, args.limit, args.plugin.as_deref())?;
    print_runs(&listing, &dir, args.json, args.plugin.as_deref());
    Ok(())
}

fn show(args: ShowArgs) -> Result<(), drhost::Error> {
    let dir = journal_dir(&args.journals)?;
    let path = drhost::history::find_run(&dir, &args.run)?;
    let options = drhost::history::ShowOptions {
        json: args.json,
        follow: args.follow,
    };
    drhost::history::show(&path, options, &mut print_show_line)
}

/// `drhost report`: the report on stdout or in `--out FILE`; a journal
/// whose chain is broken is reported (the report says so at its top) and
/// warned about on stderr.
fn report(args: ReportArgs) -> Result<(), drhost::Error> {
    let dir = journal_dir(&args.journals)?;
    // A drill's id or journal (under DIR/drills), or `latest`: a run or a drill.
    let path = drhost::history::find_report(&dir, &args.run)?;
    if drhost::history::report::drill::is_drill_journal(&path) {
        return drill_evidence(&path, &args);
    }
    let report = drhost::history::report::read(&path)?;
    if !report.integrity.trustworthy {
        warn(&format!(
            "the journal {} is not trustworthy: {}; the report says so at its top",
            path.display(),
            report.integrity.reason.as_deref().unwrap_or("its hash chain is broken")
        ));
    }
    let text = drhost::history::report::render(&report, args.format());
    match &args.out {
        Some(file) => {
            drhost::history::report::save(&text, file)?;
            eprintln!("report written to {}", file.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `drhost report DRILL`: the drill's report, as `report` writes a run's.
fn drill_evidence(path: &std::path::Path, args: &ReportArgs) -> Result<(), drhost::Error> {
    use drhost::history::report::drill;
    let evidence = drill::read(path)?;
    if !evidence.integrity.trustworthy {
        warn(&format!(
            "the drill journal {} is not trustworthy: {}; the report says so at its top",
            path.display(),
            evidence
                .integrity
                .reason
                .as_deref()
                .unwrap_or("its hash chain is broken")
        ));
    }
    let text = drill::render(&evidence, args.format());
    match &args.out {
        Some(file) => {
            drhost::history::report::save(&text, file)?;
            eprintln!("report written to {}", file.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// `drhost drill NAME` (or `--due`, `--all`): each drill's table on stdout
/// (or one JSON line each), with `--all` one summary table after them; the
/// exit code of the first drill that did not pass.
async fn drill(args: DrillArgs) -> i32 {
    let names = match &args.name {
        Some(name) => vec![name.clone()],
        None if args.all => match drhost::drill::load_config(args.config.as_deref()) {
            Ok((config, _)) => config.drills.keys().cloned().collect(),
            Err(error) => return fail(&error),
        },
        None => match due_drills(&args) {
            Ok(names) => names,
            Err(error) => return fail(&error),
        },
    };
    if names.is_empty() {
        let why = if args.all {
            "the configuration defines no drills ([drills.NAME])"
        } else {
            "no drill is due (`drhost schedule` shows when each is next)"
        };
        eprintln!("{why}");
    }
    let mut code = EXIT_OK;
    let mut lines = Vec::new();
    for name in names {
        let mut line = drhost::drill::table::SummaryLine {
            drill: name.clone(),
            report: None,
            error: None,
            report_file: None,
        };
        let done = match drhost::drill::drill(&args.options(&name)).await {
            Ok(report) => {
                if args.json {
                    print_json(&report);
                } else {
                    print!("{}", report.table());
                }
                if let (Some(dir), Some(journal)) = (&args.report_dir, &report.journal) {
                    match drill_report(dir, journal, &report.run_id) {
                        Ok(file) => {
                            eprintln!("drill {name}: report written to {}", file.display());
                            line.report_file = Some(file);
                        }
                        Err(error) => warn(&format!("drill {name}: no report: {error}")),
                    }
                }
                let exit = report.exit_code;
                line.report = Some(report);
                exit
            }
            Err(error) => {
                line.error = Some(error.to_string());
                fail(&error)
            }
        };
        lines.push(line);
        if code == EXIT_OK {
            code = done;
        }
    }
    if args.all && !args.json {
        println!();
        print!("{}", drhost::drill::table::summary(&lines));
    }
    code
}

/// Writes the HTML report of the drill journal `journal` into `dir` as
/// `<run id>.html`; its path.
fn drill_report(
    dir: &std::path::Path,
    journal: &std::path::Path,
    run_id: &str,
) -> Result<std::path::PathBuf, drhost::Error> {
    use drhost::history::report::{drill, save, Format};
    drhost::private_dir::ensure(dir).map_err(|e| drhost::Error::Usage(format!("{e}; choose another --report-dir")))?;
    let evidence = drill::read(journal)?;
    let file = dir.join(format!("{run_id}.html"));
    save(&drill::render(&evidence, Format::Html), &file)?;
    Ok(file)
}

/// The drills due now, by the schedule.
fn due_drills(args: &DrillArgs) -> Result<Vec<String>, drhost::Error> {
    let (config, _) = drhost::drill::load_config(args.config.as_deref())?;
    let dir = drhost::journal::resolve_dir(args.journal_dir.as_deref(), Some(&config))?;
    let rows = drhost::drill::schedule::schedule(&config, &dir, drhost::drill::schedule::now()?);
    Ok(drhost::drill::schedule::due(&rows))
}

/// `drhost schedule`: the testing schedule on stdout.
fn schedule(args: ScheduleArgs) -> Result<(), drhost::Error> {
    let (config, _) = drhost::drill::load_config(args.journals.config.as_deref())?;
    let dir = journal_dir(&args.journals)?;
    let rows = drhost::drill::schedule::schedule(&config, &dir, drhost::drill::schedule::now()?);
    if args.json {
        cli::output::print_json_each(&rows);
    } else {
        print!("{}", drhost::drill::schedule::render(&rows));
    }
    Ok(())
}

/// The journal `run` names, its chain's verdict, and the configuration
/// read to find it.
fn journal_and_verdict(
    journals: &cli::args::JournalArgs,
    run: &str,
) -> Result<
    (
        std::path::PathBuf,
        drhost::journal::chain::Verdict,
        drhost::history::JournalDir,
    ),
    drhost::Error,
> {
    let dir = located_journals(journals)?;
    let path = drhost::history::find_run(&dir.path, run)?;
    let bytes = std::fs::read(&path)
        .map_err(|e| drhost::Error::Usage(format!("cannot read the journal {}: {e}", path.display())))?;
    Ok((path, drhost::journal::chain::verify(&bytes), dir))
}

/// `drhost journal verify`: the chain's verdict on stdout, its exit code
/// (0 intact, 1 incomplete, 3 broken).
fn journal_verify(args: JournalVerifyArgs) -> i32 {
    let (path, verdict, dir) = match journal_and_verdict(&args.journals, &args.run) {
        Ok(checked) => checked,
        Err(error) => return exit_code_as(Err(error), args.json),
    };
    // The trust file a head signature's key is looked up in (none found:
    // the signature is still checked, its key just is not trusted). The
    // configuration is the one read to find the journal; with
    // --journal-dir it is read here, once.
    let (config_path, config) = match dir.config {
        Some((path, config)) => (Some(path), config),
        None => {
            let path = drhost::config::locate(args.journals.config.as_deref());
            let config = path
                .as_deref()
                .and_then(|p| drhost::config::Config::load(p).ok())
                .unwrap_or_default();
            (path, config)
        }
    };
    let trust_paths = drhost::trust::TrustPaths::locate(args.trust.as_deref(), None, &config, config_path.as_deref());
    let trust = trust_paths
        .trust
        .as_deref()
        .and_then(|p| drhost::trust::trust_file::TrustFile::load(p).ok());
    let signature = drhost::journal::head_signature::check(&path, &verdict, trust.as_ref());
    if args.json {
        #[derive(serde::Serialize)]
        struct Checked<'a> {
            journal: &'a std::path::Path,
            #[serde(flatten)]
            verdict: &'a drhost::journal::chain::Verdict,
            signature: &'a drhost::journal::head_signature::SignatureCheck,
        }
        print_json(&Checked {
            journal: &path,
            verdict: &verdict,
            signature: &signature,
        });
    } else {
        cli::output::print_chain(&path, &verdict);
        cli::output::print_head_signature(&signature);
    }
    match signature {
        // A signature that does not vouch for the journal is a broken journal.
        drhost::journal::head_signature::SignatureCheck::Invalid { .. } => drhost::journal::chain::EXIT_BROKEN,
        _ => verdict.exit_code(),
    }
}

/// `drhost journal sign`: signs an intact, ended journal's head.
fn journal_sign(args: cli::args::JournalSignArgs) -> Result<(), drhost::Error> {
    let (path, verdict, _) = journal_and_verdict(&args.journals, &args.run)?;
    let key = drhost::trust::keys::SigningKey::load(&args.key, args.key_id.clone())?;
    let (written, signed) = drhost::journal::head_signature::sign(&path, &verdict, &key)?;
    println!(
        "signed run {} (head {}) as {} → {}",
        signed.run,
        signed.head,
        signed.key_id,
        written.display()
    );
    Ok(())
}

/// `drhost new`: what was written, the next commands and the grant lines.
fn new_plugin(args: NewArgs) -> Result<(), drhost::Error> {
    let made = drhost::scaffold::scaffold(&args.into())?;
    let dir = made.dir.display();
    println!("created {dir}: {} (SDK {})", made.files.join(", "), made.sdk.display());
    println!();
    println!("build, sign and run it (see {dir}/README.md):");
    println!("  cd {dir} && {}", made.build);
    println!(
        "  drhost sign {} --key KEY  (in the lab: .lab/keys/lab-dev.key)",
        made.component
    );
    println!("  drhost run {} --config FILE", made.component);
    println!();
    println!("grant what it needs in FILE:");
    println!("{}", made.grants);
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
        "{what} {} ({} as read) with `{}` {} {}, now {} (signers: {})",
        plugin.display(),
        outcome.read_digest,
        outcome.key_id,
        Style::stdout().arrow(),
        outcome.written_to.display(),
        outcome.plugin_digest,
        outcome.key_ids.join(", ")
    );
    Ok(())
}

/// `drhost prepare`: one line per plugin; the exit code of the first that
/// failed (the others are still prepared).
fn prepare(args: PrepareArgs) -> i32 {
    let set_up = (|| -> Result<_, drhost::Error> {
        let files = drhost::plugin::plugin_files(&args.plugins)?;
        let (paths, config) = args.trust.paths_and_config()?;
        let cache_dir = args
            .cache_dir
            .clone()
            .or(config.run.cache_dir.clone())
            .or_else(drhost::engine::default_cache_dir)
            .ok_or_else(|| {
                drhost::Error::Usage(
                    "there is no compile cache to prepare: neither HOME nor XDG_CACHE_HOME is set; pass --cache-dir DIR (or [run] cache_dir)"
                        .into(),
                )
            })?;
        let runtime = drhost::engine::Runtime::new(Some(cache_dir))?;
        Ok((files, paths.load_trust()?, paths.load_lock()?, paths.lock, runtime))
    })();
    let (files, trust, lock, lock_path, runtime) = match set_up {
        Ok(set_up) => set_up,
        Err(error) => return fail(&error),
    };
    let checks = drhost::prepare::Checks {
        trust: &trust,
        lock: &lock,
        lock_path: lock_path.as_deref(),
    };
    let mut code = EXIT_OK;
    for file in files {
        let prepared = drhost::prepare::prepare(&runtime, &file, &checks).map_err(|e| (file, e));
        if let Err((_, error)) = &prepared {
            if code == EXIT_OK {
                code = error.exit_code();
            }
        }
        cli::output::print_prepared(&prepared);
    }
    if let Some(dir) = runtime.cache_dir() {
        eprintln!("  cache: {}", dir.display());
    }
    code
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
            "pushed {} {} {} ({})",
            args.plugin.display(),
            Style::stdout().arrow(),
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
            "pulled {} {} {} ({}, signed by {}); pinned in {}",
            report.source,
            Style::stdout().arrow(),
            report.path.display(),
            report.verdict.digest,
            report.verdict.signers.join(", "),
            report.lock.display()
        );
    }
    Ok(())
}
