//! StartTerminalSession: every check of the documented service, in order, then one session
//! record with a hashed SecurityToken and the gateway URL the client will open. An encrypted
//! session's answer carries `AxtlabAgentPublicKey` too (docs/encryption.md §3).

use axt_proto::status::SessionState;
use serde_json::{json, Value};

use super::{assistant::supports_session_manager, security_groups};
use crate::{
    api::{kms, ApiError, Args, Ctx, ErrorCode},
    ids,
    store::{self, AuditEntry, Idempotency, NewSession, Session},
    version,
};

/// Longest CommandLine, TargetServer, PasswordName and Username, in characters.
const MAX_COMMAND_LINE: usize = 512;
const MAX_TARGET_SERVER: usize = 128;
const MAX_PASSWORD_NAME: usize = 255;
const MAX_USERNAME: usize = 64;
const MAX_CLIENT_TOKEN: usize = 64;
const MAX_KMS_KEY_ID: usize = 128;
/// A ClientToken claim older than this is taken to be from a crashed call.
const STALE_CLAIM_SECS: i64 = 60;

/// The parameters of one call, checked for form (no database needed).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub instance_ids: Vec<String>,
    pub port_number: Option<i64>,
    pub target_server: String,
    pub command_line: String,
    pub username: String,
    pub password_name: String,
    pub connection_type: String,
    /// `{"Enabled":true,"Mode":…,"KMSKeyId":…}` normalised, when encryption is on.
    pub encryption: Option<Value>,
    pub client_token: Option<String>,
}

/// Checks the parameters' form in the order of the documented error table.
pub fn parse(args: &Args<'_>, max_instances: usize) -> Result<Request, ApiError> {
    let instance_ids: Vec<String> = args
        .list("InstanceId")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if instance_ids.is_empty() {
        return Err(ApiError::missing("InstanceId.N"));
    }
    let command_line = args.str("CommandLine").unwrap_or("").to_owned();
    let target_server = args.str("TargetServer").unwrap_or("").to_owned();
    if instance_ids.len() > 1 && !(command_line.is_empty() && target_server.is_empty()) {
        return Err(ApiError::from(ErrorCode::InstanceIdsCountLimitExceeded));
    }
    if instance_ids.len() > max_instances {
        return Err(ApiError::from(ErrorCode::InstanceIdsExceedLimit));
    }
    let port_number = match args.str("PortNumber") {
        None => None,
        Some(p) => match p.trim().parse::<i64>() {
            Ok(n) if (1..=65535).contains(&n) => Some(n),
            _ => return Err(ApiError::from(ErrorCode::PortNumberInvalid)),
        },
    };
    let connection_type = match args.str("ConnectionType").unwrap_or("Internet") {
        "Internet" => "Internet",
        "Intranet" => "Intranet",
        _ => return Err(ApiError::from(ErrorCode::InvalidConnectionType)),
    };
    let client_token = args.str("ClientToken").map(str::to_owned);
    if client_token.as_ref().is_some_and(|t| {
        t.len() > MAX_CLIENT_TOKEN || !t.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
    }) {
        return Err(ApiError::from(ErrorCode::ClientTokenMalformed));
    }
    if !command_line.is_empty() && (port_number.is_some() || !target_server.is_empty()) {
        return Err(ApiError::from(ErrorCode::CommandLineConflict));
    }
    if !target_server.is_empty() && port_number.is_none() {
        return Err(ApiError::from(ErrorCode::TargetServerMissingPortNumber));
    }
    let username = args.str("Username").unwrap_or("").to_owned();
    let password_name = args.str("PasswordName").unwrap_or("").to_owned();
    for (value, max, code) in [
        (
            &command_line,
            MAX_COMMAND_LINE,
            ErrorCode::CommandLineTooLong,
        ),
        (&username, MAX_USERNAME, ErrorCode::UsernameExceedLimit),
        (
            &target_server,
            MAX_TARGET_SERVER,
            ErrorCode::TargetServerTooLong,
        ),
        (
            &password_name,
            MAX_PASSWORD_NAME,
            ErrorCode::PasswordNameTooLong,
        ),
    ] {
        if value.chars().count() > max {
            return Err(ApiError::from(code));
        }
    }
    let encryption = encryption(args)?;
    if encryption.is_some() && (port_number.is_some() || !target_server.is_empty()) {
        return Err(ApiError::from(ErrorCode::EncryptionConflict));
    }
    Ok(Request {
        instance_ids,
        port_number,
        target_server,
        command_line,
        username,
        password_name,
        connection_type: connection_type.to_owned(),
        encryption,
        client_token,
    })
}

