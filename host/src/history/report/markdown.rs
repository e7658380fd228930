//! `drhost report` in Markdown (the default): the report as a document to
//! paste into an incident ticket or a post-mortem. It writes the
//! [`Document`] [`super::model`] builds; the timeline has no Markdown form
//! (the steps table says the same in words).
//!
//! Every text from the journal goes through [`md`]: it is already clean of
//! control characters and newlines ([`super::super::clip`]), and every
//! character Markdown gives a meaning to inline — emphasis, links, images,
//! raw HTML, table cells, entities — is backslash-escaped, so a plugin's
//! step name can neither draw a link nor break a table. No journal text
//! ever starts a line (each follows a fixed label, a list mark or a table
//! pipe), so it cannot start a heading, a list or a code block either.

use super::model::{Block, Document, Field, Piece, Section, Table, Text};
use super::{model, IncidentReport};

/// What the post-mortem fills in.
const TO_BE_WRITTEN: &str = "_To be written in the post-mortem._";

/// Characters escaped with a backslash ([CommonMark allows it for any
/// ASCII punctuation](https://spec.commonmark.org/0.31.2/#backslash-escapes)).
const SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '<', '>', '#', '+', '!', '|', '~', '&', '$',
];

/// `text` (already cleaned) safe inline in Markdown, table cells included.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            // Never expected after cleaning; kept out all the same.
            '\n' | '\r' => out.push(' '),
            c if SPECIAL.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `report` as a Markdown document.
pub fn render(report: &IncidentReport) -> String {
    write(&model::document(report))
}

/// `document` in Markdown.
pub fn write(document: &Document) -> String {
    let mut out = format!("# {}\n\n", inline(&document.title));
    if let Some(notice) = &document.integrity {
        out.push_str(&format!("> {}\n\n", inline(&notice.text)));
    }
    fields(&mut out, &document.summary);
    for section in &document.sections {
        write_section(&mut out, section);
    }
    out.push_str(&format!("---\n\n{}\n", inline(&document.footer)));
    out
}

fn write_section(out: &mut String, section: &Section) {
    if matches!(section.blocks[..], [Block::Timeline]) {
        return;
    }
    let marks = "#".repeat(usize::from(section.level));
    out.push_str(&format!("{marks} {}\n\n", section.heading));
    for block in &section.blocks {
        match block {
            Block::Paragraph(text) => out.push_str(&format!("{}\n\n", inline(text))),
            Block::Fields(list) => fields(out, list),
            Block::Table(table) => write_table(out, table),
            Block::List { items, .. } => list(out, "- ", items),
            Block::Checklist(items) => list(out, "- [ ] ", items),
            Block::Timeline => {}
            Block::ToBeWritten { .. } => out.push_str(&format!("{TO_BE_WRITTEN}\n\n")),
        }
    }
}

/// `- **Label:** value` lines.
fn fields(out: &mut String, fields: &[Field]) {
    for field in fields {
        out.push_str(&format!("- **{}:** {}\n", field.label, inline(&field.value)));
    }
    out.push('\n');
}

fn list(out: &mut String, mark: &str, items: &[Text]) {
    for item in items {
        out.push_str(&format!("{mark}{}\n", inline(item)));
    }
    out.push('\n');
}

fn write_table(out: &mut String, table: &Table) {
    for column in &table.columns {
        match column.name {
            "" => out.push_str("| "),
            name => out.push_str(&format!("| {name} ")),
        }
    }
    out.push_str("|\n|");
    out.push_str(&"---|".repeat(table.columns.len()));
    out.push('\n');
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(inline).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push('\n');
}

/// `text` as inline Markdown: journal texts escaped ([`md`]).
fn inline(text: &Text) -> String {
    let mut out = String::new();
    for piece in &text.0 {
        match piece {
            Piece::Own(words) => out.push_str(words),
            Piece::Journal(text) => out.push_str(&md(text)),
            Piece::Strong(text) => out.push_str(&format!("**{}**", inline(text))),
            Piece::Code(command) => out.push_str(&format!("`{command}`")),
            Piece::Verdict { text, .. } => out.push_str(&md(text)),
            Piece::Break => out.push_str(" · "),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_specials_are_escaped_so_no_link_html_or_cell_break_survives() {
        let hostile = "<script>alert(1)</script> [x](javascript:alert(1)) | a | b *bold* `code` &amp;";
        let safe = md(hostile);
        // `\<` is a literal `<`: no other `<` may be left.
        assert!(!safe.replace("\\<", "").contains('<'), "{safe}");
        assert!(safe.starts_with("\\<script\\>alert\\(1\\)"), "{safe}");
        assert!(!safe.contains("](javascript:"), "{safe}");
        assert!(!safe.contains(" | "), "{safe}");
        assert_eq!(md("a|b"), "a\\|b");
        assert_eq!(md("x\ny"), "x y");
    }
}
