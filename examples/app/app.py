"""demo-app: a small HTTP service for zero-downtime deploys, Python standard library only.

PID 1 of the container (`python3 /app/app.py`); it handles SIGTERM/SIGINT itself.

  GET /         "version=<VERSION> host=<hostname>" after DELAY_MS
  GET /slow     the same after SLOW_MS (default 1000)
  POST /echo    (and POST /) reads the body; "bytes=<n> sha256=<hex> version=... host=..."
  GET /healthz  200 "ok"; 503 while draining or when HEALTH=fail
  GET /config   the mounted config file, and whether the secret is there (never its value)

Every response has Content-Length and X-Version. FAIL_RATE (0..1) answers that
share of non-health requests with 500 "injected failure version=<VERSION>"
(FAIL_SEED makes the sequence repeatable). See README.md for the lifecycle.
"""
from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = socket.gethostname()
LOG_LOCK = threading.Lock()


def log(msg: str, err: bool = False) -> None:
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} demo-app[{HOST}]: {msg}\n"
    stream = sys.stderr if err else sys.stdout
    with LOG_LOCK:
        stream.write(line)
        stream.flush()


def fatal(msg: str, code: int) -> None:
    log(f"FATAL: {msg}", err=True)
    sys.exit(code)


class Config:
    """The environment, validated once at start (exit 2 on a bad value)."""

    def __init__(self, env: dict):
        self.version = env.get("VERSION") or "unknown"
        self.port = self._uint(env, "PORT", 8080)
        self.drain_seconds = self._uint(env, "DRAIN_SECONDS", 2)
        self.start_delay = self._uint(env, "START_DELAY", 0)
        self.inflight_wait = self._uint(env, "INFLIGHT_WAIT", 5)
        self.delay_ms = self._uint(env, "DELAY_MS", 0)
        self.slow_ms = self._uint(env, "SLOW_MS", 1000)
        self.health = env.get("HEALTH") or "ok"
        self.config_file = env.get("CONFIG_FILE") or "/etc/demo-app/app.conf"
        self.token_file = env.get("TOKEN_FILE") or "/run/secrets/app_token"
        raw = env.get("FAIL_RATE") or "0"
        try:
            self.fail_rate = float(raw)
        except ValueError:
            self.fail_rate = -1.0
        if not 0.0 <= self.fail_rate <= 1.0:
            fatal(f"FAIL_RATE must be a number from 0 to 1, got '{raw}'", 2)
        seed = env.get("FAIL_SEED")
        if seed is not None and not seed.isdigit():
            fatal(f"FAIL_SEED must be a whole number, got '{seed}'", 2)
        self.fail_seed = int(seed) if seed is not None else None
        if not 0 < self.port < 65536:
            fatal(f"PORT must be 1-65535, got {self.port}", 2)

    @staticmethod
    def _uint(env: dict, name: str, default: int) -> int:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            fatal(f"{name} must be a whole number (seconds, ms or a port), got '{raw}'", 2)
        return int(raw)


class Connections:
    """Open client connections and whether each is inside a request, for the drain."""

    def __init__(self):
        self._cond = threading.Condition()
        self._busy: dict[socket.socket, bool] = {}

    def set(self, sock: socket.socket, busy: bool) -> None:
        with self._cond:
            self._busy[sock] = busy
            self._cond.notify_all()

    def drop(self, sock: socket.socket) -> None:
        with self._cond:
            self._busy.pop(sock, None)
            self._cond.notify_all()

    def wait_in_flight(self, timeout: float) -> int:
        """Wait until no request is in flight (at most timeout s); returns how many still are."""
        with self._cond:
            self._cond.wait_for(lambda: not any(self._busy.values()), timeout)
            return sum(self._busy.values())

    def in_flight(self) -> int:
        with self._cond:
            return sum(self._busy.values())

    def close_idle(self) -> int:
        """Shut down idle keep-alive connections: their handler's read returns and it ends."""
        with self._cond:
            idle = [s for s, busy in self._busy.items() if not busy]
        for sock in idle:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone
        return len(idle)


