//! Lambda proxy integrations against real handler code nobody here wrote:
//! Mangum (ASGI) and aws-lambda-powertools' event classes and routers,
//! behind a local Invoke API (tests/lambda/invoke_server.py). Requests and
//! answers must round-trip for payload 1.0 and 2.0: path and query
//! parameters, repeated headers, cookies, binary bodies, status, headers;
//! failures map to 502 and 504 as API Gateway maps them.
mod common;

use common::*;
use serde_json::{json, Value};

/// An API whose routes each invoke one function.
fn lambda_api(fns: &Functions, routes: &[(&str, &str, &str, &str)]) -> Config {
    let mut text = String::from(
        r#"[[api]]
name = "fns"
id = "a1b2c3"
binary_media_types = ["image/png", "application/octet-stream"]

[api.stages.prod]
variables = { colour = "blue", fn = "powertools-v1" }

"#,
    );
    for (method, path, function, version) in routes {
        text.push_str(&format!(
            "[[api.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n\
             integration = {{ type = \"lambda\", function = \"{function}\", payload_version = \"{version}\", timeout_ms = 3000 }}\n\n"
        ));
    }
    Config::new(&text).append(&format!(
        "[aws]\naccount_id = \"123456789012\"\nlambda_endpoint = \"{}\"\n",
        fns.endpoint()
    ))
}

fn call(
    c: &mut Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    c.request(request(method, path, "gw.example:8080", headers, body))
}

