"""Minimal Debian root file systems as local base images, offline from any registry.

  rootfs.py build NAME PKG...   debootstrap --variant=minbase with PKG..., strip
                                docs, man pages, locales and apt lists, and
                                `docker import` it as conductor-swarm/base-NAME:<recipe>
  rootfs.py tag NAME PKG...     print that tag without building

The tag is a digest of the recipe (suite, mirror, packages, this builder), so
`build` is a no-op when the image is already there; it prints the tag either
way (on stdout; progress goes to stderr). Downloaded packages are cached under
LAB_CACHE_DIR (default /var/cache/conductor-swarm-lab)/rootfs-debs.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labctl import CACHE_DIR, SUITE, apt_mirrors, docker, docker_bin, log, sources_file  # noqa: E402

IMAGE_PREFIX = "conductor-swarm/base-"
RECIPE_LABEL = "io.conductor-swarm.rootfs.recipe"
# Its own package cache: labctl's debootstrap may run at the same time on the
# same machine, and debootstrap does not lock its cache directory.
DEBS = CACHE_DIR / "rootfs-debs"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PKG_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")

# What a container never reads. Stripped from the new tree, and kept out of
# packages a derived image installs later (dpkg path-exclude).
STRIP = [
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
    "usr/share/lintian", "usr/share/linda", "usr/share/bash-completion",
]
DPKG_EXCLUDES = """\
# conductor-swarm base image: no docs, man pages or translations
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/lintian/*
"""


def recipe_digest(packages: list[str]) -> str:
    h = hashlib.sha256()
    code = [inspect.getsource(f) for f in (make_tree, strip, _remove, sources_file)]
    for part in (*code, SUITE, repr(apt_mirrors()), repr(STRIP), DPKG_EXCLUDES, repr(packages)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


def image_tag(name: str, packages: list[str]) -> str:
    return f"{IMAGE_PREFIX}{name}:{recipe_digest(packages)}"


def make_tree(root: Path, packages: list[str]) -> None:
    mirror, security = apt_mirrors()
    DEBS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
                    f"--cache-dir={DEBS}", SUITE, str(root), mirror],
                   check=True, stdout=subprocess.DEVNULL)
    # Sources for a derived image's `apt-get update`; the lists themselves are stripped.
    (root / "etc/apt/sources.list.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(sources_file(mirror, security))
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/conductor-swarm-minimal").write_text(DPKG_EXCLUDES)
    (root / "etc/resolv.conf").write_text("")   # the engine provides one per container
    (root / "etc/hostname").write_text("")
    (root / "etc/machine-id").write_text("")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def strip(root: Path) -> None:
    for rel in STRIP:
        d = root / rel
        if not d.is_dir():
            continue
        for child in d.iterdir():
            if rel == "usr/share/doc" and (child / "copyright").exists():
                # Keep the licences: /usr/share/doc/*/copyright.
                for f in child.iterdir():
                    if f.name != "copyright":
                        _remove(f)
            else:
                _remove(child)
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
                    "var/cache/debconf/*-old", "var/lib/dpkg/*-old", "var/log/*.log",
                    "var/log/apt/*", "var/cache/ldconfig/aux-cache"):
        for f in root.glob(pattern):
            if f.is_file() or f.is_symlink():
                f.unlink()


def build(name: str, packages: list[str]) -> str:
    tag = image_tag(name, packages)
    if docker("image", "inspect", tag, check=False).returncode == 0:
        log(f"{tag} is up to date")
        return tag
    if shutil.which("debootstrap") is None:
        sys.exit("rootfs: debootstrap is missing (apt-get install debootstrap)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"building {tag} (debootstrap {SUITE} minbase + {' '.join(packages)})")
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=CACHE_DIR) as tmp:
        root = Path(tmp) / "root"
        make_tree(root, packages)
        strip(root)
        with subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE) as tar:
            subprocess.run([docker_bin(), "import",
                            "-c", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "-c", f"LABEL {RECIPE_LABEL}={tag.rsplit(':', 1)[1]}",
                            "-c", f"LABEL io.conductor-swarm.rootfs.packages={','.join(packages)}",
                            "-", tag], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        if tar.returncode != 0:
            sys.exit("rootfs: tar of the root file system failed")
    size = docker("image", "inspect", "-f", "{{.Size}}", tag).stdout.strip()
    log(f"built {tag} in {time.monotonic() - started:.0f}s ({int(size) / 1e6:.0f} MB)")
    # Older recipes of this base are dead weight; an image built FROM one keeps its layers.
    repo = tag.rsplit(":", 1)[0]
    for old in docker("images", repo, "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        if old != tag:
            docker("image", "rm", old, check=False)
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "tag"])
    parser.add_argument("name", help="the image is conductor-swarm/base-NAME")
    parser.add_argument("packages", nargs="+", metavar="PKG", help="Debian packages to include")
    args = parser.parse_args(argv)
    if not NAME_RE.match(args.name):
        parser.error(f"{args.name!r} is not a valid name (lowercase letters, digits, '_', '.', '-')")
    bad = [p for p in args.packages if not PKG_RE.match(p)]
    if bad:
        parser.error(f"not Debian package names: {' '.join(bad)}")
    print(build(args.name, args.packages) if args.command == "build" else image_tag(args.name, args.packages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
