//! Metrics on the admin listener: exact Prometheus counts per (API, stage,
//! route) slot merged over two workers, the text parsed by a real parser
//! (`prometheus-parse`) and by a strict tokenizer of the 0.0.4 format
//! (`tests/common/metrics_text.rs`),
//! `/healthz`, `/readyz` turning 503 while in-flight requests drain, and a
//! stage with `metrics = false` counting nothing.
mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

// ---------------------------------------------------------------------------
// Expected counts per slot
// ---------------------------------------------------------------------------

type Slot = [&'static str; 4];

/// Requests that reached no API.
const NO_API: Slot = ["", "", "", ""];

fn slot_labels(s: &Slot) -> Vec<(&'static str, &'static str)> {
    vec![
        ("api", s[0]),
        ("stage", s[1]),
        ("method", s[2]),
        ("resource", s[3]),
    ]
}

fn with(s: &Slot, k: &'static str, v: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut l = slot_labels(s);
    l.push((k, v));
    l
}

#[derive(Debug, Default)]
struct Expect {
    requests: u64,
    statuses: BTreeMap<u16, u64>,
    integration: u64,
    hits: u64,
    misses: u64,
    throttled: BTreeMap<&'static str, u64>,
    bytes_in: u64,
    bytes_out: u64,
}

/// What the client did and saw, per slot (and per key).
#[derive(Default)]
struct Ledger {
    slots: BTreeMap<Slot, Expect>,
    total: u64,
}

/// How the gateway dealt with a call, as far as the test knows it.
#[derive(Default, Clone, Copy)]
struct Facts {
    /// An http_proxy integration answered.
    integration: bool,
    /// `Some(true)` hit, `Some(false)` miss.
    cache: Option<bool>,
    /// The throttle level that refused it.
    throttled: Option<&'static str>,
}

impl Ledger {
    /// `req` on `c`, noted under `slot`; returns the answer.
    fn call(&mut self, c: &mut Raw, slot: Slot, req: &[u8], facts: Facts) -> Answer {
        let a = c.call(req);
        self.note(slot, req.len() as u64, &a, facts);
        a
    }

    fn note(&mut self, slot: Slot, bytes_in: u64, a: &Answer, f: Facts) {
        let e = self.slots.entry(slot).or_default();
        e.requests += 1;
        if a.status >= 400 {
            *e.statuses.entry(a.status).or_default() += 1;
        }
        e.integration += u64::from(f.integration);
        match f.cache {
            Some(true) => e.hits += 1,
            Some(false) => e.misses += 1,
            None => {}
        }
        if let Some(l) = f.throttled {
            *e.throttled.entry(l).or_default() += 1;
        }
        e.bytes_in += bytes_in;
        e.bytes_out += a.bytes;
        self.total += 1;
    }
}

/// Every family of `slot` in `m` has exactly the values of `e`.
fn assert_slot(m: &Metrics, slot: &Slot, e: &Expect) {
    let l = slot_labels(slot);
    let ctx = format!(
        "slot {slot:?} (expected {e:?})\n--- /metrics ---\n{}",
        m.text
    );
    let int = |name: &str| m.get(name, &l).map(|v| v as u64);
    assert_eq!(
        int("portico_requests_total"),
        Some(e.requests),
        "requests_total of {ctx}"
    );
    for (family, class) in [("portico_4xx_total", 4), ("portico_5xx_total", 5)] {
        let got: BTreeMap<u16, u64> = m
            .matching(family, &l)
            .iter()
            .map(|s| {
                assert_eq!(s.labels.len(), 5, "{family} labels {:?}", s.labels);
                (s.labels["status"].parse().unwrap(), s.value as u64)
            })
            .collect();
        let want: BTreeMap<u16, u64> = e
            .statuses
            .iter()
            .filter(|(s, _)| **s / 100 == class)
            .map(|(s, n)| (*s, *n))
            .collect();
        assert_eq!(got, want, "{family} by status of {ctx}");
    }
    assert_eq!(
        int("portico_latency_seconds_count"),
        Some(e.requests),
        "latency _count of {ctx}"
    );
    assert_eq!(
        m.get("portico_latency_seconds_bucket", &with(slot, "le", "+Inf"))
            .map(|v| v as u64),
        Some(e.requests),
        "latency +Inf bucket of {ctx}"
    );
    assert!(
        m.value("portico_latency_seconds_sum", &l) > 0.0,
        "latency _sum of {ctx}"
    );
    assert_eq!(
        int("portico_integration_latency_seconds_count"),
        Some(e.integration),
        "integration latency _count of {ctx}"
    );
    let isum = m.value("portico_integration_latency_seconds_sum", &l);
    assert_eq!(
        isum > 0.0,
        e.integration > 0,
        "integration latency _sum {isum} of {ctx}"
    );
    assert_eq!(
        int("portico_cache_hits_total"),
        Some(e.hits),
        "hits of {ctx}"
    );
    assert_eq!(
        int("portico_cache_misses_total"),
        Some(e.misses),
        "misses of {ctx}"
    );
    let throttled: BTreeMap<String, u64> = m
        .matching("portico_throttled_total", &l)
        .iter()
        .map(|s| (s.labels["level"].clone(), s.value as u64))
        .collect();
    let want: BTreeMap<String, u64> = e
        .throttled
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(throttled, want, "throttled by level of {ctx}");
    assert_eq!(
        int("portico_bytes_in_total"),
        Some(e.bytes_in),
        "bytes_in of {ctx}"
    );
    assert_eq!(
        int("portico_bytes_out_total"),
        Some(e.bytes_out),
        "bytes_out of {ctx}"
    );
}

/// No sample of any family carries the labels of `slot`.
fn assert_slot_absent(m: &Metrics, slot: &Slot) {
    let l = slot_labels(slot);
    let found: Vec<&Sample> = m
        .samples
        .iter()
        .filter(|s| {
            l.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(
        found.is_empty(),
        "slot {slot:?} had no requests but has samples: {found:#?}"
    );
}

// ---------------------------------------------------------------------------
// The traffic of the exact-count and validity tests
// ---------------------------------------------------------------------------

const PLAN: &str = "gold";

/// API `shop` (id `shop-id`, any host) with stage `prod` (cached; route
/// throttle on `GET /limited`) on `backend`; `GET /down` proxies to `down`,
/// a closed port. Only `GET /cached` is cached.
fn shop_config(backend: &str, down: u16) -> Config {
    let mock = |method: &str, path: &str, extra: &str, body: &str| {
        format!(
            "[[api.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\ncache = {{ enabled = false }}\n{extra}\
             integration = {{ type = \"mock\", status = 200, headers = {{ \"content-type\" = \"text/plain\" }}, body = '{body}' }}\n\n"
        )
    };
    let proxy = |method: &str, path: &str, cache: bool, uri: &str| {
        let cache = if cache {
            ""
        } else {
            "cache = { enabled = false }\n"
        };
        format!(
            "[[api.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n{cache}\
             integration = {{ type = \"http_proxy\", uri = \"{uri}\" }}\n\n"
        )
    };
    let mut s = format!(
        "[[api]]\nname = \"shop\"\nid = \"shop-id\"\nhosts = []\n\n\
         [api.stages.prod]\nvariables = {{ backend = \"{backend}\" }}\n\
         route_throttle = {{ \"GET /limited\" = {{ rate = 0.001, burst = 1 }} }}\n\n\
         [api.stages.prod.cache]\ncapacity = \"1MB\"\n\n"
    );
    s += &mock("GET", "/hello", "", "hello");
    s += &mock("GET", "/items/{id}", "", "item");
    s += &mock("GET", "/keyed", "api_key_required = true\n", "keyed");
    s += &mock("GET", "/limited", "", "limited");
    s += &mock("GET", "/unused", "", "unused");
    s += &proxy("ANY", "/up", false, "http://${stageVariables.backend}/up");
    s += &proxy(
        "GET",
        "/cached",
        true,
        "http://${stageVariables.backend}/cached",
    );
    s += &proxy(
        "GET",
        "/down",
        false,
        &format!("http://127.0.0.1:{down}/down"),
    );
    let alice = alice_key_toml(&[PLAN]);
    Config::new(&s)
        .server("workers", "2")
        .append(&(plan_toml(PLAN, "", "shop", "prod", "") + &alice))
}

const HELLO: Slot = ["shop", "prod", "GET", "/hello"];
const ITEMS: Slot = ["shop", "prod", "GET", "/items/{id}"];
const KEYED: Slot = ["shop", "prod", "GET", "/keyed"];
const LIMITED: Slot = ["shop", "prod", "GET", "/limited"];
const UNUSED: Slot = ["shop", "prod", "GET", "/unused"];
const UP: Slot = ["shop", "prod", "ANY", "/up"];
const CACHED: Slot = ["shop", "prod", "GET", "/cached"];
const DOWN: Slot = ["shop", "prod", "GET", "/down"];
const UNROUTED: Slot = ["shop", "prod", "", ""];

/// The server of [`shop_config`] after a known sequence of calls.
struct Shop {
    srv: Server,
    _up: Upstream,
    ledger: Ledger,
    /// Bytes received for the one admitted keyed call.
    alice_bytes: u64,
    /// Client connections still open.
    conns: Vec<Raw>,
}

/// Opens connections, one `GET /prod/hello` on each, until both workers
/// hold at least one of them, so the counts of the slot come from two
/// workers.
fn hello_on_both_workers(srv: &mut Server, ledger: &mut Ledger) -> Vec<Raw> {
    open_spread(srv, 1, 2, |srv| {
        let mut c = Raw::connect(srv.port);
        let a = ledger.call(
            &mut c,
            HELLO,
            get("/prod/hello").as_bytes(),
            Facts::default(),
        );
        assert_status(&a, 200, "GET /prod/hello");
        assert_eq!(a.body_str(), "hello");
        c
    })
}

fn shop_traffic() -> Shop {
    let up = Upstream::start(|rec| {
        Reply::Send(http_response(
            200,
            &[("content-type", "text/plain")],
            format!("up:{}", rec.target).as_bytes(),
        ))
    });
    let mut srv = Server::start(&shop_config(&up.addr(), refused_port()));
    let mut ledger = Ledger::default();
    let none = Facts::default();
    let proxied = Facts {
        integration: true,
        ..Facts::default()
    };

    let mut conns = hello_on_both_workers(&mut srv, &mut ledger);
    let mut c = Raw::connect(srv.port);

    for path in ["/prod/items/7", "/prod/items/8?x=1"] {
        let a = ledger.call(&mut c, ITEMS, get(path).as_bytes(), none);
        assert_status(&a, 200, path);
    }
    let a = ledger.call(&mut c, UNROUTED, get("/prod/nope").as_bytes(), none);
    assert_status(&a, 403, "unknown route");
    assert_eq!(a.body_str(), format!("{{\"message\":\"{MISSING_TOKEN}\"}}"));
    let a = ledger.call(&mut c, NO_API, get("/nostage/x").as_bytes(), none);
    assert_status(&a, 403, "unknown stage");

    let a = ledger.call(&mut c, KEYED, get("/prod/keyed").as_bytes(), none);
    assert_status(&a, 403, "keyed route without a key");
    assert!(a.body_str().contains(FORBIDDEN), "{:?}", a.body_str());
    let a = ledger.call(&mut c, KEYED, &get_with_key("/prod/keyed", ALICE), none);
    assert_status(&a, 200, "keyed route with alice's key");
    let alice_bytes = a.bytes;

    // On a connection of its own: after a failed proxy call the next proxied
    // call on the same connection gets a stale answer (see
    // `proxied_call_after_a_502_gets_its_own_answer`).
    let mut d = Raw::connect(srv.port);
    let a = ledger.call(&mut d, DOWN, get("/prod/down").as_bytes(), none);
    assert_status(&a, 502, "upstream port closed");
    conns.push(d);

    for body in [&b"first body"[..], b"second, longer body"] {
        let req = request("POST", "/prod/up", "localhost", &[], body);
        let a = ledger.call(&mut c, UP, &req, proxied);
        assert_status(&a, 200, "POST /prod/up");
        assert_eq!(a.body_str(), "up:/up");
    }

    // One token in the whole server for GET /limited: one call at most is
    // admitted (on two workers the token may sit with the other one).
    let mut limited = (0, 0);
    for _ in 0..3 {
        let a = c.call(get("/prod/limited").as_bytes());
        let throttled = a.status == 429;
        ledger.note(
            LIMITED,
            get("/prod/limited").len() as u64,
            &a,
            Facts {
                throttled: throttled.then_some("route"),
                ..none
            },
        );
        match a.status {
            200 => limited.0 += 1,
            429 => limited.1 += 1,
            s => panic!("GET /prod/limited: status {s} {:?}", a.body_str()),
        }
    }
    assert!(
        limited.0 <= 1 && limited.1 >= 2,
        "GET /prod/limited (burst 1): admitted, throttled = {limited:?}"
    );

    // A miss, then a hit on the same connection (the shard is per worker).
    for (nth, hit) in [(1, false), (2, true)] {
        let facts = Facts {
            integration: !hit,
            cache: Some(hit),
            ..none
        };
        let a = ledger.call(&mut c, CACHED, get("/prod/cached").as_bytes(), facts);
        assert_status(&a, 200, "GET /prod/cached");
        let want = if hit { "Hit" } else { "Miss" };
        assert_eq!(a.header("x-cache"), Some(want), "x-cache of call {nth}");
    }
    conns.push(c);
    Shop {
        srv,
        _up: up,
        ledger,
        alice_bytes,
        conns,
    }
}

/// Scrapes until the requests of every slot add up to what was sent.
fn settled(shop: &mut Shop) -> Metrics {
    let total = shop.ledger.total as f64;
    scrape_until(&mut shop.srv, "every request counted", |m| {
        m.sum("portico_requests_total") == total
    })
}

// ---------------------------------------------------------------------------
// 1. Exact counts
// ---------------------------------------------------------------------------

#[test]
fn known_calls_give_exact_counts_merged_over_two_workers() {
    let mut shop = shop_traffic();
    let m = settled(&mut shop);
    let ledger = &shop.ledger;

    for (slot, e) in &ledger.slots {
        assert_slot(&m, slot, e);
    }
    // Nothing else is counted: no other slot, no unused route.
    let slots: BTreeSet<Vec<String>> = m
        .matching("portico_requests_total", &[])
        .iter()
        .map(|s| {
            ["api", "stage", "method", "resource"]
                .iter()
                .map(|k| s.labels.get(*k).cloned().unwrap_or_default())
                .collect()
        })
        .collect();
    let want: BTreeSet<Vec<String>> = ledger
        .slots
        .keys()
        .map(|s| s.iter().map(|x| x.to_string()).collect())
        .collect();
    assert_eq!(slots, want, "slots with requests\n{}", m.text);
    assert_slot_absent(&m, &UNUSED);

    // The spot checks the ledger stands for, written out.
    let hello = &ledger.slots[&HELLO];
    assert!(hello.requests >= 4);
    assert_eq!(hello.integration, 0);
    assert_eq!(
        m.value("portico_throttled_total", &with(&LIMITED, "level", "route")) as u64,
        ledger.slots[&LIMITED].throttled["route"]
    );
    for (family, labels, want) in [
        ("portico_5xx_total", with(&DOWN, "status", "502"), 1.0),
        ("portico_4xx_total", with(&KEYED, "status", "403"), 1.0),
        ("portico_4xx_total", with(&UNROUTED, "status", "403"), 1.0),
        ("portico_4xx_total", with(&NO_API, "status", "403"), 1.0),
        ("portico_cache_hits_total", slot_labels(&CACHED), 1.0),
        ("portico_cache_misses_total", slot_labels(&CACHED), 1.0),
        (
            "portico_integration_latency_seconds_count",
            slot_labels(&UP),
            2.0,
        ),
    ] {
        assert_eq!(m.value(family, &labels), want, "{family}{labels:?}");
    }

    // The key that was admitted once, with the bytes it got.
    let key = [("plan", PLAN), ("key", "alice-id")];
    assert_eq!(m.value("portico_key_requests_total", &key), 1.0);
    assert_eq!(
        m.value("portico_key_bytes_out_total", &key) as u64,
        shop.alice_bytes
    );
    assert_eq!(m.matching("portico_key_requests_total", &[]).len(), 1);

    // Process gauges.
    assert_eq!(m.value("portico_workers", &[]), 2.0);
    assert_eq!(m.value("portico_workers_reporting", &[]), 2.0);
    assert_eq!(m.value("portico_ready", &[]), 1.0);
    assert_eq!(
        m.sum("portico_worker_connections") as usize,
        shop.conns.len(),
        "connections held by the test"
    );
    assert!(
        m.sum("portico_upstream_pool_idle_connections") >= 1.0,
        "the upstream's keep-alive connection is pooled\n{}",
        m.text
    );
    assert_eq!(m.value("portico_access_log_lines_total", &[]), 0.0);
    assert_eq!(m.value("portico_access_log_dropped_total", &[]), 0.0);
    let drivers = m.matching("portico_io_driver", &[]);
    assert_eq!(drivers.len(), 1, "{}", m.text);
    assert_eq!(drivers[0].value, 1.0);
    let driver = &drivers[0].labels["driver"];
    assert!(
        shop.srv.startup.iter().any(|l| l.contains(driver.as_str())),
        "driver {driver:?} is not the one the start-up named: {:?}",
        shop.srv.startup
    );
    let info = m.matching("portico_config_info", &[]);
    assert_eq!(info.len(), 1, "{}", m.text);
    assert_eq!(info[0].value, 1.0);
    let version = &info[0].labels["version"];
    assert!(
        version.len() == 12 && version.chars().all(|c| c.is_ascii_hexdigit()),
        "config version {version:?}"
    );

    // Counts only grow: one more call shows up as exactly one more.
    let mut c = Raw::connect(shop.srv.port);
    let a = c.call(get("/prod/hello").as_bytes());
    assert_status(&a, 200, "one more hello");
    let before = m.value("portico_requests_total", &slot_labels(&HELLO));
    let m2 = scrape_until(&mut shop.srv, "the extra hello", |m| {
        m.get("portico_requests_total", &slot_labels(&HELLO)) == Some(before + 1.0)
    });
    assert_eq!(
        m2.sum("portico_requests_total"),
        shop.ledger.total as f64 + 1.0
    );
}

// ---------------------------------------------------------------------------
// 2. Validity of the text
// ---------------------------------------------------------------------------

/// The `le` bounds of every histogram, in seconds.
const BOUNDS: [&str; 17] = [
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];

/// The family a sample belongs to: its name, or for a histogram's series
/// the name less `_bucket`, `_sum` or `_count`.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
    })
}

