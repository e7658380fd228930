//! `drhost new`: a scaffolded plugin — a Rust crate, a Python or a
//! JavaScript app — builds (Rust offline; Python and JavaScript with their
//! SDK's pinned tools), is refused unsigned, is signed with the lab's
//! development key and runs against the lab under the grant lines `drhost
//! new` printed; and `new` refuses a bad id, an existing directory or link,
//! a missing SDK and an unknown language, writing nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use drhost_tests::cli::{events, repo_root, Outcome, Run};
use drhost_tests::lab;
use drhost_tests::tmp::TmpDir;

const ID: &str = "lab-probe";

/// `drhost new --lang rust --dir DIR EXTRA… -- NAME` (`--`: a name may
/// start with a dash).
fn new(name: &str, dir: &Path, extra: &[&str]) -> Outcome {
    new_in("rust", name, dir, extra)
}

/// `drhost new --lang LANG --dir DIR EXTRA… -- NAME`.
fn new_in(lang: &str, name: &str, dir: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec!["new", "--lang", lang, "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(["--", name]);
    Run::cli(args).exec()
}

/// The grant lines `new` printed last (after "grant what it needs").
fn printed_grants(out: &Outcome) -> String {
    let (_, grants) = out
        .stdout
        .split_once("grant what it needs in FILE:\n")
        .unwrap_or_else(|| panic!("no grant lines in: {}", out.stdout));
    grants.to_string()
}

/// `cargo build --offline --release --target wasm32-wasip2` in `dir`, into
/// a target directory kept between runs (`target/new-plugin`), so only the
/// plugin's own crate is compiled again. Returns the component.
fn cargo_build(dir: &Path, id: &str) -> PathBuf {
    let target = repo_root().join("target/new-plugin");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let out = Command::new(cargo)
        .args([
            "build",
            "--offline",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--quiet",
        ])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    eprintln!("cargo build of the scaffold took {:.1?}", started.elapsed());
    assert!(
        out.status.success(),
        "cargo build failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", id.replace('-', "_")))
}

