#!/usr/bin/env bash
# What the lab needs on this machine: a reachable Docker Engine and debootstrap,
# and HAProxy, which the edge agent's tests (tests/unit/edge) run for real.
# Uses the engine DOCKER_HOST (or the default socket) points at; otherwise
# installs Debian's docker.io and starts dockerd by hand (build machines have
# no systemd).
set -euo pipefail

# The preinstalled client can be newer than Debian's engine: pin the API.
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-1.41}"
engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

need_pkgs=()
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_pkgs+=(haproxy)
if ! engine_up; then
  command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
  command -v docker >/dev/null 2>&1 || need_pkgs+=(docker-cli)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "ensure-docker: installing ${need_pkgs[*]} from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Releases before Debian 13 ship the client inside docker.io.
  if [[ " ${need_pkgs[*]} " == *" docker-cli "* ]] && ! apt-cache policy docker-cli | grep -q 'Candidate: [0-9]'; then
    mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | grep -vx docker-cli)
  fi
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if ! engine_up; then
  echo "ensure-docker: starting dockerd" >&2
  setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    engine_up && break
    sleep 1
  done
fi

if ! engine_up; then
  echo "ensure-docker: no Docker Engine reachable; see /var/log/dockerd.log" >&2
  tail -n 20 /var/log/dockerd.log >&2 || true
  exit 1
fi
