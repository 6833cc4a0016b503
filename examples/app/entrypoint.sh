#!/bin/sh
# Runs under busybox ash, which sets HOSTNAME and has `read -t`.
# shellcheck disable=SC3028,SC3045
# demo-app: PID 1 of the container.
#
# Runs the HTTP server (busybox `nc -ll -e handler.sh`: one forked handler per
# connection) as a child and owns the lifecycle:
#   CRASH=1       print a line to stderr and exit 1 at once (a release whose container exits)
#   START_DELAY   seconds to wait before serving (a slow start)
#   SIGTERM/INT   healthz turns 503, keep serving for DRAIN_SECONDS, stop the
#                 listener, let in-flight requests finish, exit 0
# A shell as PID 1 gets SIGTERM only because it traps it: busybox httpd or nc as
# PID 1 would ignore it and be killed after the whole grace period.

VERSION="${VERSION:-unknown}"
PORT="${PORT:-8080}"
DRAIN_SECONDS="${DRAIN_SECONDS:-2}"
START_DELAY="${START_DELAY:-0}"
INFLIGHT_WAIT="${INFLIGHT_WAIT:-5}"   # max seconds to wait for in-flight requests after the drain
STATE="${STATE_DIR:-/tmp/demo-app}"
HOST="${HOSTNAME:-$(hostname)}"
export VERSION STATE HOST

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) demo-app[$HOST]: $*"; }

is_uint() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; return 0; }

if [ "${CRASH:-0}" = 1 ]; then
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) demo-app[$HOST]: FATAL: CRASH=1 is set: exiting with code 1 right after start (simulated broken release, version=$VERSION)" >&2
    exit 1
fi
val=""
for var in DRAIN_SECONDS START_DELAY INFLIGHT_WAIT PORT; do
    eval "val=\$$var"
    if ! is_uint "$val"; then
        echo "demo-app[$HOST]: FATAL: $var must be a whole number of seconds (or a port), got '$val'" >&2
        exit 2
    fi
done

rm -rf "$STATE"
mkdir -p "$STATE/inflight" || { echo "demo-app: FATAL: cannot create $STATE" >&2; exit 2; }

server_pid=""
stopping=0

stop() {
    [ "$stopping" = 1 ] && return
    stopping=1
    : > "$STATE/draining"
    if [ -z "$server_pid" ]; then
        log "$1 before serving: exiting 0"
        exit 0
    fi
    log "$1: draining for ${DRAIN_SECONDS}s (healthz now 503, still serving requests)"
    sleep "$DRAIN_SECONDS"
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    log "listener closed; waiting up to ${INFLIGHT_WAIT}s for in-flight requests"
    tries=$((INFLIGHT_WAIT * 10))
    while [ "$tries" -gt 0 ] && [ -n "$(ls "$STATE/inflight")" ]; do
        usleep 100000
        tries=$((tries - 1))
    done
    left=$(find "$STATE/inflight" -mindepth 1 -maxdepth 1 | wc -l)
    if [ "$left" -gt 0 ]; then
        log "stopped with $left request(s) still in flight: exiting 0"
    else
        log "stopped cleanly: exiting 0"
    fi
    exit 0
}
trap 'stop SIGTERM' TERM
trap 'stop SIGINT' INT

log "starting version=$VERSION port=$PORT delay_ms=${DELAY_MS:-0} drain_seconds=$DRAIN_SECONDS health=${HEALTH:-ok}"
if [ "$START_DELAY" -gt 0 ]; then
    log "slow start: waiting ${START_DELAY}s before serving (START_DELAY)"
    sleep "$START_DELAY" &
    wait $!
fi
[ "${HEALTH:-ok}" = fail ] && log "HEALTH=fail: /healthz will answer 503 (healthcheck failing)"

nc -ll -p "$PORT" -e /app/handler.sh &
server_pid=$!
log "serving on :$PORT (GET / and /healthz, /config)"

# `wait` returns early when a trapped signal arrives; stop() then exits.
while :; do
    wait "$server_pid"
    rc=$?
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) demo-app[$HOST]: FATAL: the listener exited (code $rc): exiting 1" >&2
        exit 1
    fi
done
