"""portico's management API driven by boto3, unchanged, with an endpoint
override: build an API (resources, methods, HTTP proxy and mock
integrations), deploy it to a stage, call it through the data plane, change
the stage, and check the errors AWS clients rely on. Exits non-zero on the
first failed check."""

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore

DATA = os.environ["PORTICO_DATA"]
ADMIN = os.environ["PORTICO_ADMIN"]


class Upstream(BaseHTTPRequestHandler):
    """Echoes the path it was asked for."""

    def do_GET(self):
        body = json.dumps({"upstream_path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.do_GET()

    def log_message(self, *args):
        pass


def call(path, host=None, want=200, timeout_s=5.0):
    """GET through the data plane, retried (bounded by `timeout_s`) until
    the expected status comes."""
    deadline = time.monotonic() + timeout_s
    while True:
        req = urllib.request.Request(DATA + path)
        if host:
            req.add_header("Host", host)
        try:
            with urllib.request.urlopen(req) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if status == want or time.monotonic() > deadline:
            assert status == want, f"GET {path}: {status} {body!r}, wanted {want}"
            return json.loads(body) if body else None
        time.sleep(0.02)


def expect_error(code, status, f, *args, **kwargs):
    try:
        f(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"{f.__name__}: {got}, wanted {(code, status)}"
        return e.response["Error"]["Message"]
    raise AssertionError(f"{f.__name__} succeeded, wanted {code}")


def canary_overrides_and_stage_cache(c, up):
    """A canary's stageVariableOverrides reach its integration; with
    useStageCache it answers from the stage's cache, without from its own."""
    doc = {"openapi": "3.0.1", "info": {"title": "canary-vars"},
           "paths": {"/who": {"get": {"x-amazon-apigateway-integration": {
               "type": "http_proxy", "httpMethod": "GET", "uri": up + "/${stageVariables.tag}"}}}}}
    api = c.import_rest_api(body=json.dumps(doc).encode())["id"]
    c.create_deployment(restApiId=api, stageName="cv", variables={"tag": "main"})
    c.update_stage(restApiId=api, stageName="cv", patchOperations=[
        {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
        {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
    ])
    conn = http.client.HTTPConnection(DATA.removeprefix("http://"))  # one worker, one cache shard

    def get():
        conn.request("GET", f"/restapis/{api}/cv/_user_request_/who")
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 200, (r.status, body)
        return body["upstream_path"], r.headers.get("x-cache")

    assert get() == ("/main", "Miss")
    assert get() == ("/main", "Hit")
    c.create_deployment(restApiId=api, stageName="cv", canarySettings={
        "percentTraffic": 100.0, "stageVariableOverrides": {"tag": "canary"}, "useStageCache": False})
    assert get() == ("/canary", "Miss"), "the canary has its own cache and its overridden variable"
    assert get() == ("/canary", "Hit")
    c.update_stage(restApiId=api, stageName="cv", patchOperations=[
        {"op": "replace", "path": "/canarySettings/useStageCache", "value": "true"}])
    assert get() == ("/main", "Hit"), "with useStageCache the canary answers from the stage's cache"
    conn.close()
    c.delete_rest_api(restApiId=api)


def lambda_proxy(c):
    """An AWS_PROXY integration made with boto3 invokes the function (by
    its ARN) through portico's [aws] lambda_endpoint with a payload 1.0
    event; powertools-v1 echoes what it got."""
    api = c.create_rest_api(name="fn-api")["id"]
    root = c.get_resources(restApiId=api)["items"][0]["id"]
    pets = c.create_resource(restApiId=api, parentId=root, pathPart="pets")["id"]
    pet = c.create_resource(restApiId=api, parentId=pets, pathPart="{id}")["id"]
    c.put_method(restApiId=api, resourceId=pet, httpMethod="GET", authorizationType="NONE")
    fn = "arn:aws:lambda:us-east-1:123456789012:function:powertools-v1"
    c.put_integration(restApiId=api, resourceId=pet, httpMethod="GET", type="AWS_PROXY",
                      integrationHttpMethod="POST",
                      uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn}/invocations")
    got = c.get_integration(restApiId=api, resourceId=pet, httpMethod="GET")
    assert got["type"] == "AWS_PROXY", got
    c.create_deployment(restApiId=api, stageName="live", variables={"v": "1"})
    body = call(f"/restapis/{api}/live/_user_request_/pets/42?q=a&q=b", timeout_s=0)
    assert body["resource"] == "/pets/{id}", body
    assert body["pathParameters"] == {"id": "42"}, body
    assert body["multiValueQueryStringParameters"] == {"q": ["a", "b"]}, body
    assert body["stage"] == "live" and body["stageVariables"] == {"v": "1"}, body
    expect_error("BadRequestException", 400, c.put_integration, restApiId=api, resourceId=pet,
                 httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST", uri="not-an-arn")
    c.delete_rest_api(restApiId=api)


def main():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    up = f"http://127.0.0.1:{upstream.server_address[1]}"

    c = boto3.client("apigateway", endpoint_url=ADMIN)

    api = c.create_rest_api(name="pets", description="e2e")
    api_id = api["id"]
    assert len(api_id) == 10 and api["apiKeySource"] == "HEADER", api
    assert any(a["id"] == api_id for a in c.get_rest_apis()["items"])
    root = c.get_resources(restApiId=api_id)["items"][0]
    assert root["path"] == "/", root

    pets = c.create_resource(restApiId=api_id, parentId=root["id"], pathPart="pets")
    pet = c.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    assert pet["path"] == "/pets/{petId}", pet
    expect_error("ConflictException", 409, c.create_resource,
                 restApiId=api_id, parentId=root["id"], pathPart="pets")

    # GET /pets: a mock; GET /pets/{petId}: an HTTP proxy to the upstream.
    c.put_method(restApiId=api_id, resourceId=pets["id"], httpMethod="GET", authorizationType="NONE")
    c.put_integration(restApiId=api_id, resourceId=pets["id"], httpMethod="GET", type="MOCK",
                      requestTemplates={"application/json": '{"statusCode": 200}'})
    c.put_method_response(restApiId=api_id, resourceId=pets["id"], httpMethod="GET", statusCode="200")
    c.put_integration_response(restApiId=api_id, resourceId=pets["id"], httpMethod="GET",
                               statusCode="200",
                               responseTemplates={"application/json": '{"pets": ["rex"]}'})
    c.put_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", authorizationType="NONE",
                 requestParameters={"method.request.path.petId": True})
    c.put_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET", type="HTTP_PROXY",
                      integrationHttpMethod="GET", uri=up + "/animals/{petId}",
                      requestParameters={"integration.request.path.petId": "method.request.path.petId"})
    integ = c.get_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET")
    assert integ["type"] == "HTTP_PROXY" and integ["timeoutInMillis"] == 29000, integ
    m = c.get_method(restApiId=api_id, resourceId=pets["id"], httpMethod="GET")
    assert m["methodIntegration"]["type"] == "MOCK", m

    d1 = c.create_deployment(restApiId=api_id, stageName="prod", description="first")
    stage = c.get_stage(restApiId=api_id, stageName="prod")
    assert stage["deploymentId"] == d1["id"], stage
    assert "/pets" in d1["apiSummary"] and "GET" in d1["apiSummary"]["/pets"], d1

    # The data plane, both ways of addressing an API without DNS; a
    # deployment has reached every worker when CreateDeployment returns.
    assert call(f"/restapis/{api_id}/prod/_user_request_/pets", timeout_s=0) == {"pets": ["rex"]}
    got = call("/prod/pets/7", host=f"{api_id}.execute-api.localhost")
    assert got == {"upstream_path": "/animals/7"}, got
    call(f"/restapis/{api_id}/dev/_user_request_/pets", want=403)

    # Stage changes: variables and method settings round-trip.
    s = c.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/variables/color", "value": "blue"},
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "50"},
        {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
    ])
    assert s["variables"] == {"color": "blue"}, s
    assert s["methodSettings"]["*/*"]["throttlingRateLimit"] == 100.0, s
    assert s["cacheClusterEnabled"] and s["cacheClusterSize"] == "0.5", s

    # The stage cache: on for every method of the stage, a miss then a hit; a flush empties it.
    c.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
        {"op": "replace", "path": "/*/*/caching/ttlInSeconds", "value": "60"},
    ])

    # One keep-alive connection: the same worker, so the same cache shard
    # (each worker keeps its own shard, as each core in portico does).
    conn = http.client.HTTPConnection(DATA.removeprefix("http://"))

    def cache_status(path):
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        return r.headers.get("x-cache")

    pet_url = f"/restapis/{api_id}/prod/_user_request_/pets/9"
    deadline = time.monotonic() + 5
    while cache_status(pet_url) != "Hit" and time.monotonic() < deadline:
        pass
    assert cache_status(pet_url) == "Hit"
    c.flush_stage_cache(restApiId=api_id, stageName="prod")
    assert cache_status(pet_url) == "Miss", "the flush left the entry"
    assert cache_status(pet_url) == "Hit"
    conn.close()

    # Stage throttling from method settings: rate 1/s, burst 3. Calls go on
    # until 8 were refused; however slow the machine, what was admitted is
    # measured against the time the calls took: at most burst + rate x elapsed
    # (+1, a token refilled while the last call was on its way).
    c.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "1"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "3"},
    ])
    statuses = []
    t0 = time.monotonic()
    while statuses.count(429) < 8:
        try:
            with urllib.request.urlopen(DATA + f"/restapis/{api_id}/prod/_user_request_/pets") as r:
                statuses.append(r.status)
        except urllib.error.HTTPError as e:
            statuses.append(e.code)
            assert e.code == 429 and json.loads(e.read()) == {"message": "Too Many Requests"}, e.code
        elapsed = time.monotonic() - t0
        allowed = 3 + 1 * elapsed + 1
        assert statuses.count(200) <= allowed, f"{statuses} in {elapsed:.2f} s: over {allowed:.1f}"
        assert elapsed < 30, f"8 calls never refused in 30 s: {statuses}"
    c.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "10000"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "5000"},
    ])

    # Access logging from accessLogSettings: a log group ARN becomes a file in the state directory.
    c.update_stage(restApiId=api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn",
         "value": "arn:aws:logs:us-east-1:123456789012:log-group:e2e-access"},
        {"op": "replace", "path": "/accessLogSettings/format",
         "value": "$context.requestId $context.status $context.resourcePath"},
    ])
    for _ in range(3):
        call(f"/restapis/{api_id}/prod/_user_request_/pets/5", timeout_s=0)
    log = os.path.join(os.environ["PORTICO_STATE"], "access-logs", "e2e-access.log")
    deadline = time.monotonic() + 5
    while not (os.path.exists(log) and open(log).read().count(" 200 /pets/{petId}") >= 3):
        assert time.monotonic() < deadline, f"no access log lines in {log}"
        time.sleep(0.02)  # lines reach the file at the workers' next tick: poll, bounded

    # A second deployment after a change; the stage moves to it.
    c.delete_method(restApiId=api_id, resourceId=pets["id"], httpMethod="GET")
    d2 = c.create_deployment(restApiId=api_id, stageName="prod")
    assert d2["id"] != d1["id"]
    call(f"/restapis/{api_id}/prod/_user_request_/pets", want=403)
    assert len(c.get_deployments(restApiId=api_id)["items"]) == 2
    expect_error("BadRequestException", 400, c.delete_deployment, restApiId=api_id, deploymentId=d2["id"])
    c.delete_deployment(restApiId=api_id, deploymentId=d1["id"])

    # Errors as AWS clients see them.
    expect_error("NotFoundException", 404, c.get_rest_api, restApiId="nope000000")
    msg = expect_error("BadRequestException", 400, c.get_sdk, restApiId=api_id, stageName="prod", sdkType="javascript")
    assert "SDK" in msg, msg
    bad = boto3.client("apigateway", endpoint_url=ADMIN,
                       aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong")
    expect_error("InvalidSignatureException", 403, bad.get_rest_apis)

    # OpenAPI round trip: import, deploy, call, export with the extensions.
    doc = {
        "openapi": "3.0.1",
        "info": {"title": "imported", "version": "7"},
        "components": {"securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}},
        "paths": {"/items/{id}": {
            "get": {"responses": {"200": {"description": "ok"}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "responses": {"default": {"statusCode": "200",
                                                  "responseTemplates": {"application/json": '{"item": 1}'}}}}},
            "post": {"security": [{"api_key": []}], "responses": {"201": {"description": "made"}},
                     "x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "POST",
                                                         "uri": up + "/items"}}}},
    }
    imported = c.import_rest_api(body=json.dumps(doc).encode())
    assert imported["name"] == "imported" and imported["version"] == "7", imported
    res = {r["path"]: r for r in c.get_resources(restApiId=imported["id"], embed=["methods"])["items"]}
    assert sorted(res) == ["/", "/items", "/items/{id}"], sorted(res)
    assert res["/items/{id}"]["resourceMethods"]["POST"]["apiKeyRequired"] is True, res
    c.create_deployment(restApiId=imported["id"], stageName="v1")
    assert call(f"/restapis/{imported['id']}/v1/_user_request_/items/3") == {"item": 1}
    for kind in ("oas30", "swagger"):
        e = c.get_export(restApiId=imported["id"], stageName="v1", exportType=kind,
                         parameters={"extensions": "integrations"})
        out = json.loads(e["body"].read())
        assert ("openapi" in out) == (kind == "oas30"), out
        get = out["paths"]["/items/{id}"]["get"]
        assert get["x-amazon-apigateway-integration"]["type"] == "mock", get
        assert out["paths"]["/items/{id}"]["post"]["security"] == [{"api_key": []}], out

    # Canary release: 30 % of the stage's calls go to the new deployment; promotion moves them all.
    c.put_rest_api(restApiId=imported["id"], mode="overwrite", body=json.dumps({
        "openapi": "3.0.1", "info": {"title": "imported"},
        "paths": {"/items/{id}": {"get": {"x-amazon-apigateway-integration": {
            "type": "mock", "requestTemplates": {"application/json": '{"statusCode": 200}'},
            "responses": {"default": {"statusCode": "200",
                                      "responseTemplates": {"application/json": '{"item": 2}'}}}}}}},
    }).encode())
    c.create_deployment(restApiId=imported["id"], stageName="v1", canarySettings={"percentTraffic": 30.0})
    v1 = c.get_stage(restApiId=imported["id"], stageName="v1")
    canary_id = v1["canarySettings"]["deploymentId"]
    assert canary_id != v1["deploymentId"], v1
    url = f"/restapis/{imported['id']}/v1/_user_request_/items/3"
    call(url)
    # Published within a tick; then 1,000 calls: 300 expected, 5 standard deviations either side.
    deadline = time.monotonic() + 5
    while call(url) != {"item": 2} and time.monotonic() < deadline:
        pass
    canary = sum(call(url) == {"item": 2} for _ in range(1000))
    assert 230 <= canary <= 370, f"canary got {canary} of 1000 calls, wanted about 300"
    c.update_stage(restApiId=imported["id"], stageName="v1", patchOperations=[
        {"op": "replace", "path": "/deploymentId", "value": canary_id},
        {"op": "remove", "path": "/canarySettings"},
    ])
    # Published once 30 calls in a row get the new answer (0.3^30 by chance).
    deadline, streak = time.monotonic() + 5, 0
    while streak < 30 and time.monotonic() < deadline:
        streak = streak + 1 if call(url) == {"item": 2} else 0
    assert all(call(url) == {"item": 2} for _ in range(100)), "promoted stage still serves the old deployment"

    # API keys and usage plans: the imported POST needs a key; a plan with a
    # quota of 3 a day admits 3 keyed calls, and GetUsage counts them.
    c.put_rest_api(restApiId=imported["id"], mode="overwrite", body=json.dumps(doc).encode())
    c.create_deployment(restApiId=imported["id"], stageName="v1")
    key = c.create_api_key(name="alice", enabled=True)
    assert len(key["value"]) >= 20 and "value" not in c.get_api_key(apiKey=key["id"]), key
    plan = c.create_usage_plan(name="gold", apiStages=[{"apiId": imported["id"], "stage": "v1"}],
                               throttle={"rateLimit": 100, "burstLimit": 100},
                               quota={"limit": 3, "period": "DAY"})
    c.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert [k["id"] for k in c.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]

    def post(api_key=None):
        req = urllib.request.Request(DATA + f"/restapis/{imported['id']}/v1/_user_request_/items/5",
                                     data=b"{}", method="POST")
        if api_key:
            req.add_header("x-api-key", api_key)
        try:
            with urllib.request.urlopen(req) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert post() == 403, "no key"
    got = [post(key["value"]) for _ in range(5)]
    assert got == [200, 200, 200, 429, 429], got
    today = os.environ["PORTICO_TODAY"]  # the server's quota calendar (run.sh)
    deadline = time.monotonic() + 5
    while True:
        usage = c.get_usage(usagePlanId=plan["id"], startDate=today, endDate=today)
        if usage["items"].get(key["id"]) == [[3, 0]] or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # usage is stored every flush interval (1 s): poll, bounded
    assert usage["items"] == {key["id"]: [[3, 0]]}, usage
    c.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
    assert post(key["value"]) == 403, "a key in no plan covering the stage"
    c.delete_usage_plan(usagePlanId=plan["id"])
    c.delete_api_key(apiKey=key["id"])
    c.delete_rest_api(restApiId=imported["id"])

    # A YAML document imports too.
    yaml_doc = """
openapi: 3.0.1
info:
  title: from-yaml
paths:
  /ping:
    get:
      responses:
        200:
          description: ok
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: '{"pong": true}'
"""
    y = c.import_rest_api(body=yaml_doc.encode())
    assert y["name"] == "from-yaml", y
    c.create_deployment(restApiId=y["id"], stageName="y")
    assert call(f"/restapis/{y['id']}/y/_user_request_/ping", timeout_s=0) == {"pong": True}
    c.delete_rest_api(restApiId=y["id"])

    canary_overrides_and_stage_cache(c, up)
    lambda_proxy(c)

    c.delete_stage(restApiId=api_id, stageName="prod")
    c.delete_rest_api(restApiId=api_id)
    expect_error("NotFoundException", 404, c.get_rest_api, restApiId=api_id)
    upstream.shutdown()
    print("boto3 e2e: all checks passed")


if __name__ == "__main__":
    main()
