"""make bench-deploy: time to "converged", ours against the Docker CLI.

On one lab swarm, in one run, side by side:
  ours: ansible-playbook playbooks/deploy.yml (wall time, Ansible start-up included)
  cli:  docker stack deploy --detach=false on the manager, over SSH (wall time)
for the example stack (create, then an update to a new version), a stack of 20
services (create, update, then a no-op redeploy; the no-op also with our stack
alone on the lab, since both sides' 40 services hold 2 cores near a load of 20). Both wait for the same thing:
every task of the new spec running healthy for 5 s (the CLI's fixed "verify"
wait; our monitor window, 5 s here, from the manager's task timestamps; Swarm's
own UpdateStatus "completed" ends ours at once when its update_config.monitor is
at least as long). Then a broken release (healthcheck never passes) with ours:
how long until the failure is known, and until the rollback completed, against
the target of the monitor window plus 10 s.
Prints the table and writes .build/bench/deploy.json: a list of
{case, ours_s, cli_s, ratio, tracking_s, changed, first_progress_s, measured_to,
ours_wall_s, cli_wall_s, ...} rows (medians). For an update, ours_s and cli_s are
measured to the same point, Swarm's own UpdateStatus "completed" (read from the
services: the lab's hosts share this machine's clock), and what each command took
past it is reported apart; for a create or a no-op they are the wall times.
first_progress_s: from our "applying" line to the first progress line.
Each timed run starts on a lab at rest (both sides' services at their replica counts, no task
still stopping), so one side never pays for the other's tasks still starting on the 2 cores.
Figures, not a test: it prints them and the targets met or missed; it stops
only when a deploy misbehaves.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
from labenv import copy_to_manager, env, on_manager, prepare, remove_stack, write_deploy_vars  # noqa: E402

import yaml  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "2"))
LOG_DIR = ROOT / ".build" / "logs" / "bench-deploy"
STACK_DIR = ROOT / "examples" / "stack"
BENCH_JSON = ROOT / ".build" / "bench" / "deploy.json"
MONITOR = 5
APPLYING = re.compile(r"stack \S+: applying what differs")
PROGRESS = re.compile(r"^\s+\S+: \d+/\d+ (updated|completed)")


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


class Run(object):
    """A finished ansible-playbook run: returncode, stdout, and when each line came."""

    def __init__(self, returncode, lines):
        self.returncode = returncode
        self.lines = lines
        self.stdout = "".join(line for _at, line in lines)

    def first_progress(self):
        """Seconds from the "applying" line to the first per-service progress line, or None."""
        applying = next((at for at, line in self.lines if APPLYING.search(line)), None)
        shown = next((at for at, line in self.lines if applying is not None and at >= applying and
                      PROGRESS.search(line)), None)
        return None if shown is None else shown - applying

    def changed(self):
        found = re.search(r"changed=(\d+)", self.stdout)
        return bool(found and int(found.group(1)))


def ours(lab, stack, files, variables, extra=()):
    vars_file = write_deploy_vars(LOG_DIR / ("vars-%s.json" % stack), lab, stack, files, variables,
                                  stack_monitor=MONITOR)
    start = time.monotonic()
    proc = subprocess.Popen(["ansible-playbook", "playbooks/deploy.yml", "-e", "@%s" % vars_file, *extra],
                            cwd=str(ROOT), env=env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines = [(time.monotonic() - start, line) for line in proc.stdout]
    run = Run(proc.wait(), lines)
    elapsed = time.monotonic() - start
    (LOG_DIR / ("ours-%s-%d.log" % (stack, int(start)))).write_text(
        "".join("%7.2f %s" % (at, line) for at, line in lines))
    return run, elapsed


def cli(lab, stack, compose_dir, compose_name, variables):
    env = " ".join("%s=%s" % kv for kv in dict({"REGISTRY": lab["registry"]["address_in_lab"]}, **variables).items())
    start = time.monotonic()
    proc = on_manager_ok("cd /tmp/bench-stack/%s && env %s docker stack deploy --detach=false --with-registry-auth "
                         "-c %s %s" % (compose_dir, env, compose_name, stack))
    return proc, time.monotonic() - start


def parse_time(text):
    """Seconds since the epoch of a Docker timestamp (nanoseconds cut to microseconds)."""
    import datetime
    head, _dot, frac = text.rstrip("Z").partition(".")
    moment = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() + float("0." + (frac or "0"))


def swarm_completed(stack, since, wait=120):
    """When Swarm's own UpdateStatus of the stack's last service updated after `since` went to completed
    (epoch seconds; the lab's hosts share this machine's clock), or None (a create or no update).
    A command may exit before Swarm has completed every update: wait for them, up to `wait` s."""
    deadline = time.time() + wait
    while True:
        ids = on_manager_ok("docker service ls -q --filter label=com.docker.stack.namespace=%s" % stack).stdout.split()
        statuses = [s.get("UpdateStatus") or {} for s in json.loads(
            on_manager_ok("docker service inspect %s" % " ".join(ids)).stdout)] if ids else []
        ours = [st for st in statuses if st.get("StartedAt") and parse_time(st["StartedAt"]) >= since]
        if all(st.get("State") == "completed" for st in ours) or time.time() > deadline:
            done = [parse_time(st["CompletedAt"]) for st in ours if st.get("State") == "completed"]
            return max(done) if done and len(done) == len(ours) else None
        time.sleep(0.5)


def remove(stack):
    remove_stack(stack)
    time.sleep(2)  # let the nodes settle before the next timed case


def settled(stacks):
    """True once both sides' stacks are at rest: every service at its replica count (a task with a healthcheck
    counts once healthy), no more, and no task being stopped still running."""
    listed = on_manager("docker service ls --format '{{.Name}} {{.Replicas}}'").stdout.split("\n")
    for line in listed:
        name, _sp, replicas = line.partition(" ")
        if name.split("_", 1)[0] in stacks:
            running, _slash, wanted = replicas.split(" ")[0].partition("/")
            if running != wanted:
                return False
    for stack in stacks:
        states = on_manager("docker stack ps %s --filter desired-state=shutdown --format '{{.CurrentState}}' "
                            "2>/dev/null" % stack).stdout.split("\n")
        if any(state.split(" ")[0] in ("Running", "Starting", "Preparing", "Assigned") for state in states):
            return False
    return True


def quiet(stacks=("bours", "bcli"), timeout=120):
    """Wait until the lab is at rest, so that one side's timed run is not slowed by the other side's tasks
    still starting or stopping (2 cores run both stacks). Seconds waited."""
    start = time.monotonic()
    while not settled(stacks) and time.monotonic() - start < timeout:
        time.sleep(1)
    time.sleep(2)
    return time.monotonic() - start


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

    version2 = {"WEB_VERSION": "2.0.0", "API_VERSION": "2.0.0"}
    # (title, our files, the CLI's (dir, file), variables, from nothing?)
    cases = [
        ("example stack, create", [STACK_DIR / "demo.yml"], ("stack", "demo.yml"), {}, True),
        ("example stack, update 1.0.0 -> 2.0.0", [STACK_DIR / "demo.yml"], ("stack", "demo.yml"), version2, False),
        ("20 services, create", [twenty], ("twenty", "twenty.yml"), {}, True),
        ("20 services, update 1.0.0 -> 2.0.0", [twenty], ("twenty", "twenty.yml"), {"WEB_VERSION": "2.0.0"}, False),
        ("20 services, no-op redeploy", [twenty], ("twenty", "twenty.yml"), {"WEB_VERSION": "2.0.0"}, False),
    ]
    # Warm-up, not timed: every node pulls both versions once, so neither side pays
    # the first pull. Then the order alternates from run to run.
    for variables in ({}, version2):
        cli(lab, "bwarm", "stack", "demo.yml", variables)
    remove("bwarm")
    figures = dict((c[0], {"ours": [], "cli": [], "tracking": [], "first": [], "changed": [], "ours_done": [],
                           "cli_done": []}) for c in cases)
    for run in range(RUNS):
        order = ("ours", "cli") if run % 2 == 0 else ("cli", "ours")
        for title, files, (cdir, cname), variables, fresh in cases:
            for who in order:
                stack = "b%s" % who
                if fresh:  # a create starts from nothing; the others from the case before
                    remove(stack)
                waited = quiet()
                began = time.time()
                if who == "ours":
                    proc, seconds = ours(lab, stack, files, variables)
                else:
                    proc, seconds = cli(lab, stack, cdir, cname, variables)
                if proc.returncode != 0:
                    sys.exit("%s (%s) failed:\n%s" % (title, who, proc.stdout[-3000:]))
                figures[title][who].append(seconds)
                done = swarm_completed(stack, began)
                if done is not None:
                    figures[title][who + "_done"].append(done - began)
                if who == "ours":
                    found = re.search(r"stack bours: converged after ([\d.]+)s", proc.stdout)
                    if found:
                        figures[title]["tracking"].append(float(found.group(1)))
                    first = proc.first_progress()
                    if first is not None:
                        figures[title]["first"].append(first)
                    figures[title]["changed"].append(proc.changed())
                print("  run %d/%d %-38s %-4s %6.1fs  (lab at rest after %.0fs, load %.1f)" % (
                    run + 1, RUNS, title, who, seconds, waited, os.getloadavg()[0]), flush=True)
        remove("bours")
        remove("bcli")

    # The no-op once more with our stack alone on the lab: side by side, both sides' 40 services
    # (healthchecks every 2 s) keep the 2 cores' load near 20, and the no-op pays for it.
    alone = {"ours": [], "changed": []}
    remove("bcli")
    remove("bours")
    noop = cases[-1]
    for attempt in range(RUNS + 1):
        quiet()
        proc, seconds = ours(lab, "bours", noop[1], noop[3])
        if proc.returncode != 0:
            sys.exit("%s, alone (ours) failed:\n%s" % (noop[0], proc.stdout[-3000:]))
        if attempt:  # the first run creates the stack
            alone["ours"].append(seconds)
            alone["changed"].append(proc.changed())
            print("  run %d/%d %-38s ours %6.1fs  (load %.1f)" % (
                attempt, RUNS, noop[0] + ", ours alone", seconds, os.getloadavg()[0]), flush=True)
    remove("bours")

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

    rows = []
    for title, *_case in cases:
        fig = figures[title]
        o, c = statistics.median(fig["ours"]), statistics.median(fig["cli"])
        row = {"case": title, "ours_wall_s": round(o, 2), "cli_wall_s": round(c, 2),
               "tracking_s": round(statistics.median(fig["tracking"]), 2) if fig["tracking"] else None,
               "changed": any(fig["changed"]),
               "first_progress_s": round(max(fig["first"]), 2) if fig["first"] else None}
        if len(fig["ours_done"]) == len(fig["ours"]) and len(fig["cli_done"]) == len(fig["cli"]):
            # An update: both measured to the same point, Swarm's own UpdateStatus "completed";
            # what our run took past it (our monitor window, the result) apart.
            od, cd = statistics.median(fig["ours_done"]), statistics.median(fig["cli_done"])
            row.update(measured_to="swarm-completed", ours_s=round(od, 2), cli_s=round(cd, 2),
                       ours_after_completed_s=round(o - od, 2), cli_after_completed_s=round(c - cd, 2))
        else:  # a create or a no-op: no update for Swarm to complete; the runs' wall times
            row.update(measured_to="exit", ours_s=round(o, 2), cli_s=round(c, 2))
        row["ratio"] = round(row["ours_s"] / row["cli_s"], 3)
        rows.append(row)
    rows.append({"case": noop[0] + ", ours alone", "ours_wall_s": round(statistics.median(alone["ours"]), 2),
                 "cli_wall_s": None, "ours_s": round(statistics.median(alone["ours"]), 2), "cli_s": None,
                 "ratio": None, "measured_to": "exit", "tracking_s": None, "changed": any(alone["changed"]),
                 "first_progress_s": None})
    rows.append({"case": "broken release, rollback", "ours_s": round(seconds, 2), "cli_s": None, "ratio": None,
                 "measured_to": "exit",
                 "tracking_s": rollback, "changed": True, "first_progress_s": None, "failure_known_s": detect})
    BENCH_JSON.parent.mkdir(parents=True, exist_ok=True)
    BENCH_JSON.write_text(json.dumps(rows, indent=2) + "\n")

    print()
    print("bench-deploy: %d run(s) per case, wall seconds (median), ours / docker stack deploy --detach=false" % RUNS)
    print("%-38s %6s %6s %7s %16s %9s %9s %8s %8s" % (
        "case", "ours", "cli", "ratio", "measured to", "ours exit", "cli exit", "tracking", "1st line"))

    def number(value, form):
        return "-" if value is None else form % value

    for row in rows[:-1]:
        print("%-38s %6.1f %6s %7s %16s %9.1f %9s %8s %8s" % (
            row["case"], row["ours_s"], number(row["cli_s"], "%.1f"), number(row["ratio"], "%.2fx"),
            row["measured_to"], row["ours_wall_s"], number(row["cli_wall_s"], "%.1f"), "-" if row["tracking_s"] is None else "%.1f" % row["tracking_s"],
            "-" if row["first_progress_s"] is None else "%.2fs" % row["first_progress_s"]))
    print("(ours/cli: seconds from the start of each command to the point named; for an update that is")
    print(" Swarm's UpdateStatus 'completed' of its last service, for a create or a no-op the command's exit.")
    print(" ours exit / cli exit: wall times of ansible-playbook (start-up, checks, apply, tracking) and of")
    print(" docker stack deploy --detach=false. 1st line: the slowest run, from our 'applying' line to the")
    print(" first per-service progress line.)")
    for row in rows[:-1]:
        if row["measured_to"] == "swarm-completed":
            print("  %s: ours exited %+.1f s after Swarm completed (our monitor window and the result), the CLI "
                  "%+.1f s" % (row["case"], row["ours_after_completed_s"], row["cli_after_completed_s"]))
    print()
    print("broken release (healthcheck never passes), ours: failure known after %s s of tracking, rollback "
          "completed in %s s after that; whole run %.1f s" % (detect, rollback, seconds))
    print()
    print("targets:")
    for row in rows[:-1]:
        if "no-op redeploy" in row["case"]:
            ok = row["ours_s"] < 5 and not row["changed"]
            print("  %-40s under 5 s with changed=0: %s (%.1f s, changed=%s)" % (
                row["case"], "met" if ok else "MISSED", row["ours_s"], row["changed"]))
        else:
            verdict = "met" if row["ratio"] <= 1.0 else "MISSED"
            print("  %-40s ratio <= 1.0: %s (%.2f, to %s; wall %.2f)" % (
                row["case"], verdict, row["ratio"], row["measured_to"], row["ours_wall_s"] / row["cli_wall_s"]))
            first = row["first_progress_s"]
            print("  %-40s first progress line within 2 s of the apply: %s (%s)" % (
                "", "met" if first is not None and first <= 2 else "MISSED", "-" if first is None else "%.2f s" % first))
    if rollback is not None:
        target = MONITOR + 10
        print("  rollback completed within the monitor window + 10 s (%d s): %s (%.1f s)"
              % (target, "met" if rollback <= target else "MISSED", rollback))
    print("wrote %s" % BENCH_JSON.relative_to(ROOT))


if __name__ == "__main__":
    main()
