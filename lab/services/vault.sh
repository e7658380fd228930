#!/usr/bin/env bash
# Vault API, dev mode: an in-memory OpenBao dev server (KV v2 at secret/) with
# a fixed root token, seeded with secret/toolboxai/supabase (url,
# database_url) as in the runbook. The raft-storage server is vault-raft.sh.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
port="$LAB_VAULT_PORT"
addr="http://127.0.0.1:$port"
token="$LAB_VAULT_TOKEN"
log="$LAB_LOG/vault.log"
pidfile="$LAB_RUN/vault.pid"
secret_path="secret/data/toolboxai/supabase"

answers() { [[ "$(http_status "$addr/v1/sys/health")" == 200 ]]; }

if ! pid_alive "$pidfile" "-dev-listen-address=127.0.0.1:$port" || ! answers; then
	stop_pid vault "$pidfile" "-dev-listen-address=127.0.0.1:$port"
	require_free_port vault "$port" "$log"
	start_bg "$pidfile" "$log" "$LAB_VENV/bin/bao" server -dev -dev-root-token-id="$token" \
		-dev-listen-address="127.0.0.1:$port" -dev-no-store-token
	wait_for 20 answers || lab_fail "vault (openbao dev)" "sys/health not 200 on $addr within 20 s" "$log"
	lab_say "vault (openbao dev) started on $addr"
fi

if [[ "$(http_status "$addr/v1/$secret_path" -H "X-Vault-Token: $token")" != 200 ]]; then
	body="{\"data\":{\"url\":\"http://127.0.0.1:$LAB_PG_PORT\",\"database_url\":\"postgresql://postgres:toolboxai-lab-password@127.0.0.1:$LAB_PG_PORT/toolboxai\"}}"
	[[ "$(http_status "$addr/v1/$secret_path" -H "X-Vault-Token: $token" -X POST -d "$body")" == 200 ]] ||
		lab_fail "vault (openbao dev)" "cannot write $secret_path" "$log"
	lab_say "vault seeded secret/toolboxai/supabase"
fi

env_begin vault
env_put VAULT_ADDR "$addr"
env_put VAULT_TOKEN "$token"
env_put VAULT_KV_MOUNT secret
env_put VAULT_SECRET_PATH toolboxai/supabase
lab_say "vault ready ($(elapsed "$started") s)"
