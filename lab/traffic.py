"""What clients see while something happens to the swarm: load through the edge proxy, around an action.

    seen = under_load(url, host, action, rate=300, min_requests=10000, old="1.0.0", new="2.0.0")
    seen.row     -> the bench's figures (requests, failed, conn_errors, non_2xx, p50_ms, p99_ms,
                    rollout_s, switch_ms, gap_ms, versions)
    seen.run     -> every request (lab/loadgen.py), for the timeline PNG

Load starts `lead` seconds before the action, keeps a constant rate while it
runs, and stops `tail` seconds after it, once at least min_requests were sent
(bounded: at most max_seconds in all).
"""
import time

from loadgen import LoadGenerator


class Seen:
    def __init__(self, run, summary, action_result, rollout_s):
        self.run = run
        self.summary = summary
        self.result = action_result
        self.row = {
            "requests": summary["requests"], "failed": summary["failed"], "conn_errors": summary["conn_errors"],
            "non_2xx": summary["non_2xx"], "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
            "rollout_s": round(rollout_s, 1), "switch_ms": summary.get("switch_ms"), "gap_ms": summary.get("gap_ms"),
            "versions": summary["versions"],
        }


def under_load(url, host, action, rate=300, min_requests=10000, old=None, new=None, lead=3.0, tail=3.0,
               max_seconds=300, timeout=5.0, max_connections=512):
    gen = LoadGenerator(url, rate, duration=max_seconds, requests=int(rate * max_seconds), host_header=host,
                        timeout=timeout, max_connections=max_connections)
    gen.start()
    try:
        time.sleep(lead)
        gen.mark("deploy start")
        started = time.monotonic()
        result = action()
        rollout_s = time.monotonic() - started
        gen.mark("deploy end")
        time.sleep(tail)
        # At least min_requests in the run, whatever the action's length.
        needed = min_requests / float(rate) - (time.monotonic() - started) - lead
        if needed > 0:
            time.sleep(needed)
    finally:
        gen.stop()
    run = gen.result(timeout=timeout + 30)
    seen = Seen(run, run.summary(old=old, new=new), result, rollout_s)
    for line in failure_lines(run):
        print(line)  # pytest shows it with a failing test: when, on which connection, after how long idle
    return seen


def failure_lines(run, limit=20):
    """One line per failed request: its time from the marks, and its connection's history before it."""
    marks = list(run.events)
    lines = []
    for rec in [r for r in run.records if not r.ok][:limit]:
        before = [r for r in run.records if r.conn is not None and r.conn == rec.conn and r is not rec
                  and r.end is not None and r.end <= rec.start]
        idle = rec.start - max(r.end for r in before) if before else None
        at = ", ".join("%+.3fs from %s" % (rec.start - t, label) for t, label in marks)
        wall = time.strftime("%H:%M:%S", time.gmtime((run.started_at or 0) + rec.start))
        lines.append("failed request at %.3fs (%s UTC; %s): %s %s, connection %s, %d earlier request(s) on it%s, "
                     "%.1f ms" % (rec.start, wall, at or "no marks", rec.kind, rec.error or "status %s" % rec.status,
                                  rec.conn, len(before), ", idle %.3fs before it" % idle if idle is not None else "",
                                  ((rec.end or rec.start) - rec.start) * 1000.0))
    return lines


def table(rows, columns=("scenario", "requests", "failed", "conn_errors", "non_2xx", "p50_ms", "p99_ms", "rollout_s",
                         "switch_ms", "gap_ms", "versions")):
    """Rows as a fixed-width text table."""
    def cell(value):
        if isinstance(value, dict):
            return ",".join("%s:%s" % kv for kv in sorted(value.items()))
        if isinstance(value, float):
            return "%.1f" % value
        return "-" if value is None else str(value)
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells)
    return "\n".join(lines)
