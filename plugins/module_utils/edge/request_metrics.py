# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-backend request figures for canary gates, from HAProxy's request log.

Pure logic: standard library only. HAProxy logs one line per request with
``LOG_FORMAT`` into a ring that forwards it to the agent over TCP; each line
(raw, or behind a syslog header) is parsed by ``parse_log_line`` and counted
per backend.

What counts as what (``classify``):

* ``status``: the HTTP status sent to the client; ``-1`` when none was.
* ``conn_errors``: the proxy could not get an answer from a server: no
  status, a failure while connecting or queueing (termination state ``?C`` or
  ``?Q``), or a 502/503/504 that HAProxy produced itself (termination state
  not ``-``). A client that went away (``C?``/``c?``) is a ``client_abort``,
  never an error of the backend.
* latency: ``%Ta``, the active time of the request in ms (``%Tt`` would
  include the idle time before a keep-alive request), into ``LatencyHistogram``; percentiles are the upper bound
  of the bucket holding that rank, so they never understate.

Public API: ``LOG_FORMAT``, ``parse_log_line(data)``, ``classify(record)``,
``LatencyHistogram``, ``BackendCounters``, ``MetricsStore`` (per-second buckets
for ``since`` windows).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect

LOG_MARKER = "CEv1"
# backend, server, status, termination state, active, response, connect and total times (ms)
LOG_FORMAT = LOG_MARKER + " %b %s %ST %ts %Ta %Tr %Tc %Tt"

BUCKET_BOUNDS_MS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250,
                    300, 400, 500, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000,
                    10000, 15000, 20000, 30000, 60000)


def _int(text):
    try:
        return int(text)
    except ValueError:
        return -1


def parse_log_line(data):
    """One log line -> ``{"backend", "server", "status", "term", "ta", "tr", "tc", "tt"}`` or None
    (``tt`` is -1 in lines of the first format, which ended at ``%Tc``)."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    at = data.find(LOG_MARKER + " ")
    if at < 0:
        return None
    fields = data[at:].split()
    if len(fields) < 8:
        return None
    return {"backend": fields[1], "server": fields[2], "status": _int(fields[3]), "term": fields[4],
            "ta": _int(fields[5]), "tr": _int(fields[6]), "tc": _int(fields[7]),
            "tt": _int(fields[8]) if len(fields) > 8 else -1}


def classify(record):
    """-> ``(kind, conn_error, client_abort)``; kind is '1xx'..'5xx' or 'none'."""
    status = record["status"]
    term = (record["term"] + "--")[:2]
    client_abort = term[0] in "Cc"
    haproxy_made = term[0] != "-"
    conn_error = not client_abort and (status < 0 or term[1] in "CQ" or (status in (502, 503, 504) and haproxy_made))
    kind = "%dxx" % (status // 100) if 100 <= status <= 599 else "none"
    return kind, conn_error, client_abort


class LatencyHistogram:
    """Counts per latency bucket (ms); the last bucket is everything above the bounds."""

    def __init__(self, counts=None):
        self.counts = list(counts) if counts else [0] * (len(BUCKET_BOUNDS_MS) + 1)

    def add(self, ms):
        self.counts[bisect.bisect_left(BUCKET_BOUNDS_MS, max(ms, 0))] += 1

    def merge(self, other):
        self.counts = [a + b for a, b in zip(self.counts, other.counts)]

    def total(self):
        return sum(self.counts)

    def percentile(self, q):
        """Upper bound (ms) of the bucket holding the q-th percentile (nearest rank); None when empty.
        Above the largest bound: that bound (reported as a lower bound then)."""
        total = self.total()
        if not total:
            return None
        rank = max(1, -(-total * q // 100))  # ceil without floats
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return BUCKET_BOUNDS_MS[min(index, len(BUCKET_BOUNDS_MS) - 1)]
        return BUCKET_BOUNDS_MS[-1]


class BackendCounters:
    """Requests of one backend."""

    KINDS = ("1xx", "2xx", "3xx", "4xx", "5xx", "none")

    def __init__(self):
        self.requests = 0
        self.by_kind = dict((k, 0) for k in self.KINDS)
        self.conn_errors = 0
        self.client_aborts = 0
        self.latency = LatencyHistogram()

    def add(self, record):
        kind, conn_error, client_abort = classify(record)
        self.requests += 1
        self.by_kind[kind] += 1
        self.conn_errors += int(conn_error)
        self.client_aborts += int(client_abort)
        if record["ta"] >= 0:
            self.latency.add(record["ta"])

    def merge(self, other):
        self.requests += other.requests
        for kind in self.KINDS:
            self.by_kind[kind] += other.by_kind[kind]
        self.conn_errors += other.conn_errors
        self.client_aborts += other.client_aborts
        self.latency.merge(other.latency)

    def as_dict(self):
        out = {"requests": self.requests, "conn_errors": self.conn_errors, "client_aborts": self.client_aborts}
        for kind in self.KINDS:
            out["status_" + kind] = self.by_kind[kind]
        out["error_rate_5xx"] = round(float(self.by_kind["5xx"]) / self.requests, 6) if self.requests else 0.0
        out["latency_ms"] = {"p50": self.latency.percentile(50), "p90": self.latency.percentile(90),
                             "p99": self.latency.percentile(99)}
        return out


class MetricsStore:
    """Per-backend counters in time buckets, kept for ``keep_seconds``."""

    def __init__(self, bucket_seconds=1.0, keep_seconds=900.0):
        self.bucket_seconds = float(bucket_seconds)
        self.keep_seconds = float(keep_seconds)
        self.buckets = {}

    def record(self, record, now):
        index = int(now // self.bucket_seconds)
        bucket = self.buckets.setdefault(index, {})
        bucket.setdefault(record["backend"], BackendCounters()).add(record)
        if len(self.buckets) > 2 and index % 16 == 0:
            self.expire(now)

    def expire(self, now):
        oldest = int((now - self.keep_seconds) // self.bucket_seconds)
        for index in [i for i in self.buckets if i < oldest]:
            del self.buckets[index]

    def since(self, start):
        """Counters per backend of the buckets that begin at or after the bucket holding ``start``."""
        first = int(start // self.bucket_seconds)
        totals = {}
        for index in sorted(i for i in self.buckets if i >= first):
            for backend, counters in self.buckets[index].items():
                totals.setdefault(backend, BackendCounters()).merge(counters)
        return totals
