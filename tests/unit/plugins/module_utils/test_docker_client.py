"""The shared client: connection options, TLS files, the CA actually used, and how
an engine that does not answer is reported, and a host that is no manager."""
import json
import os
import socket

import docker
import pytest

from ansible_collections.conductor.swarm.plugins.module_utils import docker_client


class FakeModule:
    """Just what SwarmClient reads from an AnsibleModule."""

    def __init__(self, **params):
        self.params = dict((k, v.get("default")) for k, v in docker_client.DOCKER_COMMON_ARGS.items())
        self.params.update(params)
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise RuntimeError(kwargs["msg"])


@pytest.fixture()
def engine_answers(monkeypatch):
    """For tests of the client's set-up only: the engine's ping succeeds without an engine."""
    monkeypatch.setattr(docker.api.client.APIClient, "ping", lambda self: True)


def test_every_connection_option_falls_back_to_the_docker_cli_environment_variable():
    # DOCKER_CERT_PATH is a directory, read for the three TLS files (tls_files below).
    fallbacks = dict((name, spec["fallback"][1]) for name, spec in docker_client.DOCKER_COMMON_ARGS.items()
                     if "fallback" in spec)
    assert fallbacks == {"docker_host": ["DOCKER_HOST"], "tls": ["DOCKER_TLS"], "validate_certs": ["DOCKER_TLS_VERIFY"],
                         "api_version": ["DOCKER_API_VERSION"], "timeout": ["DOCKER_TIMEOUT"]}


def test_cert_path_means_what_it_means_in_community_docker():
    # One module_defaults for group/community.docker.docker and group/conductor.swarm.swarm
    # must not give the same name two meanings: there, cert_path is client_cert's alias.
    options = docker_client.DOCKER_COMMON_ARGS
    assert "cert_path" not in options
    assert "cert_path" in options["client_cert"]["aliases"]


