//! How the host's own marks look on one output stream: colour only when the
//! stream is a terminal and `NO_COLOR` is not set (and `TERM` is not
//! `dumb`); the ✓ ✗ ▸ … → glyphs only in a UTF-8 locale, plain ASCII
//! otherwise; durations in the unit a person reads at a glance. It decides
//! how a mark looks, never what is printed or where.

use std::io::IsTerminal;
use std::time::Duration;

/// The look of one stream (stdout or stderr), decided once from the
/// environment and whether the stream is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    colour: bool,
    unicode: bool,
}

/// An ANSI colour for a mark.
#[derive(Debug, Clone, Copy)]
enum Paint {
    Green,
    Red,
    Yellow,
    Cyan,
    Dim,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Green => "32",
            Paint::Red => "31",
            Paint::Yellow => "33",
            Paint::Cyan => "36",
            Paint::Dim => "2",
        }
    }
}

impl Style {
    /// The look of stderr (progress, warnings, errors).
    pub fn stderr() -> Style {
        Style::from_env(std::io::stderr().is_terminal(), &|name| std::env::var(name).ok())
    }

    /// The look of stdout (results).
    pub fn stdout() -> Style {
        Style::from_env(std::io::stdout().is_terminal(), &|name| std::env::var(name).ok())
    }

    /// The look for a stream that is (`terminal`) or is not a terminal,
    /// reading variables through `var`.
    pub fn from_env(terminal: bool, var: &dyn Fn(&str) -> Option<String>) -> Style {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        let colour = terminal && set("NO_COLOR").is_none() && set("TERM").as_deref() != Some("dumb");
        // The locale that decides the character set: LC_ALL, else LC_CTYPE,
        // else LANG; none at all is the C locale, which is ASCII.
        let locale = set("LC_ALL").or_else(|| set("LC_CTYPE")).or_else(|| set("LANG"));
        let unicode = locale.is_some_and(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("utf-8") || l.contains("utf8")
        });
        Style { colour, unicode }
    }

    /// The same look without colour (for text that is coloured as a whole).
    pub fn uncoloured(&self) -> Style {
        Style { colour: false, ..*self }
    }

    /// Whether colour escapes are written.
    pub fn colour(&self) -> bool {
        self.colour
    }

    /// Whether the Unicode glyphs are used (else ASCII).
    pub fn unicode(&self) -> bool {
        self.unicode
    }

    fn paint(&self, paint: Paint, text: &str) -> String {
        if self.colour {
            format!("\u{1b}[{}m{text}\u{1b}[0m", paint.code())
        } else {
            text.to_string()
        }
    }

    /// `unicode` in a UTF-8 locale, else `ascii`.
    pub fn glyph(&self, unicode: &'static str, ascii: &'static str) -> &'static str {
        if self.unicode {
            unicode
        } else {
            ascii
        }
    }

    /// The mark of something that succeeded: `✓` (green), or `ok`.
    pub fn ok(&self) -> String {
        self.paint(Paint::Green, self.glyph("✓", "ok"))
    }

    /// The mark of something that failed: `✗` (red), or `FAIL`.
    pub fn failed(&self) -> String {
        self.paint(Paint::Red, self.glyph("✗", "FAIL"))
    }

    /// The mark of a step that began: `▸` (cyan), or `>`.
    pub fn step(&self) -> String {
        self.paint(Paint::Cyan, self.glyph("▸", ">"))
    }

    /// `text` with the glyphs drhost draws (`✓ ✗ ▸ … → ◦ ≥`) spelt in
    /// ASCII outside a UTF-8 locale, for lines built without a style (the
    /// run history); other text is left as it is.
    pub fn plain<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        const GLYPHS: [(char, &str); 7] = [
            ('✓', "ok"),
            ('✗', "FAIL"),
            ('▸', ">"),
            ('…', "..."),
            ('→', "->"),
            ('◦', "o"),
            ('≥', ">="),
        ];
        if self.unicode || !text.chars().any(|c| GLYPHS.iter().any(|(g, _)| *g == c)) {
            return text.into();
        }
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match GLYPHS.iter().find(|(g, _)| *g == c) {
                Some((_, ascii)) => out.push_str(ascii),
                None => out.push(c),
            }
        }
        out.into()
    }

    /// An ellipsis: `…`, or `...`.
    pub fn more(&self) -> &'static str {
        self.glyph("…", "...")
    }

    /// An arrow from one thing to another: `→`, or `->`.
    pub fn arrow(&self) -> &'static str {
        self.glyph("→", "->")
    }

    /// `text` in the warning colour (yellow) on a colour terminal.
    pub fn warning(&self, text: &str) -> String {
        self.paint(Paint::Yellow, text)
    }

    /// `text` in the error colour (red) on a colour terminal.
    pub fn error(&self, text: &str) -> String {
        self.paint(Paint::Red, text)
    }

    /// `text` dimmed on a colour terminal (what changes while you watch).
    pub fn dim(&self, text: &str) -> String {
        self.paint(Paint::Dim, text)
    }
}

