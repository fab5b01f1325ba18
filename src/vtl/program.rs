//! A compiled template's parts, read by the evaluator (compiled in `mod.rs`).

use super::ast;
use super::methods;

/// A compiled mapping template; shareable across workers.
#[derive(Debug)]
pub struct Template {
    pub(super) nodes: Vec<ast::Node>,
    pub(super) slots: usize,
    pub(super) defines: Vec<Vec<ast::Node>>,
    pub(super) regexes: methods::Regexes,
    /// Kept to turn an evaluation error's offset into a line and column.
    pub(super) source: Box<str>,
}
