//! The query plans of the hot path's statements: each reads an index of what it needs, never
//! every session or every connection ever recorded (`EXPLAIN QUERY PLAN` on the real schema).

use super::{connections, dispatch, session_writer, sessions, Store};

/// The plan of `sql`, one line per step.
async fn plan(store: &Store, sql: &str) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(&store.pool)
        .await
        .unwrap();
    rows.into_iter().map(|(_, _, _, detail)| detail).collect()
}

#[tokio::test]
async fn the_hot_statements_read_indexes_not_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    for (sql, expected) in [
        (sessions::LIVE_SESSIONS, "sessions_expiring"),
        // Its first statement: the others write one row each by its key.
        (
            session_writer::CREATE_SESSION
                .split(';')
                .next()
                .unwrap_or_default(),
            "sessions_expiring",
        ),
        (sessions::SWEEP_EXPIRED, "sessions_expiring"),
        (connections::INSTANCE_LIVE, "connections_live_instance"),
        (dispatch::RELEASE_UNNAMED, "connections_live_gateway"),
        (dispatch::EXPIRE_LEASES, "connections_live_"),
    ] {
        let steps = plan(&store, sql).await;
        assert!(
            steps.iter().any(|s| s.contains(expected)),
            "{expected} unused by {sql}: {steps:#?}"
        );
        for table in ["sessions", "connections"] {
            assert!(
                !steps.iter().any(|s| s == &format!("SCAN {table}")),
                "a scan of {table} in {sql}: {steps:#?}"
            );
        }
    }
    store.close().await;
}
