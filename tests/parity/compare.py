"""Compare what `docker stack config` prints with what our loader (compose.load_stack) returns.

Both are the merged, interpolated Compose file in long syntax. They are brought to one
representation first (normalize: sizes to bytes, durations to nanoseconds, file paths made
absolute, fields Go leaves out when empty left out on both sides); then every difference is
reported by key path. A difference is allowed only when a rule of ALLOWED (the deliberate
differences listed in plugins/module_utils/compose/api.py's docstring) explains it; any other fails.

Pure Python: used by tests/lab/test_parity_corpus.py (the CLI on the lab's manager as the oracle)
and by tests/parity/run_local.py (the CLI on this machine).
"""
import fnmatch
import posixpath
import re
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parent / "corpus"

# Maps whose keys the user chooses (service names, label keys...): their entries are never
# dropped as "empty"; everywhere else a key with a value Go's yaml encoder omits (false, "",
# 0-less empties, null) is left out on both sides, as `docker stack config` leaves it out.
USER_MAPS = [
    "services", "networks", "volumes", "configs", "secrets",
    "services.*.environment", "services.*.labels", "services.*.deploy.labels", "services.*.sysctls",
    "services.*.logging.options", "services.*.networks", "services.*.ulimits", "services.*.build.args",
    "services.*.build.labels", "networks.*.labels", "networks.*.driver_opts", "volumes.*.labels",
    "volumes.*.driver_opts", "configs.*.labels", "secrets.*.labels", "secrets.*.driver_opts",
]
# Keys docker/cli keeps as pointers (a 0 is printed) or with meaning when zero.
KEEP_ZERO = ["services.*.deploy.replicas", "services.*.healthcheck.retries",
             "services.*.deploy.update_config.parallelism", "services.*.deploy.rollback_config.parallelism",
             "services.*.deploy.restart_policy.max_attempts", "services.*.deploy.update_config.max_failure_ratio",
             "services.*.deploy.rollback_config.max_failure_ratio"]
DURATIONS = [
    "services.*.healthcheck.interval", "services.*.healthcheck.timeout", "services.*.healthcheck.start_period",
    "services.*.healthcheck.start_interval", "services.*.stop_grace_period",
    "services.*.deploy.update_config.delay", "services.*.deploy.update_config.monitor",
    "services.*.deploy.rollback_config.delay", "services.*.deploy.rollback_config.monitor",
    "services.*.deploy.restart_policy.delay", "services.*.deploy.restart_policy.window",
]
SIZES = ["services.*.deploy.resources.limits.memory", "services.*.deploy.resources.reservations.memory",
         "volumes.*.x-cluster-spec.capacity_range.required_bytes", "volumes.*.x-cluster-spec.capacity_range.limit_bytes",
         "services.*.volumes.*.tmpfs.size"]
FILES = ["configs.*.file", "secrets.*.file"]
MARKER_KEY = "x-conductor-swarm"


def _matches(path, patterns):
    text = ".".join(str(p) for p in path)
    return any(fnmatch.fnmatchcase(text, pattern) for pattern in patterns)


def _empty(value):
    return value is None or value is False or value == "" or value == [] or value == {}


def normalize(doc, working_dir, compose_spec, side):
    """One representation for both sides (side: "cli" or "ours"); returns a new dict."""
    doc = dict(doc)
    doc.pop(MARKER_KEY, None)
    if side == "cli":
        for svc in (doc.get("services") or {}).values():
            # docker/cli prints the env files it read; their variables are in `environment`
            # already (ours resolves them there too and drops the list). Compared: environment.
            svc.pop("env_file", None)
    return _walk(doc, (), working_dir, compose_spec)


def _walk(value, path, working_dir, compose_spec):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = path + (key,)
            item = _walk(item, sub, working_dir, compose_spec)
            user_key = _matches(path, USER_MAPS)
            if not user_key and _empty(item) and not (item == 0 and _matches(sub, KEEP_ZERO)):
                continue
            if not user_key and item == 0 and not isinstance(item, bool) and not _matches(sub, KEEP_ZERO):
                continue  # Go omits a zero int (uid-less modes, published: 0...)
            out[key] = item
        return out
    if isinstance(value, list):
        return [_walk(item, path + ("*",), working_dir, compose_spec) for item in value]
    if _matches(path, DURATIONS) and isinstance(value, str):
        return compose_spec.parse_duration(value)
    if _matches(path, SIZES) and isinstance(value, str):
        return compose_spec.parse_size(value)
    if _matches(path, FILES) and isinstance(value, str) and working_dir:
        return posixpath.normpath(posixpath.join(working_dir, value))
    return value


