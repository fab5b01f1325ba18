#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::chunked_decoder::check(data) {
        panic!("chunked_decoder: {e}");
    }
});
