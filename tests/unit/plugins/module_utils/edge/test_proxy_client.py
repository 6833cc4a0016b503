"""The deploy side of the proxy: per-colour figures from a recorded status, into the canary gate."""
import json
import os

from ansible_collections.conductor.swarm.plugins.module_utils.edge.proxy_client import merge_metrics, variant_figures
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_state import (
    empty_state,
    parse_state,
    serialise_state,
    with_route,
)
from ansible_collections.conductor.swarm.plugins.module_utils.strategies import gates

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "edge", "status_canary_abort.json")
GATE = gates.check_gate("gate", {"max_error_rate": 0.05, "min_requests": 20})


def status():
    with open(FIXTURE) as f:
        return json.load(f)


def test_the_window_figures_per_colour():
    figures = variant_figures(status(), "zd_web", since=1.0)
    assert figures["blue"] == {"requests": 54, "errors_5xx": 18, "conn_errors": 0, "p99_ms": 1200}
    assert figures["green"]["requests"] == 3075 and figures["green"]["errors_5xx"] == 0
    assert "plain" not in figures


def test_without_a_window_the_figures_since_the_generation_count():
    recorded = status()
    figures = variant_figures(recorded, "zd_web", since=None)
    totals = recorded["metrics"]["backends"]["be_zd_web_blue"]
    assert figures["blue"]["requests"] == totals["requests"]


def test_replicas_add_up_and_keep_the_worst_latency():
    one = variant_figures(status(), "zd_web", since=1.0)
    other = dict(one, blue=dict(one["blue"], p99_ms=1500))
    merged = merge_metrics([one, other])
    assert merged["blue"] == {"requests": 108, "errors_5xx": 36, "conn_errors": 0, "p99_ms": 1500}


def test_the_recorded_canary_fails_its_gate_with_the_figures():
    figures = variant_figures(status(), "zd_web", since=1.0)
    result = gates.evaluate(figures["blue"], figures["green"], GATE)
    assert result["verdict"] == gates.FAIL
    assert "error rate 33.3% over 54 requests (at most 5.0%)" in result["reason"]


def test_a_route_change_moves_the_generation_once():
    state = with_route(empty_state(), "shop_web", 10, "green")
    assert state["generation"] == 1
    assert with_route(state, "shop_web", 10, "green") is state
    assert parse_state(serialise_state(state)) == state
