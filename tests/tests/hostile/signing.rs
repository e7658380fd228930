//! A plugin file that changes while `drhost sign` or `drhost verify` reads
//! it (issue 11, item 10): each reads the file once and describes, signs,
//! verifies and reports (by digest) exactly what it read.
//!
//! The plugin path is a FIFO the test feeds: every open of it reads the
//! next of two different plugins, so a command that reads the file twice
//! sees two files — the swap an attacker would have to race for, made
//! (all but) deterministic: the feeder waits 100 ms after each read for the
//! reader to close before serving the next open.

use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use drhost_tests::cli::{fixture, plugin, shared_cache_dir, Run};
use drhost_tests::tmp::TmpDir;
use drhost_tests::util::without_custom_sections;
use sha2::{Digest, Sha256};

const SIGNATURE_SECTIONS: &[&str] = &["signature", "drhost-identity"];

/// A FIFO at `path` that serves `versions[0]`, `versions[1]`, `versions[0]`…
/// to each reader in turn, until it is dropped or `path` stops being a
/// FIFO (e.g. `sign` renamed its output over it).
struct SwappingFile {
    stop: Arc<AtomicBool>,
    served: Option<std::thread::JoinHandle<usize>>,
}

impl SwappingFile {
    fn new(path: &Path, versions: [Vec<u8>; 2]) -> SwappingFile {
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
        let stop = Arc::new(AtomicBool::new(false));
        let (path, stopped) = (path.to_path_buf(), stop.clone());
        let served = std::thread::spawn(move || serve(&path, &versions, &stopped));
        SwappingFile {
            stop,
            served: Some(served),
        }
    }

    /// How many times the file was read.
    fn reads(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.served.take().unwrap().join().unwrap()
    }
}

impl Drop for SwappingFile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(path: &PathBuf, versions: &[Vec<u8>; 2], stop: &AtomicBool) -> usize {
    let mut served = 0;
    while !stop.load(Ordering::SeqCst) {
        // Non-blocking: fails (ENXIO) until a reader has the FIFO open.
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
        let Ok(mut file) = opened else {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        };
        if !file.metadata().is_ok_and(|m| m.file_type().is_fifo()) {
            break;
        }
        // SAFETY: fcntl on a descriptor we own, clearing O_NONBLOCK.
        unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, 0) };
        let _ = std::io::Write::write_all(&mut file, &versions[served % 2]);
        // Close only once the reader has taken every byte, then give it
        // time to close its end: a writer opening while this reader still
        // reads would append the next version to this read.
        while !stop.load(Ordering::SeqCst) {
            let mut unread: libc::c_int = 0;
            // SAFETY: FIONREAD on a pipe we own writes one int.
            let asked = unsafe { libc::ioctl(file.as_raw_fd(), libc::FIONREAD, &mut unread) };
            if asked != 0 || unread == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(file);
        served += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    served
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn sign_and_verify_read_the_plugin_once_and_report_what_they_read() {
    let dir = TmpDir::new("drhost-hostile-signing-");
    let keys = dir.path().join("keys");
    let keygen = Run::cli(["keygen", "--out", s(&keys), "--id", "k1"]).exec();
    assert_eq!(keygen.code, 0, "{}", keygen.stderr);
    let trust = dir.write("trust.toml", &keygen.stdout);
    let hello = without_custom_sections(&std::fs::read(plugin("hello")).unwrap(), SIGNATURE_SECTIONS);
    let other = without_custom_sections(&std::fs::read(fixture("misbehave")).unwrap(), SIGNATURE_SECTIONS);

    // sign: the file is hello on the first read, misbehave on the second.
    let target = dir.path().join("plugin.wasm");
    let swapping = SwappingFile::new(&target, [hello.clone(), other.clone()]);
    let cache = shared_cache_dir();
    let out = Run::cli([
        "sign",
        s(&target),
        "--key",
        s(&keys.join("k1.key")),
        "--cache-dir",
        s(&cache),
    ])
    .exec();
    let reads = swapping.reads();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(reads, 1, "sign read the plugin {reads} times");
    assert!(
        out.stdout.contains(&format!("({} as read)", digest(&hello))),
        "{}",
        out.stdout
    );
    let signed = std::fs::read(&target).unwrap();
    assert!(
        out.stdout.contains(&format!("now {}", digest(&signed))),
        "{}",
        out.stdout
    );
    // What was signed is hello, described as hello.
    let read_back = drhost::trust::signature::read(&target, &signed).unwrap();
    assert_eq!(read_back.identity.as_ref().map(|i| i.id.as_str()), Some("hello"));
    assert_eq!(without_custom_sections(&signed, SIGNATURE_SECTIONS), hello);

    // verify: the signed plugin on the first read, misbehave on the second.
    let fed = dir.path().join("fed.wasm");
    let swapping = SwappingFile::new(&fed, [signed.clone(), other]);
    let out = Run::cli(["verify", s(&fed), "--trust", s(&trust), "--json"]).exec();
    let reads = swapping.reads();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(reads, 1, "verify read the plugin {reads} times");
    let verdict = out.json();
    assert_eq!(verdict["digest"], digest(&signed));
    assert_eq!(verdict["verdict"], "trusted");
    assert_eq!(verdict["identity"]["id"], "hello");
}
