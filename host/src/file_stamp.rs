//! A file's stamp (device, inode, size, modification and change times) and
//! the digests the compile cache remembers by stamp.
//!
//! Hashing is most of a cached run of a large plugin: an 18 MB Python
//! component is hashed twice (its digest, and what its signatures sign) and
//! its 35 MB compilation once more, 60 % of the run's time. A file whose
//! stamp has not changed since it was hashed has the same bytes, so drhost
//! hashes it once and remembers the result by stamp:
//! - any write, truncation, `chmod`, link or rename onto the name gives the
//!   file a new change time (ctime), which the kernel sets to "now" and no
//!   one but root can set otherwise; a new file on a reused inode has a new
//!   ctime too;
//! - a stamp is remembered only once its ctime is [`SETTLED`] in the past,
//!   so a write within the same tick of a coarse file-system clock as the
//!   hashing cannot hide behind it (git's "racily clean" rule);
//! - what is remembered lives in the compile cache, a private directory of
//!   this user ([`crate::private_dir`]). Whoever can write there can already
//!   hand drhost native code to run, so remembering trusts no one the cache
//!   does not already trust. Without a cache, every run hashes everything.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far in the past a file's last change must be before its stamp is
/// remembered.
pub const SETTLED: Duration = Duration::from_secs(2);

/// What changes whenever a file's bytes may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    /// The stamp of the file `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The file's length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the file last changed at least [`SETTLED`] before `now`.
    pub fn settled(&self, now: SystemTime) -> bool {
        let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let (secs, nanos) = self.ctime;
        let (Ok(secs), Ok(nanos)) = (u64::try_from(secs), u32::try_from(nanos)) else {
            return false;
        };
        let changed = Duration::new(secs, nanos.min(999_999_999));
        since_epoch.checked_sub(changed).is_some_and(|age| age >= SETTLED)
    }

    /// One line: `dev ino size mtime.ns ctime.ns`.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {}.{} {}.{}",
            self.dev, self.ino, self.size, self.mtime.0, self.mtime.1, self.ctime.0, self.ctime.1
        )
    }

    /// The stamp [`Stamp::line`] wrote; `None` for anything else.
    pub fn parse(line: &str) -> Option<Stamp> {
        let mut words = line.split(' ');
        let mut number = || words.next()?.parse::<u64>().ok();
        let (dev, ino, size) = (number()?, number()?, number()?);
        let mut time = || -> Option<(i64, i64)> {
            let (secs, nanos) = words.next()?.split_once('.')?;
            Some((secs.parse().ok()?, nanos.parse().ok()?))
        };
        let (mtime, ctime) = (time()?, time()?);
        if words.next().is_some() {
            return None;
        }
        Some(Stamp {
            dev,
            ino,
            size,
            mtime,
            ctime,
        })
    }
}

/// A plugin file's hashes, as [`crate::plugin::PluginFile`] computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// sha256 of the file, lowercase hex.
    pub digest: String,
    /// What its signatures sign; `None` when the bytes did not parse.
    pub content_hash: Option<Vec<u8>>,
}

const MEMO_HEADER: &str = "drhost-digests-v1";
/// A memo is a few hundred bytes; anything longer is not one.
const MEMO_MAX: u64 = 4096;

/// The hashes remembered in the compile cache `cache_dir` for the file
/// with stamp `stamp`; `None` when there are none for exactly this stamp.
pub fn recall(cache_dir: &Path, stamp: &Stamp) -> Option<Hashes> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(memo_path(cache_dir, stamp))
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || !crate::private_dir::owned_privately(&meta) {
        return None;
    }
    let mut text = String::new();
    file.take(MEMO_MAX).read_to_string(&mut text).ok()?;
    let mut lines = text.lines();
    if lines.next()? != MEMO_HEADER || Stamp::parse(lines.next()?)? != *stamp {
        return None;
    }
    let digest = lines.next()?.to_string();
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return None;
    }
    let content_hash = match lines.next()? {
        "-" => None,
        hex_hash => Some(hex::decode(hex_hash).ok().filter(|h| h.len() == 32)?),
    };
    Some(Hashes { digest, content_hash })
}

