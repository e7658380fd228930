//! Runbook scenario 1's capability calls — `s3.get` (verified downloads),
//! multipart `s3.put`, `postgres.create-database`, `postgres.restore` and
//! TLS to Postgres — through the `db-poke` fixture against the lab's real
//! Postgres and S3 (moto).
//!
//! Each test writes its own drhost.toml from `.lab/env` and the lab's secret
//! files, and asserts what the real services hold afterwards. Postgres is
//! set up and checked through the lab's unix socket (trusted), so the host
//! alone goes through TCP, the password and TLS. Only scratch databases
//! (`drhost_test_*`) and keys under [`PREFIX`] are touched; tests are
//! serialized by [`drhost_tests::lab::serial`].

use std::path::{Path, PathBuf};

use drhost_tests::cli::{self, Outcome, Run};
use drhost_tests::lab::Lab;
use drhost_tests::lab::{runtime as rt, up as lab};
use drhost_tests::tmp::{TmpDir, TmpFile};
use sha2::{Digest, Sha256};

/// Every key these tests write starts with this.
const PREFIX: &str = "supabase/test-postgres-s3/";
/// The database the dumps are taken from.
const SOURCE: &str = "drhost_test_src";
/// Target `primary`'s own database in these tests.
const RESTORE: &str = "drhost_test_restore";
/// Another database on the same server, reached with `options.database`.
const RESTORE_B: &str = "drhost_test_restore_b";

/// A CA that signed nothing the lab serves.
const WRONG_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBlDCCATugAwIBAgIUIMIIagHsEx+IRB5eUxdGizfvFOcwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUZHJob3N0IHRlc3Qgd3JvbmcgQ0EwIBcNMjYxMTI3MDc0NzM4
WhgPMjEyNjExMDMwNzQ3MzhaMB8xHTAbBgNVBAMMFGRyaG9zdCB0ZXN0IHdyb25n
IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZdPb8XGiv1+L3sVhaSIY8toi
eHuPcni+Vsx4n8C2y2P/vCuchOuKWBVOy3Syx47suxsf8k6r39do/u8ANngI16NT
MFEwHQYDVR0OBBYEFFhZhFxnLhedHfvD5/PqnWl3BOL2MB8GA1UdIwQYMBaAFFhZ
hFxnLhedHfvD5/PqnWl3BOL2MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
RwAwRAIgehlA2lKRMnhAzVT39BapGpSGlRFuEpcf/+xYvpC9l/ACIER09YQKQLR6
f/jdIRFLvKWmQMZSWp5QrRHXHL7b1IHy
-----END CERTIFICATE-----
";

// --- configuration -----------------------------------------------------------

/// How target `primary` reaches the lab's Postgres.
enum Pg<'a> {
    /// Plain TCP with the password.
    Plain,
    /// `sslmode=require`, trusting the CA in this file.
    Tls(&'a Path),
}

/// `[targets.postgres.primary]` for database `db`.
fn pg_target(lab: &Lab, db: &str, pg: Pg) -> String {
    let address = format!("{}:{}", lab.get("PG_HOST").unwrap(), lab.port("PG_PORT").unwrap());
    pg_target_at(lab, &address, db, pg)
}

/// `[targets.postgres.primary]` for database `db` on the server at
/// `address` (`host:port`), with the lab's user and password.
fn pg_target_at(lab: &Lab, address: &str, db: &str, pg: Pg) -> String {
    let (query, ca) = match pg {
        Pg::Plain => (String::new(), String::new()),
        Pg::Tls(ca) => (
            "?sslmode=require".to_string(),
            format!("ca_file = \"{}\"\n", ca.display()),
        ),
    };
    format!(
        "[targets.postgres.primary]\nurl = \"postgresql://{}@{address}/{db}{query}\"\npassword = \"file:{}\"\n{ca}\n",
        lab.get("PG_USER").unwrap(),
        lab.get("PG_PASSWORD_FILE").unwrap(),
    )
}

/// `[targets.s3.backups]` at `endpoint` (the lab's bucket and credentials).
fn s3_target(lab: &Lab, endpoint: &str) -> String {
    let secrets = lab.path(".lab/secrets");
    format!(
        "[targets.s3.backups]\nendpoint = \"{endpoint}\"\nregion = \"{}\"\nbucket = \"{}\"\npath_style = true\naccess_key = \"file:{}\"\nsecret_key = \"file:{}\"\n\n",
        lab.get("S3_REGION").unwrap(),
        lab.s3_bucket().unwrap(),
        secrets.join("s3-access-key").display(),
        secrets.join("s3-secret-key").display(),
    )
}

/// The grants of `db-poke`: `pg_access` (and `databases`) on `primary`,
/// read + write under [`PREFIX`] on `backups`.
fn grants(pg_access: &[&str], databases: &[&str]) -> String {
    let list = |items: &[&str]| items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "[[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [{}]\ndatabases = [{}]\n\n\
         [[plugins.db-poke.s3]]\ntarget = \"backups\"\nprefixes = [\"{PREFIX}*\"]\naccess = [\"read\", \"write\"]\n",
        list(pg_access),
        list(databases)
    )
}

/// A drhost.toml with target `primary` on database `db` and the lab's S3.
fn write_config(lab: &Lab, db: &str, pg: Pg, grants: &str) -> TmpFile {
    let s3 = s3_target(lab, lab.get("S3_ENDPOINT").unwrap());
    cli::config(&format!("{}{s3}{grants}", pg_target(lab, db, pg)))
}

