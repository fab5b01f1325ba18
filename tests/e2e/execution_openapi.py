"""The REST execution model imported from an OpenAPI document, end to end.

tests/e2e/fixtures/execution_api.yaml is written the way API Gateway exports
an API (OpenAPI 3.0 with its x-amazon-apigateway-* extensions) and uses every
part of the execution model. This test, run with the python of
tests/e2e/moto_venv.sh (boto3 and moto), starts moto's server (DynamoDB for
the AWS integrations), a recording HTTP backend and portico (the binary in
argv[1], `[aws] endpoints` pointing DynamoDB at moto), imports the document
with boto3's import_rest_api, checks what the import made of each extension,
deploys a stage with stage variables, calls every route over HTTP and checks
the status, headers and body AWS would answer (each expectation quotes the
AWS documentation page it follows). Last, GetExport's document, imported
again, must give the same methods, integrations, validators and gateway
responses: an export that drops an extension fails here.

Exits non-zero on the first failed check."""

import hashlib
import json
import logging
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from moto.server import ThreadedMotoServer

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "execution_api.yaml"
ACCESS_KEY = "AKIDEXECUTIONOPENAPI"
SECRET = "execution-openapi-secret-0123"
STAGE = "test"


class Backend(BaseHTTPRequestHandler):
    """The HTTP integrations' backend: records each request (method, path,
    headers, body) in `seen`, by path without the query; orders answer
    their total (404 for caller `missing`), uploads their size and digest."""

    seen = {}

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Backend.seen[self.path.split("?")[0]] = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        if self.path.startswith("/backend/uploads"):
            self.answer(200, {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}, {})
        elif self.headers.get("x-caller") == "missing":
            self.answer(404, {"reason": "no such order"}, {})
        else:
            order = json.loads(body)
            total = sum(line["quantity"] for line in order["lines"])
            self.answer(200, {"order": order["order"], "total": total}, {"X-Upstream": "backend-1"})

    do_POST = do_PUT

    def answer(self, status, doc, headers):
        out = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"{self.status} {dict(self.headers)} {self.body!r}"


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


def expect(r, status, what):
    assert r.status == status, f"{what}: {r!r}, wanted status {status}"
    return r


def start_portico(binary, tmp, moto_port):
    """portico on loopback with the admin key and DynamoDB at moto; its
    data plane and admin URLs (read from its log)."""
    conf = tmp / "portico.toml"
    conf.write_text(
        f"""[server]
listen = "127.0.0.1:0"
workers = 2

[state]
dir = "{tmp}/state"

[admin]
listen = "127.0.0.1:0"
access_key_id = "{ACCESS_KEY}"
secret_access_key_env = "EXECUTION_OPENAPI_ADMIN_SECRET"

[aws]
region = "us-east-1"
access_key_id = "testing"
endpoints = {{ dynamodb = "http://127.0.0.1:{moto_port}" }}
"""
    )
    env = dict(os.environ, EXECUTION_OPENAPI_ADMIN_SECRET=SECRET, AWS_SECRET_ACCESS_KEY="testing")
    log = open(tmp / "stderr.log", "wb")
    proc = subprocess.Popen([binary, "--config", str(conf)], stderr=log, env=env)
    deadline = time.monotonic() + 20
    data = admin = None
    while time.monotonic() < deadline and not (data and admin):
        if proc.poll() is not None:
            sys.exit(f"portico exited at start:\n{(tmp / 'stderr.log').read_text()}")
        text = (tmp / "stderr.log").read_text()
        for line in text.splitlines():
            if "admin listening on http://" in line:
                admin = "http://" + line.split("admin listening on http://")[1].split()[0].strip('"')
            elif 'msg="listening on http://' in line and not data:
                data = "http://" + line.split('msg="listening on http://')[1].split()[0].strip('"')
        time.sleep(0.05)
    if not (data and admin):
        proc.kill()
        sys.exit(f"portico did not start:\n{(tmp / 'stderr.log').read_text()}")
    return proc, data, admin


def by_name(items):
    return {i["name"]: i for i in items}


