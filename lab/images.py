"""Images the lab runs besides the example app, built offline from Debian packages.

  images.py edge     conductor/edge-agent:<EDGE_VERSION>: the edge agent (python3), with HAProxy for
                     routers and the read-only Docker API service
  images.py haproxy  conductor/haproxy:<HAPROXY_TAG>: the lab's stand-in for the official HAProxy image
                     (lab/haproxy), which the edge proxy service runs
  images.py naive    conductor/naive-nginx:1: nginx, the benchmark's naive baseline

Each image carries a label with a digest of its recipe (base, Dockerfile, the
files copied in); one whose recipe did not change is not rebuilt.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rootfs  # noqa: E402
from labctl import docker, log  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# The classic builder: BuildKit would want a frontend image from a registry.
os.environ["DOCKER_BUILDKIT"] = "0"
RECIPE_LABEL = "io.conductor-swarm.image.recipe"
EDGE_REPO = "conductor/edge-agent"
EDGE_VERSION = "0.2.0"
EDGE_PACKAGES = ["haproxy", "python3-minimal", "libpython3.13-stdlib", "busybox-static", "ca-certificates"]
EDGE_FILES = ROOT / "roles" / "edge_proxy" / "files"
EDGE_LIB = ROOT / "plugins" / "module_utils" / "edge"
MANAGER_SIDE = ("proxy_client.py",)
HAPROXY_IMAGE = "conductor/haproxy:3.0"
HAPROXY_FILES = ROOT / "lab" / "haproxy"
NAIVE_IMAGE = "conductor/naive-nginx:1"
NAIVE_PACKAGES = ["nginx", "busybox-static"]


def _recipe(base: str, files: list[Path]) -> str:
    h = hashlib.sha256(base.encode())
    for f in sorted(files):
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _current(tag: str, recipe: str) -> bool:
    found = docker("image", "inspect", "-f", "{{index .Config.Labels \"%s\"}}" % RECIPE_LABEL, tag, check=False)
    return found.returncode == 0 and found.stdout.strip() == recipe


def edge_image() -> str:
    base = rootfs.build("edge", EDGE_PACKAGES)
    # What the agent imports: everything but the managers' side of the proxy.
    lib = sorted(p for p in EDGE_LIB.glob("*.py") if p.name not in MANAGER_SIDE)
    files = [EDGE_FILES / "Dockerfile", EDGE_FILES / "edge_agent.py", EDGE_FILES / "docker-api.cfg", *lib]
    tag = f"{EDGE_REPO}:{EDGE_VERSION}"
    recipe = _recipe(base, files)
    if _current(tag, recipe):
        log(f"{tag} is up to date")
        return tag
    with tempfile.TemporaryDirectory(prefix="edge-image-") as tmp:
        ctx = Path(tmp)
        shutil.copy(EDGE_FILES / "Dockerfile", ctx / "Dockerfile")
        opt = ctx / "opt"
        pkg = opt / "ansible_collections" / "conductor" / "swarm" / "plugins" / "module_utils" / "edge"
        pkg.mkdir(parents=True)
        shutil.copy(EDGE_FILES / "edge_agent.py", opt / "edge_agent.py")
        shutil.copy(EDGE_FILES / "docker-api.cfg", opt / "docker-api.cfg")
        for f in lib:
            shutil.copy(f, pkg / f.name)
        docker("build", "-q", "--build-arg", f"BASE={base}", "--build-arg", f"VERSION={EDGE_VERSION}",
               "--label", f"{RECIPE_LABEL}={recipe}", "-t", tag, str(ctx))
    log(f"built {tag}")
    return tag


def haproxy_image() -> str:
    base = rootfs.build("haproxy", ["haproxy"])
    files = sorted(HAPROXY_FILES.iterdir())
    recipe = _recipe(base, files)
    if _current(HAPROXY_IMAGE, recipe):
        log(f"{HAPROXY_IMAGE} is up to date")
        return HAPROXY_IMAGE
    docker("build", "-q", "--build-arg", f"BASE={base}", "--label", f"{RECIPE_LABEL}={recipe}",
           "-t", HAPROXY_IMAGE, str(HAPROXY_FILES))
    log(f"built {HAPROXY_IMAGE}")
    return HAPROXY_IMAGE


def naive_image() -> str:
    base = rootfs.build("nginx", NAIVE_PACKAGES)
    docker("tag", base, NAIVE_IMAGE)
    return NAIVE_IMAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", choices=["edge", "haproxy", "naive"])
    args = parser.parse_args(argv)
    print({"edge": edge_image, "haproxy": haproxy_image, "naive": naive_image}[args.image]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
