"""Change the lab inventory as an operator would, for the side_effect stage.

drop-worker: the last worker disappears from the inventory entirely.
reshape:     the first worker is promoted, the last manager demoted, and the
             last worker moved to 'retired' to leave the swarm cleanly.
"""
import sys

import yaml


def main(change, path):
    with open(path) as f:
        inv = yaml.safe_load(f)
    groups = inv["all"]["children"]
    managers = groups["managers"]["hosts"]
    workers = groups["workers"]["hosts"]
    retired = groups.setdefault("retired", {}).get("hosts") or {}
    if change == "drop-worker":
        workers.pop(list(workers)[-1])
    elif change == "reshape":
        first_worker, last_worker = list(workers)[0], list(workers)[-1]
        last_manager = list(managers)[-1]
        retired[last_worker] = workers.pop(last_worker)
        promoted = workers.pop(first_worker)
        workers[last_manager] = managers.pop(last_manager)
        managers[first_worker] = promoted
    else:
        sys.exit("unknown change %r" % change)
    groups["retired"] = {"hosts": retired}
    with open(path, "w") as f:
        f.write("# Changed by molecule side_effect (%s)\n" % change)
        yaml.safe_dump(inv, f, sort_keys=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
