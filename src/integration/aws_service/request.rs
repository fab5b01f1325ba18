//! The integration request to the service, written whole and signed: the
//! path (the URI's placeholders filled from `integration.request.path`),
//! the query (the URI's own, mapped query strings, and for a query
//! protocol action read over GET its form), the body (the template's
//! output; a query protocol action's `Action` and `Version` first), the
//! headers (`X-Amz-Target` and content type for a JSON protocol action,
//! mapped headers, `$context.requestOverride`), then SigV4 over all of it.

use sha2::{Digest, Sha256};

use super::uri::{Protocol, Target};
use super::AwsService;
use crate::aws::sigv4;
use crate::dataplane::shard::Shard;
use crate::integration::params::Mapped;
use crate::snapshot::Snapshot;
use crate::upstream::{call, CallError, Reply};
use crate::vtl::Overrides;

/// Headers portico writes itself; a mapping or override naming one is ignored.
const OWN: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "host",
    "transfer-encoding",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
];

/// AWS's URI encoding of one value: unreserved characters kept.
fn encode(out: &mut String, value: &str, keep_slash: bool) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// `{name}` and `{name+}` in `template` replaced by their encoded values.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let inner = &rest[open + 1..open + close];
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(n) => (n, true),
            None => (inner, false),
        };
        let value = values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v);
        encode(&mut out, value.unwrap_or_default(), greedy);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

