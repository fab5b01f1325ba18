//! Properties of the VTL engine over generated templates and JSON bodies:
//! nothing panics, each of `Limits`' bounds ends a render exactly when it
//! is passed, and the evaluator's shortcuts (a literal JSONPath parsed at
//! compile time, `$input.json` and `$util` functions written straight
//! into the output, `$x.a.b` read in place) give what the general path
//! gives. Case counts are bounded so the file runs in seconds in debug.

use portico::vtl::{Bindings, Limit, Limits, Rendered, Template, VtlError};
use proptest::prelude::*;
use serde_json::Value as Json;

fn body(text: String) -> Bindings {
    Bindings {
        body: text,
        querystring: vec![("q".into(), "a b".into())],
        ..Bindings::default()
    }
}

fn render(src: &str, b: &Bindings, limits: &Limits) -> Result<Rendered, VtlError> {
    Template::compile(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .render(b, limits)
}

fn out(src: &str, b: &Bindings) -> String {
    render(src, b, &Limits::default())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .body
}

/// Any JSON document, small. Integral floats are left out: the engine
/// writes 3.0 as `3`, which reads back as an integer.
fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        (-1e6f64..1e6)
            .prop_filter("integral", |f| f.fract() != 0.0)
            .prop_map(Json::from),
        "\\PC{0,8}".prop_map(Json::from),
        Just(Json::from("it's \"q\" </a>\u{1}\u{e9}\u{1f600}")),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::vec(("[a-c]{1,2}", inner), 0..5)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

/// Request bodies: JSON, or any text (which `$input.path('$')` yields as
/// itself).
fn any_body() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => json().prop_map(|v| v.to_string()),
        1 => "\\PC{0,24}",
    ]
}

const PATHS: &[&str] = &[
    "$",
    "$.a",
    "$.a[0]",
    "$.a[-1].b",
    "$..b",
    "$.a[*]",
    "$.*",
    "$[\"c\"]",
];
const TEXT_FUNCTIONS: &[&str] = &[
    "escapeJavaScript",
    "urlEncode",
    "urlDecode",
    "base64Encode",
    "base64Decode",
];

/// Expressions over the template's variables, the body and `$util`,
/// including ones that double what they hold.
const EXPRESSIONS: &[&str] = &[
    "$x",
    "$i",
    "$l",
    "$m",
    "$d",
    "$input.path('$')",
    "$input.path('$.a')",
    "$input.path('$..*')",
    "$input.json('$..b')",
    "$input.json($x)",
    "$input.params('q')",
    "$util.parseJson($input.body)",
    "$util.escapeJavaScript($i)",
    "$util.base64Encode(\"$x$x\")",
    "[1..40]",
    "[$l, $l]",
    "{'k': $m, 'l': $l}",
    "\"$x$x$x\"",
    "$x + $i",
    "$l.size()",
    "$x.split('')",
    "$foreach.index",
    "1",
    "true",
    "null",
];

/// Statements that stand alone: text, references, `#set`, mutation.
const STATEMENTS: &[&str] = &[
    "x",
    "\"$i\",",
    "$x",
    "$!x.a.b",
    "$i.a",
    "$input.json('$.a[*]')",
    "$util.urlEncode($input.body)",
    "$l.add($l)",
    "$m.put('k', $m)",
    "#set($x.a = $m)",
    "#{break}",
    "#{stop}",
];

fn expression() -> impl Strategy<Value = String> {
    proptest::sample::select(EXPRESSIONS).prop_map(str::to_string)
}

