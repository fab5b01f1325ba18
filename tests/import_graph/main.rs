//! Import cycles between the files of src/: the check that the layering of
//! issue 15 holds ("no import cycle of more than two files").
//!
//! Every `use`, every `crate::`/`super::`/`self::` path and every path
//! through a name in scope is resolved to the file that defines what it
//! names, following re-exports (see `resolve.rs`). A `mod`
//! declaration is no edge: it places a file in the namespace, it does not
//! use it. Paths inside `#[cfg(test)]` items are no edge either: nothing
//! imports a test module, so it closes no cycle of modules; only folding it
//! into its file would make one (`report_the_import_graph` prints the
//! figures with test code too: today they are the same). A `use`
//! inside a function counts for its whole module, a small over-estimate.
//!
//! Today's tree still has cycles, so `budget.allow` holds a budget
//! that only goes down: the test fails when the figures grow, and also when
//! they shrink without the budget following (so that a cycle once broken
//! cannot quietly come back). `cargo test --test import_graph -- --ignored
//! --nocapture` prints the whole graph report.

mod graph;
mod lexer;
mod resolve;
mod scan;

use std::collections::BTreeMap;
use std::path::Path;

use graph::{Graph, Options};

const ALLOW: &str = "tests/import_graph/budget.allow";

const PRODUCT: Options = Options {
    test_edges: false,
    mod_edges: false,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Figures {
    /// Files on a simple import cycle through three files or more.
    files_in_cycles: usize,
    /// Files in the largest strongly connected component holding such a cycle.
    largest_component: usize,
}

/// What the graph shows about its cycles, with the text that explains it.
struct Measure {
    figures: Figures,
    report: String,
}

fn measure(g: &Graph) -> Measure {
    let mut report = String::new();
    let mut figures = Figures {
        files_in_cycles: 0,
        largest_component: 0,
    };
    for comp in g.components().into_iter().filter(|c| c.len() > 2) {
        let through = g.long_cycles(&comp);
        let Some(shortest) = through.values().min_by_key(|c| c.len()) else {
            continue;
        };
        figures.files_in_cycles += through.len();
        figures.largest_component = figures.largest_component.max(comp.len());
        report += &format!(
            "component of {} files, {} of them on a cycle of more than two files \
             (* with a shortest such cycle through it):\n",
            comp.len(),
            through.len()
        );
        for &f in &comp {
            match through.get(&f) {
                Some(cycle) => {
                    let names: Vec<&str> = cycle.iter().map(|&f| g.files[f].as_str()).collect();
                    report += &format!("  * {} -> back\n", names.join(" -> "));
                }
                None => report += &format!("    {}\n", g.files[f]),
            }
        }
        report += &format!(
            "  shortest cycle of more than two files ({}):\n",
            shortest.len()
        );
        for (k, &a) in shortest.iter().enumerate() {
            let b = shortest[(k + 1) % shortest.len()];
            report += &format!("    {}\n", g.why(a, b));
        }
    }
    Measure { figures, report }
}

fn read_budget(text: &str) -> Result<Figures, String> {
    let mut values = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("{ALLOW}:{}: expected `key = number`", n + 1))?;
        let value: usize = value
            .trim()
            .parse()
            .map_err(|_| format!("{ALLOW}:{}: `{}` is not a number", n + 1, value.trim()))?;
        values.insert(key.trim().to_string(), value);
    }
    let get = |key: &str| {
        values
            .get(key)
            .copied()
            .ok_or_else(|| format!("{ALLOW}: `{key}` missing"))
    };
    Ok(Figures {
        files_in_cycles: get("files_in_cycles")?,
        largest_component: get("largest_component")?,
    })
}

/// `None` when the figures are the budget; otherwise what to do.
fn judge(now: Figures, budget: Figures) -> Option<String> {
    let grew = now.files_in_cycles > budget.files_in_cycles
        || now.largest_component > budget.largest_component;
    let figures = format!(
        "files_in_cycles = {} (budget {}), largest_component = {} (budget {})",
        now.files_in_cycles,
        budget.files_in_cycles,
        now.largest_component,
        budget.largest_component
    );
    if grew {
        Some(format!(
            "the import cycles grew: {figures}. Break the new cycle (its files are listed above) \
             rather than raise the budget in {ALLOW}"
        ))
    } else if now != budget {
        Some(format!(
            "the import cycles shrank: {figures}. Lower the budget in {ALLOW} to these figures \
             so that the cycle cannot come back"
        ))
    } else {
        None
    }
}

