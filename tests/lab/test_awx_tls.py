"""The Docker TLS credential type of docs/awx.md, for real: an AWX-style job (through
ansible-runner) with `deploy_manager: localhost`, so the modules run on the controller
(the execution environment) and reach the manager's Docker Engine over TLS with client
certificates, all given the way that credential injects them: DOCKER_HOST and
DOCKER_TLS_VERIFY in the environment, the certificate files as extra vars.

The manager's Engine gets a TLS listener on its own loopback for this module only
(a systemd drop-in, removed afterwards); this machine reaches it through an SSH
tunnel over the lab's published 127.0.0.1 SSH port.
"""
import datetime
import ipaddress
import json
import socket
import subprocess
import time

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from awx_jobs import (assert_no_secret_anywhere, credential_type, events, render, render_injectors, run_job,
                      survey_answers)
from conftest import LOG_DIR, services
from labenv import manager_ssh, on_manager, remove_stack

STACK = "awxtls"
DROP_IN = "/etc/systemd/system/docker.service.d/conductor-tls-test.conf"


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _cert(subject_key, common_name, issuer_key=None, issuer_name=None, ca=False, server=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name or name)
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key or subject_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def make_pki():
    ca_key, server_key, client_key = _key(), _key(), _key()
    ca = _cert(ca_key, "conductor-swarm lab CA", ca=True)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conductor-swarm lab CA")])
    return {"ca": ca, "server_cert": _cert(server_key, "lab-1", ca_key, ca_name, server=True),
            "server_key": _pem(server_key), "client_cert": _cert(client_key, "awx", ca_key, ca_name),
            "client_key": _pem(client_key)}


def wait_for_swarm(timeout=120):
    """After an Engine restart: the manager answers and every node is Ready again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = on_manager("docker node ls --format '{{.Status}}' 2>/dev/null").stdout.split()
        if out and all(s == "Ready" for s in out):
            return
        time.sleep(2)
    raise RuntimeError("swarm not back to Ready within %ss" % timeout)


def restart_engine():
    proc = on_manager("systemctl daemon-reload && systemctl restart docker")
    assert proc.returncode == 0, proc.stdout
    wait_for_swarm()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_engine(lab):
    """The first manager's Engine also listening on 127.0.0.1:2376 with --tlsverify, and a
    tunnel to it on this machine's loopback. Undone afterwards."""
    pki = make_pki()
    for name, body in (("ca.pem", pki["ca"]), ("server-cert.pem", pki["server_cert"]),
                       ("server-key.pem", pki["server_key"])):
        proc = on_manager("install -d -m 0700 /etc/docker/tls-test && umask 077 && cat > /etc/docker/tls-test/%s"
                          % name, stdin=body)
        assert proc.returncode == 0, proc.stdout
    # The packaged unit starts dockerd with -H fd://; add a TLS listener next to it.
    drop_in = ("[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://127.0.0.1:2376 --tlsverify "
               "--tlscacert=/etc/docker/tls-test/ca.pem --tlscert=/etc/docker/tls-test/server-cert.pem "
               "--tlskey=/etc/docker/tls-test/server-key.pem --containerd=/run/containerd/containerd.sock\n")
    assert on_manager("mkdir -p %s && cat > %s" % (DROP_IN.rsplit("/", 1)[0], DROP_IN), stdin=drop_in).returncode == 0
    try:
        restart_engine()
        port = free_port()
        tunnel = subprocess.Popen(manager_ssh()[:-1] + ["-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                                        "127.0.0.1:%d:127.0.0.1:2376" % port, manager_ssh()[-1]])
        try:
            for _attempt in range(50):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            yield dict(pki, host="tcp://127.0.0.1:%d" % port)
        finally:
            tunnel.terminate()
            tunnel.wait(timeout=10)
    finally:
        on_manager("rm -rf %s /etc/docker/tls-test" % DROP_IN)
        restart_engine()


@pytest.fixture(scope="module")
def tls_stack(tls_engine):
    remove_stack(STACK)
    yield STACK
    remove_stack(STACK)


def test_a_job_with_the_tls_credential_deploys_from_the_controller(lab, installed, manager, tls_engine, tls_stack):
    _inputs, injectors = credential_type("awx-docker-tls-credential-type")
    values = {"host": tls_engine["host"], "ca_cert": tls_engine["ca"], "client_cert": tls_engine["client_cert"],
              "client_key": tls_engine["client_key"]}
    # AWX writes each `file` template to a file of its own and names it in tower.filename.
    cred_dir = LOG_DIR / "awx-tls-credential"
    cred_dir.mkdir(parents=True, exist_ok=True)
    filenames = {}
    for kind, template in injectors["file"].items():
        kind = kind.split(".", 1)[1]
        path = cred_dir / kind
        path.write_text(render(template, values))
        path.chmod(0o600)
        filenames[kind] = str(path)
    rendered = render_injectors({"env": injectors["env"], "extra_vars": injectors["extra_vars"]}, values, filenames)
    extra = dict(survey_answers({"image_tag": "1.0.0"}), deploy_manager="localhost",
                 **rendered["extra_vars"])
    artifacts, proc = run_job(lab, installed, "job-tls", STACK, extra, envvars=rendered["env"])
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert (artifacts / "status").read_text() == "successful"
    job = events(artifacts)
    ran_on = set(e["event_data"].get("host") for e in job if e["event"] == "runner_on_ok")
    assert ran_on == {"localhost"}
    shown = "\n".join(e.get("stdout", "") for e in job)
    assert "awxtls_web: 3/3 updated, 3/3 running, 3/3 healthy" in shown
    assert sorted(services(manager, STACK)) == ["awxtls_api", "awxtls_web"]
    assert_no_secret_anywhere(lab, artifacts)
    # The client key's own lines, in no artifact: stdout, job events, the environment and vars as written.
    key_line = tls_engine["client_key"].splitlines()[1]
    for path in sorted(p for p in artifacts.rglob("*") if p.is_file()):
        assert key_line not in path.read_text(errors="replace"), "the TLS client key is in %s" % path


def test_without_the_client_certificate_the_engine_refuses_and_nothing_changes(lab, installed, manager, tls_engine,
                                                                               tls_stack):
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    # the daemon's CA is right, but no client certificate: --tlsverify turns the client away
    ca = LOG_DIR / "awx-tls-credential" / "ca"
    extra = dict(survey_answers({"image_tag": "2.0.0"}), deploy_manager="localhost",
                 docker_ca_path=str(ca))
    artifacts, proc = run_job(lab, installed, "job-tls-nocert", STACK, extra,
                              envvars={"DOCKER_HOST": tls_engine["host"], "DOCKER_TLS_VERIFY": "1"})
    assert proc.returncode != 0
    failed = [e for e in events(artifacts) if e["event"] == "runner_on_failed"]
    assert len(failed) == 1, json.dumps([e["event"] for e in events(artifacts)])
    msg = failed[0]["event_data"]["res"]["msg"]
    assert "cannot reach the Docker Engine at %s" % tls_engine["host"] in msg
    assert "CERTIFICATE_VERIFY_FAILED" not in msg  # the server's certificate was accepted
    assert "TLSV13_ALERT_CERTIFICATE_REQUIRED" in msg  # as docs/troubleshooting.md quotes it
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before
    assert yaml.safe_load((artifacts / "status").read_text()) == "failed"
