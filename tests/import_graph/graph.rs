//! The file-level import graph and its cycles.
//!
//! A cycle of two files (a `mod.rs` and a child that uses a type the
//! `mod.rs` defines) is allowed; what is measured is a cycle through more
//! than two files. A strongly connected component can be large without one
//! (a `mod.rs` in a two-way relation with each of its children), so the
//! figures are: the files that lie on a simple cycle of three files or more,
//! the largest component that holds such a cycle, and, per component, its
//! shortest such cycle (the first one to break).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::resolve::{Pref, Resolver, Target};
use super::scan::{FileId, RefKind, Tree};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Count paths written inside `#[cfg(test)]` items.
    pub test_edges: bool,
    /// Count `mod child;` as an edge from the parent's file to the child's.
    pub mod_edges: bool,
}

/// Why one file depends on another: where, and the path written there.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub line: u32,
    pub path: String,
}

pub struct Graph {
    pub files: Vec<String>,
    pub edges: BTreeMap<(FileId, FileId), Vec<Evidence>>,
    /// Paths into this package that name nothing: a scanner bug, or an item
    /// a macro defines. Either way the graph would be missing an edge.
    pub unresolved: Vec<String>,
}

impl Graph {
    pub fn build(tree: &Tree, opts: Options) -> Graph {
        let resolver = Resolver::new(tree);
        let mut edges: BTreeMap<(FileId, FileId), Vec<Evidence>> = BTreeMap::new();
        let mut unresolved = Vec::new();
        for r in &tree.refs {
            if r.test && !opts.test_edges {
                continue;
            }
            let from = tree.modules[r.module].file;
            let pref = match r.kind {
                RefKind::Glob => Pref::Module,
                _ if r.is_macro => Pref::Macro,
                _ => Pref::Item,
            };
            let to = match resolver.resolve(r.module, &r.path, pref) {
                Ok(Target::Item(f)) => f,
                // A glob import depends on the module's own file.
                Ok(Target::Module(m)) if r.kind == RefKind::Glob => tree.modules[m].file,
                Ok(_) => continue,
                Err(e) => {
                    unresolved.push(format!(
                        "{}:{}: `{}`: {e}",
                        tree.files[from],
                        r.line,
                        r.path.join("::")
                    ));
                    continue;
                }
            };
            if from != to {
                edges.entry((from, to)).or_default().push(Evidence {
                    line: r.line,
                    path: r.path.join("::"),
                });
            }
        }
        if opts.mod_edges {
            for &(parent, child, test) in &tree.declared {
                if !test || opts.test_edges {
                    edges.entry((parent, child)).or_default().push(Evidence {
                        line: 0,
                        path: "mod".into(),
                    });
                }
            }
        }
        Graph {
            files: tree.files.clone(),
            edges,
            unresolved,
        }
    }

    fn successors(&self) -> Vec<Vec<FileId>> {
        let mut succ = vec![Vec::new(); self.files.len()];
        for &(a, b) in self.edges.keys() {
            succ[a].push(b);
        }
        succ
    }

