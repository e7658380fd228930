//! The lab: connection settings of the real services `make lab` runs on
//! 127.0.0.1 (read from `.lab/env`) and ready clients for each of them, built
//! with the same crates the host uses.
//!
//! This module only *reaches* the lab. It never starts, stops or reseeds a
//! service — that is `lab/up.sh`'s job — and it never skips: when the lab is
//! not up, [`Lab::load`] fails with "run `make lab` first" and so does every
//! test that needs it. Each key of `.lab/env` is documented in `lab/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// Held while a test uses the shared lab: an in-process mutex (tests of one
/// binary run on threads) and an exclusive `flock` on `.lab/tests.lock`
/// (test binaries, or `cargo nextest` processes, run side by side), so a
/// test that faults the lab — kills a backend, drops the database, fails
/// Redis over — never overlaps another test anywhere. Released on drop,
/// also while a failed test unwinds.
pub struct Serial {
    _thread: std::sync::MutexGuard<'static, ()>,
    _file: std::fs::File,
}

/// Waits for the lab: see [`Serial`].
pub fn serial() -> Serial {
    use std::os::unix::io::AsRawFd;
    static THREADS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let thread = THREADS.lock().unwrap_or_else(|p| p.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let dir = root.join(".lab");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("tests.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the lab lock {}: {e}", path.display()));
    // SAFETY: flock on a descriptor we own; it blocks until the lock is ours.
    // The descriptor is close-on-exec (std opens with O_CLOEXEC), so no
    // server a test starts inherits the lock.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(
        locked,
        0,
        "cannot lock {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    Serial {
        _thread: thread,
        _file: file,
    }
}

/// A single-threaded tokio runtime for a test's calls to the lab's clients.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The lab's Redis master and replica ports, asserting the Sentinels name
/// the canonical master (`REDIS_MASTER_PORT`), as every Redis test starts.
pub fn canonical_redis(lab: &Lab) -> (u16, u16) {
    let master = lab.port("REDIS_MASTER_PORT").unwrap();
    let replica = lab.port("REDIS_REPLICA_PORT").unwrap();
    assert_eq!(
        runtime().block_on(lab.redis_master_addr()).unwrap().1,
        master,
        "the lab starts canonical"
    );
    (master, replica)
}

/// The lab, for a test: panics naming `make lab` when it is not up.
pub fn up() -> Lab {
    Lab::load().expect("the lab is up (make lab)")
}

/// The running lab, as described by `.lab/env`.
#[derive(Clone, Debug)]
pub struct Lab {
    root: PathBuf,
    vars: BTreeMap<String, String>,
}

