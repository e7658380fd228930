#!/usr/bin/env bash
# Writes .lab/drhost.toml: the operator config for running drhost's plugins
# against the lab, so `drhost run plugins/<id>.wasm --config .lab/drhost.toml`
# works with no editing. Called at the end of lab/up.sh; reads .lab/env.
# `lab/drhost-toml.sh OUT` writes the same config to OUT instead (a copy
# for tests or `make drill DRILL_CONFIG=OUT`, leaving the lab's alone).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
env_file="$root/.lab/env"
[ -f "$env_file" ] || { echo "lab: $env_file is missing: run make lab" >&2; exit 1; }
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a

# The S3 credentials go in files only drhost reads (file: references), so
# the TOML holds no secret and drhost needs no extra environment. The
# Postgres password and the Vault tokens are already there: the lab's
# postgres.sh, vault.sh and vault-raft.sh write .lab/secrets/pg-password,
# vault-token and vault-raft-token.
secrets="$LAB_DIR/secrets"
mkdir -p "$secrets" && chmod 700 "$secrets"
if [ $# -eq 0 ] || [ ! -f "$secrets/s3-access-key" ] || [ ! -f "$secrets/s3-secret-key" ]; then
    (umask 077; printf '%s' "$AWS_ACCESS_KEY_ID" > "$secrets/s3-access-key"; printf '%s' "$AWS_SECRET_ACCESS_KEY" > "$secrets/s3-secret-key")
fi

# redis_target LABEL HOST MASTER_PORT REPLICA_PORT SENTINEL_PORTS MASTER_NAME CA_FILE:
# a [targets.redis.LABEL] over TLS (CA_FILE), with the lab's password for
# the data nodes and the Sentinels' own, as the runbook has them. The
# passwords are files drhost reads when it connects: no plugin sees them.
redis_target() {
    cat <<TARGET
[targets.redis.$1]
url = "rediss://$2:$3"
ca_file = "$7"
password = "file:$REDIS_PASSWORD_FILE"
sentinel_password = "file:$SENTINEL_PASSWORD_FILE"
sentinels = [$(echo "$5" | sed -E "s/([0-9]+)/\"$2:\1\"/g; s/,/, /g")]
master_name = "$6"
# Every node Sentinel may report (master or replica): the only addresses
# besides url that drhost connects to (and would send a password to).
nodes = ["$2:$3", "$2:$4"]
timeout = "1s"   # loopback: a node that does not answer within 1 s is unhealthy
TARGET
}

# The scenario-3 stack (lab/stack/phase2.sh: compose project phase2) and
# its drill, when .lab/env describes it (a lab brought up by a tree without
# lab/stack/phase2.sh has none: then they are left out, saying so).
phase2_grants="" phase2_drill=""
if [ -n "${PHASE2_COMPOSE_PROJECT:-}" ]; then
    phase2_grants="$(cat <<PHASE2
# Runbook scenario 3 (complete infrastructure loss) on the lab's own stack
# for it: compose project $PHASE2_COMPOSE_PROJECT (lab/stack/phase2.sh), never the
# toolboxai one. Its Vault's root token is the operator secret the Docker
# secret vault_token is made from; its unseal key is the target's. Both are
# files the plugins never see.
[secrets]
vault-root-token = "file:$PHASE2_VAULT_TOKEN_FILE"

[targets.compose.phase2]
file = "$PHASE2_COMPOSE_FILE"
project = "$PHASE2_COMPOSE_PROJECT"
project_directory = "$PHASE2_PROJECT_DIR"
timeout = "2m"

# The project directory; its certificates/ is what the stack mounts.
[targets.files.infrastructure]
path = "$PHASE2_PROJECT_DIR"

# The stack's own Redis (master, replica, three Sentinels; TLS with the
# stack's certificates, trusted through the CA's copy outside them).
$(redis_target phase2 127.0.0.1 "$PHASE2_REDIS_MASTER_PORT" "$PHASE2_REDIS_REPLICA_PORT" "$PHASE2_SENTINEL_PORTS" toolboxai-master "$PHASE2_REDIS_CA_FILE")

[targets.vault.vault]
address = "$PHASE2_VAULT_ADDR"
token = "file:$PHASE2_VAULT_TOKEN_FILE"
unseal_keys = "file:$PHASE2_VAULT_UNSEAL_KEY_FILE"

# infra-backup: Vault's raft snapshot and the certificates to S3
# ($PHASE2_S3_SNAPSHOT_KEY, $PHASE2_S3_CERTIFICATES_PREFIX: its defaults), with sha256 metadata.
# make lab runs it once the stack is up (lab/stack/phase2.sh backup).
[[plugins.infra-backup.vault]]
target = "vault"
access = ["snapshot"]

[[plugins.infra-backup.files]]
target = "infrastructure"
paths = ["certificates/**"]
access = ["read"]

[[plugins.infra-backup.s3]]
target = "backups"
prefixes = ["vault/*", "certificates/*"]
access = ["read", "write"]

# infra-restore (runbook scenario 3): assess, swarm init, certificates,
# the Docker secret, Vault from its snapshot, every service, verify.
[[plugins.infra-restore.s3]]
target = "backups"
prefixes = ["vault/*", "certificates/*", "supabase/*"]
access = ["read"]

[[plugins.infra-restore.files]]
target = "infrastructure"
paths = ["certificates/**"]
access = ["read", "write"]

[[plugins.infra-restore.shell]]
program = "openssl"
args = ["x509", "-in", "$PHASE2_CERTS_DIR/*", "-noout", "-enddate", "-checkend", "0"]

[[plugins.infra-restore.shell]]
program = "openssl"
args = ["x509", "-in", "$PHASE2_CERTS_DIR/*", "-noout", "-pubkey"]

[[plugins.infra-restore.shell]]
program = "openssl"
args = ["pkey", "-in", "$PHASE2_CERTS_DIR/*.key", "-pubout"]

[[plugins.infra-restore.docker]]
swarm = true

[[plugins.infra-restore.docker]]
secrets = ["$PHASE2_DOCKER_SECRET"]
access = ["read", "write"]

[[plugins.infra-restore.secret]]
names = ["vault-root-token"]

[[plugins.infra-restore.compose]]
target = "phase2"
access = ["read", "up"]

[[plugins.infra-restore.vault]]
target = "vault"
paths = ["secret/toolboxai/*"]
access = ["read"]

[[plugins.infra-restore.vault]]
target = "vault"
access = ["snapshot", "unseal"]

[[plugins.infra-restore.http]]
host = "127.0.0.1:*"

[[plugins.infra-restore.postgres]]
target = "primary"
access = ["read"]

[[plugins.infra-restore.redis]]
target = "phase2"
access = ["read"]

[plugins.infra-restore.params]
certificates-dir = "$PHASE2_CERTS_DIR"
known-secret = "$PHASE2_KNOWN_SECRET"
health-url = "$PHASE2_PROXY_URL/health"
wait = "60s"

# fault-complete-loss: the drill's fault — compose project phase2 down with
# its volumes (Vault's data), the certificates deleted, the Docker secret
# removed (undo: infra-restore, from infra-backup's backups).
[[plugins.fault-complete-loss.compose]]
target = "phase2"
access = ["read", "down"]

[[plugins.fault-complete-loss.files]]
target = "infrastructure"
paths = ["certificates/**"]
access = ["read", "write"]

[[plugins.fault-complete-loss.docker]]
secrets = ["$PHASE2_DOCKER_SECRET"]
access = ["write"]
PHASE2
)"
    phase2_drill="$(cat <<PHASE2
