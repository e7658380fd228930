//! `fault-complete-loss`: a drill's fault for runbook scenario 3 (complete
//! infrastructure loss), through drhost's capabilities only:
//!
//! 1. the compose project `down` with its named volumes (compose target
//!    `phase2`, the runbook's `docker-compose.phase2.yml`: Vault's raft
//!    data and the stack's Redis go with them), after checking that
//!    something runs there to lose;
//! 2. every file under `certificates/` of the files target
//!    `infrastructure` removed (the runbook's
//!    `infrastructure/certificates/`; listed, then removed one by one: the
//!    plugin names paths, it never reads a key);
//! 3. the Docker secret `vault_token` removed.
//!
//! It does not leave the engine's swarm, which the runbook's lost host
//! would not have either: on Docker 20.10 `docker swarm leave --force`
//! detaches every running container of the engine from its networks, the
//! swarm's or not, so a drill's fault would reach far past the stack it
//! names (tests/tests/dockerd_loss.rs leaves it, then restarts the engine).
//! infra-restore's `swarm init` is idempotent either way.
//!
//! Then it checks each is gone. S3 (the backups) and the database are not
//! touched: they survive this scenario (Supabase is not on this host). It
//! asks before it starts: what it destroys comes back only from the backups.
//!
//! Undo: `infra-restore` (the recovery under test), which restores
//! everything above from the backups `infra-backup` made — run
//! `infra-backup` first (a drill's `before`). By hand: the runbook's
//! scenario 3 steps 3–6.

use drhost_sdk::compose::Project;
use drhost_sdk::confirm;
use drhost_sdk::files::{Directory, Kind};
use drhost_sdk::prelude::*;

struct FaultCompleteLoss;

/// The labels and names the manifest asks for (the parameters' defaults).
/// The compose label is `phase2` (the runbook's `docker-compose.phase2.yml`),
/// never the `toolboxai` of the day-to-day plugins: a `down` grant on it
/// names the scenario-3 project alone.
const COMPOSE: &str = "phase2";
const FILES: &str = "infrastructure";
const CERTIFICATES: &str = "certificates";
const DOCKER_SECRET: &str = "vault_token";

const ASSESS_STEP: &str = "what there is to lose";
const PROJECT_STEP: &str = "the compose project down with its volumes";
const CERTIFICATES_STEP: &str = "delete the certificates";
const SECRET_STEP: &str = "remove the Docker secret";

/// What the parameters name.
struct Settings {
    target: String,
    files: String,
    certificates: String,
    secrets: Vec<String>,
}

impl Settings {
    fn read(params: &Params) -> Result<Settings, Failure> {
        let certificates = params.get("certificates")?.trim_matches('/').to_string();
        if certificates.is_empty() || certificates.split('/').any(|p| p == ".." || p == "." || p.is_empty()) {
            return Err(fail(format!(
                "--param certificates `{certificates}` is not a directory inside the files target"
            ))
            .hint("name it relative to the files target, e.g. `certificates`"));
        }
        let secrets: Vec<String> = params
            .get("docker-secrets")?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Settings {
            target: params.get("target")?.to_string(),
            files: params.get("files-target")?.to_string(),
            certificates,
            secrets,
        })
    }
}

/// The Docker secrets removed, as the note and the summary say them.
fn removed_text(removed: &[String]) -> String {
    if removed.is_empty() {
        "none (absent)".to_string()
    } else {
        removed.join(", ")
    }
}

/// The call's value when it was made, `None` when the host only planned
/// it (a dry run: noted in `step` and kept in `planned`), else the error
/// in `step`.
fn done<T>(result: Result<T, Error>, step: &Step, planned: &mut Vec<String>) -> Result<Option<T>, Failure> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::Planned(what)) => {
            step.note(format!("plan: {what}"));
            planned.push(what);
            Ok(None)
        }
        Err(e) => Err(Failure::from(e).in_step(step.name())),
    }
}

