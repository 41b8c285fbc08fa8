//! Durable file operations: atomic replacement, hashing copies, checksums.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::RegistryError;

/// Read buffer for hashing and copying model files (which can be hundreds of megabytes).
const CHUNK: usize = 1 << 20;

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Flushes a directory entry so that a rename or create inside it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Replaces `path` with `bytes` so that readers see either the old or the new content, never a
/// mix, even across a crash: temp file in the same directory, fsync, rename, fsync the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let dir = path
        .parent()
        .ok_or_else(|| RegistryError::Corrupt(format!("{} has no parent", path.display())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_error(&tmp))?;
        file.write_all(bytes).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_error(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

/// Copies `from` to a new file `to`, fsyncs it, and returns the SHA-256 (hex) of what was copied.
pub(crate) fn copy_hashing(from: &Path, to: &Path) -> Result<String, RegistryError> {
    let mut source = File::open(from).map_err(io_error(from))?;
    let mut target = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(io_error(to))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(from)(e)),
        };
        hasher.update(&buf[..n]);
        target.write_all(&buf[..n]).map_err(io_error(to))?;
    }
    target.sync_all().map_err(io_error(to))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Moves the regular file `from` to `to` (a new name on the same file system), makes sure its
/// content is on disk, and returns its SHA-256 (hex); copies it as [`copy_hashing`] does when
/// it cannot be renamed (another file system, or not a regular file).
pub(crate) fn move_hashing(from: &Path, to: &Path) -> Result<String, RegistryError> {
    let regular = std::fs::symlink_metadata(from).is_ok_and(|m| m.file_type().is_file());
    if !regular || to.exists() || std::fs::rename(from, to).is_err() {
        return copy_hashing(from, to);
    }
    // Whoever wrote the file may not have flushed it; when it did, this costs nothing.
    File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(io_error(to))?;
    sha256_file(to)
}

/// The SHA-256 (hex) of a file's content.
pub fn sha256_file(path: &Path) -> Result<String, RegistryError> {
    let mut file = File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(path)(e)),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A name part no other process or thread picks at the same time.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `s` looks like a SHA-256 hex digest.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pointer.json");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn copy_hashing_returns_the_checksum_of_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a");
        let to = dir.path().join("b");
        std::fs::write(&from, b"abc").unwrap();
        let sum = copy_hashing(&from, &to).unwrap();
        assert_eq!(
            sum,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_file(&to).unwrap(), sum);
    }

    #[test]
    fn move_hashing_moves_a_regular_file_and_copies_what_a_link_points_to() {
        let dir = tempfile::tempdir().unwrap();
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let from = dir.path().join("a");
        let to = dir.path().join("b");
        std::fs::write(&from, b"abc").unwrap();
        assert_eq!(move_hashing(&from, &to).unwrap(), abc);
        assert!(!from.exists());
        assert_eq!(std::fs::read(&to).unwrap(), b"abc");

        // The link stays, and the registry gets the content, not a link.
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            let target = dir.path().join("c");
            std::os::unix::fs::symlink(&to, &link).unwrap();
            assert_eq!(move_hashing(&link, &target).unwrap(), abc);
            assert!(link.exists());
            assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
        }

        // An existing name is never replaced.
        std::fs::write(&from, b"abc").unwrap();
        assert!(move_hashing(&from, &to).is_err());
        assert!(from.exists());
    }
}
