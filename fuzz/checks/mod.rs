//! The checks behind each fuzz target, as plain functions: libFuzzer
//! drives them from `fuzz/fuzz_targets/`, and `tests/fuzz_corpus.rs`
//! replays the committed corpus through them on stable Rust. Each returns
//! `Err` with a description of a failed property; a panic is a failure too.

pub mod chunked_decoder;
pub mod config_loader;
pub mod gen;
pub mod lenient;
pub mod request_framing;
pub mod response_head;
pub mod route_template;
pub mod sigv4_canonical;
pub mod strict;
pub mod vtl;
pub mod vtl_json;
