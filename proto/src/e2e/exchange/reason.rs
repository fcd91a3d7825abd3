//! `KeyExchangeError.<Reason>`: the stock agent's reasons, and axtlab's few additions.

/// Why a key exchange failed. The variants carry the stock agent's own reason names, so
/// [`ErrorReason::as_code`] writes exactly what it writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorReason {
    /// An empty payload, or (in [`super::Message::decode`]) an unknown action byte.
    ActionTypeParseError,
    /// An action the state does not expect.
    WrongActionTypeError,
    /// ClientHello JSON that does not parse.
    ClientHelloParseError,
    /// `encryptIV` that is not base64 of 16 bytes.
    IVDecodeError,
    /// A `cipherSuite` nobody knows.
    UnknownCipherSuiteError,
    /// A suite known but not supported here (never sent by the stock agent; axtlab uses it
    /// for an `axtSuite` the client did not offer).
    UnsupportedCipherSuiteError,
    /// The suite agreed in ClientHello is not one the key exchange can use.
    InvalidCipherSuiteError,
    /// ClientKeyExchange JSON that does not parse.
    ClientKeyExchangeParseError,
    /// The KMS blob could not be decrypted.
    KMSDecryptError,
    /// A `clientPub` that is not base64 (axtlab also: not a valid point or key).
    ClientPublicKeyDecodeError,
    /// The agent could not make its key share.
    AgentKeyGenerateError,
    /// A key-exchange message after the exchange (or while one is being handled).
    InvalidKeyExchangeStateError,
    /// Input before the exchange finished.
    RecvDataMessageBeforeKeyExchange,
    /// The shell printed before the exchange finished.
    AgentOutputBeforeKeyExchange,
    /// (axtlab) The agent could not sign the transcript with its identity key.
    SignatureError,
    /// (axtlab, client side only; never sent) An AgentHello, AgentKeyExchange or
    /// KeyExchangeError that does not parse.
    AgentMessageParseError,
    /// A code this build does not know, kept verbatim (the whole `code` string).
    Other(String),
}

/// Every named reason, for lookups and tests.
const NAMED: [ErrorReason; 16] = [
    ErrorReason::ActionTypeParseError,
    ErrorReason::WrongActionTypeError,
    ErrorReason::ClientHelloParseError,
    ErrorReason::IVDecodeError,
    ErrorReason::UnknownCipherSuiteError,
    ErrorReason::UnsupportedCipherSuiteError,
    ErrorReason::InvalidCipherSuiteError,
    ErrorReason::ClientKeyExchangeParseError,
    ErrorReason::KMSDecryptError,
    ErrorReason::ClientPublicKeyDecodeError,
    ErrorReason::AgentKeyGenerateError,
    ErrorReason::InvalidKeyExchangeStateError,
    ErrorReason::RecvDataMessageBeforeKeyExchange,
    ErrorReason::AgentOutputBeforeKeyExchange,
    ErrorReason::SignatureError,
    ErrorReason::AgentMessageParseError,
];

/// The prefix of every `code`.
const PREFIX: &str = "KeyExchangeError.";

impl ErrorReason {
    /// Every reason that has a name (all but `Other`).
    pub fn all() -> &'static [ErrorReason] {
        &NAMED
    }

    /// The reason's name, e.g. `IVDecodeError` (for `Other`, the code as received).
    pub fn name(&self) -> &str {
        match self {
            ErrorReason::ActionTypeParseError => "ActionTypeParseError",
            ErrorReason::WrongActionTypeError => "WrongActionTypeError",
            ErrorReason::ClientHelloParseError => "ClientHelloParseError",
            ErrorReason::IVDecodeError => "IVDecodeError",
            ErrorReason::UnknownCipherSuiteError => "UnknownCipherSuiteError",
            ErrorReason::UnsupportedCipherSuiteError => "UnsupportedCipherSuiteError",
            ErrorReason::InvalidCipherSuiteError => "InvalidCipherSuiteError",
            ErrorReason::ClientKeyExchangeParseError => "ClientKeyExchangeParseError",
            ErrorReason::KMSDecryptError => "KMSDecryptError",
            ErrorReason::ClientPublicKeyDecodeError => "ClientPublicKeyDecodeError",
            ErrorReason::AgentKeyGenerateError => "AgentKeyGenerateError",
            ErrorReason::InvalidKeyExchangeStateError => "InvalidKeyExchangeStateError",
            ErrorReason::RecvDataMessageBeforeKeyExchange => "RecvDataMessageBeforeKeyExchange",
            ErrorReason::AgentOutputBeforeKeyExchange => "AgentOutputBeforeKeyExchange",
            ErrorReason::SignatureError => "SignatureError",
            ErrorReason::AgentMessageParseError => "AgentMessageParseError",
            ErrorReason::Other(code) => code,
        }
    }

    /// The wire `code`: `KeyExchangeError.<Reason>` (for `Other`, the code as received).
    pub fn as_code(&self) -> String {
        match self {
            ErrorReason::Other(code) => code.clone(),
            named => format!("{PREFIX}{}", named.name()),
        }
    }

    /// The reason of a wire `code`; one this build does not know is kept as `Other`.
    pub fn from_code(code: &str) -> ErrorReason {
        code.strip_prefix(PREFIX)
            .and_then(|name| NAMED.iter().find(|r| r.name() == name))
            .cloned()
            .unwrap_or_else(|| ErrorReason::Other(code.to_owned()))
    }
}

impl std::fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.as_code())
    }
}

impl std::error::Error for ErrorReason {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in ErrorReason::all() {
            assert_eq!(&ErrorReason::from_code(&r.as_code()), r);
            assert!(r.as_code().starts_with("KeyExchangeError."));
        }
        assert_eq!(
            ErrorReason::IVDecodeError.as_code(),
            "KeyExchangeError.IVDecodeError"
        );
        let odd = ErrorReason::from_code("KeyExchangeError.Novel");
        assert_eq!(odd, ErrorReason::Other("KeyExchangeError.Novel".into()));
        assert_eq!(odd.as_code(), "KeyExchangeError.Novel");
    }
}
