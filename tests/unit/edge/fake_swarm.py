"""A fake Docker Engine API over a unix socket, real HTTP backends, and the edge agent as a process.

The API objects are copies of recorded ones (tests/unit/plugins/module_utils/fixtures/rollout),
with IDs, names, labels, states and addresses changed. Each backend task runs on its own
loopback address (127.0.0.2, 127.0.0.3, ...) with the same port, as Swarm tasks have their own
IPs and the route's port: the agent runs exactly the code it runs on a swarm.
"""
import copy
import http.client
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "rollout"
AGENT = ROOT / "roles" / "edge_proxy" / "files" / "edge_agent.py"
STATE_LABEL = "conductor.swarm.edge.state"
NETWORK_ID = "edgenet0000000000000000001"
NETWORK_NAME = "demo_edge"


def _load(name):
    return json.loads((FIXTURES / name).read_text())


SERVICE_TEMPLATE = _load("edge_global.service.json")
TASK_TEMPLATE = _load("web_update_healthy.tasks.json")[0]
NODE_TEMPLATE = _load("nodes_ready.json")[0]


def make_service(service_id, name, labels):
    svc = copy.deepcopy(SERVICE_TEMPLATE)
    svc["ID"] = service_id
    svc["Spec"]["Name"] = name
    svc["Spec"]["Labels"] = dict(labels)
    svc.pop("PreviousSpec", None)
    svc.pop("UpdateStatus", None)
    svc["Spec"]["TaskTemplate"]["Networks"] = [{"Target": NETWORK_ID, "Aliases": [name]}]
    return svc


def make_task(task_id, service_id, ip, state="running", desired="running"):
    task = copy.deepcopy(TASK_TEMPLATE)
    task["ID"] = task_id
    task["ServiceID"] = service_id
    task["Status"]["State"] = state
    task["Status"]["Message"] = state
    task["DesiredState"] = desired
    attachment = task["NetworksAttachments"][0]
    attachment["Network"]["ID"] = NETWORK_ID
    attachment["Network"]["Spec"]["Name"] = NETWORK_NAME
    attachment["Addresses"] = ["%s/24" % ip]
    # A second attachment on another network: the agent must pick the edge network's address.
    other = copy.deepcopy(attachment)
    other["Network"]["ID"] = "ingress00000000000000000001"
    other["Network"]["Spec"]["Name"] = "ingress"
    other["Addresses"] = ["10.255.0.9/16"]
    task["NetworksAttachments"] = [other, attachment]
    return task


def make_node(node_id, addr):
    node = copy.deepcopy(NODE_TEMPLATE)
    node["ID"] = node_id
    node["Status"]["Addr"] = addr
    node["ManagerStatus"]["Addr"] = "%s:2377" % addr
    return node


