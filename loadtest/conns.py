#!/usr/bin/env python3
"""Many-connection load client for portico (issue 19); Python 3 standard library only.

  idle:   open N keep-alive HTTP/1.1 connections, send one GET on each, read the
          whole answer, keep them all open, and report the server's RSS per
          connection (--pid) and how many connections stayed open.
  steady: N keep-alive connections, each sending one GET every --interval
          seconds (start times spread evenly over the interval) for --duration
          seconds; report responses by status, errors and latency percentiles.

Examples:
  loadtest/conns.py --url http://127.0.0.1:8080/prod/mock --mode idle --pid "$(pgrep -x portico)"
  loadtest/conns.py --url http://127.0.0.1:8080/prod/mock --mode steady --duration 30
  loadtest/conns.py --url http://127.0.0.1:8080/prod/keyed --header 'x-api-key: KEY' --conns 200

Output: a human-readable summary, then one JSON line (the last line of stdout).
Exit status: 0 when every request got a 2xx/3xx answer (idle: and every
connection is still open), 1 otherwise, 2 for a usage or setup problem,
130 when interrupted (the summary and JSON line are still printed).
"""

import argparse
import asyncio
import json
import math
import os
import resource
import signal
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

monotonic = time.monotonic

MAX_HEAD = 65536  # a response head larger than this is malformed
MAX_LINE = 8192  # a chunk-size or trailer line longer than this is malformed
FD_MARGIN = 64  # descriptors besides the connections: stdio, epoll, self-pipe, dup for peeks

# Parser states
S_HEAD, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILER, S_UNTIL_EOF, S_DONE = range(8)

ERROR_KINDS = ("connect", "reset", "eof", "timeout", "malformed")


class Malformed(Exception):
    pass


def take_line(buf, limit, too_long):
    """The next CRLF-ended line of `buf`, taken off it without the CRLF;
    None while it is incomplete (Malformed `too_long` past `limit`)."""
    i = buf.find(b"\r\n")
    if i < 0:
        if len(buf) > limit:
            raise Malformed(too_long)
        return None
    line = bytes(buf[:i])
    del buf[:i + 2]
    return line


