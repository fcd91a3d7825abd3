//! Shared by the integration tests: a small luban server on 127.0.0.1 port 0 ([`luban`], its
//! data channels [`data`] and KMS endpoint [`kms`]), the real `axt-agent` binary as a child
//! process ([`process`]), a client of encrypted sessions ([`e2e`]), and helpers.

#![allow(dead_code, unused_imports)] // each test binary uses its own part

pub mod data;
pub mod e2e;
pub mod kms;
pub mod luban;
pub mod process;

use std::time::Duration;

use axt_proto::{
    identity::{self, Identity},
    spec::SessionSpec,
};
use axum::{
    extract::ws::{Message, WebSocket},
    http::HeaderMap,
};
pub use data::DataSocket;
pub use luban::{Event, Luban};
pub use process::{register, Agent};

/// Every wait of a test is bounded by this.
pub const WAIT: Duration = Duration::from_secs(30);

/// A text kick on the notify socket and the agent's reply.
pub async fn kick(notify: &mut WebSocket, text: &str) -> String {
    notify.send(Message::Text(text.into())).await.unwrap();
    loop {
        let message = tokio::time::timeout(WAIT, notify.recv())
            .await
            .expect("no kick reply")
            .expect("kick channel closed")
            .unwrap();
        if let Message::Text(reply) = message {
            return reply.to_string();
        }
    }
}

/// The identity headers of a request, for `identity::verify`.
pub fn identity_of(headers: &HeaderMap) -> Identity {
    let get = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    Identity {
        instance_id: get(identity::INSTANCE_ID),
        timestamp_ms: get(identity::TIMESTAMP),
        request_id: get(identity::REQUEST_ID),
        signature: get(identity::SIGNATURE),
    }
}

/// A shell session's spec.
pub fn shell_spec(channel: &str) -> SessionSpec {
    SessionSpec {
        channel_id: channel.into(),
        ..Default::default()
    }
}

/// A port session's spec.
pub fn port_spec(channel: &str, host: &str, port: &str) -> SessionSpec {
    SessionSpec {
        channel_id: channel.into(),
        target_host: host.into(),
        port_number: port.into(),
        ..Default::default()
    }
}
