//! Signed plugins, trust, the lock, and OCI distribution: the real `drhost`
//! binary, real keys made with `drhost keygen`, the lab's real registry.
//!
//! Every test makes its own keys, trust file and lock in a temp directory and
//! signs its own copy of `plugins/hello.wasm` (which `make build` already
//! signed with the lab's development key `lab-dev`, unknown to these trust
//! files unless a test says otherwise).

use drhost_tests::cli::HELLO_GRANTS;
use std::path::{Path, PathBuf};

use drhost_tests::cli::{events, plugin, Outcome, Run};
use drhost_tests::lab::Lab;
use drhost_tests::tmp::TmpDir;
use drhost_tests::util::{unique, without_custom_sections};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A test's own directory with keys, trust file, lock, config and plugins.
struct Bench {
    dir: TmpDir,
}

impl Bench {
    fn new() -> Bench {
        let bench = Bench {
            dir: TmpDir::new("drhost-signing-"),
        };
        std::fs::write(bench.config(), HELLO_GRANTS).unwrap();
        bench
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("drhost.toml")
    }

    fn trust(&self) -> PathBuf {
        self.path("trust.toml")
    }

    fn lock(&self) -> PathBuf {
        self.path("drhost.lock")
    }

    /// `drhost keygen`; returns the `[[key]]` entry it printed.
    fn keygen(&self, id: &str) -> String {
        let out = Run::cli(["keygen", "--out", s(&self.path("keys")), "--id", id]).exec();
        assert_eq!(out.code, 0, "{}", out.stderr);
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(self.key(id)).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "the secret key is private");
        assert!(out.stdout.contains(&format!("id = \"{id}\"")), "{}", out.stdout);
        out.stdout
    }

    fn key(&self, id: &str) -> PathBuf {
        self.path(&format!("keys/{id}.key"))
    }

    fn write_trust(&self, text: &str) {
        std::fs::write(self.trust(), text).unwrap();
    }

    /// A copy of plugins/hello.wasm (already signed by `lab-dev`).
    fn hello(&self, name: &str) -> PathBuf {
        let copy = self.path(name);
        std::fs::copy(plugin("hello"), &copy).unwrap();
        copy
    }

    /// A copy of hello with its signature section removed.
    fn unsigned_hello(&self, name: &str) -> PathBuf {
        let copy = self.hello(name);
        std::fs::write(&copy, strip_signatures(&std::fs::read(&copy).unwrap())).unwrap();
        copy
    }

    fn sign(&self, plugin: &Path, key_id: &str) -> Outcome {
        let out = Run::cli(["sign", s(plugin), "--key", s(&self.key(key_id))]).exec();
        assert_eq!(out.code, 0, "{}", out.stderr);
        out
    }

    /// `drhost run PLUGIN --json` with this bench's config, trust file and lock.
    fn run(&self, plugin: &Path, extra: &[&str]) -> Outcome {
        Run::wasm(plugin)
            .config(self.config())
            .trust(self.trust())
            .lock(self.lock())
            .json()
            .args(extra)
            .exec()
    }
}

/// The plugin without its `signature` sections (its identity is kept).
fn strip_signatures(bytes: &[u8]) -> Vec<u8> {
    without_custom_sections(bytes, &["signature"])
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Asserts a refusal of a `--json` run: exit 3, a one-line summary
/// containing `expect`, nothing ran, and the journal ends `refused` with it.
fn assert_refused(out: &Outcome, expect: &str) -> String {
    assert_eq!(out.code, 3, "stdout: {}\nstderr: {}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "refused");
    let line = report["summary"].as_str().unwrap().to_string();
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(line.contains(expect), "expected `{expect}` in: {line}");
    let journal = out.journal();
    assert!(events(&journal, "call").is_empty(), "nothing ran");
    assert_eq!(journal.last().unwrap()["status"], "refused");
    assert_eq!(journal.last().unwrap()["summary"], line.as_str());
    line
}

fn trusts(entry: &str, extra: &str) -> String {
    format!("{entry}{extra}\n")
}

#[test]
fn unsigned_plugin_is_refused() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let unsigned = b.unsigned_hello("hello.wasm");
    let line = assert_refused(&b.run(&unsigned, &[]), "is not signed");
    assert!(
        line.contains("--allow-unsigned") && line.contains("drhost sign"),
        "{line}"
    );
}

#[test]
fn one_changed_byte_is_refused_as_tampered() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    assert_eq!(b.run(&hello, &[]).code, 0, "the signed plugin runs");
    let mut bytes = std::fs::read(&hello).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&hello, &bytes).unwrap();
    assert_refused(
        &b.run(&hello, &[]),
        "was tampered with: its content changed after `k1` signed it",
    );
}

