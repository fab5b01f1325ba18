//! The VTL engine's byte-level JSON reader agrees with serde_json on
//! generated texts: valid documents (every escape, number shape, duplicate
//! keys, odd whitespace), token soups that are mostly not JSON, valid
//! documents with one byte changed, and nesting either side of the
//! recursion limit. The comparison is `fuzz/checks/vtl_json.rs`, which the
//! `vtl_json` fuzz target runs too.

#[path = "../fuzz/checks/vtl_json.rs"]
mod vtl_json;

use proptest::prelude::*;

fn agree(text: &str) {
    if let Err(e) = vtl_json::check(text.as_bytes()) {
        panic!("{e}");
    }
}

const STRINGS: &[&str] = &[
    r#""""#,
    r#""a""#,
    r#""it's \"q\"""#,
    r#""\\\/\b\f\n\r\t""#,
    r#""\u00e9\u00E9x""#,
    r#""\ud83d\ude00""#,
    r#""\ud83d""#,
    r#""\ud83dx""#,
    r#""\ud83d\n""#,
    r#""\ud83d\ud83d""#,
    r#""\udc00""#,
    r#""\u0000""#,
    r#""\u12""#,
    r#""\u12g4""#,
    r#""\x""#,
    "\"\u{1}\"",
    "\"\u{7f}\"",
    "\"é😀\"",
    "\"tab\there\"",
    r#""abc"#,
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "01",
    "-01",
    "1.5",
    "-0.0",
    "1.",
    ".5",
    "1e5",
    "1E+5",
    "1e-5",
    "1e",
    "1e+",
    "-",
    "--1",
    "+1",
    "123456789012345678",
    "-123456789012345678",
    "1234567890123456789",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1e400",
    "-1e400",
    "1e-400",
    "2.2250738585072014e-308",
    "0.1",
    "3.0",
    "1.7976931348623157e308",
    "0e0",
    "0.0e-0",
];

const TOKENS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", " ", "\n", "\t", "\r", "\u{c}", "true", "false", "null", "tru",
    "nul", "nulll", "x", "é", "\"k\"", "\"id\"", "\"name\"",
];

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(STRINGS).prop_map(String::from),
        prop::sample::select(NUMBERS).prop_map(String::from),
        prop::sample::select(TOKENS).prop_map(String::from),
    ]
}

/// Valid JSON built from the same pieces, keys repeating.
fn document() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(&["", " ", "\n\t ", "\r\n"][..]);
    let leaf = prop_oneof![
        prop::sample::select(&STRINGS[..13]).prop_map(String::from),
        prop::sample::select(&NUMBERS[..2]).prop_map(String::from),
        prop::sample::select(
            &[
                "1",
                "-1",
                "1.5",
                "-0.0",
                "1e5",
                "1E+5",
                "1e-5",
                "123456789012345678"
            ][..]
        )
        .prop_map(String::from),
        prop::sample::select(&NUMBERS[20..]).prop_map(String::from),
        prop::sample::select(&["true", "false", "null"][..]).prop_map(String::from),
        "\\PC{0,6}".prop_map(|s| serde_json::Value::from(s).to_string()),
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        let ws = ws.clone();
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..6), ws.clone())
                .prop_map(|(items, w)| format!("[{w}{}{w}]", items.join(&format!("{w},{w}")))),
            (
                prop::collection::vec(("\"[ab]{0,2}\"|\"\\\\u0061\"", inner), 0..20),
                ws
            )
                .prop_map(|(kv, w)| {
                    let kv: Vec<String> =
                        kv.iter().map(|(k, v)| format!("{k}{w}:{w}{v}")).collect();
                    format!("{{{w}{}{w}}}", kv.join(","))
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn documents_agree(d in document()) {
        agree(&d);
        agree(&format!(" {d} \n"));
        agree(&format!("{d} x"));
        agree(&format!("[{d},]"));
    }

    #[test]
    fn token_soups_agree(tokens in prop::collection::vec(token(), 0..24)) {
        agree(&tokens.concat());
    }

    #[test]
    fn documents_with_a_byte_changed_agree(d in document(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut bytes = d.into_bytes();
        let i = at.index(bytes.len() + 1);
        if i < bytes.len() {
            bytes[i] = b;
            prop_assert!(vtl_json::check(&bytes).is_ok(), "{:?}", vtl_json::check(&bytes));
            bytes.remove(i);
        } else {
            bytes.push(b);
        }
        prop_assert!(vtl_json::check(&bytes).is_ok(), "{:?}", vtl_json::check(&bytes));
    }
}

#[test]
fn every_listed_piece_alone_agrees() {
    for t in STRINGS.iter().chain(NUMBERS).chain(TOKENS) {
        agree(t);
        agree(&format!("[{t}]"));
        agree(&format!("{{\"k\":{t}}}"));
    }
    agree("");
    agree("   ");
}

#[test]
fn nesting_agrees_either_side_of_the_limit() {
    for n in 120..135 {
        for (open, close) in [("[", "]"), ("{\"a\":", "}"), ("[{\"a\":", "}]")] {
            let doc = format!("{}1{}", open.repeat(n), close.repeat(n));
            agree(&doc);
        }
    }
    let deep = "[".repeat(127) + &"]".repeat(127);
    assert!(portico::vtl::read_json(&deep).is_some());
    assert!(portico::vtl::read_json(&format!("[{deep}]")).is_none());
    agree(&"[".repeat(100_000));
}
