"""Checks that the examples in README.md, docs/ and the roles' README.md still match the code.

Each check returns a list of problems (strings naming the file and line);
an empty list means the example is fine. test_docs_examples.py runs them on
every example, and feeds them broken examples to show they can fail.

What is checked, and against what:

* ```yaml blocks: they parse; playbooks pass `ansible-playbook --syntax-check`;
  task lists are syntax-checked inside a play and each conductor.swarm task's
  arguments are validated against the module's argument spec (captured from
  the module's main() as ansible-test's validate-modules does); Compose files
  go through the collection's own Compose loader and rollout-label checks;
  inventories load with ansible-inventory; stack_*, swarm_cluster_* and
  docker_engine_* variables must be options of that role's
  meta/argument_specs.yml, with values of the right type.
* ```sh/```bash/```console blocks: `make` targets and variables exist in the
  Makefile; `ansible-playbook` names an existing playbook and only -e
  variables it accepts; `ansible -m conductor.swarm.X -a ...` arguments
  validate; repository paths in commands exist (see USER_PATHS).
* Relative Markdown links point at existing files and headings.
"""
import ast
import functools
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
COLLECTION = "conductor.swarm"
PACKAGE = "ansible_collections.conductor.swarm"
EXAMPLE_INVENTORY = ROOT / "inventories" / "example" / "hosts.yml"
BIN = ROOT / ".venv" / "bin"

# The modules import themselves as ansible_collections.conductor.swarm.*, as `make venv` links it.
_LINK = COLLECTIONS / "ansible_collections" / "conductor" / "swarm"
if not _LINK.exists():
    _LINK.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(ROOT, _LINK)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402
from ansible.module_utils.errors import UnsupportedError  # noqa: E402
from ansible.parsing.splitter import parse_kv  # noqa: E402
from ansible.playbook.block import Block as PlayBlock  # noqa: E402
from ansible.playbook.task import Task  # noqa: E402

ROLE_PREFIXES = {"stack_": "stack", "swarm_cluster_": "swarm_cluster", "docker_engine_": "docker_engine",
                 "edge_proxy_": "edge_proxy"}
# Variables that share a role's prefix but are not role options, on purpose.
# Variables named like role options that are not; none today.
NOT_ROLE_OPTIONS = {}
TASK_KEYWORDS = (set(Task.fattributes) - {"async_val", "loop_with"}) | {"local_action"}
BLOCK_KEYWORDS = set(PlayBlock.fattributes)
TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers")
SHELL_LANGS = ("sh", "bash", "shell", "console")
YAML_LANGS = ("yaml", "yml")
FILE_SUFFIXES = (".yml", ".yaml", ".py", ".sh", ".md", ".json", ".txt", ".conf", ".tar.gz", ".cfg")


def _galaxy_archive():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    return "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])


# Paths that commands in the docs name but that are not in the repository.
# Each is either made by a command the docs show, or is the reader's own file.
USER_PATHS = {
    ".venv": "made by `make venv`",
    ".build": "made by `make venv` (collection link, logs)",
    ".lab": "made by `make lab` (the lab's SSH key)",
    "inventories/lab/hosts.yml": "written by `make lab`",
    "inventories/prod": "the reader's copy: `cp -r inventories/example inventories/prod`",
    "shop.yml": "the reader's own Compose file (README: -e stack_file=shop.yml)",
    "hosts.yml": "the reader's own inventory (README: install from Galaxy)",
    _galaxy_archive(): "written by `ansible-galaxy collection build`",
}

# Ansible's own options that take a value, so the value is not taken for a playbook or pattern.
PLAYBOOK_VALUE_OPTIONS = {
    "-i", "--inventory", "-e", "--extra-vars", "-l", "--limit", "-t", "--tags", "--skip-tags", "-u", "--user",
    "-c", "--connection", "-f", "--forks", "--vault-id", "--vault-password-file", "-M", "--module-path",
    "--start-at-task", "-T", "--timeout", "--private-key", "--key-file", "--become-user", "--become-method",
    "--ssh-common-args", "--ssh-extra-args", "--scp-extra-args", "--sftp-extra-args",
}
ADHOC_VALUE_OPTIONS = PLAYBOOK_VALUE_OPTIONS | {"-m", "--module-name", "-a", "--args", "-B", "--background",
                                                "-P", "--poll", "-o", "--one-line", "--tree"}


@dataclass(frozen=True)
class Block:
    """A fenced code block: where it is, its language and its text (fence indentation removed)."""
    path: str
    line: int
    lang: str
    text: str

    def __str__(self):
        return "%s:%d" % (self.path, self.line)


