//! Text every capability writes for the operator: TOML advice that cannot
//! be broken out of, cut-down plugin text, the refusal sentence.

/// `text` as a one-line TOML basic string: quoted, with `"`, `\\` and every
/// control character escaped, so advice quoting a plugin's text stays on
/// its own line whatever the text holds.
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `key` as a TOML key: bare when it is one (letters, digits, `-`, `_`),
/// else quoted and escaped, so a plugin-chosen label can never close the
/// table header it is printed in and start lines of its own.
pub(crate) fn toml_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// What a failed connection or request came down to, e.g. `Connection
/// refused`: the innermost cause of `error`, without the wrappers that
/// repeat the URL (`error sending request for url (…)`, `client error
/// (Connect)`, `tcp connect error`) and without the ` (os error N)`
/// suffix. The caller names the target once, in its own words.
pub(crate) fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text.as_str(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

/// Cuts `text` to at most `cap` bytes on a character boundary.
pub(crate) fn truncate(text: &str, cap: usize) -> &str {
    if text.len() <= cap {
        return text;
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The one refusal of every capability: `SUBJECT is not granted to plugin
/// `ID`; to allow it add to drhost.toml:` followed by the TOML `grant`.
/// `subject` says what was asked, e.g. "http host `db:5432`", or ends in
/// ", which" when it names an access ("… needs `write` access, which").
pub(crate) fn not_granted(subject: &str, plugin_id: &str, grant: &str) -> String {
    format!("{}; {ADD_TO_CONFIG}\n{grant}", not_granted_head(subject, plugin_id))
}

/// The words of [`not_granted`] before the TOML; the operator's console
/// names the real config file there (see `RunContext::for_operator`).
pub(crate) const ADD_TO_CONFIG: &str = "to allow it add to drhost.toml:";

/// A plugin's summary for the terminal's last line: when it quotes a
/// denial's advice, cut before the TOML (which one line would show with
/// `\n`s, naming drhost.toml instead of the config read, and which a plugin
/// could forge) and point at the host's own denial: printed above when
/// `progress_shown`, else in the journal.
pub fn without_grant_advice(summary: &str, progress_shown: bool) -> std::borrow::Cow<'_, str> {
    let Some(at) = summary.find(ADD_TO_CONFIG) else {
        return summary.into();
    };
    let pointer = if progress_shown {
        "the lines to add to the config are printed above"
    } else {
        "rerun without -q, or `drhost show RUN`, for the lines to add to the config"
    };
    format!("{}; {pointer}", summary[..at].trim_end_matches([';', ' '])).into()
}

/// The refusal's first clause alone, for a refusal that explains a rule
/// instead of offering TOML: `SUBJECT is not granted to plugin `ID``.
pub(crate) fn not_granted_head(subject: &str, plugin_id: &str) -> String {
    format!("{subject} is not granted to plugin `{plugin_id}`")
}

pub(crate) mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        crate::config::parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod properties {
    use super::{toml_key, toml_string};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Advice quoting any plugin text is one line of valid TOML that
        /// reads back as exactly that text.
        #[test]
        fn a_quoted_string_reads_back_whole(text in any::<String>()) {
            let quoted = toml_string(&text);
            prop_assert!(!quoted.contains('\n') && !quoted.contains('\r'));
            let table: toml::Table = toml::from_str(&format!("k = {quoted}\nafter = 1")).unwrap();
            prop_assert_eq!(table["k"].as_str(), Some(text.as_str()));
            prop_assert_eq!(table.len(), 2);
        }

        /// A plugin-chosen label printed as a key never closes its table
        /// header or adds a table of its own.
        #[test]
        fn a_key_never_breaks_out_of_its_header(key in any::<String>()) {
            let text = format!("[targets.{}]\npath = 1", toml_key(&key));
            let table: toml::Table = toml::from_str(&text).unwrap();
            let targets = table["targets"].as_table().unwrap();
            prop_assert_eq!(table.len(), 1);
            prop_assert_eq!(targets.len(), 1);
            prop_assert!(targets.contains_key(&key));
        }
    }
}
