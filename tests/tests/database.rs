//! The `postgres` and `s3` capabilities and the `db-backup` plugin (quick
//! reference "database backup") against the lab's real Postgres and S3.
//!
//! Each test runs the real `drhost` binary and asserts what it wrote to the
//! real bucket. Tests are serialized by [`LOCK`] (they share the bucket).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use drhost_tests::cli::{self, Outcome};
use drhost_tests::lab::Lab;
use sha2::{Digest, Sha256};

static LOCK: Mutex<()> = Mutex::new(());

fn lab() -> Lab {
    Lab::load().expect("the lab is up (make lab)")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `drhost run plugins/db-backup.wasm --config CONFIG --json --yes`.
fn run_backup(lab: &Lab, config: Option<PathBuf>) -> Outcome {
    let plugin = cli::plugin("db-backup").display().to_string();
    let config = config
        .unwrap_or_else(|| lab.path(".lab/drhost.toml"))
        .display()
        .to_string();
    cli::drhost(&["run", plugin.as_str(), "--config", config.as_str(), "--json", "--yes"])
}

fn calls<'a>(journal: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    journal
        .iter()
        .filter(|e| e["event"] == "call" && e["call"] == name)
        .collect()
}

/// The raw text of the run's only journal.
fn journal_text(out: &Outcome) -> String {
    let file = std::fs::read_dir(&out.journal_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .next()
        .expect("a journal");
    std::fs::read_to_string(file).unwrap()
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
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    let rt = rt();
    let users: i64 = rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        pg.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0)
    });

    let out = run_backup(&lab, None);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let key = out.fact("key").expect("a key fact");
    assert!(
        key.starts_with("supabase/backup_") && key.ends_with(".dump") && key != "supabase/backup_latest.dump",
        "{key}"
    );
    let sha_fact = out.fact("sha256").unwrap();
    let size_fact: u64 = out.fact("size").unwrap().parse().unwrap();
    assert!(out.fact("duration").is_some());

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
    let text = journal_text(&out);
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

#[test]
fn a_put_outside_the_granted_prefixes_is_denied_and_writes_nothing() {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    let rt = rt();
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    assert!(base.contains("prefixes = [\"supabase/*\"]"), "lab config changed shape");
    let config = cli::config(&base.replace("prefixes = [\"supabase/*\"]", "prefixes = [\"other/*\"]"));

    let before = rt.block_on(keys(&lab, "supabase/"));
    let out = run_backup(&lab, Some(config));
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
