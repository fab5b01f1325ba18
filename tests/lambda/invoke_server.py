"""A local AWS Lambda Invoke API (like the Lambda Runtime Interface Emulator)
that runs real third-party Lambda handler code: Mangum (ASGI adapter) and
aws-lambda-powertools (event data classes and REST/HTTP API resolvers).

Used by portico's Rust integration tests to check the Lambda proxy and Lambda
authorizer integrations against handlers written for Amazon API Gateway.

    POST /2015-03-31/functions/{name}/invocations   invoke {name} with the body as event
    GET  /invocations/{name}                         {"count": N}
    GET  /last-event/{name}                          the last event, byte for byte (404 if none)

Binds 127.0.0.1 on an ephemeral port and prints `listening on 127.0.0.1:PORT`
as its first stdout line. Run it with the python printed by venv.sh.
"""

import asyncio
import base64
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, APIGatewayProxyEventV2
from mangum import Mangum


class FakeLambdaContext:
    """The attributes of the Python runtime's LambdaContext that handlers use."""

    def __init__(self, name):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 128
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --- mangum: a plain ASGI 3 app behind Mangum ------------------------------------------------


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            break
    # Routes match the path's last segments: a REST event's path has no
    # stage, an HTTP API event's path has it (`/prod/...`).
    path = scope["path"]
    status_at = path.find("/status/")
    if path.endswith("/cookies"):
        status = 200
        headers = [
            (b"content-type", b"text/plain"),
            (b"set-cookie", b"a=1; Path=/"),
            (b"set-cookie", b"b=2; Path=/"),
            (b"x-multi", b"one"),
            (b"x-multi", b"two"),
        ]
        out = b"ok"
    elif path.endswith("/binary"):
        status = 200
        headers = [(b"content-type", b"image/png")]
        out = bytes(range(256))
    elif status_at >= 0:
        code = path[status_at + len("/status/"):]
        status = int(code)
        headers = [(b"content-type", b"text/plain")]
        out = f"status {code}".encode()
    else:
        status = 200
        headers = [(b"content-type", b"application/json")]
        out = json.dumps(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query_string": scope["query_string"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
                "body_b64": base64.b64encode(body).decode(),
            }
        ).encode()
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": out})


mangum_adapter = Mangum(asgi_app, lifespan="off")


def mangum_handler(event, context):
    # Mangum runs the app on asyncio.get_event_loop(), which only the main thread has by
    # default (Lambda runs handlers there); each server thread gets a fresh loop instead.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return mangum_adapter(event, context)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


# --- powertools data classes -----------------------------------------------------------------


def powertools_v1(event, context):
    e = APIGatewayProxyEvent(event)
    echo = {
        "resource": e.resource,
        "path": e.path,
        "httpMethod": e.http_method,
        "queryStringParameters": e.query_string_parameters,
        "multiValueQueryStringParameters": e.multi_value_query_string_parameters,
        "pathParameters": e.path_parameters,
        "stageVariables": e.stage_variables,
        # get_header_value() is deprecated in powertools v3; e.headers is case-insensitive.
        "x_test": e.headers.get("x-test"),
        # powertools lowercases header names (CaseInsensitiveDict).
        "multiValueHeaders": e.multi_value_headers,
        "stage": e.request_context.stage,
        "resourcePath": e.request_context.resource_path,
        "requestId": e.request_context.request_id,
        "sourceIp": e.request_context.identity.source_ip,
        "apiKey": e.request_context.identity.api_key,
        "authorizer": (event.get("requestContext") or {}).get("authorizer"),
        "body": e.decoded_body if e.body else None,
        "isBase64Encoded": e.is_base64_encoded,
        # Not from powertools: the event's headers exactly as sent (names not lowercased).
        "rawHeaders": event.get("headers"),
        "rawMultiValueHeaders": event.get("multiValueHeaders"),
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(echo)}


def powertools_v2(event, context):
    e = APIGatewayProxyEventV2(event)
    authorizer = (event.get("requestContext") or {}).get("authorizer")
    echo = {
        "version": e.version,
        "routeKey": e.route_key,
        "rawPath": e.raw_path,
        "rawQueryString": e.raw_query_string,
        "cookies": e.cookies,
        # powertools lowercases header names (CaseInsensitiveDict).
        "headers": e.headers,
        "queryStringParameters": e.query_string_parameters,
        "pathParameters": e.path_parameters,
        "stageVariables": e.stage_variables,
        "method": e.request_context.http.method,
        "path": e.request_context.http.path,
        "sourceIp": e.request_context.http.source_ip,
        "stage": e.request_context.stage,
        # jwt_claim is {} (not None) for a Lambda or IAM authorizer: None unless there is a "jwt".
        "jwtClaims": e.request_context.authorizer.jwt_claim if "jwt" in (authorizer or {}) else None,
        "lambdaContext": (authorizer or {}).get("lambda"),
        "body": e.decoded_body if e.body else None,
        "isBase64Encoded": e.is_base64_encoded,
        # Not from powertools: the event's headers exactly as sent.
        "rawHeaders": event.get("headers"),
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "cookies": ["s=1; Path=/", "t=2"],
        "body": json.dumps(echo),
    }


# --- powertools resolvers --------------------------------------------------------------------


def make_router(resolver_class, **options):
    app = resolver_class(**options)

    @app.get("/pets/<pet_id>")
    def get_pet(pet_id):
        return {"pet": pet_id, "q": app.current_event.get_query_string_value("q")}

    @app.post("/pets")
    def create_pet():
        return {"created": app.current_event.json_body}, 201

    def handler(event, context):
        return app.resolve(event, context)

    return handler


# --- the rest --------------------------------------------------------------------------------