/// `drhost run db-poke.wasm --config CONFIG --json --param NAME=VALUE…`,
/// which must exit 0 (db-poke reports a failed call as facts).
fn poke(config: &Path, params: &[(&str, &str)]) -> Outcome {
    let out = Run::fixture("db-poke").config(config).json().params(params).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

/// The typed error db-poke reported: (failed call, kind, message).
fn refusal(out: &Outcome) -> (String, String, String) {
    let fact = |name: &str| {
        out.fact(name)
            .unwrap_or_else(|| panic!("no `{name}` fact: the call succeeded:\n{}", out.stdout))
    };
    (fact("failed-call"), fact("error-kind"), fact("error"))
}

/// The journal's `call` events named `name`.
fn calls(out: &Outcome, name: &str) -> Vec<serde_json::Value> {
    cli::calls(&out.journal(), name).into_iter().cloned().collect()
}

// --- the lab's services, directly --------------------------------------------

/// A client for database `db` through the lab's unix socket (trusted).
async fn admin(lab: &Lab, db: &str) -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host_path(lab.get("PG_SOCKET_DIR").unwrap())
        .port(lab.port("PG_PORT").unwrap())
        .user(lab.get("PG_USER").unwrap())
        .dbname(db);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn drop_database(lab: &Lab, name: &str) {
    admin(lab, "postgres")
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
}

async fn fresh_database(lab: &Lab, name: &str) {
    drop_database(lab, name).await;
    admin(lab, "postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
}

async fn database_exists(lab: &Lab, name: &str) -> bool {
    let sql = "SELECT 1 FROM pg_database WHERE datname = $1";
    admin(lab, "postgres")
        .await
        .query_opt(sql, &[&name])
        .await
        .unwrap()
        .is_some()
}

/// Rows per table of the restored schema (`None` when the table is missing).
async fn row_counts(lab: &Lab, db: &str) -> Vec<(String, Option<i64>)> {
    let client = admin(lab, db).await;
    let mut counts = Vec::new();
    for table in ["users", "orders"] {
        let sql = format!("SELECT count(*) FROM {table}");
        counts.push((
            table.to_string(),
            client.query_one(&sql, &[]).await.ok().map(|r| r.get(0)),
        ));
    }
    counts
}

/// Builds [`SOURCE`] (two tables, a view, a grant) and returns its
/// `pg_dump -Fc`, taken through the socket.
async fn source_dump(lab: &Lab) -> Vec<u8> {
    fresh_database(lab, SOURCE).await;
    admin(lab, SOURCE)
        .await
        .batch_execute(
            "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE);
             CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users (id), total numeric);
             INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 250) g;
             INSERT INTO orders (user_id, total) SELECT g % 250 + 1, g * 1.5 FROM generate_series(1, 1200) g;
             CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000;
             GRANT SELECT ON users TO PUBLIC;",
        )
        .await
        .unwrap();
    let dir = TmpDir::new("drhost-pg-dump-");
    let file = dir.path().join("source.dump");
    let status = tokio::process::Command::new("pg_dump")
        .args(["-Fc", "-h", lab.get("PG_SOCKET_DIR").unwrap(), "-p"])
        .arg(lab.port("PG_PORT").unwrap().to_string())
        .args(["-U", lab.get("PG_USER").unwrap(), "-d", SOURCE, "-f"])
        .arg(&file)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "pg_dump of {SOURCE} failed");
    std::fs::read(&file).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A dump of the source database at `key`, with its `sha256` metadata (as
/// db-backup writes one).
async fn put_source_dump(lab: &Lab, key: &str) {
    let dump = source_dump(lab).await;
    let sha = sha256_hex(&dump);
    put_object(lab, key, dump, &[("sha256", &sha)]).await;
}

/// Puts `bytes` as `key` with user metadata, straight into the lab's bucket.
async fn put_object(lab: &Lab, key: &str, bytes: Vec<u8>, metadata: &[(&str, &str)]) {
    let mut request = lab
        .s3_client()
        .unwrap()
        .put_object()
        .bucket(lab.s3_bucket().unwrap())
        .key(key)
        .body(bytes.into());
    for (k, v) in metadata {
        request = request.metadata(*k, *v);
    }
    request.send().await.unwrap();
}

/// An object's size, SHA-256 (streamed) and user metadata.
async fn object(lab: &Lab, key: &str) -> (u64, String, std::collections::HashMap<String, String>) {
    let mut out = lab
        .s3_client()
        .unwrap()
        .get_object()
        .bucket(lab.s3_bucket().unwrap())
        .key(key)
        .send()
        .await
        .unwrap();
    let metadata = out.metadata().cloned().unwrap_or_default();
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    while let Some(chunk) = out.body.try_next().await.unwrap() {
        hasher.update(&chunk);
        size += chunk.len() as u64;
    }
    (size, hex::encode(hasher.finalize()), metadata)
}

async fn delete_objects(lab: &Lab, keys: &[&str]) {
    let s3 = lab.s3_client().unwrap();
    for key in keys {
        let _ = s3
            .delete_object()
            .bucket(lab.s3_bucket().unwrap())
            .key(*key)
            .send()
            .await;
    }
}

/// The restore options of the runbook: clean, if-exists, no-owner, no-privileges.
const RUNBOOK_OPTIONS: [(&str, &str); 4] = [
    ("clean", "true"),
    ("if-exists", "true"),
    ("no-owner", "true"),
    ("no-privileges", "true"),
];

// --- s3 get --------------------------------------------------------------------

#[test]
fn get_checks_the_download_against_the_expected_or_recorded_sha256() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let body = b"the real backup bytes".to_vec();
    let sha = sha256_hex(&body);
    let (good, tampered, bare) = (
        format!("{PREFIX}good.bin"),
        format!("{PREFIX}tampered.bin"),
        format!("{PREFIX}bare.bin"),
    );
    rt.block_on(async {
        put_object(&lab, &good, body.clone(), &[("sha256", &sha)]).await;
        let other = sha256_hex(b"what the backup job wrote");
        put_object(&lab, &tampered, body.clone(), &[("sha256", &other)]).await;
        put_object(&lab, &bare, body.clone(), &[]).await;
    });
    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read"], &[]));
    let get = |key: &str, expect: &str| poke(&config, &[("op", "s3-get"), ("key", key), ("sha256", expect)]);

    // Checked against the metadata, against what the plugin expects, or only by size.
    for (key, expect, verified) in [
        (&good, "", "metadata"),
        (&good, sha.as_str(), "expected"),
        (&bare, "", "none"),
    ] {
        let out = get(key, expect);
        assert_eq!(out.fact("sha256").as_deref(), Some(sha.as_str()), "{}", out.stdout);
        assert_eq!(out.fact("size"), Some(body.len().to_string()));
        let call = &calls(&out, "s3.get")[0];
        assert_eq!(call["outcome"]["ok"]["verified"], verified, "{call}");
        assert_eq!(call["outcome"]["ok"]["sha256"], sha.as_str(), "{call}");
    }

    // A tampered object (its sha256 metadata does not match) is a conflict naming both.
    let out = get(&tampered, "");
    let (call, kind, message) = refusal(&out);
    assert_eq!((call.as_str(), kind.as_str()), ("s3.get", "conflict"), "{message}");
    let recorded = sha256_hex(b"what the backup job wrote");
    assert!(message.contains(&format!("expected {recorded}")), "{message}");
    assert!(message.contains(&format!("got {sha}")), "{message}");
    assert!(message.contains("nothing was kept"), "{message}");

    // So is a plugin expecting other bytes, even when the metadata matches.
    let out = get(&good, &"0".repeat(64));
    assert_eq!(refusal(&out).1, "conflict", "{}", out.stdout);

    rt.block_on(delete_objects(&lab, &[&good, &tampered, &bare]));
}

