#!/usr/bin/env bash
# Vault API, dev mode: an in-memory OpenBao dev server (KV v2 at secret/) with
# a fixed root token, seeded as in the runbook with secret/toolboxai/supabase
# (url, database_url carrying the lab's Postgres password) and
# secret/toolboxai/postgres (username, password) — reseeded when missing or
# stale. The root token also goes to .lab/secrets/vault-token for drhost.
# The raft-storage server is vault-raft.sh.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
port="$LAB_VAULT_PORT"
addr="http://127.0.0.1:$port"
token="$LAB_VAULT_TOKEN"
log="$LAB_LOG/vault.log"
pidfile="$LAB_RUN/vault.pid"

answers() { [[ "$(http_status "$addr/v1/sys/health")" == 200 ]]; }

if ! pid_alive "$pidfile" "-dev-listen-address=127.0.0.1:$port" || ! answers; then
	stop_pid vault "$pidfile" "-dev-listen-address=127.0.0.1:$port"
	require_free_port vault "$port" "$log"
	start_bg "$pidfile" "$log" "$LAB_VENV/bin/bao" server -dev -dev-root-token-id="$token" \
		-dev-listen-address="127.0.0.1:$port" -dev-no-store-token
	wait_for 20 answers || lab_fail "vault (openbao dev)" "sys/health not 200 on $addr within 20 s" "$log"
	lab_say "vault (openbao dev) started on $addr"
fi

vault_seed "vault (openbao dev)" "$addr" "$token" "$log"
secret_put vault-token "$token"

env_begin vault
env_put VAULT_ADDR "$addr"
env_put VAULT_TOKEN "$token"
env_put VAULT_KV_MOUNT secret
env_put VAULT_SECRET_PATH toolboxai/supabase
lab_say "vault ready ($(elapsed "$started") s)"
