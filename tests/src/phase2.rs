//! Runbook scenario 3 on the lab: a ToolboxAI stack of the test's own from
//! `lab/stack/phase2/docker-compose.phase2.yml` (Vault with raft storage,
//! Redis master, replica and three Sentinels over TLS with passwords, three
//! backends, the proxy) under a unique project name, never the lab's
//! `toolboxai` or `phase2`; a project directory with its `.env` (free
//! loopback ports, the lab's Postgres socket and Redis password files), its
//! certificates (a CA and a server pair for 127.0.0.1 made by `openssl`;
//! Redis serves TLS with them), Vault's root token and unseal keys; and
//! the **complete loss** fault: the project down with its volumes, the
//! certificates directory deleted, the Docker secret removed (S3 and the
//! database survive). Dropping a [`Phase2`] takes the project down with its
//! volumes, deletes its S3 objects and puts the lab's own Docker secret
//! back. [`LabStack`] is the lab's own scenario-3 stack
//! (`lab/stack/phase2.sh`, compose project `phase2`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::{repo_root, succeeded, Outcome, Run};
use crate::compose::{containers_of, Seen};
use crate::lab::{runtime as rt, up as lab, Lab};
use crate::tmp::TmpDir;
use crate::util::unique;

/// Each file of a certificates directory, by name: its bytes and mode.
pub type CertificateFiles = HashMap<String, (Vec<u8>, u32)>;

/// The Docker secret the runbook creates (`docker secret create vault_token -`).
pub const DOCKER_SECRET: &str = "vault_token";
/// The KV v2 path the tests write before a loss and read back after it.
pub const KNOWN_SECRET: &str = "secret/toolboxai/supabase";
/// infra-restore's phases, in order: each reports `phase-<name>-ms`.
pub const PHASES: [&str; 7] = [
    "assess",
    "provision",
    "certificates",
    "secrets",
    "vault",
    "services",
    "verify",
];

/// `docker ARGS` against the lab's engine (`DOCKER_HOST` of `.lab/env`).
fn docker_cli(lab: &Lab, args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(args)
        .env("DOCKER_HOST", lab.get("DOCKER_HOST").expect("DOCKER_HOST in .lab/env"));
    cmd
}

