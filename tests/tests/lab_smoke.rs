//! Lab smoke tests: one test per service of `make lab`, each asserting real
//! state in the real server with the same clients the host uses. They fail
//! (never skip) when the lab is not up.
//!
//! Run: `cargo test --release -p drhost-tests --test lab_smoke`.

use std::collections::HashMap;

use anyhow::{ensure, Context, Result};
use drhost_tests::compose::lab_stack_compose;
use drhost_tests::lab::{serial, Lab};

#[tokio::test]
async fn postgres_has_the_seeded_users() -> Result<()> {
    let lab = Lab::load()?;
    let seeded: i64 = lab.get("PG_SEED_USERS")?.parse()?;
    let pg = lab.pg_client().await?;
    let row = pg.query_one("SELECT count(*) FROM users", &[]).await?;
    let count: i64 = row.get(0);
    assert_eq!(count, seeded, "users in {}", lab.pg_url()?);
    Ok(())
}

#[tokio::test]
async fn postgres_tcp_login_needs_the_password() -> Result<()> {
    let lab = Lab::load()?;
    let db = lab.get("PG_DATABASE")?;

    // No password: the server asks for one (scram-sha-256), so the client
    // cannot log in.
    let mut anonymous = tokio_postgres::Config::new();
    anonymous
        .host(lab.get("PG_HOST")?)
        .port(lab.port("PG_PORT")?)
        .user(lab.get("PG_USER")?)
        .dbname(db);
    let refused = anonymous.connect(tokio_postgres::NoTls).await;
    let err = anyhow::Error::new(refused.err().context("a TCP login without a password was accepted")?);
    ensure!(
        format!("{err:#}").contains("password missing"),
        "unexpected refusal: {err:#}"
    );

    // A wrong password: the server says so (28P01 invalid_password).
    let mut wrong = lab.pg_config_for(db)?;
    wrong.password("not-the-lab-password");
    let err = wrong
        .connect(tokio_postgres::NoTls)
        .await
        .err()
        .context("a TCP login with a wrong password was accepted")?;
    assert_eq!(
        err.as_db_error().map(|e| e.code().clone()),
        Some(tokio_postgres::error::SqlState::INVALID_PASSWORD),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn postgres_tls_login_with_the_password_verifies_the_lab_ca() -> Result<()> {
    let lab = Lab::load()?;
    let ca = lab.pg_ca_file()?;
    ensure!(ca.is_file(), "PG_CA_FILE {} is missing", ca.display());
    // libpq's psql: sslmode=verify-full checks the chain against the lab CA
    // and that the certificate names 127.0.0.1.
    let conninfo = format!(
        "host={} port={} user={} dbname={} sslmode=verify-full sslrootcert={}",
        lab.get("PG_HOST")?,
        lab.port("PG_PORT")?,
        lab.get("PG_USER")?,
        lab.get("PG_DATABASE")?,
        ca.display()
    );
    let out = tokio::process::Command::new("psql")
        .args(["-X", "-tA", "-F", ",", &conninfo, "-c"])
        .arg("SELECT ssl, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .env("PGPASSWORD", lab.pg_password()?)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .await
        .context("running psql")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "psql ({conninfo}) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), format!("t,{}", lab.get("PG_USER")?), "ssl, current_user");
    Ok(())
}

#[tokio::test]
async fn redis_master_replicates_to_its_replica() -> Result<()> {
    let lab = Lab::load()?;
    let (_, master_port) = lab.redis_master_addr().await?;
    let mut master = lab.redis_master().await?;
    let info: String = redis::cmd("INFO").arg("replication").query_async(&mut master).await?;
    assert!(info.contains("role:master"), "master {master_port}: {info}");
    assert!(info.contains("connected_slaves:1"), "master {master_port}: {info}");

    // The replica is whichever of the two data nodes is not the master.
    let replica_port = [lab.port("REDIS_MASTER_PORT")?, lab.port("REDIS_REPLICA_PORT")?]
        .into_iter()
        .find(|p| *p != master_port)
        .context("no replica port")?;
    let key = format!("lab-smoke:{}", std::process::id());
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("replicated")
        .arg("EX")
        .arg(60)
        .query_async(&mut master)
        .await?;
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(2000).query_async(&mut master).await?;
    assert_eq!(acked, 1, "replica acknowledged the write");
    let mut replica = lab.redis_at(replica_port).await?;
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut replica).await?;
    assert_eq!(
        role.first(),
        Some(&redis::Value::BulkString(b"slave".to_vec())),
        "ROLE of {replica_port}"
    );
    let value: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut replica).await?;
    assert_eq!(value.as_deref(), Some("replicated"));
    Ok(())
}

#[tokio::test]
async fn sentinels_agree_and_see_each_other() -> Result<()> {
    let lab = Lab::load()?;
    let name = lab.redis_master_name()?;
    let ports = lab.sentinel_ports()?;
    assert_eq!(ports.len(), 3);
    let mut masters = Vec::new();
    for port in ports {
        let mut sentinel = lab.redis_at(port).await?;
        let addr: (String, u16) = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(name)
            .query_async(&mut sentinel)
            .await
            .with_context(|| format!("sentinel {port}"))?;
        let master: HashMap<String, String> = redis::cmd("SENTINEL")
            .arg("master")
            .arg(name)
            .query_async(&mut sentinel)
            .await?;
        assert_eq!(
            master.get("num-other-sentinels").map(String::as_str),
            Some("2"),
            "sentinel {port}: {master:?}"
        );
        masters.push(addr);
    }
    assert!(
        masters.iter().all(|m| *m == masters[0]),
        "sentinels disagree: {masters:?}"
    );
    assert_eq!(masters[0].0, "127.0.0.1");
    Ok(())
}

#[tokio::test]
async fn s3_holds_the_custom_format_backup() -> Result<()> {
    let lab = Lab::load()?;
    let s3 = lab.s3_client()?;
    let bucket = lab.s3_bucket()?;
    let listed = s3.list_objects_v2().bucket(bucket).prefix("supabase/").send().await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(
        keys.contains(&"supabase/backup_latest.dump"),
        "keys under supabase/: {keys:?}"
    );
    let object = s3
        .get_object()
        .bucket(bucket)
        .key("supabase/backup_latest.dump")
        .send()
        .await?;
    let bytes = object.body.collect().await?.into_bytes();
    assert!(
        bytes.starts_with(b"PGDMP"),
        "not a pg_dump custom-format file: {:?}",
        &bytes[..bytes.len().min(8)]
    );
    Ok(())
}

#[tokio::test]
async fn vault_serves_the_supabase_secret() -> Result<()> {
    let lab = Lab::load()?;
    let vault = lab.vault_client()?;
    let secret: HashMap<String, String> = vaultrs::kv2::read(&vault, "secret", "toolboxai/supabase").await?;
    let url = secret.get("database_url").context("no database_url")?;
    assert!(
        url.starts_with("postgresql://postgres:") && url.contains('@'),
        "database_url {url}"
    );
    assert!(secret.contains_key("url"));
    Ok(())
}

#[tokio::test]
async fn both_vaults_hold_the_postgres_password() -> Result<()> {
    let lab = Lab::load()?;
    let password = lab.pg_password()?;
    let expected_url = format!(
        "postgresql://{}:{password}@{}:{}/{}",
        lab.get("PG_USER")?,
        lab.get("PG_HOST")?,
        lab.port("PG_PORT")?,
        lab.get("PG_DATABASE")?
    );
    for (name, vault) in [("dev", lab.vault_client()?), ("raft", lab.vault_raft_client()?)] {
        let pg: HashMap<String, String> = vaultrs::kv2::read(&vault, "secret", "toolboxai/postgres")
            .await
            .with_context(|| format!("{name}: secret/toolboxai/postgres"))?;
        assert_eq!(pg.get("username").map(String::as_str), Some("postgres"), "{name}");
        // Compared, never printed.
        ensure!(
            pg.get("password") == Some(&password),
            "{name}: secret/toolboxai/postgres has another password"
        );
        let supabase: HashMap<String, String> = vaultrs::kv2::read(&vault, "secret", "toolboxai/supabase").await?;
        ensure!(
            supabase.get("database_url") == Some(&expected_url),
            "{name}: secret/toolboxai/supabase database_url does not carry the lab's password"
        );
    }
    Ok(())
}

#[tokio::test]
async fn vault_raft_is_initialized_unsealed_and_active() -> Result<()> {
    let lab = Lab::load()?;
    let health = lab.vault_health(lab.get("VAULT_RAFT_ADDR")?).await?;
    assert_eq!(health["initialized"], true, "{health}");
    assert_eq!(health["sealed"], false, "{health}");
    assert_eq!(health["standby"], false, "{health}");
    let raft = lab.vault_raft_client()?;
    let secret: HashMap<String, String> = vaultrs::kv2::read(&raft, "secret", "toolboxai/supabase").await?;
    assert!(secret.contains_key("database_url"));
    Ok(())
}

#[tokio::test]
async fn docker_runs_the_toolboxai_stack() -> Result<()> {
    let lab = Lab::load()?;
    let docker = lab.docker().await?;
    let expected = [
        ("toolboxai-backend1", "backend1"),
        ("toolboxai-backend2", "backend2"),
        ("toolboxai-backend3", "backend3"),
        ("toolboxai-nginx-proxy", "nginx-proxy"),
    ];
    for (name, service) in expected {
        let c = docker
            .inspect_container(name, None::<bollard::query_parameters::InspectContainerOptions>)
            .await
            .with_context(|| format!("container {name}"))?;
        let running = c.state.as_ref().and_then(|s| s.running);
        assert_eq!(running, Some(true), "{name} is not running");
        let labels = c.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
        assert_eq!(
            labels.get("com.docker.compose.project").map(String::as_str),
            Some("toolboxai"),
            "{name}"
        );
        assert_eq!(
            labels.get("com.docker.compose.service").map(String::as_str),
            Some(service),
            "{name}"
        );
    }
    for (net, role) in [("toolboxai_backend", "backend"), ("toolboxai_cache", "cache")] {
        let n = docker
            .inspect_network(net, None::<bollard::query_parameters::InspectNetworkOptions>)
            .await
            .with_context(|| format!("network {net}"))?;
        let labels = n.labels.unwrap_or_default();
        assert_eq!(
            labels.get("com.docker.compose.network").map(String::as_str),
            Some(role),
            "{net}"
        );
    }
    Ok(())
}

/// The main stack is a real compose project: `docker-compose ps` over
/// `lab/stack/docker-compose.yml` (project `toolboxai`, the `.env` in
/// `COMPOSE_PROJECT_DIR`) lists its four services running, and each of the
/// lab's containers is the one compose knows for its service and carries
/// the config hash compose computes from the file and `.env` now — so an
/// `up` (make lab's, or drhost's compose target's) recreates nothing.
#[test]
fn the_main_stack_is_the_compose_project_of_its_file() -> Result<()> {
    let _serial = serial();
    let lab = Lab::load()?;
    let services = ["backend1", "backend2", "backend3", "nginx-proxy"];
    let text = |out: std::process::Output| -> Result<String> {
        ensure!(
            out.status.success(),
            "docker-compose: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    };

    let running = text(lab_stack_compose(
        &lab,
        &["ps", "--services", "--filter", "status=running"],
    ))?;
    let mut running: Vec<&str> = running.lines().collect();
    running.sort_unstable();
    assert_eq!(running, services, "services compose lists as running");

    // service -> the hash compose computes now.
    let hashes = text(lab_stack_compose(&lab, &["config", "--hash=*"]))?;
    let hashes: HashMap<&str, &str> = hashes.lines().filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(hashes.len(), 4, "{hashes:?}");

    let ids = text(lab_stack_compose(&lab, &["ps", "-q"]))?;
    let mut ids: Vec<&str> = ids.lines().collect();
    ids.sort_unstable();
    let rt = drhost_tests::lab::runtime();
    let docker = rt.block_on(lab.docker())?;
    let mut named = Vec::new();
    for service in services {
        let name = if service == "nginx-proxy" {
            lab.get("NGINX_CONTAINER")?.to_string()
        } else {
            format!("toolboxai-{service}")
        };
        let c = rt
            .block_on(docker.inspect_container(&name, None::<bollard::query_parameters::InspectContainerOptions>))
            .with_context(|| format!("container {name}"))?;
        named.push(c.id.clone().unwrap_or_default());
        let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
        let label = |key: &str| labels.get(key).map(String::as_str);
        assert_eq!(label("com.docker.compose.service"), Some(service), "{name}");
        assert_eq!(label("com.docker.compose.project"), Some("toolboxai"), "{name}");
        assert_eq!(label("drhost.lab"), Some("1"), "{name}");
        assert_eq!(
            label("com.docker.compose.config-hash"),
            Some(hashes[service]),
            "{name}: made from another config than lab/stack/docker-compose.yml with .lab/compose/.env"
        );
        ensure!(
            label("com.docker.compose.project.config_files")
                .is_some_and(|f| f.ends_with("lab/stack/docker-compose.yml")),
            "{name}: config_files {:?}",
            label("com.docker.compose.project.config_files")
        );
    }
    named.sort_unstable();
    assert_eq!(ids, named, "the containers compose knows are the lab's");
    Ok(())
}

#[tokio::test]
async fn backends_and_proxy_report_healthy() -> Result<()> {
    let lab = Lab::load()?;
    let http = lab.http();
    for (i, url) in lab.backend_urls()?.iter().enumerate() {
        let reply = http.get(format!("{url}/health")).send().await?;
        let status = reply.status();
        let body: serde_json::Value = reply.json().await?;
        assert_eq!(status, 200, "backend{} /health: {body}", i + 1);
        assert_eq!(body["postgres"]["ok"], true, "{body}");
        assert_eq!(body["redis"]["ok"], true, "{body}");
        assert_eq!(body["service"], format!("backend{}", i + 1));
    }
    let reply = http.get(format!("{}/health", lab.nginx_url()?)).send().await?;
    let status = reply.status();
    let body = reply.text().await?;
    ensure!(status == 200, "nginx /health answered {status}: {body}");
    ensure!(body.contains("\"status\":\"ok\""), "nginx /health body: {body}");
    Ok(())
}

#[tokio::test]
async fn registry_answers_the_v2_api() -> Result<()> {
    let lab = Lab::load()?;
    let reply = lab.http().get(format!("http://{}/v2/", lab.registry()?)).send().await?;
    assert_eq!(reply.status(), 200);
    Ok(())
}

/// The lab's scenario-3 stack (`lab/stack/phase2.sh`, compose project
/// `phase2`): its five services run, the proxy answers /health, Vault is
/// initialised and unsealed and the lab's token reads the known secret back
/// as seeded, the token and unseal key are 0600 files, the runbook's Docker
/// secret exists, and S3 holds infra-backup's backups — the snapshot whose
/// bytes match its sha256 metadata, and each certificate file as it is on
/// disk.
#[test]
fn the_scenario_3_stack_is_up_unsealed_and_backed_up() -> Result<()> {
    use drhost_tests::phase2::{LabStack, DOCKER_SECRET, KNOWN_SECRET};
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;
    let _serial = serial();
    let stack = LabStack::load();
    let lab = &stack.lab;
    let rt = drhost_tests::lab::runtime();

    let containers = stack.containers();
    let mut services: Vec<&str> = containers.keys().map(String::as_str).collect();
    services.sort_unstable();
    let mut expected = drhost_tests::phase2::SERVICES;
    expected.sort_unstable();
    assert_eq!(services, expected, "{containers:?}");
    assert!(containers.values().all(|c| c.state == "running"), "{containers:?}");
    let health = rt.block_on(drhost_tests::docker::health(lab, &stack.proxy_url()));
    assert_eq!(health, 200, "{}/health", stack.proxy_url());
    stack.assert_redis_serves();

    let (status, vault) = stack.vault("GET", "sys/health", None);
    assert_eq!(status, 200, "sys/health: {vault}");
    assert_eq!(
        (vault["initialized"].clone(), vault["sealed"].clone()),
        (true.into(), false.into())
    );
    let fields = stack
        .read_secret(KNOWN_SECRET)
        .map_err(|status| anyhow::anyhow!("{KNOWN_SECRET}: HTTP {status}"))?;
    let port = lab.get("PG_PORT")?;
    assert_eq!(fields["url"], format!("http://127.0.0.1:{port}"), "{KNOWN_SECRET}");
    assert_eq!(
        fields["database_url"],
        format!(
            "postgresql://postgres:{}@127.0.0.1:{port}/toolboxai",
            lab.pg_password()?
        ),
        "{KNOWN_SECRET}'s database_url"
    );
    for key in ["PHASE2_VAULT_TOKEN_FILE", "PHASE2_VAULT_UNSEAL_KEY_FILE"] {
        let mode = std::fs::metadata(stack.get(key))?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }

    let labels = stack
        .docker_secret_labels(DOCKER_SECRET)
        .with_context(|| format!("no Docker secret {DOCKER_SECRET}"))?;
    assert_eq!(
        labels.get("com.toolboxai.runbook").map(String::as_str),
        Some("scenario-3"),
        "{labels:?}"
    );

    let s3 = lab.s3_client()?;
    let bucket = lab.s3_bucket()?;
    let object = |key: String| -> Result<(Vec<u8>, Option<String>)> {
        rt.block_on(async {
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .with_context(|| key.clone())?;
            let sha = got.metadata().and_then(|m| m.get("sha256")).cloned();
            Ok((got.body.collect().await?.into_bytes().to_vec(), sha))
        })
    };
    let (snapshot, sha) = object(stack.get("PHASE2_S3_SNAPSHOT_KEY"))?;
    assert!(!snapshot.is_empty(), "an empty snapshot");
    assert_eq!(
        sha,
        Some(hex::encode(Sha256::digest(&snapshot))),
        "the snapshot's sha256"
    );
    let prefix = stack.get("PHASE2_S3_CERTIFICATES_PREFIX");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(stack.certificates())? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let local = std::fs::read(entry.path())?;
        let (backed_up, sha) = object(format!("{prefix}{name}"))?;
        assert_eq!(backed_up, local, "{prefix}{name} is the file on disk");
        assert_eq!(
            sha,
            Some(hex::encode(Sha256::digest(&local))),
            "{prefix}{name}'s sha256"
        );
        names.push(name);
    }
    names.sort_unstable();
    assert_eq!(names, ["ca.crt", "server.crt", "server.key"]);
    Ok(())
}
