//! Sources to a module tree: which file holds each module, what each module
//! defines and imports, and every path written in it. Nothing is resolved
//! here; `resolve.rs` does that once the whole tree is known, because a path
//! may name a module declared later or in a file read later.

use std::collections::{BTreeMap, BTreeSet};

use super::lexer::{lex, Tok, Token};

pub type ModId = usize;
pub type FileId = usize;

#[derive(Debug, Default)]
pub struct Module {
    pub name: String,
    pub parent: Option<ModId>,
    pub krate: usize,
    pub file: FileId,
    /// Where `mod x;` inside this module looks for `x.rs` / `x/mod.rs`.
    pub child_dir: String,
    pub children: BTreeMap<String, ModId>,
    /// Names of the items defined here (types, functions, constants...).
    pub items: BTreeSet<String>,
    /// `#[macro_export]` macros sit at the crate root, defined in their file.
    pub macros: BTreeMap<String, FileId>,
    pub imports: Vec<Import>,
}

#[derive(Debug, Clone)]
pub struct Import {
    /// The name it binds; `None` for a glob, `Some("_")` binds nothing.
    pub name: Option<String>,
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A leaf of a `use` tree.
    Use,
    /// `use path::*`.
    Glob,
    /// A path of two or more segments anywhere else (types, calls, patterns, macros).
    Body,
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub module: ModId,
    pub path: Vec<String>,
    pub line: u32,
    pub kind: RefKind,
    /// Followed by `!`: the last segment is a macro.
    pub is_macro: bool,
    /// Inside an item under `#[cfg(test)]`.
    pub test: bool,
}

pub struct Crate {
    pub name: String,
    pub root: ModId,
    /// Other crates of this package it may name (`portico::` from the binary).
    pub externs: Vec<usize>,
}

#[derive(Default)]
pub struct Tree {
    pub files: Vec<String>,
    pub modules: Vec<Module>,
    pub refs: Vec<Reference>,
    pub crates: Vec<Crate>,
    /// Files of a module declared with `mod` (the parent's file first).
    pub declared: Vec<(FileId, FileId, bool)>,
    /// What could not be read: a `mod x;` without its file, a source no crate reaches.
    pub problems: Vec<String>,
}

/// `crates`: (name, root file, names of the crates before it that it depends on).
pub fn build(sources: &BTreeMap<String, String>, crates: &[(&str, &str, &[&str])]) -> Tree {
    let mut tree = Tree::default();
    for &(name, root, deps) in crates {
        let krate = tree.crates.len();
        let externs = deps
            .iter()
            .filter_map(|d| tree.crates.iter().position(|c| c.name == *d))
            .collect();
        let root_mod = tree.new_module(String::new(), None, krate, root);
        tree.crates.push(Crate {
            name: name.to_string(),
            root: root_mod,
            externs,
        });
        tree.modules[root_mod].child_dir = parent_dir(root).to_string();
        tree.read_file(sources, root_mod, root, false);
    }
    let reached: BTreeSet<&str> = tree.files.iter().map(String::as_str).collect();
    for path in sources.keys() {
        if !reached.contains(path.as_str()) {
            tree.problems
                .push(format!("{path}: no `mod` declaration reaches this file"));
        }
    }
    tree
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Tree {
    fn new_module(
        &mut self,
        name: String,
        parent: Option<ModId>,
        krate: usize,
        file: &str,
    ) -> ModId {
        let file = match self.files.iter().position(|f| f == file) {
            Some(f) => f,
            None => {
                self.files.push(file.to_string());
                self.files.len() - 1
            }
        };
        self.modules.push(Module {
            name,
            parent,
            krate,
            file,
            ..Module::default()
        });
        self.modules.len() - 1
    }

    pub fn root_of(&self, m: ModId) -> ModId {
        self.crates[self.modules[m].krate].root
    }

    fn read_file(
        &mut self,
        sources: &BTreeMap<String, String>,
        module: ModId,
        path: &str,
        test: bool,
    ) {
        let Some(src) = sources.get(path) else {
            self.problems.push(format!("{path}: declared but missing"));
            return;
        };
        let toks = lex(src);
        let mut p = FileParser {
            toks: &toks,
            i: 0,
            frames: vec![Frame {
                module,
                module_body: true,
                test,
            }],
            pending_test: false,
            pending_export: false,
            pending_mod: None,
            file_mods: Vec::new(),
        };
        p.run(self);
        for (child, test) in p.file_mods {
            let m = &self.modules[child];
            let dir = join(&self.modules[m.parent.unwrap()].child_dir, &m.name);
            let flat = format!("{dir}.rs");
            let nested = format!("{dir}/mod.rs");
            let file = if sources.contains_key(&flat) || !sources.contains_key(&nested) {
                flat
            } else {
                nested
            };
            let file_id = self.new_file_for(child, &file);
            self.modules[child].child_dir = dir;
            let parent_file = self.modules[module].file;
            self.declared.push((parent_file, file_id, test));
            self.read_file(sources, child, &file, test);
        }
    }

    fn new_file_for(&mut self, m: ModId, file: &str) -> FileId {
        self.files.push(file.to_string());
        let id = self.files.len() - 1;
        self.modules[m].file = id;
        id
    }
}

struct Frame {
    module: ModId,
    /// Items here are the module's (not a function's or an impl's).
    module_body: bool,
    test: bool,
}

struct FileParser<'t, 's> {
    toks: &'t [Token<'s>],
    i: usize,
    frames: Vec<Frame>,
    /// An attribute `#[cfg(test)]` applies to the item being read.
    pending_test: bool,
    pending_export: bool,
    /// `mod name {`: the next `{` opens this module.
    pending_mod: Option<ModId>,
    /// `mod name;` seen: read once this file is done.
    file_mods: Vec<(ModId, bool)>,
}

