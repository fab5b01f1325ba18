#![no_main]
//! The checks are in `fuzz/checks/vtl.rs`, replayed on stable by
//! `tests/vtl_fuzz_corpus.rs`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::vtl::check(data) {
        panic!("vtl: {e}");
    }
});
