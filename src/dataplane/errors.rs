//! Every answer the gateway gives itself on the data plane, in one place,
//! with AWS's status and words: a client (or an SDK matching on the text)
//! sees what Amazon API Gateway would send. Named after AWS's gateway
//! response types where one applies. The HTTP framing errors (400, 408,
//! 413, 414, 431, 501) are `http::HttpError`'s, since the parser finds them.

use crate::http::ErrorResponse;

/// No API, stage or route matched: AWS's answer to an unknown path (it
/// says nothing about whether the path exists with another method).
pub const MISSING_AUTHENTICATION_TOKEN: ErrorResponse =
    ErrorResponse::new(403, "Missing Authentication Token");
/// A key required and absent or unknown, or a cache flush not allowed.
pub const FORBIDDEN: ErrorResponse = ErrorResponse::new(403, "Forbidden");
pub const THROTTLED: ErrorResponse = ErrorResponse::new(429, "Too Many Requests");
pub const QUOTA_EXCEEDED: ErrorResponse = ErrorResponse::new(429, "Limit Exceeded");
pub const UNAUTHORIZED: ErrorResponse = ErrorResponse::new(401, "Unauthorized");
/// A Lambda authorizer's policy does not allow the method.
pub const ACCESS_DENIED: ErrorResponse =
    ErrorResponse::new(403, "User is not authorized to access this resource").keyed("Message");
/// A Lambda authorizer's policy denies the method explicitly.
pub const EXPLICIT_DENY: ErrorResponse = ErrorResponse::new(
    403,
    "User is not authorized to access this resource with an explicit deny",
)
.keyed("Message");
/// The authorizer could not be run or answered badly.
pub const AUTHORIZER_FAILURE: ErrorResponse = ErrorResponse::new(500, "Internal server error");
/// The integration failed, or could not be reached (AWS's words).
pub const INTEGRATION_FAILURE: ErrorResponse = ErrorResponse::new(502, "Internal server error");
pub const INTEGRATION_TIMEOUT: ErrorResponse =
    ErrorResponse::new(504, "Endpoint request timed out");
/// A Host whose domain needs a client certificate, on a connection set up
/// for another name (RFC 9110 §15.5.20).
pub const MISDIRECTED: ErrorResponse = ErrorResponse::new(421, "Misdirected Request");
/// Every connection the worker may hold is mid-request.
pub const UNAVAILABLE: ErrorResponse =
    ErrorResponse::new(503, "Service Unavailable").retry_after(1);
