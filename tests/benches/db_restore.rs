//! Scenario 1 option B benchmark: a ~1 GiB `pg_dump -Fc` in S3 restored by
//! `drhost run plugins/db-restore.wasm` versus the runbook by hand
//! (`aws s3 cp` to a file, then `pg_restore --clean --if-exists --no-owner
//! --no-privileges`), into the same scratch database of the lab's Postgres,
//! with the same `--jobs` and the same `pg_restore` binary (drhost's `PATH`
//! leads with [`PG_BIN`], which the bench checks).
//!
//! What is timed, wall clock from start to exit:
//! - by hand: the download and `pg_restore`, nothing else; twice per round,
//!   once with the CLI's default multipart download (ten ranged GETs) and
//!   once with one GET;
//! - drhost: the whole `drhost run db-restore` — trust check and load, the
//!   diagnosis (status page, `SELECT 1`, backend logs), the Vault preflight,
//!   the download checked against its sha256, `pg_restore`, the row-count
//!   verification and the Vault update. The backends are *not* restarted
//!   (the bench's `services` glob matches no container), so the restart and
//!   health wait the runbook ends with are in neither figure.
//!
//! The three sides get the same number of tries, their order rotated every
//! round; the figures are medians. Memory: drhost's own peak RSS (VmHWM of
//! the drhost process), and the peak of drhost plus its `pg_restore`
//! children (the sum of their VmRSS, sampled every 20 ms, so a peak shorter
//! than that can be missed). Targets: drhost >= 0.9x the faster by-hand
//! median throughput, drhost's own peak RSS <= 64 MiB.
//!
//! Run with `cargo bench -p drhost-tests --bench db_restore` after `make lab
//! build` (part of `make bench`). It creates database `drhost_bench` and the
//! S3 key `bench/backup_<stamp>.dump` once (about 1 GiB; reused by later runs)
//! and leaves the rest of the lab alone: the config it runs drhost with is
//! its own (see [`config`]), with `primary` on `drhost_bench`, checked once
//! written, so nothing can make it restore into the real database.
//! `DRHOST_BENCH_ROWS` changes the size,
//! `DRHOST_BENCH_ROUNDS` the rounds (default 5).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use drhost_tests::bench::Figure;
use drhost_tests::cli::Run;
use drhost_tests::lab::Lab;
use drhost_tests::tmp::TmpDir;
use drhost_tests::util::median;
use sha2::{Digest, Sha256};

