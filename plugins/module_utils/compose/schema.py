# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Compose 3.x schema (docker/cli config_schema_v3.x, with the version each key appeared in)
and its checker: types, unknown keys, keys newer than the file's version.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import re

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError
from ansible_collections.conductor.swarm.plugins.module_utils.compose.values import (
    _fmt_path,
    _go_string,
    _is_int,
    _is_num,
    _is_str,
    _unique,
    parse_cpus,
    parse_duration,
    parse_size,
)

_SECTION_NAME_RE = re.compile(r"^[a-zA-Z0-9._-]+$")


class _Ctx(object):
    def __init__(self, label, version, gate=True, env=None, read_file=None, working_dir=None,
                 resolve_env=False, warnings=None):
        self.label = label
        self.version = version
        self.gate = gate
        self.env = env
        self.read_file = read_file
        self.working_dir = working_dir
        self.resolve_env = resolve_env
        self.warnings = warnings if warnings is not None else []

    def where(self, path):
        return "%s: %s" % (self.label, _fmt_path(path))

    def fail(self, path, message):
        raise ComposeError("%s: %s" % (self.where(path), message))


def _version_tuple(version):
    major, minor = version.split(".")
    return int(major), int(minor)


def _since(version, spec):
    return ("since", version, spec)


STR = ("str",)
INT = ("int",)
NUM = ("num",)
BOOL = ("bool",)
ANY = ("any",)
DURATION = ("duration",)
SCALAR = ("scalar",)  # string, number or null (list_or_dict values)


def _list(item, unique=False):
    return ("list", item, unique)


def _oneof(*alternatives):
    return ("oneof", alternatives)


def _obj(fields, extensions=False, strict=True, nullable=False, required=()):
    return ("obj", fields, extensions, strict, nullable, required)


def _map(value, key_re=None, nullable=False, what="name"):
    return ("map", value, key_re, nullable, what)


LIST_OF_STRINGS = _list(STR, unique=True)
STRING_OR_LIST = _oneof(STR, LIST_OF_STRINGS)
LIST_OR_DICT = _oneof(_map(SCALAR, what="key"), LIST_OF_STRINGS)
DRIVER_OPTS = _map(_oneof(STR, NUM), what="option")
EXTERNAL = _oneof(BOOL, _obj({"name": STR}, strict=False))

_FILE_REFERENCE = _oneof(STR, _obj({"source": STR, "target": STR, "uid": STR, "gid": STR,
                                    "mode": NUM}, strict=False))
_UPDATE_CONFIG = _obj({
    "parallelism": INT, "delay": DURATION, "failure_action": STR, "monitor": DURATION,
    "max_failure_ratio": NUM, "order": _since("3.4", ("enum", ("start-first", "stop-first"))),
})
_DEPLOY = _obj({
    "mode": STR,
    "endpoint_mode": _since("3.2", STR),
    "replicas": INT,
    "labels": LIST_OR_DICT,
    "rollback_config": _since("3.7", _UPDATE_CONFIG),
    "update_config": _UPDATE_CONFIG,
    "resources": _obj({
        "limits": _obj({"cpus": ("cpus",), "memory": ("size",), "pids": _since("3.9", INT)}),
        "reservations": _obj({
            "cpus": ("cpus",), "memory": ("size",),
            "generic_resources": _since("3.5", _list(_obj({
                "discrete_resource_spec": _obj({"kind": STR, "value": NUM}),
            }))),
        }),
    }),
    "restart_policy": _obj({"condition": STR, "delay": DURATION, "max_attempts": INT,
                            "window": DURATION}),
    "placement": _obj({
        "constraints": _list(STR),
        "preferences": _since("3.3", _list(_obj({"spread": STR}))),
        "max_replicas_per_node": _since("3.8", INT),
    }),
}, nullable=True)
_HEALTHCHECK = _obj({
    "disable": BOOL, "interval": DURATION, "retries": NUM,
    "test": _oneof(STR, _list(STR)), "timeout": DURATION,
    "start_period": _since("3.4", DURATION), "start_interval": _since("3.12", DURATION),
})
_SERVICE_NETWORK = _obj({
    "aliases": LIST_OF_STRINGS, "driver_opts": _since("3.13", DRIVER_OPTS),
    "ipv4_address": STR, "ipv6_address": STR,
}, nullable=True)
_PORT_LONG = _since("3.2", _obj({"mode": STR, "target": INT, "published": INT, "protocol": STR}))
_VOLUME_LONG = _since("3.2", _obj({
    "type": STR, "source": STR, "target": STR, "read_only": BOOL, "consistency": STR,
    "bind": _obj({"propagation": STR}, strict=False),
    "volume": _obj({"nocopy": BOOL, "subpath": STR}, strict=False),
    "tmpfs": _since("3.6", _obj({"size": ("size",)}, strict=False)),
}, required=("type",)))

