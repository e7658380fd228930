//! The docker capability and runbook scenarios 4 and 5 on the lab's real
//! Docker Engine and ToolboxAI stack: service-recover (restart, rollback),
//! network-recover, status, grants at the call, dockerd unreachable.
//!
//! Tests that fault the shared lab hold [`drhost_tests::lab::serial`] and a [`Restore`] guard
//! (`tests/src/docker.rs`):
//! whatever happens, the images, networks and containers are put back and
//! the stack is healthy again when the test ends.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::query_parameters as q;
use drhost_tests::cli::{calls, config, events, Run};
use drhost_tests::docker::{
    exec, fact, health, image_id, inspect, number, on_lab, table_rows, Restore, BACKEND2, LATEST, NGINX, PREVIOUS,
};
use drhost_tests::lab::{runtime as rt, serial, up as lab, Lab};

/// `status` as the operator runs it: text on stdout, progress on stderr.
fn status_text(lab: &Lab) -> Run {
    Run::plugin("status")
        .config(lab.path(".lab/drhost.toml"))
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap())
}

#[test]
fn status_reports_a_healthy_lab_in_one_table() {
    let _serial = serial();
    let lab = lab();
    let master = format!("127.0.0.1:{}", lab.get("REDIS_MASTER_PORT").unwrap());

    // What the operator reads: each check once, in one table on stdout.
    let out = status_text(&lab).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let everything = format!("{}{}", out.stdout, out.stderr);
    for name in ["toolboxai-backend1", "toolboxai-backend2", "toolboxai-backend3", NGINX] {
        let lines: Vec<&str> = everything.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(lines.len(), 1, "{name} is printed once:\n{everything}");
        assert!(out.stdout.contains(lines[0]), "its row is on stdout:\n{}", out.stdout);
    }
    for check in ["redis master", "sentinels"] {
        let rows = out
            .stdout
            .lines()
            .filter(|l| l.contains(&format!("  {check}  ")))
            .count();
        assert_eq!(rows, 1, "one {check} row:\n{}", out.stdout);
    }
    assert_eq!(out.stdout.matches("service health").count(), 1, "{}", out.stdout);
    let header = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("OK  "))
        .unwrap_or_else(|| panic!("no table header:\n{}", out.stdout));
    for column in ["CHECK", "TARGET", "STATE", "HEALTH", "DETAIL"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        !everything.contains("| health"),
        "no per-row facts or notes:\n{everything}"
    );

    // What a script reads: the rows and the counts, typed.
    let out = on_lab(&lab, Run::plugin("status")).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["status"], "recovered");
    assert_eq!(number(&out, "unhealthy"), 0);
    assert_eq!(number(&out, "containers"), 4);
    let rows = table_rows(&out);
    assert_eq!(number(&out, "checks"), rows.len() as u64);
    assert_eq!(number(&out, "healthy"), rows.len() as u64);
    assert!(rows.iter().all(|r| r["OK"] == "yes"), "{rows:?}");
    let facts = out.json()["facts"].as_array().unwrap().len();
    assert!(facts <= 4, "a few counts, not a fact per row: {facts}");
    let row = |check: &str, target: &str| {
        rows.iter()
            .find(|r| r["CHECK"] == check && r["TARGET"] == target)
            .unwrap_or_else(|| panic!("no {check} {target} row in {rows:?}"))
            .clone()
    };
    for name in ["toolboxai-backend1", "toolboxai-backend2", "toolboxai-backend3", NGINX] {
        let r = row("container", name);
        assert_eq!(r["STATE"], "running", "{r:?}");
    }
    assert!(
        row("container", BACKEND2)["DETAIL"].ends_with("/health 200"),
        "{rows:?}"
    );
    // Redis rows (issue 6): the master through the Sentinels' view.
    let name = lab.redis_master_name().unwrap();
    let sentinels = row("sentinels", name);
    assert_eq!(sentinels["STATE"], "3/3 answer", "{sentinels:?}");
    assert_eq!(sentinels["HEALTH"], "agree", "{sentinels:?}");
    assert_eq!(sentinels["DETAIL"], format!("master {master}"), "{sentinels:?}");
    assert_eq!(row("redis master", &master)["STATE"], "role master");
    // The database (issue 20): the quick reference's SELECT version(), as
    // the real server reports it.
    let server: String = rt().block_on(async {
        let client = lab.pg_client().await.unwrap();
        client.query_one("SELECT version()", &[]).await.unwrap().get(0)
    });
    let database = row("database", "primary");
    assert_eq!(database["STATE"], "answers", "{database:?}");
    let shown = database["DETAIL"].as_str();
    assert!(
        shown.starts_with("PostgreSQL ") && server.starts_with(shown),
        "{shown:?} is the start of {server:?}"
    );
    let journal = out.journal();
    let queries = calls(&journal, "postgres.query");
    assert_eq!(queries.len(), 1, "{queries:?}");
    assert_eq!(queries[0]["args"]["sql"], "SELECT version()", "{}", queries[0]);
}

