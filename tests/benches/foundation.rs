//! Foundation benchmark: prints the figures the foundation promises.
//!
//! - cold compile of `plugins/hello.wasm` (no cache)
//! - cached whole-process `drhost run plugins/hello.wasm` (target ≤ 25 ms)
//! - instantiate: store + WASI context + instance
//! - guest→host call overhead for a no-I/O call (`blob.size`, target ≤ 1 µs)
//!
//! Run with `make bench` (or `cargo bench -p drhost-tests --bench foundation`)
//! after `make build`. It measures; it asserts nothing about speed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use drhost::caps::confirm::ConfirmPolicy;
use drhost::console::Console;
use drhost::engine::Runtime;
use drhost::journal::Journal;
use drhost::sandbox::{new_store, Limits, RunContext};
use drhost_tests::cli::{config, plugin, Run};
use drhost_tests::tmp::TmpDir;
use drhost_tests::util::{median, percentile};

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let hello = plugin("hello");
    let bytes = std::fs::read(&hello).expect("read hello.wasm");
    println!(
        "drhost foundation benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("plugin: {} ({} bytes)", hello.display(), bytes.len());

    // Cold compile: a fresh engine with no cache each time.
    let compile: Vec<Duration> = (0..5)
        .map(|_| {
            let runtime = Runtime::new(None).expect("engine");
            let started = Instant::now();
            runtime.load(&bytes, "bench").expect("compile");
            started.elapsed()
        })
        .collect();
    println!("cold compile:                 median {}  (5 runs)", ms(median(compile)));

    // Cached whole-process run.
    let cfg = config("[[plugins.hello.shell]]\nprogram = \"echo\"\nargs = [\"**\"]\n[[plugins.hello.http]]\nhost = \"127.0.0.1:*\"\n");
    let cache = TmpDir::new("drhost-bench-cache-");
    let hello_run = Run::wasm(&hello).quiet().config(&cfg).cache_dir(&cache);
    let run = || {
        let out = hello_run.exec();
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.elapsed
    };
    let first = run();
    let cached: Vec<Duration> = (0..30).map(|_| run()).collect();
    println!("whole-process run, first:     {}  (compiles and caches)", ms(first));
    println!(
        "whole-process run, cached:    median {}  p90 {}  (30 runs; target <= 25 ms)",
        ms(median(cached.clone())),
        ms(percentile(cached, 90))
    );

    // Instantiate.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let runtime = Runtime::new(None).expect("engine");
    let (component, _) = runtime.load(&bytes, "bench").expect("compile");
    let scratch = TmpDir::new("drhost-bench-scratch-");
    let per_instance: Vec<Duration> = tokio.block_on(async {
        let mut samples = Vec::new();
        for _ in 0..1000 {
            let ctx = Arc::new(RunContext {
                plugin_id: "hello".into(),
                grants: Default::default(),
                journal: Arc::new(Journal::disabled()),
                console: Console::new(true),
                scratch: scratch.path().to_owned(),
                blob_dir: scratch.path().join("blobs"),
                deadline: Instant::now() + Duration::from_secs(60),
                confirm: ConfirmPolicy::Nobody,
                steps: Default::default(),
                disk: drhost::caps::kit::disk::DiskBudget::new(1 << 30, scratch.path()),
                config_file: None,
                plan: None,
            });
            let started = Instant::now();
            let limits = Limits {
                timeout: Duration::from_secs(60),
                memory: 256 << 20,
                disk: 1 << 30,
            };
            let mut store = new_store(&runtime, ctx, limits).expect("store");
            drhost::plugin::instantiate(&runtime, &component, &mut store)
                .await
                .expect("instantiate");
            samples.push(started.elapsed());
        }
        samples
    });
    println!(
        "instantiate (store+WASI+instance): median {:.1} µs  (1000 runs)",
        median(per_instance).as_secs_f64() * 1e6
    );

    // Guest→host call overhead, timed inside the guest.
    let out = Run::fixture("misbehave")
        .quiet()
        .json()
        .param("mode", "calls")
        .param("count", "2000000")
        .cache_dir(&cache)
        .exec();
    let per_call = out.fact("ns-per-call").unwrap_or_else(|| "?".into());
    println!("guest->host call (blob.size): {per_call} ns per call  (2,000,000 calls; target <= 1000 ns)");
}