_SERVICE = _obj({
    "deploy": _DEPLOY,
    "build": _oneof(STR, _obj({}, strict=False, extensions=True)),
    "cap_add": LIST_OF_STRINGS,
    "cap_drop": LIST_OF_STRINGS,
    "cgroupns_mode": _since("3.9", STR),
    "cgroup_parent": STR,
    "command": _oneof(STR, _list(STR)),
    "configs": _since("3.3", _list(_FILE_REFERENCE)),
    "container_name": STR,
    "credential_spec": _since("3.3", _obj({"config": _since("3.8", STR), "file": STR, "registry": STR})),
    "depends_on": LIST_OF_STRINGS,
    "devices": LIST_OF_STRINGS,
    "dns": STRING_OR_LIST,
    "dns_search": STRING_OR_LIST,
    "domainname": STR,
    "entrypoint": _oneof(STR, _list(STR)),
    "env_file": STRING_OR_LIST,
    "environment": LIST_OR_DICT,
    "expose": _list(_oneof(STR, NUM), unique=True),
    "external_links": LIST_OF_STRINGS,
    "extra_hosts": LIST_OR_DICT,
    "healthcheck": _HEALTHCHECK,
    "hostname": STR,
    "image": STR,
    "init": _since("3.7", BOOL),
    "ipc": STR,
    "isolation": _since("3.5", STR),
    "labels": LIST_OR_DICT,
    "links": LIST_OF_STRINGS,
    "logging": _obj({"driver": STR, "options": _map(SCALAR, what="option")}),
    "mac_address": STR,
    "network_mode": STR,
    "networks": _oneof(LIST_OF_STRINGS, _map(_SERVICE_NETWORK, _SECTION_NAME_RE, what="network")),
    "pid": _oneof(STR, ("null",)),
    "ports": _list(_oneof(NUM, STR, _PORT_LONG), unique=True),
    "privileged": BOOL,
    "read_only": BOOL,
    "restart": STR,
    "security_opt": LIST_OF_STRINGS,
    # The schema allows a number, but docker/cli decodes shm_size into a Go string and refuses one
    # ("'shm_size' expected type 'string', got unconvertible type 'int'").
    "shm_size": STR,
    "secrets": _since("3.1", _list(_FILE_REFERENCE)),
    "sysctls": LIST_OR_DICT,
    "stdin_open": BOOL,
    "stop_grace_period": DURATION,
    "stop_signal": STR,
    "tmpfs": STRING_OR_LIST,
    "tty": BOOL,
    "ulimits": _map(_oneof(INT, _obj({"hard": INT, "soft": INT}, required=("soft", "hard"))),
                    re.compile(r"^[a-z]+$"), what="ulimit"),
    "oom_score_adj": _since("3.13", INT),
    "user": STR,
    "userns_mode": STR,
    "volumes": _list(_oneof(STR, _VOLUME_LONG), unique=True),
    "working_dir": STR,
}, extensions=True)

_NETWORK = _obj({
    "name": _since("3.5", STR), "driver": STR, "driver_opts": DRIVER_OPTS,
    "ipam": _obj({"driver": STR, "config": _list(_obj({"subnet": STR}))}),
    "external": EXTERNAL, "internal": BOOL, "attachable": _since("3.2", BOOL),
    "labels": LIST_OR_DICT,
}, extensions=True, nullable=True)
_VOLUME = _obj({
    "name": _since("3.4", STR), "driver": STR, "driver_opts": DRIVER_OPTS,
    "external": EXTERNAL, "labels": LIST_OR_DICT,
    "x-cluster-spec": _since("3.10", _obj({}, strict=False)),
}, extensions=True, nullable=True)
_SECRET = _obj({
    "name": _since("3.5", STR), "file": STR, "external": EXTERNAL, "labels": LIST_OR_DICT,
    "driver": _since("3.8", STR), "driver_opts": _since("3.8", DRIVER_OPTS),
    "template_driver": _since("3.8", STR),
}, extensions=True)
_CONFIG = _obj({
    "name": _since("3.5", STR), "file": STR, "external": EXTERNAL, "labels": LIST_OR_DICT,
    "template_driver": _since("3.8", STR),
}, extensions=True)

_TOP = _obj({
    "version": STR,
    "services": _map(_SERVICE, _SECTION_NAME_RE, what="service"),
    "networks": _map(_NETWORK, _SECTION_NAME_RE, what="network"),
    "volumes": _map(_VOLUME, _SECTION_NAME_RE, what="volume"),
    "secrets": _since("3.1", _map(_SECRET, _SECTION_NAME_RE, what="secret")),
    "configs": _since("3.3", _map(_CONFIG, _SECTION_NAME_RE, what="config")),
}, extensions=True)

