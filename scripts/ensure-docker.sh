#!/usr/bin/env bash
# Make a Docker Engine reachable for the lab: use the one DOCKER_HOST (or the
# default socket) points at; otherwise install Debian's docker.io and start
# dockerd by hand (the build machines have no systemd).
set -euo pipefail

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# The preinstalled client can be newer than Debian's engine: pin the API.
export DOCKER_API_VERSION="${DOCKER_API_VERSION:-1.41}"

if engine_up; then
  exit 0
fi

need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  echo "ensure-docker: installing ${need_pkgs[*]} from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ ! -S /var/run/docker.sock ] || ! engine_up; then
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
