//! The Prometheus text exposition format (0.0.4) of the merged counts,
//! with CloudWatch's API Gateway metric names mapped to Prometheus ones
//! (the README has the table). Labels come from the config (API, stage,
//! method, route template), never from raw request paths.

use std::fmt::Write;

use super::counts::{Invalid, KeyCounts, WorkerCounts};
use super::histogram::Histogram;
use crate::throttle::{Level, MeterSpec};

/// The labels of one counting slot (a route of a stage, a stage's
/// unrouted requests, or requests that reached no API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotLabels {
    pub api: String,
    pub stage: String,
    pub method: String,
    pub resource: String,
}

/// What is known of the process, for its gauges.
pub struct Process<'a> {
    pub driver: &'a str,
    pub config_version: &'a str,
    pub workers: usize,
    pub ready: bool,
    /// The HTTPS listener's certificates: `(hosts, file, not_after)`, and now (Unix seconds).
    pub certs: &'a [crate::tls::CertInfo],
    pub now: i64,
}

pub fn render(
    slots: &[SlotLabels],
    meters: &[MeterSpec],
    total: &WorkerCounts,
    per_worker: &[(usize, WorkerCounts)],
    p: &Process<'_>,
) -> String {
    let mut o = String::with_capacity(8192);
    let used: Vec<(usize, String)> = total
        .routes
        .iter()
        .enumerate()
        .filter(|(i, r)| r.requests > 0 && *i < slots.len())
        .map(|(i, _)| (i, labels(&slots[i])))
        .collect();
    let route = |i: usize| &total.routes[i];

    family(
        &mut o,
        "portico_requests_total",
        "counter",
        "Requests received (CloudWatch: Count).",
    );
    for (i, l) in &used {
        let _ = writeln!(o, "portico_requests_total{{{l}}} {}", route(*i).requests);
    }
    for (name, class, cw) in [
        ("portico_4xx_total", 4, "4XXError"),
        ("portico_5xx_total", 5, "5XXError"),
    ] {
        family(
            &mut o,
            name,
            "counter",
            &format!("Responses with a {class}xx status, by status (CloudWatch: {cw})."),
        );
        for (i, l) in &used {
            let mut errors = route(*i).errors.clone();
            errors.sort_unstable();
            for (status, n) in errors.into_iter().filter(|(s, _)| s / 100 == class) {
                let _ = writeln!(o, "{name}{{{l},status=\"{status}\"}} {n}");
            }
        }
    }
    histogram_family(
        &mut o,
        "portico_latency_seconds",
        "From the request's head to the last byte of the response (CloudWatch: Latency).",
        &used,
        |i| &route(i).latency,
    );
    histogram_family(
        &mut o,
        "portico_integration_latency_seconds",
        "From sending the request upstream to its response head (CloudWatch: IntegrationLatency).",
        &used,
        |i| &route(i).integration_latency,
    );
    counter_family(
        &mut o,
        "portico_cache_hits_total",
        "Answers from the stage cache (CloudWatch: CacheHitCount).",
        &used,
        |i| route(i).cache_hits,
    );
    counter_family(
        &mut o,
        "portico_cache_misses_total",
        "Cacheable requests the cache could not answer (CloudWatch: CacheMissCount).",
        &used,
        |i| route(i).cache_misses,
    );
    by_reason_family(
        &mut o,
        "portico_throttled_total",
        "Requests refused with 429, by the level that refused them.",
        &used,
        "level",
        |i| Level::ALL.map(|v| (v.name(), route(i).throttled[v as usize])),
    );
    by_reason_family(
        &mut o,
        "portico_validation_failures_total",
        "Requests refused by request validation (400 BAD_REQUEST_PARAMETERS or BAD_REQUEST_BODY), by reason.",
        &used,
        "reason",
        |i| Invalid::ALL.map(|v| (v.name(), route(i).invalid[v as usize])),
    );
    counter_family(
        &mut o,
        "portico_bytes_in_total",
        "Request bytes received, heads and bodies.",
        &used,
        |i| route(i).bytes_in,
    );
    counter_family(
        &mut o,
        "portico_bytes_out_total",
        "Response bytes sent, heads and bodies (what AWS bills as data transfer out).",
        &used,
        |i| route(i).bytes_out,
    );

    key_family(
        &mut o,
        "portico_key_requests_total",
        "Requests by API key, in the usage plan that admitted them.",
        meters,
        total,
        |k| k.requests,
    );
    key_family(
        &mut o,
        "portico_key_bytes_out_total",
        "Response bytes sent by API key, in the usage plan that admitted them.",
        meters,
        total,
        |k| k.bytes_out,
    );

    worker_family(
        &mut o,
        "portico_worker_connections",
        "Open client connections per worker.",
        per_worker,
        |c| c.connections,
    );
    worker_family(
        &mut o,
        "portico_worker_quiet_connections",
        "Client connections waiting for a request with no buffer held, per worker.",
        per_worker,
        |c| c.quiet,
    );
    worker_family(
        &mut o,
        "portico_upstream_pool_idle_connections",
        "Idle upstream connections kept for reuse, per worker.",
        per_worker,
        |c| c.pool_idle,
    );
    family(
        &mut o,
        "portico_access_log_lines_total",
        "counter",
        "Access log lines handed to the log writer.",
    );
    let _ = writeln!(
        o,
        "portico_access_log_lines_total {}",
        total.access_log_lines
    );
    family(
        &mut o,
        "portico_access_log_dropped_total",
        "counter",
        "Access log lines dropped because the log writer fell behind.",
    );
    let _ = writeln!(
        o,
        "portico_access_log_dropped_total {}",
        total.access_log_dropped
    );
    family(
        &mut o,
        "portico_workers",
        "gauge",
        "Worker threads configured.",
    );
    let _ = writeln!(o, "portico_workers {}", p.workers);
    family(
        &mut o,
        "portico_workers_reporting",
        "gauge",
        "Workers that answered this scrape.",
    );
    let _ = writeln!(o, "portico_workers_reporting {}", per_worker.len());
    family(
        &mut o,
        "portico_ready",
        "gauge",
        "1 when every worker is serving and the gateway is not draining.",
    );
    let _ = writeln!(o, "portico_ready {}", u8::from(p.ready));
    family(
        &mut o,
        "portico_io_driver",
        "gauge",
        "The I/O driver the workers run on.",
    );
    let _ = writeln!(o, "portico_io_driver{{driver=\"{}\"}} 1", esc(p.driver));
    family(
        &mut o,
        "portico_config_info",
        "gauge",
        "The configuration (deployment) in use: a hash of its text.",
    );
    let _ = writeln!(
        o,
        "portico_config_info{{version=\"{}\"}} 1",
        esc(p.config_version)
    );
    if !p.certs.is_empty() {
        family(
            &mut o,
            "portico_tls_cert_expiry_seconds",
            "gauge",
            "Seconds until a served certificate expires (negative: expired).",
        );
        for c in p.certs {
            let _ = writeln!(
                o,
                "portico_tls_cert_expiry_seconds{{hosts=\"{}\",file=\"{}\"}} {}",
                esc(&c.hosts.join(",")),
                esc(&c.file.to_string_lossy()),
                c.not_after - p.now
            );
        }
    }
    o
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A gauge per worker.
fn worker_family(
    o: &mut String,
    name: &str,
    help: &str,
    per_worker: &[(usize, WorkerCounts)],
    value: impl Fn(&WorkerCounts) -> u64,
) {
    family(o, name, "gauge", help);
    for (w, c) in per_worker {
        let _ = writeln!(o, "{name}{{worker=\"{w}\"}} {}", value(c));
    }
}

/// A counter per API key in a plan, for keys that made calls.
fn key_family(
    o: &mut String,
    name: &str,
    help: &str,
    meters: &[MeterSpec],
    total: &WorkerCounts,
    value: impl Fn(&KeyCounts) -> u64,
) {
    family(o, name, "counter", help);
    for (spec, k) in meters
        .iter()
        .zip(&total.keys)
        .filter(|(_, k)| k.requests > 0)
    {
        let (plan, key) = (esc(&spec.plan), esc(&spec.key_id));
        let _ = writeln!(o, "{name}{{plan=\"{plan}\",key=\"{key}\"}} {}", value(k));
    }
}

fn counter_family(
    o: &mut String,
    name: &str,
    help: &str,
    used: &[(usize, String)],
    value: impl Fn(usize) -> u64,
) {
    family(o, name, "counter", help);
    for (i, l) in used {
        let _ = writeln!(o, "{name}{{{l}}} {}", value(*i));
    }
}

/// A counter split by one more label (`level`, `reason`); a value of 0 is
/// left out, as no call of that kind has happened.
fn by_reason_family<const N: usize>(
    o: &mut String,
    name: &str,
    help: &str,
    used: &[(usize, String)],
    label: &str,
    values: impl Fn(usize) -> [(&'static str, u64); N],
) {
    family(o, name, "counter", help);
    for (i, l) in used {
        for (v, n) in values(*i).into_iter().filter(|(_, n)| *n > 0) {
            let _ = writeln!(o, "{name}{{{l},{label}=\"{v}\"}} {n}");
        }
    }
}

fn histogram_family<'h>(
    o: &mut String,
    name: &str,
    help: &str,
    used: &[(usize, String)],
    hist: impl Fn(usize) -> &'h Histogram,
) {
    family(o, name, "histogram", help);
    for (i, l) in used {
        let h = hist(*i);
        for (bound, n) in h.cumulative() {
            match bound {
                Some(us) => {
                    let _ = writeln!(o, "{name}_bucket{{{l},le=\"{}\"}} {n}", us as f64 / 1e6);
                }
                None => {
                    let _ = writeln!(o, "{name}_bucket{{{l},le=\"+Inf\"}} {n}");
                }
            }
        }
        let _ = writeln!(o, "{name}_sum{{{l}}} {}", h.sum_us as f64 / 1e6);
        let _ = writeln!(o, "{name}_count{{{l}}} {}", h.count());
    }
}

fn labels(s: &SlotLabels) -> String {
    format!(
        "api=\"{}\",stage=\"{}\",method=\"{}\",resource=\"{}\"",
        esc(&s.api),
        esc(&s.stage),
        esc(&s.method),
        esc(&s.resource)
    )
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Exchange;

    #[test]
    fn renders_counters_histograms_and_escaped_labels() {
        let slots = vec![SlotLabels {
            api: "a\"b".into(),
            stage: "prod".into(),
            method: "GET".into(),
            resource: "/x/{id}".into(),
        }];
        let mut c = WorkerCounts::default();
        c.record(&Exchange {
            slot: 0,
            status: 503,
            latency_us: 1500,
            ..Exchange::default()
        });
        let text = render(
            &slots,
            &[],
            &c,
            &[(0, c.clone())],
            &Process {
                driver: "io_uring",
                config_version: "abc",
                certs: &[],
                now: 0,
                workers: 1,
                ready: true,
            },
        );
        let l = r#"api="a\"b",stage="prod",method="GET",resource="/x/{id}""#;
        assert!(
            text.contains(&format!("portico_requests_total{{{l}}} 1\n")),
            "{text}"
        );
        assert!(text.contains(&format!("portico_5xx_total{{{l},status=\"503\"}} 1\n")));
        assert!(text.contains(&format!(
            "portico_latency_seconds_bucket{{{l},le=\"0.001\"}} 0\n"
        )));
        assert!(text.contains(&format!(
            "portico_latency_seconds_bucket{{{l},le=\"0.0025\"}} 1\n"
        )));
        assert!(text.contains(&format!("portico_latency_seconds_sum{{{l}}} 0.0015\n")));
        assert!(text.contains("# TYPE portico_latency_seconds histogram\n"));
        assert!(text.contains("portico_io_driver{driver=\"io_uring\"} 1\n"));
    }
}