#[test]
fn powertools_sees_a_payload_1_0_event_field_for_field() {
    let fns = Functions::start();
    let srv = Server::start(&lambda_api(
        &fns,
        &[("ANY", "/things/{id}", "powertools-v1", "1.0")],
    ));
    let mut c = srv.connect();
    let r = call(
        &mut c,
        "POST",
        "/prod/things/a%20b?x=1&x=2&y=%C3%A9",
        &[
            ("X-Test", "one"),
            ("x-test", "two"),
            ("content-type", "text/plain"),
        ],
        b"hello body",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let e = r.json();
    assert_eq!(e["resource"], "/things/{id}");
    assert_eq!(e["path"], "/things/a%20b");
    assert_eq!(e["httpMethod"], "POST");
    assert_eq!(e["queryStringParameters"], json!({"x": "2", "y": "é"}));
    assert_eq!(
        e["multiValueQueryStringParameters"],
        json!({"x": ["1", "2"], "y": ["é"]})
    );
    assert_eq!(e["pathParameters"], json!({"id": "a b"}));
    assert_eq!(
        e["stageVariables"],
        json!({"colour": "blue", "fn": "powertools-v1"})
    );
    assert_eq!(e["x_test"], "two", "the last value of a repeated header");
    // powertools lower-cases names; the raw event keeps the first spelling.
    assert_eq!(e["multiValueHeaders"]["x-test"], json!(["one", "two"]));
    assert_eq!(e["stage"], "prod");
    assert_eq!(e["resourcePath"], "/things/{id}");
    assert_eq!(e["requestId"], r.request_id());
    assert_eq!(e["sourceIp"], "127.0.0.1");
    assert_eq!(e["apiKey"], Value::Null);
    assert_eq!(e["body"], "hello body");
    assert_eq!(e["isBase64Encoded"], false);
    // The raw event: the fields powertools does not expose.
    let raw = fns.last_event("powertools-v1");
    let ctx = &raw["requestContext"];
    assert_eq!(ctx["accountId"], "123456789012");
    assert_eq!(ctx["apiId"], "a1b2c3");
    assert_eq!(ctx["domainName"], "gw.example");
    assert_eq!(ctx["domainPrefix"], "gw");
    assert_eq!(ctx["path"], "/prod/things/a%20b");
    assert_eq!(ctx["httpMethod"], "POST");
    assert_eq!(ctx["protocol"], "HTTP/1.1");
    assert!(ctx["requestTimeEpoch"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(
        ctx["requestTime"].as_str().unwrap().ends_with(" +0000"),
        "{ctx}"
    );
    assert_eq!(raw["headers"]["X-Test"], "two");
    assert_eq!(raw["multiValueHeaders"]["X-Test"], json!(["one", "two"]));
    assert!(raw.get("version").is_none(), "1.0 events have no version");
}

#[test]
fn powertools_sees_a_payload_2_0_event_and_its_cookies_come_back() {
    let fns = Functions::start();
    let srv = Server::start(&lambda_api(
        &fns,
        &[("GET", "/things/{id}", "powertools-v2", "2.0")],
    ));
    let mut c = srv.connect();
    let r = call(
        &mut c,
        "GET",
        "/prod/things/7?x=1&x=2&z=%2F",
        &[
            ("X-Test", "one"),
            ("x-test", "two"),
            ("Cookie", "a=1; b=2"),
            ("cookie", "c=3"),
            ("x-request-id", "forged-id"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let e = r.json();
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "GET /things/{id}");
    assert_eq!(e["rawPath"], "/prod/things/7");
    assert_eq!(e["rawQueryString"], "x=1&x=2&z=%2F");
    assert_eq!(e["cookies"], json!(["a=1", "b=2", "c=3"]));
    assert_eq!(
        e["headers"]["x-test"], "one,two",
        "2.0 joins repeated headers"
    );
    assert!(e["headers"].get("cookie").is_none(), "cookies travel apart");
    assert_eq!(e["queryStringParameters"], json!({"x": "1,2", "z": "/"}));
    assert_eq!(e["pathParameters"], json!({"id": "7"}));
    assert_eq!(e["stageVariables"]["colour"], "blue");
    assert_eq!(e["method"], "GET");
    assert_eq!(e["sourceIp"], "127.0.0.1");
    assert_eq!(e["stage"], "prod");
    assert_eq!(e["body"], Value::Null);
    // The result's cookies are Set-Cookie headers, one each.
    assert_eq!(r.header_all("set-cookie"), ["s=1; Path=/", "t=2"]);
    let raw = fns.last_event("powertools-v2");
    assert_eq!(raw["requestContext"]["routeKey"], "GET /things/{id}");
    assert_eq!(raw["requestContext"]["requestId"], r.request_id());
    assert_ne!(
        r.request_id(),
        "forged-id",
        "a client's x-request-id is not the request id"
    );
    assert!(raw.get("body").is_none(), "2.0 omits an absent body");
}

#[test]
fn through_a_custom_domain_the_1_0_event_path_keeps_the_base_path() {
    let fns = Functions::start();
    let cfg = lambda_api(&fns, &[("ANY", "/pets", "powertools-v1", "1.0")]).append(
        r#"[[domain]]
name = "api.example.com"
mappings = [ { base_path = "v1", api = "fns", stage = "prod" } ]

[[domain]]
name = "root.example.com"
mappings = [ { api = "fns", stage = "prod" } ]
"#,
    );
    let srv = Server::start(&cfg);
    let mut c = srv.connect();
    // As API Gateway sends it: `path` and `requestContext.path` are the URL's
    // path, base path included and no stage; `resource` is the API's own.
    for (host, url, want) in [
        ("api.example.com", "/v1/pets?x=1", "/v1/pets"),
        ("root.example.com:8443", "/pets", "/pets"),
    ] {
        let r = c.request(request("GET", url, host, &[], b""));
        assert_eq!(r.status, 200, "{host}{url}: {r:?}");
        let e = fns.last_event("powertools-v1");
        assert_eq!(e["resource"], "/pets", "{host}");
        assert_eq!(e["path"], want, "{host}");
        let ctx = &e["requestContext"];
        assert_eq!(ctx["path"], want, "{host}");
        assert_eq!(ctx["resourcePath"], "/pets", "{host}");
        assert_eq!(ctx["stage"], "prod", "{host}");
        let domain = host.split(':').next().unwrap();
        assert_eq!(ctx["domainName"], domain, "{host}");
        assert_eq!(ctx["domainPrefix"], domain.split('.').next().unwrap());
    }
    // The default endpoint still leaves the stage out of `path`.
    let r = call(&mut c, "GET", "/prod/pets", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let e = fns.last_event("powertools-v1");
    assert_eq!(e["path"], "/pets");
    assert_eq!(e["requestContext"]["path"], "/prod/pets");
}

#[test]
fn mangum_apps_round_trip_requests_and_answers_in_both_versions() {
    let fns = Functions::start();
    let srv = Server::start(&lambda_api(
        &fns,
        &[
            ("ANY", "/v1/{proxy+}", "mangum", "1.0"),
            ("ANY", "/v2/{proxy+}", "mangum", "2.0"),
        ],
    ));
    let mut c = srv.connect();
    for (prefix, seen_path) in [("/prod/v1", "/v1/echo/x"), ("/prod/v2", "/prod/v2/echo/x")] {
        let r = call(
            &mut c,
            "PUT",
            &format!("{prefix}/echo/x?a=1&a=2&b=x%20y"),
            &[("x-one", "1"), ("content-type", "application/json")],
            br#"{"k":"v"}"#,
        );
        assert_eq!(r.status, 200, "{prefix}: {r:?}");
        let e = r.json();
        assert_eq!(e["method"], "PUT", "{prefix}");
        // REST API events carry the path after the stage, HTTP API events the raw path.
        assert_eq!(e["path"], seen_path, "{prefix}");
        let q = e["query_string"].as_str().unwrap();
        assert!(
            q.contains("a=1") && q.contains("a=2") && q.contains("b=x"),
            "{prefix}: {q}"
        );
        let headers = e["headers"].as_array().unwrap();
        assert!(
            headers.contains(&json!(["x-one", "1"])),
            "{prefix}: {headers:?}"
        );
        assert_eq!(
            e["body_b64"], "eyJrIjoidiJ9",
            "{prefix}: the body arrived whole"
        );

        // Repeated response headers and cookies come back one per line.
        let r = call(&mut c, "GET", &format!("{prefix}/cookies"), &[], b"");
        assert_eq!(r.status, 200, "{prefix}: {r:?}");
        assert_eq!(r.body_str(), "ok");
        assert_eq!(
            r.header_all("set-cookie"),
            ["a=1; Path=/", "b=2; Path=/"],
            "{prefix}"
        );

        let r = call(&mut c, "GET", &format!("{prefix}/status/418"), &[], b"");
        assert_eq!(
            (r.status, r.body_str().as_str()),
            (418, "status 418"),
            "{prefix}"
        );
    }
}

#[test]
fn binary_bodies_travel_base64_both_ways() {
    let fns = Functions::start();
    let srv = Server::start(&lambda_api(
        &fns,
        &[
            ("ANY", "/v1/{proxy+}", "mangum", "1.0"),
            ("ANY", "/v2/{proxy+}", "mangum", "2.0"),
        ],
    ));
    let mut c = srv.connect();
    let bytes: Vec<u8> = (0..=255).collect();
    for prefix in ["/prod/v1", "/prod/v2"] {
        let r = call(
            &mut c,
            "POST",
            &format!("{prefix}/upload"),
            &[("content-type", "image/png")],
            &bytes,
        );
        assert_eq!(r.status, 200, "{r:?}");
        use base64::Engine;
        let got = base64::engine::general_purpose::STANDARD
            .decode(r.json()["body_b64"].as_str().unwrap())
            .unwrap();
        assert_eq!(got, bytes, "{prefix}: the function got the bytes sent");
        let r = call(&mut c, "GET", &format!("{prefix}/binary"), &[], b"");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/png"));
        assert_eq!(r.body, bytes, "{prefix}: the answer is the bytes, decoded");
    }
    let raw = fns.last_event("mangum");
    assert_eq!(raw["isBase64Encoded"], false, "a GET has no body to encode");
}

#[test]
fn powertools_routers_route_and_answer() {
    for (function, version) in [
        ("powertools-router-v1", "1.0"),
        ("powertools-router-v2", "2.0"),
    ] {
        let fns = Functions::start();
        let srv = Server::start(&lambda_api(
            &fns,
            &[
                ("ANY", "/pets/{id}", function, version),
                ("POST", "/pets", function, version),
            ],
        ));
        let mut c = srv.connect();
        let r = call(&mut c, "GET", "/prod/pets/7?q=tabby", &[], b"");
        assert_eq!(r.status, 200, "{function}: {r:?}");
        assert_eq!(r.json(), json!({"pet": "7", "q": "tabby"}), "{function}");
        let r = call(
            &mut c,
            "POST",
            "/prod/pets",
            &[("content-type", "application/json")],
            br#"{"name":"rex"}"#,
        );
        assert_eq!(r.status, 201, "{function}: {r:?}");
        assert_eq!(r.json(), json!({"created": {"name": "rex"}}), "{function}");
    }
}

#[test]
fn results_that_are_not_answers_are_502_and_2_0_bodies_are_json() {
    let fns = Functions::start();
    let srv = Server::start(&lambda_api(
        &fns,
        &[
            ("GET", "/fail", "fail", "1.0"),
            ("GET", "/malformed", "malformed", "1.0"),
            ("GET", "/no-status-1", "object-no-status", "1.0"),
            ("GET", "/no-status-2", "object-no-status", "2.0"),
            ("GET", "/plain", "plain", "2.0"),
            ("GET", "/missing", "no-such-function", "1.0"),
        ],
    ));
    let mut c = srv.connect();
    for path in ["/fail", "/malformed", "/no-status-1", "/missing"] {
        let r = call(&mut c, "GET", &format!("/prod{path}"), &[], b"");
        assert_error(&r, 502, Some("Internal server error"));
    }
    assert_eq!(
        fns.count("fail"),
        1,
        "the function ran; its error is what failed"
    );
    let r = call(&mut c, "GET", "/prod/no-status-2", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"message": "no status here"}));
    let r = call(&mut c, "GET", "/prod/plain", &[], b"");
    assert_eq!((r.status, r.body_str().as_str()), (200, r#""hello""#));
}

#[test]
fn a_slow_function_is_a_504_and_a_dead_endpoint_a_502() {
    let fns = Functions::start();
    let cfg = lambda_api(&fns, &[("GET", "/slow", "slow", "1.0")]);
    let text = cfg
        .render()
        .replace("timeout_ms = 3000", "timeout_ms = 200");
    let srv = Server::start_text(&text, &[]);
    let mut c = srv.connect();
    let r = call(&mut c, "GET", "/prod/slow?s=2", &[], b"");
    assert_error(&r, 504, Some(TIMED_OUT));

    let dead = Config::new(
        r#"[[api]]
name = "dead"
[api.stages.prod]
[[api.routes]]
method = "GET"
path = "/x"
integration = { type = "lambda", function = "f", endpoint = "http://127.0.0.1:9" }
"#,
    );
    let srv = Server::start(&dead);
    let r = srv.connect().get("/prod/x");
    assert_error(&r, 502, Some("Internal server error"));
}

#[test]
fn the_function_name_can_come_from_a_stage_variable() {
    let fns = Functions::start();
    let srv = Server::start(&lambda_api(
        &fns,
        &[("GET", "/dyn/{id}", "${stageVariables.fn}", "1.0")],
    ));
    let r = srv.connect().get("/prod/dyn/5");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["pathParameters"], json!({"id": "5"}));
    assert_eq!(fns.count("powertools-v1"), 1);
}

#[test]
fn lambda_config_errors_name_the_key() {
    let cases = [
        (
            r#"integration = { type = "lambda", function = "f" }"#,
            "no endpoint",
        ),
        (
            r#"integration = { type = "lambda", function = "f", endpoint = "ftp://127.0.0.1:9" }"#,
            "is not an http:// or https:// URL",
        ),
        (
            r#"integration = { type = "lambda", function = "f", endpoint = "http://127.0.0.1:9", payload_version = "3.0" }"#,
            "unknown variant `3.0`, expected `1.0` or `2.0`",
        ),
        (
            r#"integration = { type = "lambda", function = "${stageVariables.nope}", endpoint = "http://127.0.0.1:9" }"#,
            "stage variable `nope` is not defined",
        ),
    ];
    for (integration, wanted) in cases {
        let text = format!(
            "[[api]]\nname = \"bad\"\n[api.stages.prod]\n[[api.routes]]\nmethod = \"GET\"\npath = \"/x\"\n{integration}\n"
        );
        assert_refused(&text, &[wanted, "integration"]);
    }
}

#[test]
fn calls_are_signed_with_sigv4_when_credentials_are_configured() {
    use portico::aws::sigv4;
    let up = Upstream::start(|_| {
        Reply::Send(http_response(
            200,
            &[("content-type", "application/json")],
            br#"{"statusCode":200,"body":"signed"}"#,
        ))
    });
    let text = format!(
        r#"[[api]]
name = "signed"
[api.stages.prod]
[[api.routes]]
method = "POST"
path = "/f"
integration = {{ type = "lambda", function = "arn:aws:lambda:eu-west-1:123456789012:function:f", endpoint = "http://{}" }}
[aws]
region = "eu-west-1"
"#,
        up.addr()
    );
    let srv = Server::start_with_env(
        &Config::new(&text),
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_SESSION_TOKEN", "session-token-1"),
        ],
    );
    let r = srv
        .connect()
        .request(request("POST", "/prod/f", "localhost", &[], b"payload"));
    assert_eq!((r.status, r.body_str().as_str()), (200, "signed"), "{r:?}");
    let seen = up.recv();
    assert_eq!(
        seen.target,
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Af/invocations"
    );
    assert_eq!(seen.header("x-amz-security-token"), Some("session-token-1"));
    let auth = seen.header("authorization").expect("signed").to_string();
    assert!(
        auth.contains("Credential=AKIDEXAMPLE/") && auth.contains("/eu-west-1/lambda/aws4_request"),
        "{auth}"
    );
    // The signature verifies over what arrived, with the secret.
    let headers: Vec<(String, String)> = seen
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    let signed = sigv4::Signed {
        method: "POST",
        path: &seen.target,
        query: "",
        headers: &headers,
        body: &seen.body,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    assert_eq!(
        sigv4::verify(&auth, &signed, "AKIDEXAMPLE", secret, now),
        Ok(())
    );
    assert_eq!(
        sigv4::verify(&auth, &signed, "AKIDEXAMPLE", "wrong", now),
        Err(sigv4::SigError::Mismatch)
    );
    // And botocore, signing the same request as boto3 signs its own Lambda
    // calls, comes to the same header: the same canonical request (the
    // ARN's `%3A` encoded again as `%253A`, as every service but S3
    // wants), the same scope, the same signature.
    let signed_names: Vec<&str> = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("SignedHeaders")
        .split(';')
        .collect();
    for must in ["host", "x-amz-date", "x-amz-security-token"] {
        assert!(signed_names.contains(&must), "{must} is not signed: {auth}");
    }
    let botocore: Value = serde_json::from_str(&venv_script(
        "sigv4_botocore.py",
        &[],
        json!({
            "method": "POST",
            "url": format!("http://{}{}", up.addr(), seen.target),
            "headers": headers
                .iter()
                .filter(|(n, _)| signed_names.contains(&n.as_str()))
                .map(|(n, v)| [n, v])
                .collect::<Vec<_>>(),
            "body_hex": seen.body.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "access_key": "AKIDEXAMPLE",
            "secret_key": secret,
            "token": "session-token-1",
            "region": "eu-west-1",
            "service": "lambda",
            "amz_date": seen.header("x-amz-date").expect("x-amz-date"),
        })
        .to_string()
        .as_bytes(),
    ))
    .unwrap();
    let canonical = botocore["canonical_request"].as_str().unwrap();
    assert!(
        canonical.starts_with(
            "POST\n/2015-03-31/functions/arn%253Aaws%253Alambda%253Aeu-west-1%253A123456789012%253Afunction%253Af/invocations\n"
        ),
        "{canonical}"
    );
    assert_eq!(
        auth, botocore["authorization"],
        "botocore's canonical request:\n{canonical}"
    );
    let event: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(event["body"], "payload");
}
