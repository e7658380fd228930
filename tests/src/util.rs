//! Small helpers shared by the tests and the benches: unique names,
//! percent-encoding, and the median (and other percentiles) of samples.

use std::sync::atomic::{AtomicU64, Ordering};

/// A value no other test, test process or earlier run uses:
/// `<what>-<pid>-<nanoseconds since the epoch, hex>-<counter>`. Lowercase
/// ASCII when `what` is, so it also names registry repositories
/// (`drhost-test/hello-1234-18a9…-0`).
pub fn unique(what: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{what}-{}-{nanos:x}-{n}", std::process::id())
}

/// Percent-encoding for a URL's userinfo (e.g. a password in
/// `postgresql://user:PASSWORD@host/db`), written independently of the
/// host's: RFC 3986 unreserved bytes stay, every other byte is `%XX`.
pub fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `pct`th percentile of `samples` (nearest rank, rounding down: the
/// sample at index `len * pct / 100` once sorted). Panics when there are none.
pub fn percentile<T: PartialOrd + Copy>(mut samples: Vec<T>, pct: usize) -> T {
    assert!(!samples.is_empty(), "no samples");
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    samples[(samples.len() * pct / 100).min(samples.len() - 1)]
}

/// The median of `samples` (the upper one of an even count).
pub fn median<T: PartialOrd + Copy>(samples: Vec<T>) -> T {
    percentile(samples, 50)
}

/// A WebAssembly module or component's bytes without its custom sections
/// named in `names` (e.g. `signature`, `drhost-identity`): an unsigned
/// copy of a built plugin. Written independently of the host's parser.
pub fn without_custom_sections(bytes: &[u8], names: &[&str]) -> Vec<u8> {
    fn leb(bytes: &[u8]) -> (usize, usize) {
        let (mut value, mut shift) = (0usize, 0);
        for (i, b) in bytes.iter().enumerate() {
            value |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return (value, i + 1);
            }
            shift += 7;
        }
        panic!("bad LEB128 in a section header");
    }
    let mut out = bytes[..8].to_vec();
    let mut at = 8;
    while at < bytes.len() {
        let (size, used) = leb(&bytes[at + 1..]);
        let end = at + 1 + used + size;
        let payload = &bytes[at + 1 + used..end];
        let named = bytes[at] == 0 && {
            let (n, u) = leb(payload);
            names.iter().any(|name| &payload[u..u + n] == name.as_bytes())
        };
        if !named {
            out.extend_from_slice(&bytes[at..end]);
        }
        at = end;
    }
    out
}
