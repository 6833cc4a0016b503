"""The example app (examples/app) and the lab registry (lab/registry.py), on
this machine's Docker Engine.

Every container and registry these tests make is named conductor-test-* and
removed afterwards, also on failure. HTTP goes only to 127.0.0.1 ports the
containers publish, a bounded number of requests with timeouts.

    .venv/bin/pytest -q tests/lab/test_example_app.py
"""
from __future__ import annotations

import http.client
import os
import re
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
             publish: bool = True, wait_healthy: bool = True) -> App:
        name = f"{PREFIX}-{purpose}-{len(names)}"
        names.append(name)
        args = ["run", "-d", "--name", name, "--label", "io.conductor-swarm.test=example-app"]
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
