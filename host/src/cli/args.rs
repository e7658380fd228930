//! What the `drhost` command line accepts: every subcommand and flag,
//! documented where it is defined (that text is what `--help` prints), and
//! how parsed arguments become the library's options. It parses; it does
//! not run, print or decide exit codes (that is `main.rs`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use drhost::config::{parse_deadline, parse_size};
use drhost::run::RunOptions;
use drhost::trust::TrustPaths;

/// The exit-code table `drhost --help` and `drhost run --help` end with.
macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0  recovered: the plugin reported success
  1  the plugin ran and reported a failure
  2  usage or configuration error; nothing ran
  3  refused: missing grant, not a plugin, incompatible contract version,
     no trusted signature, tampered, revoked, not the file the lock pins
  4  sandbox limit or trap: deadline, memory, disk budget, guest panic
  5  recovered, follow-up required: the run's follow-ups (printed last)
     are manual steps still to do
  6  drill: a target (RTO or RPO) was missed; the last line names it
130  interrupted by the operator (Ctrl-C or SIGTERM); the journal ends with run-end"
    };
}

/// `drhost --help`: examples, then the exit codes.
const MAIN_AFTER_HELP: &str = concat!(
    "\
Examples:
  drhost inspect plugins/status.wasm
      what it is and what it needs; grants nothing, runs nothing
  drhost check --config drhost.toml
      every problem of the configuration at once, each with its line and fix
  drhost run plugins/status.wasm --config drhost.toml
      a read-only health check of every service
  drhost run plugins/db-restore.wasm -p backup=latest --yes --json > result.json
      a recovery, its result as JSON in a file (see `drhost run --help`)
  drhost prepare plugins/
      verify and compile every plugin ahead of an incident
  drhost verify plugins/db-restore.wasm
      who signed it, and whether it is the file the lock pins
  drhost report latest --html --out incident.html
      the last run's post-incident report: one page with a timeline chart
  drhost completions bash > ~/.local/share/bash-completion/completions/drhost
      tab completion; `drhost man | man -l -` for the manual

",
    exit_codes!()
);

/// `drhost run --help`: examples, then the exit codes.
const RUN_AFTER_HELP: &str = concat!(
    "\
Examples:
  drhost run plugins/status.wasm --config drhost.toml
      a read-only look at every service: progress on stderr, results on stdout
  drhost run plugins/service-recover.wasm -p services='toolboxai-backend*'
      restart (or roll back) the failing backends among those containers
  drhost run plugins/db-restore.wasm -p backup=latest --yes --json > result.json
      approve every confirmation (journaled); the JSON result goes to the file
  drhost run plugins/db-restore.wasm -p backup=latest --plan
      what would change, and each question's id for --approve
  drhost run plugins/db-restore.wasm -p backup=latest --approve db-restore:1a2b3c4d
      approve exactly that question (any other stays unanswered: no)
  drhost run plugins/redis-failover.wasm --timeout 5m -q
      a tighter deadline; -q draws no progress (errors still go to stderr)

",
    exit_codes!()
);

/// `drhost resume --help`: examples.
const RESUME_AFTER_HELP: &str = concat!(
    "\
Examples:
  drhost runs
      a run whose drhost died shows as `died`
  drhost resume 20261201T104500Z-db-restore-3fa2
      run db-restore again: the restore it made is not made again
  drhost resume latest --diverged live
      when the plugin asks for a change the journal does not have, go on live
      (without it: asked at a terminal, else the resume stops there, exit 3)

",
    exit_codes!()
);

/// `drhost new --help`: examples.
const NEW_AFTER_HELP: &str = "\
Examples:
  drhost new --lang rust cache-check
      ./cache-check: Cargo.toml, Cargo.lock, src/lib.rs, README.md
  drhost new --lang rust cache-check --dir ~/plugins/cache-check --sdk ~/drhost/sdk
      elsewhere, against the SDK of another checkout
  cd cache-check && cargo build --offline --release --target wasm32-wasip2
      the component: target/wasm32-wasip2/release/cache_check.wasm

Exit codes:
  0  created
  2  usage error: not a plugin id, the directory exists, no SDK found, a
     language without an SDK yet; nothing was written";

