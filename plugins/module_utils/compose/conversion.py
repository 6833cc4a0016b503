# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A loaded Compose document to the objects ``docker stack deploy`` creates (docker/cli
cli/compose/convert): NetworkCreate, ConfigSpec, SecretSpec and ServiceSpec bodies.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import ipaddress
import json
import re

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError
from ansible_collections.conductor.swarm.plugins.module_utils.compose.images import _check_images
from ansible_collections.conductor.swarm.plugins.module_utils.compose.loading import (
    DEFAULT_VERSION,
    _doc_version,
    _load,
)
from ansible_collections.conductor.swarm.plugins.module_utils.compose.normalisation import (
    MARKER_KEY,
    _normalize_document,
    _read,
)
from ansible_collections.conductor.swarm.plugins.module_utils.compose.schema import _Ctx, _TOP, _check
from ansible_collections.conductor.swarm.plugins.module_utils.compose.values import (
    _float32,
    _is_int,
    _is_num,
    _is_str,
    _unique,
    parse_cpus,
    parse_duration,
    parse_size,
)
from ansible_collections.conductor.swarm.plugins.module_utils.hashing import spec_hash
from ansible_collections.conductor.swarm.plugins.module_utils.labels import (
    CONTENT_HASH_LABEL,
    IMAGE_LABEL,
    NAMESPACE_LABEL,
)

DEFAULT_NETWORK_DRIVER = "overlay"
CONTENT_HASH_LENGTH = 10
MAX_SECRET_SIZE = 500 * 1024
MAX_CONFIG_SIZE = 1000 * 1024
_SERVICE_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$")
_OBJECT_NAME_RE = re.compile(r"^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$")


def _scope(stack, name):
    return "%s_%s" % (stack, name)


def _with_stack_label(stack, labels):
    out = dict(labels or {})
    out[NAMESPACE_LABEL] = stack
    return out


def _is_user_defined(network):
    return network not in ("default", "bridge", "host", "none") and not network.startswith("container:")


def _service_networks(svc):
    return svc.get("networks") or {"default": None}


def _convert_networks(stack, compose):
    declared = compose.get("networks") or {}
    used = set()
    for svc in compose["services"].values():
        used.update(_service_networks(svc))
    networks = {}
    external = []
    for name in sorted(used):
        cfg = declared.get(name) or {}
        if cfg.get("external"):
            external.append(cfg["name"])
            continue
        ipam = None
        ipam_cfg = cfg.get("ipam") or {}
        if ipam_cfg.get("driver") or ipam_cfg.get("config"):
            pools = []
            for index, pool in enumerate(ipam_cfg.get("config") or []):
                entry = {}
                if pool.get("subnet"):
                    try:
                        entry["Subnet"] = str(ipaddress.ip_interface(pool["subnet"]))
                    except ValueError:
                        raise ComposeError("networks.%s.ipam.config[%d]: invalid subnet %s"
                                           % (name, index, json.dumps(pool["subnet"])))
                    if "/" not in pool["subnet"]:
                        raise ComposeError("networks.%s.ipam.config[%d]: subnet %s needs a prefix "
                                           "length (10.0.9.0/24)" % (name, index, json.dumps(pool["subnet"])))
                pools.append(entry)
            ipam = {
                "Driver": ipam_cfg.get("driver") or "",
                "Options": None,
                "Config": pools or None,
            }
        full = cfg.get("name") or _scope(stack, name)
        networks[full] = {
            "Name": full,
            "Driver": cfg.get("driver") or DEFAULT_NETWORK_DRIVER,
            "Scope": "",
            "IPAM": ipam,
            "Internal": bool(cfg.get("internal")),
            "Attachable": bool(cfg.get("attachable")),
            "Ingress": False,
            "ConfigOnly": False,
            "ConfigFrom": None,
            "Options": cfg.get("driver_opts"),
            "Labels": _with_stack_label(stack, cfg.get("labels")),
        }
    return networks, sorted(set(external))


