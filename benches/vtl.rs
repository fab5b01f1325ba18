//! A mapping template on the hot path: a 20-item, ~1 KB JSON body through
//! `$input.path`, `#foreach` and `$util.escapeJavaScript`. Target: ≤ 5 µs.
//! Run with `cargo bench --bench vtl`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use portico::vtl::{Bindings, Limits, Template};

const TEMPLATE: &str = r#"{"items": [#foreach($i in $input.path('$.items')){"id": "$i.id", "name": "$util.escapeJavaScript($i.name)"}#if($foreach.hasNext),#end#end]}"#;

fn body() -> String {
    let items: Vec<String> = (0..20)
        .map(|i| format!(r#"{{"id": "item-{i:04}", "name": "Name \"{i}\" it's"}}"#))
        .collect();
    format!(r#"{{"items": [{}]}}"#, items.join(", "))
}

fn render(c: &mut Criterion) {
    let t = Template::compile(TEMPLATE).unwrap();
    let b = Bindings {
        body: body(),
        ..Bindings::default()
    };
    assert!((900..1200).contains(&b.body.len()), "{}", b.body.len());
    let limits = Limits::default();
    c.bench_function("vtl_render_20_items", |bench| {
        bench.iter(|| t.render(black_box(&b), &limits).unwrap().body.len())
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
