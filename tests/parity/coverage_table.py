"""Which corpus cases cover which key of the Compose 3.x schema docker/cli reads for `docker stack deploy`.

SCHEMA_KEYS is written here from docker/cli's cli/compose/schema/data/config_schema_v3.12.json
(the newest version the corpus uses, and the newest the lab's Docker 26.1 CLI reads): every
property, by path ("*" for a name the user chooses). FORMS adds the shapes a key takes (short
and long syntax, list or mapping) and FEATURES what the files do beyond keys (interpolation
forms, anchors, several files, relative paths, refusals). A key no case covers must be in
NOT_COVERED with the reason, or the table fails.
"""
import re

SCHEMA_KEYS = """
version services networks volumes secrets configs x-* services.*
services.*.build services.*.build.context services.*.build.dockerfile services.*.build.args services.*.build.labels
services.*.build.cache_from services.*.build.network services.*.build.target services.*.build.shm_size
services.*.build.extra_hosts
services.*.cap_add services.*.cap_drop services.*.cgroupns_mode services.*.cgroup_parent services.*.command
services.*.configs services.*.configs.source services.*.configs.target services.*.configs.uid services.*.configs.gid
services.*.configs.mode services.*.container_name
services.*.credential_spec services.*.credential_spec.config services.*.credential_spec.file
services.*.credential_spec.registry
services.*.depends_on services.*.devices services.*.dns services.*.dns_search services.*.domainname
services.*.entrypoint services.*.env_file services.*.environment services.*.expose services.*.external_links
services.*.extra_hosts
services.*.healthcheck services.*.healthcheck.disable services.*.healthcheck.interval services.*.healthcheck.retries
services.*.healthcheck.test services.*.healthcheck.timeout services.*.healthcheck.start_period
services.*.healthcheck.start_interval
services.*.hostname services.*.image services.*.init services.*.ipc services.*.isolation services.*.labels
services.*.links services.*.logging services.*.logging.driver services.*.logging.options services.*.mac_address
services.*.network_mode services.*.networks services.*.networks.* services.*.networks.*.aliases services.*.networks.*.ipv4_address
services.*.networks.*.ipv6_address services.*.pid
services.*.ports services.*.ports.mode services.*.ports.target services.*.ports.published services.*.ports.protocol
services.*.privileged services.*.read_only services.*.restart services.*.security_opt services.*.shm_size
services.*.secrets services.*.secrets.source services.*.secrets.target services.*.secrets.uid services.*.secrets.gid
services.*.secrets.mode
services.*.sysctls services.*.stdin_open services.*.stop_grace_period services.*.stop_signal services.*.tmpfs
services.*.tty services.*.ulimits services.*.ulimits.* services.*.ulimits.*.soft services.*.ulimits.*.hard
services.*.user services.*.userns_mode
services.*.volumes services.*.volumes.type services.*.volumes.source services.*.volumes.target
services.*.volumes.read_only services.*.volumes.consistency services.*.volumes.bind services.*.volumes.bind.propagation
services.*.volumes.volume services.*.volumes.volume.nocopy services.*.volumes.tmpfs services.*.volumes.tmpfs.size
services.*.working_dir services.*.x-*
services.*.deploy services.*.deploy.mode services.*.deploy.endpoint_mode services.*.deploy.replicas
services.*.deploy.labels
services.*.deploy.rollback_config services.*.deploy.rollback_config.parallelism services.*.deploy.rollback_config.delay
services.*.deploy.rollback_config.failure_action services.*.deploy.rollback_config.monitor
services.*.deploy.rollback_config.max_failure_ratio services.*.deploy.rollback_config.order
services.*.deploy.update_config services.*.deploy.update_config.parallelism services.*.deploy.update_config.delay
services.*.deploy.update_config.failure_action services.*.deploy.update_config.monitor
services.*.deploy.update_config.max_failure_ratio services.*.deploy.update_config.order
services.*.deploy.resources services.*.deploy.resources.limits services.*.deploy.resources.limits.cpus
services.*.deploy.resources.limits.memory services.*.deploy.resources.limits.pids
services.*.deploy.resources.reservations services.*.deploy.resources.reservations.cpus
services.*.deploy.resources.reservations.memory services.*.deploy.resources.reservations.generic_resources
services.*.deploy.resources.reservations.generic_resources.discrete_resource_spec
services.*.deploy.resources.reservations.generic_resources.discrete_resource_spec.kind
services.*.deploy.resources.reservations.generic_resources.discrete_resource_spec.value
services.*.deploy.restart_policy services.*.deploy.restart_policy.condition services.*.deploy.restart_policy.delay
services.*.deploy.restart_policy.max_attempts services.*.deploy.restart_policy.window
services.*.deploy.placement services.*.deploy.placement.constraints services.*.deploy.placement.preferences
services.*.deploy.placement.preferences.spread services.*.deploy.placement.max_replicas_per_node
networks.* networks.*.name networks.*.driver networks.*.driver_opts networks.*.ipam networks.*.ipam.driver
networks.*.ipam.config networks.*.ipam.config.subnet networks.*.external networks.*.external.name networks.*.internal
networks.*.attachable networks.*.labels networks.*.x-*
volumes.* volumes.*.name volumes.*.driver volumes.*.driver_opts volumes.*.external volumes.*.external.name
volumes.*.labels volumes.*.x-cluster-spec volumes.*.x-*
secrets.* secrets.*.name secrets.*.file secrets.*.external secrets.*.external.name secrets.*.labels secrets.*.driver
secrets.*.driver_opts secrets.*.template_driver secrets.*.x-*
configs.* configs.*.name configs.*.file configs.*.external configs.*.external.name configs.*.labels
configs.*.template_driver configs.*.x-*
""".split()

