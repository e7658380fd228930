//! Scenario 1 option B benchmark: a ~1 GiB `pg_dump -Fc` in S3 restored by
//! `drhost run plugins/db-restore.wasm` versus the runbook by hand
//! (`aws s3 cp` to a file, then `pg_restore --clean --if-exists --no-owner
//! --no-privileges`), into the same scratch database of the lab's Postgres,
//! with the same `--jobs`. Prints each one's throughput (dump bytes / wall
//! time, download and restore together) and drhost's peak RSS (VmHWM of the
//! drhost process, sampled every 20 ms). Targets: drhost >= 0.9x the manual
//! throughput, peak RSS <= 64 MiB.
//!
//! Run with `cargo bench -p drhost-tests --bench db_restore` after `make lab
//! build` (part of `make bench`). It creates database `drhost_bench` and the
//! S3 key `bench/backup_<stamp>.dump` once (about 1 GiB; reused by later runs)
//! and leaves the rest of the lab alone. `DRHOST_BENCH_ROWS` changes the size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use drhost_tests::cli::Run;
use drhost_tests::lab::Lab;
use drhost_tests::tmp::TmpDir;
use sha2::{Digest, Sha256};

const DATABASE: &str = "drhost_bench";
const KEY: &str = "bench/backup_20260101_000000.dump";
const ROUNDS: usize = 2;
const JOBS: &str = "2";

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
    let mut cmd = Command::new(format!("/usr/lib/postgresql/15/bin/{program}"));
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

/// The operator config for the benchmark: `primary` is the scratch database;
/// the backends are not restarted (no container matches); Vault gets a
/// scratch path.
fn config(lab: &Lab, work: &Path) -> PathBuf {
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    let url = lab.get("PG_URL").unwrap();
    let bench_url = url.replace("/toolboxai", &format!("/{DATABASE}"));
    let text = base
        .replace(&format!("url = \"{url}\""), &format!("url = \"{bench_url}\""))
        .replace(
            "paths = [\"secret/toolboxai/*\"]",
            "paths = [\"secret/toolboxai/*\", \"secret/drhost-bench/*\"]",
        )
        .replace(
            "[[plugins.db-restore.s3]]\ntarget = \"backups\"\nprefixes = [\"supabase/*\"]",
            "[[plugins.db-restore.s3]]\ntarget = \"backups\"\nprefixes = [\"supabase/*\", \"bench/*\"]",
        );
    let path = work.join("drhost.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `drhost run db-restore` with drhost's peak RSS (VmHWM) sampled.
fn with_drhost(config: &Path, journals: &Path) -> (Duration, u64) {
    let mut running = Run::plugin("db-restore")
        .quiet()
        .yes()
        .config(config)
        .params(&[
            ("backup", KEY),
            ("jobs", JOBS),
            ("app-path", "secret/drhost-bench/app"),
            ("services", "drhost-bench-no-such-container"),
        ])
        .journal_dir(journals)
        .spawn();
    let status = format!("/proc/{}/status", running.id());
    let mut peak_kib = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if running.finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = running.wait();
    assert_eq!(out.code, 0, "drhost run db-restore failed:\n{}", out.stderr);
    (out.elapsed, peak_kib * 1024)
}

fn main() {
    let lab = Lab::load().expect("the lab is up (make lab)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let work = TmpDir::new("drhost-bench-");
    let size = prepare(&lab, &rt, work.path());
    let config = config(&lab, work.path());
    let journals = work.path().join("runs");

    println!(
        "db-restore benchmark: {:.0} MiB dump, S3 -> Postgres, --jobs {JOBS}, {ROUNDS} rounds each",
        mib(size)
    );
    let (mut manual, mut drhost, mut peak) = (Vec::new(), Vec::new(), 0u64);
    for round in 1..=ROUNDS {
        let mut fastest_by_hand = Duration::MAX;
        for single_stream in [false, true] {
            let (m, m_download) = by_hand(&lab, work.path(), single_stream);
            println!(
                "  round {round}: by hand ({}) {:.1} s ({:.1} MiB/s; download {:.1} s, pg_restore {:.1} s)",
                if single_stream {
                    "aws s3 cp, one GET"
                } else {
                    "aws s3 cp, default"
                },
                m.as_secs_f64(),
                mib(size) / m.as_secs_f64(),
                m_download.as_secs_f64(),
                (m - m_download).as_secs_f64(),
            );
            fastest_by_hand = fastest_by_hand.min(m);
        }
        let m = fastest_by_hand;
        let (d, rss) = with_drhost(&config, &journals);
        let (d_download, d_restore) = phases(&journals);
        peak = peak.max(rss);
        println!(
            "           drhost  {:.1} s ({:.1} MiB/s; s3.get {d_download:.1} s, postgres.restore {d_restore:.1} s; peak RSS {:.1} MiB)",
            d.as_secs_f64(),
            mib(size) / d.as_secs_f64(),
            mib(rss)
        );
        manual.push(m);
        drhost.push(d);
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap();
    let (m, d) = (best(&manual), best(&drhost));
    let (tm, td) = (mib(size) / m.as_secs_f64(), mib(size) / d.as_secs_f64());
    println!(
        "aws s3 cp + pg_restore:  best {:.1} s, {tm:.1} MiB/s (the faster of the two CLI settings)",
        m.as_secs_f64()
    );
    println!(
        "drhost run db-restore:   best {:.1} s, {td:.1} MiB/s (download, verify, restore, row counts)",
        d.as_secs_f64()
    );
    println!("throughput ratio (drhost / by hand): {:.2}x  (target >= 0.9x)", td / tm);
    println!("drhost peak RSS: {:.1} MiB  (target <= 64 MiB)", mib(peak));
}
