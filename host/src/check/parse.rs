//! Parsing a drhost.toml for `drhost check`: every unknown key, not only
//! the first. `run` stops at the first error ([`Config::parse`]); here an
//! unknown key is reported and parsing goes on — read as the key it is
//! closest to when it looks like a misspelling of one (`progam` as
//! `program`), else left out — so three typos are three problems and the
//! rest of the file is still checked. Any other error (a syntax error, a
//! value of the wrong kind, a required key missing) ends parsing.
//!
//! Positions come from the text itself (a span-keeping parse), so every
//! problem names its line and column.

use std::ops::Range;
use std::path::Path;

use serde_path_to_error::Segment;
use toml_edit::{ImDocument, Item, Table, TableLike, Value};

use super::Problem;
use crate::config::{line_and_column, one_line, unknown_name, with_key_and_suggestion, Config};
use crate::error::Error;

/// How many unknown keys are set aside before giving up on a file.
const MAX_UNKNOWN: usize = 100;

/// A configuration that parsed: typed, and as the TOML it was read from
/// (with misspelt keys read as the keys they are closest to).
pub(super) struct Parsed {
    /// The configuration.
    pub config: Config,
    /// The same, as a TOML table.
    pub table: toml::Table,
}

/// The configuration (when what is left after setting unknown keys aside
/// parses) and every problem parsing found.
pub(super) fn parse_all(path: &Path, text: &str) -> (Option<Parsed>, Vec<Problem>) {
    let first = match Config::parse(path, text) {
        Ok(config) => {
            let table = text.parse::<toml::Table>().unwrap_or_default();
            return (Some(Parsed { config, table }), Vec::new());
        }
        Err(error) => error,
    };
    let (Ok(document), Ok(mut table)) = (ImDocument::parse(text), text.parse::<toml::Table>()) else {
        return (None, vec![Problem::from_config_error(first, "syntax")]);
    };
    let mut problems = Vec::new();
    for _ in 0..MAX_UNKNOWN {
        let value = toml::Value::Table(table.clone());
        let error = match serde_path_to_error::deserialize::<_, Config>(value) {
            Ok(config) => return (Some(Parsed { config, table }), problems),
            Err(error) => error,
        };
        let mut segments: Vec<Segment> = error.path().iter().cloned().collect();
        let message = one_line(error.into_inner().message());
        let unknown = unknown_name(&message)
            .filter(|_| message.starts_with("unknown field"))
            .map(|(name, expected)| (name, crate::suggest::closest(name, expected)));
        // Read from a value, the path ends in the unknown key itself; read
        // from text (as `run` reports it) it ends in the table holding it.
        if let (Some((name, _)), Some(Segment::Map { key })) = (unknown, segments.last()) {
            if key == name {
                segments.pop();
            }
        }
        let key = shown_path(&segments);
        let at = locate(&document, &segments, unknown.map(|(name, _)| name));
        let (line, column) = at.map_or((0, 0), |at| line_and_column(text, at.start));
        let kind = if unknown.is_some() { "unknown-key" } else { "invalid" };
        problems.push(Problem::new(
            kind,
            path,
            Some((line, column)),
            Some(&key),
            with_key_and_suggestion(&message, &key),
        ));
        let set_aside = unknown.is_some_and(|(name, near)| set_aside(&mut table, &segments, name, near));
        if !set_aside {
            return (None, problems);
        }
    }
    (None, problems)
}

/// Where keys are in a file's text, for problems found once it parsed.
pub(super) struct Positions<'a> {
    text: &'a str,
    document: Option<ImDocument<&'a str>>,
}

impl<'a> Positions<'a> {
    /// The positions of `text`'s keys.
    pub(super) fn new(text: &'a str) -> Positions<'a> {
        Positions {
            text,
            document: ImDocument::parse(text).ok(),
        }
    }

    /// The 1-based line and column of the key `path` names (table keys, and
    /// `[N]` for the Nth element of an array), or of `key` inside it.
    pub(super) fn at(&self, path: &[&str], key: Option<&str>) -> Option<(usize, usize)> {
        let segments: Vec<Segment> = path
            .iter()
            .map(|part| {
                let index = part.strip_prefix('[').and_then(|p| p.strip_suffix(']'));
                match index.and_then(|i| i.parse::<usize>().ok()) {
                    Some(index) => Segment::Seq { index },
                    None => Segment::Map { key: part.to_string() },
                }
            })
            .collect();
        let span = locate(self.document.as_ref()?, &segments, key)?;
        Some(line_and_column(self.text, span.start))
    }
}

/// `plugins.hello.shell[0]`, as serde_path_to_error shows a path.
fn shown_path(path: &[Segment]) -> String {
    let mut shown = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } if shown.is_empty() => shown.push_str(key),
            Segment::Map { key } => shown.push_str(&format!(".{key}")),
            Segment::Seq { index } => shown.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    shown
}

