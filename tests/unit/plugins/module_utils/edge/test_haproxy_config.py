from ansible_collections.conductor.swarm.plugins.module_utils.edge.haproxy_config import (
    HOLD_LUA, render_acl, render_config, render_split_map, server_address, server_options)
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import routes_from_services


def svc(name, labels):
    return {"ID": name + "-id", "Spec": {"Name": name, "Labels": labels}}


ROUTES, _rest = routes_from_services([
    svc("demo_web", {"conductor.swarm.route.port": "8080", "conductor.swarm.route.host": "demo.local",
                     "conductor.swarm.route-key": "demo_web", "conductor.swarm.variant": "blue"}),
    svc("demo_web-green", {"conductor.swarm.route.port": "8080", "conductor.swarm.route.host": "demo.local",
                           "conductor.swarm.route-key": "demo_web", "conductor.swarm.variant": "green",
                           "conductor.swarm.route.health": "/ready"}),
    svc("demo_api", {"conductor.swarm.route.port": "9000", "conductor.swarm.route.path": "/api"}),
    svc("shop", {"conductor.swarm.route.port": "80", "conductor.swarm.route.host": "shop.local",
                 "conductor.swarm.route.path": "/cart"}),
])
SETTINGS = {"bind": "127.0.0.1:8080", "status_port": 9999, "admin_socket": "/r/admin.sock", "log_port": 7777,
            "split_map": "/r/split.map", "status_acl": "/r/allow.acl"}
SERVERS = {"be_demo_web_blue": [{"name": "t_b", "addr": "10.0.1.3", "port": 8080},
                                {"name": "t_a", "addr": "10.0.1.2", "port": 8080}]}


def lines(text):
    return [line.strip() for line in text.splitlines()]


def backend_block(text, name):
    out = text.split("\nbackend %s\n" % name, 1)[1]
    return lines(out.split("\n\n", 1)[0])


def test_global_and_defaults():
    text = render_config(ROUTES, SERVERS, SETTINGS)
    got = lines(text)
    for line in ("stats socket /r/admin.sock mode 600 level admin expose-fd listeners",
                 "log ring@conductor_log local0 info", "server agent 127.0.0.1:7777 log-proto legacy", "format raw",
                 "size 4194304", 'log-format "CEv1 %b %s %ST %ts %Ta %Tr %Tc %Tt"',
                 "option http-keep-alive", "option idle-close-on-response", "retries 2", "retry-on conn-failure", "option redispatch 1",
                 "bind 127.0.0.1:8080", "hard-stop-after 30s"):
        assert line in got
    assert not [line for line in got if line.startswith("maxconn")]
    assert "maxconn 5000" in lines(render_config(ROUTES, {}, dict(SETTINGS, maxconn=5000)))
    # Never retried in a way that could run a request twice.
    assert not [line for line in got if line.startswith("retry-on") and line != "retry-on conn-failure"]


def test_route_rules_most_specific_first():
    got = [line for line in lines(render_config(ROUTES, {}, SETTINGS)) if line.startswith("http-request set-var(txn.route)")]
    guard = "!{ var(txn.route) -m found }"
    assert got == [
        "http-request set-var(txn.route) str(shop) if %s { var(txn.host) -m str shop.local } { path -m str /cart } || "
        "%s { var(txn.host) -m str shop.local } { path -m beg /cart/ }" % (guard, guard),
        "http-request set-var(txn.route) str(demo_web) if %s { var(txn.host) -m str demo.local }" % guard,
        "http-request set-var(txn.route) str(demo_api) if %s { path -m str /api } || %s { path -m beg /api/ }" % (guard, guard),
    ]


def test_split_is_read_from_the_map_at_each_request():
    got = lines(render_config(ROUTES, {}, SETTINGS))
    assert "http-request set-var(txn.split) var(txn.route),map(/r/split.map) if { var(txn.route) -m found }" in got
    assert "http-request set-var(txn.roll) rand(100),sub(txn.green) if { var(txn.split) -m found }" in got
    assert "http-request set-var(txn.be) var(txn.split),field(3,:) if { var(txn.roll) -m int lt 0 }" in got
    assert got.index("use_backend be_conductor_status if conductor_status") < got.index(
        "use_backend %[var(txn.be)] if { var(txn.be) -m found }")
    assert "http-request deny deny_status 403 if conductor_status !{ src -f /r/allow.acl }" in got
    fallback = ("http-request set-var(txn.be) str(be_demo_web_blue) if { var(txn.route) -m str demo_web } "
                "{ var(txn.be) -m str be_demo_web_green } { nbsrv(be_demo_web_green) eq 0 } { nbsrv(be_demo_web_blue) gt 0 }")
    assert fallback in got


