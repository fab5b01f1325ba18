//! Template text to the AST, once per snapshot. Recursive descent with a
//! nesting bound, so a hostile template fails to compile instead of
//! overflowing the stack.

use std::sync::Arc;

use super::ast::{BinOp, Expr, Foreach, Node, Part, Pos, Reference, Root};
use super::error::VtlError;
use super::jsonpath;
use super::lexer::{line_col, Cursor};
use super::methods;
use super::value::Value;

/// Blocks, parentheses, literals and strings nested deeper than this are
/// a syntax error.
pub const MAX_NESTING: usize = 64;

pub struct Compiled {
    pub nodes: Vec<Node>,
    pub slots: Vec<Box<str>>,
    pub defines: Vec<Vec<Node>>,
}

/// Binary operators from the loosest binding to the tightest: symbol,
/// word form, operator.
const LEVELS: &[&[(&str, &str, BinOp)]] = &[
    &[("||", "or", BinOp::Or)],
    &[("&&", "and", BinOp::And)],
    &[("==", "eq", BinOp::Eq), ("!=", "ne", BinOp::Ne)],
    &[
        ("<=", "le", BinOp::Le),
        (">=", "ge", BinOp::Ge),
        ("<", "lt", BinOp::Lt),
        (">", "gt", BinOp::Gt),
    ],
    &[("+", "", BinOp::Add), ("-", "", BinOp::Sub)],
    &[
        ("*", "", BinOp::Mul),
        ("/", "", BinOp::Div),
        ("%", "", BinOp::Mod),
    ],
];

enum Term {
    Eof,
    End,
    Else,
    ElseIf(Expr),
}

pub fn parse(src: &str) -> Result<Compiled, VtlError> {
    let mut p = Parser {
        c: Cursor::new(src),
        slots: Vec::new(),
        defines: Vec::new(),
        depth: 0,
        in_string: None,
    };
    let (nodes, term, at) = p.block()?;
    if !matches!(term, Term::Eof) {
        return Err(p.err_at(at, "unexpected directive: no open #if, #foreach or #define"));
    }
    Ok(Compiled {
        nodes,
        slots: p.slots,
        defines: p.defines,
    })
}

struct Parser<'a> {
    c: Cursor<'a>,
    slots: Vec<Box<str>>,
    defines: Vec<Vec<Node>>,
    depth: usize,
    /// The quote of the double-quoted string being parsed as a template.
    in_string: Option<u8>,
}

