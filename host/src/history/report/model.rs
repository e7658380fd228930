//! What the report says, once, for every written format: the
//! [`IncidentReport`] as a [`Document`] of [`Section`]s, each a heading and
//! [`Block`]s (fields, tables, lists, paragraphs, the timeline).
//! [`super::markdown`] and [`super::html`] only write a document, each with
//! its own escaping and markup; `--json` writes the [`IncidentReport`]
//! itself.
//!
//! A [`Text`] keeps apart where each of its pieces comes from: drhost's own
//! words ([`Piece::Own`]) are written as they are, a text from the journal
//! ([`Piece::Journal`]) is escaped by each writer for its format. Journal
//! texts were cleaned when the journal was read ([`super::super::clip`]);
//! nothing here cleans or escapes them again.

use super::super::{human_duration, list::status_text, wall_clock};
use super::{offset_text, IncidentReport};
use crate::journal::chain::State;

/// The report as sections, ready to be written in any format.
#[derive(Debug, Clone)]
pub struct Document {
    /// `Post-incident report: PLUGIN — STATUS`.
    pub title: Text,
    /// Why the journal cannot be believed, or is incomplete; none when its
    /// hash chain holds.
    pub integrity: Option<Notice>,
    /// Run, status, summary and time to recovery, under the title.
    pub summary: Vec<Field>,
    /// The sections, in order.
    pub sections: Vec<Section>,
    /// Where the report comes from (the journal and its hash chain).
    pub footer: Text,
}

/// A notice above everything else.
#[derive(Debug, Clone)]
pub struct Notice {
    /// How serious it is.
    pub severity: Severity,
    /// What it says.
    pub text: Text,
}

/// How serious a [`Notice`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The report may not say what happened (a broken hash chain).
    Warning,
    /// The report may not say everything (an incomplete journal).
    Note,
}

/// One section: a heading and what is under it.
#[derive(Debug, Clone)]
pub struct Section {
    /// The heading (drhost's own words).
    pub heading: &'static str,
    /// 2 for a section, 3 for a part of the section before it.
    pub level: u8,
    /// What the section holds, in order.
    pub blocks: Vec<Block>,
}

/// One piece of a section.
#[derive(Debug, Clone)]
pub enum Block {
    /// A paragraph; it starts with drhost's own words, never a journal text.
    Paragraph(Text),
    /// Labelled values (`Run: …`, `Status: …`).
    Fields(Vec<Field>),
    /// A table.
    Table(Table),
    /// A list; `class` names it for the page's style.
    List {
        /// The HTML class (`failures`), if any.
        class: Option<&'static str>,
        /// The items.
        items: Vec<Text>,
    },
    /// Things for people to tick off (the follow-ups).
    Checklist(Vec<Text>),
    /// The steps and markers on a time axis (a chart where the format has
    /// one; the steps table says the same in words).
    Timeline,
    /// Left empty for the post-mortem; `id` names it in the page.
    ToBeWritten {
        /// The HTML id (`root-cause`).
        id: &'static str,
    },
}

/// A labelled value.
#[derive(Debug, Clone)]
pub struct Field {
    /// The label (drhost's own words).
    pub label: &'static str,
    /// The value.
    pub value: Text,
}

/// A table: columns and rows of cells, one per column.
#[derive(Debug, Clone)]
pub struct Table {
    /// The HTML class (`steps`), if any.
    pub class: Option<&'static str>,
    /// The columns; when every name is empty the table has no header row
    /// in HTML (Markdown needs one, and writes it empty).
    pub columns: Vec<Column>,
    /// The rows, each with one cell per column.
    pub rows: Vec<Vec<Text>>,
}

/// A column of a [`Table`].
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name in the header row (drhost's own words; may be empty).
    pub name: &'static str,
    /// What its cells hold.
    pub kind: Cell,
}

/// What the cells of a column hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// The row's label.
    Label,
    /// Text.
    Text,
    /// A number, time or duration (aligned digits, no wrapping).
    Number,
}

/// A text as pieces that say where each part comes from.
#[derive(Debug, Clone, Default)]
pub struct Text(pub Vec<Piece>);