def check_import(gw, api):
    """What the import made of each extension, read back as AWS's API
    describes it."""
    validators = by_name(gw.get_request_validators(restApiId=api)["items"])
    assert validators["all"]["validateRequestBody"] and validators["all"]["validateRequestParameters"], validators
    assert not validators["params-only"]["validateRequestBody"], validators
    resources = {r["path"]: r["id"] for r in gw.get_resources(restApiId=api, limit=500)["items"]}

    def method(path, verb):
        m = gw.get_method(restApiId=api, resourceId=resources[path], httpMethod=verb)
        m.pop("ResponseMetadata", None)
        return m

    pets = method("/pets", "POST")
    assert pets["requestValidatorId"] == validators["all"]["id"], pets
    assert pets["requestModels"] == {"application/json": "Pet"}, pets
    assert pets["requestParameters"] == {"method.request.querystring.store": True}, pets
    # "x-amazon-apigateway-integration.responses object ... Response status
    # pattern: Selection regular expression used to match the integration
    # response to the method response ... or default".
    ir = pets["methodIntegration"]["integrationResponses"]
    assert "selectionPattern" not in ir["201"], ir
    assert ir["500"]["selectionPattern"] == "5\\d{2}", ir
    assert ir["500"]["responseParameters"] == {"method.response.header.X-Error": "'mock-failure'"}, ir
    assert pets["methodResponses"]["201"]["responseParameters"] == {"method.response.header.X-Pet-Store": False}, pets
    # The document-wide x-amazon-apigateway-request-validator: "Specifies a
    # request validator, by referencing a request_validator_name of the
    # x-amazon-apigateway-request-validators map, to enable request
    # validation on the containing API or a method."
    orders = method("/orders/{orderId}", "POST")
    assert orders["requestValidatorId"] == validators["params-only"]["id"], orders
    assert orders["requestParameters"] == {
        "method.request.path.orderId": True,
        "method.request.querystring.verbose": False,
        "method.request.header.X-Caller": True,
    }, orders
    # AWS's documents spell passthroughBehavior in lower case; its API in upper.
    assert orders["methodIntegration"]["passthroughBehavior"] == "NEVER", orders
    assert orders["methodIntegration"]["httpMethod"] == "PUT", orders
    assert orders["methodIntegration"]["requestParameters"]["integration.request.header.X-Source"] == "'portico-e2e'"
    put = method("/items/{id}", "PUT")
    assert put["methodIntegration"]["type"] == "AWS", put
    assert put["methodIntegration"]["credentials"].endswith(":role/apigateway-dynamodb"), put
    assert put["requestModels"] == {"application/json": "Item"}, put
    assert gw.get_rest_api(restApiId=api)["binaryMediaTypes"] == ["image/png"]
    bad = gw.get_gateway_response(restApiId=api, responseType="BAD_REQUEST_BODY")
    assert bad["statusCode"] == "422" and bad["responseParameters"] == {
        "gatewayresponse.header.X-Gateway-Response": "'bad-body'"
    }, bad
    return resources


def check_refusal(gw):
    """A document whose template does not compile is refused, as
    PutIntegration refuses it, rather than imported as a method that can
    only answer 500."""
    broken = FIXTURE.read_text().replace("#else 201#end}", "#else 201}", 1)
    assert broken != FIXTURE.read_text()
    try:
        gw.import_rest_api(body=broken.encode())
    except gw.exceptions.BadRequestException as e:
        assert "Invalid mapping expression" in str(e), e
    else:
        raise AssertionError("a document with a broken template was imported")
    names = [a["name"] for a in gw.get_rest_apis()["items"]]
    assert "execution-model" not in names, names