/// One backend stopped: the run fails (exit 1) and the failure carries the
/// same table and the counts — on stdout with `-q`, and as rows in `--json`.
#[test]
fn status_with_a_stopped_backend_fails_with_the_table() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let url = lab.get("BACKEND2_URL").unwrap().to_string();
    let rt = rt();
    rt.block_on(async {
        let docker = lab.docker().await.unwrap();
        docker
            .stop_container(BACKEND2, None::<q::StopContainerOptions>)
            .await
            .expect("stop backend2");
    });

    let out = status_text(&lab).quiet().exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let first = out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.contains("status") && first.contains("failed") && first.contains(&format!("container {BACKEND2}")),
        "{}",
        out.stdout
    );
    let row: Vec<&str> = out.stdout.lines().filter(|l| l.contains(BACKEND2)).skip(1).collect();
    assert_eq!(row.len(), 1, "the summary, then its row once:\n{}", out.stdout);
    let cells: Vec<&str> = row[0].split_whitespace().collect();
    assert_eq!(&cells[..4], ["NO", "container", BACKEND2, "exited"], "{}", row[0]);
    assert!(out.stdout.contains("service health"), "{}", out.stdout);
    assert!(!out.stdout.contains("see the table above"), "{}", out.stdout);
    assert!(out.stdout.contains("unhealthy: 1"), "the counts:\n{}", out.stdout);

    let out = on_lab(&lab, Run::plugin("status")).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["status"], "failed");
    assert_eq!(number(&out, "unhealthy"), 1);
    assert_eq!(number(&out, "containers"), 4);
    let rows = table_rows(&out);
    assert_eq!(number(&out, "healthy"), rows.len() as u64 - 1);
    let failing: Vec<_> = rows.iter().filter(|r| r["OK"] == "NO").collect();
    assert_eq!(failing.len(), 1, "{rows:?}");
    assert_eq!(failing[0]["TARGET"], BACKEND2);
    assert!(failing[0]["STATE"].starts_with("exited (exit code"), "{:?}", failing[0]);
    assert!(
        report["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("1 of {} checks unhealthy: container {BACKEND2}", rows.len())),
        "{report:#}"
    );
    // Read-only: nothing was started or restarted.
    let journal = out.journal();
    for call in ["docker.start-container", "docker.restart-container"] {
        assert!(calls(&journal, call).is_empty(), "{call}");
    }

    // Put it back: the test stopped it, the test starts it.
    rt.block_on(async {
        let docker = lab.docker().await.unwrap();
        docker
            .start_container(BACKEND2, None::<q::StartContainerOptions>)
            .await
            .expect("start backend2");
        let until = Instant::now() + Duration::from_secs(60);
        while health(&lab, &url).await != 200 {
            assert!(Instant::now() < until, "{BACKEND2} did not turn healthy again");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

#[test]
fn killed_backend_is_restarted_and_healthy() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let url = lab.get("BACKEND2_URL").unwrap().to_string();
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        docker
            .kill_container(BACKEND2, None::<q::KillContainerOptions>)
            .await
            .expect("kill backend2");
        let c = inspect(&docker, BACKEND2).await;
        assert_eq!(c.state.unwrap().running, Some(false));
        assert_ne!(health(&lab, &url).await, 200);
    });

    let out = on_lab(&lab, Run::plugin("service-recover")).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "recovered"), BACKEND2);
    assert!(number(&out, "time-to-recovery-ms") > 0);
    assert_eq!(out.fact("time-to-recovery"), None, "one name: time-to-recovery-ms");
    assert!(out.json()["summary"]
        .as_str()
        .unwrap()
        .contains("recovered toolboxai-backend2 in"));

    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        let c = inspect(&docker, BACKEND2).await;
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
    // Healthy backends were looked at, never touched.
    assert!(calls(&journal, "docker.recreate-with-image").is_empty());
    assert!(events(&journal, "step-start").iter().any(|s| s["step"]
        .as_str()
        .unwrap_or_default()
        .starts_with("diagnose toolboxai-backend2")));
}

