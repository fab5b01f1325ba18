//! Hot-path pieces in isolation: request-head parse, route lookup,
//! response-head write. Run with `cargo bench`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use portico::config::{LimitsConfig, MethodSpec};
use portico::http::{parse_request_head, write_error, ErrorResponse, Head, Method};
use portico::router::{PathTemplate, RouteTable};
use portico::throttle::{Catalog, Instruction, Local, Order};

const REQUEST: &[u8] = b"GET /prod/items/42?verbose=1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Request-Id: abc-123\r\n\r\n";

fn parse(c: &mut Criterion) {
    let limits = LimitsConfig::default();
    let mut head = Head::default();
    c.bench_function("parse_request_head", |b| {
        b.iter(|| parse_request_head(black_box(REQUEST), &limits, &mut head).unwrap())
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
                false,
            );
            out.len()
        })
    });
}

/// The throttle step of a call on a key-required route: account, route,
/// plan and key buckets plus the key's quota, on one worker's balances.
fn throttle(c: &mut Criterion) {
    use portico::config::{QuotaConfig, QuotaPeriod, Throttle};
    let t = Throttle {
        rate: 1e9,
        burst: u64::MAX / 4,
    };
    let mut catalog = Catalog::new(t);
    let ids: Vec<u32> = (0..3).map(|i| catalog.bucket(format!("b{i}"), t)).collect();
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
    c.bench_function("throttle_admit_account_only", |b| {
        b.iter(|| local.admit(black_box(&buckets[..1]), None, 0))
    });
    c.bench_function("throttle_admit_4_buckets_and_quota", |b| {
        b.iter(|| local.admit(black_box(&buckets), Some(meter), 0))
    });
}

criterion_group!(benches, parse, route, response, throttle);
criterion_main!(benches);
