//! `infra-restore`: runbook scenario 3, complete infrastructure loss. The
//! runbook's steps, each a phase with its own time to recovery:
//!
//! 1. **assess** (`assess.rs`) — changes nothing: which containers,
//!    certificates and Docker secrets exist, whether Docker, Vault, the
//!    database and Redis answer, which backups S3 holds and how old each
//!    is (one table, and facts). Every backup the restore needs is
//!    downloaded into the host and checked against its `sha256` metadata
//!    here: a missing or corrupted backup stops the run before anything
//!    changes, naming it. Then the operator is asked.
//! 2. **provision** — `docker swarm init` when the engine is not a swarm
//!    manager (Docker secrets need one).
//! 3. **certificates** (`certificates.rs`) — each file restored atomically
//!    into `certificates/` of the files target `infrastructure` (keys
//!    0600), unless it already
//!    holds exactly the backup; each certificate verified with `openssl`
//!    (parses, not expired, matches its key) — no key enters the plugin.
//! 4. **secrets** — the Docker secret `vault_token` created from the
//!    operator's secret `vault-root-token` (a handle: the value never
//!    enters the plugin, the journal or the output), unless it exists.
//! 5. **vault** (`vault.rs`) — the compose service `vault` up, the raft
//!    snapshot restored (force; a fresh server is initialised by the host
//!    first) and unsealed with the operator's keys, then a known secret
//!    read back; skipped when Vault already holds that secret.
//! 6. **services** — every service up, in the compose file's dependency
//!    order.
//! 7. **verify** (`verify.rs`) — every container running, `/health` 200
//!    through the proxy, `SELECT 1`, Redis `PING`, Sentinels agree.
//!
//! Every phase is idempotent: a rerun after a recovery changes nothing.

use std::time::{Duration, Instant};

use drhost_sdk::compose::Project;
use drhost_sdk::prelude::*;
use drhost_sdk::{confirm, secret, Table};

mod assess;
mod certificates;
mod vault;
mod verify;

/// Target labels (the operator maps them in drhost.toml).
const BUCKET: &str = "backups";
/// The files target: the application's `infrastructure/` directory, and
/// the certificates' directory inside it (the runbook's
/// `infrastructure/certificates/`).
const INFRASTRUCTURE: &str = "infrastructure";
const CERTIFICATES: &str = "certificates";
const VAULT: &str = "vault";
/// The compose target: the runbook's `docker-compose.phase2.yml` project.
/// A label of its own, not the `toolboxai` the day-to-day plugins
/// (`logs`, `restart-all`, `full-restart`) use, so a site (the lab) can
/// point it at a scenario-3 stack without granting these plugins anything
/// on another project.
const COMPOSE: &str = "phase2";
const DATABASE: &str = "primary";
/// The Redis target: the scenario-3 stack's own Redis (master, replica,
/// Sentinels in the same compose file), labelled like the compose target
/// for the same reason: the day-to-day `cache` may be another set.
const REDIS: &str = "phase2";
/// The Docker secret the runbook creates, and the operator secret it is made from.
const DOCKER_SECRET: &str = "vault_token";
const OPERATOR_SECRET: &str = "vault-root-token";

struct InfraRestore;

/// What to do when a service stops answering once the recovery has begun
/// (dockerd killed mid-run, Vault gone): every phase keeps what is already
/// right, so a rerun finishes the job.
const RERUN: &str = "once the service the message names answers again, rerun infra-restore: every step is idempotent, so what this run restored is kept and the rest is done";

/// A failed call in step `step`: a service that does not answer
/// (`unavailable`) gets the [`RERUN`] hint.
pub(crate) fn failed(step: &str, e: Error) -> Failure {
    let unavailable = matches!(e, Error::Unavailable(_));
    let failure = Failure::from(e).in_step(step);
    if unavailable {
        failure.hint(RERUN)
    } else {
        failure
    }
}

/// The operator's choices, read once.
pub(crate) struct Settings {
    pub target: String,
    pub vault_service: String,
    pub snapshot_key: String,
    pub certificates_prefix: String,
    pub database_prefix: String,
    pub certificates_dir: String,
    pub known_secret: String,
    pub health_url: String,
    pub wait: Duration,
}

