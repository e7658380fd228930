//! The `files` capability on a real directory, through the `files-poke`
//! fixture and the real `drhost` binary.
//!
//! Each test makes its own directory tree: `target/` (the files target's
//! directory) beside `outside/` (what a hostile path or link tries to
//! reach), writes its own `drhost.toml`, and asserts what the directory
//! holds afterwards — contents, modes, no temporary file left — the
//! journal and the exit code. Nothing here touches the shared lab.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use drhost_tests::cli::{calls, events, Outcome, Run};
use drhost_tests::tmp::TmpDir;
use serde_json::json;
use sha2::{Digest, Sha256};

/// A files target's directory with a sibling directory outside it.
struct Tree {
    dir: TmpDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = TmpDir::new("drhost-files-");
        for sub in ["target", "outside"] {
            std::fs::create_dir(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("outside/secret.txt"), "outside-secret-content").unwrap();
        Tree { dir }
    }

    fn target(&self) -> PathBuf {
        self.dir.join("target")
    }

    fn outside(&self) -> PathBuf {
        self.dir.join("outside")
    }

    /// `[targets.files.certs]` on `target/`, then `grants`.
    fn config(&self, grants: &str) -> String {
        format!(
            "[targets.files.certs]\npath = \"{}\"\n\n{grants}",
            self.target().display()
        )
    }

    /// Every path under `target/` and `outside/` (relative to the tree), sorted.
    fn all(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![self.dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                found.push(path.strip_prefix(&*self.dir).unwrap().display().to_string());
                if entry.file_type().unwrap().is_dir() {
                    stack.push(path);
                }
            }
        }
        found.sort();
        found
    }

    fn assert_no_temp_file(&self) {
        let temps: Vec<_> = self.all().into_iter().filter(|p| p.contains(".drhost-")).collect();
        assert!(temps.is_empty(), "temporary files left: {temps:?}");
    }

    fn assert_outside_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.outside().join("secret.txt")).unwrap(),
            "outside-secret-content"
        );
        let outside: Vec<_> = self.all().into_iter().filter(|p| p.starts_with("outside/")).collect();
        assert_eq!(outside, ["outside/secret.txt"], "something was made outside");
        let beside: Vec<_> = std::fs::read_dir(&*self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        assert_eq!(beside.len(), 2, "something was made beside the target: {beside:?}");
    }
}

/// One `[[plugins.files-poke.files]]` table on target `certs`.
fn grant(paths: &[&str], access: &[&str]) -> String {
    format!(
        "[[plugins.files-poke.files]]\ntarget = \"certs\"\npaths = {}\naccess = {}\n",
        json!(paths),
        json!(access)
    )
}

/// `drhost run files-poke --json --param K=V…` with `config`.
fn poke(config: &str, params: &[(&str, &str)]) -> Outcome {
    Run::fixture("files-poke")
        .config_toml(config)
        .json()
        .params(params)
        .exec()
}

fn show(out: &Outcome) -> String {
    format!("exit {}\nstdout:\n{}\nstderr:\n{}", out.code, out.stdout, out.stderr)
}

/// The typed error the fixture reported, as (kind, message).
fn refused(out: &Outcome) -> (String, String) {
    assert_eq!(out.code, 0, "{}", show(out));
    (
        out.fact("error-kind")
            .unwrap_or_else(|| panic!("not refused: {}", show(out))),
        out.fact("error").unwrap_or_default(),
    )
}

