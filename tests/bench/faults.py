"""make bench-faults: what a deploy does, and what clients behind the edge proxy see, when something fails.

On one lab swarm, each fault is injected by this script while an open-loop load
(lab/loadgen.py: constant rate, keep-alive, every request recorded) goes from this
machine to the edge proxy, in front of the example's web service:

  two-deploys-at-once  a second run of the stack starts while one is rolling out: it is refused
                       before any change, naming the first; the first completes.
  manager-api-cut      the manager's Docker API is gone for 8 s mid-rollout (its socket moved aside):
                       tracking retries, the rollout completes. recovery_s: the time without an answer.
  playbook-killed      ansible-playbook is SIGKILLed mid-rollout; the next run breaks the lock it left
                       and tracks the rollout it left to its end. recovery_s: from the kill to that end.
  worker-paused        a worker host is frozen (docker pause) while the stack runs: Swarm marks it down
                       and reschedules its tasks. recovery_s: from the pause until web's 3 replicas run
                       healthy on the other hosts.

Prints the table, writes .build/bench/faults.json, a list of {fault, outcome, requests,
failed_requests, recovery_s, message} (outcome: completed, rolled-back, refused, recovered), and
exits non-zero when a fault did not end as it should, or a client saw a failed request.

  FB_RATE (default 200) requests/s; FB_ONLY=name,name runs only these faults (their rows replace
  those of the same name in the existing JSON).
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
from labenv import (  # noqa: E402
    deploy_edge, edge_url, finish, lab_hosts, on_host, on_manager, prepare, remove_stack, sh, start_deploy, wait_for,
    write_deploy_vars)
from traffic import table, under_load  # noqa: E402

RATE = int(os.environ.get("FB_RATE", "200"))
ONLY = set(n.strip() for n in os.environ.get("FB_ONLY", "").split(",") if n.strip())
OUT = ROOT / ".build" / "bench"
LOG_DIR = ROOT / ".build" / "logs" / "bench-faults"
STACK = "fb"
HOST = "fb.lab"
BASE = [ROOT / "examples" / "stack" / "demo.yml", ROOT / "examples" / "stack" / "edge.yml"]
SLOW = ROOT / "tests" / "lab" / "compose" / "web-slow-update.yml"
SOCKET = "/var/run/docker.sock"
FIELDS = ("fault", "outcome", "requests", "failed_requests", "recovery_s", "message")


def vars_file(lab, name, version, files, **more):
    return write_deploy_vars(LOG_DIR / ("vars-%s.json" % name), lab, STACK, files,
                             {"WEB_VERSION": version, "EDGE_HOST": HOST}, **more)


def deploy(lab, name, version, files=None, *extra):
    proc = sh(["ansible-playbook", "playbooks/deploy.yml", "-e", "@%s" % vars_file(lab, name, version, files or BASE)]
              + list(extra))
    (LOG_DIR / ("deploy-%s.log" % name)).write_text(proc.stdout)
    return proc.returncode, proc.stdout


def background(lab, name, version, files=None):
    return start_deploy(vars_file(lab, name, version, files or BASE + [SLOW]), LOG_DIR / ("deploy-%s.log" % name))


def web():
    out = on_manager("docker service inspect %s_web" % STACK).stdout
    return json.loads(out)[0] if out.startswith("[") else {}


def versions(lab):
    """(the version web runs now, the other one): each fault releases the other, whichever ran before it."""
    image = web().get("Spec", {}).get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
    now = "2.0.0" if image.endswith(lab["digests"]["conductor/demo-app:2.0.0"]) else "1.0.0"
    return now, "1.0.0" if now == "2.0.0" else "2.0.0"


def rolling_to(lab, version):
    """A condition: web's spec is on `version` (the run's update has started; Swarm's "updating" alone can
    still be the last run's, whose monitor window outlasts its tracking)."""
    digest = lab["digests"]["conductor/demo-app:%s" % version]
    return lambda: web().get("Spec", {}).get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "").endswith(
        digest)


def lock_held():
    return on_manager("docker config inspect conductor-lock-%s >/dev/null 2>&1" % STACK).returncode == 0


def line(out, pattern):
    found = re.search(pattern, out)
    return found.group(0).strip() if found else None


# --- the faults: each returns (outcome, recovery_s, message, expected outcome) ---------------------

def two_deploys_at_once(lab):
    now, new = versions(lab)
    first = background(lab, "two-first", new)
    wait_for("the first run's lock", lock_held)
    code, out = deploy(lab, "two-second", now)
    first_code, first_out = finish(first)
    if first_code != 0:
        return "failed", None, "the first run failed: %s" % line(first_out, r"msg.{0,200}"), "refused"
    refusal = line(out, r"nothing was changed: stack \S+ is being deployed by .+? \(run \w+\)")
    if code == 0 or not refusal:
        return "completed", None, "the second run was not refused", "refused"
    return "refused", None, refusal + "; the first run completed", "refused"


