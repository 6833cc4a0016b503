# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scalar values as docker/cli reads and prints them.

Go's formatting of floats and YAML scalars, durations (time.ParseDuration), sizes
(go-units RAMInBytes), CPUs (ParseCPUs), shell words (google/shlex); and the small helpers
the other parts of the package share (type tests, paths in messages, de-duplication).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import math
import re
import struct
from decimal import Decimal
from fractions import Fraction

from ansible_collections.conductor.swarm.plugins.module_utils.compose.errors import ComposeError


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


def _unique(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


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
