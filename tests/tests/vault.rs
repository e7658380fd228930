//! The `vault` capability against the lab's real OpenBao servers (the dev
//! server for KV v2, the raft server for snapshots), through the
//! `vault-poke` fixture and the real `drhost` binary.
//!
//! Each test writes its own `drhost.toml` (`[targets.vault.main]` with a
//! `file:` token, and its own grants), seeds and cleans its own paths under
//! `secret/drhost-test/`, and asserts what Vault holds afterwards, the
//! journal and the exit code. Tests are serialized by [`drhost_tests::lab::serial`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use drhost_tests::cli::{self, calls, events, Outcome, Run};
use drhost_tests::lab::Lab;
use drhost_tests::lab::{runtime as rt, up as lab};
use drhost_tests::tmp::{TmpDir, TmpFile};
use drhost_tests::util::{percent_encoded, unique};
use serde_json::json;
use vaultrs::client::VaultClient;

/// The KV v2 mount of both lab servers.
const MOUNT: &str = "secret";

/// Which lab server a test talks to.
#[derive(Clone, Copy)]
enum Server {
    /// The dev server (`VAULT_ADDR`).
    Dev,
    /// The raft server (`VAULT_RAFT_ADDR`), the one with snapshots.
    Raft,
}

impl Server {
    fn address(self, lab: &Lab) -> String {
        let key = match self {
            Server::Dev => "VAULT_ADDR",
            Server::Raft => "VAULT_RAFT_ADDR",
        };
        lab.get(key).unwrap().to_string()
    }

    fn token(self, lab: &Lab) -> String {
        let key = match self {
            Server::Dev => "VAULT_TOKEN",
            Server::Raft => "VAULT_RAFT_TOKEN",
        };
        lab.get(key).unwrap().to_string()
    }

    fn client(self, lab: &Lab) -> VaultClient {
        match self {
            Server::Dev => lab.vault_client().unwrap(),
            Server::Raft => lab.vault_raft_client().unwrap(),
        }
    }
}

/// KV keys (under `secret/`) a test owns: deleted (every version and the
/// metadata) when it starts and again when it ends, even when it fails.
struct Scratch {
    server: Server,
    keys: Vec<String>,
}

