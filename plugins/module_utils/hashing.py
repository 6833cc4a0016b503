# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one stable hash of the collection: ``spec_hash(obj)``.

It names content (``conductor.swarm.content-hash`` of a driver-backed secret) and, over a
spec without the collection's own labels, fills ``conductor.swarm.spec-hash`` (stack_diff).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json


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