const DATABASE: &str = "drhost_bench";
const KEY: &str = "bench/backup_20260101_000000.dump";
/// Rounds unless `DRHOST_BENCH_ROUNDS` says otherwise.
const ROUNDS: usize = 5;
const JOBS: &str = "2";
/// The PostgreSQL client tools both sides run.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Runs a command and returns its wall time; panics with its output when it fails.
fn timed(cmd: &mut Command, what: &str) -> Duration {
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

fn pg_command(lab: &Lab, program: &str) -> Command {
    let mut cmd = Command::new(Path::new(PG_BIN).join(program));
    cmd.env("PGPASSWORD", lab.pg_password().expect("pg password")).args([
        "-h",
        lab.get("PG_HOST").unwrap(),
        "-p",
        lab.get("PG_PORT").unwrap(),
        "-U",
        "postgres",
    ]);
    cmd
}

/// Makes the ~1 GiB dump (uncompressed custom format, so its size is the
/// data's) and uploads it with the metadata db-backup writes; once.
fn prepare(lab: &Lab, rt: &tokio::runtime::Runtime, work: &Path) -> u64 {
    let s3 = lab.s3_client().expect("s3");
    let bucket = lab.s3_bucket().unwrap().to_string();
    if let Ok(head) = rt.block_on(s3.head_object().bucket(&bucket).key(KEY).send()) {
        let size = head.content_length().unwrap_or(0) as u64;
        println!("reusing s3://{bucket}/{KEY} ({:.0} MiB)", mib(size));
        return size;
    }
    let rows: u64 = std::env::var("DRHOST_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7_500_000);
    println!("preparing: {rows} rows into {DATABASE}, pg_dump -Fc -Z0, upload (takes a few minutes, once)");
    timed(
        pg_command(lab, "psql").args(["-d", "postgres", "-c", &format!("DROP DATABASE IF EXISTS {DATABASE}")]),
        "drop",
    );
    timed(
        pg_command(lab, "psql").args(["-d", "postgres", "-c", &format!("CREATE DATABASE {DATABASE}")]),
        "create",
    );
    let sql = format!(
        "CREATE TABLE events AS SELECT g AS id, now() - g * interval '1 second' AS at, \
         md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS payload \
         FROM generate_series(1, {rows}) g; ALTER TABLE events ADD PRIMARY KEY (id);"
    );
    timed(pg_command(lab, "psql").args(["-d", DATABASE, "-c", &sql]), "fill");
    let dump = work.join("bench.dump");
    timed(
        pg_command(lab, "pg_dump").args(["-Fc", "-Z", "0", "-d", DATABASE, "-f", dump.to_str().unwrap()]),
        "pg_dump",
    );
    let size = std::fs::metadata(&dump).unwrap().len();
    let sha = sha256_file(&dump);
    let metadata = HashMap::from([
        ("sha256".to_string(), sha),
        ("rows-events".to_string(), rows.to_string()),
    ]);
    upload(lab, rt, &dump, metadata);
    std::fs::remove_file(&dump).ok();
    println!("uploaded s3://{bucket}/{KEY} ({:.0} MiB)", mib(size));
    size
}

fn sha256_file(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).unwrap();
    hex::encode(hasher.finalize())
}

/// Multipart upload, 64 MiB parts.
fn upload(lab: &Lab, rt: &tokio::runtime::Runtime, path: &Path, metadata: HashMap<String, String>) {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    const PART: u64 = 64 << 20;
    let s3 = lab.s3_client().unwrap();
    let bucket = lab.s3_bucket().unwrap();
    let size = std::fs::metadata(path).unwrap().len();
    rt.block_on(async {
        let upload = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(KEY)
            .set_metadata(Some(metadata))
            .send()
            .await
            .unwrap();
        let id = upload.upload_id().unwrap();
        let mut parts = Vec::new();
        for (n, offset) in (0..size).step_by(PART as usize).enumerate() {
            let length = PART.min(size - offset);
            let body = ByteStream::read_from()
                .path(path)
                .offset(offset)
                .length(aws_sdk_s3::primitives::Length::Exact(length))
                .build()
                .await
                .unwrap();
            let number = n as i32 + 1;
            let part = s3
                .upload_part()
                .bucket(bucket)
                .key(KEY)
                .upload_id(id)
                .part_number(number)
                .body(body)
                .send()
                .await
                .unwrap();
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(String::from))
                    .build(),
            );
        }
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(KEY)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .unwrap();
    });
}

