"""Every example in README.md, docs/ and roles/*/README.md is checked against the code.

The first half runs the checks of doc_checks.py on the real docs; the second
half feeds each check a broken example, to show that it reports it.
"""
import functools
import shutil
import subprocess
import sys

import pytest
import yaml

import doc_checks as dc
import module_docs

BLOCKS = dc.all_blocks()
DOCUMENTED = dc.defined_files(BLOCKS)
YAML_BLOCKS = [b for b in BLOCKS if b.lang in dc.YAML_LANGS]
SHELL_BLOCKS = [b for b in BLOCKS if b.lang in dc.SHELL_LANGS]
JSON_BLOCKS = [b for b in BLOCKS if b.lang == "json"]
MODULES = dc.module_names()


def block(text, lang="yaml"):
    return dc.Block("docs/example.md", 10, lang, text)


def task_check(text):
    """Argument checks of a task list, without the (slower) syntax check."""
    return [problem for task in yaml.safe_load(text) for problem in dc.task_problems(task)]


@functools.lru_cache(maxsize=None)
def module_docs_json():
    return module_docs.read_docs(dc.ROOT, MODULES)


@pytest.fixture(scope="module", autouse=True)
def one_syntax_check_run():
    # Every example that is a playbook or task list, checked in one ansible-playbook run.
    texts = [t for b in YAML_BLOCKS for t in dc.syntax_texts(b.text)]
    texts += [t for m in MODULES for t in dc.syntax_texts(dc.module_examples(m))]
    dc.prewarm_syntax_checks(texts)


# ------------------------------------------------------------- the docs ---

def test_the_docs_have_examples_of_each_kind():
    # A parser that silently finds nothing would make every other test pass.
    kinds = set(dc.classify(doc) for b in YAML_BLOCKS for doc in dc.yaml_documents(b.text))
    assert {"playbook", "tasks", "compose", "compose-service", "inventory", "vars", "task-keywords"} <= kinds
    assert len(SHELL_BLOCKS) > 20


@pytest.mark.parametrize("example", YAML_BLOCKS, ids=str)
def test_yaml_example(example):
    assert dc.yaml_problems(example.text, str(example)) == []


@pytest.mark.parametrize("example", JSON_BLOCKS, ids=str)
def test_json_example(example):
    assert dc.json_problems(example.text, str(example)) == []


@pytest.mark.parametrize("example", SHELL_BLOCKS, ids=str)
def test_shell_example(example):
    assert dc.shell_problems(example, DOCUMENTED) == []


