"""Strategy choice, options, spec shaping and plan warnings: checked before anything changes."""
import copy

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.strategies import blue_green, canary, gates
from ansible_collections.conductor.swarm.plugins.module_utils.variants import target_variant
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import StrategyError
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.registry import (
    STRATEGIES,
    describe,
    plan_strategies,
    warnings,
)

NS = 10 ** 9


def service(healthcheck=True, update=None, ports=None, replicas=3, labels=None, grace=None, command=None,
            init=None):
    container = {"Image": "reg/app:1"}
    if healthcheck:
        container["Healthcheck"] = {"Test": ["CMD", "true"], "Interval": 2 * NS}
    if grace is not None:
        container["StopGracePeriod"] = grace * NS
    if command:
        container["Command"] = command
    if init is not None:
        container["Init"] = init
    spec = {"Name": "shop_web", "Labels": labels or {}, "TaskTemplate": {"ContainerSpec": container},
            "Mode": {"Replicated": {"Replicas": replicas}}, "EndpointSpec": {"Mode": "dnsrr"}}
    if update is not None:
        spec["UpdateConfig"] = update
    if ports:
        spec["EndpointSpec"]["Ports"] = ports
    return spec


def shaped(spec, strategy="rolling", options=None):
    specs, _chosen, _checked, _notes = plan_strategies({"shop_web": spec}, strategy, options or {})
    return specs["shop_web"]


def test_rolling_fills_in_a_zero_downtime_update_where_the_file_is_silent():
    spec = service()
    out = shaped(spec)
    assert out["UpdateConfig"] == {"Parallelism": 1, "Monitor": 5 * NS, "MaxFailureRatio": 0,
                                   "FailureAction": "rollback", "Order": "start-first"}
    assert "UpdateConfig" not in spec  # the input is left alone


def test_rolling_keeps_what_the_file_says():
    update = {"Parallelism": 2, "Order": "stop-first", "FailureAction": "pause", "MaxFailureRatio": 0}
    assert shaped(service(update=dict(update)))["UpdateConfig"] == update


def test_rolling_stays_stop_first_without_a_healthcheck_or_with_a_host_mode_port():
    assert "Order" not in shaped(service(healthcheck=False))["UpdateConfig"]
    host = [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 80, "PublishMode": "host"}]
    assert "Order" not in shaped(service(ports=host))["UpdateConfig"]


def test_recreate_stops_everything_first_in_one_go():
    update = {"Parallelism": 1, "Delay": 2 * NS, "Order": "start-first", "Monitor": 5 * NS, "MaxFailureRatio": 0}
    out = shaped(service(update=update), "recreate")
    assert out["UpdateConfig"] == {"Parallelism": 0, "Order": "stop-first", "Monitor": 5 * NS,
                                   "MaxFailureRatio": 0, "FailureAction": "rollback"}


def test_a_service_label_overrides_the_deploys_strategy():
    specs = {"shop_web": service(labels={"conductor.swarm.strategy": "recreate"}), "shop_api": service()}
    out, chosen, checked, _notes = plan_strategies(specs, "rolling", {"drain_seconds": 3})
    assert chosen == {"shop_api": "rolling", "shop_web": "recreate"}
    assert out["shop_web"]["UpdateConfig"]["Parallelism"] == 0
    assert out["shop_api"]["UpdateConfig"]["Order"] == "start-first"
    assert checked["rolling"]["drain_seconds"] == 3 and checked["recreate"]["drain_seconds"] == 2
    plan = describe(chosen, checked)
    assert plan["recreate"]["services"] == ["shop_web"] and plan["rolling"]["services"] == ["shop_api"]


@pytest.mark.parametrize("strategy, options, message", [
    ("rolling", {"drain": 2}, "strategy_options.rolling: unknown option drain (known: drain_seconds)"),
    ("rolling", {"drain_seconds": "2"}, "strategy_options.rolling.drain_seconds: must be an int, not '2'"),
    ("rolling", {"drain_seconds": True}, "must be an int, not True"),
    ("recreate", {"drain_seconds": -1}, "strategy_options.recreate.drain_seconds: must be at least 0, not -1"),
    ("blue-green", {}, "strategy blue-green moves traffic through the edge proxy, but no service of the stack has a "
                       "route (conductor.swarm.route.* labels, docs/edge-proxy.md)"),
    ("canary", {}, "strategy canary moves traffic through the edge proxy"),
    ("rainbow", {}, "strategy 'rainbow' is unknown (known: blue-green, canary, recreate, rolling)"),
])
def test_bad_strategies_and_options_are_refused(strategy, options, message):
    with pytest.raises(StrategyError) as err:
        plan_strategies({"shop_web": service()}, strategy, options)
    assert message in str(err.value)


def test_an_unknown_strategy_label_names_the_service():
    with pytest.raises(StrategyError, match="shop_web: strategy 'fast' is unknown"):
        plan_strategies({"shop_web": service(labels={"conductor.swarm.strategy": "fast"})}, "rolling", {})