fn read_sources(root: &Path, dir: &str, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(root.join(dir)).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            read_sources(root, &name, out);
        } else if name.ends_with(".rs") {
            out.insert(name, std::fs::read_to_string(entry.path()).unwrap());
        }
    }
}

/// The library and the `portico` binary (which names the library `portico::`).
fn portico_graph(opts: Options) -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = BTreeMap::new();
    read_sources(root, "src", &mut sources);
    let tree = scan::build(
        &sources,
        &[
            ("portico", "src/lib.rs", &[] as &[&str]),
            ("portico-bin", "src/main.rs", &["portico"]),
        ],
    );
    assert!(
        tree.problems.is_empty(),
        "the module tree is incomplete:\n{}",
        tree.problems.join("\n")
    );
    Graph::build(&tree, opts)
}

#[test]
fn no_import_cycle_grows_beyond_its_budget() {
    let started = std::time::Instant::now();
    let g = portico_graph(PRODUCT);
    assert!(
        g.unresolved.is_empty(),
        "paths into the crate that the scanner cannot resolve (the graph would miss these edges):\n{}",
        g.unresolved.join("\n")
    );
    let m = measure(&g);
    let budget = read_budget(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(ALLOW)).unwrap(),
    )
    .unwrap();
    println!("{}", m.report);
    println!(
        "files_in_cycles = {}, largest_component = {} ({} files, {} edges, {:?})",
        m.figures.files_in_cycles,
        m.figures.largest_component,
        g.files.len(),
        g.edges.len(),
        started.elapsed()
    );
    if let Some(verdict) = judge(m.figures, budget) {
        panic!("{}\n{verdict}", m.report);
    }
}

/// The whole picture for a person: figures with and without test code and
/// `mod` edges, the longest cycle, and every edge inside the components.
#[test]
#[ignore = "a report, not a check: run with --ignored --nocapture"]
fn report_the_import_graph() {
    let variants = [
        ("product code (the check)", PRODUCT),
        (
            "with #[cfg(test)] code",
            Options {
                test_edges: true,
                ..PRODUCT
            },
        ),
        (
            "with `mod` declarations as edges",
            Options {
                mod_edges: true,
                ..PRODUCT
            },
        ),
    ];
    for (name, opts) in variants {
        let g = portico_graph(opts);
        let m = measure(&g);
        println!("=== {name}: {:?}", m.figures);
        if name.starts_with("product") {
            println!("{}", m.report);
        }
        for comp in g.components().into_iter().filter(|c| c.len() > 2) {
            let (longest, complete) = g.longest_cycle(&comp, 50_000_000);
            let bound = if complete {
                "exactly"
            } else {
                "at least (search cut short)"
            };
            println!(
                "component of {}: longest simple cycle {bound} {} files",
                comp.len(),
                longest.len()
            );
            if name.starts_with("product") {
                for (k, &a) in longest.iter().enumerate() {
                    println!("    {}", g.why(a, longest[(k + 1) % longest.len()]));
                }
                println!("  edges inside:");
                for (&(a, b), ev) in &g.edges {
                    if comp.contains(&a) && comp.contains(&b) {
                        let places: Vec<String> = ev
                            .iter()
                            .map(|e| format!("{}:`{}`", e.line, e.path))
                            .collect();
                        println!(
                            "    {} -> {}  [{}]",
                            g.files[a],
                            g.files[b],
                            places.join(", ")
                        );
                    }
                }
            }
        }
    }
}

// ---- The scanner on small trees ----

fn graph_of(files: &[(&str, &str)]) -> Graph {
    let sources = files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect();
    let tree = scan::build(&sources, &[("demo", "src/lib.rs", &[])]);
    assert!(tree.problems.is_empty(), "{:?}", tree.problems);
    let g = Graph::build(&tree, PRODUCT);
    assert!(g.unresolved.is_empty(), "{:?}", g.unresolved);
    g
}

fn edges(g: &Graph) -> Vec<(&str, &str)> {
    g.edges
        .keys()
        .map(|&(a, b)| (g.files[a].as_str(), g.files[b].as_str()))
        .collect()
}

#[test]
fn a_cycle_through_three_files_is_found_and_shown() {
    let g = graph_of(&[
        ("src/lib.rs", "mod a; mod b; mod c; mod d;"),
        ("src/a.rs", "use crate::b::B; pub struct A;"),
        ("src/b.rs", "pub struct B(crate::c::C);"),
        ("src/c.rs", "pub struct C; fn f() { let _ = crate::a::A; }"),
        ("src/d.rs", "use crate::a::A;"),
    ]);
    let m = measure(&g);
    assert_eq!(
        m.figures,
        Figures {
            files_in_cycles: 3,
            largest_component: 3
        }
    );
    assert!(
        m.report.contains("src/a.rs:1 `crate::b::B` -> src/b.rs"),
        "{}",
        m.report
    );
    assert!(
        m.report.contains("src/c.rs:1 `crate::a::A` -> src/a.rs"),
        "{}",
        m.report
    );
    assert!(
        m.report
            .contains("* src/a.rs -> src/b.rs -> src/c.rs -> back"),
        "{}",
        m.report
    );
    assert!(!m.report.contains("src/d.rs"), "{}", m.report);
}