/// The span of what `path` (plus `unknown`, a key inside it) names in
/// `document`: the deepest part of it found.
fn locate(document: &ImDocument<&str>, path: &[Segment], unknown: Option<&str>) -> Option<Range<usize>> {
    let mut node = Node::Table(document.as_table());
    let mut at = None;
    for segment in path {
        let next = match segment {
            Segment::Map { key } => node.table_like().and_then(|t| t.get_key_value(key)).map(|(k, item)| {
                at = k.span().or(at.clone());
                Node::Item(item)
            }),
            Segment::Seq { index } => node.index(*index).inspect(|n| at = n.span().or(at.clone())),
            Segment::Enum { .. } | Segment::Unknown => Some(node),
        };
        match next {
            Some(next) => node = next,
            None => return at,
        }
    }
    if let Some(key) = unknown.and_then(|name| node.table_like()?.key(name)) {
        at = key.span().or(at);
    }
    at
}

/// A place in a span-keeping TOML document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a Table),
}

impl<'a> Node<'a> {
    fn table_like(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Value(value) => value.as_inline_table().map(|t| t as &dyn TableLike),
            Node::Table(table) => Some(table),
        }
    }

    fn index(self, index: usize) -> Option<Node<'a>> {
        match self {
            Node::Item(item) => item
                .as_array_of_tables()
                .and_then(|a| a.get(index))
                .map(Node::Table)
                .or_else(|| item.as_array().and_then(|a| a.get(index)).map(Node::Value)),
            Node::Value(value) => value.as_array().and_then(|a| a.get(index)).map(Node::Value),
            Node::Table(_) => None,
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(item) => item.span(),
            Node::Value(value) => value.span(),
            Node::Table(table) => table.span(),
        }
    }
}

/// Takes key `name` out of the table `path` leads to, putting its value
/// back under `near` when that key is not already there; whether `name`
/// was there.
fn set_aside(table: &mut toml::Table, path: &[Segment], name: &str, near: Option<&str>) -> bool {
    let mut root = toml::Value::Table(std::mem::take(table));
    let mut node = Some(&mut root);
    for segment in path {
        node = node.and_then(|n| match segment {
            Segment::Map { key } => n.get_mut(key.as_str()),
            Segment::Seq { index } => n.get_mut(*index),
            Segment::Enum { .. } | Segment::Unknown => Some(n),
        });
    }
    let removed = node
        .and_then(|n| n.as_table_mut())
        .is_some_and(|t| match t.remove(name) {
            Some(value) => {
                if let Some(near) = near.filter(|near| !t.contains_key(*near)) {
                    t.insert(near.to_string(), value);
                }
                true
            }
            None => false,
        });
    if let toml::Value::Table(back) = root {
        *table = back;
    }
    removed
}

impl Problem {
    /// A problem from [`Config::parse`]'s error.
    pub(super) fn from_config_error(error: Error, kind: &'static str) -> Problem {
        match error {
            Error::Config {
                path,
                line,
                column,
                message,
            } => Problem::new(kind, &path, Some((line, column)), None, message),
            other => Problem::new(kind, Path::new(""), None, None, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unknown_key_is_found_with_its_line() {
        let text = "[run]\ntimeout = \"15m\"\n\n[[plugins.hello.shell]]\nprogam = \"echo\"\nargs = [\"**\"]\n\n[[plugins.hello.shell]]\nprogram = \"echo\"\ntimout = \"5s\"\n\n[target.redis.cache]\nurl = \"redis://x\"\n";
        let (config, problems) = parse_all(Path::new("d.toml"), text);
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 3, "{shown:#?}");
        let parsed = config.expect("read with the keys they are closest to");
        let config = &parsed.config;
        assert_eq!(config.plugins["hello"].shell[0].program, "echo");
        assert!(config.targets.redis.contains_key("cache"));
        let lines: Vec<usize> = problems.iter().filter_map(|p| p.line).collect();
        assert_eq!(lines, [5, 10, 12], "{shown:#?}");
        assert!(shown[0].contains("did you mean `program`?"), "{}", shown[0]);
        assert!(shown[1].contains("did you mean `timeout`?"), "{}", shown[1]);
        assert!(shown[2].contains("did you mean `targets`?"), "{}", shown[2]);
        assert!(
            parsed.table["targets"]["redis"].get("cache").is_some(),
            "the table as read"
        );
        assert!(parsed.table.get("target").is_none());
    }

    #[test]
    fn an_unknown_key_like_no_other_is_left_out() {
        let text = "[[plugins.hello.shell]]\nprogram = \"echo\"\ncolour = \"blue\"\n";
        let (config, problems) = parse_all(Path::new("d.toml"), text);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(3));
        assert_eq!(config.unwrap().config.plugins["hello"].shell.len(), 1);
    }

    #[test]
    fn a_required_key_left_missing_ends_parsing() {
        let text = "[[plugins.hello.shell]]\ncolour = \"echo\"\n";
        let (config, problems) = parse_all(Path::new("d.toml"), text);
        assert!(config.is_none());
        let kinds: Vec<&str> = problems.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, ["unknown-key", "invalid"]);
    }

    #[test]
    fn a_syntax_error_is_one_problem() {
        let (config, problems) = parse_all(Path::new("d.toml"), "[run\n");
        assert!(config.is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, "syntax");
        assert_eq!(
            problems[0].to_string(),
            "d.toml:1:5: invalid table header (expected `.`, `]`)"
        );
    }

    #[test]
    fn a_bad_value_stops_parsing() {
        let text = "[run]\ntimeout = \"soon\"\n";
        let (config, problems) = parse_all(Path::new("d.toml"), text);
        assert!(config.is_none());
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, "invalid");
        assert_eq!(problems[0].line, Some(2));
    }
}
