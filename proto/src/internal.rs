//! The internal API between gateways and the control plane, as types both sides compile
//! against: a change on one side is a change on the other (docs/architecture.md §3).
//!
//! Every call is a `POST` of a JSON body to [`BASE`] + [`Call::ROUTE`] with
//! `Authorization: Bearer <internal token>`, answered `200` with [`Call::Answer`] or a 4xx/5xx
//! with a [`Refusal`]. Ids travel in bodies, never in paths, so no id can steer a call to
//! another route. Names are camelCase. The contract is exact both ways: every field must be
//! present (an `Option` as `null`), and an unknown field is an error — a field renamed on one
//! side fails loudly instead of silently reading as "no limit" or "already expired".

use std::num::NonZeroU64;

use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize};

use crate::{
    spec::SessionSpec,
    status::{ClosedReason, ConnectionStatus, SessionState, SessionVerdict},
};

/// Where the internal routes live on the control plane.
pub const BASE: &str = "/internal/v1";

/// One call of the internal API: its request body is `Self`.
pub trait Call: Serialize + DeserializeOwned + Send + Sync {
    /// The route under [`BASE`].
    const ROUTE: &'static str;
    /// The answer's body.
    type Answer: Serialize + DeserializeOwned + Send;
}

/// Reads an `Option` field that must be present (as `null` when there is nothing): serde
/// would otherwise take a missing `Option` field for `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::deserialize(d)
}

/// An answer with nothing to say beyond "done".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {}

macro_rules! calls {
    ($($request:ident => $answer:ty, $route:literal;)+) => {
        $(impl Call for $request {
            const ROUTE: &'static str = $route;
            type Answer = $answer;
        })+
        /// Every route, for tests that walk the whole contract.
        pub const ROUTES: &[&str] = &[$($route),+];
    };
}

calls! {
    VerifyToken => Verified, "/sessions/verify";
    SessionStates => SessionStatesAnswer, "/sessions/states";
    OpenChannel => ChannelGrant, "/channels/open";
    ResumeChannel => ChannelGrant, "/channels/resume";
    ChannelSpecRequest => ChannelView, "/channels/spec";
    RecordChannel => Done, "/channels/record";
    RegisterAgent => Registered, "/agents/register";
    AgentHeartbeat => Done, "/agents/heartbeat";
    AgentIdentityRequest => AgentIdentity, "/agents/identity";
    DeregisterAgent => Done, "/agents/deregister";
    KickChannel => Done, "/agents/kick-channel";
    GatewayStarted => Done, "/gateways/started";
    GatewayLease => LeaseGranted, "/gateways/lease";
    DecryptDataKey => DataKey, "/kms/decrypt-data-key";
    AppendRecording => Done, "/recordings/append";
}

/// Checks a client's token and the URL's validity, allocating nothing (a 1.02 client
/// reconnecting to a channel this gateway still relays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyToken {
    pub session_id: String,
    pub token: String,
}

/// A valid token's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verified {
    pub session: SessionView,
}

/// What the gateway needs to know of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionView {
    pub session_id: String,
    pub region_id: String,
    /// The instance of this connection: the first of `instance_ids` unless the client chose.
    pub instance_id: String,
    pub instance_ids: Vec<String>,
    pub state: SessionState,
    /// Unix seconds after which the WebSocketUrl opens nothing.
    pub url_expires_at: i64,
    /// A port session's port; `None` for a shell.
    #[serde(deserialize_with = "present")]
    pub port_number: Option<u16>,
    pub target_server: String,
    pub command_line: String,
    pub username: String,
    /// The session's bandwidth each way in bytes per second; `None`: not limited.
    #[serde(deserialize_with = "present")]
    pub rate_limit: Option<NonZeroU64>,
    /// EncryptionOptions when encryption is on.
    #[serde(deserialize_with = "present")]
    pub encryption: Option<Encryption>,
}

impl SessionView {
    /// Whether this is a port-forwarding session.
    pub fn is_port(&self) -> bool {
        self.port_number.is_some()
    }
}

/// A session's `EncryptionOptions`, when `Enabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Encryption {
    pub mode: EncryptionMode,
    /// The KMS key of `Kms` mode; empty for `Auto`.
    pub kms_key_id: String,
}

