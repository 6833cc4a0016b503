# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a colour release hands its strategy: the ports, the clock, and how to report.

A strategy's release moves traffic through `proxy`, scales colours through
`cluster`, and returns release_result(...).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ReleaseContext(object):
    def __init__(self, cluster, proxy, say, clock, poll_interval):
        self.cluster = cluster
        self.proxy = proxy
        self.say = say
        self.clock = clock
        self.poll_interval = poll_interval


def green_share(colour, weight):
    """The proxy's green percentage that gives `colour` `weight` percent of the requests."""
    return weight if colour == "green" else 100 - weight


def release_result(ok, serving, reason, **figures):
    return dict({"ok": ok, "serving": serving, "reason": reason}, **figures)
