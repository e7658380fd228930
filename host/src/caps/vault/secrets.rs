//! The pure parts of `vault`: what the
//! journal may say about written fields (names and origins,
//! never values), and keeping Vault's words out of errors about secrets.

use serde_json::{Map, Value};
use wasmtime::component::ResourceTable;

use super::http::with_message;
use crate::bindings::drhost::runbook::vault::FieldValue;
use crate::bindings::types::Error as CapError;

/// What the journal says about written fields: each name, with `text` or
/// which secret its value came from.
pub(crate) fn describe_fields(
    table: &ResourceTable,
    fields: &[(String, FieldValue)],
) -> wasmtime::Result<Map<String, Value>> {
    fields
        .iter()
        .map(|(name, value)| {
            let from = match value {
                FieldValue::Text(_) => "text".to_string(),
                FieldValue::Secret(s) => format!("secret {}", table.get(s)?.origin),
            };
            Ok((name.clone(), Value::String(from)))
        })
        .collect()
}

/// The values to send: text as is, secrets by value. Names must be
/// non-empty and distinct.
pub(crate) fn field_values(
    table: &ResourceTable,
    fields: &[(String, FieldValue)],
) -> wasmtime::Result<Result<Map<String, Value>, CapError>> {
    let mut values = Map::new();
    for (name, value) in fields {
        let value = match value {
            FieldValue::Text(text) => text.clone(),
            FieldValue::Secret(s) => table.get(s)?.value.to_string(),
        };
        if name.is_empty() || values.insert(name.clone(), Value::String(value)).is_some() {
            return Ok(Err(CapError::InvalidArgument(format!(
                "field names must be non-empty and distinct; `{name}` is not"
            ))));
        }
    }
    Ok(Ok(values))
}

/// A failed write that carried secret values keeps its kind and Vault's
/// status, but not Vault's own words: a message that may quote what was
/// sent, redacted or not, would tell a plugin whether a text it chose equals
/// a secret it cannot read.
pub(crate) fn withheld(error: CapError) -> CapError {
    with_message(error, |m| {
        let status = m
            .split(|c: char| !c.is_ascii_digit())
            .find(|n| n.len() == 3 && matches!(n.as_bytes()[0], b'4' | b'5'))
            .map(|n| format!(" (HTTP {n})"))
            .unwrap_or_default();
        let head = m.split_once(": ").map_or(m, |(head, _)| head);
        format!("{head}: Vault refused it{status}; its message is withheld because the write carried secret values")
    })
}

/// `text` with every occurrence of a value replaced by `<redacted>`: Vault's
/// error text must not carry what was being written.
pub(crate) fn redact<'a>(text: &str, values: impl IntoIterator<Item = &'a str>) -> String {
    values
        .into_iter()
        .filter(|v| !v.is_empty())
        .fold(text.to_string(), |text, value| text.replace(value, "<redacted>"))
}

#[cfg(test)]
mod tests {
    use wasmtime::component::Resource;
    use zeroize::Zeroizing;

    use super::super::Secret;

    use super::*;

    fn secret(value: &str) -> Secret {
        Secret {
            origin: "secret/app/db#password".into(),
            source: crate::caps::secret::Source::Vault {
                label: "main".into(),
                path: "secret/app/db".into(),
            },
            value: Zeroizing::new(value.into()),
        }
    }

    #[test]
    fn written_fields_are_described_without_values() {
        let mut table = ResourceTable::new();
        let password: Resource<Secret> = table.push(secret("hunter2")).unwrap();
        let fields = vec![
            ("user".to_string(), FieldValue::Text("app".into())),
            (
                "password".to_string(),
                FieldValue::Secret(Resource::new_borrow(password.rep())),
            ),
        ];
        let described = Value::Object(describe_fields(&table, &fields).unwrap()).to_string();
        assert!(
            !described.contains("hunter2") && !described.contains("app\""),
            "{described}"
        );
        assert!(described.contains("secret secret/app/db#password"));
        let values = field_values(&table, &fields).unwrap().unwrap();
        assert_eq!(values["password"], "hunter2");
        let twice = vec![
            ("a".to_string(), FieldValue::Text("1".into())),
            ("a".to_string(), FieldValue::Text("2".into())),
        ];
        assert!(matches!(
            field_values(&table, &twice).unwrap(),
            Err(CapError::InvalidArgument(_))
        ));
    }

    #[test]
    fn a_failed_write_with_secrets_withholds_vault_s_words() {
        let e = CapError::Failed(
            "vault write of `secret/a` on target `main`: Vault answered 400: bad value hunter2".into(),
        );
        let CapError::Failed(m) = withheld(e) else {
            panic!("kind changed")
        };
        assert_eq!(
            m,
            "vault write of `secret/a` on target `main`: Vault refused it (HTTP 400); its message is withheld because the write carried secret values"
        );
    }

    #[test]
    fn redaction_removes_every_value() {
        let text = redact("bad value hunter2 for hunter2; empty ok", ["hunter2", ""]);
        assert_eq!(text, "bad value <redacted> for <redacted>; empty ok");
    }
}