def _convert_volumes(stack, compose):
    out = {}
    for name, cfg in sorted((compose.get("volumes") or {}).items()):
        external = bool(cfg.get("external"))
        entry = {
            "name": cfg.get("name") or _scope(stack, name),
            "external": external,
            "driver": cfg.get("driver") or None,
            "driver_opts": cfg.get("driver_opts"),
            "labels": {} if external else _with_stack_label(stack, cfg.get("labels")),
        }
        out[name] = entry
    return out


def _convert_file_objects(stack, compose, read_file, kind, warnings):
    section = kind + "s"
    ctx = _Ctx("", DEFAULT_VERSION, read_file=read_file)
    out = {}
    for name, cfg in sorted((compose.get(section) or {}).items()):
        where = "%s.%s" % (section, name)
        if cfg.get("external"):
            out[name] = {
                "name": cfg["name"],
                "data": None,
                "labels": {},
                "external": True,
                "template_driver": None,
                "driver": None,
                "spec": None,
            }
            continue
        driver = None
        if kind == "secret" and cfg.get("driver"):
            driver = {"Name": cfg["driver"]}
            if cfg.get("driver_opts") is not None:
                driver["Options"] = cfg["driver_opts"]
            data = b""
            digest = spec_hash(driver)
        else:
            data = _read(ctx, cfg["file"], where, kind + " file")
            digest = hashlib.sha256(data).hexdigest()
            limit = MAX_SECRET_SIZE if kind == "secret" else MAX_CONFIG_SIZE
            if kind == "secret" and not data:
                raise ComposeError("%s: secret file %s is empty; swarm needs at least one byte"
                                   % (where, json.dumps(cfg["file"])))
            if len(data) >= limit:
                raise ComposeError("%s: %s file %s is %d bytes; swarm takes less than %d"
                                   % (where, kind, json.dumps(cfg["file"]), len(data), limit))
        full = "%s_%s" % (cfg.get("name") or _scope(stack, name), digest[:CONTENT_HASH_LENGTH])
        if len(full) > 64 or not _OBJECT_NAME_RE.match(full):
            raise ComposeError(
                "%s: the %s name %s is invalid: swarm takes at most 64 characters [a-zA-Z0-9-_.], "
                "starting and ending with a letter or digit (the name is <stack>_<name>_<hash of "
                "the content>; shorten the stack or %s name)" % (where, kind, json.dumps(full), kind))
        labels = _with_stack_label(stack, cfg.get("labels"))
        labels[CONTENT_HASH_LABEL] = digest
        spec = {"Name": full, "Labels": dict(labels)}
        if data:
            spec["Data"] = base64.b64encode(data).decode("ascii")
        if driver:
            spec["Driver"] = driver
        if cfg.get("template_driver"):
            spec["Templating"] = {"Name": cfg["template_driver"]}
        out[name] = {
            "name": full,
            "data": data,
            "labels": labels,
            "external": False,
            "template_driver": cfg.get("template_driver") or None,
            "driver": driver,
            "spec": spec,
        }
    return out


def _file_refs(kind, refs, objects, where):
    out = []
    targets = set()
    for index, ref in enumerate(refs or []):
        source = ref.get("source") or ""
        if source not in objects:
            raise ComposeError("%s.%ss[%d]: undefined %s %s" % (where, kind, index, kind, json.dumps(source)))
        target = ref.get("target") or source
        if target in targets:
            raise ComposeError("%s.%ss[%d]: duplicate %s target for %s not allowed"
                               % (where, kind, index, kind, target))
        targets.add(target)
        mode = ref.get("mode")
        if mode is None:
            mode = 0o444
        if not _is_num(mode) or mode != int(mode) or mode < 0:
            raise ComposeError("%s.%ss[%d]: mode must be a non-negative integer (0440 in YAML is "
                               "octal)" % (where, kind, index))
        name_key = "ConfigName" if kind == "config" else "SecretName"
        id_key = "ConfigID" if kind == "config" else "SecretID"
        out.append({
            "File": {
                "Name": target,
                "UID": ref.get("uid") or "0",
                "GID": ref.get("gid") or "0",
                "Mode": int(mode),
            },
            id_key: "",
            name_key: objects[source]["name"],
        })
    return out