fn without_le(l: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut l = l.clone();
    l.remove("le");
    l
}

/// A label value the `prometheus-parse` crate can read: its regex ends
/// the label list at the first `}` and splits pairs on `,` and `=`.
fn crate_can_read(s: &Sample) -> bool {
    s.labels
        .values()
        .all(|v| !v.contains(['{', '}', ',', '=', '"', '\\']))
}

#[test]
fn metrics_text_is_valid_prometheus() {
    let mut shop = shop_traffic();
    let m = settled(&mut shop);
    let text = &m.text;
    assert!(text.ends_with('\n'), "the text ends without a newline");

    // Every family has one TYPE and one HELP, before its samples, and its
    // lines form one group.
    let mut seen_families: Vec<String> = Vec::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    for line in text.lines() {
        let fam = if let Some(h) = line.strip_prefix("# HELP ") {
            let (fam, help) = h.split_once(' ').expect("HELP with text");
            assert!(!help.trim().is_empty(), "empty HELP for {fam}");
            assert!(helped.insert(fam.to_string()), "second HELP for {fam}");
            fam.to_string()
        } else if let Some(t) = line.strip_prefix("# TYPE ") {
            let fam = t.split(' ').next().unwrap().to_string();
            assert!(
                !seen_families.contains(&fam),
                "TYPE of {fam} after its samples or HELP group\n{text}"
            );
            seen_families.push(fam.clone());
            continue;
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else {
            let name = parse_sample(line).unwrap().name;
            family_of(&name, &m.types)
                .unwrap_or_else(|| panic!("sample {name} has no TYPE\n{text}"))
                .to_string()
        };
        let last = seen_families.last().cloned().unwrap_or_default();
        if fam != last {
            // A HELP may open a family's group; a sample may not.
            assert!(
                line.starts_with("# HELP ") && !seen_families.contains(&fam),
                "lines of {fam} are not one group (after {last})\n{text}"
            );
        }
    }
    for fam in m.types.keys() {
        assert!(helped.contains(fam), "no HELP for {fam}");
    }
    let names: Vec<&str> = m.types.keys().map(String::as_str).collect();
    for want in [
        "portico_requests_total",
        "portico_4xx_total",
        "portico_5xx_total",
        "portico_latency_seconds",
        "portico_integration_latency_seconds",
        "portico_cache_hits_total",
        "portico_cache_misses_total",
        "portico_throttled_total",
        "portico_bytes_in_total",
        "portico_bytes_out_total",
        "portico_key_requests_total",
        "portico_key_bytes_out_total",
        "portico_worker_connections",
        "portico_worker_quiet_connections",
        "portico_upstream_pool_idle_connections",
        "portico_access_log_lines_total",
        "portico_access_log_dropped_total",
        "portico_workers",
        "portico_workers_reporting",
        "portico_ready",
        "portico_io_driver",
        "portico_config_info",
    ] {
        assert!(names.contains(&want), "family {want} missing: {names:?}");
    }
    for (fam, ty) in &m.types {
        let want = if fam.ends_with("_seconds") {
            "histogram"
        } else if fam.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        assert_eq!(ty, want, "TYPE of {fam}");
    }

    // No two samples share a name and label set; counters are whole and
    // not negative.
    let mut keys = BTreeSet::new();
    for s in &m.samples {
        assert!(
            keys.insert((s.name.clone(), s.labels.clone())),
            "duplicate sample {} {:?}",
            s.name,
            s.labels
        );
        if m.types.get(&s.name).map(String::as_str) == Some("counter") {
            assert!(
                s.value >= 0.0 && s.value.fract() == 0.0,
                "counter {} {:?} = {}",
                s.name,
                s.labels,
                s.value
            );
        }
    }

    // Histograms: the 17 bounds in order, cumulative, +Inf = _count, a _sum.
    let mut series = 0;
    for (fam, _) in m.types.iter().filter(|(_, t)| *t == "histogram") {
        let bucket = format!("{fam}_bucket");
        let mut groups: BTreeMap<BTreeMap<String, String>, Vec<(String, f64)>> = BTreeMap::new();
        for s in m.samples.iter().filter(|s| s.name == bucket) {
            groups
                .entry(without_le(&s.labels))
                .or_default()
                .push((s.labels["le"].clone(), s.value));
        }
        assert!(!groups.is_empty(), "{fam} has no series");
        for (labels, buckets) in &groups {
            series += 1;
            let les: Vec<&str> = buckets.iter().map(|(le, _)| le.as_str()).collect();
            assert_eq!(les, BOUNDS, "{fam}{labels:?} bounds");
            for w in buckets.windows(2) {
                assert!(
                    w[0].1 <= w[1].1,
                    "{fam}{labels:?} buckets not cumulative: {buckets:?}"
                );
            }
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let count = m.value(&format!("{fam}_count"), &pairs);
            assert_eq!(
                buckets.last().unwrap().1,
                count,
                "{fam}{labels:?}: +Inf bucket vs _count"
            );
            let sum = m.value(&format!("{fam}_sum"), &pairs);
            assert!(sum >= 0.0 && sum.is_finite(), "{fam}{labels:?} _sum {sum}");
            assert_eq!(count == 0.0, sum == 0.0, "{fam}{labels:?} _sum {sum}");
        }
    }
    assert!(series >= 2 * shop.ledger.slots.len());

    // The real parser: it takes the whole text, and every sample it can
    // represent comes out with the same value.
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("prometheus-parse rejects the text");
    for fam in m.types.keys() {
        assert!(
            scrape.docs.contains_key(fam),
            "prometheus-parse found no HELP for {fam}"
        );
    }
    let find = |name: &str, labels: &BTreeMap<String, String>| {
        scrape
            .samples
            .iter()
            .find(|p| {
                p.metric == name
                    && p.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| p.labels.get(k) == Some(v.as_str()))
            })
            .unwrap_or_else(|| {
                panic!("prometheus-parse lost {name}{labels:?}; it read {scrape:#?}")
            })
    };
    let mut checked = 0;
    for s in m.samples.iter().filter(|s| crate_can_read(s)) {
        let fam = family_of(&s.name, &m.types).unwrap();
        if m.types[fam] == "histogram" {
            if s.name.ends_with("_bucket") {
                let p = find(fam, &without_le(&s.labels));
                let prometheus_parse::Value::Histogram(hs) = &p.value else {
                    panic!("{fam} is not a histogram for prometheus-parse: {p:?}");
                };
                let le = parse_float(&s.labels["le"]).unwrap();
                let hc = hs
                    .iter()
                    .find(|h| h.less_than == le)
                    .unwrap_or_else(|| panic!("bucket le={le} of {fam} lost: {hs:?}"));
                assert_eq!(hc.count, s.value, "{fam} bucket le={le}");
            } else {
                // _sum and _count: read as untyped by this parser.
                assert_eq!(
                    find(&s.name, &s.labels).value,
                    prometheus_parse::Value::Untyped(s.value)
                );
            }
        } else {
            let want = match m.types[fam].as_str() {
                "counter" => prometheus_parse::Value::Counter(s.value),
                _ => prometheus_parse::Value::Gauge(s.value),
            };
            assert_eq!(
                find(&s.name, &s.labels).value,
                want,
                "{} {:?}",
                s.name,
                s.labels
            );
        }
        checked += 1;
    }
    // The slots without braces in their template, and the process gauges.
    assert!(
        checked > m.samples.len() / 2,
        "prometheus-parse could check only {checked} of {} samples",
        m.samples.len()
    );
}