/// A part of a [`Text`].
#[derive(Debug, Clone)]
pub enum Piece {
    /// drhost's own words, written as they are: never anything from the
    /// journal.
    Own(String),
    /// A text from the journal (already cleaned), escaped by each writer.
    Journal(String),
    /// Emphasised text.
    Strong(Text),
    /// A command the reader can run (drhost's own words).
    Code(&'static str),
    /// A status (from the journal), marked good or bad.
    Verdict {
        /// The status.
        text: String,
        /// Whether it is good news.
        good: bool,
    },
    /// A line break inside a cell or a field.
    Break,
}

impl Text {
    /// An empty text.
    pub fn new() -> Text {
        Text::default()
    }

    /// This text followed by drhost's own `words`.
    pub fn own(mut self, words: impl Into<String>) -> Text {
        self.0.push(Piece::Own(words.into()));
        self
    }

    /// This text followed by `text` from the journal.
    pub fn journal(mut self, text: impl Into<String>) -> Text {
        self.0.push(Piece::Journal(text.into()));
        self
    }

    /// This text followed by `piece`.
    pub fn then(mut self, piece: Piece) -> Text {
        self.0.push(piece);
        self
    }

    /// This text followed by `text`.
    pub fn followed_by(mut self, text: Text) -> Text {
        self.0.extend(text.0);
        self
    }

    /// This text followed by `texts`, with `separator` between them.
    fn joined(mut self, texts: impl IntoIterator<Item = Text>, separator: Piece) -> Text {
        for (n, text) in texts.into_iter().enumerate() {
            if n > 0 {
                self.0.push(separator.clone());
            }
            self.0.extend(text.0);
        }
        self
    }
}

/// The document of `r`.
pub fn document(r: &IncidentReport) -> Document {
    let status = status_text(&r.ending.status);
    let verdict = || Piece::Verdict {
        text: status.clone(),
        good: r.ending.recovered,
    };
    let exit = r.ending.exit_code.map(|c| format!(" (exit {c})")).unwrap_or_default();
    let mut summary = vec![
        field("Run", Text::new().journal(&r.run_id)),
        field("Status", Text::new().then(verdict()).own(exit)),
    ];
    if let Some(text) = &r.ending.summary {
        summary.push(field("Summary", Text::new().journal(text)));
    }
    summary.push(field("Time to recovery", recovery(r)));
    let footer = Text::new()
        .own("Built by drhost report from the journal ")
        .journal(r.journal.display().to_string())
        .own(" alone (hash chain: ");
    let footer = match &r.integrity.head {
        Some(head) => footer.own("intact, head ").journal(head),
        None => footer.own(format!("{:?}", r.integrity.state).to_lowercase()),
    };
    Document {
        title: Text::new()
            .own("Post-incident report: ")
            .followed_by(plugin(r))
            .own(" — ")
            .then(verdict()),
        integrity: integrity(r),
        summary,
        sections: vec![
            section(2, "Timeline", vec![Block::Timeline]),
            section(2, "What happened", vec![what_happened(r)]),
            section(2, "When", when(r)),
            section(2, "How it was resolved", Vec::new()),
            section(3, "Steps", vec![steps(r)]),
            section(3, "Changes made", vec![changes(r)]),
            section(3, "Approvals", vec![approvals(r)]),
            section(2, "Time to recovery and data loss", vec![recovery_and_data_loss(r)]),
            section(2, "What failed", what_failed(r, &status)),
            section(2, "Facts", vec![facts(r)]),
            section(2, "Follow-ups", vec![follow_ups(r)]),
            section(2, "Root cause", vec![Block::ToBeWritten { id: "root-cause" }]),
            section(2, "Action items", vec![Block::ToBeWritten { id: "action-items" }]),
        ]
        .into_iter()
        .chain(about_the_journal(r))
        .collect(),
        footer: footer.own(")."),
    }
}

fn section(level: u8, heading: &'static str, blocks: Vec<Block>) -> Section {
    Section { heading, level, blocks }
}

fn field(label: &'static str, value: Text) -> Field {
    Field { label, value }
}

fn table(class: Option<&'static str>, columns: &[(&'static str, Cell)], rows: Vec<Vec<Text>>) -> Block {
    Block::Table(Table {
        class,
        columns: columns.iter().map(|&(name, kind)| Column { name, kind }).collect(),
        rows,
    })
}