# Runbook 3 on the lab's scenario-3 stack: the backups first, then the
# loss, then infra-restore; the runbook's full DR drill, twice a year.
[drills.infrastructure-loss]
description = "runbook 3: complete infrastructure loss — the phase2 stack down with its volumes (Vault's data), its certificates and Docker secret gone; infra-restore brings it back from the backups infra-backup takes first"
before = "$root/plugins/infra-backup.wasm"
fault = "$root/plugins/fault-complete-loss.wasm"
recovery = "$root/plugins/infra-restore.wasm"
probes.http = ["$PHASE2_PROXY_URL/health"]
probes.redis = ["phase2"]
rto = "15m"
rpo = "5m"
every = "182d"
PHASE2
)"
else
    echo "lab: drhost.toml: left out the scenario-3 stack and its drill: .lab/env does not describe it (make lab from a tree with lab/stack/phase2.sh)" >&2
fi

out="${1:-$root/.lab/drhost.toml}"
tmp="$out.tmp"
cat >"$tmp" <<TOML
# Generated by lab/drhost-toml.sh from .lab/env — do not edit; rerun make lab.
# The operator's grants for the lab. Everything not granted here is denied.

[run]
timeout = "15m"
memory = "256MiB"
journal_dir = "$LAB_DIR/runs"

