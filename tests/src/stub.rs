//! An HTTP server a test owns on 127.0.0.1, to stand in for a service that
//! misbehaves (a Vault that redirects, an S3 that never stops paging): it
//! answers every request with what the test says and keeps each request's
//! head, so the test can assert what arrived — and what did not.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server: started by [`HttpStub::start`], it runs until the test
/// process ends.
pub struct HttpStub {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl HttpStub {
    /// Listens on a fresh port and answers every request with `reply`: a
    /// whole HTTP/1.1 response (see [`http_reply`]), made once from the
    /// stub's own port.
    pub fn start(reply: impl FnOnce(u16) -> String) -> HttpStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = heads.clone();
        let reply = Arc::new(reply(port));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (kept, reply) = (kept.clone(), reply.clone());
                std::thread::spawn(move || serve(stream, &kept, &reply));
            }
        });
        HttpStub { port, heads }
    }

    /// Each request that arrived: its request line and headers, lowercased.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Reads requests (head, then a `content-length` body) and answers each.
fn serve(mut stream: TcpStream, heads: &Mutex<Vec<String>>, reply: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            let body: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            if pending.len() >= end + 4 + body {
                pending.drain(..end + 4 + body);
                heads.lock().unwrap_or_else(|p| p.into_inner()).push(head);
                if stream.write_all(reply.as_bytes()).is_err() {
                    return;
                }
                continue;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

/// A whole HTTP/1.1 response: `status` (e.g. `200 OK`), extra header lines
/// (each ending in `\r\n`), a `content-type` and the body.
pub fn http_reply(status: &str, headers: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}content-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}