impl AwsService {
    /// The request, head and body, as bytes to send; `amz_date` is `YYYYMMDDTHHMMSSZ`.
    pub(super) fn build<'a>(
        &'a self,
        m: &'a Mapped,
        body: &[u8],
        overrides: &'a Overrides,
        amz_date: &str,
    ) -> Vec<u8> {
        // Mapped values, then what the template's `requestOverride` set.
        let mapped = |list: &'a [(String, String)],
                      overridden: &'a [(String, String)]|
         -> Vec<(&'a str, &'a str)> {
            list.iter()
                .chain(overridden)
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect()
        };
        let clean = |v: &str| !v.bytes().any(|c| c == b'\r' || c == b'\n' || c == 0);
        let path_values = mapped(&m.path, &overrides.request_path);
        let mut path = self.base.clone();
        path.push('/');
        if let Target::Path(p) = &self.target {
            path.push_str(&fill(p, &path_values));
        }
        let mut query = String::new();
        let add = |query: &mut String, pair: &str| {
            if !pair.is_empty() {
                if !query.is_empty() {
                    query.push('&');
                }
                query.push_str(pair);
            }
        };
        add(&mut query, &self.query);
        for (n, v) in mapped(&m.querystring, &overrides.request_querystring) {
            let mut pair = String::new();
            encode(&mut pair, n, false);
            pair.push('=');
            encode(&mut pair, v, false);
            add(&mut query, &pair);
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        let set = |headers: &mut Vec<(String, String)>, name: &str, value: &str| {
            let name = name.to_ascii_lowercase();
            if OWN.contains(&name.as_str()) || !clean(&name) || !clean(value) {
                return;
            }
            match headers.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => *v = value.to_string(),
                None => headers.push((name, value.to_string())),
            }
        };
        let mut payload = body.to_vec();
        match (&self.target, self.protocol) {
            (
                Target::Action(action),
                Some(Protocol::Json {
                    prefix,
                    content_type,
                }),
            ) => {
                set(&mut headers, "content-type", content_type);
                set(&mut headers, "x-amz-target", &format!("{prefix}.{action}"));
            }
            (Target::Action(action), Some(Protocol::Query { version })) => {
                let form = format!("Action={action}&Version={version}");
                if matches!(self.method.as_str(), "GET" | "HEAD" | "DELETE") {
                    add(&mut query, &form);
                    add(&mut query, &String::from_utf8_lossy(body));
                    payload.clear();
                } else {
                    set(
                        &mut headers,
                        "content-type",
                        "application/x-www-form-urlencoded",
                    );
                    payload = form.into_bytes();
                    if !body.is_empty() {
                        payload.push(b'&');
                        payload.extend_from_slice(body);
                    }
                }
            }
            _ if !body.is_empty() => set(&mut headers, "content-type", "application/json"),
            _ => {}
        }
        for (n, v) in mapped(&m.header, &overrides.request_header) {
            set(&mut headers, n, v);
        }
        headers.push(("host".into(), self.endpoint.authority.clone()));
        headers.push(("x-amz-date".into(), amz_date.into()));
        let hash: String = Sha256::digest(&payload)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        headers.push(("x-amz-content-sha256".into(), hash));
        if let Some(t) = self
            .credentials
            .as_ref()
            .and_then(|c| c.session_token.as_ref())
        {
            headers.push(("x-amz-security-token".into(), t.clone()));
        }
        headers.sort();
        let authorization = self.credentials.as_ref().map(|c| {
            let r = sigv4::Signed {
                method: &self.method,
                path: &path,
                query: &query,
                headers: &headers,
                body: &payload,
            };
            sigv4::sign(&r, &c.key_id, &c.secret, &self.region, &self.service)
        });
        let mut out = Vec::with_capacity(payload.len() + 1024);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(path.as_bytes());
        if !query.is_empty() {
            out.push(b'?');
            out.extend_from_slice(query.as_bytes());
        }
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let line = |out: &mut Vec<u8>, n: &str, v: &str| {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        for (n, v) in &headers {
            line(&mut out, n, v);
        }
        if let Some(a) = &authorization {
            line(&mut out, "authorization", a);
        }
        line(
            &mut out,
            "content-length",
            itoa::Buffer::new().format(payload.len()),
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&payload);
        out
    }

    /// Sends the integration request and reads the service's answer whole.
    pub async fn call(
        &self,
        w: &Shard,
        snap: &Snapshot,
        m: &Mapped,
        body: &[u8],
        overrides: &Overrides,
    ) -> Result<Reply, CallError> {
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut request = self.build(m, body, overrides, &amz_date);
        call(w, snap, &self.endpoint, &mut request, self.timeout).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::Spec;
    use super::*;
    use crate::integration::lambda::{AwsSettings, Credentials};

    fn service(uri: &str, method: &str, params: &[(&str, &str)]) -> AwsService {
        let mut aws = AwsSettings {
            region: "us-east-1".into(),
            credentials: Some(Credentials {
                key_id: "AKID".into(),
                secret: "secret".into(),
                session_token: None,
            }),
            ..AwsSettings::default()
        };
        for s in ["dynamodb", "sqs", "s3"] {
            aws.endpoints
                .insert(s.into(), "http://127.0.0.1:4566".into());
        }
        let request_parameters: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let spec = Spec {
            uri,
            http_method: method,
            credentials: Some("arn:aws:iam::1:role/r"),
            request_parameters: &request_parameters,
            timeout_ms: 1000,
        };
        let tls = || Err("no tls".to_string());
        AwsService::compile(&spec, &aws, &tls, &mut |a: &str| {
            Ok(vec![a.parse().map_err(std::io::Error::other)?])
        })
        .unwrap()
    }

    fn text(s: &AwsService, m: &Mapped, body: &str) -> String {
        let o = Overrides::default();
        String::from_utf8(s.build(m, body.as_bytes(), &o, "20260101T000000Z")).unwrap()
    }

    /// `r` starts with `start`, holds each of `lines` and ends with `end`.
    fn has(r: &str, start: &str, lines: &[&str], end: &str) {
        assert!(r.starts_with(start), "{r}");
        for l in lines {
            assert!(r.contains(&format!("\r\n{l}\r\n")), "{l}: {r}");
        }
        assert!(r.ends_with(end), "{r}");
    }

    #[test]
    fn a_json_action_sets_the_target_and_signs() {
        let uri = "arn:aws:apigateway:us-east-1:dynamodb:action/PutItem";
        let r = text(&service(uri, "POST", &[]), &Mapped::default(), "{}");
        let lines = [
            "x-amz-target: DynamoDB_20120810.PutItem",
            "content-type: application/x-amz-json-1.0",
        ];
        has(
            &r,
            "POST / HTTP/1.1\r\n",
            &lines,
            "\r\ncontent-length: 2\r\n\r\n{}",
        );
        let scope = "authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/";
        assert!(r.contains(scope), "{r}");
    }

    #[test]
    fn a_query_action_is_form_encoded_after_action_and_version() {
        let uri = "arn:aws:apigateway:us-east-1:sqs:action/SendMessage";
        let r = text(
            &service(uri, "POST", &[]),
            &Mapped::default(),
            "MessageBody=hi",
        );
        let form = "content-type: application/x-www-form-urlencoded";
        let end = "\r\n\r\nAction=SendMessage&Version=2012-11-05&MessageBody=hi";
        has(&r, "POST / HTTP/1.1\r\n", &[form], end);
        let uri = "arn:aws:apigateway:us-east-1:sqs:action/ListQueues";
        let r = text(&service(uri, "GET", &[]), &Mapped::default(), "");
        let start = "GET /?Action=ListQueues&Version=2012-11-05 HTTP/1.1\r\n";
        has(&r, start, &[], "content-length: 0\r\n\r\n");
    }

    #[test]
    fn a_path_is_filled_from_path_mappings_and_headers_are_mapped() {
        let s = service(
            "arn:aws:apigateway:us-east-1:s3:path/{bucket}/{key}",
            "PUT",
            &[
                ("integration.request.path.bucket", "method.request.path.b"),
                ("integration.request.path.key", "method.request.path.k"),
                (
                    "integration.request.header.Content-Type",
                    "method.request.header.content-type",
                ),
                ("integration.request.header.Host", "'evil'"),
                ("integration.request.querystring.v", "'1 2'"),
            ],
        );
        // As `integration::params` maps them: the request's values under
        // the integration's names (a `Host` mapping included: `build` drops it).
        let m = Mapped {
            path: vec![
                ("bucket".into(), "pics".into()),
                ("key".into(), "a b/../c".into()),
            ],
            header: vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Host".into(), "evil".into()),
            ],
            querystring: vec![("v".into(), "1 2".into())],
        };
        assert_eq!(s.mapping().entries.len(), 5);
        let r = text(&s, &m, "hello");
        // The one mapping syntax: context, stage variables and the body too.
        let more = [
            ("integration.request.header.X-Req", "context.requestId"),
            ("integration.request.header.X-Env", "stageVariables.env"),
            (
                "integration.request.querystring.id",
                "method.request.body.a.b",
            ),
        ];
        let uri = "arn:aws:apigateway:us-east-1:s3:path/b";
        assert_eq!(service(uri, "GET", &more).mapping().entries.len(), 3);
        let start = "PUT /pics/a%20b%2F..%2Fc?v=1%202 HTTP/1.1\r\n";
        let lines = ["content-type: text/plain", "host: 127.0.0.1:4566"];
        has(&r, start, &lines, "\r\n\r\nhello");
        assert!(!r.contains("evil"), "{r}");
    }
}
