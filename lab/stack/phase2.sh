#!/usr/bin/env bash
# The lab's own scenario-3 stack (runbook: complete infrastructure loss):
# compose project `phase2` from lab/stack/phase2/docker-compose.phase2.yml —
# Vault (OpenBao, raft storage on the volume phase2_vault-data), Redis
# master, replica and three Sentinels (TLS with the stack's certificates, the
# lab's Redis passwords), three backends and the proxy — what `make drill`'s
# infrastructure-loss drill destroys and infra-restore brings back. tests/src/phase2.rs makes stacks of
# the same file for single tests (their own project names, same .env names).
#
#   bash lab/stack/phase2.sh [up]         the stack, up and healthy (up.sh)
#   bash lab/stack/phase2.sh backup       infra-backup, through drhost and
#                                         .lab/drhost.toml, unless S3 already
#                                         holds current backups (up.sh, last)
#   bash lab/stack/phase2.sh down [--purge]  the project down (down.sh);
#                                         --purge also drops Vault's volume,
#                                         the Docker secret and .lab/phase2
#
# `up` is idempotent and leaves a healthy stack as it is:
# - .lab/phase2/ is the project directory (its .env: the file's variables),
#   .lab/phase2/certificates/ the certificates directory (a CA certificate,
#   a server certificate for 127.0.0.1 and localhost and its key, 10 years;
#   the CA's key is not kept), made once; .lab/phase2/redis-ca.crt a copy of
#   the CA certificate outside it, what drhost's redis target trusts (the
#   operator's copy, which a loss of the stack's directory leaves);
# - Vault initialised (one key share) on its first start, its root token
#   and unseal key in .lab/secrets/phase2-vault-root-token and
#   phase2-vault-unseal-key (0600, never printed), unsealed after every
#   restart, KV v2 at secret/ and the lab's secret/toolboxai/* (vault_seed);
# - the engine a swarm, and the runbook's Docker secret vault_token made
#   from the root token (label lab.token-sha256: remade when the token
#   changed, e.g. a test's stack replaced it);
# - the proxy's /health answers 200.
# Whatever changed what infra-backup copies (certificates, Vault) is noted
# in .lab/phase2/backup-needed for `backup`.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
mode="${1:-up}"
service="scenario-3 stack"
log="$LAB_LOG/phase2.log"
project=phase2
compose_file="$LAB_SRC/stack/phase2/docker-compose.phase2.yml"
dir="$LAB_DIR/phase2"
certs="$dir/certificates"
token_file="$LAB_SECRETS/phase2-vault-root-token"
key_file="$LAB_SECRETS/phase2-vault-unseal-key"
marker="$dir/backup-needed"
vault_addr="http://127.0.0.1:$LAB_PHASE2_VAULT_PORT"
proxy_url="http://127.0.0.1:$LAB_PHASE2_PROXY_PORT"
IFS=, read -r redis_master redis_replica sentinel1 sentinel2 sentinel3 <<<"$LAB_PHASE2_REDIS_PORTS"
docker_secret=vault_token
known_secret=secret/toolboxai/supabase
snapshot_key=vault/vault-snapshot.snap
certificates_prefix=certificates/

# compose ARGS...: the real CLI on the project, with the environment drhost
# gives it (PATH, HOME, DOCKER_HOST), so the project's .env alone decides.
compose() {
	env -i PATH="$PATH" HOME="$HOME" DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}" \
		docker-compose --ansi never -f "$compose_file" --project-directory "$dir" -p "$project" "$@" >>"$log" 2>&1
}

# --- down ----------------------------------------------------------------------
if [[ "$mode" == down ]]; then
	[[ -d "$dir" ]] || exit 0
	docker info >/dev/null 2>&1 || exit 0
	if [[ "${2:-}" == --purge ]]; then
		compose down -v --remove-orphans -t 1 || true
		docker secret rm "$docker_secret" >/dev/null 2>&1 || true
		rm -rf "$dir" "$token_file" "$key_file"
		lab_say "$service: project $project down, its volume, Docker secret and $dir removed"
	else
		compose down --remove-orphans -t 1 || true
		lab_say "$service: project $project down (Vault's volume kept)"
	fi
	exit 0
fi

# --- backup --------------------------------------------------------------------
# s3_sha256 KEY: the object's `sha256` metadata (what infra-backup writes);
# fails when there is no such object. A signed HEAD with moto's (any) lab
# credentials, which .lab/env holds in the clear too.
s3_sha256() {
	local head
	head="$(curl -sf -I --max-time 5 --aws-sigv4 aws:amz:us-east-1:s3 --user lab:lab-secret \
		"http://127.0.0.1:$LAB_S3_PORT/$LAB_S3_BUCKET/$1" | tr -d '\r')" || return 1
	sed -n 's/^x-amz-meta-sha256: //Ip' <<<"$head"
}

