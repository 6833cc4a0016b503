#!/bin/sh
# Runs under busybox ash, which sets HOSTNAME and has `read -t`.
# shellcheck disable=SC3028,SC3045
# demo-app: one HTTP request. `nc -ll -e` runs this once per connection, with the
# connection on stdin/stdout; stderr is the container's, so log lines go there.
#
#   GET /         after DELAY_MS: "version=<VERSION> host=<hostname>"
#   GET /healthz  200 "ok"; 503 while draining (after SIGTERM) or when HEALTH=fail
#   GET /config   the mounted config file, and whether the secret is present
set -f
trap '' PIPE            # a client that went away must not kill us before cleanup
CR=$(printf '\r')
STATE="${STATE:-/tmp/demo-app}"
HOST="${HOST:-${HOSTNAME:-$(hostname)}}"
CONFIG_FILE="${CONFIG_FILE:-/etc/demo-app/app.conf}"
TOKEN_FILE="${TOKEN_FILE:-/run/secrets/app_token}"

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) demo-app[$HOST]: $*" >&2; }

now_ms() {  # from /proc/uptime (centiseconds), enough for request durations
    read -r up _ < /proc/uptime
    cs="${up%.*}${up#*.}"
    cs="${cs#"${cs%%[!0]*}"}"
    echo $(( ${cs:-0} * 10 ))
}

method="-" path="-" code=000
respond() {  # respond "<code> <reason>" "<body>"
    code=${1%% *}
    len=$(printf '%s\n' "$2" | wc -c)
    printf 'HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %s\r\nX-App-Version: %s\r\nConnection: close\r\n\r\n' \
        "$1" "$len" "$VERSION"
    [ "$method" = HEAD ] || printf '%s\n' "$2"
}

start=$(now_ms)
read -r -t 10 line || exit 0           # connected but sent nothing: just close
: > "$STATE/inflight/$$" 2>/dev/null
trap 'rm -f "$STATE/inflight/$$"' EXIT
line="${line%"$CR"}"
# shellcheck disable=SC2086
set -- $line
method="${1:-}" target="${2:-}"
headers=0
while read -r -t 5 h; do                # the request headers, up to the blank line
    h="${h%"$CR"}"
    [ -z "$h" ] && break
    headers=$((headers + 1))
    [ "$headers" -gt 100 ] && break
done
path="${target%%\?*}"
note=""

case "$method" in
    GET|HEAD) ;;
    "") method="-"; respond "400 Bad Request" "bad request" ;;
    *) respond "405 Method Not Allowed" "method not allowed" ;;
esac

if [ "$code" = 000 ]; then
    case "$path" in
        /)
            delay="${DELAY_MS:-0}"
            case "$delay" in ''|*[!0-9]*) delay=0 ;; esac
            [ "$delay" -gt 0 ] && usleep $((delay * 1000))
            respond "200 OK" "version=$VERSION host=$HOST"
            ;;
        /healthz)
            if [ "${HEALTH:-ok}" = fail ]; then
                note="healthcheck failing: HEALTH=fail"
                respond "503 Service Unavailable" "unhealthy: HEALTH=fail"
            elif [ -e "$STATE/draining" ]; then
                note="draining"
                respond "503 Service Unavailable" "draining"
            else
                respond "200 OK" "ok"
            fi
            ;;
        /config)
            if [ -r "$CONFIG_FILE" ]; then
                body="$(cat "$CONFIG_FILE")"
            else
                body="# no config file at $CONFIG_FILE"
            fi
            if [ -r "$TOKEN_FILE" ]; then
                body="$body
# secret $TOKEN_FILE: present ($(wc -c < "$TOKEN_FILE") bytes, value not shown)"
            else
                body="$body
# secret $TOKEN_FILE: absent"
            fi
            respond "200 OK" "$body"
            ;;
        *)
            respond "404 Not Found" "not found"
            ;;
    esac
fi

elapsed=$(( $(now_ms) - start ))
if [ -n "$note" ]; then
    log "$note ($method $path -> $code, ${elapsed}ms)"
else
    log "$method $path -> $code ${elapsed}ms version=$VERSION"
fi
