//! The internal API that gateways call, under [`axt_proto::internal::BASE`], authenticated by the shared internal
//! token (`Authorization: Bearer <AXT_INTERNAL_TOKEN>`, compared in constant time). Its
//! requests and answers are the types of `axt_proto::internal`, which the gateway's client
//! uses too; each handler below answers one of them.
//!
//! | call | what it does |
//! |---|---|
//! | [`VerifyToken`] | checks a client's token and the URL's validity |
//! | [`OpenChannel`] | the same check, then allocates a channel (`Connecting`) under the per-instance limit |
//! | [`ResumeChannel`] | a restarted gateway takes over a live channel of the session |
//! | [`ChannelSpecRequest`] | the spec an agent pulls after its kick |
//! | [`RecordChannel`] | records a connection's progress and byte counts |
//! | [`SessionStates`] | which of these live sessions must end (EndTerminalSession, StopInstance) |
//! | [`RegisterAgent`], [`AgentHeartbeat`], [`AgentIdentityRequest`], [`DeregisterAgent`] | an agent's registration, liveness and identity |
//! | [`KickChannel`], [`GatewayStarted`] | which gateway holds which agent's kick channel |
//! | [`GatewayLease`] | a gateway's lease on the connections it relays (every call naming a gateway's run renews it too) |
//! | [`DecryptDataKey`](axt_proto::internal::DecryptDataKey) | an agent's KMS data key, for a live channel of its Mode Kms session ([`kms`]) |
//! | [`AppendRecording`](axt_proto::internal::AppendRecording) | asciicast lines of a shell connection's recording ([`recordings`]) |

mod kms;
mod recordings;

use std::{future::Future, sync::Arc};

use axt_proto::{
    internal::{
        AgentHeartbeat, AgentIdentity, AgentIdentityRequest, Call, ChannelGrant,
        ChannelSpecRequest, ChannelView, DeregisterAgent, Done, Encryption, EncryptionMode,
        GatewayLease, GatewayStarted, KickChannel, LeaseGranted, OpenChannel, RecordChannel,
        Refusal, RefusalCode, RegisterAgent, Registered, ResumeChannel, SessionStateEntry,
        SessionStates, SessionStatesAnswer, SessionView, Verified, VerifyToken,
    },
    spec::{flow_limit_bits, SessionSpec, SpecEncryption},
};
use axum::{
    body::Bytes,
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};

use crate::{
    ids,
    store::{ConnectionLimits, Full, RegistrationError, Session, TokenCheck},
    Shared,
};

type Answer<T> = Result<T, Refusal>;

/// The internal routes, behind the token check; nested at [`BASE`] by the caller.
pub fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let router = Router::new();
    let router = route(router, verify);
    let router = route(router, open_channel);
    let router = route(router, resume_channel);
    let router = route(router, channel_spec);
    let router = route(router, record_channel);
    let router = route(router, session_states);
    let router = route(router, register);
    let router = route(router, heartbeat);
    let router = route(router, identity);
    let router = route(router, deregister);
    let router = route(router, kick_channel);
    let router = route(router, gateway_started);
    let router = route(router, gateway_lease);
    let router = route(router, kms::decrypt_data_key);
    let router = route(router, recordings::append);
    router.layer(middleware::from_fn_with_state(shared, require_token))
}

/// Serves call `C` with `handler`: the body must be exactly a `C` (else `MalformedRequest`),
/// the answer is exactly a `C::Answer` or a [`Refusal`] with its status.
fn route<C, F, Fut>(router: Router<Arc<Shared>>, handler: F) -> Router<Arc<Shared>>
where
    C: Call + 'static,
    F: Fn(Arc<Shared>, C) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Answer<C::Answer>> + Send + 'static,
{
    let serve = move |State(shared): State<Arc<Shared>>, body: Bytes| async move {
        let request: C = match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(e) => return refuse(Refusal::new(RefusalCode::MalformedRequest, e.to_string())),
        };
        match handler(shared, request).await {
            Ok(answer) => Json(answer).into_response(),
            Err(refusal) => refuse(refusal),
        }
    };
    router.route(C::ROUTE, post(serve))
}

fn refuse(refusal: Refusal) -> Response {
    let status =
        StatusCode::from_u16(refusal.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(refusal)).into_response()
}

