//! The one API error type, and how it becomes an Alibaba error body:
//! `{RequestId, HostId, Code, Message, Recommend}` with the documented HTTP status. Every code
//! axtlab answers is a variant of [`ErrorCode`], with its status, message and what triggers it
//! here, so a misspelt code does not compile.

use axum::http::StatusCode;

/// Declares [`ErrorCode`]: each code's wire spelling, HTTP status and standard message, once.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal, $message:literal),)+) => {
        /// Every error code axtlab answers. The doc line of each says what triggers it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The `Code` as it travels (for [`ErrorCode::Missing`], the prefix of it).
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)+ }
            }

            /// The HTTP status it travels with.
            pub fn status(self) -> StatusCode {
                let status: u16 = match self { $(ErrorCode::$variant => $status,)+ };
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            /// The standard `Message`.
            pub fn message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)+ }
            }
        }
    };
}

error_codes! {
    // The common codes of every RPC call (signatures, versions, methods).
    /// The `Timestamp` (V1) or `x-acs-date` (V3) is more than `--max-clock-skew-secs` off.
    TimestampExpired = ("InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."),
    /// The timestamp is not `yyyy-MM-ddTHH:mm:ssZ`.
    TimestampFormat = ("InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."),
    /// This `SignatureNonce` was already used by this AccessKey within the skew window.
    SignatureNonceUsed = ("SignatureNonceUsed", 400, "Specified signature nonce was used already."),
    /// A V3 `Authorization` header (or a V1 signature parameter) is missing or malformed; a
    /// V3 `host` or `x-acs-*` header is not signed (`x-acs-action` and `x-acs-version` must be
    /// there and signed); or a V1 call's unsigned `x-acs-action`/`x-acs-version` header
    /// disagrees with its signed `Action`/`Version`.
    IncompleteSignature = ("IncompleteSignature", 400, "The request signature does not conform to Aliyun standards."),
    /// The signature does not verify; the message carries the server's string to sign.
    SignatureDoesNotMatch = ("SignatureDoesNotMatch", 400, "Specified signature is not matched with our calculation."),
    /// The AccessKeyId is unknown.
    AccessKeyNotFound = ("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."),
    /// The AccessKey is disabled.
    AccessKeyInactive = ("InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled."),
    /// The `Action` is not one axtlab serves.
    ActionNotFound = ("InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."),
    /// A V1 `SignatureMethod` other than HMAC-SHA1.
    InvalidSignatureMethod = ("InvalidSignatureMethod", 400, "Specified signature method is not supported."),
    /// The `Version` is not 2014-05-26.
    InvalidVersion = ("InvalidVersion", 400, "Specified parameter Version is not valid."),
    /// A method other than GET or POST.
    UnsupportedHttpMethod = ("UnsupportedHTTPMethod", 403, "This http method is not supported."),
    /// The control plane failed (its database); the cause is logged with the request id.
    InternalError = ("InternalError", 500, "The request processing has failed due to some unknown error, exception or failure."),
    /// A mandatory parameter is absent; the code is `Missing` + the parameter's name.
    Missing = ("Missing", 400, "A mandatory parameter is not supplied."),
    /// A parameter's value has the wrong form; the message says which and why.
    InvalidParameter = ("InvalidParameter", 400, "The specified parameter is not valid."),
    /// `DryRun=true` on a call whose checks all passed.
    DryRunOperation = ("DryRunOperation", 400, "Request validation has been passed with DryRun flag set."),

    // StartTerminalSession's table, in its order.
    /// The region is one of `--session-unsupported-regions`.
    RegionApiNotSupported = ("RegionId.ApiNotSupported", 400, "The api is not supported in this region."),
    /// `PortNumber` is not a number from 1 to 65535.
    PortNumberInvalid = ("PortNumber.Invalid", 400, "The port number is invalid."),
    /// `ConnectionType` is neither `Internet` nor `Intranet`.
    InvalidConnectionType = ("InvalidParameter.ConnectionType", 400, "The specified parameter ConnectionType is not valid."),
    /// `ClientToken` is longer than 64 characters or not printable ASCII.
    ClientTokenMalformed = ("InvalidClientToken.Malformed", 400, "The specified parameter clientToken is not valid."),
    /// No gateway holds a kick channel of the instance's agent: there is nothing to dispatch
    /// the session through (the agent is not running, or cannot reach a gateway).
    InternalErrorDispatch = ("InternalError.Dispatch", 500, "An error occurred when you dispatched the request."),
    /// More instances than `--max-instances-per-session` (1 by default).
    InstanceIdsExceedLimit = ("InstanceIds.ExceedLimit", 403, "The number of instance IDs exceeds the upper limit."),
    /// The region already has `--max-sessions-per-region` created-and-active sessions.
    SessionCountExceedLimit = ("SessionCount.ExceedLimit", 403, "The number of sessions exceeds the upper limit."),
    /// The instance carries an operation lock (`OperationLocks.LockReason`, such as
    /// `security`) that the lab's administrator set with `axt-control-plane lock-instance`.
    OperationForbidden = ("Operation.Forbidden", 403, "The operation is not permitted."),
    /// A port session for an instance whose agent is older than
    /// `--min-agent-version-port-forwarding`.
    PortForwardingNotSupported = ("PortForwarding.NotSupported", 403, "Port forwarding is not supported currently."),
    /// The account switched Session Manager off (ModifyUserBusinessBehavior).
    SessionManagerDisabled = ("UserBehavior.SessionManagerDisabled", 403, "The api is disabled by user behavior."),
    /// `CommandLine` together with `PortNumber` or `TargetServer`.
    CommandLineConflict = ("InvalidCommandLine.Conflict", 403, "The parameter PortNumber or TargetServer cannot be specified with parameter CommandLine."),
    /// `TargetServer` without `PortNumber`.
    TargetServerMissingPortNumber = ("InvalidTargetServer.MissingPortNumber", 403, "The parameter PortNumber must be specified with parameter TargetServer."),
    /// `CommandLine` longer than 512 characters.
    CommandLineTooLong = ("InvalidCommandLine.LengthLimitExceeded", 403, "The length of the parameter CommandLine exceeded the limit of 512 characters."),
    /// Several instances together with `CommandLine` or `TargetServer`.
    InstanceIdsCountLimitExceeded = ("InvalidInstanceIds.CountLimitExceeded", 403, "The count of Instances exceeded the maximum limit of 1 when TargetServer or CommandLine parameter was specified."),
    /// `Username` longer than 64 characters.
    UsernameExceedLimit = ("Username.ExceedLimit", 403, "The length of the username exceeds the upper limit."),
    /// The instance's security groups refuse the port session (arrives with authorization).
    SecurityGroupRuleDenied = ("InvalidOperation.SecurityGroupRuleDenied", 403, "The operation is not allowed by the security group inbound rules of the specified instance."),
    /// `TargetServer` longer than 128 characters.
    TargetServerTooLong = ("InvalidTargetServer.LengthLimitExceeded", 403, "The length of the parameter TargetServer exceeded the limit of 128 characters."),
    /// `ConnectionType=Intranet` while the control plane has no `--gateway-intranet-url`.
    ConnectionTypeUnsupported = ("InvalidOperation.ConnectionTypeUnsupported", 403, "The operation is not supported for the parameter ConnectionType."),
    /// `PasswordName` longer than 255 characters.
    PasswordNameTooLong = ("InvalidPasswordName.LengthLimitExceeded", 403, "The length of the parameter PasswordName exceeds the limit of 255 characters."),
    /// `EncryptionOptions.Mode` given while `Enabled` is false.
    EncryptionModeWhileDisabled = ("InvalidEncryptionOptionsMode.EncryptionDisabled", 403, "EncryptionOptions.Mode cannot be specified when encryption is disabled."),
    /// A `KMSKeyId` with encryption off, with `Auto`, too long, or with control characters.
    InvalidKmsKeyId = ("InvalidParameter.EncryptionOptionsKMSKeyId", 403, "The specified parameter EncryptionOptions.KMSKeyId is not valid."),
    /// `Mode` other than `Auto` or `Kms`.
    InvalidEncryptionMode = ("InvalidParameter.EncryptionOptionsMode", 403, "The specified parameter EncryptionOptions.Mode is not valid."),
    /// `Mode=Kms` without a `KMSKeyId`.
    MissingKmsKeyId = ("MissingParameter.EncryptionOptionsKMSKeyId", 403, "The input parameter EncryptionOptions.KMSKeyId that is mandatory for processing this request is not supplied."),
    /// Encryption asked of an instance whose agent is older than `--min-agent-version-encryption`.
    UnsupportedAgentVersionEncryption = ("UnsupportedAgentVersion.Encryption", 403, "The cloud assistant agent version on instance do not support encryption."),
    /// Encryption together with `PortNumber` or `TargetServer`.
    EncryptionConflict = ("InvalidEncryptionOptions.Conflict", 403, "The parameter PortNumber or TargetServer cannot be specified with parameter EncryptionOptions."),
    /// A `ClientToken` reused with other parameters.
    IdempotentParameterMismatch = ("IdempotentParameterMismatch", 403, "The specified parameter has changed while using an already used clientToken."),
    /// A `ClientToken` whose first call is still running.
    IdempotentProcessing = ("IdempotentProcessing", 403, "The previous idempotent request(s) is still processing."),
    /// `RegionId` is not one of `--regions`.
    RegionNotFound = ("InvalidRegionId.NotFound", 404, "The RegionId provided does not exist in our records."),
    /// No such instance of the caller's account in the region (or it was deregistered).
    InstanceNotFound = ("InvalidInstance.NotFound", 404, "The specified instances not found."),

    // Beyond StartTerminalSession's table: codes of the service's general table.
    /// The instance has no agent registered.
    CloudAssistantNotInstalled = ("InvalidInstance.CloudAssistantNotInstalled", 403, "Cloud Assistant Agent is not installed on the instance."),
    /// The instance's agent is older than `--min-agent-version-linux`/`-windows`.
    UnsupportedAgentVersionSessionManager = ("UnsupportedAgentVersion.SessionManager", 403, "The cloud assistant agent version does not support session manager."),
    /// An instance id of the Start/Stop/Describe calls that does not exist.
    InstanceIdNotFound = ("InvalidInstanceId.NotFound", 404, "The specified InstanceId does not exist."),
    /// A `SessionId` of EndTerminalSession that is not the caller's.
    SessionIdNotFound = ("InvalidSessionId.NotFound", 404, "The specified session does not exist."),
    /// StartInstance/StopInstance on an instance in the wrong state, or a session on an
    /// instance that is not Running.
    IncorrectInstanceStatus = ("IncorrectInstanceStatus", 403, "The current status of the resource does not support this operation."),
    /// A `statusKey` other than `sessionManagerStatus`.
    StatusKeyNotFound = ("InvalidStatusKey.NotFound", 400, "The specified statusKey does not exist."),
}

