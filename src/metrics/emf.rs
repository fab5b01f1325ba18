//! CloudWatch Embedded Metric Format: every interval, one JSON line per
//! API and stage with that interval's counts, in the shape the CloudWatch
//! agent turns into metrics unchanged (dimensions ApiName and Stage, as
//! API Gateway's own).

use std::io::Write;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{select, Receiver};
use serde_json::{json, Map, Value};

use super::access_writer::Destination;
use super::counts::WorkerCounts;
use super::exposition::SlotLabels;

pub struct EmfSettings {
    pub destination: Destination,
    pub interval: Duration,
    pub namespace: String,
}

/// Sums of one API stage over an interval.
#[derive(Default, Clone, Copy, PartialEq, Debug)]
struct StageSums {
    count: u64,
    e4xx: u64,
    e5xx: u64,
    latency_us: u64,
    integration_us: u64,
    integration_n: u64,
    hits: u64,
    misses: u64,
}

fn sums(slots: &[SlotLabels], c: &WorkerCounts) -> Vec<((String, String), StageSums)> {
    let mut out: Vec<((String, String), StageSums)> = Vec::new();
    for (i, r) in c.routes.iter().enumerate() {
        let Some(l) = slots.get(i) else { continue };
        if l.api.is_empty() {
            continue;
        }
        let key = (l.api.clone(), l.stage.clone());
        let at = match out.iter().position(|(k, _)| *k == key) {
            Some(p) => p,
            None => {
                out.push((key, StageSums::default()));
                out.len() - 1
            }
        };
        let s = &mut out[at].1;
        s.count += r.requests;
        for &(status, n) in &r.errors {
            match status / 100 {
                4 => s.e4xx += n,
                5 => s.e5xx += n,
                _ => {}
            }
        }
        s.latency_us += r.latency.sum_us;
        s.integration_us += r.integration_latency.sum_us;
        s.integration_n += r.integration_latency.count();
        s.hits += r.cache_hits;
        s.misses += r.cache_misses;
    }
    out
}

/// The interval's lines: `now` minus `before`, for stages with traffic.
fn lines(
    namespace: &str,
    slots: &[SlotLabels],
    before: &WorkerCounts,
    now: &WorkerCounts,
    timestamp_ms: u64,
) -> Vec<String> {
    let old = sums(slots, before);
    let mut out = Vec::new();
    for (key, s) in sums(slots, now) {
        let o = old
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| *s)
            .unwrap_or_default();
        let count = s.count - o.count;
        if count == 0 {
            continue;
        }
        let integration_n = s.integration_n - o.integration_n;
        let mut m = Map::new();
        m.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["ApiName", "Stage"]],
                    "Metrics": [
                        {"Name": "Count", "Unit": "Count"},
                        {"Name": "4XXError", "Unit": "Count"},
                        {"Name": "5XXError", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "IntegrationLatency", "Unit": "Milliseconds"},
                        {"Name": "CacheHitCount", "Unit": "Count"},
                        {"Name": "CacheMissCount", "Unit": "Count"}
                    ]
                }]
            }),
        );
        m.insert("ApiName".into(), Value::from(key.0));
        m.insert("Stage".into(), Value::from(key.1));
        m.insert("Count".into(), Value::from(count));
        m.insert("4XXError".into(), Value::from(s.e4xx - o.e4xx));
        m.insert("5XXError".into(), Value::from(s.e5xx - o.e5xx));
        let avg_ms = |us: u64, n: u64| {
            if n == 0 {
                0.0
            } else {
                us as f64 / n as f64 / 1000.0
            }
        };
        m.insert(
            "Latency".into(),
            Value::from(avg_ms(s.latency_us - o.latency_us, count)),
        );
        m.insert(
            "IntegrationLatency".into(),
            Value::from(avg_ms(s.integration_us - o.integration_us, integration_n)),
        );
        m.insert("CacheHitCount".into(), Value::from(s.hits - o.hits));
        m.insert("CacheMissCount".into(), Value::from(s.misses - o.misses));
        out.push(Value::Object(m).to_string());
    }
    out
}

/// Writes the lines every interval until `stop` is dropped; `scrape`
/// gathers the workers' counts, merged.
pub fn spawn(
    settings: EmfSettings,
    slots: Vec<SlotLabels>,
    mut scrape: impl FnMut() -> WorkerCounts + Send + 'static,
    stop: Receiver<()>,
) -> std::io::Result<JoinHandle<()>> {
    let mut file = match &settings.destination {
        Destination::Stdout => None,
        Destination::File(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
    };
    Ok(std::thread::Builder::new()
        .name("portico-emf".into())
        .spawn(move || {
            let mut before = WorkerCounts::default();
            loop {
                let last = select! {
                    recv(stop) -> _ => true,
                    default(settings.interval) => false,
                };
                let now = scrape();
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                let mut text = String::new();
                for l in lines(&settings.namespace, &slots, &before, &now, ts) {
                    text.push_str(&l);
                    text.push('\n');
                }
                let res = match &mut file {
                    Some(f) => f.write_all(text.as_bytes()),
                    None => std::io::stdout().lock().write_all(text.as_bytes()),
                };
                if let Err(e) = res {
                    crate::log!(error, "EMF write failed: {e}");
                }
                before = now;
                if last {
                    return;
                }
            }
        })
        .expect("spawn EMF thread"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Exchange;

    #[test]
    fn one_line_per_stage_with_the_interval_counts() {
        let slot = |api: &str, stage: &str| SlotLabels {
            api: api.into(),
            stage: stage.into(),
            method: "GET".into(),
            resource: "/".into(),
        };
        let slots = vec![
            slot("", ""),
            slot("a", "prod"),
            slot("a", "prod"),
            slot("a", "beta"),
        ];
        let mut c = WorkerCounts::default();
        let ex = |slot, status| Exchange {
            slot,
            status,
            latency_us: 2000,
            ..Exchange::default()
        };
        c.record(&ex(1, 200));
        let before = c.clone();
        c.record(&ex(1, 404));
        c.record(&ex(2, 502));
        c.record(&ex(0, 403));
        let l = lines("portico", &slots, &before, &c, 7);
        assert_eq!(
            l.len(),
            1,
            "beta had no traffic, unrouted calls have no stage: {l:?}"
        );
        let v: Value = serde_json::from_str(&l[0]).unwrap();
        assert_eq!(v["ApiName"], "a");
        assert_eq!(v["Stage"], "prod");
        assert_eq!(v["Count"], 2);
        assert_eq!(v["4XXError"], 1);
        assert_eq!(v["5XXError"], 1);
        assert_eq!(v["Latency"], 2.0);
        assert_eq!(v["_aws"]["Timestamp"], 7);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][1],
            "Stage"
        );
    }
}