impl Plugin for FaultCompleteLoss {
    fn describe() -> Manifest {
        manifest(
            "fault-complete-loss",
            env!("CARGO_PKG_VERSION"),
            "Drill fault: complete infrastructure loss — the compose project down with its volumes, the certificates deleted, the Docker secret removed (undo: run infra-restore, with the backups infra-backup made)",
        )
        .param("target", "the compose target label ([targets.compose.LABEL])", Some(COMPOSE))
        .param("files-target", "the files target label that holds the certificates", Some(FILES))
        .param("certificates", "the certificates' directory inside the files target", Some(CERTIFICATES))
        .param("docker-secrets", "the Docker secrets to remove, comma-separated", Some(DOCKER_SECRET))
        .need("compose", &format!("read:{COMPOSE}"), Access::Read, "checks something runs before, and nothing after")
        .need("compose", &format!("down:{COMPOSE}"), Access::Admin, "takes the project down with its named volumes (Vault's data)")
        .need("files", FILES, Access::Read, "lists the certificates (names only: no file is read)")
        .need("files", FILES, Access::Write, "removes each certificate and key")
        .need("docker", &format!("secret:{DOCKER_SECRET}"), Access::Write, "removes the Docker secret")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let s = Settings::read(&params)?;
        let mut planned = Vec::new();

        // Something to lose, or the drill would measure nothing.
        let step = Step::start(ASSESS_STEP);
        let here = |e: Error| Failure::from(e).in_step(ASSESS_STEP);
        let project = Project::open(&s.target).map_err(here)?;
        let before = project.ps().map_err(here)?;
        let running: Vec<String> = before
            .iter()
            .filter(|c| c.state == "running")
            .map(|c| c.container.clone())
            .collect();
        if running.is_empty() {
            step.fail();
            return Err(fail(format!(
                "nothing runs in compose target `{}`: there is nothing to lose",
                s.target
            ))
            .in_step(ASSESS_STEP)
            .hint("bring the stack up (or recover it with infra-restore), then run the drill on a healthy stack"));
        }
        let dir = Directory::open(&s.files).map_err(here)?;
        let glob = format!("{}/**", s.certificates);
        let certificates = |dir: &Directory| -> Result<Vec<String>, Error> {
            Ok(dir
                .list(&glob)?
                .into_iter()
                .filter(|e| e.kind == Kind::File)
                .map(|e| e.path)
                .collect())
        };
        let files = certificates(&dir).map_err(here)?;
        step.note(format!(
            "{} running container(s), {} certificate file(s), Docker secret(s) {}",
            running.len(),
            files.len(),
            s.secrets.join(", ")
        ));
        step.ok();

        let question = format!(
            "Destroy compose target `{}` ({} running container(s): {}) with its volumes, delete {} certificate file(s) under {}/ of files target `{}`, and remove the Docker secret(s) {}? Only infra-restore, from the backups, brings them back.",
            s.target,
            running.len(),
            running.join(", "),
            files.len(),
            s.certificates,
            s.files,
            s.secrets.join(", ")
        );
        if !confirm::ask(&question)? {
            return Err(fail("the operator declined the complete loss; nothing was changed").in_step("confirm"));
        }

        // 1. The project, with its volumes.
        let step = Step::start(PROJECT_STEP);
        if done(project.down(true), &step, &mut planned)?.is_some() {
            let after = project.ps().map_err(|e| Failure::from(e).in_step(PROJECT_STEP))?;
            if !after.is_empty() {
                step.fail();
                let left: Vec<String> = after.iter().map(|c| format!("{} ({})", c.container, c.state)).collect();
                return Err(fail(format!(
                    "compose down left container(s) in `{}`: {}",
                    s.target,
                    left.join(", ")
                ))
                .in_step(PROJECT_STEP));
            }
            step.note(format!(
                "{} container(s) removed with their networks and volumes: {}",
                before.len(),
                running.join(", ")
            ));
        }
        step.ok();

        // 2. The certificates.
        let step = Step::start(CERTIFICATES_STEP);
        let mut removed = 0;
        for path in &files {
            if done(dir.remove(path), &step, &mut planned)? == Some(true) {
                removed += 1;
            }
        }
        if planned.is_empty() {
            let left = certificates(&dir).map_err(|e| Failure::from(e).in_step(CERTIFICATES_STEP))?;
            if !left.is_empty() {
                step.fail();
                return Err(
                    fail(format!("certificate file(s) still there: {}", left.join(", "))).in_step(CERTIFICATES_STEP)
                );
            }
            step.note(format!("removed {removed} file(s): {}", files.join(", ")));
        }
        step.ok();

        // 3. The Docker secret(s).
        let step = Step::start(SECRET_STEP);
        let mut secrets_removed = Vec::new();
        for name in &s.secrets {
            if done(docker::remove_secret(name), &step, &mut planned)? == Some(true) {
                secrets_removed.push(name.clone());
            }
        }
        if planned.is_empty() {
            let left: Vec<String> = docker::list_secrets()
                .map_err(|e| Failure::from(e).in_step(SECRET_STEP))?
                .into_iter()
                .filter(|x| s.secrets.contains(&x.name))
                .map(|x| x.name)
                .collect();
            if !left.is_empty() {
                step.fail();
                return Err(fail(format!("Docker secret(s) still there: {}", left.join(", "))).in_step(SECRET_STEP));
            }
            step.note(format!("removed: {}", removed_text(&secrets_removed)));
        }
        step.ok();

        if !planned.is_empty() {
            return Ok(outcome(format!(
                "plan: would destroy compose target `{}` with its volumes, {} certificate file(s) and the Docker secret(s) {}",
                s.target,
                files.len(),
                s.secrets.join(", ")
            ))
            .fact("planned", planned.len()));
        }
        Ok(outcome(format!(
            "complete loss: compose target `{}` down with its volumes ({} container(s)), {removed} certificate file(s) deleted, Docker secret(s) removed: {}; undo: infra-restore",
            s.target,
            before.len(),
            removed_text(&secrets_removed)
        ))
        .fact("containers-removed", before.len())
        .fact("certificates-removed", removed)
        .fact("docker-secrets-removed", secrets_removed.join(","))
        .fact("undo", "infra-restore"))
    }
}

export_plugin!(FaultCompleteLoss);
