"""Specs the Compose loader accepts and a swarm manager refuses: refused before any change, in check mode too.

The lab's manager is the oracle: the very spec our converter makes is sent to its Engine API
(POST /services/create), which must refuse it with the reason the deploy names; then
playbooks/deploy.yml, in check mode and for real, must fail with that reason and leave the swarm
as it was (no service, and none of the stack's networks).
"""
import json
import sys

import pytest
import yaml

from conftest import LOG_DIR, ROOT, deploy, services
from labenv import on_manager

sys.path.insert(0, str(ROOT / ".build" / "collections"))  # make venv links the checkout there
from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import convert_stack, load_stack  # noqa: E402
from ansible_collections.conductor.swarm.plugins.module_utils.swarm_validation import swarm_refusals  # noqa: E402

STACK = "refused"
BASE = "version: '3.8'\nservices:\n  web:\n    image: ${REGISTRY}/conductor/demo-app:1.0.0\n    networks: [back]\n%s" \
       "networks:\n  back: {}\n"
CASES = {
    "cpus": "    deploy: {resources: {limits: {cpus: '0.0001'}}}\n",
    "memory": "    deploy: {resources: {reservations: {memory: 1M}}}\n",
    "constraint": "    deploy: {placement: {constraints: [node=foo]}}\n",
    "constraint-key": "    deploy: {placement: {constraints: ['node labels == x']}}\n",
    # "==" is looked for first, wherever it is.
    "constraint-order": "    deploy: {placement: {constraints: ['node.labels.x != a==b']}}\n",
    "mounts": "    volumes: [/tmp:/data, /var/tmp:/data]\n",
}


def converted(lab, body):
    text = BASE.replace("${REGISTRY}", lab["registry"]["address_in_lab"]) % body
    compose = load_stack([yaml.safe_load(text)], {}, lambda path: b"")
    return convert_stack(STACK, compose, lambda path: b"")["services"]["%s_web" % STACK]


def engine_answer(spec):
    """(HTTP status, message) of the manager's Engine to POST /services/create with this spec."""
    spec = dict(spec, Name="refused-oracle")
    spec["TaskTemplate"] = dict(spec["TaskTemplate"], Networks=[])  # the stack's network does not exist
    out = on_manager("curl -s -w '\\n%{http_code}' --unix-socket /var/run/docker.sock -H 'Content-Type: "
                     "application/json' --data-binary @- http://docker/v1.41/services/create",
                     stdin=json.dumps(spec)).stdout.rsplit("\n", 1)
    body, code = out[0], int(out[1])
    if code < 300:  # it took it after all: leave nothing behind, and fail below
        on_manager("docker service rm refused-oracle")
    return code, json.loads(body).get("message", body)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_spec_the_manager_refuses_is_refused_before_any_change(lab, manager, tmp_path, case):
    spec = converted(lab, CASES[case])
    ours = swarm_refusals(spec)
    assert len(ours) == 1, ours
    code, theirs = engine_answer(spec)
    print("%s: ours %r; the Engine: %d %r" % (case, ours[0], code, theirs))
    # Ours carries the manager's own words, plus where in the spec. (Engine 26.1 answers 400 for
    # resources and mounts, 500 for constraints: swarmkit gives those no gRPC code.)
    reason = ours[0].split(": ", 1)[1] if ours[0].startswith("placement constraint") else ours[0].split(" (")[0]
    assert code >= 400 and reason in theirs, (ours, code, theirs)
    path = tmp_path / ("%s.yml" % case)
    path.write_text(BASE % CASES[case])
    networks_before = on_manager("docker network ls --format '{{.Name}}'").stdout.split()
    for check in (True, False):
        proc = deploy(lab, STACK, "refused-%s-%s" % (case, "check" if check else "run"), files=[path], check=check,
                      verbose=False)
        assert proc.returncode != 0, proc.stdout[-3000:]
        text = " ".join(proc.stdout.split())
        assert "refused_web: the swarm would refuse it: %s" % ours[0] in text, proc.stdout[-3000:]
        assert "nothing was changed" in text
        assert services(manager, STACK) == {}
        assert on_manager("docker network ls --format '{{.Name}}'").stdout.split() == networks_before
    (LOG_DIR / ("refused-%s.txt" % case)).write_text("ours: %s\nEngine: %d %s\n" % (ours[0], code, theirs))
