//! The counters StartTerminalSession counts a region's live sessions with (kept by triggers,
//! never a walk of the sessions) agree with the definition — not ended, and either within the
//! URL's validity or with a live connection — through everything that changes it: new
//! sessions, connections opening, connecting and ending, EndTerminalSession, URLs expiring.

mod common;

use std::time::Duration;

use axt_proto::{
    internal::{OpenChannel, RecordChannel},
    status::ConnectionStatus,
};
use common::*;

/// Both counts, which must agree.
async fn counts(plane: &TestPlane) -> (i64, i64) {
    let (store, now) = (&plane.shared.store, axt_control_plane::store::now());
    let counted = store.live_sessions(REGION, now).await.unwrap();
    let scanned = store.live_sessions_by_scan(REGION, now).await.unwrap();
    assert_eq!(counted, scanned, "the counter disagrees with a scan");
    (counted, scanned)
}

async fn start(plane: &TestPlane, instance: &str) -> OpenChannel {
    let (status, s) = plane
        .client()
        .call(
            "StartTerminalSession",
            &[("RegionId", REGION), ("InstanceId.1", instance)],
        )
        .await;
    assert_eq!(status, 200, "{s}");
    OpenChannel {
        session_id: s["SessionId"].as_str().unwrap().into(),
        token: s["SecurityToken"].as_str().unwrap().into(),
        client_ip: "127.0.0.1".into(),
        gateway_id: GATEWAY_ID.into(),
        gateway_boot: "boot-1".into(),
        instance_id: None,
    }
}

#[tokio::test]
async fn the_region_counter_agrees_with_the_definition_throughout() {
    // URLs valid for 5 s: long enough to open connections on them, short enough to expire.
    let plane = TestPlane::start(&["--url-ttl-secs", "5"]).await;
    let instance = plane.ready_instance().await;
    let gateway = plane.gateway();
    assert_eq!(counts(&plane).await.0, 0);
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(start(&plane, &instance).await);
    }
    assert_eq!(counts(&plane).await.0, 5);

    // Two connections on the first session (one connected), one on the second.
    let a1 = gateway.call(&sessions[0]).await.unwrap().channel_id;
    let a2 = gateway.call(&sessions[0]).await.unwrap().channel_id;
    let b1 = gateway.call(&sessions[1]).await.unwrap().channel_id;
    gateway
        .call(&RecordChannel::status(&a1, ConnectionStatus::Connected))
        .await
        .unwrap();
    assert_eq!(counts(&plane).await.0, 5);

    // Ending a session frees its place, whatever its connections.
    let (status, body) = plane
        .client()
        .call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", &sessions[2].session_id)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(counts(&plane).await.0, 4);
    for (channel, status) in [
        (&a2, ConnectionStatus::Terminated),
        (&b1, ConnectionStatus::Failed),
    ] {
        gateway
            .call(&RecordChannel::status(channel, status))
            .await
            .unwrap();
    }
    assert_eq!(counts(&plane).await.0, 4);

    // Once the URLs expire, only the session with a live connection counts — before the
    // sweep clears the others' flags and after.
    let expired = axt_kit::wait::eventually(
        Duration::from_secs(20),
        "the URLs expired",
        || counts(&plane),
        |(counted, _)| *counted == 1,
    )
    .await;
    assert_eq!(expired, (1, 1));
    // A place taken again is counted again; the first session's end frees its place.
    let again = start(&plane, &instance).await;
    assert_eq!(counts(&plane).await.0, 2);
    gateway
        .call(&RecordChannel::status(&a1, ConnectionStatus::Terminated))
        .await
        .unwrap();
    assert_eq!(counts(&plane).await.0, 1);
    let (status, body) = plane
        .client()
        .call(
            "EndTerminalSession",
            &[("RegionId", REGION), ("SessionId", &again.session_id)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(counts(&plane).await.0, 0);
}
