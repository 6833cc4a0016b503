"""The lab: bare Debian hosts as containers on this machine.

Each host runs systemd and sshd and has python3 but no Docker: provisioning
installs that, as it would on a fresh VM. Ansible reaches the hosts over real
SSH on 127.0.0.1 published ports with a key made for this lab.

  labctl.py image     build the host image (once per recipe)
  labctl.py up        start LAB_HOSTS hosts, write inventories/lab/hosts.yml
  labctl.py destroy   remove every container, network, volume and key it made
  labctl.py status    list the lab's containers

Everything the lab creates carries the label below, and destroy removes only
what carries it.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_LABEL = "io.conductor-swarm.lab"
NETWORK = "conductor-lab"
IMAGE_REPO = "conductor-swarm/lab-host"
HOST_PREFIX = "lab-"
# The port the edge proxy publishes in host mode on a lab host; each host maps it to
# a 127.0.0.1 port of this machine, as it does SSH, so load can reach the proxy.
EDGE_HTTP_PORT = 80
STATE_DIR = Path(os.environ.get("LAB_STATE_DIR", ROOT / ".lab"))
INVENTORY = ROOT / "inventories" / "lab" / "hosts.yml"
SUITE = os.environ.get("LAB_DEBIAN_SUITE", "trixie")
PACKAGES = [
    "systemd-sysv", "openssh-server", "python3", "python3-apt", "iproute2",
    "ca-certificates", "sudo", "procps", "iputils-ping", "curl",
]
# Docker's own packages, downloaded (not installed) into the image's apt cache
# so that provisioning installs them from a warm local cache, as a host behind
# a package mirror would, instead of downloading them again on every run.
PREFETCH = ["docker.io", "docker-cli", "python3-docker"]
CACHE_DIR = Path(os.environ.get("LAB_CACHE_DIR", "/var/cache/conductor-swarm-lab"))

# Capabilities that work here: --privileged fails where the bounding set lacks
# CAP_SYS_RESOURCE (see shared/LAB-NOTES.md).
HOST_RUN_FLAGS = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined",
    "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined",
    "--cgroupns", "host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run", "--tmpfs", "/run/lock",
]

FIRSTBOOT_UNIT = """\
[Unit]
Description=Lab host first boot: host keys unique to this host
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
"""


def docker_bin() -> str:
    # Debian's client matches Debian's engine; the preinstalled one is newer.
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def docker(*args: str, check: bool = True, capture: bool = True, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("DOCKER_API_VERSION", "1.41")
    return subprocess.run(
        [docker_bin(), *args], check=check, text=True, env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None, **kw)


def log(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def apt_mirrors() -> tuple[str, str]:
    """The Debian mirror and security mirror this machine's apt already uses."""
    main = os.environ.get("LAB_DEBIAN_MIRROR")
    security = os.environ.get("LAB_DEBIAN_SECURITY_MIRROR")
    uris: list[str] = []
    for src in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in src.read_text().splitlines():
            if line.startswith("URIs:"):
                uris.extend(line.split()[1:])
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb":
                uris.append(parts[1])
    for uri in uris:
        if uri.rstrip("/").endswith("/debian") and not main:
            main = uri.rstrip("/")
        if uri.rstrip("/").endswith("/debian-security") and not security:
            security = uri.rstrip("/")
    if not main:
        sys.exit("lab: no Debian mirror found in this machine's apt sources; "
                 "set LAB_DEBIAN_MIRROR")
    return main, security or main.replace("/debian", "/debian-security")


def recipe_digest() -> str:
    """Changes whenever anything that goes into the image changes."""
    h = hashlib.sha256()
    for part in (inspect.getsource(build_image), inspect.getsource(sources_file), SUITE, repr(apt_mirrors()),
                 repr(PACKAGES), repr(PREFETCH), FIRSTBOOT_UNIT):
        h.update(part.encode())
    return h.hexdigest()[:12]


def image_tag() -> str:
    return f"{IMAGE_REPO}:{recipe_digest()}"


def image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def sources_file(main: str, security: str) -> str:
    return (f"Types: deb\nURIs: {main}\nSuites: {SUITE} {SUITE}-updates\n"
            f"Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            f"Types: deb\nURIs: {security}\nSuites: {SUITE}-security\n"
            f"Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


def chroot(root: Path, *cmd: str) -> None:
    subprocess.run(["chroot", str(root), *cmd], check=True,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
                        "LC_ALL": "C"})