#[test]
fn a_key_the_trust_file_does_not_know_is_refused() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let hello = b.hello("hello.wasm"); // signed by lab-dev only
    let line = assert_refused(
        &b.run(&hello, &[]),
        "has no trusted signature: key `lab-dev` is unknown",
    );
    assert!(line.contains(s(&b.trust())), "names the trust file: {line}");
}

#[test]
fn an_out_of_scope_key_is_refused() {
    let b = Bench::new();
    let entry = b
        .keygen("k1")
        .replace("scope = [\"*\"]", "scope = [\"db-*\", \"redis-*\"]");
    b.write_trust(&entry);
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    assert_refused(
        &b.run(&hello, &[]),
        "key `k1` is out of scope for plugin `hello` (scope: db-*, redis-*)",
    );
}

#[test]
fn an_expired_key_is_refused() {
    let b = Bench::new();
    b.write_trust(&trusts(
        &b.keygen("k1"),
        "not_before = 2019-01-01T00:00:00Z\nnot_after = \"2020-01-01\"",
    ));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    assert_refused(&b.run(&hello, &[]), "key `k1` expired at 2020-01-01T00:00:00Z");
}

#[test]
fn a_revoked_key_is_refused() {
    let b = Bench::new();
    b.write_trust(&trusts(&b.keygen("k1"), "\n[revoked]\nkeys = [\"k1\"]"));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    assert_refused(&b.run(&hello, &[]), "key `k1` is revoked");
    // --allow-unsigned does not bring a revoked digest back, but does cover a revoked key.
    assert_eq!(b.run(&hello, &["--allow-unsigned"]).code, 0);
}

#[test]
fn a_revoked_digest_is_refused_even_with_the_override() {
    let b = Bench::new();
    let entry = b.keygen("k1");
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    let digest = digest_of(&std::fs::read(&hello).unwrap());
    b.write_trust(&trusts(&entry, &format!("\n[revoked]\ndigests = [\"{digest}\"]")));
    let line = assert_refused(&b.run(&hello, &[]), "is revoked: its digest");
    assert!(line.contains(&digest), "{line}");
    assert_refused(&b.run(&hello, &["--allow-unsigned"]), "is revoked");
}

#[test]
fn a_digest_other_than_the_lock_pins_is_refused() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    let other = format!("sha256:{}", "0".repeat(64));
    let lock = format!(
        "[plugins.hello]\nversion = \"0.1.0\"\ndigest = \"{other}\"\nsource = \"elsewhere\"\nsigners = [\"k1\"]\n"
    );
    std::fs::write(b.lock(), lock).unwrap();
    let line = assert_refused(
        &b.run(&hello, &[]),
        &format!(
            "is not the file {} pins for plugin `hello` 0.1.0 ({other})",
            b.lock().display()
        ),
    );
    assert!(line.contains(&digest_of(&std::fs::read(&hello).unwrap())), "{line}");

    // `drhost lock` re-pins it, and then it runs.
    let out = Run::cli(["lock", s(&hello)]).trust(b.trust()).lock(b.lock()).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = b.run(&hello, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.journal()[0]["trust"]["lock"], "matches");
}

