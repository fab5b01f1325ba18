//! The event a Lambda proxy integration sends: payload format 1.0 (REST
//! APIs) or 2.0 (HTTP APIs), field for field as API Gateway builds them.
//!
//! The event is written in two steps because the request's head and body
//! are not in memory at the same time: `write_start` while the head is
//! still in the connection's buffer (everything but the body), then
//! `write_body` once the body has been read whole.

use base64::Engine;
use percent_encoding::percent_decode;
use serde_json::{Map, Value};

use crate::auth::Authorized;
use crate::config::PayloadVersion;
use crate::integration::Routed;
use crate::snapshot::Stage;

/// How the body goes into the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    Text,
    /// The content type is one of the API's binary media types.
    Base64,
}

/// Writes the event up to (not including) its body; returns how the body
/// must be encoded.
pub fn write_start(out: &mut Vec<u8>, version: PayloadVersion, r: &Routed<'_>) -> BodyEncoding {
    match version {
        PayloadVersion::V1 => write_v1(out, r),
        PayloadVersion::V2 => write_v2(out, r),
    }
    let content_type = r.head.header(r.buf, b"content-type").unwrap_or_default();
    if is_binary(&r.api.binary_media_types, content_type) {
        BodyEncoding::Base64
    } else {
        BodyEncoding::Text
    }
}

/// Ends the event with its body. A body that is not UTF-8 is sent base64
/// encoded even when its type is not a binary one: JSON cannot carry it.
pub fn write_body(out: &mut Vec<u8>, version: PayloadVersion, body: &[u8], enc: BodyEncoding) {
    let base64 = enc == BodyEncoding::Base64 || std::str::from_utf8(body).is_err();
    if body.is_empty() {
        // 1.0 always has both keys; 2.0 omits an absent body.
        out.extend_from_slice(match version {
            PayloadVersion::V1 => b"\"body\":null,\"isBase64Encoded\":false}",
            PayloadVersion::V2 => b"\"isBase64Encoded\":false}",
        });
        return;
    }
    out.extend_from_slice(b"\"body\":\"");
    if base64 {
        let encoded = base64::engine::general_purpose::STANDARD.encode(body);
        out.extend_from_slice(encoded.as_bytes());
        out.extend_from_slice(b"\",\"isBase64Encoded\":true}");
    } else {
        out.pop();
        string(out, body);
        out.extend_from_slice(b",\"isBase64Encoded\":false}");
    }
}

