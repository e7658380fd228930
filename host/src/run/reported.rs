//! What a plugin reports with its outcome or failure — facts, tables and
//! follow-ups — bounded before anything prints or journals it: a plugin
//! may return whatever its memory holds, the operator's screen and the
//! journal take at most these many, each cut to these sizes (and say so).

use serde::Serialize;

use super::report::ReportedFact;
use crate::bindings::types::{Fact, FollowUp, Table};
use crate::caps::kit::text::truncate;

/// Facts kept of one outcome or failure.
pub const MAX_FACTS: usize = 200;
/// Tables kept.
pub const MAX_TABLES: usize = 20;
/// Rows kept per table.
pub const MAX_ROWS: usize = 500;
/// Columns kept per table.
pub const MAX_COLUMNS: usize = 16;
/// Follow-ups kept.
pub const MAX_FOLLOW_UPS: usize = 20;
/// Bytes kept of a fact's name, a column's name, a title.
const NAME_CAP: usize = 128;
/// Bytes kept of a fact's value, a cell, a follow-up's action or reason.
const TEXT_CAP: usize = 1024;

/// One table the plugin reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportedTable {
    /// What the table shows.
    pub title: String,
    /// The column names.
    pub columns: Vec<String>,
    /// Each row has exactly one cell per column.
    pub rows: Vec<Vec<String>>,
    /// Rows left out past [`MAX_ROWS`].
    #[serde(skip_serializing_if = "is_zero")]
    pub rows_not_listed: usize,
}

/// Something the operator must still do by hand.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportedFollowUp {
    /// What to do, as an instruction.
    pub action: String,
    /// What stays degraded until it is done.
    pub why: String,
}

/// `text` cut to `cap` bytes, ending in `…` when it was cut.
fn cut(text: &str, cap: usize) -> String {
    let kept = truncate(text, cap);
    if kept.len() < text.len() {
        format!("{kept}…")
    } else {
        kept.to_owned()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The facts kept, typed (see [`ReportedFact::new`]).
pub fn facts(facts: Vec<Fact>) -> Vec<ReportedFact> {
    facts
        .into_iter()
        .take(MAX_FACTS)
        .map(|f| ReportedFact::new(cut(&f.name, NAME_CAP), cut(&f.value, TEXT_CAP)))
        .collect()
}

/// The tables kept, each row padded or cut to the columns.
pub fn tables(tables: Vec<Table>) -> Vec<ReportedTable> {
    tables
        .into_iter()
        .take(MAX_TABLES)
        .map(|t| {
            let columns: Vec<String> = t.columns.iter().take(MAX_COLUMNS).map(|c| cut(c, NAME_CAP)).collect();
            let width = columns.len();
            let rows_not_listed = t.rows.len().saturating_sub(MAX_ROWS);
            let rows = t
                .rows
                .into_iter()
                .take(MAX_ROWS)
                .map(|row| {
                    let mut cells: Vec<String> = row.iter().take(width).map(|c| cut(c, TEXT_CAP)).collect();
                    cells.resize(width, String::new());
                    cells
                })
                .collect();
            ReportedTable {
                title: cut(&t.title, NAME_CAP),
                columns,
                rows,
                rows_not_listed,
            }
        })
        .collect()
}

/// The follow-ups kept.
pub fn follow_ups(follow_ups: Vec<FollowUp>) -> Vec<ReportedFollowUp> {
    follow_ups
        .into_iter()
        .take(MAX_FOLLOW_UPS)
        .map(|f| ReportedFollowUp {
            action: cut(&f.action, TEXT_CAP),
            why: cut(&f.why, TEXT_CAP),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_bounded_and_rectangular() {
        let table = Table {
            title: "t".repeat(1000),
            columns: (0..40).map(|i| format!("c{i}")).collect(),
            rows: (0..2000)
                .map(|i| {
                    if i % 2 == 0 {
                        vec!["x".repeat(5000)]
                    } else {
                        vec!["y".into(); 50]
                    }
                })
                .collect(),
        };
        let kept = tables(vec![table; 30]);
        assert_eq!(kept.len(), MAX_TABLES);
        let t = &kept[0];
        assert_eq!(t.columns.len(), MAX_COLUMNS);
        assert_eq!(t.rows.len(), MAX_ROWS);
        assert_eq!(t.rows_not_listed, 1500);
        assert!(t.rows.iter().all(|r| r.len() == MAX_COLUMNS));
        assert!(t.title.len() <= NAME_CAP + 4 && t.rows[0][0].len() <= TEXT_CAP + 4);
    }

    #[test]
    fn facts_and_follow_ups_are_bounded() {
        let many = (0..1000)
            .map(|i| Fact {
                name: format!("f{i}"),
                value: "v".repeat(10_000),
            })
            .collect();
        let kept = facts(many);
        assert_eq!(kept.len(), MAX_FACTS);
        assert!(kept[0].value.len() <= TEXT_CAP + 4);
        let ups = (0..100)
            .map(|_| FollowUp {
                action: "a".into(),
                why: "w".into(),
            })
            .collect();
        assert_eq!(follow_ups(ups).len(), MAX_FOLLOW_UPS);
    }
}
