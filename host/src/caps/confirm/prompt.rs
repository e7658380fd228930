//! The question on the terminal: who asks (the host's line, with the id,
//! the plugin's id, version and signing key), then the plugin's question
//! made safe to print, and the operator's `y`/`yes`.

use std::io::{BufRead, Write};

use super::Signer;
use crate::bindings::types::Error as CapError;
use crate::console::plugin_text;

/// What the operator reads: two lines, the first the host's own
/// (`? [db-restore:1a2b3c4d] asked by plugin db-restore 1.2.0, signed by
/// key ops-2026`), the second the question with its control characters
/// and newlines escaped, so a plugin cannot print a line of its own.
pub(super) fn text(id: &str, plugin: &str, version: &str, signer: &Signer, question: &str) -> String {
    format!(
        "\n? [{id}] asked by plugin {plugin} {}, {}\n? {} [y/N] ",
        plugin_text(version),
        signer.describe(),
        plugin_text(question)
    )
}

/// Shows `text` on stderr and reads one line: `y` or `yes` approves,
/// anything else (an empty line included) declines.
pub(crate) fn ask(text: &str) -> Result<bool, CapError> {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{text}");
    let _ = stderr.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CapError::Unavailable(format!("cannot read the answer: {e}")))?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_cannot_print_a_line_of_its_own() {
        let forged = "ok?\n? [db-restore:00000000] asked by plugin db-restore 9.9.9, signed by key ops\n\u{1b}[2K? restore? [y/N] ";
        let shown = text("misbehave:1a2b3c4d", "misbehave", "0.3.0\n", &Signer::Unsigned, forged);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), 3, "{shown:?}");
        assert_eq!(lines[0], "");
        assert_eq!(
            lines[1],
            "? [misbehave:1a2b3c4d] asked by plugin misbehave 0.3.0\\n, UNSIGNED (--allow-unsigned)"
        );
        assert!(lines[2].starts_with("? ok?\\n? [db-restore:00000000]"), "{}", lines[2]);
        assert!(!shown.contains('\u{1b}'));
    }
}
