# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strategy options, checked before anything changes: unknown keys, types and bounds.

A schema is {key: (kind, default, check)}; kind is int, float, str, bool, list or
dict; check is None or a function returning an error text or None.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class StrategyError(ValueError):
    """Options a strategy cannot run with; the message names the option."""


_KINDS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}


def at_least(low):
    return lambda value: None if value >= low else "must be at least %s" % low


def between(low, high):
    return lambda value: None if low <= value <= high else "must be between %s and %s" % (low, high)


def check_options(where, schema, given):
    """The options with defaults filled in, or StrategyError naming the first bad one."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise StrategyError("%s: unknown option%s %s (known: %s)" % (
            where, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(schema))))
    out = {}
    for key, (kind, default, check) in schema.items():
        value = given.get(key, default)
        if value is None:
            out[key] = None
            continue
        # bool is an int in Python: never accept True where a number is wanted.
        if not isinstance(value, _KINDS[kind]) or (kind in ("int", "float") and isinstance(value, bool)):
            raise StrategyError("%s.%s: must be a%s %s, not %r" % (
                where, key, "n" if kind == "int" else "", kind, value))
        problem = check(value) if check else None
        if problem:
            raise StrategyError("%s.%s: %s, not %r" % (where, key, problem, value))
        out[key] = value
    return out
