#!/usr/bin/env bash
# Runbook scenario 3 ("Complete Infrastructure Loss") done by hand, step by
# step as ../shared/RUNBOOK.md writes it — the baseline
# `tests/benches/infra.rs` compares `drhost run infra-restore` with, on the
# same kind of scenario-3 project (lab/stack/phase2/docker-compose.phase2.yml):
#
#   1. assess                docker ps; aws s3 ls of the backups
#   2. provision             docker swarm init (skipped when already a manager)
#   3. certificates          aws s3 sync s3://BUCKET/PREFIXcertificates/ CERTS_DIR
#   4. docker secrets        the root token | docker secret create vault_token -
#   5. vault                 docker-compose up -d vault; aws s3 cp the snapshot;
#                            bao operator init (the fresh server needs a token to
#                            take a snapshot), unseal, bao operator raft snapshot
#                            restore -force; unseal with the original key
#   6. services              docker-compose up -d
#   7. verify                docker ps; curl /health; psql SELECT 1; redis-cli --tls -a … ping
#
# Environment (all required): COMPOSE_FILE PROJECT PROJECT_DIR CERTS_DIR
# S3_ENDPOINT BUCKET PREFIX VAULT_PORT ROOT_TOKEN_FILE UNSEAL_KEY_FILE
# HEALTH_URL PG_SOCKET_DIR PG_PORT REDIS_PORT REDIS_CA_FILE REDIS_PASSWORD_FILE AWS_ACCESS_KEY_ID
# AWS_SECRET_ACCESS_KEY BAO AWS. Prints `phase NAME MS` per step and
# `total MS`; exits non-zero when a step fails. It verifies less than
# infra-restore: no checksum, no certificate check, no known secret.
set -euo pipefail
ms() { date +%s%3N; }
start="$(ms)"
mark="$start"
phase() { local now; now="$(ms)"; echo "phase $1 $((now - mark))"; mark="$now"; }
compose() { docker-compose --ansi never -f "$COMPOSE_FILE" --project-directory "$PROJECT_DIR" -p "$PROJECT" "$@"; }
s3() { "$AWS" --endpoint-url "$S3_ENDPOINT" --region us-east-1 s3 "$@"; }
export VAULT_ADDR="http://127.0.0.1:$VAULT_PORT"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# 1. Assess damage.
docker ps -a --filter "label=com.docker.compose.project=$PROJECT" >/dev/null
s3 ls "s3://$BUCKET/$PREFIX" --recursive >/dev/null
phase assess

# 2. Provision: docker swarm init.
if [[ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]]; then docker swarm init >/dev/null; fi
phase provision

# 3. Restore certificates.
s3 sync "s3://$BUCKET/${PREFIX}certificates/" "$CERTS_DIR" >/dev/null
chmod 600 "$CERTS_DIR"/*.key
phase certificates

# 4. Create Docker secrets.
docker secret rm vault_token >/dev/null 2>&1 || true
docker secret create vault_token - <"$ROOT_TOKEN_FILE" >/dev/null
phase secrets

# 5. Restore Vault data.
compose up -d vault 2>/dev/null
s3 cp "s3://$BUCKET/${PREFIX}vault/vault-snapshot.snap" "$scratch/vault-snapshot.snap" >/dev/null
until curl -s -o /dev/null "$VAULT_ADDR/v1/sys/seal-status"; do sleep 0.2; done
"$BAO" operator init -key-shares=1 -key-threshold=1 -format=json >"$scratch/init.json"
"$BAO" operator unseal "$(jq -r '.unseal_keys_b64[0]' "$scratch/init.json")" >/dev/null
until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$VAULT_ADDR/v1/sys/health")" == 200 ]]; do sleep 0.2; done
VAULT_TOKEN="$(jq -r .root_token "$scratch/init.json")" "$BAO" operator raft snapshot restore -force "$scratch/vault-snapshot.snap"
"$BAO" operator unseal "$(cat "$UNSEAL_KEY_FILE")" >/dev/null || true
phase vault

# 6. Start services.
compose up -d 2>/dev/null
phase services

# 7. Verify all services.
docker ps --filter "label=com.docker.compose.project=$PROJECT" >/dev/null
for _ in $(seq 1 60); do
	[[ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$HEALTH_URL")" == 200 ]] && break
	sleep 1
done
[[ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$HEALTH_URL")" == 200 ]]
psql -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres -d toolboxai -Atc 'SELECT 1' >/dev/null
REDISCLI_AUTH="$(cat "$REDIS_PASSWORD_FILE")" redis-cli --tls --cacert "$REDIS_CA_FILE" -p "$REDIS_PORT" ping | grep -qx PONG
phase verify
echo "total $(($(ms) - start))"
