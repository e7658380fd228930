//! Debian's `chromium`, headless, for tests of generated report pages: the
//! DOM it builds from a page, and screenshots. A missing chromium fails the
//! test (it is never skipped): the lab's packages.sh installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `chromium --headless` with `args`, its output in files under `dir`.
pub fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    let profile = dir.join(format!("chromium-profile-{}", crate::util::unique("p")));
    // Output to files, not pipes: a page's DOM can exceed a pipe's buffer.
    let name = crate::util::unique("chromium");
    let (stdout, stderr) = (dir.join(format!("{name}.out")), dir.join(format!("{name}.err")));
    let file = |p: &Path| Stdio::from(std::fs::File::create(p).unwrap());
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(file(&stdout))
        .stderr(file(&stderr))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start chromium ({e}): install Debian's `chromium` (lab/services/packages.sh does, `make lab`)"
            )
        });
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::process::Output {
        status: child.wait().unwrap(),
        stdout: std::fs::read(&stdout).unwrap(),
        stderr: std::fs::read(&stderr).unwrap(),
    }
}

/// The DOM Chromium builds from `html` (written to a file in `dir`).
pub fn dom(dir: &Path, html: &str) -> String {
    let file: PathBuf = dir.join(format!("{}.html", crate::util::unique("report")));
    std::fs::write(&file, html).unwrap();
    let out = run(dir, &["--dump-dom", &format!("file://{}", file.display())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(dom.contains("</html>"), "chromium printed no DOM:\n{dom}");
    dom
}
