//! What the buses of many sessions may hold together: the shared backlog budget, the buses
//! kept without a connection, and the live ring that exists only while someone subscribes.

use std::time::Duration;

use super::{grant, next, numbered};
use crate::observe::{
    bus::{Budget, Bus, Item, BACKLOG_FLOOR},
    events::{Dir, Event, Frame, Kind},
    testing::{policy, Appends},
    Observe, MAX_LINGERING,
};

fn output(payload: usize) -> Event {
    Event::new(Kind::Frame, Some("c-1")).with_frame(Frame {
        dir: Dir::AgentToClient,
        kind: "Output".into(),
        seq: 0,
        ack: Some(0),
        payload: vec![7; payload],
    })
}

#[tokio::test(start_paused = true)]
async fn backlogs_together_stay_within_their_budget_payloads_going_first() {
    let budget = Budget::new(64 * 1024);
    let buses: Vec<Bus> = (0..4).map(|_| Bus::new(budget.clone())).collect();
    for _ in 0..40 {
        for bus in &buses {
            bus.publish(output(4096));
        }
    }
    assert!(budget.held() <= 64 * 1024, "{}", budget.held());
    // Every bus still shows its last events, their sizes intact even where the payload went.
    let mut subscription = buses[3].subscribe();
    let mut shown = 0;
    while let Ok(Some(Item::Event(event))) =
        tokio::time::timeout(Duration::from_millis(1), subscription.next()).await
    {
        let json: serde_json::Value = serde_json::from_str(&event.to_json(true)).unwrap();
        assert_eq!(json["size"], 4096, "{json}");
        shown += 1;
    }
    assert!(shown >= BACKLOG_FLOOR, "{shown}");
    drop(buses);
    assert_eq!(budget.held(), 0, "a bus gives back what it held");
}

#[test]
fn a_withheld_payload_is_not_shown_but_its_size_is() {
    let budget = Budget::new(1);
    let bus = Bus::new(budget.clone());
    bus.publish(output(100));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut subscription = bus.subscribe();
    let Some(Item::Event(event)) = rt.block_on(subscription.next()) else {
        panic!("the backlog is empty");
    };
    let json: serde_json::Value = serde_json::from_str(&event.to_json(true)).unwrap();
    assert_eq!(json["size"], 100);
    assert!(json.get("payload").is_none(), "{json}");
}

#[tokio::test(start_paused = true)]
async fn the_live_ring_lives_only_while_someone_subscribes() {
    let bus = Bus::default();
    assert_eq!(bus.subscribers(), 0);
    let mut watching = bus.subscribe();
    bus.publish(numbered(1));
    assert!(matches!(next(&mut watching).await, Some(Item::Event(_))));
    assert_eq!(bus.subscribers(), 1);
    drop(watching);
    bus.publish(numbered(2));
    assert_eq!(bus.subscribers(), 0);
    // A new subscriber finds both in the backlog, then live ones.
    let mut again = bus.subscribe();
    bus.publish(numbered(3));
    for _ in 0..3 {
        assert!(matches!(next(&mut again).await, Some(Item::Event(_))));
    }
}

#[tokio::test(start_paused = true)]
async fn only_so_many_buses_stay_without_a_connection_the_oldest_going_first() {
    let (appends, _rx) = Appends::new();
    let observe = Observe::new(policy(false), appends);
    let _live = observe.tap(&grant("s-live", "c-live", Some(22)), false);
    let total = MAX_LINGERING + 10;
    for n in 0..total {
        let session_id = format!("s-{n}");
        observe.token_checked(&session_id, None, "new connection");
        let tap = observe.tap(&grant(&session_id, "c-1", Some(22)), false);
        tokio::time::advance(Duration::from_millis(1)).await;
        drop(tap);
    }
    assert_eq!(
        observe.sessions(),
        MAX_LINGERING + 1,
        "the lingering, the live"
    );
    let mut newest = observe.subscribe(&format!("s-{}", total - 1)).unwrap();
    assert!(matches!(next(&mut newest).await, Some(Item::Event(_))));
    // The oldest was let go: subscribing to it finds a new bus, with nothing in it.
    let mut oldest = observe.subscribe("s-0").unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(1), oldest.next()).await;
    assert!(nothing.is_err(), "{nothing:?}");
}
