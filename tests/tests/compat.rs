//! Plugins built for contract `drhost:runbook@0.1.2` keep running unchanged
//! on today's host (0.2.0, with 0.1 through `host/src/bindings/v0_1.rs`).
//!
//! The old plugins are not rebuilt from today's sources: `make compat`
//! (`tests/compat/build-0.1.sh`) builds `hello`, `status`, `service-recover`
//! and `db-restore` from the commit it pins — the last with the 0.1.2 SDK,
//! WIT and plugins — into `tests/plugins/compat-0.1/`, and `make sign` signs
//! them. Each test runs one through the real binary against the real lab
//! and compares it with what today's plugin does in the existing tests
//! (`docker.rs`, `database.rs`, `foundation.rs`). Tests that fault the lab
//! hold [`serial`] and put back what they broke.

use drhost_tests::cli::HELLO_GRANTS;
use std::time::{Duration, Instant};

use drhost_tests::cli::{calls, compat_plugin, config, events, fixture, plugin, Outcome, Run};
use drhost_tests::docker::health;
use drhost_tests::lab::{runtime as rt, serial, up as lab, Lab};
use drhost_tests::util::percent_encoded;

/// Of the plugins `make compat` builds from the 0.1.2 commit (hello, status,
/// service-recover, db-restore), those whose manifest today's build still
/// has unchanged: what an old build declares can be compared with today's.
/// `status` has since gained the database row (param `database`, need
/// postgres `primary`) and `db-restore` the runbook's diagnosis (params
/// `status-page`, `backends`, `log-lines`; needs http and docker read), so
/// their old manifests are checked against what 0.1.2's build declared.
const UNCHANGED: [&str; 2] = ["hello", "service-recover"];

/// The params today's db-restore has and its 0.1.2 build does not.
const DIAGNOSIS_PARAMS: [&str; 3] = ["status-page", "backends", "log-lines"];

const BACKEND2: &str = "toolboxai-backend2";

/// The lab's `drhost.toml` without the table `header` (up to the next
/// blank line), in a file of its own.
fn lab_config_without(lab: &Lab, header: &str) -> drhost_tests::tmp::TmpFile {
    let text = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    let (before, rest) = text
        .split_once(header)
        .unwrap_or_else(|| panic!("no {header} in the lab's drhost.toml"));
    let after = rest.split_once("\n\n").map_or("", |(_, after)| after);
    config(&format!("{before}{after}"))
}

/// `run` with `--config .lab/drhost.toml --json --quiet --yes` against the
/// lab's engine (`DOCKER_HOST`).
fn on_lab(lab: &Lab, run: Run) -> Run {
    run.config(lab.path(".lab/drhost.toml"))
        .json()
        .quiet()
        .yes()
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap())
}

fn fact(out: &Outcome, name: &str) -> String {
    out.fact(name)
        .unwrap_or_else(|| panic!("no fact `{name}` in {}\nstderr:\n{}", out.stdout, out.stderr))
}