# ------------------------------------------------------------ Markdown ---

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def doc_files(root=ROOT):
    # The roles' READMEs are their pages on Galaxy: their example plays are checked too.
    return [root / "README.md"] + sorted((root / "docs").rglob("*.md")) + sorted((root / "roles").glob("*/README.md"))


def find_blocks(text, path="<text>"):
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = len(match.group("indent")), match.group("fence")
        info = match.group("info").strip()
        closing = re.compile(r"^[ \t]*%s%s*\s*$" % (re.escape(fence), re.escape(fence[0])))
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        body = [line[indent:] if line[:indent].strip() == "" else line.lstrip() for line in lines[i + 1:end]]
        blocks.append(Block(path, i + 1, info.split()[0] if info else "", "\n".join(body) + "\n"))
        i = end + 1
    return blocks


def all_blocks(root=ROOT):
    blocks = []
    for path in doc_files(root):
        blocks.extend(find_blocks(path.read_text(encoding="utf-8"), str(path.relative_to(root))))
    return blocks


def defined_files(blocks):
    """Files the docs write out in full: a yaml block whose first line is `# <name>.yml`."""
    files = {}
    for block in blocks:
        first = block.text.lstrip("\n").split("\n", 1)[0]
        match = re.match(r"^#\s*(\S+\.ya?ml)\s*$", first)
        if block.lang in YAML_LANGS and match:
            try:
                files[match.group(1)] = yaml.safe_load(block.text)
            except yaml.YAMLError:
                files[match.group(1)] = None
    return files


def github_slug(heading):
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(text):
    anchors, seen = set(), {}
    in_code = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match and not in_code:
            slug = github_slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else "%s-%d" % (slug, count))
    anchors.update(re.findall(r"<a (?:id|name)=\"([^\"]+)\"", text))
    return anchors


def _outside_code(text):
    """(line number, line) for lines outside fenced blocks, inline code removed."""
    in_code = False
    for number, line in enumerate(text.split("\n"), 1):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if not in_code:
            yield number, re.sub(r"`[^`]*`", "", line)


def link_problems(path, text, root=ROOT):
    """Relative links to files that do not exist, or to headings those files do not have."""
    problems = []
    rel = path.relative_to(root) if path.is_absolute() else path
    for number, line in _outside_code(text):
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _hash, anchor = target.partition("#")
            dest = (root / rel).parent / file_part if file_part else root / rel
            if not dest.exists():
                problems.append("%s:%d: link to %s: no such file" % (rel, number, target))
                continue
            if anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text(encoding="utf-8")):
                problems.append("%s:%d: link to %s: %s has no heading #%s" % (
                    rel, number, target, dest.relative_to(root), anchor))
    return problems


# ---------------------------------------------------- argument specs ---

class _SpecCaptured(Exception):
    pass


_VALIDATOR_KEYS = ("argument_spec", "mutually_exclusive", "required_together", "required_one_of",
                   "required_if", "required_by")


def module_names(root=ROOT):
    return sorted(p.stem for p in (root / "plugins" / "modules").glob("*.py") if p.stem != "__init__")


@functools.lru_cache(maxsize=None)
def module_spec(name):
    """The module's argument spec and its constraints, as its main() gives them to AnsibleModule.

    This is how ansible-test's validate-modules reads a spec: run main() with
    an AnsibleModule that stops at __init__. A module without main() (its
    action plugin does the work) is validated against the plugin's ARGUMENT_SPEC.
    """
    module = importlib.import_module("%s.plugins.modules.%s" % (PACKAGE, name))
    if hasattr(module, "main"):
        def capture(_self, *args, **kwargs):
            if args:
                kwargs["argument_spec"] = args[0]
            raise _SpecCaptured(kwargs)

        with mock.patch.object(AnsibleModule, "__init__", capture):
            try:
                module.main()
            except _SpecCaptured as captured:
                found = captured.args[0]
                return dict((k, found[k]) for k in _VALIDATOR_KEYS if found.get(k) is not None)
        raise AssertionError("%s: main() never built an AnsibleModule" % name)
    action = importlib.import_module("%s.plugins.action.%s" % (PACKAGE, name))
    return {"argument_spec": action.ActionModule.ARGUMENT_SPEC}


