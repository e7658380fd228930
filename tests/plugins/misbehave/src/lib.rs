//! `misbehave`: does one bad thing, chosen by the `mode` parameter, so the
//! tests can check that the host contains it.

use drhost_sdk::prelude::*;

struct Misbehave;

impl Plugin for Misbehave {
    fn describe() -> Manifest {
        manifest(
            "misbehave",
            env!("CARGO_PKG_VERSION"),
            "Misbehaves on request (tests only)",
        )
        .param(
            "mode",
            "spin | spin-in-step | memory | panic | sandbox | shell | step-dropped | calls | confirm | fill-scratch | blobs",
            None,
        )
        .param(
            "bytes",
            "fill-scratch: bytes to write into /scratch; blobs: the size of each blob",
            Some("1048576"),
        )
        .param(
            "then",
            "fill-scratch: after writing, `call` (one host call) or `spin` (no call at all)",
            Some("call"),
        )
        .param("count", "host calls to make for mode=calls", Some("1000000"))
        .param("socket-port", "mode=sandbox: a 127.0.0.1 port to try to connect to", Some("22"))
        .param("program", "program for mode=shell", Some("echo"))
        .param("question", "mode=confirm: the question to ask", Some("drop the pretend table?"))
        .param(
            "then-ask",
            "mode=confirm: a second question to ask after an approval (empty: none)",
            Some(""),
        )
        .param(
            "args",
            "arguments for mode=shell, separated by |; a literal \\0 becomes a NUL byte",
            Some(""),
        )
        .param(
            "scratch-file",
            "for mode=shell: a file to write in /scratch before running the program",
            Some(""),
        )
        .param(
            "times",
            "mode=shell: run the program this many times, one after the other (a refusal ends the run)",
            Some("1"),
        )
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        match params.get("mode")? {
            "spin" => spin(),
            "memory" => memory_bomb(),
            "panic" => panic!("the plugin gave up on purpose"),
            "sandbox" => Ok(sandbox_probe(&params)),
            "shell" => shell(&params),
            "calls" => calls(params.parse("count")?),
            "fill-scratch" => fill_scratch(params.parse("bytes")?, params.get("then")?),
            "blobs" => blobs(params.parse("bytes")?),
            "spin-in-step" => {
                let _step = Step::start("waiting forever");
                spin()
            }
            "step-dropped" => {
                let _step = Step::start("never finished");
                Err(fail("left a step open"))
            }
            "confirm" => ask_first(params.get("question")?, params.get("then-ask")?),
            other => Err(fail(format!("unknown mode `{other}`"))),
        }
    }
}

fn spin() -> Result<Outcome, Failure> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn memory_bomb() -> Result<Outcome, Failure> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 8 << 20]);
        std::hint::black_box(&hoard);
    }
}

/// Tries everything a sandbox must refuse and reports what happened.
fn sandbox_probe(params: &Params) -> Outcome {
    let passwd = std::fs::read_to_string("/etc/passwd");
    let parent = std::fs::read_dir("/scratch/..").map(|d| d.count());
    let escape = std::fs::read_to_string("/scratch/../../etc/passwd");
    let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    let args: Vec<String> = std::env::args().collect();
    let scratch_write = std::fs::write("/scratch/probe.txt", b"ok").and_then(|_| std::fs::read("/scratch/probe.txt"));
    let mut stdin = String::new();
    let stdin_read = std::io::Read::read_to_string(&mut std::io::stdin(), &mut stdin);
    // The test passes the port of a listener it owns, so "denied" cannot be
    // a closed port's "connection refused".
    let port: u16 = params.parse("socket-port").unwrap_or(22);
    let socket = std::net::TcpStream::connect(("127.0.0.1", port));
    outcome("probed the sandbox")
        .fact("etc-passwd", verdict(&passwd))
        .fact("scratch-parent", verdict(&parent))
        .fact("dotdot-escape", verdict(&escape))
        .fact("env-count", env.len())
        .fact("args-count", args.len())
        .fact("scratch-write", verdict(&scratch_write))
        .fact("stdin-bytes", stdin_read.map(|_| stdin.len()).unwrap_or(0))
        .fact("socket", verdict(&socket))
}

fn verdict<T, E: std::fmt::Display>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "allowed".into(),
        Err(e) => format!("denied: {e}"),
    }
}

