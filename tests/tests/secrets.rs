//! Secret handles end to end, through the `secret-poke` fixture and the
//! real `drhost` binary: the operator's `[secrets]` (`secret.operator`),
//! S3 objects read into secrets (`s3.get-secret`), Docker swarm secrets
//! made from them (`docker.create-secret`, on the lab's real engine) and
//! Vault's seal (`vault.seal-status`, `vault.unseal`, on an OpenBao server
//! each test starts for itself: the lab's are in dev mode or shared).
//!
//! Every test checks that the value never reaches stdout, stderr, the
//! journal or the plugin (a reveal without the grant is refused), and what
//! changed in the real service.
//!
//! The lab's Docker Engine is shared: the first test that needs a swarm
//! makes it a single-node swarm manager (through drhost's `swarm-init`,
//! listening on 127.0.0.1 only) and leaves it one; secrets and services
//! made here are uniquely named and removed by guards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use drhost_tests::cli::{calls, Outcome, Run};
use drhost_tests::lab::{runtime as rt, serial, up as lab, Lab};
use drhost_tests::tmp::{TmpDir, TmpFile};
use drhost_tests::util::unique;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The operator secret `secret-poke` declares it needs.
const TOKEN: &str = "drhost-test-token";
/// Docker secrets these tests make start with this (and are granted by it).
const DOCKER_PREFIX: &str = "drhost-test-";
/// S3 keys these tests write start with this.
const S3_PREFIX: &str = "drhost-test/secrets/";

// --- configuration -----------------------------------------------------------

/// A drhost.toml with the operator secret [`TOKEN`] (in a 0600 file beside
/// it) granted to `secret-poke`, plus `extra` (more grants, targets, or
/// `[secrets]` lines: `extra_secrets`).
struct Config {
    file: TmpFile,
}

impl Config {
    fn new(token: &str, extra_secrets: &str, extra: &str) -> Config {
        Config::with_grant(
            token,
            extra_secrets,
            &format!("[[plugins.secret-poke.secret]]\nnames = [\"{TOKEN}\"]\n\n{extra}"),
        )
    }

    /// Like [`Config::new`], but `grants` replaces the grant of [`TOKEN`].
    fn with_grant(token: &str, extra_secrets: &str, grants: &str) -> Config {
        let dir = TmpDir::new("drhost-secrets-");
        let token_file = dir.write("token", format!("{token}\n"));
        private(&token_file);
        let text = format!(
            "[secrets]\n{TOKEN} = \"file:{}\"\n{extra_secrets}\n{grants}",
            token_file.display()
        );
        Config {
            file: dir.into_file("drhost.toml", text),
        }
    }

    fn path(&self) -> &Path {
        &self.file
    }
}

/// Makes `file` readable by its owner only, as a secret file must be.
fn private(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `[[plugins.secret-poke.docker]]` granting the test's Docker secrets.
fn docker_grant(access: &str) -> String {
    format!("[[plugins.secret-poke.docker]]\nsecrets = [\"{DOCKER_PREFIX}*\"]\naccess = {access}\n\n")
}

/// `[[plugins.secret-poke.docker]]` with `swarm = true`.
const SWARM_GRANT: &str = "[[plugins.secret-poke.docker]]\nswarm = true\n\n";

/// `drhost run secret-poke --config CONFIG --yes --json --param K=V…`
/// against the lab's engine.
fn poke(config: &Config, params: &[(&str, &str)]) -> Outcome {
    let lab = lab();
    Run::fixture("secret-poke")
        .config(config.path())
        .yes()
        .json()
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap())
        .params(params)
        .exec()
}

fn show(out: &Outcome) -> String {
    format!("exit {}\nstdout:\n{}\nstderr:\n{}", out.code, out.stdout, out.stderr)
}

/// Asserts none of `values` is in stdout, stderr or the journal of `out`.
fn never_shown(out: &Outcome, values: &[&str]) {
    let journal = out.journal_path().map(|_| out.journal_text()).unwrap_or_default();
    for (place, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("journal", &journal)] {
        for value in values {
            assert!(!text.contains(value), "a secret value leaked into {place}:\n{text}");
        }
    }
}

/// The one `call` event named `call` of the run's journal.
fn one_call(out: &Outcome, call: &str) -> Value {
    let journal = out.journal();
    let found = calls(&journal, call);
    assert_eq!(found.len(), 1, "{call} in:\n{}", out.journal_text());
    found[0].clone()
}

