#![no_main]
//! Mapping templates: compiling any text and rendering it against any
//! body never panics, and a render that succeeds stays within its output
//! limit. The input is a template, then a NUL, then the request body.

use portico::vtl::{Bindings, Limits, Template};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (src, body) = text.split_once('\0').unwrap_or((&text, r#"{"a":[1,{"b":"x"}]}"#));
    let Ok(t) = Template::compile(src) else {
        return;
    };
    let limits = Limits {
        max_output_bytes: 64 * 1024,
        max_steps: 100_000,
        max_collection_len: 10_000,
        ..Limits::default()
    };
    let b = Bindings {
        body: body.to_string(),
        querystring: vec![("q".into(), "v".into())],
        ..Bindings::default()
    };
    if let Ok(r) = t.render(&b, &limits) {
        assert!(r.body.len() <= limits.max_output_bytes, "output over its limit");
    }
});
