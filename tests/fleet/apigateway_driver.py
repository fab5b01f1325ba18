"""boto3's API Gateway client against one portico node, for the fleet tests.

Started with the python of tests/e2e/venv.sh as
`apigateway_driver.py ENDPOINT_URL` with the node's access key pair in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Prints `ready` once boto3 is
imported and its client made, then reads one JSON command a line from
stdin, {"op": "create_deployment", "args": {...}}, runs it and prints one
JSON line, {"ok": result} or {"error": "Code: message"}, the moment the
node answered (so the test can time what follows from the answer). Ends
when stdin closes.
"""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

client = boto3.client(
    "apigateway",
    endpoint_url=sys.argv[1],
    region_name="us-east-1",
    # One attempt: a retried 503 would hide what the node answered.
    config=Config(retries={"total_max_attempts": 1}),
)
print("ready", flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    cmd = json.loads(line)
    try:
        result = getattr(client, cmd["op"])(**cmd.get("args", {}))
        result.pop("ResponseMetadata", None)
        out = {"ok": result}
    except ClientError as e:
        err = e.response["Error"]
        out = {"error": f"{err.get('Code')}: {err.get('Message')}"}
    except Exception as e:  # the test reads the error
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out, default=str), flush=True)