def die(msg, code=2):
    print(f"conns.py: {msg}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------- /proc helpers


def proc_mem(pid):
    """VmRSS and RssAnon in KiB and thread count of a process, or None. VmRSS is
    per process (its threads share one address space), so it is the whole figure."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "Threads"):
            out[k] = int(v.split()[0])
    return out if "VmRSS" in out else None


def proc_cpu_s(pid):
    """utime + stime of a process (all its threads), in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_nofile(pid):
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    v = line.split()[3]
                    return None if v == "unlimited" else int(v)
    except OSError:
        pass
    return None


def client_cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list, or None."""
    if not sorted_vals:
        return None
    i = max(0, min(len(sorted_vals) - 1, math.ceil(p / 100.0 * len(sorted_vals)) - 1))
    return sorted_vals[i]


def ms(v):
    return None if v is None else round(v * 1000.0, 3)


def fmt_ms(v):
    return "-" if v is None else f"{v * 1000.0:.2f}"


def fmt_kib(k):
    return "-" if k is None else f"{k} KiB ({k / 1024.0:.1f} MiB)"


# ---------------------------------------------------------------- statistics


class PhaseStats:
    """What happened to the requests sent in one phase (by send time)."""

    def __init__(self, name):
        self.name = name
        self.latencies = []  # write -> full response, seconds
        self.lags = []  # scheduled slot -> write, seconds (steady)
        self.statuses = {}
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self.late = 0  # a slot came while the previous request was still in flight
        self.reconnects = 0

    def record(self, status, latency, lag):
        self.latencies.append(latency)
        if lag is not None:
            self.lags.append(lag)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def error(self, kind):
        self.errors[kind] += 1

    @property
    def non_ok(self):
        return sum(n for s, n in self.statuses.items() if not 200 <= s < 400)

    @property
    def io_errors(self):
        return sum(self.errors.values())

    @property
    def total_errors(self):
        return self.io_errors + self.non_ok

    def summary(self):
        lat = sorted(self.latencies)
        lag = sorted(self.lags)
        return {
            "responses": len(lat),
            "p50": pct(lat, 50),
            "p90": pct(lat, 90),
            "p99": pct(lat, 99),
            "max": lat[-1] if lat else None,
            "lag_p50": pct(lag, 50),
            "lag_p99": pct(lag, 99),
            "lag_max": lag[-1] if lag else None,
        }

    def statuses_str(self):
        if not self.statuses:
            return "none"
        return ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))

    def errors_str(self):
        parts = [f"{k} {v}" for k, v in self.errors.items()]
        parts.append(f"non-2xx/3xx {self.non_ok}")
        return f"{self.total_errors} (" + ", ".join(parts) + ")"


# ---------------------------------------------------------------- one connection


class Conn(asyncio.Protocol):
    """One keep-alive connection: sends the request, parses the answer incrementally
    (status line, headers, Content-Length, chunked, or until EOF), never pipelines."""

    __slots__ = (
        "client", "idx", "transport", "buf", "state", "remaining", "status",
        "will_close", "sent_at", "slot", "pending", "stats", "closed", "connecting",
        "answered",
    )

    def __init__(self, client, idx):
        self.client = client
        self.idx = idx
        self.transport = None
        self.buf = bytearray()
        self.state = S_DONE
        self.remaining = 0
        self.status = 0
        self.will_close = False
        self.sent_at = None  # monotonic time of the write while a request is in flight
        self.slot = None  # scheduled time of the request in flight
        self.pending = None  # steady: a slot that came while busy or reconnecting
        self.stats = None  # PhaseStats of the request in flight
        self.closed = False
        self.connecting = True
        self.answered = 0

    # -- asyncio callbacks

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.sent_at is None:
            self._fail("malformed", self.client.current_stats())  # bytes nobody asked for
            return
        self.buf += data
        try:
            done = self._parse()
        except Malformed:
            self._fail("malformed", self.stats)
            return
        except Exception:  # never let a parser bug kill the client
            self._fail("malformed", self.stats)
            return
        if done:
            self._complete()

    def eof_received(self):
        if self.sent_at is not None:
            if self.state == S_UNTIL_EOF:
                self.will_close = True
                self._complete()
            else:
                self._fail("eof", self.stats)
        return False  # let the transport close itself

    def connection_lost(self, exc):
        self.closed = True
        if self.sent_at is not None:
            self._fail("reset" if exc is not None else "eof", self.stats)
        self.client.on_closed(self)

    # -- requests

    def send(self, slot):
        now = monotonic()
        if self.transport is None or self.closed or self.transport.is_closing():
            return False
        self.sent_at = now
        self.slot = slot
        self.pending = None
        self.stats = self.client.stats_for(now)
        self.state = S_HEAD
        self.remaining = 0
        self.status = 0
        self.will_close = False
        self.buf.clear()
        self.client.inflight[self.idx] = self
        self.transport.write(self.client.request)
        return True

    def _complete(self):
        now = monotonic()
        lag = None if self.slot is None else max(0.0, self.sent_at - self.slot)
        self.stats.record(self.status, now - self.sent_at, lag)
        self.sent_at = None
        self.answered += 1
        self.client.inflight.pop(self.idx, None)
        if self.buf:  # bytes beyond the answer: the stream is out of step
            self.stats.error("malformed")
            self.will_close = True
        self.client.on_response(self)
        if self.will_close:
            self.transport.close()
        elif self.pending is not None:
            self.send(self.pending)

    def _fail(self, kind, stats):
        if stats is not None:
            stats.error(kind)
        self.sent_at = None
        self.client.inflight.pop(self.idx, None)
        if self.transport is not None:
            self.transport.abort()

    def timeout(self):
        if self.sent_at is not None:
            self._fail("timeout", self.stats)

    def still_open(self):
        """A non-blocking peek on (a dup of) the socket: EOF or an error means closed."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        try:
            d = self.transport.get_extra_info("socket").dup()
        except (OSError, AttributeError):
            return not self.closed
        try:
            return d.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            d.close()

    # -- parser

    def _parse(self):
        buf = self.buf
        while True:
            st = self.state
            if st == S_HEAD:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(buf) > MAX_HEAD:
                        raise Malformed("head too large")
                    return False
                head = bytes(buf[:i])
                del buf[:i + 4]
                self._head(head)
                if self.state == S_DONE:
                    return True
            elif st == S_BODY or st == S_CHUNK_DATA:
                n = min(len(buf), self.remaining)
                del buf[:n]
                self.remaining -= n
                if self.remaining:
                    return False
                if st == S_BODY:
                    self.state = S_DONE
                    return True
                self.state = S_CHUNK_CRLF
            elif st == S_CHUNK_CRLF:
                if len(buf) < 2:
                    return False
                if buf[0:2] != b"\r\n":
                    raise Malformed("chunk not followed by CRLF")
                del buf[:2]
                self.state = S_CHUNK_SIZE
            elif st == S_CHUNK_SIZE:
                line = take_line(buf, MAX_LINE, "chunk size line too long")
                if line is None:
                    return False
                line = line.split(b";", 1)[0].strip()
                if not line or len(line) > 16 or line.strip(b"0123456789abcdefABCDEF"):
                    raise Malformed("bad chunk size")
                size = int(line, 16)
                if size == 0:
                    self.state = S_TRAILER
                else:
                    self.remaining = size
                    self.state = S_CHUNK_DATA
            elif st == S_TRAILER:
                line = take_line(buf, MAX_HEAD, "trailers too large")
                if line is None:
                    return False
                if not line:
                    self.state = S_DONE
                    return True
            elif st == S_UNTIL_EOF:
                buf.clear()
                return False
            else:
                raise Malformed("data after the answer")

    def _head(self, head):
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise Malformed("bad status line")
        code = parts[1]
        if len(code) != 3 or not code.isdigit():
            raise Malformed("bad status code")
        status = int(code)
        http10 = parts[0] == b"HTTP/1.0"
        clen = None
        chunked = False
        other_te = False
        conn_close = http10
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise Malformed("bad header line")
            name = name.lower()
            value = value.strip()
            if name == b"content-length":
                if not value.isdigit():
                    raise Malformed("bad content-length")
                v = int(value)
                if clen is not None and clen != v:
                    raise Malformed("conflicting content-length")
                clen = v
            elif name == b"transfer-encoding":
                codings = [c.strip().lower() for c in value.split(b",") if c.strip()]
                if codings and codings[-1] == b"chunked":
                    chunked = True
                elif codings:
                    other_te = True
            elif name == b"connection":
                tokens = [t.strip().lower() for t in value.split(b",")]
                if b"close" in tokens:
                    conn_close = True
                elif http10 and b"keep-alive" in tokens:
                    conn_close = False
        if 100 <= status < 200:
            if status == 101:
                raise Malformed("unexpected 101 Switching Protocols")
            self.state = S_HEAD  # interim answer: the real one follows
            return
        self.status = status
        self.will_close = conn_close
        if status in (204, 304):
            self.state = S_DONE
        elif chunked:
            self.state = S_CHUNK_SIZE
        elif other_te:
            self.state = S_UNTIL_EOF
            self.will_close = True
        elif clen is not None:
            self.remaining = clen
            self.state = S_BODY if clen else S_DONE
        else:
            self.state = S_UNTIL_EOF
            self.will_close = True


# ---------------------------------------------------------------- the client


class Client:
    def __init__(self, args, ip, port, request):
        self.args = args
        self.ip = ip
        self.port = port
        self.request = request
        self.n = args.conns
        self.conns = [None] * self.n
        self.inflight = {}
        self.tasks = set()
        self.stopping = False
        self.interrupts = 0
        self.loop = None
        # phases
        self.ramp = PhaseStats("ramp")
        self.steady = PhaseStats("steady")
        self.drain = PhaseStats("drain")  # requests sent after the window (none, normally)
        self.window_start = None  # steady: when every connection attempt was resolved
        self.send_end = None
        self.connect_attempts = 0
        self.connected = 0
        self.connect_resolved = 0

    # -- phase bookkeeping

    def stats_for(self, t):
        if self.args.mode == "idle":
            return self.ramp
        if self.window_start is None or t < self.window_start:
            return self.ramp
        if t < self.send_end:
            return self.steady
        return self.drain

    def current_stats(self):
        return self.stats_for(monotonic())

    def all_stats(self):
        return (self.ramp, self.steady, self.drain)

    # -- connections

    def spawn(self, coro):
        t = self.loop.create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def create_connection(self, c):
        """Opens connection `c` (over TLS for an https:// URL)."""
        return self.loop.create_connection(
            lambda: c, self.ip, self.port,
            ssl=self.args.ssl, server_hostname=self.args.sni if self.args.ssl else None)

    async def connect(self, j, reconnect=False, pending=None):
        c = Conn(self, j)
        c.pending = pending
        self.conns[j] = c
        if not reconnect:
            self.connect_attempts += 1
        try:
            await asyncio.wait_for(
                self.create_connection(c),
                self.args.timeout,
            )
        except asyncio.CancelledError:
            c.connecting = False
            c.closed = True
            raise
        except BaseException as e:  # noqa: BLE001 (OSError, TimeoutError, anything else)
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            c.connecting = False
            c.closed = True
            self.current_stats().error("connect")
            if not reconnect:
                self.connect_resolved += 1
            if self.args.verbose:
                print(f"connect {j}: {e!r}", file=sys.stderr)
            return
        c.connecting = False
        if not reconnect:
            self.connect_resolved += 1
            self.connected += 1
        if self.stopping or c.closed:
            if c.transport is not None:
                c.transport.close()
            return
        if self.args.mode == "idle":
            c.send(None)
        elif c.pending is not None:
            c.send(c.pending)

    def on_response(self, c):
        pass

    def on_closed(self, c):
        # steady: a connection the server closed between requests (or after an
        # error / Connection: close) is replaced, so that the load stays N connections
        if self.args.mode != "steady" or self.stopping or self.conns[c.idx] is not c:
            return
        now = monotonic()
        if self.send_end is not None and now >= self.send_end:
            return
        self.current_stats().reconnects += 1
        self.spawn(self.connect(c.idx, reconnect=True, pending=c.pending))

    async def open_all(self, deadline):
        """Open N connections at --open-rate per second; returns when every attempt
        has resolved (connected or failed), at the deadline, or when stopped."""
        rate = self.args.open_rate
        t0 = monotonic()
        started = 0
        while started < self.n and not self.stopping and monotonic() < deadline:
            due = min(self.n, int((monotonic() - t0) * rate) + 1)
            while started < due:
                self.spawn(self.connect(started))
                started += 1
            await asyncio.sleep(0.005)
        await self.wait_until(lambda: self.connect_resolved >= started, deadline)
        return monotonic() - t0

    async def wait_until(self, cond, deadline, poll=0.05):
        while not cond() and not self.stopping:
            left = deadline - monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(poll, left))
        return cond()

    def live_conns(self):
        return [c for c in self.conns if c is not None and not c.closed and c.transport is not None]

    def sweep(self):
        """Time out requests older than --timeout (one timer for all of them)."""
        now = monotonic()
        limit = self.args.timeout
        for c in list(self.inflight.values()):
            if c.sent_at is not None and now - c.sent_at > limit:
                c.timeout()
        if not self.loop.is_closed():
            self._sweeper = self.loop.call_later(0.1, self.sweep)

    def close_all(self):
        for c in self.conns:
            if c is not None and c.transport is not None and not c.transport.is_closing():
                c.transport.close()

    def abort_all(self):
        for c in self.conns:
            if c is not None and c.transport is not None:
                c.transport.abort()

    # -- steady scheduler: slot s is at t0 + s * interval / N and belongs to connection s % N

    def start_ticker(self, t0):
        self.tick_t0 = t0
        self.tick_step = self.args.interval / self.n
        self.cursor = 0
        self.tick()

    def tick(self):
        if self.stopping:
            return
        now = monotonic()
        n = self.n
        step = self.tick_step
        t0 = self.tick_t0
        end = self.send_end
        cursor = self.cursor
        slot = t0 + cursor * step
        conns = self.conns
        while slot <= now and (end is None or slot < end):
            c = conns[cursor % n]
            if c is not None and not c.closed:
                if c.connecting:
                    if c.pending is None:
                        c.pending = slot  # a reconnect in progress sends it when up
                    else:
                        self.stats_for(slot).late += 1
                elif c.sent_at is not None:
                    if c.pending is None:
                        c.pending = slot
                    self.stats_for(slot).late += 1
                else:
                    c.send(slot)
            cursor += 1
            slot = t0 + cursor * step
        self.cursor = cursor
        if end is not None and slot >= end:
            return
        self.loop.call_at(max(now + 0.002, min(slot, now + 0.05)), self.tick)


