//! The data directory and the database files, readable by their owner only from the first
//! start: the database holds sealed AccessKey secrets, hashed tokens and the audit log, and the
//! directory the key that opens those secrets.
//! (Modes are set explicitly, never through the process-wide umask.)

use std::{
    fs::{self, OpenOptions, Permissions},
    io::ErrorKind,
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use anyhow::Context as _;

pub use axt_kit::files::private_dir;

/// Mode of the database and its `-wal` and `-shm` files.
pub const FILE_MODE: u32 = 0o600;

/// Creates the database file with mode 0600 before SQLite opens it, or tightens it and any
/// `-wal`/`-shm` left by an earlier run. SQLite creates a database's `-wal` and `-shm` with
/// the mode of the database file itself (and sets it past the umask), so from then on they
/// are 0600 too.
pub fn private_db(path: &Path) -> anyhow::Result<()> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(FILE_MODE)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    for file in std::iter::once(path.to_owned()).chain(journals(path)) {
        match fs::set_permissions(&file, Permissions::from_mode(FILE_MODE)) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("making {} private", file.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `-wal` and `-shm` files SQLite keeps next to the database in WAL mode.
pub fn journals(path: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_files_of_an_earlier_run_are_tightened() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        let db = dir.join("x.db");
        let [wal, shm] = journals(&db);
        for file in [&db, &wal] {
            fs::write(file, "").unwrap();
            fs::set_permissions(file, Permissions::from_mode(0o644)).unwrap();
        }
        private_dir(&dir).unwrap();
        private_db(&db).unwrap();
        assert_eq!((mode(&dir), mode(&db), mode(&wal)), (0o700, 0o600, 0o600));
        assert!(!shm.exists(), "only existing journals are touched");
    }
}