fn write_v1(out: &mut Vec<u8>, r: &Routed<'_>) {
    // The canonical path, as routing and the authorizer saw it.
    let (path, query) = (r.path, r.head.path_and_query(r.buf).1);
    let (_, resource) = &r.api.resources[r.route];
    let method = r.head.method_span.get(r.buf);
    out.extend_from_slice(b"{\"resource\":");
    string(out, resource.as_bytes());
    // On the default endpoint, the path after the stage; through a custom
    // domain, the whole request path, base path included.
    out.extend_from_slice(b",\"path\":");
    string(out, if r.custom_domain { path } else { r.routed_path });
    out.extend_from_slice(b",\"httpMethod\":");
    string(out, method);
    let headers = grouped_headers(r);
    out.extend_from_slice(b",\"headers\":");
    object_or_null(out, &headers, |out, values| {
        string(out, values.last().copied().unwrap_or_default())
    });
    out.extend_from_slice(b",\"multiValueHeaders\":");
    object_or_null(out, &headers, |out, values| string_array(out, values));
    let params = crate::http::query::decoded(query);
    out.extend_from_slice(b",\"queryStringParameters\":");
    object_or_null(out, &params, |out, values| {
        string(out, values.last().map_or(&b""[..], Vec::as_slice))
    });
    out.extend_from_slice(b",\"multiValueQueryStringParameters\":");
    object_or_null(out, &params, |out, values| {
        string_array(out, &values.iter().map(Vec::as_slice).collect::<Vec<_>>())
    });
    out.extend_from_slice(b",\"pathParameters\":");
    path_parameters(out, r.params, true);
    out.extend_from_slice(b",\"stageVariables\":");
    stage_variables(out, r.stage, true);
    out.extend_from_slice(b",\"requestContext\":{");
    context_common(out, r);
    out.extend_from_slice(b",\"extendedRequestId\":");
    string(out, r.request_id);
    out.extend_from_slice(b",\"httpMethod\":");
    string(out, method);
    out.extend_from_slice(b",\"identity\":{\"accessKey\":null,\"accountId\":null,\"apiKey\":");
    match r.api_key {
        Some(k) => string(out, k),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(
        b",\"apiKeyId\":null,\"caller\":null,\"cognitoAuthenticationProvider\":null,\
\"cognitoAuthenticationType\":null,\"cognitoIdentityId\":null,\"cognitoIdentityPoolId\":null,\
\"principalOrgId\":null,\"sourceIp\":",
    );
    string(out, r.source_ip.as_bytes());
    out.extend_from_slice(b",\"user\":null,\"userAgent\":");
    match r.head.header(r.buf, b"user-agent") {
        Some(ua) => string(out, ua),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"userArn\":null");
    if let Some(c) = r.client_cert {
        out.extend_from_slice(b",\"clientCert\":");
        json(out, c);
    }
    out.extend_from_slice(b"},\"path\":");
    string(out, path);
    out.extend_from_slice(b",\"protocol\":\"HTTP/1.1\",\"requestTime\":");
    string(out, request_time(r.now_ms).as_bytes());
    out.extend_from_slice(b",\"requestTimeEpoch\":");
    out.extend_from_slice(itoa::Buffer::new().format(r.now_ms).as_bytes());
    out.extend_from_slice(b",\"resourceId\":null,\"resourcePath\":");
    string(out, resource.as_bytes());
    if let Some(a) = r.authorized {
        out.extend_from_slice(b",\"authorizer\":");
        json(out, &authorizer_v1(a));
    }
    out.extend_from_slice(b"},");
}

fn write_v2(out: &mut Vec<u8>, r: &Routed<'_>) {
    // The canonical path, as routing and the authorizer saw it.
    let (path, query) = (r.path, r.head.path_and_query(r.buf).1);
    let route_key = route_key(r);
    out.extend_from_slice(b"{\"version\":\"2.0\",\"routeKey\":");
    string(out, route_key.as_bytes());
    out.extend_from_slice(b",\"rawPath\":");
    string(out, path);
    out.extend_from_slice(b",\"rawQueryString\":");
    string(out, query.unwrap_or_default());
    let cookies: Vec<&[u8]> = r
        .head
        .headers
        .iter()
        .filter(|(n, _)| n.get(r.buf).eq_ignore_ascii_case(b"cookie"))
        .flat_map(|(_, v)| v.get(r.buf).split(|&c| c == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|c| !c.is_empty())
        .collect();
    if !cookies.is_empty() {
        out.extend_from_slice(b",\"cookies\":");
        string_array(out, &cookies);
    }
    // Names lower-case, repeated values joined with commas; cookies apart.
    let headers: Vec<_> = grouped_headers(r)
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(b"cookie"))
        .collect();
    out.extend_from_slice(b",\"headers\":{");
    for (i, (name, values)) in headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, &name.to_ascii_lowercase());
        out.push(b':');
        string(out, &values.join(&b","[..]));
    }
    out.push(b'}');
    let params = crate::http::query::decoded(query);
    if !params.is_empty() {
        out.extend_from_slice(b",\"queryStringParameters\":");
        object_or_null(out, &params, |out, values| {
            string(out, &values.join(&b","[..]))
        });
    }
    out.extend_from_slice(b",\"requestContext\":{");
    context_common(out, r);
    if let Some(c) = r.client_cert {
        out.extend_from_slice(b",\"authentication\":{\"clientCert\":");
        json(out, c);
        out.push(b'}');
    }
    if let Some(a) = r.authorized {
        out.extend_from_slice(b",\"authorizer\":");
        json(out, &authorizer_v2(a));
    }
    out.extend_from_slice(b",\"http\":{\"method\":");
    string(out, r.head.method_span.get(r.buf));
    out.extend_from_slice(b",\"path\":");
    string(out, path);
    out.extend_from_slice(b",\"protocol\":\"HTTP/1.1\",\"sourceIp\":");
    string(out, r.source_ip.as_bytes());
    out.extend_from_slice(b",\"userAgent\":");
    string(out, r.head.header(r.buf, b"user-agent").unwrap_or_default());
    out.extend_from_slice(b"},\"routeKey\":");
    string(out, route_key.as_bytes());
    out.extend_from_slice(b",\"time\":");
    string(out, request_time(r.now_ms).as_bytes());
    out.extend_from_slice(b",\"timeEpoch\":");
    out.extend_from_slice(itoa::Buffer::new().format(r.now_ms).as_bytes());
    out.extend_from_slice(b"}");
    if !r.params.is_empty() {
        out.extend_from_slice(b",\"pathParameters\":");
        path_parameters(out, r.params, false);
    }
    if !r.stage.variables.is_empty() {
        out.extend_from_slice(b",\"stageVariables\":");
        stage_variables(out, r.stage, false);
    }
    out.push(b',');
}