/// Well-formed templates, blocks nested in blocks, so that they compile
/// and the evaluator (not only the parser) meets them. Directives are
/// braced (`#{end}`), as text may follow them.
fn template() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(STATEMENTS).prop_map(str::to_string),
        expression().prop_map(|e| format!("#set($x = {e})")),
        expression().prop_map(|e| format!("#set($l = {e})")),
        expression().prop_map(|e| format!("#set($m = {e})")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| v.concat()),
            (expression(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("#if({c}){a}#{{else}}{b}#{{end}}")),
            (expression(), inner.clone())
                .prop_map(|(l, b)| format!("#foreach($i in {l}){b}#{{end}}")),
            inner.prop_map(|b| format!("#define($d){b}#{{end}}$d$d")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any template against any body under tight limits: it compiles; the
    /// render does not panic; one that succeeds is within its output
    /// bound; one that fails names a bound or an evaluation error; a second
    /// render agrees.
    #[test]
    fn any_template_any_body_stays_in_bounds(src in template(), text in any_body()) {
        let limits = Limits {
            max_output_bytes: 2048,
            max_foreach_iterations: 50,
            max_steps: 5_000,
            max_depth: 10,
            max_collection_len: 100,
        };
        let t = Template::compile(&src);
        prop_assert!(t.is_ok(), "{src}: {t:?}");
        let (t, b) = (t.unwrap(), body(text));
        let first = t.render(&b, &limits);
        match &first {
            Ok(r) => prop_assert!(r.body.len() <= limits.max_output_bytes),
            Err(VtlError::Limit(_) | VtlError::Eval { .. }) => {}
            Err(e) => prop_assert!(false, "a render failed with {e:?}"),
        }
        prop_assert_eq!(t.render(&b, &limits), first);
    }

    /// `$input.json('$')` of any JSON body is that document.
    #[test]
    fn input_json_is_the_document(v in json()) {
        let b = body(v.to_string());
        let got: Json = serde_json::from_str(&out("$input.json('$')", &b)).unwrap();
        prop_assert_eq!(got, v);
    }

    /// A literal path (parsed at compile time) and the same path from a
    /// variable (parsed as the render goes) select the same; `$input.json`
    /// and `$util` functions written straight out equal their values
    /// rendered from a variable.
    #[test]
    fn shortcuts_agree_with_the_general_path(
        text in any_body(),
        path in proptest::sample::select(PATHS),
        f in proptest::sample::select(TEXT_FUNCTIONS),
    ) {
        let b = body(text);
        for call in ["path", "json"] {
            let literal = out(&format!("$input.{call}('{path}')"), &b);
            let dynamic = out(&format!("#set($p = '{path}')$input.{call}($p)"), &b);
            prop_assert_eq!(&literal, &dynamic);
            let via_var = out(&format!("#set($v = $input.{call}('{path}'))$!v"), &b);
            prop_assert_eq!(&literal, &via_var);
        }
        let direct = render(&format!("$util.{f}($input.json('{path}'))"), &b, &Limits::default());
        let via_var = render(
            &format!("#set($v = $util.{f}($input.json('{path}')))$!v"),
            &b,
            &Limits::default(),
        );
        // Errors name different columns; their messages agree.
        let message = |e: VtlError| match e {
            VtlError::Eval { message, .. } => message,
            e => e.to_string(),
        };
        prop_assert_eq!(
            direct.map(|r| r.body).map_err(message),
            via_var.map(|r| r.body).map_err(message)
        );
        // `$x.a.b` read in place, and the same walk from `$input`.
        let in_place = out("#set($x = $input.path('$'))$!x.a.b|$!x.c", &b);
        let walked = out("$input.path('$').a.b|$input.path('$').c", &b);
        prop_assert_eq!(in_place, walked);
    }

    /// AWS's 1,000 iterations of one `#foreach`: the 1,001st is an error,
    /// whatever the list's source.
    #[test]
    fn foreach_stops_after_its_iterations(n in 990usize..1010, from_body in any::<bool>()) {
        let items = vec![Json::from(1); n];
        let b = body(Json::Array(items).to_string());
        let src = if from_body {
            "#foreach($x in $input.path('$'))x#end".to_string()
        } else {
            format!("#foreach($x in [1..{n}])x#end")
        };
        match render(&src, &b, &Limits::default()) {
            Ok(r) => {
                prop_assert!(n <= 1000);
                prop_assert_eq!(r.body, "x".repeat(n));
            }
            Err(e) => {
                prop_assert!(n > 1000);
                prop_assert_eq!(e, VtlError::Limit(Limit::Iterations(1000)));
            }
        }
    }

    /// The output bound holds to the byte: a render whose whole output fits
    /// is unchanged by it, and one that does not fit fails.
    #[test]
    fn output_bound_is_exact(s in "\\PC{0,40}", reps in 0usize..30, max in 0usize..600) {
        let b = body(serde_json::json!({ "s": s }).to_string());
        let src = format!(
            "#foreach($i in [1..{reps}])$input.path('$.s')$input.json('$.s')$util.escapeJavaScript($input.path('$.s'))#end"
        );
        let src = if reps == 0 { "".to_string() } else { src };
        let whole = out(&src, &b);
        let limits = Limits { max_output_bytes: max, ..Limits::default() };
        match render(&src, &b, &limits) {
            Ok(r) => {
                prop_assert!(whole.len() <= max);
                prop_assert_eq!(r.body, whole);
            }
            Err(e) => {
                prop_assert!(whole.len() > max);
                prop_assert_eq!(e, VtlError::Limit(Limit::Output(max)));
            }
        }
    }

    /// Recursion through `#define` and nesting built by `#set` both end at
    /// `max_depth`.
    #[test]
    fn depth_is_bounded(depth in 1u32..60, n in 1usize..80) {
        let limits = Limits { max_depth: depth, ..Limits::default() };
        let b = body(String::new());
        let recursive = render("#define($d)x$d#end$d", &b, &limits);
        prop_assert_eq!(recursive, Err(VtlError::Limit(Limit::Depth(depth))));
        // After k rounds `$a` is k + 1 lists deep (`[1..n]` counts up from 1,
        // so n is at least 1: `[1..0]` would be 1, 0).
        let src = format!("#set($a = [])#foreach($i in [1..{n}])#set($a = [$a])#end$a.size()");
        match render(&src, &b, &limits) {
            Ok(r) => {
                prop_assert!(n < depth as usize);
                prop_assert_eq!(r.body, "1");
            }
            Err(e) => {
                prop_assert!(n >= depth as usize);
                prop_assert_eq!(e, VtlError::Limit(Limit::Depth(depth)));
            }
        }
    }

    /// Every node costs a step: a loop of `n` text nodes passes
    /// `max_steps` once its cost does, never sooner.
    #[test]
    fn steps_are_bounded(n in 1usize..400, max_steps in 1u64..1500) {
        let limits = Limits { max_steps, ..Limits::default() };
        let b = body(String::new());
        let src = format!("#foreach($i in [1..{n}])x#end");
        let r = render(&src, &b, &limits);
        // The #foreach node, its list (three expressions), then a step
        // per iteration and one for its text.
        let cost = 1 + 3 + 2 * n as u64;
        if cost <= max_steps {
            prop_assert_eq!(r.map(|r| r.body), Ok("x".repeat(n)));
        } else {
            prop_assert_eq!(r, Err(VtlError::Limit(Limit::Steps(max_steps))));
        }
    }
}

/// A body deeper than serde_json's recursion limit is text, not a crash:
/// `$input.path('$')` is the body itself, as AWS yields a body that is not
/// JSON.
#[test]
fn a_body_too_deep_to_parse_is_text() {
    let deep = "[".repeat(100_000);
    let b = body(deep.clone());
    assert_eq!(out("$input.path('$')", &b), deep);
    assert_eq!(out("$input.path('$[0]')|", &b), "|");
}

/// Found by `cargo fuzz run vtl` (fuzz/corpus/vtl/regress-set-without-reference):
/// `#set(` followed by anything but `$` stepped over a character it took for
/// `$`, and at the template's end or inside a multi-byte character the
/// parser panicked slicing the source. Now it is a syntax error.
#[test]
fn set_without_a_reference_is_a_syntax_error() {
    for src in [
        "#set(",
        "#set(\t",
        "x#set(x = 1)",
        "#set(é = 1)",
        "#set(\u{fffd}",
        "#{set}( ",
    ] {
        match Template::compile(src) {
            Err(VtlError::Syntax { message, .. }) => {
                assert_eq!(message, "#set needs a reference to assign", "{src:?}")
            }
            other => panic!("{src:?}: {other:?}"),
        }
    }
    let crash = include_bytes!("../fuzz/corpus/vtl/regress-set-without-reference");
    let text = String::from_utf8_lossy(crash);
    let src = text.split('\0').next().unwrap_or_default();
    assert!(matches!(
        Template::compile(src),
        Err(VtlError::Syntax { .. })
    ));
}
