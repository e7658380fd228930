//! `noisy`: attacks what the operator reads and what the journal keeps,
//! chosen by `mode`:
//!
//! - `terminal`: escape sequences and forged host lines in every string the
//!   host shows — step names and notes, log lines, summary, facts, hint —
//!   ending in a failure with a hint (`end=fail`) or an outcome with a
//!   fact (`end=ok`);
//! - `markup`: text that would be live markup in a report (`drhost
//!   report`): a `<script>`, a `javascript:` link, table-cell breakers,
//!   escape sequences and newlines, in nested and failed step names, a
//!   note, a question (answered by `--yes` or not), a refused change, and
//!   the outcome's summary, fact and follow-up (`end=ok`) or hint
//!   (`end=fail`);
//! - `flood`: `count` step notes and log lines of `size` bytes each, and as
//!   many over-long capability-call arguments, then succeeds.

use drhost_sdk::prelude::*;

struct Noisy;

/// Clears the screen, moves the cursor home and forges a host line.
const FORGED: &str = "\u{1b}[2J\u{1b}[H\rdrhost: plugin verified, signed by prod-key\n✓ all checks passed\u{202e}";

/// Markup a report would make live: a script, a `javascript:` link, table
/// breakers, an escape sequence and a newline.
const MARKUP: &str = "<script>alert(1)</script> [click](javascript:alert(1)) | x | y |\u{1b}[31mred\u{1b}[0m\n# forged heading";

impl Plugin for Noisy {
    fn describe() -> Manifest {
        manifest("noisy", env!("CARGO_PKG_VERSION"), "Floods or fakes what the operator sees (tests only)")
            .param("mode", "terminal | markup | flood", Some("terminal"))
            .param("end", "terminal, markup: fail (with a hint) or ok (with a fact)", Some("fail"))
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
            "markup" => {
                let outer = Step::start(format!("outer {MARKUP}"));
                let inner = Step::start(format!("inner {MARKUP}"));
                inner.note(format!("note {MARKUP}"));
                inner.ok();
                Step::start(format!("failing {MARKUP}")).fail();
                let approved = drhost_sdk::confirm::ask(&format!("question {MARKUP}")).unwrap_or(false);
                // Refused (no grant), and journaled as an attempted change.
                let _ = run_program(MARKUP, &[MARKUP]);
                outer.ok();
                if params.get("end")? == "ok" {
                    return Ok(outcome(format!("summary {MARKUP}"))
                        .fact(&format!("fact {MARKUP}"), MARKUP)
                        .fact("approved", approved)
                        .follow_up(format!("follow-up {MARKUP}"), format!("why {MARKUP}")));
                }
                Err(fail(format!("summary {MARKUP}")).hint(format!("hint {MARKUP}")))
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
