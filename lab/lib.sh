# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared helpers for the lab scripts: where state lives, the default ports,
# pid files, waiting, failing loudly and the per-service env fragments.
# Sourced by lab/up.sh, lab/down.sh and every lab/services/*.sh and
# lab/stack/*.sh; it starts nothing by itself.

# Servers started here outlive the script: close every descriptor beyond
# stdio that a caller may have left open (e.g. `flock LOCK make lab` hands
# its lock on fd 3), or a daemon would hold that lock for as long as it runs.
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-

LAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB_SRC="$LAB_ROOT/lab"
LAB_DIR="${LAB_DIR:-$LAB_ROOT/.lab}"
# Its real path: a server started through a symbolic link (a git worktree's
# .lab) would lose its files when the link goes.
if [[ -d "$LAB_DIR" ]]; then LAB_DIR="$(cd "$LAB_DIR" && pwd -P)"; fi
LAB_RUN="$LAB_DIR/run"   # pid files and unix sockets (bind-mounted into containers)
LAB_LOG="$LAB_DIR/log"   # one log per server
LAB_ENVD="$LAB_DIR/env.d" # per-service fragments of .lab/env
LAB_VENV="$LAB_DIR/venv"
LAB_SECRETS="$LAB_DIR/secrets" # credentials for drhost and the tests: 0600 files, 0700 dir

# Ports: fixed defaults, each overridable from the environment. They sit in
# 27000-27999, below Linux's ephemeral range (32768-60999): a port in that
# range can be taken at any moment by some outgoing connection's local end.
LAB_PG_PORT="${LAB_PG_PORT:-27432}"
LAB_PG_USERS="${LAB_PG_USERS:-250}"
LAB_REDIS_MASTER_PORT="${LAB_REDIS_MASTER_PORT:-27379}"
LAB_REDIS_REPLICA_PORT="${LAB_REDIS_REPLICA_PORT:-27380}"
LAB_SENTINEL_PORTS="${LAB_SENTINEL_PORTS:-27381,27382,27383}"
LAB_REDIS_MASTER_NAME="${LAB_REDIS_MASTER_NAME:-toolboxai-master}"
LAB_S3_PORT="${LAB_S3_PORT:-27900}"
LAB_S3_BUCKET="${LAB_S3_BUCKET:-toolboxai-backups}"
LAB_VAULT_PORT="${LAB_VAULT_PORT:-27820}"
LAB_VAULT_TOKEN="${LAB_VAULT_TOKEN:-lab-root-token}"
LAB_VAULT_RAFT_PORT="${LAB_VAULT_RAFT_PORT:-27822}"
LAB_VAULT_RAFT_CLUSTER_PORT="${LAB_VAULT_RAFT_CLUSTER_PORT:-27823}"
LAB_REGISTRY_PORT="${LAB_REGISTRY_PORT:-27500}"
LAB_NGINX_PORT="${LAB_NGINX_PORT:-27080}"
LAB_STATUSPAGE_PORT="${LAB_STATUSPAGE_PORT:-27890}"
LAB_BACKEND_PORTS="${LAB_BACKEND_PORTS:-27081,27082,27083}"
# The scenario-3 stack (lab/stack/phase2.sh): its Vault's API, its proxy,
# its Redis master and replica and its three Sentinels.
LAB_PHASE2_VAULT_PORT="${LAB_PHASE2_VAULT_PORT:-27830}"
LAB_PHASE2_PROXY_PORT="${LAB_PHASE2_PROXY_PORT:-27831}"
LAB_PHASE2_REDIS_PORTS="${LAB_PHASE2_REDIS_PORTS:-27832,27833,27834,27835,27836}"

LAB_PGBIN="${LAB_PGBIN:-/usr/lib/postgresql/15/bin}"
LAB_PG_SOCKET_DIR="$LAB_DIR/pg/socket"
LAB_PG_PASSWORD_FILE="$LAB_SECRETS/pg-password"
LAB_PG_READER_PASSWORD_FILE="$LAB_SECRETS/pg-reader-password"
LAB_PG_TLS_DIR="$LAB_DIR/pg/tls"
# Redis (master, replica, Sentinels): TLS only, with a password each for the
# data nodes and the Sentinels, as the runbook's `redis-cli --tls -a …` has it.
LAB_REDIS_TLS_DIR="$LAB_DIR/redis-tls"
LAB_REDIS_PASSWORD_FILE="$LAB_SECRETS/redis-password"
LAB_SENTINEL_PASSWORD_FILE="$LAB_SECRETS/sentinel-password"

mkdir -p "$LAB_RUN" "$LAB_LOG" "$LAB_ENVD"

# lab_say MESSAGE: one progress line.
lab_say() { printf 'lab: %s\n' "$*"; }

# lab_fail SERVICE REASON LOG: the one loud line, then exit non-zero.
lab_fail() {
	printf 'lab: %s did not start: %s (log: %s)\n' "$1" "$2" "$3" >&2
	exit 1
}

