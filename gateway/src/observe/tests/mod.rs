//! The event bus and the registry of buses on their own, on paused time: the backlog, a slow
//! subscriber's losses, what the JSON shows, and buses let go some minutes after their
//! session's last connection.

mod bounds;
mod recorder;

use axt_proto::internal::{ChannelGrant, Encryption, EncryptionMode, SessionView};
use serde_json::Value;

use super::{
    bus::{Bus, Item, BACKLOG_EVENTS, LIVE_QUEUE},
    events::{Dir, Event, Frame, Kind},
    testing::{policy, Appends, PATIENCE},
    Observe, LINGER, MAX_SUBSCRIBERS, SWEEP_EVERY,
};

pub(crate) fn grant(session_id: &str, channel_id: &str, port: Option<u16>) -> ChannelGrant {
    ChannelGrant {
        channel_id: channel_id.into(),
        instance_id: "i-test".into(),
        spec: Default::default(),
        session: SessionView {
            session_id: session_id.into(),
            region_id: "cn-test".into(),
            instance_id: "i-test".into(),
            instance_ids: vec!["i-test".into()],
            state: axt_proto::status::SessionState::Pending,
            url_expires_at: 0,
            port_number: port,
            target_server: String::new(),
            command_line: String::new(),
            username: String::new(),
            rate_limit: None,
            encryption: None,
        },
    }
}

fn numbered(n: u64) -> Event {
    Event::new(Kind::Frame, Some("c-1")).with_frame(Frame {
        dir: Dir::AgentToClient,
        kind: "Output".into(),
        seq: n,
        ack: Some(0),
        payload: vec![],
    })
}

async fn next(subscription: &mut super::Subscription) -> Option<Item> {
    tokio::time::timeout(PATIENCE, subscription.next())
        .await
        .expect("nothing in time")
}

fn seq_of(item: Option<Item>) -> u64 {
    match item {
        Some(Item::Event(event)) => event.frame.as_ref().unwrap().seq,
        other => panic!("not an event: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_subscriber_gets_the_last_events_first_then_live_ones() {
    let bus = Bus::default();
    let total = BACKLOG_EVENTS as u64 + 5;
    for n in 0..total {
        bus.publish(numbered(n));
    }
    let mut subscription = bus.subscribe();
    bus.publish(numbered(total));
    for n in 5..=total {
        assert_eq!(seq_of(next(&mut subscription).await), n);
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_is_told_how_many_it_lost_and_the_publisher_never_waits() {
    let bus = Bus::default();
    let mut slow = bus.subscribe();
    let extra = 10;
    for n in 0..(LIVE_QUEUE + extra) as u64 {
        bus.publish(numbered(n));
    }
    match next(&mut slow).await {
        Some(Item::Lost(count)) => assert_eq!(count, extra as u64),
        other => panic!("expected a loss, got {other:?}"),
    }
    assert_eq!(
        seq_of(next(&mut slow).await),
        extra as u64,
        "then the oldest kept"
    );
    let lost: Value = serde_json::from_str(&super::events::lost_json(7)).unwrap();
    assert_eq!(
        (lost["kind"].as_str(), lost["count"].as_u64()),
        (Some("lost"), Some(7))
    );
}

#[test]
fn payloads_travel_only_when_asked_for() {
    let event = Event::new(Kind::Frame, Some("c-1")).with_frame(Frame {
        dir: Dir::ClientToAgent,
        kind: "Input".into(),
        seq: 3,
        ack: Some(2),
        payload: b"hello".to_vec(),
    });
    let hidden: Value = serde_json::from_str(&event.to_json(false)).unwrap();
    assert_eq!(hidden["kind"], "frame");
    assert_eq!(hidden["channelId"], "c-1");
    assert_eq!(hidden["dir"], "client-to-agent");
    assert_eq!(hidden["type"], "Input");
    assert_eq!(
        (hidden["seq"].as_u64(), hidden["ack"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(hidden["size"], 5);
    assert!(hidden.get("payload").is_none(), "{hidden}");
    assert!(hidden["at"].as_str().unwrap().ends_with('Z'));
    let shown: Value = serde_json::from_str(&event.to_json(true)).unwrap();
    assert_eq!(shown["payload"], "aGVsbG8=");
    let closed = Event::new(Kind::Closed, Some("c-1")).with_detail("IdleTimeout");
    let closed: Value = serde_json::from_str(&closed.to_json(true)).unwrap();
    assert_eq!(
        (closed["kind"].as_str(), closed["detail"].as_str()),
        (Some("closed"), Some("IdleTimeout"))
    );
    assert!(closed.get("size").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_sessions_bus_goes_some_minutes_after_its_last_connection() {
    let (appends, _rx) = Appends::new();
    let observe = Observe::new(policy(false), appends);
    let sweeper = tokio::spawn(super::sweep_every(observe.clone()));
    let first = observe.tap(&grant("s-1", "c-1", None), false);
    let second = observe.tap(&grant("s-1", "c-2", None), false);
    let mut watching = observe.subscribe("s-1").unwrap();
    drop(first);
    tokio::time::sleep(LINGER * 2).await;
    assert_eq!(observe.sessions(), 1, "a connection is still live");
    drop(second);
    tokio::time::sleep(LINGER - SWEEP_EVERY).await;
    assert_eq!(observe.sessions(), 1, "still lingering");
    tokio::time::sleep(SWEEP_EVERY * 2).await;
    assert_eq!(observe.sessions(), 0, "let go");
    assert!(
        next(&mut watching).await.is_none(),
        "its subscribers' streams end"
    );
    // A subscriber with no connection does not keep a bus either.
    let _watching = observe.subscribe("s-2").unwrap();
    tokio::time::sleep(LINGER + SWEEP_EVERY * 2).await;
    assert_eq!(observe.sessions(), 0);
    sweeper.abort();
}

#[tokio::test(start_paused = true)]
async fn subscribers_of_a_session_are_bounded() {
    let (appends, _rx) = Appends::new();
    let observe = Observe::new(policy(false), appends);
    let held: Vec<_> = (0..MAX_SUBSCRIBERS)
        .map(|_| observe.subscribe("s-1").unwrap())
        .collect();
    assert!(observe.subscribe("s-1").is_err());
    assert!(observe.subscribe("s-2").is_ok(), "per session");
    drop(held);
    assert!(observe.subscribe("s-1").is_ok());
}

#[tokio::test(start_paused = true)]
async fn only_plain_shell_connections_are_recorded() {
    let (appends, _rx) = Appends::new();
    let observe = Observe::new(policy(false), appends.clone());
    assert!(observe.tap(&grant("s-1", "c-1", None), false).recording());
    assert!(
        !observe
            .tap(&grant("s-1", "c-2", Some(22)), false)
            .recording(),
        "a port session"
    );
    assert!(
        !observe.tap(&grant("s-1", "c-3", None), true).recording(),
        "taken over"
    );
    let mut encrypted = grant("s-1", "c-4", None);
    encrypted.session.encryption = Some(Encryption {
        mode: EncryptionMode::Auto,
        kms_key_id: String::new(),
    });
    assert!(!observe.tap(&encrypted, false).recording(), "encrypted");
    let off = Observe::new(
        super::Policy {
            enabled: false,
            ..policy(true)
        },
        appends,
    );
    assert!(
        !off.tap(&grant("s-1", "c-5", None), false).recording(),
        "--no-recordings"
    );
}
