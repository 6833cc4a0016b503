# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy's Runtime API (stats socket) and master CLI over a unix socket.

Standard library only. One command per connection: send the line, shut the
write side (the master CLI of 2.6 otherwise keeps the connection open), read
to the end. The Runtime API answers in free text; ``check_response`` knows
which answers mean success for the commands the agent uses.

Public API: ``RuntimeApiError``, ``RuntimeApi(path, timeout)`` with
``execute(command)`` and ``command(command)`` (raises on a failure answer),
``check_response(command, text)``, ``parse_show_stat(text)``,
``parse_show_info(text)``, ``parse_show_proc(text)``, ``parse_reload(text)``,
``server_is_up(status)``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import re
import socket

# Answers of a successful command, by command prefix; an empty answer is success for the others.
_SUCCESS = (
    ("add server", ("New server registered.",)),
    ("del server", ("Server deleted.",)),
)
_NUMERIC = re.compile(r"^-?\d+$")


class RuntimeApiError(Exception):
    """The socket could not be used, or HAProxy refused a command."""


def check_response(command, text):
    """-> (ok, message) for the answer ``text`` to ``command``."""
    message = text.strip()
    for prefix, answers in _SUCCESS:
        if command.startswith(prefix):
            return message in answers, message
    # show/get commands answer with data; set/enable/disable/add/del/clear answer nothing on success.
    if command.split(" ", 1)[0] in ("show", "get", "help"):
        return not message.startswith("Unknown command"), message
    return message == "", message


class RuntimeApi:
    """A client of one HAProxy unix socket (stats socket or master CLI)."""

    def __init__(self, path, timeout=2.0):
        self.path = path
        self.timeout = timeout

    def execute(self, command):
        """Send one command, return the whole answer text."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
            sock.sendall(command.encode("utf-8") + b"\n")
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except (OSError, socket.timeout) as exc:
            raise RuntimeApiError("%s: %s: %s" % (self.path, command, exc))
        finally:
            sock.close()
        return b"".join(chunks).decode("utf-8", "replace")

    def command(self, command):
        """Send one command; raise RuntimeApiError unless HAProxy reports success."""
        text = self.execute(command)
        ok, message = check_response(command, text)
        if not ok:
            raise RuntimeApiError("%s: %s" % (command, message or "failed"))
        return text


def _typed(value):
    return int(value) if _NUMERIC.match(value) else value


def parse_show_stat(text):
    """``show stat`` CSV -> list of dicts (numbers as int, empty fields left out)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise RuntimeApiError("show stat: no CSV header in %r" % text[:80])
    header = lines[0][2:].split(",")
    rows = []
    for values in csv.reader(line for line in lines[1:] if line.strip()):
        row = {}
        for name, value in zip(header, values):
            if name and value != "":
                row[name] = _typed(value)
        rows.append(row)
    return rows


def server_is_up(status):
    """``show stat`` status of a server -> takes traffic as a healthy server ('UP', 'UP 1/2', 'no check')."""
    return status == "no check" or status == "UP" or status.startswith("UP ")


def parse_show_info(text):
    """``show info`` -> {name: value}."""
    info = {}
    for line in text.splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            info[name.strip()] = _typed(value.strip())
    return info


def parse_show_proc(text):
    """master CLI ``show proc`` -> {"master": {"pid", "reloads", "failed"}, "workers": [{"pid", "reloads"}]}."""
    out = {"master": None, "workers": []}
    section = "current"
    for line in text.splitlines():
        if line.startswith("#"):
            section = "old" if "old" in line else ("programs" if "program" in line else "current")
            continue
        parts = line.split()
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        if parts[1] == "master":
            failed = re.search(r"\[failed:\s*(\d+)\]", line)
            out["master"] = {"pid": int(parts[0]), "reloads": int(parts[2]),
                             "failed": int(failed.group(1)) if failed else 0}
        elif parts[1] == "worker" and section == "current":
            out["workers"].append({"pid": int(parts[0]), "reloads": int(parts[2])})
    return out


def parse_reload(text):
    """master CLI ``reload`` answer -> True/False (HAProxy >= 2.7 says Success=0|1), None when silent (2.6)."""
    match = re.search(r"Success=(\d)", text)
    if match is None:
        return None
    return match.group(1) == "1"