def _convert_mount(stack, volume, declared, where):
    kind = volume.get("type") or "volume"
    source = volume.get("source") or ""
    mount = {"Type": kind}
    if source:
        mount["Source"] = source
    if volume.get("target"):
        mount["Target"] = volume["target"]
    if volume.get("read_only"):
        mount["ReadOnly"] = True
    if volume.get("consistency"):
        mount["Consistency"] = volume["consistency"]
    options = [key for key in ("bind", "volume", "tmpfs", "image", "cluster") if volume.get(key) is not None]

    def incompatible(allowed):
        for key in options:
            if key not in allowed:
                raise ComposeError("%s: %s options are incompatible with type %s" % (where, key, kind))

    if kind == "volume":
        incompatible(("volume",))
        if not source:
            return mount
        if source not in declared:
            raise ComposeError("%s: undefined volume %s (declare it under the top-level volumes:)"
                               % (where, json.dumps(source)))
        cfg = declared[source] or {}
        mount["Source"] = cfg.get("name") or _scope(stack, source)
        opts = {}
        if (volume.get("volume") or {}).get("nocopy"):
            opts["NoCopy"] = True
        if not cfg.get("external"):
            opts["Labels"] = _with_stack_label(stack, cfg.get("labels"))
        if (volume.get("volume") or {}).get("subpath"):
            opts["Subpath"] = volume["volume"]["subpath"]
        if not cfg.get("external") and (cfg.get("driver") or cfg.get("driver_opts") is not None):
            driver = {}
            if cfg.get("driver"):
                driver["Name"] = cfg["driver"]
            if cfg.get("driver_opts"):
                driver["Options"] = cfg["driver_opts"]
            opts["DriverConfig"] = driver
        mount["VolumeOptions"] = opts
        return mount
    if kind in ("bind", "npipe"):
        incompatible(("bind",))
        if not source:
            raise ComposeError("%s: invalid %s source, source cannot be empty" % (where, kind))
        if volume.get("bind") is not None:
            bind = {}
            if volume["bind"].get("propagation"):
                bind["Propagation"] = volume["bind"]["propagation"]
            mount["BindOptions"] = bind
        return mount
    if kind == "tmpfs":
        incompatible(("tmpfs",))
        if source:
            raise ComposeError("%s: invalid tmpfs source, source must be empty" % where)
        if volume.get("tmpfs") is not None:
            tmpfs = {}
            size = volume["tmpfs"].get("size")
            if size:
                tmpfs["SizeBytes"] = parse_size(size, where + ".tmpfs.size")
            mount["TmpfsOptions"] = tmpfs
        return mount
    if kind == "image":
        incompatible(("image",))
        if not source:
            raise ComposeError("%s: invalid image source, source cannot be empty" % where)
        if volume.get("image") is not None:
            mount["ImageOptions"] = dict(
                [("Subpath", volume["image"]["subpath"])] if volume["image"].get("subpath") else [])
        return mount
    if kind == "cluster":
        incompatible(("cluster",))
        if not source:
            raise ComposeError("%s: invalid cluster source, source cannot be empty" % where)
        if not source.startswith("group:"):
            if source not in declared:
                raise ComposeError("%s: undefined volume %s" % (where, json.dumps(source)))
            mount["Source"] = (declared[source] or {}).get("name") or _scope(stack, source)
        mount["ClusterOptions"] = {}
        return mount
    raise ComposeError("%s: volume type must be volume, bind, tmpfs, npipe, image or cluster, not %s"
                       % (where, json.dumps(kind)))


def _convert_healthcheck(check, where):
    if check is None:
        return None
    if check.get("disable"):
        if check.get("test"):
            raise ComposeError("%s.healthcheck: test and disable can't be set at the same time" % where)
        return {"Test": ["NONE"]}
    out = {}
    if check.get("test"):
        out["Test"] = list(check["test"])
    for key, field in (("interval", "Interval"), ("timeout", "Timeout"),
                       ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):
        if check.get(key) is not None:
            value = parse_duration(check[key], "%s.healthcheck.%s" % (where, key))
            if value:
                out[field] = value
    retries = check.get("retries")
    if retries is not None:
        if retries != int(retries) or retries < 0:
            raise ComposeError("%s.healthcheck.retries: must be a non-negative integer" % where)
        if retries:
            out["Retries"] = int(retries)
    return out


