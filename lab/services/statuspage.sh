#!/usr/bin/env bash
# The database provider's status page, as the runbook reads it
# (`curl https://status.supabase.com/api/v2/status.json`): the same JSON
# shape (Atlassian Statuspage's /api/v2/status.json) served on loopback by
# Python's http.server from .lab/statuspage, so the diagnosis path of the
# database plugins runs for real. A test that needs an outage rewrites
# api/v2/status.json (indicator none|minor|major|critical) and puts it back.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
port="$LAB_STATUSPAGE_PORT"
dir="$LAB_DIR/statuspage"
log="$LAB_LOG/statuspage.log"
pidfile="$LAB_RUN/statuspage.pid"
url="http://127.0.0.1:$port/api/v2/status.json"

answers() { [[ "$(http_status "$url")" == 200 ]]; }

# Always the operational page: a test's outage never outlives `make lab`.
mkdir -p "$dir/api/v2"
cat >"$dir/api/v2/status.json.tmp" <<'JSON'
{"page":{"id":"lab","name":"Supabase (lab)","url":"http://127.0.0.1/","time_zone":"Etc/UTC","updated_at":"2026-01-01T00:00:00.000Z"},"status":{"indicator":"none","description":"All Systems Operational"}}
JSON
mv "$dir/api/v2/status.json.tmp" "$dir/api/v2/status.json"

if ! pid_alive "$pidfile" "$dir" || ! answers; then
	stop_pid statuspage "$pidfile" "$dir"
	require_free_port statuspage "$port" "$log"
	start_bg "$pidfile" "$log" python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir"
	wait_for 15 answers || lab_fail statuspage "GET $url not 200 within 15 s" "$log"
	lab_say "status page started on 127.0.0.1:$port"
fi

env_begin statuspage
env_put STATUSPAGE_URL "$url"
env_put STATUSPAGE_FILE "$dir/api/v2/status.json"
lab_say "status page ready ($(elapsed "$started") s)"
