#!/usr/bin/env bash
# `make lab-down`: stop what the lab started — by pid file, never by name —
# and remove the Docker containers and networks it created (label
# drhost.lab=1). dockerd is stopped only if the lab started it. Idempotent.
# State (database, raft data, images, venv) stays for a fast next `make lab`;
# `lab/down.sh --purge` also deletes it (all of .lab/ but the venv, and the
# toolboxai images).
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/lib.sh"

purge=""
[[ "${1:-}" == --purge ]] && purge=1
rm -f "$LAB_DIR/env" "$LAB_DIR"/env.d/*

if docker info >/dev/null 2>&1; then
	# The scenario-3 stack is a compose project of its own (no drhost.lab label).
	bash "$LAB_SRC/stack/phase2.sh" down ${purge:+--purge}
	mapfile -t containers < <(docker ps -aq --filter label=drhost.lab=1)
	if ((${#containers[@]})); then
		docker rm -f "${containers[@]}" >/dev/null
		lab_say "removed ${#containers[@]} containers"
	fi
	mapfile -t networks < <(docker network ls -q --filter label=drhost.lab=1)
	if ((${#networks[@]})); then
		docker network rm "${networks[@]}" >/dev/null
		lab_say "removed ${#networks[@]} networks"
	fi
	if [[ -n "$purge" ]]; then
		mapfile -t images < <(docker images -q --filter reference='toolboxai/*' | sort -u)
		((${#images[@]} == 0)) || docker rmi -f "${images[@]}" >/dev/null
	fi
fi

stop_pid registry "$LAB_RUN/registry.pid" "$LAB_DIR/registry/config.yml"
stop_pid "status page" "$LAB_RUN/statuspage.pid" "$LAB_DIR/statuspage"
stop_pid "s3 (moto)" "$LAB_RUN/moto.pid" moto_server
stop_pid "vault (openbao dev)" "$LAB_RUN/vault.pid" "-dev-listen-address=127.0.0.1:$LAB_VAULT_PORT"
stop_pid "vault-raft (openbao)" "$LAB_RUN/vault-raft.pid" "-config=$LAB_DIR/vault-raft/config.hcl"
IFS=, read -r -a sentinels <<<"$LAB_SENTINEL_PORTS"
for p in "${sentinels[@]}"; do stop_pid "sentinel $p" "$LAB_RUN/sentinel-$p.pid" redis-sentinel; done
for p in "$LAB_REDIS_REPLICA_PORT" "$LAB_REDIS_MASTER_PORT"; do stop_pid "redis $p" "$LAB_RUN/redis-$p.pid" redis-server; done
rm -f "$LAB_RUN"/*.sock

data="$LAB_DIR/pg/data"
if [[ -f "$data/postmaster.pid" ]] && runuser -u postgres -- "$LAB_PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
	runuser -u postgres -- "$LAB_PGBIN/pg_ctl" -D "$data" stop -m fast -w >/dev/null
	lab_say "stopped postgres"
fi

stop_pid dockerd "$LAB_RUN/dockerd.pid" dockerd

if [[ -n "$purge" ]]; then
	find "$LAB_DIR" -mindepth 1 -maxdepth 1 ! -name venv -exec rm -rf {} +
	lab_say "purged $LAB_DIR (kept the venv)"
fi
lab_say "down"
