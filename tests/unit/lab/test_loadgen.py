"""lab/loadgen.py and lab/timeline.py against real servers on 127.0.0.1 (see loadgen_servers.py)."""
import json
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import loadgen
import timeline
from loadgen import LoadGenerator, Record, TargetNotAllowed
from loadgen_servers import AppServer, ClosingServer, RawServer, free_port

LOADGEN = Path(loadgen.__file__)
SERVERS = Path(__file__).with_name("loadgen_servers.py")


def test_schedule_is_open_loop_while_the_server_stalls():
    with AppServer() as srv:
        srv.gate.clear()   # nothing is answered for the first 2 s
        threading.Timer(2.0, srv.gate.set).start()
        run = LoadGenerator(srv.url, 50, duration=3, mix={"get": 1}).run()
    s = run.summary()
    assert s["requests"] == 150 and s["ok"] == 150
    # The stall happened: the first answer came after it...
    assert min(r.end for r in run.records) >= 1.9
    # ...and requests kept starting on schedule meanwhile, each on a connection of its own.
    assert sum(1 for r in run.records if r.start < 2.0) >= 99
    assert s["max_lag_ms"] < 100
    assert run.connections >= 95


def test_keep_alive_connections_are_reused():
    with AppServer() as srv:
        run = LoadGenerator(srv.url, 200, requests=400, mix={"get": 1}).run()
        server_connections = srv.connections
    assert run.summary()["ok"] == 400
    assert server_connections <= 10
    assert run.connections == server_connections
    assert len({r.conn for r in run.records}) == server_connections


def test_a_connection_idle_past_the_idle_timeout_is_given_up_not_reused():
    # 5 requests 0.25 s apart: idle 0.25 s between them.
    with AppServer() as srv:
        kept = LoadGenerator(srv.url, 4, requests=5, mix={"get": 1}, idle_timeout=1.0).run()
        given_up = LoadGenerator(srv.url, 4, requests=5, mix={"get": 1}, idle_timeout=0.1).run()
    assert kept.summary()["ok"] == given_up.summary()["ok"] == 5
    assert kept.connections == 1
    assert given_up.connections == 5 and len({r.conn for r in given_up.records}) == 5
    assert given_up.config["idle_timeout"] == 0.1
    with pytest.raises(ValueError, match="idle_timeout"):
        LoadGenerator("http://127.0.0.1:1", 1, idle_timeout=0)


def test_server_closing_connections_is_recorded_and_reconnected():
    with ClosingServer(answers=3) as srv:
        run = LoadGenerator(srv.url, 50, requests=100, mix={"get": 1}).run()
        server_connections = srv.connections
    s = run.summary()
    assert s["requests"] == 100
    # FIN on odd connections, RST on even ones: both classes show up, nothing else.
    assert set(s["errors"]) == {"eof", "reset"}
    failed = [r for r in run.records if not r.ok]
    # Each connection fails once and is then dropped, never reused.
    assert len({r.conn for r in failed}) == len(failed)
    assert s["ok"] >= 75 and len(failed) >= 20
    assert server_connections == run.connections >= 20
    first_failure = min(r.end for r in failed)
    assert any(r.ok and r.start > first_failure for r in run.records)
    assert all(r.version == "1.0.0" for r in run.records if r.ok)


def test_refused_connections_are_all_recorded():
    run = LoadGenerator("http://127.0.0.1:%d" % free_port(), 100, requests=50).run()
    s = run.summary()
    assert s["requests"] == 50
    assert s["failed"] == s["conn_errors"] == 50
    assert s["errors"] == {"connect": 50}
    assert all(r.status is None and r.end >= r.start for r in run.records)
    assert run.connections == 0


def test_timeout_is_recorded_and_does_not_wait_for_the_answer():
    with AppServer(slow_seconds=2.0) as srv:
        t = time.monotonic()
        # One request every 0.33 s, each given up after 0.2 s: they never overlap.
        run = LoadGenerator(srv.url, 3, requests=3, mix={"slow": 1}, timeout=0.2).run()
        wall = time.monotonic() - t
        server_connections = srv.connections
    assert [r.error for r in run.records] == ["timeout"] * 3
    assert all(0.19 <= r.end - r.start < 0.5 for r in run.records)
    assert wall < 1.5
    # A timed-out connection still has an answer coming: it is closed, not reused.
    assert server_connections == run.connections == 3


def test_pool_is_bounded_and_lag_is_reported():
    with AppServer() as srv:
        srv.gate.clear()
        threading.Timer(1.0, srv.gate.set).start()
        run = LoadGenerator(srv.url, 20, requests=20, mix={"get": 1}, max_connections=5).run()
        server_connections = srv.connections
    s = run.summary()
    assert s["ok"] == 20
    assert server_connections == run.connections == 5
    # Requests 6.. waited for a connection: the run says it could not hold the rate.
    assert s["max_lag_ms"] >= 500 and s["held_rate"] is False


