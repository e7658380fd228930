//! The `notify` capability against a real webhook receiver on 127.0.0.1
//! ([`drhost_tests::webhook`]), through the `notify-poke` fixture and the
//! real `drhost` binary.
//!
//! Each test starts its own receivers and writes its own `drhost.toml`;
//! the webhook URLs carry a token in their path, as Slack's do, and every
//! test checks that neither the URL nor its path shows up in the journal or
//! on the console. Nothing here touches the shared lab.

use std::time::Duration;

use drhost_tests::cli::{calls, Outcome, Run};
use drhost_tests::tmp::TmpDir;
use drhost_tests::util::unique;
use drhost_tests::webhook::{refused_url, Webhook};
use serde_json::json;

/// The variable the tests put a webhook URL in.
const HOOK_ENV: &str = "DRHOST_TEST_NOTIFY_HOOK";

/// A Slack-like webhook path with a token no one else uses.
fn token_path() -> String {
    format!("/services/T0TEST/B0TEST/{}", unique("tok"))
}

/// `notify-poke` with `config`, the URL in `$DRHOST_TEST_NOTIFY_HOOK`.
fn poke(config: &str, url: &str, params: &[(&str, &str)]) -> Outcome {
    Run::fixture("notify-poke")
        .config_toml(config)
        .env(HOOK_ENV, url)
        .json()
        .params(params)
        .exec()
}

/// `[targets.notify.ops]` reading `$DRHOST_TEST_NOTIFY_HOOK`, in `format`.
fn env_target(format: &str, extra: &str) -> String {
    format!("[targets.notify.ops]\nurl = \"env:{HOOK_ENV}\"\nformat = \"{format}\"\n{extra}\n")
}

const GRANT_OPS: &str = "[[plugins.notify-poke.notify]]\ntarget = \"ops\"\n";

fn show(out: &Outcome) -> String {
    format!("exit {}\nstdout:\n{}\nstderr:\n{}", out.code, out.stdout, out.stderr)
}

/// Neither `url` nor its path (the token) anywhere the operator or the
/// journal's reader sees.
fn assert_url_hidden(out: &Outcome, url: &str, path: &str) {
    let token = path.rsplit('/').next().unwrap();
    for text in [&out.stdout, &out.stderr, &out.journal_text()] {
        for secret in [url, path, token] {
            assert!(!text.contains(secret), "`{secret}` leaked:\n{text}");
        }
    }
}

#[test]
fn slack_and_json_notices_arrive_exactly_as_posted() {
    // Slack: the URL from an environment variable.
    let hook = Webhook::ok();
    let path = token_path();
    let url = hook.url(&path);
    let config = format!("{}{GRANT_OPS}", env_target("slack", ""));
    let out = poke(
        &config,
        &url,
        &[
            ("title", "Database maintenance mode on"),
            ("text", "Restoring <primary> from the 02:00 dump & replaying WAL."),
            ("severity", "critical"),
        ],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("error-kind"), None, "{}", show(&out));
    let posts = hook.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        (posts[0].method.as_str(), posts[0].path.as_str()),
        ("POST", path.as_str())
    );
    assert_eq!(posts[0].header("content-type"), Some("application/json"));
    assert_eq!(
        posts[0].json(),
        json!({ "text": ":rotating_light: *Database maintenance mode on*\nRestoring &lt;primary&gt; from the 02:00 dump &amp; replaying WAL." })
    );
    let journal = out.journal();
    let post = calls(&journal, "notify.post");
    assert_eq!(post.len(), 1);
    assert_eq!(
        post[0]["args"],
        json!({ "target": "ops", "title": "Database maintenance mode on", "severity": "critical", "text_bytes": 56, "cut": false })
    );
    assert_eq!(post[0]["outcome"]["ok"], json!({ "status": 200 }));
    assert_url_hidden(&out, &url, &path);

    // JSON: the URL from a file; plugin and run id come from the host.
    let hook = Webhook::ok();
    let path = token_path();
    let url = hook.url(&path);
    let dir = TmpDir::new("drhost-notify-");
    let file = dir.write("hook-url", format!("{url}\n"));
    let config = format!(
        "[targets.notify.ops]\nurl = \"file:{}\"\nformat = \"json\"\n\n{GRANT_OPS}",
        file.display()
    );
    let out = poke(
        &config,
        "unused",
        &[
            ("title", "Recovered"),
            ("text", "All checks green."),
            ("severity", "resolved"),
        ],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    let journal = out.journal();
    let run_id = journal[0]["run"].as_str().unwrap().to_string();
    let posts = hook.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].path, path);
    assert_eq!(
        posts[0].json(),
        json!({ "title": "Recovered", "text": "All checks green.", "severity": "resolved", "plugin": "notify-poke", "run_id": run_id })
    );
    assert_url_hidden(&out, &url, &path);
}

