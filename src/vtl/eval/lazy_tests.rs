//! The lazy walk of the body held to the tree's evaluation: each template
//! runs once over `$input.path('$.items')` (lazy) and once over
//! `$input.path($p)` (a path not known when compiling, so the tree), and
//! the two must agree on output, on errors, and on the limits at which
//! they fail.

use crate::vtl::{Bindings, Limit, Limits, Template, VtlError};

const BODIES: &[&str] = &[
    r#"{"items": [{"id": "a-1", "name": "N \"1\" it's", "a": {"b": [1, 2.50]}}, {"id": 2, "name": null}]}"#,
    r#"{"items": [{"id": "x", "id": "later", "n\u0061me": "esc\naped"}, 7, "s", [1], null, {}]}"#,
    r#"{"items": [], "x": 1}"#,
    r#"{"items": {"id": "map, not a list"}}"#,
    r#"{"other": 1}"#,
    r#"not json"#,
    r#"{"items": [{"id": 1}], "items": [{"id": "dup wins"}]}"#,
    "",
];

const BODIES_OF_LOOPS: &[&str] = &[
    r#"$i.id"#,
    r#"$i.id,$!i.missing,$i.missing,$i.a.b,$i.a.b.c,$i.name.length()"#,
    r#"$util.escapeJavaScript($i.name)|$util.escapeJavaScript($i.a)|$util.urlEncode($i.id)"#,
    r#"$i"#,
    r#"#set($i.x = 1)$i.x $i"#,
    r#"$i.put('k', 'v')$i.k $i.size()"#,
    r#"#if($foreach.hasNext),#end$foreach.index $velocityCount"#,
    r#"#if($foreach.count == 2)#break#end$i.id"#,
    r#"#foreach($j in $i.a.b)[$j]#end$i.id"#,
    r#"#set($i = 5)$i"#,
    r#"#define($i)d#end$i"#,
];

fn render(body: &str, lazy: bool, loop_body: &str, limits: &Limits) -> Result<String, VtlError> {
    let src = match lazy {
        true => format!("#foreach($i in $input.path('$.items')){loop_body}#end;$i"),
        false => format!("#set($p = '$.items')#foreach($i in $input.path($p)){loop_body}#end;$i"),
    };
    let b = Bindings {
        body: body.into(),
        ..Bindings::default()
    };
    Ok(Template::compile(&src)?.render(&b, limits)?.body)
}

/// The smallest `max_steps` the render passes with.
fn min_steps(body: &str, lazy: bool, loop_body: &str) -> u64 {
    let (mut lo, mut hi) = (0u64, 100_000u64);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let limits = Limits {
            max_steps: mid,
            ..Limits::default()
        };
        match render(body, lazy, loop_body, &limits) {
            Err(VtlError::Limit(Limit::Steps(_))) => lo = mid + 1,
            _ => hi = mid,
        }
    }
    lo
}

#[test]
fn lazy_and_tree_render_alike() {
    for body in BODIES {
        for lb in BODIES_OF_LOOPS {
            let l = Limits::default();
            let (a, b) = (render(body, true, lb, &l), render(body, false, lb, &l));
            assert_eq!(
                a.as_ref().map_err(ToString::to_string),
                b.as_ref().map_err(ToString::to_string),
                "{body} / {lb}"
            );
        }
    }
}

#[test]
fn lazy_and_tree_spend_the_same_steps() {
    // The tree's form costs its `#set` and its reference argument more.
    let extra = min_steps(BODIES[2], false, "") - min_steps(BODIES[2], true, "");
    for body in BODIES {
        for lb in BODIES_OF_LOOPS {
            let (a, b) = (min_steps(body, true, lb), min_steps(body, false, lb));
            assert_eq!(a + extra, b, "{body} / {lb}");
        }
    }
}

#[test]
fn lazy_output_and_iteration_limits_bind_as_the_tree_does() {
    for lb in BODIES_OF_LOOPS {
        for max in [0, 3, 10, 25, 40] {
            let l = Limits {
                max_output_bytes: max,
                ..Limits::default()
            };
            let (a, b) = (
                render(BODIES[0], true, lb, &l),
                render(BODIES[0], false, lb, &l),
            );
            assert_eq!(
                a.map_err(|e| e.to_string()),
                b.map_err(|e| e.to_string()),
                "{lb} {max}"
            );
        }
        let l = Limits {
            max_foreach_iterations: 1,
            ..Limits::default()
        };
        let a = render(BODIES[1], true, lb, &l);
        assert!(matches!(a, Err(VtlError::Limit(Limit::Iterations(1)))) || lb.contains("#break"));
        assert_eq!(
            a.map_err(|e| e.to_string()),
            render(BODIES[1], false, lb, &l).map_err(|e| e.to_string())
        );
    }
}

#[test]
fn lazy_walk_refuses_bodies_deeper_than_the_depth_limit_as_the_tree_does() {
    let body = r#"{"items": [{"id": [[[[1]]]]}]}"#;
    for max_depth in [2, 4, 6, 100] {
        let l = Limits {
            max_depth,
            ..Limits::default()
        };
        let (a, b) = (
            render(body, true, "$i.id", &l),
            render(body, false, "$i.id", &l),
        );
        assert_eq!(
            a.map_err(|e| e.to_string()),
            b.map_err(|e| e.to_string()),
            "{max_depth}"
        );
    }
}
