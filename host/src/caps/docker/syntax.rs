//! The rules for what grants and plugins write for `docker`: `KEY` /
//! `KEY=GLOB` patterns, address ranges (CIDR), the environment entries of
//! an exec, image references, and the cut-down text journaled for them.

use serde::{Deserialize, Serialize};

use crate::caps::kit::pattern::ArgPattern;
use crate::caps::kit::text::truncate;

/// `KEY` or `KEY=GLOB` in a grant: a key the plugin may set (exactly), and
/// optionally which values it may set it to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyPattern {
    text: String,
    key: String,
    value: Option<ArgPattern>,
}

impl TryFrom<String> for KeyPattern {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let (key, value) = match text.split_once('=') {
            Some((k, v)) => (k, Some(ArgPattern::try_from(v.to_string())?)),
            None => (text.as_str(), None),
        };
        let key_ok = !key.is_empty()
            && key.len() <= MAX_KEY_LEN
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
        if !key_ok {
            return Err(format!(
                "`{text}` is not `NAME` or `NAME=GLOB`: the name is letters, digits, `_`, `.`, `-` or `/`, \
                 given exactly (no globs)"
            ));
        }
        Ok(KeyPattern {
            key: key.to_string(),
            value,
            text,
        })
    }
}

impl From<KeyPattern> for String {
    fn from(pattern: KeyPattern) -> String {
        pattern.text
    }
}

impl KeyPattern {
    /// Whether `key=value` is allowed.
    pub fn allows(&self, key: &str, value: &str) -> bool {
        self.key == key && self.value.as_ref().is_none_or(|g| g.matches(value))
    }
}

/// Longest environment variable or option name accepted.
pub const MAX_KEY_LEN: usize = 256;

/// An IP address range, `ADDRESS/PREFIX` (IPv4 or IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Cidr::parse(&text)
    }
}

impl From<Cidr> for String {
    fn from(cidr: Cidr) -> String {
        format!("{}/{}", cidr.addr, cidr.prefix)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Parses `ADDRESS/PREFIX`; a bare address is a single host (`/32`, `/128`).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("`{text}` is not an address range such as 172.16.0.0/12 or fd00::/8");
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => bits,
        };
        if prefix > bits {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }

    fn bits(addr: std::net::IpAddr) -> (u128, u8) {
        match addr {
            std::net::IpAddr::V4(a) => (u32::from(a) as u128, 32),
            std::net::IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    fn masked(addr: std::net::IpAddr, prefix: u8) -> u128 {
        let (value, bits) = Cidr::bits(addr);
        let host = bits - prefix;
        if host >= 128 {
            0
        } else {
            value >> host << host
        }
    }

    /// Whether every address of `other` is in this range (same family).
    pub fn contains(&self, other: &Cidr) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && other.prefix >= self.prefix
            && Cidr::masked(other.addr, self.prefix) == Cidr::masked(self.addr, self.prefix)
    }
}

/// Splits plugin-supplied `NAME=value` environment entries, refusing
/// entries without `=`, names that are not `[A-Za-z_][A-Za-z0-9_]*` (so no
/// `BASH_FUNC_x%%`), and more than [`MAX_EXEC_ENV`] entries.
pub fn parse_exec_env(env: &[String]) -> Result<Vec<(String, String)>, String> {
    if env.len() > MAX_EXEC_ENV {
        return Err(format!(
            "exec sets {} environment variables; at most {MAX_EXEC_ENV} are accepted",
            env.len()
        ));
    }
    env.iter()
        .map(|entry| {
            let Some((name, value)) = entry.split_once('=') else {
                return Err(format!(
                    "exec environment entry `{}` is not NAME=value",
                    shorten(entry, 64)
                ));
            };
            let valid = !name.is_empty()
                && name.len() <= MAX_KEY_LEN
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "exec environment variable name `{}` is not letters, digits and `_`",
                    shorten(name, 64)
                ));
            }
            if value.len() > MAX_ENV_VALUE || value.contains('\0') {
                return Err(format!(
                    "exec environment variable `{name}`: the value is longer than {MAX_ENV_VALUE} bytes or holds NUL"
                ));
            }
            Ok((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Most environment variables one exec may set.
pub const MAX_EXEC_ENV: usize = 64;
/// Longest environment value one exec may set.
pub const MAX_ENV_VALUE: usize = 32 * 1024;

/// `text` cut to at most `max` bytes (on a char boundary), with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    format!("{}…", truncate(text, max))
}

/// Checks an image reference a plugin names for tag or recreate: `name[:tag]`
/// only, lowercase name components, no digest (`@…`) and no bare image id —
/// so the text the `images` globs match is the reference the engine uses.
pub fn check_image_reference(reference: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "image reference `{}` {why}: name it as REPOSITORY[:TAG]",
            shorten(reference, 128)
        ))
    };
    if reference.is_empty() || reference.len() > 255 {
        return bad("is empty or longer than 255 characters");
    }
    if reference.contains('@') {
        return bad("has a digest");
    }
    if reference.starts_with("sha256:") || (reference.len() >= 12 && reference.bytes().all(|b| b.is_ascii_hexdigit())) {
        return bad("looks like an image id");
    }
    let (name, tag) = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (reference, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            return bad("has an invalid tag");
        }
    }
    let name_ok = !name.is_empty()
        && name.split('/').enumerate().all(|(i, part)| {
            !part.is_empty()
                && part.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, '.' | '_' | '-')
                        // A registry host may carry a port and capitals.
                        || (i == 0 && (c == ':' || c.is_ascii_uppercase()))
                })
        });
    if !name_ok {
        return bad("has an invalid name");
    }
    Ok(())
}

/// Checks a Docker secret name as the engine would (letters and digits,
/// then also `-`, `_`, `.`, ending in a letter or digit; at most 64) —
/// before any grant is asked, so a name the `secrets` globs match is the
/// name the engine stores.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    let inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(inner);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a Docker secret name: 1 to 64 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
            shorten(&name.escape_debug().to_string(), 128)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_what_the_engine_accepts() {
        for ok in ["toolboxai-db", "a", "A.b_c-9", &"x".repeat(64)] {
            assert!(check_secret_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "x-", "a/b", "a b", "../x", "a\0", "é", &"x".repeat(65)] {
            assert!(check_secret_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_references_are_plain_names_and_tags() {
        for ok in [
            "toolboxai/backend:latest",
            "toolboxai/backend",
            "127.0.0.1:27500/toolboxai/backend:v1.2",
            "Registry.example:5000/app",
        ] {
            assert!(check_image_reference(ok).is_ok(), "{ok}");
        }
        let id = "sha256:ac2ad3823eef54221ef66f3618dba2f1731ac332c7daefda9538f21de7c9e8b4";
        for bad in [
            format!("toolboxai/backend:latest@{id}"),
            format!("toolboxai/backend@{id}"),
            id.to_string(),
            "ac2ad3823eef".to_string(),
            "toolboxai/Backend:latest".to_string(),
            "toolboxai/backend:".to_string(),
            "toolboxai//backend".to_string(),
            "toolboxai/backend:-x".to_string(),
            String::new(),
        ] {
            assert!(check_image_reference(&bad).is_err(), "{bad}");
        }
    }
}