# current_backups: S3 holds the snapshot and every certificate with the
# local file's sha256; else says what is not (one line).
current_backups() {
	local file name
	s3_sha256 "$snapshot_key" >/dev/null || { echo "no $snapshot_key in S3" && return 1; }
	for file in "$certs"/*; do
		name="$certificates_prefix${file##*/}"
		if [[ "$(s3_sha256 "$name" || true)" != "$(sha256sum "$file" | cut -d' ' -f1)" ]]; then
			echo "S3's $name is not the local file" && return 1
		fi
	done
}

if [[ "$mode" == backup ]]; then
	drhost="$LAB_ROOT/target/release/drhost"
	plugin="$LAB_ROOT/plugins/infra-backup.wasm"
	config="$LAB_DIR/drhost.toml"
	[[ -d "$certs" ]] || lab_fail "$service backup" "no $certs: run lab/stack/phase2.sh (make lab) first" "$log"
	if [[ ! -f "$marker" ]] && why="$(current_backups 2>&1)"; then
		lab_say "$service: S3 holds current backups ($snapshot_key, $certificates_prefix*)"
		exit 0
	fi
	if [[ ! -x "$drhost" || ! -f "$plugin" || ! -f "$LAB_DIR/trust.toml" ]]; then
		lab_say "$service: infra-backup not run yet (${why:-Vault or the certificates changed}): drhost and its plugins are not built — make build, then make lab (make test does)"
		exit 0
	fi
	if ! DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}" "$drhost" run "$plugin" --config "$config" --yes --quiet >>"$log" 2>&1; then
		lab_fail "$service backup" "drhost run plugins/infra-backup.wasm --config $config failed" "$log"
	fi
	rm -f "$marker"
	lab_say "$service: infra-backup put Vault's snapshot and the certificates in s3://$LAB_S3_BUCKET/ ($(elapsed "$started") s)"
	exit 0
fi

[[ "$mode" == up ]] || { echo "usage: $0 [up | backup | down [--purge]]" >&2; exit 2; }

# --- up ------------------------------------------------------------------------
: >"$log"
command -v docker-compose >/dev/null ||
	lab_fail "$service" "no docker-compose (apt-get install docker-compose; lab/services/packages.sh apt does)" "$log"
wait_for 60 docker info || lab_fail "$service" "docker does not answer" "$LAB_LOG/dockerd.log"
for image in toolboxai/openbao:latest toolboxai/backend:latest toolboxai/nginx:latest; do
	docker image inspect "$image" >/dev/null 2>&1 ||
		lab_fail "$service" "no image $image (lab/stack/images.sh, lab/stack/openbao-image.sh)" "$log"
done
mkdir -p "$dir"

# The project's .env: the same names tests/src/phase2.rs writes.
{
	echo "# Generated by lab/stack/phase2.sh for lab/stack/phase2/docker-compose.phase2.yml — do not edit."
	echo "PHASE2_VAULT_PORT=$LAB_PHASE2_VAULT_PORT"
	echo "PHASE2_PROXY_PORT=$LAB_PHASE2_PROXY_PORT"
	echo "PHASE2_CERTS_DIR=$certs"
	echo "PHASE2_REDIS_MASTER_PORT=$redis_master"
	echo "PHASE2_REDIS_REPLICA_PORT=$redis_replica"
	echo "PHASE2_SENTINEL1_PORT=$sentinel1"
	echo "PHASE2_SENTINEL2_PORT=$sentinel2"
	echo "PHASE2_SENTINEL3_PORT=$sentinel3"
	stack_env
} >"$dir/.env.tmp"
mv "$dir/.env.tmp" "$dir/.env"

