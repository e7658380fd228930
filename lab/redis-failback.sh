#!/usr/bin/env bash
# Puts the lab's Redis back on its canonical master (REDIS_MASTER_PORT), as
# the tests expect, after a drill that failed it over (`make drill` runs it
# last, still holding the lab's test lock): waits until every Sentinel
# agrees on one master and the other node replicates from it, then, when
# that master is not the canonical one, SENTINEL FAILOVER and waits again.
# The same as tests/tests/drill.rs's RestoreRedis; changes nothing when the
# lab is already canonical. Never starts a node (redis-failover does that).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck disable=SC1091
. "$root/.lab/env"
# cli / scli PORT ARGS: redis-cli to a data node / a Sentinel, over TLS with
# its password (in the environment, never on the command line).
cli() { REDISCLI_AUTH="$(<"$REDIS_PASSWORD_FILE")" timeout 5 redis-cli --tls --cacert "$REDIS_CA_FILE" -h "$REDIS_HOST" -p "$1" "${@:2}" 2>/dev/null || true; }
scli() { REDISCLI_AUTH="$(<"$SENTINEL_PASSWORD_FILE")" timeout 5 redis-cli --tls --cacert "$REDIS_CA_FILE" -h "$REDIS_HOST" -p "$1" "${@:2}" 2>/dev/null || true; }
views() { for s in ${SENTINEL_PORTS//,/ }; do scli "$s" SENTINEL get-master-addr-by-name "$REDIS_MASTER_NAME" | tail -1; done | sort -u; }
settled_on() { # MASTER REPLICA
	local info
	info="$(cli "$2" INFO replication)"
	[[ "$(views)" == "$1" ]] && grep -q "role:slave" <<<"$info" && grep -q "master_port:$1" <<<"$info" &&
		grep -q "master_link_status:up" <<<"$info"
}
wait_for() { # SECONDS CONDITION…
	local until=$((SECONDS + $1))
	shift
	while ((SECONDS < until)); do "$@" && return 0; sleep 0.5; done
	return 1
}
either() { settled_on "$REDIS_MASTER_PORT" "$REDIS_REPLICA_PORT" || settled_on "$REDIS_REPLICA_PORT" "$REDIS_MASTER_PORT"; }
if ! wait_for 60 either; then
	echo "lab: redis: no agreed master with a replica within 60 s (sentinels say: $(views | tr '\n' ' ')); run make lab" >&2
	exit 1
fi
settled_on "$REDIS_MASTER_PORT" "$REDIS_REPLICA_PORT" && exit 0
echo "lab: redis: master is $REDIS_REPLICA_PORT after the drills; failing back to $REDIS_MASTER_PORT" >&2
scli "${SENTINEL_PORTS%%,*}" SENTINEL FAILOVER "$REDIS_MASTER_NAME" >/dev/null
if ! wait_for 60 settled_on "$REDIS_MASTER_PORT" "$REDIS_REPLICA_PORT"; then
	echo "lab: redis: the canonical master $REDIS_MASTER_PORT is not back within 60 s; run make lab" >&2
	exit 1
fi
echo "lab: redis: master back on $REDIS_MASTER_PORT" >&2