// ---------------------------------------------------------------------------
// 3. Health and readiness while draining
// ---------------------------------------------------------------------------

fn admin_json(srv: &mut Server, path: &str) -> (u16, serde_json::Value) {
    let r = srv.admin_request("GET", path, None);
    let ct = r.header("content-type").unwrap_or("").to_string();
    assert!(
        ct.starts_with("application/json"),
        "{path}: content-type {ct:?}"
    );
    (r.status, r.json())
}

#[test]
fn readyz_turns_503_while_in_flight_requests_drain() {
    let (held, mut srv) = HeldRequest::start_demo("8000");
    assert_eq!(
        admin_json(&mut srv, "/healthz"),
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        admin_json(&mut srv, "/readyz"),
        (200, serde_json::json!({"status": "ready"}))
    );

    let mut c = held.hold(&srv, "held");

    srv.sigterm();
    let (_, body) = poll_until(
        POLL_FOR,
        || {
            let (status, body) = admin_json(&mut srv, "/readyz");
            assert!(
                status == 200 || status == 503,
                "/readyz after SIGTERM: {status} {body}"
            );
            (status, body)
        },
        |(status, _)| *status == 503,
        |(status, body)| {
            format!("/readyz after SIGTERM: {status} {body} (want 503 within {POLL_FOR:?})")
        },
    );
    assert_eq!(body, serde_json::json!({"status": "draining"}));
    // Still draining: the request is held, /metrics says not ready and
    // still counts the workers.
    let m = scrape(&mut srv);
    assert_eq!(m.value("portico_ready", &[]), 0.0, "{}", m.text);
    assert_eq!(m.value("portico_workers", &[]), 2.0);
    // The worker holding the request is still there (the idle one may be gone).
    assert!(
        m.value("portico_workers_reporting", &[]) >= 1.0,
        "{}",
        m.text
    );
    assert_eq!(admin_json(&mut srv, "/readyz").0, 503);

    held.release(&mut c);
    srv.expect_clean_exit(Duration::from_secs(10), "after draining");
}