/// `accountId` … `stage`: the request context's fields both versions share.
fn context_common(out: &mut Vec<u8>, r: &Routed<'_>) {
    let host = r.head.header(r.buf, b"host").unwrap_or_default();
    let host = match host.iter().rposition(|&c| c == b':') {
        Some(i) if !host[i..].contains(&b']') => &host[..i],
        _ => host,
    };
    let prefix = host.split(|&c| c == b'.').next().unwrap_or_default();
    out.extend_from_slice(b"\"accountId\":");
    string(out, r.account_id.as_bytes());
    out.extend_from_slice(b",\"apiId\":");
    string(out, r.api.id.as_bytes());
    out.extend_from_slice(b",\"domainName\":");
    string(out, host);
    out.extend_from_slice(b",\"domainPrefix\":");
    string(out, prefix);
    out.extend_from_slice(b",\"requestId\":");
    string(out, r.request_id);
    out.extend_from_slice(b",\"stage\":");
    string(out, r.stage.name.as_bytes());
}

/// `GET /pets/{id}`, `ANY /{proxy+}`.
pub fn route_key(r: &Routed<'_>) -> String {
    let (method, path) = &r.api.resources[r.route];
    format!("{method} {path}")
}

/// REST APIs pass a Lambda authorizer's context values as strings.
pub fn authorizer_v1(a: &Authorized) -> Value {
    match a {
        Authorized::Jwt { claims, scopes } => serde_json::json!({
            "claims": claims,
            "scopes": scopes,
        }),
        Authorized::Lambda {
            principal_id,
            context,
            ..
        } => {
            let mut m = Map::new();
            m.insert("principalId".into(), principal_id.clone().into());
            m.insert("integrationLatency".into(), 0.into());
            for (k, v) in context {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                m.insert(k.clone(), Value::String(s));
            }
            Value::Object(m)
        }
    }
}

fn authorizer_v2(a: &Authorized) -> Value {
    match a {
        Authorized::Jwt { claims, scopes } => serde_json::json!({
            "jwt": { "claims": claims, "scopes": scopes },
        }),
        Authorized::Lambda { context, .. } => serde_json::json!({ "lambda": context }),
    }
}

/// Headers in arrival order, names grouped case-insensitively (the first
/// spelling kept), values in order.
fn grouped_headers<'b>(r: &Routed<'b>) -> Vec<(&'b [u8], Vec<&'b [u8]>)> {
    let mut groups: Vec<(&[u8], Vec<&[u8]>)> = Vec::with_capacity(r.head.headers.len());
    for (n, v) in &r.head.headers {
        let (name, value) = (n.get(r.buf), v.get(r.buf));
        match groups
            .iter_mut()
            .find(|(g, _)| g.eq_ignore_ascii_case(name))
        {
            Some((_, values)) => values.push(value),
            None => groups.push((name, vec![value])),
        }
    }
    groups
}