# Keys whose value the walker does not descend into: names and values the user chooses.
OPAQUE = set("""
services.*.build.args services.*.build.labels services.*.build.extra_hosts services.*.environment services.*.labels
services.*.deploy.labels services.*.sysctls services.*.logging.options services.*.extra_hosts networks.*.driver_opts
networks.*.labels volumes.*.driver_opts volumes.*.labels volumes.*.x-cluster-spec secrets.*.labels
secrets.*.driver_opts configs.*.labels
""".split())
# Maps whose keys are names (a service, a network, a ulimit): "*" in the path.
NAMED = set("services networks volumes secrets configs services.*.networks services.*.ulimits".split())

# The shapes some keys take: "string", "list", "mapping", "number", "boolean", "null" for the
# value; "item:..." for the items of a list; "=x" for a value.
FORMS = {
    "services.*.command": ["string", "list"],
    "services.*.entrypoint": ["string", "list"],
    "services.*.environment": ["list", "mapping"],
    "services.*.labels": ["list", "mapping"],
    "services.*.deploy.labels": ["list", "mapping"],
    "services.*.extra_hosts": ["list", "mapping"],
    "services.*.sysctls": ["list", "mapping"],
    "services.*.dns": ["string", "list"],
    "services.*.dns_search": ["string", "list"],
    "services.*.env_file": ["string", "list"],
    "services.*.networks": ["list", "mapping"],
    "services.*.networks.*": ["mapping", "null"],
    "services.*.ports": ["item:string", "item:number", "item:mapping", "range"],
    "services.*.volumes": ["item:string", "item:mapping"],
    "services.*.volumes.type": ["=bind", "=volume", "=tmpfs"],
    "services.*.configs": ["item:string", "item:mapping"],
    "services.*.secrets": ["item:string", "item:mapping"],
    "services.*.ulimits.*": ["number", "mapping"],
    "services.*.healthcheck.test": ["string", "list"],
    "services.*.deploy.mode": ["=replicated", "=global"],
    "services.*.deploy.endpoint_mode": ["=dnsrr", "=vip"],
    "services.*.ports.mode": ["=host", "=ingress"],
    "services.*.ports.protocol": ["=tcp", "=udp"],
    "networks.*.external": ["boolean", "mapping"],
    "volumes.*.external": ["boolean", "mapping"],
    "secrets.*.external": ["boolean", "mapping"],
    "configs.*.external": ["boolean", "mapping"],
    "networks.*.labels": ["list", "mapping"],
    "volumes.*": ["mapping", "null"],
    "networks.*": ["mapping", "null"],
}

FEATURES = [
    "interpolation ${VAR}", "interpolation $VAR", "interpolation ${VAR:-default}", "interpolation ${VAR-default}",
    "interpolation ${VAR:?error}", "interpolation ${VAR?error}", "interpolation $$",
    "YAML anchors and aliases", "YAML merge keys", "several files merged", "env file",
    "relative bind source", "relative env_file", "relative config file", "relative secret file",
    "refused by docker stack config", "refused by docker stack deploy", "deployed on the lab",
]

# Covered nowhere, on purpose.
NOT_COVERED = {
    "services.*.credential_spec.file": "Windows only (gMSA); the converter takes one of config/file/registry and "
                                       "refuses two; covered: config and registry",
}

