#!/usr/bin/env bash
# The ToolboxAI stack in Docker, named and labelled as `docker compose`
# (project toolboxai) would: networks toolboxai_backend and toolboxai_cache,
# containers toolboxai-backend1..3 and toolboxai-nginx-proxy, every port
# published on 127.0.0.1 only, restart policy "no" (drhost restarts things).
#
# Containers cannot reach the host's loopback, so the backends get Postgres
# and Redis through bind-mounted unix sockets: .lab/pg/socket -> /lab/pg and
# .lab/run -> /lab/run.
#
# A container is kept when it runs the current image, on the right networks;
# otherwise it is recreated. Everything created here carries the label
# drhost.lab=1, which is what lab/down.sh removes.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
log="$LAB_LOG/containers.log"
: >"$log"
project=toolboxai
IFS=, read -r -a backend_ports <<<"$LAB_BACKEND_PORTS"
IFS=, read -r -a sentinel_ports <<<"$LAB_SENTINEL_PORTS"
sentinel_sockets=""
for p in "${sentinel_ports[@]}"; do sentinel_sockets+="${sentinel_sockets:+,}/lab/run/sentinel-$p.sock"; done

dk() { docker "$@" 2>>"$log"; }

# --- networks ----------------------------------------------------------------
for net in backend cache; do
	name="${project}_$net"
	if ! dk network inspect "$name" >/dev/null; then
		dk network create --label "com.docker.compose.project=$project" \
			--label "com.docker.compose.network=$net" --label drhost.lab=1 "$name" >/dev/null ||
			lab_fail "docker network $name" "docker network create failed" "$log"
		lab_say "network $name created"
	fi
done

# keep NAME IMAGE NETWORKS...: NAME runs IMAGE's current id on every NETWORK.
keep() {
	local name="$1" image="$2" net state want_id
	shift 2
	# shellcheck disable=SC2016 # a Go template, not shell
	state="$(dk inspect "$name" --format '{{.State.Running}} {{.Image}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}')" || return 1
	want_id="$(dk image inspect "$image" --format '{{.Id}}')" || return 1
	[[ "$state" == "true $want_id "* ]] || return 1
	for net in "$@"; do [[ " $state " == *" $net "* ]] || return 1; done
}

# recreate NAME SERVICE ALIAS-NETWORKS DOCKER-CREATE-ARGS...
recreate() {
	local name="$1" service="$2" networks="$3" net first=""
	shift 3
	dk rm -f "$name" >/dev/null || true
	for net in $networks; do
		if [[ -z "$first" ]]; then
			first="$net"
			dk create --name "$name" --restart no \
				--label "com.docker.compose.project=$project" \
				--label "com.docker.compose.service=$service" \
				--label com.docker.compose.container-number=1 \
				--label com.docker.compose.oneoff=False \
				--label drhost.lab=1 \
				--network "$net" --network-alias "$service" "$@" >/dev/null ||
				lab_fail "$name" "docker create failed" "$log"
		else
			dk network connect --alias "$service" "$net" "$name" ||
				lab_fail "$name" "docker network connect $net failed" "$log"
		fi
	done
	dk start "$name" >/dev/null || lab_fail "$name" "docker start failed" "$log"
	lab_say "container $name started"
}

# healthy URL: GET URL answers 200.
healthy() { [[ "$(http_status "$1")" == 200 ]]; }

# wait_healthy NAME URL: fail loudly (with the container's log) unless 200.
wait_healthy() {
	if ! wait_for 20 healthy "$2"; then
		local clog="$LAB_LOG/$1.log"
		docker logs "$1" >"$clog" 2>&1 || true
		lab_fail "$1" "$2 answers $(http_status "$2"): $(curl -s --max-time 3 "$2" || true)" "$clog"
	fi
}

