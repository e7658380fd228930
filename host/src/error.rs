//! The errors `drhost` reports to the operator, each with its exit code.
//!
//! Every variant renders as one line that names the cause and the fix. This
//! module owns the mapping to exit codes; it must not print anything.

use std::path::PathBuf;

/// Exit code: the plugin recovered (or succeeded).
pub const EXIT_OK: i32 = 0;
/// Exit code: the plugin ran and reported a failure.
pub const EXIT_PLUGIN_FAILED: i32 = 1;
/// Exit code: usage or configuration error; nothing ran.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: refused (missing grant, not a plugin, incompatible contract).
pub const EXIT_REFUSED: i32 = 3;
/// Exit code: the sandbox stopped the plugin (deadline, memory, trap).
pub const EXIT_SANDBOX: i32 = 4;
/// Exit code: the plugin recovered, and reported follow-ups the operator
/// must still do by hand ("recovered, follow-up required").
pub const EXIT_FOLLOW_UP: i32 = 5;
/// Exit code: a drill ran to the end and missed a target (RTO or RPO, named
/// in its summary), or could not measure one it has.
pub const EXIT_TARGET_MISSED: i32 = 6;
/// Exit code: the operator interrupted the run (SIGINT or SIGTERM), as
/// shells report a command ended by Ctrl-C (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Why a `drhost` command did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong (bad flag value, unknown parameter).
    #[error("{0}")]
    Usage(String),

    /// The configuration file is unreadable or malformed.
    #[error("{}", config_message(path, *line, *column, message))]
    Config {
        /// The file that is wrong.
        path: PathBuf,
        /// 1-based line of the problem (0 when unknown: then no place is shown).
        line: usize,
        /// 1-based column of the problem (0 when unknown).
        column: usize,
        /// What is wrong and, where possible, the key.
        message: String,
    },

    /// The plugin file could not be read.
    #[error("cannot read plugin {path}: {reason}")]
    PluginFile {
        /// The path given on the command line.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },

    /// drhost refuses to run the plugin (not a plugin, incompatible, grants).
    #[error("{0}")]
    Refused(String),

    /// The sandbox stopped the plugin: deadline, memory cap, or a trap.
    #[error("{0}")]
    Sandbox(String),

    /// The operator interrupted the run (Ctrl-C, or SIGTERM from a supervisor).
    #[error("{0}")]
    Interrupted(String),

    /// The journal could not be written; drhost stops rather than run blind.
    #[error("cannot write the journal at {path}: {reason} (choose another place with --journal-dir)")]
    Journal {
        /// The journal file or directory.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },

    /// Something failed inside drhost itself (engine setup, compile).
    #[error("{0}")]
    Internal(String),

    /// Signature, trust or lock: refused (exit 3) or a signing problem (exit 2).
    #[error(transparent)]
    Trust(Box<crate::trust::TrustError>),

    /// Pushing to or pulling from an OCI registry failed.
    #[error(transparent)]
    Registry(Box<crate::oci::RegistryError>),
}

impl From<crate::trust::TrustError> for Error {
    fn from(error: crate::trust::TrustError) -> Error {
        Error::Trust(Box::new(error))
    }
}

impl From<crate::oci::RegistryError> for Error {
    fn from(error: crate::oci::RegistryError) -> Error {
        Error::Registry(Box::new(error))
    }
}

impl Error {
    /// The process exit code for this error (see `drhost --help`).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config { .. } | Error::PluginFile { .. } => EXIT_USAGE,
            Error::Journal { .. } | Error::Internal(_) => EXIT_USAGE,
            Error::Refused(_) => EXIT_REFUSED,
            Error::Sandbox(_) => EXIT_SANDBOX,
            Error::Interrupted(_) => EXIT_INTERRUPTED,
            Error::Trust(e) => e.exit_code(),
            Error::Registry(e) => e.exit_code(),
        }
    }

    /// A short machine-readable name for `--json` output and the journal.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::Config { .. } => "config",
            Error::PluginFile { .. } => "plugin-file",
            Error::Refused(_) => "refused",
            Error::Sandbox(_) => "sandbox",
            Error::Interrupted(_) => "interrupted",
            Error::Journal { .. } => "journal",
            Error::Internal(_) => "internal",
            Error::Trust(_) => "trust",
            Error::Registry(_) => "registry",
        }
    }
}

/// `PATH:LINE:COLUMN: MESSAGE`, or `PATH: MESSAGE` when no place in the
/// file is known (it could not be read at all).
fn config_message(path: &std::path::Path, line: usize, column: usize, message: &str) -> String {
    match (line, column) {
        (0, _) => format!("{}: {message}", path.display()),
        (line, 0) => format!("{}:{line}: {message}", path.display()),
        (line, column) => format!("{}:{line}:{column}: {message}", path.display()),
    }
}

/// The class of a failed command for machines: one name per exit code,
/// `plugin-failure` (1), `usage` (2), `refused` (3), `sandbox` (4),
/// `target-missed` (6), `interrupted` (130); `None` for success (0, and 5: recovered with
/// follow-ups).
pub fn error_kind(exit_code: i32) -> Option<&'static str> {
    match exit_code {
        EXIT_OK | EXIT_FOLLOW_UP => None,
        EXIT_PLUGIN_FAILED => Some("plugin-failure"),
        EXIT_REFUSED => Some("refused"),
        EXIT_SANDBOX => Some("sandbox"),
        EXIT_INTERRUPTED => Some("interrupted"),
        EXIT_TARGET_MISSED => Some("target-missed"),
        _ => Some("usage"),
    }
}

/// The `error` object of every `--json` output: the class (see
/// [`error_kind`]), the exit code and the one-line message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErrorReport {
    /// `plugin-failure`, `usage`, `refused`, `sandbox` or `interrupted`.
    pub kind: &'static str,
    /// The process exit code it ends with.
    pub exit_code: i32,
    /// What went wrong and what to do, as the terminal shows it.
    pub message: String,
}

impl ErrorReport {
    /// The report of `error`.
    pub fn of(error: &Error) -> ErrorReport {
        ErrorReport::new(error.exit_code(), error.to_string())
    }

    /// The report of a failure that exits with `exit_code` (not 0).
    pub fn new(exit_code: i32, message: String) -> ErrorReport {
        ErrorReport {
            kind: error_kind(exit_code).unwrap_or("usage"),
            exit_code,
            message,
        }
    }
}

/// Result with drhost's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
