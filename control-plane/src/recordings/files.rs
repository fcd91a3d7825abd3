//! The recordings' files: private to their owner (0600 in 0700 directories, whatever the
//! umask), written in place at the stored size, read back up to it, and walked by the sweep.
//! Blocking calls, for `spawn_blocking`.

use std::{
    fs::{self, OpenOptions},
    io::{ErrorKind, Read as _, Seek as _, SeekFrom, Write as _},
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use anyhow::Context as _;
use axt_kit::files::private_dir;

/// The file name suffix of a recording: asciicast.
pub const SUFFIX: &str = ".cast";

/// Writes `bytes` at `at` in the recording `path` (creating it, and its 0700 directory and
/// the 0700 root of every recording above that, as needed) and syncs them. Whatever the file held past `at` is cut off first: bytes a
/// crash left unrecorded, which the retried append now writes again.
pub fn write_at(path: &Path, at: u64, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no directory", path.display()))?;
    if !dir.is_dir() {
        // The root first: private_dir makes missing parents with the umask's mode.
        if let Some(root) = dir.parent() {
            private_dir(root)?;
        }
        private_dir(dir)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let written = file
        .set_len(at)
        .and_then(|()| file.seek(SeekFrom::Start(at)))
        .and_then(|_| file.write_all(bytes))
        .and_then(|()| file.sync_data());
    written.with_context(|| format!("writing {}", path.display()))
}

/// The first `size` bytes of the recording `path` (fewer if the file is shorter).
pub fn read_prefix(path: &Path, size: u64) -> anyhow::Result<Vec<u8>> {
    let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(size)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

/// Removes a file; one already gone is no error.
pub fn remove(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// A recording file found on disk.
pub struct Found {
    pub path: PathBuf,
    /// Its name without [`SUFFIX`]: the channel id.
    pub channel_id: String,
    /// Its modification time, in Unix seconds.
    pub modified: i64,
}

/// Every recording file under `root` (`<session>/<channel>.cast`); a missing root has none.
pub fn walk(root: &Path) -> anyhow::Result<Vec<Found>> {
    let sessions = match fs::read_dir(root) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.with_context(|| format!("listing {}", root.display()))?,
    };
    let mut found = Vec::new();
    for session in sessions.flatten() {
        let Ok(files) = fs::read_dir(session.path()) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            let Some(channel_id) = name.strip_suffix(SUFFIX) else {
                continue;
            };
            let modified = file
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            found.push(Found {
                path: file.path(),
                channel_id: channel_id.to_owned(),
                modified,
            });
        }
    }
    Ok(found)
}

/// Removes the session directories under `root` that hold nothing any more.
pub fn remove_empty_dirs(root: &Path) {
    let Ok(sessions) = fs::read_dir(root) else {
        return;
    };
    for session in sessions.flatten() {
        // Fails, harmlessly, on a directory that still holds a recording.
        let _ = fs::remove_dir(session.path());
    }
}