impl Settings {
    fn read(params: &Params) -> Result<Settings, Failure> {
        let certificates_dir = params.get("certificates-dir")?.trim_end_matches('/').to_string();
        if !certificates_dir.starts_with('/') {
            return Err(
                fail("--param certificates-dir must be the absolute path of the certificates directory").hint(
                    "set it to the `path` of [targets.files.certificates]: openssl verifies the restored files there",
                ),
            );
        }
        Ok(Settings {
            target: params.get("target")?.to_string(),
            vault_service: params.get("vault-service")?.to_string(),
            snapshot_key: params.get("snapshot-key")?.to_string(),
            certificates_prefix: params.get("certificates-prefix")?.to_string(),
            database_prefix: params.get("database-prefix")?.to_string(),
            certificates_dir,
            known_secret: params.get("known-secret")?.to_string(),
            health_url: params.get("health-url")?.to_string(),
            wait: params.duration("wait")?,
        })
    }
}

/// Each phase's name, how long it took, and what it changed.
struct Phases {
    started: Instant,
    done: Vec<(&'static str, u128, String)>,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs phase `name`, timed; `f` says what it changed.
    fn run<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<(T, String), Failure>) -> Result<T, Failure> {
        let started = Instant::now();
        let (value, changed) = f()?;
        self.done.push((name, started.elapsed().as_millis(), changed));
        Ok(value)
    }

    fn table(&self) -> Table {
        let mut t = table("time to recovery per phase", &["PHASE", "MS", "WHAT CHANGED"]);
        for (name, ms, changed) in &self.done {
            t = t.row(&[name.to_string(), ms.to_string(), changed.clone()]);
        }
        t.row(&[
            "total".to_string(),
            self.started.elapsed().as_millis().to_string(),
            String::new(),
        ])
    }
}

/// Step 2: a swarm manager, made when there is none.
fn provision() -> Result<(bool, String), Failure> {
    let step = Step::start("provision: docker swarm init when needed");
    let here = |e: Error| failed("provision: docker swarm init when needed", e);
    if let Some(swarm) = docker::swarm_inspect().map_err(here)? {
        step.note(format!("already a swarm manager (node {})", swarm.node_id));
        step.ok();
        return Ok((false, "nothing (already a swarm manager)".into()));
    }
    let swarm = docker::swarm_init(None).map_err(here)?;
    step.note(format!("swarm initialised: node {}", swarm.node_id));
    step.ok();
    Ok((true, "docker swarm init".into()))
}

/// Step 4: the Docker secret from the operator's secret, when it is missing.
fn docker_secret() -> Result<(bool, String), Failure> {
    let name = format!("create Docker secret {DOCKER_SECRET} from the operator's {OPERATOR_SECRET}");
    let step = Step::start(&name);
    let here = |e: Error| failed(&name, e);
    if docker::list_secrets()
        .map_err(here)?
        .iter()
        .any(|s| s.name == DOCKER_SECRET)
    {
        step.note("exists: kept (Docker never returns a secret's value to compare)");
        step.ok();
        return Ok((false, "nothing (secret exists)".into()));
    }
    let value = secret::Secret::operator(OPERATOR_SECRET).map_err(here)?;
    let labels = [docker::Label {
        key: "com.toolboxai.runbook".into(),
        value: "scenario-3".into(),
    }];
    let made = docker::create_secret(DOCKER_SECRET, &value, &labels).map_err(here)?;
    step.note(format!("created (id {})", made.id));
    step.ok();
    Ok((true, format!("Docker secret {DOCKER_SECRET} created")))
}

/// Step 6: every service up, in the compose file's dependency order.
/// `was` is what ran before the run (from the assessment), so a rerun
/// reports what it started without asking compose again.
fn services(project: &Project, s: &Settings, was: &[String]) -> Result<((), String), Failure> {
    let name = format!(
        "start every service of compose target `{}` in dependency order",
        s.target
    );
    let step = Step::start(&name);
    let running = |states: &[drhost_sdk::compose::ServiceState]| {
        states
            .iter()
            .filter(|c| c.state == "running")
            .map(|c| c.container.clone())
            .collect::<Vec<_>>()
    };
    let after = project.up(&[]).map_err(|e| failed(&name, e))?;
    let started: Vec<String> = running(&after).into_iter().filter(|c| !was.contains(c)).collect();
    step.note(format!(
        "{} container(s) running, {} started",
        running(&after).len(),
        started.len()
    ));
    step.ok();
    let changed = if started.is_empty() {
        "nothing (all running)".into()
    } else {
        format!("started {}", started.join(", "))
    };
    Ok(((), changed))
}

