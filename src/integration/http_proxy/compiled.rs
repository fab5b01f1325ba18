//! The HTTP proxy integration as the snapshot holds it: the upstream's
//! authority and addresses, the path template with stage variables filled
//! in, the headers to add, the timeout, TLS. Compiled from config alone;
//! what runs per request (`request`, `forward`, `answer`) is in the files
//! beside this one, so the snapshot that holds this type does not depend
//! on the worker's runtime.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::http::forward;
use crate::snapshot::param_mapping::ParamMapping;
use crate::snapshot::{UriPart, UriTemplate};
use crate::upstream::tls::UpstreamTls;
use crate::upstream::{resolve_authority, Endpoint, Resolve};

/// A header added to the upstream request.
#[derive(Debug)]
pub(super) enum Added {
    Literal(String),
    /// `$context.authorizer.{key}`: what the authorizer found; left out
    /// when there is none.
    Authorizer(String),
}

#[derive(Debug)]
pub(super) enum PathPart {
    Literal(String),
    Param(String),
}

pub struct HttpProxyIntegration {
    /// `host[:port]` as written in the URI: the upstream's `Host` header.
    pub(super) authority: String,
    pub(super) addrs: Vec<SocketAddr>,
    pub(super) path: Vec<PathPart>,
    /// The URI template has its own query: the client's is appended with `&`.
    pub(super) has_query: bool,
    pub(super) timeout: Duration,
    /// Lower-case names; replace the client's headers of the same name.
    pub(super) added: Vec<(String, Added)>,
    /// `requestParameters`: path parameters into the URI, query strings
    /// and headers added to (or replacing) the client's. One that reads
    /// the body makes the route read it whole first (`deferred`).
    pub(super) mapping: ParamMapping,
    /// `https://`: how to reach the upstream over TLS.
    pub(super) tls: Option<UpstreamTls>,
    /// Authority, addresses and TLS again, as a whole-request call
    /// (`upstream::call`, for a non-proxy HTTP integration) takes them.
    pub(super) endpoint: Endpoint,
}

impl HttpProxyIntegration {
    pub fn compile(
        uri: &UriTemplate,
        variables: &BTreeMap<String, String>,
        timeout_ms: u64,
        request_headers: &BTreeMap<String, String>,
        request_parameters: &BTreeMap<String, String>,
        tls: Option<crate::upstream::tls::TlsConfigFn<'_>>,
        resolve: Resolve<'_>,
    ) -> Result<Self, String> {
        let var = |v: &str| {
            variables
                .get(v)
                .cloned()
                .ok_or_else(|| format!("stage variable `{v}` is not defined"))
        };
        let mut authority = String::new();
        for part in &uri.authority {
            match part {
                UriPart::Literal(s) => authority.push_str(s),
                UriPart::StageVar(v) => authority.push_str(&var(v)?),
                UriPart::Param(_) => unreachable!("rejected when parsed"),
            }
        }
        let mut path: Vec<PathPart> = Vec::new();
        for part in &uri.path {
            match part {
                UriPart::Param(p) => path.push(PathPart::Param(p.clone())),
                UriPart::Literal(s) => push_literal(&mut path, s),
                UriPart::StageVar(v) => push_literal(&mut path, &var(v)?),
            }
        }
        let has_query = path
            .iter()
            .any(|p| matches!(p, PathPart::Literal(s) if s.contains('?')));
        let default_port = if uri.https { 443 } else { 80 };
        let addrs = resolve_authority(&authority, default_port, resolve)?;
        let tls = match (uri.https, tls) {
            (false, _) => None,
            (true, Some(config)) => Some(UpstreamTls::new(config()?, &authority)?),
            (true, None) => return Err("https upstreams are not available here".into()),
        };
        if timeout_ms == 0 {
            return Err("timeout_ms must be at least 1".into());
        }
        let mut added = Vec::new();
        for (name, value) in request_headers {
            let lower = name.to_ascii_lowercase();
            if lower.is_empty() || !lower.bytes().all(|c| c.is_ascii_graphic() && c != b':') {
                return Err(format!("request_headers: `{name}` is not a header name"));
            }
            if forward::is_gateway_header(lower.as_bytes()) {
                return Err(format!("request_headers: `{name}` is set by the gateway"));
            }
            let source = match value.strip_prefix("$context.authorizer.") {
                Some(key) if !key.is_empty() => Added::Authorizer(key.to_string()),
                Some(_) => return Err(format!("request_headers.{name}: name an authorizer value")),
                None if value.starts_with('$') => {
                    return Err(format!(
                    "request_headers.{name}: `{value}` is not $context.authorizer.KEY or a literal"
                ))
                }
                None if value.contains(['\r', '\n']) => {
                    return Err(format!(
                        "request_headers.{name}: a value cannot hold a line break"
                    ))
                }
                None => Added::Literal(value.clone()),
            };
            added.push((lower, source));
        }
        let mapping = ParamMapping::compile(request_parameters)
            .map_err(|e| format!("request_parameters: {e}"))?;
        let endpoint = Endpoint {
            authority: authority.clone(),
            addrs: addrs.clone(),
            tls: tls.clone(),
        };
        Ok(HttpProxyIntegration {
            endpoint,
            authority,
            addrs,
            path,
            has_query,
            timeout: Duration::from_millis(timeout_ms),
            added,
            mapping,
            tls,
        })
    }
}

fn push_literal(path: &mut Vec<PathPart>, s: &str) {
    match path.last_mut() {
        Some(PathPart::Literal(l)) => l.push_str(s),
        _ => path.push(PathPart::Literal(s.to_string())),
    }
}