#[test]
fn a_long_text_is_cut_at_4_kib_and_says_so() {
    let hook = Webhook::ok();
    let path = token_path();
    let config = format!("{}{GRANT_OPS}", env_target("json", ""));
    let out = poke(
        &config,
        &hook.url(&path),
        &[("text-bytes", "10000"), ("title", "line one\nline two")],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    let body = hook.posts()[0].json();
    assert_eq!(body["title"], "line one line two", "the title is one line");
    let text = body["text"].as_str().unwrap();
    let (kept, note) = text.split_once('\n').unwrap();
    assert_eq!(kept, "x".repeat(4096));
    assert_eq!(
        note,
        "[cut by drhost: the message had 10000 bytes; at most 4096 are sent]"
    );
    let journal = out.journal();
    let post = calls(&journal, "notify.post");
    assert_eq!(
        (post[0]["args"]["text_bytes"].as_u64(), post[0]["args"]["cut"].as_bool()),
        (Some(10000), Some(true))
    );
}

#[test]
fn a_dead_channel_is_a_typed_error_and_the_run_goes_on() {
    let config = format!("{}{GRANT_OPS}", env_target("slack", ""));

    // Nothing listens: `unavailable`, and the plugin carries on (exit 0).
    let path = token_path();
    let url = refused_url(&path);
    let out = poke(&config, &url, &[]);
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("error-kind").as_deref(), Some("unavailable"), "{}", show(&out));
    assert!(
        out.fact("error").unwrap().contains("cannot be reached"),
        "{}",
        show(&out)
    );
    assert_eq!(out.fact("continued").as_deref(), Some("true"));
    assert_url_hidden(&out, &url, &path);

    // The channel refuses, echoing the URL back: `failed` with the status,
    // the echo scrubbed.
    let path = token_path();
    let hook = Webhook::start("500 Internal Server Error", "", &format!("no_service for {path}"));
    let url = hook.url(&path);
    let out = poke(&config, &url, &[]);
    assert_eq!(out.fact("error-kind").as_deref(), Some("failed"), "{}", show(&out));
    let message = out.fact("error").unwrap();
    assert!(
        message.contains("HTTP 500") && message.contains("no_service for <webhook>"),
        "{message}"
    );
    assert_eq!(out.fact("continued").as_deref(), Some("true"));
    assert_eq!(hook.posts().len(), 1);
    assert_url_hidden(&out, &url, &path);

    // It never answers: `timeout` after the target's timeout, not the run's.
    let path = token_path();
    let hook = Webhook::silent();
    let url = hook.url(&path);
    let config_1s = format!("{}{GRANT_OPS}", env_target("slack", "timeout = \"1s\""));
    let out = poke(&config_1s, &url, &[]);
    assert_eq!(out.fact("error-kind").as_deref(), Some("timeout"), "{}", show(&out));
    assert_eq!(out.fact("continued").as_deref(), Some("true"));
    assert!(out.elapsed < Duration::from_secs(8), "took {:?}", out.elapsed);
    assert_url_hidden(&out, &url, &path);

    // A plugin that chooses to fail on it fails (exit 1), still without the URL.
    let path = token_path();
    let url = refused_url(&path);
    let out = poke(&config, &url, &[("on-error", "fail")]);
    assert_eq!(out.code, 1, "{}", show(&out));
    assert_url_hidden(&out, &url, &path);
}

