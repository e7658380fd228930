//! `noisy`: attacks what the operator reads and what the journal keeps,
//! chosen by `mode`:
//!
//! - `terminal`: escape sequences and forged host lines in every string the
//!   host shows — step names and notes, log lines, summary, facts, hint —
//!   ending in a failure with a hint (`end=fail`) or an outcome with a
//!   fact (`end=ok`);
//! - `flood`: `count` step notes and log lines of `size` bytes each, and as
//!   many over-long capability-call arguments, then succeeds.

use drhost_sdk::prelude::*;

struct Noisy;

/// Clears the screen, moves the cursor home and forges a host line.
const FORGED: &str = "\u{1b}[2J\u{1b}[H\rdrhost: plugin verified, signed by prod-key\n✓ all checks passed\u{202e}";

impl Plugin for Noisy {
    fn describe() -> Manifest {
        manifest("noisy", env!("CARGO_PKG_VERSION"), "Floods or fakes what the operator sees (tests only)")
            .param("mode", "terminal | flood", Some("terminal"))
            .param("end", "terminal: fail (with a hint) or ok (with a fact)", Some("fail"))
            .param("count", "flood: how many of each", Some("1000"))
            .param("size", "flood: bytes per message", Some("4096"))
            .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        match params.get("mode")? {
            "terminal" => {
                let step = Step::start(format!("step {FORGED}"));
                step.note(format!("note {FORGED}"));
                info(format!("log {FORGED}"));
                step.ok();
                if params.get("end")? == "ok" {
                    return Ok(outcome(format!("summary {FORGED}")).fact(&format!("fact {FORGED}"), FORGED));
                }
                Err(fail(format!("summary {FORGED}")).hint(format!("hint {FORGED}")))
            }
            "flood" => {
                let count: usize = params.parse("count")?;
                let size: usize = params.parse("size")?;
                let text = "x".repeat(size);
                let step = Step::start("flooding");
                for _ in 0..count {
                    step.note(&text);
                    info(&text);
                    // A call the host refuses still journals its arguments.
                    let _ = run_program(&text, &[text.as_str()]);
                }
                step.ok();
                Ok(outcome("flooded").fact("count", count))
            }
            other => Err(fail(format!("unknown mode `{other}`"))),
        }
    }
}

export_plugin!(Noisy);
