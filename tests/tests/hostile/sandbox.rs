//! Attacks on the host's own files from inside the sandbox.

use std::path::PathBuf;

use drhost_tests::cli::{fixture, Run};
use drhost_tests::tmp::TmpDir;

/// A private temp directory that drhost uses as `TMPDIR`, holding the
/// directory the hostile plugin's links point at.
struct Tmp {
    dir: TmpDir,
}

impl Tmp {
    fn new() -> Tmp {
        let dir = TmpDir::new("drhost-hostile-");
        std::fs::create_dir(dir.path().join("drhost-escape-target")).expect("target dir");
        Tmp { dir }
    }

    /// `run` with this directory as drhost's `TMPDIR`.
    fn for_drhost(&self, run: Run) -> Run {
        run.env("TMPDIR", self.dir.path())
    }

    /// What the plugin managed to write outside its sandbox.
    fn escaped(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path().join("drhost-escape-target"))
            .expect("target dir")
            .map(|e| e.expect("entry").path())
            .collect()
    }

    /// What drhost left behind in TMPDIR besides the target directory.
    fn leftovers(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .expect("tmp dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| !p.ends_with("drhost-escape-target"))
            .collect()
    }
}

/// issue 11, item 1: `describe` runs for `inspect` of any file, signed or
/// not. The first wave kept its describe-time blob directory inside the
/// guest's scratch, so a relative link planted there made `blob.from-bytes`
/// write a host file outside the sandbox.
#[test]
fn inspect_of_a_hostile_plugin_writes_nothing_outside_its_sandbox() {
    let tmp = Tmp::new();
    let out = tmp.for_drhost(Run::inspect(fixture("describe-escape"))).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("describe-escape"), "{}", out.stdout);
    assert_eq!(
        tmp.escaped(),
        Vec::<PathBuf>::new(),
        "inspect wrote through a guest-made link"
    );
    assert_eq!(tmp.leftovers(), Vec::<PathBuf>::new(), "inspect left files behind");
}

/// The same plugin through `run` (its describe and its run both plant links
/// and store blobs): nothing lands outside, nothing is left behind.
#[test]
fn run_of_a_hostile_plugin_writes_nothing_outside_its_sandbox() {
    let tmp = Tmp::new();
    let out = tmp.for_drhost(Run::fixture("describe-escape").json()).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["summary"], "planted links and stored a blob");
    assert_eq!(
        tmp.escaped(),
        Vec::<PathBuf>::new(),
        "run wrote through a guest-made link"
    );
    assert_eq!(tmp.leftovers(), Vec::<PathBuf>::new(), "run left files behind");
}
