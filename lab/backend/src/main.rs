//! `toolboxai-backend`: the lab's stand-in for one ToolboxAI backend container.
//!
//! It serves HTTP and answers `GET /health` with a JSON report of whether its
//! two dependencies really answer right now:
//!
//! * **Postgres** — it opens the server's unix socket (`.s.PGSQL.<port>`),
//!   sends a protocol-3 startup message and calls the database healthy when the
//!   server replies `AuthenticationOk` and then `ReadyForQuery`; an
//!   `ErrorResponse` (database does not exist, too many clients, shutting
//!   down…) or a refused socket is unhealthy.
//! * **Redis** — it asks the Sentinels (unix sockets) for the current master of
//!   the monitored set and sends `PING` to that master through its socket
//!   `redis-<port>.sock`; if no Sentinel answers it pings a configured
//!   fallback socket.
//!
//! `/health` is 200 when both answer and 503 otherwise; `/` is 200 with the
//! service name and version. Containers cannot reach the host's loopback, so
//! every dependency is reached through a bind-mounted unix socket.
//!
//! Standard library only: the binary is copied into a `docker import`ed
//! image with nothing but its `ldd` libraries and busybox.
//!
//! Configuration (environment):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PORT` | `8000` | HTTP port (listens on 0.0.0.0 *inside* the container) |
//! | `SERVICE_NAME` | `backend` | reported in every reply |
//! | `VERSION_FILE` | `/VERSION` | file whose first line is the reported version |
//! | `PG_SOCKET_DIR` | `/lab/pg` | directory holding `.s.PGSQL.<PG_PORT>` |
//! | `PG_PORT` | `5432` | Postgres port (names the socket file) |
//! | `PG_USER` | `postgres` | startup-message user |
//! | `PG_DATABASE` | `toolboxai` | startup-message database |
//! | `REDIS_SOCKET_DIR` | `/lab/run` | directory holding `redis-<port>.sock` |
//! | `SENTINEL_SOCKETS` | (empty) | comma-separated Sentinel socket paths |
//! | `REDIS_MASTER_NAME` | `toolboxai-master` | the Sentinel-monitored set |
//! | `REDIS_SOCKET` | (empty) | fallback Redis socket when no Sentinel answers |
//! | `REDIS_PASSWORD_FILE` | (empty) | file holding the data nodes' password (sent with `AUTH`) |
//! | `SENTINEL_PASSWORD_FILE` | (empty) | file holding the Sentinels' password |

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long any single dependency check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything the backend is configured with, read once at start.
#[derive(Clone, Debug)]
struct Config {
    port: u16,
    service: String,
    version: String,
    pg_socket: PathBuf,
    pg_user: String,
    pg_database: String,
    redis_socket_dir: PathBuf,
    sentinel_sockets: Vec<PathBuf>,
    master_name: String,
    redis_fallback: Option<PathBuf>,
    redis_password: Option<String>,
    sentinel_password: Option<String>,
}

impl Config {
    fn from_env() -> Config {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        let version_file = var("VERSION_FILE", "/VERSION");
        let version = std::fs::read_to_string(&version_file)
            .ok()
            .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
            .unwrap_or_else(|| "unknown".to_string());
        let pg_port = var("PG_PORT", "5432");
        Config {
            port: var("PORT", "8000").parse().unwrap_or(8000),
            service: var("SERVICE_NAME", "backend"),
            version,
            pg_socket: Path::new(&var("PG_SOCKET_DIR", "/lab/pg")).join(format!(".s.PGSQL.{pg_port}")),
            pg_user: var("PG_USER", "postgres"),
            pg_database: var("PG_DATABASE", "toolboxai"),
            redis_socket_dir: PathBuf::from(var("REDIS_SOCKET_DIR", "/lab/run")),
            sentinel_sockets: var("SENTINEL_SOCKETS", "")
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| PathBuf::from(s.trim()))
                .collect(),
            master_name: var("REDIS_MASTER_NAME", "toolboxai-master"),
            redis_fallback: std::env::var("REDIS_SOCKET")
                .ok()
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            redis_password: password_from("REDIS_PASSWORD_FILE"),
            sentinel_password: password_from("SENTINEL_PASSWORD_FILE"),
        }
    }
}

