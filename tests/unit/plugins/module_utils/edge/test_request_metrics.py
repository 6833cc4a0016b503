from pathlib import Path

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.edge.request_metrics import (
    BackendCounters, LatencyHistogram, MetricsStore, classify, parse_log_line)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edge"


def rec(backend="be_web_green", status=200, term="--", ta=5, tr=4, tc=0):
    return {"backend": backend, "server": "t_x", "status": status, "term": term, "ta": ta, "tr": tr, "tc": tc}


def test_recorded_log_lines():
    records = [parse_log_line(line.encode()) for line in (FIXTURES / "log_lines.txt").read_text().splitlines()]
    assert records[0] is None  # HAProxy's own "Server ... is DOWN" message
    records = [r for r in records if r]
    assert records[0] == {"backend": "be_demo_web_blue", "server": "t_blue1", "status": 200, "term": "--",
                          "ta": 0, "tr": 0, "tc": 0, "tt": 0}
    totals = {}
    for record in records:
        totals.setdefault(record["backend"], BackendCounters()).add(record)
    figures = dict((b, c.as_dict()) for b, c in totals.items())
    assert figures["be_demo_web_green"]["status_5xx"] == 7 and figures["be_demo_web_green"]["conn_errors"] == 0
    assert figures["be_demo_web_blue"]["requests"] == figures["be_demo_web_blue"]["status_2xx"] == 6
    assert figures["be_demo_web_blue"]["latency_ms"]["p99"] == 1000  # the /slow request
    assert figures["be_demo_web_green"]["latency_ms"]["p99"] == 1
    assert figures["be_conductor_no_route"]["status_4xx"] == 1
    assert figures["fe_http"]["status_4xx"] == 1  # denied in the frontend: no backend


@pytest.mark.parametrize("record, expected", [
    (rec(status=200), ("2xx", False, False)),
    (rec(status=500), ("5xx", False, False)),               # the application's own 500
    (rec(status=503), ("5xx", False, False)),               # the application's own 503
    (rec(status=503, term="SC", tr=-1, tc=-1), ("5xx", True, False)),  # connection refused after retries
    (rec(status=503, term="sQ", tr=-1, tc=-1), ("5xx", True, False)),  # queue timeout
    (rec(status=503, term="SC", tr=-1), ("5xx", True, False)),  # no server available
    (rec(status=502, term="SH", tr=-1), ("5xx", True, False)),  # server closed before headers
    (rec(status=504, term="sH", tr=-1), ("5xx", True, False)),  # server timeout
    (rec(status=-1, term="SD"), ("none", True, False)),
    (rec(status=-1, term="CD"), ("none", False, True)),     # the client went away
    (rec(status=404, term="LR"), ("4xx", False, False)),
])
def test_classify(record, expected):
    assert classify(record) == expected


def test_log_line_parsing_edge_cases():
    assert parse_log_line("CEv1 be_a t_1 200 -- 3 2") is None  # truncated
    # The same format through a syslog socket (rfc3164 header) parses the same.
    assert parse_log_line("<134>Dec  1 08:00:00 haproxy[1]: CEv1 be_a t_1 200 -- 3 2 0 9")["tt"] == 9
    assert parse_log_line(b"garbage") is None
    assert parse_log_line("<134>x haproxy[1]: CEv1 be_a <NOSRV> -1 CR 5 -1 -1")["status"] == -1
    line = parse_log_line("<134>Dec  1 09:00:00 haproxy[7]: CEv1 be_a t_1 200 -- 12 10 1 5012")
    assert (line["ta"], line["tr"], line["tc"], line["tt"]) == (12, 10, 1, 5012)


def test_histogram_percentiles_are_bucket_upper_bounds():
    hist = LatencyHistogram()
    assert hist.percentile(50) is None
    for ms in [1] * 50 + [7] * 40 + [95] * 9 + [2500]:
        hist.add(ms)
    assert hist.total() == 100
    assert hist.percentile(50) == 1
    assert hist.percentile(51) == 8   # 7 ms falls in the (6, 8] bucket
    assert hist.percentile(90) == 8
    assert hist.percentile(91) == 100
    assert hist.percentile(99) == 100
    assert hist.percentile(100) == 2500
    huge = LatencyHistogram()
    huge.add(10 ** 6)
    assert huge.percentile(50) == 60000  # beyond the last bound: reported as that bound


def test_counters_merge_and_rates():
    a, b = BackendCounters(), BackendCounters()
    for _n in range(9):
        a.add(rec(status=200, ta=10))
    a.add(rec(status=500, ta=10))
    b.add(rec(status=503, term="SC", ta=3000, tr=-1, tc=-1))
    a.merge(b)
    out = a.as_dict()
    assert (out["requests"], out["status_2xx"], out["status_5xx"], out["conn_errors"]) == (11, 9, 2, 1)
    assert out["error_rate_5xx"] == round(2 / 11.0, 6)
    assert out["latency_ms"] == {"p50": 10, "p90": 10, "p99": 3000}
    assert BackendCounters().as_dict()["error_rate_5xx"] == 0.0


def test_store_windows_and_expiry():
    store = MetricsStore(bucket_seconds=1.0, keep_seconds=10.0)
    store.record(rec(status=200), 100.2)
    store.record(rec(status=500), 101.7)
    store.record(rec(backend="be_web_blue", status=200), 102.1)
    assert store.since(101.5)["be_web_green"].requests == 1
    assert store.since(100.0)["be_web_green"].requests == 2
    assert set(store.since(102.0)) == {"be_web_blue"}
    assert store.since(200.0) == {}
    store.expire(111.5)
    assert store.since(0)["be_web_green"].requests == 1