fn shell(params: &Params) -> Result<Outcome, Failure> {
    let program = params.get("program")?;
    let scratch_file = params.get("scratch-file")?;
    if !scratch_file.is_empty() {
        std::fs::write(format!("/scratch/{scratch_file}"), b"written by the guest")
            .map_err(|e| fail(format!("cannot write /scratch/{scratch_file}: {e}")))?;
    }
    let args: Vec<String> = params
        .get("args")?
        .split('|')
        .filter(|a| !a.is_empty())
        .map(|a| a.replace("\\0", "\0"))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for _ in 1..params.parse::<u32>("times")? {
        if let Err(e) = run_program(program, &args) {
            return Err(fail(format!("shell refused: {}", e.describe())));
        }
    }
    match run_program(program, &args) {
        Ok(done) => Ok(outcome("ran")
            .fact(
                "exit-code",
                done.exit_code.map_or("signal".to_string(), |c| c.to_string()),
            )
            .fact("stdout", done.stdout.trim_end())
            .fact("stderr", done.stderr.trim_end())),
        Err(e) => Err(fail(format!("shell refused: {}", e.describe()))),
    }
}

/// Makes `count` no-I/O host calls (`blob.size`) and times them in the guest.
fn calls(count: u64) -> Result<Outcome, Failure> {
    let blob = drhost_sdk::blob::Blob::from_bytes(b"x")?;
    let started = std::time::Instant::now();
    let mut total = 0u64;
    for _ in 0..count {
        total = total.wrapping_add(blob.size());
    }
    let elapsed = started.elapsed();
    let per_call = if count == 0 {
        0.0
    } else {
        elapsed.as_nanos() as f64 / count as f64
    };
    Ok(outcome("made host calls")
        .fact("calls", count)
        .fact("sum", total)
        .fact("ns-per-call", format!("{per_call:.1}")))
}

/// Writes `bytes` into `/scratch/fill` (1 MiB at a time, as a plugin that
/// downloads or unpacks would), then makes one host call (`then=call`: a
/// shell call it is not granted, which still goes through the host) or
/// spins without calling the host again (`then=spin`).
fn fill_scratch(bytes: u64, then: &str) -> Result<Outcome, Failure> {
    use std::io::Write;
    let step = Step::start("fill the scratch directory");
    let mut file = std::fs::File::create("/scratch/fill").map_err(|e| fail(format!("cannot create: {e}")))?;
    let chunk = vec![0x5au8; 1 << 20];
    let mut written = 0u64;
    while written < bytes {
        let n = chunk.len().min((bytes - written) as usize);
        file.write_all(&chunk[..n])
            .map_err(|e| fail(format!("write failed after {written} bytes: {e}")))?;
        written += n as u64;
    }
    file.flush().map_err(|e| fail(format!("flush failed: {e}")))?;
    step.ok();
    if then == "spin" {
        return spin();
    }
    let call = run_program("true", &[]).map(|_| "ran".to_string()).unwrap_or_else(|e| e.kind().to_string());
    Ok(outcome("filled the scratch directory")
        .fact("written", written)
        .fact("call", call))
}

/// Makes blobs of `bytes` each (`from-bytes`), keeping every one, until
/// the host refuses; then drops one and makes one more. Reports how many it
/// kept, the refusal, and whether the retry after the drop worked.
fn blobs(bytes: usize) -> Result<Outcome, Failure> {
    use drhost_sdk::blob::Blob;
    let data = vec![0xa5u8; bytes];
    let mut kept = Vec::new();
    let refusal = loop {
        match Blob::from_bytes(&data) {
            Ok(blob) => kept.push(blob),
            Err(e) => break e,
        }
        if kept.len() > 10_000 {
            return Err(fail("the host never refused a blob"));
        }
    };
    let count = kept.len();
    kept.pop();
    let retry = match Blob::from_bytes(&data) {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{}: {}", e.kind(), e.message()),
    };
    Ok(outcome("made blobs until refused")
        .fact("kept", count)
        .fact("error-kind", refusal.kind())
        .fact("error", refusal.message())
        .fact("after-drop", retry))
}

export_plugin!(Misbehave);

/// Asks before a (pretend) hard-to-undo change and reports the answer: an
/// approval is a success, a refusal or no answer at all a failure. With
/// `then`, a second question follows the first approval and must be
/// approved too.
fn ask_first(question: &str, then: &str) -> Result<Outcome, Failure> {
    let asked = |question: &str| match drhost_sdk::confirm::ask(question) {
        Ok(true) => Ok(()),
        Ok(false) => Err(fail("the operator declined: nothing changed")),
        Err(e) => Err(fail(format!("no answer: {}", e.describe()))),
    };
    asked(question)?;
    if !then.is_empty() {
        asked(then)?;
    }
    Ok(outcome("approved: the change would go ahead").fact("approved", "yes"))
}

