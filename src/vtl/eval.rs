//! Walks a compiled template for one request. Every node and expression
//! costs a step; output and every string, list and map built are bounded;
//! `#define` expansion is bounded in depth. A failure is a `VtlError`,
//! never a panic.

use std::sync::Arc;

use super::ast::{BinOp, Expr, Foreach, Node, Part, Pos, Reference, Root};
use super::bindings::{Bindings, Overrides, Rendered};
use super::error::VtlError;
use super::input::Input;
use super::lexer::line_col;
use super::limits::{Fail, Limit, Limits};
use super::methods::{self, Cx};
use super::program::Template;
use super::util;
use super::value::{List, Map, Value};

enum Flow {
    Normal,
    Break,
    Stop,
}

struct Loop {
    index: usize,
    has_next: bool,
}

/// One step of a path into a variable, for writing through it.
enum Key {
    Name(Arc<str>),
    Index(i64),
}

struct Eval<'t> {
    t: &'t Template,
    limits: &'t Limits,
    vars: Vec<Value>,
    /// The `#define` block a slot names, if it last got one.
    defined: Vec<Option<usize>>,
    input: Input<'t>,
    context: Value,
    stage: &'t Value,
    overrides: Overrides,
    loops: Vec<Loop>,
    steps: u64,
    depth: u32,
    cx: Cx<'t>,
}

pub fn render(t: &Template, b: &Bindings, limits: &Limits) -> Result<Rendered, VtlError> {
    let mut e = Eval {
        t,
        limits,
        vars: vec![Value::Null; t.slots],
        defined: vec![None; t.slots],
        input: Input::new(b),
        context: b.context.clone(),
        stage: &b.stage_variables,
        overrides: Overrides::default(),
        loops: Vec::new(),
        steps: 0,
        depth: 0,
        cx: Cx {
            regexes: &t.regexes,
            dynamic: Vec::new(),
            max_len: limits.max_output_bytes,
            max_items: limits.max_collection_len,
            budget: 0,
        },
    };
    let mut out = String::with_capacity(t.source.len() + b.body.len());
    e.nodes(&t.nodes, &mut out)?;
    Ok(Rendered {
        body: out,
        overrides: e.overrides,
    })
}