class App:
    """State shared by all handler threads."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.draining = False
        self.connections = Connections()
        self._rng = random.Random(cfg.fail_seed)
        self._rng_lock = threading.Lock()

    def inject_failure(self) -> bool:
        if self.cfg.fail_rate <= 0.0:
            return False
        # One draw per request, in arrival order: with FAIL_SEED a sequential client sees a fixed pattern.
        with self._rng_lock:
            return self._rng.random() < self.cfg.fail_rate


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive
    default_request_version = "HTTP/1.0"  # not 0.9: a request line that does not parse still gets headers
    server_version = "demo-app"
    # Headers and body leave in one write (flushed after each request): no Nagle/delayed-ACK stalls.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    timeout = 120                      # an idle keep-alive connection is closed after this long
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    app: App                           # set on the class by main()
    _started = 0.0                     # per request: set in parse_request()
    _note = ""                         # per request: the log line's reason, if any
    _code: int | None = None           # per request: the status sent
    path = "-"                         # per request; stays "-" for a request line that does not parse

    # --- connection bookkeeping for the drain ---------------------------------
    def setup(self) -> None:
        super().setup()
        self.app.connections.set(self.connection, False)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.app.connections.drop(self.connection)

    def parse_request(self) -> bool:
        # The request line has arrived: from here on the connection is not idle.
        self.app.connections.set(self.connection, True)
        self._started = time.monotonic()
        return super().parse_request()

    def handle_one_request(self) -> None:
        self._code, self._started, self._note, self.path = None, 0.0, "", "-"
        try:
            super().handle_one_request()
        finally:
            # A connection about to close is not idle: the drain must not count it as one it closed.
            if not self.close_connection:
                self.app.connections.set(self.connection, False)
        if self._code is not None:
            self.log_request(self._code)

    def handle_expect_100(self) -> bool:
        ok = super().handle_expect_100()
        self.wfile.flush()  # the buffered writer would hold "100 Continue" back
        return ok

    # --- responses -------------------------------------------------------------
    def end_headers(self) -> None:
        self.send_header("X-Version", self.app.cfg.version)
        self.send_header("X-App-Version", self.app.cfg.version)  # the shell version's name, kept
        if self.app.draining and not self.close_connection:
            # Keep-alive clients move to another server while this one drains.
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0" and not self.close_connection:
            self.send_header("Connection", "keep-alive")  # HTTP/1.0 clients (ab -k) need it said
        super().end_headers()

    def respond(self, code: int, body: str, note: str = "", extra: dict | None = None) -> None:
        data = (body + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._note = note

    def log_request(self, code="-", size="-") -> None:
        elapsed = int((time.monotonic() - self._started) * 1000) if self._started else 0
        path = (self.path or "-").split("?", 1)[0]
        method = self.command or "-"
        if self._note:
            log(f"{self._note} ({method} {path} -> {code}, {elapsed}ms)")
        else:
            log(f"{method} {path} -> {code} {elapsed}ms version={self.app.cfg.version}")

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format, *args) -> None:  # pylint: disable=redefined-builtin
        log(format % args)

    def send_response(self, code, message=None) -> None:
        # The base class logs when the status line goes out; log after the body instead.
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        self.send_header("Date", self.date_time_string())
        self._code = code

    # --- routes ----------------------------------------------------------------
    def route(self) -> None:
        cfg = self.app.cfg
        path = self.path.split("?", 1)[0]
        if path == "/healthz" and self.command in ("GET", "HEAD"):
            self.healthz()  # never an injected failure: the healthcheck must pass
            return
        body_info = self.read_body() if self.command == "POST" else None
        if body_info is False:
            return
        if path not in ("/", "/slow", "/echo", "/config", "/healthz"):
            self.respond(404, "not found")
        elif self.command == "POST" and path not in ("/", "/echo"):
            self.respond(405, "method not allowed", extra={"Allow": "GET, HEAD"})
        elif self.app.inject_failure():
            self.respond(500, f"injected failure version={cfg.version}", note="injected failure")
        elif self.command == "POST":
            self.sleep_ms(cfg.delay_ms)
            size, digest = body_info
            self.respond(200, f"bytes={size} sha256={digest} version={cfg.version} host={HOST}")
        elif path == "/echo":
            self.respond(405, "method not allowed", extra={"Allow": "POST"})
        elif path == "/config":
            self.respond(200, self.config_text())
        else:
            self.sleep_ms(cfg.slow_ms if path == "/slow" else cfg.delay_ms)
            self.respond(200, f"version={cfg.version} host={HOST}")

    do_GET = do_HEAD = do_POST = route

    def method_not_allowed(self) -> None:
        extra = {"Allow": "GET, HEAD, POST"}
        if self.headers.get("Content-Length", "0") != "0" or self.headers.get("Transfer-Encoding"):
            extra["Connection"] = "close"  # its body is not read: it must not pass for the next request
        self.respond(405, "method not allowed", extra=extra)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = method_not_allowed

    def healthz(self) -> None:
        if self.app.cfg.health == "fail":
            self.respond(503, "unhealthy: HEALTH=fail", note="healthcheck failing: HEALTH=fail")
        elif self.app.draining:
            self.respond(503, "draining", note="draining")
        else:
            self.respond(200, "ok")

    def read_body(self):
        """(length, sha256 hex) of the request body, streamed; False after an error response."""
        # The unread body would be taken for the next request: these answers close the connection.
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.respond(411, "length required: send Content-Length, not chunked", extra={"Connection": "close"})
            return False
        raw = self.headers.get("Content-Length") or "0"
        if not raw.isdigit():
            self.respond(400, "bad Content-Length", extra={"Connection": "close"})
            return False
        left, digest = int(raw), hashlib.sha256()
        total = left
        while left > 0:
            chunk = self.rfile.read(min(left, 64 * 1024))
            if not chunk:
                self.close_connection = True
                return False  # the client went away mid-body: nothing to answer
            digest.update(chunk)
            left -= len(chunk)
        return total, digest.hexdigest()

    def config_text(self) -> str:
        cfg = self.app.cfg
        try:
            with open(cfg.config_file, encoding="utf-8", errors="replace") as f:
                body = f.read().rstrip("\n")
        except OSError:
            body = f"# no config file at {cfg.config_file}"
        try:
            size = os.path.getsize(cfg.token_file)
            with open(cfg.token_file, "rb"):
                pass  # readable, as the shell version checked
            body += f"\n# secret {cfg.token_file}: present ({size} bytes, value not shown)"
        except OSError:
            body += f"\n# secret {cfg.token_file}: absent"
        return body

    @staticmethod
    def sleep_ms(ms: int) -> None:
        if ms > 0:
            time.sleep(ms / 1000)


class Server(ThreadingHTTPServer):
    request_queue_size = 128   # the default 5 drops bursts of new connections from a proxy
    block_on_close = False     # exit does not wait for handler threads (INFLIGHT_WAIT bounds it)


class StopRequested(Exception):
    def __init__(self, signame: str):
        super().__init__(signame)
        self.signame = signame


def on_signal(signum, _frame) -> None:
    # Raised in the main thread, which only sleeps or waits: it breaks out at once.
    raise StopRequested(signal.Signals(signum).name)


def on_signal_again(signum, _frame) -> None:
    log(f"{signal.Signals(signum).name} again: already stopping")


def drain(app: App, server: Server, signame: str) -> None:
    cfg = app.cfg
    app.draining = True
    log(f"{signame}: draining for {cfg.drain_seconds}s (healthz now 503, still serving requests, "
        "responses carry Connection: close)")
    time.sleep(cfg.drain_seconds)
    server.shutdown()          # the accept loop ends...
    server.socket.close()      # ...and new connections are refused
    log(f"listener closed; waiting up to {cfg.inflight_wait}s for {app.connections.in_flight()} in-flight request(s)")
    left = app.connections.wait_in_flight(cfg.inflight_wait)
    idle = app.connections.close_idle()
    if idle:
        log(f"closed {idle} idle connection(s)")
    if left:
        log(f"stopped with {left} request(s) still in flight: exiting 0")
    else:
        log("stopped cleanly: exiting 0")


def main() -> int:
    if os.environ.get("CRASH", "0") == "1":
        log(f"FATAL: CRASH=1 is set: exiting with code 1 right after start (simulated broken release, "
            f"version={os.environ.get('VERSION') or 'unknown'})", err=True)
        return 1
    cfg = Config(dict(os.environ))
    app = App(cfg)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log(f"starting version={cfg.version} port={cfg.port} delay_ms={cfg.delay_ms} drain_seconds={cfg.drain_seconds} "
        f"health={cfg.health} fail_rate={cfg.fail_rate:g}")
    server = None
    try:
        if cfg.start_delay > 0:
            log(f"slow start: waiting {cfg.start_delay}s before serving (START_DELAY)")
            time.sleep(cfg.start_delay)
        if cfg.health == "fail":
            log("HEALTH=fail: /healthz will answer 503 (healthcheck failing)")
        Handler.app = app
        try:
            listening = Server(("", cfg.port), Handler)
        except OSError as exc:
            fatal(f"cannot listen on :{cfg.port}: {exc}", 1)
        loop = threading.Thread(target=listening.serve_forever, args=(0.1,), name="accept", daemon=True)
        loop.start()
        server = listening  # only now: shutdown() would wait forever for a loop that never ran
        log(f"serving on :{cfg.port} (GET / /slow /healthz /config, POST /echo; HTTP/1.1 keep-alive)")
        while loop.is_alive():
            time.sleep(1)  # a signal interrupts this at once (on_signal raises)
        fatal("the listener exited: exiting 1", 1)
    except StopRequested as stop:
        signal.signal(signal.SIGTERM, on_signal_again)
        signal.signal(signal.SIGINT, on_signal_again)
        if server is None:
            log(f"{stop.signame} before serving: exiting 0")
            return 0
        drain(app, server, stop.signame)
    return 0


if __name__ == "__main__":
    sys.exit(main())