/// A database failure: logged here, the gateway learns only that it may retry.
fn database(error: sqlx::Error) -> Refusal {
    tracing::error!(%error, "database error on the internal API");
    Refusal::new(RefusalCode::InternalError, "database error")
}

async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !ids::secrets_equal(presented, &shared.internal_token) {
        return refuse(Refusal::new(
            RefusalCode::Unauthorized,
            "bad internal token",
        ));
    }
    next.run(request).await
}

/// A session's `EncryptionOptions`, when encryption is on.
fn encryption(s: &Session) -> Option<Encryption> {
    s.encryption
        .as_deref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .map(|e| Encryption {
            mode: if e["Mode"] == "Kms" {
                EncryptionMode::Kms
            } else {
                EncryptionMode::Auto
            },
            kms_key_id: e["KMSKeyId"].as_str().unwrap_or_default().to_owned(),
        })
}

/// The session as gateways see it, for the connection to `instance_id`.
fn session_view(shared: &Shared, s: &Session, instance_id: &str) -> SessionView {
    let encryption = encryption(s);
    SessionView {
        session_id: s.id.clone(),
        region_id: s.region_id.clone(),
        instance_id: instance_id.to_owned(),
        instance_ids: s.instance_id_list(),
        state: s.state,
        url_expires_at: s.url_expires_at,
        port_number: s.port_number.and_then(|p| u16::try_from(p).ok()),
        target_server: s.target_server.clone(),
        command_line: s.command_line.clone(),
        username: s.username.clone(),
        rate_limit: std::num::NonZeroU64::new(shared.config.session_rate_limit),
        encryption,
    }
}

/// The spec an agent runs for `channel_id` of session `s`.
fn spec(shared: &Shared, s: &Session, channel_id: &str) -> SessionSpec {
    SessionSpec {
        channel_id: channel_id.to_owned(),
        cmd_content: s.command_line.clone(),
        username: s.username.clone(),
        windows_password_name: s.password_name.clone(),
        password_name: s.password_name.clone(),
        target_host: s.target_server.clone(),
        port_number: s.port_number.map(|p| p.to_string()).unwrap_or_default(),
        flow_limit: flow_limit_bits(shared.config.session_rate_limit),
        // So the agent waits for a key exchange before it starts the shell.
        encryption_options: encryption(s).map(|e| SpecEncryption {
            enabled: true,
            mode: match e.mode {
                EncryptionMode::Auto => "Auto",
                EncryptionMode::Kms => "Kms",
            }
            .to_owned(),
            kms_key_id: e.kms_key_id,
        }),
        ..Default::default()
    }
}

/// The session of a valid token.
async fn check(shared: &Shared, session_id: &str, token: &str) -> Answer<Session> {
    let checked = shared
        .store
        .check_session_token(session_id, token)
        .await
        .map_err(database)?;
    match checked {
        TokenCheck::Valid(s) => Ok(*s),
        TokenCheck::Unknown => Err(Refusal::new(
            RefusalCode::InvalidToken,
            "unknown session or token",
        )),
        TokenCheck::Expired => Err(Refusal::new(
            RefusalCode::UrlExpired,
            "the WebSocketUrl has expired",
        )),
        TokenCheck::Ended => Err(Refusal::new(
            RefusalCode::SessionEnded,
            "the session was ended",
        )),
    }
}

async fn verify(shared: Arc<Shared>, r: VerifyToken) -> Answer<Verified> {
    let session = check(&shared, &r.session_id, &r.token).await?;
    Ok(Verified {
        session: session_view(&shared, &session, &session.instance_id),
    })
}

