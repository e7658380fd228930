//! Attacks through Vault (issue 11): laundering a secret (item 8) — a
//! plugin that may only *read* a secret (as a handle) must not be able to
//! see its value by copying it to a path it may write and reveal, then
//! revealing the copy; a Vault address that redirects must not draw the
//! token to wherever it points (item 10); and a reply larger than drhost's
//! cap is refused whole (item 7).

use std::collections::BTreeMap;

use drhost_tests::cli::{self, Run};
use drhost_tests::lab::runtime as rt;
use drhost_tests::lab::Lab;
use drhost_tests::stub::{http_reply, HttpStub};
use drhost_tests::tmp::TmpDir;
use drhost_tests::util::unique;

const SOURCE: &str = "drhost-hostile/source/db";
const COPY: &str = "drhost-hostile/copy/db";

/// Removes both secrets from the lab's dev Vault, now and on drop.
struct Secrets(Lab);

impl Secrets {
    fn clean(&self) {
        let client = self.0.vault_client().unwrap();
        rt().block_on(async {
            for key in [SOURCE, COPY] {
                let _ = vaultrs::kv2::delete_metadata(&client, "secret", key).await;
            }
        });
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        self.clean();
    }
}

#[test]
fn a_secret_read_as_a_handle_cannot_be_revealed_through_a_copy() {
    let _serial = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let secrets = Secrets(lab.clone());
    secrets.clean();
    let value = format!("launder-me-{}", std::process::id());
    let client = lab.vault_client().unwrap();
    let data = BTreeMap::from([("password", value.as_str())]);
    rt().block_on(vaultrs::kv2::set(&client, "secret", SOURCE, &data))
        .unwrap();

    let token = lab.path(".lab/secrets/vault-token");
    let config = cli::config(&format!(
        "[targets.vault.main]\naddress = \"{}\"\ntoken = \"file:{}\"\n\n\
         [[plugins.vault-poke.vault]]\ntarget = \"main\"\npaths = [\"secret/drhost-hostile/source/*\"]\naccess = [\"read\"]\n\n\
         [[plugins.vault-poke.vault]]\ntarget = \"main\"\npaths = [\"secret/drhost-hostile/copy/*\"]\naccess = [\"read\", \"write\", \"reveal\"]\n",
        lab.get("VAULT_ADDR").unwrap(),
        token.display()
    ));
    let poke = |params: &[(&str, &str)]| {
        let out = Run::fixture("vault-poke")
            .config(&config)
            .json()
            .yes()
            .params(params)
            .exec();
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert!(
            !out.stdout.contains(&value) && !out.stderr.contains(&value),
            "{}",
            out.stdout
        );
        assert!(!out.journal_text().contains(&value));
        out
    };

    // The copy is allowed: the plugin moves a handle, never the value.
    let copy = format!("secret/{COPY}");
    let path = format!("secret/{SOURCE}");
    let out = poke(&[
        ("op", "write-composed"),
        ("path", &path),
        ("field", "password"),
        ("to", &copy),
    ]);
    assert_eq!(out.fact("error-kind"), None, "{}", out.stdout);
    let copied: BTreeMap<String, String> = rt().block_on(vaultrs::kv2::read(&client, "secret", COPY)).unwrap();
    assert_eq!(copied.get("password"), Some(&value));

    // Revealing the copy is refused, naming why.
    let out = poke(&[("op", "reveal"), ("path", &copy), ("field", "password")]);
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        out.stdout
    );
    let message = out.fact("error").unwrap();
    assert!(
        message.contains("may write and reveal on Vault target `main` but only read `secret/drhost-hostile/source/*`"),
        "{message}"
    );
    let journal = out.journal();
    let reveals = cli::calls(&journal, "secret.reveal");
    assert_eq!(reveals.len(), 1);
    assert_eq!(reveals[0]["outcome"]["error"]["kind"], "access-denied");
}

