//! Shared helpers for drhost's integration tests and benches: where the
//! built binary and plugins are and how to run them ([`cli::Run`]), how to
//! reach the lab's real services ([`lab`]), temporary files removed on drop
//! ([`tmp`], kept with `DRHOST_KEEP_TMP=1`), HTTP servers that stand in for
//! misbehaving services ([`stub`]), compose projects a test owns
//! ([`compose`]), the docker runbooks' helpers and lab restore guard
//! ([`docker`]), the lab's dockerd killed and brought back ([`dockerd`]),
//! runbook scenario 3's own stack and its complete-loss fault
//! ([`phase2`]), a webhook receiver for `notify` ([`webhook`]), the other-language
//! SDK tests' helpers ([`sdk`]), headless Chromium for report pages
//! ([`chromium`]), killing drhost mid-recovery and resuming it
//! ([`resume`]), and small shared helpers ([`util`]).

pub mod bench;
pub mod chromium;
pub mod cli;
pub mod compose;
pub mod docker;
pub mod dockerd;
pub mod lab;
pub mod phase2;
pub mod resume;
pub mod sdk;
pub mod stub;
pub mod tmp;
pub mod util;
pub mod webhook;
