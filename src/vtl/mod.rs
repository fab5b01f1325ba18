//! Velocity Template Language as Amazon API Gateway runs mapping
//! templates: compiled once per snapshot (`Template::compile`), rendered per
//! request against `Bindings` under `Limits`.
//!
//! The subset: `#set`, `#if`/`#elseif`/`#else`/`#end`, `#foreach` (lists,
//! maps' values, `keySet()`, `entrySet()`, ranges `[1..3]`, `$foreach.index`,
//! `.count`, `.hasNext`, `.first`, `.last`, `$velocityCount`), `#break`,
//! `#stop`, `#define`, `##` and `#* *#` comments, `#[[ ]]#` literal text;
//! references `$x`, `${x}`, `$!x`, properties, `[index]`, method calls;
//! string (double-quoted ones interpolate), number, boolean, list, range
//! and map literals; `+ - * / %`, comparisons, `&& || !` and their word
//! forms. `$input`, `$util`, `$context` (with the writable
//! `requestOverride` and `responseOverride`) and `$stageVariables` are
//! AWS's. Where AWS and Velocity differ, AWS wins: a null reference into
//! `$input`, `$context`, `$stageVariables` or `$util` renders as nothing.

mod ast;
mod eval;
mod input;
mod jsonpath;
mod lexer;
mod limits;
mod methods;
mod parser;
mod util;
mod value;

use thiserror::Error;

pub use limits::{Limit, Limits};
pub use value::{parse_json, List, Map, Value};

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

/// What a template reads: the request or response, as the caller has it.
/// Independent of portico's HTTP types so the engine stays a library.
#[derive(Debug, Clone, Default)]
pub struct Bindings {
    /// `$input.body`, and the JSON `$input.path`/`$input.json` read.
    pub body: String,
    /// `$input.params().path`: the method's path parameters.
    pub path: Vec<(String, String)>,
    /// `$input.params().querystring`.
    pub querystring: Vec<(String, String)>,
    /// `$input.params().header`.
    pub header: Vec<(String, String)>,
    /// `$context`: a map, nested as AWS's (`identity.sourceIp`, `authorizer.x`).
    pub context: Value,
    /// `$stageVariables`: a map.
    pub stage_variables: Value,
}

/// What `#set($context.requestOverride…)` and `responseOverride` wrote,
/// in the order written (a name written twice keeps its first position).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub request_header: Vec<(String, String)>,
    pub request_querystring: Vec<(String, String)>,
    pub request_path: Vec<(String, String)>,
    pub response_status: Option<u16>,
    pub response_header: Vec<(String, String)>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub body: String,
    pub overrides: Overrides,
}

/// A compiled mapping template; shareable across workers.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<ast::Node>,
    slots: usize,
    defines: Vec<Vec<ast::Node>>,
    regexes: methods::Regexes,
    /// Kept to turn an evaluation error's offset into a line and column.
    source: Box<str>,
}

impl Template {
    pub fn compile(source: &str) -> Result<Template, VtlError> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(VtlError::TooLarge);
        }
        let c = parser::parse(source)?;
        let mut regexes = methods::Regexes::default();
        regexes.precompile(&c.nodes);
        for d in &c.defines {
            regexes.precompile(d);
        }
        Ok(Template {
            nodes: c.nodes,
            slots: c.slots.len(),
            defines: c.defines,
            regexes,
            source: source.into(),
        })
    }

    pub fn render(&self, bindings: &Bindings, limits: &Limits) -> Result<Rendered, VtlError> {
        eval::render(self, bindings, limits)
    }
}

#[cfg(test)]
mod tests;
