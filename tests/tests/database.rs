//! The `postgres` and `s3` capabilities and the `db-backup` plugin (quick
//! reference "database backup") against the lab's real Postgres and S3.
//!
//! Each test runs the real `drhost` binary and asserts what it wrote to the
//! real bucket. Tests are serialized by [`drhost_tests::lab::serial`] (they share the bucket).

use std::collections::BTreeSet;

use drhost_tests::cli::{self, calls, events, Outcome, Run};
use drhost_tests::docker::{inspect, OwnBackend, LATEST};
use drhost_tests::lab::Lab;
use drhost_tests::lab::{runtime as rt, up as lab};
use drhost_tests::tmp::TmpFile;
use drhost_tests::util::percent_encoded;
use sha2::{Digest, Sha256};

/// `drhost run plugins/<id>.wasm --config .lab/drhost.toml --json --yes`
/// (another `.config(…)` replaces the lab's).
fn lab_run(lab: &Lab, id: &str) -> Run {
    Run::plugin(id).config(lab.path(".lab/drhost.toml")).json().yes()
}

/// Every key under `prefix` in the lab's bucket.
async fn keys(lab: &Lab, prefix: &str) -> BTreeSet<String> {
    let s3 = lab.s3_client().unwrap();
    let mut keys = BTreeSet::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(lab.s3_bucket().unwrap())
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .unwrap();
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(String::from)));
        match page.next_continuation_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    keys
}

#[test]
fn db_backup_dumps_to_s3_with_checksum_and_row_count() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let users: i64 = rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        pg.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0)
    });

    let out = lab_run(&lab, "db-backup").exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let key = out.fact("key").expect("a key fact");
    assert!(
        key.starts_with("supabase/backup_") && key.ends_with(".dump") && key != "supabase/backup_latest.dump",
        "{key}"
    );
    let sha_fact = out.fact("sha256").unwrap();
    let size_fact: u64 = out.fact("size").unwrap().parse().unwrap();
    assert!(out.fact("duration-ms").is_some_and(|ms| ms.parse::<u64>().is_ok()));

    rt.block_on(async {
        let s3 = lab.s3_client().unwrap();
        let bucket = lab.s3_bucket().unwrap();
        for k in [key.as_str(), "supabase/backup_latest.dump"] {
            let object = s3.get_object().bucket(bucket).key(k).send().await.unwrap();
            let metadata = object.metadata().cloned().unwrap_or_default();
            let bytes = object.body.collect().await.unwrap().into_bytes();
            assert!(bytes.starts_with(b"PGDMP"), "{k} is not a custom-format dump");
            assert_eq!(bytes.len() as u64, size_fact, "{k}");
            let sha = hex::encode(Sha256::digest(&bytes));
            assert_eq!(metadata.get("sha256"), Some(&sha), "{k}: {metadata:?}");
            assert_eq!(sha, sha_fact, "{k}");
            assert_eq!(
                metadata.get("rows-users"),
                Some(&users.to_string()),
                "{k}: {metadata:?}"
            );
        }
    });

    let journal = out.journal();
    let dumps = calls(&journal, "postgres.dump");
    assert_eq!(dumps.len(), 1, "{journal:?}");
    assert!(dumps[0]["outcome"]["ok"].is_object(), "{:?}", dumps[0]);
    let puts = calls(&journal, "s3.put");
    assert_eq!(puts.len(), 2, "{journal:?}");
    assert_eq!(puts[0]["args"]["key"], key.as_str());
    assert_eq!(puts[1]["args"]["key"], "supabase/backup_latest.dump");
    // No credential in the journal: the S3 secret key (and the access key
    // as a value) never appear.
    let text = out.journal_text();
    let secret = lab.get("AWS_SECRET_ACCESS_KEY").unwrap();
    assert!(!text.contains(secret), "the S3 secret key is in the journal");
    let access = lab.get("AWS_ACCESS_KEY_ID").unwrap();
    assert!(
        !text.contains(&format!("\"{access}\"")),
        "the S3 access key is in the journal"
    );
    for (name, value) in lab.vars() {
        if (name.contains("PASSWORD") || name.contains("SECRET") || name.contains("TOKEN")) && value.len() >= 6 {
            assert!(!text.contains(value.as_str()), "{name}'s value is in the journal");
        }
    }
}

/// The rows of `table` in a custom-format dump, as `pg_restore` reads them
/// back (`--data-only -f -`: the COPY data as text, no database needed).
fn rows_in_dump(dump: &[u8], table: &str) -> usize {
    let file = drhost_tests::tmp::TmpDir::new("dump-").into_file("backup.dump", dump);
    let out = std::process::Command::new("pg_restore")
        .args(["--data-only", "--table", table, "-f", "-"])
        .arg(file.path())
        .output()
        .expect("pg_restore runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let copy = text
        .split_once(&format!("COPY public.{table} "))
        .unwrap_or_else(|| panic!("no COPY of {table} in the dump"))
        .1;
    let data = copy.split_once('\n').unwrap().1;
    data.lines().take_while(|l| *l != "\\.").count()
}

/// Puts `backup_latest.dump` back as it was (bytes and metadata), removes
/// the timestamped object a test made and the rows it added.
struct LatestBack<'a> {
    lab: &'a Lab,
    bytes: Vec<u8>,
    metadata: std::collections::HashMap<String, String>,
    made: Option<String>,
}

impl Drop for LatestBack<'_> {
    fn drop(&mut self) {
        let rt = rt();
        rt.block_on(async {
            if let Ok(pg) = self.lab.pg_client().await {
                let _ = pg
                    .execute("DELETE FROM users WHERE email LIKE 'backup-race-%'", &[])
                    .await;
            }
            let (Ok(s3), Ok(bucket)) = (self.lab.s3_client(), self.lab.s3_bucket()) else {
                return;
            };
            let _ = s3
                .put_object()
                .bucket(bucket)
                .key("supabase/backup_latest.dump")
                .set_metadata(Some(self.metadata.clone()))
                .body(self.bytes.clone().into())
                .send()
                .await;
            if let Some(key) = &self.made {
                let _ = s3.delete_object().bucket(bucket).key(key).send().await;
            }
        });
    }
}

/// `pg_dump` reads one snapshot between db-backup's two counts: a table
/// written to all the while has no count that is the dump's, so none is
/// recorded (it is named in `unverified-rows`), and a table nobody wrote to
/// is recorded with the count the dump really holds. Before, the count
/// taken before pg_dump was recorded, and db-restore then failed a
/// complete restore over the difference.
#[test]
fn db_backup_records_only_the_row_counts_the_dump_holds_under_concurrent_writes() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let (bytes, metadata) = rt.block_on(async {
        let object = lab
            .s3_client()
            .unwrap()
            .get_object()
            .bucket(lab.s3_bucket().unwrap())
            .key("supabase/backup_latest.dump")
            .send()
            .await
            .unwrap();
        let metadata = object.metadata().cloned().unwrap_or_default();
        (object.body.collect().await.unwrap().into_bytes().to_vec(), metadata)
    });
    let mut back = LatestBack {
        lab: &lab,
        bytes,
        metadata,
        made: None,
    };

    // A writer inserts users all through the backup (bounded: 20 s).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let lab = drhost_tests::lab::up();
        std::thread::spawn(move || {
            drhost_tests::lab::runtime().block_on(async {
                let pg = lab.pg_client().await.unwrap();
                let started = std::time::Instant::now();
                let mut written = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && started.elapsed().as_secs() < 20 {
                    pg.execute(
                        "INSERT INTO users (email, name, plan, created_at) VALUES ('backup-race-' || $1::text || '@example.com', 'race', 'free', now())",
                        &[&written.to_string()],
                    )
                    .await
                    .unwrap();
                    written += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                written
            })
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let out = lab_run(&lab, "db-backup").exec();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let key = out.fact("key").unwrap();
    back.made = Some(key.clone());
    assert!(written > 10, "the writer wrote {written} rows");

    let (dump, metadata) = rt.block_on(async {
        let object = lab
            .s3_client()
            .unwrap()
            .get_object()
            .bucket(lab.s3_bucket().unwrap())
            .key(&key)
            .send()
            .await
            .unwrap();
        let metadata = object.metadata().cloned().unwrap_or_default();
        (object.body.collect().await.unwrap().into_bytes().to_vec(), metadata)
    });
    // users moved under pg_dump: no count for it, and it is named.
    assert_eq!(metadata.get("rows-users"), None, "{metadata:?}");
    assert_eq!(
        metadata.get("unverified-rows").map(String::as_str),
        Some("users"),
        "{metadata:?}"
    );
    assert_eq!(out.fact("unverified-rows").as_deref(), Some("users"));
    // projects did not: its recorded count is what the dump holds.
    let projects = rows_in_dump(&dump, "projects");
    assert_eq!(
        metadata.get("rows-projects"),
        Some(&projects.to_string()),
        "{metadata:?}"
    );
    assert!(projects > 0);
    // And the dump holds some of the rows written during the backup, more
    // than were there when it began: the counts before it would be wrong.
    let users_in_dump = rows_in_dump(&dump, "users");
    let users_before: usize = events(&out.journal(), "step-note")
        .iter()
        .find(|e| e["step"] == "count the rows of every table" && e["message"].as_str().unwrap().starts_with("users: "))
        .and_then(|e| e["message"].as_str().unwrap()["users: ".len()..].parse().ok())
        .expect("the first count of users is noted");
    assert!(
        users_in_dump > users_before,
        "{users_in_dump} rows in the dump, {users_before} counted before it"
    );
}

/// Removes every object under a prefix when dropped.
struct PrefixGone<'a>(&'a Lab, &'static str);

impl Drop for PrefixGone<'_> {
    fn drop(&mut self) {
        rt().block_on(async {
            let (Ok(s3), Ok(bucket)) = (self.0.s3_client(), self.0.s3_bucket()) else {
                return;
            };
            let all: Vec<String> = keys(self.0, self.1).await.into_iter().collect();
            for chunk in all.chunks(1000) {
                let ids: Vec<_> = chunk
                    .iter()
                    .filter_map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).build().ok())
                    .collect();
                let Ok(delete) = aws_sdk_s3::types::Delete::builder().set_objects(Some(ids)).build() else {
                    continue;
                };
                let _ = s3.delete_objects().bucket(bucket).delete(delete).send().await;
            }
        });
    }
}

