# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Docker client every conductor.swarm module uses.

DOCKER_COMMON_ARGS is the shared connection argument spec; each option falls
back to the environment variable the Docker CLI reads, which is also how AWX
credentials inject them. The doc fragment conductor.swarm.docker documents it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import struct
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.conductor.swarm.plugins.module_utils.labels import NAMESPACE_LABEL
from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import parse_timestamp

try:
    import docker
    from docker.errors import DockerException
    from docker.tls import TLSConfig
    from requests.exceptions import RequestException
    HAS_DOCKER_SDK = True
    DOCKER_SDK_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER_SDK = False
    DOCKER_SDK_IMPORT_ERROR = traceback.format_exc()

    class DockerException(Exception):
        pass

    class RequestException(Exception):
        pass

# A Docker API call raises the SDK's own errors, and the transport's (refused
# connections, TLS handshakes) as they are: every `except` here names both.

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

DOCKER_COMMON_ARGS = dict(
    docker_host=dict(type="str", default=DEFAULT_DOCKER_HOST, aliases=["docker_url"],
                     fallback=(env_fallback, ["DOCKER_HOST"])),
    tls=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS"])),
    validate_certs=dict(type="bool", default=False, aliases=["tls_verify"],
                        fallback=(env_fallback, ["DOCKER_TLS_VERIFY"])),
    ca_path=dict(type="path", aliases=["ca_cert"]),
    # cert_path: community.docker's alias of client_cert, so one set of options in
    # module_defaults means the same for its modules and ours.
    client_cert=dict(type="path", aliases=["tls_client_cert", "cert_path"]),
    client_key=dict(type="path", aliases=["tls_client_key"], no_log=False),
    api_version=dict(type="str", default="auto", fallback=(env_fallback, ["DOCKER_API_VERSION"])),
    timeout=dict(type="int", default=60, fallback=(env_fallback, ["DOCKER_TIMEOUT"])),
    insecure_tcp=dict(type="bool", default=False),
)


def docker_argument_spec(**module_args):
    """The common connection options plus a module's own."""
    spec = dict(DOCKER_COMMON_ARGS)
    spec.update(module_args)
    return spec


def tls_files(params, environ=None):
    """CA, cert and key: a path the task gives wins; otherwise ca.pem, cert.pem and key.pem
    of the directory DOCKER_CERT_PATH names, where present (as the Docker CLI and
    community.docker read it)."""
    base = (os.environ if environ is None else environ).get("DOCKER_CERT_PATH")
    found = {}
    for key, filename in (("ca_path", "ca.pem"), ("client_cert", "cert.pem"), ("client_key", "key.pem")):
        path = params.get(key)
        if not path and base and os.path.exists(os.path.join(base, filename)):
            path = os.path.join(base, filename)
        found[key] = path
    return found


def plain_tcp_refusal(params):
    """Why this daemon address is refused, or None: over TCP, whoever is on the path can run anything as root
    on the manager unless TLS verifies the daemon (and the daemon, the client)."""
    host = params["docker_host"] or ""
    if not host.startswith(("tcp://", "http://", "https://")) or params["validate_certs"] or params["insecure_tcp"]:
        return None
    how = "TLS without verifying the daemon (tls=true)" if params["tls"] else "plain TCP, without TLS"
    return ("nothing was done: docker_host %s is reached over %s, so anyone on the path could act on the swarm as "
            "root. Set validate_certs=true (DOCKER_TLS_VERIFY=1) with ca_path, client_cert and client_key (or "
            "DOCKER_CERT_PATH), or leave docker_host unset so the modules talk to the manager's local socket over "
            "SSH; insecure_tcp=true allows it anyway" % (host, how))


