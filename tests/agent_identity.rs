//! What forged agent identities cost: an unknown instance id is looked up once and then refused
//! from memory, a forged signature on a real instance does not make the gateway fetch its key
//! again and again, and an address past its failure budget costs the control plane nothing
//! more — while a genuine agent behind that same address keeps working.

use std::{net::IpAddr, time::Duration};

use axt_e2e::Stack;
use axt_proto::identity;

const LIMIT: Duration = Duration::from_secs(30);

/// Someone sending `/luban` requests with identity headers it made up.
struct Forger {
    http: reqwest::Client,
    base: String,
}

impl Forger {
    fn new(stack: &Stack, from: IpAddr) -> Self {
        Self {
            http: stack.gateway_http(Some(from)),
            base: format!("https://{}", stack.gw_addr),
        }
    }

    /// A heart-beat claiming to be `instance_id`, signed with random bytes; its HTTP status.
    async fn heartbeat(&self, instance_id: &str) -> u16 {
        let now = axt_proto::now_ms().to_string();
        let request = self
            .http
            .get(format!("{}/luban/api/heart-beat", self.base))
            .header(identity::INSTANCE_ID, instance_id)
            .header(identity::TIMESTAMP, now)
            .header(identity::REQUEST_ID, uuid::Uuid::new_v4().to_string())
            .header(identity::SIGNATURE, "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==");
        request.send().await.unwrap().status().as_u16()
    }

    /// A registration with a made-up activation; the `code` of its answer.
    async fn register(&self) -> i64 {
        let answer: serde_json::Value = self
            .http
            .post(format!("{}/luban/api/instance/register", self.base))
            .body(r#"{"activationId":"made-up","activationCode":"guess"}"#)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["code"].as_i64().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_identities_cost_the_control_plane_almost_nothing() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    // The forger shares the genuine agent's address.
    let forger = Forger::new(&stack, "127.0.0.1".parse().unwrap());
    let identities = &stack.gateway.identities;

    // One unknown id, again and again: the control plane is asked once.
    let before = identities.lookups();
    for _ in 0..20 {
        assert_eq!(forger.heartbeat("i-forged").await, 401);
    }
    assert_eq!(
        identities.lookups() - before,
        1,
        "unknown ids are remembered"
    );

    // A real instance with forged signatures: its key is not fetched again for each.
    let before = identities.lookups();
    for _ in 0..20 {
        assert_eq!(forger.heartbeat(&instance).await, 401);
    }
    assert!(
        identities.lookups() - before <= 1,
        "keys are not refetched per failure"
    );

    // Forty failures so far; the budget is sixty a minute. Twenty new ids are still looked
    // up, then the address gets no more lookups: 429, from memory.
    let before = identities.lookups();
    let mut statuses = Vec::new();
    for n in 0..40 {
        statuses.push(forger.heartbeat(&format!("i-forged-{n}")).await);
    }
    assert_eq!(identities.lookups() - before, 20, "{statuses:?}");
    assert_eq!(statuses[..20], [401; 20]);
    assert_eq!(statuses[20..], [429; 20]);
    assert_eq!(
        forger.register().await,
        429,
        "guessing activations is bounded too"
    );
    assert_eq!(identities.lookups() - before, 20);

    // The genuine agent behind the same address still verifies, from the cached key.
    let mut client = stack.open(&[("InstanceId.1", &instance)]).await;
    client.shell_answers("genuine", LIMIT).await;
}
