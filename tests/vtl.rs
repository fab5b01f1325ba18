//! The VTL engine against AWS's documented mapping templates (each test
//! names its page), the edge cases AWS users hit, and a property test that
//! no template or input makes it panic or pass its limits.

use portico::vtl::{parse_json, Bindings, Limit, Limits, Template, Value, VtlError};
use proptest::prelude::*;

fn render(src: &str, b: &Bindings) -> String {
    Template::compile(src)
        .unwrap_or_else(|e| panic!("compile: {e}"))
        .render(b, &Limits::default())
        .unwrap_or_else(|e| panic!("render: {e}"))
        .body
}

fn body(json: &str) -> Bindings {
    Bindings {
        body: json.into(),
        ..Bindings::default()
    }
}

/// Output that must be JSON, compared as JSON (AWS's pages show it
/// re-indented).
fn assert_json(out: &str, expected: &str) {
    let got: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    let want: serde_json::Value = serde_json::from_str(expected).unwrap();
    assert_eq!(got, want, "output:\n{out}");
}

/// https://docs.aws.amazon.com/apigateway/latest/developerguide/models-mappings.html
/// "The following example shows input data, a mapping template, and output
/// data for a transformation of the PetStore data."
#[test]
fn pet_store_mapping_template() {
    let input = r#"[ { "id": 1, "type": "dog", "price": 249.99 }, { "id": 2, "type": "cat", "price": 124.99 }, { "id": 3, "type": "fish", "price": 0.99 } ]"#;
    let template = r#"#set($inputRoot = $input.path('$'))
[
#foreach($elem in $inputRoot)
  {
    "description" : "Item $elem.id is a $elem.type.",
    "askingPrice" : $elem.price
  }#if($foreach.hasNext),#end

#end
]"#;
    let out = render(template, &body(input));
    assert_json(
        &out,
        r#"[ { "description" : "Item 1 is a dog.", "askingPrice" : 249.99 }, { "description" : "Item 2 is a cat.", "askingPrice" : 124.99 }, { "description" : "Item 3 is a fish.", "askingPrice" : 0.99 } ]"#,
    );
}

/// https://docs.aws.amazon.com/apigateway/latest/developerguide/example-photos.html
/// (the photo album API's integration request template).
#[test]
fn photo_album_mapping_template() {
    let input = r#"{ "photos": { "page": 1, "pages": "1234", "perpage": 100, "total": "123398", "photo": [ { "id": "12345678901", "owner": "23456789@A12", "photographer_first_name" : "Saanvi", "photographer_last_name" : "Sarkar", "secret": "abc123d456", "server": "1234", "farm": 1, "title": "Sample photo 1", "ispublic": true, "isfriend": false, "isfamily": false }, { "id": "23456789012", "owner": "34567890@B23", "photographer_first_name" : "Richard", "photographer_last_name" : "Roe", "secret": "bcd234e567", "server": "2345", "farm": 2, "title": "Sample photo 2", "ispublic": true, "isfriend": false, "isfamily": false } ] } }"#;
    let template = r#"#set($inputRoot = $input.path('$'))
{
  "photos": [
#foreach($elem in $inputRoot.photos.photo)
    {
      "id": "$elem.id",
      "photographedBy": "$elem.photographer_first_name $elem.photographer_last_name",
      "title": "$elem.title",
      "ispublic": $elem.ispublic,
      "isfriend": $elem.isfriend,
      "isfamily": $elem.isfamily
    }#if($foreach.hasNext),#end

#end
  ]
}"#;
    let out = render(template, &body(input));
    assert_json(
        &out,
        r#"{ "photos": [ { "id": "12345678901", "photographedBy": "Saanvi Sarkar", "title": "Sample photo 1", "ispublic": true, "isfriend": false, "isfamily": false }, { "id": "23456789012", "photographedBy": "Richard Roe", "title": "Sample photo 2", "ispublic": true, "isfriend": false, "isfamily": false } ] }"#,
    );
}