def test_protocol_error():
    with RawServer(b"HELLO THERE\r\n\r\n") as srv:
        run = LoadGenerator(srv.url, 20, requests=3).run()
    assert [r.error for r in run.records] == ["protocol"] * 3


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 21\r\n",
                                  b"HTTP/1.0 200 OK\r\n"])
def test_connection_close_answers(head):
    # The demo app's shape: one answer per connection (the second without a length: body until EOF).
    with RawServer(head + b"\r\nversion=9.9.9 host=x\n") as srv:
        run = LoadGenerator(srv.url, 20, requests=4, mix={"get": 1}).run()
    assert [(r.status, r.version, r.bytes) for r in run.records] == [(200, "9.9.9", 21)] * 4
    assert run.connections == 4


def test_post_body_arrives_intact():
    with AppServer() as srv:
        gen = LoadGenerator(srv.url, 50, requests=20, mix={"post": 1})
        run = gen.run()
        bodies = list(srv.bodies)
    assert len(gen.body) == 256 and json.loads(gen.body)
    assert bodies == [gen.body] * 20
    assert all(r.status == 200 and r.bytes == 256 and r.kind == "post" for r in run.records)


@pytest.mark.parametrize("header_version, path", [(True, "/"), (False, "/"), (False, "/chunked")])
def test_version_from_header_or_body(header_version, path):
    with AppServer(version="3.1.4", header_version=header_version) as srv:
        run = LoadGenerator(srv.url, 50, requests=5, mix={"get": 1}, paths={"get": path}).run()
    assert run.summary()["versions"] == {"3.1.4": 5}
    assert all(r.bytes == len(b"version=3.1.4 host=test\n") for r in run.records)


def test_version_parsing_rules():
    assert loadgen.response_version({"x-version": "2.0.0"}, b"version=1.0.0") == "2.0.0"
    assert loadgen.response_version({}, b"version=1.0.0-rc.1 host=abc") == "1.0.0-rc.1"
    assert loadgen.response_version({}, b"hello") is None


def _records():
    # scheduled, start, end, status, version, error
    rows = [
        (0.0, 0.0, 0.010, 200, "1", None),
        (1.0, 1.0, 1.020, 200, "1", None),
        (2.0, 2.002, 2.030, 200, "1", None),    # 2 ms late; last answer of version 1
        (3.0, 3.0, 3.5, None, None, "reset"),
        (4.0, 4.0, 4.040, 200, None, None),     # ok, without a version
        (5.0, 5.0, 5.5, 200, "2", None),        # first answer of version 2
        (6.0, 6.0, 6.050, 200, "2", None),
        (6.5, 6.5, 6.6, 404, None, None),
    ]
    return [Record(sch, "get", start=st, end=en, status=code, version=v, error=e)
            for sch, st, en, code, v, e in rows]


def test_summary_math():
    s = loadgen.summarize(_records(), old="1", new="2")
    assert (s["requests"], s["ok"], s["failed"], s["conn_errors"], s["non_2xx"]) == (8, 6, 2, 1, 1)
    assert s["errors"] == {"reset": 1}
    assert s["versions"] == {"1": 3, "2": 2}
    # completed latencies 10 20 28 40 50 100 500 ms: nearest rank 4 and 7
    assert s["p50_ms"] == pytest.approx(40.0)
    assert s["p99_ms"] == pytest.approx(500.0)
    assert s["switch_ms"] == pytest.approx(3470.0)
    assert s["overlap"] is False
    # no success between 2.030 and 4.040 (the reset in between does not count)
    assert s["gap_ms"] == pytest.approx(2010.0)
    assert s["max_lag_ms"] == pytest.approx(2.0) and s["held_rate"] is True
    assert s["achieved_rate"] == pytest.approx(8 / (6.5 + 6.5 / 7), abs=0.01)


def test_summary_overlap_and_percentile():
    recs = [Record(0.0, "get", start=0.0, end=3.0, status=200, version="old"),
            Record(1.0, "get", start=1.0, end=2.5, status=200, version="new")]
    s = loadgen.summarize(recs, old="old", new="new")
    assert (s["switch_ms"], s["overlap"], s["overlap_ms"]) == (0.0, True, pytest.approx(500.0))
    assert loadgen.percentile(list(range(1, 101)), 99) == 99
    assert loadgen.percentile(list(range(1, 101)), 50) == 50
    assert loadgen.percentile(list(range(1, 11)), 91) == 10
    assert loadgen.percentile([], 50) is None


def test_gap_counts_an_outage_until_the_last_scheduled_request():
    ok = [Record(i / 10, "get", start=i / 10, end=i / 10 + 0.001, status=200) for i in range(10)]
    down = [Record(1.0 + i / 10, "get", start=1.0 + i / 10, end=6.0 + i / 10, error="timeout") for i in range(40)]
    # ...and a slow request that ends long after the last one was scheduled: not part of the run's window.
    slow = [Record(0.95, "slow", start=0.95, end=9.0, status=200)]
    assert loadgen.summarize(ok + down + slow)["gap_ms"] == pytest.approx(3999.0)   # 0.901 -> 4.9


