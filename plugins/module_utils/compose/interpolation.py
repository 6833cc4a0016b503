# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Variables in Compose files: ``${VAR}``, ``$VAR``, defaults, required variables, ``$$``,
and the casts docker/cli applies to values that came out of a substitution.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError
from ansible_collections.conductor.swarm.plugins.module_utils.compose.values import _fmt_path, _is_str, _unique

_SUBST = r"[_a-z][_a-z0-9]*(?::?[-?][^}]*)?"
_INTERPOLATION_RE = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>" + _SUBST + r")|\{(?P<braced>" + _SUBST + r")\}|(?P<invalid>))")


def _to_int(text):
    if not re.match(r"^[+-]?[0-9]+$", text):
        raise ValueError("invalid syntax")
    return int(text)


def _to_float(text):
    if not re.match(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$", text):
        raise ValueError("invalid syntax")
    return float(text)


def _to_bool(text):
    lowered = text.lower()
    if lowered in ("y", "yes", "true", "on"):
        return True
    if lowered in ("n", "no", "false", "off"):
        return False
    raise ValueError("invalid boolean: %s" % text)


# docker/cli loader/interpolate.go: values that become numbers or booleans
# when they came out of a substitution.
_CASTS = [
    (("services", "*", "configs", "[]", "mode"), _to_int),
    (("services", "*", "secrets", "[]", "mode"), _to_int),
    (("services", "*", "healthcheck", "retries"), _to_int),
    (("services", "*", "healthcheck", "disable"), _to_bool),
    (("services", "*", "deploy", "replicas"), _to_int),
    (("services", "*", "deploy", "update_config", "parallelism"), _to_int),
    (("services", "*", "deploy", "update_config", "max_failure_ratio"), _to_float),
    (("services", "*", "deploy", "rollback_config", "parallelism"), _to_int),
    (("services", "*", "deploy", "rollback_config", "max_failure_ratio"), _to_float),
    (("services", "*", "deploy", "restart_policy", "max_attempts"), _to_int),
    (("services", "*", "deploy", "placement", "max_replicas_per_node"), _to_int),
    (("services", "*", "ports", "[]", "target"), _to_int),
    (("services", "*", "ports", "[]", "published"), _to_int),
    (("services", "*", "ulimits", "*"), _to_int),
    (("services", "*", "ulimits", "*", "hard"), _to_int),
    (("services", "*", "ulimits", "*", "soft"), _to_int),
    (("services", "*", "privileged"), _to_bool),
    (("services", "*", "oom_score_adj"), _to_int),
    (("services", "*", "read_only"), _to_bool),
    (("services", "*", "stdin_open"), _to_bool),
    (("services", "*", "tty"), _to_bool),
    (("services", "*", "volumes", "[]", "read_only"), _to_bool),
    (("services", "*", "volumes", "[]", "volume", "nocopy"), _to_bool),
    (("networks", "*", "external"), _to_bool),
    (("networks", "*", "internal"), _to_bool),
    (("networks", "*", "attachable"), _to_bool),
    (("volumes", "*", "external"), _to_bool),
    (("secrets", "*", "external"), _to_bool),
    (("configs", "*", "external"), _to_bool),
]


def _caster_for(pattern_path):
    for pattern, caster in _CASTS:
        if len(pattern) == len(pattern_path) and all(
                p == "*" or p == q for p, q in zip(pattern, pattern_path)):
            return caster
    return None


def _substitute(template, env, where, warnings):
    def lookup(name):
        if name in env:
            return env[name], True
        return "", False

    def replace(match):
        if match.group("escaped"):
            return "$"
        named, braced = match.group("named"), match.group("braced")
        substitution = named or braced
        if not substitution:
            raise ComposeError(
                "%s: invalid interpolation format %s; you may need to escape any $ with another $"
                % (where, json.dumps(template)))
        if named and re.search(r"[-?]", substitution):
            warnings.append(
                "%s: %s is read as ${%s}, as docker stack deploy reads it; write ${%s} to keep "
                "the text after the variable" % (
                    where, json.dumps("$" + substitution), substitution,
                    re.match(r"[_a-zA-Z0-9]*", substitution).group(0)))
        if ":-" in substitution:
            name, default = substitution.split(":-", 1)
            value, found = lookup(name)
            return value if found and value != "" else default
        if "-" in substitution:
            name, default = substitution.split("-", 1)
            if "?" in name:
                warnings.append(
                    "%s: ${%s} is read as a default value, not as a required variable, because "
                    "its message contains '-' (docker stack deploy reads it the same way)"
                    % (where, substitution))
            value, found = lookup(name)
            return value if found else default
        for sep, non_empty in ((":?", True), ("?", False)):
            if sep in substitution:
                name, message = substitution.split(sep, 1)
                value, found = lookup(name)
                if not found or (non_empty and value == ""):
                    raise ComposeError("%s: required variable %s is missing a value%s"
                                       % (where, name, (": " + message) if message else ""))
                return value
        value, found = lookup(substitution)
        if not found:
            warnings.append("The %s variable is not set. Defaulting to a blank string." % substitution)
        return value

    return _INTERPOLATION_RE.sub(replace, template)


def _interpolate(value, env, path, pattern_path, warnings):
    if isinstance(value, dict):
        return dict(
            (key, _interpolate(item, env, path + (key,), pattern_path + (str(key),), warnings))
            for key, item in value.items())
    if isinstance(value, list):
        return [_interpolate(item, env, path + (index,), pattern_path + ("[]",), warnings)
                for index, item in enumerate(value)]
    if not _is_str(value):
        return value
    where = _fmt_path(path)
    result = _substitute(value, env, where, warnings)
    if result == value:
        return value
    caster = _caster_for(pattern_path)
    if caster is None:
        return result
    try:
        return caster(result)
    except ValueError as exc:
        raise ComposeError("%s: failed to cast %s to the expected type: %s"
                           % (where, json.dumps(result), exc))


def interpolate(value, env):
    """Substitute variables in every string of ``value`` (a parsed document or any value).

    ``env`` maps variable names to values. Returns ``(new_value, warnings)``.
    Like docker/cli, a value that changed is cast to an int, float or bool
    where the Compose format wants one (``deploy.replicas: ${N}``), and a
    missing variable without a default becomes an empty string; each missing
    variable gives the warning "The X variable is not set. Defaulting to a
    blank string.". ``$$`` is a literal ``$``. Keys are not interpolated.
    """
    warnings = []
    result = _interpolate(value, dict(env or {}), (), (), warnings)
    return result, _unique(warnings)
