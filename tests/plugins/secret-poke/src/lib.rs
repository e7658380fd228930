//! `secret-poke`: one operation chosen by `op`, reported as facts (names,
//! ids, origins, seal status — a value only for `reveal`), or the typed
//! error as `error-kind` / `error` facts, so tests can check what the
//! secret-handle calls do and what a grant allows.
//!
//! - `operator` (`name`) / `s3` (`target`, `key`, `sha256`): get a secret,
//!   then do each of `then` (comma-separated): `origin`, `reveal`,
//!   `docker` (create Docker secret `docker-name` with `labels` `k=v;…`).
//! - `swarm-inspect`, `swarm-init` (`advertise`), `list-secrets`,
//!   `remove-secret` (`docker-name`).
//! - `seal-status`, `unseal` (Vault target `target`).
//!
//! `on-error=fail` turns an error into the run's failure instead (exit 1).

use drhost_sdk::docker::{self, Label};
use drhost_sdk::prelude::*;
use drhost_sdk::s3::Bucket;
use drhost_sdk::secret::Secret;
use drhost_sdk::vault::{SealStatus, Store};

struct SecretPoke;

impl Plugin for SecretPoke {
    fn describe() -> Manifest {
        manifest(
            "secret-poke",
            env!("CARGO_PKG_VERSION"),
            "Gets host-held secrets and passes them on (tests only)",
        )
        .param(
            "op",
            "operator | s3 | swarm-inspect | swarm-init | list-secrets | remove-secret | seal-status | unseal",
            Some("operator"),
        )
        .param(
            "name",
            "operator: the operator secret's name",
            Some("drhost-test-token"),
        )
        .param("target", "s3, seal-status, unseal: the target label", Some("main"))
        .param("key", "s3: the object key", Some(""))
        .param("sha256", "s3: expect-sha256 (empty: none)", Some(""))
        .param(
            "then",
            "operator, s3: origin, reveal, docker (comma-separated)",
            Some("origin"),
        )
        .param("docker-name", "docker, remove-secret: the Docker secret", Some(""))
        .param("labels", "docker: labels k=v, `;`-separated", Some(""))
        .param("advertise", "swarm-init: advertise-addr (empty: none)", Some(""))
        .param("on-error", "report (facts, exit 0) or fail (exit 1)", Some("report"))
        .need("secret", "drhost-test-token", Access::Read, "passes the test token on")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        match poke(&params)? {
            Ok(outcome) => Ok(outcome),
            Err(e) if params.get("on-error")? == "fail" => Err(e.into()),
            Err(e) => Ok(outcome("refused")
                .fact("error-kind", e.kind())
                .fact("error", e.message())),
        }
    }
}

/// The operation's outcome, or the capability's typed error.
fn poke(params: &Params) -> Result<Result<Outcome, Error>, Failure> {
    let docker_name = params.get("docker-name")?;
    Ok(match params.get("op")? {
        "operator" => Secret::operator(params.get("name")?).and_then(|s| then(params, &s)),
        "s3" => s3_secret(params).and_then(|s| then(params, &s)),
        "swarm-inspect" => docker::swarm_inspect().map(|s| match s {
            Some(s) => swarm(outcome("manager"), &s),
            None => outcome("not a manager"),
        }),
        "swarm-init" => {
            let advertise = Some(params.get("advertise")?).filter(|a| !a.is_empty());
            docker::swarm_init(advertise).map(|s| swarm(outcome("manager"), &s))
        }
        "list-secrets" => docker::list_secrets().map(|list| {
            let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
            outcome("listed").fact("secrets", names.join(","))
        }),
        "remove-secret" => {
            docker::remove_secret(docker_name).map(|removed| outcome("removed").fact("removed", removed))
        }
        "seal-status" => Store::open(params.get("target")?)
            .and_then(|store| store.seal_status())
            .map(|s| seal(outcome("status"), &s)),
        "unseal" => Store::open(params.get("target")?)
            .and_then(|store| store.unseal())
            .map(|s| seal(outcome("unsealed"), &s)),
        other => return Err(fail(format!("unknown op `{other}`"))),
    })
}

/// `s3`: the object as a secret.
fn s3_secret(params: &Params) -> Result<Secret, Error> {
    let bucket = Bucket::open(params.get("target").unwrap_or("main"))?;
    let sha = params.get("sha256").unwrap_or("");
    bucket.get_secret(params.get("key").unwrap_or(""), Some(sha).filter(|s| !s.is_empty()))
}

/// Does each of `then` with `secret`, collecting facts.
fn then(params: &Params, secret: &Secret) -> Result<Outcome, Error> {
    let mut result = outcome("done").fact("origin", secret.origin());
    for step in params.get("then").unwrap_or("").split(',').filter(|s| !s.is_empty()) {
        result = match step {
            "origin" => result,
            "reveal" => result.fact("value", secret.reveal()?),
            "docker" => {
                let labels: Vec<Label> = params
                    .get("labels")
                    .unwrap_or("")
                    .split(';')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(key, value)| Label {
                        key: key.into(),
                        value: value.into(),
                    })
                    .collect();
                let created = docker::create_secret(params.get("docker-name").unwrap_or(""), secret, &labels)?;
                result
                    .fact("docker-id", created.id)
                    .fact("docker-name", created.name)
                    .fact("docker-labels", created.labels.len())
            }
            other => return Err(Error::InvalidArgument(format!("unknown step `{other}`"))),
        };
    }
    Ok(result)
}

fn swarm(o: Outcome, s: &docker::SwarmInfo) -> Outcome {
    o.fact("node-id", &s.node_id)
        .fact("cluster-id", &s.cluster_id)
        .fact("created-at", &s.created_at)
        .fact("managers", s.managers)
        .fact("nodes", s.nodes)
}

fn seal(o: Outcome, s: &SealStatus) -> Outcome {
    o.fact("initialized", s.initialized)
        .fact("sealed", s.sealed)
        .fact("progress", s.progress)
        .fact("threshold", s.threshold)
}

export_plugin!(SecretPoke);
