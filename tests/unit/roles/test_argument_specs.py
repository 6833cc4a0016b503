"""Each role's meta/argument_specs.yml rejects bad variables with a clear message,
before any of the role's own tasks runs.

No Docker and no lab: the plays target this machine over the local connection, in
check mode, so even a validation that let a bad value through could change nothing.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def local_inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"managers": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}))
    return path


def run_play(inventory, playbook, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--check", "-i", str(inventory), str(playbook), *extra],
                          check=False, cwd=str(ROOT), env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    return proc


def role_play(tmp_path, role):
    path = tmp_path / ("%s.yml" % role)
    path.write_text(yaml.safe_dump([{"name": "Role %s" % role, "hosts": "managers", "gather_facts": True,
                                     "roles": ["conductor.swarm.%s" % role]}]))
    return path


def tasks_run(output, role):
    """Role tasks that ran, other than the argument validation itself."""
    return [line for line in output.splitlines()
            if line.startswith("TASK [conductor.swarm.%s : " % role) and "Validating arguments" not in line]


@pytest.mark.parametrize("role, variable, value, message", [
    ("docker_engine", "docker_engine_source", "snap",
     "value of docker_engine_source must be one of: distribution, upstream, got: snap"),
    ("swarm_cluster", "swarm_cluster_node_labels", "zone-a",
     "argument 'swarm_cluster_node_labels' is of type str and we were unable to convert to dict"),
    ("swarm_cluster", "swarm_cluster_port", "lots",
     "argument 'swarm_cluster_port' is of type str and we were unable to convert to int"),
])
def test_a_bad_role_variable_stops_the_role_before_its_tasks(tmp_path, local_inventory, role, variable, value,
                                                             message):
    proc = run_play(local_inventory, role_play(tmp_path, role), "-e", "%s=%s" % (variable, value))
    assert proc.returncode != 0
    assert "Validation of arguments failed" in proc.stdout
    assert message in proc.stdout, proc.stdout[-3000:]
    assert tasks_run(proc.stdout, role) == []


def test_good_variables_pass_the_same_checks(local_inventory):
    # the control for the tests here: valid values get past validation to the deploy task
    # (which then stops at the missing Compose file, still in check mode)
    proc = run_play(local_inventory, ROOT / "playbooks" / "deploy.yml", "-e", "deploy_manager=localhost",
                    "-e", "stack_name=shop", "-e", "stack_file=x.yml", "-e", "stack_monitor=5")
    assert "Validation of arguments failed" not in proc.stdout
    assert "TASK [conductor.swarm.stack : Deploy and track stack shop]" in proc.stdout, proc.stdout[-3000:]
    assert "x.yml" in proc.stdout.split("Deploy and track stack shop", 1)[1]


@pytest.mark.parametrize("extra, message", [
    (["stack_monitor=soon"], "argument 'stack_monitor' is of type str and we were unable to convert to int"),
    (["stack_name=", "stack_file=x.yml"], "stack_name and stack_file are required"),
    (["strategy=rainbow"], "strategy rainbow is not available; this version supports: rolling, recreate, blue-green, "
                           "canary. Nothing was changed."),
])
def test_deploy_refuses_bad_variables_before_touching_any_host(local_inventory, extra, message):
    args = ["-e", "deploy_manager=localhost", "-e", "stack_name=shop", "-e", "stack_file=x.yml"]
    for item in extra:
        args += ["-e", item]
    proc = run_play(local_inventory, ROOT / "playbooks" / "deploy.yml", *args)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert "TASK [conductor.swarm.stack : Deploy and track stack" not in proc.stdout


def test_a_stack_name_swarm_cannot_take_is_refused_before_the_module_runs(local_inventory):
    proc = run_play(local_inventory, ROOT / "playbooks" / "deploy.yml", "-e", "deploy_manager=localhost",
                    "-e", '{"stack_name": "my shop"}', "-e", "stack_file=x.yml", "-vvv")
    assert proc.returncode != 0
    assert 'stack name "my shop" is invalid: its services are named <stack>_<service>' in proc.stdout, \
        proc.stdout[-3000:]
    assert "nothing was changed" in proc.stdout
    # Refused by the action plugin on the controller: no module was sent to the host.
    after = proc.stdout.split("Deploy and track stack", 1)[1]
    assert "<localhost> EXEC" not in after and "AnsiballZ_" not in after, after[-3000:]