/// More backups under the prefix than one S3 listing may return (the host
/// refuses such a listing whole): db-restore narrows the listing by the
/// stamp in the keys, month by month from this one, and still finds the
/// newest backup instead of failing or taking an old one.
#[test]
fn db_restore_finds_the_newest_of_more_backups_than_one_listing_holds() {
    const PREFIX: &str = "supabase/many-backups/";
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let _gone = PrefixGone(&lab, PREFIX);
    // UTC now as db-backup stamps it, and last month.
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y%m%d_%H%M%S"])
        .output()
        .unwrap();
    let now = String::from_utf8(date.stdout).unwrap().trim().to_string();
    let (year, month): (u32, u32) = (now[..4].parse().unwrap(), now[4..6].parse().unwrap());
    let last_month = if month == 1 {
        format!("{:04}12", year - 1)
    } else {
        format!("{year:04}{:02}", month - 1)
    };
    let newest = format!("{PREFIX}backup_{now}.dump");
    rt.block_on(async {
        let s3 = lab.s3_client().unwrap();
        let bucket = lab.s3_bucket().unwrap();
        // Last month: 10,001 old backups (empty objects, never restored).
        let old: Vec<String> = (0..10_001u32)
            .map(|i| format!("{PREFIX}backup_{last_month}{:02}_{:06}", 1 + i / 1000 % 28, i % 1000))
            .map(|k| format!("{k}.dump"))
            .collect();
        for chunk in old.chunks(64) {
            let puts = chunk
                .iter()
                .map(|k| s3.put_object().bucket(bucket).key(k).body(Vec::new().into()).send());
            for put in futures_util::future::join_all(puts).await {
                put.unwrap();
            }
        }
        // This month: one real backup, the latest dump with its metadata.
        let latest = s3
            .get_object()
            .bucket(bucket)
            .key("supabase/backup_latest.dump")
            .send()
            .await
            .unwrap();
        let metadata = latest.metadata().cloned();
        let bytes = latest.body.collect().await.unwrap().into_bytes();
        s3.put_object()
            .bucket(bucket)
            .key(&newest)
            .set_metadata(metadata)
            .body(bytes.to_vec().into())
            .send()
            .await
            .unwrap();
    });

    // A plan: the reads (list, head, get) run, nothing is restored.
    let out = lab_run(&lab, "db-restore").param("prefix", PREFIX).arg("--plan").exec();
    let journal = out.journal();
    let gets = calls(&journal, "s3.get");
    assert_eq!(gets.len(), 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(gets[0]["args"]["key"], newest.as_str(), "{}", gets[0]);
    assert!(gets[0]["outcome"]["ok"].is_object(), "{}", gets[0]);
    let lists = calls(&journal, "s3.list");
    assert_eq!(lists[0]["outcome"]["error"]["kind"], "invalid-argument", "{}", lists[0]);
    assert!(lists.len() >= 2, "{lists:?}");
    assert!(calls(&journal, "postgres.restore")
        .iter()
        .all(|c| c["outcome"]["error"]["kind"] == "planned"));
}

#[test]
fn a_put_outside_the_granted_prefixes_is_denied_and_writes_nothing() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    assert!(base.contains("prefixes = [\"supabase/*\"]"), "lab config changed shape");
    let config = cli::config(&base.replace("prefixes = [\"supabase/*\"]", "prefixes = [\"other/*\"]"));

    let before = rt.block_on(keys(&lab, "supabase/"));
    let out = lab_run(&lab, "db-backup").config(&config).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let after = rt.block_on(keys(&lab, "supabase/"));
    assert_eq!(before, after, "an object was written despite the denial");
    assert!(rt.block_on(keys(&lab, "other/")).is_empty());

    let journal = out.journal();
    let puts = calls(&journal, "s3.put");
    assert_eq!(puts.len(), 1, "{journal:?}");
    assert_eq!(puts[0]["outcome"]["error"]["kind"], "access-denied", "{:?}", puts[0]);
    let message = puts[0]["outcome"]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("[[plugins.db-backup.s3]]\ntarget = \"backups\"\nprefixes = [\"supabase/backup_"),
        "{message}"
    );
}

// --- Scenario 1: db-restore (option B) and db-outage (option A) -------------

const APP_PATH: &str = "toolboxai/supabase";

/// Runs a lab shell snippet with lab/lib.sh sourced (as root, like make lab).
fn lab_shell(lab: &Lab, script: &str) {
    let status = lab
        .bash()
        .arg("-c")
        .arg(format!("set -euo pipefail; source lab/lib.sh; {script}"))
        .status()
        .expect("bash runs");
    assert!(status.success(), "lab shell failed: {script}");
}

/// Stops the lab's Postgres: `fast` (clean) or `immediate` (a crash: every
/// backend is killed at once, no checkpoint).
fn stop_postgres(lab: &Lab, mode: &str) {
    lab_shell(
        lab,
        &format!("runuser -u postgres -- \"$LAB_PGBIN/pg_ctl\" -D \"$LAB_DIR/pg/data\" -w stop -m {mode} >/dev/null"),
    );
}

/// Starts the lab's Postgres again (its own service script, idempotent).
fn start_postgres(lab: &Lab) {
    lab_shell(lab, "bash lab/services/postgres.sh >/dev/null");
}

/// Puts Postgres back whatever a test did (runs on panic too).
struct PostgresBack<'a>(&'a Lab);

impl Drop for PostgresBack<'_> {
    fn drop(&mut self) {
        start_postgres(self.0);
    }
}

async fn scalar(pg: &tokio_postgres::Client, sql: &str) -> i64 {
    pg.query_one(sql, &[]).await.unwrap().get(0)
}

/// The application's settings in the lab's Vault, and their version.
async fn app_settings(lab: &Lab) -> (std::collections::HashMap<String, String>, u64) {
    let vault = lab.vault_client().unwrap();
    let data = vaultrs::kv2::read(&vault, "secret", APP_PATH).await.unwrap();
    let meta = vaultrs::kv2::read_metadata(&vault, "secret", APP_PATH).await.unwrap();
    (data, meta.current_version)
}

async fn backend_health(lab: &Lab) -> Vec<u16> {
    let http = lab.http();
    let mut codes = Vec::new();
    for url in lab.backend_urls().unwrap() {
        let code = match http.get(format!("{url}/health")).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        codes.push(code);
    }
    codes
}

/// No secret of the lab's appears anywhere the run wrote.
fn assert_no_secret(lab: &Lab, out: &Outcome) {
    let password = std::fs::read_to_string(lab.get("PG_PASSWORD_FILE").unwrap()).unwrap();
    let password = password.trim();
    assert!(
        password.len() >= 12,
        "the lab's Postgres password is too short to search for"
    );
    for (name, text) in [
        ("journal", out.journal_text()),
        ("stdout", out.stdout.clone()),
        ("stderr", out.stderr.clone()),
    ] {
        assert!(!text.contains(password), "the database password is in the {name}");
        assert!(
            !text.contains(&percent_encoded(password)),
            "the encoded database password is in the {name}"
        );
        assert!(
            !text.contains(lab.get("VAULT_TOKEN").unwrap()),
            "the Vault token is in the {name}"
        );
        assert!(
            !text.contains(lab.get("AWS_SECRET_ACCESS_KEY").unwrap()),
            "the S3 secret key is in the {name}"
        );
    }
}