/// Runbook scenario 4's diagnosis, `nc -zv redis-master 6380` from inside
/// the failing container, against the lab's real Redis: backend2's process
/// is frozen (SIGSTOP from the host), so the container runs but `/health`
/// never answers. service-recover checks two dependencies from inside it:
/// the master's TLS port as the backends name it (`redis-master`, Docker's
/// host gateway, where the data nodes listen) and a closed port on the same
/// host. The first is reachable, the second is not, the notes say so in the
/// diagnosis step, and the restart then brings backend2 back.
#[test]
fn a_hung_backend_is_diagnosed_with_its_dependencies_checked_from_inside() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let url = lab.get("BACKEND2_URL").unwrap().to_string();
    let redis = lab.get("REDIS_CONTAINER_ADDR").unwrap().to_string();
    let (host, port) = redis.split_once(':').unwrap();
    assert_eq!(host, "redis-master");
    assert_eq!(port, lab.get("REDIS_MASTER_PORT").unwrap());
    let closed = format!("{host}:1");

    // The listener really is Redis: the master binds loopback and the gateway.
    let bind = lab
        .redis_cli(port.parse().unwrap())
        .unwrap()
        .args(["CONFIG", "GET", "bind"])
        .output()
        .unwrap();
    let bind = String::from_utf8_lossy(&bind.stdout).into_owned();
    assert!(
        bind.lines()
            .nth(1)
            .is_some_and(|b| b.starts_with("127.0.0.1 ") && b.split(' ').count() == 2),
        "{bind}"
    );

    let pid = rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        inspect(&docker, BACKEND2).await.state.unwrap().pid.unwrap()
    });
    let _thaw = Thaw(pid);
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    rt().block_on(async { assert_ne!(health(&lab, &url).await, 200) });

    let out = on_lab(&lab, Run::plugin("service-recover"))
        .param("dependencies", format!("{redis},{closed}"))
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "recovered"), BACKEND2);
    rt().block_on(async { assert_eq!(health(&lab, &url).await, 200) });

    let journal = out.journal();
    let notes: Vec<&str> = events(&journal, "step-note")
        .iter()
        .filter(|n| {
            n["step"]
                .as_str()
                .unwrap_or_default()
                .starts_with("diagnose toolboxai-backend2")
        })
        .filter_map(|n| n["message"].as_str())
        .collect();
    assert!(
        notes.contains(&format!("dependency {redis} reachable").as_str()),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with(&format!("dependency {closed} NOT reachable (nc "))),
        "{notes:?}"
    );
    // Both checks ran in backend2, as the runbook's `nc -z`, and only there.
    let execs: Vec<_> = calls(&journal, "docker.exec");
    assert_eq!(execs.len(), 2, "{execs:?}");
    for (exec, (port, code)) in execs.iter().zip([(port, 0), ("1", 1)]) {
        assert_eq!(exec["args"]["name"], BACKEND2, "{exec}");
        assert_eq!(
            exec["args"]["argv"],
            serde_json::json!(["nc", "-z", "-w", "2", host, port]),
            "{exec}"
        );
        assert_eq!(exec["outcome"]["ok"]["exit_code"], code, "{exec}");
    }
}