fn paragraph(words: &str) -> Block {
    Block::Paragraph(Text::new().own(words))
}

/// `value` from the journal, or `not journaled`.
fn journaled(value: &Option<String>) -> Text {
    match value {
        Some(value) => Text::new().journal(value),
        None => Text::new().own("not journaled"),
    }
}

/// The plugin's id and version.
fn plugin(r: &IncidentReport) -> Text {
    match (&r.plugin.id, &r.plugin.version) {
        (Some(id), Some(version)) => Text::new().journal(id).own(" ").journal(version),
        (Some(id), None) => Text::new().journal(id),
        _ => Text::new().own("a plugin that was not identified"),
    }
}

/// The time to recovery and where it comes from, or why there is none.
fn recovery(r: &IncidentReport) -> Text {
    match (&r.time_to_recovery, r.times.wall_ms) {
        (Some(recovery), _) => Text::new()
            .journal(&recovery.text)
            .own(" (from the ")
            .journal(&recovery.source)
            .own(")"),
        (None, Some(ms)) => Text::new().own(format!("not recovered (the run ended after {})", human_duration(ms))),
        (None, None) => Text::new().own("not recovered"),
    }
}

fn integrity(r: &IncidentReport) -> Option<Notice> {
    let reason = |otherwise: &str| r.integrity.reason.clone().unwrap_or_else(|| otherwise.into());
    match r.integrity.state {
        State::Broken => Some(Notice {
            severity: Severity::Warning,
            text: Text::new()
                .then(Piece::Strong(Text::new().own("WARNING: NOT TRUSTWORTHY.")))
                .own(" The journal's hash chain is broken")
                .own(r.integrity.broken_line.map(|l| format!(" at line {l}")).unwrap_or_default())
                .own(": ")
                .journal(reason("the chain does not hold"))
                .own(". Lines were changed, removed or reordered after drhost wrote them, so what follows is what the file says now, not necessarily what happened. ")
                .then(Piece::Code("drhost journal verify"))
                .own(" checks it."),
        }),
        State::Incomplete => Some(Notice {
            severity: Severity::Note,
            text: Text::new()
                .then(Piece::Strong(Text::new().own("Note: the journal is incomplete")))
                .own(" (")
                .journal(reason("no run-end"))
                .own("). The report covers what was journaled."),
        }),
        State::Ok => None,
    }
}

fn what_happened(r: &IncidentReport) -> Block {
    let p = &r.plugin;
    let signers = if p.signers.is_empty() {
        Text::new().own("nobody (unsigned)")
    } else {
        Text::new().joined(
            p.signers.iter().map(|s| Text::new().journal(s)),
            Piece::Own(", ".into()),
        )
    };
    let signers = match &p.trust {
        Some(trust) => signers.own(" (").journal(trust).own(")"),
        None => signers,
    };
    let params = if p.params.is_empty() {
        Text::new().own("none")
    } else {
        Text::new().joined(
            p.params.iter().map(|param| {
                let text = Text::new().journal(&param.name).own("=").journal(&param.value);
                match &param.source {
                    Some(source) => text.own(" (").journal(source).own(")"),
                    None => text,
                }
            }),
            Piece::Break,
        )
    };
    let o = &r.operator;
    let operator = match &o.user {
        Some(user) => {
            let text = Text::new()
                .journal(user)
                .own(o.uid.map(|uid| format!(" (uid {uid})")).unwrap_or_default());
            match &o.sudo_user {
                Some(sudo) => text.own(", through sudo by ").journal(sudo),
                None => text,
            }
        }
        None => Text::new().own("not journaled"),
    };
    let rows = [
        ("Plugin", plugin(r)),
        ("Digest", journaled(&p.digest)),
        ("Signed by", signers),
        ("Plugin file", journaled(&p.path)),
        ("Mode", journaled(&p.mode)),
        ("Parameters", params),
        ("Operator", operator),
        ("Host", journaled(&o.host)),
        ("Configuration", journaled(&p.config)),
        ("drhost", journaled(&p.drhost)),
    ];
    table(
        None,
        &[("", Cell::Label), ("", Cell::Text)],
        rows.into_iter()
            .map(|(label, value)| vec![Text::new().own(label), value])
            .collect(),
    )
}