class FakeSwarm:
    """What GET /services, /services/{id}, /tasks, /nodes and /networks answer; editable by tests."""

    def __init__(self, socket_path):
        self.lock = threading.Lock()
        self.services = {}
        self.tasks = {}
        self.nodes = [make_node("node00000000000000000000001", "127.0.0.1")]
        self.requests = []
        self.socket_path = socket_path
        swarm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                code, body = swarm.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):  # noqa: N802 - the agent must never write
                swarm.requests.append(("POST", self.path))
                self.send_error(405)

            def address_string(self):
                return "unix"

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        if os.path.exists(socket_path):
            os.unlink(socket_path)
        self.server = Server(socket_path, Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def answer(self, raw_path):
        url = urlsplit(raw_path)
        path = url.path
        if path.startswith("/v1."):
            path = "/" + path.split("/", 2)[2]
        filters = json.loads(parse_qs(url.query).get("filters", ["{}"])[0])
        with self.lock:
            self.requests.append(("GET", path))
            if path == "/services":
                wanted = filters.get("label", [])
                return 200, [s for s in self.services.values()
                             if all(label.split("=", 1)[0] in s["Spec"]["Labels"] for label in wanted)]
            if path.startswith("/services/"):
                ref = path.split("/", 2)[2]
                for svc in self.services.values():
                    if ref in (svc["ID"], svc["Spec"]["Name"]):
                        return 200, svc
                return 404, {"message": "service %s not found" % ref}
            if path == "/tasks":
                ids = filters.get("service", [])
                return 200, [t for t in self.tasks.values() if not ids or t["ServiceID"] in ids]
            if path == "/nodes":
                return 200, self.nodes
            if path == "/networks":
                return 200, [{"Name": NETWORK_NAME, "Id": NETWORK_ID, "Scope": "swarm", "Driver": "overlay"},
                             {"Name": NETWORK_NAME + "_other", "Id": "othernet", "Scope": "swarm", "Driver": "overlay"}]
        return 404, {"message": "page not found"}

    def put_service(self, service_id, name, labels):
        with self.lock:
            self.services[service_id] = make_service(service_id, name, labels)

    def set_state(self, state):
        with self.lock:
            edge = [s for s in self.services.values() if s["Spec"]["Name"] == "demo_edge"][0]
            edge["Spec"]["Labels"][STATE_LABEL] = json.dumps(state)

    def put_task(self, task_id, service_id, ip, state="running", desired="running"):
        with self.lock:
            self.tasks[task_id] = make_task(task_id, service_id, ip, state, desired)

    def update_task(self, task_id, state=None, desired=None):
        with self.lock:
            task = self.tasks[task_id]
            if state:
                task["Status"]["State"] = state
            if desired:
                task["DesiredState"] = desired


class Backend:
    """An application task: HTTP/1.1 keep-alive, X-Version on every answer, /healthz, /slow, FAIL mode."""

    def __init__(self, ip, port, version, healthy=True):
        self.ip, self.port, self.version = ip, port, version
        self.fail = False
        self.healthy = healthy
        self.hits = 0
        self.stopping = False
        self.conns = {}
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are written apart

            def setup(self):
                BaseHTTPRequestHandler.setup(self)
                backend.conns[self.connection] = False

            def finish(self):
                backend.conns.pop(self.connection, None)
                try:
                    BaseHTTPRequestHandler.finish(self)
                except OSError:
                    pass

            def do_GET(self):  # noqa: N802
                self.respond()

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.respond()

            def respond(self):
                backend.conns[self.connection] = True
                if self.path == "/slow":
                    time.sleep(1.0)
                if self.path == "/healthz":
                    code = 200 if backend.healthy else 503
                else:
                    code = 500 if backend.fail else 200
                if self.path != "/healthz":
                    backend.hits += 1
                body = backend.version.encode()
                self.send_response(code)
                self.send_header("X-Version", backend.version)
                self.send_header("Content-Length", str(len(body)))
                if backend.stopping:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)
                backend.conns[self.connection] = False

            def handle_one_request(self):
                try:
                    BaseHTTPRequestHandler.handle_one_request(self)
                except OSError:
                    self.close_connection = True  # health checks end with a reset

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((ip, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        """Graceful stop: no new connections, requests in flight finish, idle connections closed."""
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()
        for conn, busy in list(self.conns.items()):
            if not busy:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port(ip="127.0.0.1"):
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return sock.getsockname()[1]


class Client:
    """A keep-alive HTTP client; records (time, status, version) and connection errors."""

    def __init__(self, port, host="demo.local", source=None):
        self.port, self.host, self.source = port, host, source
        self.conn = None
        self.connects = 0

    def request(self, path="/", headers=None, method="GET", body=None):
        hdrs = {"Host": self.host}
        hdrs.update(headers or {})
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10,
                                                       source_address=(self.source, 0) if self.source else None)
                self.conn.connect()
                self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connects += 1
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return {"t": time.monotonic(), "status": None, "version": None, "error": repr(exc)}
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return {"t": time.monotonic(), "status": resp.status, "version": resp.getheader("X-Version"),
                "body": data, "error": None}

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class AgentProcess:
    """The edge agent (and its haproxy child) in its own process group."""

    def __init__(self, env, run_dir, log_path):
        self.env = dict(os.environ, EDGE_RUN_DIR=str(run_dir), EDGE_COLLECTION_PATH=str(ROOT / ".build" / "collections"))
        self.env.update(env)
        self.log_path = log_path
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, str(AGENT)], env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def terminate(self, timeout=20):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def kill(self):
        """A crash: the agent and haproxy die at once, as when a container is killed."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