/// The run's typed error, from `error-kind` / `error` facts.
fn refusal(out: &Outcome) -> (String, String) {
    assert_eq!(out.code, 0, "{}", show(out));
    (
        out.fact("error-kind").unwrap_or_default(),
        out.fact("error").unwrap_or_default(),
    )
}

// --- Docker ------------------------------------------------------------------

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", lab().get("DOCKER_HOST").unwrap())
        .output()
        .expect("the docker CLI runs")
}

/// The engine's swarm state, read directly.
fn swarm_state(lab: &Lab) -> bollard::models::SwarmInfo {
    rt().block_on(async { lab.docker().await.unwrap().info().await.unwrap() })
        .swarm
        .unwrap_or_default()
}

/// Makes the lab's engine a swarm manager through drhost's `swarm-init`
/// (only changes anything the first time; left initialised on purpose).
fn ensure_swarm() {
    let config = Config::new(&unique("tok"), "", SWARM_GRANT);
    let out = poke(&config, &[("op", "swarm-init")]);
    assert_eq!(out.fact("error"), None, "{}", show(&out));
    assert_eq!(out.json()["summary"], "manager", "{}", show(&out));
}

/// A Docker secret removed when dropped (also while a failed test unwinds).
struct DockerSecret(String);

impl Drop for DockerSecret {
    fn drop(&mut self) {
        let name = self.0.clone();
        rt().block_on(async {
            if let Ok(docker) = lab().docker().await {
                let _ = docker.delete_secret(&name).await;
            }
        });
    }
}

/// A swarm service removed when dropped, with its tasks' containers (a
/// finished job's container outlives its service).
struct Service(String);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = docker(&["service", "rm", &self.0]);
        let label = format!("label=com.docker.swarm.service.name={}", self.0);
        let listed = docker(&["ps", "-aq", "--filter", &label]);
        for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            let _ = docker(&["rm", "-f", id]);
        }
    }
}

/// The Docker secret `name` as the engine reports it (`None`: no such secret).
fn inspect_secret(name: &str) -> Option<bollard::models::Secret> {
    rt().block_on(async { lab().docker().await.unwrap().inspect_secret(name).await.ok() })
}

