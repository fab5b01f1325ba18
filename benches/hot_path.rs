//! Hot-path pieces in isolation: request-head parse, path normalisation,
//! route lookup, response-head write. Run with `cargo bench`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use portico::config::{LimitsConfig, MethodSpec};
use portico::http::{parse_request_head, write_error, ErrorResponse, Head, Method};
use portico::router::{PathTemplate, RouteTable};
use portico::throttle::{monotonic_ns, Catalog, Cells, Instruction, Level, Local, Order};
use std::sync::Arc;

const REQUEST: &[u8] = b"GET /prod/items/42?verbose=1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Request-Id: abc-123\r\n\r\n";

fn parse(c: &mut Criterion) {
    let limits = LimitsConfig::default();
    let mut head = Head::default();
    c.bench_function("parse_request_head", |b| {
        b.iter(|| parse_request_head(black_box(REQUEST), &limits, &mut head).unwrap())
    });
}

/// A canonical path costs a scan; one with escapes and dot segments is rewritten.
fn normalize(c: &mut Criterion) {
    use portico::http::path::{normalize, PathRules};
    let rules = PathRules::default();
    let mut out = Vec::new();
    c.bench_function("path_normalize_canonical", |b| {
        b.iter(|| {
            normalize(black_box(b"/prod/items/42/parts/7"), &rules, &mut out).map(|p| p.len())
        })
    });
    c.bench_function("path_normalize_rewrite", |b| {
        b.iter(|| {
            normalize(
                black_box(b"/prod/items/%34%32/./parts//x/../7/"),
                &rules,
                &mut out,
            )
            .map(|p| p.len())
        })
    });
}

fn route(c: &mut Criterion) {
    let mut table = RouteTable::default();
    let routes = [
        "/hello",
        "/items",
        "/items/{id}",
        "/items/{id}/parts/{part}",
        "/users/{user}",
        "/proxy/{proxy+}",
    ];
    for (i, p) in routes.iter().enumerate() {
        table
            .insert(
                MethodSpec::One(Method::Get),
                &PathTemplate::try_from(p.to_string()).unwrap(),
                i,
            )
            .unwrap();
    }
    c.bench_function("route_lookup", |b| {
        b.iter(|| {
            table
                .find(Method::Get, black_box("/items/42/parts/7"))
                .map(|m| m.route)
        })
    });
}

fn response(c: &mut Criterion) {
    let mut out = Vec::with_capacity(512);
    let err = ErrorResponse::new(403, "Missing Authentication Token");
    c.bench_function("write_response_head", |b| {
        b.iter(|| {
            out.clear();
            write_error(
                &mut out,
                black_box(err),
                b"0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
                b"Wed, 25 Nov 2026 09:00:00 GMT",
                b"",
                false,
            );
            out.len()
        })
    });
}

/// The throttle step of a call on a key-required route: account, route,
/// plan and key buckets plus the key's quota, on one worker's balances;
/// then with two of the buckets shared cells (small limits).
fn throttle(c: &mut Criterion) {
    use portico::config::{QuotaConfig, QuotaPeriod, Throttle};
    let t = Throttle {
        rate: 1e9,
        burst: 1 << 40,
    };
    let mut catalog = Catalog::new(t);
    let ids: Vec<u32> = [Level::Route, Level::Plan, Level::Plan]
        .into_iter()
        .enumerate()
        .map(|(i, level)| catalog.bucket(level, format!("b{i}"), t))
        .collect();
    let quota = QuotaConfig {
        limit: u64::MAX / 4,
        period: QuotaPeriod::Month,
        offset: 0,
    };
    let meter = catalog.meter("plan", "key", Some(quota));
    let mut local = Local::new(&catalog);
    for id in 0..4 {
        local.apply(Instruction::Bucket(id, Order::Grant(u64::MAX / 8)));
    }
    local.apply(Instruction::Meter {
        id: meter,
        epoch: 0,
        period_end: i64::MAX,
        order: Order::Grant(u64::MAX / 8),
    });
    let buckets = [0, ids[0], ids[1], ids[2]];
    let now = monotonic_ns();
    c.bench_function("throttle_admit_account_only", |b| {
        b.iter(|| local.admit(black_box(&buckets[..1]), None, 0, || now))
    });
    c.bench_function("throttle_admit_4_buckets_and_quota", |b| {
        b.iter(|| local.admit(black_box(&buckets), Some(meter), 0, || now))
    });
    // Small limits mixed in: the plan and key buckets are shared cells (one
    // compare-and-swap each; their rate is high here only so that every
    // call is admitted, the costlier path), account and route are leased.
    let cells = Cells::new(&catalog.buckets, |b| b.level == Level::Plan);
    let mut mixed = Local::new(&catalog);
    mixed.apply(Instruction::Cells(Arc::new(cells)));
    for id in [0, ids[0]] {
        mixed.apply(Instruction::Bucket(id, Order::Grant(u64::MAX / 8)));
    }
    c.bench_function("throttle_admit_4_mixed_buckets", |b| {
        b.iter(|| mixed.admit(black_box(&buckets), None, 0, || now))
    });
    // With a clock read of its own; the pipeline passes the time it read
    // when the head arrived instead (a call behind an authorizer reads it
    // again, as here).
    c.bench_function("throttle_admit_4_mixed_buckets_reading_the_clock", |b| {
        b.iter(|| mixed.admit(black_box(&buckets), None, 0, monotonic_ns))
    });
}