/// `aws s3 cp` (the lab venv's, else boto3's download_file, which is what
/// `aws s3 cp` runs) then `pg_restore`, as the runbook does. `single_stream`
/// sets the CLI's multipart threshold above the dump's size, so it
/// downloads with one GET instead of ten parallel ranged GETs.
fn by_hand(lab: &Lab, work: &Path, single_stream: bool) -> (Duration, Duration) {
    let file = work.join("backup_latest.dump");
    let venv = lab.path(".lab/venv/bin");
    let url = format!("s3://{}/{KEY}", lab.s3_bucket().unwrap());
    let started = Instant::now();
    let aws_config = work.join("aws-config");
    let threshold = if single_stream { "64GB" } else { "8MB" };
    std::fs::write(
        &aws_config,
        format!("[default]\ns3 =\n    multipart_threshold = {threshold}\n"),
    )
    .unwrap();
    if venv.join("aws").exists() {
        timed(
            Command::new(venv.join("aws"))
                .env("AWS_CONFIG_FILE", &aws_config)
                .args([
                    "s3",
                    "cp",
                    &url,
                    file.to_str().unwrap(),
                    "--endpoint-url",
                    lab.get("S3_ENDPOINT").unwrap(),
                    "--only-show-errors",
                ])
                .env("AWS_ACCESS_KEY_ID", lab.get("AWS_ACCESS_KEY_ID").unwrap())
                .env("AWS_SECRET_ACCESS_KEY", lab.get("AWS_SECRET_ACCESS_KEY").unwrap())
                .env("AWS_DEFAULT_REGION", lab.get("S3_REGION").unwrap()),
            "aws s3 cp",
        );
    } else {
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}').download_file('{}', '{KEY}', '{}')",
            lab.get("S3_ENDPOINT").unwrap(),
            lab.s3_bucket().unwrap(),
            file.display()
        );
        timed(
            Command::new(venv.join("python"))
                .args(["-c", &script])
                .env("AWS_ACCESS_KEY_ID", lab.get("AWS_ACCESS_KEY_ID").unwrap())
                .env("AWS_SECRET_ACCESS_KEY", lab.get("AWS_SECRET_ACCESS_KEY").unwrap())
                .env("AWS_DEFAULT_REGION", lab.get("S3_REGION").unwrap()),
            "boto3 download_file",
        );
    }
    let downloaded = started.elapsed();
    timed(
        pg_command(lab, "pg_restore").args([
            "-d",
            DATABASE,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--jobs",
            JOBS,
            file.to_str().unwrap(),
        ]),
        "pg_restore",
    );
    let elapsed = started.elapsed();
    std::fs::remove_file(&file).ok();
    (elapsed, downloaded)
}

/// How long the newest run's `s3.get` and `postgres.restore` calls took,
/// from its journal.
fn phases(journals: &Path) -> (f64, f64) {
    let newest = std::fs::read_dir(journals)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .expect("a journal");
    let text = std::fs::read_to_string(newest.path()).unwrap();
    let ms = |call: &str| {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["event"] == "call" && e["call"] == call)
            .and_then(|e| e["duration_ms"].as_f64())
            .unwrap_or(0.0)
            / 1000.0
    };
    (ms("s3.get"), ms("postgres.restore"))
}