/// `EncryptionOptions.Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncryptionMode {
    /// Keys agreed between client and agent.
    Auto,
    /// A data key from KMS.
    Kms,
}

/// Which of these live sessions must end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStates {
    pub session_ids: Vec<String>,
}

/// The verdict on each session the control plane knows (unknown ids are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStatesAnswer {
    pub sessions: Vec<SessionStateEntry>,
}

/// One session's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStateEntry {
    pub session_id: String,
    pub state: SessionVerdict,
}

/// Checks a client's token, then allocates a channel for its connection (`Connecting`) under
/// the per-instance limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenChannel {
    pub session_id: String,
    pub token: String,
    /// The client's address, for the record.
    pub client_ip: String,
    /// The gateway relaying the connection, and its run (see [`GatewayLease`]).
    pub gateway_id: String,
    pub gateway_boot: String,
    /// One of the session's instances, when it names several; `None`: the first.
    #[serde(deserialize_with = "present")]
    pub instance_id: Option<String>,
}

/// A restarted gateway takes over a live channel of the session (a 1.02 client came back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResumeChannel {
    pub channel_id: String,
    pub session_id: String,
    pub token: String,
    /// The gateway taking the channel over, and its run.
    pub gateway_id: String,
    pub gateway_boot: String,
}

/// A channel the gateway may relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelGrant {
    pub channel_id: String,
    pub instance_id: String,
    /// What the agent will pull for this channel.
    pub spec: SessionSpec,
    pub session: SessionView,
}

/// The spec an agent pulls after its kick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelSpecRequest {
    pub channel_id: String,
}

/// A channel as an agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelView {
    pub channel_id: String,
    pub session_id: String,
    pub instance_id: String,
    pub status: ConnectionStatus,
    pub spec: SessionSpec,
}

/// Records a connection's progress. A connection that ended stays ended: later reports may
/// only raise its byte counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordChannel {
    pub channel_id: String,
    /// The new status; `None` leaves it.
    #[serde(deserialize_with = "present")]
    pub status: Option<ConnectionStatus>,
    #[serde(deserialize_with = "present")]
    pub closed_reason: Option<ClosedReason>,
    /// What failed (an agent result code such as `Open_pty_failed`, or a sentence).
    #[serde(deserialize_with = "present")]
    pub failed_detail: Option<String>,
    /// Bytes relayed so far, client → instance.
    pub bytes_in: u64,
    /// Bytes relayed so far, instance → client.
    pub bytes_out: u64,
    /// The instance whose agent made this report, when it is an agent's: the record then
    /// applies only to a channel of that instance (an agent reports on its own channels only).
    #[serde(deserialize_with = "present")]
    pub reporter: Option<String>,
}

impl RecordChannel {
    /// A report of a new status only.
    pub fn status(channel_id: &str, status: ConnectionStatus) -> Self {
        Self {
            channel_id: channel_id.to_owned(),
            status: Some(status),
            closed_reason: None,
            failed_detail: None,
            bytes_in: 0,
            bytes_out: 0,
            reporter: None,
        }
    }
}

/// Registers an agent with an activation (the gateway has unwrapped its public key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterAgent {
    pub activation_id: String,
    pub activation_code: String,
    /// PEM of the agent's RSA public key: every later request of the agent is signed with its
    /// private half.
    pub public_key: String,
    pub machine_id: String,
    pub region_id: String,
    pub instance_name: String,
    pub hostname: String,
    pub intranet_ip: String,
    pub os_type: String,
    pub os_version: String,
    pub agent_version: String,
    /// A simulated ECS instance (`i-…`) to claim instead of becoming a managed instance.
    #[serde(deserialize_with = "present")]
    pub claim_instance_id: Option<String>,
    /// The address the gateway saw the registering agent connect from, checked against the
    /// activation's `IpAddressRange`.
    pub source_ip: String,
}

/// The instance an agent registered as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registered {
    pub instance_id: String,
}

