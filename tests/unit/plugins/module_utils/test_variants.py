"""Which colour a blue-green or canary release goes to, from the live services and the proxy's state."""
from ansible_collections.conductor.swarm.plugins.module_utils import variants as v
from ansible_collections.conductor.swarm.plugins.module_utils.stack_diff import service_hash, with_own_labels

SPEC = {"Name": "shop_web", "Labels": {"com.docker.stack.namespace": "shop"},
        "TaskTemplate": {"ContainerSpec": {"Image": "reg/app:2"}}, "Mode": {"Replicated": {"Replicas": 3}}}


def live_service(route, variant, image="reg/app:1", replicas=3):
    spec = v.as_variant(dict(SPEC, TaskTemplate={"ContainerSpec": {"Image": image}},
                             Mode={"Replicated": {"Replicas": replicas}}), route, variant)
    return {"Spec": with_own_labels(spec)}


def live(*services):
    return dict((s["Spec"]["Name"], s) for s in services)


def test_a_variant_is_named_and_labelled_after_its_route():
    spec = v.as_variant(SPEC, "shop_web", v.GREEN)
    assert spec["Name"] == "shop_web-green"
    assert spec["Labels"][v.ROUTE_KEY_LABEL] == "shop_web" and spec["Labels"][v.VARIANT_LABEL] == "green"
    assert SPEC["Name"] == "shop_web" and v.ROUTE_KEY_LABEL not in SPEC["Labels"]
    assert v.variant_name("shop_web", v.PLAIN) == "shop_web"


def test_the_first_colour_release_goes_to_blue():
    plan = v.plan_colour("shop_web", SPEC, {}, None, service_hash)
    assert (plan["live"], plan["target"], plan["unchanged"], plan["keep"]) == (None, "blue", False, [])


def test_a_service_that_rolled_in_place_hands_over_to_blue():
    plain = {"Spec": with_own_labels(dict(SPEC, TaskTemplate={"ContainerSpec": {"Image": "reg/app:1"}}))}
    plan = v.plan_colour("shop_web", SPEC, live(plain), None, service_hash)
    assert (plan["live"], plan["target"], plan["keep"]) == ("plain", "blue", ["shop_web"])


def test_the_proxy_state_decides_which_colour_is_live():
    services = live(live_service("shop_web", "blue"), live_service("shop_web", "green", replicas=0))
    assert v.plan_colour("shop_web", SPEC, services, {"green": 0}, service_hash)["target"] == "green"
    services = live(live_service("shop_web", "blue", replicas=0), live_service("shop_web", "green"))
    plan = v.plan_colour("shop_web", SPEC, services, {"green": 100}, service_hash)
    assert (plan["live"], plan["target"], plan["keep"]) == ("green", "blue", ["shop_web-blue", "shop_web-green"])


def test_without_proxy_state_the_running_colour_is_live():
    services = live(live_service("shop_web", "blue", replicas=0), live_service("shop_web", "green"))
    assert v.plan_colour("shop_web", SPEC, services, None, service_hash)["live"] == "green"


def test_an_unchanged_release_switches_nothing():
    services = live(live_service("shop_web", "green", image="reg/app:2"), live_service("shop_web", "blue", replicas=0))
    plan = v.plan_colour("shop_web", SPEC, services, {"green": 100}, service_hash)
    assert (plan["live"], plan["target"], plan["unchanged"]) == ("green", None, True)


def test_a_changed_release_goes_to_the_idle_colour_even_when_the_idle_one_has_that_spec():
    # blue scaled down still carries 2's spec; green serves 1: 2 goes to blue, which is then scaled up
    services = live(live_service("shop_web", "green"), live_service("shop_web", "blue", image="reg/app:2", replicas=0))
    plan = v.plan_colour("shop_web", SPEC, services, {"green": 100}, service_hash)
    assert (plan["live"], plan["target"], plan["unchanged"]) == ("green", "blue", False)


def test_a_variant_that_takes_no_traffic_before_or_after_is_listed_for_scaling_down():
    plain = {"Spec": with_own_labels(dict(SPEC, TaskTemplate={"ContainerSpec": {"Image": "reg/app:0"}}))}
    services = live(plain, live_service("shop_web", "blue"))
    plan = v.plan_colour("shop_web", SPEC, services, {"green": 0}, service_hash)
    assert (plan["live"], plan["target"], plan["others"]) == ("blue", "green", ["shop_web"])


def test_a_service_runs_as_colours_only_while_a_colour_serves():
    assert v.has_colours("shop_web", live(live_service("shop_web", "green"))) is True
    assert v.has_colours("shop_web", live(live_service("shop_web", "green", replicas=0))) is False
    plain = {"Spec": with_own_labels(SPEC)}
    assert v.has_colours("shop_web", live(plain)) is False
