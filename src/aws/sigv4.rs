//! Checking AWS Signature Version 4 on management calls, as API Gateway's
//! own endpoint does, so boto3 and the AWS CLI authenticate unchanged:
//! rebuild the canonical request from what arrived, derive the signing key
//! from the configured secret, compare in constant time.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How far `x-amz-date` may be from now, as AWS allows.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// What arrived, as the signer saw it.
pub struct Signed<'a> {
    pub method: &'a str,
    /// The path as sent, still percent-encoded.
    pub path: &'a str,
    pub query: &'a str,
    /// Lower-case names.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Signed<'_> {
    /// Every value of header `name` (lower-case), in order.
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error(
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters"
    )]
    Incomplete,
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error("Signature expired or not yet valid: the request time is more than 15 minutes from the server's")]
    Expired,
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP"
    )]
    ScopeDate,
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    Mismatch,
    /// The body is always hashed here: a declared hash that differs from
    /// it (or declines to give one) would let a captured signature carry
    /// another body.
    #[error("The request signature we calculated does not match the signature you provided. The x-amz-content-sha256 header must be the hex SHA-256 of the request body; UNSIGNED-PAYLOAD and streaming payloads are not accepted.")]
    PayloadHash,
}

impl SigError {
    pub fn kind(&self) -> &'static str {
        match self {
            SigError::Incomplete => "IncompleteSignatureException",
            SigError::UnknownKey => "UnrecognizedClientException",
            SigError::Expired
            | SigError::ScopeDate
            | SigError::Mismatch
            | SigError::PayloadHash => "InvalidSignatureException",
        }
    }
}

/// An `Authorization: AWS4-HMAC-SHA256 ...` header, taken apart.
struct Authorization<'a> {
    key_id: &'a str,
    /// The credential scope: date (`YYYYMMDD`), region, service.
    scope: [&'a str; 3],
    signed_headers: &'a str,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(authorization: &'a str) -> Result<Authorization<'a>, SigError> {
        let params = authorization
            .strip_prefix("AWS4-HMAC-SHA256")
            .ok_or(SigError::Incomplete)?;
        let field = |name: &str| {
            params
                .split(',')
                .map(str::trim)
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        };
        let credential = field("Credential").ok_or(SigError::Incomplete)?;
        let signed_headers = field("SignedHeaders").ok_or(SigError::Incomplete)?;
        let signature = field("Signature").ok_or(SigError::Incomplete)?;
        let mut scope = credential.splitn(5, '/');
        let (Some(key_id), Some(date), Some(region), Some(service), Some("aws4_request")) = (
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
            scope.next(),
        ) else {
            return Err(SigError::Incomplete);
        };
        Ok(Authorization {
            key_id,
            scope: [date, region, service],
            signed_headers,
            signature,
        })
    }
}

/// A signature that verified: what a replay check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub signature: [u8; 32],
    /// Unix seconds after which [`verify`] refuses this signature as expired.
    pub expires: i64,
}

/// What can be checked before the body is read: the header's shape, the
/// access key id, the request time's freshness, the scope's date, and
/// that a declared payload hash is a hash. Returns the request time
/// (Unix seconds). `headers`: lower-case names.
pub fn check_head(
    authorization: &str,
    headers: &[(String, String)],
    key_id: &str,
    now: i64,
) -> Result<i64, SigError> {
    head(authorization, headers, key_id, now).map(|(_, when)| when)
}

/// [`check_head`], with the header taken apart.
fn head<'a>(
    authorization: &'a str,
    headers: &[(String, String)],
    key_id: &str,
    now: i64,
) -> Result<(Authorization<'a>, i64), SigError> {
    let a = Authorization::parse(authorization)?;
    if a.key_id != key_id {
        return Err(SigError::UnknownKey);
    }
    let first = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let amz_date = first("x-amz-date").ok_or(SigError::Incomplete)?;
    let when = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| SigError::Incomplete)?
        .and_utc()
        .timestamp();
    if (when - now).abs() > MAX_SKEW_SECS {
        return Err(SigError::Expired);
    }
    if amz_date.get(..8) != Some(a.scope[0]) {
        return Err(SigError::ScopeDate);
    }
    if let Some(declared) = first("x-amz-content-sha256") {
        if declared.len() != 64 || !declared.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SigError::PayloadHash);
        }
    }
    Ok((a, when))
}

/// Verifies `authorization` (`AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`)
/// against the one key pair the admin listener accepts. `now`: Unix seconds.
pub fn verify(
    authorization: &str,
    r: &Signed<'_>,
    key_id: &str,
    secret: &str,
    now: i64,
) -> Result<(), SigError> {
    verify_signed(authorization, r, key_id, secret, now).map(|_| ())
}

