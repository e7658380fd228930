//! Child processes the capabilities start (`shell` programs, Postgres
//! tools, the compose CLI): what they inherit, how big a file they may
//! write, and the process group killed whole when a call ends early.

/// Makes a child process hold only stdin, stdout and stderr of what drhost
/// has open: every other descriptor drhost inherited or opened (a caller's
/// lock, a socket, a file) is marked close-on-exec in the child before it
/// runs. Without this a daemon that a shell grant restarts keeps, for as
/// long as it runs, whatever drhost's own caller left open (seen: a lab
/// lock held by a restarted Redis).
pub(crate) fn only_stdio(cmd: &mut tokio::process::Command) {
    // SAFETY: runs in the forked child before exec and calls only
    // async-signal-safe functions (close_range, fcntl); nothing allocates.
    unsafe {
        cmd.pre_exec(|| {
            if libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) != 0 {
                // Kernels before 5.11: mark them one by one.
                for fd in 3..4096 {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(())
        });
    }
}

/// Makes a child unable to make any file larger than `bytes`
/// (`RLIMIT_FSIZE`; `SIGXFSZ` ignored, so the write past it fails with
/// `EFBIG` and the tool reports it): a tool writing a blob (`pg_dump`)
/// stays within what is left of the run's disk budget.
pub(crate) fn file_size_limit(cmd: &mut tokio::process::Command, bytes: u64) {
    max_file_size(cmd, bytes, libc::SIG_IGN);
}

/// Makes a child unable to make any file larger than `bytes`
/// (`RLIMIT_FSIZE`, soft and hard), and killed by `SIGXFSZ` (its default
/// action) when it tries: a granted program (`shell`) cannot take the run
/// past its disk budget with one file, and drhost can tell from how it
/// ended that it tried. The limit is inherited by whatever it starts.
pub(crate) fn file_size_cap(cmd: &mut tokio::process::Command, bytes: u64) {
    max_file_size(cmd, bytes, libc::SIG_DFL);
}

/// `RLIMIT_FSIZE` of `bytes` in the child, and `on_excess` as what
/// `SIGXFSZ` does there.
fn max_file_size(cmd: &mut tokio::process::Command, bytes: u64, on_excess: libc::sighandler_t) {
    // SAFETY: runs in the forked child before exec and calls only
    // async-signal-safe functions (setrlimit, signal); nothing allocates.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, on_excess);
            Ok(())
        });
    }
}

/// The process group a child leads (spawned with `process_group(0)`):
/// every process in it is killed with SIGKILL when this is dropped — on a
/// timeout, or when the call is dropped before the child was waited for
/// (the run's deadline, a cancelled instance) — unless
/// [`ProcessGroup::disarm`] was called after the child exited. A CLI that
/// runs its work in a child of its own (`docker compose` runs the compose
/// plugin) is stopped whole, not just its first process.
///
/// Declare it after the `Child` it watches, so it is dropped first: the
/// group is killed while the child is not yet reaped and its id still
/// names the group.
pub(crate) struct ProcessGroup(Option<u32>);

impl ProcessGroup {
    /// The group `child` leads.
    pub(crate) fn of(child: &tokio::process::Child) -> ProcessGroup {
        ProcessGroup(child.id())
    }

    /// Kills every process of the group, once.
    pub(crate) fn kill(&mut self) {
        if let Some(pgid) = self
            .0
            .take()
            .and_then(|id| libc::pid_t::try_from(id).ok())
            .filter(|&pgid| pgid > 1)
        {
            // SAFETY: killpg takes two integers and touches no memory.
            // `pgid` is the id of our own child, not yet reaped, so it
            // still names the group it leads (a zombie keeps its id).
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }

    /// Leaves the group alone from now on (the child exited and was
    /// reaped: its id may be reused).
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