/// The first line of the file named by environment variable `var`, when
/// it is set (like a Docker secret mounted as a file).
fn password_from(var: &str) -> Option<String> {
    let path = std::env::var(var).ok().filter(|p| !p.is_empty())?;
    let text = std::fs::read_to_string(&path).ok()?;
    text.lines().next().map(|l| l.trim().to_string())
}

/// The outcome of one dependency check: healthy or not, and why.
struct Check {
    ok: bool,
    detail: String,
}

fn main() {
    exit_on_sigterm();
    let config = Config::from_env();
    let listener = match TcpListener::bind(("0.0.0.0", config.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("toolboxai-backend: cannot listen on port {}: {e}", config.port);
            std::process::exit(1);
        }
    };
    eprintln!(
        "toolboxai-backend: {} version {} listening on :{}",
        config.service, config.version, config.port
    );
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &config) {
                eprintln!("toolboxai-backend: connection error: {e}");
            }
        });
    }
}

/// As PID 1 the kernel ignores SIGTERM unless a handler is installed; exit
/// promptly so `docker stop` does not wait for its 10 s kill timeout.
fn exit_on_sigterm() {
    extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
        fn _exit(code: i32) -> !;
    }
    extern "C" fn on_term(_: i32) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { _exit(0) }
    }
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    // SAFETY: installing a handler that only calls _exit.
    unsafe {
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
    }
}

/// Reads one HTTP/1.x request and writes one response, then closes.
fn serve(stream: TcpStream, config: &Config) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers; requests we serve have no body.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let (status, body) = match (method, path) {
        ("GET" | "HEAD", "/health") => health(config),
        ("GET" | "HEAD", "/") => (
            200,
            format!(
                "{{\"service\":{},\"version\":{},\"status\":\"running\"}}",
                json_str(&config.service),
                json_str(&config.version)
            ),
        ),
        _ => (404, "{\"error\":\"not found\"}".to_string()),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Service Unavailable",
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        out.write_all(body.as_bytes())?;
    }
    out.flush()
}

/// Runs both dependency checks and renders the `/health` reply.
fn health(config: &Config) -> (u16, String) {
    let pg = check_postgres(config);
    let (redis, master) = check_redis(config);
    let ok = pg.ok && redis.ok;
    // What the runbook's `docker logs toolboxai-backend1 | grep -i
    // "database\|connection"` finds during an outage.
    if !pg.ok {
        eprintln!(
            "toolboxai-backend: /health degraded: database connection failed: {}",
            pg.detail
        );
    }
    if !redis.ok {
        eprintln!(
            "toolboxai-backend: /health degraded: redis connection failed: {}",
            redis.detail
        );
    }
    let body = format!(
        "{{\"status\":{},\"service\":{},\"version\":{},\"postgres\":{{\"ok\":{},\"detail\":{}}},\"redis\":{{\"ok\":{},\"master\":{},\"detail\":{}}}}}",
        json_str(if ok { "ok" } else { "degraded" }),
        json_str(&config.service),
        json_str(&config.version),
        pg.ok,
        json_str(&pg.detail),
        redis.ok,
        master.as_deref().map(json_str).unwrap_or_else(|| "null".to_string()),
        json_str(&redis.detail),
    );
    (if ok { 200 } else { 503 }, body)
}

fn connect_unix(path: &Path) -> io::Result<UnixStream> {
    let s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(CHECK_TIMEOUT))?;
    s.set_write_timeout(Some(CHECK_TIMEOUT))?;
    Ok(s)
}

/// Postgres protocol 3 startup: healthy on AuthenticationOk then ReadyForQuery.
fn check_postgres(config: &Config) -> Check {
    match postgres_startup(config) {
        Ok(detail) => Check { ok: true, detail },
        Err(detail) => Check { ok: false, detail },
    }
}

