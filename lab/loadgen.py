"""Open-loop HTTP load generator that proves (or disproves) a zero-downtime deploy.

Requests are started at fixed times (rate R/s), whatever the server does, over a
pool of keep-alive HTTP/1.1 connections that grows when every connection is busy.
Every request is recorded, failed ones included (refused, reset, closed, timed
out), so a deploy that drops traffic shows up as failed records and a gap.

    gen = LoadGenerator("http://127.0.0.1:8080", rate=300)
    gen.start(); ...deploy...; gen.stop(); run = gen.result()
    run.summary(old="1.0.0", new="2.0.0")

    python lab/loadgen.py --url http://127.0.0.1:8080 --rate 300 --duration 30 --out run.json

Standard library only: it runs wherever the lab runs.
"""
import argparse
import asyncio
import collections
import json
import math
import re
import sys
import threading
import time
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# Seconds a keep-alive connection may sit idle before the client closes it rather than reuse it:
# half the edge proxy's `timeout http-keep-alive` (10 s), the way a client should be set behind it.
IDLE_TIMEOUT = 5.0
DEFAULT_MIX = {"get": 0.8, "slow": 0.1, "post": 0.1}
DEFAULT_PATHS = {"get": "/", "slow": "/slow", "post": "/echo"}
# Kinds that send the POST body; the others are GETs.
POST_KINDS = ("post",)
ERROR_CLASSES = ("connect", "reset", "timeout", "eof", "protocol")
MAX_BODY = 16 * 1024 * 1024
VERSION_IN_BODY = re.compile(rb"version=([0-9A-Za-z._+-]+)")
# A request that started this much later than scheduled means the run did not hold its rate.
LAG_LIMIT_MS = 100.0


