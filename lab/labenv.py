"""The lab a deploy needs, for make demo, the deploy tests and bench-deploy: 3 bare
hosts provisioned into a swarm, the lab registry with credentials, and the
example app's images pushed to it."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "inventories" / "lab" / "hosts.yml"
VERSIONS = ("1.0.0", "2.0.0")
# The edge: HAProxy (the lab's stand-in for the official image) and the agent's image.
HAPROXY_IMAGE = "conductor/haproxy:3.0"
EDGE_AGENT_IMAGE = "conductor/edge-agent:0.2.0"
EDGE_IMAGES = (HAPROXY_IMAGE, EDGE_AGENT_IMAGE)
NAIVE_IMAGE = "conductor/naive-nginx:1"
sys.path.insert(0, str(ROOT / "lab"))
# testinfra and the tests call ansible tools by name: the project's own first.
os.environ["PATH"] = "%s:%s" % (ROOT / ".venv" / "bin", os.environ.get("PATH", ""))
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))


def env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                PATH="%s:%s" % (ROOT / ".venv" / "bin", os.environ["PATH"]))


def sh(cmd, cwd=ROOT, environ=None, **kw):
    """Run a command (in this checkout, with env(), unless told otherwise); output and errors together."""
    return subprocess.run([str(c) for c in cmd], check=False, cwd=str(cwd), env=environ or env(), text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def start_deploy(evars_file, log_path, *extra):
    """playbooks/deploy.yml in the background, output to log_path, in its own process group (so a
    test can kill it whole); finish() waits for it."""
    with open(str(log_path), "w") as log:
        proc = subprocess.Popen(["ansible-playbook", "playbooks/deploy.yml", "-e", "@%s" % evars_file] + list(extra),
                                cwd=str(ROOT), env=env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_path = Path(log_path)
    return proc


def finish(proc, timeout=600):
    """(exit status, output) of a start_deploy run."""
    proc.wait(timeout=timeout)
    return proc.returncode, proc.log_path.read_text()


def wait_for(what, condition, timeout=120, interval=0.5):
    """condition()'s first true value, polled every `interval` s; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def manager_ssh():
    """ssh argv reaching the first manager over its 127.0.0.1 port with the lab key."""
    inv = yaml.safe_load(INVENTORY.read_text())
    allvars = inv["all"]["vars"]
    hostvars = list(inv["all"]["children"]["managers"]["hosts"].values())[0]
    return ["ssh", "-i", allvars["ansible_ssh_private_key_file"], "-p", str(hostvars["ansible_port"]),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes", "root@127.0.0.1"]


def on_manager(command, stdin=None):
    """Run a shell command on the first manager; stdin (text or bytes) keeps secrets off command lines."""
    binary = isinstance(stdin, bytes)
    return subprocess.run(manager_ssh() + [command], check=False, input=stdin, text=not binary, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)


def copy_to_manager(local_dir, remote_parent):
    """Copy a folder to the first manager (tar over ssh)."""
    tar = subprocess.run(["tar", "-C", str(Path(local_dir).parent), "-c", Path(local_dir).name],
                         stdout=subprocess.PIPE, check=True)
    return on_manager("mkdir -p %s && tar -C %s -x" % (remote_parent, remote_parent), stdin=tar.stdout)


def write_deploy_vars(path, lab, stack, files, variables=None, **more):
    """Extra vars for playbooks/deploy.yml against the lab registry, in a file only root can
    read: it holds the registry password, which must never be on a command line."""
    evars = dict({
        "stack_name": stack,
        "stack_file": [str(f) for f in files],
        "stack_variables": dict({"REGISTRY": lab["registry"]["address_in_lab"]}, **(variables or {})),
        "stack_registry_auth": {"username": lab["registry"]["username"], "password": lab["password"],
                                "serveraddress": lab["registry"]["address_in_lab"]},
        "stack_with_registry_auth": True,
    }, **more)
    return write_private_json(path, evars)


def write_private_json(path, data):
    """JSON in a file only root can read (it may hold a password)."""
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was already there
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    return path


def lab_hosts():
    """The lab's host containers by name (the inventory's hosts), managers first."""
    groups = yaml.safe_load(INVENTORY.read_text())["all"]["children"]
    return [host for group in ("managers", "workers") for host in (groups.get(group) or {}).get("hosts") or {}]


def on_host(host, *argv):
    """Run a command in one lab host container (from this machine, not over SSH)."""
    return subprocess.run(["docker", "exec", host] + list(argv), check=False, capture_output=True, text=True,
                          timeout=120)


def remove_stack(stack, timeout=60):
    """docker stack rm, then wait until every host has let go of its containers and networks: a network
    created again under the same name while a worker still holds the old one gives that worker's tasks
    "no configured subnet or ip-range contain the IP address"."""
    on_manager("docker stack rm %s" % stack)
    probe = ("docker ps -aq --filter label=com.docker.stack.namespace=%s; docker network ls -q --filter "
             "label=com.docker.stack.namespace=%s" % (stack, stack))
    for _second in range(timeout):
        left = [host for host in lab_hosts() if on_host(host, "sh", "-c", probe).stdout.strip()]
        if not left:
            return
        time.sleep(1)
    raise RuntimeError("stack %s did not go away within %ss (still on %s)" % (stack, timeout, ", ".join(left)))


def install_collection(workdir):
    """Build the collection tarball and install it offline into a fresh collections path,
    as a user installing from Galaxy would. Returns where things are, and the environment
    that makes ansible-* see that installed copy and not this checkout."""
    workdir = Path(workdir)
    dist, collections, project = workdir / "dist", workdir / "collections", workdir / "project"
    for d in (dist, collections, project):
        shutil.rmtree(str(d), ignore_errors=True)
        d.mkdir(parents=True)
    built = sh(["ansible-galaxy", "collection", "build", "--output-path", dist, "."])
    if built.returncode != 0:
        raise RuntimeError("collection build failed:\n%s" % built.stdout)
    tarball = next(dist.glob("conductor-swarm-*.tar.gz"))
    user_env = dict(env(), ANSIBLE_COLLECTIONS_PATH=str(collections))
    del user_env["ANSIBLE_CONFIG"]  # a user's project has no ansible.cfg of ours
    found = {"tarball": tarball, "collections": collections, "project": project, "env": user_env,
             "path": collections / "ansible_collections" / "conductor" / "swarm"}
    # --offline: dependencies resolve against what is installed (community.docker from
    # the `ansible` package), never against Galaxy.
    install = run_installed(found, ["ansible-galaxy", "collection", "install", "--offline", "-p", collections, tarball])
    if install.returncode != 0:
        raise RuntimeError("collection install failed:\n%s" % install.stdout)
    return dict(found, install_log=install.stdout)


def run_installed(installed, cmd, **kw):
    """Run a command in the user's project directory, seeing only the installed collection."""
    return sh(cmd, cwd=installed["project"], environ=installed["env"], **kw)


def edge_url(host_name=None):
    """http://127.0.0.1:<port>/ where this machine reaches a lab host's edge proxy port (default: the first manager)."""
    inv = yaml.safe_load(INVENTORY.read_text())
    for group in ("managers", "workers"):
        for name, hostvars in (inv["all"]["children"][group].get("hosts") or {}).items():
            if host_name in (None, name) and hostvars.get("lab_edge_http_port"):
                return "http://127.0.0.1:%d/" % hostvars["lab_edge_http_port"]
    raise RuntimeError("no lab host publishes the edge port (make lab-destroy && make lab publishes it)")


def deploy_edge(lab, log_dir, extra=()):
    """The edge proxy on the lab's manager, from the lab registry (playbooks/edge_proxy.yml)."""
    reg = lab["registry"]
    path = write_private_json(Path(log_dir) / "vars-edge.json", {
        "edge_proxy_image": "%s/%s" % (reg["address_in_lab"], HAPROXY_IMAGE),
        "edge_proxy_agent_image": "%s/%s" % (reg["address_in_lab"], EDGE_AGENT_IMAGE),
        "edge_proxy_registry_auth": {"username": reg["username"], "password": lab["password"],
                                     "serveraddress": reg["address_in_lab"]},
        "edge_proxy_with_registry_auth": True,
        # The lab's nested hosts carry no IPsec (encrypted overlay) traffic between them: a worker's agent
        # timed out reaching edge_api on an encrypted control network.
        "edge_proxy_encrypt_control": False})
    proc = sh(["ansible-playbook", "playbooks/edge_proxy.yml", "-e", "@%s" % path, *extra])
    (Path(log_dir) / "edge-proxy.log").write_text(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError("deploying the edge proxy failed:\n%s" % proc.stdout[-3000:])
    return proc


def prepare(log_dir, hosts=3, managers=1, installed=None, edge=False, naive=False):
    """Bring the lab up and provisioned, with images in its registry. Returns registry facts.

    With `installed` (from install_collection), provisioning runs conductor.swarm.provision
    by its fully qualified name from that installed copy instead of this checkout."""
    py = ROOT / ".venv" / "bin" / "python"
    log_dir.mkdir(parents=True, exist_ok=True)

    def step(name, cmd, **where):
        proc = sh(cmd, **where)
        (log_dir / ("prepare-%s.log" % name)).write_text(proc.stdout)
        if proc.returncode != 0:
            raise RuntimeError("%s failed:\n%s" % (" ".join(map(str, cmd)), proc.stdout[-3000:]))

    step("labctl", [py, "lab/labctl.py", "up", "--hosts", hosts, "--managers", managers])
    step("build", ["bash", "examples/app/build.sh", *VERSIONS])
    if edge:
        step("build-edge", [py, "lab/images.py", "edge"])
        step("build-haproxy", [py, "lab/images.py", "haproxy"])
    if naive:
        step("build-naive", [py, "lab/images.py", "naive"])
    bare = on_manager("command -v dockerd").returncode != 0  # no Docker Engine yet
    if installed:
        step("provision", ["ansible-playbook", "-vv", "-i", INVENTORY, "conductor.swarm.provision"],
             cwd=installed["project"], environ=installed["env"])
    else:
        step("provision", ["ansible-playbook", "playbooks/provision.yml"])
    import registry  # lab/registry.py
    registry.up()
    info = registry.info()
    images = ["conductor/demo-app:%s" % v for v in VERSIONS] + (list(EDGE_IMAGES) if edge else []) + (
        [NAIVE_IMAGE] if naive else [])
    digests = registry.push(images)
    return {"registry": info, "digests": digests, "password": Path(info["password_file"]).read_text().strip(),
            "provisioned_bare_hosts": bare}