fn postgres_startup(config: &Config) -> Result<String, String> {
    let sock = &config.pg_socket;
    let mut s = connect_unix(sock).map_err(|e| format!("connect {}: {e}", sock.display()))?;
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    for (k, v) in [("user", &config.pg_user), ("database", &config.pg_database)] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    s.write_all(&msg).map_err(|e| format!("send startup: {e}"))?;
    let mut authenticated = false;
    loop {
        let mut header = [0u8; 5];
        s.read_exact(&mut header).map_err(|e| format!("read reply: {e}"))?;
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if !(4..=1 << 20).contains(&len) {
            return Err(format!("malformed reply length {len}"));
        }
        let mut payload = vec![0u8; len - 4];
        s.read_exact(&mut payload).map_err(|e| format!("read reply: {e}"))?;
        match header[0] {
            b'R' => {
                let code = payload.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                if code != Some(0) {
                    return Err(format!(
                        "server asks for authentication (code {code:?}); the lab uses trust"
                    ));
                }
                authenticated = true;
            }
            b'E' => return Err(format!("server error: {}", pg_error_message(&payload))),
            b'Z' if authenticated => {
                let _ = s.write_all(&[b'X', 0, 0, 0, 4]); // Terminate
                return Ok(format!("database {} answers", config.pg_database));
            }
            _ => {} // ParameterStatus, BackendKeyData, NoticeResponse…
        }
    }
}

/// Extracts the `M` (message) field of an ErrorResponse payload.
fn pg_error_message(payload: &[u8]) -> String {
    let mut fields = payload.split(|b| *b == 0);
    let mut severity = String::new();
    let mut message = String::new();
    for f in fields.by_ref() {
        match f.first() {
            Some(b'S') => severity = String::from_utf8_lossy(&f[1..]).into_owned(),
            Some(b'M') => message = String::from_utf8_lossy(&f[1..]).into_owned(),
            _ => {}
        }
    }
    format!("{severity} {message}").trim().to_string()
}

/// Finds the master through the Sentinels and PINGs it; falls back to a
/// configured socket. Returns the check and the master address if known.
fn check_redis(config: &Config) -> (Check, Option<String>) {
    let mut sentinel_errors = Vec::new();
    for sentinel in &config.sentinel_sockets {
        let ask = ["SENTINEL", "get-master-addr-by-name", &config.master_name];
        match resp_command(sentinel, config.sentinel_password.as_deref(), &ask) {
            Ok(Resp::Array(items)) if items.len() == 2 => {
                let (Resp::Bulk(ip), Resp::Bulk(port)) = (&items[0], &items[1]) else {
                    sentinel_errors.push(format!("{}: unexpected reply", sentinel.display()));
                    continue;
                };
                let master = format!("{ip}:{port}");
                let sock = config.redis_socket_dir.join(format!("redis-{port}.sock"));
                let check = ping(&sock, config.redis_password.as_deref(), &format!("master {master}"));
                return (check, Some(master));
            }
            Ok(Resp::Error(e)) => sentinel_errors.push(format!("{}: {e}", sentinel.display())),
            Ok(Resp::Nil) => {
                sentinel_errors.push(format!("{}: unknown master {}", sentinel.display(), config.master_name))
            }
            Ok(_) => sentinel_errors.push(format!("{}: unexpected reply", sentinel.display())),
            Err(e) => sentinel_errors.push(format!("{}: {e}", sentinel.display())),
        }
    }
    if let Some(sock) = &config.redis_fallback {
        let mut check = ping(sock, config.redis_password.as_deref(), "fallback socket");
        if !sentinel_errors.is_empty() {
            check.detail = format!("{}; sentinels: {}", check.detail, sentinel_errors.join("; "));
        }
        return (check, None);
    }
    let detail = if sentinel_errors.is_empty() {
        "no sentinel and no fallback socket configured".to_string()
    } else {
        format!("no sentinel answered: {}", sentinel_errors.join("; "))
    };
    (Check { ok: false, detail }, None)
}