class TargetNotAllowed(ValueError):
    """The URL's host is not in the allow-list: the project sends load only to the lab."""


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as this client understands it."""


# --- records and results --------------------------------------------------------------------------------------------

class Record:
    """One request. Times are monotonic seconds from the start of the run."""
    __slots__ = ("scheduled", "start", "end", "kind", "status", "version", "error", "bytes", "conn")
    FIELDS = __slots__

    def __init__(self, scheduled, kind, start=None, end=None, status=None, version=None, error=None, bytes=0,
                 conn=None):
        self.scheduled = scheduled
        self.kind = kind
        self.start = start
        self.end = end
        self.status = status
        self.version = version
        self.error = error
        self.bytes = bytes
        self.conn = conn

    @property
    def ok(self):
        return self.error is None and self.status is not None and 200 <= self.status <= 299

    @property
    def lag_ms(self):
        return (self.start - self.scheduled) * 1000.0

    @property
    def latency_ms(self):
        return (self.end - self.start) * 1000.0

    def to_dict(self):
        d = {f: getattr(self, f) for f in self.FIELDS}
        d["lag_ms"] = round(self.lag_ms, 3)
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(**{f: d.get(f) for f in cls.FIELDS if f in d})

    def __repr__(self):
        return "Record(%s)" % ", ".join("%s=%r" % (f, getattr(self, f)) for f in self.FIELDS)


class Run:
    """The records of one run plus what it was asked to do; JSON round trip with to_dict()/from_dict()."""

    def __init__(self, records, config=None, events=None, started_at=None, elapsed=None, stopped_by=None,
                 connections=0):
        self.records = list(records)
        self.config = dict(config or {})
        self.events = [tuple(e) for e in (events or [])]   # (seconds from run start, label)
        self.started_at = started_at                      # wall clock (epoch s) of t=0
        self.elapsed = elapsed                            # seconds until the last request ended
        self.stopped_by = stopped_by                      # duration | requests | stop | max_duration | max_requests
        self.connections = connections                    # connections opened

    def summary(self, old=None, new=None):
        s = summarize(self.records, old=old, new=new)
        s["connections"] = self.connections
        s["stopped_by"] = self.stopped_by
        s["target_rate"] = self.config.get("rate")
        return s

    def series(self, step=1.0):
        return series(self.records, step=step)

    def to_dict(self):
        return {"config": self.config, "started_at": self.started_at, "elapsed": self.elapsed,
                "stopped_by": self.stopped_by, "connections": self.connections,
                "events": [list(e) for e in self.events], "records": [r.to_dict() for r in self.records]}

    @classmethod
    def from_dict(cls, d):
        return cls([Record.from_dict(r) for r in d["records"]], config=d.get("config"), events=d.get("events"),
                   started_at=d.get("started_at"), elapsed=d.get("elapsed"), stopped_by=d.get("stopped_by"),
                   connections=d.get("connections", 0))


# --- summary math ---------------------------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest-rank percentile (a value that was observed); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def _rounded(v, digits=3):
    return None if v is None else round(v, digits)


def summarize(records, old=None, new=None):
    """Figures for a list of Records. Latency percentiles are over requests that got a complete answer;
    versions counts the answers that carried one; achieved_rate is requests over the span of their starts
    (plus one interval); held_rate is False when a request started more than LAG_LIMIT_MS late.

    switch_ms: from the end of the last request served by `old` to the end of the first served by `new`;
    when they overlap it is 0 and overlap_ms says by how much. gap_ms: see longest_gap()."""
    records = list(records)
    completed = [r for r in records if r.error is None and r.end is not None]
    ok = [r for r in records if r.ok]
    lat = [r.latency_ms for r in completed]
    errors = collections.Counter(r.error for r in records if r.error is not None)
    versions = collections.Counter(r.version for r in records if r.version is not None)
    out = {
        "requests": len(records),
        "ok": len(ok),
        "failed": len(records) - len(ok),
        "conn_errors": sum(errors.values()),
        "non_2xx": sum(1 for r in completed if r.status is None or not 200 <= r.status <= 299),
        "errors": dict(sorted(errors.items())),
        "p50_ms": _rounded(percentile(lat, 50)),
        "p99_ms": _rounded(percentile(lat, 99)),
        "max_ms": _rounded(max(lat) if lat else None),
        "versions": dict(sorted(versions.items())),
        "achieved_rate": None,
        "max_lag_ms": _rounded(max((r.lag_ms for r in records), default=None)),
        "held_rate": None,
        "gap_ms": None,
        "switch_ms": None,
        "overlap": None,
        "overlap_ms": None,
    }
    if records:
        first = min(r.scheduled for r in records)
        last_start = max(r.start for r in records)
        # Starts span (n-1) intervals; one more interval makes a run that held the rate report exactly it.
        interval = (last_start - first) / (len(records) - 1) if len(records) > 1 else 0.0
        window = last_start - first + interval
        out["achieved_rate"] = _rounded(len(records) / window, 2) if window > 0 else None
        out["gap_ms"] = _rounded(longest_gap(records) * 1000.0)
        out["held_rate"] = out["max_lag_ms"] <= LAG_LIMIT_MS
    if old is not None and new is not None:
        old_ends = [r.end for r in ok if r.version == old]
        new_ends = [r.end for r in ok if r.version == new]
        if old_ends and new_ends:
            raw = (min(new_ends) - max(old_ends)) * 1000.0
            out["overlap"] = raw < 0
            out["switch_ms"] = 0.0 if raw < 0 else _rounded(raw)
            out["overlap_ms"] = _rounded(-raw) if raw < 0 else 0.0
    return out


def longest_gap(records):
    """Longest time (s) in which no successful request ended, within the run: from the first to the last
    scheduled start. Ends after that are the drain of slow requests, not the service answering."""
    if not records:
        return 0.0
    lo = min(r.scheduled for r in records)
    hi = max(r.scheduled for r in records)
    ends = sorted(r.end for r in records if r.ok and lo <= r.end <= hi)
    marks = [lo] + ends + [hi]
    return max(b - a for a, b in zip(marks, marks[1:]))


def series(records, step=1.0):
    """Per-step buckets by start time: started, ok, failed, p50/p99 of completed requests, max lag, and the
    share of each version among the answers that carried one."""
    records = [r for r in records if r.start is not None]
    if not records:
        return []
    n = int(max(r.start for r in records) // step) + 1
    buckets = [[] for _n in range(n)]
    for r in records:
        buckets[int(r.start // step)].append(r)
    out = []
    for i, rs in enumerate(buckets):
        lat = [r.latency_ms for r in rs if r.error is None]
        versions = collections.Counter(r.version for r in rs if r.version is not None)
        total = sum(versions.values())
        out.append({
            "t": i * step, "step": step, "started": len(rs), "ok": sum(1 for r in rs if r.ok),
            "failed": sum(1 for r in rs if not r.ok),
            "p50_ms": _rounded(percentile(lat, 50)), "p99_ms": _rounded(percentile(lat, 99)),
            "max_lag_ms": _rounded(max((r.lag_ms for r in rs), default=None)),
            "versions": {v: round(c / total, 4) for v, c in sorted(versions.items())},
        })
    return out


def format_summary(s):
    """The summary as an aligned two-column table."""
    rows = [("requests", s["requests"]), ("ok", s["ok"]), ("failed", s["failed"]),
            ("conn_errors", s["conn_errors"]), ("non_2xx", s["non_2xx"])]
    if s.get("errors"):
        rows.append(("errors", ", ".join("%s=%d" % kv for kv in s["errors"].items())))
    rows += [("p50_ms", s["p50_ms"]), ("p99_ms", s["p99_ms"]), ("target_rate", s.get("target_rate")),
             ("achieved_rate", s["achieved_rate"]), ("max_lag_ms", s["max_lag_ms"]), ("held_rate", s["held_rate"]),
             ("connections", s.get("connections")),
             ("versions", ", ".join("%s=%d" % kv for kv in s["versions"].items()) or "-"),
             ("gap_ms", s["gap_ms"])]
    if s["switch_ms"] is not None:
        rows.append(("switch_ms", "%s (overlap %s ms)" % (s["switch_ms"], s["overlap_ms"]) if s["overlap"]
                     else s["switch_ms"]))
    width = max(len(k) for k, _v in rows)
    return "\n".join("%-*s  %s" % (width, k, "-" if v is None else v) for k, v in rows)


# --- minimal HTTP/1.1 client ----------------------------------------------------------------------------------------

class Conn:
    """One persistent connection."""
    __slots__ = ("reader", "writer", "serial", "idle_since")

    def __init__(self, reader, writer, serial):
        self.reader, self.writer, self.serial = reader, writer, serial
        self.idle_since = None   # set when it goes back to the pool: only pooled connections are asked

    def reusable(self, now, idle_timeout):
        # A server that closed an idle keep-alive connection has already sent FIN; do not send into it.
        # Near the server's keep-alive timeout its FIN may be on the way while the request is: the
        # client gives the connection up first (as HTTP clients' idle timeouts do), so that race is
        # never recorded as a failed request.
        return not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < idle_timeout

    def close(self):
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - closing a broken transport must not fail a record
            pass


def build_request(method, path, host, body=None, content_type="application/json"):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host, "User-Agent: conductor-loadgen",
             "Accept: */*"]
    if body is not None:
        lines += ["Content-Type: %s" % content_type, "Content-Length: %d" % len(body)]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def parse_status_line(line):
    """b'HTTP/1.1 200 OK\\r\\n' -> ('HTTP/1.1', 200)."""
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not (len(parts[1]) == 3 and parts[1].isdigit()):
        raise ProtocolError("bad status line %r" % line[:80])
    return parts[0], int(parts[1])


async def _read_headers(reader):
    headers = {}
    while True:
        line = await reader.readuntil(b"\n")
        if line in (b"\r\n", b"\n"):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name.strip():
            raise ProtocolError("bad header line %r" % line[:80])
        key = name.strip().lower()
        value = value.strip()
        headers[key] = headers[key] + ", " + value if key in headers else value


async def _read_chunked(reader):
    parts = []
    size_total = 0
    while True:
        line = await reader.readuntil(b"\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError("bad chunk size %r" % line[:80]) from None
        if size == 0:
            await _read_headers(reader)   # trailers, then the final CRLF
            return b"".join(parts)
        size_total += size
        if size_total > MAX_BODY:
            raise ProtocolError("body larger than %d bytes" % MAX_BODY)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")


async def read_response(reader, method="GET"):
    """Read one response: (status, headers, body, keep_alive)."""
    while True:
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        http_version, status = parse_status_line(line)
        headers = await _read_headers(reader)
        if status >= 200 or status == 101:
            break   # 1xx interim answers (100 Continue) carry no body and precede the real one
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep_alive = "close" not in tokens and (http_version != "HTTP/1.0" or "keep-alive" in tokens)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, headers, b"", keep_alive
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, headers, await _read_chunked(reader), keep_alive
    if "content-length" in headers:
        try:
            length = int(headers["content-length"].split(",")[0])
        except ValueError:
            raise ProtocolError("bad Content-Length %r" % headers["content-length"]) from None
        if length < 0 or length > MAX_BODY:
            raise ProtocolError("Content-Length %d out of range" % length)
        return status, headers, await reader.readexactly(length), keep_alive
    # No length: the body runs to EOF and the connection cannot be reused.
    chunks, size = [], 0
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BODY:
            raise ProtocolError("body larger than %d bytes" % MAX_BODY)
        chunks.append(chunk)
    return status, headers, b"".join(chunks), False


def response_version(headers, body):
    """X-Version header if present, else `version=<v>` in the body, else None."""
    v = headers.get("x-version")
    if v:
        return v.strip()
    m = VERSION_IN_BODY.search(body[:4096])
    return m.group(1).decode("ascii") if m else None


def error_class(exc, connecting):
    """Short class of a failure, as recorded."""
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if connecting:
        return "connect"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "eof"
    if isinstance(exc, (ProtocolError, asyncio.LimitOverrunError, UnicodeError)):
        return "protocol"
    if isinstance(exc, ValueError):   # StreamReader: separator found but chunk exceeds the limit
        return "protocol"
    if isinstance(exc, OSError):      # reset, broken pipe, aborted
        return "reset"
    return "protocol"


# --- the generator --------------------------------------------------------------------------------------------------

def check_target(url, allow_hosts=None):
    """Parse and vet the URL: (host, port, base path, netloc). Refuses hosts outside the allow-list."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError("only http:// URLs are supported, got %r" % url)
    host = parts.hostname
    if not host:
        raise ValueError("no host in URL %r" % url)
    allowed = tuple(allow_hosts) if allow_hosts else LOOPBACK_HOSTS
    if host.lower() not in {h.lower().strip("[]") for h in allowed}:
        raise TargetNotAllowed("refusing to send load to %r: allowed hosts are %s (add a host with allow_hosts / "
                               "--allow-host)" % (host, ", ".join(allowed)))
    return host, parts.port or 80, parts.path.rstrip("/"), parts.netloc


