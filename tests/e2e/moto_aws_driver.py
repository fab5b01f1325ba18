"""moto_server on loopback as the AWS endpoint of tests/execution_aws.rs.

Started with the python of tests/e2e/moto_venv.sh. Starts moto's server on
127.0.0.1 (a free port), prints the port on its first line, then reads one
JSON command a line from stdin, {"service": "sqs", "op": "send_message",
"args": {...}}, runs it with boto3 against that server and prints one JSON
line, {"ok": result} or {"error": "..."}. Ends (stopping the server) when
stdin closes, so the test's process owns its lifetime.
"""
import base64
import json
import sys

import boto3
from moto.server import ThreadedMotoServer



def plain(value):
    """bytes (Kinesis records' Data, ...) as UTF-8 text, in any nesting."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server._server.port
print(port, flush=True)
clients = {}
for line in sys.stdin:
    if not line.strip():
        continue
    cmd = json.loads(line)
    try:
        service = cmd["service"]
        if service not in clients:
            clients[service] = boto3.client(
                service,
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        result = getattr(clients[service], cmd["op"])(**cmd.get("args", {}))
        result.pop("ResponseMetadata", None)
        if "Body" in result:
            raw = result["Body"].read()
            result["Body"] = raw.decode("utf-8", "replace")
            result["BodyBase64"] = base64.b64encode(raw).decode()
        out = {"ok": plain(result)}
    except Exception as e:  # the test reads the error
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out, default=str), flush=True)
server.stop()
