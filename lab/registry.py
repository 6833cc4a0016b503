"""The lab's image registry, so lab nodes pull images by digest as in production.

Lab nodes need this in /etc/docker/daemon.json (the registry speaks plain HTTP
with basic auth inside the lab network; without it `docker login`/`pull` fail
with "http: server gave HTTP response to HTTPS client"):

    {"insecure-registries": ["lab-registry:5000"]}

With the docker_engine role:
    docker_engine_daemon_options: {"insecure-registries": ["lab-registry:5000"]}
This machine's engine needs nothing: it reaches the registry on 127.0.0.1, which
Docker always treats as insecure.

The registry is Debian's `docker-registry` package (distribution 2.8) in an
image built FROM the lab's host image (conductor-swarm/lab-host) once per
recipe. It runs as the container `lab-registry` on the lab network
`conductor-lab`, port 5000 published on 127.0.0.1 only (a random host port),
htpasswd (bcrypt) auth for the user `conductor` with a random password made per
lab and kept in .lab/registry/lab-registry/password (mode 0600, never printed),
storage in a volume.

  registry.py up               start it (idempotent); print the info JSON
  registry.py push IMAGE...    push local images; print "IMAGE DIGEST PULL-REFERENCE" per image
  registry.py info             print the info JSON
  registry.py down             remove the container, its volume and credentials (idempotent)
  registry.py verify-node REF  prove a lab-like node can pull REF (repo@sha256:...):
                               a throwaway host from the lab image, docker.io inside,
                               first without, then with insecure-registries

Push, then deploy by digest (the digest does not depend on the host name used):
    python3 lab/registry.py push conductor/demo-app:1.0.0
    -> conductor/demo-app:1.0.0 sha256:ab... lab-registry:5000/conductor/demo-app@sha256:ab...

labctl (or tests) import it: up() -> dict, push(images) -> {image: digest},
info() -> dict, down(). Everything it creates carries the label
io.conductor-swarm.lab=<registry|volume|image|network>.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_LABEL = "io.conductor-swarm.lab"
NETWORK = "conductor-lab"
NAME = "lab-registry"
PORT = 5000
USERNAME = "conductor"
HOST_IMAGE_REPO = "conductor-swarm/lab-host"
IMAGE_REPO = "conductor-swarm/lab-registry"
STATE_DIR = Path(os.environ.get("LAB_STATE_DIR", ROOT / ".lab"))
REGISTRY_STATE = STATE_DIR / "registry"
INSECURE_REGISTRIES_KEY = "insecure-registries"

CONFIG_DIR = "/etc/conductor-registry"
DATA_DIR = "/var/lib/docker-registry"

DOCKERFILE = """\
FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      -o APT::Keep-Downloaded-Packages=false docker-registry apache2-utils >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY config.yml {config_dir}/config.yml
RUN install -d -o docker-registry -g docker-registry -m 0700 {data_dir} \\
 && install -d -o docker-registry -g docker-registry -m 0500 {config_dir}/auth
USER docker-registry
EXPOSE {port}
STOPSIGNAL SIGTERM
CMD ["/usr/bin/docker-registry", "serve", "{config_dir}/config.yml"]
"""

CONFIG = """\
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {data_dir}
  delete:
    enabled: true
http:
  addr: :{port}
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: conductor-lab-registry
    path: {config_dir}/auth/htpasswd
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
"""


class RegistryError(RuntimeError):
    pass


def docker_bin() -> str:
    # Debian's client matches Debian's engine; the preinstalled one is newer.
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"


def docker(*args: str, check: bool = True, input: str | bytes | None = None,
           text: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("DOCKER_API_VERSION", "1.41")
    env["DOCKER_BUILDKIT"] = "0"
    res = subprocess.run([docker_bin(), *args], check=False, text=text, env=env, input=input,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and res.returncode != 0:
        err = res.stderr if text else res.stderr.decode(errors="replace")
        # The command line never carries a secret (passwords go through stdin).
        raise RegistryError(f"docker {' '.join(args[:3])}... failed: {err.strip()}")
    return res


def log(msg: str) -> None:
    print(f"registry: {msg}", file=sys.stderr, flush=True)


# --- paths -------------------------------------------------------------------

def state_dir(name: str = NAME) -> Path:
    return REGISTRY_STATE / name


def password_file(name: str = NAME) -> Path:
    return state_dir(name) / "password"


def docker_config_dir(name: str = NAME) -> Path:
    """A client config of its own, so logins never touch ~/.docker/config.json."""
    return state_dir(name) / "docker-config"


def volume_name(name: str = NAME) -> str:
    return f"{name}-data"


# --- image ---------------------------------------------------------------------

def base_image() -> str:
    """The lab's host image: the one labctl's current recipe names, else the newest."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import labctl  # noqa: PLC0415  (lazy: labctl may import this module)
    finally:
        sys.path.pop(0)
    wanted = labctl.image_tag()
    if docker("image", "inspect", wanted, check=False).returncode == 0:
        return wanted
    tags = [t for t in docker("images", HOST_IMAGE_REPO, "--format",
                              "{{.Repository}}:{{.Tag}}").stdout.split() if not t.endswith(":<none>")]
    if tags:
        return tags[0]
    log(f"no {HOST_IMAGE_REPO} image yet: building it (labctl.py image)")
    return labctl.build_image()