// ---------------------------------------------------------------------------
// 4. metrics = false
// ---------------------------------------------------------------------------

#[test]
fn stage_with_metrics_off_counts_nothing() {
    let api = "[[api]]\nname = \"m\"\nhosts = []\n\n\
               [api.stages.prod]\nvariables = {}\n\n\
               [api.stages.quiet]\nvariables = {}\nmetrics = false\n\n"
        .to_string()
        + &mock_route("GET", "/a", false, "a")
        + &mock_route("GET", "/b", false, "b");
    let mut srv = Server::start(&Config::new(&api).server("workers", "2"));
    let mut c = Raw::connect(srv.port);
    c.get_each(&[
        ("/quiet/a", 200),
        ("/quiet/a", 200),
        ("/quiet/b", 200),
        ("/quiet/nope", 403),
        ("/prod/a", 200),
        ("/prod/a", 200),
        ("/prod/a", 200),
        ("/quiet/a", 200),
    ]);
    let prod_a = slot_labels(&["m", "prod", "GET", "/a"]);
    let m = scrape_until(&mut srv, "the three prod calls", |m| {
        m.get("portico_requests_total", &prod_a) == Some(3.0)
    });
    // Once prod's last call is counted, the quiet calls before it were
    // handled too: none is anywhere, not even among unrouted calls.
    let quiet: Vec<&Sample> = m
        .samples
        .iter()
        .filter(|s| s.labels.get("stage").map(String::as_str) == Some("quiet"))
        .collect();
    assert!(quiet.is_empty(), "stage quiet was counted: {quiet:#?}");
    assert_eq!(
        m.sum("portico_requests_total"),
        3.0,
        "only prod's calls are counted\n{}",
        m.text
    );
    assert_eq!(m.value("portico_latency_seconds_count", &prod_a), 3.0);
    assert!(m
        .matching("portico_requests_total", &[("api", "")])
        .is_empty());
}

