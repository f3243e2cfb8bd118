//! Storage rules for every file codecafe writes.
//!
//! - **Atomic replace**: a temporary file in the same directory, written, synced, then renamed
//!   over the target (and the directory synced), so a crash leaves the old file or the new one,
//!   never half of either.
//! - **Cross-process locking** for read-modify-write: an exclusive lock on `<file>.lock`, waited
//!   for in bounded steps, so two codecafe processes never lose each other's updates.
//! - **A schema version** in every JSON document; a newer version than this build reads is an
//!   error, never a silent downgrade.
//! - **Corruption is an error** that names the file and the last good copy (`<file>.bak`, kept
//!   at every write); an unreadable file is never replaced by an empty one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CatalogError, Result};

/// How long to wait for another process's lock before giving up.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir).map_err(CatalogError::io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let temp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // Make the rename itself durable.
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    written.map_err(|source| {
        let _ = std::fs::remove_file(&temp);
        CatalogError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// An exclusive cross-process lock, released when dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// Locks `<target>.lock`, waiting up to [`LOCK_TIMEOUT`].
    pub fn acquire(target: &Path) -> Result<Self> {
        Self::acquire_within(target, LOCK_TIMEOUT)
    }

    /// Locks `<target>.lock`, waiting up to `timeout`.
    pub fn acquire_within(target: &Path, timeout: Duration) -> Result<Self> {
        let path = lock_path(target);
        let dir = parent_dir(&path);
        std::fs::create_dir_all(dir).map_err(CatalogError::io(dir))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(CatalogError::io(&path))?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { file, path }),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(CatalogError::Io {
                        path,
                        source: std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "another codecafe process has held this lock for over {}s; \
                                 if none is running, the lock is stale: remove the file",
                                timeout.as_secs()
                            ),
                        ),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(CatalogError::Io { path, source }),
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn lock_path(target: &Path) -> PathBuf {
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    target.with_file_name(name)
}

/// The last good copy kept beside a document.
pub fn backup_path(target: &Path) -> PathBuf {
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".bak");
    target.with_file_name(name)
}

/// A JSON document with a schema version in its `version` field.
pub trait Versioned: Serialize + DeserializeOwned {
    /// The version this build writes and the newest it reads.
    const VERSION: u32;
    /// A fresh, empty document (used only when the file does not exist).
    fn empty() -> Self;
}

#[derive(serde::Deserialize)]
struct VersionProbe {
    version: Option<u32>,
}

/// Reads a versioned document; `Ok(None)` when the file does not exist.
pub fn read_versioned<T: Versioned>(path: &Path) -> Result<Option<T>> {
    Ok(read_with_bytes(path)?.map(|(document, _)| document))
}

/// A versioned document and the bytes it was read from (the last good copy, for the backup).
fn read_with_bytes<T: Versioned>(path: &Path) -> Result<Option<(T, Vec<u8>)>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CatalogError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let corrupt = |reason: String| {
        let backup = backup_path(path);
        CatalogError::Corrupt {
            path: path.to_owned(),
            reason,
            backup: backup.is_file().then_some(backup),
        }
    };
    let probe: VersionProbe =
        serde_json::from_slice(&bytes).map_err(|err| corrupt(format!("invalid JSON: {err}")))?;
    match probe.version {
        None => return Err(corrupt("it has no `version` field".to_owned())),
        Some(found) if found > T::VERSION => {
            return Err(CatalogError::NewerVersion {
                path: path.to_owned(),
                found,
                supported: T::VERSION,
            });
        }
        Some(_) => {}
    }
    let document = serde_json::from_slice(&bytes).map_err(|err| corrupt(err.to_string()))?;
    Ok(Some((document, bytes)))
}

/// Reads a versioned document, or its empty form when the file does not exist.
pub fn read_or_empty<T: Versioned>(path: &Path) -> Result<T> {
    Ok(read_versioned(path)?.unwrap_or_else(T::empty))
}

