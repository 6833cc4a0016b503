"""The project's Compose corpus (tests/parity/corpus) against the docker CLI of the lab's manager, as the oracle.

1. Every case: `docker stack config` on the manager (the merged, interpolated file) against our
   load_stack, run here, key by key (tests/parity/compare.py; the deliberate differences are
   its allow-list). Refusal cases: the CLI refuses (stack config, or stack deploy for what it
   only finds out while deploying) and so do ours, and playbooks/deploy.yml, in check mode and
   for real, leaves the swarm as it was: no service, network, config or secret of the stack.
2. The deployable cases: `docker stack deploy` by the CLI, then ours (playbooks/deploy.yml),
   and the service, network, config and secret specs each creates must be equal once our
   labels, content-hashed names and IDs are taken out.
3. The coverage table: which case covers which key of the Compose 3.x schema.

The corpus sits at the same absolute path here and on the manager, so relative paths (bind
sources, env files, config and secret files) resolve to the same place on both sides.
"""
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from cli_side import HASH_SUFFIX, login_on_manager, normalize_service, without_our_labels
from conftest import ROOT, deploy
from labenv import copy_to_manager, lab_hosts, on_host, on_manager, remove_stack

sys.path.insert(0, str(ROOT / ".build" / "collections"))  # make venv links the checkout there
from ansible_collections.conductor.swarm.plugins.module_utils.compose import api as compose_spec  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "parity"))
import compare  # noqa: E402
import coverage_table  # noqa: E402

STACK = "corpus"
BASE = Path("/tmp/conductor-parity")  # here and on the manager
CASES = compare.cases()
DEPLOYABLE = sorted(name for name, case in CASES.items() if case.get("deploy"))
REFUSED = sorted(name for name, case in CASES.items() if case["expect"] == "refuse")
LABEL = "com.docker.stack.namespace=%s" % STACK
# Options the Engine adds to an overlay network it creates (a new VXLAN id each time).
ENGINE_NETWORK_OPTIONS = ("com.docker.network.driver.overlay.vxlanid_list",)


@pytest.fixture(scope="module")
def corpus(lab):
    """The corpus copied to BASE here and on the manager; the manager's Docker release."""
    shutil.rmtree(str(BASE), ignore_errors=True)
    shutil.copytree(str(compare.CORPUS), str(BASE))
    on_manager("rm -rf %s" % BASE)
    copied = copy_to_manager(BASE, str(BASE.parent))
    assert copied.returncode == 0, copied.stdout
    engine = on_manager("docker version --format '{{.Server.Version}}'").stdout.strip()
    client = on_manager("docker version --format '{{.Client.Version}}'").stdout.strip()
    return {"engine": engine, "client": client, "newest": compose_spec.newest_version(engine),
            "registry": lab["registry"]["address_in_lab"]}


def case_dir(name):
    return BASE / name


def clean_env(env):
    """`env -i` and the case's variables: nothing else of the manager's environment gets in."""
    return "env -i PATH=\"$PATH\" HOME=\"$HOME\" %s" % " ".join(
        "%s=%s" % (key, shlex.quote(value)) for key, value in sorted(env.items()))


def cli(case, env, command):
    """(rc, stdout, stderr) of `docker stack <command> -c ... ` in the case's directory on the manager."""
    files = " ".join("-c %s" % shlex.quote(name) for name in case["files"])
    err = "/tmp/conductor-parity-stderr"
    out = on_manager("cd %s && %s docker stack %s 2>%s" % (case_dir(case["name"]), clean_env(env), command % files, err))
    return out.returncode, out.stdout, on_manager("cat %s" % err).stdout


def stack_objects():
    """Every service, network, config and secret carrying the stack's label, by kind."""
    found = {}
    for kind in ("service", "network", "config", "secret"):
        found[kind] = sorted(on_manager("docker %s ls --filter label=%s --format '{{.Name}}'" % (kind, LABEL))
                             .stdout.split())
    return found


def remove_everything():
    remove_stack(STACK)
    left = stack_objects()
    for kind in ("config", "secret", "network"):
        if left[kind]:
            on_manager("docker %s rm %s" % (kind, " ".join(left[kind])))


def in_output(text, output):
    """The text in ansible-playbook's output, as written or JSON-escaped (the module's msg)."""
    flat = " ".join(output.split())
    return text in flat or json.dumps(text)[1:-1] in flat