# Certificates: made once (a drill's infra-restore puts the same bytes back).
recreate=()
if [[ ! -s "$certs/ca.crt" || ! -s "$certs/server.crt" || ! -s "$certs/server.key" ]] ||
	! openssl x509 -in "$certs/server.crt" -noout -checkend 2592000 >/dev/null 2>&1 ||
	! openssl x509 -in "$certs/server.crt" -noout -ext subjectAltName 2>/dev/null | grep -q 'IP Address:127.0.0.1'; then
	tmp="$dir/certificates.tmp.$$" scratch="$dir/ca.tmp.$$"
	ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	rm -rf "$tmp" "$scratch" && mkdir -p "$tmp" "$scratch"
	(
		umask 077
		openssl req -x509 "${ec[@]}" -days 3650 -subj /CN=toolboxai-lab-ca -keyout "$scratch/ca.key" -out "$tmp/ca.crt" &&
			openssl req "${ec[@]}" -subj /CN=localhost -keyout "$tmp/server.key" -out "$scratch/server.csr" &&
			openssl x509 -req -days 3650 -in "$scratch/server.csr" -CA "$tmp/ca.crt" -CAkey "$scratch/ca.key" \
				-set_serial "0x$(openssl rand -hex 8)" -out "$tmp/server.crt" \
				-extfile <(printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\n')
	) >>"$log" 2>&1 || lab_fail "$service" "openssl could not make the certificates" "$log"
	rm -rf "$scratch"
	chmod 644 "$tmp/ca.crt" "$tmp/server.crt"
	chmod 600 "$tmp/server.key"
	chmod 755 "$tmp"
	rm -rf "$certs" && mv "$tmp" "$certs"
	touch "$marker"
	# A running container mounts the directory that was replaced.
	recreate=(--force-recreate)
	lab_say "$service: certificates made in $certs"
fi
cmp -s "$certs/ca.crt" "$dir/redis-ca.crt" || cp "$certs/ca.crt" "$dir/redis-ca.crt"

# Docker secrets need a swarm (what infra-restore's provision step does too).
if [[ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>>"$log")" != active ]]; then
	docker swarm init --advertise-addr 127.0.0.1 >>"$log" 2>&1 ||
		lab_fail "$service" "docker swarm init failed" "$log"
	lab_say "$service: the engine is now a single-node swarm"
fi

# A container on no network although its service has one (not the host's):
# the engine left a swarm (Docker 20.10 detaches every container then) or
# its network went behind compose's back. Compose would start it as it is.
# shellcheck disable=SC2016 # a Go template, not shell
detached="$(docker ps -aq --filter "label=com.docker.compose.project=$project" |
	xargs -r docker inspect --format '{{.Name}} {{.HostConfig.NetworkMode}} {{len .NetworkSettings.Networks}}' 2>>"$log" |
	awk '$2 != "host" && $3 == 0 { sub("^/", "", $1); print $1 }' | tr '\n' ' ')"
if [[ -n "$detached" ]]; then
	recreate=(--force-recreate)
	lab_say "$service: recreating the stack: container(s) on no network: $detached"
fi

running="$(docker ps -q --filter "label=com.docker.compose.project=$project" | wc -l)"
if ((running == 0)); then
	require_free_port "$service" "$LAB_PHASE2_VAULT_PORT" "$log"
	require_free_port "$service" "$LAB_PHASE2_PROXY_PORT" "$log"
	for port in "$redis_master" "$redis_replica" "$sentinel1" "$sentinel2" "$sentinel3"; do
		require_free_port "$service" "$port" "$log"
	done
fi
compose up -d --no-build "${recreate[@]}" ||
	lab_fail "$service" "docker-compose -p $project up failed: $(grep -v -i swarm "$log" | tail -n 1)" "$log"
((running == 10)) || lab_say "$service: compose project $project up"

# Vault: initialised once, unsealed after a restart, KV v2 at secret/. The
# Python reads and writes the secret files itself: no value on a command line.
# vault_ready prints what it did; exit 3 when Vault's volume holds data this
# lab has no working unseal key for (the volume outlived .lab/secrets, or
# another checkout's lab made it: the project name is fixed).
vault_ready() {
	VAULT_ADDR="$vault_addr" lab_python - "$token_file" "$key_file" 2>>"$log" <<'PY'
import json, os, sys, time, urllib.error, urllib.request

addr = os.environ["VAULT_ADDR"]
token_file, key_file = sys.argv[1:3]

def call(method, path, body=None, token=None):
    headers = {"X-Vault-Token": token} if token else {}
    req = urllib.request.Request(f"{addr}/v1/{path}", method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            text = reply.read()
            return reply.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as e:
        return e.code, None
    except OSError:
        return 0, None

def put(path, value):
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    os.replace(tmp, path)

deadline = time.monotonic() + 60
while True:
    status, _ = call("GET", "sys/health")
    if status in (200, 429, 501, 503):
        break
    if time.monotonic() > deadline:
        sys.exit(f"Vault at {addr} does not answer sys/health (last status {status})")
    time.sleep(0.2)

if status == 501:
    status, init = call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
    if status != 200:
        sys.exit(f"sys/init answered {status}")
    os.makedirs(os.path.dirname(token_file), mode=0o700, exist_ok=True)
    put(token_file, init["root_token"])
    put(key_file, init["keys_base64"][0])
    print("initialised")
    status = 503

if status == 503:
    try:
        key = open(key_file).read().strip()
    except OSError:
        print(f"Vault is sealed and {key_file} is missing", file=sys.stderr)
        sys.exit(3)
    status, reply = call("PUT", "sys/unseal", {"key": key})
    if status != 200 or reply.get("sealed", True):
        print(f"Vault refused the lab's unseal key in {key_file} (HTTP {status})", file=sys.stderr)
        sys.exit(3)
    print("unsealed")

token = open(token_file).read().strip()
deadline = time.monotonic() + 30
while call("GET", "sys/health")[0] != 200:
    if time.monotonic() > deadline:
        sys.exit("Vault did not become active after the unseal")
    time.sleep(0.2)
status, mounts = call("GET", "sys/mounts", token=token)
if status != 200:
    sys.exit(f"sys/mounts answered {status}: the root token in {token_file} is not this Vault's")
mount = (mounts.get("data") or mounts).get("secret/")
if mount is None:
    status, _ = call("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, token=token)
    if status not in (200, 204):
        sys.exit(f"mounting KV v2 at secret/ answered {status}")
    print("mounted")
elif mount.get("type") != "kv" or (mount.get("options") or {}).get("version") != "2":
    sys.exit("secret/ is mounted but is not KV v2")
PY
}
rc=0
vault_said="$(vault_ready)" || rc=$?
if ((rc == 3)); then
	# The lab's own Vault: its data is only the seeded secrets, so a volume
	# the lab holds no key for is replaced rather than left sealed.
	lab_say "$service: Vault's volume holds data this lab has no unseal key for ($(tail -n 1 "$log")); starting Vault afresh"
	compose down -v --remove-orphans -t 1 || true
	rm -f "$token_file" "$key_file"
	compose up -d --no-build ||
		lab_fail "$service" "docker-compose -p $project up failed: $(grep -v -i swarm "$log" | tail -n 1)" "$log"
	rc=0
	vault_said="$(vault_ready)" || rc=$?
fi
((rc == 0)) || lab_fail "$service" "Vault at $vault_addr: $(tail -n 1 "$log")" "$log"
if [[ "$vault_said" == *initialised* ]]; then
	touch "$marker"
	lab_say "$service: Vault initialised (root token and unseal key in $LAB_SECRETS/phase2-vault-*)"
elif [[ "$vault_said" == *unsealed* ]]; then
	lab_say "$service: Vault unsealed"
fi
token="$(<"$token_file")"
seeded="$(vault_seed "$service" "$vault_addr" "$token" "$log")"
if [[ -n "$seeded" ]]; then
	touch "$marker"
	echo "$seeded"
fi

# The runbook's Docker secret from the root token (stdin: never a command
# line), remade when it was made from another token.
token_hash="$(printf '%s' "$token" | sha256sum | cut -c1-16)"
unset token
have="$(docker secret inspect "$docker_secret" --format '{{ index .Spec.Labels "lab.token-sha256" }}' 2>/dev/null || true)"
if [[ "$have" != "$token_hash" ]]; then
	docker secret rm "$docker_secret" >/dev/null 2>&1 || true
	docker secret create --label com.toolboxai.runbook=scenario-3 --label "lab.token-sha256=$token_hash" \
		"$docker_secret" - <"$token_file" >>"$log" 2>&1 ||
		lab_fail "$service" "docker secret create $docker_secret failed" "$log"
	lab_say "$service: Docker secret $docker_secret made from the root token"
fi

# proxy_healthy: the proxy's /health answers 200.
proxy_healthy() { [[ "$(http_status "$proxy_url/health")" == 200 ]]; }
if ! wait_for 60 proxy_healthy; then
	compose ps || true
	lab_fail "$service" "$proxy_url/health answers $(http_status "$proxy_url/health")" "$log"
fi

env_begin phase2
env_put PHASE2_COMPOSE_PROJECT "$project"
env_put PHASE2_COMPOSE_FILE "$compose_file"
env_put PHASE2_PROJECT_DIR "$dir"
env_put PHASE2_CERTS_DIR "$certs"
env_put PHASE2_VAULT_ADDR "$vault_addr"
env_put PHASE2_VAULT_TOKEN_FILE "$token_file"
env_put PHASE2_VAULT_UNSEAL_KEY_FILE "$key_file"
env_put PHASE2_KNOWN_SECRET "$known_secret"
env_put PHASE2_DOCKER_SECRET "$docker_secret"
env_put PHASE2_PROXY_URL "$proxy_url"
env_put PHASE2_REDIS_MASTER_PORT "$redis_master"
env_put PHASE2_REDIS_REPLICA_PORT "$redis_replica"
env_put PHASE2_SENTINEL_PORTS "$sentinel1,$sentinel2,$sentinel3"
env_put PHASE2_REDIS_CA_FILE "$dir/redis-ca.crt"
env_put PHASE2_S3_SNAPSHOT_KEY "$snapshot_key"
env_put PHASE2_S3_CERTIFICATES_PREFIX "$certificates_prefix"
lab_say "$service ready ($(elapsed "$started") s)"
