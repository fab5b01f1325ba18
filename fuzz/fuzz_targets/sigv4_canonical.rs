#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::sigv4_canonical::check(data) {
        panic!("sigv4_canonical: {e}");
    }
});
