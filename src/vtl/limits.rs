//! What one render may cost. Every bound is checked as the render goes,
//! and passing one ends the render with `VtlError::Limit`, never a panic
//! or an unbounded allocation.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of output, and of any one string a template builds. AWS
    /// documents no output quota (its payload quota is 10 MB); 1 MiB keeps
    /// a worker's memory per request small.
    pub max_output_bytes: usize,
    /// Iterations of one `#foreach`: AWS's documented 1,000.
    pub max_foreach_iterations: usize,
    /// Nodes and expressions evaluated in one render, all loops together.
    pub max_steps: u64,
    /// Nesting of `#define` expansion, and of lists and maps a template
    /// builds or parses.
    pub max_depth: u32,
    /// Elements of one list or map a template builds (ranges included).
    pub max_collection_len: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_output_bytes: 1 << 20,
            max_foreach_iterations: 1000,
            max_steps: 1_000_000,
            max_depth: 100,
            max_collection_len: 100_000,
        }
    }
}

/// Which bound a render passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Limit {
    #[error("output is over {0} bytes")]
    Output(usize),
    #[error("a #foreach is over {0} iterations")]
    Iterations(usize),
    #[error("over {0} evaluation steps")]
    Steps(u64),
    #[error("nested over {0} deep")]
    Depth(u32),
    #[error("a list or map is over {0} elements")]
    Collection(usize),
}

/// Why a method or function call failed: an error Java would have thrown,
/// or a bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail {
    Eval(String),
    Limit(Limit),
}

impl From<String> for Fail {
    fn from(s: String) -> Fail {
        Fail::Eval(s)
    }
}

impl From<Limit> for Fail {
    fn from(l: Limit) -> Fail {
        Fail::Limit(l)
    }
}