/// An agent's heart-beat, as the gateway saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentHeartbeat {
    pub instance_id: String,
    /// From the agent's `User-Agent`; empty when it sent none.
    pub agent_version: String,
    /// The gateway that saw the beat, and its run.
    pub gateway_id: String,
    pub gateway_boot: String,
    /// The agent's kick channel on that gateway, if it holds one now: a lost report of it
    /// mends itself within a heart-beat.
    #[serde(deserialize_with = "present")]
    pub kick_link: Option<u64>,
}

/// A registered agent's identity, to check its signed headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentIdentityRequest {
    pub instance_id: String,
}

/// What the control plane knows of a registered agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentIdentity {
    pub instance_id: String,
    pub region_id: String,
    pub machine_id: String,
    /// PEM of its RSA public key.
    pub public_key: String,
    pub agent_version: String,
}

/// The agent deregisters itself: a managed instance is deregistered, a claimed ECS instance
/// released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeregisterAgent {
    pub instance_id: String,
}

/// A gateway gained or lost an agent's kick channel: StartTerminalSession dispatches only to
/// instances whose kick channel some gateway holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KickChannel {
    pub instance_id: String,
    pub gateway_id: String,
    pub gateway_boot: String,
    /// Which of the gateway's kick channels (a number it never reuses while it runs): the
    /// late report of an old channel's end must not erase the agent's new one.
    pub link: u64,
    pub open: bool,
}

/// A gateway (re)started: it holds no kick channel yet, whatever its previous life recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayStarted {
    pub gateway_id: String,
    pub gateway_boot: String,
}

/// A gateway renews its lease on the connections it relays, naming them. A run of a gateway
/// (`gateway_boot`, new at every start) that stops renewing — killed, cut off — loses them:
/// the control plane records them `Failed` (`GatewayLost`) and they stop counting against any
/// limit. So does a connection its gateway no longer names (its last record was lost). Every
/// call naming a gateway's run renews its lease too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayLease {
    pub gateway_id: String,
    pub gateway_boot: String,
    /// Every channel this run of the gateway relays now.
    pub channel_ids: Vec<String>,
}

/// How long the lease lasts: renew well before it runs out (at a third of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaseGranted {
    pub lease_secs: u64,
}

/// An agent has the KMS data key of its encrypted session decrypted (docs/encryption.md §2): it
/// has no AccessKey of its own, so its gateway asks on its behalf. Decrypted only for a live
/// channel of that very instance whose session is encrypted in Mode `Kms` under the blob's own
/// key, and only while that key is enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecryptDataKey {
    pub channel_id: String,
    /// The instance whose agent asks, as its identity headers proved it.
    pub instance_id: String,
    /// The `CiphertextBlob` of KMS GenerateDataKey that the client sent in its key exchange.
    pub ciphertext_blob: String,
}

/// The data key, as KMS Decrypt answers its `Plaintext`: base64 of the key's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataKey {
    pub plaintext_base64: String,
}

/// Appends asciicast v2 lines to the recording of one shell connection, stored as
/// `<sessionId>/<channelId>.cast`. `offset` is how many bytes of the recording the gateway
/// already appended: a retried append whose offset is already stored is accepted as done, an
/// offset past the stored end (a gap) is refused. `last` marks the recording complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendRecording {
    pub session_id: String,
    pub channel_id: String,
    pub instance_id: String,
    /// Bytes already appended before `data`.
    pub offset: u64,
    /// Whole asciicast lines (UTF-8, each ending in a newline); the first append starts with
    /// the header line.
    pub data: String,
    /// The connection ended: nothing more follows.
    pub last: bool,
}

/// Why the control plane refused a call; travels with the HTTP status of [`RefusalCode::status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[error("{code:?}: {message}")]
pub struct Refusal {
    pub code: RefusalCode,
    pub message: String,
}