impl Plugin for InfraRestore {
    fn describe() -> Manifest {
        manifest(
            "infra-restore",
            env!("CARGO_PKG_VERSION"),
            "Runbook scenario 3, complete infrastructure loss: assess, swarm init, restore certificates and Docker secrets, restore Vault from its raft snapshot and unseal it, start every service in dependency order, verify; time to recovery per phase",
        )
        .param("target", "the compose target label ([targets.compose.LABEL])", Some(COMPOSE))
        .param("vault-service", "the compose service that runs Vault", Some("vault"))
        .param("snapshot-key", "the Vault raft snapshot's key in the bucket", Some("vault/vault-snapshot.snap"))
        .param("certificates-prefix", "the certificates' key prefix in the bucket", Some("certificates/"))
        .param("database-prefix", "the database dumps' key prefix (assessed, not restored)", Some("supabase/"))
        .param("certificates-dir", "absolute path of the certificates directory (`certificates/` in the files target `infrastructure`), for openssl", None)
        .param("known-secret", "a Vault KV path (MOUNT/PATH) that must read back after the restore", Some("secret/toolboxai/supabase"))
        .param("health-url", "the proxy's health endpoint", Some("http://127.0.0.1:27080/health"))
        .param("wait", "longest wait for Vault and for the services to answer", Some("60s"))
        .need("s3", BUCKET, Access::Read, "finds the backups, checks their age and downloads them verified")
        .need("files", INFRASTRUCTURE, Access::Read, "sees which certificates exist")
        .need("files", INFRASTRUCTURE, Access::Write, "restores the certificates (keys 0600), atomically")
        .need("shell", "openssl", Access::Write, "verifies each certificate: parses, not expired, matches its key")
        .need("docker", "swarm", Access::Write, "docker swarm init, which Docker secrets need")
        .need("docker", &format!("secret:{DOCKER_SECRET}"), Access::Write, "creates the Docker secret from the operator's secret handle")
        .need("secret", OPERATOR_SECRET, Access::Read, "the value of the Docker secret, passed as a handle")
        .need("compose", &format!("read:{COMPOSE}"), Access::Read, "sees which containers exist and verifies every service")
        .need("compose", &format!("up:{COMPOSE}"), Access::Write, "starts Vault, then every service in dependency order")
        .need("vault", VAULT, Access::Read, "reads a known secret back after the restore (field names only)")
        .need("vault", &format!("snapshot:{VAULT}"), Access::Admin, "restores the raft snapshot")
        .need("vault", &format!("unseal:{VAULT}"), Access::Admin, "unseals Vault with the operator's keys")
        .need("http", "127.0.0.1:*", Access::Read, "checks /health through the proxy")
        .need("postgres", DATABASE, Access::Read, "SELECT 1")
        .need("redis", REDIS, Access::Read, "PING the master, ask the Sentinels")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let s = Settings::read(&params)?;
        let mut phases = Phases::new();

        let project = Project::open(&s.target)?;
        let found = phases.run("assess", || Ok((assess::assess(&project, &s)?, "nothing".to_string())))?;
        let question = format!(
            "Recover from a complete infrastructure loss with {} ({} bytes) and {} certificate file(s)? Missing pieces are recreated; the swarm, secrets and certificates that already match are kept.",
            s.snapshot_key,
            found.snapshot.size(),
            found.certificates.len()
        );
        if !confirm::ask(&question)? {
            return Err(fail("the operator declined the recovery; nothing was changed")
                .in_step("confirm")
                .table(found.table));
        }
        let swarm = phases.run("provision", provision)?;
        let certs = phases.run("certificates", || certificates::restore(&s, &found.certificates))?;
        let secret = phases.run("secrets", docker_secret)?;
        let restored = phases.run("vault", || vault::restore(&project, &s, &found.snapshot))?;
        phases.run("services", || services(&project, &s, &found.running_before))?;
        let checks = phases.run("verify", || Ok((verify::verify(&project, &s)?, "nothing".to_string())))?;

        let total = phases.started.elapsed().as_millis();
        let mut out = outcome(format!(
            "recovered in {:.1}s: {} certificate file(s) restored, {}, Vault {}, {} check(s) passed",
            total as f64 / 1000.0,
            certs,
            if secret {
                format!("Docker secret {DOCKER_SECRET} created")
            } else {
                format!("Docker secret {DOCKER_SECRET} kept")
            },
            if restored {
                "restored from its snapshot"
            } else {
                "already held its data"
            },
            checks.rows.len()
        ))
        .fact("swarm-initialised", swarm)
        .fact("certificates-restored", certs)
        .fact("docker-secret-created", secret)
        .fact("vault-restored", restored);
        for (name, ms, _) in &phases.done {
            out = out.fact(&format!("phase-{name}-ms"), ms);
        }
        for (name, value) in &found.facts {
            out = out.fact(name, value);
        }
        Ok(out
            .fact("time-to-recovery-ms", total)
            .table(found.table)
            .table(phases.table())
            .table(checks))
    }
}

export_plugin!(InfraRestore);