/// Reads `EncryptionOptions`: one JSON text as the SDKs send it, or flattened
/// `EncryptionOptions.Enabled`-style parameters. Returns the options when encryption is on.
fn encryption(args: &Args<'_>) -> Result<Option<Value>, ApiError> {
    let options: Value = match args.str("EncryptionOptions") {
        Some(text) => serde_json::from_str(text)
            .map_err(|_| ApiError::invalid("EncryptionOptions", "not a JSON object"))?,
        None => json!({
            "Enabled": args.str("EncryptionOptions.Enabled"),
            "Mode": args.str("EncryptionOptions.Mode"),
            "KMSKeyId": args.str("EncryptionOptions.KMSKeyId"),
        }),
    };
    let enabled = match &options["Enabled"] {
        Value::Bool(b) => *b,
        Value::String(s) if s.eq_ignore_ascii_case("true") => true,
        Value::String(s) if s.eq_ignore_ascii_case("false") => false,
        Value::Null => false,
        _ => {
            return Err(ApiError::invalid(
                "EncryptionOptions.Enabled",
                "not a boolean",
            ))
        }
    };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match &options[name] {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(ApiError::invalid(
                &format!("EncryptionOptions.{name}"),
                "not a string",
            )),
        }
    };
    let (mode, key) = (text("Mode")?, text("KMSKeyId")?);
    if !enabled {
        if mode.is_some() {
            return Err(ApiError::from(ErrorCode::EncryptionModeWhileDisabled));
        }
        if key.is_some() {
            return Err(ApiError::from(ErrorCode::InvalidKmsKeyId));
        }
        return Ok(None);
    }
    let mode = match mode.as_deref().unwrap_or("Auto") {
        "Auto" => "Auto",
        "Kms" => "Kms",
        _ => return Err(ApiError::from(ErrorCode::InvalidEncryptionMode)),
    };
    match (mode, &key) {
        ("Kms", None) => return Err(ApiError::from(ErrorCode::MissingKmsKeyId)),
        ("Auto", Some(_)) => return Err(ApiError::from(ErrorCode::InvalidKmsKeyId)),
        (_, Some(k)) if k.chars().count() > MAX_KMS_KEY_ID || k.chars().any(char::is_control) => {
            return Err(ApiError::from(ErrorCode::InvalidKmsKeyId));
        }
        _ => {}
    }
    Ok(Some(
        json!({"Enabled": true, "Mode": mode, "KMSKeyId": key.unwrap_or_default()}),
    ))
}