def mix_sequence(mix):
    """Kinds in proportion to their shares, evenly interleaved and reproducible (smooth weighted round robin)."""
    shares = {k: float(v) for k, v in mix.items() if float(v) > 0}
    if not shares:
        raise ValueError("the mix has no kind with a positive share: %r" % (mix,))
    total = sum(shares.values())
    credit = dict.fromkeys(shares, 0.0)
    while True:
        for k in shares:
            credit[k] += shares[k]
        pick = max(credit, key=credit.get)
        credit[pick] -= total
        yield pick


def default_body(size=256):
    """A JSON document of exactly `size` bytes (at least 16)."""
    size = max(16, int(size))
    skeleton = '{"load":"%s"}'
    return (skeleton % ("x" * (size - len(skeleton) + 2))).encode("ascii")


class LoadGenerator:
    """Open-loop load on one URL. Use run() (blocking) or start()/stop()/result() (background thread).

    rate: requests per second. It stops at the first of: duration (s), requests (count), stop(),
    max_duration, max_requests; then waits at most `timeout` for requests in flight."""

    def __init__(self, url, rate, duration=None, requests=None, mix=None, paths=None, body=None, post_bytes=256,
                 host_header=None, timeout=5.0, max_connections=512, allow_hosts=None, max_duration=600.0,
                 max_requests=1_000_000, idle_timeout=IDLE_TIMEOUT):
        self.host, self.port, self.base, netloc = check_target(url, allow_hosts)
        if not rate or rate <= 0:
            raise ValueError("rate must be > 0")
        if timeout <= 0 or max_connections < 1 or max_duration <= 0 or max_requests < 1 or idle_timeout <= 0:
            raise ValueError("timeout, max_connections, max_duration, max_requests and idle_timeout must be positive")
        self.idle_timeout = float(idle_timeout)
        self.url, self.rate, self.timeout, self.max_duration = url, float(rate), float(timeout), float(max_duration)
        self.duration = min(float(duration), max_duration) if duration is not None else float(max_duration)
        self.count = min(int(requests), max_requests) if requests is not None else int(max_requests)
        self.stop_reason = ("duration" if duration is not None and duration <= max_duration else "max_duration",
                            "requests" if requests is not None and requests <= max_requests else "max_requests")
        self.mix = dict(DEFAULT_MIX if mix is None else mix)
        self.paths = dict(DEFAULT_PATHS, **(paths or {}))
        missing = [k for k in self.mix if k not in self.paths]
        if missing:
            raise ValueError("no path for kinds %s" % ", ".join(missing))
        self.body = body if body is not None else default_body(post_bytes)
        self.host_header = host_header or netloc
        self.max_connections = int(max_connections)
        self._requests = {k: build_request("POST" if k in POST_KINDS else "GET", self.base + self.paths[k],
                                           self.host_header, self.body if k in POST_KINDS else None)
                          for k in self.mix}
        self._stop = threading.Event()
        self._thread = None
        self._run = None
        self._error = None
        self._t0 = None
        self._events = []
        self._started = threading.Event()

    # public API

    def run(self):
        """Run to the end in this thread and return the Run."""
        return asyncio.run(self._main())

    def start(self):
        """Start in a background thread; returns once t=0 is set, so mark()/now() are usable."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._thread_main, name="loadgen", daemon=True)
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self):
        """Stop scheduling new requests; in-flight ones finish (or time out)."""
        self._stop.set()

    def result(self, timeout=None):
        """Wait for the run to end and return it (re-raises what broke the generator)."""
        if self._thread is None:
            raise RuntimeError("not started")
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("load generator still running")
        if self._error is not None:
            raise self._error
        return self._run

    def now(self):
        """Seconds since t=0 of the run (the time base of the records)."""
        return time.monotonic() - self._t0 if self._t0 is not None else 0.0

    def mark(self, label):
        """Note an event (e.g. "rollout start") at the current run time; the timeline plots it."""
        self._events.append((round(self.now(), 4), label))

    # internals

    def _thread_main(self):
        try:
            self._run = asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to result()
            self._error = exc
        finally:
            self._started.set()

    async def _main(self):
        self._idle = collections.deque()
        self._busy = asyncio.Semaphore(self.max_connections)
        self._opened = 0
        records, tasks = [], set()
        self._t0 = t0 = time.monotonic()
        started_at = time.time() - (time.monotonic() - t0)
        self._started.set()
        kinds = mix_sequence(self.mix)
        interval = 1.0 / self.rate
        i = 0
        stopped_by = None
        while True:
            if i >= self.count:
                stopped_by = self.stop_reason[1]
                break
            due = i * interval
            if due >= self.duration:
                stopped_by = self.stop_reason[0]
                break
            if self._stop.is_set():
                stopped_by = "stop"
                break
            if time.monotonic() - t0 >= self.max_duration:
                stopped_by = "max_duration"   # far behind schedule: the wall-time cap still holds
                break
            delay = t0 + due - time.monotonic()
            if delay > 0:
                # Short sleeps so stop() is seen quickly even at low rates.
                await asyncio.sleep(min(delay, 0.05))
                continue
            rec = Record(round(due, 6), next(kinds))
            records.append(rec)
            task = asyncio.get_running_loop().create_task(self._one(rec, t0))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
            if t0 + i * interval <= time.monotonic():
                await asyncio.sleep(0)   # behind schedule: start the overdue ones, but let I/O run between them
        # Every request has its own timeout; the extra second only covers the bookkeeping after it.
        if tasks:
            await asyncio.wait(set(tasks), timeout=self.timeout + 1.0)
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(set(tasks))
        end = time.monotonic() - t0
        for rec in records:   # nothing is lost: a request that never finished is a timeout
            if rec.end is None:
                rec.start = end if rec.start is None else rec.start
                rec.end, rec.error = end, "timeout"
        while self._idle:
            self._idle.popleft().close()
        config = {"url": self.url, "rate": self.rate, "duration": self.duration, "requests": self.count,
                  "mix": self.mix, "paths": self.paths, "timeout": self.timeout,
                  "max_connections": self.max_connections, "host_header": self.host_header,
                  "idle_timeout": self.idle_timeout}
        return Run(records, config=config, events=self._events, started_at=started_at,
                   elapsed=round(max((r.end for r in records), default=0.0), 6), stopped_by=stopped_by,
                   connections=self._opened)

    async def _one(self, rec, t0):
        conn = None
        connecting = False
        acquired = False
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + self.timeout):
                await self._busy.acquire()
                acquired = True
                now = time.monotonic()
                rec.start = round(now - t0, 6)
                while self._idle and not self._idle[0].reusable(now, self.idle_timeout):
                    self._idle.popleft().close()   # the longest idle: given up, not left open
                while self._idle:
                    conn = self._idle.pop()   # the most recently used one is the likeliest to be alive
                    if conn.reusable(now, self.idle_timeout):
                        break
                    conn.close()
                    conn = None
                if conn is None:
                    connecting = True
                    reader, writer = await asyncio.open_connection(self.host, self.port)
                    self._opened += 1
                    conn = Conn(reader, writer, self._opened)
                    connecting = False
                rec.conn = conn.serial
                conn.writer.write(self._requests[rec.kind])
                await conn.writer.drain()
                status, headers, body, keep_alive = await read_response(conn.reader)
            rec.status, rec.bytes = status, len(body)
            rec.version = response_version(headers, body)
            if keep_alive:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
            conn = None
        except asyncio.CancelledError:
            rec.error = "timeout"
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            rec.error = error_class(exc, connecting)
        finally:
            if conn is not None:   # state unknown after a failure: never reuse
                conn.close()
            if acquired:
                self._busy.release()
            now = round(time.monotonic() - t0, 6)
            if rec.start is None:   # timed out waiting for a free connection slot
                rec.start = now
            rec.end = now


# --- CLI ------------------------------------------------------------------------------------------------------------

def parse_mix(text):
    """'get=80,slow=10,post=10' -> {'get': 80.0, ...}."""
    mix = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, share = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError("mix items are kind=share, got %r" % item)
        mix[name.strip()] = float(share)
    return mix


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url", required=True, help="http://127.0.0.1:PORT (loopback only unless --allow-host)")
    ap.add_argument("--rate", type=float, default=300.0, help="requests per second (default 300)")
    ap.add_argument("--duration", type=float, help="seconds to send for (default: until --requests or 60 s)")
    ap.add_argument("--requests", type=int, help="stop after this many requests")
    ap.add_argument("--mix", type=parse_mix, default=None, help="kind=share,... (default get=80,slow=10,post=10)")
    ap.add_argument("--path", action="append", default=[], metavar="KIND=PATH",
                    help="path of a kind (default get=/ slow=/slow post=/echo)")
    ap.add_argument("--post-bytes", type=int, default=256, help="size of the POST JSON body (default 256)")
    ap.add_argument("--host-header", help="Host header to send (default: the URL's host:port)")
    ap.add_argument("--timeout", type=float, default=5.0, help="per-request timeout in s (default 5)")
    ap.add_argument("--max-connections", type=int, default=512)
    ap.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT,
                    help="close a keep-alive connection idle this long instead of reusing it (default %s s; "
                         "keep it below the server's keep-alive timeout)" % IDLE_TIMEOUT)
    ap.add_argument("--allow-host", action="append", default=[], help="allow this target host (repeatable)")
    ap.add_argument("--old-version", help="version before the deploy (for switch_ms)")
    ap.add_argument("--new-version", help="version after the deploy (for switch_ms)")
    ap.add_argument("--out", help="write the run (all records and the summary) to this JSON file")
    ap.add_argument("--allow-failures", type=int, default=0, metavar="N", help="exit 0 with up to N failed requests")
    args = ap.parse_args(argv)
    paths = {}
    for item in args.path:
        kind, sep, path = item.partition("=")
        if not sep:
            ap.error("--path takes KIND=PATH, got %r" % item)
        paths[kind] = path
    duration = args.duration if args.duration is not None or args.requests is not None else 60.0
    try:
        gen = LoadGenerator(args.url, args.rate, duration=duration, requests=args.requests, mix=args.mix,
                            paths=paths, post_bytes=args.post_bytes, host_header=args.host_header,
                            timeout=args.timeout, max_connections=args.max_connections, idle_timeout=args.idle_timeout,
                            allow_hosts=args.allow_host or None)
    except ValueError as exc:
        print("loadgen: %s" % exc, file=sys.stderr)
        return 2
    run = gen.run()
    summary = run.summary(old=args.old_version, new=args.new_version)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(run.to_dict(), summary=summary), f)
    print(format_summary(summary))
    if summary["held_rate"] is False:
        print("loadgen: the rate was not held: a request started %s ms late (limit %s ms)"
              % (summary["max_lag_ms"], LAG_LIMIT_MS), file=sys.stderr)
    if summary["failed"] > args.allow_failures:
        print("loadgen: %d failed requests (allowed %d)" % (summary["failed"], args.allow_failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
