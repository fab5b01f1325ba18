#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = portico_fuzz::checks::config_loader::check(data) {
        panic!("config_loader: {e}");
    }
});