impl Scratch {
    fn new(server: Server, keys: &[&str]) -> Scratch {
        let scratch = Scratch {
            server,
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        scratch.clean();
        scratch
    }

    fn clean(&self) {
        let client = self.server.client(&lab());
        rt().block_on(async {
            for key in &self.keys {
                let _ = vaultrs::kv2::delete_metadata(&client, MOUNT, key).await;
            }
        });
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.clean();
    }
}

/// Makes `file` readable by its owner only, as a token file must be.
fn private(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A fresh 0600 file holding `token`.
fn token_file(token: &str) -> TmpFile {
    let file = TmpDir::new("drhost-vault-token-").into_file("token", format!("{token}\n"));
    private(&file);
    file
}

/// `[targets.vault.main]` at `address` with `token` in a file beside it, and `grants`.
fn config_at(address: &str, token: &str, grants: &str) -> TmpFile {
    let dir = TmpDir::new("drhost-vault-config-");
    let token = dir.write("token", format!("{token}\n"));
    private(&token);
    dir.into_file(
        "drhost.toml",
        format!(
            "[targets.vault.main]\naddress = \"{address}\"\ntoken = \"file:{}\"\n\n{grants}",
            token.display()
        ),
    )
}

/// A config for `server` with `grants`.
fn config(server: Server, grants: &str) -> TmpFile {
    let lab = lab();
    config_at(&server.address(&lab), &server.token(&lab), grants)
}

/// One `[[plugins.vault-poke.vault]]` table on target `main`.
fn grant(paths: &[&str], access: &[&str]) -> String {
    format!(
        "[[plugins.vault-poke.vault]]\ntarget = \"main\"\npaths = {}\naccess = {}\n",
        json!(paths),
        json!(access)
    )
}

/// `drhost run tests/plugins/vault-poke.wasm --config CONFIG --yes --param K=V…`
/// (add `.json()` for the report on stdout).
fn vault_poke(config: &Path, params: &[(&str, &str)]) -> Run {
    Run::fixture("vault-poke").config(config).yes().params(params)
}

/// The same with `--json`, run.
fn poke(config: &Path, params: &[(&str, &str)]) -> Outcome {
    vault_poke(config, params).json().exec()
}

fn show(out: &Outcome) -> String {
    format!("exit {}\nstdout:\n{}\nstderr:\n{}", out.code, out.stdout, out.stderr)
}

/// Writes `fields` at `secret/<key>` directly; returns the new version.
fn put(server: Server, key: &str, fields: &[(&str, &str)]) -> u64 {
    let client = server.client(&lab());
    let data: BTreeMap<&str, &str> = fields.iter().copied().collect();
    rt().block_on(vaultrs::kv2::set(&client, MOUNT, key, &data))
        .unwrap()
        .version
}

/// The latest fields at `secret/<key>`, read directly (`None`: no secret).
fn get(server: Server, key: &str) -> Option<BTreeMap<String, String>> {
    let client = server.client(&lab());
    rt().block_on(vaultrs::kv2::read(&client, MOUNT, key)).ok()
}

fn current_version(server: Server, key: &str) -> u64 {
    let client = server.client(&lab());
    rt().block_on(vaultrs::kv2::read_metadata(&client, MOUNT, key))
        .unwrap()
        .current_version
}

#[test]
fn read_compose_write_stores_the_composed_secret_and_never_shows_it() {
    let _serial = drhost_tests::lab::serial();
    let _scratch = Scratch::new(Server::Dev, &["drhost-test/compose/source", "drhost-test/compose/dest"]);
    let password = format!("{}:p@ss/w%rd é+~", unique("pw"));
    put(
        Server::Dev,
        "drhost-test/compose/source",
        &[("password", password.as_str()), ("user", "app")],
    );
    let grants = format!(
        "{}{}",
        grant(&["secret/drhost-test/compose/source"], &["read"]),
        grant(&["secret/drhost-test/compose/dest"], &["write"])
    );
    let config = config(Server::Dev, &grants);

    let (prefix, suffix) = ("postgresql://app:", "@db.internal:5432/app");
    let out = poke(
        &config,
        &[
            ("op", "write-composed"),
            ("path", "secret/drhost-test/compose/source"),
            ("field", "password"),
            ("to", "secret/drhost-test/compose/dest"),
            ("prefix", prefix),
            ("suffix", suffix),
        ],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("origin").as_deref(), Some("composed"), "{}", show(&out));
    assert_eq!(out.fact("version").as_deref(), Some("1"), "{}", show(&out));

    // Vault holds the composed URL (password percent-encoded), the raw
    // password, and the text field.
    let dest = get(Server::Dev, "drhost-test/compose/dest").expect("the composed secret was written");
    let encoded = percent_encoded(&password);
    assert_eq!(dest["url"], format!("{prefix}{encoded}{suffix}"));
    assert_eq!(dest["password"], password);
    assert_eq!(dest["note"], "written by vault-poke");

    // No value anywhere the operator or the journal reader sees.
    let journal = out.journal_text();
    for text in [&journal, &out.stdout, &out.stderr] {
        for value in [password.as_str(), encoded.as_str(), "written by vault-poke", "w%rd"] {
            assert!(!text.contains(value), "`{value}` leaked:\n{text}");
        }
    }
    let journal = out.journal();
    let write = calls(&journal, "vault.write");
    assert_eq!(write.len(), 1);
    assert_eq!(write[0]["args"]["path"], "secret/drhost-test/compose/dest");
    assert_eq!(
        write[0]["args"]["fields"],
        json!({
            "url": "secret composed",
            "password": "secret secret/drhost-test/compose/source#password",
            "note": "text",
        })
    );
    assert_eq!(write[0]["outcome"]["ok"]["version"], 1);
    let compose = calls(&journal, "secret.compose");
    assert_eq!(
        compose[0]["args"]["parts"],
        json!(["text", "url-encoded secret/drhost-test/compose/source#password", "text"])
    );
    let read = calls(&journal, "vault.read");
    assert_eq!(read[0]["outcome"]["ok"]["fields"], json!(["password", "user"]));
}

#[test]
fn reads_and_writes_outside_the_grant_are_denied_with_the_toml_to_add() {
    let _serial = drhost_tests::lab::serial();
    let _scratch = Scratch::new(Server::Dev, &["drhost-test/outside/secret"]);
    put(Server::Dev, "drhost-test/outside/secret", &[("v", "kept")]);
    let config = config(
        Server::Dev,
        &grant(&["secret/drhost-test/inside/*"], &["read", "write"]),
    );

    // Read outside: denied with the exact TOML, and nothing read.
    let out = poke(
        &config,
        &[("op", "read"), ("path", "secret/drhost-test/outside/secret")],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    let message = out.fact("error").unwrap();
    assert!(
        message.contains(
            "[[plugins.vault-poke.vault]]\ntarget = \"main\"\npaths = [\"secret/drhost-test/outside/secret\"]\naccess = [\"read\"]"
        ),
        "{message}"
    );
    assert_eq!(out.fact("fields"), None);
    let journal = out.journal();
    let reads = calls(&journal, "vault.read");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["outcome"]["error"]["kind"], "access-denied");

    // Write outside: denied, and Vault's version is unchanged.
    let out = poke(
        &config,
        &[
            ("op", "write"),
            ("path", "secret/drhost-test/outside/secret"),
            ("fields", "v=changed"),
        ],
    );
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    assert!(out.fact("error").unwrap().contains("access = [\"write\"]"));
    assert_eq!(current_version(Server::Dev, "drhost-test/outside/secret"), 1);
    assert_eq!(get(Server::Dev, "drhost-test/outside/secret").unwrap()["v"], "kept");

    // `..` cannot climb out of a granted glob (whose `*` crosses `/`).
    let out = poke(
        &config,
        &[
            ("op", "write"),
            ("path", "secret/drhost-test/inside/../outside/secret"),
            ("fields", "v=climbed"),
        ],
    );
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("invalid-argument"),
        "{}",
        show(&out)
    );
    assert_eq!(current_version(Server::Dev, "drhost-test/outside/secret"), 1);
}

#[test]
fn reveal_needs_its_own_grant_and_is_journaled_without_the_value() {
    let _serial = drhost_tests::lab::serial();
    let _scratch = Scratch::new(Server::Dev, &["drhost-test/reveal/s"]);
    let value = unique("revealed-token");
    put(Server::Dev, "drhost-test/reveal/s", &[("token", value.as_str())]);
    let params = [
        ("op", "reveal"),
        ("path", "secret/drhost-test/reveal/s"),
        ("field", "token"),
    ];

    // `read` alone: the handle is there, its value is not.
    let read_only = config(Server::Dev, &grant(&["secret/drhost-test/reveal/*"], &["read"]));
    let out = poke(&read_only, &params);
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    let message = out.fact("error").unwrap();
    assert!(
        message.contains("paths = [\"secret/drhost-test/reveal/s\"]\naccess = [\"reveal\"]"),
        "{message}"
    );
    for text in [&out.journal_text(), &out.stdout, &out.stderr] {
        assert!(!text.contains(&value), "the value leaked:\n{text}");
    }

    // With `reveal`: the plugin gets it; the journal records that, not what.
    let revealing = config(
        Server::Dev,
        &grant(&["secret/drhost-test/reveal/*"], &["read", "reveal"]),
    );
    let out = poke(&revealing, &params);
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("value"), Some(value.clone()), "{}", show(&out));
    let journal = out.journal();
    let reveal = calls(&journal, "secret.reveal");
    assert_eq!(reveal.len(), 1);
    assert_eq!(reveal[0]["args"]["origin"], "secret/drhost-test/reveal/s#token");
    assert_eq!(reveal[0]["outcome"]["ok"]["revealed"], true);
    for call in events(&journal, "call") {
        assert!(!call.to_string().contains(&value), "a call journaled the value: {call}");
    }