/// The report's facts as (name, value) pairs, in order.
fn facts(out: &Outcome) -> Vec<(String, String)> {
    out.json()["facts"]
        .as_array()
        .unwrap_or_else(|| panic!("no facts in {}", out.stdout))
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or_default().to_string(),
                f["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The names of the capability calls a run journaled, in order.
fn call_names(out: &Outcome) -> Vec<String> {
    events(&out.journal(), "call")
        .iter()
        .map(|c| c["call"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The contract the journal's `run-start` names for the plugin.
fn journaled_contract(out: &Outcome) -> String {
    let journal = out.journal();
    let start = events(&journal, "run-start");
    assert_eq!(start.len(), 1, "{journal:?}");
    start[0]["plugin"]["contract"].as_str().unwrap_or_default().to_string()
}

#[test]
fn an_old_hello_runs_and_its_journal_names_contract_0_1_2() {
    let _serial = serial();
    let lab = lab();
    let url = format!("{}/health", lab.get("BACKEND1_URL").unwrap());
    let out = Run::wasm(compat_plugin("hello"))
        .config_toml(HELLO_GRANTS)
        .param("greeting", "hi from 0.1")
        .param("url", &url)
        .json()
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "recovered");
    assert_eq!(report["summary"], "said hello");
    assert_eq!(report["plugin"]["contract"], "0.1.2");
    assert_eq!(fact(&out, "echo"), "hi from 0.1");
    assert_eq!(fact(&out, "http-status"), "200");

    let journal = out.journal();
    assert_eq!(journal.first().unwrap()["event"], "run-start");
    assert_eq!(journaled_contract(&out), "0.1.2");
    assert_eq!(journal[0]["plugin"]["id"], "hello");
    assert_eq!(journal[0]["plugin"]["version"], "0.1.0");
    let shell = calls(&journal, "shell.run");
    assert_eq!(shell.len(), 1, "{journal:?}");
    assert_eq!(shell[0]["args"]["program"], "echo");
    assert_eq!(shell[0]["args"]["args"][0], "hi from 0.1");
    assert_eq!(shell[0]["outcome"]["ok"]["exit_code"], 0);
    let gets = calls(&journal, "http.get");
    assert_eq!(gets.len(), 1, "{journal:?}");
    assert_eq!(gets[0]["outcome"]["ok"]["status"], 200, "{}", gets[0]);
    // Its log line and steps reach the journal as today's do.
    assert!(events(&journal, "log")
        .iter()
        .any(|l| l["message"].as_str().unwrap_or_default().contains("answered 200")));
    let ends = events(&journal, "step-end");
    assert_eq!(ends.len(), 2, "{journal:?}");
    assert!(ends.iter().all(|e| e["ok"] == true), "{ends:?}");
    assert_eq!(journal.last().unwrap()["event"], "run-end");
    assert_eq!(journal.last().unwrap()["exit_code"], 0);

    // Today's hello, run the same way, is the 0.2.0 contract with the same result.
    let today = Run::plugin("hello")
        .config_toml(HELLO_GRANTS)
        .param("greeting", "hi from 0.1")
        .param("url", &url)
        .json()
        .exec();
    assert_eq!(today.code, 0, "{}", today.stderr);
    assert_eq!(journaled_contract(&today), "0.2.0");
    assert_eq!(facts(&today), facts(&out));
}

#[test]
fn an_old_status_reports_what_todays_status_reports() {
    let _serial = serial();
    let lab = lab();
    let today = on_lab(&lab, Run::plugin("status")).exec();
    let old = on_lab(&lab, Run::wasm(compat_plugin("status"))).exec();
    assert_eq!(old.code, 0, "{}\n{}", old.stdout, old.stderr);
    assert_eq!(old.code, today.code);
    assert_eq!(journaled_contract(&old), "0.1.2");
    // Today's status (0.3, one table) words its report differently by
    // design; the verdict is the same.
    assert_eq!(fact(&old, "unhealthy"), fact(&today, "unhealthy"));
    assert_eq!(fact(&old, "unhealthy"), "0");
    assert_eq!(fact(&old, "containers"), "4");
    assert!(fact(&old, BACKEND2).contains("/health 200"), "{}", fact(&old, BACKEND2));
    let master = format!("127.0.0.1:{}", lab.get("REDIS_MASTER_PORT").unwrap());
    assert!(fact(&old, "table").contains(&format!("redis master {master}")));
    // Only reads: nothing in the lab was changed.
    let names = call_names(&old);
    for write in [
        "docker.restart-container",
        "docker.start-container",
        "docker.stop-container",
        "docker.recreate-with-image",
        "redis.sentinel.failover",
        "redis.command",
    ] {
        assert!(!names.iter().any(|n| n == write), "status called {write}: {names:?}");
    }
}

/// Puts `toolboxai-backend2` back whatever the test did: started and
/// healthy, else the lab's own container script rebuilds the stack.
struct Backend2Back(Lab);

impl Drop for Backend2Back {
    fn drop(&mut self) {
        let lab = &self.0;
        let url = lab.get("BACKEND2_URL").unwrap().to_string();
        let healthy = rt().block_on(async {
            if health(lab, &url).await == 200 {
                return true;
            }
            let docker = lab.docker().await.expect("docker");
            let _ = docker
                .start_container(BACKEND2, None::<bollard::query_parameters::StartContainerOptions>)
                .await;
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if health(lab, &url).await == 200 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            false
        });
        if !healthy {
            eprintln!("restore: {BACKEND2} is not healthy; running lab/stack/containers.sh");
            let status = lab.bash().arg("lab/stack/containers.sh").status();
            assert!(
                status.map(|s| s.success()).unwrap_or(false),
                "lab/stack/containers.sh failed: run `make lab`"
            );
        }
    }
}

/// As `docker.rs`'s `killed_backend_is_restarted_and_healthy`, with the
/// 0.1.2 build of service-recover.
#[test]
fn an_old_service_recover_restarts_a_killed_backend_like_todays() {
    use bollard::query_parameters as q;
    let _serial = serial();
    let lab = lab();
    let _back = Backend2Back(lab.clone());
    let url = lab.get("BACKEND2_URL").unwrap().to_string();
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        docker
            .kill_container(BACKEND2, None::<q::KillContainerOptions>)
            .await
            .expect("kill backend2");
        let c = docker
            .inspect_container(BACKEND2, None::<q::InspectContainerOptions>)
            .await
            .unwrap();
        assert_eq!(c.state.unwrap().running, Some(false));
        assert_ne!(health(&lab, &url).await, 200);
    });

    let out = on_lab(&lab, Run::wasm(compat_plugin("service-recover"))).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(journaled_contract(&out), "0.1.2");
    assert_eq!(fact(&out, "recovered"), BACKEND2);
    assert!(fact(&out, "time-to-recovery").ends_with(" s"));
    assert!(out.json()["summary"]
        .as_str()
        .unwrap()
        .contains("recovered toolboxai-backend2 in"));

    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        let c = docker
            .inspect_container(BACKEND2, None::<q::InspectContainerOptions>)
            .await
            .unwrap();
        assert_eq!(c.state.unwrap().running, Some(true));
        assert_eq!(health(&lab, &url).await, 200);
    });
    let journal = out.journal();
    let restarts = calls(&journal, "docker.restart-container");
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    assert_eq!(restarts[0]["args"]["name"], BACKEND2);
    assert!(
        restarts[0]["outcome"]["ok"].is_null() && restarts[0]["outcome"].get("error").is_none(),
        "{}",
        restarts[0]
    );
    assert!(calls(&journal, "docker.recreate-with-image").is_empty());
    assert!(events(&journal, "step-start").iter().any(|s| s["step"]
        .as_str()
        .unwrap_or_default()
        .starts_with("diagnose toolboxai-backend2")));
}