@pytest.mark.parametrize("path", dc.doc_files(), ids=lambda p: str(p.relative_to(dc.ROOT)))
def test_links(path):
    assert dc.link_problems(path, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("module", MODULES)
def test_module_examples(module):
    where = "plugins/modules/%s.py EXAMPLES" % module
    assert dc.examples_problems(dc.module_examples(module), where) == []


@pytest.mark.parametrize("module", MODULES)
def test_module_documentation_matches_argument_spec(module):
    # The reference pages come from the docs, the validation from the spec: they must agree.
    doc = module_docs_json()[module]["doc"]
    spec = dc.module_spec(module)["argument_spec"]
    assert dc.doc_spec_differences(doc.get("options") or {}, spec) == []


def test_every_warning_the_galaxy_stage_keeps_is_explained():
    # tests/galaxy.sh accepts these importer warnings; docs/galaxy.md must say why.
    listed = (dc.ROOT / "tests" / "galaxy" / "kept-warnings.txt").read_text(encoding="utf-8").splitlines()
    kept = [line for line in listed if line.strip() and not line.startswith("#")]
    explained = (dc.ROOT / "docs" / "galaxy.md").read_text(encoding="utf-8")
    assert [k for k in kept if k not in explained] == []


def test_stack_deploy_spec_is_the_one_its_action_plugin_checks():
    # The action plugin validates with argument_spec(); the module's main() must use the same.
    from ansible_collections.conductor.swarm.plugins.modules.stack_deploy import argument_spec
    assert dc.module_spec("stack_deploy")["argument_spec"] == argument_spec()


def test_module_pages_are_up_to_date():
    proc = subprocess.run([sys.executable, str(dc.ROOT / "tests" / "tools" / "module_docs.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ----------------------------------------------- the checks can fail ---

PLAY = """
- name: Deploy
  hosts: managers
  gather_facts: false
  tasks:
{tasks}
"""


def test_yaml_that_does_not_parse_is_reported():
    problems = dc.yaml_problems("- name: x\n  conductor.swarm.stack_info: {name: [\n", "docs/x.md:1")
    assert problems and "does not parse" in problems[0]


def test_every_document_of_a_block_is_checked():
    problems = dc.yaml_problems("stack_name: shop\n---\nstack_deadlines: 90\n", "docs/x.md:1")
    assert problems == ["docs/x.md:1 (document 2): variable stack_deadlines is not an option of role "
                        "conductor.swarm.stack (roles/stack/meta/argument_specs.yml)"]


def test_json_that_does_not_parse_is_reported():
    assert dc.json_problems('{"a": 1,}', "docs/x.md:1")[0].startswith("docs/x.md:1: does not parse as JSON")


def test_unknown_variable_in_a_vars_file_is_reported():
    problems = dc.yaml_problems("stack_name: shop\nstak_deadline: 90\n")
    assert problems == ["<example>: stak_deadline is neither a role variable nor one the playbooks read"]


def test_requirements_that_exclude_this_version_are_reported():
    text = "collections:\n  - name: conductor.swarm\n    version: \">=2.0.0\"\n"
    assert any("does not admit this version" in p for p in dc.yaml_problems(text))
    assert dc.version_allowed("0.1.0", ">=0.1.0,<1.0.0") and not dc.version_allowed("1.0.0", ">=0.1.0,<1.0.0")


def test_compose_service_settings_are_checked():
    assert dc.yaml_problems("deploy:\n  update_config:\n    order: start-first\n") == []
    problems = dc.yaml_problems("deploy:\n  update_config:\n    order: middle-first\n")
    assert any("order" in p and "rejected" in p for p in problems)


@pytest.mark.parametrize("task, expected", [
    # an unknown option
    ("- name: x\n  conductor.swarm.stack_info:\n    name: shop\n    colour: blue\n",
     [("colour", "unsupported parameters")]),
    # a required option missing
    ("- name: x\n  conductor.swarm.stack_rollback:\n    services: [shop_web]\n",
     [("missing required arguments: name",)]),
    # a wrong type and a wrong choice
    ("- name: x\n  conductor.swarm.stack_deploy:\n    name: shop\n    compose_files: [a.yml]\n"
     "    deadline: soon\n    resolve_image: sometimes\n", [("deadline", "int"), ("resolve_image", "sometimes")]),
    # neither compose nor compose_files
    ("- name: x\n  conductor.swarm.stack_deploy:\n    name: shop\n",
     [("one of the following is required: compose, compose_files",)]),
    # a bad suboption value
    ("- name: x\n  conductor.swarm.swarm_nodes:\n    nodes:\n      - name: worker1\n        role: boss\n",
     [("role", "boss")]),
])
def test_bad_module_arguments_are_reported(task, expected):
    problems = task_check(task)
    for fragments in expected:
        assert any(all(f in p for f in fragments) for p in problems), (fragments, problems)


def test_unknown_conductor_module_is_reported():
    problems = task_check("- name: x\n  conductor.swarm.stack_status:\n    name: shop\n")
    assert any("no such module" in p for p in problems)


def test_action_plugin_only_module_is_validated_too():
    problems = task_check("- name: x\n  conductor.swarm.swarm_inventory_check:\n    manager: [a]\n")
    assert any("manager" in p and "unsupported parameters" in p for p in problems)


def test_templates_are_not_judged_but_literals_are():
    ok = "- name: x\n  conductor.swarm.swarm_nodes:\n    nodes: \"{{ desired }}\"\n    wait_timeout: \"{{ t }}\"\n"
    assert task_check(ok) == []
    bad = "- name: x\n  conductor.swarm.swarm_nodes:\n    nodes: \"{{ desired }}\"\n    wait_timeout: later\n"
    assert any("wait_timeout" in p for p in task_check(bad))


def test_a_task_with_two_modules_is_reported():
    problems = task_check("- name: x\n  conductor.swarm.stack_info: {name: a}\n  delegate: m1\n")
    assert any("exactly one module" in p for p in problems)


def test_playbook_syntax_errors_are_reported():
    text = PLAY.format(tasks="    - name: x\n      community.nowhere.nothing: {}\n")
    problems = dc.yaml_problems(text)
    assert any("syntax-check failed" in p and "community.nowhere.nothing" in p for p in problems)


def test_module_args_inside_a_playbook_are_validated():
    task = "    - name: x\n      conductor.swarm.stack_info:\n        name: shop\n        raw: maybe\n"
    text = PLAY.format(tasks=task)
    assert any("raw" in p for p in dc.yaml_problems(text))


def test_unknown_role_is_reported():
    text = "- name: x\n  hosts: all\n  roles:\n    - conductor.swarm.stacks\n"
    assert any("role conductor.swarm.stacks does not exist" in p for p in dc.yaml_problems(text))


def test_unknown_role_variable_is_reported():
    problems = dc.yaml_problems("stack_name: shop\nstack_deadlines: 90\n")
    assert any("stack_deadlines is not an option of role conductor.swarm.stack" in p for p in problems)


def test_role_variable_of_the_wrong_type_is_reported():
    problems = dc.yaml_problems("stack_name: shop\nstack_resolve_image: sometimes\n")
    assert any("stack_resolve_image" in p for p in problems)


def test_role_variables_in_an_inventory_are_checked():
    text = "all:\n  hosts:\n    node1:\n      swarm_cluster_node_label: {zone: a}\n"
    assert any("swarm_cluster_node_label is not an option" in p for p in dc.yaml_problems(text))


def test_broken_inventory_is_reported():
    assert any("not a valid inventory" in p for p in dc.yaml_problems("all:\n  hosts: [a, b]\n"))


def test_compose_with_a_bad_fail_mode_is_reported():
    text = ("services:\n  web:\n    image: registry.example.com/web:1\n    deploy:\n      labels:\n"
            "        conductor.swarm.fail-mode: fast\n")
    assert any("conductor.swarm.fail-mode is 'fast'" in p for p in dc.yaml_problems(text))


def test_compose_the_loader_refuses_is_reported():
    text = "services:\n  web:\n    image: registry.example.com/web:1\n    deploy:\n      replicas: many\n"
    assert any("replicas" in p for p in dc.yaml_problems(text))


def test_unknown_make_target_and_variable_are_reported():
    problems = dc.shell_problems(block("make demo\nmake deploy LAB_NODES=3\n", "sh"))
    assert problems == ["docs/example.md:12: make target deploy is not in the Makefile",
                        "docs/example.md:12: make variable LAB_NODES is not used in the Makefile"]


def test_missing_playbook_is_reported():
    problems = dc.shell_problems(block("ansible-playbook -i inventories/example/hosts.yml playbooks/upgrade.yml\n",
                                       "sh"))
    assert any("playbook playbooks/upgrade.yml does not exist" in p for p in problems)
    problems = dc.shell_problems(block("ansible-playbook conductor.swarm.upgrade\n", "sh"))
    assert any("conductor.swarm.upgrade does not exist" in p for p in problems)


def test_unknown_extra_variable_is_reported():
    text = "ansible-playbook -i inventories/example/hosts.yml playbooks/deploy.yml \\\n  -e stack=demo -e strategy=x\n"
    problems = dc.shell_problems(block(text, "sh"))
    assert problems == ["docs/example.md:11: -e stack: playbooks/deploy.yml reads no such variable"]


def test_extra_variables_in_json_and_files_are_checked():
    text = "ansible-playbook playbooks/deploy.yml -e '{\"stack_deadline\": \"soon\"}' -e @vars.yml\n"
    problems = dc.shell_problems(block(text, "sh"), {"vars.yml": {"stack_nam": "x"}})
    assert any("stack_deadline" in p for p in problems)
    assert any("-e stack_nam" in p for p in problems)
    assert any("-e @missing.yml: no such file" in p
               for p in dc.shell_problems(block("ansible-playbook playbooks/deploy.yml -e @missing.yml\n", "sh")))


def test_provision_accepts_only_its_roles_variables():
    text = "ansible-playbook playbooks/provision.yml -e swarm_cluster_port=2377 -e stack_name=demo\n"
    problems = dc.shell_problems(block(text, "sh"))
    assert problems == ["docs/example.md:11: -e stack_name: playbooks/provision.yml reads no such variable"]


def test_missing_repository_path_is_reported():
    problems = dc.shell_problems(block("ansible-playbook playbooks/deploy.yml -e stack_file=examples/stack/demo2.yml\n"
                                       "bash scripts/ensure-podman.sh\n", "sh"))
    assert len(problems) == 2
    assert "examples/stack/demo2.yml does not exist" in problems[0]
    assert "scripts/ensure-podman.sh does not exist" in problems[1]


def test_allowlisted_and_documented_paths_are_accepted():
    text = ("cp -r inventories/example inventories/prod\n"
            "ansible-playbook -i inventories/prod/hosts.yml playbooks/deploy.yml -e @deploy-shop.yml\n")
    assert dc.shell_problems(block(text, "sh"), {"deploy-shop.yml": {"stack_name": "shop"}}) == []


def test_a_playbook_the_docs_write_out_is_accepted_and_others_are_not():
    documented = {"site.yml": [{"hosts": "all"}]}
    assert dc.shell_problems(block("ansible-playbook -i hosts.yml site.yml\n", "sh"), documented) == []
    problems = dc.shell_problems(block("ansible-playbook -i hosts.yml sites.yml\n", "sh"), documented)
    assert any("playbook sites.yml does not exist" in p for p in problems)


def test_adhoc_module_arguments_are_validated():
    problems = dc.shell_problems(block("ansible 'managers[0]' -m conductor.swarm.stack_info -a stack=demo\n", "sh"))
    assert any("stack" in p and "unsupported parameters" in p for p in problems)


def test_console_blocks_check_only_commands():
    text = "$ make lab\nmake: *** No rule to make target\n$ make labs\n"
    assert dc.shell_problems(block(text, "console")) == ["docs/example.md:13: make target labs is not in the Makefile"]


def test_bad_module_examples_are_reported():
    text = "- name: x\n  conductor.swarm.stack_info:\n    stack: shop\n- name: y\n  ansible.builtin.nosuch: {}\n"
    problems = dc.examples_problems(text, "plugins/modules/stack_info.py EXAMPLES")
    assert any("missing required arguments: name" in p for p in problems)
    assert any("syntax-check failed" in p for p in problems)


def test_documentation_and_spec_differences_are_reported():
    doc = {"name": {"type": "str", "required": True}, "wait": {"type": "bool", "default": True}}
    spec = {"name": {"type": "str"}, "wait": {"type": "bool", "default": False}, "extra": {"type": "int"}}
    assert dc.doc_spec_differences(doc, spec) == [
        "extra: in the argument spec but not documented",
        "name: required is True in the docs, False in the code",
        "wait: default is True in the docs, False in the code",
    ]


def test_broken_links_are_reported():
    path = dc.ROOT / "docs" / "deploying.md"
    text = "See [x](nowhere.md), [y](troubleshooting.md#no-such-heading) and [z](#deadlines).\n"
    assert dc.link_problems(path, text) == [
        "docs/deploying.md:1: link to nowhere.md: no such file",
        "docs/deploying.md:1: link to troubleshooting.md#no-such-heading: "
        "docs/troubleshooting.md has no heading #no-such-heading",
    ]


def test_stale_module_pages_are_reported(tmp_path):
    pages = module_docs.render_all(dc.ROOT)
    out = tmp_path / "docs" / "modules"
    out.mkdir(parents=True)
    for rel, text in pages.items():
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert module_docs.stale_files(tmp_path, pages) == []
    changed = pages["docs/modules/stack_info.md"].replace("healthy", "fine")
    (out / "stack_info.md").write_text(changed, encoding="utf-8")
    (out / "old_module.md").write_text("# gone\n", encoding="utf-8")
    (out / "swarm_nodes.md").unlink()
    assert module_docs.stale_files(tmp_path, pages) == [
        "docs/modules/stack_info.md", "docs/modules/swarm_nodes.md", "docs/modules/old_module.md"]


def test_module_docs_check_exits_non_zero_on_a_stale_page(tmp_path):
    # The real tool on a copy of the tree: a changed page makes --check fail and name it.
    for name in ("plugins", "meta", "docs", "ansible.cfg"):
        source = dc.ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    page = tmp_path / "docs" / "modules" / "stack_rollback.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nhand edit\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(dc.ROOT / "tests" / "tools" / "module_docs.py"), "--check",
                           "--root", str(tmp_path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "stale: docs/modules/stack_rollback.md" in proc.stdout


@pytest.mark.parametrize("markup, expected", [
    ("Use C(docker stack deploy) now.", "Use `docker stack deploy` now."),
    ("With O(wait=true) and O(nodes[].node_id).", "With `wait=true` and `nodes[].node_id`."),
    ("Value V(a\\)b) here.", "Value `a)b` here."),
    ("Env E(DOCKER_HOST), RV(rollout.verdict).", "Env `DOCKER_HOST`, `rollout.verdict`."),
    ("I(italic) and B(bold).", "*italic* and **bold**."),
    ("See M(conductor.swarm.stack_info).", "See [`conductor.swarm.stack_info`](stack_info.md)."),
    ("See M(community.docker.docker_node).", "See `community.docker.docker_node`."),
    ("L(Docker docs,https://docs.docker.com) or U(https://example.com).",
     "[Docker docs](https://docs.docker.com) or <https://example.com>."),
    ("Names <stack>_<name>.", "Names &lt;stack>_&lt;name>."),
    ("CPU(s) and C(unclosed", "CPU(s) and C(unclosed"),
    ("C(`tick`)", "`` `tick` ``"),
])
def test_markup_conversion(markup, expected):
    assert module_docs.markdown(markup) == expected
