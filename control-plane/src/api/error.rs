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
    // Authorization (RAM policies), for every product.
    /// A RAM user or role session calls an ECS action its policies do not allow on the
    /// resource (implicitly, or explicitly denied); the body carries `AccessDeniedDetail`.
    ForbiddenRam = ("Forbidden.RAM", 403, "User not authorized to operate on the specified resource, or this API doesn't support RAM."),
    /// The same for a RAM or STS action.
    NoPermission = ("NoPermission", 403, "You are not authorized to do this action. You should be authorized by RAM."),
    /// A V1 `SignatureMethod` other than HMAC-SHA1.
    InvalidSignatureMethod = ("InvalidSignatureMethod", 400, "Specified signature method is not supported."),
    /// The `Version` is none of the products' (ECS 2014-05-26, RAM, STS, KMS), or not the
    /// product's of the endpoint name the call was addressed to (an ECS Version on
    /// `ram.aliyuncs.com`): the reference documents no code for the latter, so it is the one
    /// for a version the service does not have.
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
    /// A Session Manager action (Start/End/DescribeTerminalSessions) in a region of
    /// `--session-unsupported-regions`.
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
    /// A port session to the instance's own port (`PortNumber` without `TargetServer`) that
    /// the inbound rules of the instance's security groups do not accept from the caller's
    /// address (docs/security-groups.md); instances in no group are not checked.
    SecurityGroupRuleDenied = ("InvalidOperation.SecurityGroupRuleDenied", 403, "The operation is not allowed by the security group inbound rules of the specified instance."),
    /// `TargetServer` longer than 128 characters.
    TargetServerTooLong = ("InvalidTargetServer.LengthLimitExceeded", 403, "The length of the parameter TargetServer exceeded the limit of 128 characters."),
    /// `ConnectionType=Intranet` while the control plane has no `--gateway-intranet-url`.
    ConnectionTypeUnsupported = ("InvalidOperation.ConnectionTypeUnsupported", 403, "The operation is not supported for the parameter ConnectionType."),
    /// `PasswordName` longer than 255 characters.
    PasswordNameTooLong = ("InvalidPasswordName.LengthLimitExceeded", 403, "The length of the parameter PasswordName exceeds the limit of 255 characters."),
    /// `EncryptionOptions.Mode` given while `Enabled` is false.
    EncryptionModeWhileDisabled = ("InvalidEncryptionOptionsMode.EncryptionDisabled", 403, "EncryptionOptions.Mode cannot be specified when encryption is disabled."),
    /// A `KMSKeyId` with encryption off, with `Auto`, too long, or with control characters;
    /// or, with `Mode=Kms`, one that names no Enabled KMS key of the caller's account in the
    /// session's region (unknown, Disabled, pending deletion, an alias, another account's ARN).
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
    /// A `SessionId` of EndTerminalSession (or of a recording action) that is not the
    /// caller's.
    SessionIdNotFound = ("InvalidSessionId.NotFound", 404, "The specified session does not exist."),
    /// StartInstance/StopInstance on an instance in the wrong state, or a session on an
    /// instance that is not Running.
    IncorrectInstanceStatus = ("IncorrectInstanceStatus", 403, "The current status of the resource does not support this operation."),
    /// A `statusKey` other than `sessionManagerStatus`.
    StatusKeyNotFound = ("InvalidStatusKey.NotFound", 400, "The specified statusKey does not exist."),

    // axtlab's own recording actions (ListTerminalSessionRecordings,
    // GetTerminalSessionRecording), named after the service's NotFound codes. An unknown
    // SessionId is `InvalidSessionId.NotFound`, above.
    /// A `ConnectionId` that is not a connection of the session named.
    ConnectionIdNotFound = ("InvalidConnectionId.NotFound", 404, "The specified connection does not exist."),
    /// A connection of the session that has no recording: a port session, an end-to-end
    /// encrypted one, or one whose recording was deleted after `--recording-retention-days`.
    RecordingNotFound = ("InvalidRecording.NotFound", 404, "The specified connection has no recording."),

    // STS: the SecurityToken of temporary credentials (the gateway's common codes), and
    // AssumeRole's own table. Refusals by RAM (the root account, a role that does not trust
    // the caller) are `NoPermission`, above.
    /// An `STS.…` AccessKeyId signed the call without its SecurityToken (V1: the signed
    /// `SecurityToken` parameter; V3: the signed `x-acs-security-token` header).
    MissingSecurityToken = ("MissingSecurityToken", 400, "SecurityToken is mandatory for this action."),
    /// The SecurityToken is not of the shape this control plane issues (`CAIS…`).
    SecurityTokenMalformed = ("InvalidSecurityToken.Malformed", 400, "Specified SecurityToken is malformed."),
    /// A well-formed SecurityToken that was not issued with this `STS.…` AccessKeyId.
    SecurityTokenMismatch = ("InvalidSecurityToken.MismatchWithAccessKey", 400, "Specified SecurityToken mismatch with the AccessKey."),
    /// The credential is past its Expiration, or was revoked (its role deleted); the message
    /// says which.
    SecurityTokenExpired = ("InvalidSecurityToken.Expired", 400, "Specified SecurityToken is expired."),
    /// AssumeRole's `RoleArn` is not `acs:ram::<account id>:role/<role name>`.
    InvalidRoleArn = ("InvalidParameter.RoleArn", 400, "The parameter RoleArn is wrongly formed."),
    /// `RoleSessionName` is not 2 to 64 of letters, digits, `.`, `@`, `-` and `_`.
    InvalidRoleSessionName = ("InvalidParameter.RoleSessionName", 400, "The parameter RoleSessionName is wrongly formed."),
    /// `DurationSeconds` is below 900 or above the role's MaxSessionDuration.
    InvalidDurationSeconds = ("InvalidParameter.DurationSeconds", 400, "The Min/Max value of DurationSeconds is 15min/1hr."),
    /// AssumeRole's `Policy` is not a valid permission policy.
    PolicyGrammar = ("InvalidParameter.PolicyGrammar", 400, "The parameter Policy has not passed grammar check."),
    /// AssumeRole's `Policy` is longer than 2048 characters.
    PolicySize = ("InvalidParameter.PolicySize", 400, "The size of Policy must be smaller than 2048 bytes."),
    /// The role `RoleArn` names does not exist in its account.
    RoleNotExist = ("EntityNotExist.Role", 404, "The specified Role not exists."),

    // RAM (2015-05-01): the codes of RAM's error table, spelt, numbered and worded as RAM
    // answers them. (`EntityNotExist.Role` is STS's `RoleNotExist`, above; RAM's calls give it
    // RAM's own message.) A doc line marked "axtlab's guess" is a code RAM's table does not
    // list, named after its siblings.
    /// `UserName` has a character other than letters, digits, `.`, `_` and `-`.
    RamUserNameInvalidChars = ("InvalidParameter.UserName.InvalidChars", 400, "The parameter - \"UserName\" contains invalid chars."),
    /// `UserName` is longer than 64 characters.
    RamUserNameLength = ("InvalidParameter.UserName.Length", 400, "The parameter - \"UserName\" beyond the length limit."),
    /// UpdateUser's `NewUserName` has a character other than letters, digits, `.`, `_`, `-`.
    RamNewUserNameInvalidChars = ("InvalidParameter.NewUserName.InvalidChars", 400, "The parameter - \"NewUserName\" contains invalid chars."),
    /// `NewUserName` is longer than 64 characters.
    RamNewUserNameLength = ("InvalidParameter.NewUserName.Length", 400, "The parameter - \"NewUserName\" beyond the length limit."),
    /// `DisplayName` has a control character.
    RamDisplayNameInvalidChars = ("InvalidParameter.DisplayName.InvalidChars", 400, "The parameter - \"DisplayName\" contains invalid chars."),
    /// `DisplayName` is longer than 128 characters.
    RamDisplayNameLength = ("InvalidParameter.DisplayName.Length", 400, "The parameter - \"DisplayName\" beyond the length limit."),
    /// `NewDisplayName` has a control character.
    RamNewDisplayNameInvalidChars = ("InvalidParameter.NewDisplayName.InvalidChars", 400, "The parameter - \"NewDisplayName\" contains invalid chars."),
    /// `NewDisplayName` is longer than 128 characters.
    RamNewDisplayNameLength = ("InvalidParameter.NewDisplayName.Length", 400, "The parameter - \"NewDisplayName\" beyond the length limit."),
    /// `MobilePhone` is not `<country code>-<number>` (`86-18600008888`).
    RamMobilePhoneFormat = ("InvalidParameter.MobilePhone.Format", 400, "The format of the parameter - \"MobilePhone\" is incorrect."),
    /// `NewMobilePhone` is not `<country code>-<number>`.
    RamNewMobilePhoneFormat = ("InvalidParameter.NewMobilePhone.Format", 400, "The format of the parameter - \"NewMobilePhone\" is incorrect."),
    /// `Email` is not an address.
    RamEmailFormat = ("InvalidParameter.Email.Format", 400, "The format of the parameter - \"Email\" is incorrect."),
    /// `NewEmail` is not an address.
    RamNewEmailFormat = ("InvalidParameter.NewEmail.Format", 400, "The format of the parameter - \"NewEmail\" is incorrect."),
    /// `Comments` is longer than 128 characters.
    RamCommentsLength = ("InvalidParameter.Comments.Length", 400, "The parameter - \"Comments\" beyond the length limit."),
    /// `NewComments` is longer than 128 characters.
    RamNewCommentsLength = ("InvalidParameter.NewComments.Length", 400, "The parameter - \"NewComments\" beyond the length limit."),
    /// `GroupName` has a character other than letters, digits, `.`, `_` and `-`.
    RamGroupNameInvalidChars = ("InvalidParameter.GroupName.InvalidChars", 400, "The parameter - \"GroupName\" contains invalid chars."),
    /// `GroupName` is longer than 64 characters.
    RamGroupNameLength = ("InvalidParameter.GroupName.Length", 400, "The parameter - \"GroupName\" beyond the length limit."),
    /// UpdateGroup's `NewGroupName` has a character other than letters, digits, `.`, `_`, `-`.
    RamNewGroupNameInvalidChars = ("InvalidParameter.NewGroupName.InvalidChars", 400, "The parameter - \"NewGroupName\" contains invalid chars."),
    /// `NewGroupName` is longer than 64 characters.
    RamNewGroupNameLength = ("InvalidParameter.NewGroupName.Length", 400, "The parameter - \"NewGroupName\" beyond the length limit."),
    /// `RoleName` has a character other than letters, digits, `.` and `-`.
    RamRoleNameInvalidChars = ("InvalidParameter.RoleName.InvalidChars", 400, "The parameter - \"RoleName\" contains invalid chars."),
    /// `RoleName` is longer than 64 characters.
    RamRoleNameLength = ("InvalidParameter.RoleName.Length", 400, "The parameter - \"RoleName\" beyond the length limit."),
    /// A role's or a policy's `Description` is longer than 1024 characters.
    RamDescriptionLength = ("InvalidParameter.Description.Length", 400, "The parameter - \"Description\" beyond the length limit."),
    /// `NewDescription` is longer than 1024 characters (axtlab's guess).
    RamNewDescriptionLength = ("InvalidParameter.NewDescription.Length", 400, "The parameter - \"NewDescription\" beyond the length limit."),
    /// `PolicyType` is neither `System` nor `Custom`.
    RamPolicyType = ("InvalidParameter.PolicyType", 400, "The parameter - \"PolicyType\" is incorrect."),
    /// `PolicyName` has a character other than letters, digits and `-`.
    RamPolicyNameInvalidChars = ("InvalidParameter.PolicyName.InvalidChars", 400, "The parameter - \"PolicyName\" contains invalid chars."),
    /// `PolicyName` is longer than 128 characters.
    RamPolicyNameLength = ("InvalidParameter.PolicyName.Length", 400, "The parameter - \"PolicyName\" beyond the length limit."),
    /// `PolicyDocument` is longer than `axt_iam::policy::MAX_DOCUMENT_LEN`.
    RamPolicyDocumentLength = ("InvalidParameter.PolicyDocument.Length", 400, "The parameter - \"PolicyDocument\" beyond the length limit."),
    /// CreateRole's `AssumeRolePolicyDocument` is too long.
    RamAssumeRolePolicyDocumentLength = ("InvalidParameter.AssumeRolePolicyDocument.Length", 400, "The parameter - \"AssumeRolePolicyDocument\" beyond the length limit."),
    /// UpdateRole's `NewAssumeRolePolicyDocument` is too long.
    RamNewAssumeRolePolicyDocumentLength = ("InvalidParameter.NewAssumeRolePolicyDocument.Length", 400, "The maximum length of the new trust policy document of the role is exceeded."),
    /// `VersionId` is not `v<number>`.
    RamVersionIdFormat = ("InvalidParameter.VersionId.Format", 400, "The format of the parameter - \"VersionId\" is incorrect."),
    /// `MaxSessionDuration`/`NewMaxSessionDuration` is not 3600 to 43200 (axtlab's guess).
    RamMaxSessionDuration = ("InvalidParameter.MaxSessionDuration", 400, "The parameter - \"MaxSessionDuration\" MUST be in the range of 3600 and 43200."),
    /// A policy document that is not JSON, or not a valid policy; the message says why.
    MalformedPolicyDocument = ("MalformedPolicyDocument", 400, "The policy format is invalid."),
    /// No RAM user of this name in the account.
    EntityNotExistUser = ("EntityNotExist.User", 404, "The user does not exist."),
    /// No such AccessKey of the user (or of the account, without `UserName`).
    EntityNotExistUserAccessKey = ("EntityNotExist.User.AccessKey", 404, "The user access key does not exist."),
    /// DetachPolicyFromUser of a policy not attached to the user.
    EntityNotExistUserPolicy = ("EntityNotExist.User.Policy", 404, "The indicate policy of the user does not exist."),
    /// RemoveUserFromGroup of a user not in the group.
    EntityNotExistUserGroup = ("EntityNotExist.User.Group", 404, "The user has not joined the group."),
    /// No group of this name in the account.
    EntityNotExistGroup = ("EntityNotExist.Group", 404, "The group does not exist."),
    /// DetachPolicyFromGroup of a policy not attached to the group.
    EntityNotExistGroupPolicy = ("EntityNotExist.Group.Policy", 404, "The indicate policy attached to the group does not exist."),
    /// DetachPolicyFromRole of a policy not attached to the role.
    EntityNotExistRolePolicy = ("EntityNotExist.Role.Policy", 404, "The indicate policy attached to the role does not exist."),
    /// No such custom policy in the account, or no such system policy.
    EntityNotExistPolicy = ("EntityNotExist.Policy", 404, "The policy does not exist."),
    /// No such version of the policy.
    EntityNotExistPolicyVersion = ("EntityNotExist.Policy.Version", 404, "The policy version does not exist."),
    /// CreateUser (or UpdateUser's `NewUserName`) of a name the account already has.
    EntityAlreadyExistsUser = ("EntityAlreadyExists.User", 409, "The user does already EXIST."),
    /// AddUserToGroup of a user already in the group.
    EntityAlreadyExistsUserGroup = ("EntityAlreadyExists.User.Group", 409, "The user has already joined the group."),
    /// AttachPolicyToUser of a policy already attached.
    EntityAlreadyExistsUserPolicy = ("EntityAlreadyExists.User.Policy", 409, "The user has already been attached this policy."),
    /// CreateGroup (or `NewGroupName`) of a name the account already has.
    EntityAlreadyExistsGroup = ("EntityAlreadyExists.Group", 409, "The group does already EXIST."),
    /// AttachPolicyToGroup of a policy already attached.
    EntityAlreadyExistsGroupPolicy = ("EntityAlreadyExists.Group.Policy", 409, "The group has already been attached this policy."),
    /// CreateRole of a name the account already has, ignoring case.
    EntityAlreadyExistsRole = ("EntityAlreadyExists.Role", 409, "The role does already EXIST."),
    /// AttachPolicyToRole of a policy already attached.
    EntityAlreadyExistsRolePolicy = ("EntityAlreadyExists.Role.Policy", 409, "The role has already been attached this policy."),
    /// CreatePolicy of a name the account already has.
    EntityAlreadyExistsPolicy = ("EntityAlreadyExists.Policy", 409, "The policy does already EXIST."),
    /// DeleteUser while the user has AccessKeys.
    DeleteConflictUserAccessKey = ("DeleteConflict.User.AccessKey", 409, "The user CAN NOT has any access key while deleting the user."),
    /// DeleteUser while the user is in a group.
    DeleteConflictUserGroup = ("DeleteConflict.User.Group", 409, "The user CAN NOT be in any group while deleting the user."),
    /// DeleteUser while policies are attached to the user.
    DeleteConflictUserPolicy = ("DeleteConflict.User.Policy", 409, "The user CAN NOT has any attached policy while deleting the user."),
    /// DeleteGroup while the group has members.
    DeleteConflictGroupUser = ("DeleteConflict.Group.User", 409, "The group CAN NOT has any user member while deleting the group."),
    /// DeleteGroup while policies are attached to the group.
    DeleteConflictGroupPolicy = ("DeleteConflict.Group.Policy", 409, "The entity CAN NOT has any attached policy while deleting the group."),
    /// DeleteRole while policies are attached to the role.
    DeleteConflictRolePolicy = ("DeleteConflict.Role.Policy", 409, "The role CAN NOT has any attached policy while deleting the role."),
    /// DeletePolicy while it is attached to a user.
    DeleteConflictPolicyUser = ("DeleteConflict.Policy.User", 409, "The policy CAN NOT been attached to any user while deleting the policy."),
    /// DeletePolicy while it is attached to a group.
    DeleteConflictPolicyGroup = ("DeleteConflict.Policy.Group", 409, "The policy CAN NOT been attached to any group while deleting the policy."),
    /// DeletePolicy while it is attached to a role (axtlab's guess).
    DeleteConflictPolicyRole = ("DeleteConflict.Policy.Role", 409, "The policy CAN NOT been attached to any role while deleting the policy."),
    /// DeletePolicy while it has versions besides its default.
    DeleteConflictPolicyVersion = ("DeleteConflict.Policy.Version", 409, "The policy CAN NOT has any version except the default version."),
    /// DeletePolicyVersion of the default version.
    DeleteConflictPolicyVersionDefault = ("DeleteConflict.Policy.Version.Default", 409, "The default policy version CAN NOT been deleted directly."),
    /// CreateAccessKey for a user that already has 2.
    LimitExceededUserAccessKey = ("LimitExceeded.User.AccessKey", 409, "The access key count of the user access keys beyond the current limits."),
    /// CreatePolicyVersion of a policy with 5 versions, without the rotate strategy.
    LimitExceededPolicyVersion = ("LimitExceeded.Policy.Version", 409, "The count of policy version beyond the current limits."),

    // Security groups: CreateSecurityGroup, DeleteSecurityGroup, DescribeSecurityGroups,
    // DescribeSecurityGroupAttribute, Authorize/RevokeSecurityGroup(Egress), Join/
    // LeaveSecurityGroup and RunInstances' groups, spelt, numbered and worded as the ECS API
    // reference's tables give them (`Discription` is the service's spelling).
    /// A `SecurityGroupId` that is not one of the caller's groups in the region (for Join and
    /// Leave, the instance's region), or a group deleted while an instance joined it.
    SecurityGroupIdNotFound = ("InvalidSecurityGroupId.NotFound", 404, "The specified SecurityGroupId does not exist."),
    /// CreateSecurityGroup's `SecurityGroupName` is not 2 to 128 characters starting with a
    /// letter, of letters, digits, `.`, `_`, `-` and `:`.
    SecurityGroupNameMalformed = ("InvalidSecurityGroupName.Malformed", 400, "Specified security group name is not valid."),
    /// CreateSecurityGroup's `Description` is not 2 to 256 characters, or starts with
    /// `http://` or `https://`.
    SecurityGroupDescriptionMalformed = ("InvalidDescription.Malformed", 400, "The specified parameter Description is not valid."),
    /// DeleteSecurityGroup while an instance is in the group.
    SecurityGroupInUse = ("DependencyViolation", 403, "There is still instance(s) in the specified security group."),
    /// A rule's `IpProtocol` is missing, or not tcp, udp, icmp, icmpv6, gre or all (any case).
    IpProtocolNotSupported = ("InvalidIpProtocol.ValueNotSupported", 400, "The parameter IpProtocol must be specified with case insensitive TCP, UDP, ICMP, GRE or All."),
    /// A rule without `PortRange`.
    PortRangeMissing = ("InvalidPortRange.Malformed", 400, "The specified parameter PortRange must set."),
    /// A `PortRange` that is not two integers `start/end`, or for tcp/udp not
    /// 1 ≤ start ≤ end ≤ 65535.
    PortRangeInvalid = ("InvalidParam.PortRange", 400, "The specified parameter PortRange is not valid. It should be two integers less than 65535 in ?/? format."),
    /// `-1/-1` for tcp or udp, or anything but `-1/-1` for icmp, icmpv6, gre or all.
    ProtocolPortRangeMismatch = ("OperationDenied", 400, "The specified IpProtocol does not exist or IpProtocol and PortRange do not match."),
    /// A rule's `SourceCidrIp` is not an IPv4 address or CIDR block.
    SourceCidrIpMalformed = ("InvalidSourceCidrIp.Malformed", 400, "The specified parameter SourceCidrIp is not valid."),
    /// A rule's `DestCidrIp` is not an IPv4 address or CIDR block.
    DestCidrIpMalformed = ("InvalidDestCidrIp.Malformed", 400, "The specified parameter DestCidrIp is not valid."),
    /// A rule's `Ipv6SourceCidrIp` is not an IPv6 address or CIDR block.
    Ipv6SourceInvalid = ("InvalidParam.Ipv6SourceCidrIp", 400, "The specified parameter Ipv6SourceCidrIp is not valid."),
    /// A rule's `Ipv6DestCidrIp` is not an IPv6 address or CIDR block.
    Ipv6DestInvalid = ("InvalidParam.Ipv6DestCidrIp", 400, "The specified parameter Ipv6DestCidrIp is not valid."),
    /// A rule with both `SourceCidrIp` and `Ipv6SourceCidrIp`.
    SourceIpConflict = ("InvalidParam.SourceIp", 400, "The Parameters SourceCidrIp and Ipv6SourceCidrIp cannot be set at the same time."),
    /// A rule with both `DestCidrIp` and `Ipv6DestCidrIp`.
    DestIpConflict = ("InvalidParam.DestIp", 400, "The Parameters DestCidrIp and Ipv6DestCidrIp cannot be set at the same time."),
    /// An icmp rule with an IPv6 block.
    Ipv4ProtocolWithIpv6Address = ("InvalidParam.Ipv4ProtocolConflictWithIpv6Address", 400, "IPv6 address cannot be specified for IPv4-specific protocol."),
    /// An icmpv6 rule with an IPv4 block.
    Ipv6ProtocolWithIpv4Address = ("InvalidParam.Ipv6ProtocolConflictWithIpv4Address", 400, "IPv4 address cannot be specified for IPv6-specific protocol."),
    /// An inbound rule with no source block (nor a source group or prefix list, which axtlab
    /// refuses as `InvalidParameter`).
    MissingRuleSource = ("MissingParameter.Source", 400, "One of the parameters SourceCidrIp, Ipv6SourceCidrIp, SourceGroupId or SourcePrefixListId must be specified."),
    /// An outbound rule with no destination block.
    MissingRuleDest = ("MissingParameter.Dest", 400, "One of the parameters DestCidrIp, Ipv6DestCidrIp, DestGroupId or DestPrefixListId must be specified."),
    /// A rule's `Policy` is not accept or drop (any case).
    PolicyMalformed = ("InvalidPolicy.Malformed", 400, "The specified parameter Policy is not valid."),
    /// A rule's `Priority` is not an integer.
    PriorityMalformed = ("InvalidPriority.Malformed", 400, "The parameter Priority is invalid."),
    /// A rule's `Priority` is outside 1 to 100.
    PriorityNotSupported = ("InvalidPriority.ValueNotSupported", 400, "The parameter Priority is invalid."),
    /// `NicType` is neither internet nor intranet.
    NicTypeNotSupported = ("InvalidNicType.ValueNotSupported", 400, "The specified NicType does not exist."),
    /// A rule's `Description` is longer than 512 characters.
    RuleDescriptionMalformed = ("InvalidSecurityGroupDiscription.Malformed", 400, "The specified security group rule description is not valid."),
    /// `Permissions.N.*` together with a flat rule parameter, or `SecurityGroupRuleId.N`
    /// together with either.
    PermissionsConflict = ("InvalidParam.Permissions", 400, "The specified parameter Permissions cannot coexist with other parameters."),
    /// Two `Permissions.N` that are the same rule (priority and description aside).
    DuplicatePermissions = ("InvalidParam.DuplicatePermissions", 400, "There are duplicate permissions in the specified parameter Permissions."),
    /// A drop rule for an advanced (`enterprise`) group, which has accept rules only.
    EnterpriseGroupPolicy = ("InvalidGroupParameter.OperationDenied", 400, "The attributes Policy, SourceGroupId, DestGroupId of enterprise level security groups are not allowed to be set or modified."),
    /// Authorize would take the group past 200 rules, both directions together.
    RuleLimitExceeded = ("AuthorizationLimitExceed", 403, "The limit of authorization records in the security group reaches."),
    /// A `SecurityGroupRuleId.N` named twice.
    SecurityGroupRuleIdRepeated = ("InvalidParam.SecurityGroupRuleIdRepeated", 400, "The specified parameter SecurityGroupRuleId is repeated."),
    /// A `SecurityGroupRuleId.N` that is not a rule of the group in the call's direction.
    SecurityGroupRuleIdNotFound = ("InvalidSecurityGroupRuleId.NotFound", 404, "The specified SecurityGroupRuleId is not exists."),
    /// JoinSecurityGroup of an instance already in the group.
    InstanceAlreadyInGroup = ("InvalidInstanceId.AlreadyExists", 403, "The specified instance already exists in the specified security group."),
    /// JoinSecurityGroup of an instance in 5 groups, or RunInstances with more than 5.
    InstanceGroupLimitExceeded = ("InstanceSecurityGroupLimitExceeded", 400, "Exceeding the allowed amount of security groups that an instance can be in."),
    /// LeaveSecurityGroup of a group the instance is not in.
    InstanceNotInGroup = ("InstanceNotInSecurityGroup", 403, "The instance not in the group."),
    /// LeaveSecurityGroup of the instance's only group: an instance keeps at least one.
    InstanceLastGroup = ("InstanceLastSecurityGroup", 403, "The specified security group is the last security group for the instance."),

    // KMS (2016-01-20): the codes of KMS's common error table and its table of how a key's
    // state decides each operation (Rejected.* are all 409), spelt, numbered and worded as KMS
    // answers them. A malformed or forged CiphertextBlob, or one whose EncryptionContext
    // differs, is `InvalidParameter` (above): KMS documents no code of its own for it.
    /// A `KeyId` (or key ARN, or the key a CiphertextBlob names) that is no key of the caller's
    /// account in the call's region, or a key whose deletion window has passed.
    KmsKeyNotFound = ("Forbidden.KeyNotFound", 404, "The specified Key is not found."),
    /// A `KeyId` of the form `alias/…`: axtlab keeps no aliases, so none is ever found.
    KmsAliasNotFound = ("Forbidden.AliasNotFound", 404, "The specified Alias is not found."),
    /// A RAM user or role session calls a KMS action its policies do not allow on the key (or
    /// the key container); the body carries `AccessDeniedDetail`.
    KmsNoPermission = ("Forbidden.NoPermission", 403, "This operation is forbidden by permission system."),
    /// GenerateDataKey, Encrypt or Decrypt with a Disabled key.
    KmsKeyDisabled = ("Rejected.Disabled", 409, "The request was rejected because the key state is Disabled."),
    /// GenerateDataKey, Encrypt or Decrypt with a key pending deletion.
    KmsKeyPendingDeletion = ("Rejected.PendingDeletion", 409, "The request was rejected because the key state is PendingDeletion."),
    /// EnableKey, DisableKey or ScheduleKeyDeletion of a key pending deletion, or
    /// CancelKeyDeletion of one that is not.
    KmsStateModifiedFailed = ("Rejected.StateModifiedFailed", 409, "Keystate modified failed."),
    /// CreateKey with `ProtectionLevel=HSM`: the lab has no hardware security module.
    KmsUnsupportedProtectionLevel = ("Unsupported.ProtectionLevel", 400, "This protection level is not valid for this region."),
}

/// An error an OpenAPI caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    /// The `Code` on the wire: the code's own, or `Missing{Parameter}`.
    pub wire_code: String,
    /// The `Message`.
    pub message: String,
    /// `AccessDeniedDetail`, on an authorization refusal.
    pub access_denied: Option<serde_json::Value>,
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self {
            code,
            wire_code: code.as_str().to_owned(),
            message: code.message().to_owned(),
            access_denied: None,
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
            access_denied: None,
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
    pub fn body(&self, request_id: &str, host_id: &str, product: &str) -> serde_json::Value {
        let mut body = serde_json::json!({
            "RequestId": request_id,
            "HostId": host_id,
            "Code": self.wire_code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product={product}&requestId={request_id}",
                self.wire_code
            ),
        });
        if let Some(detail) = &self.access_denied {
            body["AccessDeniedDetail"] = detail.clone();
        }
        body
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