# ---------------------------------------------------------------- runs


def print_server(args, mem0, mem1, cpu0, cpu1, n_conn, requests=None):
    out = {"rss_before_kib": None, "rss_after_kib": None, "rss_delta_kib_per_conn": None,
           "rss_anon_delta_kib_per_conn": None, "server_cpu_s": None}
    if args.pid is None:
        return out
    if mem0 is None or mem1 is None:
        print(f"server pid {args.pid}: could not read /proc/{args.pid}/status (gone?)")
        return out
    d = mem1["VmRSS"] - mem0["VmRSS"]
    out["rss_before_kib"] = mem0["VmRSS"]
    out["rss_after_kib"] = mem1["VmRSS"]
    print(f"server pid {args.pid}: VmRSS before {fmt_kib(mem0['VmRSS'])}, after {fmt_kib(mem1['VmRSS'])}, "
          f"delta {d} KiB; threads {mem1.get('Threads', '-')}")
    if n_conn:
        out["rss_delta_kib_per_conn"] = round(d / n_conn, 3)
        line = f"  per connection: {d / n_conn:.2f} KiB (delta / {n_conn} connections)"
        if "RssAnon" in mem0 and "RssAnon" in mem1:
            da = mem1["RssAnon"] - mem0["RssAnon"]
            out["rss_anon_delta_kib_per_conn"] = round(da / n_conn, 3)
            line += f"; RssAnon {da / n_conn:.2f} KiB"
        print(line)
        print("  (RSS counts the server's own memory; kernel socket buffers are not in it)")
    if cpu0 is not None and cpu1 is not None:
        out["server_cpu_s"] = round(cpu1 - cpu0, 3)
        extra = ""
        if requests:
            extra = f", {(cpu1 - cpu0) * 1e6 / requests:.1f} us per request ({requests} requests)"
        print(f"  server CPU (utime+stime, 10 ms ticks): {cpu1 - cpu0:.2f} s{extra}")
    return out


