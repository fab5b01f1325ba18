#![no_main]
//! The checks are in `fuzz/checks/vtl_json.rs`, replayed on stable by
//! `tests/fuzz_corpus.rs` and `tests/vtl_json_reader.rs`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::vtl_json::check(data) {
        panic!("vtl_json: {e}");
    }
});