#[test]
fn db_restore_brings_back_a_dropped_database_and_repoints_the_app() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();

    // Seed: rows that exist only in this backup; a stale database_url in Vault.
    let users = rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        pg.execute("DELETE FROM users WHERE email LIKE 'restore-test-%'", &[]).await.unwrap();
        pg.execute(
            "INSERT INTO users (email, name, plan, created_at) SELECT 'restore-test-' || g || '@example.com', 'restore test ' || g, 'free', now() FROM generate_series(1, 7) g",
            &[],
        )
        .await
        .unwrap();
        scalar(&pg, "SELECT count(*) FROM users").await
    });
    let backup = lab_run(&lab, "db-backup").exec();
    assert_eq!(backup.code, 0, "{}\n{}", backup.stdout, backup.stderr);
    let key = backup.fact("key").unwrap();
    assert_eq!(backup.fact("rows-users").as_deref(), Some(users.to_string().as_str()));
    let vault = lab.vault_client().unwrap();
    let (before, version_before) = rt.block_on(async {
        let (mut data, _) = app_settings(&lab).await;
        data.insert(
            "database_url".into(),
            "postgresql://postgres@db.stale.example:5432/gone".into(),
        );
        vaultrs::kv2::set(&vault, "secret", APP_PATH, &data).await.unwrap();
        app_settings(&lab).await
    });

    // Disaster: the database is gone; the backends notice.
    rt.block_on(async {
        let pg = lab.pg_client_for("postgres").await.unwrap();
        pg.execute("DROP DATABASE toolboxai WITH (FORCE)", &[]).await.unwrap();
    });
    assert!(
        rt.block_on(backend_health(&lab)).iter().all(|c| *c != 200),
        "backends healthy without a database"
    );

    let out = lab_run(&lab, "db-restore").exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // It diagnosed first, as the runbook does: the lab's status page says
    // operational, the database did not answer, and the backends' logs say
    // why they are unhealthy.
    assert_eq!(out.json()["steps"][0]["name"], "diagnose", "{}", out.stdout);
    assert_eq!(out.fact("provider-status").as_deref(), Some("none"));
    assert_eq!(out.fact("database").as_deref(), Some("down"));
    let lines: usize = out.fact("backend-database-log-lines").unwrap().parse().unwrap();
    assert!(lines >= 1, "{lines} database log lines");
    assert_eq!(out.fact("backup").as_deref(), Some(key.as_str()));
    assert_eq!(out.fact("verified").as_deref(), Some("sha256"));
    assert_eq!(out.fact("rows-users").as_deref(), Some(users.to_string().as_str()));

    // The real database holds the backup's rows.
    rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        assert_eq!(scalar(&pg, "SELECT count(*) FROM users").await, users);
        assert_eq!(
            scalar(&pg, "SELECT count(*) FROM users WHERE email LIKE 'restore-test-%'").await,
            7
        );
        pg.execute("DELETE FROM users WHERE email LIKE 'restore-test-%'", &[])
            .await
            .unwrap();
    });
    // Vault points the application at it, with the real password, composed
    // in the host; the other fields are kept.
    let (after, version_after) = rt.block_on(app_settings(&lab));
    let password = std::fs::read_to_string(lab.get("PG_PASSWORD_FILE").unwrap()).unwrap();
    let expected = format!(
        "postgresql://postgres:{}@127.0.0.1:{}/toolboxai",
        percent_encoded(password.trim()),
        lab.get("PG_PORT").unwrap()
    );
    assert_eq!(after.get("database_url"), Some(&expected));
    assert_eq!(after.get("url"), before.get("url"));
    assert_eq!(version_after, version_before + 1);
    assert_eq!(out.fact("vault-version"), Some(version_after.to_string()));
    // The backends were restarted and are healthy.
    assert_eq!(rt.block_on(backend_health(&lab)), vec![200; 3]);

    let journal = out.journal();
    for call in ["s3.get", "postgres.create-database", "postgres.restore", "vault.patch"] {
        let found = calls(&journal, call);
        assert_eq!(found.len(), 1, "{call}: {journal:?}");
        assert!(
            found[0]["outcome"]["error"].is_null() && found[0]["outcome"]["ok"].is_object(),
            "{:?}",
            found[0]
        );
    }
    assert_eq!(calls(&journal, "docker.restart-container").len(), 3);
    assert_eq!(calls(&journal, "secret.reveal").len(), 0);
    assert_no_secret(&lab, &out);
}

#[test]
fn a_missing_backup_fails_with_one_clear_line_and_touches_nothing() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let out = lab_run(&lab, "db-restore")
        .param("backup", "backup_19990101_000000.dump")
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let summary = report["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        "backup supabase/backup_19990101_000000.dump does not exist in s3 target `backups`"
    );
    assert!(report["hint"].as_str().unwrap().contains("--param backup="), "{report}");
    let journal = out.journal();
    assert!(calls(&journal, "postgres.restore").is_empty());
    assert!(calls(&journal, "s3.get").is_empty());
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end");
}

#[test]
fn s3_or_vault_outside_the_grant_is_denied() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();

    // S3: the backups' prefix is not granted — nothing is listed or restored.
    let s3_grant = "[[plugins.db-restore.s3]]\ntarget = \"backups\"\nprefixes = [\"supabase/*\"]";
    assert!(base.contains(s3_grant), "lab config changed shape");
    let config = cli::config(&base.replace(
        s3_grant,
        "[[plugins.db-restore.s3]]\ntarget = \"backups\"\nprefixes = [\"other/*\"]",
    ));
    let out = lab_run(&lab, "db-restore").config(&config).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let journal = out.journal();
    let listed = calls(&journal, "s3.list");
    assert_eq!(listed[0]["outcome"]["error"]["kind"], "access-denied", "{listed:?}");
    assert!(listed[0]["outcome"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("[[plugins.db-restore.s3]]"));
    assert!(calls(&journal, "postgres.restore").is_empty());

    // Vault: the credentials path is outside the grant — read denied, the
    // application's settings keep their version.
    let vault_grant = "[[plugins.db-restore.vault]]\ntarget = \"main\"\npaths = [\"secret/toolboxai/*\"]";
    assert!(base.contains(vault_grant), "lab config changed shape");
    let config = cli::config(&base.replace(
        vault_grant,
        "[[plugins.db-restore.vault]]\ntarget = \"main\"\npaths = [\"secret/toolboxai/supabase\"]",
    ));
    let (_, version_before) = rt.block_on(app_settings(&lab));
    let out = lab_run(&lab, "db-restore").config(&config).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let journal = out.journal();
    let read = calls(&journal, "vault.read");
    assert_eq!(read.len(), 1, "{journal:?}");
    assert_eq!(read[0]["outcome"]["error"]["kind"], "access-denied", "{read:?}");
    assert!(read[0]["outcome"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("paths = [\"secret/toolboxai/postgres\"]"));
    assert!(calls(&journal, "vault.patch").is_empty());
    assert!(
        calls(&journal, "postgres.restore").is_empty(),
        "restored before checking Vault"
    );
    assert_eq!(rt.block_on(app_settings(&lab)).1, version_before);
    assert_no_secret(&lab, &out);
}

#[test]
fn s3_or_vault_down_is_unavailable_with_one_line() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    let s3 = lab.get("S3_ENDPOINT").unwrap();
    let vault = lab.get("VAULT_ADDR").unwrap();
    for (service, real, call) in [("s3", s3, "s3.list"), ("vault", vault, "vault.read")] {
        assert!(base.contains(real), "lab config changed shape");
        let config = cli::config(&base.replace(real, "http://127.0.0.1:1"));
        let out = lab_run(&lab, "db-restore").config(&config).exec();
        assert_eq!(out.code, 1, "{service}: {}\n{}", out.stdout, out.stderr);
        let journal = out.journal();
        let failed = calls(&journal, call);
        assert_eq!(
            failed[0]["outcome"]["error"]["kind"], "unavailable",
            "{service}: {failed:?}"
        );
        let summary = out.json()["summary"].as_str().unwrap().to_string();
        assert!(
            summary.starts_with("unavailable: ") && summary.contains("127.0.0.1:1"),
            "{service}: {summary}"
        );
        assert!(
            !summary.contains('\n') && summary.len() < 300,
            "{service}: not one clear line: {summary}"
        );
        assert!(
            calls(&journal, "postgres.restore").is_empty(),
            "{service}: restored before checking"
        );
        assert_eq!(journal.last().unwrap()["event"], "run-end");
    }
}

#[test]
fn postgres_killed_during_restore_fails_cleanly_and_a_rerun_succeeds() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let prefix = "supabase/drill/";
    const BULK: i64 = 1_000_000;

    // A backup big enough for the restore to be caught mid-way.
    rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        pg.batch_execute(&format!(
            "DROP TABLE IF EXISTS bulk; CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, {BULK}) g; ALTER TABLE bulk ADD PRIMARY KEY (id);"
        ))
        .await
        .unwrap();
    });
    let backup = lab_run(&lab, "db-backup").param("prefix", prefix).exec();
    assert_eq!(backup.code, 0, "{}\n{}", backup.stdout, backup.stderr);
    assert_eq!(backup.fact("rows-bulk"), Some(BULK.to_string()));

    let postgres_back = PostgresBack(&lab);
    let restore = std::thread::scope(|scope| {
        let run = scope.spawn(|| lab_run(&lab, "db-restore").param("prefix", prefix).exec());
        // Kill Postgres as soon as pg_restore is loading the big table.
        let watcher = rt.block_on(async {
            let pg = lab.pg_client_for("postgres").await.unwrap();
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while std::time::Instant::now() < until {
                let copying = pg
                    .query(
                        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_restore' AND query ILIKE 'COPY public.bulk%'",
                        &[],
                    )
                    .await
                    .map(|r| !r.is_empty())
                    .unwrap_or(false);
                if copying {
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            false
        });
        assert!(watcher, "pg_restore never started loading table bulk");
        stop_postgres(&lab, "immediate");
        run.join().unwrap()
    });
    assert_eq!(restore.code, 1, "{}\n{}", restore.stdout, restore.stderr);
    let report = restore.json();
    assert!(
        report["failed_step"].as_str().unwrap().starts_with("pg_restore"),
        "{report}"
    );
    let journal = restore.journal();
    let restored = calls(&journal, "postgres.restore");
    assert_eq!(restored.len(), 1, "{journal:?}");
    let kind = restored[0]["outcome"]["error"]["kind"].as_str().unwrap();
    // The server went away under pg_restore: the service is down, not a bad dump.
    assert_eq!(kind, "unavailable", "{:?}", restored[0]);
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end");
    assert_eq!(end["exit_code"], 1, "{end:?}");
    assert!(
        calls(&journal, "vault.patch").is_empty(),
        "Vault was updated after a failed restore"
    );

    // The operator brings Postgres back and runs the same command again.
    drop(postgres_back);
    let rerun = lab_run(&lab, "db-restore").param("prefix", prefix).exec();
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert_eq!(rerun.fact("rows-bulk"), Some(BULK.to_string()));
    rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        assert_eq!(scalar(&pg, "SELECT count(*) FROM bulk").await, BULK);
        pg.execute("DROP TABLE bulk", &[]).await.unwrap();
        let s3 = lab.s3_client().unwrap();
        for key in keys(&lab, "supabase/drill/").await {
            s3.delete_object()
                .bucket(lab.s3_bucket().unwrap())
                .key(key)
                .send()
                .await
                .unwrap();
        }
    });
    assert_no_secret(&lab, &rerun);
}

