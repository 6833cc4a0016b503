"""The edge agent with this machine's real haproxy, against a fake Docker API and real backends.

Each backend task listens on its own loopback address with the route's port, as a Swarm task
has its own IP. The agent polls the fake API at its default rates (250 ms its own service,
500 ms routed services and tasks), so the timings measured here are the ones a swarm gets.
"""
import json
import shutil
import socket
import threading
import time

import pytest

import fake_swarm
from fake_swarm import AgentProcess, Backend, Client, free_port, wait_for

HAPROXY = shutil.which("haproxy") or (shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin"))
if HAPROXY is None:
    print("SKIP: no haproxy binary on this machine (apt-get install haproxy)")
pytestmark = pytest.mark.skipif(HAPROXY is None, reason="no haproxy binary on this machine (apt-get install haproxy)")

EDGE_ID = "edgesvc000000000000000001"
BLUE_ID = "bluesvc000000000000000001"
GREEN_ID = "greensvc00000000000000001"
STATUS = "/.well-known/conductor-edge/status"


class Lab:
    def __init__(self, tmp):
        self.tmp = tmp
        self.app_port = free_port("127.0.0.2")
        self.http_port = free_port()
        self.status_port = free_port()
        self.log_port = free_port()
        self.swarm = fake_swarm.FakeSwarm(str(tmp / "docker.sock"))
        self.backends = {}
        self.generation = 0
        self.agent = None
        self.runs = 0
        route = {"conductor.swarm.route.host": "demo.local", "conductor.swarm.route.port": str(self.app_port),
                 "conductor.swarm.route.health": "/healthz", "conductor.swarm.route-key": "demo_web"}
        self.swarm.put_service(EDGE_ID, "demo_edge", {"com.docker.stack.namespace": "demo"})
        self.swarm.put_service(BLUE_ID, "demo_web", dict(route, **{"conductor.swarm.variant": "blue"}))
        self.swarm.put_service(GREEN_ID, "demo_web-green", dict(route, **{"conductor.swarm.variant": "green"}))
        self.add_task("blue1", BLUE_ID, "127.0.0.2", "blue")
        self.add_task("green1", GREEN_ID, "127.0.0.3", "green")
        self.set_state({"demo_web": {"green": 0, "preview": "green"}})

    def add_task(self, task_id, service_id, ip, version, healthy=True):
        self.backends[task_id] = Backend(ip, self.app_port, version, healthy)
        self.swarm.put_task(task_id, service_id, ip)

    def set_state(self, routes):
        self.generation += 1
        self.swarm.set_state({"generation": self.generation, "routes": routes})
        return self.generation

    def start_agent(self, wait_status=True):
        self.runs += 1
        run_dir = self.tmp / ("run%d" % self.runs)  # a fresh one each time: state comes from the swarm
        env = self.agent_env(self.http_port, self.status_port, self.log_port)
        self.agent = AgentProcess(env, run_dir, self.tmp / "agent.log").start()
        if wait_status:
            assert wait_for(lambda: self.status_or_none() is not None, 15), self.agent_log()
        else:
            assert wait_for(self.port_open, 15, 0.01), self.agent_log()

    def agent_env(self, http_port, status_port, log_port):
        return {"EDGE_SERVICE": "demo_edge", "EDGE_NETWORK": "demo_edge", "EDGE_DOCKER_SOCKET": self.swarm.socket_path,
                "EDGE_HTTP_ADDR": "127.0.0.1", "EDGE_HTTP_PORT": str(http_port),
                "EDGE_STATUS_PORT": str(status_port), "EDGE_LOG_PORT": str(log_port), "EDGE_HAPROXY": HAPROXY}

    def port_open(self):
        try:
            socket.create_connection(("127.0.0.1", self.http_port), 1).close()
            return True
        except OSError:
            return False

    def agent_log(self):
        return (self.tmp / "agent.log").read_text(errors="replace")[-4000:]

    def status_or_none(self, since=None, source=None):
        client = Client(self.http_port, source=source)
        resp = client.request(STATUS + ("?since=%s" % since if since is not None else ""))
        client.close()
        if resp["status"] != 200:
            return None
        return json.loads(resp["body"])

    def status(self, since=None):
        status = self.status_or_none(since)
        assert status is not None, self.agent_log()
        return status

    def wait_generation(self, generation, timeout=3):
        ok = wait_for(lambda: (self.status_or_none() or {}).get("generation") == generation, timeout)
        assert ok, "generation %d not applied: %s\n%s" % (generation, json.dumps(self.status_or_none())[:2000], self.agent_log())

    def close(self):
        if self.agent and self.agent.proc.poll() is None:
            self.agent.kill()
        for backend in self.backends.values():
            if not backend.stopping:
                backend.stop()
        self.swarm.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(tmp_path_factory.mktemp("edge"))
    try:
        lab.start_agent()
        yield lab
    finally:
        lab.close()  # also when the agent did not start: no process left behind


class Load:
    """Keep-alive clients sending requests back to back in threads, every answer recorded."""

    def __init__(self, lab, clients=2, path="/", host="demo.local"):
        self.lab, self.path = lab, path
        self.results = []
        self.stop_flag = False
        self.clients = [Client(lab.http_port, host=host) for _n in range(clients)]
        self.threads = [threading.Thread(target=self.run, args=(c,), daemon=True) for c in self.clients]

    def run(self, client):
        while not self.stop_flag:
            self.results.append(client.request(self.path))
            time.sleep(0.002)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag = True
        for thread in self.threads:
            thread.join(5)
        for client in self.clients:
            client.close()

    def failed(self):
        return [r for r in self.results if r["status"] != 200]


def versions(results):
    out = {}
    for r in results:
        out[r["version"]] = out.get(r["version"], 0) + 1
    return out


def test_traffic_flows_to_the_live_colour_and_unknown_hosts_get_404(lab):
    lab.wait_generation(lab.generation)
    client = Client(lab.http_port)
    got = [client.request("/") for _n in range(20)]
    assert versions(got) == {"blue": 20}
    assert Client(lab.http_port, host="other.local").request("/")["status"] == 404
    post = client.request("/", method="POST", body=b"x" * 1000)
    assert (post["status"], post["version"]) == (200, "blue")
    # The agent only ever reads the Docker API.
    assert not [r for r in lab.swarm.requests if r[0] != "GET"]


def test_switch_to_green_reaches_a_keep_alive_client_within_a_second(lab):
    lab.wait_generation(lab.generation)
    reloads = lab.status()["reloads"]
    client = Client(lab.http_port)
    assert client.request("/")["version"] == "blue"
    generation = lab.set_state({"demo_web": {"green": 100, "preview": "green"}})
    switched_at = time.monotonic()
    seen = []
    while time.monotonic() - switched_at < 3:
        seen.append(client.request("/"))
        if seen[-1]["version"] == "green":
            break
        time.sleep(0.005)
    first_green = seen[-1]
    assert first_green["version"] == "green", versions(seen)
    took = first_green["t"] - switched_at
    after = [client.request("/") for _n in range(50)]
    print("switch took %.0f ms (keep-alive client, %d requests before)" % (took * 1000, len(seen) - 1))
    assert took < 1.0
    assert versions(after) == {"green": 50}
    assert client.connects == 1, "the client had to reconnect"
    assert not [r for r in seen + after if r["status"] != 200]
    lab.wait_generation(generation)
    assert lab.status()["reloads"] == reloads, "a switch must not reload haproxy"


def test_canary_ten_percent_and_preview_header(lab):
    generation = lab.set_state({"demo_web": {"green": 10, "preview": "green"}})
    lab.wait_generation(generation)
    client = Client(lab.http_port)
    n = 3000
    got = versions(client.request("/") for _n in range(n))
    share = got.get("green", 0) / float(n)
    print("canary 10 %%: %d of %d requests to green (%.1f %%)" % (got.get("green", 0), n, share * 100))
    # Binomial sd at p=0.1, n=3000 is 0.55 %: the bound is 4.5 sd wide on each side
    # (a wrong share of 5 %, 15 %, 1/3 or 1/2 fails it, a right one passes but for 1 run in 100000).
    assert 0.075 <= share <= 0.125, got
    assert got.get("blue", 0) + got.get("green", 0) == n
    preview = [client.request("/", headers={"X-Conductor-Preview": "1"}) for _n in range(30)]
    assert versions(preview) == {"green": 30}


def test_status_counts_5xx_per_backend_and_refuses_other_addresses(lab):
    generation = lab.set_state({"demo_web": {"green": 50}})
    lab.wait_generation(generation)
    lab.backends["green1"].fail = True
    try:
        client = Client(lab.http_port)
        got = [client.request("/") for _n in range(400)]
    finally:
        lab.backends["green1"].fail = False
    green_500 = len([r for r in got if r["version"] == "green" and r["status"] == 500])
    blue_200 = len([r for r in got if r["version"] == "blue" and r["status"] == 200])
    assert green_500 + blue_200 == 400 and green_500 > 100
    # The log datagrams arrive asynchronously: wait until all are counted.
    ok = wait_for(lambda: lab.status()["metrics"]["backends"].get("be_demo_web_green", {}).get("requests") == green_500, 3)
    status = lab.status()
    assert ok, json.dumps(status["metrics"])
    assert status["generation"] == generation and status["desired_generation"] == generation
    assert status["converged"] is True and status["fallbacks"] == []
    assert status["haproxy"]["version"].split(".")[0] in ("2", "3")
    green = status["metrics"]["backends"]["be_demo_web_green"]
    blue = status["metrics"]["backends"]["be_demo_web_blue"]
    assert (green["status_5xx"], green["requests"], green["conn_errors"]) == (green_500, green_500, 0)
    assert (blue["status_5xx"], blue["status_2xx"]) == (0, blue_200)
    assert green["latency_ms"]["p99"] is not None
    assert status["backends"]["be_demo_web_green"]["stats"]["hrsp_5xx"] >= green_500
    assert status["routes"]["demo_web"]["split"] == {"main": "blue", "alt": "green", "green": 50, "preview": None}
    servers = status["backends"]["be_demo_web_blue"]["servers"]
    assert [(s["task_id"], s["status"]) for s in servers] == [("blue1", "UP")]
    # A window from the future is empty; one from the past has the requests.
    assert status_window(lab, time.time() + 60) == {}
    assert status_window(lab, time.time() - 60)["be_demo_web_green"]["status_5xx"] >= green_500
    # From an address that is not a node of the swarm: refused by haproxy.
    refused = Client(lab.http_port, source="127.0.0.9").request(STATUS)
    assert refused["status"] == 403


def status_window(lab, since):
    return lab.status(since=since)["window"]["backends"]


def test_task_shutting_down_is_drained_before_it_stops(lab):
    lab.add_task("green2", GREEN_ID, "127.0.0.4", "green")
    generation = lab.set_state({"demo_web": {"green": 100}})
    lab.wait_generation(generation)

    def green_servers():
        return globals()["green_servers"](lab)

    assert wait_for(lambda: green_servers() == {"green1": "UP", "green2": "UP"}, 5), green_servers()
    with Load(lab, clients=3) as load:
        assert wait_for(lambda: lab.backends["green2"].hits > 20, 5)
        lab.swarm.update_task("green2", desired="shutdown")
        flipped = time.monotonic()
        assert wait_for(lambda: green_servers().get("green2") in ("DRAIN", "MAINT"), 2), green_servers()
        drained_in = time.monotonic() - flipped
        time.sleep(0.3)
        hits = lab.backends["green2"].hits
        lab.backends["green2"].stop()  # what the task does on SIGTERM
        lab.swarm.update_task("green2", state="shutdown")
        assert wait_for(lambda: "green2" not in green_servers(), 5), green_servers()
        time.sleep(0.5)
    print("drained %.0f ms after DesiredState=shutdown; %d requests under load, %d failed"
          % (drained_in * 1000, len(load.results), len(load.failed())))
    assert drained_in < 1.0
    assert lab.backends["green2"].hits == hits, "requests reached the task after it was drained"
    assert len(load.results) > 200
    assert load.failed() == []
    assert set(versions(load.results)) == {"green"}


def green_servers(lab):
    return dict((s["task_id"], s["status"]) for s in lab.status()["backends"]["be_demo_web_green"]["servers"])


def test_a_new_task_gets_traffic_only_once_its_health_check_passes(lab):
    generation = lab.set_state({"demo_web": {"green": 100}})
    lab.wait_generation(generation)
    with Load(lab, clients=2) as load:
        lab.add_task("green3", GREEN_ID, "127.0.0.6", "green", healthy=False)
        assert wait_for(lambda: "green3" in green_servers(lab), 2), green_servers(lab)
        time.sleep(1.2)
        assert green_servers(lab)["green3"].startswith("DOWN"), green_servers(lab)
        assert lab.backends["green3"].hits == 0
        lab.backends["green3"].healthy = True
        assert wait_for(lambda: green_servers(lab)["green3"] == "UP", 2), green_servers(lab)
        assert wait_for(lambda: lab.backends["green3"].hits > 10, 2)
    assert load.failed() == []
    # Its share: one of the two green servers, round robin.
    share = lab.backends["green3"].hits / float(lab.backends["green3"].hits + lab.backends["green1"].hits)
    assert lab.backends["green3"].hits > 10 and share <= 0.5


def test_a_colour_with_no_server_up_gets_no_traffic(lab):
    generation = lab.set_state({"demo_web": {"green": 100}})
    lab.wait_generation(generation)
    green = [b for name, b in lab.backends.items() if name.startswith("green") and not b.stopping]
    with Load(lab, clients=2) as load:
        for backend in green:
            backend.healthy = False
        fell_back = wait_for(lambda: lab.status()["routes"]["demo_web"]["split"]["main"] == "blue", 3)
        t_fell_back = time.monotonic()
        wait_for(lambda: time.monotonic() - t_fell_back > 0.5, 1)
        for backend in green:
            backend.healthy = True
        assert fell_back, lab.status()["routes"]["demo_web"]
        status = lab.status()
        assert status["converged"] is False
        assert status["fallbacks"] == ["demo_web: green has no server up, sending 100 % to blue instead"]
        back = wait_for(lambda: lab.status()["routes"]["demo_web"]["split"]["main"] == "green", 3)
    assert back
    assert load.failed() == []
    assert set(versions(load.results)) == {"blue", "green"}


def test_new_route_reloads_and_switches_do_not(lab):
    reloads = lab.status()["reloads"]
    api_id = "apisvc0000000000000000001"
    client = Client(lab.http_port, host="anything.local")
    # Keep-alive clients busy through the reload: the old worker closes their
    # connections with "Connection: close" on a response, never under a request.
    with Load(lab, clients=3) as load:
        time.sleep(0.3)
        lab.swarm.put_service(api_id, "demo_api", {"conductor.swarm.route.path": "/api",
                                                   "conductor.swarm.route.port": str(lab.app_port)})
        lab.add_task("api1", api_id, "127.0.0.5", "api")
        assert wait_for(lambda: client.request("/api/x")["version"] == "api", 5), lab.agent_log()
        time.sleep(0.5)
    assert len(load.results) > 200 and load.failed() == []
    assert client.request("/api")["version"] == "api"
    assert client.request("/apiv2")["status"] == 404
    assert lab.status()["reloads"] == reloads + 1
    # A broken label is reported, the other routes keep working.
    lab.swarm.put_service("badsvc0000000000000000001", "demo_bad", {"conductor.swarm.route.port": "http"})
    assert wait_for(lambda: lab.status()["route_errors"], 3)
    assert "demo_bad" in lab.status()["route_errors"][0]
    assert Client(lab.http_port).request("/")["version"] == "green"


def test_single_task_start_first_update_keeps_a_server_in_rotation(lab):
    # demo_api (plain, one task) from the test before: Swarm starts the new task, then
    # wants the old one shut down, both seen on the same poll.
    api_id = "apisvc0000000000000000001"
    client = Client(lab.http_port, host="anything.local")
    assert client.request("/api")["version"] == "api"
    lab.backends["api2"] = Backend("127.0.0.7", lab.app_port, "api-v2")
    with Load(lab, clients=3, path="/api", host="anything.local") as load:
        time.sleep(0.3)
        with lab.swarm.lock:
            lab.swarm.tasks["api2"] = fake_swarm.make_task("api2", api_id, "127.0.0.7")
            lab.swarm.tasks["api1"]["DesiredState"] = "shutdown"
        assert wait_for(lambda: lab.backends["api2"].hits > 10, 3), lab.agent_log()
        time.sleep(0.3)
        lab.backends["api1"].stop()
        lab.swarm.update_task("api1", state="shutdown")
        time.sleep(0.5)
    assert len(load.results) > 200 and load.failed() == []
    assert versions(load.results[-20:]) == {"api-v2": 20}


def test_restart_serves_the_stored_state_at_once_and_sigterm_is_graceful(lab):
    generation = lab.set_state({"demo_web": {"green": 100}})
    lab.wait_generation(generation)
    # SIGTERM while a slow request is in flight: it finishes, then the agent exits 0.
    slow = {}
    thread = threading.Thread(target=lambda: slow.update(Client(lab.http_port).request("/slow")))
    thread.start()
    time.sleep(0.3)
    assert lab.agent.terminate() == 0
    thread.join(5)
    assert (slow.get("status"), slow.get("version")) == (200, "green")
    # A crash (agent and haproxy killed), then a new agent with an empty run directory.
    lab.start_agent()
    lab.agent.kill()
    # The killed haproxy's listener may outlive the agent by a moment: the new one is
    # to answer, not a dying process.
    assert wait_for(lambda: not lab.port_open(), 5, 0.01)
    lab.start_agent(wait_status=False)
    first = Client(lab.http_port).request("/")
    assert (first["status"], first["version"]) == (200, "green"), (first, lab.agent_log())
    assert lab.status()["generation"] == generation


def test_a_route_with_a_hold_keeps_requests_waiting_until_a_server_is_up(lab):
    """Label conductor.swarm.route.hold: a recreate's gap costs clients latency, not errors, up to the bound."""
    held_id = "heldsvc000000000000000001"
    reloads = lab.status()["reloads"]
    lab.swarm.put_service(held_id, "demo_held", {"conductor.swarm.route.host": "held.local",
                                                 "conductor.swarm.route.port": str(lab.app_port),
                                                 "conductor.swarm.route.hold": "3s"})
    # A new route: HAProxy reloads with it.
    assert wait_for(lambda: (lab.status_or_none() or {}).get("reloads", 0) > reloads, 5), lab.agent_log()
    # No server at all: held for the whole bound, then HAProxy's 503.
    started = time.monotonic()
    alone = Client(lab.http_port, host="held.local").request("/")
    waited = time.monotonic() - started
    assert alone["status"] == 503 and 2.9 <= waited < 4.5, (alone, waited)
    # A task comes up a second into the hold: the request waits for it and is served.
    got = {}

    def held_request():
        begun = time.monotonic()
        got.update(Client(lab.http_port, host="held.local").request("/"), took=time.monotonic() - begun)
    thread = threading.Thread(target=held_request)
    thread.start()
    time.sleep(1.0)
    lab.add_task("held1", held_id, "127.0.0.8", "held")
    thread.join(10)
    print("held request served after %.2fs (task added after 1 s)" % got["took"])
    assert (got["status"], got["version"]) == (200, "held"), got
    assert 1.0 <= got["took"] < 3.0, got
    # Other routes are not held: an unknown host is still an immediate 404.
    started = time.monotonic()
    assert Client(lab.http_port, host="other.local").request("/")["status"] == 404
    assert time.monotonic() - started < 0.5


def test_a_router_sends_every_request_to_its_route_and_follows_the_switch(lab):
    """EDGE_ROUTE: the proxy a stack's callers reach by the service's own name (variant_router.py)."""
    port = free_port()
    env = dict(lab.agent_env(port, free_port(), free_port()), EDGE_ROUTE="demo_web")
    router = AgentProcess(env, lab.tmp / "router-run", lab.tmp / "router.log").start()
    try:
        client = Client(port, host="web:%d" % lab.app_port)  # the name a caller inside the stack uses
        assert wait_for(lambda: client.request("/")["status"] == 200, 15), (lab.tmp / "router.log").read_text()[-3000:]
        generation = lab.set_state({"demo_web": {"green": 100}})
        lab.wait_generation(generation)
        assert wait_for(lambda: client.request("/")["version"] == "green", 1)
        # No host or path rules: /api is demo_api's at the edge, here it is still demo_web's.
        assert versions(client.request(p) for p in ["/", "/api", "/anything"] * 5) == {"green": 15}
        lab.set_state({"demo_web": {"green": 0}})
        switched_at = time.monotonic()
        assert wait_for(lambda: client.request("/")["version"] == "blue", 1, 0.005), (lab.tmp / "router.log").read_text()[-3000:]
        print("router switch back took %.0f ms" % ((time.monotonic() - switched_at) * 1000))
        assert versions(client.request("/") for _n in range(20)) == {"blue": 20}
        assert client.connects == 1, "the client had to reconnect"
        status = json.loads(Client(port).request(STATUS)["body"])
        assert sorted(status["routes"]) == ["demo_web"]
    finally:
        assert router.terminate() == 0