    // A composed secret cannot be revealed, whatever the grants.
    let out = poke(
        &revealing,
        &[
            ("op", "reveal-composed"),
            ("path", "secret/drhost-test/reveal/s"),
            ("field", "token"),
        ],
    );
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    assert!(out.fact("error").unwrap().contains("composed"), "{}", show(&out));
    assert!(!out.stdout.contains(&value));
}

#[test]
fn patch_keeps_other_fields_and_list_and_metadata_show_real_data() {
    let _serial = drhost_tests::lab::serial();
    let _scratch = Scratch::new(Server::Dev, &["drhost-test/patch/s", "drhost-test/patch/other"]);
    put(Server::Dev, "drhost-test/patch/s", &[("a", "1"), ("b", "2")]);
    put(Server::Dev, "drhost-test/patch/other", &[("x", "y")]);
    let config = config(Server::Dev, &grant(&["secret/drhost-test/patch/*"], &["read", "write"]));

    let out = poke(
        &config,
        &[
            ("op", "patch"),
            ("path", "secret/drhost-test/patch/s"),
            ("fields", "b=20,c=3"),
        ],
    );
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("version").as_deref(), Some("2"), "{}", show(&out));
    let patched = get(Server::Dev, "drhost-test/patch/s").unwrap();
    let expected: BTreeMap<String, String> = [("a", "1"), ("b", "20"), ("c", "3")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(patched, expected);
    let journal = out.journal();
    let patch = calls(&journal, "vault.patch");
    assert_eq!(patch[0]["args"]["fields"], json!({ "b": "text", "c": "text" }));

    // list: the folder's real keys; its parent shows only the way to the grant.
    let out = poke(&config, &[("op", "list"), ("path", "secret/drhost-test/patch")]);
    assert_eq!(out.fact("keys").as_deref(), Some("other,s"), "{}", show(&out));
    put(Server::Dev, "drhost-test/patch-sibling-hidden", &[("x", "y")]);
    let _sibling = Scratch {
        server: Server::Dev,
        keys: vec!["drhost-test/patch-sibling-hidden".into()],
    };
    let out = poke(&config, &[("op", "list"), ("path", "secret/drhost-test")]);
    assert_eq!(out.fact("keys").as_deref(), Some("patch/"), "{}", show(&out));
    let out = poke(&config, &[("op", "list"), ("path", "secret/elsewhere")]);
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );

    // metadata: what Vault itself says.
    let out = poke(&config, &[("op", "metadata"), ("path", "secret/drhost-test/patch/s")]);
    assert_eq!(out.code, 0, "{}", show(&out));
    let client = Server::Dev.client(&lab());
    let real = rt()
        .block_on(vaultrs::kv2::read_metadata(&client, MOUNT, "drhost-test/patch/s"))
        .unwrap();
    assert_eq!(out.fact("current-version"), Some(real.current_version.to_string()));
    assert_eq!(real.current_version, 2);
    assert_eq!(out.fact("versions").as_deref(), Some("1,2"));
    assert_eq!(out.fact("created-time"), Some(real.created_time));
}