_RESTART_CONDITIONS = ("none", "on-failure", "any")


def _convert_restart_policy(svc, where):
    policy = (svc.get("deploy") or {}).get("restart_policy")
    if policy is not None:
        out = {}
        if policy.get("condition"):
            if policy["condition"] not in _RESTART_CONDITIONS:
                raise ComposeError("%s.deploy.restart_policy.condition: must be none, on-failure or any, "
                                   "not %s" % (where, json.dumps(policy["condition"])))
            out["Condition"] = policy["condition"]
        if policy.get("delay") is not None:
            out["Delay"] = parse_duration(policy["delay"], where + ".deploy.restart_policy.delay")
        if policy.get("max_attempts") is not None:
            if policy["max_attempts"] < 0:
                raise ComposeError("%s.deploy.restart_policy.max_attempts: must not be negative" % where)
            out["MaxAttempts"] = policy["max_attempts"]
        if policy.get("window") is not None:
            out["Window"] = parse_duration(policy["window"], where + ".deploy.restart_policy.window")
        return out
    restart = svc.get("restart") or ""
    if not restart:
        return None
    name, sep, count = restart.partition(":")
    if sep and not name:
        raise ComposeError("%s.restart: invalid restart policy format: no policy provided before colon"
                           % where)
    retries = 0
    if count:
        if not re.match(r"^[+-]?[0-9]+$", count):
            raise ComposeError("%s.restart: invalid restart policy format: maximum retry count must be "
                               "an integer" % where)
        retries = int(count)
    if retries < 0:
        raise ComposeError("%s.restart: invalid restart policy: maximum retry count cannot be negative"
                           % where)
    if name in ("no", ""):
        return None
    if name in ("always", "unless-stopped"):
        condition = "any"
    elif name == "on-failure":
        condition = "on-failure"
    else:
        raise ComposeError("%s.restart: invalid restart policy: unknown policy '%s' (must be one of "
                           "'no', 'always', 'on-failure', or 'unless-stopped')" % (where, name))
    out = {"Condition": condition}
    if retries > 0:
        out["MaxAttempts"] = retries
    return out


def _convert_update_config(cfg, where):
    if cfg is None:
        return None
    failure_action = cfg.get("failure_action") or ""
    if failure_action not in ("", "pause", "continue", "rollback"):
        raise ComposeError("%s.failure_action: must be pause, continue or rollback, not %s"
                           % (where, json.dumps(failure_action)))
    parallelism = cfg.get("parallelism")
    if parallelism is None:
        parallelism = 1
    if parallelism < 0:
        raise ComposeError("%s.parallelism: must not be negative" % where)
    out = {"Parallelism": parallelism}
    delay = parse_duration(cfg["delay"], where + ".delay") if cfg.get("delay") is not None else 0
    if delay:
        out["Delay"] = delay
    if failure_action:
        out["FailureAction"] = failure_action
    monitor = parse_duration(cfg["monitor"], where + ".monitor") if cfg.get("monitor") is not None else 0
    if monitor:
        out["Monitor"] = monitor
    out["MaxFailureRatio"] = _float32(cfg.get("max_failure_ratio") or 0)
    out["Order"] = cfg.get("order") or ""
    return out


