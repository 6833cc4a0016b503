"""playbooks/deploy.yml run the way AWX runs a job: through ansible-runner, with a
private data directory holding the project checkout, the inventory, the extra vars
(job template vars plus survey answers) and the machine credential's SSH key, which
runner hands to ssh-agent. The collection comes from the installed tarball, as it
would from an execution environment.

Checked from runner's artifacts, as AWX reads them: status and rc, the job events,
the stdout AWX shows (progress lines included), and that no secret appears in any
event or artifact. The job template and survey are the ones docs/awx.md describes.
"""
import json
import re
import subprocess

import pytest
import yaml

from awx_jobs import (assert_no_secret_anywhere, credential_type, doc_example, events, render_injectors, run_job,
                      survey_answers)
from conftest import ROOT, services
from labenv import remove_stack

STACK = "awx"


@pytest.fixture(scope="module")
def awx_stack(lab):
    remove_stack(STACK)
    yield STACK
    remove_stack(STACK)


def test_a_job_deploys_the_stack_and_its_events_show_progress(lab, installed, manager, awx_stack):
    artifacts, proc = run_job(lab, installed, "job1", STACK, survey_answers({"image_tag": "1.0.0"}))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert (artifacts / "status").read_text() == "successful"
    assert (artifacts / "rc").read_text() == "0"
    job = events(artifacts)
    kinds = [e["event"] for e in job if e["event"] != "verbose"]  # verbose: lines outside a play
    assert kinds[0] == "playbook_on_start" and kinds[-1] == "playbook_on_stats"
    # no warning either (a survey variable named `strategy` would draw "reserved name")
    assert not [e["stdout"] for e in job if "[WARNING]" in e.get("stdout", "")]
    deployed = [e for e in job if e["event"] == "runner_on_ok" and e["event_data"]["task"].startswith(
        "Deploy and track stack awx")]
    assert len(deployed) == 1 and deployed[0]["event_data"]["res"]["changed"] is True
    # AWX's job output is the events' stdout: the progress lines must be in it.
    shown = "\n".join(e.get("stdout", "") for e in job)
    assert "awx_web: 3/3 updated, 3/3 running, 3/3 healthy" in shown
    assert "awx_web: 3/3 updated, 3/3 running, 3/3 healthy" in (artifacts / "stdout").read_text()
    stats = job[-1]["event_data"]
    assert stats["failures"] == {} and stats["dark"] == {} and stats["changed"] == {"lab-1": 1}
    live = services(manager, STACK)
    assert sorted(live) == ["awx_api", "awx_web"]
    assert all(s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0].endswith("demo-app:1.0.0")
               for s in live.values())
    assert_no_secret_anywhere(lab, artifacts)


def test_a_survey_answer_rolls_out_a_new_image_tag(lab, installed, manager, awx_stack):
    # through the docs' project playbook, which imports conductor.swarm.deploy
    artifacts, proc = run_job(lab, installed, "job2", STACK, survey_answers({"image_tag": "2.0.0", "stack_strategy": "rolling"}),
                              playbook="deploy.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert (artifacts / "status").read_text() == "successful"
    shown = "\n".join(e.get("stdout", "") for e in events(artifacts))
    assert "awx_web: 3/3 updated, 3/3 running, 3/3 healthy" in shown
    assert "awx_api: 2/2 updated, 2/2 running, 2/2 healthy" in shown
    live = services(manager, STACK)
    assert all(s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0].endswith("demo-app:2.0.0")
               for s in live.values())
    assert_no_secret_anywhere(lab, artifacts)


def test_a_strategy_this_version_lacks_fails_the_job_and_changes_nothing(lab, installed, manager, awx_stack):
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    with pytest.raises(AssertionError):  # the survey would not offer it...
        survey_answers({"image_tag": "1.0.0", "stack_strategy": "rainbow"})
    # ...but a launch through the API with extra vars can still ask for it
    artifacts, proc = run_job(lab, installed, "job3", STACK, {"image_tag": "1.0.0", "stack_strategy": "rainbow"})
    assert proc.returncode != 0
    assert (artifacts / "status").read_text() == "failed"
    failed = [e for e in events(artifacts) if e["event"] == "runner_on_failed"]
    assert len(failed) == 1
    assert "strategy rainbow is not available" in failed[0]["event_data"]["res"]["msg"]
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before
    assert_no_secret_anywhere(lab, artifacts)


