//! Who may do what: every signed call is authorized here, before its Action runs, by RAM's
//! rules — one evaluator ([`axt_iam`]) for every product. The account's own identity (its root
//! AccessKey) is never subject to RAM. A RAM user is held to the policies attached to it and
//! to its groups; a role's STS session to the role's policies, narrowed by the session policy
//! given to AssumeRole. Each resource the call acts on must be allowed; the first refusal
//! answers `Forbidden.RAM` (ECS), `NoPermission` (RAM, STS) or `Forbidden.NoPermission` (KMS)
//! with an `AccessDeniedDetail`
//! whose `EncodedDiagnosticMessage` only this control plane can decode (RAM
//! `DecodeDiagnosticMessage`, `axt iam explain`).

use axt_iam::{Attached, Context, Decision, Document, Evaluation, PolicyType, Request};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::{Deserialize, Serialize};

use super::{actions, kms, ram, sts, ApiError, Ctx, ErrorCode, Principal, Product};
use crate::store::InForce;

/// The associated data diagnostic messages are sealed under: never an AccessKeyId.
const DIAGNOSTIC_AAD: &str = "axtlab:diagnostic";

/// What an encoded diagnostic message holds: who was refused what, in what context, and the
/// whole trace of the evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diagnostic {
    pub principal_arn: String,
    /// `SubUser` or `AssumedRoleUser`.
    pub principal_type: String,
    pub principal_display_name: String,
    pub account_id: String,
    /// `AccountLevelIdentityBasedPolicy` or `SessionPolicy`.
    pub policy_type: String,
    /// The condition keys the request had, with their values.
    pub conditions: Vec<(String, Vec<String>)>,
    pub trace: axt_iam::Trace,
}

/// Authorizes the call in `ctx`. Actions the product does not have are let through, to be
/// answered `InvalidAction.NotFound` by the dispatcher, as the real gateway checks that first.
pub async fn authorize(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    if ctx.caller.principal == Principal::Root {
        return Ok(());
    }
    let resources = match ctx.product {
        Product::Ecs => actions::resources(ctx).await?,
        Product::Ram => ram::resources(ctx),
        Product::Sts => sts::resources(ctx),
        Product::Kms => kms::resources(ctx),
    };
    let Some(resources) = resources else {
        return Ok(());
    };
    if resources.is_empty() {
        // An action anyone authenticated may call (STS GetCallerIdentity).
        return Ok(());
    }
    let action = format!("{}:{}", ctx.product.service(), ctx.action);
    let policies = policies_in_force(ctx).await?;
    let parsed: Vec<(InForce, Document)> = policies
        .into_iter()
        .filter_map(|p| {
            let document = parse_stored(&p)?;
            Some((p, document))
        })
        .collect();
    let attached: Vec<Attached<'_>> = parsed
        .iter()
        .map(|(p, document)| Attached {
            name: &p.name,
            policy_type: p.policy_type,
            document,
        })
        .collect();
    let session_policy = match &ctx.caller.principal {
        Principal::AssumedRole {
            session_policy: Some(text),
            ..
        } => Some(Document::parse(text).map_err(|e| {
            ApiError::internal(&ctx.request_id, format!("a stored session policy: {e}"))
        })?),
        _ => None,
    };
    let context = context(ctx);
    for resource in &resources {
        let request = Request {
            action: &action,
            resource,
            context: &context,
        };
        let evaluation = axt_iam::evaluate(&attached, session_policy.as_ref(), &request);
        if evaluation.decision != Decision::Allow {
            return Err(denied(ctx, &action, evaluation));
        }
    }
    Ok(())
}

/// What the conditions of a policy may look at for this call.
pub fn context(ctx: &Ctx<'_>) -> Context {
    Context {
        source_ip: ctx.client_ip.parse().ok(),
        current_time: chrono::Utc::now(),
        // The OpenAPI listener is plain HTTP.
        secure_transport: false,
        mfa_present: false,
        extra: Default::default(),
    }
}

/// The policies of the caller's principal.
async fn policies_in_force(ctx: &Ctx<'_>) -> Result<Vec<InForce>, ApiError> {
    let account = &ctx.caller.account_id;
    let store = &ctx.shared.store;
    Ok(match &ctx.caller.principal {
        Principal::Root => Vec::new(),
        Principal::User { name, .. } => store.user_policies(account, name).await?,
        Principal::AssumedRole { role_name, .. } => store.role_policies(account, role_name).await?,
    })
}