/// What the lab's proxy answers on `/health`: status and whether it is the
/// maintenance page.
async fn proxy(lab: &Lab) -> (u16, bool) {
    let url = format!("{}/health", lab.nginx_url().unwrap());
    match lab.http().get(&url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            (status, body.contains("under maintenance"))
        }
        Err(_) => (0, false),
    }
}

#[test]
fn db_outage_serves_the_maintenance_page_until_the_database_is_back() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    assert_eq!(
        rt.block_on(proxy(&lab)),
        (200, false),
        "the proxy is not healthy before the test"
    );

    // Nothing to do while the database answers.
    let outage = |wait: &str| {
        lab_run(&lab, "db-outage")
            .params(&[("interval", "200ms"), ("wait", wait)])
            .exec()
    };
    let out = outage("30s");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("maintenance").as_deref(), Some("not-needed"));
    assert!(calls(&out.journal(), "docker.exec").is_empty());
    // Its diagnosis (issue 20), as the runbook writes it.
    assert_eq!(out.fact("provider-status").as_deref(), Some("none"));
    assert_eq!(out.fact("database").as_deref(), Some("up"));

    // The database goes down; the database comes back once the proxy shows
    // the maintenance page.
    let postgres_back = PostgresBack(&lab);
    stop_postgres(&lab, "fast");
    let (out, seen) = std::thread::scope(|scope| {
        let run = scope.spawn(|| outage("60s"));
        let seen = rt.block_on(async {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while std::time::Instant::now() < until {
                let answer = proxy(&lab).await;
                if answer == (503, true) {
                    return Some(answer);
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            None
        });
        start_postgres(&lab);
        (run.join().unwrap(), seen)
    });
    drop(postgres_back);
    assert_eq!(seen, Some((503, true)), "the proxy never served the maintenance page");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("maintenance").as_deref(), Some("done"));
    assert_eq!(rt.block_on(proxy(&lab)), (200, false));
    let journal = out.journal();
    let execs: Vec<String> = calls(&journal, "docker.exec")
        .iter()
        .map(|c| c["args"]["argv"].to_string())
        .collect();
    assert_eq!(execs.len(), 6, "{execs:?}");
    assert!(
        execs[0].contains("maintenance.conf") && execs[3].contains("toolboxai.conf.backup"),
        "{execs:?}"
    );

    // A run that gives up leaves the proxy in maintenance (the safe state);
    // the next run, with the database back, switches it back. Each backend
    // is asked for its health first, so each logs why it is degraded: what
    // the runbook's `docker logs … | grep -i "database\|connection"` finds.
    let postgres_back = PostgresBack(&lab);
    stop_postgres(&lab, "fast");
    let backends = lab.backend_urls().unwrap();
    for url in &backends {
        let status = rt.block_on(drhost_tests::docker::health(&lab, url));
        assert_eq!(status, 503, "{url} answers 503 without its database");
    }
    let out = outage("1s");
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("database").as_deref(), Some("down"));
    let lines: usize = out.fact("backend-database-log-lines").unwrap().parse().unwrap();
    assert!(lines >= backends.len(), "{lines} lines for {} backends", backends.len());
    let diagnosis: Vec<String> = events(&out.journal(), "step-note")
        .iter()
        .filter(|e| e["step"] == "diagnose")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        diagnosis
            .iter()
            .any(|n| n.starts_with("toolboxai-backend1: ") && n.contains("database connection failed")),
        "the backend's own log line is quoted: {diagnosis:#?}"
    );
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("stays in maintenance mode"), "{summary}");
    assert_eq!(rt.block_on(proxy(&lab)), (503, true));
    drop(postgres_back);
    let out = outage("30s");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("maintenance").as_deref(), Some("done"));
    assert_eq!(rt.block_on(proxy(&lab)), (200, false));
}

/// Puts the lab's status page back to "All Systems Operational" however the
/// test ends (`lab/services/statuspage.sh` writes the same file).
struct StatusPageBack<'a>(&'a Lab, String);

impl<'a> StatusPageBack<'a> {
    fn new(lab: &'a Lab) -> Self {
        let file = lab.get("STATUSPAGE_FILE").unwrap().to_string();
        let saved = std::fs::read_to_string(&file).unwrap();
        assert!(
            saved.contains("\"indicator\":\"none\""),
            "the page starts operational: {saved}"
        );
        StatusPageBack(lab, saved)
    }

    /// Serves `json` as the provider's status.
    fn serve(&self, json: &str) {
        let file = self.0.get("STATUSPAGE_FILE").unwrap();
        std::fs::write(file, json).unwrap();
    }
}

impl Drop for StatusPageBack<'_> {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.get("STATUSPAGE_FILE").unwrap(), &self.1);
    }
}

/// The runbook's first diagnosis line, `curl …/api/v2/status.json`, read by
/// db-outage from the lab's real status page server: the provider's
/// indicator becomes a fact; text the page controls never reaches the
/// operator raw; a page that does not answer is evidence, not a failure;
/// and the host the default page lives on is a grant like any other.
#[test]
fn db_outage_reports_the_providers_status_page_and_never_trusts_it() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let page = StatusPageBack::new(&lab);
    let run = || lab_run(&lab, "db-outage").params(&[("interval", "200ms"), ("wait", "30s")]);
    let notes = |out: &Outcome| -> Vec<String> {
        events(&out.journal(), "step-note")
            .iter()
            .filter(|e| e["step"] == "diagnose")
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    };

    page.serve(r#"{"page":{"id":"lab"},"status":{"indicator":"major","description":"Partial System Outage"}}"#);
    let out = run().exec();
    assert_eq!(out.code, 0, "the database answers: {}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("provider-status").as_deref(), Some("major"));
    assert!(
        notes(&out).contains(&"status page: major (Partial System Outage)".to_string()),
        "{:#?}",
        notes(&out)
    );
    let journal = out.journal();
    let gets = calls(&journal, "http.get");
    let url = lab.get("STATUSPAGE_URL").unwrap();
    assert!(gets.iter().any(|g| g["args"]["url"] == url), "{gets:#?}");

    // A hostile page: an escape sequence for an indicator, a description
    // that clears the screen. Neither reaches the journal or the terminal.
    page.serve("{\"status\":{\"indicator\":\"none\\u001b[2J\",\"description\":\"ok\\u001b[31m\"}}");
    let out = run().exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("provider-status").as_deref(), Some("unknown"));
    for text in [
        &out.stdout,
        &out.stderr,
        &std::fs::read_to_string(out.journal_path().unwrap()).unwrap(),
    ] {
        assert!(!text.contains('\u{1b}'), "an escape reached the output: {text}");
    }

    // No page at all: still a diagnosis, still exit 0.
    let out = run()
        .param("status-page", "http://127.0.0.1:1/api/v2/status.json")
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("provider-status").as_deref(), Some("unknown"));
    drop(page);

    // Without the grant for the default page's host the run is refused up
    // front, with the lines to add.
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    let without = base.replace(
        "host = \"status.supabase.com:443\"",
        "host = \"status.example.invalid:443\"",
    );
    assert_ne!(without, base, "the lab grants the status page host");
    let config = cli::config(&without);
    let out = run().config(&config).exec();
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let message = out.json()["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("http status.supabase.com:443") && message.contains("host = \"status.supabase.com:443\""),
        "{message}"
    );
}