#[test]
fn a_redirect_never_carries_the_token_anywhere() {
    // No lab service is used, but the fixture runs through the real binary.
    let token = format!("hostile-token-{}", unique("t"));
    // Where the redirect points: answers like a Vault that has the secret,
    // so a client that follows it would succeed.
    let elsewhere = HttpStub::start(|_| {
        http_reply(
            "200 OK",
            "",
            "application/json",
            r#"{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{"data":{"password":"p"},"metadata":{"created_time":"2026-01-01T00:00:00Z","custom_metadata":null,"deletion_time":"","destroyed":false,"version":3},"keys":["a"],"version":3},"wrap_info":null,"warnings":null,"auth":null}"#,
        )
    });
    let target = elsewhere.port;
    let vault = HttpStub::start(move |_| {
        http_reply(
            "307 Temporary Redirect",
            &format!("location: http://127.0.0.1:{target}/v1/secret/data/app/db\r\n"),
            "application/json",
            "",
        )
    });
    let tmp = TmpDir::new("drhost-hostile-vault-");
    let token_file = tmp.write("token", &token);
    let config = cli::config(&format!(
        "[targets.vault.main]\naddress = \"http://127.0.0.1:{}\"\ntoken = \"file:{}\"\n\n\
         [[plugins.vault-poke.vault]]\ntarget = \"main\"\npaths = [\"secret/app/*\"]\naccess = [\"read\", \"write\"]\n",
        vault.port,
        token_file.display()
    ));
    for (op, call) in [
        ("read", "vault.read"),
        ("metadata", "vault.metadata"),
        ("list", "vault.list"),
        ("write", "vault.write"),
        ("patch", "vault.patch"),
    ] {
        let path = if op == "list" { "secret/app/" } else { "secret/app/db" };
        let out = Run::fixture("vault-poke")
            .config(&config)
            .json()
            .params(&[("op", op), ("path", path), ("fields", "user=app")])
            .exec();
        assert_eq!(out.code, 0, "{op}: {}\n{}", out.stdout, out.stderr);
        assert_eq!(
            out.fact("error-kind").as_deref(),
            Some("failed"),
            "{op}: {}",
            out.stdout
        );
        let message = out.fact("error").unwrap();
        assert!(
            message.contains("answered with a redirect (HTTP 307)") && message.contains("follows no redirect"),
            "{op}: {message}"
        );
        let journal = out.journal();
        let made = cli::calls(&journal, call);
        assert_eq!(made.len(), 1, "{op}");
        assert_eq!(made[0]["outcome"]["error"]["kind"], "failed", "{op}");
        assert!(!out.journal_text().contains(&token) && !out.stdout.contains(&token) && !out.stderr.contains(&token));
    }
    // The token went to the configured address, and only there.
    let asked = vault.heads();
    assert_eq!(asked.len(), 5, "{asked:?}");
    assert!(
        asked.iter().all(|h| h.contains(&format!("x-vault-token: {token}"))),
        "{asked:?}"
    );
    let followed = elsewhere.heads();
    assert!(
        followed.is_empty(),
        "requests reached the redirect's target (with the token: {}): {followed:?}",
        followed.iter().filter(|h| h.contains("x-vault-token")).count()
    );
}

#[test]
fn a_secret_larger_than_the_reply_cap_is_refused_whole() {
    let _serial = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let key = "drhost-hostile/huge/blob";
    let client = lab.vault_client().unwrap();
    let clean = || {
        let _ = rt().block_on(vaultrs::kv2::delete_metadata(&client, "secret", key));
    };
    clean();
    let token = lab.path(".lab/secrets/vault-token");
    let config = cli::config(&format!(
        "[targets.vault.main]\naddress = \"{}\"\ntoken = \"file:{}\"\n\n\
         [[plugins.vault-poke.vault]]\ntarget = \"main\"\npaths = [\"secret/drhost-hostile/huge/*\"]\naccess = [\"read\"]\n",
        lab.get("VAULT_ADDR").unwrap(),
        token.display()
    ));
    let read = || {
        let out = Run::fixture("vault-poke")
            .config(&config)
            .json()
            .params(&[("op", "read"), ("path", &format!("secret/{key}"))])
            .exec();
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        out
    };
    // Just under the cap: read whole, as handles.
    let under = "u".repeat(drhost::caps::vault::MAX_KV_REPLY - 64 * 1024);
    rt().block_on(vaultrs::kv2::set(
        &client,
        "secret",
        key,
        &BTreeMap::from([("value", under.as_str())]),
    ))
    .unwrap();
    let out = read();
    assert_eq!(out.fact("fields").as_deref(), Some("value"), "{}", out.stdout);
    // Over it: refused, naming the cap, with nothing passed on.
    let over = "o".repeat(drhost::caps::vault::MAX_KV_REPLY + 1024);
    rt().block_on(vaultrs::kv2::set(
        &client,
        "secret",
        key,
        &BTreeMap::from([("value", over.as_str())]),
    ))
    .unwrap();
    let out = read();
    clean();
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("invalid-argument"),
        "{}",
        out.stdout
    );
    let message = out.fact("error").unwrap();
    assert!(
        message.contains("larger than 4096 KiB, drhost's cap per call")
            && message.contains("split them over several paths"),
        "{message}"
    );
    let journal = out.journal();
    assert_eq!(
        cli::calls(&journal, "vault.read")[0]["outcome"]["error"]["kind"],
        "invalid-argument"
    );
}
