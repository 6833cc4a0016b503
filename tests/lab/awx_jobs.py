"""AWX jobs without AWX: the private data directory AWX hands ansible-runner, built from
the examples in docs/awx.md (job template variables, survey, credential types, project
playbook), and what to read back from runner's artifacts."""
import json
import re
import shutil

import jinja2
import yaml

from conftest import LOG_DIR
from labenv import INVENTORY, ROOT, sh

AWX_DIR = ROOT / ".build" / "awx"
SECRET_FILE = ROOT / "examples" / "stack" / "secrets" / "app_token.txt"
DOCS = ROOT / "docs" / "awx.md"


def doc_example(name):
    """The fenced block after `<!-- example: name -->` in docs/awx.md, as text."""
    match = re.search(r"<!-- example: %s -->\n```\w*\n(.*?)\n```" % re.escape(name), DOCS.read_text(), re.S)
    assert match, "docs/awx.md has no example %s" % name
    return match.group(1)


def credential_type(name):
    """A custom credential type from the docs: (inputs, injectors)."""
    inputs, injectors = yaml.safe_load_all(doc_example(name))
    return inputs, injectors


def render(template, values, filenames=None):
    """What AWX does with one injector template: Jinja over the credential's input values."""
    context = dict(values, tower={"filename": filenames or {}})
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(template).render(context)


def render_injectors(injectors, values, filenames=None):
    return dict((section, dict((k, render(v, values, filenames)) for k, v in entries.items()))
                for section, entries in injectors.items())


def survey_answers(answers):
    """AWX checks answers against the survey spec before it launches the job."""
    spec = json.loads(doc_example("awx-survey"))["spec"]
    checked = {}
    for question in spec:
        value = answers.get(question["variable"], question.get("default"))
        assert value is not None or not question["required"], question["variable"]
        if question["type"] == "multiplechoice":
            assert value in question["choices"], "%s: %r is not a choice" % (question["variable"], value)
        checked[question["variable"]] = value
    return checked


def awx_inventory():
    """The lab inventory as an AWX inventory source would give it: hosts, groups and their
    connection variables, but no key file (the machine credential brings the key)."""
    inv = yaml.safe_load(INVENTORY.read_text())
    inv["all"]["vars"].pop("ansible_ssh_private_key_file")
    return inv


def run_job(lab, installed, ident, stack, extra, playbook="playbooks/deploy.yml", envvars=None):
    """One AWX-style job; returns runner's artifacts directory and the finished process.

    `extra`: survey answers (already checked) or values launched through the API;
    `envvars`: what credentials inject into the job's environment."""
    private = AWX_DIR / ident
    shutil.rmtree(str(private), ignore_errors=True)
    project = private / "project"
    # the project checkout: this repository's playbooks, the example stack, the docs' project playbook
    shutil.copytree(str(ROOT / "playbooks"), str(project / "playbooks"))
    shutil.copytree(str(ROOT / "examples" / "stack"), str(project / "examples" / "stack"))
    (project / "deploy.yml").write_text(doc_example("awx-project-playbook") + "\n")
    (private / "inventory").mkdir(parents=True)
    (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump(awx_inventory()))
    (private / "env").mkdir()
    key = yaml.safe_load(INVENTORY.read_text())["all"]["vars"]["ansible_ssh_private_key_file"]
    (private / "env" / "ssh_key").write_text(open(key).read())
    # extra vars: the job template's, the registry credential's injectors, then the launch's
    extravars = yaml.safe_load(doc_example("awx-job-template-vars"))
    extravars["stack_name"] = stack
    _inputs, injectors = credential_type("awx-registry-credential-type")
    registry = lab["registry"]
    extravars.update(render_injectors(injectors, {"registry": registry["address_in_lab"],
                                                  "username": registry["username"],
                                                  "password": lab["password"]})["extra_vars"])
    extravars.update(extra)
    (private / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    for path in (private / "env").iterdir():
        path.chmod(0o600)
    # The execution environment's collections: the installed tarball, and no ansible.cfg of this checkout.
    (private / "env" / "envvars").write_text(yaml.safe_dump(dict(
        {"ANSIBLE_COLLECTIONS_PATH": str(installed["collections"]), "ANSIBLE_FORCE_COLOR": "0"}, **(envvars or {}))))
    proc = sh(["ansible-runner", "run", private, "-p", playbook, "--ident", ident], cwd=private,
              environ=installed["env"], timeout=900)
    (LOG_DIR / ("awx-%s.log" % ident)).write_text(proc.stdout)
    return private / "artifacts" / ident, proc


def events(artifacts):
    found = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    return sorted(found, key=lambda e: e["counter"])


def planted_secrets(lab):
    key = yaml.safe_load(INVENTORY.read_text())["all"]["vars"]["ansible_ssh_private_key_file"]
    key_body = [line for line in open(key).read().splitlines() if line and not line.startswith("-----")]
    return {"registry password": lab["password"], "stack secret": SECRET_FILE.read_text().strip(),
            "ssh key": key_body[1]}


def assert_no_secret_anywhere(lab, artifacts):
    planted = planted_secrets(lab)
    for path in sorted(p for p in artifacts.rglob("*") if p.is_file()):
        text = path.read_text(errors="replace")
        for what, value in planted.items():
            assert value not in text, "%s found in %s" % (what, path.relative_to(artifacts))