/// A stored document, parsed; one that no longer parses (written by an older version) counts
/// as no policy at all, which can only deny, and is logged.
fn parse_stored(policy: &InForce) -> Option<Document> {
    match Document::parse(&policy.document) {
        Ok(document) => Some(document),
        Err(error) => {
            tracing::warn!(policy = %policy.name, %error, "a stored policy does not parse; ignored");
            None
        }
    }
}

/// The refusal: the product's code, and `AccessDeniedDetail` as the real services send it.
fn denied(ctx: &Ctx<'_>, action: &str, evaluation: Evaluation) -> ApiError {
    let code = match ctx.product {
        Product::Ecs => ErrorCode::ForbiddenRam,
        Product::Ram | Product::Sts => ErrorCode::NoPermission,
        Product::Kms => ErrorCode::KmsNoPermission,
    };
    let (principal_type, display_name) = match &ctx.caller.principal {
        Principal::Root => ("Account", ctx.caller.account_id.clone()),
        Principal::User { name, .. } => ("SubUser", name.clone()),
        Principal::AssumedRole {
            role_name,
            session_name,
            ..
        } => ("AssumedRoleUser", format!("{role_name}:{session_name}")),
    };
    // Refused by the session policy when the role's own policies allow it.
    let by_session = evaluation.decision == Decision::ImplicitDeny
        && evaluation.trace.statements.iter().any(|s| {
            s.applies && s.effect == axt_iam::Effect::Allow && s.policy_type != PolicyType::Session
        });
    let policy_type = if by_session {
        "SessionPolicy"
    } else {
        "AccountLevelIdentityBasedPolicy"
    };
    let no_permission = match evaluation.decision {
        Decision::ExplicitDeny => "ExplicitDeny",
        _ => "ImplicitDeny",
    };
    let diagnostic = Diagnostic {
        principal_arn: ctx.caller.arn(),
        principal_type: principal_type.to_owned(),
        principal_display_name: display_name.clone(),
        account_id: ctx.caller.account_id.clone(),
        policy_type: policy_type.to_owned(),
        conditions: condition_values(&context(ctx)),
        trace: evaluation.trace,
    };
    let encoded = encode(ctx, &diagnostic);
    let mut error = ApiError::from(code);
    error.access_denied = Some(serde_json::json!({
        "AuthAction": action,
        "AuthPrincipalType": principal_type,
        "AuthPrincipalDisplayName": display_name,
        "AuthPrincipalOwnerId": ctx.caller.account_id,
        "PolicyType": policy_type,
        "NoPermissionType": no_permission,
        "EncodedDiagnosticMessage": encoded,
    }));
    tracing::info!(
        target: "axt::api",
        request_id = %ctx.request_id,
        principal = %diagnostic.principal_arn,
        action,
        no_permission,
        "call refused by RAM policy"
    );
    error
}

/// The common condition keys as the request had them, for the diagnostic.
fn condition_values(context: &Context) -> Vec<(String, Vec<String>)> {
    let mut values = vec![
        (
            "acs:CurrentTime".to_owned(),
            vec![context
                .current_time
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()],
        ),
        (
            "acs:SecureTransport".to_owned(),
            vec![context.secure_transport.to_string()],
        ),
        (
            "acs:MFAPresent".to_owned(),
            vec![context.mfa_present.to_string()],
        ),
    ];
    if let Some(ip) = context.source_ip {
        values.insert(0, ("acs:SourceIp".to_owned(), vec![ip.to_string()]));
    }
    values
}

/// Seals a diagnostic for its reader: base64, opaque to anyone but this control plane.
fn encode(ctx: &Ctx<'_>, diagnostic: &Diagnostic) -> String {
    let json = serde_json::to_string(diagnostic).unwrap_or_default();
    let sealed = ctx.shared.store.sealer().seal(DIAGNOSTIC_AAD, &json);
    STANDARD.encode(sealed)
}

/// Opens an `EncodedDiagnosticMessage`; `None` if it is not one of this control plane's.
pub fn decode(ctx: &Ctx<'_>, encoded: &str) -> Option<Diagnostic> {
    let sealed = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let json = ctx
        .shared
        .store
        .sealer()
        .open(DIAGNOSTIC_AAD, &sealed)
        .ok()?;
    serde_json::from_str(&json).ok()
}