impl<'a> Parser<'a> {
    fn err_at(&self, at: Pos, msg: impl Into<String>) -> VtlError {
        let (line, column) = line_col(self.c.src, at);
        VtlError::Syntax {
            line,
            column,
            message: msg.into(),
        }
    }
    fn err(&self, msg: impl Into<String>) -> VtlError {
        self.err_at(self.c.here(), msg)
    }
    fn enter(&mut self) -> Result<(), VtlError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(format!("nested more than {MAX_NESTING} deep")));
        }
        Ok(())
    }
    fn expect(&mut self, s: &str) -> Result<(), VtlError> {
        self.c.skip_ws();
        if self.c.eat(s) {
            Ok(())
        } else {
            Err(self.err(format!("expected `{s}`")))
        }
    }
    fn slot(&mut self, name: &str) -> usize {
        match self.slots.iter().position(|s| &**s == name) {
            Some(i) => i,
            None => {
                self.slots.push(name.into());
                self.slots.len() - 1
            }
        }
    }

    /// Nodes up to the end of the region or a block terminator; the
    /// terminator and where it starts.
    fn block(&mut self) -> Result<(Vec<Node>, Term, Pos), VtlError> {
        self.enter()?;
        let r = self.block_inner();
        self.depth -= 1;
        r
    }

    fn block_inner(&mut self) -> Result<(Vec<Node>, Term, Pos), VtlError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        loop {
            self.text_run(&mut text);
            let at = self.c.here();
            match self.c.peek() {
                None => {
                    flush(&mut nodes, &mut text);
                    return Ok((nodes, Term::Eof, at));
                }
                Some(b'$') => match self.reference()? {
                    Some(r) => {
                        flush(&mut nodes, &mut text);
                        nodes.push(Node::Ref(Box::new(r)));
                    }
                    None => {
                        text.push('$');
                        self.c.pos += 1;
                    }
                },
                Some(b'#') => {
                    if let Some(term) = self.hash(&mut nodes, &mut text)? {
                        flush(&mut nodes, &mut text);
                        return Ok((nodes, term, at));
                    }
                }
                Some(q) => {
                    // A doubled quote inside a double-quoted string.
                    text.push(q as char);
                    self.c.pos += 2;
                }
            }
        }
    }

    /// Plain text up to the next `$`, `#` or (in a string) quote.
    fn text_run(&mut self, text: &mut String) {
        let rest = self.c.rest();
        let q = self.in_string;
        let n = rest
            .bytes()
            .position(|b| b == b'$' || b == b'#' || Some(b) == q)
            .unwrap_or(rest.len());
        text.push_str(&rest[..n]);
        self.c.pos += n;
    }

    /// Something starting with `#`: a comment, a directive (returning a
    /// terminator when it ends the block) or a literal `#`.
    fn hash(&mut self, nodes: &mut Vec<Node>, text: &mut String) -> Result<Option<Term>, VtlError> {
        let at = self.c.pos;
        if self.c.eat("##") {
            let rest = self.c.rest();
            self.c.pos += rest.find('\n').map_or(rest.len(), |i| i + 1);
            return Ok(None);
        }
        if self.c.eat("#*") {
            let Some(i) = self.c.rest().find("*#") else {
                return Err(self.err_at(at as Pos, "unterminated #* comment"));
            };
            self.c.pos += i + 2;
            return Ok(None);
        }
        if self.c.eat("#[[") {
            let Some(i) = self.c.rest().find("]]#") else {
                return Err(self.err_at(at as Pos, "unterminated #[[ block"));
            };
            text.push_str(&self.c.rest()[..i]);
            self.c.pos += i + 3;
            return Ok(None);
        }
        self.c.pos += 1;
        let braced = self.c.eat("{");
        let name = self.c.ident().unwrap_or("");
        if braced && !self.c.eat("}") {
            self.c.pos = at + 1;
            text.push('#');
            return Ok(None);
        }
        let known = matches!(
            name,
            "set" | "if" | "elseif" | "else" | "end" | "foreach" | "break" | "stop" | "define"
        );
        if !known {
            self.c.pos = at + 1;
            text.push('#');
            return Ok(None);
        }
        let lead = self.line_lead(at);
        let pos = at as Pos;
        match name {
            "else" => {
                self.gobble(lead, text);
                Ok(Some(Term::Else))
            }
            "end" => {
                self.gobble(lead, text);
                Ok(Some(Term::End))
            }
            "elseif" => {
                let cond = self.paren_expr()?;
                self.gobble(lead, text);
                Ok(Some(Term::ElseIf(cond)))
            }
            "break" | "stop" => {
                self.gobble(lead, text);
                flush(nodes, text);
                nodes.push(if name == "break" {
                    Node::Break
                } else {
                    Node::Stop
                });
                Ok(None)
            }
            "set" => {
                self.open_paren()?;
                self.c.skip_ws();
                let lhs_at = self.c.here();
                let lhs = match self.reference()? {
                    Some(r) => r,
                    None => return Err(self.err("#set needs a reference to assign")),
                };
                if !matches!(lhs.root, Root::Var(_) | Root::Context) {
                    return Err(self.err_at(lhs_at, format!("#set cannot assign {}", lhs.source)));
                }
                if matches!(lhs.parts.last(), Some(Part::Method(..))) {
                    return Err(self.err_at(lhs_at, "#set cannot assign to a method call"));
                }
                self.expect("=")?;
                let value = self.expr()?;
                self.expect(")")?;
                self.gobble(lead, text);
                flush(nodes, text);
                nodes.push(Node::Set(Box::new(lhs), value));
                Ok(None)
            }
            "if" => {
                let mut cond = self.paren_expr()?;
                self.gobble(lead, text);
                flush(nodes, text);
                let mut branches = Vec::new();
                let mut otherwise = None;
                loop {
                    let (body, term, _) = self.block()?;
                    match term {
                        Term::End => {
                            branches.push((cond, body));
                            break;
                        }
                        Term::ElseIf(c) => {
                            branches.push((cond, body));
                            cond = c;
                        }
                        Term::Else => {
                            branches.push((cond, body));
                            otherwise = Some(self.body_to_end(pos, "#else")?);
                            break;
                        }
                        Term::Eof => return Err(self.err_at(pos, "#if without #end")),
                    }
                }
                nodes.push(Node::If(branches, otherwise));
                Ok(None)
            }
            "foreach" => {
                self.open_paren()?;
                self.c.skip_ws();
                let var = self.loop_var()?;
                self.c.skip_ws();
                if !self.word("in") {
                    return Err(self.err("expected `in`"));
                }
                let iter = self.expr()?;
                self.expect(")")?;
                self.gobble(lead, text);
                flush(nodes, text);
                let body = self.body_to_end(pos, "#foreach")?;
                nodes.push(Node::Foreach(Box::new(Foreach { var, iter, body })));
                Ok(None)
            }
            _ => {
                // define
                self.open_paren()?;
                self.c.skip_ws();
                let var = self.loop_var()?;
                self.expect(")")?;
                self.gobble(lead, text);
                flush(nodes, text);
                let body = self.body_to_end(pos, "#define")?;
                self.defines.push(body);
                nodes.push(Node::Define(var, self.defines.len() - 1));
                Ok(None)
            }
        }
    }

    fn body_to_end(&mut self, pos: Pos, what: &str) -> Result<Vec<Node>, VtlError> {
        let (body, term, at) = self.block()?;
        match term {
            Term::End => Ok(body),
            Term::Eof => Err(self.err_at(pos, format!("{what} without #end"))),
            _ => Err(self.err_at(at, format!("#else or #elseif inside {what}"))),
        }
    }

    /// `$name` naming a plain variable (a loop variable or `#define`).
    fn loop_var(&mut self) -> Result<usize, VtlError> {
        if !self.c.eat("$") {
            return Err(self.err("expected a variable"));
        }
        self.c.eat("!");
        let braced = self.c.eat("{");
        let Some(name) = self.c.ident() else {
            return Err(self.err("expected a variable name"));
        };
        if braced && !self.c.eat("}") {
            return Err(self.err("expected `}`"));
        }
        match root_of(name) {
            Some(_) => Err(self.err(format!("${name} is built in"))),
            None => Ok(self.slot(name)),
        }
    }

    fn open_paren(&mut self) -> Result<(), VtlError> {
        while matches!(self.c.peek(), Some(b' ' | b'\t')) {
            self.c.pos += 1;
        }
        if self.c.eat("(") {
            Ok(())
        } else {
            Err(self.err("expected `(` after the directive"))
        }
    }

    fn paren_expr(&mut self) -> Result<Expr, VtlError> {
        self.open_paren()?;
        let e = self.expr()?;
        self.expect(")")?;
        Ok(e)
    }

    /// Where the directive's line starts, when only spaces and tabs
    /// precede it there (never inside a string).
    fn line_lead(&self, at: usize) -> Option<(usize, usize)> {
        if self.in_string.is_some() {
            return None;
        }
        let before = &self.c.src[..at];
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        before[start..]
            .bytes()
            .all(|b| b == b' ' || b == b'\t')
            .then_some((start, at))
    }

    /// A directive alone on its line takes the line with it: its
    /// indentation and its line break (Velocity 2's "lines" mode).
    fn gobble(&mut self, lead: Option<(usize, usize)>, text: &mut String) {
        let Some((start, hash)) = lead else { return };
        let rest = self.c.rest();
        let n = rest
            .bytes()
            .position(|b| b != b' ' && b != b'\t' && b != b'\r')
            .unwrap_or(rest.len());
        let after = match rest.as_bytes().get(n) {
            None => n,
            Some(b'\n') => n + 1,
            Some(_) => return,
        };
        let indent = &self.c.src[start..hash];
        if text.ends_with(indent) {
            text.truncate(text.len() - indent.len());
        }
        self.c.pos += after;
    }

    /// A keyword operator, not the start of a longer name.
    fn word(&mut self, w: &str) -> bool {
        if self.c.starts_with(w) && !self.c.ident_at(self.c.pos + w.len()) {
            let after = self.c.byte_at(self.c.pos + w.len());
            if !matches!(after, Some(c) if c.is_ascii_digit()) {
                self.c.pos += w.len();
                return true;
            }
        }
        false
    }

    /// A reference at `$`, or `None` (cursor unmoved) when the `$` is text
    /// or there is no `$` (`#set(` followed by anything else).
    fn reference(&mut self) -> Result<Option<Reference>, VtlError> {
        let start = self.c.pos;
        if self.c.peek() != Some(b'$') {
            return Ok(None);
        }
        self.c.pos += 1;
        let quiet = self.c.eat("!");
        let braced = self.c.eat("{");
        let Some(name) = self.c.ident() else {
            self.c.pos = start;
            return Ok(None);
        };
        let root = match root_of(name) {
            Some(r) => r,
            None => Root::Var(self.slot(name)),
        };
        let mut parts = Vec::new();
        loop {
            if self.c.peek() == Some(b'.') && self.c.ident_at(self.c.pos + 1) {
                self.c.pos += 1;
                let name = self.c.member().unwrap_or_default();
                if self.c.peek() == Some(b'(') {
                    self.c.pos += 1;
                    let args = self.args()?;
                    parts.push(Part::Method(name.into(), args));
                } else {
                    parts.push(Part::Prop(name.into()));
                }
            } else if self.c.peek() == Some(b'[') {
                let save = self.c.pos;
                self.c.pos += 1;
                let depth = self.depth;
                let index = self.expr().and_then(|e| self.expect("]").map(|_| e));
                match index {
                    Ok(e) => parts.push(Part::Index(e)),
                    Err(_) => {
                        self.depth = depth;
                        self.c.pos = save;
                        break;
                    }
                }
            } else {
                break;
            }
        }
        if braced && !self.c.eat("}") {
            self.c.pos = start;
            return Ok(None);
        }
        let writes = parts
            .iter()
            .any(|p| matches!(p, Part::Method(n, _) if methods::mutates(n)));
        let jsonpath = match (root, parts.first()) {
            (Root::Input, Some(Part::Method(m, args))) if matches!(&**m, "path" | "json") => {
                match args.as_slice() {
                    [Expr::Lit(Value::Str(p))] => jsonpath::compile(p).ok().map(Box::new),
                    _ => None,
                }
            }
            _ => None,
        };
        Ok(Some(Reference {
            root,
            parts,
            quiet,
            source: self.c.src[start..self.c.pos].into(),
            pos: start as Pos,
            writes,
            jsonpath,
        }))
    }

    /// Arguments after `(`, through `)`.
    fn args(&mut self) -> Result<Vec<Expr>, VtlError> {
        let mut args = Vec::new();
        self.c.skip_ws();
        if self.c.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            self.c.skip_ws();
            if self.c.eat(")") {
                return Ok(args);
            }
            if !self.c.eat(",") {
                return Err(self.err("expected `,` or `)`"));
            }
        }
    }

    fn expr(&mut self) -> Result<Expr, VtlError> {
        self.enter()?;
        let r = self.binary(0);
        self.depth -= 1;
        r
    }

    /// One precedence level of `LEVELS` (left-associative), then the next.
    fn binary(&mut self, level: usize) -> Result<Expr, VtlError> {
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut l = self.binary(level + 1)?;
        'next: loop {
            self.c.skip_ws();
            for &(symbol, word, op) in *ops {
                if self.c.eat(symbol) || (!word.is_empty() && self.word(word)) {
                    let r = self.binary(level + 1)?;
                    l = Expr::Bin(op, Box::new(l), Box::new(r));
                    continue 'next;
                }
            }
            return Ok(l);
        }
    }

    fn unary(&mut self) -> Result<Expr, VtlError> {
        self.c.skip_ws();
        let bang = self.c.peek() == Some(b'!') && self.c.byte_at(self.c.pos + 1) != Some(b'=');
        if bang {
            self.c.pos += 1;
        }
        if bang || self.word("not") {
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e?)));
        }
        if self.c.peek() == Some(b'-') {
            self.c.pos += 1;
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(match e? {
                Expr::Lit(Value::Int(i)) => Expr::Lit(Value::Int(i.wrapping_neg())),
                Expr::Lit(Value::Float(f)) => Expr::Lit(Value::Float(-f)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, VtlError> {
        self.c.skip_ws();
        let at = self.c.here();
        match self.c.peek() {
            Some(b'$') => match self.reference()? {
                Some(r) => Ok(Expr::Ref(Box::new(r))),
                None => Err(self.err("expected a reference after `$`")),
            },
            Some(b'"') => self.dq_string(),
            Some(b'\'') => {
                self.c.pos += 1;
                let Some(end) = self.c.string_end(b'\'') else {
                    return Err(self.err_at(at, "unterminated string"));
                };
                let s = self.c.src[self.c.pos..end].replace("''", "'");
                self.c.pos = end + 1;
                Ok(Expr::Lit(Value::Str(Arc::from(s))))
            }
            Some(c) if c.is_ascii_digit() => {
                let (text, float) = self.c.number().unwrap_or(("0", false));
                if !float {
                    if let Ok(i) = text.parse::<i64>() {
                        return Ok(Expr::Lit(Value::Int(i)));
                    }
                }
                match text.parse::<f64>() {
                    Ok(f) => Ok(Expr::Lit(Value::Float(f))),
                    Err(_) => Err(self.err_at(at, "bad number")),
                }
            }
            Some(b'[') => {
                self.c.pos += 1;
                self.c.skip_ws();
                if self.c.eat("]") {
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.expr()?;
                self.c.skip_ws();
                if self.c.eat("..") {
                    let last = self.expr()?;
                    self.expect("]")?;
                    return Ok(Expr::Range(Box::new(first), Box::new(last)));
                }
                let mut items = vec![first];
                loop {
                    self.c.skip_ws();
                    if self.c.eat("]") {
                        return Ok(Expr::List(items));
                    }
                    if !self.c.eat(",") {
                        return Err(self.err("expected `,` or `]`"));
                    }
                    items.push(self.expr()?);
                }
            }
            Some(b'{') => {
                self.c.pos += 1;
                let mut entries = Vec::new();
                self.c.skip_ws();
                if self.c.eat("}") {
                    return Ok(Expr::Map(entries));
                }
                loop {
                    let k = self.expr()?;
                    self.expect(":")?;
                    let v = self.expr()?;
                    entries.push((k, v));
                    self.c.skip_ws();
                    if self.c.eat("}") {
                        return Ok(Expr::Map(entries));
                    }
                    if !self.c.eat(",") {
                        return Err(self.err("expected `,` or `}`"));
                    }
                }
            }
            Some(b'(') => {
                self.c.pos += 1;
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            _ => {
                if self.word("true") {
                    Ok(Expr::Lit(Value::Bool(true)))
                } else if self.word("false") {
                    Ok(Expr::Lit(Value::Bool(false)))
                } else if self.word("null") {
                    Ok(Expr::Lit(Value::Null))
                } else {
                    Err(self.err("expected an expression"))
                }
            }
        }
    }

    /// A double-quoted string: its contents are a template of their own.
    fn dq_string(&mut self) -> Result<Expr, VtlError> {
        let at = self.c.here();
        self.c.pos += 1;
        let Some(end) = self.c.string_end(b'"') else {
            return Err(self.err_at(at, "unterminated string"));
        };
        let body = &self.c.src[self.c.pos..end];
        if !body.contains(['$', '#']) {
            self.c.pos = end + 1;
            return Ok(Expr::Lit(Value::Str(Arc::from(body.replace("\"\"", "\"")))));
        }
        let (saved_end, saved_q) = (self.c.end, self.in_string);
        self.c.end = end;
        self.in_string = Some(b'"');
        let r = self.block();
        self.c.end = saved_end;
        self.in_string = saved_q;
        let (nodes, term, term_at) = r?;
        if !matches!(term, Term::Eof) {
            return Err(self.err_at(term_at, "unbalanced directive in a string"));
        }
        self.c.pos = end + 1;
        Ok(Expr::Interp(nodes))
    }
}

fn flush(nodes: &mut Vec<Node>, text: &mut String) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text).into_boxed_str()));
    }
}

fn root_of(name: &str) -> Option<Root> {
    Some(match name {
        "input" => Root::Input,
        "util" => Root::Util,
        "context" => Root::Context,
        "stageVariables" => Root::StageVariables,
        "foreach" => Root::Foreach,
        "velocityCount" => Root::VelocityCount,
        _ => return None,
    })
}
