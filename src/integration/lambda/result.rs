//! A Lambda proxy integration's result, mapped back to an HTTP answer as
//! API Gateway maps it: `statusCode`, `headers` and `multiValueHeaders`
//! (merged; a name in both takes the multi-value list), `cookies` (2.0),
//! `body` with `isBase64Encoded`. A 2.0 result that is not such an object
//! is the body of a 200 JSON answer.

use base64::Engine;
use serde_json::Value;

use crate::config::PayloadVersion;

#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// Lower-case names, in the function's order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the result is not JSON")]
    NotJson,
    #[error("the result is not an object with a statusCode")]
    NoStatus,
    #[error("`{0}` has the wrong type")]
    WrongType(&'static str),
    #[error("statusCode {0} is not an HTTP status")]
    BadStatus(i64),
    #[error("the body is not valid base64")]
    BadBase64,
}

pub fn map(version: PayloadVersion, result: &[u8]) -> Result<Answer, Malformed> {
    let value: Value = serde_json::from_slice(result).map_err(|_| Malformed::NotJson)?;
    let obj = match value {
        Value::Object(o) if o.contains_key("statusCode") => o,
        other if version == PayloadVersion::V2 => {
            return Ok(Answer {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: match other {
                    // A returned string is the body itself, JSON-encoded.
                    Value::Object(_) | Value::Array(_) => result.trim_ascii().to_vec(),
                    v => v.to_string().into_bytes(),
                },
            });
        }
        _ => return Err(Malformed::NoStatus),
    };
    let status = match &obj["statusCode"] {
        Value::Number(n) => n.as_i64().ok_or(Malformed::WrongType("statusCode"))?,
        // API Gateway accepts a numeric string too.
        Value::String(s) => s
            .parse::<i64>()
            .map_err(|_| Malformed::WrongType("statusCode"))?,
        _ => return Err(Malformed::WrongType("statusCode")),
    };
    if !(100..=599).contains(&status) {
        return Err(Malformed::BadStatus(status));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    let multi = match obj.get("multiValueHeaders") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => return Err(Malformed::WrongType("multiValueHeaders")),
    };
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, v) in m {
                let in_multi =
                    multi.is_some_and(|mv| mv.keys().any(|k| k.eq_ignore_ascii_case(name)));
                if !in_multi {
                    headers.push((name.to_ascii_lowercase(), scalar(v, "headers")?));
                }
            }
        }
        Some(_) => return Err(Malformed::WrongType("headers")),
    }
    for (name, list) in multi.into_iter().flatten() {
        let Value::Array(values) = list else {
            return Err(Malformed::WrongType("multiValueHeaders"));
        };
        for v in values {
            headers.push((name.to_ascii_lowercase(), scalar(v, "multiValueHeaders")?));
        }
    }
    if version == PayloadVersion::V2 {
        match obj.get("cookies") {
            None | Some(Value::Null) => {}
            Some(Value::Array(cookies)) => {
                for c in cookies {
                    headers.push(("set-cookie".into(), scalar(c, "cookies")?));
                }
            }
            Some(_) => return Err(Malformed::WrongType("cookies")),
        }
    }
    let base64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Malformed::WrongType("isBase64Encoded")),
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| Malformed::BadBase64)?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return Err(Malformed::WrongType("body")),
    };
    if !headers.iter().any(|(n, _)| n == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Ok(Answer {
        status: status as u16,
        headers,
        body,
    })
}

/// A header value: strings as they are, numbers and booleans written out.
fn scalar(v: &Value, field: &'static str) -> Result<String, Malformed> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
        _ => Err(Malformed::WrongType(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PayloadVersion::{V1, V2};

    fn header_values<'a>(a: &'a Answer, name: &str) -> Vec<&'a str> {
        a.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn headers_and_multi_value_headers_merge() {
        let a = map(
            V1,
            br#"{"statusCode":201,"headers":{"X-One":"1","x-both":"single"},
                "multiValueHeaders":{"X-Both":["a","b"]},"body":"hi"}"#,
        )
        .unwrap();
        assert_eq!(a.status, 201);
        assert_eq!(header_values(&a, "x-one"), ["1"]);
        assert_eq!(header_values(&a, "x-both"), ["a", "b"]);
        assert_eq!(header_values(&a, "content-type"), ["application/json"]);
        assert_eq!(a.body, b"hi");
    }

    #[test]
    fn base64_bodies_and_cookies() {
        let a = map(
            V2,
            br#"{"statusCode":200,"body":"AAH/","isBase64Encoded":true,"cookies":["a=1","b=2"]}"#,
        )
        .unwrap();
        assert_eq!(a.body, [0, 1, 255]);
        assert_eq!(header_values(&a, "set-cookie"), ["a=1", "b=2"]);
    }

    #[test]
    fn version_2_turns_other_results_into_json_bodies() {
        let a = map(V2, br#""hello""#).unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &br#""hello""#[..]));
        let a = map(V2, br#"{"message":"x"}"#).unwrap();
        assert_eq!(a.body, br#"{"message":"x"}"#);
        assert_eq!(map(V1, br#"{"message":"x"}"#), Err(Malformed::NoStatus));
    }

    #[test]
    fn malformed_results_are_refused() {
        assert_eq!(map(V1, b"not json"), Err(Malformed::NotJson));
        assert_eq!(
            map(V1, br#"{"statusCode":"abc"}"#),
            Err(Malformed::WrongType("statusCode"))
        );
        assert_eq!(
            map(V1, br#"{"statusCode":42}"#),
            Err(Malformed::BadStatus(42))
        );
        assert_eq!(
            map(V1, br#"{"statusCode":200,"body":5}"#),
            Err(Malformed::WrongType("body"))
        );
        assert_eq!(
            map(
                V1,
                br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#
            ),
            Err(Malformed::BadBase64)
        );
    }
}