/// The operator config for the benchmark, written here from `.lab/env` and
/// the lab's secret files (not derived from `.lab/drhost.toml`, so no change
/// to that file can point it anywhere else): `primary` is the scratch
/// database; db-restore reads the backup under `bench/`, the database
/// password's handle at `secret/toolboxai/postgres`, writes the app's
/// settings under `secret/drhost-bench/`; the backends are not restarted (no
/// container matches the bench's `services`). The result is read back:
/// every Postgres target db-restore is granted must be `drhost_bench`, or
/// the bench stops before restoring 1 GiB anywhere.
fn config(lab: &Lab, work: &Path) -> PathBuf {
    let url = lab.get("PG_URL").unwrap();
    let bench_url = url.replace("/toolboxai", &format!("/{DATABASE}"));
    assert_ne!(bench_url, url, "PG_URL {url} names no /toolboxai database");
    let secret = |name: &str| lab.path(".lab/secrets").join(name).display().to_string();
    let text = format!(
        r#"[run]
timeout = "15m"
memory = "256MiB"

[targets.postgres.primary]
url = "{bench_url}"
password = "file:{pg_password}"

[targets.s3.backups]
endpoint = "{endpoint}"
region = "{region}"
bucket = "{bucket}"
path_style = true
access_key = "file:{access_key}"
secret_key = "file:{secret_key}"

[targets.vault.main]
address = "{vault}"
token = "file:{vault_token}"

[[plugins.db-restore.s3]]
target = "backups"
prefixes = ["bench/*"]
access = ["read"]

[[plugins.db-restore.postgres]]
target = "primary"
access = ["read", "restore", "admin"]

[[plugins.db-restore.vault]]
target = "main"
paths = ["secret/toolboxai/postgres", "secret/drhost-bench/*"]
access = ["read", "write"]

[[plugins.db-restore.docker]]
containers = ["toolboxai-backend*"]
access = ["read", "write"]

[[plugins.db-restore.http]]
host = "127.0.0.1:*"

[[plugins.db-restore.http]]
host = "status.supabase.com:443"

[plugins.db-restore.params]
status-page = "{status_page}"
"#,
        pg_password = lab.get("PG_PASSWORD_FILE").unwrap(),
        endpoint = lab.get("S3_ENDPOINT").unwrap(),
        region = lab.get("S3_REGION").unwrap(),
        bucket = lab.s3_bucket().unwrap(),
        access_key = secret("s3-access-key"),
        secret_key = secret("s3-secret-key"),
        vault = lab.get("VAULT_ADDR").unwrap(),
        vault_token = secret("vault-token"),
        status_page = lab.get("STATUSPAGE_URL").unwrap(),
    );
    let toml: toml::Value = text.parse().expect("the bench's config is TOML");
    let grants = toml["plugins"]["db-restore"]["postgres"]
        .as_array()
        .expect("db-restore's postgres grants");
    for grant in grants {
        let target = grant["target"].as_str().unwrap();
        let url = toml["targets"]["postgres"][target]["url"].as_str().unwrap();
        let database = url.rsplit('/').next().unwrap().split('?').next().unwrap();
        assert_eq!(
            database, DATABASE,
            "db-restore's target `{target}` is {url}: the bench would restore into it"
        );
    }
    let path = work.join("drhost.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `PATH` with [`PG_BIN`] first, so drhost's `pg_restore` is the one the
/// by-hand side runs; checked by resolving it as a shell would.
fn pg_first_path() -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![PathBuf::from(PG_BIN)];
    dirs.extend(std::env::split_paths(&rest));
    let path = std::env::join_paths(&dirs).unwrap();
    let found = std::env::split_paths(&path)
        .map(|d| d.join("pg_restore"))
        .find(|p| p.is_file())
        .expect("pg_restore on PATH");
    let same = Path::new(PG_BIN).join("pg_restore");
    assert_eq!(
        found.canonicalize().unwrap(),
        same.canonicalize().expect("PG_BIN holds pg_restore"),
        "drhost would run another pg_restore than the by-hand side"
    );
    path
}

/// The resident memory of `pid` and every process under it, in bytes
/// (`VmRSS` of each, from `/proc`).
fn tree_rss(pid: u32) -> u64 {
    let mut parents: HashMap<u32, u32> = HashMap::new();
    let mut rss: HashMap<u32, u64> = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        };
        if let Some(ppid) = field("PPid:") {
            parents.insert(p, ppid as u32);
        }
        rss.insert(p, field("VmRSS:").unwrap_or(0) * 1024);
    }
    let under = |mut p: u32| {
        while p > 1 {
            if p == pid {
                return true;
            }
            match parents.get(&p) {
                Some(&up) => p = up,
                None => return false,
            }
        }
        false
    };
    rss.iter().filter(|(p, _)| under(**p)).map(|(_, r)| r).sum()
}

/// `drhost run db-restore`: wall time, drhost's own peak RSS (VmHWM) and
/// the peak of drhost plus its children (`pg_restore` and its workers).
fn with_drhost(config: &Path, journals: &Path, path: &std::ffi::OsStr) -> (Duration, u64, u64) {
    let mut running = Run::plugin("db-restore")
        .quiet()
        .yes()
        .config(config)
        .env("PATH", path)
        .params(&[
            ("backup", KEY),
            ("jobs", JOBS),
            ("app-path", "secret/drhost-bench/app"),
            ("services", "drhost-bench-no-such-container"),
        ])
        .journal_dir(journals)
        .spawn();
    let pid = running.id();
    let status = format!("/proc/{pid}/status");
    let (mut peak_kib, mut tree_peak) = (0u64, 0u64);
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        tree_peak = tree_peak.max(tree_rss(pid));
        if running.finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = running.wait();
    assert_eq!(out.code, 0, "drhost run db-restore failed:\n{}", out.stderr);
    (out.elapsed, peak_kib * 1024, tree_peak)
}

