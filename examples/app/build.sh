#!/usr/bin/env bash
# Build the demo app image conductor/demo-app:<VERSION> for each VERSION given
# (default: 1.0.0 2.0.0), offline: app.py FROM a minimal Debian trixie base
# that lab/rootfs.py debootstraps and imports (conductor-swarm/base-app:<recipe>).
#
#   examples/app/build.sh                 # conductor/demo-app:1.0.0 and :2.0.0
#   examples/app/build.sh 3.0.0 3.0.1
#
# Needs a Docker Engine, python3 and (for the first base build only) root and
# debootstrap with this machine's Debian mirror. Idempotent: an image whose
# recipe (base image tag, Dockerfile, app.py, this file) has not changed is not
# rebuilt, so a second run takes a second or two.
#
# Environment: DEMO_APP_REPO (default conductor/demo-app), LAB_CACHE_DIR
# (default /var/cache/conductor-swarm-lab), DOCKER_API_VERSION (default 1.41).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
REPO="${DEMO_APP_REPO:-conductor/demo-app}"
RECIPE_LABEL="io.conductor-swarm.demo-app.recipe"
# What app.py needs: python3-minimal lacks http.server, email and hashlib's
# OpenSSL backend, which are in trixie's libpython3.13-stdlib; busybox-static is
# the stack's healthcheck client (/bin/busybox wget).
BASE_PACKAGES=(python3-minimal libpython3.13-stdlib busybox-static)
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

# --- the base: built once per recipe, a no-op afterwards ----------------------
base="$(python3 "$ROOT/lab/rootfs.py" build app "${BASE_PACKAGES[@]}")" || die "building the base image failed"

# --- recipe digest: anything that goes into the image -------------------------
recipe="$( { echo "$base"; cat "$HERE/Dockerfile" "$HERE/app.py" "$HERE/build.sh"; } | sha256sum | cut -c1-12)"

# --- the build context, assembled once per run if anything needs building ----
ctx=""
cleanup() { [[ -n "$ctx" ]] && rm -rf "$ctx"; return 0; }
trap cleanup EXIT
make_context() {
    ctx="$(mktemp -d "${TMPDIR:-/tmp}/demo-app-ctx.XXXXXX")"
    install -m 0644 "$HERE/app.py" "$ctx/app.py"
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
        say "building $tag (recipe $recipe, base $base)"
        old="$("$DOCKER" image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
        "$DOCKER" build -q --build-arg "BASE=$base" --build-arg "VERSION=$v" \
            --label "$RECIPE_LABEL=$recipe" -t "$tag" "$ctx" >/dev/null
        # The image this tag named before is dead weight now, unless a container or another tag uses it.
        [[ -z "$old" ]] || "$DOCKER" image rm "$old" >/dev/null 2>&1 || true
    fi
    echo "$tag $("$DOCKER" image inspect -f '{{.Id}}' "$tag")"
done