/// What monitoring adds to a request: counting it, and one JSON access log line.
fn monitoring(c: &mut Criterion) {
    use portico::metrics::{Exchange, Fields, Format, WorkerCounts};
    let mut counts = WorkerCounts::default();
    let ex = Exchange {
        slot: 3,
        status: 200,
        latency_us: 180,
        integration_us: Some(120),
        bytes_in: 80,
        bytes_out: 200,
        ..Exchange::default()
    };
    c.bench_function("metrics_record", |b| {
        b.iter(|| counts.record(black_box(&ex)))
    });
    let format = Format::compile("json").unwrap();
    let fields = Fields {
        request_id: b"7b7e3b6c-3f0e-4c4e-9d5e-2f6a8d1c0b9a",
        source_ip: "127.0.0.1",
        request_time: b"25/Nov/2026:12:03:21 +0000",
        request_time_epoch_ms: 1_795_000_000_123,
        http_method: "GET",
        resource_path: "/items/{id}",
        path: b"/prod/items/42?x=1",
        status: 200,
        protocol: "HTTP/1.1",
        response_length: 200,
        response_latency_ms: 0,
        integration_latency_ms: Some(0),
        integration_status: Some(200),
        api_key_id: None,
        stage: "prod",
        api_id: "demo",
        error_message: None,
    };
    let mut out = Vec::with_capacity(1024);
    c.bench_function("access_log_json_line", |b| {
        b.iter(|| {
            out.clear();
            format.write(&mut out, black_box(&fields));
        })
    });
}

/// A JWT authorizer's work per request with its key set in hand:
/// take the token from the header, read its header, verify signature and
/// claims (issue 7's target: at most 10 µs).
fn jwt(c: &mut Criterion) {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use portico::auth::jwks::{KeySet, KeySource};
    use portico::auth::verified::Verified;
    use portico::auth::JwtAuthorizer;
    use std::rc::Rc;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
    let read = |f: &str| std::fs::read(format!("{dir}/{f}")).unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let claims = serde_json::json!({
        "iss": "https://issuer.example", "aud": "portico-tests", "sub": "user-7",
        "exp": exp, "scope": "pets/read pets/write",
    });
    let cases = [
        (
            "jwt_verify_rs256",
            Algorithm::RS256,
            "key-a",
            "jwks-a.json",
            EncodingKey::from_rsa_pem(&read("rsa-a.pem")).unwrap(),
        ),
        (
            "jwt_verify_es256",
            Algorithm::ES256,
            "key-ec",
            "jwks-ec-hs.json",
            EncodingKey::from_ec_pem(&read("ec.pem")).unwrap(),
        ),
        (
            "jwt_verify_hs256",
            Algorithm::HS256,
            "key-hs",
            "jwks-ec-hs.json",
            EncodingKey::from_secret(&read("hs256.secret")),
        ),
    ];
    for (name, alg, kid, jwks, key) in cases {
        let mut h = Header::new(alg);
        h.kid = Some(kid.into());
        let header_value = format!("Bearer {}", encode(&h, &claims, &key).unwrap());
        let keys = KeySet::parse(&read(jwks)).unwrap();
        let auth = JwtAuthorizer::new(
            1,
            "authorization".into(),
            KeySource::File(KeySet::parse(&read(jwks)).unwrap()),
            "https://issuer.example".into(),
            vec!["portico-tests".into()],
            5,
        );
        c.bench_function(name, |b| {
            b.iter(|| {
                let token = JwtAuthorizer::token(black_box(header_value.as_bytes())).unwrap();
                let (alg, kid) = auth.precheck(token, exp - 1800).unwrap();
                auth.verify(token, (alg, kid.as_deref()), &keys).unwrap()
            })
        });
        // The same token again: the worker's verified-token table answers.
        let mut verified = Verified::default();
        let token = JwtAuthorizer::token(header_value.as_bytes()).unwrap();
        let (alg, kid) = auth.precheck(token, exp - 1800).unwrap();
        let a = Rc::new(auth.verify(token, (alg, kid.as_deref()), &keys).unwrap());
        let now = exp - 1800;
        verified.insert(auth.id, token, a, now, 5);
        c.bench_function(&format!("{name}_seen_token"), |b| {
            b.iter(|| {
                let token = JwtAuthorizer::token(black_box(header_value.as_bytes())).unwrap();
                verified.get(auth.id, token, now).unwrap()
            })
        });
    }
}

criterion_group!(benches, parse, normalize, route, response, throttle, monitoring, jwt);
criterion_main!(benches);