def build_image() -> str:
    tag = image_tag()
    if image_exists(tag):
        return tag
    if shutil.which("debootstrap") is None:
        sys.exit("lab: debootstrap is missing (make lab installs it through scripts/ensure-docker.sh)")
    main, security = apt_mirrors()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"building {tag} (debootstrap {SUITE}, once per recipe)")
    debs = CACHE_DIR / "debs"  # debootstrap's package cache: rebuilds skip downloads
    debs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-rootfs-", dir=CACHE_DIR) as tmp:
        root = Path(tmp) / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
             f"--cache-dir={debs}",
             SUITE, str(root), main],
            check=True, stdout=subprocess.DEVNULL)
        (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/apt/sources.list.d/debian.sources").write_text(sources_file(main, security))
        legacy = root / "etc/apt/sources.list"
        if legacy.exists():
            legacy.unlink()
        # apt inside the chroot needs the machine's resolver for the prefetch.
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        chroot(root, "apt-get", "update", "-qq")
        chroot(root, "apt-get", "install", "-y", "-qq", "--download-only",
               "--no-install-recommends", *PREFETCH)
        # Keep the downloaded packages: Debian's image default deletes them.
        (root / "etc/apt/apt.conf.d/docker-clean").unlink(missing_ok=True)
        (root / "etc/resolv.conf").write_text("")
        for key in (root / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        unit = root / "etc/systemd/system/lab-firstboot.service"
        unit.write_text(FIRSTBOOT_UNIT)
        wants = root / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "lab-firstboot.service").symlink_to("/etc/systemd/system/lab-firstboot.service")
        # A fresh machine-id per container, as on a fresh VM.
        (root / "etc/machine-id").write_text("")
        # Units that cannot work in a container only add noise.
        for masked in ("systemd-modules-load.service", "getty@tty1.service",
                       "console-getty.service", "systemd-remount-fs.service"):
            link = root / "etc/systemd/system" / masked
            link.unlink(missing_ok=True)
            link.symlink_to("/dev/null")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run([docker_bin(), "import",
                        "-c", 'CMD ["/sbin/init"]',
                        "-c", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "-c", f"LABEL {LAB_LABEL}=image",
                        "-", tag], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        tar.stdout.close()
        if tar.wait() != 0:
            sys.exit("lab: tar of the root file system failed")
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    # Images of older recipes are dead weight now.
    for old in docker("images", IMAGE_REPO, "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        if old != tag:
            docker("image", "rm", old, check=False)
    return tag


def ssh_key() -> Path:
    key = STATE_DIR / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(key.parent, 0o700)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "conductor-swarm-lab",
                        "-f", str(key)], check=True)
    return key


def lab_containers() -> list[str]:
    out = docker("ps", "-a", "--filter", f"label={LAB_LABEL}=host", "--format", "{{.Names}}").stdout
    return sorted(n for n in out.split() if n)


def ensure_network() -> None:
    if docker("network", "inspect", NETWORK, check=False).returncode != 0:
        docker("network", "create", "--label", f"{LAB_LABEL}=network", NETWORK)


def host_name(i: int) -> str:
    return f"{HOST_PREFIX}{i}"


def start_host(name: str, tag: str, pubkey: str) -> None:
    state = docker("inspect", "-f", "{{.State.Running}}", name, check=False)
    if state.returncode == 0 and state.stdout.strip() != "true":
        docker("start", name)
    elif state.returncode != 0:
        volume = f"{name}-var-lib-docker"
        docker("volume", "create", "--label", f"{LAB_LABEL}=volume", volume)
        docker("run", "-d", "--name", name, "--hostname", name,
               "--label", f"{LAB_LABEL}=host", "--network", NETWORK,
               *HOST_RUN_FLAGS, "-v", f"{volume}:/var/lib/docker",
               "-p", "127.0.0.1::22", "-p", f"127.0.0.1::{EDGE_HTTP_PORT}", tag)
    # The key goes in through the engine, never through the image; every time, so a
    # lab started from another checkout (with its own key) answers this one too.
    docker("exec", "-i", name, "sh", "-c",
           "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && "
           "chmod 600 /root/.ssh/authorized_keys", input=pubkey)


def published_port(name: str, port: int) -> int | None:
    out = docker("port", name, f"{port}/tcp", check=False).stdout.strip().splitlines()
    for line in out:
        if line.startswith("127.0.0.1:"):
            return int(line.rsplit(":", 1)[1])
    return None


def ssh_port(name: str) -> int:
    port = published_port(name, 22)
    if port is None:
        raise RuntimeError(f"{name}: no SSH port published on 127.0.0.1")
    return port


def wait_ssh(name: str, port: int, key: Path, deadline: float) -> None:
    while True:
        res = subprocess.run(
            ["ssh", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR", "root@127.0.0.1", "true"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if res.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"lab: {name} did not answer SSH on 127.0.0.1:{port}: {res.stderr.strip()}")
        time.sleep(1)


def render_inventory(hosts: list[dict], managers: int, key: Path) -> str:
    """Inventory YAML; pure, so it is unit-tested."""
    lines = [
        "---",
        "# Written by `make lab`; removed by `make lab-destroy`. Do not edit.",
        "all:",
        "  vars:",
        "    ansible_host: 127.0.0.1",
        "    ansible_user: root",
        f"    ansible_ssh_private_key_file: {key}",
        "    ansible_ssh_common_args: >-",
        "      -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        "    ansible_python_interpreter: /usr/bin/python3",
        "    # The lab's own registry (lab/registry.py) speaks plain HTTP inside the lab.",
        "    docker_engine_daemon_options:",
        "      insecure-registries: [\"lab-registry:5000\"]",
        "  children:",
    ]
    # "retired" is where a test moves a host to take it out of the swarm.
    groups = {"managers": hosts[:managers], "workers": hosts[managers:], "retired": []}
    for group, members in groups.items():
        lines.append(f"    {group}:")
        if not members:
            lines.append("      hosts: {}")
            continue
        lines.append("      hosts:")
        for h in members:
            lines.append(f"        {h['name']}:")
            lines.append(f"          ansible_port: {h['port']}")
            if h.get("edge_port"):
                # Where this machine reaches the host's edge proxy port (EDGE_HTTP_PORT).
                lines.append(f"          lab_edge_http_port: {h['edge_port']}")
            lines.append("          swarm_cluster_node_labels:")
            lines.append(f"            zone: {h['zone']}")
    return "\n".join(lines) + "\n"


def up(count: int, managers: int) -> None:
    if count < 1 or managers < 1 or managers > count:
        sys.exit(f"lab: need 1 <= LAB_MANAGERS ({managers}) <= LAB_HOSTS ({count})")
    tag = build_image()
    key = ssh_key()
    pubkey = key.with_suffix(".pub").read_text()
    ensure_network()
    wanted = [host_name(i) for i in range(1, count + 1)]
    # A smaller lab than last time: the extra hosts go.
    for extra in set(lab_containers()) - set(wanted):
        remove_host(extra)
    stopped = [n for n in lab_containers()
               if docker("inspect", "-f", "{{.State.Running}}", n, check=False).stdout.strip() == "false"]
    if stopped:
        # Stopped hosts (a machine restart) come back on other addresses, and their swarm with them never
        # reforms (workers stay Down): they are made again, and provisioning forms a new swarm.
        log(f"{', '.join(sorted(stopped))} stopped (a machine restart?): their swarm would not come back on "
            "new addresses, so the lab's hosts are made again; provision them (make demo does)")
        for name in lab_containers():
            remove_host(name)
    for name in wanted:
        start_host(name, tag, pubkey)
    deadline = time.monotonic() + 120
    hosts = []
    for i, name in enumerate(wanted, start=1):
        port = ssh_port(name)
        wait_ssh(name, port, key, deadline)
        hosts.append({"name": name, "port": port, "zone": f"z{(i - 1) % 2 + 1}",
                      "edge_port": published_port(name, EDGE_HTTP_PORT)})
    INVENTORY.parent.mkdir(parents=True, exist_ok=True)
    INVENTORY.write_text(render_inventory(hosts, managers, key))
    log(f"{count} hosts up ({managers} managers); inventory {INVENTORY.relative_to(ROOT)}")
    for h in hosts:
        if h["edge_port"]:
            log(f"{h['name']}: SSH on 127.0.0.1:{h['port']}, edge proxy port {EDGE_HTTP_PORT} on 127.0.0.1:{h['edge_port']}")
        else:
            log(f"{h['name']}: started before the lab published port {EDGE_HTTP_PORT}; "
                "make lab-destroy && make lab to publish it")


def remove_host(name: str) -> None:
    docker("rm", "-f", "-v", name, check=False)
    docker("volume", "rm", "-f", f"{name}-var-lib-docker", check=False)


def destroy() -> None:
    import registry  # lab/registry.py: the lab's registry goes with the lab
    registry.down()
    for name in lab_containers():
        remove_host(name)
    vols = docker("volume", "ls", "-q", "--filter", f"label={LAB_LABEL}=volume").stdout.split()
    if vols:
        docker("volume", "rm", "-f", *vols, check=False)
    nets = docker("network", "ls", "-q", "--filter", f"label={LAB_LABEL}=network").stdout.split()
    if nets:
        docker("network", "rm", *nets, check=False)
    shutil.rmtree(STATE_DIR / "ssh", ignore_errors=True)
    INVENTORY.unlink(missing_ok=True)
    log("destroyed (image kept; `docker image rm` it to rebuild)")


def status() -> None:
    out = docker("ps", "-a", "--filter", f"label={LAB_LABEL}=host",
                 "--format", "{{.Names}}\t{{.Status}}\t{{.Ports}}").stdout
    print(out.strip() or "no lab hosts")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["image", "up", "destroy", "status", "stop-host", "start-host"])
    parser.add_argument("host", nargs="?")
    parser.add_argument("--hosts", type=int, default=int(os.environ.get("LAB_HOSTS", "3")))
    parser.add_argument("--managers", type=int, default=int(os.environ.get("LAB_MANAGERS", "1")))
    args = parser.parse_args(argv)
    if args.command == "image":
        print(build_image())
    elif args.command == "up":
        up(args.hosts, args.managers)
    elif args.command == "destroy":
        destroy()
    elif args.command == "status":
        status()
    elif args.command in ("stop-host", "start-host"):
        # For tests that need an unreachable host.
        if not args.host or args.host not in lab_containers():
            sys.exit(f"lab: no lab host named {args.host!r}")
        docker("stop" if args.command == "stop-host" else "start", args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