def manager_api_cut(lab):
    new = versions(lab)[1]
    run = background(lab, "api-cut", new)
    wait_for("the update to start", rolling_to(lab, new))
    cut = on_manager("mv {s} {s}.cut && sleep 8 && mv {s}.cut {s}".format(s=SOCKET))
    if cut.returncode != 0:
        raise RuntimeError("could not cut the manager's API: " + cut.stdout)
    code, out = finish(run)
    back = re.search(r"the manager answers again after (\d+)s", out)
    outcome = "completed" if code == 0 else "rolled-back" if "rolled back" in out else "failed"
    return outcome, float(back.group(1)) if back else None, (
        line(out, r"lost contact with the manager \(.{0,60}") or "no poll failed") + (
        " ... " + back.group(0) if back else ""), "completed"


def playbook_killed(lab):
    new = versions(lab)[1]
    killed = background(lab, "killed", new)
    wait_for("the update to start", rolling_to(lab, new))
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    kill_at = time.monotonic()
    code, out = deploy(lab, "killed-rerun", new, BASE + [SLOW], "-e", "stack_lock_break=true")
    resumed = "is still rolling out (an earlier run's): tracking it" in out
    outcome = "recovered" if code == 0 and resumed else "completed" if code == 0 else "failed"
    return outcome, round(time.monotonic() - kill_at, 1), "%s; %s" % (
        line(out, r"broke the lock of [^\n]*") or "no lock broken",
        "the rerun tracked the rollout the killed run left" if resumed else "the rerun found no rollout in progress"
    ), "recovered"


def healthy_off(host):
    """web's tasks running healthy on the lab hosts other than `host` (their engines, from this machine)."""
    count = 0
    for other in [h for h in lab_hosts() if h != host]:
        out = on_host(other, "docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=%s_web" % STACK,
                      "--filter", "health=healthy").stdout
        count += len(out.split())
    return count


def worker_paused(lab):
    worker = lab_hosts()[-1]
    paused_at = time.monotonic()
    subprocess.run(["docker", "pause", worker], check=True, capture_output=True)
    try:
        wait_for("3 healthy web tasks off %s" % worker, lambda: healthy_off(worker) >= 3, timeout=180)
        back_at = time.monotonic()
    finally:
        subprocess.run(["docker", "unpause", worker], check=False, capture_output=True)
    wait_for("%s ready again" % worker, lambda: on_manager(
        "docker node inspect %s --format '{{.Status.State}}'" % worker).stdout.strip() == "ready", timeout=120)
    return ("recovered", round(back_at - paused_at, 1),
            "%s paused: 3 healthy web tasks on the other hosts after %.1fs" % (worker, back_at - paused_at), "recovered")


FAULTS = [("two-deploys-at-once", two_deploys_at_once), ("manager-api-cut", manager_api_cut),
          ("playbook-killed", playbook_killed), ("worker-paused", worker_paused)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    lab = prepare(LOG_DIR, edge=True)
    deploy_edge(lab, LOG_DIR)
    remove_stack(STACK)
    code, out = deploy(lab, "setup", "1.0.0")
    if code != 0:
        sys.exit("bench-faults: the first deploy failed:\n" + out[-3000:])
    time.sleep(3)
    rows, missed = [], []
    for name, fault in FAULTS:
        if ONLY and name not in ONLY:
            print("\n== %s: skipped (FB_ONLY)" % name, flush=True)
            continue
        print("\n== %s (%d req/s through the edge proxy)" % (name, RATE), flush=True)
        seen = under_load(edge_url(), HOST, lambda: fault(lab), rate=RATE, min_requests=RATE * 20)
        outcome, recovery_s, message, expected = seen.result
        row = {"fault": name, "outcome": outcome, "requests": seen.row["requests"],
               "failed_requests": seen.row["failed"], "recovery_s": recovery_s, "message": message}
        rows.append(row)
        if outcome != expected or row["failed_requests"]:
            missed.append("%s (%s, expected %s; %d failed requests)" % (
                name, outcome, expected, row["failed_requests"]))
        print(table([row], columns=FIELDS), flush=True)
    remove_stack(STACK)

    path = OUT / "faults.json"
    written = rows
    if ONLY and path.exists():
        fresh = dict((r["fault"], r) for r in rows)
        written = [r for r in json.loads(path.read_text()) if r["fault"] not in fresh] + rows
    path.write_text(json.dumps(written, indent=1) + "\n")
    print("\nbench-faults: %d req/s through the edge proxy" % RATE)
    print(table(rows, columns=FIELDS))
    print("written: %s" % path)
    if missed:
        sys.exit("bench-faults: not as it should be: %s" % "; ".join(missed))


if __name__ == "__main__":
    main()
