#!/usr/bin/env bash
# The runbook's manual Option B (RUNBOOK.md scenario 2) as an on-call engineer
# would type it, timed: ask a Sentinel for the master, SENTINEL FAILOVER, then
# poll until a quorum of Sentinels agrees on a new master that reports
# role:master. Prints the elapsed milliseconds on stdout.
# Usage: runbook-scenario2.sh MASTER_NAME QUORUM SENTINEL_PORT...
set -euo pipefail
name="$1" quorum="$2"
shift 2
sentinels=("$@")
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
started="$(now_ms)"
old="$(redis-cli -p "${sentinels[0]}" sentinel get-master-addr-by-name "$name" | tr '\n' ' ')"
[[ "$(redis-cli -p "${sentinels[0]}" sentinel failover "$name")" == OK ]] || { echo "sentinel failover refused" >&2; exit 1; }
while :; do
	declare -A votes=()
	for s in "${sentinels[@]}"; do
		addr="$(timeout 2 redis-cli -p "$s" sentinel get-master-addr-by-name "$name" 2>/dev/null | tr '\n' ' ')" || continue
		[[ -n "$addr" && "$addr" != "$old" ]] && votes["$addr"]=$(( ${votes["$addr"]:-0} + 1 ))
	done
	for addr in "${!votes[@]}"; do
		if (( votes["$addr"] >= quorum )); then
			read -r host port <<<"$addr"
			if timeout 2 redis-cli -h "$host" -p "$port" info replication 2>/dev/null | grep -q '^role:master'; then
				echo $(( $(now_ms) - started ))
				exit 0
			fi
		fi
	done
	unset votes
	sleep 0.1
done
