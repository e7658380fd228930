//! A hostile plugin with a narrow `redis` grant, through the real binary
//! against the lab's real Redis master, replica and Sentinels (and, where
//! the attack needs a hostile server, a tiny listener the test owns on
//! 127.0.0.1). Each test asserts the refusal (exit code, the fixture's
//! facts, the journal's `call` event) and that the real servers did not
//! change; each leaves the lab as it found it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drhost_tests::cli::{self, calls, Outcome, Run};
use drhost_tests::lab::Lab;
use drhost_tests::lab::{runtime as rt, up as lab};
use drhost_tests::tmp::{TmpDir, TmpFile};

/// The current master's port, as the real Sentinels report it.
fn master_port(lab: &Lab) -> u16 {
    let (host, port) = rt()
        .block_on(lab.redis_master_addr())
        .expect("the Sentinels report a master");
    assert_eq!(host, "127.0.0.1");
    port
}

fn sentinels_toml(lab: &Lab) -> String {
    lab.sentinel_ports()
        .unwrap()
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The lab's TLS and password lines for a target whose url is `port`: a
/// test that points the url at a Sentinel (to send it commands as a node)
/// logs in there with the Sentinels' password.
fn url_auth(lab: &Lab, port: u16) -> String {
    lab.redis_auth_toml_with(lab.redis_password_key(port).unwrap(), true)
        .unwrap()
}

/// A config with one target `cache` (its url on `url_port`, `extra` lines)
/// and one grant of `access` to redis-poke.
fn target_config(lab: &Lab, url_port: u16, extra: &str, access: &str) -> TmpFile {
    cli::config(&format!(
        "[targets.redis.cache]\nurl = \"rediss://127.0.0.1:{url_port}\"\n{}sentinels = [{}]\nmaster_name = \"{}\"\ntimeout = \"2s\"\n{extra}\n\n[[plugins.redis-poke.redis]]\ntarget = \"cache\"\naccess = {access}\n",
        url_auth(lab, url_port),
        sentinels_toml(lab),
        lab.redis_master_name().unwrap()
    ))
}

/// `drhost run redis-poke --param open=OPEN --param args=ARGS`.
fn poke(config: &std::path::Path, open: &str, args: &str) -> Outcome {
    let out = Run::fixture("redis-poke")
        .config(config)
        .json()
        .yes()
        .param("open", open)
        .param("args", args)
        .exec();
    assert_eq!(out.code, 0, "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    out
}

/// Asserts command `i` of a poke was refused with `access-denied` (its
/// message containing `says`) and that the journal's call says the same.
fn assert_denied(out: &Outcome, i: usize, says: &str) {
    assert_eq!(
        out.fact(&format!("error-kind.{i}")).as_deref(),
        Some("access-denied"),
        "command {i}: {}",
        out.stdout
    );
    let message = out.fact(&format!("error.{i}")).unwrap();
    assert!(message.contains(says), "command {i}: {message}");
    let journal = out.journal();
    let call = calls(&journal, "redis.command")[i];
    assert_eq!(call["outcome"]["error"]["kind"], "access-denied", "{call}");
}

/// Each Sentinel's view of the master's port (see [`Lab::sentinel_views`]).
fn sentinel_views(lab: &Lab) -> Vec<Option<u16>> {
    rt().block_on(lab.sentinel_views())
}

/// Runs `cmd` on the lab node at `port`, database `db`.
fn on_node<T: redis::FromRedisValue>(lab: &Lab, port: u16, db: i64, cmd: &mut redis::Cmd) -> T {
    rt().block_on(async {
        let mut con = lab.redis_at(port).await.unwrap();
        let _: () = redis::cmd("SELECT").arg(db).query_async(&mut con).await.unwrap();
        cmd.query_async(&mut con).await.unwrap()
    })
}

/// A listener the test owns on 127.0.0.1: counts connections and keeps
/// every byte it receives; answers nothing.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Listener {
    fn start() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (connections.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                c.fetch_add(1, Ordering::SeqCst);
                let r = r.clone();
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        r.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                });
            }
        });
        Listener {
            port,
            connections,
            received,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

/// A hostile "Sentinel" the test owns: reports master (and nothing else)
/// at 127.0.0.1:`master_port` and says OK to everything else.
fn fake_sentinel(master_port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_fake_sentinel(stream, master_port));
        }
    });
    port
}

