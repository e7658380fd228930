//! Child processes the capabilities start (`shell` programs, Postgres tools).

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
