//! Mapping templates: compiling any text and rendering it against any body
//! never panics; a render that succeeds stays within its output and
//! collection limits, and rendering again gives the same answer (nothing of
//! one render, such as its parsed body, leaks into the next).
//!
//! Self-contained (no `gen`), so `tests/vtl_fuzz_corpus.rs` includes this
//! file alone.

use portico::vtl::{Bindings, Limits, Template};

/// The body when the input has no NUL.
const DEFAULT_BODY: &str = r#"{"a":[1,{"b":"x"}],"items":[{"id":"i-1","name":"it's"}]}"#;

/// A fuzz input: a template, then a NUL, then the request body.
pub fn check(input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    let (src, body) = text.split_once('\0').unwrap_or((&text, DEFAULT_BODY));
    let Ok(t) = Template::compile(src) else {
        return Ok(());
    };
    let limits = Limits {
        max_output_bytes: 64 * 1024,
        max_steps: 100_000,
        max_collection_len: 10_000,
        ..Limits::default()
    };
    let b = Bindings {
        body: body.to_string(),
        path: vec![("id".into(), "7".into())],
        querystring: vec![("q".into(), "v".into())],
        header: vec![("X-H".into(), "h".into())],
        ..Bindings::default()
    };
    let first = t.render(&b, &limits);
    if let Ok(r) = &first {
        if r.body.len() > limits.max_output_bytes {
            return Err(format!("{} bytes of output, over its limit", r.body.len()));
        }
        let o = &r.overrides;
        let most = [
            o.request_header.len(),
            o.request_querystring.len(),
            o.request_path.len(),
            o.response_header.len(),
        ];
        if most.iter().any(|&n| n > limits.max_collection_len) {
            return Err(format!("overrides over the collection limit: {most:?}"));
        }
    }
    let again = t.render(&b, &limits);
    if again != first {
        return Err(format!("renders differ: {first:?} then {again:?}"));
    }
    Ok(())
}
