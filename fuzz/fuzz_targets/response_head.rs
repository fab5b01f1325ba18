#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::response_head::check(data) {
        panic!("response_head: {e}");
    }
});
