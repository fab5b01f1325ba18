//! Management API errors, as Amazon API Gateway answers them: a status, an
//! error type (`x-amzn-ErrorType` header and `__type`) and a message.

use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    /// An operation of the service model portico does not implement.
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    Internal(String),
    /// The fleet's shared store (Redis, `[cluster]`) cannot be reached:
    /// nothing was read or changed, and the call may be retried.
    #[error("{0}")]
    ServiceUnavailable(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::NotImplemented(_) => 501,
            ApiError::Internal(_) => 500,
            ApiError::ServiceUnavailable(_) => 503,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "NotFoundException",
            ApiError::Conflict(_) => "ConflictException",
            ApiError::BadRequest(_) => "BadRequestException",
            ApiError::Unauthorized(_) => "UnauthorizedException",
            ApiError::NotImplemented(_) => "NotImplementedException",
            ApiError::Internal(_) => "InternalFailureException",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailableException",
        }
    }

    /// NotFoundException for an unknown API key, worded as AWS words it
    /// (AWS's "not found" messages for these name no identifier).
    pub fn no_api_key() -> Self {
        ApiError::NotFound("Invalid API Key identifier specified".into())
    }

    pub fn no_usage_plan() -> Self {
        ApiError::NotFound("Invalid Usage Plan ID specified".into())
    }

    pub fn no_stage() -> Self {
        ApiError::NotFound("Invalid Stage identifier specified".into())
    }

    pub fn no_resource() -> Self {
        ApiError::NotFound("Invalid Resource identifier specified".into())
    }

    pub fn no_deployment() -> Self {
        ApiError::NotFound("Invalid Deployment identifier specified".into())
    }

    pub fn body(&self) -> Value {
        json!({"__type": self.kind(), "message": self.to_string()})
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("state store: {e}"))
    }
}
