//! Runbook scenario 3, complete infrastructure loss, on the lab: each test
//! owns a scenario-3 stack (`drhost_tests::phase2`: Vault with raft
//! storage, three backends and the proxy from
//! `lab/stack/phase2/docker-compose.phase2.yml`, under its own project
//! name), backs it up with `infra-backup`, destroys it (`complete_loss`:
//! down with volumes, certificates deleted, the Docker secret removed) and
//! recovers it with `infra-restore`. The tests assert what the real
//! services hold afterwards, the journal and the exit code.
//!
//! The Docker secret `vault_token` lives in the lab engine's one swarm, so
//! every test that creates or removes it holds the lab lock.

use drhost_tests::cli::{calls, succeeded, Outcome, Run};
use drhost_tests::lab::serial;
use drhost_tests::phase2::{assert_no_secret, timed_phases, Phase2, DOCKER_SECRET};
use drhost_tests::util::unique;

#[test]
fn recovers_from_complete_loss_and_a_rerun_changes_nothing() {
    let _lab = serial();
    let value = unique("postgresql://app:s3cr3t");
    let stack = Phase2::backed_up(&value);
    let before = stack.certificate_files();
    let (token, key) = (stack.root_token(), stack.unseal_key());

    stack.complete_loss();
    assert!(stack.containers().is_empty(), "the loss left containers");
    assert!(!stack.certificates().exists(), "the loss left the certificates");
    assert!(
        !stack.docker_secret_exists(DOCKER_SECRET),
        "the loss left the Docker secret"
    );

    let out = stack.drhost("infra-restore").exec();
    assert_eq!(out.code, 0, "infra-restore: {}\n{}", out.stdout, out.stderr);
    // Every check of the runbook's step 7 holds, seen from the test.
    let recovered = stack.assert_recovered(&value, &before);
    // What the run says it did, and how long each phase took.
    let journal = out.journal();
    assert_eq!(succeeded(&journal, "files.write"), 3);
    assert_eq!(succeeded(&journal, "docker.create-secret"), 1);
    assert_eq!(succeeded(&journal, "vault.snapshot-restore"), 1);
    assert_eq!(out.fact("vault-restored").as_deref(), Some("true"));
    let total = timed_phases(&out, "infra-restore after complete loss");
    assert!(total < 60_000, "recovered within the lab's 60 s target: {total} ms");
    assert_no_secret(&out, &[&value, &token, &key]);

    // A rerun after success changes nothing.
    stack.assert_rerun_changes_nothing(&recovered, &[&value, &token, &key]);
}