def diff(cli, ours, path=()):
    """[(path, cli value, our value)] where the two differ (MISSING for an absent key)."""
    if isinstance(cli, dict) and isinstance(ours, dict):
        out = []
        for key in sorted(set(cli) | set(ours), key=str):
            out += diff(cli.get(key, MISSING), ours.get(key, MISSING), path + (key,))
        return out
    if isinstance(cli, list) and isinstance(ours, list) and len(cli) == len(ours):
        out = []
        for index, (a, b) in enumerate(zip(cli, ours)):
            out += diff(a, b, path + (index,))
        return out
    if cli == ours and type(cli) is type(ours):
        return []
    return [(path, cli, ours)]


class _Missing(object):
    def __repr__(self):
        return "(absent)"


MISSING = _Missing()


def fmt_path(path):
    return ".".join(str(p) for p in path)


class Allowed(object):
    """A deliberate difference: where (a key path pattern) and when (a test on the two values)."""

    def __init__(self, pattern, test, reason):
        self.pattern, self.test, self.reason = re.compile(pattern), test, reason

    def explains(self, path, cli, ours):
        return bool(self.pattern.match(fmt_path(path))) and self.test(cli, ours)


def _twin_kept(cli, ours):
    """Ours kept a port the CLI's merge dropped: same published port, the other protocol
    (or another unpublished target); every port the CLI has, ours has too."""
    if not (isinstance(cli, list) and isinstance(ours, list)):
        return False
    return all(port in ours for port in cli) and len(ours) > len(cli)


# The deliberate differences of the loader (the compose package's docstring), and nothing else.
ALLOWED = [
    # "build and the other keys swarm ignores are kept as written": docker/cli reads build into
    # its BuildConfig (a string becomes {context: ...}; keys it has no field for, such as
    # shm_size, are dropped); ours keeps it as written and, like docker/cli, sends none of it.
    Allowed(r"^services\.[^.]+\.build(\..*)?$", lambda cli, ours: True,
            "build is ignored by docker stack deploy; ours keeps it as written"),
    # "x- extension fields of networks and volumes are kept": docker/cli keeps them only for an
    # external network or volume (its loader sets Extras after `continue` for the others). No
    # Engine object carries them on either side.
    Allowed(r"^(networks|volumes)\.[^.]+\.x-[^.]*$", lambda cli, ours: cli is MISSING,
            "x- fields of a network or volume (docker/cli drops them unless it is external)"),
    # "Merging ports keys them by published port and protocol (unpublished ports by target and
    # protocol); docker/cli keys them by published port alone and so drops a TCP/UDP twin or all
    # but one unpublished port (docker/cli#6223)."
    Allowed(r"^services\.[^.]+\.ports$", _twin_kept, "ports merged by published port and protocol (docker/cli#6223)"),
    # "Merging healthcheck.test replaces it instead of concatenating the lists": the CLI's list
    # is the earlier file's test followed by the later file's; ours is the later file's alone.
    Allowed(r"^services\.[^.]+\.healthcheck\.test$",
            lambda cli, ours: isinstance(cli, list) and isinstance(ours, list) and len(cli) > len(ours)
            and cli[-len(ours):] == ours,
            "healthcheck.test of a later file replaces the earlier one (docker/cli appends the lists)"),
    # "logging options of a later file are kept even when the first file had none (docker/cli
    # loses them)".
    Allowed(r"^services\.[^.]+\.logging\.options$", lambda cli, ours: cli is MISSING and isinstance(ours, dict),
            "logging options of a later file kept when the first file had none (docker/cli loses them)"),
]


def compare(cli_doc, our_doc, working_dir, compose_spec):
    """(failures, allowed): the differences by key path; allowed ones carry the rule's reason."""
    cli = normalize(cli_doc, working_dir, compose_spec, "cli")
    ours = normalize(our_doc, working_dir, compose_spec, "ours")
    failures, allowed = [], []
    for path, a, b in diff(cli, ours):
        rule = next((r for r in ALLOWED if r.explains(path, a, b)), None)
        if rule:
            allowed.append((fmt_path(path), a, b, rule.reason))
        else:
            failures.append((fmt_path(path), a, b))
    return failures, allowed