    /// Strongly connected components (Tarjan), each sorted, largest first.
    pub fn components(&self) -> Vec<Vec<FileId>> {
        let succ = self.successors();
        let n = self.files.len();
        let mut t = Tarjan {
            succ: &succ,
            index: vec![usize::MAX; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            next: 0,
            out: Vec::new(),
        };
        for v in 0..n {
            if t.index[v] == usize::MAX {
                t.visit(v);
            }
        }
        let mut out = t.out;
        for c in &mut out {
            c.sort();
        }
        out.sort_by_key(|c| (std::cmp::Reverse(c.len()), c.clone()));
        out
    }

    /// Within one component: each file on a simple cycle of three files or
    /// more, with a shortest such cycle through it (starting at it).
    ///
    /// A file `b` is on one exactly when some `a -> b -> c` with `a != c`
    /// closes by a path from `c` back to `a` that avoids `b`; the shortest
    /// of those paths gives the shortest long cycle through `b`.
    pub fn long_cycles(&self, comp: &[FileId]) -> BTreeMap<FileId, Vec<FileId>> {
        let inside: BTreeSet<FileId> = comp.iter().copied().collect();
        let succ = self.successors();
        let mut pred = vec![Vec::new(); self.files.len()];
        for &(a, b) in self.edges.keys() {
            pred[b].push(a);
        }
        let mut through: BTreeMap<FileId, Vec<FileId>> = BTreeMap::new();
        for &b in comp {
            for &c in succ[b].iter().filter(|c| inside.contains(c)) {
                let parent = bfs(&succ, &inside, c, b);
                for &a in pred[b].iter().filter(|&&a| a != c && inside.contains(&a)) {
                    if !parent.contains_key(&a) {
                        continue;
                    }
                    let mut back = vec![a];
                    while *back.last().unwrap() != c {
                        back.push(parent[back.last().unwrap()]);
                    }
                    back.reverse();
                    let mut cycle = vec![b];
                    cycle.extend(back);
                    if through.get(&b).is_none_or(|s| cycle.len() < s.len()) {
                        through.insert(b, cycle);
                    }
                }
            }
        }
        through
    }

    /// The longest simple cycle found within `budget` search steps, and
    /// whether the search finished (then it is the longest there is).
    pub fn longest_cycle(&self, comp: &[FileId], budget: u64) -> (Vec<FileId>, bool) {
        let inside: BTreeSet<FileId> = comp.iter().copied().collect();
        let succ = self.successors();
        let mut search = Longest {
            succ: &succ,
            inside: &inside,
            best: Vec::new(),
            steps: 0,
            budget,
            path: Vec::new(),
            on_path: vec![false; self.files.len()],
        };
        for &s in comp {
            search.path = vec![s];
            search.on_path[s] = true;
            search.extend(s);
            search.on_path[s] = false;
        }
        (search.best, search.steps < budget)
    }

    /// `a -> b` with the first place `a` names `b`.
    pub fn why(&self, a: FileId, b: FileId) -> String {
        let ev = &self.edges[&(a, b)][0];
        if ev.line == 0 {
            format!("{} declares `mod` {}", self.files[a], self.files[b])
        } else {
            format!(
                "{}:{} `{}` -> {}",
                self.files[a], ev.line, ev.path, self.files[b]
            )
        }
    }
}

/// Breadth first from `from` inside `inside` without `avoid`: each reached
/// file's predecessor on a shortest path.
fn bfs(
    succ: &[Vec<FileId>],
    inside: &BTreeSet<FileId>,
    from: FileId,
    avoid: FileId,
) -> BTreeMap<FileId, FileId> {
    let mut parent = BTreeMap::from([(from, from)]);
    let mut queue = VecDeque::from([from]);
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            if w != avoid && inside.contains(&w) && !parent.contains_key(&w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    parent
}

struct Tarjan<'g> {
    succ: &'g [Vec<FileId>],
    index: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<FileId>,
    next: usize,
    out: Vec<Vec<FileId>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, v: FileId) {
        self.index[v] = self.next;
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in self.succ[v].iter() {
            if self.index[w] == usize::MAX {
                self.visit(w);
                self.low[v] = self.low[v].min(self.low[w]);
            } else if self.on_stack[w] {
                self.low[v] = self.low[v].min(self.index[w]);
            }
        }
        if self.low[v] == self.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = self.stack.pop().unwrap();
                self.on_stack[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            self.out.push(comp);
        }
    }
}

/// Depth-first over simple paths that start at their smallest file, so
/// each cycle is seen from one start only.
struct Longest<'g> {
    succ: &'g [Vec<FileId>],
    inside: &'g BTreeSet<FileId>,
    best: Vec<FileId>,
    steps: u64,
    budget: u64,
    path: Vec<FileId>,
    on_path: Vec<bool>,
}

impl Longest<'_> {
    fn extend(&mut self, start: FileId) {
        let v = *self.path.last().unwrap();
        for &w in &self.succ[v] {
            if self.steps >= self.budget {
                return;
            }
            self.steps += 1;
            if w == start && self.path.len() > self.best.len() {
                self.best = self.path.clone();
            } else if w > start && !self.on_path[w] && self.inside.contains(&w) {
                self.on_path[w] = true;
                self.path.push(w);
                self.extend(start);
                self.path.pop();
                self.on_path[w] = false;
            }
        }
    }
}