#[test]
fn two_file_cycles_are_allowed_even_when_they_share_a_file() {
    // mod.rs and each child use each other: one component of three files,
    // but no cycle through more than two.
    let g = graph_of(&[
        ("src/lib.rs", "mod m;"),
        (
            "src/m/mod.rs",
            "mod x; mod y; pub struct Shared; fn f() { x::go(); y::go(); }",
        ),
        ("src/m/x.rs", "use super::Shared; pub fn go() {}"),
        ("src/m/y.rs", "pub fn go() { let _ = super::Shared; }"),
    ]);
    assert_eq!(g.components()[0].len(), 3);
    assert_eq!(
        measure(&g).figures,
        Figures {
            files_in_cycles: 0,
            largest_component: 0
        }
    );
    // One more edge, x -> y, makes m -> x -> y -> m.
    let g = graph_of(&[
        ("src/lib.rs", "mod m;"),
        (
            "src/m/mod.rs",
            "mod x; mod y; pub struct Shared; fn f() { x::go(); y::go(); }",
        ),
        (
            "src/m/x.rs",
            "use super::{Shared, y}; pub fn go() { y::go() }",
        ),
        ("src/m/y.rs", "pub fn go() { let _ = super::Shared; }"),
    ]);
    assert_eq!(measure(&g).figures.files_in_cycles, 3);
}

#[test]
fn re_exports_resolve_to_the_defining_file() {
    let g = graph_of(&[
        (
            "src/lib.rs",
            "pub mod server; pub mod user; pub mod config;",
        ),
        (
            "src/server/mod.rs",
            "mod worker; mod conn; mod scrape;\n\
             pub use worker::{Msg, Worker as W};\n\
             pub use self::conn::*;\n\
             pub use scrape::scrape;",
        ),
        ("src/server/worker.rs", "pub struct Worker; pub enum Msg {}"),
        ("src/server/conn.rs", "pub struct Connection;"),
        ("src/server/scrape.rs", "pub fn scrape() {}"),
        ("src/config/mod.rs", "mod schema; pub use schema::*;"),
        ("src/config/schema.rs", "pub struct Config;"),
        (
            "src/user.rs",
            "use crate::server::{self, W};\n\
             fn f(c: crate::server::Connection) { server::scrape(); }\n\
             fn g() -> crate::config::Config { todo!() }",
        ),
    ]);
    let e = edges(&g);
    for want in [
        ("src/user.rs", "src/server/worker.rs"),
        ("src/user.rs", "src/server/conn.rs"),
        ("src/user.rs", "src/server/scrape.rs"),
        ("src/user.rs", "src/config/schema.rs"),
        ("src/server/mod.rs", "src/server/worker.rs"),
        ("src/config/mod.rs", "src/config/schema.rs"),
    ] {
        assert!(e.contains(&want), "{want:?} missing from {e:?}");
    }
    assert!(
        !e.iter()
            .any(|&(a, b)| a == "src/user.rs" && b.ends_with("mod.rs")),
        "a facade is not what user.rs depends on: {e:?}"
    );
}

#[test]
fn a_cycle_through_a_facade_is_charged_to_the_files_that_use_each_other() {
    // user -> (server facade) -> worker -> user: a two-file cycle user <-> worker,
    // plus the facade's own edge to worker; no cycle of three.
    let g = graph_of(&[
        ("src/lib.rs", "mod server; mod user;"),
        ("src/server/mod.rs", "mod worker; pub use worker::Worker;"),
        ("src/server/worker.rs", "pub struct Worker(crate::user::U);"),
        (
            "src/user.rs",
            "pub struct U; fn f(_: &crate::server::Worker) {}",
        ),
    ]);
    assert_eq!(measure(&g).figures.files_in_cycles, 0);
    assert!(edges(&g).contains(&("src/user.rs", "src/server/worker.rs")));
}

