//! What the operator sees while a plugin runs: steps, logs and refusals on
//! stderr (stdout is kept for the result, and for `--json`).
//!
//! Every string a plugin supplies (step names, notes, log lines, error texts
//! that echo its arguments, summaries, facts, hints, manifest text) reaches
//! the terminal only through [`plugin_text`]: one line, no control or
//! invisible formatting characters, bounded length, so a plugin can neither
//! clear the screen nor print a line that looks like the host's own. The
//! console also stops drawing plugin lines after [`TERMINAL_LINES`] and says
//! how many more are in the journal.
//!
//! How the host's marks look (colour, ASCII in a non-UTF-8 locale, durations)
//! is [`style`]; the elapsed counter of a long step on a terminal is `live`.

mod live;
pub mod style;

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use style::Style;

/// Plugin-supplied lines drawn per run; the rest are only journaled.
pub const TERMINAL_LINES: usize = 500;
/// Characters of one plugin-supplied string shown on the terminal.
pub const TERMINAL_TEXT: usize = 2000;

/// `text` made safe to print: control characters (C0, DEL, C1 — ESC
/// included), bidirectional overrides and invisible format characters are
/// shown as `\u{…}` escapes (a newline as `\n`), and anything past
/// [`TERMINAL_TEXT`] characters is cut with `…`.
pub fn plugin_text(text: &str) -> Cow<'_, str> {
    let clean = |c: char| !(c.is_control() || is_invisible_format(c));
    if text.chars().count() <= TERMINAL_TEXT && text.chars().all(clean) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(TERMINAL_TEXT * 2));
    for (shown, c) in text.chars().enumerate() {
        if shown == TERMINAL_TEXT {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if clean(c) => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// Unicode format characters that reorder or hide text on a terminal.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// The marks for good and bad in a list (`drhost inspect --config`):
/// `✓`/`✗` where stdout's [`Style`] uses glyphs (a UTF-8 locale), else
/// `ok`/`MISSING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks {
    /// Granted, present, fine.
    pub good: &'static str,
    /// Missing, refused, wrong.
    pub bad: &'static str,
}

impl Marks {
    /// `✓`/`✗`.
    pub const UNICODE: Marks = Marks {
        good: "✓", bad: "✗"
    };
    /// `ok`/`MISSING`.
    pub const ASCII: Marks = Marks {
        good: "ok",
        bad: "MISSING",
    };

    /// The marks for stdout, as [`Style::stdout`] decides glyphs.
    pub fn for_terminal() -> Marks {
        Marks::of(Style::stdout())
    }

    /// Unicode where `style` uses glyphs, else ASCII.
    pub fn of(style: Style) -> Marks {
        if style.unicode() {
            Marks::UNICODE
        } else {
            Marks::ASCII
        }
    }
}

/// Draws progress on stderr, or nothing when quiet.
#[derive(Clone)]
pub struct Console {
    quiet: bool,
    style: Style,
    /// Plugin-supplied lines so far (drawn or not).
    lines: Arc<AtomicUsize>,
    /// The elapsed counter of a long step, on a terminal only.
    live: Option<Arc<live::Live>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("quiet", &self.quiet)
            .field("style", &self.style)
            .field("live", &self.live.is_some())
            .finish()
    }
}

