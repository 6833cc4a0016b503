"""The example app (examples/app) and the lab registry (lab/registry.py), on
this machine's Docker Engine.

Every container and registry these tests make is named conductor-test-* and
removed afterwards, also on failure. HTTP goes only to 127.0.0.1 ports the
containers publish, a bounded number of requests with timeouts.

    .venv/bin/pytest -q tests/lab/test_example_app.py
"""
from __future__ import annotations

import hashlib
import http.client
import os
import random
import re
import socket
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
import registry  # noqa: E402

DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
BUILD = ROOT / "examples" / "app" / "build.sh"
STACK = ROOT / "examples" / "stack" / "demo.yml"
REPO = "conductor/demo-app"
RUN_ID = uuid.uuid4().hex[:6]
PREFIX = f"conductor-test-{RUN_ID}"
HEALTHCHECK = ["CMD", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/healthz"]


def docker(*args: str, check: bool = True, timeout: float = 60,
           input: str | None = None, config: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("DOCKER_API_VERSION", "1.41")
    cmd = [DOCKER, *(["--config", config] if config else []), *args]
    res = subprocess.run(cmd, check=False, text=True, capture_output=True, timeout=timeout, env=env, input=input)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def http_get(port: int, path: str, timeout: float = 5) -> tuple[int, str, float]:
    """GET http://127.0.0.1:<port><path> -> (status, body, seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(), time.monotonic() - started
    finally:
        conn.close()


def try_get(port: int, path: str, timeout: float = 3) -> tuple[int, str] | None:
    try:
        status, body, _took = http_get(port, path, timeout)
        return status, body
    except (OSError, http.client.HTTPException):
        return None


def wait_for(port: int, path: str = "/healthz", want: int = 200, timeout: float = 15) -> tuple[int, str]:
    """Poll every 0.2 s (at most timeout/0.2 requests) until `want` comes back."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = try_get(port, path)
        if last and last[0] == want:
            return last
        time.sleep(0.2)
    raise AssertionError(f"127.0.0.1:{port}{path} did not answer {want} in {timeout}s (last: {last})")


def logs(name: str) -> str:
    res = docker("logs", name, check=False)
    return res.stdout + res.stderr


def published_port(name: str, container_port: int = 8080) -> int:
    for line in docker("port", name, f"{container_port}/tcp").stdout.splitlines():
        if line.startswith("127.0.0.1:"):
            return int(line.rsplit(":", 1)[1])
    raise AssertionError(f"{name}: no port published on 127.0.0.1")


@pytest.fixture(scope="module")
def engine():
    if shutil.which(DOCKER) is None or docker("version", check=False, timeout=20).returncode != 0:
        pytest.skip("no Docker Engine reachable (make engine starts one)")


@pytest.fixture(scope="module")
def images(engine):
    res = subprocess.run([str(BUILD), "1.0.0", "2.0.0"], check=False, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"build.sh failed:\n{res.stdout}\n{res.stderr}"
    built = dict(line.split() for line in res.stdout.splitlines() if line.strip())
    assert set(built) == {f"{REPO}:1.0.0", f"{REPO}:2.0.0"}
    return built


class App:
    def __init__(self, name: str, port: int | None):
        self.name, self.port = name, port

    @property
    def hostname(self) -> str:
        return docker("inspect", "-f", "{{.Config.Hostname}}", self.name).stdout.strip()

    def state(self) -> tuple[str, int]:
        out = docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", self.name).stdout.split()
        return out[0], int(out[1])


@pytest.fixture
def run_app(images):
    names: list[str] = []

    def _run(purpose: str, env: dict | None = None, image: str = f"{REPO}:1.0.0",
             publish: bool = True, wait_healthy: bool = True, limits: tuple[str, ...] = ()) -> App:
        name = f"{PREFIX}-{purpose}-{len(names)}"
        names.append(name)
        args = ["run", "-d", "--name", name, "--label", "io.conductor-swarm.test=example-app", *limits]
        if publish:
            args += ["-p", "127.0.0.1::8080"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        docker(*args, image)
        app = App(name, published_port(name) if publish else None)
        if publish and wait_healthy:
            wait_for(app.port)
        return app

    yield _run
    for name in names:
        docker("rm", "-f", "-v", name, check=False)


# --- the app -----------------------------------------------------------------------

def test_root_reports_version_and_hostname(run_app):
    v1 = run_app("v1")
    v2 = run_app("v2", image=f"{REPO}:2.0.0")
    override = run_app("env", env={"VERSION": "9.9.9-env"})
    for app, version in ((v1, "1.0.0"), (v2, "2.0.0"), (override, "9.9.9-env")):
        status, body, took = http_get(app.port, "/")
        assert status == 200
        assert body.strip() == f"version={version} host={app.hostname}"
        assert took < 1.0  # no DELAY_MS: answers at once
    assert "starting version=1.0.0" in logs(v1.name)
    assert re.search(r"GET / -> 200 \d+ms version=1\.0\.0", logs(v1.name))


def test_delay_ms_delays_only_the_root(run_app):
    app = run_app("delay", env={"DELAY_MS": "800"})
    status, body, took = http_get(app.port, "/")
    assert status == 200 and body.startswith("version=1.0.0 ")
    assert 0.8 <= took < 3.0, took
    status, _body, took = http_get(app.port, "/healthz")
    assert status == 200 and took < 0.8, took


def test_healthz_ok_and_failing_release(run_app):
    good = run_app("healthy")
    assert http_get(good.port, "/healthz")[:2] == (200, "ok\n")
    assert http_get(good.port, "/nope")[0] == 404

    bad = run_app("health-fail", env={"HEALTH": "fail"}, wait_healthy=False)
    status, body = wait_for(bad.port, "/", want=200)           # it serves...
    assert body.startswith("version=1.0.0 ")
    status, body = wait_for(bad.port, "/healthz", want=503)    # ...but never passes its healthcheck
    assert "HEALTH=fail" in body
    assert "healthcheck failing: HEALTH=fail" in logs(bad.name)


def test_crash_exits_1_with_a_message(run_app):
    app = run_app("crash", env={"CRASH": "1"}, publish=False)
    code = docker("wait", app.name, timeout=20).stdout.strip()
    assert code == "1"
    res = docker("logs", app.name)
    assert "CRASH=1" in res.stderr and "exiting with code 1" in res.stderr


def test_slow_start(run_app):
    started = time.monotonic()
    app = run_app("slow", env={"START_DELAY": "2"}, wait_healthy=False)
    wait_for(app.port, timeout=15)
    assert time.monotonic() - started >= 2.0
    assert "slow start: waiting 2s" in logs(app.name)


def test_graceful_shutdown(run_app):
    """docker stop -t 10: the request in flight at SIGTERM completes, healthz
    turns 503, new requests are still served during the drain, exit 0 in ~2 s."""
    app = run_app("graceful", env={"DELAY_MS": "1500", "DRAIN_SECONDS": "2"})
    results: dict[str, object] = {}

    def slow_request(key: str) -> None:
        try:
            results[key] = http_get(app.port, "/", timeout=10)
        except (OSError, http.client.HTTPException) as exc:
            results[key] = exc

    def stop() -> None:
        t0 = time.monotonic()
        docker("stop", "-t", "10", app.name, timeout=30)
        results["stop_seconds"] = time.monotonic() - t0

    in_flight = threading.Thread(target=slow_request, args=("in_flight",))
    in_flight.start()
    time.sleep(0.3)  # the request is now in the handler, sleeping DELAY_MS
    stopper = threading.Thread(target=stop)
    sigterm_at = time.monotonic()
    stopper.start()

    seen_503_after = None
    for _probe in range(15):  # at most 15 probes, 0.1 s apart
        got = try_get(app.port, "/healthz", timeout=2)
        if got and got[0] == 503:
            seen_503_after = time.monotonic() - sigterm_at
            assert got[1].strip() == "draining"
            break
        time.sleep(0.1)
    during_drain = threading.Thread(target=slow_request, args=("during_drain",))
    during_drain.start()

    for t in (in_flight, during_drain, stopper):
        t.join(timeout=20)
    assert seen_503_after is not None, "healthz never answered 503 after SIGTERM"
    for key in ("in_flight", "during_drain"):
        result = results.get(key)
        assert isinstance(result, tuple), f"{key} request failed: {result!r}"
        assert result[0] == 200 and result[1].startswith("version=1.0.0 "), result
    stop_seconds = results["stop_seconds"]
    assert app.state() == ("exited", 0)
    assert 1.9 <= stop_seconds < 5.0, stop_seconds   # the 2 s drain, far below the 10 s grace
    out = logs(app.name)
    assert "SIGTERM: draining for 2s" in out
    assert "stopped cleanly: exiting 0" in out
    print(f"\ngraceful shutdown: healthz 503 after {seen_503_after:.2f}s, "
          f"in-flight request took {results['in_flight'][2]:.2f}s, "
          f"docker stop returned after {stop_seconds:.2f}s, exit code 0")


def request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


def assert_framed(resp: http.client.HTTPResponse, data: bytes, version: str, method: str = "GET") -> None:
    """X-Version and a Content-Length that matches the body, on every response."""
    assert resp.getheader("X-Version") == version, resp.getheaders()
    want = resp.getheader("Content-Length")
    assert want is not None and want.isdigit(), resp.getheaders()
    assert len(data) == (0 if method == "HEAD" else int(want))


def test_keep_alive_one_connection_many_requests(run_app):
    app = run_app("keepalive")
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
    try:
        resp, data = request(conn, "GET", "/")
        local = conn.sock.getsockname()  # http.client reconnects silently: the local port proves it did not
        for i in range(60):
            method, path, body = [("GET", "/", None), ("GET", "/healthz", None),
                                  ("POST", "/echo", b"x" * i), ("HEAD", "/", None)][i % 4]
            resp, data = request(conn, method, path, body)
            assert resp.status == 200, (method, path, resp.status)
            assert resp.getheader("Connection") is None and not resp.will_close
            assert_framed(resp, data, "1.0.0", method)
            assert conn.sock is not None and conn.sock.getsockname() == local, f"reconnected at request {i}"
    finally:
        conn.close()


def test_x_version_and_content_length_on_every_response(run_app):
    app = run_app("headers", env={"VERSION": "7.1.0-hdr"})
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
    try:
        for method, path, want in (("GET", "/", 200), ("GET", "/healthz", 200), ("GET", "/config", 200),
                                   ("GET", "/nope", 404), ("POST", "/echo", 200), ("POST", "/", 200),
                                   ("GET", "/echo", 405), ("PUT", "/", 405), ("HEAD", "/", 200)):
            resp, data = request(conn, method, path, b"body" if method == "POST" else None)
            assert resp.status == want, (method, path, resp.status, data)
            assert_framed(resp, data, "7.1.0-hdr", method)
    finally:
        conn.close()
    # Requests the server refuses (the stdlib's own errors and the app's) still get both headers.
    too_many = "".join(f"X-H{i}: {i}\r\n" for i in range(101))
    for raw_request, want in ((f"GET / HTTP/1.1\r\nHost: t\r\n{too_many}\r\n", "431"), ("NOT A REQUEST\r\n\r\n", "400"),
                              ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: lots\r\n\r\n", "400")):
        with socket.create_connection(("127.0.0.1", app.port), timeout=5) as sock:
            sock.sendall(raw_request.encode())
            raw = b""
            while b"\r\n\r\n" not in raw:
                chunk = sock.recv(4096)
                assert chunk, raw
                raw += chunk
        head = raw.split(b"\r\n\r\n", 1)[0].decode().lower()
        assert head.startswith(f"http/1.1 {want}") and "x-version: 7.1.0-hdr" in head, head
        assert "content-length:" in head and "connection: close" in head, head


def test_slow_endpoint(run_app):
    app = run_app("slow-endpoint")
    status, body, took = http_get(app.port, "/slow", timeout=10)
    assert status == 200 and body.strip() == f"version=1.0.0 host={app.hostname}"
    assert 1.0 <= took < 3.0, took
    quicker = run_app("slow-ms", env={"SLOW_MS": "300"})
    status, _body, took = http_get(quicker.port, "/slow")
    assert status == 200 and 0.3 <= took < 1.0, took
    assert http_get(quicker.port, "/")[2] < 0.3  # SLOW_MS is for /slow only


def test_post_echo_reports_length_and_sha256(run_app):
    app = run_app("echo")
    host = app.hostname
    payloads = [b"", b"hello", random.Random(7).randbytes(3 * 1024 * 1024 + 17)]
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=20)
    try:
        for path in ("/echo", "/"):
            for payload in payloads:
                resp, data = request(conn, "POST", path, payload)
                assert resp.status == 200
                assert data.decode().strip() == (f"bytes={len(payload)} sha256={hashlib.sha256(payload).hexdigest()} "
                                                 f"version=1.0.0 host={host}")
        # The body was read exactly once: the next request on the connection is parsed cleanly.
        resp, data = request(conn, "GET", "/")
        assert resp.status == 200 and data.decode().startswith("version=1.0.0 ")
        resp, data = request(conn, "POST", "/echo", b"abc", headers={"Expect": "100-continue"})
        assert resp.status == 200 and f"sha256={hashlib.sha256(b'abc').hexdigest()}" in data.decode()
    finally:
        conn.close()


def test_fail_rate_1_fails_requests_but_not_health(run_app):
    app = run_app("fail-all", env={"FAIL_RATE": "1", "VERSION": "6.6.6-bad"})
    for path in ("/", "/slow", "/config"):
        status, body, _took = http_get(app.port, path)
        assert (status, body.strip()) == (500, "injected failure version=6.6.6-bad"), path
    for _probe in range(5):
        assert http_get(app.port, "/healthz")[:2] == (200, "ok\n")
    assert "injected failure (GET / -> 500" in logs(app.name)


def test_fail_rate_share_is_exact_with_a_seed(run_app):
    """One draw of random.Random(FAIL_SEED) per non-health request, in order: a
    sequential client can predict every answer, and the share is ~30 %."""
    count, rate, seed = 300, 0.3, 1234
    app = run_app("fail-share", env={"FAIL_RATE": str(rate), "FAIL_SEED": str(seed)})
    rng = random.Random(seed)
    expected = [500 if rng.random() < rate else 200 for _draw in range(count)]
    assert 0.25 * count <= expected.count(500) <= 0.35 * count  # this seed's share: a fact, not a chance
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
    try:
        got = []
        for i in range(count):
            resp, _data = request(conn, "GET", "/")
            got.append(resp.status)
            if i % 50 == 0:  # health checks in between draw nothing
                assert request(conn, "GET", "/healthz")[0].status == 200
    finally:
        conn.close()
    assert got == expected
    print(f"\nFAIL_RATE={rate} FAIL_SEED={seed}: {got.count(500)}/{count} answered 500")


def test_invalid_settings_exit_2(run_app):
    for env, word in (({"DRAIN_SECONDS": "soon"}, "DRAIN_SECONDS"), ({"FAIL_RATE": "1.5"}, "FAIL_RATE"),
                      ({"PORT": "99999"}, "PORT"), ({"DELAY_MS": "-1"}, "DELAY_MS")):
        app = run_app("invalid", env=env, publish=False)
        assert docker("wait", app.name, timeout=20).stdout.strip() == "2", env
        err = docker("logs", app.name).stderr
        assert "FATAL:" in err and word in err, err


def test_sigint_drains_and_exits_0(run_app):
    app = run_app("sigint", env={"DRAIN_SECONDS": "0"})
    docker("kill", "--signal", "INT", app.name)
    assert docker("wait", app.name, timeout=20).stdout.strip() == "0"
    out = logs(app.name)
    assert "SIGINT: draining for 0s" in out and "stopped cleanly: exiting 0" in out


def test_drain_closes_keep_alive_and_exits_0(run_app):
    """SIGTERM: healthz 503 at once; for DRAIN_SECONDS every response still
    comes but with Connection: close; a request in flight when the listener
    closes finishes; an idle keep-alive connection is closed; exit 0 well
    inside the 10 s grace period."""
    drain = 3
    app = run_app("drain", env={"DRAIN_SECONDS": str(drain), "SLOW_MS": "1500"})
    busy = http.client.HTTPConnection("127.0.0.1", app.port, timeout=10)
    resp, _data = request(busy, "GET", "/")
    assert resp.status == 200 and not resp.will_close
    idle = socket.create_connection(("127.0.0.1", app.port), timeout=10)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert idle.recv(4096).startswith(b"HTTP/1.1 200")
    results: dict[str, object] = {}

    def stop() -> None:
        t0 = time.monotonic()
        docker("stop", "-t", "10", app.name, timeout=30)
        results["stop_seconds"] = time.monotonic() - t0

    def late_slow() -> None:  # starts before the listener closes, ends after it
        try:
            results["late"] = http_get(app.port, "/slow", timeout=10)
        except (OSError, http.client.HTTPException) as exc:
            results["late"] = exc

    stopper = threading.Thread(target=stop)
    sigterm_at = time.monotonic()
    stopper.start()
    try:
        health = None
        for _probe in range(15):  # at most 15 probes, 0.1 s apart
            got = try_get(app.port, "/healthz", timeout=2)
            if got and got[0] == 503:
                health = got
                break
            time.sleep(0.1)
        assert health == (503, "draining\n"), health
        # The keep-alive client is told to leave; http.client then opens a new connection.
        resp, data = request(busy, "GET", "/")
        assert resp.status == 200 and resp.getheader("Connection") == "close" and resp.will_close
        assert data.decode().startswith("version=1.0.0 ")
        busy.close()
        fresh = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
        resp, _data = request(fresh, "GET", "/")
        assert resp.status == 200 and resp.getheader("Connection") == "close"
        fresh.close()
        time.sleep(max(0.0, sigterm_at + drain - 1.0 - time.monotonic()))
        slow = threading.Thread(target=late_slow)
        slow.start()
        # The idle connection gets no response, only the close, once the drain is over.
        idle.settimeout(drain + 5)
        assert idle.recv(4096) == b""
        closed_after = time.monotonic() - sigterm_at
        slow.join(timeout=15)
    finally:
        idle.close()
        stopper.join(timeout=30)
    late = results.get("late")
    assert isinstance(late, tuple) and late[0] == 200, f"in-flight request failed: {late!r}"
    assert closed_after >= drain - 0.2, closed_after
    stop_seconds = results["stop_seconds"]
    assert app.state() == ("exited", 0)
    assert drain <= stop_seconds < drain + 3, stop_seconds
    out = logs(app.name)
    assert f"SIGTERM: draining for {drain}s" in out
    assert "closed 1 idle connection(s)" in out
    assert "stopped cleanly: exiting 0" in out
    print(f"\ndrain: idle keep-alive closed after {closed_after:.2f}s, /slow in flight at listener close "
          f"took {late[2]:.2f}s, docker stop returned after {stop_seconds:.2f}s, exit 0")


def test_inflight_wait_bounds_the_stop(run_app):
    app = run_app("inflight-wait", env={"DRAIN_SECONDS": "1", "INFLIGHT_WAIT": "1", "SLOW_MS": "8000"})
    results: dict[str, object] = {}

    def slow() -> None:
        try:
            results["slow"] = http_get(app.port, "/slow", timeout=15)
        except (OSError, http.client.HTTPException) as exc:
            results["slow"] = exc

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    docker("stop", "-t", "10", app.name, timeout=30)
    took = time.monotonic() - started
    t.join(timeout=20)
    assert app.state() == ("exited", 0)
    assert 2.0 <= took < 4.0, took   # 1 s drain + 1 s INFLIGHT_WAIT, not the 8 s request
    assert not isinstance(results.get("slow"), tuple)  # cut off: the container is gone
    assert "stopped with 1 request(s) still in flight: exiting 0" in logs(app.name)


def demo_limits() -> tuple[str, str]:
    limits = yaml.safe_load(STACK.read_text())["services"]["web"]["deploy"]["resources"]["limits"]
    return str(limits["cpus"]), str(limits["memory"])


def closed_loop(port: int, connections: int, per_connection: int) -> dict:
    """Each client thread sends its requests back to back on one keep-alive
    connection (a bounded count, 5 s timeout each)."""
    counts = [[0, 0, 0] for _conn in range(connections)]  # ok, errors, reconnects

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            request(conn, "GET", "/")
            local = conn.sock.getsockname()
            for _request in range(per_connection):
                try:
                    resp, _data = request(conn, "GET", "/")
                    counts[i][0 if resp.status == 200 else 1] += 1
                except (OSError, http.client.HTTPException):
                    counts[i][1] += 1
                    conn.close()
                if conn.sock is None or conn.sock.getsockname() != local:
                    counts[i][2] += 1
                    local = conn.sock.getsockname() if conn.sock else None
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    seconds = time.monotonic() - started
    ok, errors, reconnects = (sum(c[k] for c in counts) for k in range(3))
    return {"ok": ok, "errors": errors, "reconnects": reconnects, "seconds": seconds, "rps": ok / seconds}


def test_throughput_keep_alive_at_the_stack_cpu_limit(run_app):
    """At demo.yml's cpus/memory limits one replica holds >= 150 req/s over
    keep-alive (3 replicas: >= 450 req/s behind the proxy)."""
    cpus, memory = demo_limits()
    app = run_app("throughput", limits=("--cpus", cpus, "--memory", memory.lower()))
    closed_loop(app.port, 2, 50)  # warm up
    result = closed_loop(app.port, 8, 300)
    print(f"\nthroughput at --cpus {cpus} --memory {memory}: {result['rps']:.0f} req/s "
          f"({result['ok']} requests on 8 keep-alive connections in {result['seconds']:.1f}s, "
          f"{result['errors']} errors, {result['reconnects']} reconnects)")
    assert result["errors"] == 0 and result["reconnects"] == 0
    assert result["rps"] >= 150, result
    assert app.state() == ("running", 0)  # no OOM kill at the memory limit


# --- the stack file ----------------------------------------------------------------

def test_stack_file_shape():
    stack = yaml.safe_load(STACK.read_text())
    assert stack["version"] == "3.8"
    web, api = stack["services"]["web"], stack["services"]["api"]
    assert web["image"] == "${REGISTRY:-lab-registry:5000}/conductor/demo-app:${WEB_VERSION:-1.0.0}"
    assert api["image"] == "${REGISTRY:-lab-registry:5000}/conductor/demo-app:${API_VERSION:-1.0.0}"
    for svc in (web, api):
        assert svc["healthcheck"]["test"] == HEALTHCHECK
        for port in svc.get("ports", []):
            assert isinstance(port, dict) and port.get("mode") == "host", "no ingress ports: no IPVS in the lab"
    assert web["deploy"]["replicas"] == 3 and web["deploy"]["endpoint_mode"] == "dnsrr"
    assert web["deploy"]["update_config"] == {
        "parallelism": 1, "delay": "2s", "order": "start-first", "failure_action": "rollback",
        "monitor": "5s", "max_failure_ratio": 0}
    assert web["configs"][0]["source"] == "app_conf" and web["secrets"][0]["source"] == "app_token"
    assert api["deploy"]["replicas"] == 2
    assert api["deploy"]["placement"]["constraints"] == ["node.role == worker"]
    assert stack["networks"]["backend"] == {"driver": "overlay", "attachable": True}
    assert "TEST-VALUE" in (STACK.parent / stack["secrets"]["app_token"]["file"]).read_text()


def test_stack_file_as_docker_stack_reads_it(engine):
    # Debian's 20.10 client has no `docker stack config`; a newer client may.
    for client in ("/usr/local/bin/docker", DOCKER, "docker"):
        path = shutil.which(client)
        if path and subprocess.run([path, "stack", "config", "--help"], check=False, capture_output=True,
                                   timeout=20).returncode == 0:
            break
    else:
        pytest.skip("no docker client here has `docker stack config`")
    env = dict(os.environ, DOCKER_API_VERSION="1.41", REGISTRY="reg.example:5000",
               WEB_VERSION="2.0.0", API_VERSION="3.0.0")
    res = subprocess.run([path, "stack", "config", "-c", str(STACK)], check=False, capture_output=True, text=True,
                         timeout=30, env=env, cwd=STACK.parent)
    assert res.returncode == 0, res.stderr
    final = yaml.safe_load(res.stdout)
    assert final["services"]["web"]["image"] == "reg.example:5000/conductor/demo-app:2.0.0"
    assert final["services"]["api"]["image"] == "reg.example:5000/conductor/demo-app:3.0.0"
    assert final["services"]["api"]["environment"]["VERSION"] == "api-3.0.0"


# --- the lab registry ----------------------------------------------------------------

def test_registry_push_and_pull_by_digest(images, run_app):
    name = f"{PREFIX}-registry"
    version = f"test-{RUN_ID}"
    local = f"{REPO}:{version}"
    pulled = None
    app = None
    network_existed = docker("network", "inspect", registry.NETWORK, check=False).returncode == 0
    try:
        info = registry.up(name)
        assert info["address_in_lab"] == f"{name}:5000"
        assert re.fullmatch(r"127\.0\.0\.1:\d+", info["address_from_host"])
        assert info["username"] == "conductor"
        pw_file = Path(info["password_file"])
        assert pw_file.is_relative_to(ROOT / ".lab" / "registry")
        assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
        password = pw_file.read_text().strip()
        assert len(password) >= 32
        labels = docker("inspect", "-f", '{{index .Config.Labels "io.conductor-swarm.lab"}}', name).stdout
        assert labels.strip() == "registry"
        assert password not in docker("inspect", name).stdout
        assert registry.up(name) == info  # idempotent

        # An image of its own (a version no one else uses), so removing it
        # locally and pulling it back proves the registry served it.
        res = subprocess.run([str(BUILD), version], check=False, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        image_id = docker("image", "inspect", "-f", "{{.Id}}", local).stdout.strip()
        digest = registry.push([local], name=name)[local]
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
        docker("image", "rm", local)
        assert docker("image", "inspect", local, check=False).returncode != 0

        pulled = f"{info['address_from_host']}/{REPO}@{digest}"
        with tempfile.TemporaryDirectory() as anonymous:
            res = docker("pull", pulled, check=False, config=anonymous, timeout=60)
            assert res.returncode != 0 and re.search(r"unauthorized|no basic auth|authentication required",
                                                     res.stderr, re.I), res.stderr
        docker("pull", pulled, config=info["docker_config"], timeout=120)
        assert docker("image", "inspect", "-f", "{{.Id}}", pulled).stdout.strip() == image_id
        app = run_app("from-registry", image=pulled)
        status, body, _took = http_get(app.port, "/")
        assert status == 200 and body.startswith(f"version={version} ")
    finally:
        if app is not None:
            docker("rm", "-f", "-v", app.name, check=False)
        docker("image", "rm", "-f", local, check=False)
        if pulled:
            docker("image", "rm", "-f", pulled, check=False)
        registry.down(name)
        if not network_existed:  # made for this test only; leave the engine as found
            docker("network", "rm", registry.NETWORK, check=False)
    assert docker("inspect", name, check=False).returncode != 0
    assert docker("volume", "inspect", registry.volume_name(name), check=False).returncode != 0
    assert not registry.state_dir(name).exists()
    registry.down(name)  # idempotent
