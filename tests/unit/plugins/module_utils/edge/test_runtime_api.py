import os
import socket
import threading
from pathlib import Path

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.edge.runtime_api import (
    RuntimeApi, RuntimeApiError, check_response, parse_reload, parse_show_info, parse_show_proc, parse_show_stat,
    server_is_up)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edge"


def test_show_stat_recorded_on_haproxy_2_6():
    rows = parse_show_stat((FIXTURES / "show_stat.csv").read_text())
    by_name = dict(((r["pxname"], r["svname"]), r) for r in rows)
    green1 = by_name[("be_demo_web_green", "t_green1")]
    assert (green1["status"], green1["hrsp_5xx"], green1["addr"], green1["weight"]) == ("UP", 7, "127.0.0.3:56113", 1)
    green2 = by_name[("be_demo_web_green", "t_green2")]
    assert green2["status"] == "DOWN" and green2["check_status"] == "L4CON"
    assert by_name[("be_demo_web_blue", "BACKEND")]["hrsp_2xx"] == 6
    assert by_name[("fe_http", "FRONTEND")]["hrsp_4xx"] == 2
    assert "econ" not in by_name[("fe_http", "FRONTEND")]  # empty fields are left out


def test_show_stat_without_header_is_an_error():
    with pytest.raises(RuntimeApiError):
        parse_show_stat("Unknown command\n")


@pytest.mark.parametrize("status, up", [("UP", True), ("UP 1/2", True), ("no check", True), ("DOWN", False),
                                        ("DOWN 1/2", False), ("MAINT", False), ("DRAIN", False), ("MAINT (via x/y)", False)])
def test_server_is_up(status, up):
    assert server_is_up(status) is up


def test_show_info_and_show_proc_recorded():
    info = parse_show_info((FIXTURES / "show_info.txt").read_text())
    assert info["Version"].startswith("2.6.") and isinstance(info["Pid"], int)
    proc = parse_show_proc((FIXTURES / "show_proc.txt").read_text())
    assert proc["master"] == {"pid": 12052, "reloads": 0, "failed": 0}
    assert proc["workers"] == [{"pid": 12062, "reloads": 0}]


def test_reload_answers_of_2_6_and_3_0():
    assert parse_reload("") is None
    assert parse_reload("Success=1\n--\n[NOTICE] ...\n") is True
    assert parse_reload("Success=0\n--\n[ALERT] ...\n") is False


@pytest.mark.parametrize("command, text, ok", [
    ("add server be/s 10.0.0.1:80 check", "New server registered.\n\n", True),
    ("add server be/s 10.0.0.1:80 check", "Already exists a server with the same name in backend.\n", False),
    ("del server be/s", "Server deleted.\n", True),
    ("del server be/s", "Server still has connections attached to it, cannot remove it.\n", False),
    ("set server be/s state drain", "\n", True),
    ("set server be/s state drain", "No such server.\n", False),
    ("set map /r/split.map web 10:a:b:", "", True),
    ("set map /r/split.map web 10:a:b:", "entry not found.\n", False),
    ("show stat", "# pxname,svname\n", True),
    ("show nothing", "Unknown command, but maybe one of the following ones is a better match:\n", False),
])
def test_check_response(command, text, ok):
    assert check_response(command, text)[0] is ok


def test_client_over_a_unix_socket(tmp_path):
    path = str(tmp_path / "admin.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    received = []

    def serve():
        for answer in (b"New server registered.\n\n", b"No such server.\n"):
            conn, _rest = server.accept()
            data = b""
            while not data.endswith(b"\n"):
                data += conn.recv(100)
            received.append(data)
            conn.sendall(answer)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    api = RuntimeApi(path, timeout=2)
    assert api.command("add server be/s 1.2.3.4:80") == "New server registered.\n\n"
    with pytest.raises(RuntimeApiError) as err:
        api.command("set server be/x state drain")
    assert "No such server." in str(err.value)
    thread.join(2)
    assert received == [b"add server be/s 1.2.3.4:80\n", b"set server be/x state drain\n"]
    server.close()
    os.unlink(path)
    with pytest.raises(RuntimeApiError):
        api.execute("show info")
