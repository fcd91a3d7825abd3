//! The one API error type, and how it becomes an Alibaba error body:
//! `{RequestId, HostId, Code, Message, Recommend}` with the documented HTTP status.

use std::borrow::Cow;

use axum::http::StatusCode;

/// An error an OpenAPI caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Code`, e.g. `InvalidInstance.NotFound`.
    pub code: Cow<'static, str>,
    /// The `Message`.
    pub message: String,
}

/// Codes with a fixed status and message, most from the StartTerminalSession page and the
/// common error table. [`ApiError::known`] looks codes up here so each is written once.
const KNOWN: &[(&str, u16, &str)] = &[
    ("InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."),
    ("InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."),
    ("SignatureNonceUsed", 400, "Specified signature nonce was used already."),
    ("IncompleteSignature", 400, "The request signature does not conform to Aliyun standards."),
    ("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."),
    ("InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled."),
    ("InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."),
    ("InvalidVersion", 400, "Specified parameter Version is not valid."),
    ("UnsupportedHTTPMethod", 403, "This http method is not supported."),
    ("InternalError", 500, "The request processing has failed due to some unknown error, exception or failure."),
    ("RegionId.ApiNotSupported", 400, "The api is not supported in this region."),
    ("PortNumber.Invalid", 400, "The port number is invalid."),
    ("InvalidParameter.ConnectionType", 400, "The specified parameter ConnectionType is not valid."),
    ("InvalidClientToken.Malformed", 400, "The specified parameter clientToken is not valid."),
    ("InstanceIds.ExceedLimit", 403, "The number of instance IDs exceeds the upper limit."),
    ("SessionCount.ExceedLimit", 403, "The number of sessions exceeds the upper limit."),
    ("UserBehavior.SessionManagerDisabled", 403, "The api is disabled by user behavior."),
    ("InvalidCommandLine.Conflict", 403, "The parameter PortNumber or TargetServer cannot be specified with parameter CommandLine."),
    ("InvalidTargetServer.MissingPortNumber", 403, "The parameter PortNumber must be specified with parameter TargetServer."),
    ("InvalidCommandLine.LengthLimitExceeded", 403, "The length of the parameter CommandLine exceeded the limit of 512 characters."),
    ("InvalidInstanceIds.CountLimitExceeded", 403, "The count of Instances exceeded the maximum limit of 1 when TargetServer or CommandLine parameter was specified."),
    ("Username.ExceedLimit", 403, "The length of the username exceeds the upper limit."),
    ("InvalidTargetServer.LengthLimitExceeded", 403, "The length of the parameter TargetServer exceeded the limit of 128 characters."),
    ("InvalidOperation.ConnectionTypeUnsupported", 403, "The operation is not supported for the parameter ConnectionType."),
    ("InvalidPasswordName.LengthLimitExceeded", 403, "The length of the parameter PasswordName exceeds the limit of 255 characters."),
    ("InvalidEncryptionOptionsMode.EncryptionDisabled", 403, "EncryptionOptions.Mode cannot be specified when encryption is disabled."),
    ("InvalidParameter.EncryptionOptionsKMSKeyId", 403, "The specified parameter EncryptionOptions.KMSKeyId is not valid."),
    ("InvalidParameter.EncryptionOptionsMode", 403, "The specified parameter EncryptionOptions.Mode is not valid."),
    ("MissingParameter.EncryptionOptionsKMSKeyId", 403, "The input parameter EncryptionOptions.KMSKeyId that is mandatory for processing this request is not supplied."),
    ("InvalidEncryptionOptions.Conflict", 403, "The parameter PortNumber or TargetServer cannot be specified with parameter EncryptionOptions."),
    ("IdempotentParameterMismatch", 403, "The specified parameter has changed while using an already used clientToken."),
    ("IdempotentProcessing", 403, "The previous idempotent request(s) is still processing."),
    ("InvalidRegionId.NotFound", 404, "The RegionId provided does not exist in our records."),
    ("InvalidInstance.NotFound", 404, "The specified instances not found."),
    ("InvalidInstanceId.NotFound", 404, "The specified InstanceId does not exist."),
    ("InvalidSessionId.NotFound", 404, "The specified session does not exist."),
    ("IncorrectInstanceStatus", 403, "The current status of the resource does not support this operation."),
    ("InvalidStatusKey.NotFound", 400, "The specified statusKey does not exist."),
    ("DryRunOperation", 400, "Request validation has been passed with DryRun flag set."),
];

impl ApiError {
    /// An error with any code.
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.into(),
            message: message.into(),
        }
    }

    /// A code of the table above, with its documented status and message.
    pub fn known(code: &'static str) -> Self {
        match KNOWN.iter().find(|(c, _, _)| *c == code) {
            Some((code, status, message)) => Self::new(*status, *code, *message),
            None => Self::new(500, code, "The request processing has failed."),
        }
    }

    /// A known code whose message gets more detail (for instance the instance concerned).
    pub fn known_with(code: &'static str, detail: impl std::fmt::Display) -> Self {
        let mut e = Self::known(code);
        e.message = format!("{} {detail}", e.message);
        e
    }

    /// `Missing{Name}`: a mandatory parameter is absent.
    pub fn missing(name: &str) -> Self {
        let bare = name.split('.').next().unwrap_or(name);
        Self::new(
            400,
            format!("Missing{bare}"),
            format!("{name} is mandatory for this action."),
        )
    }

    /// `InvalidParameter`: a parameter has a value of the wrong form.
    pub fn invalid(name: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter {name} is not valid: {why}"),
        )
    }

    /// `SignatureDoesNotMatch`, carrying the server's string to sign as the real service does.
    pub fn signature_mismatch(string_to_sign: &str) -> Self {
        Self::new(
            400,
            "SignatureDoesNotMatch",
            format!("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"),
        )
    }

    /// `InternalError`, after logging the cause (the caller learns only the request id).
    pub fn internal(request_id: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%request_id, %cause, "internal error");
        Self::known("InternalError")
    }

    /// The JSON body the SDKs parse.
    pub fn body(&self, request_id: &str, host_id: &str) -> serde_json::Value {
        serde_json::json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={request_id}",
                self.code
            ),
        })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "database error");
        Self::known("InternalError")
    }
}
