//! The audit log of management calls (CloudTrail's role): one JSON line
//! per call, successful or not, with CloudTrail's main fields, appended to
//! `audit.jsonl` in the state directory. A call that changed something is
//! made durable (fsync) before the caller gets the answer; a read or a
//! refusal changed nothing, so its line is synced within a second instead:
//! on a disk busy writing back other files an fsync has measured over 3 s,
//! and a read or a 503 must not wait that long for it. Secrets (API key values, secret keys, tokens)
//! are redacted; signatures are never recorded. Data-plane calls never
//! come here. On a fleet node (`[cluster]`) each line also names the node
//! (`additionalEventData.nodeId`) and goes, redacted alike, to the fleet's
//! stream in Redis (`crate::cluster::AuditStream`), which `portico audit`
//! reads there; the file stays the node's own record, written first.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::RecvTimeoutError;

use serde_json::{json, Map, Value};

use crate::cluster::AuditStream;
use crate::config::ClusterConfig;
use crate::control::thread::Stoppable;

pub const FILE: &str = "audit.jsonl";

/// The longest a read's or a refusal's line waits to be on disk.
const SYNC_EVERY: Duration = Duration::from_secs(1);

pub struct Audit {
    file: File,
    /// Lines written and not yet synced; the syncer's to clear.
    unsynced: Arc<AtomicBool>,
    /// Syncs those lines, and once more when it stops.
    _syncer: Stoppable,
    fleet: Option<Fleet>,
}

/// A fleet node's name and its end of the fleet's stream.
struct Fleet {
    node: String,
    stream: AuditStream,
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
        let unsynced = Arc::new(AtomicBool::new(false));
        let syncer = syncer(file.try_clone()?, unsynced.clone());
        Ok(Audit {
            file,
            unsynced,
            _syncer: syncer,
            fleet: None,
        })
    }

    /// Every call also goes to the fleet's stream, as node `node`.
    pub fn in_fleet(mut self, cfg: &ClusterConfig, node: String) -> io::Result<Audit> {
        let stream = AuditStream::start(cfg.clone(), node.clone())?;
        self.fleet = Some(Fleet { node, stream });
        Ok(self)
    }

    /// Appends the event, and waits until it is on disk when the call
    /// `changed` something; then hands it to the fleet's stream, which
    /// never delays the answer.
    pub fn record(&mut self, e: &Event<'_>, changed: bool) -> io::Result<()> {
        let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let node = self.fleet.as_ref().map(|f| f.node.as_str());
        let mut line = line(e, &time, node);
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        if changed {
            self.file.sync_data()?;
            // Earlier unsynced lines went to disk with this one.
            self.unsynced.store(false, Ordering::Release);
        } else {
            self.unsynced.store(true, Ordering::Release);
        }
        if let Some(f) = self.fleet.as_mut() {
            line.pop();
            f.stream.send(line);
        }
        Ok(())
    }
}

/// Syncs `file` within [`SYNC_EVERY`] of a line written unsynced, and
/// once more when told to stop.
fn syncer(file: File, unsynced: Arc<AtomicBool>) -> Stoppable {
    Stoppable::spawn("portico-audit-sync", move |stop| loop {
        let stopping = stop.recv_timeout(SYNC_EVERY) != Err(RecvTimeoutError::Timeout);
        if unsynced.swap(false, Ordering::AcqRel) {
            if let Err(e) = file.sync_data() {
                crate::log!(error, "audit log sync failed: {e}");
                unsynced.store(true, Ordering::Release);
            }
        }
        if stopping {
            return;
        }
    })
}