# --- backends ----------------------------------------------------------------
recreated_backend=""
for i in 1 2 3; do
	name="toolboxai-backend$i"
	port="${backend_ports[$((i - 1))]}"
	# A backend mounting another tree's sockets (a lab started from a git
	# worktree) cannot reach this lab's Postgres or Redis: recreate it.
	# shellcheck disable=SC2016 # a Go template, not shell
	mounts="$(dk inspect "$name" --format '{{range .Mounts}}{{.Source}} {{end}}' 2>/dev/null || true)"
	if [[ " $mounts " != *" $LAB_PG_SOCKET_DIR "* || " $mounts " != *" $LAB_RUN "* ||
		" $mounts " != *" $LAB_REDIS_PASSWORD_FILE "* ]] ||
		! keep "$name" toolboxai/backend:latest "${project}_backend" "${project}_cache"; then
		dk rm -f "$name" >/dev/null 2>&1 || true
		require_free_port "$name" "$port" "$log"
		recreate "$name" "backend$i" "${project}_backend ${project}_cache" \
			-p "127.0.0.1:$port:8000" \
			-v "$LAB_PG_SOCKET_DIR:/lab/pg" -v "$LAB_RUN:/lab/run" \
			-v "$LAB_REDIS_PASSWORD_FILE:/run/secrets/redis-password:ro" \
			-v "$LAB_SENTINEL_PASSWORD_FILE:/run/secrets/sentinel-password:ro" \
			-e REDIS_PASSWORD_FILE=/run/secrets/redis-password -e SENTINEL_PASSWORD_FILE=/run/secrets/sentinel-password \
			-e "SERVICE_NAME=backend$i" -e PORT=8000 \
			-e PG_SOCKET_DIR=/lab/pg -e "PG_PORT=$LAB_PG_PORT" -e PG_USER=postgres -e PG_DATABASE=toolboxai \
			-e REDIS_SOCKET_DIR=/lab/run -e "SENTINEL_SOCKETS=$sentinel_sockets" \
			-e "REDIS_MASTER_NAME=$LAB_REDIS_MASTER_NAME" -e "REDIS_SOCKET=/lab/run/redis-$LAB_REDIS_MASTER_PORT.sock" \
			toolboxai/backend:latest
		recreated_backend=1
	fi
done
for i in 1 2 3; do
	wait_healthy "toolboxai-backend$i" "http://127.0.0.1:${backend_ports[$((i - 1))]}/health"
done

# --- nginx proxy -------------------------------------------------------------
name=toolboxai-nginx-proxy
nginx_url="http://127.0.0.1:$LAB_NGINX_PORT"
if keep "$name" toolboxai/nginx:latest "${project}_backend"; then
	# New backend containers have new addresses; a reload resolves them again.
	[[ -z "$recreated_backend" ]] || dk exec "$name" nginx -s reload >/dev/null || true
	# Left in maintenance mode (or otherwise unhealthy): start it over.
	wait_for 2 healthy "$nginx_url/health" || dk rm -f "$name" >/dev/null
fi
if ! keep "$name" toolboxai/nginx:latest "${project}_backend"; then
	dk rm -f "$name" >/dev/null 2>&1 || true
	require_free_port "$name" "$LAB_NGINX_PORT" "$log"
	recreate "$name" nginx-proxy "${project}_backend" -p "127.0.0.1:$LAB_NGINX_PORT:80" toolboxai/nginx:latest
fi
wait_healthy "$name" "$nginx_url/health"

env_begin stack
env_put COMPOSE_PROJECT "$project"
env_put DOCKER_NETWORKS "${project}_backend,${project}_cache"
env_put BACKEND_IMAGE toolboxai/backend
env_put NGINX_CONTAINER "$name"
env_put NGINX_URL "$nginx_url"
for i in 1 2 3; do
	env_put "BACKEND${i}_CONTAINER" "toolboxai-backend$i"
	env_put "BACKEND${i}_URL" "http://127.0.0.1:${backend_ports[$((i - 1))]}"
done
lab_say "stack ready ($(elapsed "$started") s)"
