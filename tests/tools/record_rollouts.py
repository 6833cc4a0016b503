"""Turn -vvv logs of lab deploys into recorded rollout fixtures.

A deploy log (from tests/lab, in .build/logs/deploy/) holds every answer the
manager gave: the stack_deploy result (started_at, target versions) and each
stack_info poll (raw services, tasks, nodes, the manager's clock). This keeps
the last poll of a deploy's tracking and writes it as a fixture that the
state machine's unit tests replay:

  record_rollouts.py LOG NAME   -> tests/unit/plugins/module_utils/fixtures/rollout/recorded/NAME.json
"""
import ast
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "unit" / "plugins" / "module_utils" / "fixtures" / "rollout" / "recorded"
ANSWER = re.compile(r"^<127\.0\.0\.1> \(0, (b'.*'), b''\)$")


def answers(log):
    for line in log.read_text(errors="replace").splitlines():
        match = ANSWER.match(line)
        if match:
            try:
                yield json.loads(ast.literal_eval(match.group(1)).decode("utf-8"))
            except ValueError:
                continue


def record(log, name):
    deploy = polls = None
    polls = []
    for answer in answers(log):
        if "started_at" in answer and "services" in answer and deploy is None:
            deploy = answer
        elif "raw" in answer:
            polls.append(answer)
    if deploy is None or not polls:
        sys.exit("%s: no deploy result or no tracking poll in it" % log)
    # The last poll of the rollout itself: before the one that fetched failure logs.
    cut = next((i for i, p in enumerate(polls) if p["logs"]), len(polls))
    # The last two polls: the state machine reads the second with the first as history.
    fixture = {
        "recorded_from": log.name,
        "started_at": deploy["started_at"],
        "target_versions": dict((n, s["version"]) for n, s in deploy["services"].items()
                                if s["action"] in ("create", "update")),
        "polls": [{"now": p["now"], "services": p["raw"]["services"], "tasks": p["raw"]["tasks"],
                   "nodes": p["raw"]["nodes"]} for p in polls[max(0, cut - 2):cut]],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / ("%s.json" % name)
    path.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
    print("%s: %d polls -> %s" % (name, len(fixture["polls"]), path))


if __name__ == "__main__":
    record(Path(sys.argv[1]), sys.argv[2])