/// [`verify`], returning the signature and how long it stays valid. The
/// payload hash signed over is always the body's own; an
/// `x-amz-content-sha256` header that differs from it is refused.
pub fn verify_signed(
    authorization: &str,
    r: &Signed<'_>,
    key_id: &str,
    secret: &str,
    now: i64,
) -> Result<Verified, SigError> {
    let (a, when) = head(authorization, r.headers, key_id, now)?;
    let body_hash = hex(&Sha256::digest(r.body));
    if let Some(declared) = r.header("x-amz-content-sha256").first() {
        if !declared.eq_ignore_ascii_case(&body_hash) {
            return Err(SigError::PayloadHash);
        }
    }
    let amz_date = r.header("x-amz-date")[0];
    let canonical = canonical_request(r, a.signed_headers, &body_hash);
    let mac = signature(secret, amz_date, a.scope, &canonical);
    let given: [u8; 32] = unhex(a.signature)
        .and_then(|v| v.try_into().ok())
        .ok_or(SigError::Mismatch)?;
    mac.verify_slice(&given).map_err(|_| SigError::Mismatch)?;
    Ok(Verified {
        signature: given,
        expires: when + MAX_SKEW_SECS,
    })
}

/// The `Authorization` header for an outgoing request. Every header in
/// `r.headers` is signed; it must hold `host` and `x-amz-date`
/// (`YYYYMMDDTHHMMSSZ`), names lower-case and sorted. The payload hash is
/// `x-amz-content-sha256` when that is among them, else the body's.
pub fn sign(r: &Signed<'_>, key_id: &str, secret: &str, region: &str, service: &str) -> String {
    let amz_date = r.header("x-amz-date").first().copied().unwrap_or_default();
    let date = amz_date.get(..8).unwrap_or_default();
    let signed_headers = r
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    // A signer signs the payload hash it declares (S3 clients declare
    // UNSIGNED-PAYLOAD); [`verify`] hashes the body whatever is declared.
    let payload = match r.header("x-amz-content-sha256").first() {
        Some(declared) => declared.to_string(),
        None => hex(&Sha256::digest(r.body)),
    };
    let canonical = canonical_request(r, &signed_headers, &payload);
    let mac = signature(secret, amz_date, [date, region, service], &canonical);
    format!(
        "AWS4-HMAC-SHA256 Credential={key_id}/{date}/{region}/{service}/aws4_request, \
SignedHeaders={signed_headers}, Signature={}",
        hex(&mac.finalize().into_bytes())
    )
}

/// The keyed MAC over the string to sign, from the secret's derived key.
fn signature(secret: &str, amz_date: &str, scope: [&str; 3], canonical: &str) -> HmacSha256 {
    let [date, region, service] = scope;
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    mac
}

/// `payload`: the hex SHA-256 of the body, computed here, never taken
/// from the request.
fn canonical_request(r: &Signed<'_>, signed_headers: &str, payload: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = r
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for name in signed_headers.split(';') {
        let values: Vec<String> = r
            .header(name)
            .iter()
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        headers.push_str(name);
        headers.push(':');
        headers.push_str(&values.join(","));
        headers.push('\n');
    }
    format!(
        "{}\n{}\n{query}\n{headers}\n{signed_headers}\n{payload}",
        r.method,
        uri_encode(if r.path.is_empty() { "/" } else { r.path })
    )
}

