//! The post itself: the grant check, the webhook's URL read from where the
//! operator said (here and only here, at each post), one JSON `POST` with
//! no redirect followed and no proxy, bounded by the target's timeout and
//! the run's deadline.
//!
//! The URL is a credential (anyone holding a Slack webhook URL can post to
//! the channel): no message this module makes holds it or any part of its
//! path, even when the HTTP library's error or the webhook's answer does.

use std::collections::BTreeMap;
use std::time::Duration;

use super::grant::{allows_label, denial, reference, NotifyTarget, MAX_TIMEOUT};
use super::message::Message;
use crate::bindings::types::Error as CapError;
use crate::caps::kit::capped::Capped;
use crate::caps::kit::gate::require;
use crate::caps::kit::text::root_cause;
use crate::caps::vault::VaultTarget;
use crate::sandbox::RunContext;

/// Most posts one run may make; past it every post is refused, so a plugin
/// stuck in a loop cannot flood the people following the incident.
pub const MAX_POSTS: u32 = 100;
/// Most of a refusing webhook's answer quoted in the error.
const ANSWER_QUOTED: usize = 200;

/// The target `label`, when a grant names it and it is configured.
pub(crate) fn check<'a>(ctx: &'a RunContext, label: &str) -> Result<&'a NotifyTarget, CapError> {
    require(allows_label(&ctx.grants.notify, label), || {
        denial(&ctx.plugin_id, label)
    })?;
    super::TARGETS.lookup(&ctx.grants.notify_targets, label)
}

/// Refuses the post past [`MAX_POSTS`] in one run (`posted` counts this one).
pub(crate) fn check_count(label: &str, posted: u32) -> Result<(), CapError> {
    if posted > MAX_POSTS {
        return Err(CapError::Failed(format!(
            "notify `{label}`: this run already posted {MAX_POSTS} notices, the most one run may; post fewer, e.g. one per step"
        )));
    }
    Ok(())
}

/// Who posts: what a post needs besides the message.
pub(crate) struct Sender<'a> {
    /// The Vault servers a `vault:` URL reference may be read from.
    pub vaults: &'a BTreeMap<String, VaultTarget>,
    /// The plugin the notice is about (the JSON format's `plugin`).
    pub plugin_id: &'a str,
    /// The run it is about (the JSON format's `run_id`).
    pub run_id: &'a str,
    /// The longest the post may wait.
    pub limit: Duration,
}

impl<'a> Sender<'a> {
    /// A plugin's post in run `ctx`: never past the run's deadline.
    pub(crate) fn plugin(ctx: &'a RunContext, target: &NotifyTarget) -> Sender<'a> {
        Sender {
            vaults: &ctx.grants.secret_vaults,
            plugin_id: &ctx.plugin_id,
            run_id: ctx.journal.run_id(),
            limit: ctx.time_left_within(target.timeout.unwrap_or(MAX_TIMEOUT)),
        }
    }
}

/// Posts `message` to `target`; the webhook's HTTP status when it took it.
pub(crate) async fn post(
    sender: &Sender<'_>,
    client: &reqwest::Client,
    label: &str,
    target: &NotifyTarget,
    message: &Message,
) -> Result<u16, CapError> {
    let place = reference(&target.url);
    let url =
        target.url.resolve(sender.vaults).await.map_err(|why| {
            CapError::Unavailable(format!("notify `{label}`: the webhook's URL cannot be read: {why}"))
        })?;
    let secret = UrlParts::new(&url);
    let parsed = reqwest::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            CapError::Unavailable(format!(
                "notify `{label}`: the value of {place} is not an http(s) URL; the operator corrects it"
            ))
        })?;
    let body = message.payload(target.format, sender.plugin_id, sender.run_id);
    let limit = sender.limit;
    let request = async {
        let mut response = client
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        let mut answer = Capped::new(ANSWER_QUOTED);
        if !response.status().is_success() {
            while let Some(chunk) = response.chunk().await? {
                if !answer.push(&chunk) {
                    break;
                }
            }
        }
        Ok::<_, reqwest::Error>((status, answer.into_parts().0))
    };
    let waited = humantime::format_duration(Duration::from_millis(limit.as_millis() as u64));
    match tokio::time::timeout(limit, request).await {
        Err(_) => Err(CapError::Timeout(format!(
            "notify `{label}`: the webhook did not answer within {waited}; the notice was not confirmed"
        ))),
        Ok(Err(e)) => {
            let timed_out = e.is_timeout();
            let why = secret.scrub(&root_cause(&e.without_url()));
            if timed_out {
                Err(CapError::Timeout(format!("notify `{label}`: {why}")))
            } else {
                Err(CapError::Unavailable(format!(
                    "notify `{label}`: the webhook cannot be reached: {why}"
                )))
            }
        }
        Ok(Ok((status, _))) if (200..300).contains(&status) => Ok(status),
        Ok(Ok((status, answer))) => {
            let answer = secret.scrub(&one_line(&answer));
            let quoted = if answer.is_empty() {
                String::new()
            } else {
                format!(": {answer}")
            };
            let redirect = if (300..400).contains(&status) {
                " (a redirect, which drhost does not follow)"
            } else {
                ""
            };
            Err(CapError::Failed(format!(
                "notify `{label}`: the webhook answered HTTP {status}{redirect}{quoted}"
            )))
        }
    }
}

/// Bytes as one line of printable text.
fn one_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The parts of a webhook URL no message may show.
struct UrlParts {
    parts: Vec<String>,
}

impl UrlParts {
    fn new(url: &str) -> UrlParts {
        let url = url.trim();
        let mut parts = vec![url.to_string()];
        if let Ok(parsed) = reqwest::Url::parse(url) {
            parts.push(parsed.to_string());
            // Path segments and query values long enough to be a token.
            parts.extend(
                parsed
                    .path_segments()
                    .into_iter()
                    .flatten()
                    .chain(parsed.query())
                    .filter(|s| s.len() >= 6)
                    .map(str::to_string),
            );
            if parsed.path().len() > 1 {
                parts.push(parsed.path().to_string());
            }
        }
        // Longest first, so a part inside another is not left half-hidden.
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        parts.dedup();
        UrlParts { parts }
    }

    /// `text` with every part of the URL replaced by `<webhook>`.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for part in &self.parts {
            if !part.is_empty() {
                text = text.replace(part.as_str(), "<webhook>");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_part_of_the_url_survives_in_a_message() {
        let secret = UrlParts::new("https://hooks.example.com/services/T0001/B0002/XXXXsecretXXXX?token=abcdef123\n");
        let text = "error sending request for url (https://hooks.example.com/services/T0001/B0002/XXXXsecretXXXX?token=abcdef123): /services/T0001/B0002/XXXXsecretXXXX said XXXXsecretXXXX token=abcdef123";
        let scrubbed = secret.scrub(text);
        for part in ["XXXXsecretXXXX", "T0001", "B0002", "abcdef123", "/services"] {
            assert!(!scrubbed.contains(part), "{part} in {scrubbed}");
        }
        assert_eq!(secret.scrub("Connection refused"), "Connection refused");
    }

    #[test]
    fn posts_past_the_cap_are_refused() {
        assert!(check_count("ops", MAX_POSTS).is_ok());
        assert!(matches!(check_count("ops", MAX_POSTS + 1), Err(CapError::Failed(m)) if m.contains("100 notices")));
    }
}
