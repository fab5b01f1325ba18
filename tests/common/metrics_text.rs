//! Reading `/metrics`: a strict tokenizer of the Prometheus text format
//! 0.0.4 (every line checked, label values with the format's three escapes
//! only), sample look-ups by exact or partial label set, and scrapes of the
//! admin listener, once or until a condition holds.
use super::{poll_until, Server, POLL_FOR};
use std::collections::BTreeMap;

/// The content type of `/metrics`.
pub const METRICS_CT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

pub fn parse_float(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => {
            s.parse().map_err(|_| format!("bad number {s:?}"))
        }
        _ => Err(format!("bad number {s:?}")),
    }
}

/// One sample line: `name{label="value",...} value [timestamp]`, label
/// values with the format's three escapes only.
pub fn parse_sample(line: &str) -> Result<Sample, String> {
    let mut chars = line.char_indices().peekable();
    let name_end = match chars.peek() {
        Some((_, c)) if is_name_start(*c) => {
            let mut end = line.len();
            for (i, c) in chars.by_ref() {
                if !is_name_char(c) {
                    end = i;
                    break;
                }
            }
            end
        }
        _ => return Err("sample line does not start with a metric name".into()),
    };
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let n_end = rest
                .find(|c: char| !is_name_char(c) || c == ':')
                .ok_or("label list not closed")?;
            let lname = &rest[..n_end];
            if lname.is_empty() || !is_name_start(lname.chars().next().unwrap()) {
                return Err(format!("bad label name at {rest:?}"));
            }
            rest = rest[n_end..]
                .strip_prefix("=\"")
                .ok_or_else(|| format!("label {lname} not followed by =\""))?;
            let mut value = String::new();
            let mut it = rest.char_indices();
            let close = loop {
                match it.next() {
                    None => return Err(format!("label {lname}: unterminated value")),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match it.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("label {lname}: bad escape {other:?}")),
                    },
                    Some((_, '\n')) => return Err(format!("label {lname}: raw newline")),
                    Some((_, c)) => value.push(c),
                }
            };
            if labels.insert(lname.to_string(), value).is_some() {
                return Err(format!("label {lname} given twice"));
            }
            rest = &rest[close + 1..];
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err(format!("expected , or }} after label {lname}: {rest:?}"));
            }
        }
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(format!("no blank before the value: {rest:?}"));
    }
    let mut fields = rest.split_whitespace();
    let value = parse_float(fields.next().ok_or("no value")?)?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp {ts:?}"))?;
    }
    if let Some(extra) = fields.next() {
        return Err(format!("trailing text {extra:?}"));
    }
    Ok(Sample {
        name,
        labels,
        value,
    })
}

/// A scrape: its text, each sample, and each family's declared type.
pub struct Metrics {
    pub text: String,
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, String>,
}

fn labels_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Metrics {
    /// Parses every line (panicking, with the text, on any malformed one).
    pub fn parse(text: String) -> Metrics {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let ctx = || format!("line {}: {line:?}\n--- text ---\n{text}", n + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(t) = line.strip_prefix("# TYPE ") {
                let mut it = t.split(' ');
                let (fam, ty) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                assert!(it.next().is_none(), "TYPE with extra words: {}", ctx());
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                    "unknown type: {}",
                    ctx()
                );
                assert!(
                    types.insert(fam.to_string(), ty.to_string()).is_none(),
                    "second TYPE for {fam}: {}",
                    ctx()
                );
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            samples.push(parse_sample(line).unwrap_or_else(|e| panic!("{e}: {}", ctx())));
        }
        Metrics {
            text,
            samples,
            types,
        }
    }

    /// The value of `name` with exactly the label set `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want = labels_of(labels);
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
            .collect();
        assert!(
            found.len() <= 1,
            "{name}{want:?} appears {} times",
            found.len()
        );
        found.first().copied()
    }

    /// Like [`Metrics::get`], panicking with the whole text when absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in /metrics:\n{}", self.text))
    }

    /// Samples of `name` whose labels include all of `labels`.
    pub fn matching(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The sum of every sample of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.sum_matching(name, &[])
    }

    /// The sum of the samples of `name` whose labels include all of `labels`.
    pub fn sum_matching(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).iter().map(|s| s.value).sum()
    }
}

/// GET /metrics: 200 with the 0.0.4 content type.
pub fn scrape(srv: &mut Server) -> Metrics {
    let r = srv.admin_request("GET", "/metrics", None);
    assert_eq!(r.status, 200, "/metrics: {:?}", r.body_str());
    assert_eq!(
        r.header("content-type"),
        Some(METRICS_CT),
        "/metrics content-type; headers {:?}",
        r.headers
    );
    Metrics::parse(r.body_str())
}

/// Scrapes until `pred` holds (bounded by [`POLL_FOR`]); returns that scrape.
pub fn scrape_until(srv: &mut Server, what: &str, pred: impl Fn(&Metrics) -> bool) -> Metrics {
    poll_until(
        POLL_FOR,
        || scrape(srv),
        pred,
        |m| {
            format!(
                "/metrics never showed {what} within {POLL_FOR:?}:\n{}",
                m.text
            )
        },
    )
}

/// Opens connections with `open`, four at a time, until at least `n` are
/// open and at least `workers` workers hold one (as their connection gauges
/// say): which worker the kernel hands a connection to is not ours to choose.
pub fn open_spread<C>(
    srv: &mut Server,
    n: usize,
    workers: usize,
    mut open: impl FnMut(&mut Server) -> C,
) -> Vec<C> {
    let mut conns = Vec::new();
    loop {
        for _ in 0..4 {
            conns.push(open(srv));
        }
        let total = conns.len() as f64;
        let m = scrape_until(srv, "every open connection in the gauges", |m| {
            m.sum("portico_worker_connections") == total
        });
        let holding = m
            .matching("portico_worker_connections", &[])
            .iter()
            .filter(|s| s.value >= 1.0)
            .count();
        if conns.len() >= n && holding >= workers {
            return conns;
        }
        assert!(
            conns.len() < 64 + 2 * n,
            "{} connections on {holding} of {workers} workers: {}",
            conns.len(),
            m.text
        );
    }
}