/// Keywords that never start a path to a module or item. `crate`, `self`
/// and `super` do; `Self::x` is relative to a type, never a module.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "yield", "Self",
];

const ITEM_KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "trait", "type", "const", "static", "union",
];

impl<'s> FileParser<'_, 's> {
    fn tok(&self, k: usize) -> Option<Tok<'s>> {
        self.toks.get(self.i + k).map(|t| t.tok)
    }

    fn ident(&self, k: usize) -> Option<&'s str> {
        match self.tok(k) {
            Some(Tok::Ident(s)) => Some(s),
            _ => None,
        }
    }

    fn is_punct(&self, k: usize, c: char) -> bool {
        self.tok(k) == Some(Tok::Punct(c as u8))
    }

    fn line(&self) -> u32 {
        self.toks.get(self.i).map_or(0, |t| t.line)
    }

    fn frame(&self) -> &Frame {
        self.frames.last().unwrap()
    }

    fn test(&self) -> bool {
        self.frame().test || self.pending_test
    }

    fn end_item(&mut self) {
        self.pending_test = false;
        self.pending_export = false;
    }

    fn run(&mut self, tree: &mut Tree) {
        while self.i < self.toks.len() {
            let prev = self.i.checked_sub(1).map(|k| self.toks[k].tok);
            let after_sep = matches!(prev, Some(Tok::PathSep) | Some(Tok::Punct(b'.')));
            match self.toks[self.i].tok {
                Tok::Punct(b'#') => self.attribute(),
                Tok::Punct(b'{') => {
                    let parent = self.frame();
                    let frame = Frame {
                        module: self.pending_mod.unwrap_or(parent.module),
                        module_body: self.pending_mod.is_some(),
                        test: parent.test || self.pending_test,
                    };
                    self.frames.push(frame);
                    self.pending_mod = None;
                    self.end_item();
                    self.i += 1;
                }
                Tok::Punct(b'}') => {
                    if self.frames.len() > 1 {
                        self.frames.pop();
                    }
                    self.i += 1;
                }
                Tok::Punct(b';') => {
                    self.end_item();
                    self.i += 1;
                }
                Tok::Punct(b'$') if self.ident(1) == Some("crate") => {
                    // `$crate::x` in a macro body: the defining crate.
                    self.i += 1;
                    self.path(tree);
                }
                Tok::Ident(_) if after_sep => self.i += 1,
                Tok::Ident(s) if s == "pub" && self.is_punct(1, '(') => {
                    // `pub(in crate::x)` names a module it does not use.
                    self.i += 1;
                    self.skip_group(b'(', b')');
                }
                // `impl Trait + use<'a>` (precise capturing) names lifetimes, not items.
                Tok::Ident("use") if self.is_punct(1, '<') => self.i += 1,
                Tok::Ident("use") => self.use_decl(tree),
                Tok::Ident(s) if s == "mod" && self.ident(1).is_some() => self.mod_decl(tree),
                Tok::Ident(s) if s == "macro_rules" && self.is_punct(1, '!') => {
                    if let Some(name) = self.ident(2).map(str::to_string) {
                        let m = self.frame().module;
                        let file = tree.modules[m].file;
                        let at = if self.pending_export {
                            tree.root_of(m)
                        } else {
                            m
                        };
                        tree.modules[at].macros.insert(name, file);
                    }
                    self.i += 3;
                }
                Tok::Ident(s) if ITEM_KEYWORDS.contains(&s) => match self.ident(1) {
                    Some(name)
                        if !KEYWORDS.contains(&name) && name != "_" && self.frame().module_body =>
                    {
                        let m = self.frame().module;
                        tree.modules[m].items.insert(name.to_string());
                        self.i += 2;
                    }
                    _ => self.i += 1,
                },
                Tok::Ident(s) if !KEYWORDS.contains(&s) => self.path(tree),
                _ => self.i += 1,
            }
        }
    }

    /// `#[...]` or `#![...]`: remembered if it is `cfg(test)` or `macro_export`, never a path.
    fn attribute(&mut self) {
        let start = self.i + if self.is_punct(1, '!') { 2 } else { 1 };
        self.i = start;
        if !self.is_punct(0, '[') {
            return;
        }
        self.skip_group(b'[', b']');
        let body = &self.toks[start + 1..self.i.saturating_sub(1)];
        let has = |w: &str| body.iter().any(|t| t.tok == Tok::Ident(w));
        if body.first().map(|t| t.tok) == Some(Tok::Ident("cfg")) && has("test") && !has("not") {
            self.pending_test = true;
        }
        if body.len() == 1 && has("macro_export") {
            self.pending_export = true;
        }
    }

    /// From an opening delimiter to just after its match.
    fn skip_group(&mut self, open: u8, close: u8) {
        let mut depth = 0;
        while let Some(t) = self.tok(0) {
            self.i += 1;
            if t == Tok::Punct(open) {
                depth += 1;
            } else if t == Tok::Punct(close) {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
        }
    }

    /// `a::b::c` (two segments or more) anywhere but a `use`.
    fn path(&mut self, tree: &mut Tree) {
        let line = self.line();
        let mut segs = vec![self.ident(0).unwrap().to_string()];
        self.i += 1;
        while self.tok(0) == Some(Tok::PathSep) {
            match self.ident(1) {
                Some(s) if s != "Self" => {
                    segs.push(s.to_string());
                    self.i += 2;
                }
                _ => break,
            }
        }
        let is_macro = self.is_punct(0, '!') && !self.is_punct(1, '=');
        if segs.len() >= 2 {
            tree.refs.push(Reference {
                module: self.frame().module,
                path: segs,
                line,
                kind: RefKind::Body,
                is_macro,
                test: self.test(),
            });
        }
    }

    fn mod_decl(&mut self, tree: &mut Tree) {
        let name = self.ident(1).unwrap().to_string();
        let parent = self.frame().module;
        let krate = tree.modules[parent].krate;
        let file = tree.files[tree.modules[parent].file].clone();
        let test = self.test();
        let child = tree.new_module(name.clone(), Some(parent), krate, &file);
        tree.modules[parent].children.insert(name.clone(), child);
        if self.is_punct(2, ';') {
            self.file_mods.push((child, test));
            self.end_item();
            self.i += 3;
        } else {
            // Inline: children of `mod a { mod b; }` live under a/.
            tree.modules[child].child_dir = join(&tree.modules[parent].child_dir, &name);
            self.pending_mod = Some(child);
            self.i += 2;
        }
    }

    fn use_decl(&mut self, tree: &mut Tree) {
        let line = self.line();
        self.i += 1;
        let mut leaves = Vec::new();
        self.use_tree(Vec::new(), &mut leaves);
        let module = self.frame().module;
        let test = self.test();
        for (path, name) in leaves {
            let kind = if name.is_none() {
                RefKind::Glob
            } else {
                RefKind::Use
            };
            tree.refs.push(Reference {
                module,
                path: path.clone(),
                line,
                kind,
                is_macro: false,
                test,
            });
            tree.modules[module].imports.push(Import { name, path });
        }
    }

    /// One use tree after `prefix`; each leaf as (path, bound name or None for a glob).
    fn use_tree(&mut self, prefix: Vec<String>, leaves: &mut Vec<(Vec<String>, Option<String>)>) {
        let mut path = prefix;
        if self.tok(0) == Some(Tok::PathSep) {
            // `::name`: an extern crate, never this one.
            path.push("::".into());
            self.i += 1;
        }
        loop {
            match self.tok(0) {
                Some(Tok::Ident(s)) => {
                    path.push(s.to_string());
                    self.i += 1;
                    if self.tok(0) == Some(Tok::PathSep) {
                        self.i += 1;
                        continue;
                    }
                    break;
                }
                Some(Tok::Punct(b'*')) => {
                    self.i += 1;
                    leaves.push((path, None));
                    return;
                }
                Some(Tok::Punct(b'{')) => {
                    self.i += 1;
                    while self.tok(0).is_some() && !self.is_punct(0, '}') {
                        self.use_tree(path.clone(), leaves);
                        if self.is_punct(0, ',') {
                            self.i += 1;
                        }
                    }
                    self.i += 1;
                    return;
                }
                _ => {
                    // Malformed: skip to the end of the declaration.
                    while self.tok(0).is_some() && !self.is_punct(0, ';') {
                        self.i += 1;
                    }
                    return;
                }
            }
        }
        if path.last().map(String::as_str) == Some("self") {
            path.pop();
        }
        let mut name = path.last().cloned();
        if self.ident(0) == Some("as") {
            name = self.ident(1).map(str::to_string);
            self.i += 2;
        }
        leaves.push((path, name));
    }
}