/// Sends SIGCONT to a process a test froze, whatever happens (a restart
/// has usually replaced it already; then this is a no-op).
struct Thaw(i64);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn broken_latest_is_rolled_back_to_previous() {
    let _serial = serial();
    let lab = lab();
    let mut restore = Restore::new(&lab);
    let url = lab.get("BACKEND2_URL").unwrap().to_string();
    let previous_id = restore.previous.clone().expect(":previous exists");
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        // A copy of the backend image whose entrypoint does not exist, as `:latest`.
        let broken = docker
            .commit_container(
                q::CommitContainerOptions {
                    container: Some(BACKEND2.into()),
                    repo: Some("toolboxai/backend".into()),
                    tag: Some("broken-test".into()),
                    changes: Some("ENTRYPOINT [\"/nonexistent-entrypoint\"]\nLABEL lab.version=broken".into()),
                    pause: false,
                    ..Default::default()
                },
                bollard::models::ContainerConfig::default(),
            )
            .await
            .expect("commit a broken image");
        restore.extra_images.push("toolboxai/backend:broken-test".into());
        docker
            .tag_image(
                &broken.id,
                Some(q::TagImageOptions {
                    repo: Some("toolboxai/backend".into()),
                    tag: Some("latest".into()),
                }),
            )
            .await
            .expect("tag broken as latest");
    });
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        // Recreate backend2 from the broken image with bollard: same config, new image.
        let old = inspect(&docker, BACKEND2).await;
        let cfg = old.config.clone().unwrap();
        let host = old.host_config.clone().unwrap();
        let nets = old.network_settings.clone().unwrap().networks.unwrap();
        docker
            .remove_container(
                BACKEND2,
                Some(q::RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
        let first = host.network_mode.clone().unwrap();
        let body = bollard::models::ContainerCreateBody {
            image: Some(LATEST.into()),
            env: cfg.env.clone(),
            labels: cfg.labels.clone(),
            exposed_ports: cfg.exposed_ports.clone(),
            host_config: Some(host),
            networking_config: Some(bollard::models::NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    first.clone(),
                    bollard::models::EndpointSettings {
                        aliases: Some(vec!["backend2".into()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        docker
            .create_container(
                Some(q::CreateContainerOptions {
                    name: Some(BACKEND2.into()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .expect("create broken backend2");
        for net in nets.keys().filter(|n| **n != first) {
            docker
                .connect_network(
                    net,
                    bollard::models::NetworkConnectRequest {
                        container: Some(BACKEND2.into()),
                        endpoint_config: Some(bollard::models::EndpointSettings {
                            aliases: Some(vec!["backend2".into()]),
                            ..Default::default()
                        }),
                    },
                )
                .await
                .unwrap();
        }
        assert!(
            docker
                .start_container(BACKEND2, None::<q::StartContainerOptions>)
                .await
                .is_err(),
            "the broken image must not start"
        );
        assert_ne!(health(&lab, &url).await, 200);
    });

    let out = on_lab(&lab, Run::plugin("service-recover"))
        .param("wait-seconds", "10")
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(fact(&out, &format!("action:{BACKEND2}")).contains("rolled back to toolboxai/backend:previous"));
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        let c = inspect(&docker, BACKEND2).await;
        assert_eq!(c.state.clone().unwrap().running, Some(true));
        assert_eq!(
            c.image.as_deref(),
            Some(previous_id.as_str()),
            "backend2 runs :previous"
        );
        assert_eq!(
            image_id(&docker, LATEST).await.as_deref(),
            Some(previous_id.as_str()),
            ":latest now points at :previous"
        );
        assert_eq!(health(&lab, &url).await, 200);
        let body = lab.http().get(&url).send().await.unwrap().text().await.unwrap();
        assert!(body.contains("1.0.0"), "backend2 serves the previous version: {body}");
        // Same config: env, port, aliases on both networks.
        let env = c.config.unwrap().env.unwrap();
        assert!(env.iter().any(|e| e == "SERVICE_NAME=backend2"), "{env:?}");
        for (net, e) in c.network_settings.unwrap().networks.unwrap() {
            assert!(
                e.aliases.unwrap_or_default().contains(&"backend2".to_string()),
                "alias on {net}"
            );
        }
    });
    let journal = out.journal();
    let tags = calls(&journal, "docker.tag-image");
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0]["args"]["source"], PREVIOUS);
    assert_eq!(tags[0]["args"]["target"], LATEST);
    assert_eq!(calls(&journal, "docker.recreate-with-image").len(), 1);
}

#[test]
fn removed_network_and_disconnected_container_are_recovered() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        let cache = docker
            .inspect_network("toolboxai_cache", None::<q::InspectNetworkOptions>)
            .await
            .unwrap();
        for c in cache.containers.unwrap_or_default().values() {
            let name = c.name.clone().unwrap();
            docker
                .disconnect_network(
                    "toolboxai_cache",
                    bollard::models::NetworkDisconnectRequest {
                        container: Some(name),
                        force: Some(true),
                    },
                )
                .await
                .unwrap();
        }
        docker
            .remove_network("toolboxai_cache")
            .await
            .expect("remove toolboxai_cache");
        docker
            .disconnect_network(
                "toolboxai_backend",
                bollard::models::NetworkDisconnectRequest {
                    container: Some(BACKEND2.into()),
                    force: Some(true),
                },
            )
            .await
            .unwrap();
        assert_ne!(
            exec(
                &docker,
                "toolboxai-backend1",
                &["ping", "-c", "1", "-W", "1", "backend2"]
            )
            .await,
            0,
            "partitioned"
        );
    });

    let out = on_lab(&lab, Run::plugin("network-recover")).exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let recreated = fact(&out, "recreated");
    assert!(
        recreated.contains("toolboxai_cache") && recreated.contains("toolboxai_backend"),
        "{recreated}"
    );
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        assert_eq!(
            exec(
                &docker,
                "toolboxai-backend1",
                &["ping", "-c", "1", "-W", "1", "backend2"]
            )
            .await,
            0
        );
        assert_eq!(
            exec(
                &docker,
                "toolboxai-backend3",
                &["ping", "-c", "1", "-W", "1", "backend2"]
            )
            .await,
            0
        );
        let cache = docker
            .inspect_network("toolboxai_cache", None::<q::InspectNetworkOptions>)
            .await
            .unwrap();
        let labels = cache.labels.unwrap();
        assert_eq!(
            labels.get("com.docker.compose.project").map(String::as_str),
            Some("toolboxai")
        );
        assert_eq!(
            labels.get("com.docker.compose.network").map(String::as_str),
            Some("cache")
        );
        let mut members: Vec<String> = cache
            .containers
            .unwrap()
            .values()
            .filter_map(|c| c.name.clone())
            .collect();
        members.sort();
        assert_eq!(
            members,
            ["toolboxai-backend1", "toolboxai-backend2", "toolboxai-backend3"]
        );
        assert_eq!(health(&lab, lab.nginx_url().unwrap()).await, 200);
    });
    let journal = out.journal();
    assert!(!calls(&journal, "docker.create-network").is_empty());
    assert!(calls(&journal, "docker.connect-network")
        .iter()
        .any(|c| c["args"]["container"] == BACKEND2 && c["args"]["aliases"][0] == "backend2"));
}