#[test]
fn raft_snapshot_restore_undoes_a_later_write() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _scratch = Scratch::new(Server::Raft, &["drhost-test/snapshot/k"]);
    assert_eq!(put(Server::Raft, "drhost-test/snapshot/k", &[("k", "v1")]), 1);
    let params = [
        ("op", "snapshot"),
        ("path", "secret/drhost-test/snapshot/k"),
        ("fields", "k=v2"),
    ];

    // Without `snapshot`: denied with the line to add.
    let no_snapshot = config(
        Server::Raft,
        &grant(&["secret/drhost-test/snapshot/*"], &["read", "write"]),
    );
    let out = poke(&no_snapshot, &params);
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    assert!(
        out.fact("error").unwrap().contains("access = [\"snapshot\"]"),
        "{}",
        show(&out)
    );
    assert_eq!(get(Server::Raft, "drhost-test/snapshot/k").unwrap()["k"], "v1");

    // Save, write v2, restore: v1 again.
    let grants = grant(&["secret/drhost-test/snapshot/*"], &["read", "write", "snapshot"]);
    let out = poke(&config(Server::Raft, &grants), &params);
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("written-version").as_deref(), Some("2"), "{}", show(&out));
    assert_eq!(out.fact("restored").as_deref(), Some("true"), "{}", show(&out));
    let size: u64 = out.fact("snapshot-size").unwrap().parse().unwrap();
    assert!(size > 0);

    wait_until_active(&lab, &Server::Raft.address(&lab));
    let deadline = Instant::now() + Duration::from_secs(30);
    let restored = loop {
        match get(Server::Raft, "drhost-test/snapshot/k") {
            Some(fields) => break fields,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(250)),
            None => panic!("the secret is unreadable after the restore"),
        }
    };
    assert_eq!(restored["k"], "v1");
    assert_eq!(current_version(Server::Raft, "drhost-test/snapshot/k"), 1);

    let journal = out.journal();
    let saved = calls(&journal, "vault.snapshot-save");
    assert_eq!(saved[0]["outcome"]["ok"]["size"], size);
    let sha256 = out.fact("snapshot-sha256").unwrap();
    assert_eq!(saved[0]["outcome"]["ok"]["sha256"], sha256);
    let restore = calls(&journal, "vault.snapshot-restore");
    assert_eq!(restore[0]["args"]["sha256"], sha256);
    assert_eq!(
        restore[0]["args"]["origin"],
        json!({ "from": "vault.snapshot-save", "target": "main" })
    );
    assert_eq!(restore[0]["args"]["force"], false);
    assert_eq!(restore[0]["outcome"]["ok"]["restored"], true);
}