#[test]
fn an_older_version_than_the_lock_needs_allow_downgrade() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    let lock = format!(
        "[plugins.hello]\nversion = \"0.2.0\"\ndigest = \"sha256:{}\"\nsource = \"x\"\nsigners = [\"k1\"]\n",
        "1".repeat(64)
    );
    std::fs::write(b.lock(), lock).unwrap();
    assert_refused(
        &b.run(&hello, &[]),
        "is plugin `hello` 0.1.0, older than 0.2.0 pinned in",
    );
    let out = b.run(&hello, &["--allow-downgrade"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.journal()[0]["trust"]["lock"], "downgrade-allowed");
}

#[test]
fn describe_must_agree_with_the_signed_identity() {
    let b = Bench::new();
    let trust = b.keygen("k2");
    b.write_trust(&trust);
    // An identity claiming another version, signed (drhost sign would refuse
    // to sign it, so this uses the library directly).
    let hello = b.unsigned_hello("hello.wasm");
    let bytes = std::fs::read(&hello).unwrap();
    let stripped = drhost::trust::signature::read(&hello, &bytes).unwrap();
    let mut forged = stripped.identity.clone().unwrap();
    forged.version = "9.9.9".into();
    let without_identity = without_custom_sections(&bytes, &[drhost::trust::signature::IDENTITY_SECTION]);
    let mut with_forged = without_identity;
    let payload = serde_json::to_vec(&forged).unwrap();
    append_custom_section(&mut with_forged, drhost::trust::signature::IDENTITY_SECTION, &payload);
    std::fs::write(&hello, &with_forged).unwrap();
    let key = drhost::trust::signature::SigningKey::load(&b.key("k2"), None).unwrap();
    drhost::trust::signature::sign(&hello, &key, None, false).unwrap();
    assert_refused(
        &b.run(&hello, &[]),
        "does not match its signed identity: describe says `hello` 0.1.0 but the signed identity says `hello` 9.9.9",
    );
}

fn append_custom_section(bytes: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = put_leb(name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    bytes.push(0);
    bytes.extend(put_leb(body.len()));
    bytes.extend(body);
}

fn put_leb(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn allow_unsigned_runs_loudly_and_is_journaled() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let unsigned = b.unsigned_hello("hello.wasm");
    let out = b.run(&unsigned, &["--allow-unsigned"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.message_lines().is_empty(),
        "the warning is not an error line: {}",
        out.stderr
    );
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with("WARNING"))
        .unwrap_or_else(|| panic!("no warning: {}", out.stderr));
    assert!(
        warning.contains("--allow-unsigned") && warning.contains("is not signed"),
        "{warning}"
    );
    let start = &out.journal()[0];
    assert_eq!(start["event"], "run-start");
    assert_eq!(start["trust"]["verdict"], "override-unsigned");
    assert!(start["trust"]["overridden"].as_str().unwrap().contains("is not signed"));
    assert_eq!(start["plugin"]["signers"], json!([]));
}

#[test]
fn two_signers_one_revoked_still_runs_via_the_other() {
    let b = Bench::new();
    let (k1, k2) = (b.keygen("k1"), b.keygen("k2"));
    b.write_trust(&format!("{k1}\n{k2}\n[revoked]\nkeys = [\"k1\"]\n"));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    let second = b.sign(&hello, "k2");
    assert!(
        second.stdout.contains("lab-dev, k1, k2"),
        "signing keeps earlier signatures: {}",
        second.stdout
    );

    let verify = Run::cli(["verify", s(&hello)]).trust(b.trust()).json().exec();
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let v = verify.json();
    assert_eq!(v["signers"], json!(["k2"]));
    let standings: Vec<(&str, &str)> = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["key_id"].as_str().unwrap(), s["standing"].as_str().unwrap()))
        .collect();
    assert_eq!(
        standings,
        vec![("lab-dev", "unknown"), ("k1", "revoked"), ("k2", "trusted")]
    );

    let out = b.run(&hello, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let start = &out.journal()[0];
    assert_eq!(start["plugin"]["signers"], json!(["k2"]));
    assert_eq!(
        start["plugin"]["digest"].as_str().unwrap(),
        digest_of(&std::fs::read(&hello).unwrap()),
        "the journal writes digests as `sha256:<hex>`, as the trust verdict does"
    );
    assert_eq!(start["trust"]["verdict"], "trusted");

    // With k2 revoked too, nothing vouches for it: verify says so with exit 3.
    b.write_trust(&format!("{k1}\n{k2}\n[revoked]\nkeys = [\"k1\", \"k2\"]\n"));
    let verify = Run::cli(["verify", s(&hello)]).trust(b.trust()).exec();
    assert_eq!(verify.code, 3);
    assert!(
        verify.message_lines()[0].contains("key `k1` is revoked; key `k2` is revoked"),
        "{}",
        verify.stderr
    );
}