/// `StartTerminalSession` → `SessionId`, `SecurityToken`, `WebSocketUrl`.
pub async fn start_terminal_session(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let config = &ctx.shared.config;
    let store = &ctx.shared.store;
    let region = ctx.session_region()?;
    if !store
        .session_manager_enabled(&ctx.caller.account_id)
        .await?
    {
        return Err(ApiError::from(ErrorCode::SessionManagerDisabled));
    }
    let req = parse(&ctx.args, config.max_instances_per_session)?;
    if let Some(reference) = kms_key_id(&req) {
        // The key must exist and be usable now; the agent's data key is decrypted later only
        // while it still is (internal DecryptDataKey).
        kms::session_key(ctx, region, reference).await?;
    }
    let base_url = match req.connection_type.as_str() {
        "Intranet" => config
            .gateway_intranet_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ApiError::from(ErrorCode::ConnectionTypeUnsupported))?,
        _ => config.gateway_url.as_str(),
    };
    for id in &req.instance_ids {
        check_instance(ctx, region, id, &req).await?;
    }
    let Some(token) = req.client_token.clone() else {
        return create(ctx, region, req, base_url).await;
    };
    let hash = params_hash(&ctx.args);
    let account = &ctx.caller.account_id;
    match store
        .claim_client_token(account, &ctx.action, &token, &hash, STALE_CLAIM_SECS)
        .await?
    {
        Idempotency::Mismatch => Err(ApiError::from(ErrorCode::IdempotentParameterMismatch)),
        Idempotency::Processing => Err(ApiError::from(ErrorCode::IdempotentProcessing)),
        Idempotency::Done(session_id) => {
            let session = store.session(&session_id).await?.ok_or_else(|| {
                ApiError::internal(&ctx.request_id, "idempotent session vanished")
            })?;
            let security_token = ids::security_token();
            store
                .add_session_token(&session.id, &ids::hash_secret(&security_token))
                .await?;
            let agent_key =
                agent_key(ctx, session.encryption.is_some(), &session.instance_id).await?;
            Ok(answer(&session.id, &security_token, base_url, agent_key))
        }
        Idempotency::Fresh => {
            let result = create(ctx, region, req, base_url).await;
            if result.is_err() {
                store
                    .release_client_token(account, &ctx.action, &token)
                    .await?;
            }
            result
        }
    }
}

/// The instance exists, is not locked, is Running, has an agent new enough for what is asked,
/// its security groups let a port session through, and some gateway holds that agent's kick
/// channel.
async fn check_instance(
    ctx: &Ctx<'_>,
    region: &str,
    id: &str,
    req: &Request,
) -> Result<(), ApiError> {
    let config = &ctx.shared.config;
    let instance = ctx
        .shared
        .store
        .instance(id)
        .await?
        .filter(|i| {
            i.account_id == ctx.caller.account_id && i.region_id == region && !i.deregistered
        })
        .ok_or_else(|| {
            ApiError::with(ErrorCode::InstanceNotFound, format_args!("Instance: {id}."))
        })?;
    if !instance.lock_reason.is_empty() {
        return Err(ApiError::with(
            ErrorCode::OperationForbidden,
            format_args!("Instance {id} is locked ({}).", instance.lock_reason),
        ));
    }
    if instance.status != "Running" {
        return Err(ApiError::with(
            ErrorCode::IncorrectInstanceStatus,
            format_args!("Instance {id} is {}, not Running.", instance.status),
        ));
    }
    if instance.agent_public_key.is_none() {
        return Err(ApiError::saying(ErrorCode::CloudAssistantNotInstalled,
            format!("Cloud Assistant Agent is not installed on instance {id}; call InstallCloudAssistant and register its agent.")));
    }
    let agent = &instance.agent_version;
    if !supports_session_manager(config, &instance) {
        return Err(ApiError::saying(ErrorCode::UnsupportedAgentVersionSessionManager,
            format!("The cloud assistant agent version {agent} on instance {id} does not support session manager.")));
    }
    if req.port_number.is_some()
        && !version::at_least(agent, &config.min_agent_version_port_forwarding)
    {
        return Err(ApiError::saying(
            ErrorCode::PortForwardingNotSupported,
            format!("Port forwarding is not supported by the cloud assistant agent version {agent} on instance {id}."),
        ));
    }
    security_groups::check_port_session(ctx, &instance, req.port_number, &req.target_server)
        .await?;
    if req.encryption.is_some() && !version::at_least(agent, &config.min_agent_version_encryption) {
        return Err(ApiError::saying(
            ErrorCode::UnsupportedAgentVersionEncryption,
            format!(
                "The cloud assistant agent version on instance {id} do not support encryption."
            ),
        ));
    }
    if ctx.shared.store.kick_channel_holder(id).await?.is_none() {
        return Err(ApiError::saying(
            ErrorCode::InternalErrorDispatch,
            format!("An error occurred when you dispatched the request: no gateway holds a connection of the agent of instance {id}; is it running?"),
        ));
    }
    Ok(())
}