/// Writes a versioned document atomically; `previous` (the bytes of the readable file it
/// replaces, if any) is kept first as `<file>.bak`, the last good copy.
fn write_versioned<T: Versioned>(path: &Path, document: &T, previous: Option<&[u8]>) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(document).map_err(|err| CatalogError::Io {
        path: path.to_owned(),
        source: std::io::Error::other(err),
    })?;
    bytes.push(b'\n');
    if let Some(previous) = previous {
        write_atomic(&backup_path(path), previous)?;
    }
    write_atomic(path, &bytes)
}

/// Read-modify-write under the document's lock: reads it (or its empty form), lets `change`
/// modify it, and writes it back only if `change` succeeds. The file is read once; the bytes
/// read become the backup.
pub fn update<T: Versioned, R>(path: &Path, change: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
    let _lock = FileLock::acquire(path)?;
    let (mut document, previous) = match read_with_bytes::<T>(path)? {
        Some((document, bytes)) => (document, Some(bytes)),
        None => (T::empty(), None),
    };
    let result = change(&mut document)?;
    write_versioned(path, &document, previous.as_deref())?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        version: u32,
        items: Vec<String>,
    }

    impl Versioned for Doc {
        const VERSION: u32 = 1;
        fn empty() -> Self {
            Self {
                version: 1,
                items: Vec::new(),
            }
        }
    }

    #[test]
    fn missing_file_reads_as_empty_and_updates_create_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested/doc.json");
        assert_eq!(read_versioned::<Doc>(&path).expect("reads"), None);
        update::<Doc, _>(&path, |doc| {
            doc.items.push("a".to_owned());
            Ok(())
        })
        .expect("updates");
        assert_eq!(read_or_empty::<Doc>(&path).expect("reads").items, ["a"]);
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_is_left_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.json");
        update::<Doc, _>(&path, |doc| {
            doc.items.push("kept".to_owned());
            Ok(())
        })
        .expect("first write");
        update::<Doc, _>(&path, |doc| {
            doc.items.push("second".to_owned());
            Ok(())
        })
        .expect("second write keeps a backup");
        std::fs::write(&path, b"{\"version\": 1, \"items\": [").expect("corrupt it");
        let error = update::<Doc, _>(&path, |_| Ok(())).expect_err("refuses");
        let message = error.to_string();
        assert!(matches!(error, CatalogError::Corrupt { .. }), "{message}");
        assert!(message.contains("doc.json"), "{message}");
        assert!(
            message.contains("doc.json.bak"),
            "names the backup: {message}"
        );
        assert_eq!(
            std::fs::read(&path).expect("still there"),
            b"{\"version\": 1, \"items\": ["
        );
        let backup: Doc =
            serde_json::from_slice(&std::fs::read(backup_path(&path)).expect("backup"))
                .expect("backup is good");
        assert_eq!(backup.items, ["kept"]);
    }

    #[test]
    fn a_newer_version_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.json");
        std::fs::write(&path, br#"{"version": 7, "items": []}"#).expect("write");
        match read_versioned::<Doc>(&path) {
            Err(CatalogError::NewerVersion {
                found: 7,
                supported: 1,
                ..
            }) => {}
            other => panic!("expected a newer-version error, got {other:?}"),
        }
        std::fs::write(&path, br#"{"items": []}"#).expect("write");
        assert!(matches!(
            read_versioned::<Doc>(&path),
            Err(CatalogError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_failed_change_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.json");
        let result = update::<Doc, ()>(&path, |doc| {
            doc.items.push("lost".to_owned());
            Err(CatalogError::BadValue {
                what: "x".to_owned(),
                message: "no".to_owned(),
            })
        });
        assert!(result.is_err());
        assert!(!path.exists());
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.json");
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let path = &path;
                scope.spawn(move || {
                    for i in 0..25 {
                        update::<Doc, _>(path, |doc| {
                            doc.items.push(format!("{thread}-{i}"));
                            Ok(())
                        })
                        .expect("updates");
                    }
                });
            }
        });
        assert_eq!(read_or_empty::<Doc>(&path).expect("reads").items.len(), 200);
    }

    #[test]
    fn a_held_lock_times_out_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc.json");
        let _held = FileLock::acquire(&path).expect("first lock");
        // A second open file description in the same process contends like another process.
        let error =
            FileLock::acquire_within(&path, Duration::from_millis(20)).expect_err("times out");
        assert!(error.to_string().contains("doc.json.lock"), "{error}");
    }
}