async fn open_channel(shared: Arc<Shared>, r: OpenChannel) -> Answer<ChannelGrant> {
    let mut session = check(&shared, &r.session_id, &r.token).await?;
    if let Some(id) = r.instance_id.filter(|id| !id.is_empty()) {
        if !session.instance_id_list().contains(&id) {
            return Err(Refusal::new(
                RefusalCode::InvalidInstance,
                format!("{id} is not part of the session"),
            ));
        }
        session.instance_id = id;
    }
    renew(&shared, &r.gateway_id, &r.gateway_boot).await?;
    // The count and the insert must not interleave with another allocation.
    let _gate = shared.channel_gate.lock().await;
    let limits = ConnectionLimits {
        sessions_per_instance: shared.config.max_connections_per_instance,
        connections_per_session: shared.config.max_connections_per_session,
    };
    let gateway = (r.gateway_id.as_str(), r.gateway_boot.as_str());
    let connection = shared
        .store
        .open_connection(&session, gateway, &r.client_ip, limits)
        .await
        .map_err(database)?
        .map_err(|full| match full {
            Full::Instance => Refusal::new(
                RefusalCode::SessionCountExceedLimit,
                format!(
                    "instance {} already has {} connected sessions",
                    session.instance_id, limits.sessions_per_instance
                ),
            ),
            Full::Session => Refusal::new(
                RefusalCode::ConnectionCountExceedLimit,
                format!(
                    "session {} already has {} live connections",
                    session.id, limits.connections_per_session
                ),
            ),
        })?;
    Ok(ChannelGrant {
        spec: spec(&shared, &session, &connection.channel_id),
        session: session_view(&shared, &session, &connection.instance_id),
        channel_id: connection.channel_id,
        instance_id: connection.instance_id,
    })
}

async fn resume_channel(shared: Arc<Shared>, r: ResumeChannel) -> Answer<ChannelGrant> {
    let session = check(&shared, &r.session_id, &r.token).await?;
    let connection = shared
        .store
        .connection(&r.channel_id)
        .await
        .map_err(database)?
        .filter(|c| c.session_id == session.id && c.status.is_live())
        .ok_or_else(|| {
            Refusal::new(
                RefusalCode::ChannelNotFound,
                "no live channel of this session",
            )
        })?;
    // The new gateway's lease covers it from now on.
    renew(&shared, &r.gateway_id, &r.gateway_boot).await?;
    shared
        .store
        .take_over(&r.channel_id, &r.gateway_id, &r.gateway_boot)
        .await
        .map_err(database)?;
    Ok(ChannelGrant {
        spec: spec(&shared, &session, &connection.channel_id),
        session: session_view(&shared, &session, &connection.instance_id),
        channel_id: connection.channel_id,
        instance_id: connection.instance_id,
    })
}

async fn channel_spec(shared: Arc<Shared>, r: ChannelSpecRequest) -> Answer<ChannelView> {
    let not_found = || Refusal::new(RefusalCode::ChannelNotFound, "no such channel");
    let connection = shared
        .store
        .connection(&r.channel_id)
        .await
        .map_err(database)?
        .ok_or_else(not_found)?;
    let session = shared
        .store
        .session(&connection.session_id)
        .await
        .map_err(database)?
        .ok_or_else(not_found)?;
    Ok(ChannelView {
        spec: spec(&shared, &session, &connection.channel_id),
        channel_id: connection.channel_id,
        session_id: connection.session_id,
        instance_id: connection.instance_id,
        status: connection.status,
    })
}

async fn record_channel(shared: Arc<Shared>, r: RecordChannel) -> Answer<Done> {
    if !shared.store.update_connection(&r).await.map_err(database)? {
        return Err(Refusal::new(
            RefusalCode::ChannelNotFound,
            "no such channel",
        ));
    }
    Ok(Done {})
}

/// Gateways ask this four times a second for the sessions they relay, so that EndTerminalSession
/// and StopInstance reach live connections within a second.
async fn session_states(shared: Arc<Shared>, r: SessionStates) -> Answer<SessionStatesAnswer> {
    let states = shared
        .store
        .session_states(&r.session_ids)
        .await
        .map_err(database)?;
    Ok(SessionStatesAnswer {
        sessions: states
            .into_iter()
            .map(|(session_id, state)| SessionStateEntry { session_id, state })
            .collect(),
    })
}

async fn register(shared: Arc<Shared>, r: RegisterAgent) -> Answer<Registered> {
    match shared.store.register_agent(&r).await {
        Ok(instance_id) => {
            tracing::info!(%instance_id, activation_id = %r.activation_id, hostname = %r.hostname, "agent registered");
            Ok(Registered { instance_id })
        }
        Err(RegistrationError::Database(e)) => Err(database(e)),
        Err(e) => Err(Refusal::new(
            RefusalCode::RegistrationRefused,
            e.to_string(),
        )),
    }
}