const APP_PATH: &str = "toolboxai/supabase";

async fn scalar(pg: &tokio_postgres::Client, sql: &str) -> i64 {
    pg.query_one(sql, &[]).await.unwrap().get(0)
}

/// The application's settings in the lab's Vault, and their version.
async fn app_settings(lab: &Lab) -> (std::collections::HashMap<String, String>, u64) {
    let vault = lab.vault_client().unwrap();
    let data = vaultrs::kv2::read(&vault, "secret", APP_PATH).await.unwrap();
    let meta = vaultrs::kv2::read_metadata(&vault, "secret", APP_PATH).await.unwrap();
    (data, meta.current_version)
}

async fn backend_health(lab: &Lab) -> Vec<u16> {
    let mut codes = Vec::new();
    for url in lab.backend_urls().unwrap() {
        codes.push(health(lab, &url).await);
    }
    codes
}

/// When the test fails after dropping the database, today's db-restore
/// puts the backup it made back, so the lab is whole for the next test.
struct DatabaseBack<'a> {
    lab: &'a Lab,
    key: String,
}

impl Drop for DatabaseBack<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        eprintln!("restore: putting {} back with today's db-restore", self.key);
        let out = on_lab(self.lab, Run::plugin("db-restore"))
            .param("backup", &self.key)
            .exec();
        assert_eq!(out.code, 0, "restoring the lab failed: {}\n{}", out.stdout, out.stderr);
    }
}