#[test]
fn get_of_a_missing_key_is_not_found_and_outside_the_prefix_is_denied() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read"], &[]));

    let missing = format!("{PREFIX}no-such-object.dump");
    let out = poke(&config, &[("op", "s3-get"), ("key", &missing)]);
    let (call, kind, message) = refusal(&out);
    assert_eq!((call.as_str(), kind.as_str()), ("s3.get", "not-found"), "{message}");

    let out = poke(&config, &[("op", "s3-get"), ("key", "other/test-postgres-s3/x.dump")]);
    let (_, kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{message}");
    assert!(
        message.contains(
            "[[plugins.db-poke.s3]]\ntarget = \"backups\"\nprefixes = [\"other/test-postgres-s3/x.dump\"]\naccess = [\"read\"]"
        ),
        "{message}"
    );
}

#[test]
fn an_unreachable_s3_endpoint_is_unavailable() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let text = format!(
        "{}{}{}",
        pg_target(&lab, RESTORE, Pg::Plain),
        s3_target(&lab, "http://127.0.0.1:1"),
        grants(&["read"], &[])
    );
    let config = cli::config(&text);
    let key = format!("{PREFIX}good.bin");
    let out = poke(&config, &[("op", "s3-get"), ("key", &key)]);
    let (call, kind, message) = refusal(&out);
    assert_eq!((call.as_str(), kind.as_str()), ("s3.get", "unavailable"), "{message}");
}

// --- s3 put ----------------------------------------------------------------------

#[test]
fn a_large_blob_goes_up_as_a_multipart_upload_and_round_trips() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    // 80 MiB + 123 bytes of xorshift noise: five full 16 MiB parts and a short sixth.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let body: Vec<u8> = (0..(80 << 20) + 123)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let (size, sha) = (body.len() as u64, sha256_hex(&body));
    let (source, copy) = (format!("{PREFIX}big.src"), format!("{PREFIX}big.copy"));
    rt.block_on(async {
        delete_objects(&lab, &[&copy]).await;
        put_object(&lab, &source, body, &[("sha256", &sha)]).await;
    });

    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read"], &[]));
    let out = poke(&config, &[("op", "s3-copy"), ("key", &source), ("dest", &copy)]);
    assert_eq!(out.fact("size"), Some(size.to_string()), "{}", out.stdout);
    let etag = out.fact("etag").unwrap();
    assert!(etag.ends_with("-6"), "not a six-part multipart ETag: {etag}");

    let (got_size, got_sha, metadata) = rt.block_on(object(&lab, &copy));
    assert_eq!((got_size, got_sha.as_str()), (size, sha.as_str()));
    assert_eq!(metadata.get("sha256"), Some(&sha), "{metadata:?}");
    let put = &calls(&out, "s3.put")[0];
    assert_eq!(put["args"]["multipart"], true, "{put}");
    assert_eq!(calls(&out, "s3.get")[0]["outcome"]["ok"]["verified"], "metadata");

    rt.block_on(delete_objects(&lab, &[&source, &copy]));
}

// --- postgres ------------------------------------------------------------------

#[test]
fn create_database_creates_a_dropped_database_once() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    // Mixed case and a dash: created only if the name is quoted.
    let name = "drhost_test_Created-Db";
    rt.block_on(drop_database(&lab, name));

    let denied = write_config(&lab, name, Pg::Plain, &grants(&["read"], &[]));
    let out = poke(&denied, &[("op", "create-database")]);
    let (_, kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{message}");
    assert!(
        message.contains("[[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [\"admin\"]"),
        "{message}"
    );
    assert!(!rt.block_on(database_exists(&lab, name)));

    let config = write_config(&lab, name, Pg::Plain, &grants(&["read", "admin"], &[]));
    let out = poke(&config, &[("op", "create-database")]);
    assert_eq!(out.fact("created").as_deref(), Some("true"), "{}", out.stdout);
    assert!(rt.block_on(database_exists(&lab, name)), "{name} was not created");
    let call = &calls(&out, "postgres.create-database")[0];
    assert_eq!(call["args"]["database"], name, "{call}");
    assert_eq!(call["outcome"]["ok"]["created"], true, "{call}");

    let out = poke(&config, &[("op", "create-database")]);
    assert_eq!(out.fact("created").as_deref(), Some("false"), "{}", out.stdout);

    rt.block_on(drop_database(&lab, name));
}