/// A probe the host refuses proves nothing about the network: with its
/// `ping` exec not granted, network-recover stops before it changes
/// anything. (The first wave read the denials as a partition, removed
/// `toolboxai_backend` and then could not create it again.)
#[test]
fn a_denied_probe_is_not_a_partition() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let ids = || {
        rt().block_on(async {
            let docker = lab.docker().await.unwrap();
            let mut ids = Vec::new();
            for net in ["toolboxai_backend", "toolboxai_cache"] {
                let info = docker
                    .inspect_network(net, None::<q::InspectNetworkOptions>)
                    .await
                    .unwrap();
                ids.push(info.id.unwrap());
            }
            ids
        })
    };
    let before = ids();
    let base = std::fs::read_to_string(lab.path(".lab/drhost.toml")).unwrap();
    let without_exec: String = base
        .lines()
        .filter(|l| !(l.starts_with("exec = ") && l.contains("\"ping\"")))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        without_exec.len(),
        base.trim_end().len(),
        "the lab grants network-recover its ping"
    );
    let cfg = config(&without_exec);
    let out = on_lab(&lab, Run::plugin("network-recover")).config(&cfg).exec();
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["failed_step"], "test connectivity", "{report}");
    let summary = report["summary"].as_str().unwrap();
    assert!(summary.starts_with("cannot test connectivity from "), "{summary}");
    assert!(summary.contains("so nothing was changed"), "{summary}");
    let journal = out.journal();
    for write in [
        "docker.disconnect-network",
        "docker.remove-network",
        "docker.create-network",
    ] {
        assert_eq!(calls(&journal, write).len(), 0, "{write} was called");
    }
    assert_eq!(ids(), before, "the networks were not touched");
}