_TYPE_NAMES = {"str": "a string", "int": "an integer", "num": "a number", "bool": "a boolean",
               "obj": "a mapping", "map": "a mapping", "list": "a list", "null": "null",
               "duration": "a duration string", "scalar": "a string, number or null",
               "size": "a size (\"512M\") or a number of bytes",
               "cpus": "a number of CPUs (\"0.5\")", "enum": "one of the allowed values"}


def _kind_matches(spec, value):
    kind = spec[0]
    if kind == "since":
        return _kind_matches(spec[2], value)
    if kind in ("str", "duration", "enum"):
        return _is_str(value) or isinstance(value, (datetime.date, datetime.datetime))
    if kind == "int":
        return _is_int(value) or (isinstance(value, float) and value == int(value))
    if kind == "num":
        return _is_num(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if kind in ("obj", "map"):
        return isinstance(value, dict) or (value is None and spec[4 if kind == "obj" else 3])
    if kind == "list":
        return isinstance(value, list)
    if kind == "scalar":
        return value is None or _is_num(value) or _is_str(value) or isinstance(
            value, (datetime.date, datetime.datetime))
    if kind == "size":
        return _is_int(value) or _is_str(value)
    if kind == "cpus":
        return _is_num(value) or _is_str(value)
    return True


def _describe(spec):
    kind = spec[0]
    if kind == "since":
        return _describe(spec[2])
    if kind == "oneof":
        names = _unique([_describe(alt) for alt in spec[1]])
        return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
    return _TYPE_NAMES.get(kind, kind)


def _check(value, spec, path, ctx):
    """Validate ``value`` against ``spec``; return it cleaned (dates -> str, 3.0 -> 3)."""
    kind = spec[0]
    if kind == "since":
        if ctx.gate and _version_tuple(ctx.version) < _version_tuple(spec[1]):
            ctx.fail(path, "needs Compose file version %s or later (this file is version %s)"
                     % (spec[1], ctx.version))
        return _check(value, spec[2], path, ctx)
    if kind == "any":
        return value
    if kind == "oneof":
        for alternative in spec[1]:
            if _kind_matches(alternative, value):
                return _check(value, alternative, path, ctx)
        ctx.fail(path, "must be %s, not %s" % (_describe(spec), _show(value)))
    if not _kind_matches(spec, value):
        hint = ""
        if isinstance(value, bool) and kind in ("scalar", "str"):
            hint = " (quote it: \"%s\")" % _go_string(value)
        ctx.fail(path, "must be %s, not %s%s" % (_describe(spec), _show(value), hint))
    if kind in ("str", "scalar") and isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if kind == "int" and isinstance(value, float):
        return int(value)
    if kind == "duration":
        parse_duration(value, ctx.where(path))
        return value
    if kind == "enum":
        if value not in spec[1]:
            ctx.fail(path, "must be one of %s, not %s" % (", ".join(spec[1]), json.dumps(value)))
        return value
    if kind == "size":
        parse_size(value, ctx.where(path))
        return value
    if kind == "cpus":
        parse_cpus(value, ctx.where(path))
        return value
    if kind == "list":
        items = [_check(item, spec[1], path + (index,), ctx) for index, item in enumerate(value)]
        if spec[2]:
            seen = set()
            for index, item in enumerate(items):
                key = json.dumps(item, sort_keys=True, default=str)
                if key in seen:
                    ctx.fail(path + (index,), "%s is listed twice" % _show(item))
                seen.add(key)
        return items
    if kind == "map":
        if value is None:
            return None
        out = {}
        for key, item in value.items():
            if not _is_str(key):
                ctx.fail(path, "%s %r must be a string" % (spec[4], key))
            if spec[2] is not None and not spec[2].match(key):
                ctx.fail(path, "invalid %s %s" % (spec[4], json.dumps(key)))
            out[key] = _check(item, spec[1], path + (key,), ctx)
        return out
    if kind == "obj":
        if value is None:
            return None
        fields, extensions, strict, required = spec[1], spec[2], spec[3], spec[5]
        out = {}
        for key, item in value.items():
            if key in fields:
                out[key] = _check(item, fields[key], path + (key,), ctx)
            elif extensions and _is_str(key) and key.startswith("x-"):
                out[key] = item
            elif strict:
                ctx.fail(path, "unknown key %s (Additional property %s is not allowed)"
                         % (json.dumps(key), key))
            else:
                if fields:
                    ctx.warnings.append("%s: ignoring unknown key %s"
                                        % (ctx.where(path), json.dumps(key)))
                out[key] = item
        for key in required:
            if key not in value:
                ctx.fail(path, "%s is required" % key)
        return out
    return value


def _show(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value, default=str)
