"""Every strategy end to end on the lab, behind the real edge proxy, under real load.

Load is lab/loadgen.py through the edge proxy's 127.0.0.1 port: constant rate,
keep-alive, 10 % slow requests and 10 % POSTs, every request recorded (a few
thousand per test). The tests share one stack and run in file order.
"""
import ast
import collections
import json
import re
import time

import pytest

from conftest import LOG_DIR, ROOT, deploy, services
from labenv import deploy_edge, edge_url, lab_hosts, on_host, on_manager, remove_stack
from traffic import under_load

STACK = "strat"
HOST = "strat.lab"
RATE = 150
REQUESTS = 2500
FILES = [ROOT / "examples" / "stack" / "demo.yml", ROOT / "examples" / "stack" / "edge.yml"]
pytestmark = pytest.mark.usefixtures("edge", "fresh_stack")


@pytest.fixture(scope="module")
def edge(lab):
    # -vvv: the run's whole output is kept for the secret check at the end of this file.
    return deploy_edge(lab, LOG_DIR, extra=("-vvv",))


@pytest.fixture(scope="module")
def fresh_stack(lab, edge):
    remove_stack(STACK)


def release(lab, name, version, strategy, options=None, variables=None, check=False, extra=()):
    evars = dict({"WEB_VERSION": version, "EDGE_HOST": HOST}, **(variables or {}))
    args = ["-e", "stack_strategy=%s" % strategy, "-e", json.dumps({"stack_strategy_options": options or {}})]
    return deploy(lab, STACK, "strategy-%s" % name, *args, *extra, variables=evars, files=FILES, check=check,
                  verbose=False)


def loaded(action, old, new, **client):
    return under_load(edge_url(), HOST, action, rate=RATE, min_requests=REQUESTS, old=old, new=new, lead=2, tail=2,
                      **client)


def web_services(manager):
    return dict((n, s) for n, s in services(manager, STACK).items() if n.startswith("strat_web"))


def replicas(service):
    return service["Spec"]["Mode"]["Replicated"]["Replicas"]


def test_rolling_behind_the_proxy_fails_no_request(lab, manager):
    first = release(lab, "rolling-1", "1.0.0", "rolling")
    assert first.returncode == 0, first.stdout[-4000:]
    seen = loaded(lambda: release(lab, "rolling-2", "2.0.0", "rolling"), "1.0.0", "2.0.0")
    assert seen.result.returncode == 0, seen.result.stdout[-4000:]
    assert seen.row["requests"] >= REQUESTS
    assert seen.row["failed"] == 0, seen.summary
    assert set(seen.row["versions"]) == {"1.0.0", "2.0.0"}


def test_recreate_reports_its_downtime(lab, manager):
    seen = loaded(lambda: release(lab, "recreate", "1.0.0", "recreate"), "2.0.0", "1.0.0")
    assert seen.result.returncode == 0, seen.result.stdout[-4000:]
    assert re.search(r"rolling out [\w, ]*strat_web[\w, ]* by recreate:", seen.result.stdout), seen.result.stdout[-3000:]
    update = web_services(manager)["strat_web"]["Spec"]["UpdateConfig"]
    assert (update["Parallelism"], update["Order"]) == (0, "stop-first")
    # Every task stopped before the new ones started: clients saw a gap, and the deploy says how long.
    assert seen.row["gap_ms"] > 500, seen.summary
    assert re.search(r"strat_web: no task was running for [\d.]+s between the old version's last stop",
                     seen.result.stdout), seen.result.stdout[-3000:]
    assert seen.row["failed"] > 0


