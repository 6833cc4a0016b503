# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edge proxy's agent: PID 1 of the edge container, drives HAProxy from the swarm.

It polls the Docker Engine API (GET only), over the unix socket or over TCP
from the edge's read-only API service (EDGE_DOCKER_URL), for routed services,
their tasks, the desired routing state (a label on the edge's own service) and
the nodes; it steers HAProxy through the Runtime API: servers added, drained,
put in maintenance and deleted, the split between variants changed in a map.
It reloads HAProxy (via the master CLI) only when the set of routes changes.
It reads HAProxy's request log (forwarded from a ring) and serves its status
as JSON, which the frontend exposes at /.well-known/conductor-edge/status to
the allowed addresses.

Two ways to run:
  - the edge (EDGE_HAPROXY_EXTERNAL=1): HAProxy runs in a container of its own (the official
    image), started as ``haproxy -W -db -S <run dir>/master.sock -f <run dir>/haproxy.cfg``
    once the agent wrote that file; the run directory is a volume both mount, and the log
    and the status go over unix sockets in it. Either may restart without the other.
  - a router (EDGE_ROUTE), or the edge of earlier versions: ``haproxy -W -db`` is the agent's
    child in the same container; log and status on 127.0.0.1.

Environment (defaults in brackets):
  EDGE_SERVICE          the edge proxy's own service, whose label holds the routing state (required)
  EDGE_ROUTE            a route key: run as that route's router inside its stack, where the
                        service's name leads to this proxy (variant_router.py) [the edge: every route]
  EDGE_NETWORK          the network the proxy reaches tasks on [first network of a task]
  EDGE_DOCKER_URL       http://host:port of a Docker API that answers GET (the edge's read-only API
                        service, reachable from any node) [unset: EDGE_DOCKER_SOCKET]
  EDGE_DOCKER_SOCKET    Docker API unix socket [DOCKER_HOST's unix path or /var/run/docker.sock]
  EDGE_HAPROXY_EXTERNAL 1: HAProxy runs in another container sharing EDGE_RUN_DIR [0: the agent's child]
  EDGE_DOCKER_API_VERSION  [none: the Engine's own]
  EDGE_HTTP_PORT [80], EDGE_HTTP_ADDR [all addresses]
  EDGE_LOG_PORT [8406]: 127.0.0.1 port the agent reads HAProxy's request log on
  EDGE_STATUS_PORT [8405]; EDGE_STATUS_ALLOW  CIDRs, comma separated [the nodes' addresses from GET /nodes]
  EDGE_RUN_DIR [/run/conductor-edge]: config, maps, sockets
  EDGE_HAPROXY [haproxy]
  EDGE_POLL_SELF [0.25], EDGE_POLL_ROUTES [0.5], EDGE_POLL_NODES [10] seconds
  EDGE_CHECK_INTER [500ms], EDGE_HARD_STOP_AFTER [30s]
  EDGE_COLLECTION_PATH  a directory holding ansible_collections/conductor/swarm [/opt/conductor-edge]
"""

import ipaddress
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection, HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit


def _import_path():
    """The collection from the image, or from the checkout this file sits in (tests)."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.environ.get("EDGE_COLLECTION_PATH", ""), "/opt/conductor-edge",
                  os.path.join(here, "..", "..", "..", ".build", "collections")]
    for path in candidates:
        if path and os.path.isdir(os.path.join(path, "ansible_collections", "conductor", "swarm")):
            sys.path.insert(0, os.path.abspath(path))
            return


_import_path()

# pylint: disable=wrong-import-position
from ansible_collections.conductor.swarm.plugins.module_utils.edge import haproxy_config  # noqa: E402
from ansible_collections.conductor.swarm.plugins.module_utils.edge.request_metrics import (  # noqa: E402
    BackendCounters, MetricsStore, parse_log_line)
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import (  # noqa: E402
    VARIANTS, route_signature, routes_from_services, LABEL_PORT)
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_plan import (  # noqa: E402
    backend_name, decide_split, split_map_value, task_servers)
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_state import (  # noqa: E402
    STATE_LABEL, StateError, parse_state)
from ansible_collections.conductor.swarm.plugins.module_utils.edge.runtime_api import (  # noqa: E402
    RuntimeApi, RuntimeApiError, parse_reload, parse_show_info, parse_show_proc, parse_show_stat, server_is_up)


def log(message, *args):
    sys.stderr.write("%s edge-agent: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), message % args if args else message))
    sys.stderr.flush()


SERVER_WEIGHT = 1  # every task of a variant gets the same share of that variant's traffic


class DockerError(Exception):
    pass


class UnixHTTPConnection(HTTPConnection):
    """http.client over a unix socket: the Docker socket speaks HTTP/1.1."""

    def __init__(self, socket_path, timeout):
        HTTPConnection.__init__(self, "docker", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class DockerApi:
    """GET-only Docker Engine API client; one keep-alive connection, reopened on error.

    ``url`` (http://host:port) reaches the API over TCP, else ``socket_path``; the host name
    is resolved again at each reconnection, so another replica of the API service takes over."""

    def __init__(self, socket_path, version, timeout=5.0, url=None):
        self.socket_path = socket_path
        self.url = urlsplit(url) if url else None
        self.version = version
        self.timeout = timeout
        self.conn = None

    def connection(self):
        if self.url is not None:
            return HTTPConnection(self.url.hostname, self.url.port or 80, timeout=self.timeout)
        return UnixHTTPConnection(self.socket_path, self.timeout)

    def get(self, path, filters=None):
        # No version: the Engine's own, which every Engine answers (newer ones refuse old versions).
        url = ("/v%s%s" % (self.version, path)) if self.version else path
        if filters:
            url += "?filters=" + quote(json.dumps(filters, separators=(",", ":")))
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self.connection()
            try:
                self.conn.request("GET", url)
                resp = self.conn.getresponse()
                body = resp.read()
            except (OSError, socket.timeout, HTTPException) as exc:
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise DockerError("GET %s: %s" % (url, exc))
                continue
            if resp.status != 200:
                raise DockerError("GET %s: HTTP %d %s" % (url, resp.status, body[:200].decode("utf-8", "replace")))
            return json.loads(body.decode("utf-8"))
        raise DockerError("GET %s: unreachable" % url)


class Settings:
    """The agent's settings, from the environment (see the module docstring)."""

    def __init__(self, env):
        self.service = env.get("EDGE_SERVICE", "")
        if not self.service:
            raise SystemExit("edge-agent: EDGE_SERVICE (the edge proxy's own service name) is required")
        self.network = env.get("EDGE_NETWORK", "")
        self.route = env.get("EDGE_ROUTE", "") or None
        docker_host = env.get("DOCKER_HOST", "")
        default_sock = docker_host[len("unix://"):] if docker_host.startswith("unix://") else "/var/run/docker.sock"
        self.docker_socket = env.get("EDGE_DOCKER_SOCKET", default_sock)
        self.docker_url = env.get("EDGE_DOCKER_URL", "") or None
        if self.docker_url and urlsplit(self.docker_url).scheme != "http":
            raise SystemExit("edge-agent: EDGE_DOCKER_URL must be http://host:port, not %s" % self.docker_url)
        self.external = env.get("EDGE_HAPROXY_EXTERNAL", "0") not in ("", "0", "false")
        self.api_version = env.get("EDGE_DOCKER_API_VERSION", "")
        self.http_port = int(env.get("EDGE_HTTP_PORT", "80"))
        self.http_addr = env.get("EDGE_HTTP_ADDR", "")
        self.status_port = int(env.get("EDGE_STATUS_PORT", "8405"))
        self.log_port = int(env.get("EDGE_LOG_PORT", "8406"))
        self.status_allow = [c.strip() for c in env.get("EDGE_STATUS_ALLOW", "").split(",") if c.strip()]
        self.run_dir = env.get("EDGE_RUN_DIR", "/run/conductor-edge")
        self.haproxy = env.get("EDGE_HAPROXY", "haproxy")
        self.poll_self = float(env.get("EDGE_POLL_SELF", "0.25"))
        self.poll_routes = float(env.get("EDGE_POLL_ROUTES", "0.5"))
        self.poll_nodes = float(env.get("EDGE_POLL_NODES", "10"))
        self.check_inter = env.get("EDGE_CHECK_INTER", "500ms")
        self.hard_stop_after = env.get("EDGE_HARD_STOP_AFTER", "30s")
        for cidr in self.status_allow:
            ipaddress.ip_network(cidr, strict=False)

    def path(self, name):
        return os.path.join(self.run_dir, name)

    def haproxy_settings(self):
        shared = self.external  # HAProxy in another container reaches the agent through the run directory
        return {"bind": "%s:%d" % (self.http_addr, self.http_port), "status_port": self.status_port,
                "admin_socket": self.path("admin.sock"), "log_port": self.log_port,
                "log_address": "unix@" + self.path("log.sock") if shared else None,
                "status_address": "unix@" + self.path("status.sock") if shared else None,
                "split_map": self.path("split.map"), "status_acl": self.path("status-allow.acl"),
                "hold_lua": self.path("hold.lua"),
                "check_inter": self.check_inter, "hard_stop_after": self.hard_stop_after, "route": self.route}


def usable(row):
    """A server row of ``show stat`` that takes new requests: up, with a weight."""
    return bool(row) and server_is_up(str(row.get("status", ""))) and row.get("weight", 0) > 0


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.rename(tmp, path)


def unix_server(server_class, path, handler):
    """A stream server on a unix socket in the run directory, which HAProxy (another user) may use."""
    if os.path.exists(path):
        os.unlink(path)
    server = server_class(path, handler)
    os.chmod(path, 0o666)
    return server


def cidr_of(address):
    net = ipaddress.ip_network(address, strict=False) if "/" in address else ipaddress.ip_network(address)
    return str(net)


class Agent:
    """One loop (poll the swarm, reconcile HAProxy) plus threads for the log and the status."""

    def __init__(self, settings):
        self.s = settings
        self.hp = settings.haproxy_settings()
        self.docker = DockerApi(settings.docker_socket, settings.api_version, url=settings.docker_url)
        self.api = RuntimeApi(self.hp["admin_socket"])
        self.master = RuntimeApi(settings.path("master.sock"), timeout=15.0)  # 3.0 answers a reload once done
        self.lock = threading.Lock()
        self.stopping = False
        self.haproxy_pid = None
        # What the swarm says
        self.routes, self.route_errors = {}, []
        self.tasks = []
        self.network_id = None
        self.state = parse_state(None)
        self.state_error = None
        self.node_cidrs = []
        self.have_routes = self.have_self = False
        # What HAProxy has
        self.config_sig = None
        self.config_servers = None
        self.splits = {}
        self.split_values = {}
        self.allow = []
        self.stat_rows = []
        self.server_info = {}
        self.warned = set()
        self.notes = set()
        self.applied = {"generation": None, "at": None, "state": None}
        self.reloads = 0
        # Figures
        self.store = MetricsStore()
        self.gen_totals = {}
        self.next_due = {"self": 0.0, "routes": 0.0, "nodes": 0.0}

    # --- the swarm -------------------------------------------------------------------------

    def poll_self(self):
        svc = self.docker.get("/services/%s" % quote(self.s.service))
        text = ((svc.get("Spec") or {}).get("Labels") or {}).get(STATE_LABEL)
        try:
            state = parse_state(text)
            self.state_error = None
            self.state = state
        except StateError as exc:
            # Keep serving the last good state: a bad label must not reroute traffic.
            if self.state_error != str(exc):
                log("ignoring the routing state label: %s", exc)
            self.state_error = str(exc)
        self.have_self = True

    def poll_routes(self):
        services = self.docker.get("/services", {"label": [LABEL_PORT]})
        routes, errors = routes_from_services(services)
        if self.s.route:
            routes = dict((key, route) for key, route in routes.items() if key == self.s.route)
        for error in errors:
            if error not in self.route_errors:
                log("route not usable: %s", error)
        ids = [info["service_id"] for r in routes.values() for info in r["variants"].values()]
        tasks = self.docker.get("/tasks", {"service": ids}) if ids else []
        if self.s.network and self.network_id is None:
            for net in self.docker.get("/networks", {"name": [self.s.network]}):
                if net.get("Name") == self.s.network:
                    self.network_id = net.get("Id")
        self.routes, self.route_errors, self.tasks = routes, errors, tasks
        self.have_routes = True

    def poll_nodes(self):
        cidrs = []
        for node in self.docker.get("/nodes"):
            for addr in ((node.get("Status") or {}).get("Addr"),
                         ((node.get("ManagerStatus") or {}).get("Addr") or "").rsplit(":", 1)[0]):
                try:
                    if addr and cidr_of(addr) not in cidrs:
                        cidrs.append(cidr_of(addr))
                except ValueError:
                    continue
        self.node_cidrs = cidrs

    def poll(self, now):
        for name, every, func in (("self", self.s.poll_self, self.poll_self),
                                  ("routes", self.s.poll_routes, self.poll_routes),
                                  ("nodes", self.s.poll_nodes, self.poll_nodes)):
            if now < self.next_due[name]:
                continue
            self.next_due[name] = now + every
            try:
                func()
                self.warned.discard("docker-" + name)
            except (DockerError, ValueError) as exc:
                if "docker-" + name not in self.warned:
                    log("Docker API: %s (keeping what was last read)", exc)
                    self.warned.add("docker-" + name)

    # --- what HAProxy should have ------------------------------------------------------------

    def wanted(self):
        return task_servers(self.routes, self.tasks, self.network_id, self.s.network)

    def compute_splits(self, up_by_route):
        splits = {}
        for key, route in self.routes.items():
            entry = self.state["routes"].get(key)
            splits[key] = decide_split(route, entry, up_by_route.get(key, set()))
        return splits

    def allow_list(self):
        return sorted(set(cidr_of(c) for c in (self.s.status_allow or self.node_cidrs)))

    @staticmethod
    def ready_servers(wanted):
        servers = {}
        for backend, entries in wanted.items():
            servers[backend] = [dict(name=name, addr=e["addr"], port=e["port"])
                                for name, e in sorted(entries.items()) if e["want"] == "ready"]
        return servers

    def write_files(self, wanted, splits):
        # Maps, ACL and Lua files first: the configuration check reads them.
        write_atomic(self.hp["hold_lua"], haproxy_config.HOLD_LUA)
        values = dict((key, split_map_value(key, split)) for key, split in splits.items())
        write_atomic(self.hp["split_map"], haproxy_config.render_split_map(values))
        self.allow = self.allow_list()
        write_atomic(self.hp["status_acl"], haproxy_config.render_acl(self.allow))
        self.write_config(wanted)
        self.split_values = values
        self.splits = splits

    def write_config(self, wanted):
        """haproxy.cfg with the servers that take traffic now: what a restarted HAProxy starts with."""
        servers = self.ready_servers(wanted)
        config = haproxy_config.render_config(self.routes, servers, self.hp)
        path = self.s.path("haproxy.cfg")
        write_atomic(path + ".new", config)
        if not self.s.external or shutil.which(self.s.haproxy):
            check = subprocess.run([self.s.haproxy, "-c", "-f", path + ".new"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, check=False)
            if check.returncode != 0:
                raise RuntimeError("generated configuration rejected by haproxy -c: %s" % check.stdout.decode()[-2000:])
        os.rename(path + ".new", path)
        self.config_servers = servers

    # --- HAProxy ------------------------------------------------------------------------------

    def start_haproxy(self):
        wanted = self.wanted()
        up = {}
        for key in self.routes:
            up[key] = set(v for v in VARIANTS if any(e["want"] == "ready" for e in wanted[backend_name(key, v)].values()))
        splits = self.compute_splits(up)
        self.write_files(wanted, splits)
        self.config_sig = route_signature(self.routes)
        if self.s.external:
            # Applied once the first reconcile has reloaded it from these files (await_external).
            self.await_external()
            return
        # HAProxy serves its first request with these maps loaded: the state is applied from then on.
        self.mark_applied()
        for name in ("admin.sock", "master.sock"):
            if os.path.exists(self.s.path(name)):
                os.unlink(self.s.path(name))
        proc = subprocess.Popen([self.s.haproxy, "-W", "-db", "-f", self.s.path("haproxy.cfg"),
                                 "-S", self.s.path("master.sock")])
        self.haproxy_pid = proc.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.api.execute("show info")
                break
            except RuntimeApiError:
                if proc.poll() is not None:
                    raise RuntimeError("haproxy exited at start with status %s" % proc.returncode)
                time.sleep(0.02)
        else:
            raise RuntimeError("haproxy did not open its stats socket within 10 s")
        log("haproxy started (pid %d), %d route(s), generation %s", proc.pid, len(self.routes), self.state["generation"])

    def await_external(self):
        """HAProxy in its own container starts from the files just written, or runs already."""
        said = None
        while not self.stopping:
            try:
                info = parse_show_info(self.api.execute("show info"))
                self.master.execute("show proc")
                break
            except RuntimeApiError as exc:
                if said != str(exc):
                    log("waiting for haproxy to answer on %s: %s", self.hp["admin_socket"], exc)
                    said = str(exc)
                time.sleep(0.1)
        else:
            return
        # It may have run before this agent, with older files loaded: one (seamless) reload reads these.
        self.config_sig = None
        log("haproxy %s answers (pid %s), %d route(s), generation %s", info.get("Version"), info.get("Pid"),
            len(self.routes), self.state["generation"])

    def reload(self, wanted):
        before = parse_show_proc(self.master.execute("show proc"))["master"]
        up = dict((key, self.up_variants(key, wanted)) for key in self.routes)
        self.write_files(wanted, self.compute_splits(up))
        if parse_reload(self.master.execute("reload")) is False:  # 3.0 says so at once; 2.6 says nothing
            raise RuntimeError("haproxy reload failed")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                now = parse_show_proc(self.master.execute("show proc"))["master"]
            except RuntimeApiError:
                continue
            if now and now["reloads"] > before["reloads"]:
                if now["failed"] > before["failed"]:
                    raise RuntimeError("haproxy reload failed")
                break
        # The new worker's stats socket answers once it has started.
        while time.monotonic() < deadline:
            try:
                self.api.execute("show info")
                break
            except RuntimeApiError:
                time.sleep(0.02)
        self.reloads += 1
        log("reloaded haproxy: %d route(s)", len(self.routes))

    def read_stats(self):
        rows = parse_show_stat(self.api.execute("show stat"))
        self.stat_rows = rows
        servers = {}
        for row in rows:
            if row.get("svname") in ("FRONTEND", "BACKEND"):
                continue
            servers.setdefault(row["pxname"], {})[row["svname"]] = row
        return servers

    def up_variants(self, key, wanted, actual=None):
        up = set()
        for variant in VARIANTS:
            backend = backend_name(key, variant)
            for name, entry in wanted.get(backend, {}).items():
                if entry["want"] != "ready":
                    continue
                row = (actual or {}).get(backend, {}).get(name) if actual is not None else {"status": "UP", "weight": 1}
                if usable(row):
                    up.add(variant)
        return up

    def run_commands(self, commands):
        ok = True
        for command in commands:
            try:
                self.api.command(command)
            except RuntimeApiError as exc:
                ok = False
                if command not in self.warned:
                    log("runtime api: %s", exc)
                    self.warned.add(command)
        return ok

    @staticmethod
    def only_server_left(name, wanted, have):
        """True when ``name`` is the backend's last usable server and a replacement is on its way."""
        others = [n for n, e in wanted.items() if n != name and e["want"] == "ready"]
        if any(usable(have.get(n)) for n in others):
            return False
        return bool(others)

    def reconcile_servers(self, wanted, actual):
        for backend in sorted(wanted):
            have = actual.get(backend, {})
            for name, entry in sorted(wanted[backend].items()):
                ref = "%s/%s" % (backend, name)
                row = have.get(name)
                if row is None:
                    if entry["want"] == "ready":
                        # Leaving maintenance marks a server UP before any check (HAProxy 2.6 and
                        # 3.0): it joins with weight 0 and health down, and gets its weight only
                        # once a check has passed, as a task Swarm calls running may not answer yet.
                        address = haproxy_config.server_address(entry["addr"], entry["port"])
                        opts = haproxy_config.server_options(self.hp, entry.get("maxconn"))
                        if self.run_commands(["add server %s %s %s weight 0" % (ref, address, opts),
                                              "enable health %s" % ref, "enable server %s" % ref,
                                              "set server %s health down" % ref]):
                            log("server %s (task %s, %s) added, gets traffic after its first health check",
                                ref, entry["task_id"], address)
                    continue
                status = str(row.get("status", ""))
                if entry["want"] == "drain" and usable(row) and self.only_server_left(name, wanted[backend], have):
                    # A start-first update of a single task: the old one keeps the traffic until
                    # its replacement has passed a check, instead of leaving no server at all.
                    if ref + " deferred" not in self.warned:
                        log("server %s kept in rotation until its replacement passes its health check", ref)
                        self.warned.add(ref + " deferred")
                    continue
                if entry["want"] == "drain":
                    if status.startswith("DOWN"):
                        # Not taking traffic anyway: straight to maintenance.
                        self.run_commands(["set server %s state maint" % ref])
                    elif status != "DRAIN" and not status.startswith("MAINT"):
                        if self.run_commands(["set server %s state drain" % ref]):
                            log("server %s drained: task %s is to be shut down", ref, entry["task_id"])
                    elif status == "DRAIN" and not row.get("scur") and not row.get("qcur"):
                        self.run_commands(["set server %s state maint" % ref])
                elif status == "DRAIN" or status.startswith("MAINT"):
                    if self.run_commands(["set server %s state ready" % ref]):
                        log("server %s ready again: task %s is to run", ref, entry["task_id"])
                elif server_is_up(status) and row.get("weight") == 0:
                    if self.run_commands(["set server %s weight %d" % (ref, SERVER_WEIGHT)]):
                        log("server %s passed its health check: in rotation", ref)
            for name in sorted(set(have) - set(wanted[backend])):
                # The task is gone: nothing may still be sent to it, then it is deleted.
                ref = "%s/%s" % (backend, name)
                status = str(have[name].get("status", ""))
                commands = [] if status.startswith("MAINT") else ["set server %s state maint" % ref]
                commands += ["shutdown sessions server %s" % ref, "del server %s" % ref]
                if self.run_commands(commands):
                    log("server %s deleted: its task is gone", ref)
        self.server_info = wanted

    def reconcile_splits(self, wanted, actual):
        up = dict((key, self.up_variants(key, wanted, actual)) for key in self.routes)
        splits = self.compute_splits(up)
        values = dict((key, split_map_value(key, split)) for key, split in splits.items())
        ok = True
        changed = False
        for key in sorted(values):
            if self.split_values.get(key) == values[key]:
                continue
            changed = True
            if self.run_commands(["set map %s %s %s" % (self.hp["split_map"], key, values[key])]):
                self.split_values[key] = values[key]
                log("route %s: split %s", key, values[key])
            else:
                ok = False
        notes = set(n for split in splits.values() for n in split["notes"])
        for note in sorted(notes - self.notes):
            log("fallback: %s", note)
        self.notes = notes
        self.splits = splits
        if changed:
            write_atomic(self.hp["split_map"], haproxy_config.render_split_map(self.split_values))
        return ok

    def reconcile_allow(self):
        allow = self.allow_list()
        if allow == self.allow:
            return
        path = self.hp["status_acl"]
        # Add before removing, so an address in both lists is never refused in between.
        commands = ["add acl %s %s" % (path, c) for c in allow if c not in self.allow]
        commands += ["del acl %s %s" % (path, c) for c in self.allow if c not in allow]
        if self.run_commands(commands):
            self.allow = allow
            write_atomic(path, haproxy_config.render_acl(allow))

    def mark_applied(self):
        state = json.dumps(self.state, sort_keys=True)
        if self.applied["state"] == state:
            return
        with self.lock:
            self.applied = {"generation": self.state["generation"], "at": time.time(), "state": state}
            self.gen_totals = {}
        log("applied routing state generation %s", self.state["generation"])

    def reconcile(self):
        if not (self.have_routes and self.have_self):
            return
        wanted = self.wanted()
        if route_signature(self.routes) != self.config_sig:
            self.reload(wanted)
            self.config_sig = route_signature(self.routes)
        actual = self.read_stats()
        self.reconcile_servers(wanted, actual)
        if self.ready_servers(wanted) != self.config_servers:
            try:
                self.write_config(wanted)  # no reload: the file is for a HAProxy that restarts
            except (RuntimeError, OSError) as exc:
                # Only a HAProxy that restarts reads it: the switches and drains go on regardless.
                if "config:" + str(exc) not in self.warned:
                    log("could not rewrite the configuration file: %s", exc)
                    self.warned.add("config:" + str(exc))
        actual = self.read_stats()
        if self.reconcile_splits(wanted, actual):
            self.mark_applied()
        self.reconcile_allow()

    # --- request log and status -----------------------------------------------------------------

    def record_line(self, line):
        record = parse_log_line(line)
        if record is None:
            return
        now = time.time()
        with self.lock:
            self.store.record(record, now)
            self.gen_totals.setdefault(record["backend"], BackendCounters()).add(record)

    def serve_log(self):
        """HAProxy's log ring forwards lines over TCP (one connection per worker, so two during a reload)."""
        agent = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                for line in self.rfile:
                    agent.record_line(line)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        class UnixServer(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        if self.s.external:
            server = unix_server(UnixServer, self.s.path("log.sock"), Handler)
        else:
            server = Server(("127.0.0.1", self.s.log_port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def status(self, since=None):
        haproxy = {}
        try:
            self.stat_rows = parse_show_stat(self.api.execute("show stat"))
            info = parse_show_info(self.api.execute("show info"))
            haproxy = {"version": info.get("Version"), "pid": info.get("Pid"), "uptime_s": info.get("Uptime_sec")}
        except RuntimeApiError:
            pass  # the figures of the last poll then
        with self.lock:
            metrics = dict((b, c.as_dict()) for b, c in self.gen_totals.items())
            window = dict((b, c.as_dict()) for b, c in self.store.since(since).items()) if since is not None else None
            applied = dict(self.applied)
        backends = {}
        for row in self.stat_rows:
            backend = row.get("pxname")
            if row.get("svname") == "BACKEND":
                backends.setdefault(backend, {"servers": []})["stats"] = dict(
                    (k, row.get(k, 0)) for k in ("scur", "stot", "hrsp_2xx", "hrsp_5xx", "econ", "eresp", "wretr", "wredis"))
            elif row.get("svname") != "FRONTEND":
                info = self.server_info.get(backend, {}).get(row["svname"], {})
                backends.setdefault(backend, {"servers": []})["servers"].append({
                    "name": row["svname"], "addr": row.get("addr"), "status": row.get("status"),
                    "task_id": info.get("task_id"), "want": info.get("want", "gone"),
                    "scur": row.get("scur", 0), "hrsp_5xx": row.get("hrsp_5xx", 0), "econ": row.get("econ", 0),
                    "eresp": row.get("eresp", 0)})
        routes = {}
        for key, route in self.routes.items():
            split = self.splits.get(key, {})
            routes[key] = {"hosts": list(route["hosts"]), "path": route["path"],
                           "variants": dict((v, {"service": d["service"], "port": d["port"], "health": d["health"],
                                                 "backend": backend_name(key, v)}) for v, d in route["variants"].items()),
                           "desired": self.state["routes"].get(key),
                           "split": {"main": split.get("main"), "alt": split.get("alt"), "green": split.get("green"),
                                     "preview": split.get("preview")},
                           "notes": split.get("notes", [])}
        fallbacks = sorted(n for key in sorted(routes) for n in routes[key]["notes"]
                           if self.splits.get(key, {}).get("fallback"))
        out = {"generation": applied["generation"], "applied_at": applied["at"],
               "converged": applied["generation"] == self.state["generation"] and not fallbacks, "fallbacks": fallbacks,
               "desired_generation": self.state["generation"], "state_error": self.state_error,
               "route_errors": self.route_errors, "routes": routes, "backends": backends,
               "metrics": {"since": applied["at"], "backends": metrics}, "reloads": self.reloads,
               "status_allow": self.allow, "haproxy": haproxy}
        if window is not None:
            out["window"] = {"since": since, "backends": window}
        return out

    def serve_status(self):
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are written apart

            def do_GET(self):  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                if url.path not in (haproxy_config.STATUS_PATH, "/status"):
                    self.send_error(404)
                    return
                since = parse_qs(url.query).get("since")
                try:
                    body = json.dumps(agent.status(float(since[0]) if since else None), sort_keys=True).encode()
                    code = 200
                except ValueError:
                    body, code = b'{"error": "since must be a unix time"}', 400
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Quiet:
            def handle_error(self, request, client_address):
                # HAProxy closing an idle keep-alive connection is no error worth a traceback.
                if not isinstance(sys.exc_info()[1], OSError):
                    socketserver.BaseServer.handle_error(self, request, client_address)

        class Server(Quiet, ThreadingHTTPServer):
            daemon_threads = True

        class UnixServer(Quiet, socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        class UnixHandler(Handler):
            disable_nagle_algorithm = False  # no TCP option on a unix socket

            def address_string(self):
                return "haproxy"  # a unix peer has no (host, port)

        # Always on 127.0.0.1 too: a container's healthcheck asks there.
        servers = [Server(("127.0.0.1", self.s.status_port), Handler)]
        if self.s.external:
            servers.append(unix_server(UnixServer, self.s.path("status.sock"), UnixHandler))
        for server in servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    # --- lifecycle ------------------------------------------------------------------------------

    def on_signal(self, signum, _frame):
        if not self.stopping:
            log("signal %d: soft-stopping haproxy", signum)
        self.stopping = True

    def reap(self):
        """Reap every exited child (PID 1 adopts orphans); True when haproxy exited."""
        gone = False
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return gone
            if pid == 0:
                return gone
            if pid == self.haproxy_pid:
                gone = True

    def run(self):
        os.makedirs(self.s.run_dir, exist_ok=True)
        if self.s.external:
            # The official HAProxy image runs as a user of its own: it creates its sockets here.
            os.chmod(self.s.run_dir, 0o1777)
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.serve_log()
        self.serve_status()
        # Start from the swarm's current state, never from none: files written without it would
        # send a HAProxy that starts on them to no route, or to the wrong colour.
        while not (self.have_routes and self.have_self) and not self.stopping:
            self.next_due = dict((k, 0.0) for k in self.next_due)
            self.poll(time.monotonic())
            if not (self.have_routes and self.have_self):
                time.sleep(0.5)
        if self.stopping:
            return 0
        self.start_haproxy()
        last_error = None
        while not self.stopping:
            started = time.monotonic()
            self.poll(started)
            try:
                self.reconcile()
                last_error = None
            except (RuntimeApiError, RuntimeError, OSError) as exc:
                if str(exc) != last_error:  # retried every tick: said once
                    log("reconcile: %s (retrying)", exc)
                last_error = str(exc)
            if not self.s.external and self.reap():
                log("haproxy exited unexpectedly")
                return 1
            time.sleep(max(0.02, min(self.next_due.values()) - time.monotonic()))
        return self.stop()

    def stop(self):
        if self.s.external:
            return 0  # HAProxy has its own container, and its own stop
        try:
            os.kill(self.haproxy_pid, signal.SIGUSR1)  # soft stop: listeners close, requests finish
        except ProcessLookupError:
            return 0
        while True:
            if self.reap():
                log("haproxy stopped")
                return 0
            time.sleep(0.05)


def main():
    agent = Agent(Settings(os.environ))
    sys.exit(agent.run())


if __name__ == "__main__":
    main()