/// `drhost report --help`: examples.
const REPORT_AFTER_HELP: &str = "\
Examples:
  drhost report latest
      the last run's report in Markdown, on stdout
  drhost report 20261130T131529Z-db-restore-f81d --html --out incident.html
      one HTML page with the step timeline, to attach to the ticket
  drhost report latest --json | jq .time_to_recovery
      the same report for machines

A journal whose hash chain is broken (see `drhost journal verify`) is still
reported, under a warning at the top that it is not trustworthy.";

/// `drhost drill --help`: the definition, examples and exit codes.
const DRILL_AFTER_HELP: &str = "\
A drill in drhost.toml:
  [drills.service-failure]
  fault = \"plugins/fault-kill-backend.wasm\"      # relative to drhost.toml
  fault_params = { container = \"toolboxai-backend2\" }
  recovery = \"plugins/service-recover.wasm\"
  probes.http = [\"http://127.0.0.1:27082/health\"]  # must answer 2xx
  probes.redis = [\"cache\"]        # acknowledged INCRs on Sentinel's master
  probes.postgres = [\"primary\"]   # heartbeat rows in drhost_drill.heartbeat
  rto = \"15m\"                      # default: the runbook's 15 min
  rpo = \"5m\"                       # default: the runbook's 5 min
  every = \"30d\"                    # for `drhost schedule` and --due
  # baseline = \"2s\", sustain = \"3s\", settle = \"2m\"
  # before = \"plugins/db-backup.wasm\"  # after the baseline, before the fault
  #                                      (then the baseline again); before_params
  # recovery_after = \"2s\"  # a lasting fault: recover while the fault plugin runs
  # (no `fault` at all: a drill that breaks nothing, e.g. backup-verify
  #  restoring the latest backup into a scratch database)

RTO = fault start → the first probe sample after which every probe stayed
healthy for `sustain`. RPO = the longest data-loss window of the write probes
(acknowledged writes gone after recovery). Without a fault, RTO runs from the
recovery's start to its successful end, and a probe failing meanwhile is a
missed target. The drill's journal is in <journal dir>/drills/; it names the
plugin runs' own journals. With [run.notify], the verdict is posted.

Examples:
  drhost drill service-failure --config drhost.toml --yes
  drhost drill --due --config drhost.toml --yes     # from cron / a systemd timer
  drhost drill --all --config drhost.toml --yes --report-dir reports/   # every drill, one table

Exit codes:
  0  passed: every target met
  1  not carried out: unhealthy before the fault, or a plugin failed
     (a failed plugin's own exit code 1, 3 or 4 is passed on)
  2  usage or configuration error; nothing ran
  3  refused: a plugin is not trusted or lacks a grant; nothing ran
  6  a target was missed (named in the last line), or could not be measured";

/// `drhost --version`: the program and the plugin contract it implements.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (plugin contract drhost:runbook@",
    drhost::contract_version!(),
    ")"
);

/// Runs disaster-recovery runbooks as sandboxed WebAssembly plugins.
#[derive(Parser)]
#[command(name = "drhost", version = VERSION, about, after_help = MAIN_AFTER_HELP)]
pub struct Cli {
    /// The subcommand and its arguments.
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a recovery plugin under the grants in drhost.toml.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
    /// Go on with a run whose drhost died (SIGKILL, reboot): the same
    /// plugin runs again, every change its journal has is answered from the
    /// journal instead of being made twice, and the run is live from the
    /// first change the journal has no result for.
    #[command(after_help = RESUME_AFTER_HELP)]
    Resume(ResumeArgs),
    /// Create an Ed25519 signing key pair: DIR/NAME.key (0600) and DIR/NAME.pub.
    Keygen(KeygenArgs),
    /// Print the trust.toml `[[key]]` entry for a public key file.
    TrustEntry(TrustEntryArgs),
    /// Sign a plugin (adds a signature, keeps existing ones). Writes the
    /// plugin's identity (id, version, contract, capabilities) first, so the
    /// signature covers it.
    Sign(SignArgs),
    /// Show which trusted keys signed each plugin; exit 3 when none may vouch for one.
    Verify(VerifyArgs),
    /// Verify plugins and pin them (version, digest, signers) in drhost.lock.
    Lock(LockArgs),
    /// Push a signed plugin to an OCI registry (CNCF Wasm artifact layout).
    Push(PushArgs),
    /// Pull a plugin from an OCI registry: verify it, write DIR/<id>.wasm, pin it in drhost.lock.
    Pull(PullArgs),
    /// Show what a plugin is and what it needs, granting it nothing; with
    /// --config, which needs are granted and the TOML for the missing ones.
    Inspect(InspectArgs),
    /// Validate a drhost.toml without running anything; list every problem.
    Check(CheckArgs),
    /// One line per plugin in a directory: id, version, signers, runbook scenario.
    List(ListArgs),
    /// List recent runs, newest first: when, which plugin, how it ended,
    /// how long it took, its time to recovery.
    Runs(RunsArgs),
    /// Show one run's journal as a timeline: steps, calls (polling
    /// collapsed), logs, confirmations, facts and how it ended.
    Show(ShowArgs),
    /// The post-incident report of one run, from its journal alone: what
    /// ran, who ran it, when, the steps with their durations, every change
    /// and approval, the time to recovery, what failed, and empty root-cause
    /// and action-item sections; or of one drill (its run id or journal):
    /// the fault, the recovery, each probe's health over time, RTO and RPO
    /// against their targets and the verdict. Markdown by default; --html a
    /// page with a timeline chart; --json for machines.
    #[command(after_help = REPORT_AFTER_HELP)]
    Report(ReportArgs),
    /// Run a drill from drhost.toml's [drills.NAME]: host probes start, the
    /// fault plugin breaks something, the recovery plugin repairs it, and
    /// the probes measure RTO and RPO against the drill's targets.
    #[command(after_help = DRILL_AFTER_HELP)]
    Drill(DrillArgs),
    /// The testing schedule: every drill with its frequency, last run,
    /// result, measured RTO/RPO and next run; overdue drills marked.
    Schedule(ScheduleArgs),
    /// Check a run journal's hash chain: exit 0 when intact, 1 when intact
    /// but without run-end (incomplete), 3 when a line was changed, removed
    /// or reordered.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Verify plugins and compile them into the cache ahead of an incident,
    /// so the first run starts at once: one line per plugin.
    Prepare(PrepareArgs),
    /// Create a new plugin crate (manifest, one step, README with the build,
    /// signing and grant lines) in a new directory.
    #[command(after_help = NEW_AFTER_HELP)]
    New(NewArgs),
    /// Print a shell completion script on stdout (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout: `drhost man | man -l -`.
    Man(ManArgs),
}

/// `drhost run`, as parsed; [`RunOptions`] is what the library runs.
///
/// A parameter's value: `--param` (the last one given for a name), else
/// `[plugins.<id>.params]` in the config, else the plugin's default.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The plugin, e.g. plugins/db-restore.wasm.
    plugin: PathBuf,
    /// A plugin parameter, `name=value`; repeat for more.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Configuration file [default: $DRHOST_CONFIG, else ./drhost.toml].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the result as one JSON object on stdout (progress is still
    /// drawn on stderr; add -q for none).
    #[arg(long)]
    pub json: bool,
    /// Wall-clock deadline for the whole run, e.g. 90s, 15m [default: 15m].
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline)]
    timeout: Option<Duration>,
    /// Memory cap for all of the plugin's memories together, e.g. 256MiB [default: 256MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,
    /// Disk budget for the run's blobs (downloads, dumps, snapshots) and the
    /// plugin's scratch directory together, e.g. 20GiB [default: 8GiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    disk: Option<u64>,
    /// Where the run journal goes [default: $XDG_STATE_HOME/drhost/runs].
    #[arg(long, value_name = "DIR")]
    journal_dir: Option<PathBuf>,
    /// Where compiled plugins are cached [default: $XDG_CACHE_HOME/drhost/components].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Approve every confirmation the plugin asks for (journaled).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Approve exactly the question with this id (shown with the question
    /// and by --plan, e.g. db-restore:1a2b3c4d), without a terminal;
    /// repeat for more. Any other question is not approved (journaled).
    #[arg(long, value_name = "ID", value_parser = parse_question_id)]
    approve: Vec<String>,
    /// Make no change: reads run for real, every change is recorded and
    /// listed instead of made (the plugin is told, as `error.planned`).
    #[arg(long)]
    plan: bool,
    /// Do not draw progress on stderr (errors and warnings still appear).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// When another run holds a target this run may change, wait up to
    /// DURATION (e.g. 30s, 10m) for it instead of refusing at once (exit 3).
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline)]
    wait: Option<Duration>,
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

