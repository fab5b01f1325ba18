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
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    Mismatch,
}

impl SigError {
    pub fn kind(&self) -> &'static str {
        match self {
            SigError::Incomplete => "IncompleteSignatureException",
            SigError::UnknownKey => "UnrecognizedClientException",
            SigError::Expired | SigError::Mismatch => "InvalidSignatureException",
        }
    }
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
    let given = field("Signature").ok_or(SigError::Incomplete)?;
    let mut scope = credential.splitn(5, '/');
    let (Some(akid), Some(date), Some(region), Some(service), Some("aws4_request")) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(SigError::Incomplete);
    };
    if akid != key_id {
        return Err(SigError::UnknownKey);
    }
    let amz_date = r
        .header("x-amz-date")
        .first()
        .copied()
        .ok_or(SigError::Incomplete)?;
    let when = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| SigError::Incomplete)?
        .and_utc()
        .timestamp();
    if (when - now).abs() > MAX_SKEW_SECS {
        return Err(SigError::Expired);
    }
    let canonical = canonical_request(r, signed_headers);
    let mac = signature(secret, amz_date, [date, region, service], &canonical);
    let wanted = unhex(given).ok_or(SigError::Mismatch)?;
    mac.verify_slice(&wanted).map_err(|_| SigError::Mismatch)
}

/// The `Authorization` header for an outgoing request. Every header in
/// `r.headers` is signed; it must hold `host` and `x-amz-date`
/// (`YYYYMMDDTHHMMSSZ`), names lower-case and sorted.
pub fn sign(r: &Signed<'_>, key_id: &str, secret: &str, region: &str, service: &str) -> String {
    let amz_date = r.header("x-amz-date").first().copied().unwrap_or_default();
    let date = amz_date.get(..8).unwrap_or_default();
    let signed_headers = r
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = canonical_request(r, &signed_headers);
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

fn canonical_request(r: &Signed<'_>, signed_headers: &str) -> String {
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
    let payload = match r.header("x-amz-content-sha256").first() {
        Some(h) => h.to_string(),
        None => hex(&Sha256::digest(r.body)),
    };
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
        let c = canonical_request(&r, "");
        assert!(c.starts_with("GET\n/\na=1&b=2&c=\n"), "{c}");
    }
}
