#!/usr/bin/env bash
# OCI registry: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with
# filesystem storage under .lab/registry/data. Docker treats 127.0.0.0/8
# registries as insecure, so `docker push 127.0.0.1:PORT/...` works as is.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
port="$LAB_REGISTRY_PORT"
dir="$LAB_DIR/registry"
conf="$dir/config.yml"
log="$LAB_LOG/registry.log"
pidfile="$LAB_RUN/registry.pid"

answers() { [[ "$(http_status "http://127.0.0.1:$port/v2/")" == 200 ]]; }

if ! pid_alive "$pidfile" "$conf" || ! answers; then
	stop_pid registry "$pidfile" "$conf"
	mkdir -p "$dir/data"
	cat >"$conf" <<YML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
	require_free_port registry "$port" "$log"
	start_bg "$pidfile" "$log" docker-registry serve "$conf"
	wait_for 15 answers || lab_fail registry "GET /v2/ not 200 on 127.0.0.1:$port within 15 s" "$log"
	lab_say "registry started on 127.0.0.1:$port"
fi

env_begin registry
env_put REGISTRY "127.0.0.1:$port"
env_put REGISTRY_URL "http://127.0.0.1:$port"
lab_say "registry ready ($(elapsed "$started") s)"
