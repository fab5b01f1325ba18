//! `contentHandling` and `binaryMediaTypes` for non-proxy integrations on
//! the real binary: the rows of "Content type conversions in API Gateway"
//! (developer guide) through MOCK and HTTP integrations, the backend a
//! recording upstream. The request table: what the integration request
//! carries for a text or binary method request; the response table: what
//! the client gets for a text or binary integration response and its first
//! `Accept` media type. "When converting a binary payload to a text
//! string, API Gateway always applies a Base64 encoding on the binary data.
//! You can define a mapping template for such a payload, but can only
//! access the Base64-encoded string in the mapping template through
//! `$input.body`"; a text payload that does not decode is "a 500 response
//! indicating an API configuration error".

mod common;

use common::*;
use serde_json::json;

/// Eight bytes of PNG signature and two more: not UTF-8.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\xff\x00";
const PNG_B64: &str = "iVBORw0KGgr/AA==";

/// The backend answers `/png` with PNG bytes as `image/png`, `/b64` with
/// their Base64 as `text/plain`, anything else `{"ok": true}`.
fn backend() -> Upstream {
    Upstream::start(|r| {
        let (ct, body): (&str, &[u8]) = if r.target.starts_with("/png") {
            ("image/png", PNG)
        } else if r.target.starts_with("/b64") {
            ("text/plain", PNG_B64.as_bytes())
        } else {
            ("application/json", br#"{"ok": true}"#)
        };
        Reply::Send(http_response(200, &[("content-type", ct)], body))
    })
}

/// An API with `binaryMediaTypes` image/png and one `http_proxy` route per
/// (method, path, backend path, execution TOML table body).
fn api(addr: &str, routes: &[(&str, &str, &str, &str)]) -> Config {
    let mut text = String::from(
        "[[api]]\nname = \"bin\"\nbinary_media_types = [\"image/png\"]\n\n[api.stages.prod]\nvariables = {}\n\n",
    );
    for (method, path, to, execution) in routes {
        text.push_str(&format!(
            "[[api.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n\
             integration = {{ type = \"http_proxy\", uri = \"http://{addr}{to}\", timeout_ms = 5000 }}\n\
             [api.routes.execution]\n{execution}\n\n"
        ));
    }
    Config::new(&text)
}

fn call(s: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    s.connect()
        .request(request(method, path, "localhost", headers, body))
}

/// The body of the backend's next request, as text.
fn received_text(up: &Upstream) -> String {
    String::from_utf8_lossy(&up.recv().body).into_owned()
}

const DEFAULT_200: &str = "[[api.routes.execution.integration_responses]]\nstatus = 200\n";

/// The request table's rows, each through its own route.
#[test]
fn request_payloads_convert_as_aws_table_says() {
    let up = backend();
    let template = r#"request_templates = { "image/png" = '{"data": "$input.body"}', "application/json" = '{"data": "$input.body"}' }"#;
    let to_text = format!("content_handling = \"CONVERT_TO_TEXT\"\n{template}\n{DEFAULT_200}");
    let to_binary = format!("content_handling = \"CONVERT_TO_BINARY\"\n{DEFAULT_200}");
    let untouched = format!("{template}\n{DEFAULT_200}");
    let routes = [
        ("POST", "/to-text", "/in", to_text.as_str()),
        ("POST", "/to-binary", "/in", to_binary.as_str()),
        ("POST", "/untouched", "/in", untouched.as_str()),
    ];
    let s = Server::start(&api(&up.addr(), &routes));
    let png = [("content-type", "image/png")];
    let json = [("content-type", "application/json")];

    // Binary data | binary type | set | CONVERT_TO_TEXT | Base64-encoded
    // string, which the template reads as `$input.body`.
    let r = call(&s, "POST", "/prod/to-text", &png, PNG);
    assert_eq!(r.status, 200, "{r:?}");
    let got = received_text(&up);
    assert_eq!(got, format!("{{\"data\": \"{PNG_B64}\"}}"));
    // Text data | text type | set | CONVERT_TO_TEXT | Text data.
    call(&s, "POST", "/prod/to-text", &json, b"hi");
    assert_eq!(received_text(&up), "{\"data\": \"hi\"}");

    // Text data | any | CONVERT_TO_BINARY | Base64-decoded binary blob
    // (passed through: no template).
    let r = call(&s, "POST", "/prod/to-binary", &json, PNG_B64.as_bytes());
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(up.recv().body, PNG);
    // Binary data | binary type | set | CONVERT_TO_BINARY | Binary data.
    call(&s, "POST", "/prod/to-binary", &png, PNG);
    assert_eq!(up.recv().body, PNG);
    // Text that is not Base64 cannot be converted: a configuration error.
    let r = call(
        &s,
        "POST",
        "/prod/to-binary",
        &json,
        b"{\"not\": \"base64\"}",
    );
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(r.json()["message"], "Internal server error", "{r:?}");

    // Binary data | binary type | set | undefined | Binary data: passed as
    // it came, its template not run.
    call(&s, "POST", "/prod/untouched", &png, PNG);
    assert_eq!(up.recv().body, PNG);
    // Text data | text type | set | undefined | Text data (templated).
    call(&s, "POST", "/prod/untouched", &json, b"hi");
    assert_eq!(received_text(&up), "{\"data\": \"hi\"}");
}

/// The response table's rows with `binaryMediaTypes` set, for a binary
/// (`image/png`) and a text (`text/plain`) integration response.
#[test]
fn response_payloads_convert_as_aws_table_says() {
    let up = backend();
    let to_text = "[[api.routes.execution.integration_responses]]\nstatus = 200\ncontent_handling = \"CONVERT_TO_TEXT\"\nresponse_templates = { \"application/json\" = '{\"image\": \"$input.body\"}' }\n";
    let to_binary = "[[api.routes.execution.integration_responses]]\nstatus = 200\ncontent_handling = \"CONVERT_TO_BINARY\"\n";
    let routes = [
        ("GET", "/png", "/png", DEFAULT_200),
        ("GET", "/b64", "/b64", DEFAULT_200),
        ("GET", "/png-text", "/png", to_text),
        ("GET", "/b64-binary", "/b64", to_binary),
        ("GET", "/png-binary", "/png", to_binary),
    ];
    let s = Server::start(&api(&up.addr(), &routes));
    let get = |path: &str, accept: &str| {
        let r = call(&s, "GET", path, &[("accept", accept)], b"");
        assert_eq!(r.status, 200, "{path} {accept}: {r:?}");
        r.body
    };
    // Binary data | binary type | set | undefined | Binary data.
    assert_eq!(get("/prod/png", "image/png"), PNG);
    // Binary data | text type | set | undefined | Base64-encoded string.
    assert_eq!(get("/prod/png", "application/json"), PNG_B64.as_bytes());
    // Only the first Accept media type counts.
    assert_eq!(get("/prod/png", "text/html, image/png"), PNG_B64.as_bytes());
    // Text data | binary type | set | undefined | Base64-decoded blob.
    assert_eq!(get("/prod/b64", "image/png"), PNG);
    // Text data | text type | set | undefined | Text data.
    assert_eq!(get("/prod/b64", "text/plain"), PNG_B64.as_bytes());
    // Binary data | binary type | set | CONVERT_TO_TEXT | Base64-encoded
    // string, through the response template.
    let want = format!("{{\"image\": \"{PNG_B64}\"}}");
    assert_eq!(get("/prod/png-text", "image/png"), want.as_bytes());
    // Text data | text type | set | CONVERT_TO_BINARY | Base64-decoded blob.
    assert_eq!(get("/prod/b64-binary", "text/plain"), PNG);
    // Binary data | text type | set | CONVERT_TO_BINARY | Binary data.
    assert_eq!(get("/prod/png-binary", "application/json"), PNG);
}

/// A MOCK integration whose response template writes Base64 and whose
/// integration response converts it to binary (Text data | any |
/// undefined | CONVERT_TO_BINARY | Base64-decoded blob), in an API
/// without `binaryMediaTypes`; a template output that is not Base64 is a
/// configuration error.
#[test]
fn a_mock_response_template_can_answer_binary() {
    let config = Config::new(&format!(
        r#"
[[api]]
name = "mockbin"

[api.stages.prod]
variables = {{}}

[[api.routes]]
method = "GET"
path = "/pixel"
integration = {{ type = "mock", status = 200 }}
[api.routes.execution]
request_templates = {{ "application/json" = '{{"statusCode": $input.params("code")}}' }}
[[api.routes.execution.integration_responses]]
status = 200
content_handling = "CONVERT_TO_BINARY"
response_templates = {{ "image/png" = '{PNG_B64}' }}
[[api.routes.execution.integration_responses]]
status = 201
selection_pattern = "201"
content_handling = "CONVERT_TO_BINARY"
response_templates = {{ "application/json" = 'not base64' }}
"#
    ));
    let s = Server::start(&config);
    let r = call(&s, "GET", "/prod/pixel?code=200", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, PNG);
    assert_eq!(r.header("content-type"), Some("image/png"), "{r:?}");
    let bad = call(&s, "GET", "/prod/pixel?code=201", &[], b"");
    assert_eq!(bad.status, 500, "{bad:?}");
}

/// An OpenAPI document as AWS exports one ("Import and export content
/// encodings": `x-amazon-apigateway-binary-media-types` and the
/// integration's and its responses' `contentHandling`) imports, runs, and
/// exports with its `contentHandling` kept.
#[test]
fn an_imported_openapi_document_keeps_and_runs_its_content_handling() {
    const TOKEN: &str = "content-handling-token-01";
    let mut m = Managed::start(TOKEN);
    let mock = json!({ "type": "mock", "contentHandling": "CONVERT_TO_TEXT",
        "requestTemplates": { "application/json": "{\"statusCode\": 200}" },
        "responses": { "default": { "statusCode": "200", "contentHandling": "CONVERT_TO_BINARY",
            "responseTemplates": { "application/json": PNG_B64 } } } });
    let doc = json!({
        "openapi": "3.0.1",
        "info": { "title": "pixels" },
        "x-amazon-apigateway-binary-media-types": ["image/png"],
        "paths": { "/pixel": { "get": {
            "responses": { "200": { "description": "a pixel" } },
            "x-amazon-apigateway-integration": mock
        } } }
    });
    let api = m.ok("POST", "/restapis?mode=import", Some(doc), 201);
    let id = api["id"].as_str().unwrap().to_string();
    let deployments = format!("/restapis/{id}/deployments");
    m.ok(
        "POST",
        &deployments,
        Some(json!({ "stageName": "prod" })),
        201,
    );
    let url = format!("/restapis/{id}/prod/_user_request_/pixel");
    let r = poll_until(
        POLL_FOR,
        || call(&m.srv, "GET", &url, &[("accept", "image/png")], b""),
        |r| r.status == 200,
        |r| format!("{url}: {r:?}"),
    );
    assert_eq!(r.body, PNG, "{r:?}");
    let export = format!("/restapis/{id}/stages/prod/exports/oas30?extensions=integrations");
    let out = m.ok("GET", &export, None, 200);
    let x = &out["paths"]["/pixel"]["get"]["x-amazon-apigateway-integration"];
    assert_eq!(x["contentHandling"], "CONVERT_TO_TEXT", "{out}");
    let default = &x["responses"]["default"];
    assert_eq!(default["contentHandling"], "CONVERT_TO_BINARY", "{out}");
}