#[test]
fn restore_of_a_real_dump_gives_the_same_rows() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let key = format!("{PREFIX}backup.dump");
    let expected = rt.block_on(async {
        put_source_dump(&lab, &key).await;
        fresh_database(&lab, RESTORE_B).await;
        row_counts(&lab, SOURCE).await
    });
    assert_eq!(expected, [("users".into(), Some(250)), ("orders".into(), Some(1200))]);

    // Into another database than the target's, granted by a `databases` glob;
    // twice, so the second restore cleans what the first one made.
    let config = write_config(
        &lab,
        RESTORE,
        Pg::Plain,
        &grants(&["read", "restore"], &["drhost_test_restore_*"]),
    );
    let mut params = vec![("op", "restore"), ("key", key.as_str()), ("database", RESTORE_B)];
    params.extend(RUNBOOK_OPTIONS);
    for _ in 0..2 {
        let out = poke(&config, &params);
        assert_eq!(out.fact("database").as_deref(), Some(RESTORE_B), "{}", out.stdout);
        assert_eq!(rt.block_on(row_counts(&lab, RESTORE_B)), expected);

        let call = &calls(&out, "postgres.restore")[0];
        assert_eq!(call["args"]["database"], RESTORE_B, "{call}");
        assert_eq!(call["args"]["options"]["clean"], true, "{call}");
        assert_eq!(call["args"]["options"]["no_privileges"], true, "{call}");
        assert!(call["args"]["sha256"].as_str().is_some_and(|s| s.len() == 64), "{call}");
        assert!(call["outcome"]["ok"]["duration_ms"].is_u64(), "{call}");
        assert!(call["outcome"]["ok"]["warnings"].is_u64(), "{call}");
        let password = std::fs::read_to_string(lab.get("PG_PASSWORD_FILE").unwrap()).unwrap();
        assert!(
            !out.journal_text().contains(password.trim()),
            "the Postgres password is in the journal"
        );
    }
    // no-privileges: the source's GRANT to PUBLIC was not restored.
    let granted: bool = rt.block_on(async {
        let sql = "SELECT has_table_privilege('public', 'users', 'SELECT')";
        admin(&lab, RESTORE_B).await.query_one(sql, &[]).await.unwrap().get(0)
    });
    assert!(!granted, "--no-privileges did not apply");

    rt.block_on(async {
        drop_database(&lab, RESTORE_B).await;
        drop_database(&lab, SOURCE).await;
        delete_objects(&lab, &[&key]).await;
    });
}

/// Blob provenance (issue 11): a restore takes a blob the host read from a
/// granted source; one the plugin made (`blob.from-bytes`, here a faithful
/// copy of a real dump) is refused with the line that opts in, and the
/// database is left untouched, until the grant says
/// `restore_from_plugin_blobs = true`. The journal names each blob's origin.
#[test]
fn restore_refuses_a_blob_the_plugin_made_unless_the_grant_opts_in() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let key = format!("{PREFIX}provenance.dump");
    let expected = rt.block_on(async {
        put_source_dump(&lab, &key).await;
        fresh_database(&lab, RESTORE).await;
        row_counts(&lab, SOURCE).await
    });
    let mut remade = vec![("op", "restore"), ("key", key.as_str()), ("remake", "true")];
    remade.extend(RUNBOOK_OPTIONS);

    // Made by the plugin, no opt-in: access-denied, naming cause and fix.
    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read", "restore"], &[]));
    let out = poke(&config, &remade);
    let (call, kind, message) = refusal(&out);
    assert_eq!(
        (call.as_str(), kind.as_str()),
        ("postgres.restore", "access-denied"),
        "{message}"
    );
    assert!(
        message.starts_with(
            "postgres restore on target `primary` refused: the blob was made by the plugin (blob.from-bytes), not read by the host from a backup"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            "[[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [\"restore\"]\nrestore_from_plugin_blobs = true"
        ),
        "{message}"
    );
    let call = &calls(&out, "postgres.restore")[0];
    assert_eq!(
        call["args"]["origin"],
        serde_json::json!({ "from": "plugin", "call": "blob.from-bytes" }),
        "{call}"
    );
    assert_eq!(call["outcome"]["error"]["kind"], "access-denied", "{call}");
    assert_eq!(
        rt.block_on(row_counts(&lab, RESTORE)),
        [("users".into(), None), ("orders".into(), None)],
        "nothing was restored"
    );

    // The blob the host downloaded is restored, its origin journaled.
    let mut downloaded = vec![("op", "restore"), ("key", key.as_str())];
    downloaded.extend(RUNBOOK_OPTIONS);
    let out = poke(&config, &downloaded);
    assert_eq!(out.fact("database").as_deref(), Some(RESTORE), "{}", out.stdout);
    assert_eq!(rt.block_on(row_counts(&lab, RESTORE)), expected);
    let call = &calls(&out, "postgres.restore")[0];
    let origin = &call["args"]["origin"];
    assert_eq!(
        (&origin["from"], &origin["target"], &origin["key"], &origin["verified"]),
        (
            &serde_json::json!("s3.get"),
            &serde_json::json!("backups"),
            &serde_json::json!(key),
            &serde_json::json!("metadata")
        ),
        "{call}"
    );
    assert!(origin["etag"].as_str().is_some_and(|e| !e.is_empty()), "{call}");

    // With the opt-in, the plugin's own copy is restored too.
    rt.block_on(fresh_database(&lab, RESTORE));
    let opted_in = grants(&["read", "restore"], &[])
        .replace("databases = []\n", "databases = []\nrestore_from_plugin_blobs = true\n");
    let config = write_config(&lab, RESTORE, Pg::Plain, &opted_in);
    let out = poke(&config, &remade);
    assert_eq!(out.fact("database").as_deref(), Some(RESTORE), "{}", out.stdout);
    assert_eq!(rt.block_on(row_counts(&lab, RESTORE)), expected);
    let call = &calls(&out, "postgres.restore")[0];
    assert_eq!(call["args"]["origin"]["from"], "plugin", "{call}");
    assert!(call["outcome"]["ok"]["duration_ms"].is_u64(), "{call}");

    rt.block_on(async {
        drop_database(&lab, RESTORE).await;
        drop_database(&lab, SOURCE).await;
        delete_objects(&lab, &[&key]).await;
    });
}

