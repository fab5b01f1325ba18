"""Signs JWTs with PyJWT (and `cryptography` for RSA and EC keys), so the
JWT authorizer tests also verify tokens that portico's own JWT crate did
not make.

stdin: JSON [{"alg": "RS256" | "ES256" | "HS256", "kid", "key_file", "claims"}, ...];
`key_file` is a PEM private key, or for HS256 the raw secret.
stdout: one token per line, in order.
"""

import json
import sys

import jwt


def main():
    for t in json.load(sys.stdin):
        with open(t["key_file"], "rb") as f:
            key = f.read()
        token = jwt.encode(t["claims"], key, algorithm=t["alg"], headers={"kid": t["kid"]})
        print(token)


if __name__ == "__main__":
    main()
