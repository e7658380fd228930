//! Attacks through a Postgres `read` grant (issue 11, item 2): a plugin
//! allowed to read must not change the database or reach the server's
//! machine, whatever single statement it sends to `query`.
//!
//! Each test runs the `db-poke` fixture through the real binary against a
//! scratch database `drhost_hostile_pg` on the lab's real Postgres and
//! checks the server afterwards through the lab's own connection.

use std::path::Path;
use std::time::Duration;

use drhost_tests::cli::{self, Outcome, Run};
use drhost_tests::lab::runtime as rt;
use drhost_tests::lab::Lab;
use drhost_tests::tmp::TmpFile;

const DB: &str = "drhost_hostile_pg";

/// Whether target `primary` names the lab's read-only role.
#[derive(Clone, Copy)]
enum Reader {
    /// The URL's superuser only: `read` rests on the read-only transaction.
    None,
    /// `read_user = "drhost_reader"` with its password file.
    Configured,
}

fn config(lab: &Lab, reader: Reader) -> TmpFile {
    let reader = match reader {
        Reader::None => String::new(),
        Reader::Configured => format!(
            "read_user = \"{}\"\nread_password = \"file:{}\"\n",
            lab.get("PG_READER_USER").unwrap(),
            lab.get("PG_READER_PASSWORD_FILE").unwrap()
        ),
    };
    cli::config(&format!(
        "[targets.postgres.primary]\nurl = \"postgresql://{}@{}:{}/{DB}\"\npassword = \"file:{}\"\n{reader}\n\
         [[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n\n\
         [targets.s3.backups]\nendpoint = \"http://127.0.0.1:1\"\nregion = \"us-east-1\"\nbucket = \"none\"\npath_style = true\n\
         access_key = \"env:NONE\"\nsecret_key = \"env:NONE\"\n\n\
         [[plugins.db-poke.s3]]\ntarget = \"backups\"\nprefixes = [\"none/*\"]\naccess = [\"read\"]\n",
        lab.get("PG_USER").unwrap(),
        lab.get("PG_HOST").unwrap(),
        lab.port("PG_PORT").unwrap(),
        lab.get("PG_PASSWORD_FILE").unwrap(),
    ))
}

/// A fresh scratch database with one table, dropped again on drop.
struct Scratch {
    lab: Lab,
}

