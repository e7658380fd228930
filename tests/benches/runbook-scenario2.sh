#!/usr/bin/env bash
# The runbook's manual Option B (RUNBOOK.md scenario 2) as an on-call engineer
# would type it, timed: ask a Sentinel for the master, SENTINEL FAILOVER, then
# poll until a quorum of Sentinels agrees on a new master that reports
# role:master. Prints the elapsed milliseconds on stdout. Every redis-cli
# goes over TLS with a password, as the runbook's `redis-cli --tls -a …`.
# Usage: runbook-scenario2.sh MASTER_NAME QUORUM SENTINEL_PORT...
# Environment: REDIS_CA_FILE, REDIS_PASSWORD_FILE, SENTINEL_PASSWORD_FILE.
set -euo pipefail
name="$1" quorum="$2"
shift 2
sentinels=("$@")
password="$(cat "$REDIS_PASSWORD_FILE")" spassword="$(cat "$SENTINEL_PASSWORD_FILE")"
# rcli / scli ARGS: redis-cli to a data node / a Sentinel (2 s at most).
rcli() { REDISCLI_AUTH="$password" timeout 2 redis-cli --tls --cacert "$REDIS_CA_FILE" "$@"; }
scli() { REDISCLI_AUTH="$spassword" timeout 2 redis-cli --tls --cacert "$REDIS_CA_FILE" "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
started="$(now_ms)"
old="$(scli -p "${sentinels[0]}" sentinel get-master-addr-by-name "$name" | tr '\n' ' ')"
[[ "$(scli -p "${sentinels[0]}" sentinel failover "$name")" == OK ]] || { echo "sentinel failover refused" >&2; exit 1; }
while :; do
	declare -A votes=()
	for s in "${sentinels[@]}"; do
		addr="$(scli -p "$s" sentinel get-master-addr-by-name "$name" 2>/dev/null | tr '\n' ' ')" || continue
		[[ -n "$addr" && "$addr" != "$old" ]] && votes["$addr"]=$(( ${votes["$addr"]:-0} + 1 ))
	done
	for addr in "${!votes[@]}"; do
		if (( votes["$addr"] >= quorum )); then
			read -r host port <<<"$addr"
			if rcli -h "$host" -p "$port" info replication 2>/dev/null | grep -q '^role:master'; then
				echo $(( $(now_ms) - started ))
				exit 0
			fi
		fi
	done
	unset votes
	sleep 0.1
done
