//! `files-poke`: one files operation chosen by `op`, on path `path` of
//! target `target`, reported as facts (the entry's kind, size and mode; a
//! read file's content and SHA-256; a listing's paths), or the typed error
//! as `error-kind` / `error` facts — so tests can check what the capability
//! does to the real directory and what a grant allows.
//!
//! `on-error=fail` turns an error into the run's failure instead (exit 1).
//! `fill-scratch=N` first writes N bytes into /scratch (to take the run
//! over its disk budget before the call).

use drhost_sdk::blob::Blob;
use drhost_sdk::files::{Directory, Entry, Kind};
use drhost_sdk::prelude::*;

struct FilesPoke;

impl Plugin for FilesPoke {
    fn describe() -> Manifest {
        manifest(
            "files-poke",
            env!("CARGO_PKG_VERSION"),
            "Performs the files operation it is told to (tests only)",
        )
        .param("target", "the files target label", Some("certs"))
        .param("op", "write | read | stat | list | remove", Some("stat"))
        .param("path", "the path inside the target's directory", Some("app.pem"))
        .param("content", "write: the text to write", Some("hello"))
        .param("bytes", "write: when not 0, write this many bytes of `x` instead of `content`", Some("0"))
        .param("mode", "write: permission bits, octal", Some("600"))
        .param("glob", "list: the glob", Some("**"))
        .param("fill-scratch", "bytes to write into /scratch before the call", Some("0"))
        .param("on-error", "report (facts, exit 0) or fail (exit 1)", Some("report"))
        .need("files", "certs", Access::Read, "reads and restores certificates")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let fill: usize = params.parse("fill-scratch")?;
        if fill > 0 {
            std::fs::write("/scratch/fill", vec![7u8; fill]).map_err(|e| fail(format!("filling scratch: {e}")))?;
        }
        match poke(&params)? {
            Ok(outcome) => Ok(outcome),
            Err(e) if params.get("on-error")? == "fail" => Err(e.into()),
            Err(e) => Ok(outcome("refused")
                .fact("error-kind", e.kind())
                .fact("error", e.message())),
        }
    }
}

/// The operation's outcome, or the capability's typed error.
fn poke(params: &Params) -> Result<Result<Outcome, Error>, Failure> {
    let dir = match Directory::open(params.get("target")?) {
        Ok(dir) => dir,
        Err(e) => return Ok(Err(e)),
    };
    let path = params.get("path")?;
    Ok(match params.get("op")? {
        "write" => {
            let mode = u32::from_str_radix(params.get("mode")?, 8).map_err(|e| fail(format!("mode: {e}")))?;
            let bytes: usize = params.parse("bytes")?;
            let data = match bytes {
                0 => params.get("content")?.as_bytes().to_vec(),
                n => vec![b'x'; n],
            };
            Blob::from_bytes(&data)
                .and_then(|blob| dir.write(path, &blob, mode))
                .map(|e| facts(outcome("written"), &e))
        }
        "read" => dir.read(path).and_then(|blob| {
            let content = blob.read(0, 64 << 10)?;
            Ok(outcome("read")
                .fact("content", String::from_utf8_lossy(&content))
                .fact("size", blob.size())
                .fact("sha256", blob.sha256()))
        }),
        "stat" => dir.stat(path).map(|e| facts(outcome("stat"), &e)),
        "list" => dir.list(params.get("glob")?).map(|entries| {
            let shown: Vec<String> = entries.iter().map(|e| format!("{}:{}", e.path, kind(e.kind))).collect();
            outcome("listed")
                .fact("entries", shown.join(","))
                .fact("count", entries.len())
        }),
        "remove" => dir.remove(path).map(|removed| outcome("removed").fact("removed", removed)),
        other => return Err(fail(format!("unknown op `{other}`"))),
    })
}

fn kind(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "file",
        Kind::Directory => "directory",
        Kind::Symlink => "symlink",
        Kind::Other => "other",
    }
}

fn facts(outcome: Outcome, e: &Entry) -> Outcome {
    outcome
        .fact("path", &e.path)
        .fact("kind", kind(e.kind))
        .fact("size", e.size)
        .fact("mode", format!("{:o}", e.mode))
        .fact("modified", &e.modified)
}

export_plugin!(FilesPoke);