/// One way of restoring the dump.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Drhost,
    /// `aws s3 cp` (with one GET when true) then `pg_restore`.
    ByHand(bool),
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Drhost => "drhost run db-restore",
            Side::ByHand(false) => "aws s3 cp (default) + pg_restore",
            Side::ByHand(true) => "aws s3 cp (one GET) + pg_restore",
        }
    }
}

fn main() {
    let lab = Lab::load().expect("the lab is up (make lab)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rounds = std::env::var("DRHOST_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    let work = TmpDir::new("drhost-bench-");
    let config = config(&lab, work.path());
    let path = pg_first_path();
    let size = prepare(&lab, &rt, work.path());
    let journals = work.path().join("runs");

    println!(
        "db-restore benchmark: {:.0} MiB dump, S3 -> Postgres, --jobs {JOBS}, {}/pg_restore on both sides; \
         {rounds} tries per side, order rotated each round",
        mib(size),
        PG_BIN
    );
    let sides = [Side::Drhost, Side::ByHand(false), Side::ByHand(true)];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    let (mut peak, mut tree_peak) = (0u64, 0u64);
    for round in 0..rounds {
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            let took = match sides[i] {
                Side::Drhost => {
                    let (d, rss, tree) = with_drhost(&config, &journals, &path);
                    let (d_download, d_restore) = phases(&journals);
                    peak = peak.max(rss);
                    tree_peak = tree_peak.max(tree);
                    println!(
                        "  round {}: {:<34} {:.1} s ({:.1} MiB/s; s3.get {d_download:.1} s, postgres.restore {d_restore:.1} s; peak RSS {:.1} MiB, with pg_restore {:.1} MiB)",
                        round + 1,
                        sides[i].name(),
                        d.as_secs_f64(),
                        mib(size) / d.as_secs_f64(),
                        mib(rss),
                        mib(tree)
                    );
                    d
                }
                Side::ByHand(single_stream) => {
                    let (m, m_download) = by_hand(&lab, work.path(), single_stream);
                    println!(
                        "  round {}: {:<34} {:.1} s ({:.1} MiB/s; download {:.1} s, pg_restore {:.1} s)",
                        round + 1,
                        sides[i].name(),
                        m.as_secs_f64(),
                        mib(size) / m.as_secs_f64(),
                        m_download.as_secs_f64(),
                        (m - m_download).as_secs_f64(),
                    );
                    m
                }
            };
            samples[i].push(took);
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    for (side, m) in sides.iter().zip(&medians) {
        println!(
            "{:<34} median {:.1} s, {:.1} MiB/s",
            side.name(),
            m.as_secs_f64(),
            mib(size) / m.as_secs_f64()
        );
    }
    let by_hand = medians[1].min(medians[2]);
    let (tm, td) = (mib(size) / by_hand.as_secs_f64(), mib(size) / medians[0].as_secs_f64());
    println!(
        "throughput ratio (drhost / the faster by-hand median): {:.2}x  (target >= 0.9x; drhost's figure also holds \
         the diagnosis, sha256 check, row counts and Vault update; neither holds the backend restarts)",
        td / tm
    );
    println!(
        "drhost peak RSS: {:.1} MiB  (target <= 64 MiB; drhost alone)",
        mib(peak)
    );
    println!(
        "drhost + pg_restore peak RSS: {:.1} MiB  (sum over the process tree, sampled every 20 ms)",
        mib(tree_peak)
    );
    drhost_tests::bench::record(
        "db_restore",
        &[
            Figure::new(
                &format!(
                    "scenario 1: {:.0} MiB restore, S3 -> Postgres, drhost over the faster by-hand side",
                    mib(size)
                ),
                format!("{:.2}x ({td:.1} vs {tm:.1} MiB/s)", td / tm),
                "-",
                ">= 0.9x",
                td / tm >= 0.9,
            ),
            Figure::new(
                "peak RSS of drhost during the restore",
                format!("{:.1} MiB", mib(peak)),
                "-",
                "<= 64 MiB",
                mib(peak) <= 64.0,
            ),
        ],
    );
}