impl Lab {
    /// Reads `<repo>/.lab/env`, written by `make lab` (`lab/up.sh`).
    ///
    /// Fails with a message naming `make lab` when the file is absent, i.e.
    /// when the lab is not up.
    pub fn load() -> Result<Lab> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or_else(|| anyhow!("tests crate has no parent directory"))?
            .to_path_buf();
        Lab::from_file(&root.join(".lab").join("env"))
    }

    /// Reads a lab env file at `path` (`KEY=value` lines; `#` comments and
    /// blank lines ignored). The repository root is taken to be the parent of
    /// the file's directory.
    pub fn from_file(path: &Path) -> Result<Lab> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow!(
                "the lab is not up: cannot read {} ({e}); run `make lab` first",
                path.display()
            )
        })?;
        let mut vars = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| anyhow!("{}:{}: expected KEY=value", path.display(), n + 1))?;
            vars.insert(k.trim().to_string(), v.trim().to_string());
        }
        let root = path
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(Lab { root, vars })
    }

    /// `bash` for running a lab script (`lab/up.sh`, …) on this lab: the
    /// repository root as its directory and `LAB_DIR` set to this lab's
    /// `.lab`, whatever the caller's environment says — a relative
    /// `LAB_DIR` from the shell would otherwise name a second lab under
    /// `tests/` (cargo runs tests there), which the script would start.
    pub fn bash(&self) -> std::process::Command {
        let mut bash = std::process::Command::new("bash");
        bash.current_dir(&self.root).env("LAB_DIR", self.root.join(".lab"));
        bash
    }

    /// The repository root (the directory holding `.lab/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The checkout this lab belongs to: the parent of `.lab`'s real path.
    /// A git worktree may share another checkout's lab through a symbolic
    /// link `.lab`; that checkout's `lab/` scripts put the lab in its
    /// present shape, so they are the ones that can put it back.
    pub fn home(&self) -> PathBuf {
        std::fs::canonicalize(self.root.join(".lab"))
            .ok()
            .and_then(|dir| dir.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| self.root.clone())
    }

    /// [`Lab::bash`] in the lab's [`Lab::home`]: for a script that must
    /// bring the whole lab back as its own checkout made it (`lab/up.sh`
    /// after a fault that took every stack down).
    pub fn home_bash(&self) -> std::process::Command {
        let home = self.home();
        let mut bash = std::process::Command::new("bash");
        bash.current_dir(&home).env("LAB_DIR", home.join(".lab"));
        bash
    }

    /// Every setting, for handing to a child process as its environment.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// One setting of `.lab/env`; an error names the missing key.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| anyhow!("`.lab/env` has no {key}; run `make lab` again (lab/up.sh writes every key)"))
    }

    /// A setting parsed as a port number.
    pub fn port(&self, key: &str) -> Result<u16> {
        let v = self.get(key)?;
        v.parse().with_context(|| format!("{key}={v} is not a port"))
    }

    /// The path of a lab file, e.g. `lab.path(".lab/drhost.toml")`.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    // --- PostgreSQL ---------------------------------------------------------

    /// `PG_URL`: `postgresql://postgres@127.0.0.1:PORT/toolboxai` — never
    /// with the password (that is in [`Lab::pg_password`]).
    pub fn pg_url(&self) -> Result<&str> {
        self.get("PG_URL")
    }

    /// The `postgres` user's password, read from `PG_PASSWORD_FILE`
    /// (`.lab/secrets/pg-password`, 0600). TCP logins need it (scram-sha-256);
    /// the unix socket in `PG_SOCKET_DIR` does not (trust).
    pub fn pg_password(&self) -> Result<String> {
        let file = self.get("PG_PASSWORD_FILE")?;
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the lab's Postgres password from {file}; run `make lab` again"))?;
        let password = text.trim_end_matches(['\n', '\r']);
        if password.is_empty() {
            bail!("{file} is empty; run `make lab` again");
        }
        Ok(password.to_string())
    }

    /// `PG_CA_FILE`: the lab CA's certificate, which signed the server's
    /// (SAN `IP:127.0.0.1`, `DNS:localhost`) — for `sslmode=verify-full`.
    pub fn pg_ca_file(&self) -> Result<PathBuf> {
        Ok(PathBuf::from(self.get("PG_CA_FILE")?))
    }

    /// Connection settings for `database` over TCP as `PG_USER`, with the
    /// password. Plain TCP: the server offers TLS, but does not require it.
    pub fn pg_config_for(&self, database: &str) -> Result<tokio_postgres::Config> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(self.get("PG_HOST")?)
            .port(self.port("PG_PORT")?)
            .user(self.get("PG_USER")?)
            .dbname(database)
            .password(self.pg_password()?)
            .connect_timeout(Duration::from_secs(10));
        Ok(config)
    }

    /// A connected client for database `toolboxai` (password, no TLS). The
    /// connection task runs on the current tokio runtime.
    pub async fn pg_client(&self) -> Result<tokio_postgres::Client> {
        let db = self.get("PG_DATABASE")?.to_string();
        self.pg_client_for(&db).await
    }

    /// A connected client for another database of the lab's cluster (e.g.
    /// `postgres`, to create or drop a scratch database).
    pub async fn pg_client_for(&self, database: &str) -> Result<tokio_postgres::Client> {
        // Named without the password: this text goes into error messages.
        let shown = format!(
            "postgresql://{}@{}:{}/{database}",
            self.get("PG_USER")?,
            self.get("PG_HOST")?,
            self.port("PG_PORT")?
        );
        let (client, connection) = self
            .pg_config_for(database)?
            .connect(tokio_postgres::NoTls)
            .await
            .with_context(|| format!("connecting to Postgres at {shown} (password from PG_PASSWORD_FILE)"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("lab: postgres connection ended: {e}");
            }
        });
        Ok(client)
    }

    // --- Redis + Sentinel ---------------------------------------------------

    /// `REDIS_MASTER_NAME`, the set the Sentinels monitor (`toolboxai-master`).
    pub fn redis_master_name(&self) -> Result<&str> {
        self.get("REDIS_MASTER_NAME")
    }

    /// The three Sentinel ports (`SENTINEL_PORTS`).
    pub fn sentinel_ports(&self) -> Result<Vec<u16>> {
        self.get("SENTINEL_PORTS")?
            .split(',')
            .map(|p| {
                p.trim()
                    .parse()
                    .with_context(|| format!("SENTINEL_PORTS has a bad port {p:?}"))
            })
            .collect()
    }

    /// The last `lines` lines of the Redis and Sentinel logs
    /// (`.lab/log/redis-*.log`, `sentinel-*.log`), each under its name: what
    /// a failed Redis test prints, since CI keeps no lab logs.
    pub fn redis_log_tails(&self, lines: usize) -> String {
        let mut names: Vec<String> = ["REDIS_MASTER_PORT", "REDIS_REPLICA_PORT"]
            .iter()
            .filter_map(|k| self.get(k).ok().map(|p| format!("redis-{p}.log")))
            .collect();
        names.extend(
            self.sentinel_ports()
                .unwrap_or_default()
                .iter()
                .map(|p| format!("sentinel-{p}.log")),
        );
        let mut out = String::new();
        for name in names {
            let text = std::fs::read_to_string(self.path(&format!(".lab/log/{name}"))).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- .lab/log/{name} (last {lines} lines)\n"));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// A connection to the Redis server (or Sentinel) on 127.0.0.1:`port`,
    /// as the lab runs them: TLS with the lab's CA (`REDIS_CA_FILE`), with
    /// the data nodes' password or, on a Sentinel port, the Sentinels'.
    pub async fn redis_at(&self, port: u16) -> Result<redis::aio::MultiplexedConnection> {
        let addr = format!("127.0.0.1:{port}");
        let password_file = self.redis_password_key(port)?;
        let password = self.secret_file(password_file)?;
        let root_cert =
            std::fs::read(self.get("REDIS_CA_FILE")?).context("reading the lab's Redis CA (REDIS_CA_FILE)")?;
        let info = redis::ConnectionInfo {
            addr: redis::ConnectionAddr::TcpTls {
                host: "127.0.0.1".to_string(),
                port,
                insecure: false,
                tls_params: None,
            },
            redis: redis::RedisConnectionInfo {
                password: Some(password),
                ..Default::default()
            },
        };
        let tls = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        };
        ring_as_default();
        let client = redis::Client::build_with_tls(info, tls).with_context(|| format!("redis client for {addr}"))?;
        tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection())
            .await
            .with_context(|| format!("connecting to {addr} (TLS) timed out"))?
            .with_context(|| format!("connecting to {addr} (TLS, password from {password_file})"))
    }

    /// The lines of a `[targets.redis.<label>]` that reach the lab's Redis
    /// as it runs (TLS with its CA, the data nodes' and the Sentinels'
    /// passwords as file references); the url must be `rediss://`.
    pub fn redis_auth_toml(&self) -> Result<String> {
        self.redis_auth_toml_with("REDIS_PASSWORD_FILE", true)
    }

    /// [`Lab::redis_auth_toml`] with the data password read from the file
    /// named by setting `password_key`, and `sentinel_password` only when
    /// `sentinel_password` is true.
    pub fn redis_auth_toml_with(&self, password_key: &str, sentinel_password: bool) -> Result<String> {
        let mut toml = format!(
            "ca_file = \"{}\"\npassword = \"file:{}\"\n",
            self.get("REDIS_CA_FILE")?,
            self.get(password_key)?
        );
        if sentinel_password {
            toml.push_str(&format!(
                "sentinel_password = \"file:{}\"\n",
                self.get("SENTINEL_PASSWORD_FILE")?
            ));
        }
        Ok(toml)
    }

    /// The setting naming the file of the password that Redis `port` of
    /// the lab asks for: the Sentinels' on a Sentinel port, else the data
    /// nodes'.
    pub fn redis_password_key(&self, port: u16) -> Result<&'static str> {
        Ok(if self.sentinel_ports()?.contains(&port) {
            "SENTINEL_PASSWORD_FILE"
        } else {
            "REDIS_PASSWORD_FILE"
        })
    }

    /// The content of the secret file named by setting `key` (e.g.
    /// `REDIS_PASSWORD_FILE`), without its trailing newline.
    pub fn secret_file(&self, key: &str) -> Result<String> {
        let path = self.get(key)?;
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {key} ({path})"))?;
        Ok(text.trim_end().to_string())
    }

    /// `redis-cli` for data node (or Sentinel) `port` of the lab, as an
    /// operator would type it: `--tls --cacert CA -h 127.0.0.1 -p PORT`,
    /// the password in `REDISCLI_AUTH`. Add the command's arguments.
    pub fn redis_cli(&self, port: u16) -> Result<std::process::Command> {
        let password_file = self.redis_password_key(port)?;
        let mut cli = std::process::Command::new("redis-cli");
        cli.env("REDISCLI_AUTH", self.secret_file(password_file)?)
            .args(["--tls", "--cacert", self.get("REDIS_CA_FILE")?, "-h", "127.0.0.1", "-p"])
            .arg(port.to_string());
        Ok(cli)
    }

    /// The current master's address as the Sentinels report it (the first
    /// Sentinel that answers) — after a failover this is no longer
    /// `REDIS_MASTER_PORT`.
    /// Each Sentinel's `get-master-addr-by-name` port for the lab's master
    /// name, in `sentinel_ports` order (`None` when one does not answer
    /// within 2 s or knows no master).
    pub async fn sentinel_views(&self) -> Vec<Option<u16>> {
        let name = self.redis_master_name().unwrap_or_default().to_string();
        let mut views = Vec::new();
        for port in self.sentinel_ports().unwrap_or_default() {
            let view = async {
                let mut con = tokio::time::timeout(Duration::from_secs(2), self.redis_at(port))
                    .await
                    .ok()?
                    .ok()?;
                let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&name)
                    .query_async(&mut con)
                    .await
                    .ok()?;
                addr.map(|(_, p)| p)
            }
            .await;
            views.push(view);
        }
        views
    }

    pub async fn redis_master_addr(&self) -> Result<(String, u16)> {
        let name = self.redis_master_name()?;
        let mut errors = Vec::new();
        for port in self.sentinel_ports()? {
            let reply: Result<(String, u16)> = async {
                let mut con = self.redis_at(port).await?;
                let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(name)
                    .query_async(&mut con)
                    .await?;
                addr.ok_or_else(|| anyhow!("sentinel knows no master {name}"))
            }
            .await;
            match reply {
                Ok(addr) => return Ok(addr),
                Err(e) => errors.push(format!("sentinel {port}: {e:#}")),
            }
        }
        bail!("no sentinel reported master {name}: {}", errors.join("; "))
    }

    /// A connection to the current master (found through the Sentinels).
    pub async fn redis_master(&self) -> Result<redis::aio::MultiplexedConnection> {
        let (host, port) = self.redis_master_addr().await?;
        if host != "127.0.0.1" {
            bail!("sentinels report master at {host}:{port}, outside the lab's loopback");
        }
        self.redis_at(port).await
    }

    // --- S3 (moto) ----------------------------------------------------------

    /// An S3 client for `S3_ENDPOINT` (path-style, static lab credentials).
    pub fn s3_client(&self) -> Result<aws_sdk_s3::Client> {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let credentials = Credentials::new(
            self.get("AWS_ACCESS_KEY_ID")?,
            self.get("AWS_SECRET_ACCESS_KEY")?,
            None,
            None,
            "drhost-lab",
        );
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.get("S3_ENDPOINT")?)
            .region(Region::new(self.get("S3_REGION")?.to_string()))
            .credentials_provider(credentials)
            .force_path_style(true)
            .http_client(drhost::caps::s3::http_client())
            .build();
        Ok(aws_sdk_s3::Client::from_conf(config))
    }

    /// `S3_BUCKET` (`toolboxai-backups`).
    pub fn s3_bucket(&self) -> Result<&str> {
        self.get("S3_BUCKET")
    }

    // --- Vault API (OpenBao) ------------------------------------------------

    /// A client for the dev-mode OpenBao (`VAULT_ADDR`, root `VAULT_TOKEN`;
    /// KV v2 at `secret/`).
    pub fn vault_client(&self) -> Result<vaultrs::client::VaultClient> {
        vault(self.get("VAULT_ADDR")?, self.get("VAULT_TOKEN")?)
    }

    /// A client for the raft-storage OpenBao (`VAULT_RAFT_ADDR`, its root
    /// token `VAULT_RAFT_TOKEN`), the one that can take and restore snapshots.
    pub fn vault_raft_client(&self) -> Result<vaultrs::client::VaultClient> {
        vault(self.get("VAULT_RAFT_ADDR")?, self.get("VAULT_RAFT_TOKEN")?)
    }

    /// `GET <addr>/v1/sys/health` as JSON, whatever the status code (vaultrs'
    /// `sys::status` cannot parse OpenBao's reply).
    pub async fn vault_health(&self, addr: &str) -> Result<serde_json::Value> {
        let url = format!("{addr}/v1/sys/health");
        let reply = self
            .http()
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        reply.json().await.with_context(|| format!("GET {url}: not JSON"))
    }

    // --- Docker, registry, HTTP ---------------------------------------------

    /// A Docker client for `DOCKER_HOST`, with the API version negotiated
    /// (the lab's Debian daemon speaks API 1.41, older than bollard's default).
    pub async fn docker(&self) -> Result<bollard::Docker> {
        let host = self.get("DOCKER_HOST")?;
        let docker = if host.starts_with("unix://") {
            bollard::Docker::connect_with_unix(host, 120, bollard::API_DEFAULT_VERSION)
        } else {
            bollard::Docker::connect_with_http(host, 120, bollard::API_DEFAULT_VERSION)
        }
        .with_context(|| format!("docker client for {host}"))?;
        docker
            .negotiate_version()
            .await
            .with_context(|| format!("negotiating the Docker API version with {host}"))
    }

    /// `REGISTRY`: the OCI registry as `127.0.0.1:PORT` (for image references).
    pub fn registry(&self) -> Result<&str> {
        self.get("REGISTRY")
    }

    /// A plain HTTP client with a short timeout, for `/health`, `/v2/` and the like.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    }

    /// `BACKEND1_URL`..`BACKEND3_URL`: each backend's published HTTP port.
    pub fn backend_urls(&self) -> Result<Vec<String>> {
        (1..=3)
            .map(|i| self.get(&format!("BACKEND{i}_URL")).map(str::to_string))
            .collect()
    }

    /// `NGINX_URL`: the `toolboxai-nginx-proxy` published port.
    pub fn nginx_url(&self) -> Result<&str> {
        self.get("NGINX_URL")
    }
}

