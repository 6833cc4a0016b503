import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import (
    RouteError, parse_service_route, route_order, route_signature, routes_from_services, variant_health,
    variant_maxconn)


def service(name, labels, service_id=None):
    return {"ID": service_id or name + "-id", "Spec": {"Name": name, "Labels": labels}}


def test_defaults_and_normalisation():
    route = parse_service_route("demo_web", {"conductor.swarm.route.port": "8080",
                                             "conductor.swarm.route.host": "Demo.Example.com, www.example.com",
                                             "conductor.swarm.route.path": "/api/"})
    assert route == {"key": "demo_web", "variant": "plain", "service": "demo_web",
                     "hosts": ("demo.example.com", "www.example.com"), "path": "/api", "port": 8080, "health": "/healthz",
                     "hold_ms": 0, "maxconn": None}


def test_unrouted_service():
    assert parse_service_route("db", {"com.docker.stack.namespace": "demo"}) is None
    assert parse_service_route("db", None) is None


@pytest.mark.parametrize("labels, message", [
    ({"conductor.swarm.route.port": "http"}, "service web: label conductor.swarm.route.port='http' must be a port number"),
    ({"conductor.swarm.route.port": "70000"}, "must be a port number (1-65535)"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.path": "api"},
     "service web: label conductor.swarm.route.path='api' must start with '/'"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.path": "/a b"}, "characters a path prefix cannot hold"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.health": "healthz"},
     "label conductor.swarm.route.health='healthz' must start with '/'"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.prefix": "/x"},
     "service web: unknown label conductor.swarm.route.prefix"),
    ({"conductor.swarm.route.host": "a.example"}, "service web: label conductor.swarm.route.port is required"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.host": "a b"}, "has 'a b', not a host name"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.host": " , "}, "label conductor.swarm.route.host is empty"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.variant": "red"},
     "label conductor.swarm.variant='red' must be one of blue, green"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route-key": "a:b"}, "route key 'a:b'"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.hold": "soon"},
     "service web: label conductor.swarm.route.hold='soon' must be a duration such as 15s or 500ms"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.hold": "2m"}, "must be a duration"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.maxconn": "lots"},
     "service web: label conductor.swarm.route.maxconn='lots' must be a number of requests (1-100000)"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.maxconn": "0"}, "must be a number of requests"),
    ({"conductor.swarm.route.port": "80", "conductor.swarm.route.hold": "51s"},
     "label conductor.swarm.route.hold='51s' is over 50s, the longest hold below the proxy's timeouts"),
])
def test_label_errors_name_service_and_label(labels, message):
    with pytest.raises(RouteError) as err:
        parse_service_route("web", labels)
    assert message in str(err.value)


def colour(name, variant, key="demo_web", **extra):
    labels = {"conductor.swarm.route.port": "8080", "conductor.swarm.route-key": key,
              "conductor.swarm.variant": variant}
    labels.update(extra)
    return service(name, labels)


def test_colour_variants_share_one_route():
    routes, errors = routes_from_services([colour("demo_web", "blue"), colour("demo_web-green", "green"),
                                           service("db", {})])
    assert errors == []
    assert list(routes) == ["demo_web"]
    assert routes["demo_web"]["variants"] == {
        "blue": {"service": "demo_web", "service_id": "demo_web-id", "port": 8080, "health": "/healthz", "maxconn": None},
        "green": {"service": "demo_web-green", "service_id": "demo_web-green-id", "port": 8080, "health": "/healthz",
                  "maxconn": None}}


def test_bad_service_is_reported_and_the_others_routed():
    routes, errors = routes_from_services([service("web", {"conductor.swarm.route.port": "x"}),
                                           service("api", {"conductor.swarm.route.port": "9000"})])
    assert list(routes) == ["api"]
    assert len(errors) == 1 and errors[0].startswith("service web: label conductor.swarm.route.port")


def test_variants_disagreeing_on_path_and_duplicate_variant():
    routes, errors = routes_from_services([
        colour("demo_web", "blue"), colour("demo_web-green", "green", **{"conductor.swarm.route.path": "/x"}),
        colour("demo_web-blue2", "blue")])
    assert set(routes["demo_web"]["variants"]) == {"blue"}
    assert "service demo_web-green: route demo_web already has host (any) and path /" in errors[1]
    assert "service demo_web-blue2: route demo_web already has a blue variant (service demo_web)" in errors[0]


def test_signature_ignores_ports_and_a_colour_with_the_same_health_path():
    one, _rest = routes_from_services([colour("demo_web", "blue")])
    green_port = colour("demo_web-green", "green", **{"conductor.swarm.route.port": "9090"})
    two, _rest = routes_from_services([colour("demo_web", "blue"), green_port])
    assert route_signature(one) == route_signature(two)
    green_health = colour("demo_web-green", "green", **{"conductor.swarm.route.health": "/ready"})
    three, _rest = routes_from_services([colour("demo_web", "blue"), green_health])
    assert route_signature(three) != route_signature(one)
    assert variant_health(three["demo_web"], "green") == "/ready"
    assert variant_health(three["demo_web"], "plain") == "/healthz"


def test_route_order_most_specific_first():
    routes, _rest = routes_from_services([
        service("root", {"conductor.swarm.route.port": "1"}),
        service("api", {"conductor.swarm.route.port": "1", "conductor.swarm.route.path": "/api"}),
        service("api_v2", {"conductor.swarm.route.port": "1", "conductor.swarm.route.path": "/api/v2"}),
        service("site", {"conductor.swarm.route.port": "1", "conductor.swarm.route.host": "a.example"})])
    assert route_order(routes) == ["site", "api_v2", "api", "root"]


@pytest.mark.parametrize("text, ms", [("15s", 15000), ("500ms", 500), ("2.5s", 2500), ("20", 20000), ("0", 0),
                                      (" 50s ", 50000)])
def test_hold_durations(text, ms):
    route = parse_service_route("web", {"conductor.swarm.route.port": "80", "conductor.swarm.route.hold": text})
    assert route["hold_ms"] == ms


def test_a_route_holds_as_long_as_its_longest_variant_asks_and_a_hold_changes_the_signature():
    plain, _rest = routes_from_services([colour("demo_web", "blue")])
    held, errors = routes_from_services([colour("demo_web", "blue", **{"conductor.swarm.route.hold": "5s"}),
                                         colour("demo_web-green", "green", **{"conductor.swarm.route.hold": "8s"})])
    assert errors == [] and plain["demo_web"]["hold_ms"] == 0 and held["demo_web"]["hold_ms"] == 8000
    assert route_signature(plain) != route_signature(held)


def test_maxconn_is_per_variant_and_changes_the_signature():
    plain, _rest = routes_from_services([colour("demo_web", "blue")])
    limited, _rest = routes_from_services([colour("demo_web", "blue", **{"conductor.swarm.route.maxconn": "32"})])
    route = limited["demo_web"]
    assert route["variants"]["blue"]["maxconn"] == 32
    # green does not exist yet: its backend takes blue's, so a green appearing needs no reload.
    assert variant_maxconn(route, "blue") == variant_maxconn(route, "green") == 32
    assert variant_maxconn(plain["demo_web"], "blue") is None
    assert route_signature(plain) != route_signature(limited)