# Plugins run only when signed by a key in the trust file. make build signs
# every plugin with the lab's development key (.lab/keys/lab-dev.key) and
# writes .lab/trust.toml trusting it; the lock pins what drhost pull fetched.
[trust]
file = "$LAB_DIR/trust.toml"
lock = "$LAB_DIR/drhost.lock"

# hello: the smallest plugin — echo a greeting, probe a health URL.
[[plugins.hello.shell]]
program = "echo"
args = ["**"]

[[plugins.hello.http]]
host = "127.0.0.1:*"

# py-probe (examples/python-probe): health probes on the lab's loopback ports.
[[plugins.py-probe.http]]
host = "127.0.0.1:*"

# The lab's Redis set by label: TLS only (the lab's own CA), a password for
# the data nodes and another for the Sentinels, as the runbook has them. The
# passwords are files drhost reads when it connects: no plugin sees them.
$(redis_target cache "$REDIS_HOST" "$REDIS_MASTER_PORT" "$REDIS_REPLICA_PORT" "$SENTINEL_PORTS" "$REDIS_MASTER_NAME" "$REDIS_CA_FILE")

# redis-failover: runbook scenario 2. It may read, write its probe key and
# trigger a Sentinel failover; it restarts a failed node only with its own
# config file, and restarts the backends when asked.
[[plugins.redis-failover.redis]]
target = "cache"
access = ["read", "write", "sentinel-failover"]

[[plugins.redis-failover.shell]]
program = "redis-server"
args = ["$LAB_DIR/redis/*/redis.conf"]
timeout = "10s"
# It daemonizes: no file size limit, which the Redis it leaves would keep.
starts_daemon = true

[[plugins.redis-failover.docker]]
containers = ["toolboxai-backend*"]
access = ["read", "write"]

# service-recover (runbook scenario 4): find failing backends, diagnose,
# restart, verify; roll back to toolboxai/backend:previous when needed.
[[plugins.service-recover.docker]]
containers = ["toolboxai-backend*"]
compose_project = "$COMPOSE_PROJECT"
access = ["read", "write"]
exec = [["nc", "-z", "-w", "*", "*", "*"]]
images = ["$BACKEND_IMAGE:*"]

[[plugins.service-recover.http]]
host = "127.0.0.1:*"

# network-recover (runbook scenario 5): ping between the stack's containers,
# recreate its networks, reconnect containers, reload the proxy.
[[plugins.network-recover.docker]]
containers = ["toolboxai-*"]
compose_project = "$COMPOSE_PROJECT"
access = ["read", "write"]
exec = [["ping", "-c", "1", "-W", "1", "*"], ["nginx", "-s", "reload"]]
networks = ["toolboxai_*"]
# It recreates a network as it was: bridge (the default network_drivers),
# no driver options, and the subnet the engine gave it from its default
# address pools (172.17.0.0/16 … 172.31.0.0/16, then /20s of 192.168.0.0/16).
network_subnets = ["172.16.0.0/12", "192.168.0.0/16"]

# The stack as the compose project it is (lab/stack/docker-compose.yml,
# brought up by lab/stack/containers.sh), driven by the real docker-compose.
# The project directory holds the .env with the file's variables, which
# containers.sh writes: drhost's calls compute the same config hash as the
# lab's, so an up recreates nothing the lab made.
[targets.compose.toolboxai]
file = "$root/lab/stack/docker-compose.yml"
project = "$COMPOSE_PROJECT"
project_directory = "${COMPOSE_PROJECT_DIR:-$LAB_DIR/compose}"
timeout = "2m"