/// As `database.rs`'s `db_restore_brings_back_a_dropped_database_and_repoints_the_app`,
/// with the 0.1.2 build of db-restore: its `vault.secret` handles, `compose`
/// and a patch with a secret field all go through the 0.2 `secret`
/// interface by conversion.
#[test]
fn an_old_db_restore_brings_back_a_dropped_database_through_the_secret_conversions() {
    let _serial = serial();
    let lab = lab();
    let rt = rt();

    // Seed: rows only this backup has; a stale database_url in Vault.
    let users = rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        pg.execute("DELETE FROM users WHERE email LIKE 'compat-test-%'", &[])
            .await
            .unwrap();
        pg.execute(
            "INSERT INTO users (email, name, plan, created_at) SELECT 'compat-test-' || g || '@example.com', 'compat test ' || g, 'free', now() FROM generate_series(1, 5) g",
            &[],
        )
        .await
        .unwrap();
        scalar(&pg, "SELECT count(*) FROM users").await
    });
    let backup = on_lab(&lab, Run::plugin("db-backup")).exec();
    assert_eq!(backup.code, 0, "{}\n{}", backup.stdout, backup.stderr);
    let key = fact(&backup, "key");
    let _back = DatabaseBack {
        lab: &lab,
        key: key.clone(),
    };
    let vault = lab.vault_client().unwrap();
    let (before, version_before) = rt.block_on(async {
        let (mut data, _) = app_settings(&lab).await;
        data.insert(
            "database_url".into(),
            "postgresql://postgres@db.stale.example:5432/gone".into(),
        );
        vaultrs::kv2::set(&vault, "secret", APP_PATH, &data).await.unwrap();
        app_settings(&lab).await
    });

    // Disaster: the database is gone; the backends notice.
    rt.block_on(async {
        let pg = lab.pg_client_for("postgres").await.unwrap();
        pg.execute("DROP DATABASE toolboxai WITH (FORCE)", &[]).await.unwrap();
    });
    assert!(
        rt.block_on(backend_health(&lab)).iter().all(|c| *c != 200),
        "backends healthy without a database"
    );

    // The lab's config sets today's `status-page` param, which the old
    // build does not declare (an error, as for any undeclared param): run
    // it with the lab's config less that table.
    let old_config = lab_config_without(&lab, "[plugins.db-restore.params]");
    let out = on_lab(&lab, Run::wasm(compat_plugin("db-restore")))
        .config(old_config.path())
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(journaled_contract(&out), "0.1.2");
    assert_eq!(fact(&out, "backup"), key);
    assert_eq!(fact(&out, "verified"), "sha256");
    assert_eq!(fact(&out, "rows-users"), users.to_string());

    // The real database holds the backup's rows.
    rt.block_on(async {
        let pg = lab.pg_client().await.unwrap();
        assert_eq!(scalar(&pg, "SELECT count(*) FROM users").await, users);
        assert_eq!(
            scalar(&pg, "SELECT count(*) FROM users WHERE email LIKE 'compat-test-%'").await,
            5
        );
        pg.execute("DELETE FROM users WHERE email LIKE 'compat-test-%'", &[])
            .await
            .unwrap();
    });
    // Vault points the application at it, with the real password composed
    // in the host from a 0.1 secret handle; the other fields are kept.
    let (after, version_after) = rt.block_on(app_settings(&lab));
    let password = std::fs::read_to_string(lab.get("PG_PASSWORD_FILE").unwrap()).unwrap();
    let password = password.trim();
    let expected = format!(
        "postgresql://postgres:{}@127.0.0.1:{}/toolboxai",
        percent_encoded(password),
        lab.get("PG_PORT").unwrap()
    );
    assert_eq!(after.get("database_url"), Some(&expected));
    assert_eq!(after.get("url"), before.get("url"));
    assert_eq!(version_after, version_before + 1);
    assert_eq!(fact(&out, "vault-version"), version_after.to_string());
    assert_eq!(rt.block_on(backend_health(&lab)), vec![200; 3]);

    let journal = out.journal();
    for call in [
        "s3.get",
        "postgres.create-database",
        "postgres.restore",
        "vault.read",
        "secret.compose",
        "vault.patch",
    ] {
        let found = calls(&journal, call);
        assert_eq!(found.len(), 1, "{call}: {journal:?}");
        assert!(
            found[0]["outcome"].get("error").is_none_or(|e| e.is_null()),
            "{:?}",
            found[0]
        );
    }
    assert_eq!(calls(&journal, "docker.restart-container").len(), 3);
    assert!(
        calls(&journal, "secret.reveal").is_empty(),
        "the plugin never saw the password"
    );
    // No secret in anything the run wrote.
    assert!(
        password.len() >= 12,
        "the lab's Postgres password is too short to search for"
    );
    for (name, text) in [
        ("journal", out.journal_text()),
        ("stdout", out.stdout.clone()),
        ("stderr", out.stderr.clone()),
    ] {
        for secret in [
            password.to_string(),
            percent_encoded(password),
            lab.get("VAULT_TOKEN").unwrap().to_string(),
            lab.get("AWS_SECRET_ACCESS_KEY").unwrap().to_string(),
        ] {
            assert!(!text.contains(&secret), "a secret is in the {name}");
        }
    }
}