/// The path encoded once more (botocore signs the already-encoded path
/// encoded again, `/` and unreserved characters kept).
fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example (S3 GetObject, "Authenticating Requests:
    /// Using the Authorization Header"): its signature must verify.
    fn example() -> (Vec<(String, String)>, String) {
        let headers = vec![
            (
                "host".to_string(),
                "examplebucket.s3.amazonaws.com".to_string(),
            ),
            ("range".to_string(), "bytes=0-9".to_string()),
            (
                "x-amz-content-sha256".to_string(),
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string(),
            ),
            ("x-amz-date".to_string(), "20130524T000000Z".to_string()),
        ];
        let auth =
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
                .to_string();
        (headers, auth)
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const AT: i64 = 1_369_353_600; // 2013-05-24T00:00:00Z

    fn check(
        headers: &[(String, String)],
        auth: &str,
        secret: &str,
        now: i64,
    ) -> Result<(), SigError> {
        let r = Signed {
            method: "GET",
            path: "/test.txt",
            query: "",
            headers,
            body: b"",
        };
        verify(auth, &r, "AKIAIOSFODNN7EXAMPLE", secret, now)
    }

    #[test]
    fn aws_example_verifies() {
        let (h, auth) = example();
        assert_eq!(check(&h, &auth, SECRET, AT), Ok(()));
    }

    #[test]
    fn signing_aws_example_gives_its_signature() {
        let (h, auth) = example();
        let r = Signed {
            method: "GET",
            path: "/test.txt",
            query: "",
            headers: &h,
            body: b"",
        };
        let made = sign(&r, "AKIAIOSFODNN7EXAMPLE", SECRET, "us-east-1", "s3");
        assert_eq!(made, auth);
        assert_eq!(
            verify(&made, &r, "AKIAIOSFODNN7EXAMPLE", SECRET, AT),
            Ok(())
        );
    }

    #[test]
    fn anything_changed_fails() {
        let (mut h, auth) = example();
        assert_eq!(check(&h, &auth, "wrong", AT), Err(SigError::Mismatch));
        assert_eq!(
            check(&h, &auth, SECRET, AT + 16 * 60),
            Err(SigError::Expired)
        );
        assert_eq!(
            check(
                &h,
                &auth.replace("AKIAIOSFODNN7EXAMPLE", "AKIDOTHER"),
                SECRET,
                AT
            ),
            Err(SigError::UnknownKey)
        );
        assert_eq!(
            check(&h, "AWS4-HMAC-SHA256 Credential=x", SECRET, AT),
            Err(SigError::Incomplete)
        );
        h[1].1 = "bytes=0-10".into();
        assert_eq!(check(&h, &auth, SECRET, AT), Err(SigError::Mismatch));
    }

    /// A POST signed over `body` without `x-amz-content-sha256` (as
    /// botocore signs apigateway calls); its headers and signature.
    fn signed_post(body: &[u8]) -> (Vec<(String, String)>, String) {
        let headers = vec![
            ("host".to_string(), "127.0.0.1".to_string()),
            ("x-amz-date".to_string(), "20130524T000000Z".to_string()),
        ];
        let r = Signed {
            method: "POST",
            path: "/apikeys",
            query: "",
            headers: &headers,
            body,
        };
        let auth = sign(
            &r,
            "AKIAIOSFODNN7EXAMPLE",
            SECRET,
            "us-east-1",
            "apigateway",
        );
        (headers, auth)
    }

    fn check_post(
        headers: &[(String, String)],
        auth: &str,
        body: &[u8],
    ) -> Result<Verified, SigError> {
        let r = Signed {
            method: "POST",
            path: "/apikeys",
            query: "",
            headers,
            body,
        };
        verify_signed(auth, &r, "AKIAIOSFODNN7EXAMPLE", SECRET, AT)
    }

    #[test]
    fn the_body_is_hashed_never_taken_from_a_header() {
        let (mut h, auth) = signed_post(br#"{"name":"innocent"}"#);
        let ok = check_post(&h, &auth, br#"{"name":"innocent"}"#).expect("verifies");
        assert_eq!(ok.expires, AT + 15 * 60);
        assert_eq!(
            check_post(&h, &auth, br#"{"name":"evil","value":"x"}"#),
            Err(SigError::Mismatch)
        );
        // A declared hash of the new body does not make it pass: it is
        // compared with the body, and the body is what is signed over.
        let evil = br#"{"name":"evil","value":"x"}"#;
        h.push(("x-amz-content-sha256".into(), hex(&Sha256::digest(evil))));
        assert_eq!(check_post(&h, &auth, evil), Err(SigError::Mismatch));
        let innocent_hash = hex(&Sha256::digest(br#"{"name":"innocent"}"#));
        h.last_mut().unwrap().1 = innocent_hash;
        assert_eq!(check_post(&h, &auth, evil), Err(SigError::PayloadHash));
        for declared in ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"] {
            h.last_mut().unwrap().1 = declared.into();
            assert_eq!(check_post(&h, &auth, evil), Err(SigError::PayloadHash));
            assert_eq!(
                check_head(&auth, &h, "AKIAIOSFODNN7EXAMPLE", AT),
                Err(SigError::PayloadHash)
            );
        }
    }

    #[test]
    fn the_scope_date_is_the_request_date() {
        let (mut h, auth) = signed_post(b"");
        h[1].1 = "20130524T235959Z".into();
        assert_eq!(
            check_head(&auth, &h, "AKIAIOSFODNN7EXAMPLE", AT + 86_000),
            Ok(AT + 86_399)
        );
        h[1].1 = "20130523T235959Z".into();
        assert_eq!(
            check_head(&auth, &h, "AKIAIOSFODNN7EXAMPLE", AT),
            Err(SigError::ScopeDate)
        );
    }

    #[test]
    fn paths_are_encoded_again_and_queries_sorted() {
        assert_eq!(uri_encode("/restapis/a%7Bb/x y"), "/restapis/a%257Bb/x%20y");
        let r = Signed {
            method: "GET",
            path: "/",
            query: "b=2&a=1&c",
            headers: &[],
            body: b"",
        };
        let c = canonical_request(&r, "", "");
        assert!(c.starts_with("GET\n/\na=1&b=2&c=\n"), "{c}");
    }
}
