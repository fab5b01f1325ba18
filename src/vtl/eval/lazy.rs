//! The evaluator's lazy reads of the body: `#foreach($i in
//! $input.path('$.items'))` walks the array where it lies in the body's
//! text, and while `$i` is an element object not yet read whole, `$i.id`
//! scans that object for the member. A render of such a template
//! allocates only for the values it has to materialise.
//!
//! The one rule that keeps every behaviour as before: a slot with a lazy
//! span (`Eval::lazy`) is materialised into the tree value it stands for
//! (`Eval::materialise`) before anything but the two reads here looks at
//! it. Steps and limits are charged as the tree's evaluation charges them.

use super::{emit, Eval, Flow};
use crate::vtl::ast::{Expr, Foreach, Part, Reference, Root};
use crate::vtl::error::VtlError;
use crate::vtl::json::lazy::{self, Span};
use crate::vtl::limits::Limit;
use crate::vtl::util;
use crate::vtl::value::Value;

/// A member read lazily: the text of a string without escapes, or a
/// value materialised.
pub(super) enum Found<'a> {
    Text(&'a str),
    Value(Value),
}

impl<'t> Eval<'t> {
    /// Reads the slot's lazy span into its value, if it has one.
    pub(super) fn materialise(&mut self, slot: usize) {
        if let Some(span) = self.lazy[slot].take() {
            self.vars[slot] = lazy::value(self.input.text(), &span);
        }
    }

    /// `$i.a.b` where `$i` is lazy, as `borrowed` would read it from the
    /// tree (the same steps); `None` where it needs the tree.
    pub(super) fn lazy_ref(&mut self, r: &Reference) -> Result<Option<Found<'t>>, VtlError> {
        let Root::Var(slot) = r.root else {
            return Ok(None);
        };
        let (None, Some(span)) = (self.defined[slot], &self.lazy[slot]) else {
            return Ok(None);
        };
        if r.parts.is_empty() {
            return Ok(None);
        }
        let text = self.input.text();
        let (mut cur, mut steps) = (Some(span.clone()), 0);
        for part in &r.parts {
            let Some(span) = cur.as_ref().filter(|s| !lazy::is_null(text, s)) else {
                break;
            };
            let Part::Prop(name) = part else {
                return Ok(None);
            };
            if !lazy::is_object(text, span) {
                return Ok(None);
            }
            steps += 1;
            cur = lazy::get(text, span, name);
        }
        self.steps += 1 + steps;
        if self.steps > self.limits.max_steps {
            return Err(Limit::Steps(self.limits.max_steps).into());
        }
        Ok(Some(match cur {
            None => Found::Value(Value::Null),
            Some(s) => match lazy::plain_str(text, &s) {
                Some(t) => Found::Text(t),
                None => Found::Value(lazy::value(text, &s)),
            },
        }))
    }

    /// A lazily read member rendered as `emit` renders its value.
    pub(super) fn emit_found(
        &self,
        r: &Reference,
        f: Found,
        out: &mut String,
    ) -> Result<(), VtlError> {
        match f {
            Found::Text(t) => self.push(out, t),
            Found::Value(v) => emit(self.limits, r, &v, out),
        }
    }

    /// `$util.escapeJavaScript($i.name)` and the other text functions with
    /// a lazily read argument, as `util::write` renders them.
    pub(super) fn write_found(
        &self,
        name: &str,
        r: &Reference,
        f: Found,
        out: &mut String,
    ) -> Result<(), VtlError> {
        let max = self.limits.max_output_bytes;
        let written = match f {
            Found::Text(t) if t.len() > max => Err(Limit::Output(max).into()),
            Found::Text(t) => util::write_text(name, t, out, max),
            Found::Value(v) => util::write(name, std::slice::from_ref(&v), out, max),
        };
        written.map(drop).map_err(|e| self.fail(r.pos, e))
    }

    /// The array a `#foreach` over `$input.path('…')` names, when it can be
    /// walked in the body's text; the steps evaluating that reference
    /// costs are charged only then.
    fn lazy_items(&mut self, f: &Foreach) -> Result<Option<Span>, VtlError> {
        let Expr::Ref(r) = &f.iter else {
            return Ok(None);
        };
        let (Root::Input, [Part::Method(m, args)], Some(path)) =
            (r.root, r.parts.as_slice(), r.jsonpath.as_deref())
        else {
            return Ok(None);
        };
        if &**m != "path" || !matches!(args.as_slice(), [Expr::Lit(_)]) {
            return Ok(None);
        }
        let Some(span) = self.input.lazy_array(path, self.limits.max_depth) else {
            return Ok(None);
        };
        // `expr`, `reference` and the literal argument: a step each.
        for _ in 0..3 {
            self.step()?;
        }
        Ok(Some(span))
    }

    /// `foreach` over an array read from the body's text: an element that
    /// is an object stays a span until read whole.
    pub(super) fn foreach_lazy(
        &mut self,
        f: &Foreach,
        out: &mut String,
    ) -> Result<Option<Flow>, VtlError> {
        let Some(arr) = self.lazy_items(f)? else {
            return Ok(None);
        };
        let text = self.input.text();
        let var = f.var;
        let items = lazy::Elements::new(text, &arr);
        let set = |e: &mut Self, item: Span| {
            if lazy::is_object(text, &item) {
                e.vars[var] = Value::Null;
                e.lazy[var] = Some(item);
            } else {
                e.vars[var] = lazy::value(text, &item);
                e.lazy[var] = None;
            }
        };
        self.each(f, items, set, out).map(Some)
    }
}