def test_series_buckets():
    series = loadgen.series(_records())
    assert [b["started"] for b in series] == [1, 1, 1, 1, 1, 1, 2]
    assert [b["failed"] for b in series] == [0, 0, 0, 1, 0, 0, 1]
    assert series[2]["max_lag_ms"] == pytest.approx(2.0)
    assert series[0]["versions"] == {"1": 1.0} and series[3]["versions"] == {}
    assert series[6]["p50_ms"] == pytest.approx(50.0) and series[6]["p99_ms"] == pytest.approx(100.0)


def test_mix_is_proportional_and_interleaved():
    seq = loadgen.mix_sequence(loadgen.DEFAULT_MIX)
    first = [next(seq) for _n in range(100)]
    assert (first.count("get"), first.count("slow"), first.count("post")) == (80, 10, 10)
    # no burst: any 10 in a row hold at most one slow request
    assert max(first[i:i + 10].count("slow") for i in range(91)) == 1


@pytest.mark.parametrize("url", ["http://example.com/", "http://10.0.0.1:8080", "http://lab-1:80"])
def test_only_loopback_targets_by_default(url):
    with pytest.raises(TargetNotAllowed, match="refusing to send load to .*allow_hosts"):
        LoadGenerator(url, 10)


def test_allow_hosts_replaces_the_loopback_list():
    LoadGenerator("http://[::1]:8080", 10)
    LoadGenerator("http://lab-1:8080", 10, allow_hosts=["lab-1"])
    with pytest.raises(TargetNotAllowed):
        LoadGenerator("http://127.0.0.1:8080", 10, allow_hosts=["lab-1"])
    assert loadgen.main(["--url", "http://example.com", "--requests", "1"]) == 2


def test_background_start_mark_stop_and_json():
    with AppServer() as srv:
        gen = LoadGenerator(srv.url, 100, duration=30).start()
        time.sleep(1.0)
        gen.mark("rollout start")
        gen.stop()
        run = gen.result(timeout=10)
    assert run.stopped_by == "stop"
    assert run.events[0][1] == "rollout start" and 0.9 <= run.events[0][0] < 1.5
    assert 90 <= len(run.records) <= 160
    data = json.loads(json.dumps(run.to_dict()))
    assert len(data["records"]) == len(run.records)
    assert loadgen.Run.from_dict(data).summary() == run.summary()


def test_holds_300_per_second_with_keep_alive():
    # The server runs in its own process, as the lab's services do, so the generator is measured alone.
    proc = subprocess.Popen([sys.executable, str(SERVERS)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        run = LoadGenerator("http://127.0.0.1:%d" % port, 300, duration=5).run()
    finally:
        proc.terminate()
        proc.wait(10)
    s = run.summary()
    assert s["requests"] == 1500 and s["failed"] == 0
    assert s["achieved_rate"] >= 297
    # Other jobs share this machine's 2 cores: allow scheduling hiccups, not a rate that falls behind.
    assert s["max_lag_ms"] < 250
    # 10 % of 300/s sleep 1 s: about 30 connections busy at once, not one per request
    assert s["connections"] <= 100
    assert s["p50_ms"] < 20
    assert s["versions"] == {"1.0.0": 1500}


def test_cli_exit_codes_and_out_file(tmp_path):
    out = tmp_path / "run.json"
    with AppServer() as srv:
        ok = subprocess.run([sys.executable, str(LOADGEN), "--url", srv.url, "--rate", "50", "--requests", "25",
                             "--out", str(out)], capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "achieved_rate" in ok.stdout
    data = json.loads(out.read_text())
    assert len(data["records"]) == 25 and data["summary"]["ok"] == 25
    refused = ["--url", "http://127.0.0.1:%d" % free_port(), "--rate", "50", "--requests", "5"]
    bad = subprocess.run([sys.executable, str(LOADGEN)] + refused, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1 and "5 failed requests" in bad.stderr
    allowed = subprocess.run([sys.executable, str(LOADGEN)] + refused + ["--allow-failures", "5"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert allowed.returncode == 0


def _png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_timeline_png(tmp_path):
    run = loadgen.Run(_records(), events=[(3.2, "switch")])
    png = timeline.plot(run, tmp_path / "run.png", "test", events={"rollout start": 1.5})
    assert Path(png).stat().st_size > 10000
    assert _png_size(png) == (1100, 800)
    # From JSON (what --out writes) and from a bare series too.
    assert _png_size(timeline.plot(run.to_dict(), tmp_path / "d.png")) == (1100, 800)
    assert _png_size(timeline.plot(loadgen.series(_records()), tmp_path / "s.png")) == (1100, 800)
