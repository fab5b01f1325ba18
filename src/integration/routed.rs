//! The routed request, as the pipeline hands it to authorizers and integrations.

use crate::auth::Authorized;
use crate::http::Head;
use crate::snapshot::{Api, Stage};

/// A request once routed: what integrations and authorizers build their
/// upstream request or event from, while its head is still in the buffer.
pub struct Routed<'a> {
    pub head: &'a Head,
    pub buf: &'a [u8],
    /// The request path in canonical form (`crate::http::path`), stage included.
    pub path: &'a [u8],
    /// The path the route matched: `path` after the stage or base path.
    pub routed_path: &'a [u8],
    /// Reached through a custom domain's base path mapping (`path` then
    /// starts with the base path, not the stage).
    pub custom_domain: bool,
    pub params: &'a matchit::Params<'a, 'a>,
    pub api: &'a Api,
    pub stage: &'a Stage,
    pub route: usize,
    pub request_id: &'a [u8],
    pub source_ip: &'a str,
    /// The client came over TLS.
    pub https: bool,
    /// The client certificate of a mutual-TLS caller, as API Gateway describes it.
    pub client_cert: Option<&'a serde_json::Value>,
    /// The API key the call was admitted with.
    pub api_key: Option<&'a [u8]>,
    pub authorized: Option<&'a Authorized>,
    pub account_id: &'a str,
    /// Milliseconds since the Unix epoch.
    pub now_ms: u64,
}
