#!/usr/bin/env bash
# Runbook scenario 4 ("Application Service Failure") done by hand with the
# docker CLI, step by step as ../shared/RUNBOOK.md writes it — the baseline
# `tests/benches/docker.rs` compares `drhost run service-recover` with.
#
#   1. identify failing services  docker-compose ps → docker ps; /health per backend
#   2. diagnose                   docker logs --tail 100; docker inspect (memory limit)
#   3. restart                    docker-compose restart backendN → docker restart
#   4. verify                     curl /health until 200, every POLL seconds
#
# SERVICES: containers to check (default the three backends); each one's
# health URL is read from its published 8000/tcp port. POLL: seconds
# between two health checks (default 1, as an operator's `sleep 1` loop;
# the bench also runs it at 0.1, service-recover's own interval). Exits 0
# once every failing service answers 200 again, 1 if one does not within
# 30 s of its restart.
set -euo pipefail
services="${SERVICES:-toolboxai-backend1 toolboxai-backend2 toolboxai-backend3}"
poll="${POLL:-1}"

health_url() {
	local port
	port="$(docker inspect -f '{{with index .NetworkSettings.Ports "8000/tcp"}}{{(index . 0).HostPort}}{{end}}' "$1")"
	[[ -n "$port" ]] && echo "http://127.0.0.1:$port/health"
}

healthy() {
	local url
	url="$(health_url "$1")" || return 1
	[[ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$url")" == 200 ]]
}

# 1. Identify failing services.
docker ps -a --filter label=com.docker.compose.project=toolboxai >/dev/null
failing=()
for name in $services; do
	if [[ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ]] || ! healthy "$name"; then
		failing+=("$name")
	fi
done

for name in "${failing[@]}"; do
	# 2. Diagnose: logs, resource limits.
	docker logs "$name" --tail 100 2>&1 | grep -iE 'database|connection|error' || true
	echo "$name memory limit: $(docker inspect -f '{{.HostConfig.Memory}}' "$name")"
	# 3. Restart.
	docker restart "$name" >/dev/null
	# 4. Verify.
	ok=""
	deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)); do
		if healthy "$name"; then ok=1; break; fi
		sleep "$poll"
	done
	[[ -n "$ok" ]] || { echo "$name still unhealthy after restart" >&2; exit 1; }
	echo "$name recovered"
done
