"""pytest plugin that runs moto's tests/test_apigateway/ (server mode)
against portico instead of moto's server. Loaded by tests/e2e/moto.sh with
`-p moto_portico_plugin`.

- At load, before moto's test modules are imported (moto's mock_aws reads
  the endpoint when a test module applies the decorator), it picks a free
  loopback port and points TEST_SERVER_MODE_ENDPOINT at it, unless the
  caller set it already.
- Every test that runs gets a fresh portico: an empty state directory, the
  admin listener on that port, access key FOOBARKEY / secret FOOBARSECRET
  (the credentials moto's mock_aws puts in the environment); stopped after
  the test. moto's reset call (POST /moto-api/reset) is turned off
  (MOTO_CALL_RESET_API=false): the fresh state is the reset.
- tests/e2e/moto_skips.txt: tests skipped, with the reason.
- tests/e2e/moto_expected_failures.txt: tests known to fail today, marked
  xfail (not strict: one that passes is reported as XPASS, to be taken off
  the list). Any other failure fails the run. MOTO_NO_XFAIL=1 ignores the
  list (to see the failures themselves).

Environment: PORTICO_BIN (required: the binary), MOTO_PORTICO_LOGS (a
directory: each test's portico stderr is kept there as <test>.log).
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET_ENV = "PORTICO_MOTO_SECRET"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if "TEST_SERVER_MODE_ENDPOINT" not in os.environ:
    os.environ["TEST_SERVER_MODE_ENDPOINT"] = f"http://127.0.0.1:{_free_port()}"
os.environ["TEST_SERVER_MODE"] = "true"
os.environ["MOTO_CALL_RESET_API"] = "false"
ADMIN_ADDR = re.sub(r"^https?://", "", os.environ["TEST_SERVER_MODE_ENDPOINT"]).rstrip("/")
if ADMIN_ADDR.startswith("localhost:"):
    ADMIN_ADDR = "127.0.0.1:" + ADMIN_ADDR.split(":", 1)[1]


def _read_list(name):
    """`test-id reason...` per line; `#` comments and blank lines ignored."""
    out = {}
    with open(os.path.join(HERE, name)) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tid, _, reason = line.partition(" ")
            out[tid] = reason.strip() or "(no reason given)"
    return out


SKIPS = _read_list("moto_skips.txt")
XFAILS = {} if os.environ.get("MOTO_NO_XFAIL") == "1" else _read_list("moto_expected_failures.txt")


def _short_id(item):
    # nodeid relative to moto's source root: tests/test_apigateway/x.py::test_y[param]
    return item.nodeid


def pytest_collection_modifyitems(config, items):
    seen = set()
    for item in items:
        tid = _short_id(item)
        seen.add(tid)
        if tid in SKIPS:
            item.add_marker(pytest.mark.skip(reason="portico: " + SKIPS[tid]))
        elif tid in XFAILS:
            item.add_marker(pytest.mark.xfail(reason="portico: " + XFAILS[tid], strict=False))
    for name, table in (("moto_skips.txt", SKIPS), ("moto_expected_failures.txt", XFAILS)):
        stale = sorted(set(table) - seen)
        whole_suite = not config.getoption("keyword") and all(
            a.rstrip("/").endswith("test_apigateway") for a in config.args)
        if stale and whole_suite:
            raise pytest.UsageError(f"{name} names tests that do not exist: {stale}")


def _config(tmp):
    return f"""[server]
listen = "127.0.0.1:0"
workers = 1

[state]
dir = "{tmp}/state"

[admin]
listen = "{ADMIN_ADDR}"
access_key_id = "FOOBARKEY"
secret_access_key_env = "{SECRET_ENV}"
"""


@pytest.fixture(autouse=True)
def portico(request):
    """A fresh portico for this test, on the admin port moto's clients use."""
    binary = os.environ["PORTICO_BIN"]
    tmp = tempfile.mkdtemp(prefix="portico-moto.")
    with open(os.path.join(tmp, "portico.toml"), "w") as f:
        f.write(_config(tmp))
    env = dict(os.environ, **{SECRET_ENV: "FOOBARSECRET"})
    log_path = os.path.join(tmp, "stderr.log")
    log = open(log_path, "wb")
    proc = None
    try:
        for attempt in range(50):
            proc = subprocess.Popen([binary, "--config", os.path.join(tmp, "portico.toml")],
                                    stdout=subprocess.DEVNULL, stderr=log, env=env)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with open(log_path, "rb") as r:
                    text = r.read()
                if b"admin listening on" in text:
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.01)
            if proc.poll() is None and b"admin listening on" in text:
                break
            # The previous test's portico may still hold the port: retry.
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc = None
            time.sleep(0.1)
        if proc is None:
            with open(log_path, errors="replace") as r:
                pytest.fail(f"portico did not start on {ADMIN_ADDR}:\n{r.read()}")
        yield proc
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        keep = os.environ.get("MOTO_PORTICO_LOGS")
        if keep:
            os.makedirs(keep, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            shutil.copy(log_path, os.path.join(keep, name + ".log"))
        shutil.rmtree(tmp, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    n = {k: len([r for r in stats.get(k, []) if getattr(r, "when", "call") in ("call", "setup")])
         for k in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")}
    terminalreporter.write_line(
        f"moto suite against portico: {n['passed']} passed, {n['xfailed']} expected failures, "
        f"{n['failed'] + n['error']} unexpected failures, {n['skipped']} skipped, "
        f"{n['xpassed']} expected to fail but passed (take them off moto_expected_failures.txt)")