/// Remembers `hashes` for the file with stamp `stamp` in the compile cache
/// `cache_dir` (a private directory the caller has checked), when the stamp
/// has [settled](Stamp::settled). Best effort: a memo that cannot be written
/// only means hashing again next time.
pub fn remember(cache_dir: &Path, stamp: &Stamp, hashes: &Hashes) {
    if stamp.settled(SystemTime::now()) {
        let _ = write_memo(cache_dir, stamp, hashes);
    }
}

fn write_memo(cache_dir: &Path, stamp: &Stamp, hashes: &Hashes) -> std::io::Result<()> {
    let path = memo_path(cache_dir, stamp);
    let dir = path.parent().unwrap_or(cache_dir);
    crate::private_dir::ensure(dir).map_err(std::io::Error::other)?;
    let content_hash = hashes
        .content_hash
        .as_deref()
        .map_or_else(|| "-".to_string(), hex::encode);
    let text = format!("{MEMO_HEADER}\n{}\n{}\n{content_hash}\n", stamp.line(), hashes.digest);
    write_atomically(&path, text.as_bytes())
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// renamed over it, so a reader sees the old file or the new one whole.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `<cache>/digests/<dev>-<ino>`: one memo per file, replaced when it changes.
fn memo_path(cache_dir: &Path, stamp: &Stamp) -> PathBuf {
    cache_dir.join("digests").join(format!("{}-{}", stamp.dev, stamp.ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp_of(path: &Path) -> Stamp {
        Stamp::of(&std::fs::metadata(path).unwrap())
    }

    #[test]
    fn a_stamp_reads_back_from_its_line_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let stamp = stamp_of(&path);
        assert_eq!(Stamp::parse(&stamp.line()), Some(stamp));
        assert_eq!(stamp.size(), 3);
        for bad in ["", "1 2 3", "1 2 3 4.5 6.7 8", "1 2 3 4 6.7", "a 2 3 4.5 6.7"] {
            assert_eq!(Stamp::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_stamp_settles_two_seconds_after_the_last_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let stamp = stamp_of(&path);
        assert!(!stamp.settled(SystemTime::now()), "just written");
        assert!(stamp.settled(SystemTime::now() + SETTLED + Duration::from_millis(10)));
        assert!(!stamp.settled(UNIX_EPOCH), "a clock before the change");
    }

    #[test]
    fn any_change_to_the_file_changes_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let before = stamp_of(&path);
        std::thread::sleep(Duration::from_millis(20));
        // Same length, same name, same inode: only the times tell.
        std::fs::write(&path, b"abd").unwrap();
        let after = stamp_of(&path);
        assert_eq!(before.ino, after.ino);
        assert_ne!(before, after);
        std::thread::sleep(Duration::from_millis(20));
        // Even a chmod, which leaves the bytes alone, is a change.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_ne!(after, stamp_of(&path));
    }

    #[test]
    fn hashes_are_recalled_only_for_the_stamp_they_were_remembered_for() {
        let cache = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.wasm");
        std::fs::write(&path, b"abc").unwrap();
        let stamp = stamp_of(&path);
        let hashes = Hashes {
            digest: "a".repeat(64),
            content_hash: Some(vec![7; 32]),
        };
        // Just written: not remembered yet.
        remember(cache.path(), &stamp, &hashes);
        assert_eq!(recall(cache.path(), &stamp), None);
        write_memo(cache.path(), &stamp, &hashes).unwrap();
        assert_eq!(recall(cache.path(), &stamp), Some(hashes.clone()));
        let no_content = Hashes {
            content_hash: None,
            ..hashes.clone()
        };
        write_memo(cache.path(), &stamp, &no_content).unwrap();
        assert_eq!(recall(cache.path(), &stamp), Some(no_content));
        // The file changes: its memo no longer answers.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"abd").unwrap();
        assert_eq!(recall(cache.path(), &stamp_of(&path)), None);
        // A memo that is not one (or not private) is ignored.
        let memo = memo_path(cache.path(), &stamp);
        for garbage in ["", "drhost-digests-v1\n", "drhost-digests-v1\nx\ny\nz\n"] {
            std::fs::write(&memo, garbage).unwrap();
            assert_eq!(recall(cache.path(), &stamp), None, "{garbage:?}");
        }
        write_memo(cache.path(), &stamp, &hashes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&memo, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(recall(cache.path(), &stamp), None, "writable by others");
    }
}