/// The SHA-256 of Docker secret `secret`'s value as a swarm task sees it:
/// a one-off job mounts it and prints `sha256sum` of the file. This proves
/// the value without it ever being printed.
fn digest_seen_by_a_task(secret: &str) -> String {
    let name = unique("drhost-test-svc");
    let _service = Service(name.clone());
    let mount = format!("source={secret},target=value");
    let created = docker(&[
        "service",
        "create",
        "--detach",
        "--quiet",
        "--name",
        &name,
        "--mode",
        "replicated-job",
        "--no-resolve-image",
        "--secret",
        &mount,
        "--entrypoint",
        "/bin/busybox",
        "toolboxai/backend:latest",
        "sha256sum",
        "/run/secrets/value",
    ]);
    assert!(
        created.status.success(),
        "docker service create: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let started = Instant::now();
    loop {
        let logs = docker(&["service", "logs", "--raw", &name]);
        let text = String::from_utf8_lossy(&logs.stdout).to_string();
        if let Some(digest) = text.split_whitespace().find(|w| w.len() == 64) {
            return digest.to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the job printed no digest in 90 s: {text}\n{}",
            String::from_utf8_lossy(&docker(&["service", "ps", "--no-trunc", &name]).stdout)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn an_operator_secret_becomes_a_docker_secret_with_its_value_never_shown() {
    let _serial = serial();
    ensure_swarm();
    let value = format!("{}:p@ss w/rd é\"\\", unique("token"));
    let name = unique("drhost-test-db-password");
    let _secret = DockerSecret(name.clone());
    let config = Config::new(&value, "", &docker_grant("[\"read\", \"write\"]"));

    let out = poke(
        &config,
        &[
            ("op", "operator"),
            ("then", "docker"),
            ("docker-name", &name),
            ("labels", "purpose=drhost-test;owner=secrets.rs"),
        ],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("error"), None, "{}", show(&out));
    assert_eq!(out.fact("origin").as_deref(), Some("operator:drhost-test-token"));
    assert_eq!(out.fact("docker-name").as_deref(), Some(name.as_str()));

    // The engine holds it, with the labels, and never returns the value.
    let secret = inspect_secret(&name).expect("the secret exists");
    assert_eq!(out.fact("docker-id"), secret.id.clone());
    let spec = secret.spec.unwrap();
    assert_eq!(spec.data, None, "the engine does not return a secret's value");
    let labels = spec.labels.unwrap_or_default();
    assert_eq!(labels.get("purpose").map(String::as_str), Some("drhost-test"));
    assert_eq!(labels.get("owner").map(String::as_str), Some("secrets.rs"));
    // What a container mounting it reads is exactly the value.
    assert_eq!(digest_seen_by_a_task(&name), sha256_hex(value.as_bytes()));

    never_shown(&out, &[&value, "p@ss w/rd"]);
    let create = one_call(&out, "docker.create-secret");
    assert_eq!(create["args"]["name"], name.as_str());
    assert_eq!(create["args"]["value"], "operator:drhost-test-token");
    assert_eq!(create["outcome"]["ok"]["name"], name.as_str());
    let operator = one_call(&out, "secret.operator");
    assert_eq!(operator["args"]["name"], TOKEN);
    assert_eq!(operator["outcome"]["ok"]["origin"], "operator:drhost-test-token");

    // Listed (the grant's globs), refused a second time, removed once.
    let listed = poke(&config, &[("op", "list-secrets")]);
    let names = listed.fact("secrets").unwrap_or_default();
    assert!(names.split(',').any(|n| n == name), "{}", show(&listed));
    let again = poke(
        &config,
        &[("op", "operator"), ("then", "docker"), ("docker-name", &name)],
    );
    assert_eq!(refusal(&again).0, "conflict", "{}", show(&again));
    never_shown(&again, &[&value]);
    let removed = poke(&config, &[("op", "remove-secret"), ("docker-name", &name)]);
    assert_eq!(removed.fact("removed").as_deref(), Some("true"), "{}", show(&removed));
    assert!(inspect_secret(&name).is_none(), "the secret is gone");
    let removed = poke(&config, &[("op", "remove-secret"), ("docker-name", &name)]);
    assert_eq!(removed.fact("removed").as_deref(), Some("false"), "{}", show(&removed));
}

#[test]
fn docker_secrets_outside_the_globs_or_without_write_are_refused() {
    let _serial = serial();
    ensure_swarm();
    let value = unique("token");
    // A secret the grant does not cover, made directly: never listed, never removed.
    let other = unique("drhost-other");
    let _other = DockerSecret(other.clone());
    rt().block_on(async {
        let docker = lab().docker().await.unwrap();
        docker
            .create_secret(bollard::models::SecretSpec {
                name: Some(other.clone()),
                data: Some("b3RoZXI=".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    });
    let config = Config::new(&value, "", &docker_grant("[\"read\", \"write\"]"));

    let listed = poke(&config, &[("op", "list-secrets")]);
    assert_eq!(listed.fact("error"), None, "{}", show(&listed));
    assert!(
        !listed.fact("secrets").unwrap_or_default().contains(&other),
        "{}",
        show(&listed)
    );
    for name in [other.as_str(), "toolboxai-db"] {
        let out = poke(
            &config,
            &[("op", "operator"), ("then", "docker"), ("docker-name", name)],
        );
        let (kind, message) = refusal(&out);
        assert_eq!(kind, "access-denied", "{}", show(&out));
        assert!(
            message.contains(&format!("[[plugins.secret-poke.docker]]\nsecrets = [\"{name}\"]")),
            "{message}"
        );
        never_shown(&out, &[&value]);
        let out = poke(&config, &[("op", "remove-secret"), ("docker-name", name)]);
        assert_eq!(refusal(&out).0, "access-denied", "{}", show(&out));
    }
    assert!(inspect_secret(&other).is_some(), "the ungranted secret is still there");
    assert!(inspect_secret("toolboxai-db").is_none());

    // Names the engine would read differently are refused before any grant.
    for name in [
        "drhost-test-../x",
        "drhost-test-a b",
        "drhost-test-x\n",
        "-drhost-test-x",
    ] {
        let out = poke(
            &config,
            &[("op", "operator"), ("then", "docker"), ("docker-name", name)],
        );
        assert_eq!(refusal(&out).0, "invalid-argument", "{name:?}: {}", show(&out));
    }

    // Read only: list yes, create no.
    let read_only = Config::new(&value, "", &docker_grant("[\"read\"]"));
    let name = unique("drhost-test-ro");
    let _secret = DockerSecret(name.clone());
    let out = poke(
        &read_only,
        &[("op", "operator"), ("then", "docker"), ("docker-name", &name)],
    );
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{}", show(&out));
    assert!(message.contains("access = [\"read\", \"write\"]"), "{message}");
    assert!(inspect_secret(&name).is_none());
    // Too many labels.
    let labels = (0..65).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join(";");
    let out = poke(
        &config,
        &[
            ("op", "operator"),
            ("then", "docker"),
            ("docker-name", &name),
            ("labels", &labels),
        ],
    );
    assert_eq!(refusal(&out).0, "invalid-argument", "{}", show(&out));
    assert!(inspect_secret(&name).is_none());
}

#[test]
fn swarm_init_needs_its_own_grant_and_leaves_a_manager_as_it_is() {
    let _serial = serial();
    let lab = lab();
    let before = swarm_state(&lab);
    let config = Config::new(&unique("tok"), "", &docker_grant("[\"read\", \"write\"]"));
    let out = poke(&config, &[("op", "swarm-init")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{}", show(&out));
    assert!(
        message.contains("[[plugins.secret-poke.docker]]\nswarm = true"),
        "{message}"
    );
    assert_eq!(swarm_state(&lab).node_id, before.node_id, "nothing changed");
    // Secret globs let it see the swarm, not change it.
    let seen = poke(&config, &[("op", "swarm-inspect")]);
    assert_eq!(seen.fact("error"), None, "{}", show(&seen));
    let none = Config::new(&unique("tok"), "", "");
    let out = poke(&none, &[("op", "swarm-inspect")]);
    assert_eq!(refusal(&out).0, "access-denied", "{}", show(&out));

    let swarm = Config::new(&unique("tok"), "", SWARM_GRANT);
    // An address is an IP address, nothing else.
    for bad in ["0.0.0.0:2377 --force-new-cluster", "eth0"] {
        let out = poke(&swarm, &[("op", "swarm-init"), ("advertise", bad)]);
        assert_eq!(refusal(&out).0, "invalid-argument", "{}", show(&out));
    }
    let first = poke(&swarm, &[("op", "swarm-init")]);
    assert_eq!(first.json()["summary"], "manager", "{}", show(&first));
    let state = swarm_state(&lab);
    assert_eq!(state.control_available, Some(true), "the engine is a swarm manager");
    assert_eq!(first.fact("node-id"), state.node_id);
    assert_eq!(first.fact("managers").as_deref(), Some("1"));
    if before.control_available != Some(true) {
        // Initialised by this test: on loopback only.
        assert_eq!(state.node_addr.as_deref(), Some("127.0.0.1"), "{state:?}");
    }
    let second = poke(&swarm, &[("op", "swarm-init")]);
    assert_eq!(second.fact("cluster-id"), first.fact("cluster-id"), "left as it is");
    let inspected = poke(&swarm, &[("op", "swarm-inspect")]);
    assert_eq!(inspected.fact("cluster-id"), first.fact("cluster-id"));
    assert_eq!(one_call(&first, "docker.swarm-init")["outcome"]["ok"]["nodes"], 1);
}

// --- operator secrets ----------------------------------------------------------

#[test]
fn operator_secrets_are_granted_by_name_up_front_and_at_the_call() {
    let _serial = serial();
    let value = unique("token");
    let other_value = unique("other");
    let other_file = TmpDir::new("drhost-secrets-other-").into_file("other", &other_value);
    private(&other_file);

    // Not granted: refused before the plugin runs, with the TOML to add.
    let ungranted = Config::with_grant(&value, "", "");
    let out = Run::fixture("secret-poke").config(ungranted.path()).yes().exec();
    assert_eq!(out.code, 3, "{}", show(&out));
    assert!(
        out.stderr
            .contains("[[plugins.secret-poke.secret]]\nnames = [\"drhost-test-token\"]\naccess = [\"read\"]"),
        "{}",
        show(&out)
    );
    never_shown(&out, &[&value]);
    // Granted but not configured: the [secrets] line too.
    let unconfigured = cli_config(&format!("[[plugins.secret-poke.secret]]\nnames = [\"{TOKEN}\"]\n"));
    let out = Run::fixture("secret-poke").config(&unconfigured).yes().exec();
    assert_eq!(out.code, 3, "{}", show(&out));
    assert!(
        out.stderr.contains("[secrets]\ndrhost-test-token = \"env:VARIABLE\""),
        "{}",
        show(&out)
    );

    // At the call: a configured secret the plugin was not granted.
    let config = Config::new(
        &value,
        &format!("other-secret = \"file:{}\"\n", other_file.display()),
        "",
    );
    let out = poke(&config, &[("op", "operator"), ("name", "other-secret")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{}", show(&out));
    assert!(
        message.contains("[[plugins.secret-poke.secret]]\nnames = [\"other-secret\"]"),
        "{message}"
    );
    never_shown(&out, &[&value, &other_value]);
    // A granted name the operator did not configure.
    let config = Config::with_grant(
        &value,
        "",
        &format!("[[plugins.secret-poke.secret]]\nnames = [\"{TOKEN}\", \"missing\"]\n"),
    );
    let out = poke(&config, &[("op", "operator"), ("name", "missing")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "not-found", "{}", show(&out));
    assert!(message.contains("[secrets]\nmissing = \"env:VARIABLE\""), "{message}");
    let journal = out.journal();
    assert_eq!(
        calls(&journal, "secret.operator")[0]["outcome"]["error"]["kind"],
        "not-found"
    );
}

/// A drhost.toml holding exactly `text`.
fn cli_config(text: &str) -> TmpFile {
    drhost_tests::cli::config(text)
}

#[test]
fn revealing_an_operator_secret_needs_its_reveal_grant() {
    let _serial = serial();
    let value = unique("token");
    let config = Config::new(&value, "", "");
    let out = poke(&config, &[("op", "operator"), ("then", "origin,reveal")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{}", show(&out));
    assert!(message.contains("access = [\"read\", \"reveal\"]"), "{message}");
    never_shown(&out, &[&value]);
    let reveal = one_call(&out, "secret.reveal");
    assert_eq!(reveal["args"]["origin"], "operator:drhost-test-token");
    assert_eq!(reveal["outcome"]["error"]["kind"], "access-denied");

    // With `reveal`: the value, and the call is journaled without it.
    let revealing = Config::with_grant(
        &value,
        "",
        &format!("[[plugins.secret-poke.secret]]\nnames = [\"{TOKEN}\"]\naccess = [\"read\", \"reveal\"]\n"),
    );
    let out = poke(&revealing, &[("op", "operator"), ("then", "reveal")]);
    assert_eq!(out.fact("value").as_deref(), Some(value.as_str()), "{}", show(&out));
    let reveal = one_call(&out, "secret.reveal");
    assert!(!reveal.to_string().contains(&value), "{reveal}");
    assert_eq!(reveal["outcome"]["ok"]["revealed"], true);
}

// --- S3 ------------------------------------------------------------------------

/// `[targets.s3.main]`: the lab's bucket, credentials from the lab's files,
/// and `read` on [`S3_PREFIX`].
fn s3_config(lab: &Lab, token: &str) -> Config {
    let secrets = lab.path(".lab/secrets");
    let target = format!(
        "[targets.s3.main]\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{}\"\npath_style = true\naccess_key = \"file:{}\"\nsecret_key = \"file:{}\"\n\n[[plugins.secret-poke.s3]]\ntarget = \"main\"\nprefixes = [\"{S3_PREFIX}*\"]\naccess = [\"read\"]\n\n",
        lab.get("S3_ENDPOINT").unwrap(),
        lab.get("S3_REGION").unwrap(),
        lab.s3_bucket().unwrap(),
        secrets.join("s3-access-key").display(),
        secrets.join("s3-secret-key").display(),
    );
    Config::new(token, "", &target)
}

/// S3 objects a test wrote, deleted when dropped.
struct Objects(Vec<String>);

impl Drop for Objects {
    fn drop(&mut self) {
        let lab = lab();
        let client = lab.s3_client().unwrap();
        rt().block_on(async {
            for key in &self.0 {
                let _ = client
                    .delete_object()
                    .bucket(lab.s3_bucket().unwrap())
                    .key(key)
                    .send()
                    .await;
            }
        });
    }
}

fn put_object(lab: &Lab, key: &str, body: &[u8], sha256: Option<&str>) {
    let client = lab.s3_client().unwrap();
    let mut request = client
        .put_object()
        .bucket(lab.s3_bucket().unwrap())
        .key(key)
        .body(body.to_vec().into());
    if let Some(sha) = sha256 {
        request = request.metadata("sha256", sha);
    }
    rt().block_on(request.send()).unwrap();
}

#[test]
fn s3_get_secret_reads_a_checked_small_object_into_a_handle() {
    let _serial = serial();
    let lab = lab();
    let dir = format!("{S3_PREFIX}{}/", unique("run"));
    let (good, tampered, big, bare) = (
        format!("{dir}root-token"),
        format!("{dir}tampered"),
        format!("{dir}big"),
        format!("{dir}bare"),
    );
    let _objects = Objects(vec![good.clone(), tampered.clone(), big.clone(), bare.clone()]);
    let value = unique("s3-root-token");
    let sha = sha256_hex(value.as_bytes());
    put_object(&lab, &good, value.as_bytes(), Some(&sha));
    put_object(&lab, &tampered, value.as_bytes(), Some(&"0".repeat(64)));
    put_object(&lab, &big, &vec![b'k'; (64 << 10) + 1], None);
    put_object(&lab, &bare, value.as_bytes(), None);
    let config = s3_config(&lab, &unique("tok"));

    // Checked against the metadata, revealed with `read` on the key.
    let out = poke(&config, &[("op", "s3"), ("key", &good), ("then", "origin,reveal")]);
    assert_eq!(out.fact("error"), None, "{}", show(&out));
    assert_eq!(out.fact("origin"), Some(format!("s3:main/{good}")));
    assert_eq!(out.fact("value").as_deref(), Some(value.as_str()));
    let get = one_call(&out, "s3.get-secret");
    assert_eq!(get["outcome"]["ok"]["verified"], "metadata");
    assert!(
        !get.to_string().contains(&value) && !get.to_string().contains(&sha),
        "{get}"
    );

    // Without reveal, the value is nowhere.
    let out = poke(&config, &[("op", "s3"), ("key", &bare), ("sha256", &sha)]);
    assert_eq!(out.fact("error"), None, "{}", show(&out));
    never_shown(&out, &[&value]);
    assert_eq!(one_call(&out, "s3.get-secret")["outcome"]["ok"]["verified"], "expected");

    // A wrong checksum (metadata or expected) is a conflict that says nothing of the value.
    for params in [
        vec![("op", "s3"), ("key", tampered.as_str())],
        vec![("op", "s3"), ("key", good.as_str()), ("sha256", &"1".repeat(64))],
    ] {
        let out = poke(&config, &params);
        let (kind, message) = refusal(&out);
        assert_eq!(kind, "conflict", "{}", show(&out));
        assert!(message.contains("SHA-256 mismatch"), "{message}");
        never_shown(&out, &[&value, &sha]);
    }
    // Over 64 KiB: invalid-argument, nothing read.
    let out = poke(&config, &[("op", "s3"), ("key", &big)]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "invalid-argument", "{}", show(&out));
    assert!(message.contains("64 KiB"), "{message}");
    // Outside the grant, or not a plain key.
    for key in ["supabase/backup_latest.dump", &format!("{dir}../../supabase/x")] {
        let out = poke(&config, &[("op", "s3"), ("key", key)]);
        assert_eq!(refusal(&out).0, "access-denied", "{key}: {}", show(&out));
    }
}

// --- Vault seal ------------------------------------------------------------------

/// An OpenBao server of the test's own (file storage in a temp dir, a free
/// loopback port), initialised with 3 key shares, threshold 2, and sealed;
/// killed when dropped. The lab's servers cannot be used: one is in dev
/// mode, the other shared.
struct OwnBao {
    child: std::process::Child,
    address: String,
    dir: TmpDir,
    /// `bao operator init -format=json`, as OpenBao prints it.
    init: Value,
}

impl OwnBao {
    fn start(lab: &Lab) -> OwnBao {
        let dir = TmpDir::new("drhost-own-bao-");
        let free_port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port()
        };
        let (port, cluster_port) = (free_port(), free_port());
        let address = format!("http://127.0.0.1:{port}");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        // Raft, as the lab's raft server (OpenBao has no file storage).
        let config = dir.write(
            "config.hcl",
            format!(
                "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"drhost-test\"\n  performance_multiplier = 1\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster_port}\"\n  tls_disable = true\n}}\napi_addr = \"{address}\"\ncluster_addr = \"http://127.0.0.1:{cluster_port}\"\nui = false\n",
                data.display()
            ),
        );
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(bao(lab))
            .arg("server")
            .arg(format!("-config={}", config.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("bao server starts");
        let mut bao_server = OwnBao {
            child,
            address,
            dir,
            init: Value::Null,
        };
        let started = Instant::now();
        while bao_server.seal_status().is_none() {
            let exited = bao_server.child.try_wait().unwrap();
            assert!(
                exited.is_none(),
                "own OpenBao exited ({exited:?}): {}",
                std::fs::read_to_string(bao_server.dir.path().join("server.log")).unwrap_or_default()
            );
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "own OpenBao did not answer in 30 s: {}",
                std::fs::read_to_string(bao_server.dir.path().join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let init = Command::new(bao(lab))
            .args(["operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"])
            .env("BAO_ADDR", &bao_server.address)
            .env("VAULT_ADDR", &bao_server.address)
            .output()
            .unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        bao_server.init = serde_json::from_slice(&init.stdout).unwrap();
        bao_server
    }

    /// `GET sys/seal-status`, read directly.
    fn seal_status(&self) -> Option<Value> {
        let url = format!("{}/v1/sys/seal-status", self.address);
        rt().block_on(async { lab().http().get(&url).send().await.ok()?.json().await.ok() })
    }

    fn sealed(&self) -> bool {
        self.seal_status().unwrap()["sealed"] == true
    }

    fn root_token(&self) -> String {
        self.init["root_token"].as_str().unwrap().to_string()
    }

    /// The unseal keys, base64, as `init` printed them.
    fn keys(&self) -> Vec<String> {
        serde_json::from_value(self.init["unseal_keys_b64"].clone()).unwrap()
    }

    /// Every form of every key, to check none leaks.
    fn every_key(&self) -> Vec<String> {
        let hex: Vec<String> = serde_json::from_value(self.init["unseal_keys_hex"].clone()).unwrap();
        self.keys().into_iter().chain(hex).collect()
    }

    /// Seals it again (`PUT sys/seal` with the root token), once it is
    /// active (raft elects itself leader shortly after an unseal).
    fn seal(&self) {
        let health = format!("{}/v1/sys/health", self.address);
        let started = Instant::now();
        while rt()
            .block_on(async { lab().http().get(&health).send().await.map(|r| r.status().as_u16()) })
            .ok()
            != Some(200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "own OpenBao not active in 30 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let url = format!("{}/v1/sys/seal", self.address);
        let status = rt().block_on(async {
            lab()
                .http()
                .put(&url)
                .header("X-Vault-Token", self.root_token())
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(status.is_success(), "sys/seal: {status}");
        assert!(self.sealed());
    }

    /// A 0600 file in the server's directory.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.write(name, text);
        private(&path);
        path
    }

    /// A drhost.toml with target `own` (token, `unseal_keys` when given)
    /// and `grant`.
    fn config(&self, keys: Option<&Path>, grant: &str) -> Config {
        let token = self.file("root-token", &self.root_token());
        let keys = keys.map_or(String::new(), |k| format!("unseal_keys = \"file:{}\"\n", k.display()));
        Config::new(
            &unique("tok"),
            "",
            &format!(
                "[targets.vault.own]\naddress = \"{}\"\ntoken = \"file:{}\"\n{keys}\n{grant}",
                self.address,
                token.display()
            ),
        )
    }
}

impl Drop for OwnBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The OpenBao the lab uses (`.lab/venv/bin/bao`).
fn bao(lab: &Lab) -> PathBuf {
    lab.path(".lab/venv/bin/bao")
}

const UNSEAL_GRANT: &str = "[[plugins.secret-poke.vault]]\ntarget = \"own\"\naccess = [\"unseal\"]\n";

#[test]
fn unseal_submits_the_operators_keys_until_unsealed_and_never_shows_them() {
    let lab = lab();
    let own = OwnBao::start(&lab);
    let init_json = own.file("init.json", &own.init.to_string());
    let config = own.config(Some(&init_json), UNSEAL_GRANT);
    let keys = own.every_key();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();

    // Sealed, and `seal-status` (any grant on the target) says so.
    let out = poke(&config, &[("op", "seal-status"), ("target", "own")]);
    assert_eq!(out.fact("error"), None, "{}", show(&out));
    let facts: Vec<_> = ["initialized", "sealed", "progress", "threshold"]
        .iter()
        .map(|f| out.fact(f).unwrap_or_default())
        .collect();
    assert_eq!(facts, ["true", "true", "0", "2"], "{}", show(&out));

    // Unsealed with OpenBao's own init output, stopping at the threshold.
    let out = poke(&config, &[("op", "unseal"), ("target", "own")]);
    assert_eq!(out.fact("error"), None, "{}", show(&out));
    assert_eq!(out.fact("sealed").as_deref(), Some("false"), "{}", show(&out));
    assert!(!own.sealed(), "the server is unsealed");
    never_shown(&out, &keys);
    let unseal = one_call(&out, "vault.unseal");
    assert_eq!(unseal["outcome"]["ok"]["sealed"], false);
    // An unsealed server is left as it is.
    let out = poke(&config, &[("op", "unseal"), ("target", "own")]);
    assert_eq!(out.fact("sealed").as_deref(), Some("false"), "{}", show(&out));

    // One key per line; one key short of the threshold: still sealed, says how far.
    own.seal();
    let one_key = own.file("one-key", &format!("# drhost test\n{}\n", own.keys()[0]));
    let short = own.config(Some(&one_key), UNSEAL_GRANT);
    let out = poke(&short, &[("op", "unseal"), ("target", "own")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "failed", "{}", show(&out));
    assert!(
        message.contains("still sealed after all 1 key(s)") && message.contains("1 of 2"),
        "{message}"
    );
    never_shown(&out, &keys);
    assert_eq!(own.seal_status().unwrap()["progress"], 1);
    // The rest from a full file: the half-done unseal is reset, then unsealed.
    let out = poke(&config, &[("op", "unseal"), ("target", "own")]);
    assert_eq!(out.fact("sealed").as_deref(), Some("false"), "{}", show(&out));
    assert!(!own.sealed());
}

#[test]
fn unseal_with_a_wrong_key_fails_without_the_key_and_needs_its_grant() {
    let lab = lab();
    let own = OwnBao::start(&lab);
    let good = own.keys();
    // A share of the right form that is not one: the second key, changed.
    let hex: Vec<String> = serde_json::from_value(own.init["unseal_keys_hex"].clone()).unwrap();
    let wrong = format!("{}{}", if hex[1].starts_with('0') { "1" } else { "0" }, &hex[1][1..]);
    let wrong_file = own.file("wrong-keys", &format!("{}\n{wrong}\n", good[0]));
    let config = own.config(Some(&wrong_file), UNSEAL_GRANT);
    let mut keys = own.every_key();
    keys.push(wrong.clone());
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();

    let out = poke(&config, &[("op", "unseal"), ("target", "own")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "failed", "{}", show(&out));
    assert!(message.contains("key 2 of 2"), "{message}");
    never_shown(&out, &keys);
    assert!(own.sealed(), "still sealed");

    // A file that is neither keys nor init output.
    let garbage = own.file("garbage", "{\"root_token\": \"s.secret-looking\"}");
    let out = poke(
        &own.config(Some(&garbage), UNSEAL_GRANT),
        &[("op", "unseal"), ("target", "own")],
    );
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "invalid-argument", "{}", show(&out));
    assert!(!message.contains("s.secret-looking"), "{message}");

    // Without the grant: refused with the TOML, nothing sent.
    let init_json = own.file("init.json", &own.init.to_string());
    let read_only = own.config(
        Some(&init_json),
        "[[plugins.secret-poke.vault]]\ntarget = \"own\"\npaths = [\"secret/*\"]\naccess = [\"read\"]\n",
    );
    let out = poke(&read_only, &[("op", "unseal"), ("target", "own")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{}", show(&out));
    assert!(
        message.contains("[[plugins.secret-poke.vault]]\ntarget = \"own\"\naccess = [\"unseal\"]"),
        "{message}"
    );
    assert!(own.sealed());
    assert_eq!(own.seal_status().unwrap()["progress"], 0);
    never_shown(&out, &keys);
    // A target without unseal keys: which line to add.
    let out = poke(&own.config(None, UNSEAL_GRANT), &[("op", "unseal"), ("target", "own")]);
    let (kind, message) = refusal(&out);
    assert_eq!(kind, "not-found", "{}", show(&out));
    assert!(message.contains("unseal_keys = \"file:"), "{message}");
    assert!(own.sealed());
}