/// Records the session, its token and its audit entry in one transaction that counts and
/// inserts in one statement, so that the region limit is exact.
async fn create(
    ctx: &Ctx<'_>,
    region: &str,
    req: Request,
    base_url: &str,
) -> Result<Value, ApiError> {
    let shared = ctx.shared;
    let agent_key = agent_key(ctx, req.encryption.is_some(), &req.instance_ids[0]).await?;
    let security_token = ids::security_token();
    let now = store::now();
    let session = Session {
        seq: 0,
        id: ids::session_id(),
        region_id: region.to_owned(),
        instance_id: req.instance_ids[0].clone(),
        instance_ids: json!(req.instance_ids).to_string(),
        account_id: ctx.caller.account_id.clone(),
        access_key_id: ctx.caller.access_key_id.clone(),
        identity_type: ctx.caller.identity_type().to_owned(),
        principal_id: ctx.caller.principal_id(),
        client_ip: ctx.client_ip.clone(),
        port_number: req.port_number,
        target_server: req.target_server,
        command_line: req.command_line,
        username: req.username,
        password_name: req.password_name,
        connection_type: req.connection_type,
        encryption: req.encryption.map(|e| e.to_string()),
        client_token: req.client_token,
        state: SessionState::Pending,
        created_at: now,
        url_expires_at: now + shared.config.url_ttl_secs,
        ended_at: None,
        end_reason: None,
    };
    let new = NewSession {
        token_hash: ids::hash_secret(&security_token),
        session,
    };
    let audit = AuditEntry {
        request_id: &ctx.request_id,
        access_key_id: &ctx.caller.access_key_id,
        action: &ctx.action,
    };
    let session_id = new.session.id.clone();
    if !shared
        .store
        .create_session(new, shared.config.max_sessions_per_region, audit)
        .await?
    {
        return Err(ApiError::from(ErrorCode::SessionCountExceedLimit));
    }
    Ok(answer(&session_id, &security_token, base_url, agent_key))
}

/// `KMSKeyId` of a Mode Kms request.
fn kms_key_id(req: &Request) -> Option<&str> {
    let options = req.encryption.as_ref()?;
    (options["Mode"] == "Kms").then(|| options["KMSKeyId"].as_str())?
}

/// The PEM of the registered identity key of the session's (first) instance, for an encrypted
/// session: the client takes the agent's identity from the control plane, never the gateway.
async fn agent_key(
    ctx: &Ctx<'_>,
    encrypted: bool,
    instance_id: &str,
) -> Result<Option<String>, ApiError> {
    if !encrypted {
        return Ok(None);
    }
    let instance = ctx.shared.store.instance(instance_id).await?;
    Ok(instance.and_then(|i| i.agent_public_key))
}

fn answer(session_id: &str, token: &str, base_url: &str, agent_key: Option<String>) -> Value {
    let url = format!(
        "{}/session?sessionId={session_id}&token={token}",
        base_url.trim_end_matches('/')
    );
    let mut answer = json!({"SessionId": session_id, "SecurityToken": token, "WebSocketUrl": url});
    if let Some(pem) = agent_key {
        // Beside the documented fields: the SDKs ignore a field they do not know.
        answer["AxtlabAgentPublicKey"] = pem.into();
    }
    answer
}

/// A digest of the business parameters, to tell a retry from a different call with the same
/// ClientToken. Signature and common parameters differ on every retry, so they are left out.
fn params_hash(args: &Args<'_>) -> String {
    const COMMON: &[&str] = &[
        "AccessKeyId",
        "Action",
        "ClientToken",
        "Format",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureType",
        "SignatureVersion",
        "Timestamp",
        "Version",
    ];
    ids::hash_secret(&axt_proto::openapi::canonical_query(args.0, COMMON))
}
