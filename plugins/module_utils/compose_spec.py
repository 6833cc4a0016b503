# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose files (format 3.x) to the objects `docker stack deploy` creates.

Pure logic: no Docker, no Ansible, no YAML. Callers parse the Compose files
and pass the resulting dicts; files the Compose files point at (env_file,
file-based configs and secrets) are read through a ``read_file(path) -> bytes``
callback that receives the path as written in the Compose file.

Public API:

* ``interpolate(value, env)`` -> ``(value, warnings)``: ``${VAR}``, ``$VAR``,
  ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?err}``, ``${VAR?err}`` and
  ``$$`` over every string of a parsed document (keys are left alone).
* ``merge_documents(documents)`` -> compose dict: several files merged the way
  ``docker stack deploy -c a.yml -c b.yml`` merges them.
* ``load_stack(documents, env, read_file, working_dir=None, newest=DEFAULT_VERSION, cli=None)`` -> compose
  dict: interpolated, validated, env files resolved, merged, in long syntax.
* ``newest_version(docker_version)``: the newest file version the docker CLI of that release reads.
* ``convert_stack(stack_name, compose, read_file)`` -> the networks, configs,
  secrets, volumes and service specs (Engine API bodies) of the stack.
* ``spec_hash(obj)``: stable sha256 of a JSON-serialisable object.

Every bad input raises ``ComposeError`` naming the file, the service or
section and the key.

The conventions are those of docker/cli's stack deploy (cli/compose/loader,
cli/compose/convert and cli/command/stack): names are ``<stack>_<name>``,
every object carries the label ``com.docker.stack.namespace``, services
without ``networks:`` join ``<stack>_default`` (created only when a service
uses it), service specs are JSON-encoded the way the Go client encodes them
(fields Go leaves out when empty are left out here too; durations are integer
nanoseconds). Deliberate differences from docker/cli:

* Configs and secrets are content-addressed: ``<stack>_<name>_<sha256[:10]>``
  (or ``<name:>_<sha256[:10]>`` when the Compose file sets ``name:``), with the
  labels ``com.docker.stack.namespace`` and ``conductor.swarm.content-hash``
  (the full sha256 of the data). A changed file therefore rolls out like a new
  image instead of failing with "only updates to Labels are allowed".
  Service references carry the hashed name and an empty ConfigID/SecretID for
  the caller to fill in.
* ``deploy.replicas`` absent gives ``Replicated: {"Replicas": 1}`` (docker/cli
  sends ``{}`` and the Engine defaults to 1: the service is the same).
