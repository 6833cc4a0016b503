# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""hashing.py: the collection's one stable hash."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.hashing import spec_hash


def test_spec_hash_is_stable_and_sensitive():
    first = spec_hash({"b": [1, 2], "a": {"y": 1, "x": 2}})
    assert first == spec_hash({"a": {"x": 2, "y": 1}, "b": [1, 2]})
    assert first != spec_hash({"a": {"x": 2, "y": 1}, "b": [2, 1]})
    assert len(first) == 64 and int(first, 16) >= 0