# logs (quick reference "view logs"): the project's newest log lines, merged
# by time; read only.
[[plugins.logs.compose]]
target = "toolboxai"
access = ["read"]

# restart-all (quick reference "restart all services"): each service in
# dependency order (backends, then the proxy), verified before the next —
# with the lab's probes, healthy means its /health answers 200.
[[plugins.restart-all.compose]]
target = "toolboxai"
access = ["read", "restart"]

[[plugins.restart-all.http]]
host = "127.0.0.1:*"

[plugins.restart-all.params]
probes = "backend1=$BACKEND1_URL/health,backend2=$BACKEND2_URL/health,backend3=$BACKEND3_URL/health,nginx-proxy=$NGINX_URL/health"

# full-restart (quick reference "full restart"): down (volumes kept), up -d,
# every service verified.
[[plugins.full-restart.compose]]
target = "toolboxai"
access = ["read", "up", "down"]

# status (quick reference): read-only look at every container of the stack.
[[plugins.status.docker]]
containers = ["toolboxai-*"]
access = ["read"]

[[plugins.status.http]]
host = "127.0.0.1:*"

[[plugins.status.redis]]
target = "cache"
access = ["read"]

[[plugins.status.postgres]]
target = "primary"
access = ["read"]

# The lab's database and backup bucket by label. Postgres asks for the
# password over TCP (scram-sha-256); drhost reads it from the file, the URL
# carries none.
[targets.postgres.primary]
url = "$PG_URL"
password = "file:$LAB_DIR/secrets/pg-password"
# Plugins granted only "read" log in as this read-only role.
read_user = "drhost_reader"
read_password = "file:$LAB_DIR/secrets/pg-reader-password"

# The same server's maintenance database: what a database is dropped (and
# created) through. Only the drill fault fault-drop-database is granted it.
[targets.postgres.primary-server]
url = "postgresql://$PG_USER@$PG_HOST:$PG_PORT/postgres"
password = "file:$LAB_DIR/secrets/pg-password"

# A scratch database on the same server: backup-verify restores the backups
# into it to prove they restore, never into the live one. Created on first
# use; it stays for inspection, and the next run restores over it.
[targets.postgres.scratch]
url = "postgresql://$PG_USER@$PG_HOST:$PG_PORT/${PG_DATABASE}_scratch"
password = "file:$LAB_DIR/secrets/pg-password"

[targets.s3.backups]
endpoint = "$S3_ENDPOINT"
region = "$S3_REGION"
bucket = "$S3_BUCKET"
path_style = true
access_key = "file:$LAB_DIR/secrets/s3-access-key"
secret_key = "file:$LAB_DIR/secrets/s3-secret-key"

# db-backup (quick reference "database backup"): count, pg_dump, upload
# under supabase/ only.
[[plugins.db-backup.postgres]]
target = "primary"
access = ["read", "dump"]

[[plugins.db-backup.s3]]
target = "backups"
prefixes = ["supabase/*"]
access = ["read", "write"]

# The lab's two OpenBao servers by label: the dev server (secret/toolboxai/*
# seeded as in the runbook) and the raft one (snapshots). Root tokens, read
# from files.
[targets.vault.main]
address = "$VAULT_ADDR"
token = "file:$LAB_DIR/secrets/vault-token"

[targets.vault.raft]
address = "$VAULT_RAFT_ADDR"
token = "file:$LAB_DIR/secrets/vault-raft-token"
# db-restore (runbook scenario 1 option B): fetch the backup from S3, restore
# it into the database, put the connection secret back in Vault, restart the
# backends and check their health.
[[plugins.db-restore.s3]]
target = "backups"
prefixes = ["supabase/*"]
access = ["read"]

[[plugins.db-restore.postgres]]
target = "primary"
access = ["read", "restore", "admin"]

[[plugins.db-restore.vault]]
target = "main"
paths = ["secret/toolboxai/*"]
access = ["read", "write"]

[[plugins.db-restore.docker]]
containers = ["toolboxai-backend*"]
access = ["read", "write"]