def _convert_resources(resources, where):
    out = {}
    limits = resources.get("limits")
    if limits is not None:
        entry = {}
        if limits.get("cpus") not in (None, ""):
            cpus = parse_cpus(limits["cpus"], where + ".limits.cpus")
            if cpus:
                entry["NanoCPUs"] = cpus
        if limits.get("memory") is not None:
            memory = parse_size(limits["memory"], where + ".limits.memory")
            if memory:
                entry["MemoryBytes"] = memory
        if limits.get("pids"):
            entry["Pids"] = limits["pids"]
        out["Limits"] = entry
    reservations = resources.get("reservations")
    if reservations is not None:
        entry = {}
        if reservations.get("cpus") not in (None, ""):
            cpus = parse_cpus(reservations["cpus"], where + ".reservations.cpus")
            if cpus:
                entry["NanoCPUs"] = cpus
        if reservations.get("memory") is not None:
            memory = parse_size(reservations["memory"], where + ".reservations.memory")
            if memory:
                entry["MemoryBytes"] = memory
        generic = []
        for index, resource in enumerate(reservations.get("generic_resources") or []):
            item = {}
            spec = resource.get("discrete_resource_spec")
            if spec is not None:
                discrete = {}
                if spec.get("kind"):
                    discrete["Kind"] = spec["kind"]
                value = spec.get("value")
                if value is not None and (value != int(value)):
                    raise ComposeError("%s.reservations.generic_resources[%d]: value must be an integer"
                                       % (where, index))
                if value:
                    discrete["Value"] = int(value)
                item["DiscreteResourceSpec"] = discrete
            generic.append(item)
        if generic:
            entry["GenericResources"] = generic
        out["Reservations"] = entry
    return out


def _convert_mode(deploy, where):
    mode = deploy.get("mode") or ""
    replicas = deploy.get("replicas")
    if replicas is not None and replicas < 0:
        raise ComposeError("%s.deploy.replicas: must not be negative" % where)
    if mode in ("global", "global-job"):
        if replicas is not None:
            raise ComposeError("%s.deploy: replicas can only be used with replicated or replicated-job "
                               "mode" % where)
        return {"Global" if mode == "global" else "GlobalJob": {}}
    if mode == "replicated-job":
        job = {}
        if replicas is not None:
            job["MaxConcurrent"] = replicas
            job["TotalCompletions"] = replicas
        return {"ReplicatedJob": job}
    if mode in ("replicated", ""):
        return {"Replicated": {"Replicas": 1 if replicas is None else replicas}}
    raise ComposeError("%s.deploy.mode: unknown mode: %s (use replicated, global, replicated-job or "
                       "global-job)" % (where, mode))


def _port_sort_key(port):
    # docker/cli sorts by the published port alone; ties keep the file's order (Go's sort.Slice
    # is a stable insertion sort up to 12 elements; past that its order of ties is its own).
    return port.get("PublishedPort", 0)


def _convert_endpoint(svc, where):
    deploy = svc.get("deploy") or {}
    mode = (deploy.get("endpoint_mode") or "").lower()
    if mode not in ("", "vip", "dnsrr"):
        raise ComposeError("%s.deploy.endpoint_mode: must be vip or dnsrr, not %s"
                           % (where, json.dumps(deploy.get("endpoint_mode"))))
    ports = []
    for index, port in enumerate(svc.get("ports") or []):
        here = "%s.ports[%d]" % (where, index)
        if not port.get("target"):
            raise ComposeError("%s: target (the container port) is required" % here)
        protocol = port.get("protocol") or ""
        if protocol not in ("", "tcp", "udp", "sctp"):
            raise ComposeError("%s.protocol: must be tcp, udp or sctp, not %s" % (here, json.dumps(protocol)))
        publish_mode = port.get("mode") or ""
        if publish_mode not in ("", "ingress", "host"):
            raise ComposeError("%s.mode: must be ingress or host, not %s" % (here, json.dumps(publish_mode)))
        if mode == "dnsrr" and publish_mode in ("", "ingress"):
            raise ComposeError("%s: a port in ingress mode can't be used with endpoint_mode dnsrr; "
                               "publish it with mode: host" % here)
        entry = {}
        if protocol:
            entry["Protocol"] = protocol
        entry["TargetPort"] = port["target"]
        if port.get("published"):
            entry["PublishedPort"] = port["published"]
        if publish_mode:
            entry["PublishMode"] = publish_mode
        ports.append(entry)
    ports.sort(key=_port_sort_key)
    out = {}
    if mode:
        out["Mode"] = mode
    if ports:
        out["Ports"] = ports
    return out


def _normalize_capability(cap):
    cap = cap.strip().upper()
    if cap in ("ALL", "RESET") or cap.startswith("CAP_"):
        return cap
    return "CAP_" + cap