#[test]
fn a_backend_grant_cannot_touch_the_proxy() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let before = rt().block_on(async {
        inspect(&lab.docker().await.unwrap(), NGINX)
            .await
            .state
            .unwrap()
            .started_at
    });
    let cfg = config(
        "[[plugins.docker-poke.docker]]\ncontainers = [\"toolboxai-backend*\"]\naccess = [\"read\", \"write\"]\nexec = [[\"true\"]]\n",
    );
    let out = on_lab(&lab, Run::fixture("docker-poke"))
        .config(&cfg)
        .param("ops", "list,inspect,restart,stop,exec")
        .param("name", "toolboxai-nginx-proxy")
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // list leaves the proxy out instead of refusing.
    let listed = fact(&out, "list");
    assert!(
        listed.contains("toolboxai-backend1") && !listed.contains(NGINX),
        "{listed}"
    );
    for op in ["inspect", "restart", "stop", "exec"] {
        let said = fact(&out, op);
        assert!(said.starts_with("access-denied: "), "{op}: {said}");
        assert!(
            said.contains("[[plugins.docker-poke.docker]]")
                && said.contains("containers = [\"toolboxai-nginx-proxy\"]"),
            "{op}: {said}"
        );
    }
    let journal = out.journal();
    for call in ["docker.restart-container", "docker.stop-container", "docker.exec"] {
        let c = calls(&journal, call);
        assert_eq!(c.len(), 1, "{call}");
        assert_eq!(c[0]["outcome"]["error"]["kind"], "access-denied", "{}", c[0]);
    }
    let after = rt().block_on(async { inspect(&lab.docker().await.unwrap(), NGINX).await.state.unwrap() });
    assert_eq!(after.started_at, before, "the proxy was not restarted");
    assert_eq!(after.running, Some(true));

    // A plan says the same: the refused restart and stop are refused there
    // too, never listed as changes the run would make.
    let plan = on_lab(&lab, Run::fixture("docker-poke"))
        .config(&cfg)
        .param("ops", "restart,stop,exec")
        .param("name", "toolboxai-nginx-proxy")
        .arg("--plan")
        .json()
        .exec();
    for op in ["restart", "stop", "exec"] {
        assert!(
            fact(&plan, op).starts_with("access-denied: "),
            "{op}: {}",
            fact(&plan, op)
        );
    }
    assert_eq!(plan.json()["plan"]["total"], 0, "{}", plan.stdout);

    // The same exec in a granted backend is planned, not run.
    let plan = on_lab(&lab, Run::fixture("docker-poke"))
        .config(&cfg)
        .param("ops", "exec")
        .param("name", "toolboxai-backend1")
        .arg("--plan")
        .json()
        .exec();
    assert!(fact(&plan, "exec").starts_with("planned: "), "{}", fact(&plan, "exec"));
    assert_eq!(plan.json()["plan"]["total"], 1, "{}", plan.stdout);
}

#[test]
fn unreachable_dockerd_fails_with_one_clear_line() {
    let lab = lab();
    let config = lab.path(".lab/drhost.toml");
    let started = Instant::now();
    let out = Run::plugin("status")
        .config(&config)
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .exec();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let clear: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("Docker Engine at unix:///nonexistent.sock does not answer: is dockerd running?"))
        .collect();
    assert!(!clear.is_empty(), "{}", out.stderr);
    let journal = out.journal();
    let kinds: Vec<&str> = journal.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"run-start"));
    assert_eq!(kinds.last(), Some(&"run-end"));
    let list = calls(&journal, "docker.list-containers");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["outcome"]["error"]["kind"], "unavailable");
    let end = events(&journal, "run-end")[0];
    assert_eq!(end["exit_code"], 1);
    assert!(
        end["summary"]
            .as_str()
            .unwrap()
            .contains("does not answer: is dockerd running?"),
        "{end}"
    );
}

