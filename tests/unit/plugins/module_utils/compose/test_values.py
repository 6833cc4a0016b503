# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose/values.py: durations, sizes and CPUs with Go's rules."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import (
    ComposeError,
    parse_cpus,
    parse_duration,
    parse_size,
)
from compose_cases import convert


@pytest.mark.parametrize("text, nanoseconds", [
    ("10s", 10 * 10 ** 9),
    ("1m30s", 90 * 10 ** 9),
    ("500ms", 500 * 10 ** 6),
    ("1h", 3600 * 10 ** 9),
    ("1.5s", 1500 * 10 ** 6),
    ("2h45m", (2 * 3600 + 45 * 60) * 10 ** 9),
    ("100us", 100 * 1000),
    ("10ns", 10),
    ("0", 0),
    ("0s", 0),
    (".5m", 30 * 10 ** 9),
])
def test_parse_duration(text, nanoseconds):
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize("value", ["10", "1x", "", "s", ".s", "1.2.3s", "ten seconds", 10, None])
def test_parse_duration_rejects_bad_values(value):
    with pytest.raises(ComposeError):
        parse_duration(value)


@pytest.mark.parametrize("value, size", [
    ("512M", 512 * 1024 ** 2), ("1g", 1024 ** 3), ("100k", 100 * 1024), (1024, 1024), ("1024", 1024),
    ("1.5GiB", int(1.5 * 1024 ** 3)), ("64mb", 64 * 1024 ** 2), ("10b", 10), ("2 MB", 2 * 1024 ** 2),
])
def test_parse_size(value, size):
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["512Q", "abc", "1gbb", "-1", "1kk", 1.5, -5, True])
def test_parse_size_rejects_bad_values(value):
    with pytest.raises(ComposeError):
        parse_size(value)


@pytest.mark.parametrize("value, nano", [("0.5", 500000000), ("2", 2000000000), (0.25, 250000000),
                                         ("0.000000001", 1), ("1/4", 250000000)])
def test_parse_cpus(value, nano):
    assert parse_cpus(value) == nano


@pytest.mark.parametrize("value", ["half", "0.0000000001", "", None])
def test_parse_cpus_rejects_bad_values(value):
    with pytest.raises(ComposeError):
        parse_cpus(value)


@pytest.mark.parametrize("snippet, where", [
    ("healthcheck: {test: [CMD, 'true'], interval: 10}", "services.web.healthcheck.interval"),
    ("stop_grace_period: 1 minute", "services.web.stop_grace_period"),
    ("deploy: {update_config: {delay: 5x}}", "services.web.deploy.update_config.delay"),
    ("deploy: {resources: {limits: {memory: 512Q}}}", "services.web.deploy.resources.limits.memory"),
    ("deploy: {resources: {reservations: {cpus: lots}}}", "services.web.deploy.resources.reservations.cpus"),
])
def test_bad_durations_and_sizes_in_a_compose_file_name_the_key(snippet, where):
    text = "services:\n  web:\n    image: web\n    %s\n" % snippet
    with pytest.raises(ComposeError) as err:
        convert(text)
    assert where in str(err.value)
