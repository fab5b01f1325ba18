//! TestInvokeMethod: the method as it is now in the API runs through the
//! data plane's own pipeline. Its hidden definition is published under a
//! stage named with a secret drawn at start (never logged, never stored),
//! the request goes over loopback to the data plane listener
//! (`/restapis/{id}/{stage}/_user_request_/{path}`), and the definition is
//! withdrawn before the answer is built. A client that does not know the
//! secret cannot reach it: there is no header or marker, only a stage name
//! that exists while the control thread waits for its own request.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::control::api::test_invoke::TestInvoke;
use crate::control::api::{ApiError, ControlPlane};
use crate::control::publisher::Deployed;

/// How long the data plane may take (API Gateway's longest integration
/// timeout, 29 s, and some).
const WAIT: Duration = Duration::from_secs(35);

/// A secret stage name: 128 random bits, drawn for each call, so a name
/// an integration or authorizer saw in one call (the event's stage, the
/// method ARN) opens nothing in a later one.
fn secret_stage() -> Option<String> {
    let mut bytes = [0u8; 16];
    // No /dev/urandom: no test invocations (a guessable name would be a
    // way around authorization).
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("test-invoke-{hex}"))
}

/// The answer to TestInvokeMethod or TestInvokeAuthorizer (`name`) at `path`.
pub fn run(
    control: &mut ControlPlane,
    deployed: &Deployed,
    name: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let Some(stage) = secret_stage() else {
        return Err(ApiError::Internal(
            "test invocations need /dev/urandom".into(),
        ));
    };
    let stage = stage.as_str();
    let call = control.test_call(name, path, query, body)?;
    if name == "TestInvokeAuthorizer" {
        // The authorizer runs on the data plane, in front of a hidden
        // route that answers what it found.
        let t = control.test_invoke_authorizer(call, stage)?;
        let (r, latency) = send(deployed, &t)?;
        return Ok(super::test_invoke_authorizer::answer(
            &t, r.status, &r.body, latency,
        ));
    }
    let t = control.test_invoke(call, stage)?;
    let (response, latency) = send(deployed, &t)?;
    Ok(answer(&t, &response, latency))
}

/// Serves `t`'s hidden definition while its request goes over loopback.
fn send(deployed: &Deployed, t: &TestInvoke) -> Result<(Response, Duration), ApiError> {
    let listen = deployed
        .data_addr()
        .unwrap_or(deployed.file_config().server.listen.0);
    let target = loopback(listen);
    let request = request_bytes(t, &target);
    let sent = deployed
        .with_extra(
            t.config.clone(),
            &mut crate::snapshot::system_resolve,
            || {
                let start = Instant::now();
                let r = exchange(target, &request);
                (r, start.elapsed())
            },
        )
        .map_err(|e| ApiError::Internal(format!("the method could not be served: {e}")))?;
    let (response, latency) = sent;
    let response = response.map_err(|e| {
        ApiError::Internal(format!(
            "the data plane did not answer the test invocation: {e}"
        ))
    })?;
    Ok((response, latency))
}

/// The listener's address as reached from this machine.
fn loopback(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), listen.port())
        }
        _ => listen,
    }
}