/// The status and JSON body of one Vault API call (status 0 when Vault did
/// not answer within the lab client's 10 s).
fn vault_call(lab: &Lab, method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    rt().block_on(async {
        let mut req = lab.http().request(method.parse().expect("method"), url);
        if let Some(token) = token {
            req = req.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        match req.send().await {
            Ok(reply) => {
                let status = reply.status().as_u16();
                (status, reply.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    })
}

/// One scenario-3 stack a test owns.
pub struct Phase2 {
    /// The lab (Docker, S3, Postgres, Redis).
    pub lab: Lab,
    /// The compose project name.
    pub project: String,
    /// Vault's published loopback port.
    pub vault_port: u16,
    /// The proxy's published loopback port.
    pub proxy_port: u16,
    /// The loopback TLS ports of the Redis master, the replica and the
    /// three Sentinels (host network), in that order.
    pub redis_ports: [u16; 5],
    dir: TmpDir,
}

/// The compose file's services: what a healthy stack runs, one container each.
pub const SERVICES: [&str; 10] = [
    "vault",
    "redis-master",
    "redis-replica",
    "redis-sentinel1",
    "redis-sentinel2",
    "redis-sentinel3",
    "backend1",
    "backend2",
    "backend3",
    "nginx-proxy",
];

/// The master name the stack's Sentinels monitor (the compose file's).
pub const REDIS_MASTER_NAME: &str = "toolboxai-master";

/// A loopback port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The grant tables not named in `without`, each followed by a blank line.
fn tables_without<const N: usize>(tables: [(&str, String); N], without: &[&str]) -> String {
    let mut text = String::new();
    for (name, table) in tables {
        if !without.contains(&name) {
            text.push_str(&table);
            text.push('\n');
        }
    }
    text
}

/// A scenario-3 stack's Redis as seen from the host: its CA copy and the
/// loopback ports of the master, the replica and the three Sentinels.
pub struct StackRedis<'a> {
    lab: &'a Lab,
    ca: PathBuf,
    ports: [u16; 5],
}

impl<'a> StackRedis<'a> {
    /// The stack's Redis with CA certificate `ca` on `ports` (master,
    /// replica, Sentinels).
    pub fn of(lab: &'a Lab, ca: PathBuf, ports: [u16; 5]) -> StackRedis<'a> {
        StackRedis { lab, ca, ports }
    }

    /// `redis-cli` over TLS to the node or Sentinel on `port`, with its
    /// password (in the environment, never an argument); what it printed.
    pub fn cli(&self, port: u16, args: &[&str]) -> String {
        let key = if self.ports[2..].contains(&port) {
            "SENTINEL_PASSWORD_FILE"
        } else {
            "REDIS_PASSWORD_FILE"
        };
        let password = std::fs::read_to_string(self.lab.get(key).expect(key)).expect("the password file");
        let out = Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(&self.ca)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .env("REDISCLI_AUTH", password.trim())
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// Asserts a stack's Redis serves as the runbook's step 7 checks it, seen
/// from outside drhost: the master answers PING over TLS with its password,
/// the replica's link to it is up, and every Sentinel names it (waiting up
/// to 20 s for the replica's first sync).
pub fn assert_redis_serves(redis: &StackRedis) {
    let [master, replica, sentinels @ ..] = redis.ports;
    assert_eq!(redis.cli(master, &["PING"]), "PONG", "the master answers PING");
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let info = redis.cli(replica, &["INFO", "replication"]);
        if info.contains("master_link_status:up") && info.contains(&format!("master_port:{master}")) {
            break;
        }
        assert!(Instant::now() < until, "the replica never linked to {master}: {info}");
        std::thread::sleep(Duration::from_millis(250));
    }
    for sentinel in sentinels {
        let said = redis.cli(sentinel, &["SENTINEL", "get-master-addr-by-name", REDIS_MASTER_NAME]);
        assert_eq!(
            said,
            format!("127.0.0.1\n{master}"),
            "Sentinel {sentinel} names the master"
        );
    }
}

impl Phase2 {
    /// A new project (not started): `.env`, certificates, free ports.
    pub fn create() -> Phase2 {
        let lab = lab();
        let dir = TmpDir::new("drhost-phase2-");
        let (vault_port, proxy_port) = (free_port(), free_port());
        let redis_ports = [free_port(), free_port(), free_port(), free_port(), free_port()];
        let [master, replica, s1, s2, s3] = redis_ports;
        let env = format!(
            "PHASE2_VAULT_PORT={vault_port}\nPHASE2_PROXY_PORT={proxy_port}\nPHASE2_CERTS_DIR={}\nPHASE2_REDIS_MASTER_PORT={master}\nPHASE2_REDIS_REPLICA_PORT={replica}\nPHASE2_SENTINEL1_PORT={s1}\nPHASE2_SENTINEL2_PORT={s2}\nPHASE2_SENTINEL3_PORT={s3}\nLAB_PG_SOCKET_DIR={}\nLAB_PG_PORT={}\nLAB_REDIS_PASSWORD_FILE={}\nLAB_SENTINEL_PASSWORD_FILE={}\n",
            dir.path().join("certificates").display(),
            lab.get("PG_SOCKET_DIR").expect("PG_SOCKET_DIR"),
            lab.get("PG_PORT").expect("PG_PORT"),
            lab.get("REDIS_PASSWORD_FILE").expect("REDIS_PASSWORD_FILE"),
            lab.get("SENTINEL_PASSWORD_FILE").expect("SENTINEL_PASSWORD_FILE"),
        );
        dir.write(".env", env);
        let stack = Phase2 {
            lab,
            project: unique("p2"),
            vault_port,
            proxy_port,
            redis_ports,
            dir,
        };
        stack.make_certificates();
        stack
    }

    /// `lab/stack/phase2/docker-compose.phase2.yml`.
    pub fn file() -> PathBuf {
        repo_root().join("lab/stack/phase2/docker-compose.phase2.yml")
    }

    /// The project directory (`.env`, tokens, keys).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The certificates directory the stack mounts.
    pub fn certificates(&self) -> PathBuf {
        self.dir().join("certificates")
    }

    /// The CA certificate drhost's redis target trusts (outside the
    /// certificates directory).
    pub fn redis_ca(&self) -> PathBuf {
        self.dir().join("redis-ca.crt")
    }

    /// The stack's Redis, as the host sees it.
    pub fn redis(&self) -> StackRedis<'_> {
        StackRedis::of(&self.lab, self.redis_ca(), self.redis_ports)
    }

    /// Asserts the stack's Redis serves ([`assert_redis_serves`]).
    pub fn assert_redis_serves(&self) {
        assert_redis_serves(&self.redis());
    }

    /// This project's key prefix in the lab's bucket.
    pub fn s3_prefix(&self) -> String {
        format!("{}/", self.project)
    }

    /// The proxy's health URL.
    pub fn health_url(&self) -> String {
        format!("http://127.0.0.1:{}/health", self.proxy_port)
    }

    fn vault_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/v1/{path}", self.vault_port)
    }

    /// A CA certificate and a server certificate for 127.0.0.1 and
    /// localhost and its key signed by it (valid two days), the key 0600;
    /// the CA's key is not kept. A copy of the CA certificate outside the
    /// certificates directory (`redis-ca.crt`, the operator's, which the
    /// loss leaves) is what drhost's redis target trusts.
    fn make_certificates(&self) {
        let certs = self.certificates();
        std::fs::create_dir_all(&certs).expect("certificates dir");
        let scratch = TmpDir::new("drhost-ca-");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let san = scratch.path().join("san.cnf");
        std::fs::write(&san, "subjectAltName = IP:127.0.0.1, DNS:localhost\n").expect("write san.cnf");
        run_ok(
            Command::new("openssl")
                .args(["req", "-x509"])
                .args(ec)
                .args(["-days", "2", "-subj", "/CN=toolboxai-lab-ca", "-keyout"])
                .arg(scratch.path().join("ca.key"))
                .arg("-out")
                .arg(certs.join("ca.crt")),
        );
        run_ok(
            Command::new("openssl")
                .arg("req")
                .args(ec)
                .args(["-subj", "/CN=localhost", "-keyout"])
                .arg(certs.join("server.key"))
                .arg("-out")
                .arg(scratch.path().join("server.csr")),
        );
        run_ok(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-in"])
                .arg(scratch.path().join("server.csr"))
                .arg("-CA")
                .arg(certs.join("ca.crt"))
                .arg("-CAkey")
                .arg(scratch.path().join("ca.key"))
                .arg("-CAcreateserial")
                .arg("-extfile")
                .arg(&san)
                .arg("-out")
                .arg(certs.join("server.crt")),
        );
        std::fs::copy(certs.join("ca.crt"), self.redis_ca()).expect("copy the CA certificate");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(certs.join("server.key"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let _ = std::fs::remove_file(certs.join("ca.srl"));
    }

    /// The real compose CLI on this project (with its project directory).
    pub fn compose(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(["--ansi", "never", "-f"])
            .arg(Self::file())
            .arg("--project-directory")
            .arg(self.dir())
            .args(["-p", &self.project])
            .args(args)
            .env("DOCKER_HOST", self.lab.get("DOCKER_HOST").expect("DOCKER_HOST"))
            .output()
            .expect("docker-compose runs (apt-get install docker-compose)")
    }

    /// `up -d` of every service from the test.
    pub fn up(&self) {
        let out = self.compose(&["up", "-d", "--no-build"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Service → its container, as the engine reports them.
    pub fn containers(&self) -> HashMap<String, Seen> {
        containers_of(&self.lab, &self.project)
    }

    /// The status and JSON body of one Vault call.
    pub fn vault(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        vault_call(&self.lab, method, &self.vault_url(path), token, body)
    }

    /// Waits until Vault answers `sys/health` with `want` (within 30 s).
    fn vault_health(&self, want: &[u16]) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, _) = self.vault("GET", "sys/health", None, None);
            if want.contains(&status) {
                return;
            }
            assert!(
                Instant::now() < until,
                "Vault on port {} answered {status}",
                self.vault_port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The root token (written by [`Phase2::init_vault`]).
    pub fn root_token(&self) -> String {
        std::fs::read_to_string(self.dir().join("root-token")).expect("root token")
    }

    /// The unseal key (written by [`Phase2::init_vault`]).
    pub fn unseal_key(&self) -> String {
        let keys: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir().join("unseal-keys.json")).unwrap()).unwrap();
        keys["keys_base64"][0].as_str().unwrap().to_string()
    }

    /// Initialises the running Vault (one share), keeps its root token and
    /// unseal keys in 0600 files, unseals it, mounts KV v2 at `secret/`.
    pub fn init_vault(&self) {
        self.vault_health(&[501]);
        let (status, init) = self.vault(
            "PUT",
            "sys/init",
            None,
            Some(json!({"secret_shares": 1, "secret_threshold": 1})),
        );
        assert_eq!(status, 200, "sys/init: {init}");
        use std::os::unix::fs::OpenOptionsExt;
        let write = |name: &str, text: &str| {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(self.dir().join(name))
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        };
        write("root-token", init["root_token"].as_str().unwrap());
        write("unseal-keys.json", &init.to_string());
        let (status, _) = self.vault("PUT", "sys/unseal", None, Some(json!({"key": self.unseal_key()})));
        assert_eq!(status, 200);
        self.vault_health(&[200]);
        let token = self.root_token();
        let (status, body) = self.vault(
            "POST",
            "sys/mounts/secret",
            Some(&token),
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        );
        assert!(status == 204 || status == 200, "mount kv: {status} {body}");
    }

    /// Writes `fields` at `path` (MOUNT/PATH) in KV v2.
    pub fn write_secret(&self, path: &str, fields: Value) {
        let (mount, rest) = path.split_once('/').unwrap();
        // A new mount takes a moment to answer writes (its upgrade runs
        // after the mount call returns): retry while Vault says so.
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, body) = self.vault(
                "POST",
                &format!("{mount}/data/{rest}"),
                Some(&self.root_token()),
                Some(json!({ "data": fields })),
            );
            if status == 200 {
                return;
            }
            assert!(Instant::now() < until, "write {path}: HTTP {status} {body}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The fields at `path`, or None with the HTTP status.
    pub fn read_secret(&self, path: &str) -> Result<Value, u16> {
        let (mount, rest) = path.split_once('/').unwrap();
        let (status, body) = self.vault("GET", &format!("{mount}/data/{rest}"), Some(&self.root_token()), None);
        if status == 200 {
            Ok(body["data"]["data"].clone())
        } else {
            Err(status)
        }
    }

    /// Whether the lab's engine holds the Docker secret `name`.
    pub fn docker_secret_exists(&self, name: &str) -> bool {
        let out = docker_cli(&self.lab, &["secret", "inspect", name])
            .output()
            .expect("docker");
        out.status.success()
    }

    /// The engine's swarm state (`docker info`'s `Swarm.LocalNodeState`
    /// and `Swarm.NodeAddr`), e.g. `active 127.0.0.1` or `inactive `.
    pub fn swarm_state(&self) -> String {
        let out = run_ok(&mut docker_cli(
            &self.lab,
            &["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.NodeAddr}}"],
        ));
        String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string()
    }

    /// The rest of the runbook's complete loss, for a test that restarts
    /// the engine and puts the whole lab back afterwards: the engine leaves
    /// its swarm (`docker swarm leave --force`), and every Docker secret
    /// goes with it — the lab's own `vault_token` too, which `lab/up.sh`
    /// makes again. Docker 20.10 also detaches every running container of
    /// the engine from its networks when it leaves (their endpoints and
    /// published ports vanish, the swarm's or not), so no other test may
    /// call this: [`Phase2::complete_loss`] keeps the swarm.
    pub fn leave_swarm(&self) {
        run_ok(&mut docker_cli(&self.lab, &["swarm", "leave", "--force"]));
        assert_eq!(self.swarm_state().trim(), "inactive", "the engine left its swarm");
    }

    /// Removes the Docker secret `name` (absent is fine).
    pub fn remove_docker_secret(&self, name: &str) {
        let _ = docker_cli(&self.lab, &["secret", "rm", name]).output();
    }

    /// Creates the Docker secret `name` holding `value` (from stdin, as the
    /// runbook does), making the lab's engine a single-node swarm first when
    /// it is none (what infra-restore's provision step does).
    pub fn create_docker_secret(&self, name: &str, value: &str) {
        use std::io::Write;
        let docker = |args: &[&str]| docker_cli(&self.lab, args);
        if !self.swarm_state().starts_with("active ") {
            run_ok(&mut docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"]));
        }
        self.remove_docker_secret(name);
        let mut child = docker(&["secret", "create", name, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("docker secret create");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(value.as_bytes())
            .expect("write the secret");
        let out = child.wait_with_output().expect("docker secret create");
        assert!(
            out.status.success(),
            "docker secret create {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The fault: complete infrastructure loss of this project — down with
    /// volumes (Vault's data gone), networks removed, the certificates
    /// directory deleted, the Docker secret removed: Redis goes with the
    /// stack. S3 and the lab's database survive.
    pub fn complete_loss(&self) {
        let out = self.compose(&["down", "-v", "--remove-orphans", "-t", "1"]);
        assert!(out.status.success(), "down: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::remove_dir_all(self.certificates()).expect("delete certificates");
        self.remove_docker_secret(DOCKER_SECRET);
    }

    /// `[targets.redis.LABEL]`: the stack's Redis over TLS (the CA's copy
    /// outside the certificates), with the lab's two password files.
    pub fn redis_target_toml(&self, label: &str) -> String {
        let [master, replica, sentinels @ ..] = self.redis_ports;
        let sentinels: Vec<String> = sentinels.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
        format!(
            r#"[targets.redis.{label}]
url = "rediss://127.0.0.1:{master}"
ca_file = "{ca}"
password = "file:{redis_password}"
sentinel_password = "file:{sentinel_password}"
sentinels = [{sentinels}]
master_name = "{REDIS_MASTER_NAME}"
nodes = ["127.0.0.1:{master}", "127.0.0.1:{replica}"]
timeout = "1s"
"#,
            ca = self.redis_ca().display(),
            sentinels = sentinels.join(", "),
            redis_password = self.lab.get("REDIS_PASSWORD_FILE").unwrap(),
            sentinel_password = self.lab.get("SENTINEL_PASSWORD_FILE").unwrap(),
        )
    }

    /// The `[targets…]` every scenario-3 run uses, and `[secrets]`.
    pub fn targets_toml(&self) -> String {
        let lab = &self.lab;
        let secrets = lab.path(".lab/secrets");
        format!(
            r#"[secrets]
vault-root-token = "file:{dir}/root-token"

[targets.compose.phase2]
file = "{file}"
project = "{project}"
project_directory = "{dir}"
timeout = "120s"

[targets.files.infrastructure]
path = "{dir}"

[targets.vault.vault]
address = "http://127.0.0.1:{vault_port}"
token = "file:{dir}/root-token"
unseal_keys = "file:{dir}/unseal-keys.json"

[targets.s3.backups]
endpoint = "{s3}"
region = "{region}"
bucket = "{bucket}"
path_style = true
access_key = "file:{secrets}/s3-access-key"
secret_key = "file:{secrets}/s3-secret-key"

[targets.postgres.primary]
url = "{pg_url}"
password = "file:{secrets}/pg-password"
read_user = "drhost_reader"
read_password = "file:{secrets}/pg-reader-password"

{redis}"#,
            dir = self.dir().display(),
            file = Self::file().display(),
            project = self.project,
            vault_port = self.vault_port,
            s3 = lab.get("S3_ENDPOINT").unwrap(),
            region = lab.get("S3_REGION").unwrap(),
            bucket = lab.s3_bucket().unwrap(),
            secrets = secrets.display(),
            pg_url = lab.pg_url().unwrap(),
            redis = self.redis_target_toml("phase2"),
        )
    }

    /// infra-backup's grants and parameters for this project.
    pub fn backup_grants(&self) -> String {
        format!(
            r#"[[plugins.infra-backup.vault]]
target = "vault"
access = ["snapshot"]

[[plugins.infra-backup.files]]
target = "infrastructure"
paths = ["certificates/**"]
access = ["read"]

[[plugins.infra-backup.s3]]
target = "backups"
prefixes = ["{prefix}*"]
access = ["read", "write"]

[plugins.infra-backup.params]
snapshot-key = "{prefix}vault/vault-snapshot.snap"
certificates-prefix = "{prefix}certificates/"
"#,
            prefix = self.s3_prefix()
        )
    }

    /// infra-restore's grants (each table by name, so a test can leave one
    /// out) and parameters for this project.
    pub fn restore_grants(&self, without: &[&str]) -> String {
        let prefix = self.s3_prefix();
        let certs = self.certificates();
        let certs = certs.display();
        let tables = [
            ("s3", format!("[[plugins.infra-restore.s3]]\ntarget = \"backups\"\nprefixes = [\"{prefix}*\", \"supabase/*\"]\naccess = [\"read\"]\n")),
            ("files", "[[plugins.infra-restore.files]]\ntarget = \"infrastructure\"\npaths = [\"certificates/**\"]\naccess = [\"read\", \"write\"]\n".to_string()),
            ("shell", format!(
                "[[plugins.infra-restore.shell]]\nprogram = \"openssl\"\nargs = [\"x509\", \"-in\", \"{certs}/*\", \"-noout\", \"-enddate\", \"-checkend\", \"0\"]\n\n[[plugins.infra-restore.shell]]\nprogram = \"openssl\"\nargs = [\"x509\", \"-in\", \"{certs}/*\", \"-noout\", \"-pubkey\"]\n\n[[plugins.infra-restore.shell]]\nprogram = \"openssl\"\nargs = [\"pkey\", \"-in\", \"{certs}/*.key\", \"-pubout\"]\n"
            )),
            ("swarm", "[[plugins.infra-restore.docker]]\nswarm = true\n".to_string()),
            ("docker-secret", format!("[[plugins.infra-restore.docker]]\nsecrets = [\"{DOCKER_SECRET}\"]\naccess = [\"read\", \"write\"]\n")),
            ("secret", "[[plugins.infra-restore.secret]]\nnames = [\"vault-root-token\"]\n".to_string()),
            ("compose-read", "[[plugins.infra-restore.compose]]\ntarget = \"phase2\"\naccess = [\"read\"]\n".to_string()),
            ("compose-up", "[[plugins.infra-restore.compose]]\ntarget = \"phase2\"\naccess = [\"up\"]\n".to_string()),
            ("vault", "[[plugins.infra-restore.vault]]\ntarget = \"vault\"\npaths = [\"secret/toolboxai/*\"]\naccess = [\"read\"]\n\n[[plugins.infra-restore.vault]]\ntarget = \"vault\"\naccess = [\"snapshot\", \"unseal\"]\n".to_string()),
            ("http", "[[plugins.infra-restore.http]]\nhost = \"127.0.0.1:*\"\n".to_string()),
            ("postgres", "[[plugins.infra-restore.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n".to_string()),
            ("redis", "[[plugins.infra-restore.redis]]\ntarget = \"phase2\"\naccess = [\"read\"]\n".to_string()),
        ];
        let mut text = tables_without(tables, without);
        text.push_str(&format!(
            "[plugins.infra-restore.params]\nsnapshot-key = \"{prefix}vault/vault-snapshot.snap\"\ncertificates-prefix = \"{prefix}certificates/\"\ncertificates-dir = \"{certs}\"\nknown-secret = \"{KNOWN_SECRET}\"\nhealth-url = \"{}\"\nwait = \"60s\"\n",
            self.health_url()
        ));
        text
    }

    /// fault-complete-loss's grants (each table by name, so a test can
    /// leave one out): exactly what its manifest asks for — compose `read`
    /// and `down` on this project, the certificates listed and removed, the
    /// Docker secret removed — and its parameters for this project.
    pub fn fault_grants(&self, without: &[&str]) -> String {
        let tables = [
            ("compose-read", "[[plugins.fault-complete-loss.compose]]\ntarget = \"phase2\"\naccess = [\"read\"]\n".to_string()),
            ("compose-down", "[[plugins.fault-complete-loss.compose]]\ntarget = \"phase2\"\naccess = [\"down\"]\n".to_string()),
            ("files", "[[plugins.fault-complete-loss.files]]\ntarget = \"infrastructure\"\npaths = [\"certificates/**\"]\naccess = [\"read\", \"write\"]\n".to_string()),
            ("docker-secret", format!("[[plugins.fault-complete-loss.docker]]\nsecrets = [\"{DOCKER_SECRET}\"]\naccess = [\"write\"]\n")),
        ];
        let mut text = tables_without(tables, without);
        text.push_str(&format!(
            "[plugins.fault-complete-loss.params]\ntarget = \"phase2\"\nfiles-target = \"infrastructure\"\ncertificates = \"certificates\"\ndocker-secrets = \"{DOCKER_SECRET}\"\n"
        ));
        text
    }

    /// The whole drhost.toml for both plugins, infra-restore without the
    /// grant tables named in `without`.
    pub fn config_toml(&self, without: &[&str]) -> String {
        format!(
            "{}\n{}\n{}",
            self.targets_toml(),
            self.backup_grants(),
            self.restore_grants(without)
        )
    }

    /// `drhost run ID --json --yes --quiet --timeout 5m` with this stack's
    /// whole drhost.toml, to run ([`Run::exec`]) or start ([`Run::spawn`]).
    pub fn drhost(&self, id: &str) -> Run {
        Run::plugin(id)
            .config_toml(&self.config_toml(&[]))
            .json()
            .yes()
            .quiet()
            .timeout("5m")
    }

    /// A running, initialised stack holding `value` at [`KNOWN_SECRET`],
    /// and its backups in S3 made by `infra-backup`.
    pub fn backed_up(value: &str) -> Phase2 {
        let stack = Phase2::create();
        stack.up();
        stack.init_vault();
        stack.write_secret(
            KNOWN_SECRET,
            json!({ "database_url": value, "url": "http://127.0.0.1:27432" }),
        );
        let out = stack.drhost("infra-backup").exec();
        assert_eq!(out.code, 0, "infra-backup: {}\n{}", out.stdout, out.stderr);
        assert_eq!(out.fact("certificates").as_deref(), Some("3"), "{}", out.stdout);
        stack
    }

    /// Each file of the certificates directory (none when it is gone).
    pub fn certificate_files(&self) -> CertificateFiles {
        use std::os::unix::fs::PermissionsExt;
        std::fs::read_dir(self.certificates())
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .map(|e| {
                        let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            (std::fs::read(e.path()).unwrap(), mode),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every check of the runbook's step 7 after `infra-restore` recovered
    /// this stack from [`Phase2::complete_loss`], seen from the test: every
    /// service's container running, `/health` 200 through the proxy, Redis
    /// serving, the secret written before the loss (`value`) read back from
    /// the restored Vault, the certificates byte for byte as `before` the
    /// loss (the key 0600), the Docker secret there. Returns what a rerun
    /// must leave as it is.
    pub fn assert_recovered(&self, value: &str, before: &CertificateFiles) -> Recovered {
        let containers = self.containers();
        assert_eq!(containers.len(), SERVICES.len(), "{containers:?}");
        assert!(containers.values().all(|c| c.state == "running"), "{containers:?}");
        let health = rt().block_on(async { self.lab.http().get(self.health_url()).send().await });
        assert_eq!(health.expect("proxy answers").status().as_u16(), 200);
        // Redis came back with the stack: TLS, passwords, replication, Sentinels.
        self.assert_redis_serves();
        let fields = self.read_secret(KNOWN_SECRET).expect("the known secret reads back");
        assert_eq!(fields["database_url"], value);
        let after = self.certificate_files();
        assert_eq!(after.len(), before.len());
        for (name, (bytes, _)) in before {
            assert_eq!(&after[name].0, bytes, "{name} restored byte for byte");
        }
        assert_eq!(after["server.key"].1, 0o600, "the key is written 0600");
        assert!(self.docker_secret_exists(DOCKER_SECRET), "the Docker secret exists");
        Recovered {
            started: containers
                .iter()
                .map(|(s, c)| (s.clone(), c.started_at.clone()))
                .collect(),
            certificates: after,
        }
    }

    /// Runs `infra-restore` again on this [`Phase2::assert_recovered`]
    /// stack and asserts it changed nothing: exit 0; no certificate
    /// written, Docker secret created, swarm initialised, snapshot restored
    /// or unseal made; no container restarted or recreated; the
    /// certificates as they were; none of `secrets` printed or journaled.
    pub fn assert_rerun_changes_nothing(&self, recovered: &Recovered, secrets: &[&str]) -> Outcome {
        let again = self.drhost("infra-restore").exec();
        assert_eq!(again.code, 0, "rerun: {}\n{}", again.stdout, again.stderr);
        let journal = again.journal();
        for call in [
            "files.write",
            "docker.create-secret",
            "docker.swarm-init",
            "vault.snapshot-restore",
            "vault.unseal",
        ] {
            assert_eq!(succeeded(&journal, call), 0, "the rerun made a {call}");
        }
        assert_eq!(again.fact("vault-restored").as_deref(), Some("false"));
        let now: HashMap<String, String> = self
            .containers()
            .iter()
            .map(|(s, c)| (s.clone(), c.started_at.clone()))
            .collect();
        assert_eq!(now, recovered.started, "no container was restarted or recreated");
        assert_eq!(self.certificate_files(), recovered.certificates);
        eprintln!(
            "infra-restore rerun after success: {} ms",
            again.fact("time-to-recovery-ms").unwrap()
        );
        assert_no_secret(&again, secrets);
        again
    }
}

/// What [`Phase2::assert_recovered`] found, for a rerun to leave as it is.
pub struct Recovered {
    /// Service → when its container started.
    pub started: HashMap<String, String>,
    /// The restored certificates.
    pub certificates: CertificateFiles,
}

/// Asserts the `infra-restore` run `out` timed each of its [`PHASES`] and
/// the whole recovery, and prints them as `what: phase NAME MS ms` and
/// `what: total MS ms`. Returns the total (`time-to-recovery-ms`).
pub fn timed_phases(out: &Outcome, what: &str) -> u64 {
    for phase in PHASES {
        let ms = out
            .fact(&format!("phase-{phase}-ms"))
            .unwrap_or_else(|| panic!("phase {phase} timed"));
        eprintln!("{what}: phase {phase} {ms} ms");
    }
    let total: u64 = out
        .fact("time-to-recovery-ms")
        .expect("time-to-recovery-ms")
        .parse()
        .expect("a number of ms");
    eprintln!("{what}: total {total} ms (process {:?})", out.elapsed);
    total
}

/// Nothing secret (`secrets`: values) in what drhost printed or journaled.
pub fn assert_no_secret(out: &Outcome, secrets: &[&str]) {
    let journal = out.journal_text();
    for s in secrets {
        assert!(!journal.contains(s), "a secret value is in the journal");
        assert!(!out.stdout.contains(s), "a secret value is on stdout");
        assert!(!out.stderr.contains(s), "a secret value is on stderr");
    }
}

/// The lab's own scenario-3 stack (`lab/stack/phase2.sh`: compose project
/// `phase2`, what `make drill`'s `infrastructure-loss` destroys and
/// restores), as `.lab/env` describes it (`PHASE2_*`).
pub struct LabStack {
    /// The lab.
    pub lab: Lab,
}

impl LabStack {
    /// The lab's scenario-3 stack; panics naming `make lab` when `.lab/env`
    /// does not describe one.
    pub fn load() -> LabStack {
        let lab = lab();
        assert!(
            lab.get("PHASE2_COMPOSE_PROJECT").is_ok(),
            "the lab has no scenario-3 stack in .lab/env: run `make lab` (lab/up.sh) from this tree"
        );
        LabStack { lab }
    }

    /// A `PHASE2_*` value of `.lab/env`.
    pub fn get(&self, key: &str) -> String {
        self.lab
            .get(key)
            .unwrap_or_else(|e| panic!("{key} in .lab/env: {e}"))
            .to_string()
    }

    /// The compose project name.
    pub fn project(&self) -> String {
        self.get("PHASE2_COMPOSE_PROJECT")
    }

    /// The proxy's base URL (`/health` below it).
    pub fn proxy_url(&self) -> String {
        self.get("PHASE2_PROXY_URL")
    }

    /// The certificates directory the stack mounts.
    pub fn certificates(&self) -> PathBuf {
        PathBuf::from(self.get("PHASE2_CERTS_DIR"))
    }

    /// Vault's root token, from its 0600 file in `.lab/secrets/`.
    pub fn root_token(&self) -> String {
        std::fs::read_to_string(self.get("PHASE2_VAULT_TOKEN_FILE")).expect("the scenario-3 Vault's root token file")
    }

    /// Service → its container.
    pub fn containers(&self) -> HashMap<String, Seen> {
        containers_of(&self.lab, &self.project())
    }

    /// Asserts the stack's Redis serves ([`assert_redis_serves`]).
    pub fn assert_redis_serves(&self) {
        let port = |key: &str| -> u16 { self.get(key).parse().unwrap_or_else(|e| panic!("{key}: {e}")) };
        let sentinels: Vec<u16> = self
            .get("PHASE2_SENTINEL_PORTS")
            .split(',')
            .map(|p| p.parse().expect("a Sentinel port"))
            .collect();
        let [s1, s2, s3] = sentinels[..] else {
            panic!("PHASE2_SENTINEL_PORTS names three ports: {sentinels:?}")
        };
        let ports = [
            port("PHASE2_REDIS_MASTER_PORT"),
            port("PHASE2_REDIS_REPLICA_PORT"),
            s1,
            s2,
            s3,
        ];
        assert_redis_serves(&StackRedis::of(
            &self.lab,
            self.get("PHASE2_REDIS_CA_FILE").into(),
            ports,
        ));
    }

    /// The status and JSON body of one Vault call with the lab's token.
    pub fn vault(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/v1/{path}", self.get("PHASE2_VAULT_ADDR"));
        vault_call(&self.lab, method, &url, Some(&self.root_token()), body)
    }

    /// The fields at KV v2 `path` (MOUNT/PATH), or the HTTP status.
    pub fn read_secret(&self, path: &str) -> Result<Value, u16> {
        let (mount, rest) = path.split_once('/').expect("MOUNT/PATH");
        match self.vault("GET", &format!("{mount}/data/{rest}"), None) {
            (200, body) => Ok(body["data"]["data"].clone()),
            (status, _) => Err(status),
        }
    }

    /// The labels of the Docker secret `name`, None when there is none.
    pub fn docker_secret_labels(&self, name: &str) -> Option<HashMap<String, String>> {
        let out = docker_cli(
            &self.lab,
            &["secret", "inspect", name, "--format", "{{json .Spec.Labels}}"],
        )
        .output()
        .expect("docker");
        out.status.success().then(|| {
            serde_json::from_slice::<Option<HashMap<String, String>>>(&out.stdout)
                .expect("labels as JSON")
                .unwrap_or_default()
        })
    }
}

/// Puts the lab's Docker secret [`DOCKER_SECRET`] back, made from its
/// scenario-3 Vault's root token as `lab/stack/phase2.sh` makes it (label
/// `lab.token-sha256`), when a test's own stack replaced or removed it — the
/// engine has one secret of that name. Nothing when the lab has no
/// scenario-3 stack or the secret is already the lab's.
pub fn restore_lab_docker_secret(lab: &Lab) {
    use sha2::Digest;
    // Called from a Drop: never panics (DOCKER_HOST is in .lab/env with the stack).
    let (Ok(token_file), Ok(_)) = (lab.get("PHASE2_VAULT_TOKEN_FILE"), lab.get("DOCKER_HOST")) else {
        return;
    };
    let Ok(token) = std::fs::read(token_file) else { return };
    let hash = hex::encode(sha2::Sha256::digest(&token))[..16].to_string();
    let stack = LabStack { lab: lab.clone() };
    if stack
        .docker_secret_labels(DOCKER_SECRET)
        .is_some_and(|l| l.get("lab.token-sha256") == Some(&hash))
    {
        return;
    }
    let docker = |args: &[&str]| docker_cli(lab, args);
    let _ = docker(&["secret", "rm", DOCKER_SECRET]).output();
    let label = format!("lab.token-sha256={hash}");
    let made = docker(&[
        "secret",
        "create",
        "--label",
        "com.toolboxai.runbook=scenario-3",
        "--label",
        &label,
        DOCKER_SECRET,
        token_file,
    ])
    .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("could not put the lab's Docker secret {DOCKER_SECRET} back: {made:?}; `make lab` does");
    }
}

impl Drop for Phase2 {
    fn drop(&mut self) {
        let out = self.compose(&["down", "-v", "--remove-orphans", "-t", "1"]);
        if !out.status.success() {
            eprintln!(
                "cleanup of compose project {}: {}",
                self.project,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let prefix = self.s3_prefix();
        let lab = &self.lab;
        rt().block_on(async {
            let Ok(s3) = lab.s3_client() else { return };
            let bucket = lab.s3_bucket().unwrap_or_default().to_string();
            if let Ok(list) = s3.list_objects_v2().bucket(&bucket).prefix(&prefix).send().await {
                for o in list.contents() {
                    if let Some(key) = o.key() {
                        let _ = s3.delete_object().bucket(&bucket).key(key).send().await;
                    }
                }
            }
        });
        restore_lab_docker_secret(&self.lab);
    }
}
