//! Composing a secret from text and secrets (a connection URL with a
//! password in it) and what the journal may say about the parts.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use wasmtime::component::ResourceTable;
use zeroize::Zeroizing;

use super::{Secret, Source};
use crate::bindings::drhost::runbook::secret::ComposePart;

/// RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) stay; every
/// other byte of the UTF-8 is percent-encoded, so the value is safe as a
/// URL's user or password part.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A value percent-encoded for a URL's user or password part.
fn url_encoded(value: &str) -> impl Iterator<Item = &str> {
    utf8_percent_encode(value, USERINFO)
}

/// The new secret made of `parts`, in one buffer sized up front (so no
/// partial copy of a value is left behind in a reallocated one).
pub(crate) fn compose(table: &ResourceTable, parts: &[ComposePart]) -> wasmtime::Result<Secret> {
    let mut capacity = 0;
    for part in parts {
        capacity += match part {
            ComposePart::Text(text) => text.len(),
            ComposePart::Secret(s) => table.get(s)?.value.len(),
            ComposePart::UrlEncoded(s) => 3 * table.get(s)?.value.len(),
        };
    }
    let mut value = Zeroizing::new(String::with_capacity(capacity));
    for part in parts {
        match part {
            ComposePart::Text(text) => value.push_str(text),
            ComposePart::Secret(s) => value.push_str(&table.get(s)?.value),
            ComposePart::UrlEncoded(s) => url_encoded(&table.get(s)?.value).for_each(|piece| value.push_str(piece)),
        }
    }
    Ok(Secret {
        origin: "composed".to_string(),
        source: Source::Composed,
        value,
    })
}

/// What the journal says about compose parts: `text`, or which secret and how.
pub(crate) fn describe_parts(table: &ResourceTable, parts: &[ComposePart]) -> wasmtime::Result<Vec<String>> {
    parts
        .iter()
        .map(|part| {
            Ok(match part {
                ComposePart::Text(_) => "text".to_string(),
                ComposePart::Secret(s) => format!("secret {}", table.get(s)?.origin),
                ComposePart::UrlEncoded(s) => format!("url-encoded {}", table.get(s)?.origin),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use wasmtime::component::Resource;

    use super::*;

    fn secret(value: &str) -> Secret {
        Secret {
            origin: "secret/app/db#password".into(),
            source: Source::Vault {
                label: "main".into(),
                path: "secret/app/db".into(),
            },
            value: Zeroizing::new(value.into()),
        }
    }

    #[test]
    fn url_encoding_keeps_only_unreserved_characters() {
        let encoded: String = url_encoded("p@ss:w/rd?#[]% é-._~Az09").collect();
        assert_eq!(encoded, "p%40ss%3Aw%2Frd%3F%23%5B%5D%25%20%C3%A9-._~Az09");
    }

    #[test]
    fn compose_joins_text_and_secrets_and_cannot_be_revealed() {
        let mut table = ResourceTable::new();
        let password: Resource<Secret> = table.push(secret("p@ss/word")).unwrap();
        let borrow = || Resource::<Secret>::new_borrow(password.rep());
        let parts = vec![
            ComposePart::Text("postgresql://app:".into()),
            ComposePart::UrlEncoded(borrow()),
            ComposePart::Text("@db:5432/app?raw=".into()),
            ComposePart::Secret(borrow()),
        ];
        let composed = compose(&table, &parts).unwrap();
        assert_eq!(
            composed.value.as_str(),
            "postgresql://app:p%40ss%2Fword@db:5432/app?raw=p@ss/word"
        );
        assert_eq!(composed.origin, "composed");
        assert_eq!(composed.source, Source::Composed);
        let described = describe_parts(&table, &parts).unwrap();
        assert_eq!(
            described,
            [
                "text",
                "url-encoded secret/app/db#password",
                "text",
                "secret secret/app/db#password"
            ]
        );
        assert!(!format!("{composed:?}").contains("word"));
    }
}