/// `drhost resume`, as parsed.
#[derive(clap::Args)]
pub struct ResumeArgs {
    /// The run: its id (or an unambiguous prefix), `latest`, or its journal's path.
    run: String,
    /// The plugin file, when it is not where the run read it (its digest must match).
    #[arg(long, value_name = "PATH")]
    plugin: Option<PathBuf>,
    /// Configuration file [default: the one the run read].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the journals are [default: [run] journal_dir, else $XDG_STATE_HOME/drhost/runs].
    #[arg(long, value_name = "DIR")]
    journal_dir: Option<PathBuf>,
    /// When the plugin asks for a change the journal does not have at that
    /// place: `live` makes it and goes on live, `stop` ends the resume there
    /// (exit 3) [default: ask at a terminal, else stop].
    #[arg(long, value_name = "WHAT", value_parser = ["live", "stop"])]
    diverged: Option<String>,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Wall-clock deadline for the resumed run [default: [run] timeout, else 15m].
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline)]
    timeout: Option<Duration>,
    /// Where compiled plugins are cached.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Approve every confirmation still to come (the run's own approvals,
    /// --yes or --approve, apply again; its answers are not asked again).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Approve exactly the question with this id; repeat for more.
    #[arg(long, value_name = "ID", value_parser = parse_question_id)]
    approve: Vec<String>,
    /// Do not draw progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Wait up to DURATION for another run's lock on a target.
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline)]
    wait: Option<Duration>,
    /// Run even without a trusted signature (as `drhost run`).
    #[arg(long)]
    allow_unsigned: bool,
    /// Run an older version than drhost.lock pins.
    #[arg(long)]
    allow_downgrade: bool,
    #[command(flatten)]
    trust: TrustFileArgs,
}