def test_backends_per_variant_with_checks_and_servers():
    text = render_config(ROUTES, SERVERS, SETTINGS)
    assert backend_block(text, "be_demo_web_blue") == [
        "balance roundrobin", "option httpchk GET /healthz", "http-check expect status 200",
        "server t_a 10.0.1.2:8080 check inter 500ms fall 2 rise 1",
        "server t_b 10.0.1.3:8080 check inter 500ms fall 2 rise 1"]
    assert backend_block(text, "be_demo_web_green")[1] == "option httpchk GET /ready"
    # A variant with no service yet still has its backend, so its arrival needs no reload.
    assert backend_block(text, "be_demo_web_plain")[1] == "option httpchk GET /healthz"
    assert backend_block(text, "be_conductor_status") == ["server agent 127.0.0.1:9999"]
    assert server_options({"check_inter": "1s", "check_fall": 3}) == "check inter 1s fall 3 rise 1"


def test_map_and_acl_files():
    assert render_split_map({"b": "0:be_b_plain:be_b_plain:", "a": "10:be_a_blue:be_a_green:"}) == \
        "a 10:be_a_blue:be_a_green:\nb 0:be_b_plain:be_b_plain:\n"
    assert render_acl(["10.0.0.1/32", "10.0.0.2/32"]) == "10.0.0.1/32\n10.0.0.2/32\n"


def test_server_address_brackets_ipv6():
    assert server_address("10.0.1.5", 8080) == "10.0.1.5:8080"
    assert server_address("fd00::5", 8080) == "[fd00::5]:8080"


def test_a_held_route_loads_the_hold_action_and_runs_it_for_its_requests_only():
    assert not [line for line in lines(render_config(ROUTES, {}, SETTINGS)) if "lua" in line]
    held = dict(ROUTES, shop=dict(ROUTES["shop"], hold_ms=15000))
    got = lines(render_config(held, {}, dict(SETTINGS, hold_lua="/r/hold.lua")))
    assert "lua-load /r/hold.lua" in got
    rule = "http-request lua.conductor_hold 15000 if { var(txn.route) -m str shop }"
    assert [line for line in got if "lua." in line] == [rule]
    # After the backend is chosen (and the fallbacks taken), before it is used.
    assert got.index(rule) > max(i for i, line in enumerate(got) if line.startswith("http-request set-var(txn.be)"))
    assert got.index(rule) < got.index("use_backend %[var(txn.be)] if { var(txn.be) -m found }")
    assert 'core.register_action("conductor_hold", { "http-req" }' in HOLD_LUA and "core.msleep(100)" in HOLD_LUA
    # Once released, a held request may wait in the queue as long again.
    text = render_config(held, {}, dict(SETTINGS, hold_lua="/r/hold.lua"))
    assert "timeout queue 15000ms" in backend_block(text, "be_shop_plain")
    assert "timeout queue 15000ms" not in backend_block(text, "be_demo_api_plain")


def test_a_variant_with_maxconn_gets_it_on_its_servers_in_the_file_and_at_runtime():
    limited = dict(ROUTES)
    web = dict(ROUTES["demo_web"], variants=dict(ROUTES["demo_web"]["variants"]))
    web["variants"]["blue"] = dict(web["variants"]["blue"], maxconn=32)
    limited["demo_web"] = web
    text = render_config(limited, SERVERS, SETTINGS)
    assert "server t_a 10.0.1.2:8080 check inter 500ms fall 2 rise 1 maxconn 32" in backend_block(text, "be_demo_web_blue")
    assert server_options(SETTINGS, 32) == "check inter 500ms fall 2 rise 1 maxconn 32"
    assert server_options(SETTINGS) == "check inter 500ms fall 2 rise 1"
