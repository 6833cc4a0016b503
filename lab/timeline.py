"""Timeline PNG of a load-generator run: what the clients saw, second by second, during a deploy.

Panels share the time axis: requests/s (ok and failed), latency (p50/p99), and which version answered
(stacked share). Events such as "rollout start" or "switch" are vertical lines across all panels.

    timeline.plot(run, "deploy.png", "rolling update 1.0.0 -> 2.0.0", events=[(12.3, "rollout start")])
    python lab/timeline.py run.json deploy.png --event 12.3="rollout start"
"""
import argparse
import math
import json
import sys

import matplotlib

matplotlib.use("Agg")   # files only: no display on the lab machines
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

import loadgen  # noqa: E402


def _series_and_events(run_or_series, step):
    """A Run, a Run.to_dict() (e.g. loaded from JSON) or a series list -> (series, events of the run)."""
    if isinstance(run_or_series, loadgen.Run):
        return run_or_series.series(step), list(run_or_series.events)
    if isinstance(run_or_series, dict):
        run = loadgen.Run.from_dict(run_or_series)
        return run.series(step), list(run.events)
    return list(run_or_series), []


def _events(events):
    if not events:
        return []
    items = events.items() if isinstance(events, dict) else events
    out = []
    for a, b in items:
        # (time, label) or {label: time}
        t, label = (a, b) if isinstance(a, (int, float)) else (b, a)
        out.append((float(t), str(label)))
    return sorted(out)


def plot(run_or_series, path, title=None, events=None, step=1.0):
    """Write the timeline PNG to `path` and return the path. events: [(seconds, label)] or {label: seconds},
    added to the events the run recorded with LoadGenerator.mark()."""
    series, run_events = _series_and_events(run_or_series, step)
    marks = _events(run_events) + _events(events)
    marks.sort()
    if series:
        width = series[0].get("step", step)
    else:
        width = step
    t = [b["t"] for b in series]
    per_s = 1.0 / width

    fig, (ax_rate, ax_lat, ax_ver) = plt.subplots(3, 1, sharex=True, figsize=(11, 8),
                                                  gridspec_kw={"height_ratios": [3, 2, 2]})
    ok = [b["ok"] * per_s for b in series]
    failed = [b["failed"] * per_s for b in series]
    ax_rate.bar(t, ok, width=width, align="edge", color="#2e7d32", label="ok")
    ax_rate.bar(t, failed, width=width, align="edge", bottom=ok, color="#c62828", label="failed")
    ax_rate.set_ylabel("requests/s")
    # Headroom above the bars for the event labels and the legend.
    ax_rate.set_ylim(0, max([o + f for o, f in zip(ok, failed)] + [1.0]) * 1.3)
    ax_rate.legend(loc="upper right", ncol=2, fontsize="small")

    mid = [x + width / 2 for x in t]
    p50 = [b["p50_ms"] if b["p50_ms"] is not None else float("nan") for b in series]
    p99 = [b["p99_ms"] if b["p99_ms"] is not None else float("nan") for b in series]
    ax_lat.plot(mid, p99, color="#ef6c00", marker=".", label="p99")
    ax_lat.plot(mid, p50, color="#1565c0", marker=".", label="p50")
    if any(not math.isnan(v) and v > 0 for v in p50 + p99):   # log scale only with something to draw
        ax_lat.set_yscale("log")
    ax_lat.set_ylabel("latency ms")
    ax_lat.legend(loc="upper left", fontsize="small")

    versions = sorted({v for b in series for v in b["versions"]})
    if versions:
        shares = [[b["versions"].get(v, 0.0) * 100 for b in series] for v in versions]
        # Steps, not slopes: a bucket's share holds for the whole bucket.
        ax_ver.stackplot(t + [t[-1] + width], [s + s[-1:] for s in shares], labels=versions, step="post",
                         alpha=0.85)
        ax_ver.legend(loc="upper left", fontsize="small", title="version")
    ax_ver.set_ylim(0, 100)
    ax_ver.set_ylabel("answered by %")
    ax_ver.set_xlabel("seconds since start of load")

    for x, label in marks:
        for ax in (ax_rate, ax_lat, ax_ver):
            ax.axvline(x, color="#424242", linestyle="--", linewidth=1)
        ax_rate.annotate(label, (x, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2),
                         textcoords="offset points", rotation=90, va="top", fontsize="small")
    if t:
        ax_ver.set_xlim(0, t[-1] + width)
    for ax in (ax_rate, ax_lat, ax_ver):
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description="Plot a run written by lab/loadgen.py --out.")
    ap.add_argument("run", help="run JSON (loadgen.py --out)")
    ap.add_argument("png", help="PNG to write")
    ap.add_argument("--title")
    ap.add_argument("--event", action="append", default=[], metavar="SECONDS=LABEL")
    args = ap.parse_args(argv)
    events = []
    for item in args.event:
        at, sep, label = item.partition("=")
        if not sep:
            ap.error("--event takes SECONDS=LABEL, got %r" % item)
        events.append((float(at), label))
    with open(args.run) as f:
        run = json.load(f)
    print(plot(run, args.png, args.title, events=events))
    return 0


if __name__ == "__main__":
    sys.exit(main())