// ---------------------------------------------------------------------------
// Found while writing these tests: a failed proxy call's request bytes stay
// in the connection's upstream buffer and go out before the next one's
// ---------------------------------------------------------------------------

/// Routes `ANY /proxy/{proxy+}` (to the upstream), `ANY /slow/{proxy+}`
/// (to the upstream, 300 ms timeout) and `GET /down` (a closed port).
fn stale_config(up: &Upstream) -> Config {
    let backend = up.addr();
    let down = refused_port();
    Config::new(&format!(
        "[[api]]\nname = \"p\"\nhosts = []\n\n\
         [api.stages.prod]\nvariables = {{ backend = \"{backend}\" }}\n\n\
         [[api.routes]]\nmethod = \"ANY\"\npath = \"/proxy/{{proxy+}}\"\n\
         integration = {{ type = \"http_proxy\", uri = \"http://${{stageVariables.backend}}/{{proxy}}\" }}\n\n\
         [[api.routes]]\nmethod = \"ANY\"\npath = \"/slow/{{proxy+}}\"\n\
         integration = {{ type = \"http_proxy\", uri = \"http://${{stageVariables.backend}}/{{proxy}}\", timeout_ms = 300 }}\n\n\
         [[api.routes]]\nmethod = \"GET\"\npath = \"/down\"\n\
         integration = {{ type = \"http_proxy\", uri = \"http://127.0.0.1:{down}/down\" }}\n"
    ))
}