fn when(r: &IncidentReport) -> Vec<Block> {
    let t = &r.times;
    let time = |at: &Option<String>| match at {
        Some(at) => Text::new().journal(wall_clock(at)),
        None => Text::new().own("?"),
    };
    let rows = vec![
        vec![
            Text::new().own("Detected"),
            time(&t.detected),
            Text::new().own("(").journal(&t.detected_from).own(")"),
        ],
        vec![
            Text::new().own("Started"),
            time(&t.started),
            Text::new().own(offset_text(0.0)),
        ],
        vec![
            Text::new().own("Ended"),
            time(&t.ended),
            Text::new().own(t.wall_ms.map(offset_text).unwrap_or_else(|| "?".into())),
        ],
    ];
    let mut blocks = vec![table(
        None,
        &[
            ("", Cell::Label),
            ("Time (UTC)", Cell::Text),
            ("Since the run started", Cell::Number),
        ],
        rows,
    )];
    if let Some(ms) = t.wall_ms {
        blocks.push(paragraph(&format!("Run wall time: {}", human_duration(ms))));
    }
    blocks
}

fn steps(r: &IncidentReport) -> Block {
    if r.steps.is_empty() {
        return paragraph("The plugin reported no steps.");
    }
    let failed = || Piece::Verdict {
        text: "FAILED".into(),
        good: false,
    };
    let rows = r.steps.iter().enumerate().map(|(n, step)| {
        let result = match (step.ok, &step.reason) {
            (Some(true), _) => Text::new().own("ok"),
            (Some(false), Some(reason)) => Text::new().then(failed()).own(": ").journal(reason),
            (Some(false), None) => Text::new().then(failed()),
            (None, _) => Text::new().own("never ended"),
        };
        vec![
            Text::new().own((n + 1).to_string()),
            Text::new().own("↳ ".repeat(step.depth)).journal(&step.name),
            Text::new().own(offset_text(step.start_ms)),
            Text::new().own(step.duration_ms.map(human_duration).unwrap_or_else(|| "-".into())),
            result,
            Text::new().joined(step.notes.iter().map(|n| Text::new().journal(n)), Piece::Break),
        ]
    });
    table(
        Some("steps"),
        &[
            ("#", Cell::Number),
            ("Step", Cell::Text),
            ("Started", Cell::Number),
            ("Duration", Cell::Number),
            ("Result", Cell::Text),
            ("Notes", Cell::Text),
        ],
        rows.collect(),
    )
}

fn changes(r: &IncidentReport) -> Block {
    if r.changes.is_empty() {
        return paragraph("No call that changes anything was made.");
    }
    let rows = r.changes.iter().map(|change| {
        vec![
            Text::new().own(offset_text(change.at_ms)),
            Text::new().journal(&change.what),
            Text::new().own(human_duration(change.duration_ms)),
            if change.planned {
                Text::new().own("planned, not done")
            } else {
                Text::new().journal(&change.outcome)
            },
        ]
    });
    table(
        Some("changes"),
        &[
            ("At", Cell::Number),
            ("Change", Cell::Text),
            ("Took", Cell::Number),
            ("Outcome", Cell::Text),
        ],
        rows.collect(),
    )
}

fn approvals(r: &IncidentReport) -> Block {
    if r.approvals.is_empty() {
        return paragraph("The plugin asked no question.");
    }
    let rows = r.approvals.iter().map(|approval| {
        vec![
            Text::new().own(offset_text(approval.at_ms)),
            Text::new().journal(&approval.question),
            journaled(&approval.id),
            Text::new().journal(&approval.answer),
            journaled(&approval.by),
        ]
    });
    table(
        Some("approvals"),
        &[
            ("At", Cell::Number),
            ("Question", Cell::Text),
            ("Id", Cell::Text),
            ("Answer", Cell::Text),
            ("By", Cell::Text),
        ],
        rows.collect(),
    )
}

