"""make demo: bare hosts to a swarm, the example stack deployed, then updated
under traffic, and what the traffic saw.

The traffic runs inside the lab: a container on the stack's overlay network
asks the web service for its version, bounded in count and time, while the
update to 2.0.0 rolls out.
"""
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
from labenv import env, on_manager, prepare, write_deploy_vars  # noqa: E402

STACK = "demo"
REQUESTS, SECONDS = 900, 120  # the traffic stops at whichever comes first


def banner(text):
    print("\n== %s" % text, flush=True)


def deploy(lab, variables):
    fd, path = tempfile.mkstemp(prefix="demo-vars-", suffix=".json", dir=str(ROOT / ".lab"))
    os.close(fd)
    try:
        write_deploy_vars(path, lab, STACK, ["examples/stack/demo.yml"], variables)
        proc = subprocess.run(["ansible-playbook", "playbooks/deploy.yml", "-e", "@" + path], check=False, cwd=str(ROOT),
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env())
    finally:
        os.unlink(path)
    for line in proc.stdout.splitlines():
        if line.startswith("  ") or line.startswith("TASK") or "RECAP" in line or line.startswith(("ok:", "changed:", "fatal:")):
            print(line)
    if proc.returncode != 0:
        sys.exit("deploy failed:\n" + proc.stdout[-3000:])


TRAFFIC = (
    "n=0; end=$(( $(date +%%s) + %d )); "
    "while [ $n -lt %d ] && [ $(date +%%s) -lt $end ]; do n=$((n+1)); "
    "r=$(wget -q -O- http://web:8080/ 2>/dev/null) && echo \"ok $r\" || echo fail; sleep 0.1; done"
    % (SECONDS, REQUESTS))


def main():
    banner("lab: 3 bare Debian hosts, provisioned into a swarm (make lab + playbooks/provision.yml)")
    lab = prepare(ROOT / ".build" / "logs" / "demo")
    print(on_manager("docker node ls").stdout)

    banner("deploy the example stack, version 1.0.0 (playbooks/deploy.yml)")
    deploy(lab, {"WEB_VERSION": "1.0.0"})

    banner("update web to 2.0.0 while a client sends requests (at most %d, at most %d s)" % (REQUESTS, SECONDS))
    reg = lab["registry"]
    login = on_manager("docker login -u %s --password-stdin %s" % (reg["username"], reg["address_in_lab"]),
                       stdin=lab["password"])
    if login.returncode != 0:
        sys.exit("login to the lab registry failed: " + login.stdout)
    on_manager("docker rm -f demo-traffic >/dev/null 2>&1")
    started = on_manager("docker run -d --name demo-traffic --network %s_backend --entrypoint /bin/busybox "
                         "%s/conductor/demo-app:1.0.0 sh -c '%s'" % (STACK, reg["address_in_lab"], TRAFFIC))
    if started.returncode != 0:
        sys.exit("could not start the traffic: " + started.stdout)
    time.sleep(3)
    deploy(lab, {"WEB_VERSION": "2.0.0"})
    on_manager("timeout %d docker wait demo-traffic" % (SECONDS + 30))
    lines = on_manager("docker logs demo-traffic").stdout.splitlines()
    on_manager("docker rm -f demo-traffic >/dev/null 2>&1")

    banner("what the client saw")
    versions = collections.Counter(l.split("version=")[1].split()[0] for l in lines if "version=" in l)
    failed = sum(1 for l in lines if l == "fail")
    print("requests: %d, failed: %d" % (len(lines), failed))
    for version, count in sorted(versions.items()):
        print("  served by %s: %d" % (version, count))
    print()
    print(on_manager("docker stack services %s" % STACK).stdout)
    print("demo: %s" % ("zero failed requests during the update" if failed == 0 and lines
                        else "%d of %d requests failed during the update" % (failed, len(lines))))


if __name__ == "__main__":
    main()