/// `bash build.sh` in `dir` (a Python or JavaScript scaffold): `dir/ID.wasm`.
fn script_build(dir: &Path, id: &str) -> PathBuf {
    let started = Instant::now();
    let out = Command::new("bash").arg("build.sh").current_dir(dir).output().unwrap();
    eprintln!("bash build.sh of the scaffold took {:.1?}", started.elapsed());
    assert!(
        out.status.success(),
        "bash build.sh failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join(format!("{id}.wasm"))
}

#[test]
fn a_new_rust_plugin_builds_offline_signs_and_runs_against_the_lab() {
    let tmp = TmpDir::new("drhost-new-");
    let dir = tmp.path().join(ID);
    let made = new(ID, &dir, &[]);
    assert_eq!(made.code, 0, "{}\n{}", made.stdout, made.stderr);
    for file in ["Cargo.toml", "Cargo.lock", "src/lib.rs", "README.md", ".gitignore"] {
        assert!(dir.join(file).is_file(), "{file} missing: {}", made.stdout);
    }
    assert!(
        made.stdout
            .contains("cargo build --offline --release --target wasm32-wasip2"),
        "{}",
        made.stdout
    );
    let built = cargo_build(&dir, ID);
    signs_and_runs_against_the_lab(&tmp, &made, &dir, &built, ID);
}

#[test]
fn a_new_python_plugin_builds_signs_and_runs_against_the_lab() {
    let id = "lab-probe-py";
    let tmp = TmpDir::new("drhost-new-");
    let dir = tmp.path().join(id);
    let made = new_in("python", id, &dir, &[]);
    assert_eq!(made.code, 0, "{}\n{}", made.stdout, made.stderr);
    for file in ["app.py", "build.sh", "README.md", ".gitignore"] {
        assert!(dir.join(file).is_file(), "{file} missing: {}", made.stdout);
    }
    assert!(
        made.stdout
            .contains(&format!("SDK {}", repo_root().join("sdk/python").display())),
        "{}",
        made.stdout
    );
    assert!(made.stdout.contains("&& bash build.sh"), "{}", made.stdout);
    let built = script_build(&dir, id);
    signs_and_runs_against_the_lab(&tmp, &made, &dir, &built, id);
}

#[test]
fn a_new_javascript_plugin_builds_signs_and_runs_against_the_lab() {
    let id = "lab-probe-js";
    let tmp = TmpDir::new("drhost-new-");
    let dir = tmp.path().join(id);
    let made = new_in("js", id, &dir, &[]);
    assert_eq!(made.code, 0, "{}\n{}", made.stdout, made.stderr);
    for file in ["app.js", "build.sh", "package.json", "README.md", ".gitignore"] {
        assert!(dir.join(file).is_file(), "{file} missing: {}", made.stdout);
    }
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    assert_eq!(
        package["devDependencies"]["drhost-sdk"],
        format!("file:{}", repo_root().join("sdk/js").canonicalize().unwrap().display())
    );
    let built = script_build(&dir, id);
    signs_and_runs_against_the_lab(&tmp, &made, &dir, &built, id);
}

/// The scaffold `made` in `dir`, built as `built`: its README shows the
/// grant lines `new` printed; unsigned it is refused (exit 3); signed with
/// the lab's key it probes the lab's registry (exit 0, one step, the fact
/// `http-status` 200, journaled); without the grant it is refused, naming it.
fn signs_and_runs_against_the_lab(tmp: &TmpDir, made: &Outcome, dir: &Path, built: &Path, id: &str) {
    let lab = lab::up();
    let grants = printed_grants(made);
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains(grants.trim()),
        "the README shows other grant lines:\n{readme}"
    );
    assert!(readme.contains(".lab/keys/lab-dev.key"), "{readme}");

    // Signing rewrites the file: sign a copy, not the build's output.
    let plugin = tmp.path().join(format!("{id}.wasm"));
    std::fs::copy(built, &plugin).unwrap();
    let unsigned = Run::wasm(&plugin).config_toml(&grants).exec();
    assert_eq!(
        unsigned.code, 3,
        "an unsigned scaffold must be refused: {}",
        unsigned.stderr
    );

    let key = repo_root().join(".lab/keys/lab-dev.key");
    let signed = Run::cli(["sign".as_ref(), plugin.as_os_str(), "--key".as_ref(), key.as_os_str()]).exec();
    assert_eq!(signed.code, 0, "{}", signed.stderr);

    // The lab's registry answers /v2/ with 200 whatever other tests do to the backends.
    let url = format!("{}/v2/", lab.get("REGISTRY_URL").unwrap());
    let out = Run::wasm(&plugin).config_toml(&grants).param("url", &url).json().exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "recovered", "{report}");
    assert_eq!(report["plugin"]["id"], id);
    assert_eq!(out.fact("http-status").as_deref(), Some("200"), "{report}");

    let journal = out.journal();
    assert_eq!(journal[0]["event"], "run-start");
    assert_eq!(journal[0]["plugin"]["id"], id);
    assert_eq!(journal[0]["plugin"]["version"], "0.1.0");
    let step = format!("probe {url}");
    let starts = events(&journal, "step-start");
    assert_eq!(starts.len(), 1, "{journal:?}");
    assert_eq!(starts[0]["step"], step.as_str(), "{:?}", starts[0]);
    let ends = events(&journal, "step-end");
    assert_eq!(ends.len(), 1, "{journal:?}");
    assert_eq!(ends[0]["ok"], true, "{:?}", ends[0]);
    assert_eq!(ends[0]["step"], step.as_str(), "{:?}", ends[0]);
    assert!(
        events(&journal, "log")
            .iter()
            .any(|l| l["message"].as_str().unwrap_or_default().contains("answered 200")),
        "{journal:?}"
    );
    let end = journal.last().unwrap();
    assert_eq!(end["event"], "run-end");
    assert_eq!(end["exit_code"], 0);
    assert_eq!(end["facts"][0]["name"], "http-status", "{end}");
    assert_eq!(end["facts"][0]["number"], 200, "{end}");

    // Without the grant, the run is refused before the plugin runs, naming the lines.
    let refused = Run::wasm(&plugin).config_toml("").exec();
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("[[plugins.{id}.http]]")),
        "{}",
        refused.stderr
    );
}

