//! Laundering a secret through Vault (issue 11, item 8): a plugin that may
//! only *read* a secret (as a handle) must not be able to see its value by
//! copying it to a path it may write and reveal, then revealing the copy.

use std::collections::BTreeMap;

use drhost_tests::cli::{self, Run};
use drhost_tests::lab::runtime as rt;
use drhost_tests::lab::Lab;

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
    let reveals = cli::calls(&journal, "vault.secret.reveal");
    assert_eq!(reveals.len(), 1);
    assert_eq!(reveals[0]["outcome"]["error"]["kind"], "access-denied");
}