def print_client_cpu(cpu, wall):
    share = 100.0 * cpu / wall if wall > 0 else 0.0
    print(f"client CPU (getrusage): {cpu:.2f} s in {wall:.1f} s wall ({share:.0f} % of one core)"
          + ("  <- near 100 %: the client was saturated, its latencies include its own queueing"
             if share >= 85 else ""))
    return share


async def warmup(client, args):
    """One request on a separate connection, closed after: checks the URL and lets
    the server do its one-time work before RSS is read."""
    c = Conn(client, -1)
    probe = PhaseStats("warm-up")
    try:
        await asyncio.wait_for(
            client.create_connection(c), args.timeout)
    except Exception as e:  # noqa: BLE001
        die(f"cannot connect to {client.ip}:{client.port}: {e!r}")
    c.connecting = False
    c.send(None)
    c.stats = probe
    deadline = monotonic() + args.timeout
    while c.sent_at is not None and not c.closed and monotonic() < deadline and not client.stopping:
        await asyncio.sleep(0.01)
    if c.sent_at is not None:
        c.timeout()
    if c.transport is not None:
        c.transport.close()
    client.inflight.pop(-1, None)
    if not probe.statuses:
        errs = ", ".join(k for k, v in probe.errors.items() if v) or "timeout"
        die(f"warm-up request to {args.url} got no answer ({errs})")
    status = next(iter(probe.statuses))
    print(f"warm-up request: status {status}, {probe.latencies[0] * 1000:.2f} ms")
    if not 200 <= status < 400:
        print(f"WARNING: the warm-up request got {status}: every request will count as an error "
              f"(wrong path, missing --header, throttled?)")


