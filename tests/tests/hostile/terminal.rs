//! Attacks on what the operator reads and what the journal keeps (issue 11,
//! items 6 and 7), through the real binary with human output.

use drhost_tests::cli::{self, Run};

/// `drhost run noisy --param K=V…`, with human output.
fn noisy(params: &[(&str, &str)]) -> cli::Outcome {
    Run::fixture("noisy").params(params).exec()
}

/// No escape character or bidi override reaches the terminal, and nothing
/// the plugin says starts a line the way the host's own lines do.
fn assert_screen_is_the_hosts(text: &str) {
    assert!(
        !text.contains('\u{1b}'),
        "an escape sequence reached the terminal:\n{text}"
    );
    assert!(
        !text.contains('\u{202e}'),
        "a bidi override reached the terminal:\n{text}"
    );
    assert!(!text.contains('\r'), "a carriage return reached the terminal:\n{text}");
    for line in text.lines() {
        assert!(
            !line.starts_with("drhost: plugin verified") && !line.starts_with("✓ all checks passed"),
            "the plugin forged a host line: {line:?}\n{text}"
        );
    }
}

#[test]
fn a_plugin_cannot_draw_on_the_operators_terminal() {
    let out = noisy(&[("mode", "terminal"), ("end", "fail")]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert_screen_is_the_hosts(&out.stdout);
    assert_screen_is_the_hosts(&out.stderr);
    // What the plugin said is still shown, visibly escaped: its progress on
    // stderr, its failure (the result) on stdout.
    for shown in ["▸ step \\u{1b}[2J", "      note \\u{1b}[2J", "[info] log \\u{1b}[2J"] {
        assert!(out.stderr.contains(shown), "missing {shown:?}:\n{}", out.stderr);
    }
    for shown in ["summary \\u{1b}[2J", "hint: hint \\u{1b}[2J"] {
        assert!(out.stdout.contains(shown), "missing {shown:?}:\n{}", out.stdout);
    }
    // The journal keeps the plugin's exact text (JSON-escaped).
    let journal = out.journal();
    let log = cli::events(&journal, "log");
    assert!(log[0]["message"].as_str().unwrap().contains("\u{1b}[2J"));

    let out = noisy(&[("mode", "terminal"), ("end", "ok")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_screen_is_the_hosts(&out.stdout);
    assert!(out.stdout.contains("    fact \\u{1b}[2J"), "{}", out.stdout);
}

#[test]
fn a_plugin_cannot_flood_the_terminal_or_the_journal() {
    // 20,000 notes, log lines and refused calls of 4 KiB: ~240 MiB of events.
    let out = noisy(&[("mode", "flood"), ("count", "20000"), ("size", "4096")]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr.len());
    let shown = out.stderr.lines().count();
    assert!(shown < 520, "{shown} lines reached the terminal");
    assert!(
        out.stderr.contains("further lines are only in the journal"),
        "{}",
        &out.stderr[..2000.min(out.stderr.len())]
    );

    let text = out.journal_text();
    assert!(
        text.len() < (64 << 20) + (1 << 20),
        "the journal holds {} bytes",
        text.len()
    );
    let journal = out.journal();
    assert_eq!(cli::events(&journal, "journal-truncated").len(), 1);
    let end = cli::events(&journal, "run-end");
    assert_eq!(end.len(), 1, "run-end is always written");
    assert_eq!(end[0]["status"], "recovered");
    assert!(
        end[0]["journal_events_dropped"].as_u64().unwrap() > 10_000,
        "{}",
        end[0]
    );
    // No string field is longer than the field cap (plus its note).
    let call = cli::events(&journal, "call")[0];
    assert!(
        call.to_string().len() < 2 * 16 * 1024 + 1024,
        "{}",
        call.to_string().len()
    );
}
