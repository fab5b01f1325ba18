//! What a mapping template reads of the request (`vtl::Bindings`), taken
//! while the request head is in the connection's buffer; the body is
//! added once it has been read whole.

use std::sync::Arc;

use percent_encoding::percent_decode;

use crate::integration::lambda::event::{authorizer_v1, request_time};
use crate::integration::Routed;
use crate::snapshot::param_mapping::ParamMapping;
use crate::vtl::{self, Bindings, Value};

/// What a non-proxy execution takes of the request while its head is in
/// the buffer: the template bindings and each request parameter's value
/// from the head (`params::from_head`; body sources come later).
pub struct Prepared {
    pub bindings: Bindings,
    pub(super) mapped: Vec<Option<String>>,
}

impl Prepared {
    pub fn from_head(m: &ParamMapping, r: &Routed<'_>) -> Box<Prepared> {
        let bindings = from_head(r);
        let mapped = crate::integration::params::from_head(m, r, Some(&bindings.context));
        Box::new(Prepared { bindings, mapped })
    }
}

/// Everything but the body.
pub fn from_head(r: &Routed<'_>) -> Bindings {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let path = r
        .params
        .iter()
        .map(|(k, v)| {
            let decoded: Vec<u8> = percent_decode(v.as_bytes()).collect();
            (k.to_string(), text(&decoded))
        })
        .collect();
    // As AWS's `$input.params()`: one value per name, the last.
    let querystring = crate::http::query::decoded(r.head.path_and_query(r.buf).1)
        .into_iter()
        .map(|(k, values)| (text(&k), values.last().map(|v| text(v)).unwrap_or_default()))
        .collect();
    let mut header: Vec<(String, String)> = Vec::with_capacity(r.head.headers.len());
    for (n, v) in &r.head.headers {
        let (name, value) = (text(n.get(r.buf)), text(v.get(r.buf)));
        match header
            .iter_mut()
            .find(|(h, _)| h.eq_ignore_ascii_case(&name))
        {
            Some((_, last)) => *last = value,
            None => header.push((name, value)),
        }
    }
    Bindings {
        body: String::new(),
        path,
        querystring,
        header,
        context: context(r),
        stage_variables: Value::string_map(
            r.stage
                .variables
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ),
    }
}

/// `$context`, with the variables AWS lists for mapping templates (and
/// parameter mappings' `context.*`).
pub fn context(r: &Routed<'_>) -> Value {
    let text = |b: &[u8]| Value::str(&String::from_utf8_lossy(b));
    let host = r.head.header(r.buf, b"host").unwrap_or_default();
    let host = match host.iter().rposition(|&c| c == b':') {
        Some(i) if !host[i..].contains(&b']') => &host[..i],
        _ => host,
    };
    let prefix = host.split(|&c| c == b'.').next().unwrap_or_default();
    let (_, resource) = &r.api.resources[r.route];
    let mut identity = vec![
        (Arc::from("sourceIp"), Value::str(r.source_ip)),
        (
            Arc::from("userAgent"),
            r.head
                .header(r.buf, b"user-agent")
                .map_or(Value::Null, text),
        ),
    ];
    if let Some(k) = r.api_key {
        identity.push((Arc::from("apiKey"), text(k)));
    }
    let mut entries = vec![
        (Arc::from("accountId"), Value::str(r.account_id)),
        (Arc::from("apiId"), Value::str(&r.api.id)),
        (Arc::from("domainName"), text(host)),
        (Arc::from("domainPrefix"), text(prefix)),
        (Arc::from("extendedRequestId"), text(r.request_id)),
        (Arc::from("httpMethod"), text(r.head.method_span.get(r.buf))),
        (Arc::from("identity"), Value::map(identity)),
        // The whole request path, stage (or base path) included, as AWS's.
        (Arc::from("path"), text(r.path)),
        (Arc::from("protocol"), Value::str("HTTP/1.1")),
        (Arc::from("requestId"), text(r.request_id)),
        (
            Arc::from("requestTime"),
            Value::str(&request_time(r.now_ms)),
        ),
        (
            Arc::from("requestTimeEpoch"),
            Value::Int(r.now_ms.min(i64::MAX as u64) as i64),
        ),
        (Arc::from("resourcePath"), Value::str(resource)),
        (Arc::from("stage"), Value::str(&r.stage.name)),
    ];
    if let Some(a) = r.authorized {
        // The authorizer's output as JSON, read back as a template value.
        if let Ok(v) = vtl::parse_json(&authorizer_v1(a).to_string()) {
            entries.push((Arc::from("authorizer"), v));
        }
    }
    Value::map(entries)
}