/// Answers `up:TARGET`, except `/stall`, which it never answers.
fn echo_upstream() -> Upstream {
    Upstream::start(|rec| {
        if rec.target == "/stall" {
            return Reply::Stall;
        }
        Reply::Send(http_response(
            200,
            &[("content-type", "text/plain")],
            format!("up:{}", rec.target).as_bytes(),
        ))
    })
}

#[test]
fn proxied_call_after_a_502_gets_its_own_answer() {
    let up = echo_upstream();
    let srv = Server::start(&stale_config(&up));
    let mut c = Raw::connect(srv.port);
    assert_status(&c.call(get("/prod/down").as_bytes()), 502, "GET /prod/down");
    let a = c.call(get("/prod/proxy/next").as_bytes());
    assert_status(&a, 200, "GET /prod/proxy/next after a 502");
    let first = up.recv();
    assert_eq!(
        (first.method.as_str(), first.target.as_str()),
        ("GET", "/next"),
        "the upstream got the failed call's request first"
    );
    assert_eq!(a.body_str(), "up:/next", "the answer is another request's");
}

#[test]
fn proxied_call_after_a_504_is_not_preceded_by_a_replay() {
    let up = echo_upstream();
    let srv = Server::start(&stale_config(&up));
    let mut c = Raw::connect(srv.port);
    let post = request("POST", "/prod/slow/stall", "localhost", &[], b"pay 10");
    assert_status(&c.call(&post), 504, "POST /prod/slow/stall");
    assert_eq!(up.recv().target, "/stall");
    // What reaches the upstream next, before waiting for the answer (a
    // replayed /stall would never be answered).
    c.send(get("/prod/proxy/next").as_bytes());
    let next = up.recv();
    assert_eq!(
        (
            next.method.as_str(),
            next.target.as_str(),
            next.body.as_slice()
        ),
        ("GET", "/next", &b""[..]),
        "after the 504 the upstream got a replay of the timed-out POST"
    );
    let a = c.read_answer();
    assert_status(&a, 200, "GET /prod/proxy/next after a 504");
    assert_eq!(a.body_str(), "up:/next");
}

