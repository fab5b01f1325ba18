//! Which API and stage a request is for: a custom domain's base path
//! mapping, else the API answering on the Host with the stage as the first
//! path segment (`/{stage}/{path}`, as execute-api URLs are).

use crate::dataplane::errors::MISSING_AUTHENTICATION_TOKEN as MISSING_TOKEN;
use crate::http::{ErrorResponse, Head};
use crate::snapshot::{Api, Snapshot, Stage};

/// The API and stage, and the path left for routing.
pub struct Target<'s, 'b> {
    pub api: &'s Api,
    pub stage: &'s Stage,
    pub path: &'b [u8],
    /// Reached through a custom domain's base path mapping.
    pub custom_domain: bool,
}

/// `path`: the request path in canonical form. `roll`: uniform in
/// 0..10,000, picks a management-API stage's canary.
pub fn target<'s, 'b>(
    snap: &'s Snapshot,
    head: &Head,
    buf: &[u8],
    path: &'b [u8],
    roll: u32,
) -> Result<Target<'s, 'b>, ErrorResponse> {
    let mut host_buf = [0u8; 256];
    let host = head
        .host
        .map(|h| lower_host(h.get(buf), &mut host_buf))
        .unwrap_or(&[]);
    if let Some(mappings) = snap.domain(host) {
        for m in mappings {
            if let Some(rest) = strip_base_path(path, m.base_path.as_bytes()) {
                let api = &snap.apis[m.api];
                return Ok(Target {
                    api,
                    stage: &api.stages[m.stage],
                    path: rest,
                    custom_domain: true,
                });
            }
        }
        return Err(MISSING_TOKEN);
    }
    if snap.has_control_apis() {
        if let Some(t) = control_target(snap, host, path, roll) {
            return t;
        }
    }
    let api = &snap.apis[snap.api_for_host(host).ok_or(MISSING_TOKEN)?];
    let after_slash = &path[1..];
    let end = after_slash
        .iter()
        .position(|&c| c == b'/')
        .unwrap_or(after_slash.len());
    let stage_name = &after_slash[..end];
    let stage = api
        .stages
        .iter()
        .find(|s| s.name.as_bytes() == stage_name)
        .ok_or(MISSING_TOKEN)?;
    let rest = &after_slash[end..];
    Ok(Target {
        api,
        stage,
        path: if rest.is_empty() { b"/" } else { rest },
        custom_domain: false,
    })
}

/// A management-API stage, addressed as AWS does: Host
/// `{restApiId}.execute-api.{anything}` + `/{stage}/{path}`, or, without
/// DNS, `/restapis/{restApiId}/{stage}/_user_request_/{path}`.
fn control_target<'s, 'b>(
    snap: &'s Snapshot,
    host: &[u8],
    path: &'b [u8],
    roll: u32,
) -> Option<Result<Target<'s, 'b>, ErrorResponse>> {
    let (id, stage, rest) = if let Some(after) = path.strip_prefix(b"/restapis/") {
        let (id, after) = segment(after);
        let (stage, after) = segment(after.strip_prefix(b"/")?);
        let rest = after.strip_prefix(b"/_user_request_")?;
        (id, stage, rest)
    } else {
        let dot = host.iter().position(|&c| c == b'.')?;
        if !host[dot..].starts_with(b".execute-api.") {
            return None;
        }
        let (stage, rest) = segment(path.strip_prefix(b"/")?);
        (&host[..dot], stage, rest)
    };
    if !snap.is_control_api(id) {
        return None;
    }
    let Some(api) = snap.control_api(id, stage, roll) else {
        return Some(Err(MISSING_TOKEN));
    };
    Some(Ok(Target {
        api,
        stage: &api.stages[0],
        path: if rest.is_empty() { b"/" } else { rest },
        custom_domain: false,
    }))
}

/// `a/b/c` → (`a`, `/b/c`).
fn segment(p: &[u8]) -> (&[u8], &[u8]) {
    let end = p.iter().position(|&c| c == b'/').unwrap_or(p.len());
    (&p[..end], &p[end..])
}

/// `Host: Example.COM:8080` → `example.com`, in `out` (no allocation).
pub(super) fn lower_host<'o>(host: &[u8], out: &'o mut [u8; 256]) -> &'o [u8] {
    let host = match host.iter().rposition(|&c| c == b':') {
        // Not inside an IPv6 literal `[::1]`.
        Some(i) if !host[i..].contains(&b']') => &host[..i],
        _ => host,
    };
    let n = host.len().min(out.len());
    for (o, c) in out.iter_mut().zip(&host[..n]) {
        *o = c.to_ascii_lowercase();
    }
    &out[..n]
}

/// `/v1/x` with base path `v1` → `/x`; `/v1` → `/`; an empty base path maps all.
fn strip_base_path<'p>(path: &'p [u8], base: &[u8]) -> Option<&'p [u8]> {
    if base.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(b"/")?.strip_prefix(base)?;
    match rest.first() {
        None => Some(b"/"),
        Some(b'/') => Some(rest),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lowercased_without_port() {
        let mut b = [0; 256];
        assert_eq!(lower_host(b"A.Example:1234", &mut b), b"a.example");
        assert_eq!(lower_host(b"[::1]", &mut b), b"[::1]");
        assert_eq!(lower_host(b"[::1]:80", &mut b), b"[::1]");
    }

    #[test]
    fn base_paths() {
        assert_eq!(strip_base_path(b"/v1/hello", b"v1"), Some(&b"/hello"[..]));
        assert_eq!(strip_base_path(b"/v1", b"v1"), Some(&b"/"[..]));
        assert_eq!(strip_base_path(b"/v10/x", b"v1"), None);
        assert_eq!(strip_base_path(b"/x", b""), Some(&b"/x"[..]));
    }
}