#[test]
fn a_detached_signature_works_beside_the_plugin() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let unsigned = b.unsigned_hello("hello.wasm");
    let out = Run::cli(["sign", s(&unsigned), "--key", s(&b.key("k1")), "--detached"]).exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(b.path("hello.wasm.sig").exists());
    let out = b.run(&unsigned, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.journal()[0]["trust"]["detached"], true);
    std::fs::remove_file(b.path("hello.wasm.sig")).unwrap();
    assert_refused(&b.run(&unsigned, &[]), "is not signed");
}

fn registry() -> String {
    Lab::load()
        .expect("the lab is up")
        .get("REGISTRY")
        .expect("REGISTRY in .lab/env")
        .to_string()
}

#[test]
fn sign_push_pull_run_keeps_the_digest_and_pins_it() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    let signed_digest = digest_of(&std::fs::read(&hello).unwrap());
    let reference = format!("oci://{}/drhost-test/{}:0.1.0", registry(), unique("hello"));

    let push = Run::cli(["push", s(&hello), &reference]).json().exec();
    assert_eq!(push.code, 0, "{}", push.stderr);
    let pushed = push.json();
    assert_eq!(pushed["digest"], signed_digest.as_str());

    let out_dir = b.path("pulled");
    let pull = Run::cli(["pull", &reference, "-o", s(&out_dir)])
        .trust(b.trust())
        .lock(b.lock())
        .json()
        .exec();
    assert_eq!(pull.code, 0, "{}", pull.stderr);
    let pulled = out_dir.join("hello.wasm");
    assert_eq!(
        digest_of(&std::fs::read(&pulled).unwrap()),
        signed_digest,
        "the pulled file is the signed file"
    );
    assert_eq!(pull.json()["verdict"]["signers"], json!(["k1"]));

    let lock = drhost::trust::lock::Lock::load(&b.lock()).unwrap();
    let pin = &lock.plugins["hello"];
    assert_eq!(pin.digest, signed_digest);
    assert_eq!(pin.version, "0.1.0");
    assert_eq!(pin.signers, vec!["k1".to_string()]);
    assert_eq!(
        Some(pin.source.as_str()),
        pushed["pinned"].as_str(),
        "the source is pinned by manifest digest"
    );

    // Pull by digest works too, and gives the same file.
    let by_digest = Run::cli(["pull", pushed["pinned"].as_str().unwrap(), "-o", s(&b.path("again"))])
        .trust(b.trust())
        .lock(b.lock())
        .exec();
    assert_eq!(by_digest.code, 0, "{}", by_digest.stderr);
    assert_eq!(
        std::fs::read(b.path("again/hello.wasm")).unwrap(),
        std::fs::read(&pulled).unwrap()
    );

    let out = b.run(&pulled, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let start = &out.journal()[0];
    assert_eq!(start["plugin"]["digest"], signed_digest.as_str());
    assert_eq!(start["plugin"]["signers"], json!(["k1"]));
    assert_eq!(start["trust"]["lock"], "matches");

    // The copy that was not pulled differs from the pin only if it changed: sign it again with another key.
    let k2 = b.keygen("k2");
    b.sign(&hello, "k2");
    std::fs::write(
        b.trust(),
        format!("{}\n{k2}", std::fs::read_to_string(b.trust()).unwrap()),
    )
    .unwrap();
    assert_refused(&b.run(&hello, &[]), "is not the file");
}