[[plugins.db-restore.http]]
host = "127.0.0.1:*"

# Its diagnosis, as db-outage's: the provider's status page (the lab's on
# loopback) and the backends' log lines (read is within the grant above).
[[plugins.db-restore.http]]
host = "status.supabase.com:443"

[plugins.db-restore.params]
status-page = "$STATUSPAGE_URL"

# backup-verify ("prove the backups restore"): the newest backup from S3
# into the scratch database, row counts checked against the source's at the
# backup. It reads the live database only (as drhost_reader).
[[plugins.backup-verify.s3]]
target = "backups"
prefixes = ["supabase/*"]
access = ["read"]

[[plugins.backup-verify.postgres]]
target = "primary"
access = ["read"]

[[plugins.backup-verify.postgres]]
target = "scratch"
access = ["read", "restore", "admin"]

# db-outage (runbook scenario 1 option A): maintenance page while the
# database is down — copy the maintenance site over the proxy's default site
# and reload; put the backup copy back when the database answers again.
[[plugins.db-outage.postgres]]
target = "primary"
access = ["read"]

[[plugins.db-outage.docker]]
containers = ["toolboxai-nginx-proxy"]
access = ["read", "write"]
exec = [
    ["cp", "/etc/nginx/maintenance.conf", "/etc/nginx/sites-enabled/default.conf"],
    ["cp", "/etc/nginx/sites-enabled/toolboxai.conf.backup", "/etc/nginx/sites-enabled/default.conf"],
    ["nginx", "-t"],
    ["nginx", "-s", "reload"],
]

[[plugins.db-outage.http]]
host = "127.0.0.1:*"

# Its diagnosis, as the runbook writes it: the provider's status page (the
# lab serves the same JSON on loopback; the default is Supabase's), and the
# backends' log lines about the database or connections.
[[plugins.db-outage.http]]
host = "status.supabase.com:443"

[[plugins.db-outage.docker]]
containers = ["toolboxai-backend*"]
access = ["read"]

[plugins.db-outage.params]
status-page = "$STATUSPAGE_URL"

# Drill faults (drhost drill): plugins like any other, signed and granted.
# fault-kill-backend kills one backend (undo: docker start it, or
# service-recover); fault-stop-redis-master stops the master Sentinel names
# with redis-cli --tls … SHUTDOWN NOSAVE (undo: redis-server its config,
# which redis-failover does).
[[plugins.fault-kill-backend.docker]]
containers = ["toolboxai-backend*"]
access = ["read", "write"]

[[plugins.fault-stop-redis-master.redis]]
target = "cache"
access = ["read"]

# One entry per data node's port (either may be the master): never a
# Sentinel, nor any other Redis on the host. Over TLS with the lab's CA; the
# password reaches redis-cli in its environment, never the plugin.
$(for port in "$REDIS_MASTER_PORT" "$REDIS_REPLICA_PORT"; do
	for command in '"SHUTDOWN", "NOSAVE"' '"PING"'; do
		printf '[[plugins.fault-stop-redis-master.shell]]\nprogram = "redis-cli"\nargs = ["--tls", "--cacert", "%s", "-h", "%s", "-p", "%s", %s]\nenv = { REDISCLI_AUTH = "file:%s" }\ntimeout = "10s"\n\n' \
			"$REDIS_CA_FILE" "$REDIS_HOST" "$port" "$command" "$REDIS_PASSWORD_FILE"
	done
done)

# fault-drop-database drops the primary database through the server's
# maintenance database (undo: db-restore, from the latest backup).
[[plugins.fault-drop-database.postgres]]
target = "primary"
access = ["read"]

[[plugins.fault-drop-database.postgres]]
target = "primary-server"
access = ["read", "write"]

# fault-database-outage makes the primary database refuse every connection
# for a while (ALTER DATABASE … ALLOW_CONNECTIONS false), then lets them in
# again itself: a provider's outage, for the database-outage drill (undo, had
# it been killed: ALTER DATABASE … ALLOW_CONNECTIONS true).
[[plugins.fault-database-outage.postgres]]
target = "primary"
access = ["read"]

