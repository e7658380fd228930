//! The lab's Docker Engine daemon, lost the way a crash or the OOM killer
//! loses it (SIGKILL), and brought back.
//!
//! Only a dockerd the lab started is ever killed: `lab/services/docker.sh`
//! records the one it starts in `.lab/run/dockerd.pid`. Without that file
//! the engine is the host's own, and [`Dockerd::of_lab`] fails the test
//! saying so — it never skips.
//!
//! Killing dockerd stops every container of the engine once it starts
//! again (the lab's engine is a swarm manager, so `--live-restore` is not
//! an option): the lab's own stacks go down with it. [`Dockerd::kill`]
//! therefore hands back a [`Killed`] guard that, when dropped — also while
//! a failed test unwinds — starts dockerd again if it is still dead
//! (`lab/services/docker.sh`) and runs `lab/up.sh`, which brings every
//! stack of the lab back (~20 s). `up.sh` is that of the checkout the lab
//! belongs to ([`Lab::home`]), so a worktree sharing another checkout's
//! lab puts back that lab, not its own version of it.
//! Tests that kill dockerd live in a test binary of their own
//! (`tests/dockerd_loss.rs`): cargo runs test binaries one after another,
//! and the lab lock ([`crate::lab::serial`]) keeps other processes' lab
//! tests out meanwhile.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::lab::Lab;

/// The lab's dockerd, found running.
pub struct Dockerd {
    lab: Lab,
    pid: libc::pid_t,
}

/// `.lab/run/dockerd.pid`.
fn pid_file(lab: &Lab) -> PathBuf {
    lab.path(".lab/run/dockerd.pid")
}

/// `pid` exists and is not a zombie (a killed daemon stays one until its
/// parent, often PID 1, reaps it).
fn alive(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// `pid` is a live process whose command line is dockerd's.
fn is_dockerd(pid: libc::pid_t) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    alive(pid) && program.ends_with(b"dockerd")
}

impl Dockerd {
    /// The dockerd the lab started. Panics, naming the fix, when the lab
    /// did not start the engine (no pid file) or the recorded process is
    /// not a running dockerd.
    pub fn of_lab(lab: &Lab) -> Dockerd {
        let file = pid_file(lab);
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): the lab did not start this Docker Engine, and this test kills only a dockerd the lab started \
                 (lab/services/docker.sh records it there). Stop the host's own dockerd and run `make lab`, which then starts one",
                file.display()
            )
        });
        let pid: libc::pid_t = text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{} holds `{}`, not a pid: run `make lab`", file.display(), text.trim()));
        assert!(
            is_dockerd(pid),
            "{} names pid {pid}, which is not a running dockerd: run `make lab`",
            file.display()
        );
        Dockerd { lab: lab.clone(), pid }
    }

    /// SIGKILLs it and waits until it is gone. The guard puts the lab
    /// back when dropped.
    pub fn kill(self) -> Killed {
        assert!(
            is_dockerd(self.pid),
            "pid {} is no longer the lab's dockerd: run `make lab`",
            self.pid
        );
        let killed = Killed { lab: self.lab };
        // SAFETY: kill(2) on the pid the lab recorded, just checked to be dockerd.
        let sent = unsafe { libc::kill(self.pid, libc::SIGKILL) };
        assert_eq!(sent, 0, "kill -KILL {}: {}", self.pid, std::io::Error::last_os_error());
        let until = Instant::now() + Duration::from_secs(30);
        while alive(self.pid) {
            assert!(
                Instant::now() < until,
                "dockerd (pid {}) outlived SIGKILL by 30 s",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        killed
    }
}

/// dockerd was killed: dropping this runs `lab/up.sh` (see the module).
#[must_use = "dropping it at once puts the lab back at once"]
pub struct Killed {
    lab: Lab,
}

impl Killed {
    /// Starts dockerd again as the lab does (this checkout's
    /// `lab/services/docker.sh`, which waits until it answers) and returns
    /// how long that took. The engine stops every container it had on the
    /// way up.
    pub fn restart(&self) -> Duration {
        let started = Instant::now();
        let out = self
            .lab
            .bash()
            .arg("lab/services/docker.sh")
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "lab/services/docker.sh did not start dockerd again: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let started = Instant::now();
        // dockerd first, by this checkout's script (the lab's own may not
        // yet know a killed dockerd's stale pid file), then every stack.
        let docker = self.lab.bash().arg("lab/services/docker.sh").output();
        if !docker.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("lab/services/docker.sh did not start dockerd again: {docker:?}");
        }
        match self.lab.home_bash().arg("lab/up.sh").output() {
            Ok(out) if out.status.success() => {
                eprintln!("lab/up.sh put the lab back in {:?}", started.elapsed())
            }
            Ok(out) => eprintln!(
                "lab/up.sh did not put the lab back after dockerd was killed; run `make lab`:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("lab/up.sh did not run ({e}); run `make lab`"),
        }
    }
}