def fail(event, context):
    raise RuntimeError("boom")


def malformed(event, context):
    return {"statusCode": "not-a-number", "body": 5}


def plain(event, context):
    return "hello"


def object_no_status(event, context):
    return {"message": "no status here"}


def slow(event, context):
    qs = event.get("queryStringParameters") or {}
    time.sleep(float(qs.get("s", "2")))
    return {"statusCode": 200, "body": "late"}


def _policy(principal, effect, resource, context=None):
    out = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context is not None:
        out["context"] = context
    return out


def authorizer_token(event, context):
    token = event.get("authorizationToken")
    arn = event["methodArn"]
    ctx = {"user": "alice", "level": 3, "admin": True}
    if token == "allow":
        return _policy("alice", "Allow", arn, ctx)
    if token == "allow-all":
        # arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/METHOD/path -> ...:APIID/*/*
        return _policy("alice", "Allow", arn.split("/", 1)[0] + "/*/*", ctx)
    if token == "deny":
        return _policy("alice", "Deny", arn, ctx)
    if token == "deny-admin":
        # All of the API, less GET /tok/admin of this stage.
        out = _policy("alice", "Allow", arn.split("/", 1)[0] + "/*/*", ctx)
        stage = "/".join(arn.split("/")[:2])
        out["policyDocument"]["Statement"].append(
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": stage + "/GET/tok/admin"}
        )
        return out
    if token == "key":
        out = _policy("alice", "Allow", arn, ctx)
        out["usageIdentifierKey"] = "authorizer-issued-key-0123456789"
        return out
    raise Exception("Unauthorized")


def authorizer_request(event, context):
    headers = event.get("headers") or {}
    user = next((v for k, v in headers.items() if k.lower() == "x-user"), None)
    arn = event.get("methodArn") or event.get("routeArn")
    if user is None:
        raise Exception("Unauthorized")
    if user == "mallory":
        return _policy(user, "Deny", arn, {"user": user})
    return _policy(user, "Allow", arn, {"user": user})


def authorizer_simple(event, context):
    headers = event.get("headers") or {}
    return {"isAuthorized": headers.get("authorization") == "let-me-in", "context": {"user": "simple-user", "n": 7}}


FUNCTIONS = {
    "mangum": mangum_handler,
    "powertools-v1": powertools_v1,
    "powertools-v2": powertools_v2,
    "powertools-router-v1": make_router(APIGatewayRestResolver),
    # An HTTP API event's path keeps the stage: the router strips it, as users do.
    "powertools-router-v2": make_router(APIGatewayHttpResolver, strip_prefixes=["/prod"]),
    "fail": fail,
    "malformed": malformed,
    "plain": plain,
    "object-no-status": object_no_status,
    "slow": slow,
    "authorizer-token": authorizer_token,
    "authorizer-request": authorizer_request,
    "authorizer-simple": authorizer_simple,
}

LOCK = threading.Lock()
COUNTS = {}
LAST_EVENT = {}

INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"


def function_name(raw):
    """A function name, partial ARN or full ARN (URL-encoded or not), less any qualifier."""
    name = urllib.parse.unquote(raw)
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def version_string(self):
        return "local-lambda"

    def log_message(self, format, *args):
        # Quiet unless asked: the tests make many calls.
        if os.environ.get("INVOKE_SERVER_LOG"):
            sys.stderr.write("invoke_server: " + (format % args) + "\n")

    def _send(self, status, body, headers=()):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self):
        raw = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        if not (path.startswith(INVOKE_PREFIX) and path.endswith(INVOKE_SUFFIX)):
            self._send(404, {"Type": "User", "message": f"Unknown path: {path}"})
            return
        name = function_name(path[len(INVOKE_PREFIX):-len(INVOKE_SUFFIX)])
        fn = FUNCTIONS.get(name)
        if fn is None:
            self._send(
                404,
                {"Type": "User", "message": f"Function not found: {name}"},
                [("x-amzn-ErrorType", "ResourceNotFoundException")],
            )
            return
        request_id = str(uuid.uuid4())
        common = [("x-amzn-RequestId", request_id), ("X-Amz-Executed-Version", "$LATEST")]
        try:
            event = json.loads(raw or b"{}")
        except ValueError as e:
            # Like Lambda: refused before the function runs, so not counted.
            self._send(
                400,
                {"Type": "User", "message": f"Could not parse request body into json: {e}"},
                [("x-amzn-ErrorType", "InvalidRequestContentException")] + common,
            )
            return
        with LOCK:
            COUNTS[name] = COUNTS.get(name, 0) + 1
            LAST_EVENT[name] = raw
        context = FakeLambdaContext(name)
        context.aws_request_id = request_id
        try:
            result = fn(event, context)
            body = json.dumps(result).encode()
        except Exception as e:  # noqa: BLE001 - the function's error goes back to the caller
            self._send(
                200,
                {"errorMessage": str(e), "errorType": type(e).__name__},
                [("X-Amz-Function-Error", "Unhandled")] + common,
            )
            return
        self._send(200, body, common)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/invocations/"):
            name = urllib.parse.unquote(path[len("/invocations/"):])
            with LOCK:
                count = COUNTS.get(name, 0)
            self._send(200, {"count": count})
            return
        if path.startswith("/last-event/"):
            name = urllib.parse.unquote(path[len("/last-event/"):])
            with LOCK:
                raw = LAST_EVENT.get(name)
            if raw is None:
                self._send(404, {"Type": "User", "message": f"No invocation of {name} yet"})
            else:
                self._send(200, raw)
            return
        self._send(404, {"Type": "User", "message": f"Unknown path: {path}"})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    sys.stdout.write(f"listening on {host}:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
