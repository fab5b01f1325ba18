//! The fuzz targets' checks, shared with the main crate's
//! `tests/fuzz_corpus.rs` (which includes the same files).

#[path = "../checks/mod.rs"]
pub mod checks;
