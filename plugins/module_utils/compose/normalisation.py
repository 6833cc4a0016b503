# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One checked Compose file to long syntax (docker/cli loader transforms).

Mappings and lists of ``KEY=value``, short port and volume syntax, relative bind sources,
env files resolved into ``environment``, external networks, volumes, configs and secrets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import posixpath
import re

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError
from ansible_collections.conductor.swarm.plugins.module_utils.compose.schema import _version_tuple
from ansible_collections.conductor.swarm.plugins.module_utils.compose.values import _go_string, _is_str, shell_split

# Top-level key load_stack/merge_documents add to their result: the warnings
# so far, and the fact that the document is already in long syntax.
MARKER_KEY = "x-conductor-swarm"


def _mapping(value, allow_nil, sep="="):
    """list_or_dict -> dict (docker/cli transformMappingOrList)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                out[key] = None if allow_nil else ""
            else:
                out[key] = _go_string(item)
        return out
    out = {}
    for entry in value:
        if sep in entry:
            key, item = entry.split(sep, 1)
            out[key] = item
        else:
            out[entry] = None if allow_nil else ""
    return out


def _string_map(value):
    if value is None:
        return None
    return dict((key, _go_string(item)) for key, item in value.items())


def _string_list(value):
    if value is None:
        return []
    if _is_str(value):
        return [value]
    return list(value)


def _hosts_list(value):
    """extra_hosts -> ["host:ip", ...] (docker/cli transformHostsList)."""
    entries = []
    if isinstance(value, dict):
        for key in sorted(value):
            if value[key] is None:
                continue
            entries.append("%s:%s" % (key, _go_string(value[key])))
    else:
        for entry in value or []:
            entry = _go_string(entry)
            for sep in ("=", ":"):
                if sep in entry:
                    host, addr = entry.split(sep, 1)
                    entries.append("%s:%s" % (host, addr))
                    break
    if isinstance(value, dict):
        entries.sort()
    out = []
    for entry in entries:
        host, addr = entry.split(":", 1)
        if len(addr) > 2 and addr[0] == "[" and addr[-1] == "]":
            addr = addr[1:-1]
        out.append("%s:%s" % (host, addr))
    return out


def _parse_port_number(text):
    if not re.match(r"^[0-9]+$", text or "") or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def _parse_port_range(text):
    start, sep, end = text.partition("-")
    first = _parse_port_number(start)
    if not sep or start == end:
        return first, first
    last = _parse_port_number(end)
    if last < first:
        raise ValueError(text)
    return first, last


def _parse_port_spec(raw, where, warnings):
    """Short port syntax ([ip:]published:target[/proto], ranges) -> long-syntax dicts."""
    parts = raw.split(":")
    if len(parts) == 1:
        host_ip, host_port, container = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, host_port, container = "", parts[0], parts[1]
    else:
        host_ip, host_port, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    container, _sep, proto = container.partition("/")
    if not container:
        raise ComposeError("%s: no port specified in %s" % (where, json.dumps(raw)))
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise ComposeError("%s: invalid protocol %s in %s" % (where, json.dumps(proto), json.dumps(raw)))
    if host_ip.startswith("[") and host_ip.endswith("]"):
        host_ip = host_ip[1:-1]
    address = None
    if host_ip:
        try:
            address = ipaddress.ip_address(host_ip)
        except ValueError:
            raise ComposeError("%s: invalid IP address %s in %s" % (where, host_ip, json.dumps(raw)))
    try:
        start, end = _parse_port_range(container)
    except ValueError:
        raise ComposeError("%s: invalid container port %s in %s" % (where, container, json.dumps(raw)))
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = _parse_port_range(host_port)
        except ValueError:
            raise ComposeError("%s: invalid published port %s in %s" % (where, host_port, json.dumps(raw)))
        if end - start != host_end - host_start and end != start:
            raise ComposeError("%s: invalid ranges specified for container and published ports: %s and %s"
                               % (where, container, host_port))
    out = []
    count = end - start + 1
    # docker/cli walks a range's container ports sorted as text ("1000/tcp" before "998/tcp").
    for index in sorted(range(count), key=lambda i: "%d/%s" % (start + i, proto)):
        target = start + index
        if address is not None and not address.is_unspecified:
            warnings.append("%s: ignoring IP-address (%s) service will listen on '0.0.0.0'"
                            % (where, raw))
        if not host_port:
            published = [0]
        elif count == 1:
            published = list(range(host_start, host_end + 1))
        else:
            published = [host_start + index]
        for port in published:
            entry = {"mode": "ingress", "target": target}
            if port:
                entry["published"] = port
            entry["protocol"] = proto
            out.append(entry)
    return out


_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def _is_windows_drive(buffer, char):
    return char == ":" and len(buffer) == 1 and buffer[0].isalpha()


def _parse_volume_spec(spec, where):
    """Short volume syntax (docker/cli volumespec.Parse) -> long-syntax dict."""
    if not spec:
        raise ComposeError("%s: invalid empty volume spec" % where)
    volume = {}
    if len(spec) <= 2:
        return {"type": "volume", "target": spec}
    source = target = None
    options = None
    buffer = ""
    for char in spec + "\0":
        if _is_windows_drive(buffer, char):
            buffer += char
        elif char in (":", "\0"):
            if not buffer:
                raise ComposeError("%s: invalid volume spec %s: empty section between colons"
                                   % (where, json.dumps(spec)))
            if source is None and char == "\0":
                target = buffer
            elif source is None:
                source = buffer
            elif target is None:
                target = buffer
            elif char == ":":
                raise ComposeError("%s: invalid volume spec %s: too many colons" % (where, json.dumps(spec)))
            else:
                options = buffer
            buffer = ""
        else:
            buffer += char
    if source is None:
        volume["type"] = "volume"
    elif source[0] in ".~/" or (len(source) > 1 and (
            source.startswith("\\\\") or _is_windows_drive(source[0], source[1]))):
        volume["type"] = "bind"
    else:
        volume["type"] = "volume"
    if source is not None:
        volume["source"] = source
    volume["target"] = target
    for option in (options or "").split(","):
        if option == "ro":
            volume["read_only"] = True
        elif option == "rw":
            volume["read_only"] = False
        elif option == "nocopy":
            volume["volume"] = {"nocopy": True}
        elif option in _PROPAGATIONS:
            volume["bind"] = {"propagation": option}
    return volume


_WINDOWS_ABS_RE = re.compile(r"^(?:[a-zA-Z]:[\\/]|\\\\)")


def _resolve_bind(source, path, ctx):
    if source.startswith("~"):
        home = (ctx.env or {}).get("HOME")
        if home is None:
            ctx.warnings.append("%s: cannot expand '~', because the environment lacks HOME"
                                % ctx.where(path))
        else:
            source = source.replace("~", home, 1)
    if source.startswith("/") or _WINDOWS_ABS_RE.match(source):
        return source
    if ctx.working_dir is None:
        ctx.fail(path, "bind mount source %s is relative; docker stack deploy resolves it against "
                       "the directory of the first Compose file: give working_dir (set for you when "
                       "the files come from compose_files), or write an absolute path" % json.dumps(source))
    return posixpath.normpath(posixpath.join(ctx.working_dir, source))


def parse_env_file(data, where, lookup):
    """An env file (docker/cli kvfile rules) -> ordered dict; KEY lines take lookup's value."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ComposeError("%s: invalid env file: not valid UTF-8" % where)
    else:
        text = data
    out = {}
    for number, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if number == 1 and line.startswith(u"\ufeff"):
            line = line[1:]
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, has_value, value = line.partition("=")
        if not key:
            raise ComposeError("%s: invalid env file: no variable name on line %d (%s)"
                               % (where, number, json.dumps(line)))
        if " " in key or "\t" in key:
            raise ComposeError("%s: invalid env file: variable %s contains whitespaces"
                               % (where, json.dumps(key)))
        if has_value:
            out[key] = value
        elif key in lookup:
            out[key] = lookup[key]
    return out