fn context() -> Value {
    parse_json(
        r#"{"stage":"prod","requestId":"abcdefg-000-000-0000-abcdefg","apiId":"abcd1234",
        "resourcePath":"/","resourceId":"efg567","httpMethod":"GET",
        "identity":{"sourceIp":"192.0.2.1","userAgent":"curl/7.84.0","accountId":"111122223333",
        "apiKey":"MyTestKey","caller":"ABCD-0000-12345","user":"ABCD-0000-12345",
        "userArn":"arn:aws:sts::111122223333:assumed-role/Admin/carlos-salazar"}}"#,
    )
    .unwrap()
}

/// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-variable-examples.html
/// "Example 1: Pass multiple $context variables to the integration endpoint".
#[test]
fn context_variables_example() {
    let template = r#"{
    "stage" : "$context.stage",
    "request_id" : "$context.requestId",
    "api_id" : "$context.apiId",
    "resource_path" : "$context.resourcePath",
    "resource_id" : "$context.resourceId",
    "http_method" : "$context.httpMethod",
    "source_ip" : "$context.identity.sourceIp",
    "user-agent" : "$context.identity.userAgent",
    "account_id" : "$context.identity.accountId",
    "api_key" : "$context.identity.apiKey",
    "caller" : "$context.identity.caller",
    "user" : "$context.identity.user",
    "user_arn" : "$context.identity.userArn"
}"#;
    let b = Bindings {
        context: context(),
        ..Bindings::default()
    };
    assert_json(
        &render(template, &b),
        r#"{ "stage": "prod", "request_id": "abcdefg-000-000-0000-abcdefg", "api_id": "abcd1234",
        "resource_path": "/", "resource_id": "efg567", "http_method": "GET", "source_ip": "192.0.2.1",
        "user-agent": "curl/7.84.0", "account_id": "111122223333", "api_key": "MyTestKey",
        "caller": "ABCD-0000-12345", "user": "ABCD-0000-12345",
        "user_arn": "arn:aws:sts::111122223333:assumed-role/Admin/carlos-salazar" }"#,
    );
}

/// Same page, "Example 2: Pass all request parameters to the integration
/// endpoint through a JSON payload".
#[test]
fn all_request_parameters_example() {
    let template = r#"#set($allParams = $input.params())
{
  "params" : {
    #foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
    "$type" : {
      #foreach($paramName in $params.keySet())
      "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
      #if($foreach.hasNext),#end
      #end
    }
    #if($foreach.hasNext),#end
    #end
  }
}"#;
    let b = Bindings {
        path: vec![("myparam".into(), "myparam-value".into())],
        querystring: vec![("querystring1".into(), "value1,value2".into())],
        header: vec![("header1".into(), "say \"hi\"".into())],
        ..Bindings::default()
    };
    assert_json(
        &render(template, &b),
        r#"{ "params": { "path": { "myparam": "myparam-value" },
        "querystring": { "querystring1": "value1,value2" }, "header": { "header1": "say \"hi\"" } } }"#,
    );
}

/// Same page, "Example 3: Pass part of a method request to the integration
/// endpoint".
#[test]
fn part_of_a_method_request_example() {
    let template = r#"#set($inputRoot = $input.path('$'))
{
"id": "$input.params('id')",
"count": "$inputRoot.count",
"result": "$inputRoot.result"
}"#;
    let b = Bindings {
        body: r#"{"count": 10, "result": "yes"}"#.into(),
        querystring: vec![("id".into(), "123".into())],
        ..Bindings::default()
    };
    assert_json(
        &render(template, &b),
        r#"{"id": "123", "count": "10", "result": "yes"}"#,
    );
}

/// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
/// on `$util.escapeJavaScript`: "This function will turn any regular single
/// quotes (') into escaped ones (\'). However, the escaped single quotes are
/// not valid in JSON. ... $util.escapeJavaScript(data).replaceAll("\\'","'")".
#[test]
fn escape_javascript_and_the_documented_replace_all() {
    let b = body(r#"{"data": "it's \"quoted\"\n\ttab \u0001 / end"}"#);
    let out = render(r#"$util.escapeJavaScript($input.path('$.data'))"#, &b);
    assert_eq!(out, r#"it\'s \"quoted\"\n\ttab \u0001 \/ end"#);
    let out = render(
        r#"{"v": "$util.escapeJavaScript($input.path('$.data')).replaceAll("\\'","'")"}"#,
        &b,
    );
    assert_json(&out, r#"{"v": "it's \"quoted\"\n\ttab \u0001 / end"}"#);
}

/// The reference page's `$input` functions: "$input.json(x) ... returns the
/// results as a JSON string", "$input.path(x) ... returns a JSON object
/// representation of the result", e.g. `$input.path('$.pets').size()`.
#[test]
fn input_json_and_path() {
    let b = body(r#"{"pets": [{"name": "a\"b"}, {"name": "c"}], "n": 1.50, "s": "x"}"#);
    assert_eq!(render("$input.path('$.pets').size()", &b), "2");
    assert_eq!(render("$input.json('$.pets[0]')", &b), r#"{"name":"a\"b"}"#);
    assert_eq!(
        render("$input.json('$.s') $input.path('$.s')", &b),
        r#""x" x"#
    );
    assert_eq!(
        render("$input.json('$.pets[*].name')", &b),
        r#"["a\"b","c"]"#
    );
    assert_eq!(render("$input.path('$.n')", &b), "1.5");
    let arr = body(r#"[1, "two", {"three": 3}]"#);
    assert_eq!(render("$input.json('$')", &arr), r#"[1,"two",{"three":3}]"#);
    assert_eq!(render("$input.body", &arr), r#"[1, "two", {"three": 3}]"#);
    // Empty body: AWS treats it as `{}`.
    assert_eq!(render("$input.json('$')", &body("")), "{}");
}

/// AWS renders a reference into its own objects that resolves to nothing as
/// empty (Velocity would echo it); a template's own variables still echo.
#[test]
fn missing_values_render_empty_where_aws_does() {
    let b = body(r#"{"a": 1}"#);
    assert_eq!(
        render(
            r#""$input.path('$.missing')" "$input.json('$.missing')" "$input.params('nope')" "$context.authorizer.claims.sub" "$stageVariables.none""#,
            &b
        ),
        r#""" "" "" "" """#
    );
    assert_eq!(render("$input.path('$').item2|$mine|$!mine", &b), "|$mine|");
}

#[test]
fn nested_quotes() {
    let b = body(r#"{"k": "v"}"#);
    assert_eq!(
        render(r#"#set($s = "a '$input.path('$.k')' b")$s"#, &b),
        "a 'v' b"
    );
    assert_eq!(
        render(r#"#set($m = {"x": "say ""$input.path('$.k')"""})$m.x"#, &b),
        r#"say "v""#
    );
    assert_eq!(
        render(r#"#set($t = 'single "$k"')$t"#, &b),
        r#"single "$k""#
    );
}

#[test]
fn foreach_over_maps() {
    let b = body(r#"{"m": {"b": 2, "a": 1}}"#);
    let t = r#"#set($m = $input.path('$.m'))#foreach($k in $m.keySet())$k=$m.get($k)#if($foreach.hasNext)&#end#end|#foreach($e in $m.entrySet())$e.key:$e.value #end|#foreach($v in $m)$v#end"#;
    assert_eq!(render(t, &b), "b=2&a=1|b:2 a:1 |21");
}

/// https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-override-request-response-parameters.html
/// (request and response overrides are set with `#set` on
/// `$context.requestOverride` and `$context.responseOverride`).
#[test]
fn overrides_reach_the_caller() {
    let t = r#"#set($inputRoot = $input.path('$'))
$input.json("$")
#set($context.requestOverride.header.header1 = $inputRoot.header1)
#set($context.requestOverride.path.path1 = $inputRoot.path1)
#set($context.requestOverride.querystring.q = "v")
#if($inputRoot.toString().contains("error"))
#set($context.responseOverride.status = 400)
#set($context.responseOverride.header.X-Reason = "error")
#end
"#;
    let tpl = Template::compile(t).unwrap();
    let out = tpl
        .render(
            &body(r#"{"header1": "h", "path1": "p", "e": "error here"}"#),
            &Limits::default(),
        )
        .unwrap();
    assert_eq!(
        out.body,
        "{\"header1\":\"h\",\"path1\":\"p\",\"e\":\"error here\"}\n"
    );
    let o = out.overrides;
    assert_eq!(o.request_header, vec![("header1".into(), "h".into())]);
    assert_eq!(o.request_path, vec![("path1".into(), "p".into())]);
    assert_eq!(o.request_querystring, vec![("q".into(), "v".into())]);
    assert_eq!(o.response_status, Some(400));
    assert_eq!(o.response_header, vec![("X-Reason".into(), "error".into())]);
    let calm = tpl
        .render(&body(r#"{"header1": "h"}"#), &Limits::default())
        .unwrap();
    assert_eq!(calm.overrides.response_status, None);
}

#[test]
fn over_the_output_limit_is_an_error() {
    let b = body(&format!(r#"{{"s": "{}"}}"#, "x".repeat(4096)));
    let limits = Limits {
        max_output_bytes: 64 * 1024,
        ..Limits::default()
    };
    let t = Template::compile("#foreach($i in [1..100])$input.path('$.s')#end").unwrap();
    assert_eq!(
        t.render(&b, &limits).unwrap_err(),
        VtlError::Limit(Limit::Output(64 * 1024))
    );
    let t = Template::compile("#foreach($i in [1..15])$input.path('$.s')#end").unwrap();
    assert_eq!(t.render(&b, &limits).unwrap().body.len(), 15 * 4096);
}

/// AWS documents 1,000 iterations per `#foreach`.
#[test]
fn iteration_one_thousand_and_one_is_an_error() {
    let items: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let b = body(&format!("[{}]", items.join(",")));
    let t = Template::compile("#foreach($i in $input.path('$'))#end").unwrap();
    assert_eq!(
        t.render(&b, &Limits::default()).unwrap_err(),
        VtlError::Limit(Limit::Iterations(1000))
    );
    let b = body(&format!("[{}]", items[..1000].join(",")));
    assert!(t.render(&b, &Limits::default()).is_ok());
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let e = Template::compile("{\n  \"a\": $input.path('$.a'),\n  #foreach($x in)\n}").unwrap_err();
    assert_eq!(
        e.to_string(),
        "template line 3, column 17: expected an expression"
    );
}

const FRAGMENTS: &[&str] = &[
    "#if(",
    "#elseif(true)",
    "#else",
    "#end",
    "#foreach($i in ",
    "#set($x = ",
    "#set($m.k = ",
    "#break",
    "#stop",
    "#define($d)",
    "$d",
    ")",
    "(",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "$x",
    "$!x",
    "${x}",
    "$i",
    "$m",
    "$l",
    "$foreach.hasNext",
    "$velocityCount",
    "$input.path('$')",
    "$input.path('$.a')",
    "$input.json('$..b')",
    "$input.params()",
    "$input.params('q')",
    "$util.escapeJavaScript($x)",
    "$util.parseJson($input.body)",
    "$util.base64Decode($x)",
    "[1..5]",
    "[1..100000]",
    "$l.add($l)",
    "$m.put('k', $m)",
    "$x.replaceAll('(a*)*', '$1$1')",
    "$x.split('')",
    "\"$x$x$x$x\"",
    "$context.requestOverride.header.h",
    "$context.responseOverride.status",
    " + ",
    " - ",
    " * ",
    " / ",
    " % ",
    " == ",
    " && ",
    " || ",
    "!",
    " lt ",
    "1",
    "2.5",
    "-7",
    "true",
    "null",
    "##",
    "#*",
    "*#",
    " ",
    "\n",
    "#[[",
    "]]#",
    "$",
    "#",
    ".",
    ".size()",
    ".get(0)",
];

fn template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => "\\PC{0,6}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the template and input: no panic, and a render that
    /// succeeds stays within its output limit.
    #[test]
    fn never_panics_and_respects_limits(
        src in template(),
        body in prop_oneof![
            Just(r#"{"a": [1, {"b": "x"}], "b": {"b": null}}"#.to_string()),
            "\\PC{0,40}",
        ],
        q in "\\PC{0,8}",
    ) {
        let limits = Limits {
            max_output_bytes: 4096,
            max_steps: 20_000,
            max_collection_len: 2_000,
            ..Limits::default()
        };
        if let Ok(t) = Template::compile(&src) {
            let b = Bindings {
                body,
                querystring: vec![("q".into(), q)],
                ..Bindings::default()
            };
            if let Ok(r) = t.render(&b, &limits) {
                prop_assert!(r.body.len() <= limits.max_output_bytes);
            }
        }
    }
}