[[plugins.fault-database-outage.postgres]]
target = "primary-server"
access = ["read", "write"]

# fault-remove-network disconnects every container from one of the stack's
# networks and removes it (undo: network-recover recreates it).
[[plugins.fault-remove-network.docker]]
containers = ["toolboxai-*"]
networks = ["toolboxai_*"]
access = ["read", "write"]

$phase2_grants

# The lab's drills (drhost drill NAME; drhost schedule): the runbook's
# scenarios with host probes, judged against RTO 15 min / RPO 5 min.
[drills.service-failure]
description = "runbook 4: a backend is killed; service-recover restarts it"
fault = "$root/plugins/fault-kill-backend.wasm"
fault_params = { container = "$BACKEND2_CONTAINER" }
recovery = "$root/plugins/service-recover.wasm"
probes.http = ["$NGINX_URL/health", "$BACKEND2_URL/health"]
rto = "15m"
rpo = "5m"
every = "30d"

[drills.redis-failover]
description = "runbook 2: the Redis master stops; Sentinel fails over, redis-failover restarts the old master as a replica"
fault = "$root/plugins/fault-stop-redis-master.wasm"
fault_params = { redis-cli-options = "--tls --cacert $REDIS_CA_FILE" }
recovery = "$root/plugins/redis-failover.wasm"
recovery_params = { restart-command = "redis-server $LAB_DIR/redis/{port}/redis.conf", rejoin-timeout = "90s" }
probes.redis = ["cache"]
rto = "15m"
rpo = "5m"
every = "30d"

[drills.database-restore]
description = "runbook 1B: the database is dropped; db-restore restores the backup taken before the fault"
before = "$root/plugins/db-backup.wasm"
before_params = { prefix = "supabase/drills/" }
fault = "$root/plugins/fault-drop-database.wasm"
recovery = "$root/plugins/db-restore.wasm"
recovery_params = { prefix = "supabase/drills/" }
probes.postgres = ["primary"]
probes.http = ["$NGINX_URL/health"]
baseline = "5s"
rto = "15m"
rpo = "5m"
every = "90d"

[drills.database-outage]
description = "runbook 1A: the database refuses connections for 20s (a provider outage); db-outage serves the maintenance page meanwhile and switches back once it answers"
fault = "$root/plugins/fault-database-outage.wasm"
fault_params = { duration = "20s" }
recovery = "$root/plugins/db-outage.wasm"
recovery_params = { interval = "1s", wait = "5m" }
recovery_after = "2s"   # the outage lasts: db-outage starts 2s into it, as an operator would
probes.http = ["$NGINX_URL/health"]
probes.postgres = ["primary"]
rto = "15m"
rpo = "5m"
every = "90d"

# No fault: nothing is broken. A fresh backup (before) is restored into the
# scratch database and checked; RTO is the restore's time, the probes show
# the live database kept answering and lost nothing. Without \`before\`, the
# newest backup under the prefix is the one proved (e.g. prefix = "supabase/").
[drills.backup-restore]
description = "prove the backups restore: the latest backup is restored into a scratch database (never the live one) and its row counts checked against the source's"
before = "$root/plugins/db-backup.wasm"
before_params = { prefix = "supabase/drills/backup-restore/" }
recovery = "$root/plugins/backup-verify.wasm"
recovery_params = { prefix = "supabase/drills/backup-restore/" }
probes.postgres = ["primary"]
probes.http = ["$NGINX_URL/health"]
rto = "15m"
rpo = "5m"
every = "7d"

[drills.network-partition]
description = "runbook 5: the stack's backend network is removed (the proxy loses the backends); network-recover recreates it and reconnects the containers"
fault = "$root/plugins/fault-remove-network.wasm"
fault_params = { network = "toolboxai_backend" }
recovery = "$root/plugins/network-recover.wasm"
probes.http = ["$NGINX_URL/health", "$BACKEND1_URL/health", "$BACKEND2_URL/health", "$BACKEND3_URL/health"]
rto = "15m"
rpo = "5m"
every = "90d"

$phase2_drill
TOML

mv "$tmp" "$out"