def check_routes(base):
    """Every route, as a client sees it."""
    json_ct = {"Content-Type": "application/json"}

    # MOCK: "the request template must contain a statusCode ... the
    # integration response whose selectionPattern matches it" ("Mock
    # integrations for REST APIs in API Gateway"); the default response's
    # header mapping from a static value ("'...'") and its template.
    r = expect(request("POST", base + "/pets?store=north", b'{"name": "rex", "age": 3}', json_ct), 201, "POST /pets")
    assert r.headers["X-Pet-Store"] == "mock-store", r
    assert r.json() == {"store": "north", "label": "v1"}, r
    r = expect(request("POST", base + "/pets?store=north", b'{"name": "crash", "age": 3}', json_ct), 500, "crash")
    assert r.headers["X-Error"] == "mock-failure" and r.json() == {"message": "the pet crashed"}, r
    # Request validation ("Request validation for REST APIs in API
    # Gateway"): "The required request parameters in the URI, query string,
    # and headers of an incoming request are included and not blank" -
    # BAD_REQUEST_PARAMETERS, not customised: 400 with AWS's message.
    r = expect(request("POST", base + "/pets", b'{"name": "rex", "age": 3}', json_ct), 400, "no store")
    assert r.json() == {"message": "Missing required request parameters: [store]"}, r
    # "The applicable request payload adheres to the configured JSON schema
    # request of the method" - BAD_REQUEST_BODY, customised by
    # x-amazon-apigateway-gateway-responses (status, header, template).
    r = expect(request("POST", base + "/pets?store=n", b'{"name": "rex", "age": -1}', json_ct), 422, "bad pet")
    assert r.headers["X-Gateway-Response"] == "bad-body", r
    assert r.json()["type"] == "BAD_REQUEST_BODY" and r.json()["stage"] == STAGE, r
    assert r.json()["problem"].startswith("Invalid request body"), r

    # HTTP non-proxy ("Set up an HTTP integration ... non-proxy"): the
    # integration's own method and URI (a stage variable in the host),
    # requestParameters from the path, query string, header, $context, a
    # stage variable and a literal ("Data transformations for REST APIs"
    # parameter mapping sources), the request template reshaping the body.
    body = json.dumps({"lines": [{"sku": "a-1", "qty": 2}, {"sku": "b\"2", "qty": 3}]}).encode()
    headers = dict(json_ct, **{"X-Caller": "carol"})
    r = expect(request("POST", base + "/orders/o-7?verbose=yes&extra=dropped", body, headers), 200, "order")
    seen = Backend.seen["/backend/orders/o-7"]
    assert seen["method"] == "PUT", seen
    assert seen["path"] == "/backend/orders/o-7?verbose=yes", seen
    h = seen["headers"]
    assert h["x-caller"] == "carol" and h["x-env"] == "test" and h["x-source"] == "portico-e2e", h
    # $context.requestId: the id portico answers in x-request-id.
    assert h.get("x-trace-id") and h["x-trace-id"] == r.headers["x-request-id"], (h, r)
    assert json.loads(seen["body"]) == {
        "order": "o-7",
        "lines": [{"sku": "a-1", "quantity": 2}, {"sku": "b\"2", "quantity": 3}],
    }, seen
    # The integration response: headers mapped from the backend's header
    # and body ("integration.response.header.PARAM_NAME",
    # "integration.response.body.JSONPath_EXPRESSION"), body by template.
    assert r.headers["X-Upstream"] == "backend-1" and r.headers["X-Order-Total"] == "5", r
    assert r.json() == {"id": "o-7", "total": 5, "env": "test"}, r
    # The backend's 404 selects the "4\d{2}" response ("For HTTP and AWS
    # back ends, the HTTP status code is matched").
    headers = dict(json_ct, **{"X-Caller": "missing"})
    r = expect(request("POST", base + "/orders/o-8", body, headers), 404, "missing order")
    assert r.json() == {"message": "no such order"}, r
    # A required header missing: the document-wide params-only validator.
    r = expect(request("POST", base + "/orders/o-9", body, json_ct), 400, "no caller")
    assert r.json() == {"message": "Missing required request parameters: [X-Caller]"}, r
    # passthroughBehavior never ("Method request behavior for payloads
    # without mapping templates"): "API Gateway rejects the request with an
    # HTTP 415 Unsupported Media Type response" when no template matches.
    before = len(Backend.seen)
    r = expect(
        request("POST", base + "/orders/o-10", b"lines", {"Content-Type": "text/plain", "X-Caller": "c"}),
        415,
        "text order",
    )
    assert r.json() == {"message": "Unsupported Media Type"}, r
    assert len(Backend.seen) == before, "the 415 reached the backend"

    # Binary media types ("Content type conversions in API Gateway"): a
    # payload of a binary media type with no mapping template and no
    # contentHandling is passed through as is.
    png = b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x80" + bytes(range(256))
    r = expect(request("POST", base + "/uploads", png, {"Content-Type": "image/png"}), 200, "upload")
    assert Backend.seen["/backend/uploads"]["body"] == png, Backend.seen["/backend/uploads"]
    assert r.json() == {"bytes": len(png), "sha256": hashlib.sha256(png).hexdigest()}, r

    # AWS service integration (DynamoDB's PutItem/GetItem, "Set up AWS
    # integrations"): the item really is in the table moto holds.
    r = expect(request("PUT", base + "/items/a1", b'{"name": "Ann \\"A\\""}', json_ct), 200, "put item")
    assert r.json() == {"stored": "a1"}, r
    r = expect(request("GET", base + "/items/a1"), 200, "get item")
    assert r.json() == {"id": "a1", "name": 'Ann "A"'}, r
    # $context.responseOverride.status in the response template ("Override
    # your API's request and response parameters and status codes").
    r = expect(request("GET", base + "/items/zz"), 404, "no item")
    assert r.json() == {"message": "no item zz"}, r
    # The Item model: name longer than maxLength 40.
    r = expect(request("PUT", base + "/items/a2", json.dumps({"name": "x" * 41}).encode(), json_ct), 422, "long")
    assert r.json()["type"] == "BAD_REQUEST_BODY", r

    # MISSING_AUTHENTICATION_TOKEN ("Gateway response types": "The gateway
    # response for failing to find the specified API resource"), customised.
    r = expect(request("GET", base + "/nowhere"), 404, "unknown route")
    assert r.headers["X-Gateway-Response"] == "no-route" and r.headers["Access-Control-Allow-Origin"] == "*", r
    assert r.json() == {"problem": "no such route", "type": "MISSING_AUTHENTICATION_TOKEN"}, r