#[test]
fn a_redirect_is_not_followed() {
    let elsewhere = Webhook::ok();
    let path = token_path();
    let hook = Webhook::start("302 Found", &format!("location: {}\r\n", elsewhere.url("/stolen")), "");
    let url = hook.url(&path);
    let out = poke(&format!("{}{GRANT_OPS}", env_target("json", "")), &url, &[]);
    assert_eq!(out.fact("error-kind").as_deref(), Some("failed"), "{}", show(&out));
    assert!(
        out.fact("error").unwrap().contains("HTTP 302 (a redirect"),
        "{}",
        show(&out)
    );
    assert!(elsewhere.posts().is_empty(), "the redirect was followed");
    assert_url_hidden(&out, &url, &path);
}

#[test]
fn only_granted_labels_are_posted_to_and_a_plugin_cannot_name_a_url() {
    let ops = Webhook::ok();
    let status = Webhook::ok();
    let dir = TmpDir::new("drhost-notify-");
    let status_file = dir.write("status-url", status.url(&token_path()));
    let config = format!(
        "{}[targets.notify.status]\nurl = \"file:{}\"\nformat = \"slack\"\n\n{GRANT_OPS}",
        env_target("slack", ""),
        status_file.display()
    );
    let ops_url = ops.url(&token_path());

    // A configured label this plugin was not granted.
    let out = poke(&config, &ops_url, &[("target", "status")]);
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    assert!(
        out.fact("error")
            .unwrap()
            .ends_with("[[plugins.notify-poke.notify]]\ntarget = \"status\""),
        "{}",
        show(&out)
    );
    assert!(status.posts().is_empty());

    // The contract has no URL: the only thing a plugin names is a label,
    // and a URL is just a label nobody granted.
    let catcher = Webhook::ok();
    let out = poke(&config, &ops_url, &[("target", &catcher.url("/catch"))]);
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    assert!(catcher.posts().is_empty() && ops.posts().is_empty());
    let journal = out.journal();
    assert_eq!(
        calls(&journal, "notify.post")[0]["outcome"]["error"]["kind"],
        "access-denied"
    );

    // No grant at all: refused before the run, with the TOML (and the
    // table, when the target is not configured either).
    for (config, table) in [(env_target("slack", ""), false), (String::new(), true)] {
        let out = poke(&config, &ops_url, &[]);
        assert_eq!(out.code, 3, "{}", show(&out));
        let message = out.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            message.contains("[[plugins.notify-poke.notify]]\ntarget = \"ops\""),
            "{message}"
        );
        if table {
            assert!(
                message.contains("[targets.notify.ops]\nurl = \"env:WEBHOOK_URL\"\nformat = \"slack\""),
                "{message}"
            );
        }
    }
    assert!(ops.posts().is_empty());
}

/// `[run.notify]` posting to `ops`, with `[targets.notify.ops]` in `format`.
fn run_notify(format: &str, extra: &str) -> String {
    format!(
        "{}[run.notify]\ntarget = \"ops\"\n{extra}\n{}",
        env_target(format, ""),
        drhost_tests::cli::HELLO_GRANTS
    )
}

