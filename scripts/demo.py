"""make demo: bare hosts to a swarm, the example stack behind the edge proxy, then a
blue/green release under load, and what the clients saw.

The load comes from this machine to the edge proxy's 127.0.0.1 port (lab/loadgen.py:
constant rate, keep-alive, 10 % slow requests and 10 % POSTs, every request recorded),
bounded in count and time. Exits non-zero if any request failed.
"""
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
from labenv import deploy_edge, edge_url, on_manager, prepare, sh, write_deploy_vars  # noqa: E402
from traffic import table, under_load  # noqa: E402
import timeline  # noqa: E402

STACK = "demo"
HOST = "demo.lab"
RATE = int(os.environ.get("DEMO_RATE", "300"))
REQUESTS = int(os.environ.get("DEMO_REQUESTS", "9000"))
FILES = ["examples/stack/demo.yml", "examples/stack/edge.yml"]
LOG_DIR = ROOT / ".build" / "logs" / "demo"
OPTIONS = {"post_switch_seconds": 5, "keep_old_seconds": 0}


def banner(text):
    print("\n== %s" % text, flush=True)


def deploy(lab, version):
    path = write_deploy_vars(LOG_DIR / "vars-demo.json", lab, STACK, FILES, {"WEB_VERSION": version, "EDGE_HOST": HOST},
                             stack_strategy="blue-green", stack_strategy_options=OPTIONS)
    proc = sh(["ansible-playbook", "playbooks/deploy.yml", "-e", "@%s" % path])
    for line in proc.stdout.splitlines():
        if line.startswith(("  ", "TASK", "ok:", "changed:", "fatal:")) or "RECAP" in line:
            print(line)
    if proc.returncode != 0:
        sys.exit("deploy failed:\n" + proc.stdout[-3000:])
    return proc


def main():
    banner("lab: 3 bare Debian hosts, provisioned into a swarm (make lab + playbooks/provision.yml)")
    lab = prepare(LOG_DIR, edge=True)
    print(on_manager("docker node ls").stdout)

    banner("the edge proxy: HAProxy driven through its Runtime API (playbooks/edge_proxy.yml)")
    deploy_edge(lab, LOG_DIR)
    print("clients reach it on %s (Host: %s)" % (edge_url(), HOST))

    banner("deploy the example stack behind it, version 1.0.0 (playbooks/deploy.yml, strategy blue-green)")
    deploy(lab, "1.0.0")
    time.sleep(2)

    banner("release 2.0.0 by blue-green while clients send %d requests/s (at least %d requests)" % (RATE, REQUESTS))
    seen = under_load(edge_url(), HOST, lambda: deploy(lab, "2.0.0"), rate=RATE, min_requests=REQUESTS,
                      old="1.0.0", new="2.0.0")
    png = ROOT / ".build" / "demo-blue-green.png"
    timeline.plot(seen.run, str(png), "blue/green release 1.0.0 -> 2.0.0, %d req/s" % RATE)

    banner("what the clients saw")
    print(table([dict(seen.row, scenario="blue-green 1.0.0 -> 2.0.0")]))
    print("held the rate: %s (%.1f req/s achieved); timeline: %s" % (
        seen.summary["held_rate"], seen.summary["achieved_rate"] or 0, png.relative_to(ROOT)))
    print(on_manager("docker stack services %s" % STACK).stdout)
    failed = seen.row["failed"]
    if failed:
        sys.exit("demo: %d of %d requests failed during the release" % (failed, seen.row["requests"]))
    print("demo: zero failed requests during the release (%d requests)" % seen.row["requests"])


if __name__ == "__main__":
    main()
