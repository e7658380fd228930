//! Why the sandbox stopped a plugin, in one line for the operator: the
//! deadline, the memory cap, the disk budget, leaked handles, the guest's own panic message,
//! or the trap with the plugin's last output. It reads the trap and the
//! store; it does not stop anything.

use std::time::Duration;

use crate::caps::kit::disk::DiskBudgetExceeded;
use crate::error::Error;
use crate::sandbox::{DeadlineExceeded, Limits, MemoryLimitReached, RunState};

/// The plugin ran past `timeout`.
pub(super) fn deadline_error(id: &str, timeout: Duration) -> Error {
    Error::Sandbox(format!(
        "plugin `{id}` ran past its deadline of {} and was stopped (raise it with --timeout or [run] timeout)",
        humantime::format_duration(timeout)
    ))
}

/// The plugin's scratch, or a program it ran, took the run over its disk
/// budget (`over`, when known).
pub(super) fn disk_error(id: &str, over: Option<DiskBudgetExceeded>) -> Error {
    let by_program = over.as_ref().is_some_and(|o| o.program.is_some());
    let why = over.map_or_else(|| "the run's disk budget is used up".to_string(), |o| o.to_string());
    let fix = if by_program {
        "a program run through shell.run may write only what is left of the budget: have it write less, or raise the budget with --disk or [run] disk"
    } else {
        "blobs are refused before they are written; scratch files are what went over: remove them as the plugin goes, or raise the budget with --disk or [run] disk"
    };
    Error::Sandbox(format!("plugin `{id}` was stopped: {why} ({fix})"))
}

/// Turns a trap into one line naming the limit or the guest's own message.
pub(crate) fn sandbox_error(
    trap: &wasmtime::Error,
    store: &wasmtime::Store<RunState>,
    id: &str,
    limits: Limits,
) -> Error {
    if trap.downcast_ref::<DeadlineExceeded>().is_some() {
        return deadline_error(id, limits.timeout);
    }
    if let Some(over) = trap.downcast_ref::<DiskBudgetExceeded>() {
        return disk_error(id, Some(over.clone()));
    }
    if trap.downcast_ref::<wasmtime::component::ResourceTableError>().is_some() {
        return Error::Sandbox(format!(
            "plugin `{id}` held more than {} handles at once (steps, blobs, connections, secrets, files) and was stopped: it leaks them",
            crate::sandbox::MAX_LIVE_RESOURCES
        ));
    }
    if trap.downcast_ref::<MemoryLimitReached>().is_some() || store.data().memory_limit_hit().is_some() {
        return Error::Sandbox(format!(
            "plugin `{id}` exceeded the memory limit of {} MiB and was stopped (raise it with --memory or [run] memory)",
            limits.memory >> 20
        ));
    }
    let (stderr, _) = store.data().stderr.contents();
    let what = match guest_panic(&stderr) {
        Some(message) => format!("the plugin panicked: {message}"),
        None => {
            let trap_text = match trap.downcast_ref::<wasmtime::Trap>() {
                Some(t) => t.to_string(),
                None => crate::engine::first_line(&format!("{trap:#}")).to_string(),
            };
            match stderr.lines().rev().find(|l| !l.trim().is_empty()) {
                Some(last) => format!("{trap_text}; its last output: {}", last.trim()),
                None => trap_text,
            }
        }
    };
    Error::Sandbox(format!("plugin `{id}` trapped: {what}"))
}

/// Extracts "message (at file:line:col)" from a Rust guest's panic output.
fn guest_panic(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let rest = &stderr[start + "panicked at ".len()..];
    let (location, message) = rest
        .split_once(":\n")
        .unwrap_or((rest.lines().next().unwrap_or_default(), ""));
    let message = message
        .lines()
        .take_while(|l| !l.starts_with("note: "))
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.trim();
    let mut text = if message.is_empty() {
        format!("at {location}")
    } else {
        format!("{message} (at {location})")
    };
    // Runtimes for other languages (componentize-py, …) print the language's
    // own error before their Rust panic: keep its last line.
    let before = stderr[..start]
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("thread "));
    if let Some(cause) = before {
        text.push_str(&format!("; before that it printed: {}", cause.trim()));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_is_extracted() {
        let stderr = "\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom went the plugin\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            guest_panic(stderr).unwrap(),
            "boom went the plugin (at src/lib.rs:12:9)"
        );
        assert_eq!(guest_panic("nothing here"), None);
        let python = "Traceback (most recent call last):\n  File \"app.py\", line 3\nValueError: boom\nthread '<unnamed>' panicked at runtime/src/lib.rs:1:2:\nPython function threw an unexpected exception\n";
        assert_eq!(
            guest_panic(python).unwrap(),
            "Python function threw an unexpected exception (at runtime/src/lib.rs:1:2); before that it printed: ValueError: boom"
        );
    }
}