/// db-outage's `wait` defaults to 15 min, as long as a default run's
/// deadline: the plugin must end its wait itself, before the deadline, and
/// leave its safe state (the proxy in maintenance mode) with its own message
/// — a plugin failure (exit 1) naming its step, not the sandbox stopping it
/// (exit 4). Then, with the database back, the next run switches back.
#[test]
fn db_outage_ends_its_wait_before_the_run_deadline_with_its_own_message() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    assert_eq!(
        rt.block_on(proxy(&lab)),
        (200, false),
        "the proxy is not healthy before the test"
    );
    let postgres_back = PostgresBack(&lab);
    stop_postgres(&lab, "fast");

    let out = lab_run(&lab, "db-outage").timeout("20s").param("interval", "1s").exec();
    assert_eq!(
        out.code, 1,
        "a plugin failure, not the deadline:\n{}\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.elapsed < std::time::Duration::from_secs(20),
        "ran {:?}, past its deadline",
        out.elapsed
    );
    let report = out.json();
    assert_eq!(report["status"], "failed");
    let step = report["failed_step"].as_str().unwrap_or_default();
    assert!(
        step.starts_with("wait for the database (every 1 s, at most ") && step.ends_with("before the run's deadline)"),
        "{report:#}"
    );
    let summary = report["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("the database is still down after ")
            && summary.contains("the run's deadline left no time for the 15 min asked for")
            && summary.contains("the proxy stays in maintenance mode"),
        "{summary}"
    );
    assert!(!summary.contains("Some(") && !summary.contains("ms }"), "{summary}");
    let hint = report["hint"].as_str().unwrap_or_default();
    assert!(hint.contains("--timeout"), "{hint}");
    assert_eq!(out.fact("maintenance").as_deref(), Some("on"));
    let journal = out.journal();
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end");
    assert_eq!(end["status"], "failed");
    assert_eq!(end["exit_code"], 1);
    let wait_end = events(&journal, "step-end")
        .into_iter()
        .find(|e| {
            e["step"]
                .as_str()
                .unwrap_or_default()
                .starts_with("wait for the database")
        })
        .unwrap_or_else(|| panic!("the wait step never ended: {journal:?}"));
    assert_eq!(wait_end["ok"], false, "{wait_end}");
    // The safe state it promised: the maintenance page.
    assert_eq!(rt.block_on(proxy(&lab)), (503, true));

    drop(postgres_back);
    let out = lab_run(&lab, "db-outage")
        .params(&[("interval", "200ms"), ("wait", "30s")])
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("maintenance").as_deref(), Some("done"));
    assert_eq!(rt.block_on(proxy(&lab)), (200, false));
}

/// The proxy's active site, the site it is restored from, and a site file
/// that breaks `nginx -t` (nginx.conf includes `sites-enabled/*.conf`).
const ACTIVE_SITE: &str = "/etc/nginx/sites-enabled/default.conf";
const BROKEN_SITE: &str = "/etc/nginx/sites-enabled/zz-drhost-test-broken.conf";
const MAINTENANCE_SITE: &str = "/etc/nginx/maintenance.conf";
const SAVED_SITE: &str = "/etc/nginx/sites-enabled/toolboxai.conf.backup";

/// `docker exec` in the lab's proxy: exit code and output.
fn in_proxy(lab: &Lab, argv: &[&str]) -> (i64, String) {
    rt().block_on(async {
        match lab.docker().await {
            Ok(docker) => drhost_tests::docker::exec_output(&docker, drhost_tests::docker::NGINX, argv).await,
            Err(e) => (-1, format!("{e:#}")),
        }
    })
}

/// Puts the proxy back as the test found it, however the test ends: the
/// broken site file removed, the active site's bytes as they were, nginx
/// reloaded, serving the normal site. While a failed test unwinds it only
/// says what it could not restore (a second panic would abort the binary).
struct ProxyBack {
    lab: Lab,
    active: String,
}

impl ProxyBack {
    /// The guard for a proxy that serves the normal site now (asserted),
    /// holding its active site's bytes.
    fn healthy(lab: &Lab) -> ProxyBack {
        assert_eq!(
            rt().block_on(proxy(lab)),
            (200, false),
            "the proxy is not healthy before the test"
        );
        let (code, active) = in_proxy(lab, &["cat", ACTIVE_SITE]);
        assert_eq!(code, 0, "{active}");
        ProxyBack {
            lab: lab.clone(),
            active,
        }
    }

