"""make bench-zero-downtime: what clients behind the edge proxy see during each kind of release.

On one lab swarm, in one run: an open-loop load (lab/loadgen.py: constant rate,
keep-alive, 10 % slow requests, 10 % POSTs, every request recorded) goes from
this machine to the edge proxy's 127.0.0.1 port throughout each scenario, while
playbooks/deploy.yml releases a new version of the example's web service:

  rolling, recreate, recreate-hold (recreate with the proxy holding requests
  through the gap: route label conductor.swarm.route.hold), blue-green, blue-green-back (deploying the previous version
  again while its colour is still up), canary-promote, canary-abort (the new
  version answers FAIL_RATE of its requests with 500), rollback (a rolling
  update whose healthcheck never passes);
  baselines: naive (nginx that resolves the service once, and docker stack
  deploy of the new image) and swarm-defaults (our proxy, Swarm's default
  update_config).

Prints the table, writes .build/bench/zero-downtime.json and one timeline PNG per
scenario, and exits non-zero when a scenario misses its target (the baselines
have none: what they saw is what they are for).

  ZD_RATE (default 300) requests/s, ZD_REQUESTS (default 10000) at least per scenario.
  ZD_HOLD_RATE (default 150): recreate-hold's rate (see docs/strategies/recreate.md: at 300
  the example's three 0.25-CPU tasks have no spare capacity to work off what was held).
  ZD_ONLY=name,name: run only these scenarios (their set-up deploys still run); their rows
  replace those of the same name in the existing JSON.
"""
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
from labenv import (  # noqa: E402
    copy_to_manager, deploy_edge, edge_url, on_manager, prepare, remove_stack, sh, write_deploy_vars)
from traffic import table, under_load  # noqa: E402
import timeline  # noqa: E402

RATE = int(os.environ.get("ZD_RATE", "300"))
HOLD_RATE = int(os.environ.get("ZD_HOLD_RATE", "150"))
ONLY = set(n.strip() for n in os.environ.get("ZD_ONLY", "").split(",") if n.strip())
MIN_REQUESTS = int(os.environ.get("ZD_REQUESTS", "10000"))
OUT = ROOT / ".build" / "bench"
LOG_DIR = ROOT / ".build" / "logs" / "bench-zero-downtime"
STACK = "zd"
HOST = "zd.lab"
FAIL_RATE = 0.3
BASE = [ROOT / "examples" / "stack" / "demo.yml", ROOT / "examples" / "stack" / "edge.yml"]
COMPOSE = ROOT / "tests" / "bench" / "compose"
UNHEALTHY = ROOT / "tests" / "lab" / "compose" / "web-unhealthy.yml"
CANARY_STEPS = [{"weight": 10, "pause": 8}, {"weight": 50, "pause": 8}]
CANARY_GATE = {"max_error_rate": 0.05, "min_requests": 20}


def deploy(lab, name, version, strategy="rolling", options=None, files=None, variables=None, expect_ok=True):
    evars = dict({"WEB_VERSION": version, "EDGE_HOST": HOST}, **(variables or {}))
    path = write_deploy_vars(LOG_DIR / ("vars-%s.json" % name), lab, STACK, files or BASE, evars,
                             stack_strategy=strategy, stack_strategy_options=options or {})
    proc = sh(["ansible-playbook", "playbooks/deploy.yml", "-e", "@%s" % path])
    (LOG_DIR / ("deploy-%s.log" % name)).write_text(proc.stdout)
    if (proc.returncode == 0) != expect_ok:
        wanted = "success" if expect_ok else "a failure"
        sys.exit("deploy %s: expected %s, got rc %d:\n%s" % (name, wanted, proc.returncode, proc.stdout[-4000:]))
    return proc


def cli_deploy(lab, version):
    reg = lab["registry"]["address_in_lab"]
    proc = on_manager("cd /tmp/zd-naive/compose && env REGISTRY=%s WEB_VERSION=%s docker stack deploy --detach=false "
                      "--with-registry-auth -c naive.yml naive" % (reg, version))
    if proc.returncode != 0:
        sys.exit("docker stack deploy of the naive baseline failed:\n" + proc.stdout[-3000:])
    return proc


def settle(seconds=3):
    time.sleep(seconds)


def scenario(rows, name, action, old, new, url=None, host=HOST, target=None, rate=RATE, **client):
    if ONLY and name not in ONLY:
        print("\n== %s: skipped (ZD_ONLY)" % name, flush=True)
        return None
    print("\n== %s (%d req/s, at least %d requests)" % (name, rate, MIN_REQUESTS), flush=True)
    seen = under_load(url or edge_url(), host, action, rate=rate, min_requests=MIN_REQUESTS, old=old, new=new,
                      **client)
    row = dict(seen.row, scenario=name, rate=rate)
    if target:
        row["target"], row["met"] = target(seen)
    rows.append(row)
    events = list(seen.run.events)
    timeline.plot(seen.run, str(OUT / ("zero-downtime-%s.png" % name)), "%s, %d req/s" % (name, rate), events=events)
    print(table([row]), flush=True)
    return seen


def zero_failed(seen):
    return "0 failed", seen.row["failed"] == 0