/// Blob provenance (issue 11): snapshot-restore refuses a snapshot the
/// plugin made (`blob.from-bytes`, here a copy of the one it just saved)
/// with the line that opts in, leaving Vault as it was; with
/// `restore_from_plugin_blobs = true` the copy is restored. The journal
/// names each restored blob's origin.
#[test]
fn raft_snapshot_restore_refuses_a_snapshot_the_plugin_made_unless_the_grant_opts_in() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _scratch = Scratch::new(Server::Raft, &["drhost-test/snapshot/made"]);
    assert_eq!(put(Server::Raft, "drhost-test/snapshot/made", &[("k", "v1")]), 1);
    let params = [
        ("op", "snapshot"),
        ("path", "secret/drhost-test/snapshot/made"),
        ("fields", "k=v2"),
        ("remake", "true"),
    ];
    let grants = grant(&["secret/drhost-test/snapshot/*"], &["read", "write", "snapshot"]);

    // No opt-in: refused, the later write stays.
    let out = poke(&config(Server::Raft, &grants), &params);
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        show(&out)
    );
    let message = out.fact("error").unwrap();
    assert!(
        message.starts_with(
            "vault snapshot-restore on target `main` refused: the blob was made by the plugin (blob.from-bytes)"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            "[[plugins.vault-poke.vault]]\ntarget = \"main\"\naccess = [\"snapshot\"]\nrestore_from_plugin_blobs = true"
        ),
        "{message}"
    );
    let journal = out.journal();
    let restore = calls(&journal, "vault.snapshot-restore");
    assert_eq!(
        restore[0]["args"]["origin"],
        json!({ "from": "plugin", "call": "blob.from-bytes" })
    );
    assert_eq!(restore[0]["outcome"]["error"]["kind"], "access-denied");
    assert_eq!(get(Server::Raft, "drhost-test/snapshot/made").unwrap()["k"], "v2");

    // Opted in: the plugin's copy is restored, undoing the write it made
    // after saving (version 3; the snapshot holds version 2).
    let opted_in = format!("{grants}restore_from_plugin_blobs = true\n");
    let out = poke(&config(Server::Raft, &opted_in), &params);
    assert_eq!(out.fact("restored").as_deref(), Some("true"), "{}", show(&out));
    assert_eq!(out.fact("written-version").as_deref(), Some("3"), "{}", show(&out));
    wait_until_active(&lab, &Server::Raft.address(&lab));
    let deadline = Instant::now() + Duration::from_secs(30);
    let restored = loop {
        match get(Server::Raft, "drhost-test/snapshot/made") {
            Some(fields) => break fields,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(250)),
            None => panic!("the secret is unreadable after the restore"),
        }
    };
    assert_eq!(restored["k"], "v2");
    assert_eq!(current_version(Server::Raft, "drhost-test/snapshot/made"), 2);
    let journal = out.journal();
    let restore = calls(&journal, "vault.snapshot-restore");
    assert_eq!(restore[0]["args"]["origin"]["from"], "plugin");
    assert_eq!(restore[0]["outcome"]["ok"]["restored"], true);
}