// ---------------------------------------------------------------------------
// Per-key counts: only the calls the usage plan admitted
// ---------------------------------------------------------------------------

#[test]
fn key_counts_hold_only_admitted_calls() {
    // Plan gold lets each key make one call (burst 1, a token per 1000 s).
    let api = api_toml(
        "t",
        &[],
        &["prod"],
        &[mock_route("GET", "/keyed", true, "keyed")],
    );
    let cfg = Config::new(&api).append(&gold_plan_alice_bob(
        "t",
        "throttle = { rate = 0.001, burst = 1 }",
        "",
    ));
    let mut srv = Server::start(&cfg);
    let mut c = Raw::connect(srv.port);
    let req = get_with_key("/prod/keyed", ALICE);
    let admitted = c.call(&req);
    assert_status(&admitted, 200, "alice's first call");
    for i in 0..2 {
        assert_status(&c.call(&req), 429, &format!("alice's call {}", i + 2));
    }
    let slot: Slot = ["t", "prod", "GET", "/keyed"];
    let m = scrape_until(&mut srv, "alice's three calls", |m| {
        m.get("portico_requests_total", &slot_labels(&slot)) == Some(3.0)
    });
    assert_eq!(
        m.value("portico_throttled_total", &with(&slot, "level", "key")),
        2.0
    );
    // `portico usage` counts the one admitted call; the per-key metrics
    // ("in the usage plan that admitted them") must agree.
    let usage = wait_usage(&cfg, "gold", POLL_FOR, "alice's admitted call", |u| {
        u.calls("alice-id") >= 1
    });
    assert_eq!(usage.calls("alice-id"), 1, "portico usage: {}", usage.json);
    let key = [("plan", "gold"), ("key", "alice-id")];
    assert_eq!(
        (
            m.value("portico_key_requests_total", &key),
            m.value("portico_key_bytes_out_total", &key) as u64
        ),
        (1.0, admitted.bytes),
        "requests and bytes of the admitted call only\n{}",
        m.text
    );
    assert!(m
        .get(
            "portico_key_requests_total",
            &[("plan", "gold"), ("key", "bob-id")]
        )
        .is_none());
}