def _effective_caps(add, drop):
    add_caps = set(_normalize_capability(c) for c in add or [])
    drop_caps = set(_normalize_capability(c) for c in drop or [])
    if "ALL" in add_caps:
        add_caps = set(["ALL"])
    if "ALL" in drop_caps:
        drop_caps = set(["ALL"])
    cap_drop = sorted(c for c in drop_caps if c not in add_caps and c != "RESET")
    cap_add = sorted(c for c in add_caps if c != "RESET")
    return cap_add, cap_drop


def _convert_ulimits(ulimits):
    out = []
    for name in sorted(ulimits or {}):
        value = ulimits[name]
        if _is_int(value):
            soft = hard = value
        else:
            soft, hard = value.get("soft", 0), value.get("hard", 0)
        out.append({"Name": name, "Hard": hard, "Soft": soft})
    return out


def _convert_dns(svc):
    servers = []
    for server in svc.get("dns") or []:
        try:
            servers.append(str(ipaddress.ip_address(server)))
        except ValueError:
            continue  # docker/cli drops what is not an IP address
    search = list(svc.get("dns_search") or [])
    if not (svc.get("dns") or search):
        return None
    out = {}
    if servers:
        out["Nameservers"] = servers
    if search:
        out["Search"] = search
    return out


def _convert_credential_spec(spec, configs_objects, where):
    spec = spec or {}
    given = [key for key in ("config", "file", "registry") if spec.get(key)]
    if not given:
        return None
    if len(given) > 1:
        raise ComposeError("%s.credential_spec: invalid credential spec: cannot specify both %s"
                           % (where, " and ".join('"%s"' % key.capitalize() for key in given)))
    out = {
        "Config": "",
        "File": spec.get("file") or "",
        "Registry": spec.get("registry") or "",
    }
    if spec.get("config"):
        if spec["config"] not in configs_objects:
            raise ComposeError("%s.credential_spec: invalid credential spec: spec specifies config %s, "
                               "but no such config can be found" % (where, spec["config"]))
        # docker/cli puts the config's ID here; the caller replaces the name by the ID.
        out["Config"] = configs_objects[spec["config"]]["name"]
    return out