    fn restore(&self) -> Result<(), String> {
        let (rm, said) = in_proxy(&self.lab, &["rm", "-f", BROKEN_SITE]);
        if rm != 0 {
            return Err(format!("rm {BROKEN_SITE} in the proxy: {said}"));
        }
        if in_proxy(&self.lab, &["cat", ACTIVE_SITE]) != (0, self.active.clone()) {
            let script = "printf '%s' \"$1\" > \"$2\"";
            let (code, said) = in_proxy(&self.lab, &["sh", "-c", script, "sh", &self.active, ACTIVE_SITE]);
            if code != 0 {
                return Err(format!("cannot put {ACTIVE_SITE} back: {said}"));
            }
        }
        let (code, said) = in_proxy(&self.lab, &["nginx", "-s", "reload"]);
        if code != 0 {
            return Err(format!("nginx -s reload in the proxy: {said}"));
        }
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while rt().block_on(proxy(&self.lab)) != (200, false) {
            if std::time::Instant::now() > until {
                return Err("the proxy does not serve the normal site after its restore".to_string());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }
}

impl Drop for ProxyBack {
    fn drop(&mut self) {
        if let Err(why) = self.restore() {
            if std::thread::panicking() {
                eprintln!("ProxyBack: {why}; run `make lab`");
            } else {
                panic!("{why}; run `make lab`");
            }
        }
    }
}

/// Puts a site file nginx cannot parse into the proxy's `sites-enabled/`:
/// `nginx -t` fails until [`ProxyBack`] removes it.
fn break_nginx_t(lab: &Lab) {
    let script = "printf 'this is not an nginx directive;\\n' > \"$1\"";
    assert_eq!(in_proxy(lab, &["sh", "-c", script, "sh", BROKEN_SITE]).0, 0);
    let (code, said) = in_proxy(lab, &["nginx", "-t"]);
    assert_ne!(code, 0, "nginx -t passes with {BROKEN_SITE}: {said}");
}

/// The argv of each `docker.exec` call in a journal, in order.
fn proxy_execs(journal: &[serde_json::Value]) -> Vec<serde_json::Value> {
    calls(journal, "docker.exec")
        .iter()
        .map(|c| c["args"]["argv"].clone())
        .collect()
}

/// Runbook scenario 1 option A with `nginx -t` failing mid-switch, for
/// real: a site file nginx cannot parse sits in the proxy's
/// `sites-enabled/`, and the database is down (the run's own config points
/// `primary` at a closed port; the lab's Postgres is not touched). db-outage
/// copies the maintenance site over the active one, `nginx -t` refuses, and
/// then: exit 1 naming `nginx -t` in its step, no reload, the active site
/// copied back (so the files hold what nginx serves), and the proxy still
/// serving the normal site — also after a later reload by someone else,
/// once the broken file is gone.
#[test]
fn db_outage_whose_nginx_t_fails_mid_switch_puts_the_site_back_and_the_proxy_keeps_serving() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let back = ProxyBack::healthy(&lab);
    let active = back.active.clone();
    break_nginx_t(&lab);

    // The database is down for this run: `primary` is a port nothing listens
    // on. db-outage's grants as the lab gives them (lab/drhost-toml.sh).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = cli::config(&format!(
        r#"[targets.postgres.primary]
url = "postgresql://postgres@127.0.0.1:{closed}/toolboxai"

[[plugins.db-outage.postgres]]
target = "primary"
access = ["read"]

[[plugins.db-outage.docker]]
containers = ["toolboxai-nginx-proxy"]
access = ["read", "write"]
exec = [
    ["cp", "/etc/nginx/maintenance.conf", "/etc/nginx/sites-enabled/default.conf"],
    ["cp", "/etc/nginx/sites-enabled/toolboxai.conf.backup", "/etc/nginx/sites-enabled/default.conf"],
    ["nginx", "-t"],
    ["nginx", "-s", "reload"],
]

[[plugins.db-outage.docker]]
containers = ["toolboxai-backend*"]
access = ["read"]

[[plugins.db-outage.http]]
host = "127.0.0.1:*"

[[plugins.db-outage.http]]
host = "status.supabase.com:443"

[plugins.db-outage.params]
status-page = "{}"
"#,
        lab.get("STATUSPAGE_URL").unwrap()
    ));
    let out = lab_run(&lab, "db-outage")
        .config(&config)
        .params(&[("interval", "200ms"), ("wait", "30s")])
        .exec();

    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("database").as_deref(), Some("down"), "{}", out.stdout);
    // What nginx serves and what its files say agree: the normal site.
    assert_eq!(rt.block_on(proxy(&lab)), (200, false));
    assert_eq!(
        in_proxy(&lab, &["cat", ACTIVE_SITE]),
        (0, active.clone()),
        "the active site on disk is not the one nginx serves"
    );
    // A later reload (the broken file fixed) loads the normal site, not
    // half a switch to the maintenance page.
    assert_eq!(in_proxy(&lab, &["rm", "-f", BROKEN_SITE]).0, 0);
    let (code, said) = in_proxy(&lab, &["nginx", "-s", "reload"]);
    assert_eq!(code, 0, "{said}");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < until {
        assert_eq!(
            rt.block_on(proxy(&lab)),
            (200, false),
            "a later reload put the proxy in maintenance mode"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let report = out.json();
    assert_eq!(
        report["failed_step"], "enable maintenance mode on toolboxai-nginx-proxy",
        "{report:#}"
    );
    let summary = report["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("`nginx -t` in toolboxai-nginx-proxy exited 1: ")
            && summary.contains(&format!("unknown directive \"this\" in {BROKEN_SITE}"))
            && summary.contains(
                "put /etc/nginx/sites-enabled/toolboxai.conf.backup back as /etc/nginx/sites-enabled/default.conf"
            ),
        "{summary}"
    );
    assert!(!summary.contains('\n'), "{summary:?}");
    let journal = out.journal();
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end", "{end}");
    assert_eq!(end["exit_code"], 1, "{end}");
    let failed = events(&journal, "step-end")
        .into_iter()
        .find(|e| e["ok"] == false)
        .unwrap_or_else(|| panic!("no failed step in the journal: {journal:#?}"));
    assert_eq!(
        failed["step"], "enable maintenance mode on toolboxai-nginx-proxy",
        "{failed}"
    );
    let execs = proxy_execs(&journal);
    assert_eq!(
        execs,
        [
            serde_json::json!(["cp", MAINTENANCE_SITE, ACTIVE_SITE]),
            serde_json::json!(["nginx", "-t"]),
            serde_json::json!(["cp", SAVED_SITE, ACTIVE_SITE]),
        ],
        "no reload after the failed nginx -t; the site copied back"
    );

    drop(back);
}

/// Runbook scenario 1 option A with `nginx -t` failing on the switch
/// back, for real: the lab's Postgres is stopped, db-outage puts the proxy
/// in maintenance mode, a site file nginx cannot parse then lands in the
/// proxy's `sites-enabled/`, and Postgres comes back. db-outage copies the
/// saved site over the active one, `nginx -t` refuses, and then: exit 1
/// naming `nginx -t` in the switch-back step, the maintenance site copied
/// back and no reload — the proxy keeps serving the maintenance page and
/// its files say so (a later reload cannot load half a switch). With the
/// broken file gone, the next run finishes the job.
#[test]
fn db_outage_whose_nginx_t_fails_on_the_switch_back_keeps_the_maintenance_page_until_a_rerun() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let back = ProxyBack::healthy(&lab);
    let active = back.active.clone();
    let (code, maintenance) = in_proxy(&lab, &["cat", MAINTENANCE_SITE]);
    assert_eq!(code, 0, "{maintenance}");
    assert_ne!(active, maintenance);
    let outage = |wait: &str| {
        lab_run(&lab, "db-outage")
            .params(&[("interval", "200ms"), ("wait", wait)])
            .exec()
    };

    let postgres_back = PostgresBack(&lab);
    stop_postgres(&lab, "fast");
    let out = std::thread::scope(|scope| {
        let run = scope.spawn(|| outage("60s"));
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while rt.block_on(proxy(&lab)) != (503, true) {
            assert!(
                std::time::Instant::now() < until,
                "the proxy never served the maintenance page"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        break_nginx_t(&lab);
        start_postgres(&lab);
        run.join().unwrap()
    });
    drop(postgres_back);

    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(
        report["failed_step"], "switch toolboxai-nginx-proxy back to the normal site",
        "{report:#}"
    );
    let summary = report["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("`nginx -t` in toolboxai-nginx-proxy exited 1: ")
            && summary.contains(&format!("unknown directive \"this\" in {BROKEN_SITE}"))
            && summary.contains(&format!(
                "put {MAINTENANCE_SITE} back as {ACTIVE_SITE} and did not reload"
            )),
        "{summary}"
    );
    assert_eq!(out.fact("rolled-back-to").as_deref(), Some(MAINTENANCE_SITE));
    // What nginx serves and what its files say agree: the maintenance page.
    assert_eq!(rt.block_on(proxy(&lab)), (503, true));
    assert_eq!(
        in_proxy(&lab, &["cat", ACTIVE_SITE]),
        (0, maintenance.clone()),
        "the active site on disk is not the one nginx serves"
    );
    let execs = proxy_execs(&out.journal());
    assert_eq!(
        execs,
        [
            serde_json::json!(["cp", MAINTENANCE_SITE, ACTIVE_SITE]),
            serde_json::json!(["nginx", "-t"]),
            serde_json::json!(["nginx", "-s", "reload"]),
            serde_json::json!(["cp", SAVED_SITE, ACTIVE_SITE]),
            serde_json::json!(["nginx", "-t"]),
            serde_json::json!(["cp", MAINTENANCE_SITE, ACTIVE_SITE]),
        ],
        "no reload after the failed nginx -t; the maintenance site copied back"
    );

    // The broken file fixed, the next run sees the database up and the
    // proxy still in maintenance, and switches it back.
    assert_eq!(in_proxy(&lab, &["rm", "-f", BROKEN_SITE]).0, 0);
    let out = outage("30s");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("maintenance").as_deref(), Some("done"));
    assert_eq!(rt.block_on(proxy(&lab)), (200, false));
    assert_eq!(in_proxy(&lab, &["cat", ACTIVE_SITE]), (0, active));

    drop(back);
}

/// The lab config with the fixtures `vault-poke` and `db-poke` given exactly
/// what `db-restore` is granted.
fn config_with_db_restore_grants_for_the_fixtures(lab: &Lab) -> TmpFile {
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    let start = base
        .find("[[plugins.db-restore.")
        .expect("db-restore grants in the lab config");
    let end = base[start..].find("\n# ").map(|i| start + i).unwrap_or(base.len());
    let grants = &base[start..end];
    let mut text = base.clone();
    for id in ["vault-poke", "db-poke"] {
        text.push('\n');
        text.push_str(&grants.replace("plugins.db-restore.", &format!("plugins.{id}.")));
    }
    cli::config(&text)
}

#[test]
fn no_call_gives_a_plugin_the_database_password() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let config = config_with_db_restore_grants_for_the_fixtures(&lab);
    let leak = "secret/toolboxai/drhost-leak-test";
    let attempts: &[(&str, &[&str], Option<&str>)] = &[
        // Vault: the value itself, and through a composed secret.
        (
            "vault-poke",
            &["op=reveal", "path=secret/toolboxai/postgres", "field=password"],
            Some("access-denied"),
        ),
        (
            "vault-poke",
            &["op=reveal", "path=secret/toolboxai/supabase", "field=database_url"],
            Some("access-denied"),
        ),
        (
            "vault-poke",
            &["op=reveal-composed", "path=secret/toolboxai/postgres", "field=password"],
            Some("access-denied"),
        ),
        // Copy it somewhere granted, then read it back: handles only.
        (
            "vault-poke",
            &[
                "op=write-composed",
                "path=secret/toolboxai/postgres",
                "field=password",
                &format!("to={leak}"),
            ],
            None,
        ),
        ("vault-poke", &["op=read", &format!("path={leak}")], None),
        (
            "vault-poke",
            &["op=reveal", &format!("path={leak}"), "field=url"],
            Some("access-denied"),
        ),
        // Postgres: where the target is, and what the server will say.
        ("db-poke", &["op=info"], None),
        (
            "db-poke",
            &["op=query", "sql=SELECT current_user || ' ' || inet_server_addr()::text"],
            None,
        ),
    ];
    for (fixture, params, denied) in attempts {
        let mut run = Run::fixture(fixture).config(&config).json().yes();
        for p in params.iter() {
            let (name, value) = p.split_once('=').expect("NAME=VALUE");
            run = run.param(name, value);
        }
        let out = run.exec();
        assert_eq!(out.code, 0, "{fixture} {params:?}: {}\n{}", out.stdout, out.stderr);
        match denied {
            Some(kind) => assert_eq!(out.fact("error-kind").as_deref(), Some(*kind), "{fixture} {params:?}"),
            None => assert_eq!(out.fact("error-kind"), None, "{fixture} {params:?}: {}", out.stdout),
        }
        assert_no_secret(&lab, &out);
    }
    // What a `read` grant does expose, stated rather than hidden: db-restore
    // has no `write`, so its queries log in as the lab's read_user
    // (drhost_reader, member of pg_read_all_data), which can read the SCRAM
    // verifiers in pg_authid. A verifier is not the password (SCRAM cannot be
    // replayed from it) but allows an offline guessing attack; README's
    // security model advises SELECT on the application's schemas instead.
    let out = Run::fixture("db-poke")
        .config(&config)
        .json()
        .param("op", "query")
        .param(
            "sql",
            "SELECT current_user || ' ' || left(rolpassword, 14) FROM pg_authid WHERE rolname = 'postgres'",
        )
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.fact("value").as_deref(),
        Some("drhost_reader SCRAM-SHA-256$"),
        "{}",
        out.stdout
    );
    assert_no_secret(&lab, &out);
    // The copy exists in Vault — the plugin moved the password without seeing it.
    rt.block_on(async {
        let vault = lab.vault_client().unwrap();
        let copy: std::collections::HashMap<String, String> =
            vaultrs::kv2::read(&vault, "secret", "toolboxai/drhost-leak-test")
                .await
                .unwrap();
        let password = lab.pg_password().unwrap();
        assert_eq!(copy.get("password"), Some(&password));
        vaultrs::kv2::delete_metadata(&vault, "secret", "toolboxai/drhost-leak-test")
            .await
            .unwrap();
    });
}