class SwarmClient:
    """A Docker SDK client built from the common options, failing the module cleanly."""

    def __init__(self, module):
        self.module = module
        self.server_version = None  # the Engine's, once swarm_state() has read `docker info`
        if not HAS_DOCKER_SDK:
            module.fail_json(msg=missing_required_lib("docker (Docker SDK for Python)"),
                             exception=DOCKER_SDK_IMPORT_ERROR)
        params = module.params
        refused = plain_tcp_refusal(params)
        if refused:
            module.fail_json(msg=refused)
        tls_config = None
        use_tls = params["tls"] or params["validate_certs"]
        if use_tls:
            files = tls_files(params)
            client_cert = None
            if files["client_cert"] and files["client_key"]:
                client_cert = (files["client_cert"], files["client_key"])
            tls_config = TLSConfig(client_cert=client_cert, ca_cert=files["ca_path"],
                                   verify=params["validate_certs"])
            if files["ca_path"]:
                # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's CA on every
                # request, so with either set the daemon's CA would be silently ignored. This is the
                # module's own process: dropping them here affects nothing else.
                for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
                    os.environ.pop(name, None)
        try:
            self.docker = docker.DockerClient(base_url=params["docker_host"], tls=tls_config,
                                              version=params["api_version"],
                                              timeout=params["timeout"])
            self.api = self.docker.api
            if params["api_version"] != "auto":
                # "auto" already asked the engine for its version; a fixed version asks nothing,
                # so check here that it answers rather than fail at the first real request.
                self.api.ping()
        except (DockerException, RequestException) as exc:
            self.fail("cannot reach the Docker Engine at %s: %s" % (params["docker_host"], exc))

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def swarm_state(self):
        """Swarm part of `docker info`: LocalNodeState, NodeID, ControlAvailable, Cluster.
        Keeps the Engine's version (``server_version``) from the same answer."""
        try:
            info = self.api.info()
        except (DockerException, RequestException) as exc:
            self.fail("cannot read the engine's swarm state: %s" % exc)
        self.server_version = info.get("ServerVersion")
        return info.get("Swarm") or {}

    def require_manager(self):
        swarm = self.swarm_state()
        refusal = manager_refusal(swarm)
        if refusal:
            self.fail(refusal)
        return swarm

    def nodes(self):
        try:
            return self.api.nodes()
        except (DockerException, RequestException) as exc:
            self.fail("cannot list swarm nodes: %s" % exc)

    def update_node(self, node_id, **spec_changes):
        """Apply spec changes at the node's current version (Swarm's optimistic lock)."""
        node = self.api.inspect_node(node_id)
        spec = dict(node["Spec"])
        spec.update(spec_changes)
        self.api.update_node(node_id, node["Version"]["Index"], spec)

    def remove_node(self, node_id):
        self.api.remove_node(node_id, force=True)

    # --- stacks: raw Engine API calls, so specs go to Swarm exactly as built ---

    def _post(self, path, data, params=None, headers=None, *args):
        res = self.api._post_json(self.api._url(path, *args), data=data, params=params, headers=headers or {})
        return self.api._result(res, json=True) if res.content else {}

    def stack_services(self, stack):
        return self.api.services(filters={"label": "%s=%s" % (NAMESPACE_LABEL, stack)})

    def stack_objects(self, kind, stack):
        """Networks, configs or secrets of a stack."""
        lister = {"networks": self.api.networks, "configs": self.api.configs, "secrets": self.api.secrets}[kind]
        return lister(filters={"label": "%s=%s" % (NAMESPACE_LABEL, stack)})

    def all_objects(self, kind):
        """Every config or secret of the swarm."""
        return self.api.configs() if kind == "configs" else self.api.secrets()

    def create_service(self, spec, registry_auth=None):
        return self._post("/services/create", spec, headers=auth_header(registry_auth))

    def update_service(self, service_id, version, spec, registry_auth=None, rollback=False):
        params = {"version": version}
        if rollback:
            params["rollback"] = "previous"
        return self._post("/services/{0}/update", spec, params, auth_header(registry_auth), service_id)

    def create_network(self, body):
        return self._post("/networks/create", body)

    def create_object(self, kind, spec):
        """Create a config or secret from its full Engine body (keeps template and secret drivers)."""
        return self._post("/%s/create" % kind, spec)

    def update_object(self, kind, object_id, version, spec):
        """Update a config or secret (the Engine allows label changes only)."""
        return self._post("/%s/{0}/update" % kind, spec, {"version": version}, None, object_id)

    def resolve_image(self, image, registry_auth=None):
        """(digest, platforms) the registry serves for `image` right now.

        Platforms come as the Docker client sets them on a service's placement
        when it resolves an image: [{"Architecture": ..., "OS": ...}].
        """
        info = self.api.inspect_distribution(image, auth_config=registry_auth)
        platforms = [{"Architecture": p.get("architecture", ""), "OS": p.get("os", "")}
                     for p in info.get("Platforms") or []]
        return info["Descriptor"]["digest"], platforms

    def task_logs(self, task_id, tail):
        """Last lines a task's container wrote, as text lines (stdout and stderr)."""
        res = self.api._get(self.api._url("/tasks/{0}/logs", task_id),
                            params={"stdout": 1, "stderr": 1, "tail": tail, "timestamps": 0})
        self.api._raise_for_status(res)
        return demux_log_lines(res.content)

    def now(self):
        """The engine's clock (seconds since the epoch), which task timestamps use."""
        return parse_timestamp(self.api.info().get("SystemTime"))


def manager_refusal(swarm):
    """Why an engine with this swarm state (`docker info`'s Swarm) cannot run manager work, naming what the
    host is and what to use instead; None for an active manager."""
    state = swarm.get("LocalNodeState") or "unknown"
    if state == "active" and swarm.get("ControlAvailable"):
        return None
    if state == "active":
        managers = ", ".join(m.get("Addr") or "?" for m in swarm.get("RemoteManagers") or []) or "none it knows of"
        return ("this host is a worker of its swarm (node %s), not a manager; run this module on a manager: %s "
                "(a host of the inventory's managers group)" % (swarm.get("NodeID") or "?", managers))
    if state == "inactive":
        return ("this host is in no swarm (LocalNodeState=inactive): provision it with playbooks/provision.yml, "
                "or run this module on a manager")
    if state == "locked":
        return "this manager's swarm is locked (autolock): unlock it (docker swarm unlock), then run this module again"
    detail = ": %s" % swarm["Error"] if swarm.get("Error") else ""
    return "this host is not an active member of a swarm (LocalNodeState=%s%s); run this module on a manager" % (
        state, detail)


def auth_header(registry_auth):
    if not registry_auth:
        return None
    payload = json.dumps(registry_auth).encode("utf-8")
    return {"X-Registry-Auth": base64.urlsafe_b64encode(payload).decode("ascii")}


def demux_log_lines(raw):
    """Split the Engine's multiplexed log stream (8-byte frame headers) into lines."""
    out, pos = [], 0
    text = b""
    while pos + 8 <= len(raw) and raw[pos] in (0, 1, 2) and raw[pos + 1:pos + 4] == b"\0\0\0":
        size = struct.unpack(">I", raw[pos + 4:pos + 8])[0]
        text += raw[pos + 8:pos + 8 + size]
        pos += 8 + size
    if pos == 0:
        text = raw  # a TTY service: no frames
    for line in text.decode("utf-8", "replace").splitlines():
        out.append(line.rstrip())
    return out