def render(base: str) -> tuple[str, str]:
    fmt = {"base": base, "config_dir": CONFIG_DIR, "data_dir": DATA_DIR, "port": PORT}
    return DOCKERFILE.format(**fmt), CONFIG.format(**fmt)


def image_tag(base: str) -> str:
    dockerfile, config = render(base)
    digest = hashlib.sha256("\0".join([base, dockerfile, config]).encode()).hexdigest()[:12]
    return f"{IMAGE_REPO}:{digest}"


def build_image() -> str:
    base = base_image()
    tag = image_tag(base)
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    started = time.monotonic()
    log(f"building {tag} from {base} (apt-get install docker-registry; once per recipe)")
    dockerfile, config = render(base)
    with tempfile.TemporaryDirectory(prefix="lab-registry-ctx-") as ctx:
        Path(ctx, "Dockerfile").write_text(dockerfile)
        Path(ctx, "config.yml").write_text(config)
        docker("build", "-q", "--label", f"{LAB_LABEL}=image", "-t", tag, ctx)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    for old in docker("images", IMAGE_REPO, "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        if old != tag:
            docker("image", "rm", old, check=False)
    return tag


# --- credentials ---------------------------------------------------------------

def _write_private(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.replace(tmp, path)


def _private_dirs(name: str) -> None:
    for d in (REGISTRY_STATE, state_dir(name), docker_config_dir(name)):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)


def ensure_password(name: str = NAME) -> str:
    _private_dirs(name)
    pw = password_file(name)
    if not pw.exists():
        _write_private(pw, secrets.token_urlsafe(32) + "\n")
    os.chmod(pw, 0o600)
    return pw.read_text().strip()


def make_htpasswd(image: str, password: str) -> tuple[str, int, int]:
    """bcrypt htpasswd line for USERNAME (password through stdin), and the
    registry user's uid/gid in the image."""
    res = docker("run", "--rm", "-i", "--network", "none", "--entrypoint", "/bin/sh", image,
                 "-c", f"id -u; id -g; htpasswd -niB -C 10 {USERNAME}", input=password + "\n")
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    uid, gid, entry = int(lines[0]), int(lines[1]), lines[2]
    if not entry.startswith(f"{USERNAME}:$2"):
        raise RegistryError("htpasswd did not produce a bcrypt entry")
    return entry + "\n", uid, gid


def _tar_of(filename: str, data: str, uid: int, gid: int, mode: int) -> bytes:
    buf = io.BytesIO()
    raw = data.encode()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(filename)
        info.size, info.uid, info.gid, info.mode, info.mtime = len(raw), uid, gid, mode, int(time.time())
        tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


# --- container -----------------------------------------------------------------

def ensure_network() -> None:
    if docker("network", "inspect", NETWORK, check=False).returncode != 0:
        res = docker("network", "create", "--label", f"{LAB_LABEL}=network", NETWORK, check=False)
        # Another process may have made it in the meantime.
        if res.returncode != 0 and docker("network", "inspect", NETWORK, check=False).returncode != 0:
            raise RegistryError(f"cannot create network {NETWORK}: {res.stderr.strip()}")


def _state(name: str) -> str | None:
    res = docker("inspect", "-f", "{{.State.Status}}", name, check=False)
    return res.stdout.strip() if res.returncode == 0 else None


def host_port(name: str = NAME) -> int:
    out = docker("port", name, f"{PORT}/tcp", check=False).stdout
    for line in out.splitlines():
        if line.startswith("127.0.0.1:"):
            return int(line.rsplit(":", 1)[1])
    raise RegistryError(f"{name} is not running (no port {PORT} published on 127.0.0.1); "
                        "run `python3 lab/registry.py up`")


def _v2_status(port: int, password: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        headers = {}
        if password is not None:
            token = base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        conn.request("GET", "/v2/", headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def wait_ready(name: str, password: str, timeout: float = 30) -> int:
    """Until /v2/ refuses anonymous clients (401) and accepts the user (200)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            port = host_port(name)
            anon = _v2_status(port)
            if anon == 401 and _v2_status(port, password) == 200:
                return port
            last = f"anonymous /v2/ -> {anon}"
        except (OSError, http.client.HTTPException, RegistryError) as exc:
            last = str(exc)
        time.sleep(0.5)
    logs = docker("logs", "--tail", "20", name, check=False)
    raise RegistryError(f"{name} not ready after {timeout:.0f}s ({last}); its log:\n"
                        f"{logs.stdout}{logs.stderr}")


def up(name: str = NAME) -> dict:
    """Start the registry (idempotent) and return info()."""
    ensure_network()
    password = ensure_password(name)
    status = _state(name)
    if status is not None:
        if status != "running":
            docker("start", name)
        try:
            wait_ready(name, password, timeout=15)
            return info(name)
        except RegistryError as exc:
            # Not this checkout's registry (another clone's lab, another password) or broken:
            # replace it; the images are pushed again by whoever needs them.
            log(f"replacing {name}: {str(exc).splitlines()[0]}")
            docker("rm", "-f", name, check=False)
    image = build_image()
    entry, uid, gid = make_htpasswd(image, password)
    _write_private(state_dir(name) / "htpasswd", entry)
    volume = volume_name(name)
    docker("volume", "create", "--label", f"{LAB_LABEL}=volume", volume)
    docker("create", "--name", name, "--hostname", name,
           "--label", f"{LAB_LABEL}=registry", "--network", NETWORK,
           "-p", f"127.0.0.1::{PORT}", "-v", f"{volume}:{DATA_DIR}",
           "--restart", "unless-stopped",
           "--cap-drop", "ALL", "--security-opt", "no-new-privileges", image)
    try:
        # The hash goes in through the engine, readable only by the registry's user.
        docker("cp", "-", f"{name}:{CONFIG_DIR}/auth",
               input=_tar_of("htpasswd", entry, uid, gid, 0o400), text=False)
        docker("start", name)
        wait_ready(name, password)
    except Exception:
        docker("rm", "-f", "-v", name, check=False)
        raise
    result = info(name)
    log(f"{name} up: {result['address_in_lab']} in the lab, {result['address_from_host']} from this machine")
    return result


def info(name: str = NAME) -> dict:
    port = host_port(name)
    return {
        "address_in_lab": f"{name}:{PORT}",
        "address_from_host": f"127.0.0.1:{port}",
        "username": USERNAME,
        "password_file": str(password_file(name)),
        "docker_config": str(docker_config_dir(name)),
    }


def split_image(image: str) -> tuple[str, str]:
    """'conductor/demo-app:1.0.0' -> ('conductor/demo-app', '1.0.0'); a registry
    host in front is dropped; no tag means latest."""
    if "@" in image:
        raise RegistryError(f"{image}: push a local image by tag, not by digest")
    repo, tag = image, "latest"
    if ":" in image.rsplit("/", 1)[-1]:
        repo, tag = image.rsplit(":", 1)
    parts = repo.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        repo = "/".join(parts[1:])
    return repo, tag


def login(name: str = NAME) -> str:
    """docker login on 127.0.0.1:<port> with the lab's client config; returns the address."""
    address = info(name)["address_from_host"]
    cfg = docker_config_dir(name)
    _private_dirs(name)
    docker("--config", str(cfg), "login", address, "-u", USERNAME, "--password-stdin",
           input=password_file(name).read_text().strip() + "\n")
    return address


def push(images: list[str], name: str = NAME) -> dict:
    """Push local images; returns {image: manifest digest}."""
    address = login(name)
    cfg = str(docker_config_dir(name))
    digests = {}
    for image in images:
        if docker("image", "inspect", image, check=False).returncode != 0:
            raise RegistryError(f"{image}: no such local image")
        repo, tag = split_image(image)
        target = f"{address}/{repo}:{tag}"
        docker("tag", image, target)
        try:
            out = docker("--config", cfg, "push", target).stdout
        finally:
            docker("image", "rm", target, check=False)  # untag only: the image stays
        found = re.findall(r"digest: (sha256:[0-9a-f]{64})", out)
        if not found:
            raise RegistryError(f"{image}: no digest in the push output:\n{out}")
        digests[image] = found[-1]
    return digests


def down(name: str = NAME) -> None:
    """Remove the container, its volume and its credentials; idempotent."""
    docker("rm", "-f", "-v", name, check=False)
    docker("volume", "rm", "-f", volume_name(name), check=False)
    shutil.rmtree(state_dir(name), ignore_errors=True)
    try:
        REGISTRY_STATE.rmdir()  # only when no other instance's state is left
    except OSError:
        pass


# --- proof that a lab node can pull -------------------------------------------------

def verify_node(reference: str, name: str = NAME) -> None:
    """Pull `reference` (lab-registry:5000/<repo>@sha256:...) from a throwaway
    host made from the lab image (not one of the lab's hosts), the way a lab
    node would: docker.io from Debian, login, pull. Checks first that the pull
    fails without insecure-registries, then that it works with it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import labctl  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    address = info(name)["address_in_lab"]
    if not reference.startswith(address + "/"):
        raise RegistryError(f"{reference}: expected a reference under {address}/")
    password = password_file(name).read_text().strip()
    node = f"conductor-regcheck-{uuid.uuid4().hex[:8]}"
    volume = f"{node}-var-lib-docker"
    docker("volume", "create", "--label", f"{LAB_LABEL}=volume", volume)
    try:
        docker("run", "-d", "--name", node, "--hostname", node, "--network", NETWORK,
               *labctl.HOST_RUN_FLAGS, "-v", f"{volume}:/var/lib/docker", base_image())

        def sh(script: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
            return docker("exec", "-i", node, "sh", "-c", script, check=check, input=input)

        deadline = time.monotonic() + 60
        while sh("systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active basic.target",
                 check=False).stdout.strip() != "active":
            if time.monotonic() > deadline:
                raise RegistryError(f"{node}: systemd did not come up")
            time.sleep(1)
        log(f"{node}: installing docker.io and docker-cli (as the docker_engine role does)")
        sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
           "docker.io docker-cli >/dev/null && systemctl start docker && docker version --format "
           "'engine {{.Server.Version}}'")
        login_cmd = f"docker login {address} -u {USERNAME} --password-stdin"
        res = sh(login_cmd, check=False, input=password + "\n")
        if res.returncode == 0:
            raise RegistryError(f"{node}: login worked WITHOUT {INSECURE_REGISTRIES_KEY}; unexpected")
        log(f"{node}: without {INSECURE_REGISTRIES_KEY}, login fails as expected: "
            f"{res.stderr.strip().splitlines()[-1]}")
        daemon_json = json.dumps({INSECURE_REGISTRIES_KEY: [address]})
        sh(f"mkdir -p /etc/docker && printf '%s\\n' '{daemon_json}' > /etc/docker/daemon.json "
           "&& systemctl restart docker")
        if address not in sh("docker info 2>/dev/null | sed -n '/Insecure Registries:/,/^ [A-Z]/p'").stdout:
            raise RegistryError(f"{node}: dockerd did not take {address} as an insecure registry")
        sh(login_cmd, input=password + "\n")
        out = sh(f"docker pull {reference} && docker image inspect -f '{{{{.Id}}}}' {reference}").stdout
        log(f"{node}: with {daemon_json} in /etc/docker/daemon.json, pulled {reference}")
        print(out.strip())
    finally:
        docker("rm", "-f", "-v", node, check=False)
        docker("volume", "rm", "-f", volume, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "push", "info", "down", "verify-node"])
    parser.add_argument("args", nargs="*", help="images (push) or a reference (verify-node)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            print(json.dumps(up(), indent=2))
        elif args.command == "info":
            print(json.dumps(info(), indent=2))
        elif args.command == "down":
            down()
            log(f"{NAME} removed (container, volume, credentials)")
        elif args.command == "push":
            if not args.args:
                parser.error("push needs at least one IMAGE")
            lab_address = info()["address_in_lab"]
            for image, digest in push(args.args).items():
                repo, _tag = split_image(image)
                print(f"{image} {digest} {lab_address}/{repo}@{digest}")
        elif args.command == "verify-node":
            if len(args.args) != 1:
                parser.error("verify-node needs one reference")
            verify_node(args.args[0])
    except RegistryError as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