#[test]
fn a_corrupted_or_missing_backup_stops_before_anything_changes() {
    let _lab = serial();
    let stack = Phase2::backed_up(&unique("value"));
    stack.complete_loss();
    let lab = &stack.lab;
    let key = format!("{}vault/vault-snapshot.snap", stack.s3_prefix());
    let bucket = lab.s3_bucket().unwrap().to_string();
    // Other bytes under the old checksum: what a corrupted upload looks like.
    drhost_tests::lab::runtime().block_on(async {
        let s3 = lab.s3_client().unwrap();
        let head = s3.head_object().bucket(&bucket).key(&key).send().await.unwrap();
        let sha = head.metadata().unwrap()["sha256"].clone();
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .metadata("sha256", sha)
            .body(b"not the snapshot".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    let nothing_changed = |out: &Outcome| {
        assert!(stack.containers().is_empty(), "containers were created");
        assert!(!stack.certificates().exists(), "certificates were written");
        assert!(
            !stack.docker_secret_exists(DOCKER_SECRET),
            "the Docker secret was created"
        );
        let journal = out.journal();
        for call in [
            "files.write",
            "docker.create-secret",
            "compose.up",
            "vault.snapshot-restore",
            "confirm.ask",
        ] {
            assert_eq!(
                calls(&journal, call).len(),
                0,
                "{call} ran before the backups were verified"
            );
        }
    };

    let out = Run::plugin("infra-restore")
        .config_toml(&stack.config_toml(&[]))
        .yes()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    // One line says what stopped the run, naming the object.
    let line = out.stdout.lines().next().unwrap_or_default();
    assert!(
        line.contains(&key) && line.contains("SHA-256 mismatch") && line.contains("nothing was changed"),
        "{}",
        out.stdout
    );
    nothing_changed(&out);

    // The snapshot gone altogether: the same, naming the missing key.
    drhost_tests::lab::runtime().block_on(async {
        lab.s3_client()
            .unwrap()
            .delete_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
    });
    let out = Run::plugin("infra-restore")
        .config_toml(&stack.config_toml(&[]))
        .yes()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let line = out.stdout.lines().next().unwrap_or_default();
    assert!(
        line.contains("no Vault snapshot backup") && line.contains(&key),
        "{}",
        out.stdout
    );
    nothing_changed(&out);
}

#[test]
fn missing_grants_are_refused_up_front_with_the_toml() {
    // Nothing runs: no stack, no lab lock.
    let stack = Phase2::create();
    for (without, wanted) in [
        (
            "compose-up",
            "[[plugins.infra-restore.compose]]\ntarget = \"phase2\"\naccess = [\"up\"]",
        ),
        ("files", "[[plugins.infra-restore.files]]\ntarget = \"infrastructure\""),
        (
            "secret",
            "[[plugins.infra-restore.secret]]\nnames = [\"vault-root-token\"]",
        ),
        (
            "docker-secret",
            "[[plugins.infra-restore.docker]]\nsecrets = [\"vault_token\"]",
        ),
        ("swarm", "[[plugins.infra-restore.docker]]\nswarm = true"),
    ] {
        let out = Run::plugin("infra-restore")
            .config_toml(&stack.config_toml(&[without]))
            .yes()
            .quiet()
            .exec();
        assert_eq!(out.code, 3, "without {without}: {}", out.stderr);
        assert!(
            out.stderr.contains(wanted),
            "without {without}, the refusal names the TOML:\n{}",
            out.stderr
        );
        assert!(out.journal_path().is_none() || calls(&out.journal(), "compose.up").is_empty());
    }
}

#[test]
fn the_openssl_grant_reads_only_inside_the_certificates_directory() {
    // infra-restore's own openssl grant, given to the shell-running
    // fixture: what it allows prints public keys and dates; anything that
    // would print a private key, or read outside the directory, is refused.
    let stack = Phase2::create();
    let certs = stack.certificates().display().to_string();
    let grants: String = stack
        .restore_grants(&[])
        .split("\n\n")
        .filter(|t| t.contains(".shell]]"))
        .map(|t| t.replace("plugins.infra-restore.", "plugins.misbehave.") + "\n\n")
        .collect();
    let openssl = |args: &str| {
        Run::fixture("misbehave")
            .config_toml(&grants)
            .json()
            .quiet()
            .params(&[("mode", "shell"), ("program", "openssl"), ("args", args)])
            .exec()
    };
    let allowed = openssl(&format!("pkey|-in|{certs}/server.key|-pubout"));
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let printed = allowed.fact("stdout").unwrap();
    assert!(
        printed.contains("BEGIN PUBLIC KEY") && !printed.contains("PRIVATE"),
        "{printed}"
    );
    let dir = stack.dir().display().to_string();
    for hostile in [
        format!("pkey|-in|{certs}/server.key"),                 // prints the private key
        format!("pkey|-in|{certs}/server.key|-pubout|-text"),   // and with -text, its numbers
        format!("pkey|-in|{certs}/../unseal-keys.key|-pubout"), // through ..
        format!("x509|-in|{dir}/root-token|-noout|-pubkey"),    // outside the directory
        format!("x509|-in|{certs}/server.crt|-noout|-pubkey|-out|{certs}/ca.crt"), // writes
        "pkey|-in|/etc/ssl/private/ssl-cert-snakeoil.key|-pubout".to_string(),
        format!("req|-in|{certs}/server.crt|-noout"), // another subcommand
    ] {
        let out = openssl(&hostile);
        assert_eq!(out.code, 1, "`openssl {hostile}` ran: {}", out.stdout);
        let said = out.json().to_string();
        assert!(
            said.contains("shell refused: access-denied"),
            "`openssl {hostile}`: {said}"
        );
    }
}

#[test]
fn the_files_grant_reaches_only_the_certificates() {
    // infra-restore's files grant on the `infrastructure` directory (which
    // also holds Vault's root token, its unseal keys and the .env), given to
    // the files fixture: it reaches certificates/**, and nothing beside it.
    let stack = Phase2::create();
    std::fs::write(stack.dir().join("root-token"), "not-a-real-token").unwrap();
    let grants: String = stack
        .restore_grants(&[])
        .split("\n\n")
        .filter(|t| t.contains(".files]]"))
        .map(|t| t.replace("plugins.infra-restore.", "plugins.files-poke.") + "\n\n")
        .collect();
    // The fixture asks for the label `certs`: the same directory and globs under it.
    let config = format!("{}\n{grants}", stack.targets_toml())
        .replace("files.infrastructure]", "files.certs]")
        .replace("target = \"infrastructure\"", "target = \"certs\"");
    let poke = |op: &str, path: &str| {
        Run::fixture("files-poke")
            .config_toml(&config)
            .json()
            .quiet()
            .params(&[("target", "certs"), ("op", op), ("path", path), ("content", "hostile")])
            .exec()
    };
    let allowed = poke("write", "certificates/new.crt");
    assert_eq!(
        (allowed.code, allowed.fact("error-kind")),
        (0, None),
        "{}{}",
        allowed.stdout,
        allowed.stderr
    );
    assert_eq!(
        std::fs::read_to_string(stack.certificates().join("new.crt")).unwrap(),
        "hostile"
    );
    for (op, path) in [
        ("read", "root-token"),
        ("read", "certificates/../root-token"),
        ("write", "root-token"),
        ("write", ".env"),
        ("write", "certificates/../.env"),
        ("write", "../escape.crt"),
        ("remove", "unseal-keys.json"),
    ] {
        let out = poke(op, path);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let kind = out.fact("error-kind");
        assert!(
            matches!(kind.as_deref(), Some("access-denied") | Some("invalid-argument")),
            "files {op} {path} was not refused: {}",
            out.stdout
        );
    }
    assert_eq!(
        std::fs::read_to_string(stack.dir().join("root-token")).unwrap(),
        "not-a-real-token"
    );
    assert!(!stack.dir().join("../escape.crt").exists());
    assert!(std::fs::read_to_string(stack.dir().join(".env"))
        .unwrap()
        .contains("PHASE2_VAULT_PORT"));
}

#[test]
fn vault_refusing_the_unseal_keys_stops_the_run_before_the_services_start() {
    let _lab = serial();
    let stack = Phase2::backed_up(&unique("value"));
    // Everything but Vault stopped, Vault restarted (so sealed), and the
    // operator's unseal keys replaced by a key of another server.
    let out = stack.compose(&["stop", "-t", "1", "nginx-proxy", "backend1", "backend2", "backend3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = stack.compose(&["restart", "-t", "1", "vault"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let real_key = stack.unseal_key();
    let wrong = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
    std::fs::write(stack.dir().join("unseal-keys.json"), format!("{wrong}\n")).unwrap();
    let stopped = stack.containers();

    let out = Run::plugin("infra-restore")
        .config_toml(&stack.config_toml(&[]))
        .yes()
        .quiet()
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let line = out.stdout.lines().next().unwrap_or_default();
    assert!(line.contains("unseal") && line.contains("key 1 of 1"), "{}", out.stdout);
    assert!(
        !out.stdout.contains(wrong) && !out.journal_text().contains(wrong),
        "the key is not shown"
    );
    assert!(!out.journal_text().contains(&real_key));
    let now = stack.containers();
    for service in ["nginx-proxy", "backend1", "backend2", "backend3"] {
        assert_ne!(now[service].state, "running", "{service} was started");
        assert_eq!(
            now[service].started_at, stopped[service].started_at,
            "{service} was started"
        );
    }
    assert_eq!(calls(&out.journal(), "compose.up").len(), 1, "only Vault's up ran");
    let (_, status) = stack.vault("GET", "sys/seal-status", None, None);
    assert_eq!(status["sealed"], true);
    stack.remove_docker_secret(DOCKER_SECRET);
}
