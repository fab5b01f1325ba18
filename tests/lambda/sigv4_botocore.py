"""Signs a request the way boto3 signs its own Lambda calls (botocore's
SigV4Auth, the signer every AWS SDK for Python uses), so a test can compare
the signature portico put on a request with an independent implementation.

stdin: JSON {"method", "url", "headers": [[name, value], ...], "body_hex",
"access_key", "secret_key", "token", "region", "service", "amz_date"};
`headers` are the ones the request's SignedHeaders named (their values as
received), `amz_date` its X-Amz-Date, which botocore is made to use as its
clock. stdout: JSON {"authorization", "canonical_request"}.
"""

import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    q = json.load(sys.stdin)
    when = datetime.datetime.strptime(q["amz_date"], botocore.auth.SIGV4_TIMESTAMP)
    botocore.auth.get_current_datetime = lambda: when
    request = AWSRequest(
        method=q["method"],
        url=q["url"],
        headers=dict(q["headers"]),
        data=bytes.fromhex(q["body_hex"]),
    )
    signer = botocore.auth.SigV4Auth(
        Credentials(q["access_key"], q["secret_key"], q["token"]), q["service"], q["region"]
    )
    request.context["timestamp"] = q["amz_date"]
    canonical = signer.canonical_request(request)
    signer.add_auth(request)
    json.dump(
        {"authorization": request.headers["Authorization"], "canonical_request": canonical},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
