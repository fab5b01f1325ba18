//! A mapping template on the hot path: a 20-item, ~1 KB JSON body through
//! `$input.path`, `#foreach` and `$util.escapeJavaScript`. Target: ≤ 5 µs.
//! Run with `cargo bench --bench vtl`.
//!
//! Timings on a shared machine swing with its load, so
//! `VTL_BENCH_RENDERS=N` skips criterion and renders N times: run the
//! binary under `valgrind --tool=callgrind` with two values of N and the
//! difference of the instruction counts, divided by the difference of N,
//! is the cost of one render, whatever else the machine is doing.
//! mimalloc is the allocator, as in the `portico` binary.

use criterion::{black_box, criterion_group, Criterion};
use portico::vtl::{Bindings, Limits, Template};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TEMPLATE: &str = r#"{"items": [#foreach($i in $input.path('$.items')){"id": "$i.id", "name": "$util.escapeJavaScript($i.name)"}#if($foreach.hasNext),#end#end]}"#;

fn body() -> String {
    let items: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"id": "item-{i:04}", "name": "Name \"{i}\" it's"}}"#))
        .collect();
    format!(r#"{{"items": [{}]}}"#, items.join(", "))
}

fn setup() -> (Template, Bindings) {
    let t = Template::compile(TEMPLATE).unwrap();
    let b = Bindings {
        body: body(),
        ..Bindings::default()
    };
    assert!((900..1200).contains(&b.body.len()), "{}", b.body.len());
    (t, b)
}

fn render(c: &mut Criterion) {
    let (t, b) = setup();
    let limits = Limits::default();
    c.bench_function("vtl_render_20_items", |bench| {
        bench.iter(|| t.render(black_box(&b), &limits).unwrap().body.len())
    });
}

criterion_group!(benches, render);

fn main() {
    if let Some(n) = std::env::var("VTL_BENCH_RENDERS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        let (t, b) = setup();
        let limits = Limits::default();
        let mut total = 0;
        for _ in 0..n {
            total += t.render(black_box(&b), &limits).unwrap().body.len();
        }
        println!("{n} renders, {total} bytes");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