async def run_idle(client, args):
    res = {}
    await warmup(client, args)
    mem0 = proc_mem(args.pid) if args.pid else None
    cpu0 = proc_cpu_s(args.pid) if args.pid else None
    ccpu0 = client_cpu_s()
    t_start = monotonic()
    open_deadline = t_start + client.n / args.open_rate * 2 + args.timeout + 10
    ramp_s = await client.open_all(open_deadline)
    print(f"opened {client.connected} of {client.n} connections in {ramp_s:.1f} s "
          f"({client.ramp.errors['connect']} connect errors)")
    # every answer read (or failed, or timed out)
    await client.wait_until(lambda: not client.inflight, monotonic() + args.timeout + 1)
    answered = sum(1 for c in client.conns if c is not None and c.answered)
    # RSS: once the last connection has had time to go quiet, poll until it stops changing
    await asyncio.sleep(args.quiet_wait)
    mem1 = None
    settled = None
    if args.pid:
        deadline = monotonic() + args.settle
        prev = proc_mem(args.pid)
        stable = 0
        while monotonic() < deadline and not client.stopping and prev is not None:
            await asyncio.sleep(0.5)
            cur = proc_mem(args.pid)
            if cur is None:
                break
            stable = stable + 1 if abs(cur["VmRSS"] - prev["VmRSS"]) <= 16 else 0
            prev = cur
            if stable >= 2:
                settled = True
                break
        mem1 = prev
        if settled is None:
            settled = False
    cpu1 = proc_cpu_s(args.pid) if args.pid else None
    await asyncio.sleep(0.1)  # let EOFs already received reach the protocols
    open_now = sum(1 for c in client.conns if c is not None and c.still_open())
    wall = monotonic() - t_start
    ccpu = client_cpu_s() - ccpu0
    st = client.ramp
    s = st.summary()
    print(f"answers: {answered} of {client.n}; statuses {st.statuses_str()}")
    print(f"latency of the one request per connection (write -> full answer, ms): p50 {fmt_ms(s['p50'])}  "
          f"p90 {fmt_ms(s['p90'])}  p99 {fmt_ms(s['p99'])}  max {fmt_ms(s['max'])}")
    print(f"errors: {st.errors_str()}")
    print(f"connections still open after the answers: {open_now} of {client.n}")
    if open_now < client.connected:
        print(f"  {client.connected - open_now} connections were closed after their answer (by the server: "
              f"Connection: close, a keep-alive timeout shorter than this run, a connection cap?)")
    srv = print_server(args, mem0, mem1, cpu0, cpu1, open_now)
    if args.pid and settled is False:
        print(f"  (RSS had not settled within --settle {args.settle:g} s: the figure may still be moving)")
    share = print_client_cpu(ccpu, wall)
    res.update({
        "mode": "idle", "url": args.url, "conns": client.n, "connected": client.connected,
        "answered": answered, "open": open_now, "statuses": {str(k): v for k, v in st.statuses.items()},
        "errors": st.total_errors, "error_kinds": dict(st.errors), "non_2xx": st.non_ok,
        "p50_ms": ms(s["p50"]), "p90_ms": ms(s["p90"]), "p99_ms": ms(s["p99"]), "max_ms": ms(s["max"]),
        "rss_settled": settled, "client_cpu_s": round(ccpu, 3), "client_cpu_pct": round(share, 1),
        "wall_s": round(wall, 3),
    })
    res.update(srv)
    res["ok"] = st.total_errors == 0 and open_now == client.n
    return res