fn recovery_and_data_loss(r: &IncidentReport) -> Block {
    let mut fields = vec![field("Time to recovery", recovery(r))];
    if r.data_loss.is_empty() {
        fields.push(field("Data loss (RPO)", Text::new().own("not measured by this run")));
    }
    for fact in &r.data_loss {
        fields.push(field(
            "Data loss (RPO)",
            Text::new().journal(&fact.name).own(" = ").journal(&fact.value),
        ));
    }
    Block::Fields(fields)
}

fn what_failed(r: &IncidentReport, status: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    if r.ending.recovered && r.failures.is_empty() {
        blocks.push(paragraph("Nothing failed."));
    } else {
        let mut items = Vec::new();
        if !r.ending.recovered {
            let what = Text::new().journal(status);
            let what = match &r.ending.failed_step {
                Some(step) => what.own(" in step ").journal(step),
                None => what,
            };
            let summary = match &r.ending.summary {
                Some(summary) => Text::new().journal(summary),
                None => Text::new().own("(no summary)"),
            };
            items.push(
                Text::new()
                    .then(Piece::Strong(what.own(":")))
                    .own(" ")
                    .followed_by(summary),
            );
        }
        items.extend(r.failures.iter().map(|failure| {
            Text::new()
                .own(offset_text(failure.at_ms))
                .own(" ")
                .journal(&failure.what)
                .own(": ")
                .journal(&failure.reason)
        }));
        blocks.push(Block::List {
            class: Some("failures"),
            items,
        });
    }
    if let Some(hint) = &r.ending.hint {
        blocks.push(Block::Paragraph(
            Text::new()
                .then(Piece::Strong(Text::new().own("Hint:")))
                .own(" ")
                .journal(hint),
        ));
    }
    blocks
}

fn facts(r: &IncidentReport) -> Block {
    if r.facts.is_empty() {
        return paragraph("The plugin reported no facts.");
    }
    let rows = r
        .facts
        .iter()
        .map(|fact| vec![Text::new().journal(&fact.name), Text::new().journal(&fact.value)]);
    table(
        Some("facts"),
        &[("Fact", Cell::Text), ("Value", Cell::Text)],
        rows.collect(),
    )
}

fn follow_ups(r: &IncidentReport) -> Block {
    if r.follow_ups.is_empty() {
        return paragraph("None.");
    }
    Block::Checklist(
        r.follow_ups
            .iter()
            .map(|follow_up| {
                let action = Text::new().journal(&follow_up.action);
                if follow_up.why.is_empty() {
                    action
                } else {
                    action.own(" — ").journal(&follow_up.why)
                }
            })
            .collect(),
    )
}