#[test]
fn inspect_shows_an_old_plugins_manifest_as_it_was_built() {
    for id in UNCHANGED {
        let old = Run::inspect(compat_plugin(id)).json().exec();
        assert_eq!(old.code, 0, "{id}: {}", old.stderr);
        let v = old.json();
        assert_eq!(v["id"], id);
        assert_eq!(v["contract"], "0.1.2", "{id}");
        let imports: Vec<&str> = v["imports"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i.as_str())
            .filter(|i| i.starts_with("drhost:runbook/"))
            .collect();
        assert!(!imports.is_empty(), "{id}: {v}");
        assert!(imports.iter().all(|i| i.ends_with("@0.1.2")), "{id}: {imports:?}");
        // The manifest is the plugin's own, as today's build of it says it.
        let today = Run::inspect(plugin(id)).json().exec().json();
        assert_eq!(today["contract"], "0.2.0", "{id}");
        assert_eq!(v["parameters"], today["parameters"], "{id}");
        assert_eq!(v["capabilities"], today["capabilities"], "{id}");
    }
    // status, as its 0.1.2 build declared it: before the database row.
    let old = Run::inspect(compat_plugin("status")).json().exec().json();
    assert_eq!(old["contract"], "0.1.2");
    let names = |list: &serde_json::Value, key: &str| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|p| p[key].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        names(&old["parameters"], "name"),
        ["containers", "health-path", "redis"]
    );
    let today = Run::inspect(plugin("status")).json().exec().json();
    assert_eq!(
        names(&today["parameters"], "name"),
        ["containers", "health-path", "redis", "database"]
    );
    assert_eq!(
        old["capabilities"].as_array().unwrap().len() + 1,
        today["capabilities"].as_array().unwrap().len()
    );
    // db-restore, as its 0.1.2 build declared it: before the diagnosis.
    let old = Run::inspect(compat_plugin("db-restore")).json().exec().json();
    let today = Run::inspect(plugin("db-restore")).json().exec().json();
    let today_less_diagnosis: Vec<String> = names(&today["parameters"], "name")
        .into_iter()
        .filter(|n| !DIAGNOSIS_PARAMS.contains(&n.as_str()))
        .collect();
    assert_eq!(names(&old["parameters"], "name"), today_less_diagnosis);
    assert_eq!(
        old["capabilities"].as_array().unwrap().len() + 2,
        today["capabilities"].as_array().unwrap().len()
    );
    // The text form names the contract and the 0.1 secret-bearing capability.
    let text = Run::inspect(compat_plugin("db-restore")).exec();
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("contract  drhost:runbook@0.1.2"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("drhost:runbook/vault@0.1.2"), "{}", text.stdout);
    assert!(
        text.stdout.contains("reads the database password as a handle"),
        "{}",
        text.stdout
    );
}

/// The grant advice of a refusal: the TOML after "add to …:".
fn advice(out: &Outcome) -> String {
    out.stderr
        .split_once("add to ")
        .and_then(|(_, rest)| rest.split_once(":\n"))
        .map(|(_, toml)| {
            toml.lines()
                .filter(|l| !l.starts_with("  journal: "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_else(|| panic!("no advice in {}", out.stderr))
}

#[test]
fn a_grant_refusal_gives_an_old_plugin_the_same_advice_as_todays() {
    let empty = config("");
    for id in UNCHANGED {
        let old = Run::wasm(compat_plugin(id)).config(&empty).exec();
        assert_eq!(old.code, 3, "{id}: {}", old.stderr);
        assert!(events(&old.journal(), "call").is_empty(), "{id}: nothing ran");
        assert_eq!(journaled_contract(&old), "0.1.2", "{id}");
        let today = Run::plugin(id).config(&empty).exec();
        assert_eq!(today.code, 3, "{id}: {}", today.stderr);
        assert_eq!(advice(&old), advice(&today), "{id}");
        assert_eq!(old.message_lines(), today.message_lines(), "{id}");
    }
    // Pasted, the advice lets the old plugin run.
    let hello = Run::wasm(compat_plugin("hello")).config(&empty).exec();
    let fixed = config(&advice(&hello));
    let again = Run::wasm(compat_plugin("hello")).config(&fixed).exec();
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn a_plugin_importing_two_contract_versions_is_refused_naming_both() {
    let mixed = fixture("mixed-contract");
    let out = Run::wasm(&mixed).config_toml("").json().exec();
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "refused");
    let message = report["error"]["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("drhost:runbook/log@0.1.2")
            && message.contains("drhost:runbook/log@0.2.0")
            && message.contains("two contract versions"),
        "{report}"
    );
    assert!(!message.contains('\n'), "{message}");
    // Refused before describe: nothing of the plugin ran.
    assert!(!out.stderr.contains("logged through"), "{}", out.stderr);
    let journal = out.journal();
    assert!(events(&journal, "call").is_empty() && events(&journal, "log").is_empty());
    assert_eq!(journal.last().unwrap()["status"], "refused");
    assert_eq!(journal.last().unwrap()["exit_code"], 3);

    let inspected = Run::inspect(&mixed).exec();
    assert_eq!(inspected.code, 3, "{}", inspected.stderr);
    let lines = inspected.message_lines();
    assert_eq!(lines.len(), 1, "{}", inspected.stderr);
    assert!(lines[0].contains("two contract versions"), "{}", lines[0]);
}