async def run_steady(client, args):
    res = {}
    await warmup(client, args)
    mem0 = proc_mem(args.pid) if args.pid else None
    ccpu0 = client_cpu_s()
    t_start = monotonic()
    # requests start as soon as each connection is up, in its slot
    client.start_ticker(t_start + 0.01)
    open_deadline = t_start + client.n / args.open_rate * 2 + args.timeout + 10
    ramp_s = await client.open_all(open_deadline)
    client.window_start = monotonic()
    client.send_end = client.window_start + args.duration
    cpu0 = proc_cpu_s(args.pid) if args.pid else None
    wcpu0 = client_cpu_s()
    print(f"opened {client.connected} of {client.n} connections in {ramp_s:.1f} s "
          f"({client.ramp.errors['connect']} connect errors); measuring {args.duration:g} s")
    await client.wait_until(lambda: False, client.send_end, poll=0.2)
    window = min(monotonic(), client.send_end) - client.window_start
    wcpu = client_cpu_s() - wcpu0
    cpu1 = proc_cpu_s(args.pid) if args.pid else None
    mem1 = proc_mem(args.pid) if args.pid else None
    # the window is over: let the requests in flight finish (bounded)
    drain_limit = args.timeout + 0.5 if not client.stopping else 1.0
    drain_deadline = monotonic() + drain_limit
    while client.inflight and monotonic() < drain_deadline and client.interrupts < 2:
        await asyncio.sleep(0.05)
    for c in list(client.inflight.values()):
        c.timeout()
    open_now = sum(1 for c in client.conns if c is not None and c.still_open())
    wall = monotonic() - t_start
    ccpu = client_cpu_s() - ccpu0
    st = client.steady
    s = st.summary()
    rs = client.ramp.summary()
    n_resp = s["responses"]
    rps = n_resp / window if window > 0 else 0.0
    print(f"ramp ({ramp_s:.1f} s): {rs['responses']} answers, p99 {fmt_ms(rs['p99'])} ms, "
          f"errors {client.ramp.errors_str()}")
    print(f"steady window {window:.1f} s: {n_resp} answers, {rps:.0f} req/s "
          f"(offered {client.connected / args.interval:.0f} req/s); statuses {st.statuses_str()}")
    print(f"latency (write -> full answer, ms): p50 {fmt_ms(s['p50'])}  p90 {fmt_ms(s['p90'])}  "
          f"p99 {fmt_ms(s['p99'])}  max {fmt_ms(s['max'])}")
    print(f"send lag (slot -> write, ms): p50 {fmt_ms(s['lag_p50'])}  p99 {fmt_ms(s['lag_p99'])}  "
          f"max {fmt_ms(s['lag_max'])}; late slots (previous request still in flight) {st.late}")
    print(f"errors in the window: {st.errors_str()}; reconnects {st.reconnects}")
    total_errors = sum(p.total_errors for p in client.all_stats())
    if client.drain.latencies or client.drain.total_errors:
        print(f"after the window: {len(client.drain.latencies)} answers, errors {client.drain.errors_str()}")
    print(f"errors in the whole run (ramp + window + drain): {total_errors}")
    print(f"connections open at the end: {open_now} of {client.n}")
    srv = print_server(args, mem0, mem1, cpu0, cpu1, open_now, n_resp)
    share = print_client_cpu(wcpu, window)
    kinds = dict.fromkeys(ERROR_KINDS, 0)
    for p in client.all_stats():
        for k, v in p.errors.items():
            kinds[k] += v
    res.update({
        "mode": "steady", "url": args.url, "conns": client.n, "connected": client.connected,
        "open": open_now, "duration_s": round(window, 3), "interval_s": args.interval,
        "requests": n_resp, "req_per_s": round(rps, 1),
        "statuses": {str(k): v for k, v in st.statuses.items()},
        "errors": total_errors, "window_errors": st.total_errors, "error_kinds": kinds,
        "non_2xx": sum(p.non_ok for p in client.all_stats()),
        "reconnects": sum(p.reconnects for p in client.all_stats()), "late": st.late,
        "p50_ms": ms(s["p50"]), "p90_ms": ms(s["p90"]), "p99_ms": ms(s["p99"]), "max_ms": ms(s["max"]),
        "lag_p99_ms": ms(s["lag_p99"]), "client_cpu_s": round(wcpu, 3), "client_cpu_pct": round(share, 1),
        "client_cpu_total_s": round(ccpu, 3), "wall_s": round(wall, 3),
    })
    res.update(srv)
    res["ok"] = total_errors == 0 and n_resp > 0
    return res


