//! An activation's `IpAddressRange` is enforced at registration, against the address the
//! gateway saw the agent connect from: through the internal contract, and through a real
//! gateway's agent surface.

mod common;

use axt_proto::{
    internal::RegisterAgent,
    luban::{RegisterRequest, RegisterResponse},
};
use clap::Parser as _;
use common::*;
use serde_json::Value;

/// A fresh activation for `count` hosts in `range` (the service's default when `None`).
async fn activation(plane: &TestPlane, range: Option<&str>, count: &str) -> Value {
    let mut p = vec![("RegionId", REGION), ("InstanceCount", count)];
    p.extend(range.map(|r| ("IpAddressRange", r)));
    let (status, act) = plane.client().call("CreateActivation", &p).await;
    assert_eq!(status, 200, "{act}");
    act
}

#[tokio::test]
async fn a_host_outside_the_range_is_refused_and_one_inside_registers() {
    let plane = TestPlane::start(&[]).await;
    let gateway = plane.gateway();
    let act = activation(&plane, Some("192.0.2.0/24, 2001:db8::/32"), "3").await;
    let from = |source: &str| RegisterAgent {
        source_ip: source.into(),
        ..registration(&act)
    };
    for outside in ["127.0.0.1", "192.0.3.1", "::1", "not-an-address"] {
        let refused = gateway.call(&from(outside)).await.unwrap_err().to_string();
        assert!(
            refused.contains("RegistrationRefused"),
            "{outside}: {refused}"
        );
    }
    let refused = gateway.call(&from("198.51.100.1")).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("the address 198.51.100.1 is outside the activation's range"),
        "{refused}"
    );
    // A dual-stack listener reports an IPv4 peer as ::ffff:a.b.c.d: the IPv4 address counts.
    for inside in ["192.0.2.77", "::ffff:192.0.2.78", "2001:db8::5"] {
        let id = gateway.call(&from(inside)).await.unwrap().instance_id;
        assert!(id.starts_with("mi-"), "{inside}: {id}");
    }
    let (_, acts) = plane
        .client()
        .call("DescribeActivations", &[("RegionId", REGION)])
        .await;
    assert_eq!(acts["ActivationList"][0]["RegisteredCount"], 3, "{acts}");

    // The default range refuses no host.
    let open = activation(&plane, None, "2").await;
    for source in ["10.9.8.7", "2001:db9::1"] {
        let r = RegisterAgent {
            source_ip: source.into(),
            ..registration(&open)
        };
        gateway.call(&r).await.unwrap();
    }
}

#[tokio::test]
async fn a_range_that_is_not_one_is_refused_at_creation() {
    let plane = TestPlane::start(&[]).await;
    for bad in ["10.0.0.0/33", "10.0.0.1-10.0.0.9", "lab hosts"] {
        let got = plane
            .client()
            .call(
                "CreateActivation",
                &[("RegionId", REGION), ("IpAddressRange", bad)],
            )
            .await;
        assert_error(&got, 400, "InvalidParameter");
    }
}

#[tokio::test]
async fn the_gateway_passes_the_address_the_agent_connected_from() {
    let plane = TestPlane::start(&[]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = axt_gateway::Config::parse_from([
        "axt-gateway",
        "--plain",
        "--data-dir",
        &plane.dir.path().join("gw").display().to_string(),
        "--control-plane",
        &format!("http://{}", plane.addr),
        "--internal-token",
        INTERNAL_TOKEN,
    ]);
    let gw = axt_gateway::Gateway::open(config)
        .await
        .unwrap()
        .spawn(listener)
        .unwrap();
    let register = |act: &Value| {
        let r = registration(act);
        let body = RegisterRequest {
            activation_id: r.activation_id,
            activation_code: r.activation_code,
            public_key: r.public_key,
            machine_id: r.machine_id,
            hostname: r.hostname,
            ..Default::default()
        };
        let url = format!("http://{}/luban/api/instance/register", gw.addr);
        async move {
            let resp = reqwest::Client::new().post(url).json(&body).send().await;
            resp.unwrap().json::<RegisterResponse>().await.unwrap()
        }
    };
    // This test connects from 127.0.0.1.
    let elsewhere = activation(&plane, Some("192.0.2.0/24"), "1").await;
    let refused = register(&elsewhere).await;
    assert_eq!(refused.code, 400, "{refused:?}");
    assert!(
        refused
            .err_msg
            .contains("the address 127.0.0.1 is outside the activation's range 192.0.2.0/24"),
        "{refused:?}"
    );
    let loopback = activation(&plane, Some("127.0.0.0/8"), "1").await;
    let registered = register(&loopback).await;
    assert_eq!(registered.code, 200, "{registered:?}");
    assert!(registered.instance_id.starts_with("mi-"));
}