impl From<ResumeArgs> for drhost::run::resume::ResumeRequest {
    fn from(args: ResumeArgs) -> Self {
        use drhost::caps::kit::replay::OnDivergence;
        drhost::run::resume::ResumeRequest {
            run: args.run,
            journal_dir: args.journal_dir,
            plugin: args.plugin,
            config: args.config,
            on_divergence: args.diverged.map(|d| match d.as_str() {
                "live" => OnDivergence::Live,
                _ => OnDivergence::Stop,
            }),
            options: RunOptions {
                cache_dir: args.cache_dir,
                timeout: args.timeout,
                yes: args.yes,
                approve: args.approve,
                quiet: args.quiet,
                wait: args.wait,
                allow_unsigned: args.allow_unsigned,
                allow_downgrade: args.allow_downgrade,
                trust: args.trust.trust_file,
                lock: args.trust.lock_file,
                ..RunOptions::default()
            },
        }
    }
}

impl RunArgs {
    /// A warning for each `--param` name given more than once (the last wins).
    pub fn repeated_param_warnings(&self) -> Vec<String> {
        drhost::params::repeated(&self.params)
            .into_iter()
            .map(|(name, times, last)| {
                format!("--param `{name}` is given {times} times; the last one wins: `{name}={last}`")
            })
            .collect()
    }
}

impl From<RunArgs> for RunOptions {
    fn from(args: RunArgs) -> RunOptions {
        RunOptions {
            plugin: args.plugin,
            params: args.params,
            config: args.config,
            timeout: args.timeout,
            memory: args.memory,
            disk: args.disk,
            journal_dir: args.journal_dir,
            cache_dir: args.cache_dir,
            yes: args.yes,
            approve: args.approve,
            plan: args.plan,
            // Progress goes to stderr, the result (JSON or not) to stdout:
            // --json does not silence progress, -q does.
            quiet: args.quiet,
            allow_unsigned: args.allow_unsigned,
            allow_downgrade: args.allow_downgrade,
            trust: args.trust.trust_file,
            lock: args.trust.lock_file,
            wait: args.wait,
            resume: None,
        }
    }
}

