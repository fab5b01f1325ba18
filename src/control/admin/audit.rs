//! The audit log of management calls (CloudTrail's role): one JSON line
//! per call, successful or not, with CloudTrail's main fields, appended to
//! `audit.jsonl` in the state directory and made durable (fsync) before the
//! caller gets the answer. Secrets (API key values, secret keys, tokens)
//! are redacted; signatures are never recorded. Data-plane calls never
//! come here.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

pub const FILE: &str = "audit.jsonl";

pub struct Audit {
    file: File,
}

/// One management call, as recorded.
pub struct Event<'a> {
    pub name: &'a str,
    pub access_key_id: Option<&'a str>,
    pub source_ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub request_parameters: Value,
    /// The answer's body, when it succeeded.
    pub response: Option<&'a Value>,
    pub error: Option<(&'a str, &'a str)>,
    pub request_id: &'a str,
}

impl Audit {
    pub fn open(dir: &Path) -> io::Result<Audit> {
        crate::control::state::private::create_dir(dir)?;
        let file = crate::control::state::private::options()
            .create(true)
            .append(true)
            .open(dir.join(FILE))?;
        Ok(Audit { file })
    }

    /// Appends the event and waits until it is on disk.
    pub fn record(&mut self, e: &Event<'_>) -> io::Result<()> {
        let mut line = line(
            e,
            &chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

fn line(e: &Event<'_>, time: &str) -> String {
    let mut request = e.request_parameters.clone();
    redact(&mut request);
    let response = e.response.map(|r| {
        let mut r = r.clone();
        redact(&mut r);
        r
    });
    json!({
        "eventVersion": "1.08",
        "eventTime": time,
        "eventSource": "apigateway.amazonaws.com",
        "eventName": e.name,
        "userIdentity": {"type": "IAMUser", "accessKeyId": e.access_key_id},
        "sourceIPAddress": e.source_ip,
        "userAgent": e.user_agent,
        "requestParameters": request,
        "responseElements": response,
        "errorCode": e.error.map(|(c, _)| c),
        "errorMessage": e.error.map(|(_, m)| m),
        "requestID": e.request_id,
        "eventType": "AwsApiCall",
    })
    .to_string()
}

/// Values of keys that hold secrets, anywhere in the document.
fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let k = k.to_ascii_lowercase();
                if k == "value"
                    || k.contains("secret")
                    || k.contains("token")
                    || k.contains("password")
                {
                    if !x.is_null() {
                        *x = Value::String("HIDDEN_DUE_TO_SECURITY_REASONS".into());
                    }
                } else {
                    redact(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The request's parameters: path parameters, query and body together.
pub fn parameters(path: &[(&str, String)], query: &str, body: &[u8]) -> Value {
    let mut m = Map::new();
    for (k, v) in path {
        m.insert((*k).to_string(), Value::String(v.clone()));
    }
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        m.insert(k.to_string(), Value::String(v.to_string()));
    }
    if let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) {
        m.extend(b);
    }
    Value::Object(m)
}

/// `portico audit`: the recorded calls at or after `since` (RFC 3339 or
/// `YYYY-MM-DD`), of one operation if `event` is given.
pub fn read(dir: &Path, since: Option<&str>, event: Option<&str>) -> io::Result<Vec<Value>> {
    let path: PathBuf = dir.join(FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let since = since.map(|s| {
        if s.len() == 10 {
            format!("{s}T00:00:00Z")
        } else {
            s.to_string()
        }
    });
    let mut out = Vec::new();
    for l in BufReader::new(file).lines() {
        let Ok(v) = serde_json::from_str::<Value>(&l?) else {
            continue;
        };
        let time = v["eventTime"].as_str().unwrap_or_default();
        if since.as_deref().is_some_and(|s| time < s) {
            continue;
        }
        if event.is_some_and(|e| v["eventName"] != e) {
            continue;
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_fields_named_as_cloudtrail() {
        let body = br#"{"name":"k","value":"supersecretvalue0123456789","nested":{"secretAccessKey":"x"}}"#;
        let resp = json!({"id": "abc", "value": "supersecretvalue0123456789"});
        let e = Event {
            name: "CreateApiKey",
            access_key_id: Some("AKID"),
            source_ip: "127.0.0.1",
            user_agent: Some("aws-cli/2"),
            request_parameters: parameters(&[("restapi_id", "r1".into())], "mode=x", body),
            response: Some(&resp),
            error: None,
            request_id: "rid",
        };
        let l = line(&e, "2026-11-25T13:00:00Z");
        assert!(!l.contains("supersecret"), "{l}");
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["eventName"], "CreateApiKey");
        assert_eq!(v["userIdentity"]["accessKeyId"], "AKID");
        assert_eq!(v["requestParameters"]["restapi_id"], "r1");
        assert_eq!(v["requestParameters"]["mode"], "x");
        assert_eq!(v["requestParameters"]["name"], "k");
        assert_eq!(
            v["requestParameters"]["nested"]["secretAccessKey"],
            "HIDDEN_DUE_TO_SECURITY_REASONS"
        );
        assert_eq!(v["responseElements"]["id"], "abc");
        assert!(v["errorCode"].is_null());
    }
}
