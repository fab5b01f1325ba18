//! The engine end to end: compile, render, compare.

use super::*;

fn bindings(body: &str) -> Bindings {
    Bindings {
        body: body.into(),
        path: vec![("id".into(), "42".into())],
        querystring: vec![("q".into(), "x y".into()), ("id".into(), "q-id".into())],
        header: vec![("X-Trace".into(), "t1".into())],
        context: parse_json(
            r#"{"stage":"prod","identity":{"sourceIp":"192.0.2.1"},"authorizer":{"sub":"u1"}}"#,
        )
        .unwrap(),
        stage_variables: Value::string_map([("env", "test")]),
    }
}

fn render_with(src: &str, body: &str, limits: &Limits) -> Result<Rendered, VtlError> {
    Template::compile(src)?.render(&bindings(body), limits)
}

/// Each template renders as expected against the same request.
fn cases(pairs: &[(&str, &str)]) {
    for (src, want) in pairs {
        assert_eq!(r(src), *want, "{src}");
    }
}

fn r(src: &str) -> String {
    render_with(src, r#"{"a":{"b":[1,2,3]},"s":"it's"}"#, &Limits::default())
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .body
}

#[test]
fn references_and_unresolved_ones() {
    cases(&[
        ("#set($x = 'v')$x ${x} $!x", "v v v"),
        (
            "[$missing] [$!missing] [${missing.a}] [$!{missing}]",
            "[$missing] [] [${missing.a}] []",
        ),
        (
            "$context.nothing|$input.path('$.nope')|$util.nope('x')|",
            "|||",
        ),
        (
            "price: $5 and #hash and $ alone",
            "price: $5 and #hash and $ alone",
        ),
        ("#set($m = {'k': 'v'})$m.k.$m.missing.", "v.$m.missing."),
    ]);
}

#[test]
fn set_if_and_operators() {
    cases(&[
        (
            "#set($n = 7)#if($n > 5 && $n lt 10)big#elseif($n == 2)two#{else}small#end",
            "big",
        ),
        ("#if(!$missing)none#end#if(not true)x#else y#end", "none y"),
        (
            "#set($a = 7 / 2)#set($b = 7 % 3)#set($c = 1.5 * 2)$a $b $c ${a}x",
            "3 1 3.0 3x",
        ),
        (
            "#set($s = 'a' + 1)$s #if('1' == 1)eq#end #if($x eq $y)n#end",
            "a1 eq n",
        ),
        ("#set($d = 1 / 0)$d", "$d"),
        ("#set($x = 1)#set($x = $nothing)$x", "1"),
        ("#if(1 == 1 or $x.y())t#end#if(false and $x.y())f#end", "t"),
    ]);
}

#[test]
fn strings_interpolate_only_in_double_quotes() {
    cases(&[
        (
            r#"#set($n = "w")#set($a = "x$n ${n}!")#set($b = 'x$n')$a|$b"#,
            "xw w!|x$n",
        ),
        (
            r#"#set($q = "say ""hi""")#set($s = 'it''s')$q $s"#,
            r#"say "hi" it's"#,
        ),
        (r#""$input.path('$.s')""#, r#""it's""#),
    ]);
}

#[test]
fn foreach_over_lists_maps_and_ranges() {
    cases(&[
        ("#foreach($i in [1..3])$i:$foreach.index:$foreach.count:$velocityCount#if($foreach.hasNext),#end#end", "1:0:1:1,2:1:2:2,3:2:3:3"),
        ("#foreach($i in [3..1])$i#end", "321"),
        ("#set($m = {'a': 1, 'b': 2})#foreach($k in $m.keySet())$k=$m.get($k);#end", "a=1;b=2;"),
        ("#set($m = {'a': 1, 'b': 2})#foreach($e in $m.entrySet())$e.key/$e.getValue() #end", "a/1 b/2 "),
        ("#set($m = {'a': 1, 'b': 2})#foreach($v in $m)$v#end", "12"),
        ("#foreach($i in [1..9])#if($i == 3)#break#end$i#end.", "12."),
        ("#set($i = 'kept')#foreach($i in [1])#end$i", "kept"),
        ("#foreach($i in $input.path('$.a.b'))${i}#end", "123"),
        ("a#stop b", "a"),
    ]);
}

#[test]
fn lists_and_maps_mutate_in_place() {
    cases(&[
        (
            "#set($l = [])#set($d = $l.add(1))$l.add(2) $l $l.size()",
            "true [1, 2] 2",
        ),
        (
            "#set($m = {})#set($d = $m.put('a', [1]))$m.get('a').add(2)$m",
            "true{a=[1, 2]}",
        ),
        (
            "#set($m = {'x': {}})#set($m.x.y = 5)#set($m['z'] = 6)$m",
            "{x={y=5}, z=6}",
        ),
        (
            "#set($l = [1, 2])#set($l[0] = 9)$l $l[1] $l[-1] $l.get(0)",
            "[9, 2] 2 2 9",
        ),
        (
            "#set($a = [1])#set($b = $a)#set($d = $b.add(2))$a $b",
            "[1] [1, 2]",
        ),
        (
            "#set($m = {'k': 1})$m.containsKey('k') $m.remove('k') $m.isEmpty()",
            "true 1 true",
        ),
    ]);
}

#[test]
fn string_methods() {
    cases(&[
        ("#set($s = ' Hello, World ')$s.trim().toLowerCase()|$s.length()|$s.contains('World')", "hello, world|14|true"),
        ("#set($s = 'a-b-c')$s.split('-')|$s.replace('-', '+')|$s.replaceAll('([a-c])', '<$1>')", "[a, b, c]|a+b+c|<a>-<b>-<c>"),
        ("#set($s = 'abcdef')$s.substring(1, 3) $s.substring(4) $s.indexOf('cd') $s.charAt(0) $s.startsWith('ab') $s.endsWith('f')", "bc ef 2 a true true"),
        ("#set($s = 'abc')$s.matches('[a-c]+') $s.matches('b') $s.equals('abc') $s.isEmpty() $s.toUpperCase()", "true false true false ABC"),
        ("#set($s = 'a,b,,')$s.split(',').size()", "2"),
    ]);
}

#[test]
fn input_params_and_util() {
    cases(&[
        ("$input.params('id') $input.params('q') $input.params('x-trace') [$input.params('none')]", "42 x y t1 []"),
        ("$input.params().header.get('X-Trace') $input.params().querystring.q", "t1 x y"),
        ("$input.json('$.a') $input.json('$.s') $input.path('$.a.b').size()", r#"{"b":[1,2,3]} "it's" 3"#),
        ("$context.identity.sourceIp $context.authorizer.sub $stageVariables.env $context.stage", "192.0.2.1 u1 test prod"),
        ("$util.urlEncode('a b&c') $util.urlDecode('a+b%26c') $util.base64Encode('hi')", "a+b%26c a b&c aGk="),
        ("#set($j = $util.parseJson('{\"k\":[1,2]}'))$j.k[1]", "2"),
        ("$util.escapeJavaScript($input.path('$.s'))", r"it\'s"),
    ]);
}

#[test]
fn comments_define_and_literal_blocks() {
    cases(&[
        (
            "a## gone\nb#* also\ngone *#c#[[ $raw #if ]]#",
            "abc $raw #if ",
        ),
        (
            "#define($greet)hi $who#end#set($who = 'bo')$greet, $greet",
            "hi bo, hi bo",
        ),
    ]);
}

#[test]
fn directives_alone_on_a_line_take_the_line() {
    let src = "[\n  #foreach($i in [1, 2])\n  $i\n  #end\n]";
    assert_eq!(r(src), "[\n  1\n  2\n]");
    cases(&[("#set($a = 1)\n$a\n#if(true) x #end\n", "1\n x \n")]);
}

#[test]
fn overrides_are_written_and_read_back() {
    let src = "#set($context.requestOverride.header.X-Id = 'v')#set($context.requestOverride.header.h = 'a')\
#set($context.requestOverride.querystring.q = 1)#set($context.requestOverride.path.p = 'pp')\
#set($context.responseOverride.status = 404)#set($context.responseOverride.header['X-R'] = 'r')\
$context.responseOverride.status $context.requestOverride.header.h";
    let out = render_with(src, "", &Limits::default()).unwrap();
    assert_eq!(out.body, "404 a");
    let o = out.overrides;
    assert_eq!(o.response_status, Some(404));
    assert_eq!(
        o.request_querystring,
        vec![("q".to_string(), "1".to_string())]
    );
    assert_eq!(o.request_path, vec![("p".to_string(), "pp".to_string())]);
    assert_eq!(
        o.response_header,
        vec![("X-R".to_string(), "r".to_string())]
    );
    assert!(o
        .request_header
        .contains(&("h".to_string(), "a".to_string())));
    let bad = render_with(
        "#set($context.responseOverride.status = 99)",
        "",
        &Limits::default(),
    );
    assert!(
        matches!(
            bad,
            Err(VtlError::Eval {
                line: 1,
                column: 6,
                ..
            })
        ),
        "{bad:?}"
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    let e = Template::compile("ok\n  #if($x\n").unwrap_err();
    assert!(matches!(e, VtlError::Syntax { line: 3, .. }), "{e}");
    let e = Template::compile("a\nb #end").unwrap_err();
    assert_eq!(
        e,
        VtlError::Syntax {
            line: 2,
            column: 3,
            message: "unexpected directive: no open #if, #foreach or #define".into()
        }
    );
    let e = Template::compile("#set($x = 'abc)").unwrap_err();
    assert!(
        matches!(
            e,
            VtlError::Syntax {
                line: 1,
                column: 11,
                ..
            }
        ),
        "{e}"
    );
    assert!(Template::compile("#foreach($input in [1])#end").is_err());
    assert!(Template::compile("#if(true)").is_err());
    assert!(Template::compile("#*").is_err());
}

#[test]
fn deep_nesting_is_a_syntax_error_not_a_crash() {
    for src in [
        "#if(true)".repeat(10_000),
        format!("#set($x = {}1)", "(".repeat(100_000)),
        format!("#set($x = {}1{})", "[".repeat(50_000), "]".repeat(50_000)),
        format!("#set($x = {}1)", "!".repeat(100_000)),
        format!("#set($x = {}1)", "-".repeat(100_000)),
        format!("$a{}", ".b(".repeat(50_000)),
    ] {
        let r = Template::compile(&src);
        assert!(matches!(r, Err(VtlError::Syntax { .. })), "{}", &src[..20]);
    }
}

#[test]
fn limits_end_the_render() {
    let small = Limits {
        max_output_bytes: 100,
        ..Limits::default()
    };
    let d = &Limits::default();
    use Limit::*;
    let cases: &[(&str, &Limits, Limit)] = &[
        ("#foreach($i in [1..50])xxxxx#end", &small, Output(100)),
        (
            "#set($s='ab')#foreach($i in [1..20])#set($s=\"$s$s\")#end",
            &small,
            Output(100),
        ),
        ("#foreach($i in [1..1001])#end", d, Iterations(1000)),
        (
            "#foreach($i in [1..1000])#foreach($j in [1..1000])#end#end",
            d,
            Steps(1_000_000),
        ),
        ("#define($d)$d#end$d", d, Depth(100)),
        (
            "#set($l=[])#foreach($i in [1..200])#set($l=[$l])#end",
            d,
            Depth(100),
        ),
        (
            "#set($l=[0])#foreach($i in [1..200])#set($d=$l.add($l))#end",
            d,
            Depth(100),
        ),
        ("#set($x = [1..100001])", d, Collection(100_000)),
    ];
    for (src, limits, limit) in cases {
        let e = render_with(src, "", limits).unwrap_err();
        assert_eq!(e, VtlError::Limit(*limit), "{src}");
    }
    assert!(render_with("#foreach($i in [1..1000])#end", "", d).is_ok());
    assert_eq!(
        Template::compile(&"x".repeat(MAX_TEMPLATE_BYTES + 1)).unwrap_err(),
        VtlError::TooLarge
    );
}

#[test]
fn comparing_and_scanning_cost_steps() {
    // Two look-alike trees that share children: a naive comparison would
    // visit 2^60 nodes.
    let grow =
        "#set($a=[0])#set($b=[0])#foreach($i in [1..60])#set($a=[$a,$a])#set($b=[$b,$b])#end";
    for tail in [
        "#if($a == $b)eq#end",
        "$a.equals($b)",
        "$a.contains($b.get(0))",
        "$a.remove($b.get(0))",
    ] {
        let e = render_with(&format!("{grow}{tail}"), "", &Limits::default()).unwrap_err();
        assert_eq!(e, VtlError::Limit(Limit::Steps(1_000_000)), "{tail}");
    }
    // A scan of 10,000 elements per step runs out of steps, not time.
    let e = render_with(
        "#set($l=[1..10000])#foreach($i in [1..1000])#foreach($j in [1..1000])$l.contains(-1)#end#end",
        "",
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e, VtlError::Limit(Limit::Steps(1_000_000)));
}

#[test]
fn a_large_json_object_parses_in_linear_time_and_last_duplicate_wins() {
    let keys: Vec<String> = (0..200_000)
        .map(|i| format!("\"k{}\": {i}", i % 100_000))
        .collect();
    let body = format!("{{{}}}", keys.join(","));
    let out = render_with(
        "$input.path('$').size() $input.path('$.k7')",
        &body,
        &Limits::default(),
    );
    assert_eq!(out.unwrap().body, "100000 100007");
}

#[test]
fn the_whole_context_can_be_replaced() {
    cases(&[("#set($context = {'a': 1})$context.a", "1")]);
}

#[test]
fn templates_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
}