/// Plugin-made bytes stay plugin-made through S3: `s3.put` marks the
/// object (`drhost-origin`), `s3.get` reads the mark back, so a plugin
/// with write on the backups cannot launder a fabricated dump into one
/// the restore trusts; a host-read dump copied the same way stays
/// restorable.
#[test]
fn a_plugin_made_dump_put_to_s3_and_got_back_is_still_refused() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let key = format!("{PREFIX}launder-source.dump");
    let laundered = format!("{PREFIX}laundered.dump");
    let copied = format!("{PREFIX}copied.dump");
    rt.block_on(async {
        put_source_dump(&lab, &key).await;
        fresh_database(&lab, RESTORE).await;
    });
    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read", "restore"], &[]));

    // A remade copy is put, marked as the plugin's, in the real bucket.
    let out = poke(
        &config,
        &[
            ("op", "s3-copy"),
            ("key", &key),
            ("dest", &laundered),
            ("remake", "true"),
        ],
    );
    assert!(out.fact("etag").is_some(), "{}", out.stdout);
    assert_eq!(calls(&out, "s3.put")[0]["args"]["origin"], "plugin");
    let (_, _, metadata) = rt.block_on(object(&lab, &laundered));
    assert_eq!(
        metadata.get("drhost-origin").map(String::as_str),
        Some("plugin"),
        "{metadata:?}"
    );
    // The host-read dump copied as it is: marked `host`.
    poke(&config, &[("op", "s3-copy"), ("key", &key), ("dest", &copied)]);
    let (_, _, metadata) = rt.block_on(object(&lab, &copied));
    assert_eq!(
        metadata.get("drhost-origin").map(String::as_str),
        Some("host"),
        "{metadata:?}"
    );

    // Got back and restored: refused, naming the object and the mark.
    let mut restore = vec![("op", "restore"), ("key", laundered.as_str())];
    restore.extend(RUNBOOK_OPTIONS);
    let out = poke(&config, &restore);
    let (call, kind, message) = refusal(&out);
    assert_eq!(
        (call.as_str(), kind.as_str()),
        ("postgres.restore", "access-denied"),
        "{message}"
    );
    assert!(
        message.starts_with(&format!(
            "postgres restore on target `primary` refused: the blob is s3 object `{laundered}` of target `backups`, which a drhost plugin put from bytes it made (drhost-origin=plugin)"
        )),
        "{message}"
    );
    let origin = &calls(&out, "postgres.restore")[0]["args"]["origin"];
    assert_eq!(origin["put_by_plugin"], true, "{origin}");
    assert_eq!(
        rt.block_on(row_counts(&lab, RESTORE)),
        [("users".into(), None), ("orders".into(), None)],
        "nothing was restored"
    );
    // The faithful copy restores.
    let mut restore = vec![("op", "restore"), ("key", copied.as_str())];
    restore.extend(RUNBOOK_OPTIONS);
    let out = poke(&config, &restore);
    assert_eq!(out.fact("database").as_deref(), Some(RESTORE), "{}", out.stdout);

    rt.block_on(async {
        drop_database(&lab, RESTORE).await;
        drop_database(&lab, SOURCE).await;
        delete_objects(&lab, &[&key, &laundered, &copied]).await;
    });
}

#[test]
fn restore_into_a_database_the_grant_does_not_list_is_denied() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let key = format!("{PREFIX}small.dump");
    rt.block_on(put_object(&lab, &key, b"unused".to_vec(), &[]));
    let mut params = vec![
        ("op", "restore"),
        ("key", key.as_str()),
        ("database", "drhost_forbidden"),
    ];
    params.extend(RUNBOOK_OPTIONS);

    let config = write_config(
        &lab,
        RESTORE,
        Pg::Plain,
        &grants(&["read", "restore"], &["drhost_test_restore_*"]),
    );
    let out = poke(&config, &params);
    let (call, kind, message) = refusal(&out);
    assert_eq!(
        (call.as_str(), kind.as_str()),
        ("postgres.restore", "access-denied"),
        "{message}"
    );
    assert!(
        message.ends_with(
            "[[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [\"restore\"]\ndatabases = [\"drhost_forbidden\"]"
        ),
        "{message}"
    );

    // Without `restore` at all, even the target's own database is denied.
    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read"], &[]));
    let out = poke(&config, &[("op", "restore"), ("key", key.as_str())]);
    let (_, kind, message) = refusal(&out);
    assert_eq!(kind, "access-denied", "{message}");
    assert!(message.contains("access = [\"restore\"]"), "{message}");

    rt.block_on(delete_objects(&lab, &[&key]));
}

#[test]
fn restore_of_a_blob_that_is_not_a_dump_fails_with_one_readable_line() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let key = format!("{PREFIX}not-a-dump.dump");
    rt.block_on(async {
        put_object(&lab, &key, b"this is a README, not a pg_dump archive\n".repeat(50), &[]).await;
        fresh_database(&lab, RESTORE).await;
    });
    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read", "restore"], &[]));
    let mut params = vec![("op", "restore"), ("key", key.as_str())];
    params.extend(RUNBOOK_OPTIONS);
    let out = poke(&config, &params);
    let (call, kind, message) = refusal(&out);
    assert_eq!(
        (call.as_str(), kind.as_str()),
        ("postgres.restore", "failed"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message:?}");
    assert!(
        message.starts_with(&format!(
            "pg_restore into database `{RESTORE}` of target `primary` failed: "
        )),
        "{message}"
    );
    assert!(message.contains("valid archive"), "{message}");

    rt.block_on(async {
        drop_database(&lab, RESTORE).await;
        delete_objects(&lab, &[&key]).await;
    });
}