fn serve_fake_sentinel(mut stream: TcpStream, master_port: u16) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some((args, used)) = parse_command(&pending) {
            pending.drain(..used);
            let upper: Vec<String> = args.iter().map(|a| a.to_ascii_uppercase()).collect();
            let reply = match upper.get(1).map(String::as_str) {
                Some("GET-MASTER-ADDR-BY-NAME") => {
                    let port = master_port.to_string();
                    format!("*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n", port.len())
                }
                Some("REPLICAS") | Some("SLAVES") | Some("SENTINELS") => "*0\r\n".to_string(),
                _ => "+OK\r\n".to_string(),
            };
            if stream.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

/// One RESP command (`*N` of `$len` strings) from the front of `data`.
fn parse_command(data: &[u8]) -> Option<(Vec<String>, usize)> {
    fn line(data: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let end = data.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
        Some((&data[at..end], end + 2))
    }
    let (head, mut at) = line(data, 0)?;
    let count: usize = std::str::from_utf8(head.strip_prefix(b"*")?).ok()?.parse().ok()?;
    let mut args = Vec::new();
    for _ in 0..count {
        let (len, next) = line(data, at)?;
        let len: usize = std::str::from_utf8(len.strip_prefix(b"$")?).ok()?.parse().ok()?;
        let arg = data.get(next..next + len)?;
        args.push(String::from_utf8_lossy(arg).into_owned());
        at = next + len + 2;
        if data.len() < at {
            return None;
        }
    }
    Some((args, at))
}

#[test]
fn publish_on_sentinel_gossip_is_refused_and_sentinel_keeps_its_master() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let master = master_port(&lab);
    let before = sentinel_views(&lab);
    assert!(before.iter().all(|v| *v == Some(master)), "{before:?}");
    // A malformed hello (not 8 fields): harmless even if it got through.
    let config = target_config(&lab, master, "", r#"["read", "write"]"#);
    let out = poke(
        &config,
        "url",
        "PUBLISH __sentinel__:hello drhost-hostile-test;SPUBLISH __sentinel__:hello drhost-hostile-test;publish __keyevent@0__:del drhost-hostile-test;PUBLISH drhost-hostile-test x",
    );
    for i in 0..3 {
        assert_denied(&out, i, "refused to every plugin");
    }
    assert!(out.fact("error.0").unwrap().contains("__sentinel__:hello"));
    assert_eq!(out.fact("reply.3").as_deref(), Some("0"), "other channels stay `write`");

    // Straight to a Sentinel (a target whose url is one): refused too.
    let sentinel = lab.sentinel_ports().unwrap()[0];
    let config = target_config(&lab, sentinel, "", r#"["read", "write"]"#);
    let out = poke(&config, "url", "PUBLISH __sentinel__:hello drhost-hostile-test");
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        out.stdout
    );
    assert_eq!(
        calls(&out.journal(), "redis.command")[0]["outcome"]["error"]["kind"],
        "access-denied"
    );
    assert_eq!(
        sentinel_views(&lab),
        before,
        "every Sentinel still names the same master"
    );
}

#[test]
fn other_databases_are_out_of_reach_even_for_admin() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let master = master_port(&lab);
    let key = "drhost:hostile:redis:db";
    let cleanup = || {
        for db in [0, 14, 15] {
            let _: i64 = on_node(&lab, master, db, redis::cmd("DEL").arg(key));
        }
    };
    cleanup();
    let _: () = on_node(&lab, master, 0, redis::cmd("SET").arg(key).arg("v0"));
    let config = target_config(&lab, master, "", r#"["read", "write", "admin"]"#);
    let out = poke(
        &config,
        "url",
        &format!("SELECT 15;swapdb 14 15;MOVE {key} 15;COPY {key} {key} db 15;GET {key}"),
    );
    let in_db0: Option<String> = on_node(&lab, master, 0, redis::cmd("GET").arg(key));
    let in_db15: i64 = on_node(&lab, master, 15, redis::cmd("EXISTS").arg(key));
    cleanup();
    for i in 0..4 {
        assert_denied(&out, i, "databases other than the target's");
    }
    assert!(out.fact("error.1").unwrap().contains("SWAPDB"));
    assert_eq!(
        out.fact("reply.4").as_deref(),
        Some("v0"),
        "still on the target's database"
    );
    assert_eq!(in_db0.as_deref(), Some("v0"), "the key did not move");
    assert_eq!(in_db15, 0, "nothing was copied to database 15");
}

#[test]
fn scripts_modules_debug_and_outbound_commands_are_refused_even_for_admin() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let master = master_port(&lab);
    let key = "drhost:hostile:redis:migrate";
    let _: () = on_node(&lab, master, 0, redis::cmd("SET").arg(key).arg("v"));
    let listener = Listener::start();
    let lport = listener.port;
    let config = target_config(&lab, master, "", r#"["read", "write", "admin"]"#);
    let out = poke(
        &config,
        "url",
        &format!(
            "EVAL return(1) 0;fcall nosuchfunction 0;SCRIPT LOAD return(1);FUNCTION LOAD x;MODULE LOAD /nonexistent.so;DEBUG SLEEP 0;MIGRATE 127.0.0.1 {lport} {key} 0 200;CLUSTER MEET 127.0.0.1 {lport};GET {key}"
        ),
    );
    std::thread::sleep(Duration::from_millis(500));
    let still: Option<String> = on_node(&lab, master, 0, redis::cmd("GET").arg(key));
    let _: i64 = on_node(&lab, master, 0, redis::cmd("DEL").arg(key));
    for (i, says) in [
        "scripts and functions",
        "scripts and functions",
        "scripts and functions",
        "installs code",
        "installs code",
        "DEBUG",
        "connect to an address the plugin chooses",
        "connect to an address the plugin chooses",
    ]
    .into_iter()
    .enumerate()
    {
        assert_denied(&out, i, says);
    }
    assert_eq!(out.fact("reply.8").as_deref(), Some("v"));
    assert_eq!(still.as_deref(), Some("v"));
    assert_eq!(
        listener.connections(),
        0,
        "the server never connected to the plugin's address"
    );
}

#[test]
fn a_read_grant_cannot_block_the_server_with_keys() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let master = master_port(&lab);
    let config = target_config(&lab, master, "", r#"["read"]"#);
    let out = poke(
        &config,
        "url",
        "KEYS *;SCAN 0 COUNT 1;CONFIG GET requirepass;client kill id 1",
    );
    for i in [0, 2, 3] {
        assert_denied(&out, i, "access = [\"admin\"]");
    }
    assert!(out.fact("error.2").unwrap().contains("`CONFIG GET`"));
    assert!(out.fact("reply.1").is_some(), "SCAN is read: {}", out.stdout);
}

#[test]
fn a_hostile_sentinel_cannot_draw_the_password_to_its_address() {
    let lab = lab();
    let master = master_port(&lab);
    let trap = Listener::start();
    let sentinel = fake_sentinel(trap.port);
    let secret = TmpDir::new("drhost-redis-password-").into_file("redis-password", "hostile-test-secret-4711");
    let config = cli::config(&format!(
        "[targets.redis.cache]\nurl = \"redis://127.0.0.1:{master}\"\nsentinels = [\"127.0.0.1:{sentinel}\"]\nmaster_name = \"{}\"\npassword = \"file:{}\"\ntimeout = \"2s\"\n\n[[plugins.redis-poke.redis]]\ntarget = \"cache\"\naccess = [\"read\"]\n",
        lab.redis_master_name().unwrap(),
        secret.display()
    ));
    for open in ["master".to_string(), format!("node:127.0.0.1:{}", trap.port)] {
        let out = poke(&config, &open, "PING");
        assert_eq!(
            out.fact("open-error-kind").as_deref(),
            Some("access-denied"),
            "{open}: {}",
            out.stdout
        );
        let message = out.fact("open-error").unwrap();
        let line = format!("nodes = [\"127.0.0.1:{}\"]", trap.port);
        assert!(
            message.contains(&line) && message.contains("[targets.redis.cache]"),
            "{message}"
        );
        let journal = out.journal();
        let call = if open == "master" {
            "redis.open-master"
        } else {
            "redis.open-node"
        };
        assert_eq!(calls(&journal, call)[0]["outcome"]["error"]["kind"], "access-denied");
        assert!(!out.journal_text().contains("hostile-test-secret-4711"));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(trap.connections(), 0, "nothing connected to the reported address");
    assert!(!trap.received().contains("hostile-test-secret-4711"));
}

#[test]
fn the_real_sentinels_master_needs_a_nodes_line() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let master = master_port(&lab);
    let replica = lab.port("REDIS_REPLICA_PORT").unwrap();
    let replica = if replica == master {
        lab.port("REDIS_MASTER_PORT").unwrap()
    } else {
        replica
    };
    // The url names the replica; the master Sentinel reports is not listed.
    let config = target_config(&lab, replica, "", r#"["read"]"#);
    let out = poke(&config, "master", "PING");
    assert_eq!(
        out.fact("open-error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        out.stdout
    );
    assert!(out
        .fact("open-error")
        .unwrap()
        .contains(&format!("nodes = [\"127.0.0.1:{master}\"]")));
    let out = poke(&config, &format!("node:127.0.0.1:{master}"), "PING");
    assert_eq!(
        out.fact("open-error-kind").as_deref(),
        Some("access-denied"),
        "{}",
        out.stdout
    );

    // Listed: both work.
    let config = target_config(
        &lab,
        replica,
        &format!("nodes = [\"127.0.0.1:{master}\"]"),
        r#"["read"]"#,
    );
    assert_eq!(poke(&config, "master", "PING").fact("reply").as_deref(), Some("PONG"));
    let out = poke(&config, &format!("node:127.0.0.1:{master}"), "PING");
    assert_eq!(out.fact("reply").as_deref(), Some("PONG"), "{}", out.stdout);
}

#[test]
fn huge_replies_are_refused_and_the_connection_recovers() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let master = master_port(&lab);
    let (big, list) = ("drhost:hostile:redis:big", "drhost:hostile:redis:list");
    let cleanup = || {
        let _: i64 = on_node(&lab, master, 0, redis::cmd("DEL").arg(big).arg(list));
    };
    cleanup();
    let _: () = on_node(&lab, master, 0, redis::cmd("SET").arg(big).arg(vec![b'x'; 20 << 20]));
    for chunk in 0..15 {
        let items: Vec<String> = (0..10_000).map(|i| (chunk * 10_000 + i).to_string()).collect();
        let _: i64 = on_node(&lab, master, 0, redis::cmd("RPUSH").arg(list).arg(items));
    }
    let config = target_config(&lab, master, "", r#"["read"]"#);
    let out = poke(
        &config,
        "url",
        &format!("GET {big};STRLEN {big};LRANGE {list} 0 -1;LLEN {list};LRANGE {list} 0 9"),
    );
    cleanup();
    assert_eq!(
        out.fact("error-kind.0").as_deref(),
        Some("invalid-argument"),
        "{}",
        out.stdout
    );
    assert!(out.fact("error.0").unwrap().contains("16 MiB"));
    assert_eq!(
        out.fact("reply.1").as_deref(),
        Some("20971520"),
        "the next call reconnects"
    );
    assert_eq!(
        out.fact("error-kind.2").as_deref(),
        Some("invalid-argument"),
        "{}",
        out.stdout
    );
    assert!(out.fact("error.2").unwrap().contains("100000 elements"));
    assert_eq!(out.fact("reply.3").as_deref(), Some("150000"));
    assert!(out.fact("reply.4").is_some(), "a bounded range works");
    let journal = out.journal();
    let commands = calls(&journal, "redis.command");
    assert_eq!(commands[0]["outcome"]["error"]["kind"], "invalid-argument");
}

#[test]
fn sentinel_reconfiguration_is_refused_even_for_admin() {
    let _serial = drhost_tests::lab::serial();
    let lab = lab();
    let before = sentinel_views(&lab);
    let name = lab.redis_master_name().unwrap().to_string();
    let sentinel = lab.sentinel_ports().unwrap()[0];
    // The url names a Sentinel; names of masters that do not exist keep
    // every command harmless even if one got through.
    let config = target_config(&lab, sentinel, "", r#"["read", "write", "admin"]"#);
    let out = poke(
        &config,
        "url",
        &format!(
            "SENTINEL REMOVE drhost-no-such-master;sentinel set drhost-no-such-master quorum 1;SENTINEL reset drhost-no-such-master-*;SENTINEL IS-MASTER-DOWN-BY-ADDR 127.0.0.1 1 0 *;SENTINEL CONFIG SET announce-hostnames no;SENTINEL get-master-addr-by-name {name}"
        ),
    );
    for i in 0..5 {
        assert_denied(&out, i, "changes what Sentinel monitors");
    }
    assert!(out.fact("error.0").unwrap().contains("`SENTINEL REMOVE`"));
    assert!(out.fact("reply.5").is_some(), "queries stay allowed: {}", out.stdout);
    assert_eq!(sentinel_views(&lab), before);
}
