//! What a copy of the data directory gives away: its files are private to their owner from the
//! first start, the database holds no AccessKey secret in clear (not even one from a database
//! that predates sealing), and the database without its key file opens no secret at all.

mod common;

use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    str::FromStr as _,
};

use axt_control_plane::{sealing, store::DB_FILE, App, Config};
use clap::Parser as _;
use common::*;
use sqlx::{sqlite::SqliteConnectOptions, Connection as _, SqliteConnection};

const LEGACY_KEY: &str = "LTAIlegacyKeyInClear";
const LEGACY_SECRET: &str = "legacy-secret-in-clear-0123456";
/// The secret of a key an older axtlab deleted: gone from the table, not from the file. Its
/// row is made long enough to spill into an overflow page, which the delete leaves on the
/// free list, where no later update of the table touches it.
const DELETED_SECRET: &str = "deleted-secret-in-free-space-0";

fn config(dir: &Path) -> Config {
    Config::parse_from([
        "axt-control-plane",
        "--data-dir",
        &dir.display().to_string(),
        "--internal-token",
        INTERNAL_TOKEN,
        "--admin-access-key-id",
        KEY_ID,
        "--admin-access-key-secret",
        SECRET,
    ])
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn db_files(dir: &Path) -> [PathBuf; 3] {
    let db = dir.join(DB_FILE);
    let [wal, shm] = axt_control_plane::store::private::journals(&db);
    [db, wal, shm]
}

/// Whether `needle` is anywhere in the bytes of the database or its WAL.
fn on_disk(dir: &Path, needle: &str) -> bool {
    let [db, wal, _] = db_files(dir);
    let haystack = [db, wal]
        .map(|f| std::fs::read(f).unwrap_or_default())
        .concat();
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The database opened the way a tool (or an older axtlab) would, beside the control plane.
async fn raw_db(dir: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(dir.join(DB_FILE));
    SqliteConnection::connect_with(&options).await.unwrap()
}

#[tokio::test]
async fn the_data_directory_and_database_files_are_private_from_the_first_start() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let app = App::open(config(&dir)).await.unwrap();
    let store = &app.shared().store;
    store.audit("request", KEY_ID, "Test", "").await.unwrap();
    let [db, wal, shm] = db_files(&dir);
    let key = dir.join(sealing::KEY_FILE);
    let modes = [&dir, &db, &wal, &shm, &key].map(|p| format!("{:o}", mode(p)));
    store.close().await;
    assert_eq!(modes, ["700", "600", "600", "600", "600"]);
}

#[tokio::test]
async fn no_access_key_secret_is_stored_in_clear() {
    let plane = TestPlane::start(&[]).await;
    // The sealed secret still verifies signatures, of both versions.
    assert_eq!(plane.client().call("DescribeRegions", &[]).await.0, 200);
    assert_eq!(plane.client().call_v3("DescribeRegions", &[]).await.0, 200);
    plane.shared.store.close().await;
    assert!(!on_disk(plane.dir.path(), SECRET));
    let mut db = raw_db(plane.dir.path()).await;
    let stored: String = sqlx::query_scalar("SELECT secret FROM access_keys WHERE id = ?")
        .bind(KEY_ID)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
}

#[tokio::test]
async fn secrets_of_a_database_from_before_sealing_are_sealed_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(config(dir.path())).await.unwrap();
    app.shared().store.close().await;
    // Make it what an older axtlab left: every secret in clear, and no key file.
    let mut db = raw_db(dir.path()).await;
    sqlx::query("UPDATE access_keys SET secret = ?")
        .bind(SECRET)
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO access_keys (id, secret, account_id, created_at)
         SELECT ?, ?, account_id, 0 FROM access_keys LIMIT 1",
    )
    .bind(LEGACY_KEY)
    .bind(LEGACY_SECRET)
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO access_keys (id, secret, account_id, created_at)
         SELECT 'LTAIdeleted', ?, account_id, 0 FROM access_keys LIMIT 1",
    )
    .bind(DELETED_SECRET.repeat(200))
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query("DELETE FROM access_keys WHERE id = 'LTAIdeleted'")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    std::fs::remove_file(dir.path().join(sealing::KEY_FILE)).unwrap();
    for secret in [LEGACY_SECRET, DELETED_SECRET] {
        assert!(
            on_disk(dir.path(), secret),
            "the set-up left {secret} in clear"
        );
    }

    let app = App::open(config(dir.path())).await.unwrap();
    for secret in [LEGACY_SECRET, SECRET, DELETED_SECRET] {
        assert!(!on_disk(dir.path(), secret), "{secret} is still on disk");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = app.spawn(listener).unwrap();
    let legacy = Client {
        http: reqwest::Client::new(),
        addr: running.addr,
        key: LEGACY_KEY.into(),
        secret: LEGACY_SECRET.into(),
    };
    let (status, body) = legacy.call("DescribeRegions", &[]).await;
    assert_eq!(status, 200, "the sealed legacy secret verifies: {body}");
}

#[tokio::test]
async fn a_copied_database_without_its_key_file_does_not_open() {
    let original = tempfile::tempdir().unwrap();
    let app = App::open(config(original.path())).await.unwrap();
    app.shared().store.close().await;
    let copy_to = |dir: &Path| {
        for (from, to) in db_files(original.path()).iter().zip(db_files(dir)) {
            if from.exists() {
                std::fs::copy(from, to).unwrap();
            }
        }
    };

    let keyless = tempfile::tempdir().unwrap();
    copy_to(keyless.path());
    let err = format!(
        "{:#}",
        App::open(config(keyless.path())).await.err().unwrap()
    );
    assert!(err.contains("secrets.key is missing"), "{err}");
    assert!(
        !keyless.path().join(sealing::KEY_FILE).exists(),
        "no new key replaces the lost one"
    );

    let other_key = tempfile::tempdir().unwrap();
    copy_to(other_key.path());
    sealing::Sealer::create(&other_key.path().join(sealing::KEY_FILE)).unwrap();
    let err = format!(
        "{:#}",
        App::open(config(other_key.path())).await.err().unwrap()
    );
    assert!(err.contains("does not open"), "{err}");

    // With its own key the same database opens.
    let app = App::open(config(original.path())).await.unwrap();
    app.shared().store.close().await;
}