// --- TLS -------------------------------------------------------------------------

#[test]
fn tls_with_the_lab_ca_connects_encrypted_and_a_wrong_ca_is_one_clear_line() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let ca = PathBuf::from(lab.get("PG_CA_FILE").expect("the lab's Postgres has TLS (PG_CA_FILE)"));
    let expected = rt.block_on(async {
        source_dump(&lab).await;
        fresh_database(&lab, RESTORE).await;
        row_counts(&lab, SOURCE).await
    });

    let grants = grants(&["read", "dump", "restore"], &[RESTORE]);
    let config = write_config(&lab, SOURCE, Pg::Tls(&ca), &grants);
    let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let out = poke(&config, &[("op", "query"), ("sql", sql)]);
    assert_eq!(out.fact("value").as_deref(), Some("true"), "{}", out.stdout);
    let out = poke(&config, &[("op", "info")]);
    assert_eq!(out.fact("tls").as_deref(), Some("true"), "{}", out.stdout);

    // pg_dump and pg_restore over TLS too (verify-full against the same CA, by IP).
    let key = format!("{PREFIX}tls-backup.dump");
    let out = poke(&config, &[("op", "dump"), ("key", &key)]);
    let sha = out.fact("sha256").unwrap_or_else(|| panic!("no dump:\n{}", out.stdout));
    assert_eq!(rt.block_on(object(&lab, &key)).1, sha);
    let mut restore = vec![("op", "restore"), ("key", key.as_str()), ("database", RESTORE)];
    restore.extend(RUNBOOK_OPTIONS);
    let out = poke(&config, &restore);
    assert_eq!(out.fact("database").as_deref(), Some(RESTORE), "{}", out.stdout);
    assert_eq!(rt.block_on(row_counts(&lab, RESTORE)), expected);

    // A CA that did not sign the server's certificate: refused, one line.
    let wrong = TmpDir::new("drhost-wrong-ca-").into_file("ca.pem", WRONG_CA);
    let config = write_config(&lab, SOURCE, Pg::Tls(&wrong), &grants);
    let out = poke(&config, &[("op", "query"), ("sql", sql)]);
    let (call, kind, message) = refusal(&out);
    assert_eq!((call.as_str(), kind.as_str()), ("postgres.open", "failed"), "{message}");
    assert!(!message.contains('\n'), "{message:?}");
    assert!(message.contains("TLS certificate was refused"), "{message}");
    assert!(message.contains(&wrong.path().display().to_string()), "{message}");
    let out = poke(&config, &restore);
    let (call, kind, message) = refusal(&out);
    assert_eq!(
        (call.as_str(), kind.as_str()),
        ("postgres.restore", "failed"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message:?}");
    assert!(message.contains("certificate verify failed"), "{message}");

    rt.block_on(async {
        drop_database(&lab, RESTORE).await;
        drop_database(&lab, SOURCE).await;
        delete_objects(&lab, &[&key]).await;
    });
}

// --- TLS for a real plugin: db-backup ---------------------------------------------

/// The database db-backup backs up in the TLS tests.
const TLS_DB: &str = "drhost_test_tls";
/// db-backup's `prefix` in the TLS tests (under [`PREFIX`]).
const TLS_PREFIX: &str = "supabase/test-postgres-s3/tls/";

/// db-backup's grants: `read` and `dump` on `primary`, writes under [`PREFIX`].
fn db_backup_grants() -> String {
    format!(
        "[[plugins.db-backup.postgres]]\ntarget = \"primary\"\naccess = [\"read\", \"dump\"]\n\n\
         [[plugins.db-backup.s3]]\ntarget = \"backups\"\nprefixes = [\"{PREFIX}*\"]\naccess = [\"read\", \"write\"]\n"
    )
}

/// `drhost run db-backup --config CONFIG --json --param prefix=TLS_PREFIX`.
fn db_backup(config: &Path) -> Run {
    Run::plugin("db-backup")
        .config(config)
        .json()
        .param("prefix", TLS_PREFIX)
}

/// Every key under `prefix` in the lab's bucket.
async fn keys_under(lab: &Lab, prefix: &str) -> Vec<String> {
    let page = lab
        .s3_client()
        .unwrap()
        .list_objects_v2()
        .bucket(lab.s3_bucket().unwrap())
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    page.contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

/// Drops [`TLS_DB`] and the objects under [`TLS_PREFIX`], however the test
/// ends (errors ignored: it also runs while a failed test unwinds).
struct TlsLeftovers(Lab);

impl Drop for TlsLeftovers {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            if let (Ok(s3), Ok(bucket)) = (self.0.s3_client(), self.0.s3_bucket()) {
                if let Ok(page) = s3.list_objects_v2().bucket(bucket).prefix(TLS_PREFIX).send().await {
                    for key in page.contents().iter().filter_map(|o| o.key()) {
                        let _ = s3.delete_object().bucket(bucket).key(key).send().await;
                    }
                }
            }
            let mut config = tokio_postgres::Config::new();
            config
                .host_path(self.0.get("PG_SOCKET_DIR").unwrap_or_default())
                .port(self.0.port("PG_PORT").unwrap_or(5432))
                .user(self.0.get("PG_USER").unwrap_or("postgres"))
                .dbname("postgres");
            if let Ok((client, connection)) = config.connect(tokio_postgres::NoTls).await {
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{TLS_DB}\" WITH (FORCE)"))
                    .await;
            }
        });
    }
}

/// [`TLS_DB`], fresh: table `public.users` (40 rows) and `held.t` (in a
/// schema db-backup does not count, but `pg_dump` dumps).
async fn tls_database(lab: &Lab) {
    fresh_database(lab, TLS_DB).await;
    admin(lab, TLS_DB)
        .await
        .batch_execute(
            "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);
             INSERT INTO users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 40) g;
             CREATE SCHEMA held;
             CREATE TABLE held.t (x int);",
        )
        .await
        .unwrap();
}