/// Nothing was created at `path`, and `new` said why in one line, exit 2.
fn assert_usage_error(out: &Outcome, says: &str) {
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "not one line: {}", out.stderr);
    assert!(out.stderr.contains(says), "expected `{says}` in: {}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn a_name_that_is_not_a_plugin_id_is_refused_and_nothing_is_written() {
    let tmp = TmpDir::new("drhost-new-");
    for bad in [
        "..",
        "a/b",
        "../escape",
        "Upper",
        "-dash",
        "snake_case",
        "has space",
        "",
    ] {
        let dir = tmp.path().join("out");
        let out = new(bad, &dir, &[]);
        assert_usage_error(&out, "is not a plugin id");
        assert!(!dir.exists(), "{bad:?} created {}", dir.display());
        // Without --dir the name would be the directory: nothing there either.
        let out = Run::cli(["new", "--lang", "rust", "--", bad]).exec();
        assert_usage_error(&out, "is not a plugin id");
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn an_existing_directory_or_link_is_never_written_into() {
    let tmp = TmpDir::new("drhost-new-");
    let existing = tmp.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("Cargo.toml"), "mine").unwrap();
    let out = new("probe", &existing, &[]);
    assert_usage_error(&out, "already exists");
    assert_eq!(std::fs::read_to_string(existing.join("Cargo.toml")).unwrap(), "mine");
    assert_eq!(std::fs::read_dir(&existing).unwrap().count(), 1);

    // A link to a directory, and a dangling one: neither is followed.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    assert_usage_error(&new("probe", &link, &[]), "already exists");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    let dangling = tmp.path().join("dangling");
    std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
    assert_usage_error(&new("probe", &dangling, &[]), "already exists");
    assert!(!tmp.path().join("nowhere").exists());

    // A file where the directory would go.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    assert_usage_error(&new("probe", &file, &[]), "already exists");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");

    // A parent that does not exist is not created.
    let deep = tmp.path().join("no/such/parent/probe");
    assert_usage_error(&new("probe", &deep, &[]), "is not a directory");
    assert!(!tmp.path().join("no").exists());
}

#[test]
fn no_sdk_is_a_one_line_error_naming_the_flag() {
    let tmp = TmpDir::new("drhost-new-");
    let dir = tmp.path().join("probe");
    let out = new("probe", &dir, &["--sdk", tmp.path().to_str().unwrap()]);
    assert_usage_error(&out, "cannot find the Rust SDK");
    assert!(out.stderr.contains("--sdk"), "{}", out.stderr);
    assert!(!dir.exists());
}

#[test]
fn an_unknown_language_is_a_usage_error() {
    let tmp = TmpDir::new("drhost-new-");
    let dir = tmp.path().join("probe");
    let out = Run::cli(["new", "--lang", "cobol", "probe", "--dir", dir.to_str().unwrap()]).exec();
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!dir.exists());
    // A Python or JavaScript SDK that is not there names its flag, as Rust's does.
    for (lang, name) in [("python", "Python"), ("js", "JavaScript")] {
        let out = new_in(lang, "probe", &dir, &["--sdk", tmp.path().to_str().unwrap()]);
        assert_usage_error(&out, &format!("cannot find the {name} SDK"));
        assert!(!dir.exists());
    }
}