# now: seconds since the epoch with milliseconds.
now() { date +%s.%3N; }

# elapsed START: seconds since START, one decimal.
elapsed() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# pid_of PIDFILE: the pid recorded in PIDFILE (empty if none).
pid_of() { if [[ -s "$1" ]]; then tr -dc '0-9' <"$1"; fi; }

# running PID: the process exists and is not a zombie (an exited daemon stays
# a zombie until PID 1 reaps it, which can take seconds in a container).
running() {
	local state
	state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
	[[ -n "$state" && "$state" != Z ]]
}

# pid_alive PIDFILE PATTERN: the recorded process is alive and its command
# line contains PATTERN (guards against a recycled pid).
pid_alive() {
	local pid
	pid="$(pid_of "$1")"
	[[ -n "$pid" ]] && running "$pid" &&
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# require_free_port SERVICE PORT LOG: fail loudly when a stranger holds PORT.
require_free_port() {
	if port_open "$2"; then
		lab_fail "$1" "port 127.0.0.1:$2 is already in use by a process the lab did not start (set LAB_*_PORT to move it)" "$3"
	fi
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# start_bg PIDFILE LOG COMMAND...: run COMMAND detached, record its pid.
start_bg() {
	local pidfile="$1" log="$2"
	shift 2
	setsid "$@" </dev/null >>"$log" 2>&1 &
	echo $! >"$pidfile"
}

# stop_pid NAME PIDFILE PATTERN: TERM (then KILL after 10 s) the recorded
# process if it is alive and still ours; always removes the pid file.
stop_pid() {
	local name="$1" pidfile="$2" pattern="$3" pid i
	if pid_alive "$pidfile" "$pattern"; then
		pid="$(pid_of "$pidfile")"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			running "$pid" || break
			sleep 0.1
		done
		if running "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
		lab_say "stopped $name (pid $pid)"
	fi
	rm -f "$pidfile"
}

# http_status URL [CURL ARGS...]: the HTTP status code (000 when unreachable).
http_status() {
	local url="$1"
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "$url" || true
}

# env_begin SERVICE: start (truncate) this service's fragment of .lab/env.
env_begin() {
	LAB_ENV_FRAGMENT="$LAB_ENVD/$1"
	: >"$LAB_ENV_FRAGMENT"
}

# env_put KEY VALUE: one KEY=value line in the current fragment.
env_put() { printf '%s=%s\n' "$1" "$2" >>"$LAB_ENV_FRAGMENT"; }

# lab_python: the venv's python (moto brings boto3; used for small JSON jobs).
lab_python() { "$LAB_VENV/bin/python" "$@"; }

# json_get FILE KEY [INDEX]: a top-level field of a JSON file (list item INDEX).
json_get() {
	lab_python -c 'import json,sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(v[int(sys.argv[3])] if len(sys.argv) > 3 else v)' "$@"
}

# secret_put NAME VALUE: .lab/secrets/NAME holds VALUE (no newline, 0600);
# rewritten only when it differs. VALUE never reaches a command line.
secret_put() {
	local file="$LAB_SECRETS/$1"
	mkdir -p "$LAB_SECRETS" && chmod 700 "$LAB_SECRETS"
	if [[ ! -f "$file" || "$(<"$file")" != "$2" ]]; then
		(umask 077 && printf '%s' "$2" >"$file.tmp.$$") && mv -f "$file.tmp.$$" "$file"
	fi
	chmod 600 "$file"
}

# pg_password: the lab's Postgres password (24 url-safe characters), made
# once into LAB_PG_PASSWORD_FILE. postgres.sh and both vault scripts call it
# in parallel: the first link wins and every caller reads the same value.
pg_password() { random_secret "$LAB_PG_PASSWORD_FILE"; }

# redis_password, sentinel_password: the lab's Redis data nodes' and
# Sentinels' passwords, made once like pg_password.
redis_password() { random_secret "$LAB_REDIS_PASSWORD_FILE"; }
sentinel_password() { random_secret "$LAB_SENTINEL_PASSWORD_FILE"; }

# lab_tls DIR SERVICE LOG: DIR holds a lab CA (ca.crt, ca.key) and a server
# certificate signed by it for 127.0.0.1 and localhost (server.crt,
# server.key, 0600), made once (10 years) and kept across restarts.
lab_tls() {
	local dir="$1" service="$2" log="$3" tmp="$1.tmp.$$" ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	[[ -s "$dir/ca.crt" && -s "$dir/server.crt" && -s "$dir/server.key" ]] && return 0
	rm -rf "$tmp" && mkdir -p "$tmp"
	(
		umask 077
		openssl req -x509 "${ec[@]}" -keyout "$tmp/ca.key" -out "$tmp/ca.crt" -days 3650 \
			-subj "/CN=drhost lab CA ($service)" &&
			openssl req -new "${ec[@]}" -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" &&
			openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" \
				-set_serial "0x$(openssl rand -hex 8)" -days 3650 -out "$tmp/server.crt" -extfile <(printf '%s\n' \
				"subjectAltName = IP:127.0.0.1, DNS:localhost" "basicConstraints = critical, CA:FALSE" \
				"keyUsage = critical, digitalSignature" "extendedKeyUsage = serverAuth")
	) >>"$log" 2>&1 || lab_fail "$service" "openssl could not make the lab CA and server certificate" "$log"
	rm -f "$tmp/server.csr"
	chmod 644 "$tmp/ca.crt" "$tmp/server.crt"
	chmod 755 "$tmp"
	rm -rf "$dir" && mv "$tmp" "$dir"
	lab_say "$service TLS: lab CA $dir/ca.crt, server certificate for 127.0.0.1 and localhost"
}

# stack_env: the .env lines both compose stacks share (docker-compose.yml
# and phase2/docker-compose.phase2.yml): the lab's Postgres socket
# directory, the run directory with Redis's and the Sentinels' sockets as
# the containers see them, the monitored set and the password files.
stack_env() {
	local p sockets=""
	local -a ports
	IFS=, read -r -a ports <<<"$LAB_SENTINEL_PORTS"
	for p in "${ports[@]}"; do sockets+="${sockets:+,}/lab/run/sentinel-$p.sock"; done
	echo "LAB_PG_SOCKET_DIR=$LAB_PG_SOCKET_DIR"
	echo "LAB_RUN=$LAB_RUN"
	echo "LAB_PG_PORT=$LAB_PG_PORT"
	echo "LAB_SENTINEL_SOCKETS=$sockets"
	echo "LAB_REDIS_MASTER_NAME=$LAB_REDIS_MASTER_NAME"
	echo "LAB_REDIS_MASTER_PORT=$LAB_REDIS_MASTER_PORT"
	echo "LAB_REDIS_PASSWORD_FILE=$LAB_REDIS_PASSWORD_FILE"
	echo "LAB_SENTINEL_PASSWORD_FILE=$LAB_SENTINEL_PASSWORD_FILE"
}

# pg_reader_password: the password of the lab's read-only role drhost_reader
# (what `read_user` in drhost.toml logs in as), made once like pg_password.
pg_reader_password() { random_secret "$LAB_PG_READER_PASSWORD_FILE"; }

# random_secret FILE: 24 url-safe random characters, made once into FILE
# (0600, in the 0700 secrets directory); prints them.
random_secret() {
	local file="$1" tmp
	if [[ ! -s "$file" ]]; then
		mkdir -p "$LAB_SECRETS" && chmod 700 "$LAB_SECRETS"
		tmp="$file.new.$$"
		(umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' | tr -d '\n' >"$tmp")
		ln "$tmp" "$file" 2>/dev/null || true
		rm -f "$tmp"
	fi
	[[ -s "$file" ]] || return 1
	printf '%s' "$(<"$file")"
}

# vault_seed SERVICE ADDR TOKEN LOG: the lab's KV v2 secrets under secret/ are
# exactly the seed — secret/toolboxai/supabase {url, database_url with the
# Postgres password} and secret/toolboxai/postgres {username, password}.
# Writes only what is missing or stale (retrying for up to 15 s while a new
# mount upgrades) and says what it wrote; fails loudly otherwise.
vault_seed() {
	local service="$1" addr="$2" token="$3" log="$4" password written
	password="$(pg_password)" || lab_fail "$service" "no Postgres password in $LAB_PG_PASSWORD_FILE" "$log"
	written="$(VAULT_ADDR="$addr" VAULT_TOKEN="$token" LAB_PG_PASSWORD="$password" \
		lab_python - "$LAB_PG_PORT" 2>>"$log" <<'PY'
import json, os, sys, time, urllib.error, urllib.request

addr, token, pw, port = os.environ["VAULT_ADDR"], os.environ["VAULT_TOKEN"], os.environ["LAB_PG_PASSWORD"], sys.argv[1]
seed = {
    "toolboxai/supabase": {
        "url": f"http://127.0.0.1:{port}",
        "database_url": f"postgresql://postgres:{pw}@127.0.0.1:{port}/toolboxai",
    },
    "toolboxai/postgres": {"username": "postgres", "password": pw},
}

def call(method, path, body=None):
    req = urllib.request.Request(f"{addr}/v1/secret/data/{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"X-Vault-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as e:
        return e.code, None

deadline = time.monotonic() + 15
for path, data in seed.items():
    while True:
        status, reply = call("GET", path)
        if status == 200 and (reply["data"]["data"] or {}) == data:
            break
        if status in (200, 404) and call("POST", path, {"data": data})[0] == 200:
            print(f"secret/{path}")
            break
        if time.monotonic() > deadline:  # a new KV v2 mount answers 400 for a moment
            sys.exit(f"cannot seed secret/{path}: GET answered {status}")
        time.sleep(0.2)
PY
	)" || lab_fail "$service" "seeding secret/toolboxai/* failed" "$log"
	if [[ -n "$written" ]]; then
		lab_say "$service seeded $(echo "$written" | paste -sd' ')"
	fi
}
