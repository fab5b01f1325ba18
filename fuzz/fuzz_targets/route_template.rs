#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::route_template::check(data) {
        panic!("route_template: {e}");
    }
});
