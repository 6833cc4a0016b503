# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the compose package's tests share: YAML in, a read_file callback, the fixtures."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import textwrap

import yaml

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import NAMESPACE_LABEL, convert_stack, load_stack

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "compose")
NS = NAMESPACE_LABEL


def parse(text):
    return yaml.safe_load(textwrap.dedent(text))


def reader(files=None):
    files = dict(files or {})
    calls = []

    def read_file(path):
        calls.append(path)
        if path not in files:
            raise IOError("no such file: %s" % path)
        data = files[path]
        return data.encode("utf-8") if isinstance(data, str) else data

    read_file.calls = calls
    return read_file


def convert(text, stack="app", env=None, files=None, working_dir=None):
    read_file = reader(files)
    compose = load_stack([parse(text)], env or {}, read_file, working_dir=working_dir)
    return convert_stack(stack, compose, read_file)


def plain(value):
    """OrderedDicts -> dicts, bytes -> text, so results compare with JSON."""
    if isinstance(value, dict):
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as handle:
        return handle.read()


def expected_json(*parts):
    data = json.loads(fixture(*parts).decode("utf-8"))
    data.pop("_comment", None)
    return data