/// An error an OpenAPI caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    /// The `Code` on the wire: the code's own, or `Missing{Parameter}`.
    pub wire_code: String,
    /// The `Message`.
    pub message: String,
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self {
            code,
            wire_code: code.as_str().to_owned(),
            message: code.message().to_owned(),
        }
    }
}

impl ApiError {
    /// The code's standard message followed by `detail` (the instance concerned, say).
    pub fn with(code: ErrorCode, detail: impl std::fmt::Display) -> Self {
        let mut e = Self::from(code);
        e.message = format!("{} {detail}", e.message);
        e
    }

    /// The code with a message of its own, for codes whose standard one says too little.
    pub fn saying(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::from(code)
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// `Missing{Name}`: a mandatory parameter is absent.
    pub fn missing(name: &str) -> Self {
        let bare = name.split('.').next().unwrap_or(name);
        Self {
            code: ErrorCode::Missing,
            wire_code: format!("Missing{bare}"),
            message: format!("{name} is mandatory for this action."),
        }
    }

    /// `InvalidParameter`: a parameter has a value of the wrong form.
    pub fn invalid(name: &str, why: impl std::fmt::Display) -> Self {
        let mut e = Self::from(ErrorCode::InvalidParameter);
        e.message = format!("The specified parameter {name} is not valid: {why}");
        e
    }

    /// `SignatureDoesNotMatch`, carrying the server's string to sign as the real service does.
    pub fn signature_mismatch(string_to_sign: &str) -> Self {
        let mut e = Self::from(ErrorCode::SignatureDoesNotMatch);
        e.message = format!("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}");
        e
    }

    /// `InternalError`, after logging the cause (the caller learns only the request id).
    pub fn internal(request_id: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%request_id, %cause, "internal error");
        Self::from(ErrorCode::InternalError)
    }

    /// The JSON body the SDKs parse.
    pub fn body(&self, request_id: &str, host_id: &str) -> serde_json::Value {
        serde_json::json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.wire_code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={request_id}",
                self.wire_code
            ),
        })
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "database error");
        Self::from(ErrorCode::InternalError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_once_each() {
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len(), "a code is declared twice");
        for code in ErrorCode::ALL {
            assert!(code.status().is_client_error() || code.status().is_server_error());
            assert!(code.message().ends_with('.'), "{code:?}");
        }
    }

    #[test]
    fn missing_names_the_parameter() {
        let e = ApiError::missing("InstanceId.N");
        assert_eq!(
            (e.wire_code.as_str(), e.status().as_u16()),
            ("MissingInstanceId", 400)
        );
    }
}