/// Ring as the process's TLS crypto provider: the lab's Vault (vaultrs'
/// reqwest is built without one, so no aws-lc) and Redis clients use it,
/// as the host does. An error means one is installed already.
fn ring_as_default() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn vault(addr: &str, token: &str) -> Result<vaultrs::client::VaultClient> {
    ring_as_default();
    let settings = vaultrs::client::VaultClientSettingsBuilder::default()
        .address(addr)
        .token(token)
        .timeout(Some(Duration::from_secs(10)))
        .build()
        .with_context(|| format!("vault client settings for {addr}"))?;
    vaultrs::client::VaultClient::new(settings).with_context(|| format!("vault client for {addr}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_env_lines_and_finds_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".lab")).unwrap();
        let file = dir.path().join(".lab/env");
        std::fs::write(&file, "# comment\nPG_PORT=27432\n\nSENTINEL_PORTS=1,2,3\nURL=a=b\n").unwrap();
        let lab = Lab::from_file(&file).unwrap();
        assert_eq!(lab.port("PG_PORT").unwrap(), 27432);
        assert_eq!(lab.sentinel_ports().unwrap(), vec![1, 2, 3]);
        assert_eq!(lab.get("URL").unwrap(), "a=b");
        assert_eq!(lab.root(), dir.path());
        assert!(lab.get("NOPE").unwrap_err().to_string().contains("NOPE"));
    }

    #[test]
    fn missing_env_names_make_lab() {
        let err = Lab::from_file(Path::new("/nonexistent/.lab/env")).unwrap_err();
        assert!(err.to_string().contains("run `make lab` first"), "{err}");
    }
}