# ---------------------------------------------------------------------------
# The corpus


def cases():
    """{name: case} for every directory of the corpus: its case.yml, plus its directory."""
    out = {}
    for path in sorted(CORPUS.iterdir()):
        if (path / "case.yml").is_file():
            case = yaml.safe_load((path / "case.yml").read_text())
            case["name"] = path.name
            case["dir"] = path
            out[path.name] = case
    return out


def read_documents(case_dir, files):
    """The case's Compose files parsed as the deploy parses them (yaml.safe_load), in merge order."""
    return [yaml.safe_load((Path(case_dir) / name).read_text()) for name in files]


def reader(base_dir, compose_spec):
    """read_file for load_stack: a path as written in the Compose files, relative to the first
    file's directory; a file that is not there is refused as the deploy refuses it."""
    def read_file(path):
        full = Path(path) if path.startswith("/") else Path(base_dir) / path
        if not full.is_file():
            raise compose_spec.ComposeError("file %s, referenced by the Compose files, was not found" % path)
        return full.read_bytes()
    return read_file


def first_dir(case, case_dir):
    """The first Compose file's directory: docker/cli's working directory for relative paths."""
    return posixpath.dirname(posixpath.join(str(case_dir), case["files"][0]))


def our_load(case, case_dir, env, compose_spec, newest="3.12", stack="parity"):
    """(compose, None) or (None, refusal): our loader, then our converter (which refuses what
    docker/cli leaves to deploy time), on the case as it sits in case_dir."""
    base = first_dir(case, case_dir)
    read_file = reader(base, compose_spec)
    try:
        documents = read_documents(case_dir, case["files"])
        compose = compose_spec.load_stack(documents, env, read_file, working_dir=base, newest=newest,
                                          cli="the corpus test")
        compose_spec.convert_stack(stack, compose, read_file)
    except compose_spec.ComposeError as exc:
        return None, str(exc)
    return compose, None


def cli_says(case, output):
    """The CLI's refusal carries the case's error text (a list: any of them, for CLI releases
    that word it differently)."""
    errors = case["error"] if isinstance(case["error"], list) else [case["error"]]
    return any(error in output for error in errors)


def judge(case, cli_rc, cli_stdout, cli_stderr, ours, ours_error, case_dir, compose_spec):
    """(problems, notes) of one case: `docker stack config`'s answer (rc, the YAML on stdout, the
    messages on stderr) against ours (load_stack's result, or the text of its refusal). Problems
    fail the test."""
    expect = case["expect"]
    cli_output = cli_stdout + cli_stderr
    problems, notes = [], []
    config_refuses = expect in ("refuse", "ours-only") and case.get("refused_by", "config") == "config"
    if config_refuses:
        if cli_rc == 0:
            problems.append("docker stack config accepted it; the case says it refuses: %s" % case["error"])
        elif not cli_says(case, cli_output):
            problems.append("docker stack config refused it, but not with %r: %s" % (case["error"], cli_output.strip()))
        else:
            notes.append("docker stack config refuses: %s" % cli_output.strip().splitlines()[-1])
    elif cli_rc != 0:
        problems.append("docker stack config refused it: %s" % cli_output.strip())
    if expect == "refuse":
        if ours_error is None:
            problems.append("ours accepted it; the CLI refuses it (%s)" % case["error"])
        elif case["ours_error"] not in ours_error:
            problems.append("ours refused it, but not with %r: %s" % (case["ours_error"], ours_error))
        else:
            notes.append("ours refuses: %s" % ours_error)
        return problems, notes
    if ours_error is not None:
        problems.append("ours refused it: %s" % ours_error)
        return problems, notes
    if expect == "ours-only":
        notes.append("accepted by ours on purpose: %s" % case["reason"])
        return problems, notes
    if cli_rc == 0:
        failures, allowed = compare(yaml.safe_load(cli_stdout), ours, first_dir(case, case_dir), compose_spec)
        problems += ["%s: cli %r, ours %r" % item for item in failures]
        notes += ["allowed (%s) %s: cli %r, ours %r" % (item[3], item[0], item[1], item[2]) for item in allowed]
    return problems, notes


def case_env(case, registry=None):
    env = dict((str(k), str(v)) for k, v in (case.get("env") or {}).items())
    if registry:
        env.setdefault("REGISTRY", registry)
    return env
