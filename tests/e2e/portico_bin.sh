#!/usr/bin/env bash
# Builds portico (debug) and prints the path of its binary, wherever cargo
# puts it (CARGO_TARGET_DIR, a config's build.target-dir): the path cargo
# itself reports for the artifact, never a guessed target/debug/.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet --bin portico --message-format=json \
    | python3 -c '
import json, sys
exe = [m["executable"] for m in map(json.loads, sys.stdin)
       if m.get("reason") == "compiler-artifact" and m.get("executable")
       and m["target"]["name"] == "portico"]
if not exe:
    sys.exit("portico_bin.sh: cargo reported no portico executable")
print(exe[-1])'
