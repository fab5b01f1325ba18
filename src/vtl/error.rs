//! What can go wrong compiling or rendering a template.

use thiserror::Error;

use super::limits::Limit;

/// A compile or render failure. Syntax and evaluation errors name the
/// template's line and column (1-based, in characters).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VtlError {
    #[error("template line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("template line {line}, column {column}: {message}")]
    Eval {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("template limit: {0}")]
    Limit(#[from] Limit),
    #[error("mapping template is over {MAX_TEMPLATE_BYTES} bytes")]
    TooLarge,
}

/// AWS's quota on a mapping template's size, 300 KB.
pub const MAX_TEMPLATE_BYTES: usize = 300 * 1024;