def test_the_docs_collection_requirements_match_the_build(installed):
    wanted = yaml.safe_load(doc_example("awx-collections-requirements"))["collections"]
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())["dependencies"]["galaxy"]["collections"]
    assert wanted == ee
    from ansible.module_utils.compat.version import LooseVersion
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    low, high = re.match(r">=([\d.]+),<([\d.]+)$", wanted[0]["version"]).groups()
    assert wanted[0]["name"] == "conductor.swarm"
    assert LooseVersion(low) <= LooseVersion(version) < LooseVersion(high)


def test_the_docs_inventory_has_the_groups_the_playbooks_use(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text(doc_example("awx-inventory"))
    proc = subprocess.run(["ansible-inventory", "-i", str(path), "--list"], check=True, text=True,
                          stdout=subprocess.PIPE)
    listed = json.loads(proc.stdout)
    assert listed["managers"]["hosts"] == ["manager1"]
    assert listed["workers"]["hosts"] == ["worker1", "worker2"]
    assert listed["_meta"]["hostvars"]["worker1"]["swarm_cluster_node_labels"] == {"zone": "a"}
    assert "ansible_ssh_private_key_file" not in doc_example("awx-inventory")


def test_the_docs_tls_credential_injects_what_the_modules_read():
    import sys
    sys.path.insert(0, str(ROOT / ".build" / "collections"))  # make venv links the checkout there
    from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import DOCKER_COMMON_ARGS
    inputs, injectors = credential_type("awx-docker-tls-credential-type")
    values = dict((f["id"], "value-of-%s" % f["id"]) for f in inputs["fields"])
    files = {"ca": "/runner/env/ca", "cert": "/runner/env/cert", "key": "/runner/env/key"}
    rendered = render_injectors(injectors, values, files)
    fallbacks = set(name for option in DOCKER_COMMON_ARGS.values() for name in option.get("fallback", (None, []))[1])
    assert set(rendered["env"]) <= fallbacks
    assert rendered["env"] == {"DOCKER_HOST": "value-of-host", "DOCKER_TLS_VERIFY": "1"}
    # the extra vars it sets are the ones playbooks/deploy.yml hands to every module
    deploy = yaml.safe_load((ROOT / "playbooks" / "deploy.yml").read_text())[0]
    defaults = deploy["module_defaults"]["group/conductor.swarm.swarm"]
    for option, variable in (("ca_path", "docker_ca_path"), ("client_cert", "docker_client_cert"),
                             ("client_key", "docker_client_key")):
        assert variable in rendered["extra_vars"] and variable in defaults[option]
    assert [f["id"] for f in inputs["fields"] if f.get("secret")] == ["client_key"]


def test_the_execution_environment_definition_makes_a_build_context(tmp_path):
    proc = subprocess.run(["ansible-builder", "create", "-f", str(ROOT / "execution-environment.yml"),
                           "-c", str(tmp_path / "context"), "--output-filename", "Containerfile"],
                          check=False, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, proc.stdout
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert 'ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==2.4.3"' in containerfile
    galaxy = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text())
    assert [c["name"] for c in galaxy["collections"]] == ["conductor.swarm", "community.docker"]


def test_the_installed_collection_declares_its_ee_requirements(installed):
    # what ansible-builder collects from every collection in an EE
    proc = subprocess.run(["ansible-builder", "introspect", "--sanitize", str(installed["collections"])],
                          check=False, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, proc.stdout
    found = yaml.safe_load(proc.stdout)
    assert "docker>=7.0.0  # from collection conductor.swarm" in found["python"]
    assert "openssh-clients [platform:rpm]  # from collection conductor.swarm" in found["system"]
