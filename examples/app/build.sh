#!/usr/bin/env bash
# Build the demo app image conductor/demo-app:<VERSION> for each VERSION given
# (default: 1.0.0 2.0.0), offline: FROM scratch + Debian's static busybox.
#
#   examples/app/build.sh                 # conductor/demo-app:1.0.0 and :2.0.0
#   examples/app/build.sh 3.0.0 3.0.1
#
# Needs only a Docker Engine and apt (busybox-static is downloaded with
# `apt-get download`, never installed, and cached). Idempotent: an image whose
# recipe (scripts, Dockerfile, this file, busybox binary) has not changed is
# not rebuilt, so a second run takes a second or two.
#
# Environment: DEMO_APP_REPO (default conductor/demo-app), LAB_CACHE_DIR
# (default /var/cache/conductor-swarm-lab), DOCKER_API_VERSION (default 1.41).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="${DEMO_APP_REPO:-conductor/demo-app}"
CACHE="${LAB_CACHE_DIR:-/var/cache/conductor-swarm-lab}/demo-app"
RECIPE_LABEL="io.conductor-swarm.demo-app.recipe"
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-1.41}"
export DOCKER_BUILDKIT=0    # the classic builder: no BuildKit frontend image to pull
# Debian's client matches Debian's engine; a newer preinstalled client may not.
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi

say() { echo "demo-app: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

if [[ $# -gt 0 ]]; then versions=("$@"); else versions=(1.0.0 2.0.0); fi
for v in "${versions[@]}"; do
    [[ "$v" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "'$v' is not a valid image tag"
done
"$DOCKER" info >/dev/null 2>&1 || die "no Docker Engine reachable (scripts/ensure-docker.sh starts one)"

# --- busybox-static, from Debian, cached -----------------------------------
mkdir -p "$CACHE/debs"
deb_version() { dpkg-deb -f "$1" Version 2>/dev/null; }
cached_deb() {  # the cached .deb of version $1 ("" = any, newest first)
    local f
    # Our own cache of Debian package files (no spaces in their names); ls -t: newest first.
    # shellcheck disable=SC2045
    for f in $(ls -t "$CACHE"/debs/busybox-static_*.deb 2>/dev/null); do
        if [[ -z "$1" || "$(deb_version "$f")" == "$1" ]]; then echo "$f"; return 0; fi
    done
    return 1
}
candidate="$(apt-cache policy busybox-static 2>/dev/null | awk '/Candidate:/ {print $2}')"
[[ "$candidate" == "(none)" ]] && candidate=""
if ! deb="$(cached_deb "$candidate")"; then
    say "downloading busybox-static ${candidate:-(no package list yet)} from Debian"
    if ! (cd "$CACHE/debs" && apt-get download -q busybox-static >/dev/null 2>"$CACHE/apt.err"); then
        say "apt-get download failed; running apt-get update once"
        apt-get update -qq >/dev/null 2>>"$CACHE/apt.err" || { cat "$CACHE/apt.err" >&2; die "apt-get update failed"; }
        candidate="$(apt-cache policy busybox-static | awk '/Candidate:/ {print $2}')"
        (cd "$CACHE/debs" && apt-get download -q busybox-static >/dev/null 2>>"$CACHE/apt.err") \
            || { cat "$CACHE/apt.err" >&2; die "apt-get download busybox-static failed"; }
    fi
    deb="$(cached_deb "$candidate")" || deb="$(cached_deb "")" || die "no busybox-static .deb after download"
fi
deb_sha="$(sha256sum "$deb" | cut -c1-16)"
bbroot="$CACHE/busybox-$deb_sha"
if [[ ! -x "$bbroot/bin/busybox" ]]; then
    rm -rf "$bbroot.tmp" && mkdir -p "$bbroot.tmp"
    dpkg-deb -x "$deb" "$bbroot.tmp"
    [[ -x "$bbroot.tmp/bin/busybox" ]] || die "$deb has no bin/busybox"
    rm -rf "$bbroot" && mv "$bbroot.tmp" "$bbroot"
fi
busybox="$bbroot/bin/busybox"
"$busybox" true || die "$busybox does not run here"

# --- recipe digest: anything that goes into the image -------------------------
recipe="$( { sha256sum "$busybox" | cut -d' ' -f1
            cat "$HERE/Dockerfile" "$HERE/entrypoint.sh" "$HERE/handler.sh" "$HERE/build.sh"
          } | sha256sum | cut -c1-12)"

# --- the build context, assembled once per run if anything needs building ----
ctx=""
cleanup() { [[ -n "$ctx" ]] && rm -rf "$ctx"; return 0; }
trap cleanup EXIT
make_context() {
    ctx="$(mktemp -d "${TMPDIR:-/tmp}/demo-app-ctx.XXXXXX")"
    local r="$ctx/rootfs"
    mkdir -p "$r/bin" "$r/app" "$r/tmp" "$r/etc/demo-app"
    install -m 0755 "$busybox" "$r/bin/busybox"
    local applet
    for applet in $("$busybox" --list); do
        [[ "$applet" == busybox ]] || ln -s busybox "$r/bin/$applet"
    done
    install -m 0755 "$HERE/entrypoint.sh" "$r/app/entrypoint.sh"
    install -m 0755 "$HERE/handler.sh" "$r/app/handler.sh"
    chmod 1777 "$r/tmp"
    cp "$HERE/Dockerfile" "$ctx/Dockerfile"
    # Fixed times, so the classic builder's layer cache hits across runs.
    find "$ctx" -exec touch -h -d @0 {} +
}

for v in "${versions[@]}"; do
    tag="$REPO:$v"
    have="$("$DOCKER" image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$tag" 2>/dev/null || true)"
    if [[ "$have" == "$recipe" ]]; then
        say "$tag is up to date (recipe $recipe)"
    else
        [[ -n "$ctx" ]] || make_context
        say "building $tag (recipe $recipe, busybox $(deb_version "$deb"))"
        "$DOCKER" build -q --build-arg "VERSION=$v" --label "$RECIPE_LABEL=$recipe" \
            -t "$tag" "$ctx" >/dev/null
    fi
    echo "$tag $("$DOCKER" image inspect -f '{{.Id}}' "$tag")"
done