_VARIABLE_FORMS = [
    ("interpolation $$", r"\$\$"),
    ("interpolation ${VAR:-default}", r"\$\{[A-Za-z_][A-Za-z0-9_]*:-"),
    ("interpolation ${VAR-default}", r"\$\{[A-Za-z_][A-Za-z0-9_]*-"),
    ("interpolation ${VAR:?error}", r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?"),
    ("interpolation ${VAR?error}", r"\$\{[A-Za-z_][A-Za-z0-9_]*\?"),
    ("interpolation ${VAR}", r"\$\{[A-Za-z_][A-Za-z0-9_]*\}"),
    ("interpolation $VAR", r"(?<!\$)\$[A-Za-z_]"),
]


def _kind(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return "null"


def _key_path(parent, key):
    if key.startswith("x-") and not (parent == "volumes.*" and key == "x-cluster-spec"):
        return (parent + "." if parent else "") + "x-*"
    return (parent + "." if parent else "") + key


def walk(doc, found, parent=""):
    """Add to found every schema path (and form) the parsed document uses."""
    for key, value in doc.items():
        key = str(key)
        path = _key_path(parent, key)
        found.add(path)
        _forms(path, value, found)
        if path.endswith("x-*") or path in OPAQUE:
            continue
        if path in NAMED and isinstance(value, dict):
            for name, item in value.items():
                found.add(path + ".*")
                _forms(path + ".*", item, found)
                if isinstance(item, dict):
                    walk(item, found, path + ".*")
        elif isinstance(value, dict):
            walk(value, found, path)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    walk(item, found, path)


def _forms(path, value, found):
    wanted = FORMS.get(path)
    if not wanted:
        return
    found.add("%s[%s]" % (path, _kind(value)))
    if isinstance(value, list):
        for item in value:
            found.add("%s[item:%s]" % (path, _kind(item)))
            if path == "services.*.ports" and isinstance(item, str) and re.search(r"\d-\d", item):
                found.add("%s[range]" % path)
    if isinstance(value, str):
        found.add("%s[=%s]" % (path, value))


def case_coverage(case):
    """The keys, forms and features one case covers."""
    import yaml
    found = set()
    texts = []
    for name in case["files"]:
        text = (case["dir"] / name).read_text()
        texts.append(text)
        walk(yaml.safe_load(text) or {}, found)
    text = "\n".join(texts)
    for feature, pattern in _VARIABLE_FORMS:
        if re.search(pattern, text):
            found.add(feature)
    if re.search(r"&[A-Za-z0-9_-]+", text) and re.search(r"\*[A-Za-z0-9_-]+", text):
        found.add("YAML anchors and aliases")
    if re.search(r"<<:\s*\*", text):
        found.add("YAML merge keys")
    if len(case["files"]) > 1:
        found.add("several files merged")
    if re.search(r"env_file:", text):
        found.add("env file")
    for feature, pattern in (("relative bind source", r"(source:\s*|- \"?)\.\.?/[^:\s]*(:|\s*$)"),
                             ("relative env_file", r"env_file:(\s*-)?\s*\[?\"?\.\.?/"),
                             ("relative config file", r"file:\s*\"?\.\.?/[^\n]*conf"),
                             ("relative secret file", r"file:\s*\"?\.\.?/[^\n]*secret")):
        if re.search(pattern, text, re.M):
            found.add(feature)
    if case["expect"] in ("refuse", "ours-only"):
        found.add("refused by docker stack %s" % case.get("refused_by", "config"))
    if case.get("deploy"):
        found.add("deployed on the lab")
    return found


def required():
    keys = list(SCHEMA_KEYS)
    for path, forms in FORMS.items():
        keys += ["%s[%s]" % (path, form) for form in forms]
    return keys + FEATURES


def table(cases):
    """(text, uncovered): per key, the cases covering it; keys neither covered nor excused."""
    by_case = dict((name, case_coverage(case)) for name, case in cases.items())
    lines = ["%-72s %s" % ("Compose key / form / feature", "corpus cases"), "-" * 120]
    uncovered = []
    for key in required():
        names = [name for name in sorted(by_case) if key in by_case[name]]
        if names:
            lines.append("%-72s %s" % (key, ", ".join(names)))
        elif key in NOT_COVERED:
            lines.append("%-72s (not covered: %s)" % (key, NOT_COVERED[key]))
        else:
            lines.append("%-72s UNCOVERED" % key)
            uncovered.append(key)
    # Keys the accepted cases use must be in the list (refusal cases use unknown keys on purpose).
    accepted = [by_case[name] for name, case in cases.items() if case["expect"] == "accept"]
    extra = sorted(k for k in set().union(*accepted) if k not in set(required()) and not k.endswith("]"))
    if extra:
        lines.append("used but not in the key list (a typo in the corpus, or a newer key): %s" % ", ".join(extra))
        uncovered += extra
    return "\n".join(lines), uncovered
