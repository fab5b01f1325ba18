#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::request_framing::check(data) {
        panic!("request_framing: {e}");
    }
});