fn about_the_journal(r: &IncidentReport) -> Option<Section> {
    (!r.notes.is_empty()).then(|| {
        section(
            2,
            "About this journal",
            vec![Block::List {
                class: None,
                items: r.notes.iter().map(|note| Text::new().journal(note)).collect(),
            }],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::journal;
    use super::super::{html, markdown, read, render, Format};
    use super::*;
    use serde_json::{json, Value};

    /// A run with steps, notes, changes, approvals, failures, facts and
    /// follow-ups, with `hostile` in each text a plugin controls.
    fn run(dir: &std::path::Path, hostile: &str) -> IncidentReport {
        let events: Vec<(&str, Value)> = vec![
            ("step-start", json!({ "step": format!("outer {hostile}") })),
            ("step-start", json!({ "step": format!("inner {hostile}") })),
            (
                "step-note",
                json!({ "step": format!("inner {hostile}"), "message": format!("note {hostile}") }),
            ),
            (
                "step-note",
                json!({ "step": format!("inner {hostile}"), "message": "second note" }),
            ),
            (
                "step-end",
                json!({ "step": format!("inner {hostile}"), "ok": false, "duration_ms": 12.5, "reason": format!("down {hostile}") }),
            ),
            (
                "call",
                json!({ "call": "confirm.ask", "args": { "id": "p:1a2b3c4d", "question": format!("go? {hostile}") },
                        "duration_ms": 1.0, "outcome": { "ok": { "approved": true, "by": "--yes" } } }),
            ),
            (
                "call",
                json!({ "call": "docker.restart-container", "args": { "name": format!("b2 {hostile}") },
                        "duration_ms": 40.0, "outcome": { "ok": {} } }),
            ),
            (
                "step-end",
                json!({ "step": format!("outer {hostile}"), "ok": true, "duration_ms": 50.0 }),
            ),
            (
                "run-end",
                json!({ "status": "failed", "exit_code": 1, "wall_ms": 60.0, "summary": format!("gone {hostile}"),
                        "failed_step": format!("inner {hostile}"), "hint": format!("look {hostile}"),
                        "facts": [{ "name": "rpo-lost-writes", "value": format!("3 {hostile}") },
                                  { "name": format!("fact {hostile}"), "value": format!("value {hostile}") }],
                        "follow_ups": [{ "action": format!("check {hostile}"), "why": format!("because {hostile}") }] }),
            ),
        ];
        read(&journal(dir, &events)).unwrap()
    }

    /// The journal texts in `text`, in order.
    fn journal_texts(text: &Text, into: &mut Vec<String>) {
        for piece in &text.0 {
            match piece {
                Piece::Journal(text) | Piece::Verdict { text, .. } => into.push(text.clone()),
                Piece::Strong(text) => journal_texts(text, into),
                Piece::Own(_) | Piece::Code(_) | Piece::Break => {}
            }
        }
    }

    /// The labels of fields and the journal texts of `document` after its
    /// title and notice, in order; and the counts of its field lines,
    /// table rows and table header rows.
    fn contents(document: &Document) -> (Vec<&'static str>, Vec<String>, usize, usize, usize) {
        let (mut labels, mut texts, mut table_rows, mut headers) = (Vec::new(), Vec::new(), 0, 0);
        let mut add_fields = |fields: &[Field], texts: &mut Vec<String>| {
            for field in fields {
                labels.push(field.label);
                journal_texts(&field.value, texts);
            }
        };
        add_fields(&document.summary, &mut texts);
        let mut tables = 0;
        for block in document.sections.iter().flat_map(|s| &s.blocks) {
            match block {
                Block::Paragraph(text) => journal_texts(text, &mut texts),
                Block::Fields(fields) => add_fields(fields, &mut texts),
                Block::Table(table) => {
                    tables += 1;
                    table_rows += table.rows.len();
                    headers += usize::from(table.columns.iter().any(|c| !c.name.is_empty()));
                    table
                        .rows
                        .iter()
                        .flatten()
                        .for_each(|cell| journal_texts(cell, &mut texts));
                }
                Block::List { items, .. } | Block::Checklist(items) => {
                    items.iter().for_each(|item| journal_texts(item, &mut texts))
                }
                Block::Timeline | Block::ToBeWritten { .. } => {}
            }
        }
        journal_texts(&document.footer, &mut texts);
        (labels, texts, table_rows, headers, tables)
    }

    /// Whether every one of `texts`, written by `escape`, is in `page`
    /// after the one before it.
    fn in_order(page: &str, texts: &[String], escape: fn(&str) -> String) -> Result<(), String> {
        let mut at = 0;
        for text in texts {
            let escaped = escape(text);
            match page[at..].find(&escaped) {
                Some(found) => at += found + escaped.len(),
                None => return Err(format!("{escaped:?} missing after byte {at}")),
            }
        }
        Ok(())
    }

    #[test]
    fn markdown_and_html_write_the_same_fields_rows_and_journal_texts_of_one_document() {
        let dir = tempfile::tempdir().unwrap();
        let document = document(&run(dir.path(), "x"));
        let md = markdown::write(&document);
        let page = html::write(&document, "<svg class=\"timeline\"></svg>");
        let (labels, texts, table_rows, headers, tables) = contents(&document);
        assert!(texts.len() > 20 && tables == 6, "{texts:?}");

        // Every journal text, in the same order, in both.
        let body = &page[page.find("<h1>").unwrap()..];
        in_order(body, &texts, html::esc).unwrap();
        let after_title = &md[md.find("\n- **Run:**").unwrap()..];
        in_order(after_title, &texts, markdown::md).unwrap();

        // Every field, once per field, in both.
        for label in &labels {
            let n = labels.iter().filter(|l| *l == label).count();
            assert_eq!(md.matches(&format!("- **{label}:** ")).count(), n, "{label} in\n{md}");
            assert_eq!(page.matches(&format!("<tr><th>{label}</th><td>")).count(), n, "{label}");
        }
        // Every table row, and only those, in both.
        let md_rows = md.lines().filter(|l| l.starts_with('|')).count();
        assert_eq!(md_rows, table_rows + 2 * tables, "{md}");
        assert_eq!(
            page.matches("<tr>").count(),
            table_rows + headers + labels.len(),
            "{page}"
        );
        // Every section in both; the timeline only where there is a chart.
        for section in &document.sections {
            let level = section.level;
            assert!(page.contains(&format!("<h{level}>{}</h{level}>\n", section.heading)));
            let heading = format!("\n{} {}\n", "#".repeat(usize::from(level)), section.heading);
            assert_eq!(md.contains(&heading), section.heading != "Timeline", "{heading}");
        }
        assert!(page.contains("<div class=\"chart\"><svg class=\"timeline\"></svg></div>"));
    }

    #[test]
    fn a_hostile_journal_text_is_inert_in_markdown_and_html() {
        let hostile = "\u{1b}[31m<script>alert(1)</script> [click](javascript:alert(1)) | a | b\n# forged </script><img src=x onerror=alert(2)> &amp; 'q\"";
        let dir = tempfile::tempdir().unwrap();
        let report = run(dir.path(), hostile);
        // Cleaned once, when the journal was read: no control character
        // and no newline is left for the writers.
        assert!(
            report.steps[1].name.contains("\\u{1b}[31m"),
            "{:?}",
            report.steps[1].name
        );
        assert!(!report.ending.summary.as_deref().unwrap().contains('\n'));

        let md = render(&report, Format::Markdown);
        assert!(!md.contains('\u{1b}'));
        assert!(!md.replace("\\<", "").contains('<'), "raw HTML in\n{md}");
        assert!(!md.contains("](javascript:"), "{md}");
        assert!(!md.lines().any(|l| l.starts_with("# forged")), "{md}");
        assert!(md.contains("\\<script\\>alert\\(1\\)\\</script\\>"), "{md}");
        assert!(md.contains("\\| a \\| b"), "{md}");
        // Every row has its header's cells: no `|` from the journal splits one.
        let unescaped_pipes = |line: &str| line.matches('|').count() - line.matches("\\|").count();
        let mut header = None;
        for line in md.lines() {
            match (line.starts_with('|'), line.starts_with("|---")) {
                (true, true) => {}
                (true, false) => match header {
                    None => header = Some(unescaped_pipes(line)),
                    Some(n) => assert_eq!(unescaped_pipes(line), n, "{line}"),
                },
                (false, _) => header = None,
            }
        }

        let page = render(&report, Format::Html);
        assert!(!page.contains('\u{1b}'));
        let lower = page.to_lowercase();
        for live in ["<script", "</script", "<img", "javascript:alert(1)\""] {
            assert!(!lower.contains(live), "{live} in\n{page}");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
        assert!(page.contains("&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; &amp;amp; &#39;q&quot;"));
        assert!(page.contains(r#"content="default-src 'none'; style-src 'unsafe-inline'; img-src data:;"#));
        // The title has no markup, the heading marks the status.
        assert!(
            page.contains("<title>Post-incident report: p 1.0.0 — failed</title>"),
            "{page}"
        );
        assert!(
            page.contains("— <span class=\"status-bad\">failed</span></h1>"),
            "{page}"
        );
    }
}
