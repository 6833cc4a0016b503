"""make bench-provision: wall time to turn bare lab hosts into a swarm.

For each cluster size: a fresh lab (not timed), then provision.yml from bare
hosts (timed), then the no-op re-run (timed); repeated BENCH_RUNS times and
reported as median, min and max. Figures, not a test: it prints, it asserts
only that every run succeeded and the re-run changed nothing.
"""
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = str(ROOT / ".venv" / "bin" / "python")
PLAYBOOK = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "playbooks/provision.yml"]
SIZES = [(int(s.split("+")[0]), int(s.split("+")[1]))
         for s in os.environ.get("BENCH_SIZES", "1+2 3+2").split()]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TARGETS = {"full": 180.0, "noop": 30.0}  # seconds, from the issue


def run(cmd, **kw):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(cmd, check=False, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, **kw)


def timed_provision():
    start = time.monotonic()
    proc = run(PLAYBOOK)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("provision failed:\n" + proc.stdout[-4000:])
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", proc.stdout))
    return elapsed, changed


def main():
    results = []
    for managers, workers in SIZES:
        hosts = managers + workers
        full, noop = [], []
        for i in range(RUNS):
            run([PY, "lab/labctl.py", "destroy"])
            up = run([PY, "lab/labctl.py", "up", "--hosts", str(hosts), "--managers", str(managers)])
            if up.returncode != 0:
                sys.exit("lab up failed:\n" + up.stdout)
            t_full, changed_full = timed_provision()
            t_noop, changed_noop = timed_provision()
            if changed_noop:
                sys.exit("the re-run on %d hosts changed %d things: not idempotent" % (hosts, changed_noop))
            full.append(t_full)
            noop.append(t_noop)
            print("  %d hosts run %d/%d: provision %.1fs (%d changes), no-op %.1fs"
                  % (hosts, i + 1, RUNS, t_full, changed_full, t_noop), flush=True)
        results.append((managers, workers, full, noop))
    run([PY, "lab/labctl.py", "destroy"])

    print()
    print("bench-provision: %d runs per size, seconds (median [min-max])" % RUNS)
    print("%-24s %-22s %-22s %s" % ("cluster", "from bare hosts", "no-op re-run", "no-op / full"))
    for managers, workers, full, noop in results:
        fm, nm = statistics.median(full), statistics.median(noop)
        print("%-24s %-22s %-22s %.2f" % (
            "%d hosts (%dm + %dw)" % (managers + workers, managers, workers),
            "%.1f [%.1f-%.1f]" % (fm, min(full), max(full)),
            "%.1f [%.1f-%.1f]" % (nm, min(noop), max(noop)), nm / fm))
    for managers, workers, full, noop in results:
        fm, nm = statistics.median(full), statistics.median(noop)
        print("target %d hosts: provision < %.0fs: %s; no-op < %.0fs: %s" % (
            managers + workers, TARGETS["full"], "met" if fm < TARGETS["full"] else "MISSED",
            TARGETS["noop"], "met" if nm < TARGETS["noop"] else "MISSED"))


if __name__ == "__main__":
    main()