/// Polls `sys/health` until the server is initialized, unsealed and active.
fn wait_until_active(lab: &Lab, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = rt().block_on(lab.vault_health(address));
        if let Ok(h) = &health {
            if h["initialized"] == true && h["sealed"] == false && h["standby"] == false {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{address} is not active again: {health:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn vault_down_is_unavailable_naming_the_target() {
    let _serial = drhost_tests::lab::serial();
    let config = config_at(
        "http://127.0.0.1:1",
        "not-a-real-token",
        &grant(&["secret/drhost-test/*"], &["read"]),
    );
    let params = [("op", "read"), ("path", "secret/drhost-test/down")];

    let out = poke(&config, &params);
    assert_eq!(out.code, 0, "{}", show(&out));
    assert_eq!(out.fact("error-kind").as_deref(), Some("unavailable"), "{}", show(&out));

    // The plugin fails on it: exit 1, the summary is the typed error.
    let fail = [params[0], params[1], ("on-error", "fail")];
    let out = poke(&config, &fail);
    assert_eq!(out.code, 1, "{}", show(&out));
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    let unreachable = "Vault target `main` at http://127.0.0.1:1 is unreachable";
    assert!(
        summary.starts_with("unavailable: ") && summary.contains(unreachable),
        "{summary}"
    );
    let journal = out.journal();
    let read = calls(&journal, "vault.read");
    assert_eq!(read[0]["outcome"]["error"]["kind"], "unavailable");

    // The operator sees one line for the call, naming the target.
    let out = vault_poke(&config, &fail).exec();
    assert_eq!(out.code, 1, "{}", show(&out));
    let call_lines: Vec<&str> = out.stderr.lines().filter(|l| l.contains("! vault.read:")).collect();
    assert_eq!(call_lines.len(), 1, "{}", show(&out));
    assert!(
        call_lines[0].contains("unavailable: ") && call_lines[0].contains(unreachable),
        "{}",
        show(&out)
    );
}

#[test]
fn a_token_policy_refusal_is_failed_not_access_denied() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _scratch = Scratch::new(Server::Dev, &["drhost-test/policy/s"]);
    let root = Server::Dev.client(&lab);
    let policy = "drhost-test-read-only";
    let token = rt().block_on(async {
        vaultrs::sys::policy::set(
            &root,
            policy,
            r#"path "secret/data/drhost-test/policy/*" { capabilities = ["read"] }"#,
        )
        .await
        .unwrap();
        let mut request = vaultrs::api::token::requests::CreateTokenRequest::builder();
        request.policies(vec![policy.to_string()]).ttl("10m");
        vaultrs::token::new(&root, Some(&mut request))
            .await
            .unwrap()
            .client_token
    });

    let grants = grant(&["secret/drhost-test/policy/*"], &["read", "write"]);
    let config = config_at(&Server::Dev.address(&lab), &token, &grants);
    let out = poke(
        &config,
        &[
            ("op", "write"),
            ("path", "secret/drhost-test/policy/s"),
            ("fields", "a=1"),
        ],
    );

    rt().block_on(async {
        let _ = vaultrs::token::revoke(&root, &token).await;
        let _ = vaultrs::sys::policy::delete(&root, policy).await;
    });
    assert_eq!(out.fact("error-kind").as_deref(), Some("failed"), "{}", show(&out));
    let message = out.fact("error").unwrap();
    assert!(
        message.contains("Vault refused the token (permission denied)"),
        "{message}"
    );
    assert!(!message.contains(&token) && !out.journal_text().contains(&token));
    assert_eq!(get(Server::Dev, "drhost-test/policy/s"), None);
}

#[test]
fn a_vault_token_cannot_itself_come_from_vault() {
    let lab = lab();
    let token = token_file(&Server::Dev.token(&lab));
    let config = cli::config(&format!(
        "[targets.vault.main]\naddress = \"{}\"\ntoken = \"file:{}\"\n\n\
         [targets.vault.second]\naddress = \"{}\"\ntoken = \"vault:main:secret/drhost-test/token#value\"\n\n{}",
        Server::Dev.address(&lab),
        token.display(),
        Server::Dev.address(&lab),
        grant(&["secret/drhost-test/*"], &["read"])
    ));
    let out = poke(&config, &[("op", "read")]);
    assert_eq!(out.code, 2, "{}", show(&out));
    let summary = out.json()["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("cannot itself be read from Vault"), "{summary}");
    assert!(summary.contains("(key `targets.vault.second.token`)"), "{summary}");
    assert!(
        out.json()["plugin"]["id"].is_null(),
        "the plugin was never started: {}",
        show(&out)
    );
}

#[test]
fn vault_secret_references_resolve_to_one_field() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let _scratch = Scratch::new(Server::Dev, &["drhost-test/ref/db"]);
    let password = unique("ref-password");
    put(
        Server::Dev,
        "drhost-test/ref/db",
        &[("password", password.as_str()), ("user", "app")],
    );
    let token = token_file(&Server::Dev.token(&lab));
    let text = format!(
        "[targets.vault.main]\naddress = \"{}\"\ntoken = \"file:{}\"\n",
        Server::Dev.address(&lab),
        token.display()
    );
    let vaults = drhost::config::Config::parse(Path::new("drhost.toml"), &text)
        .unwrap()
        .targets
        .vault;
    let resolve = |reference: &str| {
        let secret = drhost::secret::SecretRef::try_from(reference.to_string()).unwrap();
        rt().block_on(secret.resolve(&vaults))
    };

    assert_eq!(
        resolve("vault:main:secret/drhost-test/ref/db#password"),
        Ok(password.clone())
    );
    let missing = resolve("vault:main:secret/drhost-test/ref/db#nope").unwrap_err();
    assert!(
        missing.contains("has no field `nope`") && missing.contains("password, user"),
        "{missing}"
    );
    assert!(!missing.contains(&password));
    let absent = resolve("vault:main:secret/drhost-test/ref/absent#password").unwrap_err();
    assert!(
        absent.contains("vault:main:secret/drhost-test/ref/absent#password"),
        "{absent}"
    );
    let unknown = resolve("vault:other:secret/drhost-test/ref/db#password").unwrap_err();
    assert!(unknown.contains("[targets.vault.other]"), "{unknown}");
}