#[test]
fn drhost_posts_when_a_run_starts_and_ends_without_any_plugin_grant() {
    let path = token_path();
    let hook = Webhook::ok();
    let url = hook.url(&path);
    let out = Run::plugin("hello")
        .config_toml(&run_notify("json", ""))
        .env(HOOK_ENV, &url)
        .json()
        .exec();
    assert_eq!(out.code, 0, "{}", show(&out));
    let run_id = out.json()["run_id"].as_str().unwrap().to_string();
    let posts: Vec<_> = hook.posts().iter().map(|p| p.json()).collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let (start, end) = (&posts[0], &posts[1]);
    assert_eq!(start["title"], "drhost: hello 0.1.0 started", "{start}");
    assert_eq!(start["severity"], "info");
    assert!(
        start["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Run {run_id} started on ")),
        "{start}"
    );
    assert_eq!(end["title"], "drhost: hello recovered", "{end}");
    assert_eq!(end["severity"], "resolved");
    let text = end["text"].as_str().unwrap();
    assert!(
        text.contains("Exit 0 after ") && text.ends_with(&format!("Report: drhost report {run_id}")),
        "{text}"
    );
    for post in &posts {
        assert_eq!(
            (post["plugin"].as_str(), post["run_id"].as_str()),
            (Some("hello"), Some(run_id.as_str()))
        );
    }
    // Journaled before run-end, with the channel's answer; never the URL.
    let journal = out.journal();
    let notices = drhost_tests::cli::events(&journal, "host-notice");
    let seen: Vec<_> = notices
        .iter()
        .map(|n| (n["notice"].as_str().unwrap(), n["status"].as_u64()))
        .collect();
    assert_eq!(seen, vec![("start", Some(200)), ("end", Some(200))]);
    assert_eq!(journal.last().unwrap()["event"], "run-end");
    assert_url_hidden(&out, &url, &path);

    // `events` chooses; a plan posts nothing.
    let only_end = Webhook::ok();
    let out = Run::plugin("hello")
        .config_toml(&run_notify("json", "events = [\"end\"]"))
        .env(HOOK_ENV, only_end.url(&path))
        .exec();
    assert_eq!(out.code, 0, "{}", show(&out));
    let titles: Vec<_> = only_end.posts().iter().map(|p| p.json()["title"].clone()).collect();
    assert_eq!(titles, vec![json!("drhost: hello recovered")]);
    let planned = Webhook::ok();
    let out = Run::plugin("hello")
        .config_toml(&run_notify("json", ""))
        .env(HOOK_ENV, planned.url(&path))
        .arg("--plan")
        .exec();
    let journal = out.journal();
    assert_eq!(
        drhost_tests::cli::events(&journal, "run-start")[0]["mode"],
        "plan",
        "{}",
        show(&out)
    );
    assert!(planned.posts().is_empty(), "a plan posted");
    assert!(drhost_tests::cli::events(&journal, "host-notice").is_empty());
}

#[test]
fn a_question_no_one_can_answer_is_posted_and_a_dead_channel_never_fails_the_run() {
    // Slack: the question that needs a person, then the failed end, escaped.
    let path = token_path();
    let hook = Webhook::ok();
    let url = hook.url(&path);
    let out = Run::fixture("misbehave")
        .param("mode", "confirm")
        .config_toml(&run_notify("slack", ""))
        .env(HOOK_ENV, &url)
        .exec();
    assert_eq!(out.code, 1, "{}", show(&out));
    let texts: Vec<String> = hook
        .posts()
        .iter()
        .map(|p| p.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert!(
        texts[0].starts_with(":information_source: *drhost: misbehave "),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].starts_with(":warning: *drhost: misbehave waits for an operator*")
            && texts[1].contains("drop the pretend table?")
            && texts[1].contains("--approve misbehave:"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].starts_with(":rotating_light: *drhost: misbehave failed*"),
        "{}",
        texts[2]
    );

    // Nothing listens: the run is unaffected, the operator is told, the
    // journal says why, and the URL shows nowhere.
    let path = token_path();
    let url = refused_url(&path);
    let out = Run::plugin("hello")
        .config_toml(&run_notify("slack", ""))
        .env(HOOK_ENV, &url)
        .exec();
    assert_eq!(out.code, 0, "{}", show(&out));
    assert!(
        out.stderr
            .contains("drhost: warning: notice `start` not delivered (unavailable)")
            && out.stderr.contains("(the run itself is not affected)"),
        "{}",
        show(&out)
    );
    let journal = out.journal();
    let notices = drhost_tests::cli::events(&journal, "host-notice");
    assert_eq!(notices.len(), 2);
    assert!(notices
        .iter()
        .all(|n| n["error"].as_str().unwrap().contains("cannot be reached")));
    assert_url_hidden(&out, &url, &path);

    // A label with no [targets.notify] is said, not fatal.
    let out = Run::plugin("hello")
        .config_toml(&format!(
            "[run.notify]\ntarget = \"nowhere\"\n{}",
            drhost_tests::cli::HELLO_GRANTS
        ))
        .exec();
    assert_eq!(out.code, 0, "{}", show(&out));
    assert!(
        out.stderr.contains("there is no [targets.notify.nowhere]"),
        "{}",
        show(&out)
    );
}
