//! Route templates: compiling any text never panics, a table of any
//! templates never panics, and a path built from a compiled template
//! finds that route with the parameter values it was built with.

use portico::config::MethodSpec;
use portico::http::Method;
use portico::router::{PathTemplate, RouteTable};

use super::gen::Gen;

/// A fuzz input: templates, one a line; the first byte picks parameter values.
pub fn check(input: &[u8]) -> Result<(), String> {
    let Some((&seed, rest)) = input.split_first() else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(rest);
    let mut table = RouteTable::default();
    let mut compiled = Vec::new();
    for line in text.lines().take(16) {
        if let Ok(t) = PathTemplate::try_from(line.to_string()) {
            if table.insert(MethodSpec::Any, &t, compiled.len()).is_ok() {
                compiled.push(t);
            }
        }
    }
    let values = [
        b'a', b'Z', b'0', b'%', b'.', b'-', b'~', b'{', b'}', b'*', b':',
    ];
    let mut g = Gen::new(std::slice::from_ref(&seed));
    let value = values[g.below(values.len())] as char;
    for (i, t) in compiled.iter().enumerate() {
        let (path, params) = path_for(t, value);
        let Some(m) = table.find(Method::Get, &path) else {
            return Err(format!("`{path}` built from `{t}` finds no route"));
        };
        // With one route, it is that route with exactly those values.
        if compiled.len() == 1 {
            let got: Vec<(String, String)> = m
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if m.route != i || got != params {
                return Err(format!(
                    "`{path}` from `{t}`: route {}, params {got:?}, built with {params:?}",
                    m.route
                ));
            }
        }
    }
    Ok(())
}

/// A path matching `t`, each `{p}` filled with `v1`, `{p+}` with `v2/v2`.
fn path_for(t: &PathTemplate, value: char) -> (String, Vec<(String, String)>) {
    let mut params = Vec::new();
    let path = t
        .as_str()
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(p) => {
                    let (name, filled) = match p.strip_suffix('+') {
                        Some(name) => (name, format!("{value}2/{value}2")),
                        None => (p, format!("{value}1")),
                    };
                    params.push((name.to_string(), filled.clone()));
                    filled
                }
                None => seg.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    (path, params)
}