def test_explicit_tls_files_win_over_the_docker_cert_path_directory(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text(name)
    environ = {"DOCKER_CERT_PATH": str(tmp_path)}
    found = docker_client.tls_files({"ca_path": "/etc/my-ca.pem", "client_cert": None, "client_key": None}, environ)
    assert found == {"ca_path": "/etc/my-ca.pem", "client_cert": str(tmp_path / "cert.pem"),
                     "client_key": str(tmp_path / "key.pem")}
    none = {"ca_path": None, "client_cert": None, "client_key": None}
    assert docker_client.tls_files(none, {}) == none


def test_files_missing_from_the_docker_cert_path_directory_stay_unset(tmp_path):
    (tmp_path / "ca.pem").write_text("ca")
    found = docker_client.tls_files({"ca_path": None, "client_cert": None, "client_key": None},
                                    {"DOCKER_CERT_PATH": str(tmp_path)})
    assert found == {"ca_path": str(tmp_path / "ca.pem"), "client_cert": None, "client_key": None}


def test_the_module_environment_is_read_by_default(tmp_path, monkeypatch):
    (tmp_path / "key.pem").write_text("key")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    found = docker_client.tls_files({"ca_path": None, "client_cert": None, "client_key": None})
    assert found["client_key"] == str(tmp_path / "key.pem")


@pytest.mark.parametrize("bundle_variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_given_ca_is_the_one_requests_uses_even_with_a_ca_bundle_in_the_environment(
        tmp_path, monkeypatch, bundle_variable, engine_answers):
    ca = tmp_path / "ca.pem"
    ca.write_text("not parsed before a connection")
    monkeypatch.setenv(bundle_variable, "/etc/ssl/certs/ca-certificates.crt")
    module = FakeModule(docker_host="tcp://127.0.0.1:2376", validate_certs=True, ca_path=str(ca), api_version="1.41")
    client = docker_client.SwarmClient(module)
    session = client.api
    settings = session.merge_environment_settings("https://127.0.0.1:2376/v1.41/version", {}, None, None, None)
    verify = settings["verify"] if settings["verify"] is not None else session.verify
    assert verify == str(ca)


def test_without_a_ca_of_its_own_the_environment_bundle_still_applies(monkeypatch, engine_answers):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    docker_client.SwarmClient(FakeModule(docker_host="tcp://127.0.0.1:2376", validate_certs=True, api_version="1.41"))
    assert docker_client.os.environ["REQUESTS_CA_BUNDLE"] == "/etc/ssl/certs/ca-certificates.crt"


@pytest.mark.parametrize("api_version", ["auto", "1.41"])
def test_an_engine_that_does_not_answer_is_reported_as_such(api_version):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    module = FakeModule(docker_host="tcp://127.0.0.1:%d" % port, api_version=api_version, timeout=5, insecure_tcp=True)
    with pytest.raises(RuntimeError):
        docker_client.SwarmClient(module)
    assert module.failed["msg"].startswith("cannot reach the Docker Engine at tcp://127.0.0.1:%d: " % port)


@pytest.mark.parametrize("given, how", [
    ({}, "plain TCP, without TLS"),
    ({"tls": True}, "TLS without verifying the daemon (tls=true)"),
])
def test_a_tcp_daemon_without_tls_verification_is_refused_before_any_connection(given, how, monkeypatch):
    def connect(*args, **kwargs):
        raise AssertionError("no connection may be made")
    monkeypatch.setattr(docker_client.docker, "DockerClient", connect)
    module = FakeModule(docker_host="tcp://manager1:2375", **given)
    with pytest.raises(RuntimeError):
        docker_client.SwarmClient(module)
    assert module.failed["msg"].startswith(
        "nothing was done: docker_host tcp://manager1:2375 is reached over %s, so anyone on the path" % how)
    assert "validate_certs=true" in module.failed["msg"] and "insecure_tcp=true" in module.failed["msg"]


@pytest.mark.parametrize("given", [{"validate_certs": True}, {"insecure_tcp": True}])
def test_tcp_with_verified_tls_or_insecure_tcp_is_let_through(given, engine_answers):
    module = FakeModule(docker_host="tcp://127.0.0.1:2376", api_version="1.41", **given)
    docker_client.SwarmClient(module)
    assert module.failed is None


def test_the_local_socket_and_ssh_need_no_tls():
    for host in ("unix:///var/run/docker.sock", "ssh://root@manager1"):
        assert docker_client.plain_tcp_refusal(dict(docker_host=host, tls=False, validate_certs=False,
                                                    insecure_tcp=False)) is None


def swarm_fixture(name):
    path = os.path.join(os.path.dirname(__file__), "fixtures", "swarm", name)
    with open(path) as handle:
        return json.load(handle)


def test_a_manager_may_run_manager_work():
    assert docker_client.manager_refusal(swarm_fixture("info_swarm_manager.json")) is None


def test_a_worker_is_named_as_one_with_the_managers_to_use_instead():
    # `docker info` on the lab's lab-2.
    msg = docker_client.manager_refusal(swarm_fixture("info_swarm_worker.json"))
    assert msg == ("this host is a worker of its swarm (node jntpkrjzwcnx951p72m7tvhsv), not a manager; run this "
                   "module on a manager: 172.18.0.2:2377 (a host of the inventory's managers group)")


@pytest.mark.parametrize("swarm, words", [
    ({"LocalNodeState": "inactive", "ControlAvailable": False},
     "this host is in no swarm (LocalNodeState=inactive): provision it with playbooks/provision.yml"),
    ({"LocalNodeState": "locked", "ControlAvailable": False},
     "this manager's swarm is locked (autolock): unlock it (docker swarm unlock)"),
    ({"LocalNodeState": "error", "Error": "raft: failed", "ControlAvailable": False},
     "this host is not an active member of a swarm (LocalNodeState=error: raft: failed)"),
    ({}, "this host is not an active member of a swarm (LocalNodeState=unknown)"),
])
def test_other_states_say_what_the_host_is(swarm, words):
    assert words in docker_client.manager_refusal(swarm)