impl<'t> Eval<'t> {
    fn step(&mut self) -> Result<(), VtlError> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(Limit::Steps(self.limits.max_steps).into());
        }
        Ok(())
    }

    /// Runs a call that may compare values with the steps left as its
    /// comparison budget, then charges what it spent. A scan of a list or
    /// map costs a step per 16 elements, so no step does unbounded work.
    fn spend<R>(&mut self, recv: &Value, f: impl FnOnce(&mut Self) -> R) -> Result<R, VtlError> {
        let scan = match recv {
            Value::List(l) => l.items.len() as u64 / 16,
            Value::Map(m) => m.entries.len() as u64 / 16,
            _ => 0,
        };
        self.steps += scan;
        let left = self.limits.max_steps.saturating_sub(self.steps);
        self.cx.budget = left;
        let r = f(self);
        self.steps += left - self.cx.budget;
        if self.cx.budget == 0 || self.steps > self.limits.max_steps {
            return Err(Limit::Steps(self.limits.max_steps).into());
        }
        Ok(r)
    }

    fn fail(&self, pos: Pos, f: Fail) -> VtlError {
        match f {
            Fail::Limit(l) => VtlError::Limit(l),
            Fail::Eval(message) => {
                let (line, column) = line_col(&self.t.source, pos);
                VtlError::Eval {
                    line,
                    column,
                    message,
                }
            }
        }
    }

    fn push(&self, out: &mut String, s: &str) -> Result<(), VtlError> {
        if out.len() + s.len() > self.limits.max_output_bytes {
            return Err(Limit::Output(self.limits.max_output_bytes).into());
        }
        out.push_str(s);
        Ok(())
    }

    fn checked(&self, v: Value) -> Result<Value, VtlError> {
        if v.depth() > self.limits.max_depth {
            return Err(Limit::Depth(self.limits.max_depth).into());
        }
        Ok(v)
    }

    fn nodes(&mut self, nodes: &[Node], out: &mut String) -> Result<Flow, VtlError> {
        for n in nodes {
            self.step()?;
            match n {
                Node::Text(t) => self.push(out, t)?,
                Node::Ref(r) => {
                    let limits = self.limits;
                    if let Some(v) = self.borrowed(r)? {
                        emit(limits, r, v, out)?;
                    } else if !self.emit_direct(r, out)? {
                        let v = self.reference(r)?;
                        emit(limits, r, &v, out)?;
                    }
                }
                Node::Set(lhs, e) => {
                    let v = self.expr(e)?;
                    // Velocity 1.7: a null right-hand side leaves the target.
                    if !v.is_null() {
                        self.assign(lhs, v)?;
                    }
                }
                Node::If(branches, otherwise) => {
                    let mut body = otherwise.as_deref();
                    for (cond, b) in branches {
                        if self.expr(cond)?.truthy() {
                            body = Some(b);
                            break;
                        }
                    }
                    if let Some(b) = body {
                        match self.nodes(b, out)? {
                            Flow::Normal => {}
                            flow => return Ok(flow),
                        }
                    }
                }
                Node::Foreach(f) => {
                    if let Flow::Stop = self.foreach(f, out)? {
                        return Ok(Flow::Stop);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Stop => return Ok(Flow::Stop),
                Node::Define(slot, block) => {
                    self.vars[*slot] = Value::Null;
                    self.defined[*slot] = Some(*block);
                }
            }
        }
        Ok(Flow::Normal)
    }

    /// `$x`, `$x.a.b` through maps: the value, borrowed where it lies,
    /// with the steps `reference` would have charged. `None` when the
    /// reference needs `reference`'s general walk.
    fn borrowed(&mut self, r: &Reference) -> Result<Option<&Value>, VtlError> {
        let Root::Var(slot) = r.root else {
            return Ok(None);
        };
        if self.defined[slot].is_some() {
            return Ok(None);
        }
        let Some((v, steps)) = props(&self.vars[slot], &r.parts) else {
            return Ok(None);
        };
        self.steps += 1 + steps;
        if self.steps > self.limits.max_steps {
            return Err(Limit::Steps(self.limits.max_steps).into());
        }
        Ok(Some(v))
    }

    /// `$util.escapeJavaScript(…)` and the other text functions, and
    /// `$input.json(…)`, written straight into the output rather than into
    /// a string of their own first; `false` when `r` is none of them.
    fn emit_direct(&mut self, r: &Reference, out: &mut String) -> Result<bool, VtlError> {
        let [Part::Method(name, args)] = r.parts.as_slice() else {
            return Ok(false);
        };
        let util = match r.root {
            Root::Util if util::is_text(name) => true,
            Root::Input if &**name == "json" && args.len() == 1 => false,
            _ => return Ok(false),
        };
        self.step()?;
        let max = self.limits.max_output_bytes;
        if let (true, [Expr::Ref(a)]) = (util, args.as_slice()) {
            // A lone reference argument (`$util.escapeJavaScript($i.name)`)
            // is read where it lies rather than copied, with the steps
            // `args` would have charged (its expression's, then its own).
            self.step()?;
            let written = match self.borrowed(a)? {
                Some(v) => util::write(name, std::slice::from_ref(v), out, max),
                None => {
                    let v = self.reference(a)?;
                    util::write(name, std::slice::from_ref(&v), out, max)
                }
            };
            written.map_err(|f| self.fail(r.pos, f))?;
            return Ok(true);
        }
        let args = self.args(args)?;
        let path = r.jsonpath.as_deref();
        let written = match util {
            true => util::write(name, &args, out, max),
            false => self.input.write_json(&args, path, out, max),
        };
        // A null result renders as nothing: both are AWS's objects.
        written.map_err(|f| self.fail(r.pos, f))?;
        Ok(true)
    }

    fn foreach(&mut self, f: &Foreach, out: &mut String) -> Result<Flow, VtlError> {
        let items = match self.expr(&f.iter)? {
            Value::List(l) => l,
            Value::Map(m) => Arc::new(List::new(
                m.entries.iter().map(|(_, v)| v.clone()).collect(),
            )),
            _ => return Ok(Flow::Normal),
        };
        let saved = std::mem::take(&mut self.vars[f.var]);
        let saved_def = self.defined[f.var].take();
        self.loops.push(Loop {
            index: 0,
            has_next: false,
        });
        let mut flow = Flow::Normal;
        for (i, item) in items.items.iter().enumerate() {
            if i >= self.limits.max_foreach_iterations {
                return Err(Limit::Iterations(self.limits.max_foreach_iterations).into());
            }
            self.step()?;
            self.vars[f.var] = item.clone();
            self.defined[f.var] = None;
            if let Some(l) = self.loops.last_mut() {
                l.index = i;
                l.has_next = i + 1 < items.items.len();
            }
            match self.nodes(&f.body, out)? {
                Flow::Normal => {}
                Flow::Break => break,
                Flow::Stop => {
                    flow = Flow::Stop;
                    break;
                }
            }
        }
        self.loops.pop();
        self.vars[f.var] = saved;
        self.defined[f.var] = saved_def;
        Ok(flow)
    }

    fn expr(&mut self, e: &Expr) -> Result<Value, VtlError> {
        self.step()?;
        match e {
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Ref(r) => self.reference(r),
            Expr::Interp(nodes) => {
                let mut s = String::new();
                self.nodes(nodes, &mut s)?;
                Ok(Value::Str(Arc::from(s)))
            }
            Expr::List(items) => {
                if items.len() > self.limits.max_collection_len {
                    return Err(Limit::Collection(self.limits.max_collection_len).into());
                }
                let mut l = List::default();
                for i in items {
                    l.push(self.expr(i)?);
                }
                self.checked(Value::List(Arc::new(l)))
            }
            Expr::Map(entries) => {
                if entries.len() > self.limits.max_collection_len {
                    return Err(Limit::Collection(self.limits.max_collection_len).into());
                }
                let mut m = Map::default();
                for (k, v) in entries {
                    let k = self.expr(k)?;
                    let k = self.text(&k)?;
                    let v = self.expr(v)?;
                    m.put(Arc::from(k), v);
                }
                self.checked(Value::Map(Arc::new(m)))
            }
            Expr::Range(a, b) => {
                let (a, b) = (self.expr(a)?, self.expr(b)?);
                let (Some(a), Some(b)) = (a.as_int(), b.as_int()) else {
                    return Ok(Value::Null);
                };
                let len = a.abs_diff(b).saturating_add(1);
                if len > self.limits.max_collection_len as u64 {
                    return Err(Limit::Collection(self.limits.max_collection_len).into());
                }
                let items: Vec<Value> = if a <= b {
                    (a..=b).map(Value::Int).collect()
                } else {
                    (b..=a).rev().map(Value::Int).collect()
                };
                Ok(Value::list(items))
            }
            Expr::Not(a) => Ok(Value::Bool(!self.expr(a)?.truthy())),
            Expr::Neg(a) => Ok(match self.expr(a)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map_or(Value::Float(-(i as f64)), Value::Int),
                Value::Float(f) => Value::Float(-f),
                _ => Value::Null,
            }),
            Expr::Bin(op, a, b) => {
                let l = self.expr(a)?;
                match op {
                    BinOp::And if !l.truthy() => return Ok(Value::Bool(false)),
                    BinOp::Or if l.truthy() => return Ok(Value::Bool(true)),
                    BinOp::And | BinOp::Or => return Ok(Value::Bool(self.expr(b)?.truthy())),
                    _ => {}
                }
                let r = self.expr(b)?;
                let recv = if matches!(op, BinOp::Eq | BinOp::Ne) {
                    l.clone()
                } else {
                    Value::Null
                };
                self.spend(&recv, |e| e.binary(*op, l, r))?
            }
        }
    }

    fn text(&self, v: &Value) -> Result<String, VtlError> {
        v.to_text(self.limits.max_output_bytes)
            .ok_or(Limit::Output(self.limits.max_output_bytes).into())
    }

    fn binary(&mut self, op: BinOp, l: Value, r: Value) -> Result<Value, VtlError> {
        use Value::{Int, Str};
        Ok(match op {
            BinOp::Eq | BinOp::Ne => {
                let max = self.limits.max_output_bytes;
                let eq = loose_eq(&l, &r, max, &mut self.cx.budget);
                Value::Bool(eq == (op == BinOp::Eq))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (&l, &r) {
                    (Str(a), Str(b)) => Some(a.cmp(b)),
                    _ => match (num(&l), num(&r)) {
                        (Some(a), Some(b)) => a.partial_cmp(&b),
                        _ => None,
                    },
                };
                let Some(ord) = ord else {
                    return Ok(Value::Bool(false));
                };
                Value::Bool(match op {
                    BinOp::Lt => ord.is_lt(),
                    BinOp::Le => ord.is_le(),
                    BinOp::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
            BinOp::Add if matches!(l, Str(_)) || matches!(r, Str(_)) => {
                if l.is_null() || r.is_null() {
                    return Ok(Value::Null);
                }
                let s = self.text(&l)? + &self.text(&r)?;
                if s.len() > self.limits.max_output_bytes {
                    return Err(Limit::Output(self.limits.max_output_bytes).into());
                }
                Value::Str(Arc::from(s))
            }
            _ => match (&l, &r) {
                (Int(a), Int(b)) => {
                    let (a, b) = (*a, *b);
                    let exact = match op {
                        BinOp::Add => a.checked_add(b),
                        BinOp::Sub => a.checked_sub(b),
                        BinOp::Mul => a.checked_mul(b),
                        // Velocity: division by zero is null.
                        BinOp::Div if b == 0 => return Ok(Value::Null),
                        BinOp::Mod if b == 0 => return Ok(Value::Null),
                        BinOp::Div => a.checked_div(b),
                        _ => a.checked_rem(b),
                    };
                    match exact {
                        Some(v) => Int(v),
                        None => float_op(op, a as f64, b as f64),
                    }
                }
                _ => match (num(&l), num(&r)) {
                    (Some(a), Some(b)) => float_op(op, a, b),
                    _ => Value::Null,
                },
            },
        })
    }

    /// Resolves a variable slot, expanding a `#define` block.
    fn var(&mut self, slot: usize) -> Result<Value, VtlError> {
        let Some(block) = self.defined[slot] else {
            return Ok(self.vars[slot].clone());
        };
        if self.depth >= self.limits.max_depth {
            return Err(Limit::Depth(self.limits.max_depth).into());
        }
        self.depth += 1;
        let mut s = String::new();
        let t = self.t;
        let r = self.nodes(&t.defines[block], &mut s);
        self.depth -= 1;
        r?;
        Ok(Value::Str(Arc::from(s)))
    }

    fn reference(&mut self, r: &Reference) -> Result<Value, VtlError> {
        if let Some(v) = self.borrowed(r)? {
            return Ok(v.clone());
        }
        self.step()?;
        let (mut cur, mut skip) = (Value::Null, 0);
        // The path from a variable, while it stays writable; kept only when
        // a mutating method may need it.
        let writes = r.writes;
        let mut path: Option<Vec<Key>> = None;
        match r.root {
            Root::Var(s) => {
                cur = self.var(s)?;
                if writes && self.defined[s].is_none() {
                    path = Some(Vec::new());
                }
            }
            Root::Context => match r.parts.first() {
                Some(Part::Prop(p)) if &**p == "requestOverride" || &**p == "responseOverride" => {
                    cur = self.overrides_value(p);
                    skip = 1;
                }
                _ => {
                    cur = self.context.clone();
                    if writes {
                        path = Some(Vec::new());
                    }
                }
            },
            Root::StageVariables => cur = self.stage.clone(),
            Root::VelocityCount => {
                if let Some(l) = self.loops.last() {
                    cur = Value::Int(l.index as i64 + 1);
                }
            }
            Root::Foreach => {
                let (Some(l), Some(Part::Prop(p))) = (self.loops.last(), r.parts.first()) else {
                    return Ok(Value::Null);
                };
                skip = 1;
                cur = match &**p {
                    "index" => Value::Int(l.index as i64),
                    "count" => Value::Int(l.index as i64 + 1),
                    "hasNext" => Value::Bool(l.has_next),
                    "first" => Value::Bool(l.index == 0),
                    "last" => Value::Bool(!l.has_next),
                    _ => Value::Null,
                };
            }
            Root::Input => {
                skip = 1;
                cur = match r.parts.first() {
                    Some(Part::Prop(p)) if &**p == "body" => self.input.body(),
                    Some(Part::Method(m, args)) => {
                        let args = self.args(args)?;
                        let max = self.limits.max_output_bytes;
                        let v = self.input.call(m, &args, r.jsonpath.as_deref(), max);
                        self.checked(v.map_err(|f| self.fail(r.pos, f))?)?
                    }
                    _ => Value::Null,
                };
            }
            Root::Util => {
                skip = 1;
                cur = match r.parts.first() {
                    Some(Part::Method(m, args)) => {
                        let args = self.args(args)?;
                        let v = util::call(m, &args, self.limits.max_output_bytes);
                        self.checked(v.map_err(|f| self.fail(r.pos, f))?)?
                    }
                    _ => Value::Null,
                };
            }
        }
        for part in r.parts.iter().skip(skip) {
            if cur.is_null() {
                return Ok(Value::Null);
            }
            self.step()?;
            match part {
                Part::Prop(name) => {
                    cur = match &cur {
                        Value::Map(m) => m.get(name).cloned().unwrap_or_default(),
                        _ => self.getter(&cur, name, r.pos)?,
                    };
                    if let Some(p) = path.as_mut() {
                        p.push(Key::Name(Arc::from(&**name)));
                    }
                }
                Part::Index(e) => {
                    let i = self.expr(e)?;
                    let key = match (&cur, &i) {
                        (Value::List(_), _) => i.as_int().map(Key::Index),
                        (_, Value::Null) => None,
                        _ => Some(Key::Name(Arc::from(self.text(&i)?))),
                    };
                    cur = match (&cur, &key) {
                        (Value::List(l), Some(Key::Index(i))) => {
                            let n = l.items.len() as i64;
                            let i = if *i < 0 { n + i } else { *i };
                            usize::try_from(i)
                                .ok()
                                .and_then(|i| l.items.get(i))
                                .cloned()
                                .unwrap_or_default()
                        }
                        (Value::Map(m), Some(Key::Name(k))) => {
                            m.get(k).cloned().unwrap_or_default()
                        }
                        _ => Value::Null,
                    };
                    match (path.as_mut(), key) {
                        (Some(p), Some(k)) => p.push(k),
                        _ => path = None,
                    }
                }
                Part::Method(name, args) => {
                    let args = self.args(args)?;
                    if methods::mutates(name) {
                        let done = match (&path, r.root) {
                            (Some(p), Root::Var(s)) => {
                                let mut root = std::mem::take(&mut self.vars[s]);
                                let res = self.mutate(&mut root, p, name, &args);
                                self.vars[s] = root;
                                res
                            }
                            (Some(p), Root::Context) => {
                                let mut root = std::mem::take(&mut self.context);
                                let res = self.mutate(&mut root, p, name, &args);
                                self.context = root;
                                res
                            }
                            _ => {
                                let mut tmp = cur.clone();
                                let res = self.mutate(&mut tmp, &[], name, &args);
                                self.checked(tmp)?;
                                res
                            }
                        };
                        if let Some(v) = done.map_err(|f| self.fail(r.pos, f))? {
                            cur = v;
                            path = None;
                            continue;
                        }
                    }
                    let key = match (&cur, &**name, &*args) {
                        (Value::Map(_), "get", [k]) => Some(Key::Name(Arc::from(self.text(k)?))),
                        (Value::List(_), "get", [i]) => i.as_int().map(Key::Index),
                        _ => None,
                    };
                    let v = self.spend(&cur, |e| methods::call(&cur, name, &args, &mut e.cx))?;
                    cur = self.checked(v.map_err(|f| self.fail(r.pos, f))?)?;
                    match (path.as_mut(), key) {
                        (Some(p), Some(k)) => p.push(k),
                        _ => path = None,
                    }
                }
            }
        }
        Ok(cur)
    }

    fn args(&mut self, args: &[Expr]) -> Result<Args, VtlError> {
        if args.len() > INLINE_ARGS {
            return Ok(Args::Heap(
                args.iter()
                    .map(|a| self.expr(a))
                    .collect::<Result<_, _>>()?,
            ));
        }
        let mut inline: [Value; INLINE_ARGS] = Default::default();
        for (slot, a) in inline.iter_mut().zip(args) {
            *slot = self.expr(a)?;
        }
        Ok(Args::Inline(inline, args.len()))
    }

    /// `$x.name` on a non-map: the bean getter `getName()` or `isName()`.
    fn getter(&mut self, v: &Value, name: &str, pos: Pos) -> Result<Value, VtlError> {
        let mut cap = String::with_capacity(name.len() + 3);
        for prefix in ["get", "is"] {
            cap.clear();
            cap.push_str(prefix);
            let mut cs = name.chars();
            if let Some(c) = cs.next() {
                cap.extend(c.to_uppercase());
                cap.push_str(cs.as_str());
            }
            let got = self.spend(v, |e| methods::call(v, &cap, &[], &mut e.cx))?;
            let got = got.map_err(|f| self.fail(pos, f))?;
            if !got.is_null() {
                return Ok(got);
            }
        }
        Ok(Value::Null)
    }

    /// Applies a mutating method at `path` inside `root`; `None` when the
    /// value there has no such mutator. Depths are refreshed on the way out.
    fn mutate(
        &mut self,
        root: &mut Value,
        path: &[Key],
        name: &str,
        args: &[Value],
    ) -> Result<Option<Value>, Fail> {
        let left = self.limits.max_steps.saturating_sub(self.steps);
        self.cx.budget = left;
        let cx = &mut self.cx;
        let r = at_path(root, path, &mut |v| methods::call_mut(v, name, args, cx));
        self.steps += left - self.cx.budget + 1;
        if self.cx.budget == 0 {
            return Err(Limit::Steps(self.limits.max_steps).into());
        }
        let r = r.unwrap_or(Ok(None))?;
        if root.depth() > self.limits.max_depth {
            return Err(Limit::Depth(self.limits.max_depth).into());
        }
        Ok(r)
    }

    fn assign(&mut self, lhs: &Reference, v: Value) -> Result<(), VtlError> {
        let v = self.checked(v)?;
        if lhs.root == Root::Context {
            if let Some(Part::Prop(p)) = lhs.parts.first() {
                if &**p == "requestOverride" || &**p == "responseOverride" {
                    return self.set_override(lhs, p, v);
                }
            }
        }
        let mut keys = Vec::with_capacity(lhs.parts.len());
        for part in &lhs.parts {
            keys.push(match part {
                Part::Prop(n) => Key::Name(Arc::from(&**n)),
                Part::Index(e) => match self.expr(e)? {
                    Value::Int(i) => Key::Index(i),
                    k => Key::Name(Arc::from(self.text(&k)?)),
                },
                Part::Method(..) => return Ok(()),
            });
        }
        let max_items = self.limits.max_collection_len;
        let mut root = match lhs.root {
            Root::Var(s) => {
                self.defined[s] = None;
                if keys.is_empty() {
                    self.vars[s] = v;
                    return Ok(());
                }
                std::mem::take(&mut self.vars[s])
            }
            _ => std::mem::take(&mut self.context),
        };
        let Some((last, parents)) = keys.split_last() else {
            // `#set($context = …)` replaces the whole map.
            self.context = v;
            return Ok(());
        };
        let r = at_path(&mut root, parents, &mut |parent| {
            match (parent, last) {
                (Value::Map(m), Key::Name(k)) => {
                    let m = Arc::make_mut(m);
                    if m.get(k).is_none() && m.entries.len() >= max_items {
                        return Err(Limit::Collection(max_items));
                    }
                    m.put(k.clone(), v.clone());
                }
                (Value::Map(m), Key::Index(i)) => {
                    Arc::make_mut(m).put(Arc::from(i.to_string()), v.clone());
                }
                (Value::List(l), Key::Index(i)) => {
                    if let Ok(i) = usize::try_from(*i) {
                        if i < l.items.len() {
                            Arc::make_mut(l).set(i, v.clone());
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        });
        let depth = root.depth();
        match lhs.root {
            Root::Var(s) => self.vars[s] = root,
            _ => self.context = root,
        }
        if let Some(Err(l)) = r {
            return Err(l.into());
        }
        if depth > self.limits.max_depth {
            return Err(Limit::Depth(self.limits.max_depth).into());
        }
        Ok(())
    }

    fn overrides_value(&self, which: &str) -> Value {
        let m = |pairs: &[(String, String)]| {
            Value::string_map(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        };
        let o = &self.overrides;
        if which == "requestOverride" {
            Value::map(vec![
                (Arc::from("header"), m(&o.request_header)),
                (Arc::from("querystring"), m(&o.request_querystring)),
                (Arc::from("path"), m(&o.request_path)),
            ])
        } else {
            Value::map(vec![
                (
                    Arc::from("status"),
                    o.response_status
                        .map_or(Value::Null, |s| Value::Int(s.into())),
                ),
                (Arc::from("header"), m(&o.response_header)),
            ])
        }
    }

    /// `#set($context.requestOverride.header.X = …)` and the like.
    fn set_override(&mut self, lhs: &Reference, which: &str, v: Value) -> Result<(), VtlError> {
        let mut names = Vec::new();
        for part in &lhs.parts[1..] {
            names.push(match part {
                Part::Prop(n) => n.to_string(),
                Part::Index(e) => {
                    let k = self.expr(e)?;
                    self.text(&k)?
                }
                Part::Method(..) => return Ok(()),
            });
        }
        let (line, column) = line_col(&self.t.source, lhs.pos);
        let bad = |msg: &str| VtlError::Eval {
            line,
            column,
            message: format!("{}: {msg}", lhs.source),
        };
        let max_items = self.limits.max_collection_len;
        let max_len = self.limits.max_output_bytes;
        let o = &mut self.overrides;
        let list = match (which, names.first().map(String::as_str), names.len()) {
            ("responseOverride", Some("status"), 1) => {
                let status = v
                    .as_int()
                    .filter(|s| (100..=599).contains(s))
                    .ok_or_else(|| bad("a status is a number from 100 to 599"))?;
                o.response_status = Some(status as u16);
                return Ok(());
            }
            ("requestOverride", Some("header"), 2) => &mut o.request_header,
            ("requestOverride", Some("querystring"), 2) => &mut o.request_querystring,
            ("requestOverride", Some("path"), 2) => &mut o.request_path,
            ("responseOverride", Some("header"), 2) => &mut o.response_header,
            _ => return Err(bad("not an override AWS allows")),
        };
        let value = v.to_text(max_len).ok_or(Limit::Output(max_len))?;
        let name = names.pop().unwrap_or_default();
        match list.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => {
                if list.len() >= max_items {
                    return Err(Limit::Collection(max_items).into());
                }
                list.push((name, value))
            }
        }
        Ok(())
    }
}

/// A reference's value as text; a null one is its source, or nothing
/// when quiet or into AWS's objects.
fn emit(limits: &Limits, r: &Reference, v: &Value, out: &mut String) -> Result<(), VtlError> {
    let max = limits.max_output_bytes;
    if v.is_null() {
        if r.quiet || r.root.is_builtin() {
            return Ok(());
        }
        if out.len() + r.source.len() > max {
            return Err(Limit::Output(max).into());
        }
        out.push_str(&r.source);
        return Ok(());
    }
    if !v.render_into(out, max) {
        return Err(Limit::Output(max).into());
    }
    Ok(())
}

static NULL: Value = Value::Null;

/// Follows `parts` from `root` while each is a property of a map, by
/// reference; with the steps taken (one per part reached, none past a
/// null, as `Eval::reference` counts). `None` at anything else: an index,
/// a method, or a property of a non-map (a bean getter).
fn props<'v>(root: &'v Value, parts: &[Part]) -> Option<(&'v Value, u64)> {
    let (mut cur, mut steps) = (root, 0);
    for part in parts {
        if cur.is_null() {
            break;
        }
        let (Part::Prop(name), Value::Map(m)) = (part, cur) else {
            return None;
        };
        steps += 1;
        cur = m.get(name).unwrap_or(&NULL);
    }
    Some((cur, steps))
}

/// Most calls take one or two arguments: these are evaluated into an
/// array on the stack, not a vector.
const INLINE_ARGS: usize = 3;

enum Args {
    Inline([Value; INLINE_ARGS], usize),
    Heap(Vec<Value>),
}

impl std::ops::Deref for Args {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        match self {
            Args::Inline(a, n) => &a[..*n],
            Args::Heap(v) => v,
        }
    }
}

/// Runs `f` on the value `path` leads to inside `v` (copying shared
/// containers on the way), then raises each container's depth bound to
/// its changed child's. `None` when the path leads nowhere.
fn at_path<R>(v: &mut Value, path: &[Key], f: &mut dyn FnMut(&mut Value) -> R) -> Option<R> {
    let Some((first, rest)) = path.split_first() else {
        return Some(f(v));
    };
    match (v, first) {
        (Value::Map(m), Key::Name(k)) => {
            let m = Arc::make_mut(m);
            let child = m.get_mut(k)?;
            let r = at_path(child, rest, f);
            let d = child.depth();
            m.bump(d);
            r
        }
        (Value::List(l), Key::Index(i)) => {
            let l = Arc::make_mut(l);
            let n = l.items.len() as i64;
            let i = usize::try_from(if *i < 0 { n + i } else { *i }).ok()?;
            let child = l.items.get_mut(i)?;
            let r = at_path(child, rest, f);
            let d = child.depth();
            l.bump(d);
            r
        }
        _ => None,
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn float_op(op: BinOp, a: f64, b: f64) -> Value {
    Value::Float(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        _ => a % b,
    })
}

/// Velocity 1.7's `==`: numbers by value, same types structurally, other
/// pairs by their text; null equals only null.
fn loose_eq(a: &Value, b: &Value, max: usize, budget: &mut u64) -> bool {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => a.is_null() && b.is_null(),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            a.eq_within(b, budget)
        }
        _ if std::mem::discriminant(a) == std::mem::discriminant(b) => a.eq_within(b, budget),
        _ => match (a.to_text(max), b.to_text(max)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}