fn request_bytes(t: &TestInvoke, target: &SocketAddr) -> Vec<u8> {
    let mut out = format!(
        "{} /restapis/{}/{}/_user_request_{} HTTP/1.1\r\n",
        t.http_method, t.rest_api_id, t.stage, t.path_with_query
    );
    let mut host = false;
    for (name, value) in &t.headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        host |= lower == "host";
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !host {
        out.push_str(&format!("Host: {target}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        t.body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(t.body.as_bytes());
    bytes
}

/// The data plane's answer.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn exchange(target: SocketAddr, request: &[u8]) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&target, WAIT)?;
    s.set_read_timeout(Some(WAIT))?;
    s.set_write_timeout(Some(WAIT))?;
    s.write_all(request)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse(&raw).ok_or_else(|| std::io::Error::other("a malformed response"))
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else {
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(rest.len());
        rest.get(..len)?.to_vec()
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// TestInvokeMethodResponse: status, body, headers, multiValueHeaders,
/// log, latency.
fn answer(t: &TestInvoke, r: &Response, latency: Duration) -> Value {
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (n, v) in &r.headers {
        if n.eq_ignore_ascii_case("connection") {
            continue;
        }
        multi.entry(n.clone()).or_default().push(v.clone());
    }
    let headers: BTreeMap<&String, &String> = multi
        .iter()
        .filter_map(|(n, vs)| vs.last().map(|v| (n, v)))
        .collect();
    let body = String::from_utf8_lossy(&r.body).into_owned();
    let ms = latency.as_millis() as i64;
    json!({
        "status": r.status,
        "body": body,
        "headers": headers,
        "multiValueHeaders": multi,
        "log": log(t, r, &body, &multi, ms),
        "latency": ms,
    })
}

/// The execution log, in API Gateway's format, from what happened.
fn log(
    t: &TestInvoke,
    r: &Response,
    body: &str,
    headers: &BTreeMap<String, Vec<String>>,
    ms: i64,
) -> String {
    let request_id = r
        .headers
        .iter()
        .find(|(n, _)| {
            n.eq_ignore_ascii_case("x-amzn-requestid") || n.eq_ignore_ascii_case("x-request-id")
        })
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "-".into());
    let now = chrono::Utc::now().format("%a %b %d %H:%M:%S UTC %Y");
    let (path, query) = t
        .path_with_query
        .split_once('?')
        .unwrap_or((&t.path_with_query, ""));
    let params = path_params(&t.resource_path, path);
    let query: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            format!("{k}={v}")
        })
        .collect();
    let method_headers: Vec<String> = t.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let response_headers: Vec<String> = headers
        .iter()
        .map(|(n, vs)| format!("{n}={}", vs.join(",")))
        .collect();
    let mut lines = vec![
        format!("Execution log for request {request_id}"),
        format!("{now} : Starting execution for request: {request_id}"),
        format!(
            "{now} : HTTP Method: {}, Resource Path: {path}",
            t.http_method
        ),
        format!(
            "{now} : Method request path: {{{}}}",
            params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!(
            "{now} : Method request query string: {{{}}}",
            query.join(", ")
        ),
        format!(
            "{now} : Method request headers: {{{}}}",
            method_headers.join(", ")
        ),
        format!(
            "{now} : Method request body before transformations: {}",
            t.body
        ),
    ];
    if let Some(uri) = endpoint_uri(t, &params) {
        lines.push(format!("{now} : Endpoint request URI: {uri}"));
    }
    lines.push(format!(
        "{now} : Received response. Status: {}, Integration latency: {ms} ms",
        r.status
    ));
    lines.push(format!(
        "{now} : Method response body after transformations: {body}"
    ));
    lines.push(format!(
        "{now} : Method response headers: {{{}}}",
        response_headers.join(", ")
    ));
    if r.status < 400 {
        lines.push(format!("{now} : Successfully completed execution"));
    }
    lines.push(format!(
        "{now} : Method completed with status: {}",
        r.status
    ));
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The path parameters of `path` under the resource template (`{proxy+}`
/// takes the rest).
fn path_params(template: &str, path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut got = path.trim_start_matches('/').split('/');
    for seg in template.trim_start_matches('/').split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if let Some(greedy) = name.strip_suffix('+') {
                let rest: Vec<&str> = got.by_ref().collect();
                out.push((greedy.to_string(), rest.join("/")));
                break;
            }
            out.push((name.to_string(), got.next().unwrap_or_default().to_string()));
        } else {
            got.next();
        }
    }
    out
}

/// The HTTP integration's URI with the stage variables and path
/// parameters in place, as the data plane fills them in.
fn endpoint_uri(t: &TestInvoke, params: &[(String, String)]) -> Option<String> {
    if !matches!(t.integration_type.as_str(), "HTTP" | "HTTP_PROXY") {
        return None;
    }
    let mut uri = t.integration_uri.clone()?;
    for (k, v) in &t.variables {
        uri = uri.replace(&format!("${{stageVariables.{k}}}"), v);
    }
    for (k, v) in params {
        uri = uri
            .replace(&format!("{{{k}+}}"), v)
            .replace(&format!("{{{k}}}"), v);
    }
    Some(uri)
}
