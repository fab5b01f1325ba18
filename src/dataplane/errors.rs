//! Every answer the gateway gives itself on the data plane, in one place,
//! with AWS's status, words and gateway response type: a client (or an SDK
//! matching on the text) sees what Amazon API Gateway would send, and an
//! API's gateway responses find the answers they customise. The HTTP
//! framing errors (400, 408, 413, 414, 431, 501) are `http::HttpError`'s,
//! since the parser finds them.

use crate::http::{ErrorResponse, ResponseType};

/// No API, stage or route matched: AWS's answer to an unknown path (it
/// says nothing about whether the path exists with another method).
pub const MISSING_AUTHENTICATION_TOKEN: ErrorResponse =
    ErrorResponse::new(403, "Missing Authentication Token")
        .typed(ResponseType::MissingAuthenticationToken);
/// A cache flush not allowed.
pub const FORBIDDEN: ErrorResponse = ErrorResponse::new(403, "Forbidden");
/// A token without the route's scopes, a simple Lambda authorizer's "no".
pub const NOT_AUTHORIZED: ErrorResponse =
    ErrorResponse::new(403, "Forbidden").typed(ResponseType::AccessDenied);
/// An API key required and absent, unknown, disabled or not in a plan of the stage.
pub const INVALID_API_KEY: ErrorResponse =
    ErrorResponse::new(403, "Forbidden").typed(ResponseType::InvalidApiKey);
pub const THROTTLED: ErrorResponse =
    ErrorResponse::new(429, "Too Many Requests").typed(ResponseType::Throttled);
pub const QUOTA_EXCEEDED: ErrorResponse =
    ErrorResponse::new(429, "Limit Exceeded").typed(ResponseType::QuotaExceeded);
pub const UNAUTHORIZED: ErrorResponse =
    ErrorResponse::new(401, "Unauthorized").typed(ResponseType::Unauthorized);
/// A Lambda authorizer's policy does not allow the method.
pub const ACCESS_DENIED: ErrorResponse =
    ErrorResponse::new(403, "User is not authorized to access this resource")
        .keyed("Message")
        .typed(ResponseType::AccessDenied);
/// A Lambda authorizer's policy denies the method explicitly.
pub const EXPLICIT_DENY: ErrorResponse = ErrorResponse::new(
    403,
    "User is not authorized to access this resource with an explicit deny",
)
.keyed("Message")
.typed(ResponseType::AccessDenied);
/// The authorizer could not be run or answered badly.
pub const AUTHORIZER_FAILURE: ErrorResponse =
    ErrorResponse::new(500, "Internal server error").typed(ResponseType::AuthorizerFailure);
/// The authorizer could not be reached or did not answer in time.
pub const AUTHORIZER_CONFIGURATION_ERROR: ErrorResponse =
    ErrorResponse::new(500, "Internal server error")
        .typed(ResponseType::AuthorizerConfigurationError);
/// The integration failed, or could not be reached (AWS's words and the
/// status AWS sends for it, though its table lists 504 for the type).
pub const INTEGRATION_FAILURE: ErrorResponse =
    ErrorResponse::new(502, "Internal server error").typed(ResponseType::IntegrationFailure);
pub const INTEGRATION_TIMEOUT: ErrorResponse =
    ErrorResponse::new(504, "Endpoint request timed out").typed(ResponseType::IntegrationTimeout);
/// A Host whose domain needs a client certificate, on a connection set up
/// for another name (RFC 9110 §15.5.20).
pub const MISDIRECTED: ErrorResponse = ErrorResponse::new(421, "Misdirected Request");
/// A request whose content type has no mapping template, under a
/// passthrough behaviour of NEVER (or WHEN_NO_TEMPLATES with templates).
pub const UNSUPPORTED_MEDIA_TYPE: ErrorResponse =
    ErrorResponse::new(415, "Unsupported Media Type").typed(ResponseType::UnsupportedMediaType);
/// AWS's "Execution failed due to configuration error": a mapping template
/// that fails to render, a MOCK template without a valid `statusCode`, no
/// integration response for the status and no default.
pub const API_CONFIGURATION_ERROR: ErrorResponse =
    ErrorResponse::new(500, "Internal server error").typed(ResponseType::ApiConfigurationError);
/// Every connection the worker may hold is mid-request.
pub const UNAVAILABLE: ErrorResponse =
    ErrorResponse::new(503, "Service Unavailable").retry_after(1);
/// A body that is not JSON or that the method's model refuses.
pub const BAD_REQUEST_BODY: ErrorResponse =
    ErrorResponse::new(400, "Invalid request body").typed(ResponseType::BadRequestBody);

/// Required request parameters missing; `message` names them (compiled
/// with the route's validation).
pub const fn bad_request_parameters(message: &'static str) -> ErrorResponse {
    ErrorResponse::new(400, message).typed(ResponseType::BadRequestParameters)
}
