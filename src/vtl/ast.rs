//! The compiled template: a tree the evaluator walks, built once per
//! snapshot. Variables are numbered slots, not names, so a render looks
//! nothing up by string.

use super::jsonpath::Path;
use super::value::Value;

/// A byte offset into the template source, turned into a line and column
/// only when an error is reported.
pub type Pos = u32;

#[derive(Debug)]
pub enum Node {
    Text(Box<str>),
    Ref(Box<Reference>),
    Set(Box<Reference>, Expr),
    If(Vec<(Expr, Vec<Node>)>, Option<Vec<Node>>),
    Foreach(Box<Foreach>),
    Break,
    Stop,
    /// `#define($slot)`: the block is `Template::defines[index]`.
    Define(usize, usize),
}

#[derive(Debug)]
pub struct Foreach {
    pub var: usize,
    pub iter: Expr,
    pub body: Vec<Node>,
}

/// Where a reference starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Input,
    Util,
    Context,
    StageVariables,
    Foreach,
    VelocityCount,
    Var(usize),
}

impl Root {
    /// AWS renders an unresolved reference into its own objects as empty
    /// text, where Velocity would echo the reference.
    pub fn is_builtin(self) -> bool {
        matches!(
            self,
            Root::Input | Root::Util | Root::Context | Root::StageVariables
        )
    }
}

#[derive(Debug)]
pub struct Reference {
    pub root: Root,
    pub parts: Vec<Part>,
    /// `$!x`: null renders as nothing.
    pub quiet: bool,
    /// The source text, rendered when the reference is null.
    pub source: Box<str>,
    pub pos: Pos,
    /// A method that changes its receiver (`add`, `put`…) is called on the
    /// way, so the evaluator keeps the path to write back through.
    pub writes: bool,
    /// `$input.path('…')` or `$input.json('…')` with a literal path: the
    /// path, parsed once here rather than on every render.
    pub jsonpath: Option<Box<Path>>,
}

#[derive(Debug)]
pub enum Part {
    Prop(Box<str>),
    Index(Expr),
    Method(Box<str>, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug)]
pub enum Expr {
    Lit(Value),
    Ref(Box<Reference>),
    /// A double-quoted string with references or directives in it.
    Interp(Vec<Node>),
    List(Vec<Expr>),
    Range(Box<Expr>, Box<Expr>),
    Map(Vec<(Expr, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
}
