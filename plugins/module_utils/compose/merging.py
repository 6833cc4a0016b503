# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a later Compose file overrides an earlier one (docker/cli loader/merge.go: mergo with
override and append), file by file; merge_documents (loading) runs it over the files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError
from ansible_collections.conductor.swarm.plugins.module_utils.compose.normalisation import MARKER_KEY
from ansible_collections.conductor.swarm.plugins.module_utils.compose.values import (
    _is_num,
    _is_str,
    parse_duration,
    parse_size,
)

_POINTER_PATHS = set([
    "deploy.replicas", "healthcheck.retries", "deploy.update_config.parallelism",
    "deploy.rollback_config.parallelism", "deploy.restart_policy.max_attempts",
])
_STRING_MAP_PATHS = set(["labels", "deploy.labels", "sysctls", "logging.options"])
_REPLACE_LIST_PATHS = set(["command", "entrypoint", "healthcheck.test"])
_DURATION_KEYS = set(["delay", "monitor", "window", "interval", "timeout", "start_period",
                      "start_interval", "stop_grace_period"])


def _is_empty(value, key):
    if value is None or value is False or value == "" or value == [] or value == {}:
        return True
    if _is_num(value) and value == 0:
        return True
    if _is_str(value) and key in _DURATION_KEYS:
        try:
            return parse_duration(value) == 0
        except ComposeError:
            return False
    if key == "memory":
        try:
            return parse_size(value) == 0
        except ComposeError:
            return False
    return False


def _port_key(port):
    protocol = port.get("protocol") or "tcp"
    if port.get("published"):
        return ("published", port.get("published"), protocol)
    return ("target", port.get("target"), protocol)


def _merge_keyed(base, override, key, order):
    merged = {}
    for item in list(base or []) + list(override or []):
        merged[key(item)] = copy.deepcopy(item)
    return sorted(merged.values(), key=order)


def _merge_value(path, base, override):
    dotted = ".".join(path)
    key = path[-1]
    if dotted in _POINTER_PATHS:
        return copy.deepcopy(override) if override is not None else base
    if dotted == "ports":
        return _merge_keyed(base, override, _port_key,
                            lambda p: (p.get("published") or 0, p.get("target") or 0,
                                       p.get("protocol") or ""))
    if dotted == "volumes":
        return _merge_keyed(base, override, lambda v: v.get("target"), lambda v: v.get("target") or "")
    if dotted in ("secrets", "configs"):
        return _merge_keyed(base, override, lambda v: v.get("source"), lambda v: v.get("source") or "")
    if dotted in _REPLACE_LIST_PATHS:
        return copy.deepcopy(override) if override else base
    if dotted == "environment":
        out = dict(base or {})
        for name, value in (override or {}).items():
            if name not in out or out[name] is None or (value is not None and value != ""):
                out[name] = value
        return out
    if dotted in _STRING_MAP_PATHS:
        out = dict(base or {})
        out.update(override or {})
        return out
    if dotted == "logging":
        return _merge_logging(base, override)
    if dotted == "networks":
        return _merge_service_networks(base, override)
    if dotted == "ulimits":
        out = dict(base or {})
        for name, value in (override or {}).items():
            if not _is_empty(value, name):
                out[name] = copy.deepcopy(value)
        return out
    if override is None:
        return base
    if base is None:
        return copy.deepcopy(override)
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for name, value in override.items():
            out[name] = _merge_value(path + (name,), out[name], value) if name in out \
                else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(override, list):
        return list(base) + copy.deepcopy(override)
    if _is_empty(override, key):
        return base
    return copy.deepcopy(override)


def _merge_logging(base, override):
    if not override:
        return base
    if not base:
        return copy.deepcopy(override)
    base_driver, override_driver = base.get("driver") or "", override.get("driver") or ""
    if base_driver == override_driver or not base_driver or not override_driver:
        out = dict(base)
        out["driver"] = base_driver or override_driver
        if not out["driver"]:
            del out["driver"]
        options = dict(base.get("options") or {})
        options.update(override.get("options") or {})
        if options or "options" in base or "options" in override:
            out["options"] = options
        return out
    return copy.deepcopy(override)


def _merge_service_networks(base, override):
    out = dict(base or {})
    for name, cfg in (override or {}).items():
        current = out.get(name)
        if cfg is None and name in out:
            continue
        if current is None:
            out[name] = copy.deepcopy(cfg)
            continue
        merged = dict(current)
        merged.pop("aliases", None)
        if cfg.get("aliases") is not None:
            merged["aliases"] = list(cfg["aliases"])
        for key in ("ipv4_address", "ipv6_address"):
            if cfg.get(key):
                merged[key] = cfg[key]
        out[name] = merged
    return out


def _merge_two(base, override):
    out = dict(base)
    services = dict(base.get("services") or {})
    for name, svc in (override.get("services") or {}).items():
        if name in services:
            merged = dict(services[name])
            for key, value in svc.items():
                merged[key] = _merge_value((key,), merged[key], value) if key in merged \
                    else copy.deepcopy(value)
            services[name] = merged
        else:
            services[name] = copy.deepcopy(svc)
    out["services"] = services
    for section in ("networks", "volumes", "secrets", "configs"):
        merged = dict(base.get(section) or {})
        for name, value in (override.get(section) or {}).items():
            merged[name] = copy.deepcopy(value)
        out[section] = merged
    for key, value in override.items():
        if _is_str(key) and key.startswith("x-") and key != MARKER_KEY:
            out[key] = copy.deepcopy(value)
    return out