impl Console {
    /// A console that prints (`quiet = false`) or stays silent. On a
    /// terminal it also keeps a live elapsed counter for long steps.
    pub fn new(quiet: bool) -> Console {
        let style = Style::stderr();
        let live = (!quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .then(|| live::Live::start(style))
            .flatten();
        Console {
            quiet,
            style,
            lines: Arc::new(AtomicUsize::new(0)),
            live,
        }
    }

    /// How the host's marks look on stderr.
    pub fn style(&self) -> Style {
        self.style
    }

    /// Writes one line on stderr (erasing the live counter first).
    fn line(&self, text: std::fmt::Arguments<'_>) {
        match &self.live {
            Some(live) => live.line(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// Draws one plugin-supplied line while the run's budget lasts; the
    /// first line over it says so once.
    fn plugin_line(&self, text: std::fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
        let n = self.lines.fetch_add(1, Ordering::Relaxed);
        if n < TERMINAL_LINES {
            self.line(text);
        } else if n == TERMINAL_LINES {
            self.line(format_args!(
                "    {} the plugin's further lines are only in the journal (over {TERMINAL_LINES} lines)",
                self.style.more()
            ));
        }
    }

    /// Plugin lines that were journaled but not drawn.
    pub fn lines_not_drawn(&self) -> usize {
        self.lines.load(Ordering::Relaxed).saturating_sub(TERMINAL_LINES)
    }

    /// A step began.
    pub fn step_start(&self, name: &str) {
        if let Some(live) = &self.live {
            live.started(name);
        }
        self.plugin_line(format_args!("  {} {}", self.style.step(), plugin_text(name)));
    }

    /// A detail line for the current step.
    pub fn step_note(&self, message: &str) {
        self.plugin_line(format_args!("      {}", plugin_text(message)));
    }

    /// A step ended.
    pub fn step_end(&self, name: &str, ok: bool, elapsed: Duration) {
        if let Some(live) = &self.live {
            live.ended(name);
        }
        let mark = if ok { self.style.ok() } else { self.style.failed() };
        self.plugin_line(format_args!(
            "  {mark} {} ({})",
            plugin_text(name),
            style::duration(elapsed)
        ));
    }

    /// drhost's own line about the run (not the plugin's), unless quiet.
    pub fn notice(&self, message: &str) {
        if !self.quiet {
            self.line(format_args!("{}", self.style.warning(message)));
        }
    }

    /// A change plan mode recorded instead of making (it may quote the
    /// plugin's arguments).
    pub fn planned(&self, change: &str) {
        let mark = self.style.warning(self.style.glyph("◦", "o"));
        self.plugin_line(format_args!("    {mark} would {}", plugin_text(change)));
    }

    /// A change (or answer) `drhost resume` took from the dead run's
    /// journal instead of making it again.
    pub fn replayed(&self, change: &str, from: &str) {
        let mark = self.style.ok();
        self.plugin_line(format_args!(
            "    {mark} already done by {from}: {}",
            plugin_text(change)
        ));
    }

    /// A question approved without asking anyone (`--yes`, `--approve`,
    /// the config's policy): which one, by what, and what it said.
    pub fn approved(&self, id: &str, by: &str, question: &str) {
        self.plugin_line(format_args!(
            "    {} approved [{id}] by {}: {}",
            self.style.ok(),
            plugin_text(by),
            plugin_text(question)
        ));
    }

    /// A plugin log line.
    pub fn log(&self, level: &str, message: &str) {
        self.plugin_line(format_args!("    [{level}] {}", plugin_text(message)));
    }

    /// A capability call that returned an error (its text may echo the
    /// plugin's arguments). A denial shows every line: after the first come
    /// the drhost.toml lines that would allow the call.
    pub fn call_error(&self, call: &str, kind: &str, message: &str) {
        let mut lines = message.lines();
        let first = lines.next().unwrap_or_default();
        let bang = self.style.warning("!");
        self.plugin_line(format_args!("    {bang} {call}: {kind}: {}", plugin_text(first)));
        if kind == "access-denied" {
            for line in lines {
                self.plugin_line(format_args!("        {}", plugin_text(line)));
            }
        }
    }

    /// Runs `ask` (a question to the operator on the terminal) with the live
    /// counter erased and held, so it cannot draw over the prompt.
    pub fn prompting<T>(&self, ask: impl FnOnce() -> T) -> T {
        match &self.live {
            Some(live) => live.hold(ask),
            None => ask(),
        }
    }

    /// The plugin has stopped: the live counter is erased for good, so the
    /// report starts on a clean line.
    pub fn settle(&self) {
        if let Some(live) = &self.live {
            live.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{plugin_text, Marks, Style};

    #[test]
    fn marks_follow_the_locale_as_the_other_glyphs_do() {
        let marks = |vars: &'static [(&str, &str)]| {
            let var = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
            Marks::of(Style::from_env(false, &var))
        };
        assert_eq!(marks(&[("LANG", "en_GB.UTF-8")]), Marks::UNICODE);
        assert_eq!(marks(&[("LC_ALL", "C.utf8")]), Marks::UNICODE);
        assert_eq!(marks(&[("LANG", "en_GB.UTF-8"), ("NO_COLOR", "1")]), Marks::UNICODE);
        assert_eq!(marks(&[("LC_ALL", "C"), ("LANG", "en_GB.UTF-8")]), Marks::ASCII);
        assert_eq!(marks(&[]), Marks::ASCII);
    }

    #[test]
    fn plugin_text_cannot_drive_the_terminal() {
        assert_eq!(plugin_text("restored 12 rows"), "restored 12 rows");
        assert_eq!(plugin_text("héllo ✓ ünïcode"), "héllo ✓ ünïcode");
        assert_eq!(
            plugin_text("ok\u{1b}[2J\rdrhost: plugin verified\nfake"),
            "ok\\u{1b}[2J\\u{d}drhost: plugin verified\\nfake"
        );
        assert_eq!(plugin_text("a\u{202e}b\u{9b}c\u{7f}"), "a\\u{202e}b\\u{9b}c\\u{7f}");
        let long = "x".repeat(5000);
        assert_eq!(plugin_text(&long).chars().count(), super::TERMINAL_TEXT + 1);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Whatever a plugin sends, what reaches the terminal holds no
        /// control or invisible format character and is cut to size.
        #[test]
        fn plugin_text_never_reaches_the_terminal_raw(text in any::<String>()) {
            let shown = super::plugin_text(&text);
            prop_assert!(!shown.chars().any(|c| c.is_control() || super::is_invisible_format(c)), "{shown:?}");
            prop_assert!(shown.chars().filter(|&c| c != '\\').count() <= 12 * super::TERMINAL_TEXT);
        }
    }
}