def canary_abort_target(seen):
    served = seen.row["versions"].get("1.0.0", 0)
    found = re.search(r"canary aborted at \d+% after ([\d.]+)s", seen.result.stdout)
    abort_s = float(found.group(1)) if found else None
    # Every failed request is one of the canary's injected 500s: none came from the switches.
    failed = [r for r in seen.run.records if not r.ok]
    injected = all((r.status, r.version, r.error) == (500, "1.0.0", None) for r in failed)
    ok = injected and abort_s is not None and abort_s <= 10
    return "failed = the canary's injected 500s only (%d of %d it served, FAIL_RATE %.1f), abort <= 10 s (%s s)" % (
        len(failed), served, FAIL_RATE, abort_s), ok


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    lab = prepare(LOG_DIR, edge=True, naive=True)
    deploy_edge(lab, LOG_DIR)
    reg = lab["registry"]
    on_manager("docker login -u %s --password-stdin %s >/dev/null" % (reg["username"], reg["address_in_lab"]),
               stdin=lab["password"])
    rows = []

    # Rolling, its Swarm-defaults baseline, recreate and a failed rolling update: the plain service.
    remove_stack(STACK)
    deploy(lab, "rolling-setup", "1.0.0")
    settle()
    scenario(rows, "rolling", lambda: deploy(lab, "rolling", "2.0.0"), "1.0.0", "2.0.0", target=zero_failed)
    scenario(rows, "rollback", lambda: deploy(lab, "rollback", "1.0.0", files=BASE + [UNHEALTHY], expect_ok=False),
             "2.0.0", None, target=zero_failed)
    defaults = BASE + [COMPOSE / "swarm-defaults.yml"]
    deploy(lab, "swarm-defaults-setup", "2.0.0", files=defaults)
    scenario(rows, "swarm-defaults", lambda: deploy(lab, "swarm-defaults", "1.0.0", files=defaults), "2.0.0", "1.0.0")
    scenario(rows, "recreate", lambda: deploy(lab, "recreate", "2.0.0", strategy="recreate"), "1.0.0", "2.0.0",
             target=lambda seen: ("downtime reported: gap %s ms" % seen.row["gap_ms"], True))
    # Recreate again, the proxy holding requests while no task is up (route label hold, set beforehand);
    # its clients wait up to 30 s (the others: 5 s), on up to 2048 connections: with 4096, the lab's
    # port proxy (docker-proxy on 127.0.0.1) died in one run, and every later scenario failed with it.
    hold = {"WEB_HOLD": "20s"}
    deploy(lab, "recreate-hold-setup", "2.0.0", variables=hold)
    settle()
    scenario(rows, "recreate-hold", lambda: deploy(lab, "recreate-hold", "1.0.0", strategy="recreate", variables=hold),
             "2.0.0", "1.0.0", target=zero_failed, rate=HOLD_RATE, timeout=30, max_connections=2048)

    # Blue/green: 2.0.0 beside 1.0.0, then 1.0.0 again while its colour is still up.
    remove_stack(STACK)
    keep = {"post_switch_seconds": 5, "scale_down_old": False}
    deploy(lab, "blue-green-setup", "1.0.0", strategy="blue-green", options=keep)
    settle()
    scenario(rows, "blue-green", lambda: deploy(lab, "blue-green", "2.0.0", strategy="blue-green", options=keep),
             "1.0.0", "2.0.0", target=zero_failed)
    scenario(rows, "blue-green-back", lambda: deploy(lab, "blue-green-back", "1.0.0", strategy="blue-green",
                                                     options=keep), "2.0.0", "1.0.0", target=zero_failed)

    # Canary: promoted, then a release that serves errors, aborted by the error-rate gate.
    remove_stack(STACK)
    canary = {"steps": CANARY_STEPS, "gate": CANARY_GATE}
    deploy(lab, "canary-setup", "1.0.0", strategy="canary", options=canary)
    settle()
    scenario(rows, "canary-promote", lambda: deploy(lab, "canary-promote", "2.0.0", strategy="canary", options=canary),
             "1.0.0", "2.0.0", target=zero_failed)
    scenario(rows, "canary-abort", lambda: deploy(lab, "canary-abort", "1.0.0", strategy="canary", options=canary,
                                                  variables={"WEB_FAIL_RATE": str(FAIL_RATE)}, expect_ok=False),
             "2.0.0", None, target=canary_abort_target)
    remove_stack(STACK)

    # The naive set-up, through nginx on a worker's port.
    on_manager("rm -rf /tmp/zd-naive && mkdir -p /tmp/zd-naive")
    copy_to_manager(COMPOSE, "/tmp/zd-naive")
    remove_stack("naive")
    cli_deploy(lab, "1.0.0")
    settle(5)
    scenario(rows, "naive", lambda: cli_deploy(lab, "2.0.0"), "1.0.0", "2.0.0", url=edge_url("lab-2"), host="naive")
    remove_stack("naive")

    fields = ("scenario", "requests", "failed", "conn_errors", "non_2xx", "p50_ms", "p99_ms", "rollout_s",
              "switch_ms", "gap_ms", "versions", "rate")
    written = [dict((k, r.get(k)) for k in fields) for r in rows]
    path = OUT / "zero-downtime.json"
    if ONLY and path.exists():
        fresh = dict((r["scenario"], r) for r in written)
        kept = [r for r in json.loads(path.read_text()) if r["scenario"] not in fresh]
        written = kept + [fresh[n] for n in fresh]
    path.write_text(json.dumps(written, indent=1) + "\n")
    print("\nbench-zero-downtime: %d req/s (recreate-hold %d), at least %d requests per scenario"
          % (RATE, HOLD_RATE, MIN_REQUESTS))
    print(table(rows, columns=fields + ("target", "met")))
    print("written: %s and zero-downtime-<scenario>.png" % (OUT / "zero-downtime.json"))
    missed = [r["scenario"] for r in rows if r.get("met") is False]
    if missed:
        sys.exit("bench-zero-downtime: target missed by %s" % ", ".join(missed))


if __name__ == "__main__":
    main()