fn ping(sock: &Path, password: Option<&str>, what: &str) -> Check {
    match resp_command(sock, password, &["PING"]) {
        Ok(Resp::Simple(s)) if s == "PONG" => Check {
            ok: true,
            detail: format!("{what} answers PONG"),
        },
        Ok(Resp::Error(e)) => Check {
            ok: false,
            detail: format!("{what}: {e}"),
        },
        Ok(_) => Check {
            ok: false,
            detail: format!("{what}: unexpected reply to PING"),
        },
        Err(e) => Check {
            ok: false,
            detail: format!("{what} ({}): {e}", sock.display()),
        },
    }
}

/// The subset of RESP2 replies the checks need.
enum Resp {
    Simple(String),
    Error(String),
    Bulk(String),
    Nil,
    Array(Vec<Resp>),
}

/// `args` on the Redis at `sock`, after `AUTH password` when one is given
/// (an `AUTH` error is the answer then).
fn resp_command(sock: &Path, password: Option<&str>, args: &[&str]) -> io::Result<Resp> {
    let s = connect_unix(sock)?;
    let mut reader = BufReader::new(s.try_clone()?);
    let mut s = s;
    if let Some(password) = password {
        s.write_all(&resp_array(&["AUTH", password]))?;
        if let Resp::Error(e) = read_resp(&mut reader)? {
            return Ok(Resp::Error(format!("AUTH: {e}")));
        }
    }
    s.write_all(&resp_array(args))?;
    read_resp(&mut reader)
}

fn resp_array(args: &[&str]) -> Vec<u8> {
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    cmd.into_bytes()
}

fn read_resp(r: &mut impl BufRead) -> io::Result<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"));
    }
    let line = line.trim_end_matches(['\r', '\n']);
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad RESP line {line:?}"));
    let (kind, rest) = line.split_at(line.len().min(1));
    match kind {
        "+" => Ok(Resp::Simple(rest.to_string())),
        "-" => Ok(Resp::Error(rest.to_string())),
        ":" => Ok(Resp::Simple(rest.to_string())),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                return Ok(Resp::Nil);
            }
            let mut buf = vec![0u8; n as usize + 2];
            r.read_exact(&mut buf)?;
            buf.truncate(n as usize);
            Ok(Resp::Bulk(String::from_utf8_lossy(&buf).into_owned()))
        }
        "*" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                return Ok(Resp::Nil);
            }
            (0..n)
                .map(|_| read_resp(r))
                .collect::<io::Result<Vec<_>>>()
                .map(Resp::Array)
        }
        _ => Err(bad()),
    }
}

/// Renders a string as a JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Resp {
        read_resp(&mut BufReader::new(bytes)).unwrap()
    }

    #[test]
    fn reads_sentinel_master_address() {
        let Resp::Array(items) = parse(b"*2\r\n$9\r\n127.0.0.1\r\n$5\r\n27379\r\n") else {
            panic!("not an array")
        };
        assert!(matches!(&items[..], [Resp::Bulk(ip), Resp::Bulk(port)] if ip == "127.0.0.1" && port == "27379"));
    }

    #[test]
    fn reads_pong_errors_and_nil() {
        assert!(matches!(parse(b"+PONG\r\n"), Resp::Simple(s) if s == "PONG"));
        assert!(matches!(parse(b"-ERR no such master\r\n"), Resp::Error(e) if e == "ERR no such master"));
        assert!(matches!(parse(b"*-1\r\n"), Resp::Nil));
        assert!(matches!(parse(b"$-1\r\n"), Resp::Nil));
    }

    #[test]
    fn extracts_postgres_error_message() {
        let payload = b"SFATAL\0VFATAL\0C3D000\0Mdatabase \"nope\" does not exist\0\0";
        assert_eq!(pg_error_message(payload), "FATAL database \"nope\" does not exist");
    }

    #[test]
    fn escapes_json_strings() {
        assert_eq!(json_str("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
