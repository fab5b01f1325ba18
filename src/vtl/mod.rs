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
mod json;
mod jsonpath;
mod lexer;
mod limits;
mod methods;
mod parser;
mod util;
mod value;

mod bindings;
mod error;
mod program;

pub use bindings::{Bindings, Overrides, Rendered};
pub use error::{VtlError, MAX_TEMPLATE_BYTES};
pub use json::{parse_json, parse_json_serde, read_json};
pub use limits::{Limit, Limits};
pub use program::Template;
pub use value::{List, Map, Value};

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