def _read(ctx, path, where, what):
    try:
        data = ctx.read_file(path)
    except ComposeError as exc:
        raise ComposeError("%s: %s" % (where, exc))
    except Exception as exc:  # the callback's own errors: name the reference
        raise ComposeError("%s: cannot read %s %s: %s" % (where, what, json.dumps(path), exc))
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise ComposeError("%s: read_file(%s) returned %s, not bytes"
                           % (where, json.dumps(path), type(data).__name__))
    return bytes(data)


def _file_reference(value):
    if _is_str(value):
        return {"source": value}
    return dict(value)


def _normalize_service(name, svc, ctx):
    path = ("services", name)
    svc = dict(svc)
    for key in ("command", "entrypoint"):
        if _is_str(svc.get(key)):
            svc[key] = shell_split(svc[key], ctx.where(path + (key,)))
    for key in ("dns", "dns_search", "tmpfs", "env_file"):
        if key in svc:
            svc[key] = _string_list(svc[key])
    if "environment" in svc:
        svc["environment"] = _mapping(svc["environment"], allow_nil=True)
    for key in ("labels", "sysctls"):
        if key in svc:
            svc[key] = _mapping(svc[key], allow_nil=False)
    if "extra_hosts" in svc:
        svc["extra_hosts"] = _hosts_list(svc["extra_hosts"])
    if "expose" in svc:
        svc["expose"] = [_go_string(item) for item in svc["expose"]]
    if isinstance(svc.get("networks"), list):
        svc["networks"] = dict((network, None) for network in svc["networks"])
    elif svc.get("networks") is not None:
        svc["networks"] = dict(
            (key, None if value is None else _network_attachment(value))
            for key, value in svc["networks"].items())
    if svc.get("logging") is not None:
        logging = dict(svc["logging"])
        if "options" in logging:
            logging["options"] = _mapping(logging["options"], allow_nil=False)
        svc["logging"] = logging
    if svc.get("healthcheck") is not None and _is_str(svc["healthcheck"].get("test")):
        svc["healthcheck"] = dict(svc["healthcheck"])
        svc["healthcheck"]["test"] = ["CMD-SHELL", svc["healthcheck"]["test"]]
    deploy = svc.get("deploy")
    if deploy is not None and "labels" in deploy:
        deploy = dict(deploy)
        deploy["labels"] = _mapping(deploy["labels"], allow_nil=False)
        svc["deploy"] = deploy
    if "ports" in svc:
        ports = []
        for index, port in enumerate(svc["ports"]):
            where = ctx.where(path + ("ports", index))
            if isinstance(port, dict):
                ports.append(dict(port))
            else:
                ports.extend(_parse_port_spec(_go_string(port), where, ctx.warnings))
        svc["ports"] = ports
    if "volumes" in svc:
        volumes = []
        for index, volume in enumerate(svc["volumes"]):
            where = ctx.where(path + ("volumes", index))
            volume = _parse_volume_spec(volume, where) if _is_str(volume) else dict(volume)
            if volume.get("type") == "bind":
                if not volume.get("source"):
                    ctx.fail(path + ("volumes", index),
                             "invalid mount config for type \"bind\": field Source must not be empty")
                volume["source"] = _resolve_bind(volume["source"], path + ("volumes", index), ctx)
            volumes.append(volume)
        svc["volumes"] = volumes
    for key in ("secrets", "configs"):
        if key in svc:
            svc[key] = [_file_reference(item) for item in svc[key]]
    if ctx.resolve_env:
        _resolve_environment(svc, path, ctx)
    return svc