@pytest.mark.parametrize("name", sorted(CASES))
def test_docker_stack_config_and_our_loader_agree(corpus, name):
    case = CASES[name]
    env = compare.case_env(case, registry=corpus["registry"])
    rc, stdout, stderr = cli(case, env, "config %s")
    ours, ours_error = compare.our_load(case, case_dir(name), env, compose_spec, newest=corpus["newest"], stack=STACK)
    problems, notes = compare.judge(case, rc, stdout, stderr, ours, ours_error, str(case_dir(name)), compose_spec)
    print("%s (docker CLI %s on the manager): %s" % (name, corpus["client"], "; ".join(notes) or "equal"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", REFUSED)
def test_a_file_the_cli_refuses_is_refused_before_any_change(corpus, lab, name):
    case = CASES[name]
    env = compare.case_env(case, registry=corpus["registry"])
    remove_everything()
    networks_before = on_manager("docker network ls --format '{{.Name}}'").stdout.split()
    if case["refused_by"] == "deploy":
        # The CLI finds it out while deploying: it has created the stack's networks, configs and
        # secrets by then. Ours must not have.
        rc, stdout, stderr = cli(case, env, "deploy --detach=true %s " + STACK)
        made = stack_objects()
        remove_everything()
        print("%s: docker stack deploy rc %d: %s; it had created %s" % (name, rc, (stdout + stderr).strip(), made))
        assert rc != 0 and compare.cli_says(case, stdout + stderr), stdout + stderr
        # (The services before the refused one too, when the Engine is what refuses it.)
        assert made["network"] or made["config"] or made["secret"], made
    files = [case_dir(name) / f for f in case["files"]]
    expected = case.get("deploy_error", case["ours_error"])
    for check in (True, False) if case["refused_by"] == "deploy" else (False,):
        proc = deploy(lab, STACK, "corpus-%s-%s" % (name, "check" if check else "run"), files=files,
                      variables=env, check=check, verbose=False)
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert in_output(expected, proc.stdout), proc.stdout[-3000:]
        assert in_output("nothing was changed", proc.stdout), proc.stdout[-3000:]
        assert stack_objects() == {"service": [], "network": [], "config": [], "secret": []}
        assert on_manager("docker network ls --format '{{.Name}}'").stdout.split() == networks_before


def read_back(subnets):
    """What the stack created, normalised: {"service"|"network"|"config"|"secret": {name: spec}}."""
    names = stack_objects()
    net_names = {}
    out = {"service": {}, "network": {}, "config": {}, "secret": {}}
    inspected = json.loads(on_manager("docker network inspect %s" % " ".join(names["network"])).stdout) \
        if names["network"] else []
    for net in inspected:
        net_names[net["Id"]] = net["Name"]
        ipam = dict(net.get("IPAM") or {})
        # Subnets the Engine chose (no ipam.config in the file) differ from one creation to the next.
        ipam["Config"] = [c for c in ipam.get("Config") or [] if c.get("Subnet") in subnets]
        out["network"][net["Name"]] = {
            "Driver": net["Driver"], "Scope": net["Scope"], "Internal": net["Internal"],
            "Attachable": net["Attachable"], "Ingress": net["Ingress"], "EnableIPv6": net["EnableIPv6"],
            "Options": dict((k, v) for k, v in (net.get("Options") or {}).items() if k not in ENGINE_NETWORK_OPTIONS),
            "Labels": without_our_labels(net.get("Labels")), "IPAM": ipam}
    for svc in services_of_stack():
        out["service"][svc["Spec"]["Name"]] = normalize_service(svc["Spec"], net_names)
    for kind in ("config", "secret"):
        if names[kind]:
            for obj in json.loads(on_manager("docker %s inspect %s" % (kind, " ".join(names[kind]))).stdout):
                spec = dict(obj["Spec"], Labels=without_our_labels(obj["Spec"].get("Labels")))
                out[kind][HASH_SUFFIX.sub("", spec.pop("Name"))] = spec
    return out


def services_of_stack():
    return list(services_of(STACK).values())


def services_of(stack):
    ids = on_manager("docker service ls -q --filter label=com.docker.stack.namespace=%s" % stack).stdout.split()
    if not ids:
        return {}
    return dict((s["Spec"]["Name"], s) for s in json.loads(on_manager("docker service inspect %s" % " ".join(ids)).stdout))


def subnets_of(compose):
    return set(c.get("subnet") for n in (compose.get("networks") or {}).values()
               for c in ((n or {}).get("ipam") or {}).get("config") or [])


@pytest.mark.parametrize("name", DEPLOYABLE)
def test_docker_stack_deploy_and_ours_create_the_same_objects(corpus, lab, name):
    case = CASES[name]
    env = compare.case_env(case, registry=corpus["registry"])
    login_on_manager(lab)
    compose, error = compare.our_load(case, case_dir(name), env, compose_spec, newest=corpus["newest"], stack=STACK)
    assert error is None, error
    for host in lab_hosts():  # bind-mount sources must exist on the nodes
        for sub in case.get("bind_dirs") or []:
            made = on_host(host, "mkdir", "-p", str(case_dir(name) / sub))
            assert made.returncode == 0, made.stderr
    remove_everything()
    for command in case.get("teardown") or []:  # left over from an interrupted run
        on_manager(command)
    try:
        for command in case.get("setup") or []:
            done = on_manager(command)
            assert done.returncode == 0, "%s: %s" % (command, done.stdout)
        rc, stdout, stderr = cli(case, env, "deploy --detach=true --with-registry-auth %s " + STACK)
        assert rc == 0, stdout + stderr
        by_cli = read_back(subnets_of(compose))
        remove_everything()
        # Ours tracks nothing here (stack_wait=false): the specs are what is compared, as the
        # CLI's --detach=true does not wait either.
        proc = deploy(lab, STACK, "corpus-%s" % name, "-e", "stack_wait=false",
                      files=[case_dir(name) / f for f in case["files"]], variables=env, verbose=False)
        assert proc.returncode == 0, proc.stdout[-3000:]
        by_us = read_back(subnets_of(compose))
    finally:
        remove_everything()
        for command in case.get("teardown") or []:
            on_manager(command)
    print("%s: %s" % (name, dict((kind, sorted(objs)) for kind, objs in by_cli.items())))
    problems = []
    for kind in ("service", "network", "config", "secret"):
        if sorted(by_us[kind]) != sorted(by_cli[kind]):
            problems.append("%ss: ours %s, the CLI's %s" % (kind, sorted(by_us[kind]), sorted(by_cli[kind])))
            continue
        for obj in sorted(by_cli[kind]):
            for path, theirs, mine in compare.diff(by_cli[kind][obj], by_us[kind][obj]):
                problems.append("%s %s: %s differs: ours %s, the CLI's %s" % (
                    kind, obj, compare.fmt_path(path), json.dumps(mine, sort_keys=True, default=repr),
                    json.dumps(theirs, sort_keys=True, default=repr)))
    assert by_cli["service"], by_cli
    problems = [p for p in problems if not strategy_default(p, compose)]
    assert not problems, "\n".join(problems)


# The rolling strategy's documented defaults where update_config is silent
# (plugins/module_utils/strategies/rolling.py): failure_action rollback instead of
# Swarm's pause, and start-first for a service with a healthcheck and no host-mode port.
STRATEGY_DEFAULTS = {"FailureAction": ("failure_action", '"rollback"', '"pause"'),
                     "Order": ("order", '"start-first"', '"stop-first"')}


def strategy_default(problem, compose):
    found = re.match(r'^service %s_(\S+): UpdateConfig\.(\w+) differs: ours (\S+), the CLI\'s (\S+)$' % STACK, problem)
    if not found or found.group(2) not in STRATEGY_DEFAULTS:
        return False
    key, ours, theirs = STRATEGY_DEFAULTS[found.group(2)]
    update = ((compose["services"].get(found.group(1)) or {}).get("deploy") or {}).get("update_config") or {}
    if key in update or (found.group(3), found.group(4)) != (ours, theirs):
        return False
    print("allowed: %s (the rolling strategy's default where update_config sets no %s)" % (problem, key))
    return True


def test_the_corpus_covers_every_key_of_the_schema():
    table, uncovered = coverage_table.table(CASES)
    print(table)
    assert not uncovered, "keys no case covers (and not in NOT_COVERED): %s" % ", ".join(uncovered)
