//! Why a management call was refused before the control plane ran it, in
//! API Gateway's error shape (`__type` and `message`, `x-amzn-ErrorType`).

use serde_json::{json, Value};

use crate::aws::sigv4::SigError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Missing Authentication Token")]
    MissingToken,
    #[error("The admin token is not valid")]
    BadToken,
    #[error("No access key is configured for the management API ([admin] access_key_id)")]
    NoAccessKey,
    #[error(transparent)]
    Signature(#[from] SigError),
    #[error("The request signature has already been used. A state-changing call is accepted once per signature; sign the request again.")]
    Replayed,
    #[error("Too many state-changing signed calls within 15 minutes to check them for replay; retry later")]
    ReplayCacheFull,
    #[error("Request must be smaller than {cap} bytes for the {operation} operation")]
    TooLarge { cap: usize, operation: &'static str },
    #[error("The request body did not arrive within {0} ms")]
    BodyTimeout(u64),
    #[error("Cannot read the request body: {0}")]
    BodyUnreadable(String),
    #[error("Too Many Requests")]
    Busy,
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooLarge { .. } => 413,
            Refusal::BodyTimeout(_) => 408,
            Refusal::BodyUnreadable(_) => 400,
            Refusal::ReplayCacheFull | Refusal::Busy => 429,
            _ => 403,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::MissingToken => "MissingAuthenticationTokenException",
            Refusal::BadToken | Refusal::NoAccessKey => "UnrecognizedClientException",
            Refusal::Signature(e) => e.kind(),
            Refusal::Replayed => "InvalidSignatureException",
            Refusal::TooLarge { .. } => "RequestTooLargeException",
            Refusal::BodyTimeout(_) => "RequestTimeoutException",
            Refusal::BodyUnreadable(_) => "BadRequestException",
            Refusal::ReplayCacheFull | Refusal::Busy => "TooManyRequestsException",
        }
    }

    pub fn body(&self) -> Value {
        json!({"__type": self.kind(), "message": self.to_string()})
    }
}