def plan_warnings(spec, strategy="rolling"):
    specs, chosen, checked, _notes = plan_strategies({"shop_web": spec}, strategy, {})
    return warnings(specs, chosen, checked, ["shop_web"])


def test_a_good_plan_has_no_warnings():
    assert plan_warnings(service(grace=10)) == []


@pytest.mark.parametrize("spec, fragment", [
    (service(healthcheck=False, update={"Parallelism": 1, "Order": "start-first"}), "start-first without a healthcheck"),
    (service(update={"Parallelism": 1, "Order": "start-first"},
             ports=[{"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]),
     "start-first with a host-mode published port"),
    (service(replicas=1, healthcheck=False), "a single replica updated stop-first"),
    (service(grace=1), "stop_grace_period 1.0s is shorter than the 2s drain"),
    (service(command=["/bin/sh", "-c", "httpd -f"]), "a shell runs the command as PID 1 without init"),
])
def test_plans_that_cannot_be_zero_downtime_are_warned_about(spec, fragment):
    found = plan_warnings(spec)
    assert len(found) == 1 and found[0].startswith("shop_web: ") and fragment in found[0], found


def test_a_shell_with_init_is_not_warned_about():
    assert plan_warnings(service(command=["/bin/sh", "-c", "httpd -f"], init=True)) == []


def test_a_shell_that_ends_by_exec_ing_its_program_is_not_warned_about():
    # As the edge proxy's entrypoint does: wait for a file, then exec haproxy, which becomes PID 1.
    waits = "while [ ! -s /run/x.cfg ]; do sleep 0.2; done; exec haproxy -W -db -f /run/x.cfg"
    assert plan_warnings(service(command=["/bin/sh", "-c", waits])) == []
    assert plan_warnings(service(command=["/bin/sh", "-c", "exec httpd -f; "])) == []
    # The last command is no exec (`exec 2>&1` only redirects): the shell stays PID 1.
    found = plan_warnings(service(command=["/bin/sh", "-c", "exec 2>&1 && httpd -f"]))
    assert len(found) == 1 and "a shell runs the command as PID 1" in found[0], found


def test_every_strategy_says_what_it_does():
    for strategy in STRATEGIES.values():
        lines = strategy.describe(strategy.validate({}))
        assert lines and all(isinstance(line, str) and line for line in lines), strategy.name


# --- canary steps ----------------------------------------------------------------

def test_canary_defaults_step_up_to_100():
    options = STRATEGIES["canary"].validate({})
    assert [s["weight"] for s in options["steps"]] == [10, 50, 100]
    assert options["gate"]["max_error_rate"] == 0.01


def test_a_last_step_below_100_is_followed_by_the_promotion():
    options = STRATEGIES["canary"].validate({"steps": [{"weight": 5, "pause": 10}, {"weight": 25}]})
    assert options["steps"] == [{"weight": 5, "pause": 10}, {"weight": 25, "pause": 0}, {"weight": 100, "pause": 0}]


@pytest.mark.parametrize("steps, message", [
    ([], "at least one step is needed"),
    ([{"weight": 50}, {"weight": 10}], "steps[1].weight: steps must increase, but 10 follows 50"),
    ([{"weight": 50}, {"weight": 50}], "steps must increase, but 50 follows 50"),
    ([{"weight": 150}], "steps[0].weight: must be a whole percentage from 1 to 100, not 150"),
    ([{"weight": 0}], "must be a whole percentage from 1 to 100, not 0"),
    ([{"weight": 10.5}], "not 10.5"),
    ([{"weight": 10, "wait": 5}], "steps[0]: unknown key wait (known: weight, pause)"),
    ([{"weight": 10, "pause": -1}], "steps[0].pause: must be a number of seconds, 0 or more"),
    (["10"], "steps[0]: must be a mapping with weight and pause"),
])
def test_bad_canary_steps_are_refused(steps, message):
    with pytest.raises(StrategyError) as err:
        STRATEGIES["canary"].validate({"steps": steps})
    assert message in str(err.value)


def test_unknown_gate_keys_are_refused():
    with pytest.raises(StrategyError, match=r"strategy_options.canary.gate: unknown option max_errors"):
        STRATEGIES["canary"].validate({"gate": {"max_errors": 1}})


STEPS = [{"weight": 10, "pause": 30}, {"weight": 100, "pause": 0}]
PASSING = {"verdict": gates.PASS}


@pytest.mark.parametrize("index, started, now, gate, expected", [
    (-1, None, 0, None, (canary.SET_WEIGHT, 0)),
    (0, 100, 110, PASSING, (canary.WAIT, 0)),
    (0, 100, 131, PASSING, (canary.SET_WEIGHT, 1)),
    (0, 100, 131, {"verdict": gates.WAIT}, (canary.WAIT, 0)),
    (0, 100, 101, {"verdict": gates.FAIL}, (canary.ABORT, 0)),
    (1, 131, 131, PASSING, (canary.PROMOTE, 1)),
])
def test_canary_next_action(index, started, now, gate, expected):
    assert canary.next_action(STEPS, index, started, now, gate) == expected


# --- gates -----------------------------------------------------------------------

GATE = gates.check_gate("gate", {"max_error_rate": 0.05, "min_requests": 20, "max_p99_ms": 800,
                                 "max_p99_ratio": 2.0, "max_error_rate_increase": 0.02})


def figures(requests, errors=0, conn=0, p99=100.0):
    return {"requests": requests, "errors_5xx": errors, "conn_errors": conn, "p99_ms": p99}


def test_a_healthy_canary_passes():
    result = gates.evaluate(figures(100, errors=1), figures(900, errors=9), GATE)
    assert result["verdict"] == gates.PASS
    assert result["figures"]["canary_error_rate"] == 0.01


def test_an_error_rate_over_the_threshold_fails_with_the_figures():
    result = gates.evaluate(figures(40, errors=12), figures(400), GATE)
    assert result["verdict"] == gates.FAIL
    assert "error rate 30.0% over 40 requests (at most 5.0%)" in result["reason"]
    assert "against 0.0% for the stable version" in result["reason"]
    assert result["figures"]["canary_requests"] == 40


def test_connection_errors_fail_before_enough_requests():
    result = gates.evaluate(figures(3, conn=1), figures(30), GATE)
    assert result["verdict"] == gates.FAIL and "1 connection errors (at most 0)" in result["reason"]


def test_too_few_requests_wait_then_pass_at_the_end_of_the_pause():
    assert gates.evaluate(figures(5, errors=5), figures(50), GATE)["verdict"] == gates.WAIT
    final = gates.evaluate(figures(5), figures(50), GATE, final=True)
    assert final["verdict"] == gates.PASS and "only 5 requests" in final["reason"]


def test_latency_is_judged_alone_and_against_stable():
    slow = gates.evaluate(figures(100, p99=900.0), figures(100, p99=100.0), GATE)
    assert slow["verdict"] == gates.FAIL
    assert "p99 900 ms (at most 800 ms)" in slow["reason"] and "at most 2.00x" in slow["reason"]
    ratio_only = gates.evaluate(figures(100, p99=300.0), figures(100, p99=100.0), GATE)
    assert ratio_only["verdict"] == gates.FAIL and "p99 300 ms against 100 ms" in ratio_only["reason"]


# --- blue/green ------------------------------------------------------------------

def test_blue_goes_first_then_colours_alternate():
    assert target_variant(None) == "blue" and target_variant("plain") == "blue"
    assert target_variant("blue") == "green" and target_variant("green") == "blue"
    with pytest.raises(ValueError):
        target_variant("red")


def test_smoke_check_status_and_body():
    smoke = STRATEGIES["blue-green"].validate({"smoke": {"path": "/healthz", "body": "ok"}})["smoke"]
    assert blue_green.smoke_passed(smoke, 200, "ok\n") == (True, "answered 200")
    assert blue_green.smoke_passed(smoke, 503, "draining") == (False, "answered 503, expected 200")
    assert blue_green.smoke_passed(smoke, 200, "nope") == (False, "the body does not contain 'ok'")


@pytest.mark.parametrize("options, message", [
    ({"smoke": {"path": "healthz"}}, "smoke.path: must start with /"),
    ({"smoke": {"status": 700}}, "smoke.status: must be between 100 and 599, not 700"),
    ({"smoke": {"url": "/"}}, "smoke: unknown option url"),
    ({"keep_old_seconds": -5}, "keep_old_seconds: must be at least 0"),
])
def test_bad_blue_green_options_are_refused(options, message):
    with pytest.raises(StrategyError) as err:
        STRATEGIES["blue-green"].validate(options)
    assert message in str(err.value)


def test_options_are_not_shared_between_calls():
    first = STRATEGIES["canary"].validate({})
    first["steps"].append({"weight": 1})
    assert len(STRATEGIES["canary"].validate({})["steps"]) == 3
    assert copy.deepcopy(canary.DEFAULT_STEPS)[0]["weight"] == 10


ROUTE = {"conductor.swarm.route.host": "shop.example.com", "conductor.swarm.route.port": "8080"}


def test_under_a_colour_strategy_unrouted_services_roll_in_place_and_say_so():
    specs = {"shop_web": service(labels=dict(ROUTE)), "shop_worker": service()}
    out, chosen, _checked, notes = plan_strategies(specs, "blue-green", {})
    assert chosen == {"shop_web": "blue-green", "shop_worker": "rolling"}
    assert notes == ["shop_worker: no route on the edge proxy (conductor.swarm.route.* labels), so it rolls out in "
                     "place (rolling) instead of blue-green"]
    assert out["shop_worker"]["UpdateConfig"]["Order"] == "start-first"