def test_recreate_with_a_hold_at_the_proxy_turns_the_gap_into_latency(lab, manager):
    hold = {"WEB_HOLD": "20s"}
    # The label alone first (a rolling update), so the proxy holds before the recreate starts.
    prep = release(lab, "recreate-hold-prep", "1.0.0", "rolling", variables=hold)
    assert prep.returncode == 0, prep.stdout[-4000:]
    # Clients that wait as long as the hold (30 s, not the 5 s of the other tests), with a connection for
    # every held request (150/s through a gap of a few seconds).
    seen = loaded(lambda: release(lab, "recreate-hold", "2.0.0", "recreate", variables=hold), "1.0.0", "2.0.0",
                  timeout=30, max_connections=2048)
    assert seen.result.returncode == 0, seen.result.stdout[-4000:]
    assert re.search(r"strat_web: no task was running for [\d.]+s between the old version's last stop",
                     seen.result.stdout), seen.result.stdout[-3000:]
    # Still a gap in which nothing was answered, but every request held through it was served.
    assert seen.row["gap_ms"] > 500, seen.summary
    failed = collections.Counter((r.status, r.error, round(r.latency_ms / 1000.0) if r.end else None)
                                 for r in seen.run.records if not r.ok)
    assert seen.row["failed"] == 0, "failed (status, error, seconds): %s; %s" % (dict(failed), seen.summary)
    assert seen.row["p99_ms"] >= 500, seen.summary
    # Back to 1.0.0 without a hold, where the blue-green tests start.
    back = release(lab, "recreate-hold-back", "1.0.0", "rolling")
    assert back.returncode == 0, back.stdout[-4000:]


def test_blue_green_hands_over_from_rolling_and_switches_with_no_failed_request(lab, manager):
    keep = {"post_switch_seconds": 3, "scale_down_old": False}
    seen = loaded(lambda: release(lab, "bg-1", "2.0.0", "blue-green", keep), "1.0.0", "2.0.0")
    out = seen.result.stdout
    assert seen.result.returncode == 0, out[-4000:]
    assert "strat_web: the new version goes to blue (strat_web-blue); plain serves until the switch" in out
    assert re.search(r"strat_web: switched all traffic from plain to blue \(applied by the proxy in \d+ ms\)", out)
    assert seen.row["failed"] == 0, seen.summary
    assert seen.row["switch_ms"] is not None and seen.row["switch_ms"] < 1000, seen.summary
    live = web_services(manager)
    assert replicas(live["strat_web-blue"]) == 3 and replicas(live["strat_web"]) == 3  # kept up: scale_down_old false


def test_blue_green_switch_and_switch_back_take_under_a_second(lab, manager):
    keep = {"post_switch_seconds": 3, "scale_down_old": False}
    seen = loaded(lambda: release(lab, "bg-2", "1.0.0", "blue-green", keep), "2.0.0", "1.0.0")
    assert seen.result.returncode == 0, seen.result.stdout[-4000:]
    assert seen.row["failed"] == 0 and seen.row["switch_ms"] < 1000, seen.summary
    started = dict((n, s["Version"]["Index"]) for n, s in web_services(manager).items())
    # 2.0.0 is still up as blue: deploying it again is only a switch, nothing starts.
    back = loaded(lambda: release(lab, "bg-back", "2.0.0", "blue-green", keep), "1.0.0", "2.0.0")
    assert back.result.returncode == 0, back.result.stdout[-4000:]
    assert back.row["failed"] == 0 and back.row["switch_ms"] < 1000, back.summary
    assert dict((n, s["Version"]["Index"]) for n, s in web_services(manager).items()) == started
    again = release(lab, "bg-same", "2.0.0", "blue-green", keep)
    assert again.returncode == 0 and re.search(r"changed=0\s", again.stdout), again.stdout[-3000:]
    assert "already runs this version and takes the traffic: nothing to switch" in again.stdout


# A caller inside the stack: GET http://web:8080/ from an api task's container, every answer's version.
CALLER = ("import collections, urllib.request\n"
          "seen = collections.Counter()\n"
          "for _n in range(%d):\n"
          "    try:\n"
          "        seen[urllib.request.urlopen('http://web:8080/', timeout=5).headers['X-Version']] += 1\n"
          "    except OSError as exc:\n"
          "        seen['error: %%s' %% exc] += 1\n"
          "print(dict(seen))\n")