def _convert_service(stack, name, svc, compose, objects, warnings):
    where = "services.%s" % name
    deploy = svc.get("deploy") or {}
    declared_networks = compose.get("networks") or {}
    declared_volumes = compose.get("volumes") or {}

    secrets = _file_refs("secret", svc.get("secrets"), objects["secrets"], where)
    secrets.sort(key=lambda ref: ref["SecretName"])
    configs = _file_refs("config", svc.get("configs"), objects["configs"], where)
    credential_spec = _convert_credential_spec(svc.get("credential_spec"), objects["configs"], where)
    if (svc.get("credential_spec") or {}).get("config"):
        configs.append({
            "Runtime": {},
            "ConfigID": "",
            "ConfigName": objects["configs"][svc["credential_spec"]["config"]]["name"],
        })
    configs.sort(key=lambda ref: ref["ConfigName"])

    attachments = []
    for network, cfg in _service_networks(svc).items():
        if network not in declared_networks and network != "default":
            raise ComposeError("%s.networks: undefined network %s (declare it under the top-level "
                               "networks:)" % (where, json.dumps(network)))
        declared = declared_networks.get(network) or {}
        target = declared.get("name") or _scope(stack, network)
        aliases = list((cfg or {}).get("aliases") or [])
        if _is_user_defined(target):
            aliases.append(name)
        attachment = {"Target": target}
        if aliases:
            attachment["Aliases"] = aliases
        if (cfg or {}).get("driver_opts"):
            attachment["DriverOpts"] = cfg["driver_opts"]
        attachments.append(attachment)
    attachments.sort(key=lambda a: a["Target"])

    mounts = [_convert_mount(stack, volume, declared_volumes, "%s.volumes[%d]" % (where, index))
              for index, volume in enumerate(svc.get("volumes") or [])]

    environment = svc.get("environment") or {}
    env = sorted(key if value is None else "%s=%s" % (key, value) for key, value in environment.items())
    cap_add, cap_drop = _effective_caps(svc.get("cap_add"), svc.get("cap_drop"))
    hosts = []
    for entry in svc.get("extra_hosts") or []:
        host, sep, addr = entry.partition(":")
        if sep:
            hosts.append("%s %s" % (addr, host))

    container = {}
    container["Image"] = svc.get("image") or ""
    container["Labels"] = _with_stack_label(stack, svc.get("labels"))
    if svc.get("entrypoint"):
        container["Command"] = list(svc["entrypoint"])
    if svc.get("command"):
        container["Args"] = list(svc["command"])
    if svc.get("hostname"):
        container["Hostname"] = svc["hostname"]
    if env:
        container["Env"] = env
    if svc.get("working_dir"):
        container["Dir"] = svc["working_dir"]
    if svc.get("user"):
        container["User"] = svc["user"]
    container["Privileges"] = {
        "CredentialSpec": credential_spec,
        "SELinuxContext": None,
        "NoNewPrivileges": False,
    }
    if svc.get("init") is not None:
        container["Init"] = svc["init"]
    if svc.get("stop_signal"):
        container["StopSignal"] = svc["stop_signal"]
    if svc.get("tty"):
        container["TTY"] = True
    if svc.get("stdin_open"):
        container["OpenStdin"] = True
    if svc.get("read_only"):
        container["ReadOnly"] = True
    if mounts:
        container["Mounts"] = mounts
    if svc.get("stop_grace_period") is not None:
        container["StopGracePeriod"] = parse_duration(svc["stop_grace_period"], where + ".stop_grace_period")
    healthcheck = _convert_healthcheck(svc.get("healthcheck"), where)
    if healthcheck is not None:
        container["Healthcheck"] = healthcheck
    if hosts:
        container["Hosts"] = hosts
    dns = _convert_dns(svc)
    if dns is not None:
        container["DNSConfig"] = dns
    if secrets:
        container["Secrets"] = secrets
    if configs:
        container["Configs"] = configs
    if svc.get("isolation"):
        container["Isolation"] = svc["isolation"]
    if svc.get("sysctls"):
        container["Sysctls"] = dict(svc["sysctls"])
    if cap_add:
        container["CapabilityAdd"] = cap_add
    if cap_drop:
        container["CapabilityDrop"] = cap_drop
    ulimits = _convert_ulimits(svc.get("ulimits"))
    if ulimits:
        container["Ulimits"] = ulimits
    if svc.get("oom_score_adj"):
        container["OomScoreAdj"] = svc["oom_score_adj"]

    placement_cfg = deploy.get("placement") or {}
    placement = {}
    if placement_cfg.get("constraints"):
        placement["Constraints"] = list(placement_cfg["constraints"])
    preferences = [{"Spread": {"SpreadDescriptor": p.get("spread") or ""}}
                   for p in placement_cfg.get("preferences") or []]
    if preferences:
        placement["Preferences"] = preferences
    if placement_cfg.get("max_replicas_per_node"):
        placement["MaxReplicas"] = placement_cfg["max_replicas_per_node"]

    task = {}
    task["ContainerSpec"] = container
    task["Resources"] = _convert_resources(deploy.get("resources") or {}, where + ".deploy.resources")
    restart = _convert_restart_policy(svc, where)
    if restart is not None:
        task["RestartPolicy"] = restart
    task["Placement"] = placement
    task["Networks"] = attachments
    logging = svc.get("logging")
    if logging is not None:
        driver = {}
        if logging.get("driver"):
            driver["Name"] = logging["driver"]
        if logging.get("options"):
            driver["Options"] = dict(logging["options"])
        task["LogDriver"] = driver
    task["ForceUpdate"] = 0

    labels = _with_stack_label(stack, deploy.get("labels"))
    labels[IMAGE_LABEL] = svc.get("image") or ""
    spec = {}
    spec["Name"] = _scope(stack, name)
    spec["Labels"] = labels
    spec["TaskTemplate"] = task
    spec["Mode"] = _convert_mode(deploy, where)
    update = _convert_update_config(deploy.get("update_config"), where + ".deploy.update_config")
    if update is not None:
        spec["UpdateConfig"] = update
    rollback = _convert_update_config(deploy.get("rollback_config"), where + ".deploy.rollback_config")
    if rollback is not None:
        spec["RollbackConfig"] = rollback
    spec["EndpointSpec"] = _convert_endpoint(svc, where)
    return spec