/// `drhost keygen`.
#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Directory for the key files.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Key id: the file names, and the id signatures carry.
    #[arg(long, value_name = "NAME")]
    pub id: String,
}

/// `drhost trust-entry`.
#[derive(clap::Args)]
pub struct TrustEntryArgs {
    /// The public key (NAME.pub from `drhost keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key's id [default: the file's stem].
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Globs of plugin ids the key may vouch for; repeat for more [default: *].
    #[arg(long, value_name = "GLOB")]
    pub scope: Vec<String>,
}

/// `drhost sign`.
#[derive(clap::Args)]
pub struct SignArgs {
    /// The plugin file.
    pub plugin: PathBuf,
    /// The secret key (NAME.key from `drhost keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key id stored with the signature [default: the key file's stem].
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Write the signature to PLUGIN.sig instead of into the plugin.
    #[arg(long)]
    pub detached: bool,
    /// Where compiled plugins are cached.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `drhost verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Plugin files, or directories (every *.wasm in them).
    #[arg(required = true, value_name = "PLUGIN")]
    pub plugins: Vec<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `drhost lock`.
#[derive(clap::Args)]
pub struct LockArgs {
    /// The plugin files.
    #[arg(required = true)]
    pub plugins: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `drhost push`.
#[derive(clap::Args)]
pub struct PushArgs {
    /// The plugin file.
    pub plugin: PathBuf,
    /// oci://HOST[:PORT]/REPO:TAG
    pub reference: String,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `drhost pull`.
#[derive(clap::Args)]
pub struct PullArgs {
    /// oci://HOST[:PORT]/REPO:TAG or oci://HOST[:PORT]/REPO@sha256:DIGEST
    pub reference: String,
    /// Directory to write the plugin to.
    #[arg(long, short = 'o', value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Accept an older version than the lock pins.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `drhost inspect`.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// Plugin files, or directories (every *.wasm in them).
    #[arg(required = true, value_name = "PLUGIN")]
    pub plugins: Vec<PathBuf>,
    /// Print JSON on stdout: one object for one plugin file, else an array.
    #[arg(long)]
    pub json: bool,
    /// Check against this configuration: each need granted or missing (with
    /// the TOML that grants it), each parameter's value and source.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where compiled plugins are cached.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `drhost check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// Configuration file [default: $DRHOST_CONFIG, else ./drhost.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Compare `[plugins.<id>]` ids and params with the plugins in DIR;
    /// repeat for more [default: ./plugins if it exists].
    #[arg(long, value_name = "DIR")]
    pub plugins: Vec<PathBuf>,
    /// Print the problems as a JSON array on stdout (empty when none).
    #[arg(long)]
    pub json: bool,
    /// Where compiled plugins are cached.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl From<CheckArgs> for drhost::check::CheckOptions {
    fn from(args: CheckArgs) -> drhost::check::CheckOptions {
        drhost::check::CheckOptions {
            config: args.config,
            plugins: args.plugins,
            cache_dir: args.cache_dir,
        }
    }
}

/// `drhost list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// The plugin directory.
    #[arg(default_value = "plugins", value_name = "DIR")]
    pub dir: PathBuf,
    /// Print a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where compiled plugins are cached.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Where `runs` and `show` read journals: where `drhost run` writes them.
#[derive(clap::Args)]
pub struct JournalArgs {
    /// The journal directory [default: [run] journal_dir in the configuration, else $XDG_STATE_HOME/drhost/runs].
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Configuration file, for its `[run] journal_dir` [default: $DRHOST_CONFIG, else ./drhost.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `drhost runs`.
#[derive(clap::Args)]
pub struct RunsArgs {
    /// Show at most N runs; 0 shows all.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Only the runs of this plugin id.
    #[arg(long, value_name = "ID")]
    pub plugin: Option<String>,
    /// Print a JSON array of runs on stdout (each object has a `schema` version).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub journals: JournalArgs,
}

/// `drhost show`.
#[derive(clap::Args)]
pub struct ShowArgs {
    /// A run id, a unique prefix of one, a journal file, or `latest`; or a
    /// drill's run id (`…-drill-NAME-…`, as `drhost drill` prints it) or journal.
    #[arg(value_name = "RUN|DRILL")]
    pub run: String,
    /// Print the journal's events as a JSON array (with --follow: one event a line).
    #[arg(long)]
    pub json: bool,
    /// Keep reading a run still in progress until its run-end (or Ctrl-C).
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub journals: JournalArgs,
}

/// `drhost report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// A run id, a unique prefix of one, a journal file, or `latest` (the
    /// run or drill that started last; a drill's own plugin runs count as
    /// the drill); or a drill's run id (`…-drill-NAME-…`, as `drhost drill`
    /// prints it) or journal.
    #[arg(value_name = "RUN|DRILL")]
    pub run: String,
    /// One self-contained HTML page (inline CSS and SVG timeline, no script, no external URL).
    #[arg(long, conflicts_with = "json")]
    pub html: bool,
    /// One JSON object (with a `schema` version) for machines.
    #[arg(long)]
    pub json: bool,
    /// Write the report to FILE (created or replaced, mode 0600) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub journals: JournalArgs,
}

impl ReportArgs {
    /// The format asked for.
    pub fn format(&self) -> drhost::history::report::Format {
        use drhost::history::report::Format;
        match (self.html, self.json) {
            (true, _) => Format::Html,
            (_, true) => Format::Json,
            _ => Format::Markdown,
        }
    }
}

/// `drhost drill`.
#[derive(clap::Args)]
pub struct DrillArgs {
    /// The drill: a [drills.NAME] table of the configuration.
    #[arg(value_name = "NAME", required_unless_present_any = ["due", "all"], conflicts_with_all = ["due", "all"])]
    pub name: Option<String>,
    /// Run every drill that is due (see `drhost schedule`), one after the other.
    #[arg(long, conflicts_with = "all")]
    pub due: bool,
    /// Run every drill of the configuration, one after the other, then
    /// print one table: scenario, RTO, RPO, verdict, report.
    #[arg(long)]
    pub all: bool,
    /// Write each drill's HTML report (`drhost report DRILL --html`) into
    /// DIR as `<drill run id>.html` (created, mode 0700).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Configuration file [default: $DRHOST_CONFIG, else ./drhost.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where journals go [default: [run] journal_dir]; drills under DIR/drills.
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Where compiled plugins are cached [default: [run] cache_dir].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Approve every confirmation of both plugins (journaled).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print each drill's result as one JSON object per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// Draw no progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl DrillArgs {
    /// The library's options for drill `name`.
    pub fn options(&self, name: &str) -> drhost::drill::DrillOptions {
        drhost::drill::DrillOptions {
            name: name.to_string(),
            config: self.config.clone(),
            journal_dir: self.journal_dir.clone(),
            cache_dir: self.cache_dir.clone(),
            yes: self.yes,
            quiet: self.quiet,
        }
    }
}

/// `drhost schedule`.
#[derive(clap::Args)]
pub struct ScheduleArgs {
    /// Print a JSON array of rows.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub journals: JournalArgs,
}

/// `drhost journal …`.
#[derive(Subcommand)]
pub enum JournalCommand {
    /// Check a run journal's hash chain and print `ok: N events, head H`,
    /// or the first broken line and why. Exit 0: intact; 1: intact but no
    /// run-end (the run is going, was killed, or the journal was cut);
    /// 3: broken (a line was changed, removed or reordered).
    Verify(JournalVerifyArgs),
    /// Sign an intact, ended journal's head with your key, so a review can
    /// trust the timeline: writes JOURNAL.sig beside it (0600), which
    /// `drhost journal verify` then checks against the trust file.
    Sign(JournalSignArgs),
}

/// `drhost journal sign`.
#[derive(clap::Args)]
pub struct JournalSignArgs {
    /// A run id, a unique prefix of one, a journal file, or `latest`; or a
    /// drill's run id (`…-drill-NAME-…`, as `drhost drill` prints it) or journal.
    #[arg(value_name = "RUN|DRILL")]
    pub run: String,
    /// The secret key (NAME.key from `drhost keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key id stored with the signature [default: the key file's stem].
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    #[command(flatten)]
    pub journals: JournalArgs,
}

/// `drhost journal verify`.
#[derive(clap::Args)]
pub struct JournalVerifyArgs {
    /// A run id, a unique prefix of one, a journal file, or `latest`; or a
    /// drill's run id (`…-drill-NAME-…`, as `drhost drill` prints it) or journal.
    #[arg(value_name = "RUN|DRILL")]
    pub run: String,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// The trust file a head signature's key is looked up in [default: [trust] file in the configuration, else $DRHOST_TRUST, else $XDG_CONFIG_HOME/drhost/trust.toml].
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    #[command(flatten)]
    pub journals: JournalArgs,
}

/// `drhost prepare`.
#[derive(clap::Args)]
pub struct PrepareArgs {
    /// Plugin files, or directories of them (every *.wasm directly inside).
    #[arg(required = true, value_name = "PLUGIN|DIR")]
    pub plugins: Vec<PathBuf>,
    /// Where compiled plugins are cached [default: [run] cache_dir, else $XDG_CACHE_HOME/drhost/components].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// `drhost completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `drhost new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The plugin's language: rust (a crate), python or js (an app and its build.sh).
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: NewLanguage,
    /// The plugin id: 1-64 lowercase letters, digits and dashes.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The directory to create; it must not exist [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The language's SDK directory (sdk/, sdk/python or sdk/js of a drhost
    /// checkout) [default: the one this drhost was built from].
    #[arg(long, value_name = "PATH")]
    pub sdk: Option<PathBuf>,
}

/// `drhost new --lang`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum NewLanguage {
    /// Rust, with drhost-sdk.
    Rust,
    /// Python, with drhost_sdk (componentize-py).
    Python,
    /// JavaScript, with drhost-sdk (componentize-js).
    Js,
}

impl From<NewArgs> for drhost::scaffold::NewPlugin {
    fn from(args: NewArgs) -> Self {
        drhost::scaffold::NewPlugin {
            language: match args.lang {
                NewLanguage::Rust => drhost::scaffold::Language::Rust,
                NewLanguage::Python => drhost::scaffold::Language::Python,
                NewLanguage::Js => drhost::scaffold::Language::Js,
            },
            id: args.name,
            dir: args.dir,
            sdk: args.sdk,
        }
    }
}

/// `drhost man`.
#[derive(clap::Args)]
pub struct ManArgs {
    /// A subcommand's own page (`drhost-run(1)`) instead of `drhost(1)`.
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
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
pub struct TrustArgs {
    #[command(flatten)]
    files: TrustFileArgs,
    /// Configuration file, for its `[trust]` table [default: $DRHOST_CONFIG, else ./drhost.toml].
    #[arg(long = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
}

impl TrustArgs {
    /// The trust and lock files: the flags, else what the configuration
    /// file's `[trust]` table names, else the environment and the defaults.
    pub fn paths(&self) -> Result<TrustPaths, drhost::Error> {
        Ok(self.paths_and_config()?.0)
    }

    /// [`TrustArgs::paths`], and the configuration they were read from
    /// (empty when there is none).
    pub fn paths_and_config(&self) -> Result<(TrustPaths, drhost::config::Config), drhost::Error> {
        let config_path = drhost::config::locate(self.config_file.as_deref());
        let config = config_path
            .as_deref()
            .map(drhost::config::Config::load)
            .transpose()?
            .unwrap_or_default();
        let paths = TrustPaths::locate(
            self.files.trust_file.as_deref(),
            self.files.lock_file.as_deref(),
            &config,
            config_path.as_deref(),
        );
        Ok((paths, config))
    }
}

/// `--param NAME=VALUE`: the name must not be empty; the value may be.
fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// `--approve ID`: a question id as drhost shows it, `<plugin-id>:<8 hex>`.
fn parse_question_id(text: &str) -> Result<String, String> {
    if drhost::caps::confirm::is_question_id(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{text}` is not a question id: pass the id shown with the question or by --plan, e.g. db-restore:1a2b3c4d (plugin id, colon, 8 hex digits)"
        ))
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