def internal_versions(lab, requests=60):
    """{version: count} that a caller on the stack's backend network sees through the name `web`."""
    for host in lab_hosts():
        ids = on_host(host, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=strat_api").stdout.split()
        if ids:
            out = on_host(host, "docker", "exec", ids[0], "python3", "-c", CALLER % requests)
            assert out.returncode == 0, out.stderr[-2000:]
            return ast.literal_eval(out.stdout.strip())
    raise AssertionError("no strat_api task runs on any lab host")


def test_callers_inside_the_stack_reach_only_the_live_colour_through_its_router(lab, manager):
    # blue (2.0.0) is live, green (1.0.0) is up too, the plain service is scaled down: `web` is the router's.
    live = web_services(manager)
    assert replicas(live["strat_web-router"]) == 1 and replicas(live["strat_web"]) == 0
    aliases = [n.get("Aliases") for n in live["strat_web-blue"]["Spec"]["TaskTemplate"]["Networks"]]
    assert aliases == [["web-blue"], ["web-blue"]], aliases
    assert internal_versions(lab) == {"2.0.0": 60}
    keep = {"post_switch_seconds": 1, "scale_down_old": False}
    switch = release(lab, "bg-internal", "1.0.0", "blue-green", keep)
    assert switch.returncode == 0, switch.stdout[-4000:]
    assert internal_versions(lab) == {"1.0.0": 60}
    back = release(lab, "bg-internal-back", "2.0.0", "blue-green", keep)
    assert back.returncode == 0, back.stdout[-4000:]
    assert internal_versions(lab) == {"2.0.0": 60}


def test_a_restarted_proxy_task_serves_the_stored_state(lab, manager):
    # blue (2.0.0) is live; green (1.0.0) is up too. A proxy that forgot the state would split or pick one.
    container = on_manager("docker ps -q --filter label=com.docker.swarm.service.name=edge_proxy").stdout.split()
    assert len(container) == 1, container
    on_manager("docker kill %s" % container[0])

    def wait_for_new_task():
        for _second in range(60):
            now = on_manager("docker ps -q --filter label=com.docker.swarm.service.name=edge_proxy").stdout.split()
            if now and now != container:
                return now
            time.sleep(1)
        raise AssertionError("no new proxy task within 60 s")
    seen = loaded(wait_for_new_task, "2.0.0", None)
    served = [r for r in seen.run.records if r.ok]
    assert served, seen.summary
    # Whatever answered after the restart is the live colour, never the idle one.
    assert set(r.version for r in served) == {"2.0.0"}, seen.summary


def test_canary_steps_up_and_promotes_with_no_failed_request(lab, manager):
    options = {"steps": [{"weight": 20, "pause": 3}, {"weight": 60, "pause": 3}],
               "gate": {"max_error_rate": 0.05, "min_requests": 10}}
    seen = loaded(lambda: release(lab, "canary", "1.0.0", "canary", options), "2.0.0", "1.0.0")
    out = seen.result.stdout
    assert seen.result.returncode == 0, out[-4000:]
    for weight in (20, 60, 100):
        assert re.search(r"strat_web: canary green takes %d%% of requests" % weight, out), out[-3000:]
    assert "strat_web: canary green promoted" in out
    assert seen.row["failed"] == 0, seen.summary
    live = web_services(manager)
    assert replicas(live["strat_web-green"]) == 3 and replicas(live["strat_web-blue"]) == 0


def test_a_canary_that_serves_errors_is_aborted_by_the_error_rate_gate(lab, manager):
    fail_rate = 0.5
    options = {"steps": [{"weight": 20, "pause": 20}], "gate": {"max_error_rate": 0.05, "min_requests": 10}}
    seen = loaded(lambda: release(lab, "canary-abort", "2.0.0", "canary", options,
                                  variables={"WEB_FAIL_RATE": str(fail_rate)}), "1.0.0", None)
    out = seen.result.stdout
    assert seen.result.returncode != 0, out[-4000:]
    found = re.search(r"canary aborted at 20% after ([\d.]+)s: canary gate failed: error rate ([\d.]+)%", out)
    assert found, out[-4000:]
    assert float(found.group(1)) <= 10
    assert seen.row["versions"].get("2.0.0", 0) > 0
    # Failed requests: only the canary's own injected 500s, none from the switches themselves.
    failed = [r for r in seen.run.records if not r.ok]
    assert failed and all((r.status, r.version, r.error) == (500, "2.0.0", None) for r in failed), seen.summary
    live = web_services(manager)
    assert replicas(live["strat_web-blue"]) == 0 and replicas(live["strat_web-green"]) == 3


@pytest.mark.parametrize("options, message", [
    ({"steps": [{"weight": 50}, {"weight": 10}]}, "steps[1].weight: steps must increase, but 10 follows 50"),
    ({"steps": [{"weight": 150}]}, "steps[0].weight: must be a whole percentage from 1 to 100, not 150"),
    ({"steps": [{"weight": 10}], "speed": 1}, "unknown option speed"),
])
def test_bad_strategy_options_are_refused_before_any_change(lab, manager, options, message):
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    proc = release(lab, "bad", "2.0.0", "canary", options)
    assert proc.returncode != 0
    assert message in proc.stdout and "nothing was changed" in proc.stdout, proc.stdout[-3000:]
    assert "TASK [conductor.swarm.stack : Deploy and track stack" in proc.stdout
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before


def test_plans_that_cannot_be_zero_downtime_are_warned_about_before_any_change(lab, manager, tmp_path):
    risky = tmp_path / "risky.yml"
    risky.write_text(
        "version: '3.8'\nservices:\n  web:\n    stop_grace_period: 1s\n    deploy:\n      replicas: 1\n"
        "      update_config:\n        order: stop-first\n")
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    proc = deploy(lab, STACK, "strategy-warnings", "-e", "stack_strategy=rolling", files=FILES + [risky],
                  variables={"WEB_VERSION": "2.0.0", "EDGE_HOST": HOST}, check=True, verbose=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = " ".join(proc.stdout.split())
    # web runs as colours (green serves since the canary abort): rolling updates green where it serves.
    assert "strat_web: runs as colours; green is updated in place, where it serves (strat_web-green)" in text, \
        proc.stdout[-3000:]
    assert "strat_web-green: a single replica updated stop-first" in text, proc.stdout[-3000:]
    assert "strat_web-green: stop_grace_period 1.0s is shorter than the 2s drain" in text
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before


def test_the_edge_proxy_run_leaks_no_registry_password(lab, edge):
    # The role got the lab registry's password (edge_proxy_registry_auth) and ran with -vvv.
    text = (LOG_DIR / "edge-proxy.log").read_text(errors="replace")
    # -vvv's own lines: the connection, and the module's arguments as it got them.
    assert "ESTABLISH SSH CONNECTION" in text and "module_args:" in text, "not the -vvv output of the role"
    assert "TASK [conductor.swarm.edge_proxy : Deploy the edge proxy as stack edge]" in text
    assert lab["password"] not in text, "the registry password leaked into the edge proxy role's output"
    assert "password: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in text  # where -vvv shows it, it is masked


def proxy_nodes(service="edge_proxy"):
    out = on_manager("docker service ps %s --filter desired-state=running --format '{{.Node}} {{.CurrentState}}'"
                     % service).stdout.split("\n")
    return sorted(line.split()[0] for line in out if " Running " in " %s " % line)


def test_the_edge_runs_on_workers_too_and_a_switch_there_fails_no_request(lab, manager):
    # Every node an edge node: the HAProxy image has no agent and no Docker socket; the agents on the
    # workers read the swarm through the managers' read-only Docker API service.
    everywhere = LOG_DIR / "edge-everywhere"
    everywhere.mkdir(exist_ok=True)
    deploy_edge(lab, everywhere, extra=("-e", json.dumps({"edge_proxy_constraints": []})))
    try:
        nodes = sorted(lab_hosts())
        first_manager = lab_hosts()[0]
        for service in ("edge_proxy", "edge_agent"):
            for _second in range(60):
                if proxy_nodes(service) == nodes:
                    break
                time.sleep(1)
            assert proxy_nodes(service) == nodes, (service, proxy_nodes(service))
        worker = [n for n in nodes if n != first_manager][-1]
        # green (1.0.0) serves since the canary abort; the release goes to blue through the worker's proxy.
        seen = under_load(edge_url(worker), HOST, lambda: release(lab, "bg-worker", "2.0.0", "blue-green"),
                          rate=RATE, min_requests=REQUESTS, old="1.0.0", new="2.0.0", lead=2, tail=2)
        assert seen.result.returncode == 0, seen.result.stdout[-4000:]
        assert seen.row["failed"] == 0, seen.summary
        assert seen.row["versions"].get("2.0.0", 0) > 0
        # The agent beside the worker's HAProxy killed: HAProxy goes on serving what it was told.
        agent = on_host(worker, "docker", "ps", "-q", "--filter",
                        "label=com.docker.swarm.service.name=edge_agent").stdout.split()
        assert len(agent) == 1, agent
        seen = under_load(edge_url(worker), HOST, lambda: on_host(worker, "docker", "kill", agent[0]),
                          rate=RATE, min_requests=1000, old="2.0.0", new=None, lead=1, tail=3)
        assert seen.row["failed"] == 0 and set(seen.row["versions"]) == {"2.0.0"}, seen.summary
    finally:
        deploy_edge(lab, everywhere)  # back to the managers, as the role's default
