"""The shared client: connection options, TLS files, the CA actually used, and how
an engine that does not answer is reported."""
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
    fallbacks = dict((name, spec["fallback"][1]) for name, spec in docker_client.DOCKER_COMMON_ARGS.items()
                     if "fallback" in spec)
    assert fallbacks == {"docker_host": ["DOCKER_HOST"], "tls": ["DOCKER_TLS"], "validate_certs": ["DOCKER_TLS_VERIFY"],
                         "cert_path": ["DOCKER_CERT_PATH"], "api_version": ["DOCKER_API_VERSION"],
                         "timeout": ["DOCKER_TIMEOUT"]}


def test_explicit_tls_files_win_over_the_cert_path_directory(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text(name)
    found = docker_client.tls_files({"cert_path": str(tmp_path), "ca_path": "/etc/my-ca.pem",
                                     "client_cert": None, "client_key": None})
    assert found == {"ca_path": "/etc/my-ca.pem", "client_cert": str(tmp_path / "cert.pem"),
                     "client_key": str(tmp_path / "key.pem")}
    assert docker_client.tls_files({"cert_path": None, "ca_path": None, "client_cert": None, "client_key": None}) == {
        "ca_path": None, "client_cert": None, "client_key": None}


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
    module = FakeModule(docker_host="tcp://127.0.0.1:%d" % port, api_version=api_version, timeout=5)
    with pytest.raises(RuntimeError):
        docker_client.SwarmClient(module)
    assert module.failed["msg"].startswith("cannot reach the Docker Engine at tcp://127.0.0.1:%d: " % port)
