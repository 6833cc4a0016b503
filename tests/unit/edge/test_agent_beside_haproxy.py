"""The edge as the edge_proxy role runs it: HAProxy in a process of its own, the agent beside it.

HAProxy starts with the role's own command line (the proxy service's entrypoint, read from
roles/edge_proxy/tasks/main.yml) on the run directory the agent writes; the agent reads the
swarm through the read-only Docker API (this machine's haproxy on docker-api.cfg, in front of
a fake Docker API), never from a socket of its own. Real HAProxy, real backends.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

import fake_swarm
from fake_swarm import AgentProcess, Backend, Client, free_port, wait_for

HAPROXY = shutil.which("haproxy") or (shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin"))
if HAPROXY is None:
    print("SKIP: no haproxy binary on this machine (apt-get install haproxy)")
pytestmark = pytest.mark.skipif(HAPROXY is None, reason="no haproxy binary on this machine (apt-get install haproxy)")

ROOT = Path(__file__).resolve().parents[3]
ROLE_TASKS = ROOT / "roles" / "edge_proxy" / "tasks" / "main.yml"
DOCKER_API_CFG = ROOT / "roles" / "edge_proxy" / "files" / "docker-api.cfg"
STATUS = "/.well-known/conductor-edge/status"
EDGE_ID = "edgesvc000000000000000001"
BLUE_ID = "bluesvc000000000000000001"
GREEN_ID = "greensvc00000000000000001"


def role_services():
    task = yaml.safe_load(ROLE_TASKS.read_text())[0]
    return task["conductor.swarm.stack_deploy"]["compose"][0]["services"], task["vars"]


def proxy_command(run_dir):
    """The proxy service's entrypoint, with the run directory (a volume on a node) made a local path."""
    services, role_vars = role_services()
    command = [part.replace("{{ edge_run_dir }}", str(run_dir)) for part in services["proxy"]["entrypoint"]]
    assert "{{" not in " ".join(command) and role_vars["edge_run_dir"] == "/run/conductor-edge"
    return command