/// An object the test put in the lab's bucket under `supabase/`, deleted on
/// drop (also while a failed test unwinds; a failed delete is only reported).
struct OwnObject {
    lab: Lab,
    key: String,
}

impl OwnObject {
    /// Puts `body` at `supabase/<unique>.dump` with `metadata`.
    fn put(lab: &Lab, body: Vec<u8>, metadata: &[(&str, String)]) -> OwnObject {
        let key = format!("supabase/{}.dump", drhost_tests::util::unique("truth"));
        rt().block_on(async {
            let mut put = lab
                .s3_client()
                .unwrap()
                .put_object()
                .bucket(lab.s3_bucket().unwrap())
                .key(&key)
                .body(aws_sdk_s3::primitives::ByteStream::from(body));
            for (k, v) in metadata {
                put = put.metadata(*k, v);
            }
            put.send().await.unwrap_or_else(|e| panic!("put {key}: {e}"));
        });
        OwnObject { lab: lab.clone(), key }
    }

    /// The name `--param backup=` takes.
    fn name(&self) -> &str {
        self.key.trim_start_matches("supabase/")
    }
}

impl Drop for OwnObject {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        let (Ok(s3), Ok(bucket)) = (self.lab.s3_client(), self.lab.s3_bucket()) else {
            return;
        };
        if let Err(e) = rt.block_on(s3.delete_object().bucket(bucket).key(&self.key).send()) {
            eprintln!("cleanup: cannot delete {}: {e}", self.key);
        }
    }
}

/// `users` as one checksum and its row count: what "untouched" compares.
async fn users_checksum(lab: &Lab) -> (String, i64) {
    let pg = lab.pg_client().await.unwrap();
    let row = pg
        .query_one(
            "SELECT coalesce(md5(string_agg(u::text, '|' ORDER BY u.id)), ''), count(*) FROM users u",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// A `pg_dump -Fc` of the lab's database, made by the test (unix socket).
fn dump_of_the_lab(lab: &Lab) -> Vec<u8> {
    let out = std::process::Command::new("pg_dump")
        .args([
            "-Fc",
            "-h",
            lab.get("PG_SOCKET_DIR").unwrap(),
            "-p",
            lab.get("PG_PORT").unwrap(),
        ])
        .args(["-U", lab.get("PG_USER").unwrap(), lab.get("PG_DATABASE").unwrap()])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(&out.stdout[..5], b"PGDMP");
    out.stdout
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An object in the backup bucket that is not a dump (its sha256 even
/// matches): db-restore refuses it after the download, before asking, and
/// the database is exactly as it was — nothing restored, Vault and the
/// backends untouched.
#[test]
fn a_non_dump_object_is_refused_and_the_database_is_untouched() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let body = b"SELECT 'this is not a pg_dump archive';\n".to_vec();
    let object = OwnObject::put(&lab, body.clone(), &[("sha256", sha256_hex(&body))]);
    let before = rt().block_on(users_checksum(&lab));

    let out = lab_run(&lab, "db-restore").param("backup", object.name()).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(
        report["summary"],
        format!("{} is not a pg_dump custom-format archive", object.key)
    );
    assert_eq!(report["failed_step"], format!("download {} and verify it", object.key));
    let journal = out.journal();
    let get = calls(&journal, "s3.get");
    assert_eq!(get.len(), 1);
    assert_eq!(get[0]["args"]["expect_sha256"], sha256_hex(&body), "{}", get[0]);
    assert_eq!(get[0]["outcome"]["ok"]["verified"], "expected", "{}", get[0]);
    for call in [
        "confirm.ask",
        "postgres.create-database",
        "postgres.restore",
        "vault.patch",
        "vault.write",
        "docker.restart-container",
    ] {
        assert!(calls(&journal, call).is_empty(), "{call} was called");
    }
    assert_eq!(journal.last().unwrap()["exit_code"], 1);
    assert_eq!(rt().block_on(users_checksum(&lab)), before, "users untouched");
}

/// A real dump whose `rows-users` metadata says more rows than it holds:
/// db-restore restores it, counts, and fails with exit 1 naming both
/// numbers — before it repoints the application in Vault or restarts a
/// backend. (The dump is of the database as it is, so the rows are the same.)
#[test]
fn a_row_count_mismatch_fails_before_vault_and_the_backends() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let before = rt().block_on(users_checksum(&lab));
    let dump = dump_of_the_lab(&lab);
    let recorded = before.1 + 1000;
    let object = OwnObject::put(
        &lab,
        dump.clone(),
        &[("sha256", sha256_hex(&dump)), ("rows-users", recorded.to_string())],
    );
    let (_, vault_before) = rt().block_on(app_settings(&lab));

    let out = lab_run(&lab, "db-restore").param("backup", object.name()).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(
        report["summary"],
        format!(
            "table users has {} rows after the restore; the backup recorded {recorded}",
            before.1
        )
    );
    assert_eq!(
        report["failed_step"],
        "verify: SELECT 1 and row counts against the backup"
    );
    let journal = out.journal();
    let restored = calls(&journal, "postgres.restore");
    assert_eq!(restored.len(), 1, "{journal:?}");
    assert!(restored[0]["outcome"]["ok"].is_object(), "{}", restored[0]);
    for call in ["vault.patch", "vault.write", "docker.restart-container"] {
        assert!(calls(&journal, call).is_empty(), "{call} was called");
    }
    assert_eq!(journal.last().unwrap()["exit_code"], 1);
    assert_eq!(rt().block_on(users_checksum(&lab)), before, "the same rows came back");
    assert_eq!(rt().block_on(app_settings(&lab)).1, vault_before, "Vault untouched");
}

/// A real dump without `sha256` metadata: db-restore restores it, but says
/// so — a warning in the journal and `verified = none` — instead of
/// claiming a verified backup.
#[test]
fn a_backup_without_sha256_metadata_is_restored_as_unverified() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let before = rt().block_on(users_checksum(&lab));
    let dump = dump_of_the_lab(&lab);
    let object = OwnObject::put(&lab, dump.clone(), &[("rows-users", before.1.to_string())]);

    let out = lab_run(&lab, "db-restore").param("backup", object.name()).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.fact("verified").as_deref(), Some("none"));
    assert_eq!(out.fact("sha256"), Some(sha256_hex(&dump)), "the digest it computed");
    assert_eq!(out.fact("rows-users"), Some(before.1.to_string()));
    let journal = out.journal();
    let warned = events(&journal, "log").into_iter().any(|l| {
        l["message"].as_str().unwrap_or_default().contains(&format!(
            "{} has no sha256 metadata: its integrity cannot be verified",
            object.key
        ))
    });
    assert!(warned, "{journal:?}");
    let get = calls(&journal, "s3.get");
    assert_eq!(get.len(), 1);
    let args = get[0]["args"].as_object().unwrap();
    assert_eq!(args.get("expect_sha256"), Some(&serde_json::Value::Null), "{}", get[0]);
    assert_eq!(get[0]["outcome"]["ok"]["verified"], "none", "{}", get[0]);
    assert_eq!(calls(&journal, "docker.restart-container").len(), 3);
    assert_eq!(rt().block_on(users_checksum(&lab)), before);
    assert_eq!(rt().block_on(backend_health(&lab)), vec![200; 3]);
}

/// The backend db-restore restarts never turns healthy (a container of the
/// test's own whose `/health` answers 503): the wait ends after `wait`
/// with exit 1, naming the backend, its URL and the 503 — after the restore
/// and the Vault update, which it says are done; the lab's backends are
/// not restarted (the `services` glob names only the test's container).
#[test]
fn a_backend_that_stays_unhealthy_ends_the_health_wait_with_exit_1() {
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let before = rt().block_on(users_checksum(&lab));
    let dump = dump_of_the_lab(&lab);
    let object = OwnObject::put(
        &lab,
        dump.clone(),
        &[("sha256", sha256_hex(&dump)), ("rows-users", before.1.to_string())],
    );
    let tag = format!("toolboxai/backend:{}", drhost_tests::util::unique("truth-db"));
    let own = OwnBackend::start(
        &lab,
        &[(LATEST, tag)],
        &["SERVICE_NAME=truth", "PORT=8000", "PG_SOCKET_DIR=/nonexistent"],
    );
    let lab_started = || {
        rt().block_on(async {
            let docker = lab.docker().await.unwrap();
            let mut started = Vec::new();
            for i in 1..=3 {
                let c = inspect(&docker, &format!("toolboxai-backend{i}")).await;
                started.push(c.state.and_then(|s| s.started_at));
            }
            started
        })
    };
    let lab_before = lab_started();

    let started = std::time::Instant::now();
    let out = lab_run(&lab, "db-restore")
        .param("backup", object.name())
        .param("services", &own.name)
        .param("wait", "2s")
        .exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "the wait ended");
    let report = out.json();
    assert_eq!(report["failed_step"], "verify: backends' health endpoints answer 200");
    let summary = report["summary"].as_str().unwrap_or_default();
    let url = rt().block_on(async { own.url(&lab.docker().await.unwrap()).await });
    assert!(
        summary.starts_with(&format!("{} is not healthy ", own.name))
            && summary.ends_with(&format!(" after the restart: {url}/health answered 503")),
        "{summary}"
    );
    assert!(
        report["hint"]
            .as_str()
            .unwrap_or_default()
            .starts_with("the database is restored and Vault updated"),
        "{report:#}"
    );
    let journal = out.journal();
    for call in ["postgres.restore", "vault.patch"] {
        let found = calls(&journal, call);
        assert_eq!(found.len(), 1, "{call}");
        assert!(found[0]["outcome"]["ok"].is_object(), "{}", found[0]);
    }
    let restarts = calls(&journal, "docker.restart-container");
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    assert_eq!(restarts[0]["args"]["name"], own.name.as_str());
    // Every health check of the backend answered 503 (the diagnosis's
    // status page is another URL).
    let health_checks: Vec<_> = calls(&journal, "http.get")
        .into_iter()
        .filter(|g| g["args"]["url"] == format!("{url}/health").as_str())
        .collect();
    assert!(!health_checks.is_empty());
    assert!(health_checks.iter().all(|g| g["outcome"]["ok"]["status"] == 503));
    assert_eq!(journal.last().unwrap()["exit_code"], 1);
    assert_eq!(lab_started(), lab_before, "the lab's backends were not restarted");
    assert_eq!(rt().block_on(users_checksum(&lab)), before);
}