impl Scratch {
    fn new(lab: &Lab) -> Scratch {
        rt().block_on(async {
            let admin = lab.pg_client_for("postgres").await.unwrap();
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
                .await
                .unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {DB}")).await.unwrap();
            let db = lab.pg_client_for(DB).await.unwrap();
            db.batch_execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)")
                .await
                .unwrap();
        });
        Scratch { lab: lab.clone() }
    }

    /// Whether table `name` exists, and how many rows `kept` has.
    fn state(&self, table: &str) -> (bool, i64) {
        rt().block_on(async {
            let db = self.lab.pg_client_for(DB).await.unwrap();
            let exists = db
                .query_opt("SELECT 1 FROM pg_tables WHERE tablename = $1", &[&table])
                .await
                .unwrap()
                .is_some();
            let kept: i64 = db.query_one("SELECT count(*) FROM kept", &[]).await.unwrap().get(0);
            (exists, kept)
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let lab = self.lab.clone();
        let _ = std::thread::spawn(move || {
            rt().block_on(async {
                if let Ok(admin) = lab.pg_client_for("postgres").await {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
                        .await;
                }
            })
        })
        .join();
    }
}

/// `drhost run db-poke --config CONFIG --json --param op=query --param sql=SQL`,
/// which must exit 0.
fn query(config: &Path, sql: &str) -> Outcome {
    let out = Run::fixture("db-poke")
        .config(config)
        .json()
        .param("op", "query")
        .param("sql", sql)
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

/// The journal's one `postgres.query` call: its error kind, if it failed.
fn query_error_kind(out: &Outcome) -> Option<String> {
    let journal = out.journal();
    let calls = cli::calls(&journal, "postgres.query");
    assert_eq!(calls.len(), 1, "{journal:?}");
    calls[0]["outcome"]["error"]["kind"].as_str().map(String::from)
}

#[test]
fn a_read_grant_cannot_change_the_database() {
    let _guard = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let scratch = Scratch::new(&lab);
    let config = config(&lab, Reader::None);
    for sql in [
        "CREATE TABLE planted (x int)",
        "DO $$ BEGIN CREATE TABLE planted (x int); END $$",
        "WITH gone AS (DELETE FROM kept RETURNING id) SELECT count(*) FROM gone",
        "SELECT * INTO planted FROM kept",
        "COMMIT",
        "SET TRANSACTION READ WRITE",
    ] {
        let out = query(&config, sql);
        assert_eq!(
            out.fact("error-kind").as_deref(),
            Some("access-denied"),
            "{sql}: {}",
            out.stdout
        );
        assert_eq!(query_error_kind(&out).as_deref(), Some("access-denied"), "{sql}");
        assert_eq!(scratch.state("planted"), (false, 2), "{sql} changed the database");
    }
    // Reading still works, and runs in a read-only transaction.
    let out = query(&config, "SELECT current_setting('transaction_read_only')");
    assert_eq!(out.fact("value").as_deref(), Some("on"), "{}", out.stdout);
    assert_eq!(query_error_kind(&out), None);
}

#[test]
fn a_read_grant_cannot_reach_the_server_machine() {
    let _guard = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let _scratch = Scratch::new(&lab);
    let marker = std::env::temp_dir().join(format!("drhost-hostile-pg-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    for reader in [Reader::None, Reader::Configured] {
        let config = config(&lab, reader);
        for sql in [
            format!("COPY (SELECT 1) TO PROGRAM 'touch {}'", marker.display()),
            format!("/* SELECT */ COPY kept TO '{}'", marker.display()),
        ] {
            let out = query(&config, &sql);
            assert_eq!(
                out.fact("error-kind").as_deref(),
                Some("access-denied"),
                "{sql}: {}",
                out.stdout
            );
            assert!(
                !marker.exists(),
                "{sql} wrote {} on the server's machine",
                marker.display()
            );
        }
    }
    // With the read-only role, what a superuser could do from a SELECT fails
    // on the server's own privileges.
    let config = config(&lab, Reader::Configured);
    let out = query(&config, "SELECT current_user");
    assert_eq!(out.fact("value").as_deref(), Some("drhost_reader"), "{}", out.stdout);
    for sql in [
        format!("SELECT lo_export(0, '{}')", marker.display()),
        "SELECT pg_read_file('/etc/hostname')".to_string(),
        "SELECT set_config('role', 'postgres', false)".to_string(),
    ] {
        let out = query(&config, &sql);
        assert_eq!(
            out.fact("error-kind").as_deref(),
            Some("failed"),
            "{sql}: {}",
            out.stdout
        );
        assert!(
            out.fact("error").unwrap_or_default().contains("permission denied"),
            "{sql}: {}",
            out.stdout
        );
        assert!(!marker.exists());
    }
}

#[test]
fn a_query_result_is_capped_in_rows_and_bytes() {
    let _guard = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let _scratch = Scratch::new(&lab);
    let rows = drhost::caps::postgres::MAX_QUERY_ROWS;
    rt().block_on(async {
        let db = lab.pg_client_for(DB).await.unwrap();
        db.batch_execute(&format!(
            "CREATE TABLE many AS SELECT g AS id FROM generate_series(1, {}) g; GRANT SELECT ON many TO PUBLIC",
            rows + 1
        ))
        .await
        .unwrap();
    });
    let config = config(&lab, Reader::Configured);
    let capped = |sql: &str, expect: &str| {
        let started = std::time::Instant::now();
        let out = query(&config, sql);
        assert_eq!(
            out.fact("error-kind").as_deref(),
            Some("invalid-argument"),
            "{sql}: {}",
            out.stdout
        );
        let message = out.fact("error").unwrap();
        assert!(
            message.contains(expect) && message.contains("nothing was returned"),
            "{sql}: {message}"
        );
        assert_eq!(query_error_kind(&out).as_deref(), Some("invalid-argument"));
        started.elapsed()
    };

    // One row more than the cap: refused whole, naming the cap.
    capped(
        "SELECT * FROM many",
        &format!("more than {rows} rows, drhost's cap per query"),
    );
    // The cap itself is fine.
    let out = query(&config, &format!("SELECT * FROM many ORDER BY id LIMIT {rows}"));
    assert_eq!(
        out.fact("rows").as_deref(),
        Some(rows.to_string().as_str()),
        "{}",
        out.stdout
    );
    // Bytes: 17 values of 1 MiB are over 16 MiB; 15 are not.
    capped(
        "SELECT repeat('x', 1048576) FROM generate_series(1, 17)",
        "more than 16 MiB of values, drhost's cap per query",
    );
    let out = query(&config, "SELECT repeat('x', 1048576) FROM generate_series(1, 15)");
    assert_eq!(out.fact("rows").as_deref(), Some("15"), "{}", out.stdout);
    // A huge result stops at the cap: the server is told to stop too, so the
    // call does not wait for (or hold) the rest.
    let took = capped(
        "SELECT g, repeat('y', 100) FROM generate_series(1, 20000000) g",
        "drhost's cap per query",
    );
    assert!(took < Duration::from_secs(20), "the capped query took {took:?}");
}

/// One value of 300 MiB is one protocol message: the row caps would only
/// see it once the host held it whole. The socket under a plugin's session
/// counts the bytes as they arrive and closes the session past
/// `WIRE_CAP`, so the call is refused naming the cap and drhost never
/// holds the value (its peak memory stays far below 300 MiB). Before, the
/// host read the whole value, then refused it.
#[test]
fn a_single_huge_value_is_refused_as_it_arrives() {
    let _guard = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let _scratch = Scratch::new(&lab);
    let config = config(&lab, Reader::Configured);
    let cap = drhost::caps::postgres::WIRE_CAP >> 20;
    let out = query(&config, "SELECT repeat('x', 300 * 1024 * 1024)");
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("invalid-argument"),
        "{}",
        out.stdout
    );
    let message = out.fact("error").unwrap();
    assert!(
        message.contains(&format!("the server sent more than {cap} MiB for it"))
            && message.contains("a single huge value counts whole")
            && message.contains("this session is closed"),
        "{message}"
    );
    // The largest child this test binary has waited for: this run, or a
    // smaller one.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    let peak_mib = usage.ru_maxrss / 1024;
    assert!(peak_mib < 200, "drhost peaked at {peak_mib} MiB");
}