#[test]
fn a_tampered_artifact_in_the_registry_is_refused_on_pull() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let hello = b.hello("hello.wasm");
    b.sign(&hello, "k1");
    let repo = format!("drhost-test/{}", unique("tampered"));
    let registry = registry();
    let reference = format!("oci://{registry}/{repo}:0.1.0");
    assert_eq!(Run::cli(["push", s(&hello), &reference]).exec().code, 0);

    // Replace the tag with a well-formed artifact whose layer has one byte changed.
    let mut bytes = std::fs::read(&hello).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(replace_layer(&registry, &repo, "0.1.0", bytes))
        .unwrap();

    let out_dir = b.path("pulled");
    let out = Run::cli(["pull", &reference, "-o", s(&out_dir)])
        .trust(b.trust())
        .lock(b.lock())
        .exec();
    assert_eq!(out.code, 3, "{}", out.stderr);
    let lines = out.message_lines();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("was tampered with: its content changed after `k1` signed it"),
        "{}",
        lines[0]
    );
    assert!(!out_dir.join("hello.wasm").exists(), "nothing was written");
    assert!(!b.lock().exists(), "the lock was not touched");
}

/// Pushes `layer` as a new blob and points `tag` at a manifest using it,
/// straight through the registry API (as an attacker with push rights would).
async fn replace_layer(registry: &str, repo: &str, tag: &str, layer: Vec<u8>) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let base = format!("http://{registry}/v2/{repo}");
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let mut manifest: Value = client
        .get(format!("{base}/manifests/{tag}"))
        .header("accept", accept)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let digest = digest_of(&layer);
    let size = layer.len();
    let started = client
        .post(format!("{base}/blobs/uploads/"))
        .send()
        .await?
        .error_for_status()?;
    let location = started.headers()["location"].to_str()?.to_string();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("http://{registry}{location}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    client
        .put(format!("{url}{sep}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .body(layer)
        .send()
        .await?
        .error_for_status()?;
    manifest["layers"][0]["digest"] = json!(digest);
    manifest["layers"][0]["size"] = json!(size);
    let body = serde_json::to_vec(&manifest)?;
    client
        .put(format!("{base}/manifests/{tag}"))
        .header("content-type", accept)
        .body(body)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[test]
fn keygen_never_overwrites_and_a_bad_trust_file_names_file_and_key() {
    let b = Bench::new();
    b.keygen("k1");
    let again = Run::cli(["keygen", "--out", s(&b.path("keys")), "--id", "k1"]).exec();
    assert_eq!(again.code, 2);
    assert!(again.message_lines()[0].contains("already exists"), "{}", again.stderr);

    b.write_trust("[[key]]\nid = \"k1\"\npublik_key = \"x\"\n");
    let out = b.run(&b.hello("hello.wasm"), &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let line = out.json()["summary"].as_str().unwrap().to_string();
    assert!(
        line.contains(&format!("{}:3:", b.trust().display())) && line.contains("publik_key"),
        "{line}"
    );
}

#[test]
fn the_trust_table_in_drhost_toml_is_used() {
    let b = Bench::new();
    b.write_trust(&b.keygen("k1"));
    let hello = b.unsigned_hello("hello.wasm");
    b.sign(&hello, "k1");
    std::fs::write(b.config(), format!("{HELLO_GRANTS}\n[trust]\nfile = \"trust.toml\"\n")).unwrap();
    // DRHOST_TRUST (the lab's file, which does not know k1) loses to [trust] file.
    let out = Run::wasm(&hello).config(b.config()).json().exec();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.journal()[0]["trust"]["trust_file"], s(&b.trust()));
}