def describe(gw, api):
    """The API's methods, validators (by name), gateway responses, models
    and binary media types, without ids: what a round trip must keep."""
    validators = {v["id"]: v["name"] for v in gw.get_request_validators(restApiId=api)["items"]}
    methods = {}
    for r in gw.get_resources(restApiId=api, limit=500, embed=["methods"])["items"]:
        for verb in r.get("resourceMethods", {}):
            m = gw.get_method(restApiId=api, resourceId=r["id"], httpMethod=verb)
            m.pop("ResponseMetadata", None)
            if "requestValidatorId" in m:
                m["requestValidatorId"] = validators[m["requestValidatorId"]]
            methods[f"{verb} {r['path']}"] = m
    gateway = {
        g["responseType"]: g
        for g in gw.get_gateway_responses(restApiId=api, limit=500)["items"]
        if not g.get("defaultResponse")
    }
    models = {m["name"]: json.loads(m["schema"]) for m in gw.get_models(restApiId=api)["items"]}
    for s in models.values():
        s.pop("$schema", None)
        s.pop("title", None)
    return {
        "methods": methods,
        "validators": sorted(
            (v["name"], v["validateRequestBody"], v["validateRequestParameters"])
            for v in gw.get_request_validators(restApiId=api)["items"]
        ),
        "gateway": gateway,
        "models": models,
        "binary": gw.get_rest_api(restApiId=api).get("binaryMediaTypes", []),
    }


def check_round_trip(gw, api):
    exported = gw.get_export(
        restApiId=api, stageName=STAGE, exportType="oas30", parameters={"extensions": "integrations"},
        accepts="application/json",
    )["body"].read()
    again = gw.import_rest_api(body=exported)["id"]
    want, got = describe(gw, api), describe(gw, again)
    for part in want:
        if part == "methods":
            for k in want[part]:
                assert got[part].get(k) == want[part][k], f"round trip of {k}:\n{got[part].get(k)}\n!=\n{want[part][k]}"
        assert got[part] == want[part], f"round trip of {part}:\n{got[part]}\n!=\n{want[part]}"


def main():
    binary = sys.argv[1]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_port = moto._server.port
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    dynamodb.create_table(
        TableName="items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    backend = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="portico-execution-openapi.") as d:
        tmp = pathlib.Path(d)
        proc, data, admin = start_portico(binary, tmp, moto_port)
        try:
            gw = boto3.client(
                "apigateway", endpoint_url=admin, region_name="us-east-1",
                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET,
            )
            check_refusal(gw)
            api = gw.import_rest_api(body=FIXTURE.read_bytes())["id"]
            check_import(gw, api)
            gw.create_deployment(
                restApiId=api, stageName=STAGE,
                variables={
                    "upstream": f"127.0.0.1:{backend.server_address[1]}",
                    "table": "items", "env": "test", "label": "v1",
                },
            )
            check_routes(f"{data}/restapis/{api}/{STAGE}/_user_request_")
            item = dynamodb.get_item(TableName="items", Key={"id": {"S": "a1"}})["Item"]
            assert item["name"]["S"] == 'Ann "A"', item
            check_round_trip(gw, api)
        except BaseException:
            print((tmp / "stderr.log").read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            proc.terminate()
            proc.wait()
    backend.shutdown()
    moto.stop()
    print("execution_openapi: the imported execution-model API answers as AWS documents, and round-trips")


if __name__ == "__main__":
    main()