class Process:
    def __init__(self, argv, env, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=dict(os.environ, **env), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def send(self, signum):
        """To the container's PID 1 only, as `docker stop` does (HAProxy's master passes it on)."""
        os.kill(self.proc.pid, signum)

    def stop(self, signum=None):
        """The process's exit code after ``signum`` (None: it was sent already), or killed at once."""
        if signum is None:
            pass
        elif signum == signal.SIGKILL:
            os.killpg(self.proc.pid, signum)
        else:
            self.send(signum)
        code = self.proc.wait(20)
        self.log.close()
        return code


class Edge:
    def __init__(self, tmp):
        self.tmp = tmp
        self.app_port = free_port("127.0.0.2")
        self.http_port = free_port()
        self.api_port = free_port()
        self.run_dir = tmp / "run"  # the volume proxy and agent share
        self.swarm = fake_swarm.FakeSwarm(str(tmp / "docker.sock"))
        self.backends = {}
        self.generation = 0
        route = {"conductor.swarm.route.host": "demo.local", "conductor.swarm.route.port": str(self.app_port),
                 "conductor.swarm.route-key": "demo_web"}
        self.swarm.put_service(EDGE_ID, "demo_edge", {"com.docker.stack.namespace": "demo"})
        self.swarm.put_service(BLUE_ID, "demo_web", dict(route, **{"conductor.swarm.variant": "blue"}))
        self.swarm.put_service(GREEN_ID, "demo_web-green", dict(route, **{"conductor.swarm.variant": "green"}))
        for task_id, service_id, ip, version in (("blue1", BLUE_ID, "127.0.0.2", "blue"),
                                                 ("green1", GREEN_ID, "127.0.0.3", "green")):
            self.backends[task_id] = Backend(ip, self.app_port, version)
            self.swarm.put_task(task_id, service_id, ip)
        self.set_state({"demo_web": {"green": 0}})
        # The read-only Docker API service, on this machine's haproxy.
        self.api = Process([HAPROXY, "-W", "-db", "-f", str(DOCKER_API_CFG)],
                           {"EDGE_DOCKER_SOCKET": self.swarm.socket_path,
                            "EDGE_DOCKER_API_BIND": "127.0.0.1:%d" % self.api_port}, tmp / "api.log")
        self.agent = self.proxy = None

    def set_state(self, routes):
        self.generation += 1
        self.swarm.set_state({"generation": self.generation, "routes": routes})
        return self.generation

    def start_agent(self):
        env = {"EDGE_SERVICE": "demo_edge", "EDGE_NETWORK": "demo_edge", "EDGE_HAPROXY_EXTERNAL": "1",
               "EDGE_DOCKER_URL": "http://127.0.0.1:%d" % self.api_port,
               "EDGE_DOCKER_SOCKET": str(self.tmp / "no-such.sock"),  # it must not need one
               "EDGE_HTTP_ADDR": "127.0.0.1", "EDGE_HTTP_PORT": str(self.http_port),
               "EDGE_STATUS_PORT": str(free_port()), "EDGE_HAPROXY": HAPROXY}
        self.agent = AgentProcess(env, self.run_dir, self.tmp / "agent.log").start()

    def start_proxy(self):
        self.proxy = Process(proxy_command(self.run_dir), {"PATH": "%s:%s" % (os.path.dirname(HAPROXY), os.environ["PATH"])},
                             self.tmp / "proxy.log")

    def logs(self):
        return "\n".join("--- %s\n%s" % (name, (self.tmp / name).read_text(errors="replace")[-2500:])
                         for name in ("agent.log", "proxy.log", "api.log") if (self.tmp / name).exists())

    def status_or_none(self):
        resp = Client(self.http_port).request(STATUS)
        return json.loads(resp["body"]) if resp["status"] == 200 else None

    def wait_generation(self, generation, timeout=5):
        ok = wait_for(lambda: (self.status_or_none() or {}).get("generation") == generation, timeout)
        assert ok, "generation %d not applied\n%s" % (generation, self.logs())

    def close(self):
        for proc in (self.agent and self.agent.proc, self.proxy and self.proxy.proc, self.api.proc):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        for backend in self.backends.values():
            if not backend.stopping:
                backend.stop()
        self.swarm.close()


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    edge = Edge(tmp_path_factory.mktemp("edge-beside"))
    try:
        yield edge
    finally:
        edge.close()


def api_get(edge, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", edge.api_port, timeout=5)
    try:
        conn.request(method, path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def test_the_docker_api_service_answers_only_reads_of_swarm_objects(edge):
    assert wait_for(lambda: api_get(edge, "/v1.41/nodes") == 200, 5), edge.logs()
    for path in ("/v1.41/services", "/v1.41/services/demo_edge", "/v1.41/tasks?filters=%7B%7D", "/v1.41/networks",
                 "/services", "/nodes"):  # unversioned too: the Engine's own version
        assert api_get(edge, path) == 200, path
    refused = ["/v1.41/containers/json", "/v1.41/services/demo_edge/logs", "/v1.41/secrets", "/v1.41/info",
               "/v1.41/services/..", "/v1.41/services/.", "/services/../containers/json", "/v1x41/services",
               "/v1.41/services/demo_edge%2F..%2F..%2Fcontainers", "/containers/json", "/v1.41/swarm"]
    assert dict((p, api_get(edge, p)) for p in refused) == dict((p, 403) for p in refused)
    for method in ("POST", "DELETE", "PUT"):
        assert api_get(edge, "/v1.41/services/demo_edge/update", method) == 403
        assert api_get(edge, "/v1.41/services/demo_edge", method) == 403
    assert not [r for r in edge.swarm.requests if r[0] != "GET"], "a write reached the Docker API"


def test_haproxy_waits_for_the_agent_then_serves_the_swarms_state(edge):
    edge.start_proxy()  # first, as Swarm may start it: it waits for the agent's configuration
    time.sleep(1.0)
    assert edge.proxy.proc.poll() is None and not (edge.run_dir / "haproxy.cfg").exists()
    edge.start_agent()
    edge.wait_generation(edge.generation, 15)
    client = Client(edge.http_port)
    assert [client.request("/")["version"] for _n in range(5)] == ["blue"] * 5, edge.logs()
    status = edge.status_or_none()
    assert status["haproxy"]["pid"] and sorted(status["routes"]) == ["demo_web"]
    # The request log reached the agent over the run directory's log socket: it counted those 5.
    assert wait_for(lambda: ((edge.status_or_none()["metrics"]["backends"].get("be_demo_web_blue") or {})
                             .get("requests", 0)) >= 5, 3), edge.logs()
    # The agent read everything through the API service: its own socket does not exist.
    assert any(r == ("GET", "/services/demo_edge") for r in edge.swarm.requests)


def test_a_switch_reaches_a_keep_alive_client_without_a_reload(edge):
    reloads = edge.status_or_none()["reloads"]
    client = Client(edge.http_port)
    assert client.request("/")["version"] == "blue"
    edge.set_state({"demo_web": {"green": 100}})
    assert wait_for(lambda: client.request("/")["version"] == "green", 2, 0.01), edge.logs()
    assert client.connects == 1 and edge.status_or_none()["reloads"] == reloads


def test_haproxy_goes_on_serving_while_the_agent_is_gone_and_a_new_agent_takes_over(edge):
    edge.agent.kill()
    client = Client(edge.http_port)
    assert [client.request("/")["version"] for _n in range(20)] == ["green"] * 20
    # The state changes while no agent runs; the next agent applies it to the running HAProxy.
    generation = edge.set_state({"demo_web": {"green": 0}})
    edge.start_agent()
    edge.wait_generation(generation, 15)
    assert wait_for(lambda: client.request("/")["version"] == "blue", 2, 0.01), edge.logs()


def test_a_restarted_haproxy_serves_the_current_state_from_its_first_request(edge):
    # A task added since the last reload: the runtime API adds it, and the file says it too.
    edge.backends["blue2"] = Backend("127.0.0.4", edge.app_port, "blue-2")
    edge.swarm.put_task("blue2", BLUE_ID, "127.0.0.4")
    assert wait_for(lambda: "127.0.0.4" in (edge.run_dir / "haproxy.cfg").read_text(), 5), edge.logs()
    # With no agent left to tell it anything, HAProxy restarts on the files alone.
    edge.agent.kill()
    edge.proxy.stop(signal.SIGKILL)
    assert wait_for(lambda: Client(edge.http_port).request("/")["status"] is None, 5)
    edge.start_proxy()
    assert wait_for(lambda: _port_open(edge.http_port), 10, 0.01), edge.logs()
    first = [Client(edge.http_port).request("/") for _n in range(6)]
    assert all(r["status"] == 200 for r in first), (first, edge.logs())
    # Round robin over the file's two blue servers (no green: the live state is blue).
    assert sorted(set(r["version"] for r in first)) == ["blue", "blue-2"], (first, edge.logs())
    edge.start_agent()
    edge.wait_generation(edge.generation, 15)


def test_sigusr1_the_proxy_services_stop_signal_lets_a_request_in_flight_finish(edge):
    slow = Client(edge.http_port)
    got = {}
    thread = threading.Thread(target=lambda: got.update(slow.request("/slow")))
    thread.start()
    time.sleep(0.3)
    edge.proxy.send(signal.SIGUSR1)
    thread.join(10)
    assert (got.get("status"), got.get("version")) == (200, "blue"), got
    assert edge.proxy.stop() == 0
    assert re.search(r"haproxy .* answers", (edge.tmp / "agent.log").read_text())


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False