def _check_stack_name(stack_name):
    refused = stack_name_refusal(stack_name)
    if refused:
        raise ComposeError(refused)


def stack_name_refusal(stack_name):
    """Why swarm cannot take this stack name, or None: its services are named <stack>_<service>, so the name
    follows the rule of a service name."""
    if _is_str(stack_name) and stack_name and len(stack_name) <= 62 and _SERVICE_NAME_RE.match(stack_name):
        return None
    return ("stack name %s is invalid: its services are named <stack>_<service>, so it takes at most 62 letters, "
            "digits, '-' and '_', starting and ending with a letter or digit" % json.dumps(stack_name))


def convert_stack(stack_name, compose, read_file):
    """The Engine objects ``docker stack deploy`` creates for ``compose``.

    ``compose``: what load_stack returned (or a single parsed Compose file,
    which is then validated and normalised, without interpolation).
    ``read_file(path) -> bytes`` reads file-based configs and secrets (and env
    files of a document that did not come from load_stack).

    Returns a dict:

    * ``networks``: network name -> NetworkCreate body (POST /networks/create),
      only for networks some service uses; ``<stack>_default`` exists only when
      a service has no ``networks:``.
    * ``external_networks``: sorted names of external networks services use.
    * ``configs`` / ``secrets``: logical name -> ``{"name", "data" (bytes),
      "labels", "external", "template_driver", "driver" (secret driver or
      None), "spec" (ConfigSpec/SecretSpec body with base64 Data, or None for
      external ones)}``; external ones keep their given name.
    * ``volumes``: logical name -> ``{"name", "external", "driver",
      "driver_opts", "labels"}`` (swarm creates volumes on the nodes from the
      mounts; this is for reporting).
    * ``services``: ``<stack>_<service>`` -> ServiceSpec body for
      POST /services/create. ConfigID/SecretID are empty for the caller to fill
      in (for ``credential_spec.config``, Privileges.CredentialSpec.Config holds
      the config's name, to be replaced by its ID likewise). On update, copy
      the live TaskTemplate.ForceUpdate as docker stack deploy does.
    * ``warnings``: everything load_stack and the conversion warned about.
    """
    _check_stack_name(stack_name)
    if not isinstance(compose, dict):
        raise ComposeError("the Compose document must be a mapping")
    marker = compose.get(MARKER_KEY) if isinstance(compose.get(MARKER_KEY), dict) else {}
    if marker.get("normalized"):
        doc = copy.deepcopy(compose)
        ctx = _Ctx("compose", _doc_version(doc, "compose"), gate=False, env={}, read_file=read_file,
                   resolve_env=True, warnings=list(marker.get("warnings") or []))
        doc = _normalize_document(_check(doc, _TOP, (), ctx), ctx)
        warnings = ctx.warnings
    else:
        doc = _load([("compose", compose)], {}, read_file, None, do_interpolate=False, resolve_env=True)
        warnings = list(doc[MARKER_KEY]["warnings"])
    _check_images(doc)
    networks, external_networks = _convert_networks(stack_name, doc)
    objects = {
        "configs": _convert_file_objects(stack_name, doc, read_file, "config", warnings),
        "secrets": _convert_file_objects(stack_name, doc, read_file, "secret", warnings),
    }
    services = {}
    for name, svc in sorted(doc["services"].items()):
        full = _scope(stack_name, name)
        if len(full) > 63 or not _SERVICE_NAME_RE.match(full):
            raise ComposeError("services.%s: the service name %s is invalid for swarm: at most 63 letters, "
                               "digits, '-' and '_', starting and ending with a letter or digit"
                               % (name, json.dumps(full)))
        spec = _convert_service(stack_name, name, svc, doc, objects, warnings)
        services[spec["Name"]] = spec
    return {
        "networks": networks,
        "external_networks": external_networks,
        "configs": objects["configs"],
        "secrets": objects["secrets"],
        "volumes": _convert_volumes(stack_name, doc),
        "services": services,
        "warnings": _unique(warnings),
    }
