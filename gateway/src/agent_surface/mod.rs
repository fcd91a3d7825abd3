//! The agents' side of the gateway, `/luban/*`: registration and the HTTP calls of a running
//! agent (heart-beat, task and session lists, result reports, the data key of a KMS-encrypted
//! session, and the start-up calls the stock agent makes), plus the two WebSockets, the kick
//! channel and the data channel.

mod api;
pub mod identity;
pub mod throttle;

use std::sync::Arc;

use axum::{
    routing::{get, post},
    Router,
};

use crate::Shared;

/// The `/luban` routes.
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/luban/api/connection_detect", get(api::connection_detect))
        .route("/luban/api/instance/register", post(api::register))
        .route("/luban/api/instance/deregister", post(api::deregister))
        .route("/luban/api/heart-beat", get(api::heartbeat))
        .route("/luban/api/gshell", post(api::gshell))
        .route("/luban/api/v1/session/list", post(api::session_list))
        .route("/luban/api/v1/session/status", post(api::session_status))
        .route("/luban/api/v1/task/list", post(api::task_list))
        .route("/luban/api/v1/kms/decrypt", post(api::kms_decrypt))
        .route("/luban/api/v1/update/update_check", post(api::update_check))
        .route("/luban/api/metrics", post(api::acknowledge))
        .route(
            "/luban/api/v1/exception/client_report",
            post(api::acknowledge),
        )
        .route(
            "/luban/api/instance/list_instance_state_configurations",
            post(api::state_configurations),
        )
        .route("/luban/notify_server", get(crate::kick::notify_server))
        .route("/luban/session/backend", get(crate::relay::agent_backend))
}