/// Rows under a header in left-aligned columns two spaces apart, each line
/// ending in `\n` without trailing spaces. A row with fewer cells than the
/// header leaves the rest empty; cells past the header are dropped.
pub fn columns(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, w) in widths.iter().enumerate() {
            let cell = cells.get(i).map_or("", String::as_str);
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// A duration as a person reads it: `12ms` under 0.1 s (`<1ms` below a
/// millisecond), `4.2s` under a minute, `3m05s` under an hour, `1h02m` beyond.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1 {
        "<1ms".to_string()
    } else if ms < 100 {
        format!("{ms}ms")
    } else if ms < 59_950 {
        format!("{:.1}s", d.as_secs_f64())
    } else if d.as_secs() < 3600 {
        let s = (d.as_secs_f64()).round() as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = d.as_secs() / 60;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(terminal: bool, vars: &[(&str, &str)]) -> Style {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Style::from_env(terminal, &|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(style(true, &[("LANG", "C.UTF-8")]).colour());
        assert!(!style(false, &[("LANG", "C.UTF-8")]).colour(), "never in a pipe");
        assert!(!style(true, &[("NO_COLOR", "1")]).colour());
        assert!(style(true, &[("NO_COLOR", "")]).colour(), "an empty NO_COLOR is unset");
        assert!(!style(true, &[("TERM", "dumb")]).colour());
        assert_eq!(style(false, &[]).ok(), "ok");
        assert_eq!(style(true, &[("LANG", "en_US.UTF-8")]).ok(), "\u{1b}[32m✓\u{1b}[0m");
    }

    #[test]
    fn glyphs_follow_the_locale() {
        for utf8 in [
            &[("LANG", "en_GB.UTF-8")][..],
            &[("LC_CTYPE", "C.utf8"), ("LANG", "C")],
            &[("LC_ALL", "de_DE.UTF-8"), ("LANG", "C")],
        ] {
            let s = style(false, utf8);
            assert!(s.unicode(), "{utf8:?}");
            assert_eq!(
                (s.ok(), s.failed(), s.step(), s.more()),
                ("✓".into(), "✗".into(), "▸".into(), "…")
            );
            assert_eq!(s.plain("✓ …"), "✓ …");
        }
        for ascii in [
            &[][..],
            &[("LANG", "C")],
            &[("LANG", "POSIX")],
            &[("LC_ALL", "C"), ("LANG", "en_US.UTF-8")],
            &[("LANG", "de_DE.ISO-8859-1")],
        ] {
            let s = style(false, ascii);
            assert!(!s.unicode(), "{ascii:?}");
            assert_eq!(
                (s.ok(), s.failed(), s.step(), s.more(), s.arrow()),
                ("ok".into(), "FAIL".into(), ">".into(), "...", "->")
            );
            assert_eq!(s.plain("✓ recovered … ≥ 2s → ✗"), "ok recovered ... >= 2s -> FAIL");
            assert_eq!(s.plain("plain é"), "plain é", "only drhost's glyphs change");
        }
        let empty_lc_all = style(false, &[("LC_ALL", ""), ("LANG", "C.UTF-8")]);
        assert!(empty_lc_all.unicode(), "an empty LC_ALL is unset");
    }

    #[test]
    fn durations_read_at_a_glance() {
        let ms = Duration::from_millis;
        assert_eq!(duration(Duration::from_micros(300)), "<1ms");
        assert_eq!(duration(ms(7)), "7ms");
        assert_eq!(duration(ms(99)), "99ms");
        assert_eq!(duration(ms(100)), "0.1s");
        assert_eq!(duration(ms(4_240)), "4.2s");
        assert_eq!(duration(ms(59_940)), "59.9s");
        assert_eq!(duration(ms(59_960)), "1m00s");
        assert_eq!(duration(ms(185_000)), "3m05s");
        assert_eq!(duration(ms(3_720_000)), "1h02m");
    }
}
