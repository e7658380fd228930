//! The README's "Using drhost" block works as written: every line is run,
//! in order, with the real binary as `drhost`, from a directory that holds
//! the repository's `plugins/`, `examples/` and `.lab/` (so the files a line
//! writes, `incident.html` and the `cache-check` crate, land there), with no
//! test-only environment: the trust file and lock come from the lab's
//! config, as they would for an operator.

use std::path::Path;
use std::process::Command;

use drhost_tests::cli::{drhost_bin, repo_root};
use drhost_tests::tmp::TmpDir;

/// The lines of the first ```sh block after `## Using drhost`.
fn using_drhost_lines(readme: &str) -> Vec<String> {
    let section = readme
        .split_once("\n## Using drhost\n")
        .expect("the README has a `## Using drhost` section")
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .expect("a ```sh block in `## Using drhost`")
        .0;
    block
        .lines()
        // A comment starts at `#` after spaces; no argument here holds one.
        .map(|line| {
            line.split_once("  #")
                .map_or(line, |(command, _)| command)
                .trim()
                .to_string()
        })
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn every_line_of_using_drhost_works_as_written() {
    let _serial = drhost_tests::lab::serial();
    let lab = drhost_tests::lab::up();
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = using_drhost_lines(&readme);
    assert!(lines.len() >= 10, "{lines:?}");

    let cwd = TmpDir::new("drhost-readme-");
    for name in ["plugins", "examples", ".lab"] {
        std::os::unix::fs::symlink(lab.path(name), cwd.path().join(name)).unwrap();
    }
    // Compiled once per machine, outside the operator's own cache.
    let cache = root.join("target/readme-xdg-cache");
    for line in &lines {
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("drhost"), "{line}");
        let out = Command::new(drhost_bin())
            .args(words)
            .current_dir(cwd.path())
            .env_remove("DRHOST_CONFIG")
            .env_remove("DRHOST_TRUST")
            .env_remove("DRHOST_LOCK")
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "`{line}` does not work as written:\n{stdout}\n{stderr}"
        );
        for bad in ["panicked at", "REFUSED"] {
            assert!(
                !stdout.contains(bad) && !stderr.contains(bad),
                "`{line}`:\n{stdout}\n{stderr}"
            );
        }
    }
    // What the lines said they would leave behind.
    let html = std::fs::read_to_string(cwd.path().join("incident.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..html.len().min(200)]);
    assert!(cwd.path().join("cache-check").join("Cargo.toml").is_file());
    assert!(Path::new(&cwd.path().join("cache-check/src/lib.rs")).is_file());
}
