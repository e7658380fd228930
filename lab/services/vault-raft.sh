#!/usr/bin/env bash
# Vault API, raft storage: a one-node OpenBao with integrated (raft) storage
# under .lab/vault-raft, for `operator raft snapshot` save/restore tests.
# First start: sys/init (1 key share) — the init reply (unseal key, root
# token) is kept in .lab/vault-raft/init.json — then KV v2 at secret/ with the
# same seed secrets as the dev server. Later starts: sys/unseal with that key.
# The seed is rewritten whenever it is missing or stale (e.g. after a snapshot
# restore). The root token also goes to .lab/secrets/vault-raft-token.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
port="$LAB_VAULT_RAFT_PORT"
addr="http://127.0.0.1:$port"
dir="$LAB_DIR/vault-raft"
init="$dir/init.json"
log="$LAB_LOG/vault-raft.log"
pidfile="$LAB_RUN/vault-raft.pid"
conf="$dir/config.hcl"
service="vault-raft (openbao)"

health() { http_status "$addr/v1/sys/health"; }
active() { [[ "$(health)" == 200 ]]; }
listening() { [[ "$(health)" =~ ^(200|429|472|473|501|503)$ ]]; }
api() { # api METHOD PATH [JSON]: a token-authenticated call; prints the status
	curl -s -o "$dir/last-reply.json" -w '%{http_code}' --max-time 10 -X "$1" \
		-H "X-Vault-Token: ${token:-}" "$addr/v1/$2" ${3:+-d "$3"} || true
}

start_server() {
	mkdir -p "$dir/data"
	cat >"$conf" <<HCL
storage "raft" {
  path    = "$dir/data"
  node_id = "lab-raft-1"
  # Raft timers x1 instead of the production default x5: init/unseal in ~1 s.
  performance_multiplier = 1
}
listener "tcp" {
  address         = "127.0.0.1:$port"
  cluster_address = "127.0.0.1:$LAB_VAULT_RAFT_CLUSTER_PORT"
  tls_disable     = true
}
api_addr     = "$addr"
cluster_addr = "http://127.0.0.1:$LAB_VAULT_RAFT_CLUSTER_PORT"
ui           = false
HCL
	require_free_port "$service" "$port" "$log"
	start_bg "$pidfile" "$log" "$LAB_VENV/bin/bao" server -config="$conf"
	wait_for 20 listening || lab_fail "$service" "no answer on $addr within 20 s" "$log"
}

if ! pid_alive "$pidfile" "-config=$conf" || ! listening; then
	stop_pid vault-raft "$pidfile" "-config=$conf"
	# Data without its keys can never be unsealed, and raft data remembers its
	# cluster address: start over when either is the case.
	listen_ports="$port $LAB_VAULT_RAFT_CLUSTER_PORT"
	if [[ ! -s "$init" || "$(cat "$dir/ports" 2>/dev/null)" != "$listen_ports" ]]; then
		rm -rf "$dir/data" "$init"
	fi
	mkdir -p "$dir"
	echo "$listen_ports" >"$dir/ports"
	start_server
	lab_say "$service started on $addr"
fi

if [[ "$(health)" == 501 ]]; then
	api PUT sys/init '{"secret_shares":1,"secret_threshold":1}' >/dev/null
	grep -qs root_token "$dir/last-reply.json" ||
		lab_fail "$service" "sys/init failed: $(cat "$dir/last-reply.json")" "$log"
	mv "$dir/last-reply.json" "$init"
	chmod 600 "$init"
	lab_say "$service initialized"
fi
[[ -s "$init" ]] || lab_fail "$service" "initialized but $init is missing; run lab/down.sh and remove $dir" "$log"
unseal_key="$(json_get "$init" keys_base64 0)"
token="$(json_get "$init" root_token)"
if [[ "$(health)" == 503 ]]; then
	api PUT sys/unseal "{\"key\":\"$unseal_key\"}" >/dev/null
fi
wait_for 30 active || lab_fail "$service" "not active (sys/health $(health)) within 30 s of unseal" "$log"

if [[ "$(api GET sys/mounts/secret)" != 200 ]]; then
	[[ "$(api POST sys/mounts/secret '{"type":"kv","options":{"version":"2"}}')" == 204 ]] ||
		lab_fail "$service" "cannot mount KV v2 at secret/: $(cat "$dir/last-reply.json")" "$log"
fi
vault_seed "$service" "$addr" "$token" "$log"
secret_put vault-raft-token "$token"

env_begin vault-raft
env_put VAULT_RAFT_ADDR "$addr"
env_put VAULT_RAFT_TOKEN "$token"
env_put VAULT_RAFT_UNSEAL_KEY "$unseal_key"
lab_say "vault-raft ready ($(elapsed "$started") s)"