impl Refusal {
    /// A refusal with its explanation.
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The reasons a call can be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefusalCode {
    /// The bearer token is wrong.
    Unauthorized,
    /// The body is not this route's request.
    MalformedRequest,
    /// No such session, or the token is none of its tokens.
    InvalidToken,
    /// The WebSocketUrl's ten minutes have passed.
    UrlExpired,
    /// EndTerminalSession was called.
    SessionEnded,
    /// The instance chosen is not one of the session's.
    InvalidInstance,
    /// The instance already has its maximum of connected sessions.
    #[serde(rename = "SessionCount.ExceedLimit")]
    SessionCountExceedLimit,
    /// The session already has its maximum of live connections (WebSockets).
    #[serde(rename = "ConnectionCount.ExceedLimit")]
    ConnectionCountExceedLimit,
    /// No such channel (or none live of this session).
    ChannelNotFound,
    /// The activation refused the registration.
    RegistrationRefused,
    /// No registered agent for this instance.
    InstanceNotRegistered,
    /// A data key the session may not have decrypted: the session is not encrypted in Mode
    /// `Kms`, the blob is of another key or not a blob at all, or the key is not enabled.
    DataKeyRefused,
    /// An append that does not continue its recording: its offset is past the stored end (a
    /// gap: the message says how many bytes are stored), or it adds to a recording whose last
    /// append already came.
    RecordingConflict,
    /// The control plane failed (its database); the call may be retried.
    InternalError,
}

impl RefusalCode {
    /// The HTTP status that carries it.
    pub fn status(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::MalformedRequest | Self::InvalidInstance | Self::RegistrationRefused => 400,
            Self::InvalidToken | Self::DataKeyRefused => 403,
            Self::UrlExpired | Self::SessionEnded => 410,
            Self::SessionCountExceedLimit | Self::ConnectionCountExceedLimit => 429,
            Self::ChannelNotFound | Self::InstanceNotRegistered => 404,
            Self::RecordingConflict => 409,
            Self::InternalError => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> SessionView {
        SessionView {
            session_id: "s-1".into(),
            region_id: "cn-hangzhou".into(),
            instance_id: "i-1".into(),
            instance_ids: vec!["i-1".into()],
            state: SessionState::Pending,
            url_expires_at: 1_700_000_600,
            port_number: None,
            target_server: String::new(),
            command_line: String::new(),
            username: String::new(),
            rate_limit: NonZeroU64::new(204_800),
            encryption: None,
        }
    }

    #[test]
    fn a_missing_field_is_an_error_even_an_optional_one() {
        let mut json = serde_json::to_value(view()).unwrap();
        assert_eq!(json["rateLimit"], 204_800);
        assert!(json["portNumber"].is_null(), "None travels as null");
        serde_json::from_value::<SessionView>(json.clone()).unwrap();
        for field in ["rateLimit", "urlExpiresAt", "portNumber", "state"] {
            let mut without = json.clone();
            without.as_object_mut().unwrap().remove(field);
            let err = serde_json::from_value::<SessionView>(without).unwrap_err();
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        json["rateLimt"] = 1.into();
        assert!(serde_json::from_value::<SessionView>(json).is_err());
    }

    #[test]
    fn a_zero_rate_is_not_a_way_to_say_unlimited() {
        let mut json = serde_json::to_value(view()).unwrap();
        json["rateLimit"] = 0.into();
        assert!(serde_json::from_value::<SessionView>(json.clone()).is_err());
        json["rateLimit"] = serde_json::Value::Null;
        let read: SessionView = serde_json::from_value(json).unwrap();
        assert_eq!(read.rate_limit, None);
    }

    #[test]
    fn vocabularies_travel_as_their_words() {
        let record = RecordChannel {
            closed_reason: Some(ClosedReason::IdleTimeout),
            ..RecordChannel::status("c-1", ConnectionStatus::Terminated)
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["status"], "Terminated");
        assert_eq!(json["closedReason"], "IdleTimeout");
        let mut bad = json.clone();
        bad["status"] = "Finished".into();
        assert!(serde_json::from_value::<RecordChannel>(bad).is_err());
        let refusal = Refusal::new(RefusalCode::SessionCountExceedLimit, "full");
        let json = serde_json::to_value(&refusal).unwrap();
        assert_eq!(json["code"], "SessionCount.ExceedLimit");
        assert_eq!(serde_json::from_value::<Refusal>(json).unwrap(), refusal);
    }

    #[test]
    fn routes_are_distinct() {
        let mut routes = ROUTES.to_vec();
        routes.sort_unstable();
        routes.dedup();
        assert_eq!(routes.len(), ROUTES.len());
    }
}