def _is_template(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _placeholder(opt, elements=False):
    """A value of the option's type, standing in for a template that only runs later."""
    kind = opt.get("elements") if elements else opt.get("type", "str")
    if opt.get("choices") and (elements or kind not in ("list",)):
        return opt["choices"][0]
    if kind == "dict" and opt.get("options"):
        return dict((name, _placeholder(sub)) for name, sub in opt["options"].items() if sub.get("required"))
    return {"int": 0, "float": 0.0, "bool": False, "list": [], "dict": {}}.get(kind, "templated")


def _canonical(spec):
    names = {}
    for name, opt in spec.items():
        names[name] = name
        for alias in opt.get("aliases") or []:
            names[alias] = name
    return names


def relax_templates(spec, params):
    """params with Jinja values replaced by placeholders of the right type.

    A template's value is only known when the task runs; a string option
    keeps it as it is, other types get a valid stand-in, so that only what is
    written literally is judged.
    """
    names = _canonical(spec)
    out = {}
    for key, value in (params or {}).items():
        opt = spec.get(names.get(key, ""), None)
        if opt is None:
            out[key] = value  # reported as unsupported by the validator
            continue
        subs = opt.get("options")
        if _is_template(value):
            keep = opt.get("type", "str") in ("str", "path", "raw") and not opt.get("choices")
            out[key] = value if keep else _placeholder(opt)
        elif subs and isinstance(value, dict):
            out[key] = relax_templates(subs, value)
        elif isinstance(value, list):
            out[key] = [relax_templates(subs, item) if subs and isinstance(item, dict)
                        else _placeholder(opt, elements=True) if _is_template(item) and opt.get("elements")
                        not in (None, "str", "path", "raw") else item for item in value]
        else:
            out[key] = value
    return out


def validate_against_spec(spec_kwargs, params):
    """Error messages from Ansible's own validator, templates aside."""
    spec = spec_kwargs["argument_spec"]
    result = ArgumentSpecValidator(**spec_kwargs).validate(relax_templates(spec, params))
    # Ansible's message for unknown options is only their names; say what they are.
    return ["unsupported parameters: %s" % error if isinstance(error, UnsupportedError) else str(error)
            for error in result.errors]


def validate_module_args(fqcn, args):
    prefix = COLLECTION + "."
    name = fqcn[len(prefix):]
    if name not in module_names():
        return ["%s: no such module in plugins/modules" % fqcn]
    if not isinstance(args, dict):
        return ["%s: arguments must be a mapping, not %r" % (fqcn, args)]
    return ["%s: %s" % (fqcn, message) for message in validate_against_spec(module_spec(name), args)]


# ---------------------------------------------------------------- roles ---

@functools.lru_cache(maxsize=None)
def role_entry_points(role):
    path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    if not path.is_file():
        return {}
    specs = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("argument_specs") or {}
    return dict((entry, (spec or {}).get("options") or {}) for entry, spec in specs.items())


def role_options(role, entry=None):
    points = role_entry_points(role)
    if entry is not None:
        return dict(points.get(entry) or {})
    merged = {}
    for options in points.values():
        merged.update(options)
    return merged


def role_of(variable):
    if variable in NOT_ROLE_OPTIONS:
        return None
    for prefix, role in ROLE_PREFIXES.items():
        if isinstance(variable, str) and variable.startswith(prefix):
            return role
    return None


def role_variable_problems(name, value):
    role = role_of(name)
    options = role_options(role)
    if name not in options:
        return ["variable %s is not an option of role %s.%s (roles/%s/meta/argument_specs.yml)"
                % (name, COLLECTION, role, role)]
    spec = {name: dict(options[name], required=False)}
    return ["variable %s: %s" % (name, m) for m in validate_against_spec({"argument_spec": spec}, {name: value})]


def _mappings(data):
    """Every (key, value) of every mapping in a parsed YAML document."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield key, value
            yield from _mappings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _mappings(item)


def role_vars_in(data):
    problems = []
    for key, value in _mappings(data):
        if role_of(key):
            problems.extend(role_variable_problems(key, value))
    return problems


def _role_dir(name):
    """roles/<x> for conductor.swarm.<x>, None for other roles."""
    prefix = COLLECTION + "."
    return name[len(prefix):] if isinstance(name, str) and name.startswith(prefix) else None


def entry_point(tasks_from):
    """The argument-spec entry point of `tasks_from`: Ansible takes it with or without .yml."""
    return re.sub(r"\.ya?ml$", "", str(tasks_from or "main"))


def role_reference_problems(name, entry="main"):
    entry = entry_point(entry)
    short = _role_dir(name)
    if short is None:
        return []
    if not (ROOT / "roles" / short).is_dir():
        return ["role %s does not exist" % name]
    if not (ROOT / "roles" / short / "tasks" / ("%s.yml" % entry)).is_file():
        return ["role %s has no tasks/%s.yml" % (name, entry)]
    return []


# ---------------------------------------------------------------- tasks ---

def _module_of(task):
    """(module name, args) of a task, or (None, problem)."""
    for keyword in ("action", "local_action"):
        if keyword in task:
            value = task[keyword]
            if isinstance(value, dict):
                value = dict(value)
                module = value.pop("module", None)
                return module, value
            module, _space, rest = str(value).partition(" ")
            return module, parse_kv(rest)
    candidates = [k for k in task if k not in TASK_KEYWORDS and not str(k).startswith("with_")]
    if len(candidates) != 1:
        return None, "a task needs exactly one module, found %s" % (", ".join(map(str, candidates)) or "none")
    module = candidates[0]
    args = task[module]
    if isinstance(args, str):
        args = parse_kv(args)
    elif args is None:
        args = {}
    return module, args


def task_problems(task):
    if not isinstance(task, dict):
        return ["a task must be a mapping, not %r" % (task,)]
    if any(k in task for k in ("block", "rescue", "always")):
        problems = ["unknown block keyword %s" % k for k in task if k not in BLOCK_KEYWORDS]
        for key in ("block", "rescue", "always"):
            for sub in task.get(key) or []:
                problems.extend(task_problems(sub))
        return problems
    module, args = _module_of(task)
    if module is None:
        return ["task %r: %s" % (task.get("name", "?"), args)]
    if isinstance(args, dict) and isinstance(task.get("args"), dict):
        args = dict(task["args"], **args)
    problems = []
    if str(module).startswith(COLLECTION + "."):
        problems.extend(validate_module_args(module, args))
    if str(module).rsplit(".", maxsplit=1)[-1] in ("include_role", "import_role") and isinstance(args, dict):
        problems.extend(role_reference_problems(args.get("name"), args.get("tasks_from", "main")))
    return ["task %r: %s" % (task.get("name", "?"), p) for p in problems]


def play_problems(play):
    if not isinstance(play, dict):
        return ["a play must be a mapping, not %r" % (play,)]
    problems = []
    for role in play.get("roles") or []:
        name = role.get("role") or role.get("name") if isinstance(role, dict) else role
        problems.extend(role_reference_problems(name))
    for key in TASK_LISTS:
        for task in play.get(key) or []:
            problems.extend(task_problems(task))
    return problems


def _ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0")


def _tool(name):
    local = BIN / name
    return str(local) if local.exists() else name


def _first_error(text):
    lines = [line for line in text.strip().split("\n") if line.strip()]
    for index, line in enumerate(lines):
        if "ERROR" in line:
            return " ".join(lines[index:index + 2])
    return " ".join(lines[:2])


_SYNTAX_OK = set()


def prewarm_syntax_checks(texts):
    """Syntax-check many playbooks in one ansible-playbook run; those that pass need no run of their own.

    One run costs about as much as checking one playbook. When any fails,
    nothing is recorded, and syntax_check finds the culprit one by one.
    """
    texts = sorted(set(texts) - _SYNTAX_OK)
    if not texts:
        return
    with tempfile.TemporaryDirectory(prefix="docs-examples-") as tmp:
        paths = []
        for index, text in enumerate(texts):
            path = Path(tmp) / ("example-%d.yml" % index)
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        proc = subprocess.run([_tool("ansible-playbook"), "--syntax-check", "-i", str(EXAMPLE_INVENTORY)] + paths,
                              cwd=str(ROOT), env=_ansible_env(), capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        _SYNTAX_OK.update(texts)


def syntax_check(playbook_text):
    """`ansible-playbook --syntax-check` on this text, as a playbook file of its own."""
    if playbook_text in _SYNTAX_OK:
        return []
    return _syntax_check(playbook_text)


@functools.lru_cache(maxsize=None)
def _syntax_check(playbook_text):
    with tempfile.TemporaryDirectory(prefix="docs-example-") as tmp:
        path = Path(tmp) / "example.yml"
        path.write_text(playbook_text, encoding="utf-8")
        proc = subprocess.run([_tool("ansible-playbook"), "--syntax-check", "-i", str(EXAMPLE_INVENTORY), str(path)],
                              cwd=str(ROOT), env=_ansible_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return ["ansible-playbook --syntax-check failed: %s" % _first_error(proc.stderr + proc.stdout)]
    return []


def tasks_as_playbook(tasks):
    return yaml.safe_dump([{"name": "Docs example", "hosts": "all", "gather_facts": False, "tasks": tasks}],
                          sort_keys=False)


@functools.lru_cache(maxsize=None)
def inventory_check(text):
    with tempfile.TemporaryDirectory(prefix="docs-inventory-") as tmp:
        path = Path(tmp) / "hosts.yml"
        path.write_text(text, encoding="utf-8")
        env = dict(_ansible_env(), ANSIBLE_INVENTORY_UNPARSED_FAILED="1", ANSIBLE_INVENTORY_ENABLED="yaml")
        proc = subprocess.run([_tool("ansible-inventory"), "-i", str(path), "--list"],
                              cwd=str(ROOT), env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or "WARNING" in proc.stderr:
        return ["not a valid inventory: %s" % _first_error(proc.stderr + proc.stdout)]
    return []


# -------------------------------------------------------------- compose ---

def compose_problems(document):
    """What the collection itself would refuse in this Compose file, before touching a swarm."""
    compose_pkg = importlib.import_module(PACKAGE + ".plugins.module_utils.compose.api")
    stack_manager = importlib.import_module(PACKAGE + ".plugins.module_utils.stack_manager")

    def read_file(_path):
        return b"EXAMPLE=1\n"  # files the example names are the reader's; any content will do

    try:
        compose = compose_pkg.load_stack([document], {}, read_file)
        converted = compose_pkg.convert_stack("docs", compose, read_file)
        for name, spec in converted["services"].items():
            stack_manager.check_rollout_labels(name, spec)
    except compose_pkg.ComposeError as exc:
        return ["the Compose file would be rejected: %s" % exc]
    return []


# ----------------------------------------------------------------- yaml ---

def _is_inventory_group(value):
    return isinstance(value, dict) and bool(value) and set(value) <= {"hosts", "children", "vars"}


@functools.lru_cache(maxsize=None)
def playbook_variables():
    """Variables the playbooks read with a default, such as `strategy | default('rolling')`."""
    names = set()
    for path in (ROOT / "playbooks").glob("*.yml"):
        names.update(re.findall(r"\b([A-Za-z_]\w*)\s*\|\s*default\(", path.read_text(encoding="utf-8")))
    return frozenset(names)


# Top-level keys of a Compose service, for examples that show one service's settings.
COMPOSE_SERVICE_KEYS = {
    "image", "deploy", "healthcheck", "environment", "ports", "networks", "configs", "secrets", "labels",
    "stop_grace_period", "stop_signal", "command", "entrypoint", "volumes", "logging", "env_file", "user",
    "working_dir", "init",
}
EXAMPLE_IMAGE = "registry.example.com/example/app:1.0.0"


def classify(data):
    """What a parsed yaml document is.

    playbook, tasks, compose, compose-service (one service's settings),
    inventory, requirements (Galaxy), task-keywords (keywords of one task),
    vars (role or playbook variables), or other.
    """
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        plays = ("hosts", "import_playbook", "ansible.builtin.import_playbook")
        return "playbook" if any(k in item for item in data for k in plays) else "tasks"
    if not isinstance(data, dict) or not data:
        return "other"
    if "services" in data:
        return "compose"
    if "all" in data and isinstance(data["all"], dict) or all(_is_inventory_group(v) for v in data.values()):
        return "inventory"
    if set(data) <= {"collections", "roles"} and all(isinstance(v, list) for v in data.values()):
        return "requirements"
    if set(data) <= TASK_KEYWORDS:
        return "task-keywords"
    if set(data) <= COMPOSE_SERVICE_KEYS:
        return "compose-service"
    if any(role_of(k) or k in playbook_variables() for k in data):
        return "vars"
    return "other"


def _version(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def version_allowed(version, constraint):
    """Does a Galaxy version range such as ">=0.1.0,<1.0.0" admit this version?"""
    checks = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
              "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
    for part in str(constraint).split(","):
        match = re.match(r"^\s*(>=|<=|==|!=|>|<)?\s*(\S+)\s*$", part)
        if not match or match.group(2) == "*":
            continue
        if not checks[match.group(1) or "=="](_version(version), _version(match.group(2))):
            return False
    return True


def requirements_problems(data):
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    ours = "%s.%s" % (galaxy["namespace"], galaxy["name"])
    problems = []
    for entry in data.get("collections") or []:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not name:
            problems.append("a collection entry without a name: %r" % (entry,))
        elif name == ours and isinstance(entry, dict) and "version" in entry \
                and not version_allowed(galaxy["version"], entry["version"]):
            problems.append("%s version %s does not admit this version, %s (galaxy.yml)"
                            % (ours, entry["version"], galaxy["version"]))
    return problems


def vars_problems(data):
    return ["%s is neither a role variable nor one the playbooks read" % key for key in data
            if not role_of(key) and key not in playbook_variables() and not str(key).startswith("ansible_")]


def _syntax_text(kind, data, text=None):
    """The playbook a document is syntax-checked as, or None."""
    if kind == "playbook":
        return text if text is not None else yaml.safe_dump(data, sort_keys=False)
    if kind == "tasks":
        return tasks_as_playbook(data)
    if kind == "task-keywords":
        return tasks_as_playbook([dict({"name": "Docs example", "ansible.builtin.debug": {"msg": "example"}}, **data)])
    return None


def syntax_texts(text):
    """Every playbook yaml_problems would syntax-check for this example (for prewarm_syntax_checks)."""
    try:
        documents = yaml_documents(text)
    except yaml.YAMLError:
        return []
    found = [_syntax_text(classify(d), d, text if len(documents) == 1 else None) for d in documents]
    return [t for t in found if t is not None]


def document_problems(data, text=None):
    """Problems of one parsed yaml document; text is its source, when it is the whole block."""
    kind = classify(data)
    problems = []
    if kind == "playbook":
        for play in data:
            problems.extend(play_problems(play))
    elif kind == "tasks":
        for task in data:
            problems.extend(task_problems(task))
    elif kind == "compose":
        problems.extend(compose_problems(data))
    elif kind == "compose-service":
        problems.extend(compose_problems({"services": {"example": dict({"image": EXAMPLE_IMAGE}, **data)}}))
    elif kind == "inventory":
        inventory = data if "all" in data else {"all": {"children": data}}
        problems.extend(inventory_check(yaml.safe_dump(inventory)))
    elif kind == "requirements":
        problems.extend(requirements_problems(data))
    elif kind == "vars":
        problems.extend(vars_problems(data))
    if kind not in ("compose", "compose-service"):
        problems.extend(role_vars_in(data))
    playbook = _syntax_text(kind, data, text)
    if playbook is not None:
        problems.extend(syntax_check(playbook))
    return problems


def yaml_documents(text):
    return list(yaml.safe_load_all(text))


def yaml_problems(text, where="<example>"):
    """Problems of one yaml example (every document of it); `where` prefixes each."""
    try:
        documents = yaml_documents(text)
    except yaml.YAMLError as exc:
        return ["%s: does not parse as YAML: %s" % (where, " ".join(str(exc).split()))]
    problems = []
    for index, data in enumerate(documents):
        label = where if len(documents) == 1 else "%s (document %d)" % (where, index + 1)
        found = document_problems(data, text if len(documents) == 1 else None)
        problems.extend("%s: %s" % (label, p) for p in found)
    return problems


def json_problems(text, where="<example>"):
    try:
        json.loads(text)
    except ValueError as exc:
        return ["%s: does not parse as JSON: %s" % (where, exc)]
    return []


# ---------------------------------------------------------------- shell ---

def shell_commands(text, lang="sh"):
    """(line offset in the block, argv) for each simple command in a shell block."""
    commands = []
    lines = text.split("\n")
    if lang == "console":
        lines = [line[2:] if line.startswith("$ ") else "" for line in lines]
    logical, start = "", None
    for offset, line in enumerate(lines):
        if start is None:
            start = offset
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        lexer = shlex.shlex(logical, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError as exc:
            commands.append((start, ["<unparsable>", str(exc)]))
            tokens = []
        argv = []
        for token in tokens + [";"]:
            if token in (";", "&&", "||", "|", "&"):
                if argv:
                    commands.append((start, argv))
                argv = []
            else:
                argv.append(token)
        logical, start = "", None
    return commands


def _strip_wrappers(argv):
    argv = list(argv)
    while argv and (re.match(r"^[A-Za-z_]\w*=", argv[0]) or argv[0] in ("sudo", "env", "time", "exec")):
        argv.pop(0)
    return argv


@functools.lru_cache(maxsize=None)
def makefile():
    """(targets, variables) of the Makefile."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets, variables = set(), set()
    for line in text.split("\n"):
        if line.startswith("\t") or line.startswith("#"):
            continue
        assign = re.match(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?|:|::|\+)?=", line)
        if assign:
            variables.add(assign.group(1))
            continue
        rule = re.match(r"^([^:=#]+):(?!=)", line)
        if rule:
            targets.update(t for t in rule.group(1).split() if "$" not in t)
    variables.update(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", text))
    targets.discard(".PHONY")
    return frozenset(targets), frozenset(variables)


def make_problems(args):
    targets, variables = makefile()
    problems = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("-C", "-f", "--file", "--directory", "-I", "-o", "-W"):
            skip = True
            continue
        if arg.startswith("-"):
            continue
        if "=" in arg:
            name = arg.split("=", 1)[0]
            if name not in variables:
                problems.append("make variable %s is not used in the Makefile" % name)
        elif arg not in targets:
            problems.append("make target %s is not in the Makefile" % arg)
    return problems


def _allowed_user_path(path):
    return any(path == entry or path.startswith(entry.rstrip("/") + "/") for entry in USER_PATHS)


def looks_like_repo_path(token):
    if not token or token[0] in "/~$<>{@'\"-" or "://" in token or ":" in token or "*" in token:
        return False
    if "/" in token:
        first = token.split("/", 1)[0]
        return first in _top_level()
    return token.endswith(FILE_SUFFIXES)


@functools.lru_cache(maxsize=None)
def _top_level():
    return frozenset(os.listdir(ROOT)) | frozenset(p for p in USER_PATHS if "/" not in p)


def path_problems(token, documented=()):
    """A repository path that does not exist, unless the docs define it or USER_PATHS explains it."""
    path = token.rstrip("/")
    if not looks_like_repo_path(path) or path in documented or _allowed_user_path(path):
        return []
    if (ROOT / path).exists():
        return []
    return ["%s does not exist (if it is the reader's own file, add it to USER_PATHS in %s)"
            % (token, Path(__file__).relative_to(ROOT))]


def _extra_vars(value, documented):
    """(variable names, problems) of one -e value."""
    if value.startswith("@"):
        name = value[1:]
        if name in documented:
            data = documented[name]
        elif (ROOT / name).is_file():
            data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        elif _allowed_user_path(name):
            return {}, []
        else:
            return {}, ["-e %s: no such file, and no docs example defines it" % value]
        return (data if isinstance(data, dict) else {}), []
    if value.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(value)
        except ValueError:
            data = yaml.safe_load(value)
        return (data if isinstance(data, dict) else {}), []
    return parse_kv(value), []


def _resolve_playbook(name):
    """The file of a playbook named on the command line, or None."""
    prefix = COLLECTION + "."
    if name.startswith(prefix) and "/" not in name:
        path = ROOT / "playbooks" / (name[len(prefix):] + ".yml")
    else:
        path = ROOT / name
    return path if path.is_file() else None


@functools.lru_cache(maxsize=None)
def playbook_accepts(path):
    """Variables a playbook reads: its roles' argument specs and what it reads with a default()."""
    text = Path(path).read_text(encoding="utf-8")
    names = set(re.findall(r"\b([A-Za-z_]\w*)\s*\|\s*default\(", text))
    for play in yaml.safe_load(text) or []:
        for role in play.get("roles") or []:
            name = role.get("role") or role.get("name") if isinstance(role, dict) else role
            if _role_dir(name):
                names.update(role_options(_role_dir(name), "main"))
        for key in TASK_LISTS:
            for task in play.get(key) or []:
                for module, args in task.items():
                    if str(module).rsplit(".", maxsplit=1)[-1] in ("include_role", "import_role") and isinstance(args, dict):
                        if _role_dir(args.get("name")):
                            names.update(role_options(_role_dir(args["name"]), entry_point(args.get("tasks_from"))))
    return frozenset(names)


def ansible_playbook_problems(args, documented=()):
    problems, playbooks, extra = [], [], []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in PLAYBOOK_VALUE_OPTIONS and i + 1 < len(args):
            value = args[i + 1]
            if arg in ("-e", "--extra-vars"):
                extra.append(value)
            elif arg in ("-i", "--inventory"):
                problems.extend(path_problems(value, documented))
            i += 2
            continue
        if arg.startswith("--extra-vars="):
            extra.append(arg.split("=", 1)[1])
        elif not arg.startswith("-"):
            playbooks.append(arg)
        i += 1
    if not playbooks:
        problems.append("ansible-playbook without a playbook")
    accepted = set()
    for name in playbooks:
        if name in documented:
            continue  # a playbook the docs write out in full, checked as a yaml example
        path = _resolve_playbook(name)
        if path is None:
            problems.append("playbook %s does not exist" % name)
        else:
            accepted |= playbook_accepts(str(path))
    for value in extra:
        variables, found = _extra_vars(value, documented)
        problems.extend(found)
        for name, content in variables.items():
            if accepted and name not in accepted and not name.startswith("ansible_"):
                problems.append("-e %s: %s reads no such variable" % (name, ", ".join(playbooks)))
            elif role_of(name):
                problems.extend(role_variable_problems(name, content))
            if isinstance(content, str):
                problems.extend(path_problems(content, documented))
    return problems


def ansible_adhoc_problems(args, documented=()):
    problems, module, module_args = [], None, ""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ADHOC_VALUE_OPTIONS and i + 1 < len(args):
            if arg in ("-m", "--module-name"):
                module = args[i + 1]
            elif arg in ("-a", "--args"):
                module_args = args[i + 1]
            elif arg in ("-i", "--inventory"):
                problems.extend(path_problems(args[i + 1], documented))
            i += 2
            continue
        i += 1
    if module and module.startswith(COLLECTION + "."):
        parsed = json.loads(module_args) if module_args.lstrip().startswith("{") else parse_kv(module_args)
        problems.extend(validate_module_args(module, parsed))
    return problems


def command_problems(argv, documented=()):
    argv = _strip_wrappers(argv)
    if not argv:
        return []
    if argv[0] == "<unparsable>":
        return ["cannot split the command: %s" % argv[1]]
    command, args = os.path.basename(argv[0]), argv[1:]
    problems = path_problems(argv[0], documented) if "/" in argv[0] else []
    if command == "make":
        return problems + make_problems(args)
    if command == "ansible-playbook":
        return problems + ansible_playbook_problems(args, documented)
    if command == "ansible":
        problems += ansible_adhoc_problems(args, documented)
    for arg in args:
        if arg.startswith("-") and "=" in arg:
            arg = arg.split("=", 1)[1]
        problems.extend(path_problems(arg, documented))
    return problems


def shell_problems(block, documented=()):
    problems = []
    for offset, argv in shell_commands(block.text, block.lang):
        for problem in command_problems(argv, documented):
            problems.append("%s:%d: %s" % (block.path, block.line + 1 + offset, problem))
    return problems


# ------------------------------------------------------ module EXAMPLES ---

def _module_constant(name, constant):
    tree = ast.parse((ROOT / "plugins" / "modules" / (name + ".py")).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == constant for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def module_examples(name):
    return _module_constant(name, "EXAMPLES") or ""


def module_documentation(name):
    return yaml.safe_load(_module_constant(name, "DOCUMENTATION") or "") or {}


def examples_problems(text, where):
    """A module's EXAMPLES: a task list whose tasks validate and pass a syntax check."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return ["%s: EXAMPLES do not parse: %s" % (where, exc)]
    if classify(data) != "tasks":
        return ["%s: EXAMPLES must be a list of tasks" % where]
    problems = []
    for task in data:
        problems.extend(task_problems(task))
    problems.extend(syntax_check(tasks_as_playbook(data)))
    return ["%s: %s" % (where, p) for p in problems]


# ------------------------------------------------- documentation vs spec ---

def _doc_option_view(opt):
    view = {"type": opt.get("type", "str"), "required": bool(opt.get("required")),
            "default": opt.get("default"), "choices": opt.get("choices"),
            "elements": opt.get("elements"), "aliases": sorted(opt.get("aliases") or [])}
    return view


def doc_spec_differences(doc_options, spec, path=""):
    """Where the documented options and the argument spec disagree."""
    problems = []
    for name in sorted(set(doc_options) | set(spec)):
        where = path + name
        if name not in spec:
            problems.append("%s: documented but not in the argument spec" % where)
            continue
        if name not in doc_options:
            problems.append("%s: in the argument spec but not documented" % where)
            continue
        doc, code = _doc_option_view(doc_options[name]), _doc_option_view(spec[name])
        for key in doc:
            if doc[key] != code[key] and not (key == "default" and doc[key] in (None, {}, []) and code[key] is None):
                problems.append("%s: %s is %r in the docs, %r in the code" % (where, key, doc[key], code[key]))
        subs_doc = doc_options[name].get("suboptions") or {}
        subs_code = spec[name].get("options") or {}
        if subs_doc or subs_code:
            problems.extend(doc_spec_differences(subs_doc, subs_code, where + "."))
    return problems