/// The identity Postgres gave the restored `users` table: a second
/// `pg_restore --clean` drops and recreates it, so a new one.
async fn users_table_oid(lab: &Lab) -> i64 {
    let pg = lab.pg_client().await.unwrap();
    scalar(&pg, "SELECT 'users'::regclass::oid::bigint").await
}

/// The database is gone: the fault db-restore repairs.
fn drop_the_database(lab: &Lab) {
    rt().block_on(async {
        let pg = lab.pg_client_for("postgres").await.unwrap();
        pg.execute("DROP DATABASE IF EXISTS toolboxai WITH (FORCE)", &[])
            .await
            .unwrap();
    });
}

/// `drhost resume` after drhost was SIGKILLed right after each change
/// db-restore makes: the database, Vault and the backends end healthy, and
/// no change was made twice, counted in the real services (the restored
/// table keeps the identity the one `pg_restore` gave it; Vault's version
/// goes up by one) and in the two journals.
#[test]
fn db_restore_killed_after_each_change_is_resumed_without_making_any_twice() {
    use drhost_tests::resume::{journal_of, kill_at, made, resume, KillPoint};
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let backup = lab_run(&lab, "db-backup").exec();
    assert_eq!(backup.code, 0, "{}\n{}", backup.stdout, backup.stderr);
    let points = [
        KillPoint {
            call: "confirm.ask",
            nth: 1,
        },
        KillPoint {
            call: "postgres.restore",
            nth: 1,
        },
        KillPoint {
            call: "vault.patch",
            nth: 1,
        },
        KillPoint {
            call: "docker.restart-container",
            nth: 1,
        },
    ];
    for point in points {
        drop_the_database(&lab);
        let (_, version_before) = rt.block_on(app_settings(&lab));
        let dir = drhost_tests::tmp::TmpDir::new("drhost-resume-");
        let killed = kill_at(lab_run(&lab, "db-restore"), dir.path(), point);
        let dead = cli::read_journal(&killed.journal);
        let restored_by_dead = !made(&dead, "postgres.restore").is_empty();
        let oid_at_kill = restored_by_dead.then(|| rt.block_on(users_table_oid(&lab)));

        let out = resume(dir.path(), &killed.run_id, |run| run);
        assert_eq!(out.code, 0, "{point}: {}\n{}", out.stdout, out.stderr);
        let journal = journal_of(&out);
        assert_eq!(journal[0]["resumes"]["run"], killed.run_id.as_str(), "{point}");
        let report = out.json();
        assert_eq!(report["resumed"]["from"], killed.run_id.as_str(), "{report}");
        let answered = report["resumed"]["answered"].as_u64().unwrap();
        assert!(answered >= 1, "{point}: nothing answered from the journal: {report}");
        for call in [
            "confirm.ask",
            "postgres.create-database",
            "postgres.restore",
            "vault.patch",
        ] {
            let (before, after) = (made(&dead, call).len(), made(&journal, call).len());
            assert_eq!(
                before + after,
                1,
                "{point}: {call} made {before} time(s) before the kill, {after} after"
            );
        }
        let restarts = made(&dead, "docker.restart-container").len() + made(&journal, "docker.restart-container").len();
        assert_eq!(restarts, 3, "{point}: three backends, each restarted once");
        // The real services: one restore, one Vault version, healthy backends.
        if let Some(oid) = oid_at_kill {
            assert_eq!(rt.block_on(users_table_oid(&lab)), oid, "{point}: pg_restore ran again");
        }
        assert_eq!(rt.block_on(app_settings(&lab)).1, version_before + 1, "{point}");
        assert_eq!(rt.block_on(backend_health(&lab)), vec![200; 3], "{point}");
        assert_no_secret(&lab, &out);
        eprintln!(
            "resume matrix: db-restore killed {point}: exit {}, {answered} answered from the journal, restore made {} before the kill",
            out.code,
            if restored_by_dead { "once" } else { "not" }
        );
    }
}

/// A resume whose plugin asks for a change the journal does not have (a
/// newer backup appeared after the kill) stops there and changes nothing;
/// `--diverged live` goes on live; a run resumed to its end is not resumed
/// again, and another plugin file is refused.
#[test]
fn a_resume_that_diverges_stops_changes_nothing_and_goes_on_live_only_when_told() {
    use drhost_tests::resume::{journal_of, kill_at, made, resume, KillPoint};
    let _guard = drhost_tests::lab::serial();
    let lab = lab();
    let rt = rt();
    let backup = lab_run(&lab, "db-backup").exec();
    assert_eq!(backup.code, 0, "{}\n{}", backup.stdout, backup.stderr);
    drop_the_database(&lab);
    let dir = drhost_tests::tmp::TmpDir::new("drhost-resume-");
    let killed = kill_at(
        lab_run(&lab, "db-restore"),
        dir.path(),
        KillPoint {
            call: "postgres.restore",
            nth: 1,
        },
    );
    let oid_at_kill = rt.block_on(users_table_oid(&lab));
    let (_, version_at_kill) = rt.block_on(app_settings(&lab));
    // After the kill, someone takes a newer backup: the plugin will restore that one.
    rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        pg.batch_execute(
            "DELETE FROM users WHERE email = 'resume-test@example.com'; INSERT INTO users (email, name, plan, created_at) VALUES ('resume-test@example.com', 'resume test', 'free', now())",
        )
        .await
        .unwrap();
    });
    let newer = lab_run(&lab, "db-backup").exec();
    assert_eq!(newer.code, 0, "{}\n{}", newer.stdout, newer.stderr);

    // Another plugin file is refused before anything runs.
    let other = resume(dir.path(), &killed.run_id, |run| {
        run.args(["--plugin".as_ref(), cli::plugin("hello").as_os_str()])
    });
    assert_eq!(other.code, 3, "{}\n{}", other.stdout, other.stderr);
    assert!(other.stdout.contains("is not the plugin run"), "{}", other.stdout);

    // Without a terminal, a divergence stops the resume: exit 3, nothing changed.
    let stopped = resume(dir.path(), &killed.run_id, |run| run);
    assert_eq!(stopped.code, 3, "{}\n{}", stopped.stdout, stopped.stderr);
    let summary = stopped.json()["summary"].as_str().unwrap().to_string();
    assert!(
        summary.contains("stopped") && summary.contains(&format!("drhost resume {} --diverged live", killed.run_id)),
        "{summary}"
    );
    let journal = journal_of(&stopped);
    assert_eq!(cli::events(&journal, "resume-diverged").len(), 1, "{journal:?}");
    assert_eq!(journal.last().unwrap()["resumed"]["stopped"], true);
    for call in [
        "postgres.create-database",
        "postgres.restore",
        "vault.patch",
        "docker.restart-container",
    ] {
        assert!(made(&journal, call).is_empty(), "{call} made after the divergence");
    }
    assert_eq!(rt.block_on(users_table_oid(&lab)), oid_at_kill);
    assert_eq!(rt.block_on(app_settings(&lab)).1, version_at_kill);

    // Told to go on live: the newer backup is restored, for real.
    let live = resume(dir.path(), &killed.run_id, |run| run.args(["--diverged", "live"]));
    assert_eq!(live.code, 0, "{}\n{}", live.stdout, live.stderr);
    let journal = journal_of(&live);
    assert_eq!(made(&journal, "postgres.restore").len(), 1);
    assert_ne!(
        rt.block_on(users_table_oid(&lab)),
        oid_at_kill,
        "the newer backup was not restored"
    );
    assert_eq!(rt.block_on(app_settings(&lab)).1, version_at_kill + 1);
    rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        assert_eq!(
            scalar(
                &pg,
                "SELECT count(*) FROM users WHERE email = 'resume-test@example.com'"
            )
            .await,
            1
        );
        pg.execute("DELETE FROM users WHERE email = 'resume-test@example.com'", &[])
            .await
            .unwrap();
    });

    // Resumed to its end: not again.
    let again = resume(dir.path(), &killed.run_id, |run| run);
    assert_eq!(again.code, 3, "{}\n{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("was already resumed by run") && again.stdout.contains("ended recovered"),
        "{}",
        again.stdout
    );
}