#[test]
fn relative_paths_super_nested_groups_and_inline_modules_resolve() {
    let g = graph_of(&[
        ("src/lib.rs", "mod a; mod b;"),
        (
            "src/a.rs",
            "mod inner { pub fn f() { super::super::b::deep::g() } }",
        ),
        ("src/b/mod.rs", "pub mod deep; use deep::{g as h, self};"),
        ("src/b/deep.rs", "pub fn g() {}"),
    ]);
    let e = edges(&g);
    assert!(e.contains(&("src/a.rs", "src/b/deep.rs")), "{e:?}");
    assert!(e.contains(&("src/b/mod.rs", "src/b/deep.rs")), "{e:?}");
}

#[test]
fn comments_strings_and_test_code_are_not_dependencies() {
    let g = graph_of(&[
        ("src/lib.rs", "mod a; mod b;"),
        (
            "src/a.rs",
            "//! See [`crate::b::B`].\n\
             /* crate::b::B /* nested */ crate::b::B */\n\
             const S: &str = \"crate::b::B\"; const R: &str = r#\"\" crate::b::B\"#;\n\
             const C: char = '\"'; const Q: u8 = b'\\''; fn f<'a>(x: &'a str) {}\n\
             #[cfg(test)] mod tests { use crate::b::B; }\n\
             #[cfg(test)] fn fixture() -> crate::b::B { todo!() }\n\
             pub struct A;",
        ),
        (
            "src/b.rs",
            "pub struct B; fn f() -> crate::a::A { crate::a::A }",
        ),
    ]);
    assert_eq!(edges(&g), vec![("src/b.rs", "src/a.rs")]);
}

#[test]
fn a_crate_macro_is_its_file_not_the_module_of_the_same_name() {
    let g = graph_of(&[
        ("src/lib.rs", "pub mod log; mod a;"),
        (
            "src/log.rs",
            "#[macro_export] macro_rules! log { () => { $crate::log::emit() } } pub fn emit() {}",
        ),
        ("src/a.rs", "fn f() { crate::log!(); }"),
    ]);
    assert_eq!(edges(&g), vec![("src/a.rs", "src/log.rs")]);
}

#[test]
fn a_path_into_the_crate_that_names_nothing_is_reported() {
    let sources = [
        ("src/lib.rs", "mod a; mod b;"),
        ("src/a.rs", "use crate::b::Gone;"),
        ("src/b.rs", "pub struct B;"),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .collect();
    let tree = scan::build(&sources, &[("demo", "src/lib.rs", &[])]);
    let g = Graph::build(&tree, PRODUCT);
    assert_eq!(g.unresolved.len(), 1, "{:?}", g.unresolved);
    assert!(
        g.unresolved[0].starts_with("src/a.rs:1: `crate::b::Gone`"),
        "{:?}",
        g.unresolved
    );
}

#[test]
fn a_file_no_module_reaches_or_a_missing_module_file_is_reported() {
    let sources = [
        ("src/lib.rs", "mod a; mod gone;"),
        ("src/a.rs", ""),
        ("src/stray.rs", ""),
    ]
    .iter()
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .collect();
    let tree = scan::build(&sources, &[("demo", "src/lib.rs", &[])]);
    assert_eq!(
        tree.problems,
        vec![
            "src/gone.rs: declared but missing".to_string(),
            "src/stray.rs: no `mod` declaration reaches this file".to_string()
        ]
    );
}

#[test]
fn the_budget_fails_on_growth_and_asks_to_be_lowered_on_shrinking() {
    let budget = read_budget("# comment\nfiles_in_cycles = 10\nlargest_component = 12\n").unwrap();
    let at = |files_in_cycles, largest_component| Figures {
        files_in_cycles,
        largest_component,
    };
    assert_eq!(budget, at(10, 12));
    assert_eq!(judge(at(10, 12), budget), None);
    assert!(judge(at(11, 12), budget).unwrap().contains("grew"));
    assert!(judge(at(9, 13), budget).unwrap().contains("grew"));
    assert!(judge(at(9, 12), budget).unwrap().contains("shrank"));
    assert!(read_budget("files_in_cycles = ten").is_err());
    assert!(read_budget("files_in_cycles = 1").is_err());
}

#[test]
fn precise_capturing_is_not_a_use_declaration() {
    // `+ use<'q>` once swallowed the items after it, so paths to them
    // were reported unresolved.
    let g = graph_of(&[
        ("src/lib.rs", "mod q; mod user;"),
        (
            "src/q.rs",
            "pub fn values<'q>(s: &'q [u8]) -> impl Iterator<Item = &'q u8> + use<'q> { s.iter() }\n\
             pub fn first() {}",
        ),
        ("src/user.rs", "fn f() { crate::q::first(); }"),
    ]);
    assert_eq!(edges(&g), vec![("src/user.rs", "src/q.rs")]);
}
