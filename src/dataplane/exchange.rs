//! One request and its answer: what the steps learn about it on the way
//! (its id, what its head says about its body and the connection, the API,
//! stage and route it reached, the throttle level or validation that refused it, the
//! meter it is counted on, the cache's part) and what was answered (status,
//! the integration's time, the gateway's own error). It starts empty with
//! each request, so no field outlives the request it describes: nothing is
//! reset by hand. The last step (`record`) reads it for the counts and the
//! access log.

use super::request_id::RequestId;
use crate::http::{BodyKind, Head, Method, Version};
use crate::metrics::Invalid;
use crate::snapshot::{Api, Stage};
use crate::throttle::{monotonic_ns, Level, MeterId};

/// Whether the connection can carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    KeepAlive,
    Close,
}

pub struct Exchange<'s> {
    pub id: RequestId,
    /// When the head was read (`throttle::monotonic_ns`): the latency's
    /// start, and the time the throttle admits the call at unless an
    /// authorizer ran since, so a call reads the clock twice, not three times.
    pub started_ns: u64,
    pub body: BodyKind,
    pub expect_continue: bool,
    pub is_head: bool,
    /// May be sent again after a failure mid-exchange (RFC 9110 §9.2.2).
    pub idempotent: bool,
    pub version: Version,
    /// The client asked to close after this exchange.
    pub close: bool,
    pub api: Option<&'s Api>,
    pub stage: Option<&'s Stage>,
    pub route: Option<usize>,
    /// The throttle level that refused the call.
    pub throttled: Option<Level>,
    /// Request validation refused the call.
    pub invalid: Option<Invalid>,
    /// The API key's usage meter; set once the call is admitted.
    pub meter: Option<MeterId>,
    /// The cache's part: `Some(true)` a hit, `Some(false)` a miss it fills.
    pub cache: Option<bool>,
    /// The status sent, for metrics and logs.
    pub status: u16,
    /// The integration's response time (µs) and status, when it answered.
    pub integration: Option<(u64, u16)>,
    /// The gateway's own error message, when it answered with one.
    pub error: Option<&'static str>,
    /// The gateway added CORS header lines to the answer.
    pub cors: bool,
    /// The cache wants a copy of the answer, if it is sent whole and is at
    /// most this long (the stage's item limit).
    pub capture: Option<usize>,
    /// What the API's gateway responses read of the request (header
    /// values, body templates' `$context` and `$input.params()`), kept
    /// while the head is readable; empty for an API without any.
    pub request_values: crate::snapshot::Captured,
    /// The JSON Schema the body must satisfy, chosen by its content type
    /// while the head was readable; checked where the body is read whole.
    pub body_schema: Option<&'s jsonschema::Validator>,
}

impl Exchange<'_> {
    /// A request whose head is `head`.
    pub fn new(id: RequestId, head: &Head) -> Self {
        Exchange {
            id,
            started_ns: monotonic_ns(),
            body: head.body,
            expect_continue: head.expect_continue,
            is_head: head.method() == Method::Head,
            idempotent: crate::http::forward::is_idempotent(head.method()),
            version: head.version(),
            close: head.close,
            api: None,
            stage: None,
            route: None,
            throttled: None,
            invalid: None,
            meter: None,
            cache: None,
            status: 0,
            integration: None,
            error: None,
            cors: false,
            capture: None,
            request_values: Default::default(),
            body_schema: None,
        }
    }
}