def _network_attachment(value):
    out = dict(value)
    if "driver_opts" in out:
        out["driver_opts"] = _string_map(out["driver_opts"])
    return out


def _resolve_environment(svc, path, ctx):
    """env_file + environment + variables -> environment (docker/cli resolveEnvironment)."""
    env = ctx.env or {}
    environment = {}

    def update(values):
        for key, value in values.items():
            if (value is None or value == "") and key in env:
                environment[key] = env[key]
            else:
                environment[key] = value

    for index, env_file in enumerate(svc.pop("env_file", None) or []):
        where = ctx.where(path + ("env_file", index))
        data = _read(ctx, env_file, where, "env file")
        update(parse_env_file(data, "%s (%s)" % (where, env_file), env))
    update(svc.get("environment") or {})
    if environment or "environment" in svc:
        svc["environment"] = environment


def _normalize_external(kind, name, obj, ctx, path):
    """external: true | {name} -> external True plus name (docker/cli LoadNetworks & co)."""
    external = obj.get("external")
    if isinstance(external, dict):
        obj["external"] = True
        if external.get("name"):
            if obj.get("name"):
                ctx.fail(path, "%s.external.name and %s.name conflict; only use %s.name"
                         % (kind, kind, kind))
            deprecated_from = {"volume": (3, 4)}.get(kind, (3, 5))
            if _version_tuple(ctx.version) >= deprecated_from:
                ctx.warnings.append("%s %s: %s.external.name is deprecated in favor of %s.name"
                                    % (kind, name, kind, kind))
            obj["name"] = external["name"]
    if obj.get("external") and not obj.get("name"):
        obj["name"] = name
    return obj


def _normalize_document(doc, ctx):
    doc = dict(doc)
    services = {}
    for name, svc in (doc.get("services") or {}).items():
        services[name] = _normalize_service(name, svc, ctx)
    doc["services"] = services
    for section, kind in (("networks", "network"), ("volumes", "volume")):
        out = {}
        for name, obj in (doc.get(section) or {}).items():
            path = (section, name)
            obj = dict(obj or {})
            for key in ("labels",):
                if key in obj:
                    obj[key] = _mapping(obj[key], allow_nil=False)
            if "driver_opts" in obj:
                obj["driver_opts"] = _string_map(obj["driver_opts"])
            obj = _normalize_external(kind, name, obj, ctx, path)
            if kind == "volume" and obj.get("external"):
                for key in ("driver", "driver_opts", "labels"):
                    if obj.get(key):
                        ctx.fail(path, "conflicting parameters \"external\" and %s specified for volume %s"
                                 % (json.dumps(key), json.dumps(name)))
            out[name] = obj
        doc[section] = out
    for section, kind in (("secrets", "secret"), ("configs", "config")):
        out = {}
        for name, obj in (doc.get(section) or {}).items():
            path = (section, name)
            obj = dict(obj)
            if "labels" in obj:
                obj["labels"] = _mapping(obj["labels"], allow_nil=False)
            if "driver_opts" in obj:
                obj["driver_opts"] = _string_map(obj["driver_opts"])
            obj = _normalize_external(kind, name, obj, ctx, path)
            if not obj.get("external"):
                if obj.get("driver"):
                    if obj.get("file"):
                        ctx.fail(path, "%s.driver and %s.file conflict; only use %s.driver"
                                 % (kind, kind, kind))
                elif not obj.get("file"):
                    ctx.fail(path, "%s %s needs file: (or external: true%s)"
                             % (kind, name, ", or driver:" if kind == "secret" else ""))
            out[name] = obj
        doc[section] = out
    return doc
