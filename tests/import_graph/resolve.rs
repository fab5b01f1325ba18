//! A path to the file that defines what it names. Re-exports are followed to
//! the end: `crate::server::Worker` names `server/worker.rs`, not the
//! `server/mod.rs` that re-exports it, because the defining file is the one
//! the code depends on; a facade that re-exports is itself charged an edge
//! to each file it re-exports from.

use std::cell::RefCell;

use super::scan::{FileId, ModId, Tree};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Module(ModId),
    /// An item (type, function, constant, macro) and the file that defines it.
    Item(FileId),
    /// Outside this package: std, a dependency, a generic parameter.
    External,
}

/// Which namespace the last segment is looked up in first. A module and a
/// function may share a name (`mod scrape;` next to `pub use scrape::scrape;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pref {
    /// Followed by more segments, or a `use` that may be a module.
    Module,
    Item,
    Macro,
}

pub struct Resolver<'t> {
    tree: &'t Tree,
    /// Lookups in progress: a cycle of re-exports resolves to nothing.
    active: RefCell<Vec<(ModId, String, Pref)>>,
}

impl<'t> Resolver<'t> {
    pub fn new(tree: &'t Tree) -> Self {
        Resolver {
            tree,
            active: RefCell::new(Vec::new()),
        }
    }

    /// `Err` when a path that must be in this package (it starts with
    /// `crate`, `self`, `super` or a name in scope) names nothing in it.
    pub fn resolve(&self, from: ModId, path: &[String], last: Pref) -> Result<Target, String> {
        let pref_at = |k: usize| {
            if k + 1 == path.len() {
                last
            } else {
                Pref::Module
            }
        };
        let module = &self.tree.modules[from];
        let mut cur = match path[0].as_str() {
            "::" => return Ok(Target::External),
            "crate" => Target::Module(self.tree.root_of(from)),
            "self" => Target::Module(from),
            "super" => Target::Module(module.parent.ok_or("`super` at a crate root")?),
            name => match self.lookup(from, name, pref_at(0)) {
                Some(t) => t,
                None => {
                    let krate = &self.tree.crates[module.krate];
                    match krate
                        .externs
                        .iter()
                        .find(|&&c| self.tree.crates[c].name == name)
                    {
                        Some(&c) => Target::Module(self.tree.crates[c].root),
                        None => return Ok(Target::External),
                    }
                }
            },
        };
        for (k, seg) in path.iter().enumerate().skip(1) {
            let Target::Module(m) = cur else { break };
            cur = match seg.as_str() {
                "self" => Target::Module(m),
                "super" => Target::Module(
                    self.tree.modules[m]
                        .parent
                        .ok_or("`super` above a crate root")?,
                ),
                name => self
                    .lookup(m, name, pref_at(k))
                    .ok_or_else(|| format!("no `{name}` in `{}`", self.module_path(m)))?,
            };
        }
        Ok(cur)
    }

    /// What `name` means inside module `m`, in `pref`'s namespace first.
    fn lookup(&self, m: ModId, name: &str, pref: Pref) -> Option<Target> {
        let key = (m, name.to_string(), pref);
        if self.active.borrow().contains(&key) {
            return None;
        }
        self.active.borrow_mut().push(key);
        let found = self.bindings(m, name, pref);
        self.active.borrow_mut().pop();
        let first = |want: fn(&Target) -> bool| found.iter().copied().find(want);
        let module = first(|t| matches!(t, Target::Module(_)));
        let item = first(|t| !matches!(t, Target::Module(_)));
        match pref {
            Pref::Module => module.or(item),
            Pref::Item | Pref::Macro => item.or(module),
        }
    }

    /// Every binding of `name` in `m`: its own modules and items first, then
    /// its imports, then (only if nothing else binds it) its glob imports.
    fn bindings(&self, m: ModId, name: &str, pref: Pref) -> Vec<Target> {
        let module = &self.tree.modules[m];
        let mut found = Vec::new();
        if pref != Pref::Macro {
            if let Some(&c) = module.children.get(name) {
                found.push(Target::Module(c));
            }
            if module.items.contains(name) {
                found.push(Target::Item(module.file));
            }
        }
        if let Some(&file) = module.macros.get(name) {
            found.push(Target::Item(file));
        }
        for import in &module.imports {
            if import.name.as_deref() == Some(name) {
                if let Ok(t) = self.resolve(m, &import.path, pref) {
                    found.push(t);
                }
            }
        }
        if found.is_empty() {
            for import in module.imports.iter().filter(|i| i.name.is_none()) {
                if let Ok(Target::Module(g)) = self.resolve(m, &import.path, Pref::Module) {
                    found.extend(self.lookup(g, name, pref));
                }
            }
        }
        found
    }

    pub fn module_path(&self, mut m: ModId) -> String {
        let mut names = Vec::new();
        while let Some(p) = self.tree.modules[m].parent {
            names.push(self.tree.modules[m].name.as_str());
            m = p;
        }
        names.push("crate");
        names.reverse();
        names.join("::")
    }
}