async def amain(args, ip, port, request):
    client = Client(args, ip, port, request)
    loop = asyncio.get_running_loop()
    client.loop = loop

    def on_signal(signame):
        client.interrupts += 1
        if client.interrupts == 1:
            print(f"\n{signame}: stopping, closing the connections (again to abort at once)", file=sys.stderr)
            client.stopping = True
        else:
            client.abort_all()
            os._exit(130)

    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
        loop.add_signal_handler(sig, on_signal, name)
    client.sweep()  # times out requests, for every phase
    try:
        if args.mode == "idle":
            res = await run_idle(client, args)
        else:
            res = await run_steady(client, args)
    finally:
        client.stopping = True
        client.close_all()
        for t in list(client.tasks):
            t.cancel()
        await asyncio.sleep(0.2)  # let the closes go out
        client.abort_all()
    res["interrupted"] = client.interrupts > 0
    return res


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Hold many keep-alive HTTP/1.1 connections to one URL: idle memory per "
                    "connection (--mode idle) or a steady request rate per connection (--mode steady).")
    p.add_argument("--url", required=True, help="http://HOST:PORT/path (plain HTTP)")
    p.add_argument("--conns", type=int, default=15000, help="connections (default 15000)")
    p.add_argument("--header", action="append", default=[], metavar="'Name: value'",
                   help="extra request header, repeatable (e.g. 'x-api-key: KEY')")
    p.add_argument("--mode", choices=("idle", "steady"), default="steady")
    p.add_argument("--duration", type=float, default=30.0, help="steady: measured seconds (default 30)")
    p.add_argument("--interval", type=float, default=1.0,
                   help="steady: seconds between one connection's requests (default 1.0)")
    p.add_argument("--pid", type=int, help="server process whose RSS (and CPU) to report")
    p.add_argument("--open-rate", type=float, default=2000.0, help="connections opened per second (default 2000)")
    p.add_argument("--timeout", type=float, default=5.0, help="per connect and per request, seconds (default 5)")
    p.add_argument("--settle", type=float, default=10.0,
                   help="idle: at most this long to wait for the server's RSS to stop changing (default 10)")
    p.add_argument("--quiet-wait", type=float, default=3.0,
                   help="idle: wait this long after the last answer before reading RSS: a portico keep-alive "
                        "connection releases its buffers [timeouts] quiet_ms (default 2 s) after its answer "
                        "(default 3)")
    p.add_argument("--verbose", action="store_true", help="print each connect error")
    args = p.parse_args(argv)
    if args.conns < 1:
        die("--conns must be at least 1")
    for name in ("duration", "interval", "open_rate", "timeout"):
        if not getattr(args, name) > 0:
            die(f"--{name.replace('_', '-')} must be positive")
    if args.settle < 0:
        die("--settle must not be negative")
    return args


