"""Same files, same services: what stack_deploy creates is what `docker stack deploy` creates.

The example stack is deployed under one name by the Docker CLI on the manager,
its services are read back, the stack is removed, and the same files are
deployed under the same name with playbooks/deploy.yml. The two service specs
must be equal once the differences we make on purpose are taken out: our own
labels, content-hashed config and secret names, and the IDs Swarm assigns.
"""
import json

from cli_side import HASH_SUFFIX, login_on_manager, normalize_service
from conftest import ROOT, deploy
from labenv import copy_to_manager, on_manager, remove_stack

STACK = "parity"


def read_specs():
    names = on_manager("docker service ls -q --filter label=com.docker.stack.namespace=%s" % STACK).stdout.split()
    services = json.loads(on_manager("docker service inspect %s" % " ".join(names)).stdout)
    networks = {}
    for service in services:
        for net in service["Spec"]["TaskTemplate"].get("Networks") or []:
            networks[net["Target"]] = on_manager("docker network inspect --format '{{.Name}}' %s"
                                                 % net["Target"]).stdout.strip()
    return dict((s["Spec"]["Name"], normalize_service(s["Spec"], networks)) for s in services)


def test_services_match_docker_stack_deploy(lab):
    reg = login_on_manager(lab)
    on_manager("rm -rf /tmp/parity")
    copy_to_manager(ROOT / "examples" / "stack", "/tmp/parity")
    remove_stack(STACK)
    cli = on_manager("cd /tmp/parity/stack && REGISTRY=%s docker stack deploy --detach=true --with-registry-auth "
                     "-c demo.yml %s" % (reg["address_in_lab"], STACK))
    assert cli.returncode == 0, cli.stdout
    by_cli = read_specs()
    remove_stack(STACK)
    ours = deploy(lab, STACK, "parity")
    assert ours.returncode == 0, ours.stdout[-3000:]
    by_us = read_specs()
    remove_stack(STACK)
    assert sorted(by_us) == sorted(by_cli) == ["parity_api", "parity_web"]
    for name in by_cli:
        cli_spec, our_spec = by_cli[name], by_us[name]
        for key in sorted(set(cli_spec) | set(our_spec)):
            assert our_spec.get(key) == cli_spec.get(key), "%s: %s differs\nours: %s\ncli:  %s" % (
                name, key, json.dumps(our_spec.get(key), sort_keys=True), json.dumps(cli_spec.get(key), sort_keys=True))


ORDER_STACK = "order"
# Ten ports (Go's sort.Slice is a stable insertion sort up to 12): unpublished ones tie on
# PublishedPort 0, and a range expands in docker/cli's order ("1000/tcp" before "998/tcp").
# Secrets and configs sort by name. (One mounted twice: the CLI's order of the two is random,
# it goes through a Go map, so no file here has such a tie.)
ORDER_FILE = """version: '3.8'
services:
  web:
    image: %s/conductor/demo-app:1.0.0
    ports: ["8080", "80", "998-1002", "3003:3003", "3000-3001:3000-3001"]
    secrets: [{source: token, target: a}, key]
    configs: [{source: zconf, target: /etc/a}, {source: aconf, target: /etc/z}]
secrets:
  token: {file: ./token}
  key: {file: ./key}
configs:
  zconf: {file: ./conf}
  aconf: {file: ./conf}
"""


def test_ports_secrets_and_configs_come_in_the_order_docker_stack_deploy_gives_them(lab):
    import sys
    import yaml
    sys.path.insert(0, str(ROOT / ".build" / "collections"))
    from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import convert_stack, load_stack
    text = ORDER_FILE % lab["registry"]["address_in_lab"]
    on_manager("rm -rf /tmp/order && mkdir -p /tmp/order && cd /tmp/order && echo t > token && echo k > key && "
               "echo c > conf && cat > stack.yml", stdin=text)
    remove_stack(ORDER_STACK)
    cli = on_manager("cd /tmp/order && docker stack deploy --detach=true -c stack.yml %s" % ORDER_STACK)
    assert cli.returncode == 0, cli.stdout
    try:
        spec = read_specs_of(ORDER_STACK)["%s_web" % ORDER_STACK]
    finally:
        remove_stack(ORDER_STACK)
    files = {"./token": b"t\n", "./key": b"k\n", "./conf": b"c\n"}
    compose = load_stack([yaml.safe_load(text)], {}, files.get)
    ours = convert_stack(ORDER_STACK, compose, files.get)["services"]["%s_web" % ORDER_STACK]

    def ports(s):
        return [(p.get("PublishedPort", 0), p["TargetPort"], p.get("Protocol")) for p in s["EndpointSpec"]["Ports"]]

    def refs(s, key, name):
        return [(HASH_SUFFIX.sub("", r[name]), r["File"]["Name"]) for r in s["TaskTemplate"]["ContainerSpec"][key]]
    print("docker stack deploy ports: %s; secrets: %s; configs: %s" % (
        ports(spec), refs(spec, "Secrets", "SecretName"), refs(spec, "Configs", "ConfigName")))
    assert ports(ours) == ports(spec)
    assert refs(ours, "Secrets", "SecretName") == refs(spec, "Secrets", "SecretName")
    assert refs(ours, "Configs", "ConfigName") == refs(spec, "Configs", "ConfigName")


def read_specs_of(stack):
    names = on_manager("docker service ls -q --filter label=com.docker.stack.namespace=%s" % stack).stdout.split()
    return dict((s["Spec"]["Name"], s["Spec"]) for s in json.loads(on_manager("docker service inspect %s"
                                                                              % " ".join(names)).stdout))