/// `drhost run --plan`: reads run for real, the restart and the stop are
/// recorded instead of made (the container keeps running, not restarted),
/// the plugin is told `planned`, and the plan lists both changes in order.
#[test]
fn plan_mode_changes_nothing_and_lists_the_changes() {
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let state = || rt().block_on(async { inspect(&lab.docker().await.unwrap(), BACKEND2).await.state.unwrap() });
    let before = state();
    let cfg = config(
        "[[plugins.docker-poke.docker]]\ncontainers = [\"toolboxai-backend*\"]\naccess = [\"read\", \"write\"]\n",
    );
    let planned = Run::fixture("docker-poke")
        .config(&cfg)
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").unwrap())
        .param("ops", "inspect,restart,stop")
        .param("name", BACKEND2)
        .arg("--plan");
    let out = planned.clone().json().quiet().exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(fact(&out, "inspect"), "ok: running", "reads run for real");
    for op in ["restart", "stop"] {
        let said = fact(&out, op);
        assert!(said.starts_with("planned: docker."), "{op}: {said}");
    }
    let after = state();
    assert_eq!(after.started_at, before.started_at, "not restarted");
    assert_eq!(after.running, Some(true), "not stopped");
    let report = out.json();
    assert_eq!(report["plan"]["total"], 2, "{report}");
    assert_eq!(
        report["plan"]["changes"][0],
        format!("docker.restart-container name={BACKEND2} timeout_secs=1")
    );
    assert!(report["plan"]["changes"][1]
        .as_str()
        .unwrap()
        .starts_with("docker.stop-container"));
    let journal = out.journal();
    assert_eq!(journal[0]["mode"], "plan", "run-start records the mode");
    let restarts = calls(&journal, "docker.restart-container");
    assert_eq!(restarts[0]["outcome"]["error"]["kind"], "planned", "{}", restarts[0]);
    assert_eq!(journal.last().unwrap()["plan"]["total"], 2);
    // The terminal lists the plan after the outcome.
    let text = planned.exec();
    assert!(
        text.stdout.contains("PLAN: 2 change(s) would be made (none was):"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("  1. docker.restart-container name={BACKEND2}")),
        "{}",
        text.stdout
    );
    assert!(
        text.stderr
            .contains(&format!("would docker.restart-container name={BACKEND2}")),
        "{}",
        text.stderr
    );
    assert_eq!(state().started_at, before.started_at);
}

/// `drhost resume` after drhost was SIGKILLed right after service-recover
/// restarted the killed backend: the backend ends healthy and was
/// restarted once, in the journals and in Docker (its start time is the
/// one the first restart gave it).
#[test]
fn service_recover_killed_after_its_restart_is_resumed_without_a_second_restart() {
    use drhost_tests::resume::{journal_of, kill_at, made, resume, KillPoint};
    let _serial = serial();
    let lab = lab();
    let _restore = Restore::new(&lab);
    let url = lab.get("BACKEND2_URL").unwrap().to_string();
    let started_at = || {
        rt().block_on(async {
            let docker = lab.docker().await.unwrap();
            inspect(&docker, BACKEND2)
                .await
                .state
                .and_then(|s| s.started_at)
                .unwrap_or_default()
        })
    };
    rt().block_on(async {
        let docker = lab.docker().await.unwrap();
        docker
            .kill_container(BACKEND2, None::<q::KillContainerOptions>)
            .await
            .expect("kill backend2");
    });
    let point = KillPoint {
        call: "docker.restart-container",
        nth: 1,
    };
    let dir = drhost_tests::tmp::TmpDir::new("drhost-resume-");
    let killed = kill_at(on_lab(&lab, Run::plugin("service-recover")), dir.path(), point);
    let restarted_at = started_at();

    let docker_host = lab.get("DOCKER_HOST").unwrap().to_string();
    let out = resume(dir.path(), &killed.run_id, |run| run.env("DOCKER_HOST", &docker_host));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let dead = drhost_tests::cli::read_journal(&killed.journal);
    let journal = journal_of(&out);
    assert_eq!(made(&dead, "docker.restart-container").len(), 1);
    assert!(
        made(&journal, "docker.restart-container").is_empty(),
        "restarted again: {journal:?}"
    );
    assert!(made(&journal, "docker.recreate-with-image").is_empty());
    assert_eq!(started_at(), restarted_at, "Docker restarted {BACKEND2} again");
    assert_eq!(rt().block_on(health(&lab, &url)), 200);
    let report = out.json();
    eprintln!(
        "resume matrix: service-recover killed {point}: exit {}, {} answered from the journal, {} not asked again ({})",
        out.code, report["resumed"]["answered"], report["resumed"]["not_asked"], report["summary"]
    );
}