fn not_registered() -> Refusal {
    Refusal::new(
        RefusalCode::InstanceNotRegistered,
        "no registered agent for this instance",
    )
}

async fn heartbeat(shared: Arc<Shared>, beat: AgentHeartbeat) -> Answer<Done> {
    renew(&shared, &beat.gateway_id, &beat.gateway_boot).await?;
    let store = &shared.store;
    let version = Some(beat.agent_version.as_str()).filter(|v| !v.is_empty());
    if !store
        .heartbeat(&beat.instance_id, version)
        .await
        .map_err(database)?
    {
        return Err(not_registered());
    }
    // A beat re-asserts the kick channel its gateway holds (a lost report of its opening is
    // mended); a beat without one changes nothing, since a newer channel's report may be on
    // its way.
    if let Some(link) = beat.kick_link {
        store
            .kick_channel_opened(&beat.instance_id, &beat.gateway_id, link)
            .await
            .map_err(database)?;
    }
    Ok(Done {})
}

async fn identity(shared: Arc<Shared>, r: AgentIdentityRequest) -> Answer<AgentIdentity> {
    let instance = shared
        .store
        .instance(&r.instance_id)
        .await
        .map_err(database)?
        .filter(|i| !i.deregistered)
        .ok_or_else(not_registered)?;
    let public_key = instance.agent_public_key.ok_or_else(not_registered)?;
    Ok(AgentIdentity {
        instance_id: instance.id,
        region_id: instance.region_id,
        machine_id: instance.machine_id,
        public_key,
        agent_version: instance.agent_version,
    })
}

async fn deregister(shared: Arc<Shared>, r: DeregisterAgent) -> Answer<Done> {
    if !shared
        .store
        .release_agent(&r.instance_id)
        .await
        .map_err(database)?
    {
        return Err(not_registered());
    }
    tracing::info!(instance_id = %r.instance_id, "agent deregistered itself");
    Ok(Done {})
}

async fn kick_channel(shared: Arc<Shared>, r: KickChannel) -> Answer<Done> {
    renew(&shared, &r.gateway_id, &r.gateway_boot).await?;
    let store = &shared.store;
    let recorded = if r.open {
        store
            .kick_channel_opened(&r.instance_id, &r.gateway_id, r.link)
            .await
    } else {
        store
            .kick_channel_closed(&r.instance_id, &r.gateway_id, r.link)
            .await
    };
    recorded.map_err(database)?;
    Ok(Done {})
}

async fn gateway_started(shared: Arc<Shared>, r: GatewayStarted) -> Answer<Done> {
    renew(&shared, &r.gateway_id, &r.gateway_boot).await?;
    let forgotten = shared
        .store
        .gateway_started(&r.gateway_id)
        .await
        .map_err(database)?;
    tracing::info!(gateway_id = %r.gateway_id, forgotten, "gateway started");
    Ok(Done {})
}

async fn gateway_lease(shared: Arc<Shared>, r: GatewayLease) -> Answer<LeaseGranted> {
    renew(&shared, &r.gateway_id, &r.gateway_boot).await?;
    // A connection the gateway does not name is not relayed: its last record was lost.
    // Connections allocated within the last renewal period may not be named yet.
    let settled = lease_secs(&shared) / 3 + 1;
    let released = shared
        .store
        .release_unnamed(&r.gateway_id, &r.gateway_boot, &r.channel_ids, settled)
        .await
        .map_err(database)?;
    if released > 0 {
        tracing::warn!(gateway_id = %r.gateway_id, released, "connections their gateway no longer relays");
    }
    Ok(LeaseGranted {
        lease_secs: lease_secs(&shared).unsigned_abs(),
    })
}

fn lease_secs(shared: &Shared) -> i64 {
    shared.config.gateway_lease_secs.max(1)
}

/// Renews the lease of a gateway's run: any call naming it says it is alive.
async fn renew(shared: &Shared, gateway_id: &str, boot: &str) -> Answer<()> {
    shared
        .store
        .renew_lease(gateway_id, boot, lease_secs(shared))
        .await
        .map_err(database)
}
