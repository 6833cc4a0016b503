# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a colour release needs from the edge proxy, as one small interface.

The action plugin implements it with the collection's edge modules on a
manager; unit tests with recorded proxy figures.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ProxyError(Exception):
    """The proxy did not take or report a routing change."""


class Proxy(object):
    def route(self, route, green, preview=None):
        """Send `green` percent of the route's requests to green (the rest to blue), preview to a colour.

        Returns once every proxy replica applies it: {"generation": n, "applied_ms": ms}.
        """
        raise NotImplementedError

    def metrics(self, route, since):
        """{variant: {"requests", "errors_5xx", "conn_errors", "p99_ms"}} for requests since `since`."""
        raise NotImplementedError

    def probe(self, route, path, variant, timeout):
        """One request through the proxy's preview route to `variant`: (status or None, body or error text)."""
        raise NotImplementedError
