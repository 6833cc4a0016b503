"""make bench-deploy: time to "converged", ours against the Docker CLI.

On one lab swarm, in one run, side by side:
  ours: ansible-playbook playbooks/deploy.yml (wall time, Ansible start-up included)
  cli:  docker stack deploy --detach=false on the manager, over SSH (wall time)
for the example stack (create, then an update to a new version) and a stack of
20 services (create). Then a broken release (healthcheck never passes) with
ours: how long until the failure is known, and until the rollback completed,
against the target of the monitor window plus 10 s.
Figures, not a test: it prints them; it stops only when a deploy misbehaves.
"""
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
from labenv import copy_to_manager, on_manager, prepare, remove_stack, sh, write_deploy_vars  # noqa: E402

import yaml  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "2"))
LOG_DIR = ROOT / ".build" / "logs" / "bench-deploy"
STACK_DIR = ROOT / "examples" / "stack"
MONITOR = 5


def on_manager_ok(command, stdin=None):
    proc = on_manager(command, stdin)
    if proc.returncode != 0:
        sys.exit("on the manager, %s failed:\n%s" % (command, proc.stdout[-3000:]))
    return proc


def twenty_services(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    services = {}
    for i in range(1, 21):
        services["s%02d" % i] = {
            "image": "${REGISTRY}/conductor/demo-app:${WEB_VERSION:-1.0.0}",
            "healthcheck": {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O-", "http://127.0.0.1:8080/healthz"],
                            "interval": "2s", "timeout": "2s", "retries": 3, "start_period": "2s"},
            "deploy": {"replicas": 1, "endpoint_mode": "dnsrr",
                       "update_config": {"parallelism": 1, "order": "start-first", "monitor": "5s"}},
        }
    path.write_text(yaml.safe_dump({"version": "3.8", "services": services}, sort_keys=False))
    return path


def ours(lab, stack, files, variables, extra=()):
    vars_file = write_deploy_vars(LOG_DIR / ("vars-%s.json" % stack), lab, stack, files, variables,
                                  stack_monitor=MONITOR)
    start = time.monotonic()
    proc = sh(["ansible-playbook", "playbooks/deploy.yml", "-e", "@%s" % vars_file, *extra])
    elapsed = time.monotonic() - start
    (LOG_DIR / ("ours-%s-%d.log" % (stack, int(start)))).write_text(proc.stdout)
    return proc, elapsed


def cli(lab, stack, compose_dir, compose_name, variables):
    env = " ".join("%s=%s" % kv for kv in dict({"REGISTRY": lab["registry"]["address_in_lab"]}, **variables).items())
    start = time.monotonic()
    proc = on_manager_ok("cd /tmp/bench-stack/%s && env %s docker stack deploy --detach=false --with-registry-auth "
                         "-c %s %s" % (compose_dir, env, compose_name, stack))
    return proc, time.monotonic() - start


def remove(stack):
    remove_stack(stack)
    time.sleep(2)  # let the nodes settle before the next timed case


def main():
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    lab = prepare(LOG_DIR)
    reg = lab["registry"]
    on_manager_ok("docker login -u %s --password-stdin %s >/dev/null" % (reg["username"], reg["address_in_lab"]),
                  stdin=lab["password"])
    # The CLI needs the files on the manager.
    twenty = twenty_services(LOG_DIR / "twenty" / "twenty.yml")
    on_manager("rm -rf /tmp/bench-stack")
    copy_to_manager(STACK_DIR, "/tmp/bench-stack")
    copy_to_manager(twenty.parent, "/tmp/bench-stack")

    cases = [
        ("example stack, create", [STACK_DIR / "demo.yml"], ("stack", "demo.yml"), {}, None),
        ("example stack, update 1.0.0 -> 2.0.0", [STACK_DIR / "demo.yml"], ("stack", "demo.yml"),
         {"WEB_VERSION": "2.0.0", "API_VERSION": "2.0.0"}, {}),
        ("20 services, create", [twenty], ("twenty", "twenty.yml"), {}, None),
    ]
    # Warm-up, not timed: every node pulls both versions once, so neither side pays
    # the first pull. Then the order alternates from run to run.
    for variables in ({}, {"WEB_VERSION": "2.0.0", "API_VERSION": "2.0.0"}):
        cli(lab, "bwarm", "stack", "demo.yml", variables)
    remove("bwarm")
    figures = dict((c[0], {"ours": [], "cli": [], "tracking": []}) for c in cases)
    for run in range(RUNS):
        order = ("ours", "cli") if run % 2 == 0 else ("cli", "ours")
        for title, files, (cdir, cname), variables, before in cases:
            for who in order:
                stack = "b%s" % who
                if before is None:  # a create starts from nothing; an update from the case before
                    remove(stack)
                if who == "ours":
                    proc, seconds = ours(lab, stack, files, variables)
                else:
                    proc, seconds = cli(lab, stack, cdir, cname, variables)
                if proc.returncode != 0:
                    sys.exit("%s (%s) failed:\n%s" % (title, who, proc.stdout[-3000:]))
                figures[title][who].append(seconds)
                if who == "ours":
                    found = re.search(r"stack bours: converged after ([\d.]+)s", proc.stdout)
                    if found:
                        figures[title]["tracking"].append(float(found.group(1)))
                print("  run %d/%d %-38s %-4s %6.1fs" % (run + 1, RUNS, title, who, seconds), flush=True)
        remove("bours")
        remove("bcli")

    # A broken release: how fast it is caught and rolled back.
    remove("bours")
    proc, _took = ours(lab, "bours", [STACK_DIR / "demo.yml"], {})
    if proc.returncode != 0:
        sys.exit("setting up the rollback case failed:\n" + proc.stdout[-3000:])
    broken = ROOT / "tests" / "lab" / "compose" / "web-unhealthy.yml"
    proc, seconds = ours(lab, "bours", [STACK_DIR / "demo.yml", broken], {"WEB_VERSION": "2.0.0"},
                         extra=["-e", "stack_service_deadline=120"])
    if proc.returncode == 0 or "was rolled back" not in proc.stdout:
        sys.exit("the broken release was not caught and rolled back:\n" + proc.stdout[-3000:])
    found = re.search(r"stack bours: (?:failed|rolled_back) after ([\d.]+)s", proc.stdout)
    detect = float(found.group(1)) if found else None
    found = re.search(r"rollback of stack bours: converged after ([\d.]+)s", proc.stdout)
    rollback = float(found.group(1)) if found else None
    remove("bours")

    print()
    print("bench-deploy: %d run(s) per case, wall seconds (median), ours / docker stack deploy --detach=false" % RUNS)
    print("%-40s %8s %8s %8s %20s" % ("case", "ours", "cli", "ratio", "ours: tracking alone"))
    for title, *_case in cases:
        o, c = statistics.median(figures[title]["ours"]), statistics.median(figures[title]["cli"])
        tracking = figures[title]["tracking"]
        tracked = "%.1f" % statistics.median(tracking) if tracking else "-"
        print("%-40s %8.1f %8.1f %7.2fx %20s" % (title, o, c, o / c, tracked))
    print("(ours = ansible-playbook wall time: Ansible start-up, argument checks, apply, then tracking)")
    print()
    print("broken release (healthcheck never passes), ours: failure known after %s s of tracking, rollback "
          "completed in %s s after that; whole run %.1f s" % (detect, rollback, seconds))
    if rollback is not None:
        target = MONITOR + 10
        print("target: rollback completed within the monitor window + 10 s (%d s): %s"
              % (target, "met" if rollback <= target else "MISSED"))


if __name__ == "__main__":
    main()