fn line(e: &Event<'_>, time: &str, node: Option<&str>) -> String {
    let mut request = e.request_parameters.clone();
    redact(&mut request);
    let response = e.response.map(|r| {
        let mut r = r.clone();
        redact(&mut r);
        r
    });
    let mut v = json!({
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
    });
    if let Some(node) = node {
        v["additionalEventData"] = json!({ "nodeId": node });
    }
    v.to_string()
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

/// `portico audit`'s `--since` (RFC 3339, or `YYYY-MM-DD` for that day's
/// start, UTC) and `--event`, the same for the file and the fleet's stream.
pub struct Filter {
    since: Option<String>,
    event: Option<String>,
}

impl Filter {
    pub fn new(since: Option<&str>, event: Option<&str>) -> Filter {
        let since = since.map(|s| {
            if s.len() == 10 {
                format!("{s}T00:00:00Z")
            } else {
                s.to_string()
            }
        });
        Filter {
            since,
            event: event.map(str::to_string),
        }
    }

    /// Where to start reading the fleet's stream (ms, Redis's clock): a
    /// day before `--since`, since its ids are Redis's time of arrival
    /// and a node's clock may run ahead of Redis's; `keeps` then decides
    /// by `eventTime`, as for the file.
    pub fn stream_from_ms(&self) -> u64 {
        const DAY_MS: i64 = 86_400_000;
        self.since
            .as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map_or(0, |t| {
                u64::try_from(t.timestamp_millis() - DAY_MS).unwrap_or(0)
            })
    }

    /// The recorded call on `line`, when the filter keeps it.
    pub fn keeps(&self, line: &str) -> Option<Value> {
        let v = serde_json::from_str::<Value>(line).ok()?;
        let time = v["eventTime"].as_str().unwrap_or_default();
        if self.since.as_deref().is_some_and(|s| time < s) {
            return None;
        }
        if self.event.as_deref().is_some_and(|e| v["eventName"] != e) {
            return None;
        }
        Some(v)
    }
}

/// `portico audit --local`: the calls this node's file recorded that
/// `filter` keeps.
pub fn read(dir: &Path, filter: &Filter) -> io::Result<Vec<Value>> {
    let path: PathBuf = dir.join(FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for l in BufReader::new(file).lines() {
        if let Some(v) = filter.keeps(&l?) {
            out.push(v);
        }
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
        let l = line(&e, "2026-11-25T13:00:00Z", None);
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
        assert!(v.get("additionalEventData").is_none(), "{l}");
        let fleet = line(&e, "2026-11-25T13:00:00Z", Some("edge-1"));
        let v: Value = serde_json::from_str(&fleet).unwrap();
        assert_eq!(v["additionalEventData"]["nodeId"], "edge-1");
        assert!(!fleet.contains("supersecret"), "{fleet}");
    }

    #[test]
    fn a_change_is_synced_before_it_returns_and_a_read_within_a_second() {
        let dir = std::env::temp_dir().join(format!(
            "portico-audit-sync-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        let mut audit = Audit::open(&dir).unwrap();
        let e = |name| Event {
            name,
            access_key_id: None,
            source_ip: "127.0.0.1",
            user_agent: None,
            request_parameters: json!({}),
            response: None,
            error: None,
            request_id: "rid",
        };
        audit.record(&e("GetRestApis"), false).unwrap();
        assert!(audit.unsynced.load(Ordering::Acquire));
        let deadline = std::time::Instant::now() + SYNC_EVERY * 5;
        while audit.unsynced.load(Ordering::Acquire) {
            assert!(std::time::Instant::now() < deadline, "never synced");
            std::thread::yield_now();
        }
        audit.record(&e("GetRestApis"), false).unwrap();
        audit.record(&e("CreateRestApi"), true).unwrap();
        assert!(
            !audit.unsynced.load(Ordering::Acquire),
            "synced with the change"
        );
        let text = std::fs::read_to_string(dir.join(FILE)).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        drop(audit);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_filter_keeps_by_time_and_operation_and_reads_the_stream_a_day_early() {
        let f = Filter::new(Some("2026-01-02"), Some("CreateDeployment"));
        let at = |t: &str, n: &str| format!(r#"{{"eventTime":"{t}","eventName":"{n}"}}"#);
        assert!(f
            .keeps(&at("2026-01-02T00:00:00Z", "CreateDeployment"))
            .is_some());
        assert!(f
            .keeps(&at("2026-01-01T23:59:59Z", "CreateDeployment"))
            .is_none());
        assert!(f
            .keeps(&at("2026-01-03T00:00:00Z", "GetRestApis"))
            .is_none());
        assert!(f.keeps("not json").is_none());
        // 2026-01-02T00:00:00Z is 1767312000 s; a day before it.
        assert_eq!(f.stream_from_ms(), (1_767_312_000 - 86_400) * 1000);
        assert_eq!(Filter::new(None, None).stream_from_ms(), 0);
        assert_eq!(Filter::new(Some("garbage"), None).stream_from_ms(), 0);
    }
}