fn object_or_null<K: AsRef<[u8]>, V>(
    out: &mut Vec<u8>,
    entries: &[(K, V)],
    mut value: impl FnMut(&mut Vec<u8>, &V),
) {
    if entries.is_empty() {
        out.extend_from_slice(b"null");
        return;
    }
    out.push(b'{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, k.as_ref());
        out.push(b':');
        value(out, v);
    }
    out.push(b'}');
}

fn path_parameters(out: &mut Vec<u8>, params: &matchit::Params<'_, '_>, null_if_empty: bool) {
    let decoded: Vec<(&str, Vec<u8>)> = params
        .iter()
        .map(|(k, v)| (k, percent_decode(v.as_bytes()).collect()))
        .collect();
    if decoded.is_empty() && !null_if_empty {
        out.extend_from_slice(b"{}");
        return;
    }
    object_or_null(out, &decoded, |out, v| string(out, v));
}

fn stage_variables(out: &mut Vec<u8>, stage: &Stage, null_if_empty: bool) {
    if stage.variables.is_empty() && !null_if_empty {
        out.extend_from_slice(b"{}");
        return;
    }
    let vars: Vec<(&String, &String)> = stage.variables.iter().collect();
    object_or_null(out, &vars, |out, v| string(out, v.as_bytes()));
}

fn string_array(out: &mut Vec<u8>, values: &[&[u8]]) {
    out.push(b'[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, v);
    }
    out.push(b']');
}

/// A JSON string; bytes that are not UTF-8 become U+FFFD.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    let s = String::from_utf8_lossy(s);
    serde_json::to_writer(&mut *out, &*s).expect("writing to a Vec cannot fail");
}

fn json(out: &mut Vec<u8>, v: &Value) {
    serde_json::to_writer(&mut *out, v).expect("writing to a Vec cannot fail");
}

/// `04/Mar/2020:19:15:17 +0000`, as API Gateway writes `requestTime`.
pub fn request_time(now_ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(now_ms as i64)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}

/// `image/png; q=1` against `["image/*"]`.
pub(crate) fn is_binary(types: &[String], content_type: &[u8]) -> bool {
    if types.is_empty() {
        return false;
    }
    let ct = content_type
        .split(|&c| c == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    types.iter().any(|t| {
        let t = t.as_bytes();
        t == b"*/*"
            || t.eq_ignore_ascii_case(ct)
            || t.strip_suffix(b"*").is_some_and(|prefix| {
                ct.len() >= prefix.len() && ct[..prefix.len()].eq_ignore_ascii_case(prefix)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_media_types_match_exactly_or_by_wildcard() {
        let types = vec![
            "image/*".to_string(),
            "application/octet-stream".to_string(),
        ];
        assert!(is_binary(&types, b"image/png"));
        assert!(is_binary(&types, b"Application/Octet-Stream; x=1"));
        assert!(!is_binary(&types, b"text/plain"));
        assert!(is_binary(&["*/*".to_string()], b"text/plain"));
        assert!(!is_binary(&[], b"image/png"));
    }

    #[test]
    fn bodies_are_text_or_base64() {
        let mut out = Vec::new();
        write_body(&mut out, PayloadVersion::V1, b"h\"i", BodyEncoding::Text);
        assert_eq!(out, br#""body":"h\"i","isBase64Encoded":false}"#);
        out.clear();
        write_body(&mut out, PayloadVersion::V2, &[0xff, 0], BodyEncoding::Text);
        assert_eq!(out, br#""body":"/wA=","isBase64Encoded":true}"#);
        out.clear();
        write_body(&mut out, PayloadVersion::V2, b"", BodyEncoding::Text);
        assert_eq!(out, br#""isBase64Encoded":false}"#);
    }
}