/// A client session on [`TLS_DB`] or `pg_dump`'s, as the server sees it.
#[derive(Debug, Clone, PartialEq)]
struct Session {
    application_name: String,
    client_addr: String,
    ssl: bool,
    version: String,
}

/// The client sessions on [`TLS_DB`] waiting for a lock, with what
/// `pg_stat_ssl` says of each.
async fn waiting_sessions(admin: &tokio_postgres::Client) -> Vec<Session> {
    let rows = admin
        .query(
            "SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
                    s.ssl, coalesce(s.version, '') \
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
             WHERE a.datname = $1 AND a.backend_type = 'client backend' AND a.wait_event_type = 'Lock'",
            &[&TLS_DB],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| Session {
            application_name: r.get(0),
            client_addr: r.get(1),
            ssl: r.get(2),
            version: r.get(3),
        })
        .collect()
}

/// A real plugin against a TLS target: db-backup's own session (drhost's
/// rustls client) and its `pg_dump` (libpq, `verify-full`) are both seen
/// *by the server* as TLS sessions from 127.0.0.1. Each is caught alive by
/// holding a lock it must wait for: `public.users` stops db-backup's first
/// count, `held.t` (a table only `pg_dump` reads) stops the dump; the test
/// reads `pg_stat_ssl` for the waiting session, then lets it go.
#[test]
fn db_backup_against_a_tls_target_talks_tls_to_the_server_for_its_session_and_pg_dump() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let _leftovers = TlsLeftovers(lab.clone());
    let ca = lab.pg_ca_file().unwrap();
    rt.block_on(tls_database(&lab));
    let config = cli::config(&format!(
        "{}{}{}",
        pg_target(&lab, TLS_DB, Pg::Tls(&ca)),
        s3_target(&lab, lab.get("S3_ENDPOINT").unwrap()),
        db_backup_grants()
    ));

    let (watcher, count_lock, dump_lock) = rt.block_on(async {
        let (count_lock, dump_lock) = (admin(&lab, TLS_DB).await, admin(&lab, TLS_DB).await);
        count_lock
            .batch_execute("BEGIN; LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        dump_lock
            .batch_execute("BEGIN; LOCK TABLE held.t IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        (admin(&lab, "postgres").await, count_lock, dump_lock)
    });
    // No panic in here: the run waits on the locks until they are let go.
    let wait_for = |running: &std::thread::ScopedJoinHandle<'_, Outcome>| -> Vec<Session> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !running.is_finished() && std::time::Instant::now() < until {
            let waiting = rt.block_on(waiting_sessions(&watcher));
            if !waiting.is_empty() {
                return waiting;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Vec::new()
    };
    let (out, counting, dumping) = std::thread::scope(|scope| {
        let running = scope.spawn(|| db_backup(&config).exec());
        let counting = wait_for(&running);
        let _ = rt.block_on(count_lock.batch_execute("COMMIT"));
        // The count goes on; the next session to wait is pg_dump's.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut dumping = Vec::new();
        while !running.is_finished() && std::time::Instant::now() < until {
            dumping = wait_for(&running);
            if dumping.iter().any(|s| s.application_name == "pg_dump") {
                break;
            }
        }
        let _ = rt.block_on(dump_lock.batch_execute("COMMIT"));
        (running.join().unwrap(), counting, dumping)
    });

    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(counting.len(), 1, "db-backup's count waits on the lock: {counting:?}");
    let session = &counting[0];
    assert!(
        session.ssl,
        "db-backup's own session is not TLS on the server: {session:?}"
    );
    assert!(session.version.starts_with("TLSv1."), "{session:?}");
    assert_eq!(session.client_addr, "127.0.0.1", "{session:?}");
    assert_eq!(dumping.len(), 1, "pg_dump waits on held.t: {dumping:?}");
    let dump = &dumping[0];
    assert_eq!(dump.application_name, "pg_dump", "{dump:?}");
    assert!(dump.ssl, "pg_dump's session is not TLS on the server: {dump:?}");
    assert!(dump.version.starts_with("TLSv1."), "{dump:?}");
    assert_eq!(dump.client_addr, "127.0.0.1", "{dump:?}");

    // And the backup it made over TLS is the real one.
    let key = out.fact("key").unwrap_or_else(|| panic!("no key:\n{}", out.stdout));
    assert!(key.starts_with(TLS_PREFIX), "{key}");
    assert_eq!(out.fact("rows-users").as_deref(), Some("40"), "{}", out.stdout);
    let (size, sha, metadata) = rt.block_on(object(&lab, &key));
    assert_eq!(Some(sha.clone()), out.fact("sha256"));
    assert_eq!(Some(size.to_string()), out.fact("size"));
    assert_eq!(
        metadata.get("rows-users").map(String::as_str),
        Some("40"),
        "{metadata:?}"
    );
}

/// A TCP relay the test owns: `127.0.0.2:<port>` to `target`, counting the
/// connections it relayed. 127.0.0.2 is loopback too, but the lab's
/// certificate names only 127.0.0.1 and localhost: through the relay the
/// real server, with its real certificate, is reached under a name its
/// certificate does not carry. Stops accepting when dropped.
struct Relay {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    fn start(target: std::net::SocketAddr) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2 (loopback)");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = client.set_nonblocking(false);
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                };
                if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                    pipe(c, server);
                    pipe(s, client);
                }
            }
        });
        Relay { port, accepted, stop }
    }

    /// Connections relayed to the server so far.
    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The lab's certificate reached under a name it does not carry
