//! A webhook receiver a test owns on 127.0.0.1 — the channel `notify`
//! posts to: it records every request whole (method, path, headers, body)
//! before answering, so a test can assert exactly what arrived, and what
//! did not. It can also stand for a dead channel: one that never answers
//! ([`Webhook::silent`]) or a port nothing listens on ([`refused_url`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Post {
    /// `POST`.
    pub method: String,
    /// The request target, e.g. `/services/T0/B0/x`.
    pub path: String,
    /// Header names (lowercased) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Post {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON (panics when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the posted body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// The receiver; it runs until the test process ends.
pub struct Webhook {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Webhook {
    /// Answers every request with `status` (e.g. `200 OK`), extra header
    /// lines `headers` (each ending in `\r\n`) and `body`.
    pub fn start(status: &str, headers: &str, body: &str) -> Webhook {
        let reply = format!(
            "HTTP/1.1 {status}\r\n{headers}content-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        Webhook::serve(Some(reply))
    }

    /// Answers every request with `200 OK` and `ok`, as Slack does.
    pub fn ok() -> Webhook {
        Webhook::start("200 OK", "", "ok")
    }

    /// Records every request and never answers (the connection stays open).
    pub fn silent() -> Webhook {
        Webhook::serve(None)
    }

    fn serve(reply: Option<String>) -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let posts = Arc::new(Mutex::new(Vec::new()));
        let kept = posts.clone();
        let reply = Arc::new(reply);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (kept, reply) = (kept.clone(), reply.clone());
                std::thread::spawn(move || receive(stream, &kept, reply.as_deref()));
            }
        });
        Webhook { port, posts }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What arrived so far.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A URL on 127.0.0.1 whose port nothing listens on (connection refused).
pub fn refused_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

/// Reads requests (head, then a `content-length` body), records each and
/// answers it with `reply` (or holds the connection open, answering nothing).
fn receive(mut stream: TcpStream, posts: &Mutex<Vec<Post>>, reply: Option<&str>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut first = lines.next().unwrap_or_default().split(' ');
            let (method, path) = (first.next().unwrap_or_default(), first.next().unwrap_or_default());
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            if pending.len() >= end + 4 + length {
                let body = pending[end + 4..end + 4 + length].to_vec();
                pending.drain(..end + 4 + length);
                posts.lock().unwrap_or_else(|p| p.into_inner()).push(Post {
                    method: method.to_string(),
                    path: path.to_string(),
                    headers,
                    body,
                });
                match reply {
                    Some(reply) if stream.write_all(reply.as_bytes()).is_ok() => continue,
                    Some(_) => return,
                    None => {
                        // A channel that never answers: keep the connection until the client gives up.
                        let _ = stream.read(&mut buf);
                        std::thread::sleep(Duration::from_secs(30));
                        return;
                    }
                }
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}
