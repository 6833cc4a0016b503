"""Blue-green and canary releases driven with a scripted proxy and a clock that moves when slept."""
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.release import ReleaseContext, green_share
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.registry import STRATEGIES
from fake_clock import FakeClock


class ScriptedProxy(object):
    """figures(now, since) -> {variant: figures}; probes answer from a list, the last one again."""

    def __init__(self, clock, figures=None, probes=((200, "ok"),)):
        self.clock = clock
        self.figures = figures or (lambda now, since: {})
        self.probes = list(probes)
        self.routes = []

    def route(self, route, green, preview=None):
        self.routes.append((self.clock.now, green, preview))
        return {"generation": len(self.routes), "applied_ms": 40}

    def metrics(self, route, since):
        return self.figures(self.clock.now, since)

    def probe(self, route, path, variant, timeout):
        return self.probes.pop(0) if len(self.probes) > 1 else self.probes[0]


class Cluster(object):
    def __init__(self):
        self.scaled = []

    def scale(self, service, replicas):
        self.scaled.append((service, replicas))
        return {"changed": True}


PLAN = {"route": "shop_web", "live": "blue", "target": "green", "service": "shop_web-green",
        "live_service": "shop_web-blue", "unchanged": False}


def release(strategy, options, proxy=None, figures=None, probes=((200, "ok"),), plan=None):
    clock = FakeClock()
    proxy = ScriptedProxy(clock, figures, probes)
    cluster, said = Cluster(), []
    ctx = ReleaseContext(cluster, proxy, said.append, clock, 1)
    checked = STRATEGIES[strategy].validate(options)
    result = STRATEGIES[strategy].release(ctx, plan or PLAN, checked)
    return result, proxy, cluster, said, clock


def healthy(now, since):
    served = int(now - since) * 30
    return {"green": {"requests": served, "errors_5xx": 0, "conn_errors": 0, "p99_ms": 20.0},
            "blue": {"requests": served, "errors_5xx": 0, "conn_errors": 0, "p99_ms": 20.0}}


def test_green_share_is_the_proxys_view():
    assert green_share("green", 10) == 10 and green_share("blue", 10) == 90


def test_blue_green_previews_switches_watches_and_scales_the_old_colour_down():
    result, proxy, cluster, said, clock = release("blue-green", {"post_switch_seconds": 5, "keep_old_seconds": 7},
                                                  figures=healthy)
    assert result["ok"] is True and result["serving"] == "green"
    # preview first (traffic still all blue), then everything to green at once
    assert [(g, p) for _t, g, p in proxy.routes] == [(0, "green"), (100, None)]
    assert cluster.scaled == [("shop_web-blue", 0)]
    assert clock.now >= 12
    assert any("switched all traffic from blue to green" in line for line in said)


def test_a_failed_smoke_check_leaves_traffic_alone_and_scales_the_new_colour_down():
    result, proxy, cluster, _said, _clock = release("blue-green", {"smoke": {"attempts": 2}},
                                                    probes=[(503, "draining"), (503, "draining")])
    assert result["ok"] is False and result["serving"] == "blue"
    assert "answered 503, expected 200 (2 attempts)" in result["reason"]
    assert [g for _t, g, _p in proxy.routes] == [0, 0]  # never moved off blue
    assert cluster.scaled == [("shop_web-green", 0)]


def test_a_smoke_check_that_passes_on_a_later_attempt_goes_on():
    result, _proxy, _cluster, _said, _clock = release("blue-green", {"post_switch_seconds": 0, "keep_old_seconds": 0},
                                                      probes=[(None, "connection refused"), (200, "ok")])
    assert result["ok"] is True


def test_errors_after_the_switch_switch_back():
    def failing(now, since):
        served = int(now - since) * 30
        return {"green": {"requests": served, "errors_5xx": served // 2, "conn_errors": 0, "p99_ms": 20.0},
                "blue": {"requests": 0}}
    result, proxy, cluster, said, clock = release("blue-green", {"post_switch_seconds": 30}, figures=failing)
    assert result["ok"] is False and result["serving"] == "blue"
    assert [g for _t, g, _p in proxy.routes] == [0, 100, 0]
    assert "error rate 50.0%" in result["reason"]
    assert cluster.scaled == [("shop_web-green", 0)]
    assert clock.now < 5  # switched back at the first look with enough requests, not after the window


def test_the_first_blue_green_release_just_routes_to_the_new_colour():
    plan = dict(PLAN, live=None, live_service=None, target="blue", service="shop_web-blue")
    result, proxy, cluster, _said, _clock = release("blue-green", {}, plan=plan)
    assert result["ok"] is True and result["serving"] == "blue"
    # blue at 0 % (green 100: nothing there yet) while previewed, then blue at 100 % (green 0)
    assert [(g, p) for _t, g, p in proxy.routes] == [(100, "blue"), (0, None)]
    assert cluster.scaled == []


def test_canary_steps_up_and_promotes():
    steps = [{"weight": 10, "pause": 5}, {"weight": 50, "pause": 5}]
    result, proxy, cluster, _said, clock = release("canary", {"steps": steps}, figures=healthy)
    assert result["ok"] is True and result["serving"] == "green"
    assert [g for _t, g, _p in proxy.routes] == [10, 50, 100]
    assert cluster.scaled == [("shop_web-blue", 0)]
    times = [t for t, _g, _p in proxy.routes]
    assert times[1] - times[0] >= 5 and times[2] - times[1] >= 5


def test_a_canary_serving_errors_is_aborted_at_once_with_the_figures():
    def errors(now, since):
        served = int(now - since) * 30
        return {"blue": {"requests": served, "errors_5xx": served // 5, "conn_errors": 0, "p99_ms": 20.0},
                "green": {"requests": served * 9, "errors_5xx": 0, "conn_errors": 0, "p99_ms": 20.0}}
    plan = dict(PLAN, live="green", target="blue", service="shop_web-blue", live_service="shop_web-green")
    result, proxy, cluster, _said, _clock = release("canary", {"steps": [{"weight": 10, "pause": 60}]},
                                                    figures=errors, plan=plan)
    assert result["ok"] is False and result["serving"] == "green"
    # blue is the canary here: 10 % to blue is green at 90; aborted back to green 100
    assert [g for _t, g, _p in proxy.routes] == [90, 100]
    assert result["abort_s"] <= 2
    assert result["figures"]["canary_error_rate"] == 0.2
    assert "canary aborted at 10%" in result["reason"] and "error rate 20.0%" in result["reason"]
    assert cluster.scaled == [("shop_web-blue", 0)]


def test_the_old_colour_can_stay_up_for_an_instant_switch_back():
    result, _proxy, cluster, _said, _clock = release("blue-green", {"post_switch_seconds": 2, "scale_down_old": False},
                                                     figures=healthy)
    assert result["ok"] is True and "blue stays up until the next deploy" in result["reason"]
    assert cluster.scaled == []
