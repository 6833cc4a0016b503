# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary gate: what the proxy measured for the new version, against the stable one.

Figures per variant, as the edge proxy reports them for one window:
{"requests": n, "errors_5xx": n, "conn_errors": n, "p99_ms": float or None}.
Thresholds are the user's (GATE_SCHEMA); the gate passes, fails with the
figures that failed it, or waits for enough requests to judge.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import at_least, between, check_options

PASS = "pass"
FAIL = "fail"
WAIT = "wait"

GATE_SCHEMA = {
    # Share of the canary's requests answered 5xx, at most.
    "max_error_rate": ("float", 0.01, between(0, 1)),
    # How much the canary's error rate may exceed the stable one's (None: not compared).
    "max_error_rate_increase": ("float", None, between(0, 1)),
    # Connection errors to canary servers, at most.
    "max_conn_errors": ("int", 0, at_least(0)),
    # p99 latency of the canary, at most (None: not checked).
    "max_p99_ms": ("float", None, at_least(0)),
    # The canary's p99 over the stable one's, at most (None: not compared).
    "max_p99_ratio": ("float", None, at_least(1)),
    # Requests the canary must have served before rates are judged.
    "min_requests": ("int", 20, at_least(1)),
}


def check_gate(where, given):
    return check_options(where, GATE_SCHEMA, given)


def _rate(figures):
    requests = figures.get("requests") or 0
    return (figures.get("errors_5xx") or 0) / float(requests) if requests else 0.0


def evaluate(canary, stable, gate, final=False):
    """{"verdict": pass|fail|wait, "reason": text, "figures": {...}} for one look at the figures.

    Connection errors fail at once, whatever the count of requests; rates are
    judged from min_requests on. `final` is the end of the step's pause: a gate
    still short of requests then passes, and says with how few.
    """
    stable = stable or {}
    rate, stable_rate = _rate(canary), _rate(stable)
    figures = {"canary_requests": canary.get("requests") or 0, "canary_error_rate": round(rate, 4),
               "canary_conn_errors": canary.get("conn_errors") or 0, "canary_p99_ms": canary.get("p99_ms"),
               "stable_requests": stable.get("requests") or 0, "stable_error_rate": round(stable_rate, 4),
               "stable_p99_ms": stable.get("p99_ms")}
    failed = []
    if figures["canary_conn_errors"] > gate["max_conn_errors"]:
        failed.append("%d connection errors (at most %d)" % (figures["canary_conn_errors"], gate["max_conn_errors"]))
    enough = figures["canary_requests"] >= gate["min_requests"]
    if enough:
        if rate > gate["max_error_rate"]:
            failed.append("error rate %.1f%% over %d requests (at most %.1f%%)" % (
                100 * rate, figures["canary_requests"], 100 * gate["max_error_rate"]))
        increase = gate.get("max_error_rate_increase")
        if increase is not None and stable.get("requests") and rate - stable_rate > increase:
            failed.append("error rate %.1f%% against %.1f%% for the stable version (at most %.1f points more)" % (
                100 * rate, 100 * stable_rate, 100 * increase))
        p99 = canary.get("p99_ms")
        if gate.get("max_p99_ms") is not None and p99 is not None and p99 > gate["max_p99_ms"]:
            failed.append("p99 %.0f ms (at most %.0f ms)" % (p99, gate["max_p99_ms"]))
        ratio = gate.get("max_p99_ratio")
        if ratio is not None and p99 is not None and stable.get("p99_ms"):
            if p99 > ratio * stable["p99_ms"]:
                failed.append("p99 %.0f ms against %.0f ms for the stable version (at most %.2fx)" % (
                    p99, stable["p99_ms"], ratio))
    if failed:
        return {"verdict": FAIL, "reason": "canary gate failed: " + "; ".join(failed), "figures": figures}
    if not enough:
        if final:
            return {"verdict": PASS, "figures": figures,
                    "reason": "passed with only %d requests (min_requests %d): no errors seen" % (
                        figures["canary_requests"], gate["min_requests"])}
        needed = "%d of %d requests needed" % (figures["canary_requests"], gate["min_requests"])
        return {"verdict": WAIT, "reason": needed, "figures": figures}
    return {"verdict": PASS, "figures": figures,
            "reason": "error rate %.1f%% over %d requests, %d connection errors" % (
                100 * rate, figures["canary_requests"], figures["canary_conn_errors"])}