/// (127.0.0.2, through [`Relay`]) is refused — by drhost's own client,
/// so db-backup fails at its connect step with one line naming the
/// certificate, the name asked for and the CA, having dumped and uploaded
/// nothing; and by `pg_restore` (libpq `verify-full`), so a restore through
/// the same name restores nothing into its database.
#[test]
fn a_certificate_that_does_not_name_the_host_is_refused_and_nothing_changes() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let _leftovers = TlsLeftovers(lab.clone());
    let ca = lab.pg_ca_file().unwrap();
    rt.block_on(tls_database(&lab));
    let server: std::net::SocketAddr = format!("127.0.0.1:{}", lab.port("PG_PORT").unwrap()).parse().unwrap();
    let relay = Relay::start(server);
    let address = format!("127.0.0.2:{}", relay.port);
    let s3 = s3_target(&lab, lab.get("S3_ENDPOINT").unwrap());

    // The same relay without TLS reaches the server: the name is all that differs.
    let plain = cli::config(&format!(
        "{}{s3}{}",
        pg_target_at(&lab, &address, TLS_DB, Pg::Plain),
        grants(&["read"], &[])
    ));
    let out = poke(&plain, &[("op", "query"), ("sql", "SELECT count(*) FROM users")]);
    assert_eq!(out.fact("value").as_deref(), Some("40"), "{}", out.stdout);
    let relayed = relay.accepted();
    assert!(relayed >= 1, "the relay carried no connection");

    let config = cli::config(&format!(
        "{}{s3}{}",
        pg_target_at(&lab, &address, TLS_DB, Pg::Tls(&ca)),
        db_backup_grants()
    ));
    let out = db_backup(&config).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(relay.accepted() > relayed, "db-backup never reached the server");
    let report = out.json();
    assert_eq!(report["failed_step"], "connect to postgres `primary`", "{report:#}");
    let summary = report["summary"].as_str().unwrap_or_default();
    assert!(!summary.contains('\n'), "{summary:?}");
    assert!(
        summary.contains("the server's TLS certificate was refused")
            && summary.contains("not valid for name \"127.0.0.2\"")
            && summary.contains("127.0.0.1")
            && summary.contains("localhost")
            && summary.contains("name host 127.0.0.2")
            && summary.contains(&ca.display().to_string()),
        "{summary}"
    );
    let journal = out.journal();
    let opens = cli::calls(&journal, "postgres.open");
    assert_eq!(opens.len(), 1, "{journal:#?}");
    assert_eq!(opens[0]["outcome"]["error"]["kind"], "failed", "{}", opens[0]);
    for call in ["postgres.query", "postgres.dump", "s3.put"] {
        assert!(
            cli::calls(&journal, call).is_empty(),
            "{call} after a refused certificate"
        );
    }
    assert_eq!(rt.block_on(keys_under(&lab, TLS_PREFIX)), Vec::<String>::new());

    // pg_restore through the same name: refused by libpq, nothing restored.
    let key = format!("{TLS_PREFIX}source.dump");
    rt.block_on(async {
        put_source_dump(&lab, &key).await;
        fresh_database(&lab, RESTORE).await;
    });
    let config = cli::config(&format!(
        "{}{s3}{}",
        pg_target_at(&lab, &address, TLS_DB, Pg::Tls(&ca)),
        grants(&["read", "restore"], &[RESTORE])
    ));
    let mut restore = vec![("op", "restore"), ("key", key.as_str()), ("database", RESTORE)];
    restore.extend(RUNBOOK_OPTIONS);
    let out = poke(&config, &restore);
    let (call, kind, message) = refusal(&out);
    assert_eq!(
        (call.as_str(), kind.as_str()),
        ("postgres.restore", "failed"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message:?}");
    assert!(message.contains("does not match host name \"127.0.0.2\""), "{message}");
    assert_eq!(
        rt.block_on(row_counts(&lab, RESTORE)),
        [("users".to_string(), None), ("orders".to_string(), None)],
        "pg_restore restored something through a refused certificate"
    );
    rt.block_on(async {
        drop_database(&lab, RESTORE).await;
        drop_database(&lab, SOURCE).await;
    });
}

/// A plugin that opens connections in a loop and holds them (issue 11)
/// gets at most 16: the 17th open is refused before anything connects
/// (access-denied, naming the cap), the 16 it holds still answer, the real
/// server never sees more of its sessions, and they all close with the run.
#[test]
fn a_plugin_cannot_hoard_the_databases_connections() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    rt.block_on(fresh_database(&lab, RESTORE));
    let config = write_config(&lab, RESTORE, Pg::Plain, &grants(&["read"], &[]));
    let admin_client = rt.block_on(admin(&lab, "postgres"));
    let sessions = || -> i64 {
        rt.block_on(admin_client.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
            &[&RESTORE],
        ))
        .unwrap()
        .get(0)
    };
    let before = sessions();

    let (out, peak) = std::thread::scope(|scope| {
        let run = scope.spawn(|| poke(&config, &[("op", "hoard"), ("count", "40")]));
        let mut peak = before;
        while !run.is_finished() {
            peak = peak.max(sessions());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        (run.join().unwrap(), peak)
    });
    assert_eq!(out.fact("opened").as_deref(), Some("16"), "{}", out.stdout);
    assert_eq!(out.fact("answering").as_deref(), Some("16"), "{}", out.stdout);
    assert_eq!(out.fact("error-kind").as_deref(), Some("access-denied"));
    let error = out.fact("error").unwrap();
    assert!(
        error.starts_with("postgres `primary`: this run already holds 16 open connections"),
        "{error}"
    );
    assert!(
        peak - before <= 16,
        "the server saw {} sessions of the run",
        peak - before
    );
    assert!(peak - before >= 1, "sampling never saw the run's sessions");
    // 16 opens journaled as made, the 17th as refused; nothing after it.
    let opens = calls(&out, "postgres.open");
    assert_eq!(opens.len(), 17, "{opens:#?}");
    assert_eq!(opens[16]["outcome"]["error"]["kind"], "access-denied", "{}", opens[16]);

    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sessions() != before && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(sessions(), before, "the run's sessions closed with it");
    rt.block_on(drop_database(&lab, RESTORE));
}