* Merging ports keys them by published port and protocol (unpublished ports by
  target and protocol); docker/cli keys them by published port alone and so
  drops a TCP/UDP twin or all but one unpublished port (docker/cli#6223).
  Merging ``healthcheck.test`` replaces it instead of concatenating the lists,
  and logging options of a later file are kept even when the first file had
  none (docker/cli loses them).
* A few things docker/cli leaves to the Engine are rejected early with a clear
  message: unknown restart conditions, failure actions, port modes and
  protocols, ``dnsrr`` with ingress ports, invalid IPAM subnets (docker/cli
  drops them silently), service names swarm refuses, config/secret names
  longer than 64 characters, empty or oversized secrets and configs.
* Accepted although docker/cli's schema refuses them: ``memory`` as a plain
  number of bytes, ``cpus`` as a YAML number, ``tmpfs.size`` as a size string.
* Warnings docker/cli does not print: unset variables ("The X variable is not
  set. Defaulting to a blank string."), ``depends_on``, service ``tmpfs:``,
  ``ipv4_address``/``ipv6_address`` (all ignored by swarm), and interpolation
  forms docker/cli reads surprisingly but that are kept for compatibility
  (``$VAR-text`` is ``${VAR-text}``; ``${VAR:?some-text}`` is a default value
  because of the ``-``).
* Relative bind-mount sources are resolved against ``working_dir`` (the
  directory of the first Compose file), which load_stack must be given.
* load_stack's result keeps what no Engine object carries as written:
  ``build`` (docker/cli turns a string into ``{context: ...}`` and drops keys
  its BuildConfig lacks, such as ``shm_size``), and ``x-`` fields of networks
  and volumes (docker/cli keeps those only for external ones).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import datetime
import hashlib
import ipaddress
import json
import math
import posixpath
import re
import struct
from decimal import Decimal
from fractions import Fraction

NAMESPACE_LABEL = "com.docker.stack.namespace"
IMAGE_LABEL = "com.docker.stack.image"
CONTENT_HASH_LABEL = "conductor.swarm.content-hash"
DEFAULT_NETWORK_DRIVER = "overlay"
DEFAULT_VERSION = "3.13"
SUPPORTED_VERSIONS = tuple("3.%d" % minor for minor in range(14))
# The newest Compose file version the docker CLI of a Docker release reads (the schemas it embeds, from
# docker/cli's tags): a manager's `docker stack deploy` refuses newer files, and treats "3" or no version
# as its newest. By major version, newest first.
CLI_NEWEST_VERSION = ((27, "3.13"), (25, "3.12"), (24, "3.11"), (23, "3.10"), (20, "3.9"), (19, "3.8"))
CONTENT_HASH_LENGTH = 10
# Top-level key load_stack/merge_documents add to their result: the warnings
# so far, and the fact that the document is already in long syntax.
MARKER_KEY = "x-conductor-swarm"

# docker/cli cli/compose/types: service keys swarm ignores (with a warning),
# keys removed from format 3 (warning) and keys that fail the deploy.
UNSUPPORTED_PROPERTIES = (
    "build", "cgroupns_mode", "cgroup_parent", "devices", "domainname", "external_links",
    "ipc", "links", "mac_address", "network_mode", "pid", "privileged", "restart",
    "security_opt", "shm_size", "userns_mode",
)
DEPRECATED_PROPERTIES = {
    "container_name": "Setting the container name is not supported.",
    "expose": "Exposing ports is unnecessary - services on the same network can access "
              "each other's containers on any port.",
}
FORBIDDEN_PROPERTIES = {
    "extends": "Support for `extends` is not implemented yet.",
    "volume_driver": "Instead of setting the volume driver on the service, define a volume using "
                     "the top-level `volumes` option and specify the driver there.",
    "volumes_from": "To share a volume between services, define it using the top-level `volumes` "
                    "option and reference it from each service that shares it using the "
                    "service-level `volumes` option.",
    "cpu_quota": "Set resource limits using deploy.resources",
    "cpu_shares": "Set resource limits using deploy.resources",
    "cpuset": "Set resource limits using deploy.resources",
    "mem_limit": "Set resource limits using deploy.resources",
    "memswap_limit": "Set resource limits using deploy.resources",
}

MAX_SECRET_SIZE = 500 * 1024
MAX_CONFIG_SIZE = 1000 * 1024
_SERVICE_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$")
_OBJECT_NAME_RE = re.compile(r"^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$")
_SECTION_NAME_RE = re.compile(r"^[a-zA-Z0-9._-]+$")


class ComposeError(Exception):
    """A Compose file cannot be deployed as written."""


# ---------------------------------------------------------------------------
# Small helpers


def spec_hash(obj):
    """Stable sha256 hex digest of a JSON-serialisable object (sorted keys, compact).

    Bytes are hashed as their base64 text, so converted configs can be hashed too.
    """
    def default(value):
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(bytes(value)).decode("ascii")
        raise TypeError("%r is not JSON serialisable" % (value,))

    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fmt_path(parts):
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def _is_str(value):
    return isinstance(value, str)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _go_float(value):
    """A float64 as Go's fmt.Sprint prints it (%v: shortest, exponent from 1e+06)."""
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(str(d) for d in digits)
    point = len(digits) + exponent  # position of the decimal point
    exp = point - 1
    text = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (text, mantissa, "-" if exp < 0 else "+", abs(exp))
    if point <= 0:
        return text + "0." + "0" * (-point) + digits
    if point >= len(digits):
        return text + digits + "0" * (point - len(digits))
    return text + digits[:point] + "." + digits[point:]


def _go_string(value):
    """A YAML scalar as docker/cli's fmt.Sprint turns it into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_int(value):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def _float32(value):
    """A float as Go encodes a float32 in JSON (shortest text that round-trips)."""
    value = float(value)
    if value == int(value):
        return int(value)
    target = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(1, 10):
        candidate = float("%.*g" % (precision, value))
        if struct.unpack("f", struct.pack("f", candidate))[0] == target:
            return candidate
    return value


# ---------------------------------------------------------------------------
# Durations, sizes, CPUs (Go semantics)

_DURATION_UNITS = {
    "ns": 1, "us": 1000, u"\u00b5s": 1000, u"\u03bcs": 1000,
    "ms": 1000 * 1000, "s": 1000 * 1000 * 1000,
    "m": 60 * 1000 * 1000 * 1000, "h": 3600 * 1000 * 1000 * 1000,
}
_INT64_MAX = (1 << 63) - 1
_NUMBER_PART_RE = re.compile(r"([0-9]*)(?:\.([0-9]*))?")
_UNIT_PART_RE = re.compile(r"[^0-9.]*")


def parse_duration(value, where="duration"):
    """Go time.ParseDuration: "10s", "1m30s", "500ms", "1.5h" -> integer nanoseconds."""
    if not _is_str(value):
        raise ComposeError("%s: %r is not a duration; write a string such as \"10s\" or \"1m30s\""
                           % (where, value))
    text = value
    negative = False
    if text[:1] in ("+", "-"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ComposeError("%s: invalid duration %r" % (where, value))
    total = 0
    while text:
        match = _NUMBER_PART_RE.match(text)
        whole, frac = match.group(1), match.group(2)
        if not whole and not frac:
            raise ComposeError("%s: invalid duration %r" % (where, value))
        text = text[match.end():]
        unit = _UNIT_PART_RE.match(text).group(0)
        if not unit:
            raise ComposeError("%s: missing unit in duration %r (use ns, us, ms, s, m or h)"
                               % (where, value))
        if unit not in _DURATION_UNITS:
            raise ComposeError("%s: unknown unit %r in duration %r (use ns, us, ms, s, m or h)"
                               % (where, unit, value))
        text = text[len(unit):]
        scale = _DURATION_UNITS[unit]
        part = int(whole or "0") * scale
        if frac:
            part += int(float(int(frac)) * (float(scale) / (10 ** len(frac))))
        total += part
        if total > _INT64_MAX + (1 if negative else 0):
            raise ComposeError("%s: duration %r is out of range" % (where, value))
    return -total if negative else total


_SIZE_NUMBER_RE = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_BINARY_UNITS = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}


def parse_size(value, where="size"):
    """go-units RAMInBytes: 512M, 1g, 100k, 1.5GiB, 1024 or a plain int -> bytes."""
    if _is_int(value):
        if value < 0:
            raise ComposeError("%s: size %d is negative" % (where, value))
        return value
    if not _is_str(value):
        raise ComposeError("%s: %r is not a size; write e.g. \"512M\" or \"1g\"" % (where, value))
    positions = [value.rfind(c) for c in "0123456789. "]
    sep = max(positions)
    if sep == -1:
        raise ComposeError("%s: invalid size %r" % (where, value))
    if value[sep] != " ":
        number, suffix = value[:sep + 1], value[sep + 1:]
    else:
        number, suffix = value[:sep], value[sep + 1:]
    if not _SIZE_NUMBER_RE.match(number):
        raise ComposeError("%s: invalid size %r" % (where, value))
    size = float(number)
    if size < 0:
        raise ComposeError("%s: invalid size %r" % (where, value))
    if not suffix:
        return int(size)
    lower = suffix.lower()
    if len(lower) > 3:
        raise ComposeError("%s: invalid suffix %r in size %r" % (where, suffix, value))
    if lower[0] == "b":
        if len(lower) > 1:
            raise ComposeError("%s: invalid suffix %r in size %r" % (where, suffix, value))
        return int(size)
    if lower[0] not in _BINARY_UNITS or (len(lower) == 2 and lower[1] != "b") or (
            len(lower) == 3 and lower[1:] != "ib"):
        raise ComposeError("%s: invalid suffix %r in size %r (use b, k, m, g, t or p)"
                           % (where, suffix, value))
    return int(size * _BINARY_UNITS[lower[0]])


_CPUS_RE = re.compile(r"^(?:[+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+/[0-9]+)$")


def parse_cpus(value, where="cpus"):
    """docker/cli ParseCPUs: "0.5" -> 500000000 NanoCPUs (numbers are accepted too)."""
    if _is_num(value):
        value = _go_string(value)
    if not _is_str(value) or not _CPUS_RE.match(value.strip()):
        raise ComposeError("%s: failed to parse %r as a number of CPUs" % (where, value))
    try:
        nano = Fraction(value.strip()) * 1000000000
    except (ValueError, ZeroDivisionError):
        raise ComposeError("%s: failed to parse %r as a number of CPUs" % (where, value))
    if nano.denominator != 1:
        raise ComposeError("%s: %r is too precise (at most 9 decimals)" % (where, value))
    return int(nano)


# ---------------------------------------------------------------------------
# Shell words (google/shlex, as docker/cli splits command/entrypoint strings)


def shell_split(text, where="command"):
    words = []
    word = None
    state = "start"
    for char in text + "\0":
        eof = char == "\0"
        if state == "comment":
            if eof:
                break
            if char == "\n":
                state = "start"
            continue
        if state == "start":
            if eof:
                break
            if char in " \t\r\n":
                continue
            if char == "#":
                state = "comment"
                continue
            word = ""
            state = "word"
            # fall through to handle the first character as part of a word
        if state == "word":
            if eof or char in " \t\r\n":
                words.append(word)
                word = None
                state = "start"
            elif char == '"':
                state = "dquote"
            elif char == "'":
                state = "squote"
            elif char == "\\":
                state = "escape"
            else:
                word += char
        elif state == "escape":
            if eof:
                raise ComposeError("%s: EOF found after escape character" % where)
            word += char
            state = "word"
        elif state == "dquote":
            if eof:
                raise ComposeError("%s: EOF found when expecting closing quote" % where)
            if char == '"':
                state = "word"
            elif char == "\\":
                state = "dquote_escape"
            else:
                word += char
        elif state == "dquote_escape":
            if eof:
                raise ComposeError("%s: EOF found after escape character" % where)
            word += char
            state = "dquote"
        elif state == "squote":
            if eof:
                raise ComposeError("%s: EOF found when expecting closing quote" % where)
            if char == "'":
                state = "word"
            else:
                word += char
    return words


# ---------------------------------------------------------------------------
# Interpolation

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


def _unique(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


# ---------------------------------------------------------------------------
# Schema (docker/cli config_schema_v3.x, with the version each key appeared in)


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


# ---------------------------------------------------------------------------
# Normalisation to long syntax (docker/cli loader transforms)


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


# ---------------------------------------------------------------------------
# Loading and merging


def newest_version(docker_version):
    """The newest Compose file version the docker CLI of this Docker release reads: "26.1.5+dfsg1" -> "3.12".
    A version this table does not know (none, or newer than it): the newest this loader knows."""
    match = re.match(r"^(\d+)\.", docker_version or "")
    if not match:
        return DEFAULT_VERSION
    major = int(match.group(1))
    for since, version in CLI_NEWEST_VERSION:
        if major >= since:
            return version
    return CLI_NEWEST_VERSION[-1][1]


def _minor(version):
    return int(version.split(".")[1])


def _doc_version(doc, label, newest=DEFAULT_VERSION, cli=None):
    if "version" not in doc:
        return newest
    version = doc["version"]
    if not _is_str(version):
        raise ComposeError("%s: version must be a string, such as \"3.8\" (quote it in YAML), not %s"
                           % (label, _show(version)))
    if version in ("", "3"):
        return newest
    if version not in SUPPORTED_VERSIONS or _minor(version) > _minor(newest):
        raise ComposeError("%s: unsupported Compose file version: %s (docker stack deploy%s reads versions 3.0 to %s)"
                           % (label, version, " of %s" % cli if cli else "", newest))
    return version


def _labelled(documents):
    """[(label, dict)] from a list of dicts or of (filename, dict) pairs."""
    if isinstance(documents, dict):
        documents = [documents]
    out = []
    for index, item in enumerate(documents or []):
        if isinstance(item, (tuple, list)) and len(item) == 2 and _is_str(item[0]):
            label, doc = item
        else:
            label, doc = "compose file #%d" % (index + 1), item
        if not isinstance(doc, dict):
            raise ComposeError("%s: top-level object must be a mapping" % label)
        out.append((label, doc))
    if not out:
        raise ComposeError("no Compose file given")
    return out


def _check_properties(label, doc, unsupported, deprecated, warnings):
    for name, svc in (doc.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        forbidden = sorted(key for key in svc if key in FORBIDDEN_PROPERTIES)
        if forbidden:
            details = "\n\n".join("%s: %s" % (key, FORBIDDEN_PROPERTIES[key]) for key in forbidden)
            raise ComposeError("%s: services.%s: compose file contains unsupported options:\n\n%s"
                               % (label, name, details))
        for key in svc:
            if key in UNSUPPORTED_PROPERTIES:
                unsupported.add(key)
            if key in DEPRECATED_PROPERTIES:
                deprecated.add(key)
        if svc.get("depends_on"):
            warnings.append("%s: services.%s: depends_on is ignored: swarm starts services in no "
                            "particular order" % (label, name))
        if svc.get("tmpfs"):
            warnings.append("%s: services.%s: tmpfs is ignored by docker stack deploy; use a "
                            "volumes entry of type tmpfs" % (label, name))
        networks = svc.get("networks")
        if isinstance(networks, dict):
            for network, cfg in networks.items():
                for key in ("ipv4_address", "ipv6_address"):
                    if isinstance(cfg, dict) and cfg.get(key):
                        warnings.append("%s: services.%s.networks.%s: %s is ignored by swarm"
                                        % (label, name, network, key))


def _property_warnings(unsupported, deprecated):
    out = []
    if unsupported:
        out.append("Ignoring unsupported options: %s" % ", ".join(sorted(unsupported)))
    if deprecated:
        out.append("Ignoring deprecated options:\n\n%s" % "\n\n".join(
            "%s: %s" % (key, DEPRECATED_PROPERTIES[key]) for key in sorted(deprecated)))
    return out


def _load(documents, env, read_file, working_dir, do_interpolate, resolve_env, gate=True, newest=DEFAULT_VERSION,
          cli=None):
    labelled = _labelled(documents)
    warnings = []
    unsupported, deprecated = set(), set()
    prepared = []
    first_version = None
    for label, doc in labelled:
        marker = doc.get(MARKER_KEY) if isinstance(doc.get(MARKER_KEY), dict) else {}
        version = _doc_version(doc, label, newest, cli)
        if first_version is None:
            first_version = version
        elif version != first_version:
            raise ComposeError("%s: version mismatched between two composefiles : %s and %s"
                               % (label, first_version, version))
        warnings.extend(marker.get("warnings") or [])
        doc = dict((key, value) for key, value in doc.items() if key != MARKER_KEY)
        _check_properties(label, doc, unsupported, deprecated, warnings)
        if do_interpolate:
            try:
                doc, found = interpolate(doc, env)
            except ComposeError as exc:
                raise ComposeError("%s: %s" % (label, exc))
            warnings.extend(found)
        ctx = _Ctx(label, version, gate=gate and not marker.get("normalized"), env=env,
                   read_file=read_file, working_dir=working_dir, resolve_env=resolve_env,
                   warnings=warnings)
        doc = _check(doc, _TOP, (), ctx)
        prepared.append(_normalize_document(doc, ctx))
    merged = prepared[0]
    for doc in prepared[1:]:
        merged = _merge_two(merged, doc)
    merged["services"] = dict(sorted(merged["services"].items()))
    merged.pop(MARKER_KEY, None)
    warnings.extend(_property_warnings(unsupported, deprecated))
    merged[MARKER_KEY] = {"normalized": True, "warnings": _unique(warnings)}
    return merged


def merge_documents(documents):
    """Merge parsed Compose files the way ``docker stack deploy -c a -c b`` does.

    ``documents``: a list of dicts, or of ``(filename, dict)`` pairs (the
    filename only names the file in errors). Later files override earlier
    ones: services merge key by key; scalars are replaced when the later value
    is not empty (as docker/cli's mergo merge: ``tty: false`` does not undo an
    earlier ``tty: true``, ``deploy.replicas: 0`` does); environment, labels
    and other maps merge per key; ports merge by published port and protocol
    (unpublished ports by target), volumes by target, secrets and configs by
    source; command and entrypoint are replaced; other lists are appended.
    Top-level networks, volumes, secrets and configs are replaced per name.

    No interpolation, env files or path resolution happen here (see
    load_stack). The result is in long syntax (ports, volumes, environment as
    a mapping...); unsupported-option warnings go to its MARKER_KEY entry.
    """
    return _load(documents, None, None, None, do_interpolate=False, resolve_env=False)


def load_stack(documents, env, read_file, working_dir=None, newest=DEFAULT_VERSION, cli=None):
    """Load Compose files as ``docker stack deploy -c ... -c ...`` does; return one dict.

    Each file is interpolated with ``env`` (a mapping of variables), validated
    against the Compose 3.x schema of its ``version:`` (absent or "3" means
    ``newest``; every file must have the same version, none newer than
    ``newest``: what the docker CLI of the managers reads, see
    newest_version; ``cli`` names it in the message), its env files are read with
    ``read_file`` and resolved into ``environment``, then the files are merged
    (see merge_documents). Unknown keys, wrong types, forbidden options and
    bad values raise ComposeError; options swarm ignores give docker/cli's
    warnings ("Ignoring unsupported options: build").

    ``working_dir``: directory of the first Compose file, to make relative
    bind-mount sources absolute as docker/cli does; without it a relative
    source is an error.

    The result is in long syntax and carries, under MARKER_KEY, the warnings
    so far; convert_stack reports them.
    """
    compose = _load(documents, dict(env or {}), read_file, working_dir,
                    do_interpolate=True, resolve_env=True, newest=newest, cli=cli)
    _check_images(compose)
    return compose


# ---- merge rules (docker/cli loader/merge.go, mergo with override + append)

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


# ---------------------------------------------------------------------------
# Image references (distribution/reference grammar)

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = (r"(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*|\[[a-fA-F0-9:]+\])"
           r"(?::[0-9]+)?")
_NAME = r"(?:" + _DOMAIN + r"/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(r"^(" + _NAME + r")(?::" + _TAG + r")?(?:@" + _DIGEST + r")?$")
_IMAGE_ID_RE = re.compile(r"^[a-f0-9]{64}$")


def _check_image(image, service):
    if not image:
        raise ComposeError("invalid image reference for service %s: no image specified" % service)
    if _IMAGE_ID_RE.match(image):
        return
    match = _REFERENCE_RE.match(image)
    if not match:
        if _REFERENCE_RE.match(image.lower()):
            raise ComposeError("invalid image reference for service %s: repository name must be "
                               "lowercase (%s)" % (service, image))
        raise ComposeError("invalid image reference for service %s: invalid reference format (%s)"
                           % (service, image))
    if len(match.group(1)) > 255:
        raise ComposeError("invalid image reference for service %s: repository name must not be "
                           "more than 255 characters" % service)


def _check_images(compose):
    for name, svc in compose["services"].items():
        _check_image(svc.get("image"), name)


# ---------------------------------------------------------------------------
# Conversion to Engine API objects (docker/cli cli/compose/convert)


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
    if not _is_str(stack_name) or not stack_name.strip(" \t\r\n\"'"):
        raise ComposeError("invalid stack name: %s" % json.dumps(stack_name))


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