/// Every capability call the run journaled, as text (the run's parameters
/// and grants, which the journal records too, left out).
fn calls_text(out: &Outcome) -> String {
    let journal = out.journal();
    events(&journal, "call")
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn write_read_stat_list_remove_round_trip_on_the_real_directory() {
    let tree = Tree::new();
    let config = tree.config(&grant(&["**"], &["read", "write"]));
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB-first\n-----END CERTIFICATE-----\n";

    // Write: a new file in a new directory, 0600, atomically.
    let out = poke(
        &config,
        &[
            ("op", "write"),
            ("path", "live/app.pem"),
            ("content", pem),
            ("mode", "600"),
        ],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("error-kind"), None, "{}", show(&out));
    assert_eq!(
        (out.fact("kind").as_deref(), out.fact("mode").as_deref()),
        (Some("file"), Some("600"))
    );
    assert_eq!(out.fact("size"), Some(pem.len().to_string()));
    let file = tree.target().join("live/app.pem");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pem);
    assert_eq!(mode_of(&file), 0o600);
    assert_eq!(mode_of(&tree.target().join("live")), 0o700, "a made directory is 0700");
    tree.assert_no_temp_file();
    let journal = out.journal();
    let write = calls(&journal, "files.write");
    assert_eq!(write.len(), 1);
    assert_eq!(
        write[0]["args"],
        json!({ "target": "certs", "path": "live/app.pem", "mode": "0600", "size": pem.len(), "sha256": sha256(pem.as_bytes()) })
    );
    assert_eq!(
        write[0]["outcome"]["ok"],
        json!({ "size": pem.len(), "mode": "0600", "sha256": sha256(pem.as_bytes()), "replaced": false, "made_dirs": 1 })
    );
    assert!(!calls_text(&out).contains("MIIB-first"), "the content was journaled");

    // Write again: replaced whole, with the new mode.
    let second = "-----BEGIN CERTIFICATE-----\nMIIB-second\n-----END CERTIFICATE-----\n";
    let out = poke(
        &config,
        &[
            ("op", "write"),
            ("path", "live/app.pem"),
            ("content", second),
            ("mode", "644"),
        ],
    );
    assert_eq!(out.fact("mode").as_deref(), Some("644"), "{}", show(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), second);
    assert_eq!(mode_of(&file), 0o644);
    tree.assert_no_temp_file();
    let journal = out.journal();
    assert_eq!(calls(&journal, "files.write")[0]["outcome"]["ok"]["replaced"], true);

    // Read: the real content, into a blob; the journal has its digest only.
    let out = poke(&config, &[("op", "read"), ("path", "live/app.pem")]);
    assert_eq!(out.fact("content").as_deref(), Some(second), "{}", show(&out));
    assert_eq!(out.fact("sha256"), Some(sha256(second.as_bytes())));
    let journal = out.journal();
    let read = calls(&journal, "files.read");
    assert_eq!(
        read[0]["outcome"]["ok"],
        json!({ "size": second.len(), "sha256": sha256(second.as_bytes()), "mode": "0644" })
    );
    assert!(!calls_text(&out).contains("MIIB-second"), "the content was journaled");

    // Stat and list.
    let out = poke(&config, &[("op", "stat"), ("path", "live/app.pem")]);
    assert_eq!(
        (out.fact("kind"), out.fact("size"), out.fact("mode")),
        (Some("file".into()), Some(second.len().to_string()), Some("644".into())),
        "{}",
        show(&out)
    );
    assert!(out.fact("modified").unwrap().ends_with('Z'));
    let out = poke(&config, &[("op", "stat"), ("path", "live/none.pem")]);
    assert_eq!(refused(&out).0, "not-found");
    let out = poke(&config, &[("op", "list"), ("glob", "**")]);
    assert_eq!(
        out.fact("entries").as_deref(),
        Some("live:directory,live/app.pem:file"),
        "{}",
        show(&out)
    );

    // Remove: gone; a second remove says there was nothing.
    let out = poke(&config, &[("op", "remove"), ("path", "live/app.pem")]);
    assert_eq!(out.fact("removed").as_deref(), Some("true"), "{}", show(&out));
    assert!(!file.exists());
    let out = poke(&config, &[("op", "remove"), ("path", "live/app.pem")]);
    assert_eq!(out.fact("removed").as_deref(), Some("false"), "{}", show(&out));
    let out = poke(&config, &[("op", "remove"), ("path", "live")]);
    assert_eq!(refused(&out).0, "conflict", "a directory is not removed");
    assert!(tree.target().join("live").is_dir());
    tree.assert_outside_untouched();
}

