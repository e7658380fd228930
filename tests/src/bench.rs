//! Issue 14's figures, gathered into one table: each bench [`record`]s its
//! figures (what, now, baseline, target, whether the target is met) in
//! `target/bench/<bench>.tsv`, replacing what that bench recorded before,
//! and `cargo bench -p drhost-tests --bench summary` (the last step of
//! `make bench`) prints every bench's rows as one Markdown table. A bench
//! that did not run this time shows as such; its old file is not shown.

use std::io::Write;
use std::path::PathBuf;

/// The benches, in the order the table lists them.
pub const BENCHES: [&str; 6] = ["foundation", "docker", "redis", "db_restore", "infra", "cold_build"];

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// What is measured, e.g. "cached `drhost run plugins/hello.wasm`".
    pub what: String,
    /// The figure now, with its unit.
    pub now: String,
    /// Where it started (issue 14's measurement), or "-".
    pub baseline: String,
    /// The target, or "-".
    pub target: String,
    /// `Some(true)` met, `Some(false)` missed, `None` no target.
    pub met: Option<bool>,
}

impl Figure {
    /// A row with a target; `met` says whether `now` meets it.
    pub fn new(what: &str, now: String, baseline: &str, target: &str, met: bool) -> Figure {
        Figure {
            what: what.to_string(),
            now,
            baseline: baseline.to_string(),
            target: target.to_string(),
            met: Some(met),
        }
    }

    /// A row whose target needs a figure the bench does not have (it is
    /// judged in PERF-NOTES.md).
    pub fn unjudged(what: &str, now: String, baseline: &str, target: &str) -> Figure {
        Figure {
            what: what.to_string(),
            now,
            baseline: baseline.to_string(),
            target: target.to_string(),
            met: None,
        }
    }

    /// A row without a target (shown for context).
    pub fn info(what: &str, now: String, baseline: &str) -> Figure {
        Figure {
            what: what.to_string(),
            now,
            baseline: baseline.to_string(),
            target: "-".to_string(),
            met: None,
        }
    }

    fn line(&self) -> String {
        let met = match self.met {
            Some(true) => "met",
            Some(false) => "missed",
            None => "-",
        };
        [&self.what, &self.now, &self.baseline, &self.target, met]
            .map(|f| f.replace(['\t', '\n'], " "))
            .join("\t")
    }

    fn parse(line: &str) -> Option<Figure> {
        let f: Vec<&str> = line.split('\t').collect();
        let [what, now, baseline, target, met] = f.as_slice() else {
            return None;
        };
        Some(Figure {
            what: what.to_string(),
            now: now.to_string(),
            baseline: baseline.to_string(),
            target: target.to_string(),
            met: match *met {
                "met" => Some(true),
                "missed" => Some(false),
                _ => None,
            },
        })
    }
}

/// `target/bench` of the workspace (or of `CARGO_TARGET_DIR`).
pub fn dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::cli::repo_root().join("target"))
        .join("bench")
}

/// Replaces `bench`'s recorded figures with `figures`, and prints them.
pub fn record(bench: &str, figures: &[Figure]) {
    assert!(
        BENCHES.contains(&bench),
        "add `{bench}` to drhost_tests::bench::BENCHES"
    );
    let dir = dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let file = dir.join(format!("{bench}.tsv"));
    let mut out = std::fs::File::create(&file).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
    for f in figures {
        writeln!(out, "{}", f.line()).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
    }
    println!("(recorded {} figure(s) in {})", figures.len(), file.display());
}

/// What `bench` recorded (`None` when it has not run).
pub fn recorded(bench: &str) -> Option<Vec<Figure>> {
    let text = std::fs::read_to_string(dir().join(format!("{bench}.tsv"))).ok()?;
    Some(text.lines().filter_map(Figure::parse).collect())
}

/// The one table: every bench's rows, a "not run" row for a bench without
/// a file.
pub fn table(rows: &[(&str, Option<Vec<Figure>>)]) -> String {
    let mut t = String::from("| bench | figure | now | baseline | target | |\n|---|---|---|---|---|---|\n");
    for (bench, figures) in rows {
        match figures {
            None => t.push_str(&format!("| {bench} | not run | | | | |\n")),
            Some(figures) => {
                for f in figures {
                    let met = match f.met {
                        Some(true) => "met",
                        Some(false) => "**missed**",
                        None => "",
                    };
                    t.push_str(&format!(
                        "| {bench} | {} | {} | {} | {} | {met} |\n",
                        f.what, f.now, f.baseline, f.target
                    ));
                }
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_survives_its_file_line_and_tabs_do_not_split_it() {
        let f = Figure::new("a\tb", "3 ms".into(), "5 ms", "<= 2 ms", false);
        let back = Figure::parse(&f.line()).unwrap();
        assert_eq!(back.what, "a b");
        assert_eq!(back.met, Some(false));
        let i = Figure::info("x", "1".into(), "-");
        assert_eq!(Figure::parse(&i.line()).unwrap(), i);
    }

    #[test]
    fn the_table_marks_misses_and_benches_that_did_not_run() {
        let t = table(&[
            (
                "redis",
                Some(vec![Figure::new("ratio", "1.1x".into(), "4x", "<= 1.2x", true)]),
            ),
            ("infra", None),
            (
                "docker",
                Some(vec![Figure::new("r", "2x".into(), "-", "<= 1.1x", false)]),
            ),
        ]);
        assert!(t.contains("| redis | ratio | 1.1x | 4x | <= 1.2x | met |"), "{t}");
        assert!(t.contains("| infra | not run |"), "{t}");
        assert!(t.contains("| **missed** |"), "{t}");
    }
}