def build_request(args):
    u = urlsplit(args.url)
    if u.scheme not in ("http", "https"):
        die(f"--url must be http(s)://HOST:PORT/path, got {args.url!r}")
    args.ssl = None
    if u.scheme == "https":
        import ssl  # only for https: the server's certificate is not checked (a load test)
        args.ssl = ssl.create_default_context()
        args.ssl.check_hostname = False
        args.ssl.verify_mode = ssl.CERT_NONE
        args.sni = u.hostname
    if not u.hostname:
        die(f"--url has no host: {args.url!r}")
    try:
        port = u.port or (443 if args.ssl else 80)
    except ValueError:
        die(f"--url has a bad port: {args.url!r}")
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    try:
        infos = socket.getaddrinfo(u.hostname, port, type=socket.SOCK_STREAM)
    except OSError as e:
        die(f"cannot resolve {u.hostname}: {e}")
    ip = infos[0][4][0]  # resolved once: no lookup per connection
    host_hdr = u.netloc.rpartition("@")[2]
    extra = []
    has_host = False
    for h in args.header:
        name, sep, value = h.partition(":")
        name = name.strip()
        if not sep or not name or any(ch in name for ch in " \t\r\n") or "\r" in value or "\n" in value:
            die(f"--header must be 'Name: value', got {h!r}")
        if name.lower() == "host":
            has_host = True
        if name.lower() == "connection":
            die("--header Connection: the client always sends 'Connection: keep-alive'")
        extra.append(f"{name}: {value.strip()}\r\n")
    lines = [f"GET {path} HTTP/1.1\r\n"]
    if not has_host:
        lines.append(f"Host: {host_hdr}\r\n")
    lines += ["User-Agent: portico-conns/1\r\n", "Accept: */*\r\n", "Connection: keep-alive\r\n"]
    lines += extra
    lines.append("\r\n")
    return ip, port, "".join(lines).encode("latin-1", "strict")


def raise_nofile(conns):
    need = conns + FD_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:  # only root (CAP_SYS_RESOURCE) may raise the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            soft, hard = need, need
        except (ValueError, OSError):
            die(f"--conns {conns} needs {need} file descriptors, but this process's hard limit "
                f"(RLIMIT_NOFILE) is {hard}: use fewer connections, or raise it (as root: "
                f"ulimit -Hn {need}; limits.conf or systemd LimitNOFILE otherwise)")
    if soft == resource.RLIM_INFINITY or (hard != resource.RLIM_INFINITY and soft >= hard):
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as e:
        if soft < need:
            die(f"cannot raise the soft RLIMIT_NOFILE from {soft} to {hard}: {e}")
        return soft
    return hard


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    ip, port, request = build_request(args)
    nofile = raise_nofile(args.conns)
    if args.pid is not None:
        if proc_mem(args.pid) is None:
            die(f"--pid {args.pid}: cannot read /proc/{args.pid}/status")
        srv_nofile = proc_nofile(args.pid)
        if srv_nofile is not None and srv_nofile < args.conns + 16:
            print(f"WARNING: the server's open-files limit is {srv_nofile}, too few for {args.conns} connections",
                  file=sys.stderr)
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        if args.conns > hi - lo + 1:
            print(f"WARNING: {args.conns} connections to one address need more local ports than "
                  f"ip_local_port_range gives ({lo}-{hi})", file=sys.stderr)
    except (OSError, ValueError):
        pass
    # A bound on the whole run, whatever happens: the phases have their own deadlines,
    # this is the net under them. The OS closes the sockets on exit.
    ramp = args.conns / args.open_rate
    budget = 2 * ramp + 4 * args.timeout + 60 + (args.duration if args.mode == "steady" else args.settle)
    watchdog = threading.Timer(budget, lambda: (print(
        f"conns.py: watchdog: not finished after {budget:.0f} s, exiting", file=sys.stderr), os._exit(3)))
    watchdog.daemon = True
    watchdog.start()
    print(f"conns.py: {args.mode}, {args.conns} connections to {args.url} ({ip}:{port}), "
          f"open rate {args.open_rate:g}/s, timeout {args.timeout:g} s"
          + (f", one request per {args.interval:g} s each for {args.duration:g} s" if args.mode == "steady" else "")
          + f"; RLIMIT_NOFILE {nofile}")
    sys.stdout.flush()
    try:
        res = asyncio.run(amain(args, ip, port, request))
    except KeyboardInterrupt:
        print("conns.py: interrupted", file=sys.stderr)
        return 130
    finally:
        watchdog.cancel()
    print(json.dumps(res, separators=(",", ":")))
    sys.stdout.flush()
    if res.get("interrupted"):
        return 130
    return 0 if res.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