#[test]
fn paths_that_leave_the_directory_are_refused_before_anything_is_touched() {
    let tree = Tree::new();
    let config = tree.config(&grant(&["**"], &["read", "write"]));
    for path in ["../x", "/etc/passwd", "a/../../x", "a//b", "./a", "a/", "..", ""] {
        for op in ["write", "read", "stat", "remove"] {
            let out = poke(&config, &[("op", op), ("path", path), ("content", "pwned")]);
            let (kind, message) = refused(&out);
            assert_eq!(kind, "invalid-argument", "{op} {path:?}: {}", show(&out));
            assert!(message.contains("is refused"), "{message}");
        }
    }
    assert!(tree.all().iter().all(|p| !p.starts_with("target/")), "{:?}", tree.all());
    tree.assert_outside_untouched();
    assert_ne!(std::fs::read_to_string("/etc/passwd").unwrap(), "pwned");

    // Setuid, setgid and sticky bits are never given.
    for mode in ["4755", "2755", "1777", "17777"] {
        let out = poke(&config, &[("op", "write"), ("path", "tool"), ("mode", mode)]);
        assert_eq!(refused(&out).0, "invalid-argument", "mode {mode}: {}", show(&out));
    }
    assert!(!tree.target().join("tool").exists());
}

#[test]
fn links_inside_the_directory_are_never_followed_or_replaced() {
    let tree = Tree::new();
    let target = tree.target();
    std::os::unix::fs::symlink(tree.outside().join("secret.txt"), target.join("link")).unwrap();
    std::os::unix::fs::symlink(tree.outside(), target.join("linkdir")).unwrap();
    std::fs::create_dir(target.join("real")).unwrap();
    let fifo = std::ffi::CString::new(target.join("pipe").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: mkfifo on a path we own; a named pipe nobody writes.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let config = tree.config(&grant(&["**"], &["read", "write"]));

    let cases = [
        ("read", "link"),
        ("read", "linkdir/secret.txt"),
        ("write", "link"),
        ("write", "linkdir/secret.txt"),
        ("write", "linkdir/new.pem"),
        ("write", "linkdir/deeper/new.pem"),
        ("remove", "link"),
        ("remove", "linkdir/secret.txt"),
        ("stat", "linkdir/secret.txt"),
        ("read", "pipe"),
        ("write", "pipe"),
        ("read", "real"),
        ("write", "real"),
    ];
    for (op, path) in cases {
        let out = poke(&config, &[("op", op), ("path", path), ("content", "overwritten")]);
        let (kind, message) = refused(&out);
        assert_eq!(kind, "conflict", "{op} {path}: {}", show(&out));
        if path.starts_with("link") {
            assert!(message.contains("symbolic link"), "{op} {path}: {message}");
        }
        for text in [&out.stdout, &out.stderr, &out.journal_text()] {
            assert!(
                !text.contains("outside-secret-content"),
                "{op} {path} showed the outside file"
            );
        }
    }
    tree.assert_outside_untouched();
    tree.assert_no_temp_file();
    // The links are still the same links.
    assert_eq!(
        std::fs::read_link(target.join("link")).unwrap(),
        tree.outside().join("secret.txt")
    );
    assert_eq!(std::fs::read_link(target.join("linkdir")).unwrap(), tree.outside());

    // stat and list show a link as a link, and never enter it.
    let out = poke(&config, &[("op", "stat"), ("path", "link")]);
    assert_eq!(out.fact("kind").as_deref(), Some("symlink"), "{}", show(&out));
    let out = poke(&config, &[("op", "list"), ("glob", "**")]);
    assert_eq!(
        out.fact("entries").as_deref(),
        Some("link:symlink,linkdir:symlink,pipe:other,real:directory"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_target_directory_that_is_a_link_is_not_opened() {
    let tree = Tree::new();
    let link = tree.dir.join("link-to-outside");
    std::os::unix::fs::symlink(tree.outside(), &link).unwrap();
    let config = format!(
        "[targets.files.certs]\npath = \"{}\"\n\n{}",
        link.display(),
        grant(&["**"], &["read", "write"])
    );
    let out = poke(
        &config,
        &[("op", "write"), ("path", "x"), ("content", "through the link")],
    );
    let (kind, message) = refused(&out);
    assert_eq!(kind, "unavailable", "{}", show(&out));
    assert!(message.contains("symbolic link"), "{message}");
    assert!(!tree.outside().join("x").exists());
}

#[test]
fn paths_outside_the_grant_and_writes_without_write_access_are_denied() {
    let tree = Tree::new();
    let target = tree.target();
    std::fs::create_dir_all(target.join("keys")).unwrap();
    std::fs::write(target.join("keys/app.key"), "private-key-content").unwrap();
    std::fs::create_dir_all(target.join("public")).unwrap();
    std::fs::write(target.join("public/readme"), "public text").unwrap();
    let config = tree.config(&format!(
        "{}{}",
        grant(&["certs/*.pem"], &["read", "write"]),
        grant(&["public/*"], &["read"])
    ));

    let out = poke(
        &config,
        &[("op", "write"), ("path", "keys/app.key"), ("content", "replaced")],
    );
    let (kind, message) = refused(&out);
    assert_eq!(kind, "access-denied", "{}", show(&out));
    assert!(
        message.ends_with(
            "[[plugins.files-poke.files]]\ntarget = \"certs\"\npaths = [\"keys/app.key\"]\naccess = [\"write\"]"
        ),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("keys/app.key")).unwrap(),
        "private-key-content"
    );

    let out = poke(&config, &[("op", "read"), ("path", "keys/app.key")]);
    assert_eq!(refused(&out).0, "access-denied");
    assert!(!out.stdout.contains("private-key-content") && !out.journal_text().contains("private-key-content"));

    // A read-only grant reads but cannot write or remove.
    let out = poke(&config, &[("op", "read"), ("path", "public/readme")]);
    assert_eq!(out.fact("content").as_deref(), Some("public text"), "{}", show(&out));
    for op in ["write", "remove"] {
        let out = poke(
            &config,
            &[("op", op), ("path", "public/readme"), ("content", "defaced")],
        );
        let (kind, message) = refused(&out);
        assert_eq!(kind, "access-denied", "{op}: {}", show(&out));
        assert!(message.contains("access = [\"write\"]"), "{message}");
    }
    assert_eq!(
        std::fs::read_to_string(target.join("public/readme")).unwrap(),
        "public text"
    );

    // Inside the grant: written.
    let out = poke(
        &config,
        &[("op", "write"), ("path", "certs/new.pem"), ("content", "ok")],
    );
    assert_eq!(out.fact("kind").as_deref(), Some("file"), "{}", show(&out));
    assert_eq!(std::fs::read_to_string(target.join("certs/new.pem")).unwrap(), "ok");
    let journal = out.journal();
    assert_eq!(calls(&journal, "files.write")[0]["outcome"]["ok"]["made_dirs"], 1);
}

#[test]
fn no_grant_is_refused_before_the_run_with_the_toml_to_add() {
    let tree = Tree::new();
    let grant = "[[plugins.files-poke.files]]\ntarget = \"certs\"\npaths = [\"PATH/*\"]\naccess = [\"read\"]\n";
    let target = "[targets.files.certs]\npath = \"/ABSOLUTE/DIRECTORY\"";
    // With the target already configured, only the grant is advised; with
    // nothing configured, the target's table follows the grant.
    for (config, advises_target) in [(tree.config(""), false), (String::new(), true)] {
        let out = poke(&config, &[("op", "stat")]);
        assert_eq!(out.code, 3, "{}", show(&out));
        let message = out.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains(grant), "{message}");
        assert_eq!(
            message.contains(&format!("{grant}\n{target}")),
            advises_target,
            "{message}"
        );
        assert_eq!(message.contains("[targets.files.certs]"), advises_target, "{message}");
        assert!(out.journal().iter().all(|e| e["event"] != "call"), "nothing ran");
    }
}

#[test]
fn writes_count_against_the_disk_budget_and_leave_no_temporary_file() {
    let tree = Tree::new();
    let config = tree.config(&grant(&["**"], &["read", "write"]));

    // The blob fits (700 KB of 1 MiB); writing it would take as much again.
    let out = Run::fixture("files-poke")
        .config_toml(&config)
        .json()
        .params(&[
            ("op", "write"),
            ("path", "big.bin"),
            ("bytes", "700000"),
            ("on-error", "fail"),
        ])
        .args(["--disk", "1MiB"])
        .exec();
    assert_eq!(out.code, 1, "{}", show(&out));
    let journal = out.journal();
    let write = calls(&journal, "files.write");
    assert_eq!(write[0]["outcome"]["error"]["kind"], "failed");
    let message = write[0]["outcome"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("disk budget of 1 MiB would be exceeded"), "{message}");
    assert!(!tree.target().join("big.bin").exists());
    tree.assert_no_temp_file();

    // Scratch already over the budget: the run stops at the call (exit 4),
    // before anything is written.
    let out = Run::fixture("files-poke")
        .config_toml(&config)
        .json()
        .params(&[("op", "write"), ("path", "small.txt"), ("fill-scratch", "2000000")])
        .args(["--disk", "1MiB"])
        .exec();
    assert_eq!(out.code, 4, "{}", show(&out));
    assert!(
        out.json()["summary"].as_str().unwrap().contains("disk budget"),
        "{}",
        show(&out)
    );
    assert!(!tree.target().join("small.txt").exists());
    tree.assert_no_temp_file();
    assert!(tree.all().iter().all(|p| !p.starts_with("target/")), "{:?}", tree.all());

    // Within the budget it is written.
    let out = Run::fixture("files-poke")
        .config_toml(&config)
        .json()
        .params(&[("op", "write"), ("path", "big.bin"), ("bytes", "300000")])
        .args(["--disk", "1MiB"])
        .exec();
    assert_eq!(out.fact("size").as_deref(), Some("300000"), "{}", show(&out));
    assert_eq!(std::fs::metadata(tree.target().join("big.bin")).unwrap().len(), 300_000);
}

#[test]
fn a_listing_never_shows_a_path_the_grant_does_not() {
    let tree = Tree::new();
    let target = tree.target();
    for (path, content) in [
        ("certs/a.pem", "a"),
        ("certs/b.key", "b"),
        ("certs/old/c.pem", "c"),
        ("private/hidden-secret.pem", "s"),
        ("notes-hidden.txt", "n"),
    ] {
        let file = target.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    let config = tree.config(&format!(
        "{}{}",
        grant(&["certs/*.pem"], &["read"]),
        grant(&["private/*"], &["write"])
    ));
    for glob in ["**", "*.pem", "*"] {
        let out = poke(&config, &[("op", "list"), ("glob", glob)]);
        assert_eq!(
            out.fact("entries").as_deref(),
            Some("certs/a.pem:file,certs/old/c.pem:file"),
            "{glob}: {}",
            show(&out)
        );
        for text in [&out.stdout, &out.stderr, &calls_text(&out)] {
            for hidden in ["hidden", "b.key", "private"] {
                assert!(!text.contains(hidden), "{glob}: `{hidden}` shown:\n{text}");
            }
        }
        let journal = out.journal();
        assert_eq!(calls(&journal, "files.list")[0]["outcome"]["ok"]["entries"], 2);
    }
    let out = poke(&config, &[("op", "list"), ("glob", "certs/old/*")]);
    assert_eq!(
        out.fact("entries").as_deref(),
        Some("certs/old/c.pem:file"),
        "{}",
        show(&out)
    );

    // A label with only write grants lists nothing: denied, with the TOML.
    let config = format!(
        "{}[targets.files.drop]\npath = \"{}\"\n[[plugins.files-poke.files]]\ntarget = \"drop\"\npaths = [\"**\"]\naccess = [\"write\"]\n",
        tree.config(&grant(&["certs/*.pem"], &["read"])),
        target.display()
    );
    let out = poke(&config, &[("target", "drop"), ("op", "list"), ("glob", "**")]);
    let (kind, message) = refused(&out);
    assert_eq!(kind, "access-denied", "{}", show(&out));
    assert!(
        message.ends_with("target = \"drop\"\npaths = [\"**\"]\naccess = [\"read\"]"),
        "{message}"
    );
}
