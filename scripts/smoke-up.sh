#!/usr/bin/env bash
# `make up` from a clean clone reaches ready; its children stop when procure up alone is killed
# with -9; it is ready again after that (stale pid files, PostgreSQL crash recovery, data
# reused); and Ctrl-C stops everything within 10 s.
# Uses its own ports so that it does not disturb a `make up` already running.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/procure-smoke-XXXXXX)
chmod 755 "$work"
export PROCURE_DEV_POSTGRES_PORT=25432 PROCURE_DEV_NATS_PORT=24222 PROCURE_DEV_HTTP_PORT=18101 PROCURE_DEV_SMTP_PORT=22525
unset PROCURE_POSTGRES_URL NATS_URL DATABASE_URL
clone="$work/procure"
git clone --quiet "$repo" "$clone"
log="$work/up.log"
cleanup() {
    if [ -f "$clone/.procure/up.pids" ]; then
        while read -r pid _; do pkill -9 -s "$pid" 2>/dev/null || true; kill -9 "$pid" 2>/dev/null || true; done < "$clone/.procure/up.pids"
    fi
    [ -n "${group:-}" ] && kill -9 -- "-$group" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

start_up() {  # start `make up` in its own process group; wait for the summary
    : > "$log"
    # setsid execs in place (a background job is no group leader): $! leads the new group,
    # like a terminal's foreground job that Ctrl-C reaches.
    setsid bash -c 'cd "$0" && exec make up' "$clone" >>"$log" 2>&1 &
    group=$!
    local deadline=$((SECONDS + ${1:-300}))
    # Ready when every service answers /health/ready and the summary is printed.
    until grep -q "Procure is running" "$log" && ready_all; do
        if ! kill -0 "$group" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
            echo "make up did not reach ready:"; tail -50 "$log"; exit 1
        fi
        sleep 0.5
    done
}

ready_all() {
    for port in 18101 18102 18103; do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/health/ready" 2>/dev/null || return 1
    done
}

wait_gone() {  # wait_gone SECONDS WHAT PID...: each pid exits within SECONDS, or fail
    local limit=$1 what=$2 since=$SECONDS pid
    shift 2
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null; do
            if [ $((SECONDS - since)) -gt "$limit" ]; then echo "pid $pid $what"; exit 1; fi
            sleep 0.1
        done
    done
}

echo "1. make up from a clean clone"
started=$SECONDS
start_up 600
echo "   ready after $((SECONDS - started)) s (including installation)"

echo "2. kill -9 of procure up alone: its children stop with it"
# up.pids: a line "pid start-time what" for procure up (first) and each process it started.
supervisor=$(awk 'NR == 1 {print $1}' "$clone/.procure/up.pids")
children=$(awk 'NR > 1 {print $1}' "$clone/.procure/up.pids")
kill -9 "$supervisor"
started=$SECONDS
# shellcheck disable=SC2086 # one word a pid
wait_gone 15 "outlived procure up by 15 s" $children
echo "   every child gone $((SECONDS - started)) s after procure up"
kill -9 -- "-$group" 2>/dev/null || true  # make, which saw its child die
wait "$group" 2>/dev/null || true  # reap it quietly
test -f "$clone/.procure/up.pids" || { echo "expected a stale pid file after the crash"; exit 1; }

echo "3. make up again after the crash"
started=$SECONDS
start_up 120
grep -q "reusing its data" "$log" || { echo "the second run did not reuse the data"; exit 1; }
echo "   ready after $((SECONDS - started)) s, data reused"

echo "4. Ctrl-C stops everything within 10 s"
pids=$(awk '{print $1}' "$clone/.procure/up.pids")
kill -INT -- "-$group"
started=$SECONDS
# shellcheck disable=SC2086
wait_gone 10 "still running after 10 s" $pids
echo "   stopped after $((SECONDS - started)) s"
group=
echo "smoke-up: passed"
