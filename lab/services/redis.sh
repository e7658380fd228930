#!/usr/bin/env bash
# Redis master + replica + three Sentinels monitoring LAB_REDIS_MASTER_NAME,
# as the runbook has them: TCP only with TLS (a lab CA in .lab/redis-tls, no
# client certificates), the data nodes with a password (requirepass and
# masterauth, .lab/secrets/redis-password) and the Sentinels with their own
# (.lab/secrets/sentinel-password); replication and Sentinels' links use TLS
# and those passwords too. Every instance also listens on a unix socket in
# .lab/run (redis-<port>.sock, sentinel-<port>.sock) so containers reach
# them through a bind mount (with the same passwords). The data nodes also
# bind Docker's host gateway (the default bridge's address): the backends
# map the runbook's `redis-master` to `host-gateway`, so its dependency
# check `nc -zv redis-master 6380` reaches the master's real TLS port
# (redis-master:LAB_REDIS_MASTER_PORT here; TLS and the password still hold).
#
# Kept as is only when the whole set is healthy *in its canonical shape*
# (master on LAB_REDIS_MASTER_PORT, one replica, every Sentinel agreeing and
# seeing the other two); otherwise all five are stopped and started again from
# fresh configs, because Sentinel rewrites its own and Redis's config files.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
umask 077 # the configs hold the passwords (unixsocketperm still opens the sockets)
master="$LAB_REDIS_MASTER_PORT"
replica="$LAB_REDIS_REPLICA_PORT"
name="$LAB_REDIS_MASTER_NAME"
IFS=, read -r -a sentinels <<<"$LAB_SENTINEL_PORTS"
dir="$LAB_DIR/redis"
tls="$LAB_REDIS_TLS_DIR"
log="$LAB_LOG/redis-$master.log"
lab_tls "$tls" redis "$log"
wait_for 60 docker info || lab_fail redis "docker does not answer (the data nodes bind its host gateway)" "$LAB_LOG/dockerd.log"
gateway="$(docker network inspect bridge -f '{{(index .IPAM.Config 0).Gateway}}' 2>/dev/null || true)"
[[ -n "$gateway" ]] || gateway="$(ip -4 -o addr show docker0 2>/dev/null | awk '{ sub("/.*", "", $4); print $4; exit }')"
[[ -n "$gateway" ]] || lab_fail redis "Docker's default bridge has no gateway address for the containers' redis-master" "$LAB_LOG/dockerd.log"
password="$(redis_password)" || lab_fail redis "cannot create $LAB_REDIS_PASSWORD_FILE" "$log"
spassword="$(sentinel_password)" || lab_fail redis "cannot create $LAB_SENTINEL_PASSWORD_FILE" "$log"

# cli PORT ARGS: redis-cli to data node PORT; scli: to Sentinel PORT (over
# TLS, the password through the environment, never on the command line).
cli() { REDISCLI_AUTH="$password" timeout 5 redis-cli --tls --cacert "$tls/ca.crt" -h 127.0.0.1 -p "$1" "${@:2}"; }
scli() { REDISCLI_AUTH="$spassword" timeout 5 redis-cli --tls --cacert "$tls/ca.crt" -h 127.0.0.1 -p "$1" "${@:2}"; }

# sentinel_field PORT FIELD: one field of `SENTINEL MASTER <name>`.
sentinel_field() {
	scli "$1" SENTINEL MASTER "$name" 2>/dev/null | awk -v f="$2" 'prev == f { print; exit } { prev = $0 }'
}

sentinels_agree() {
	local s
	for s in "${sentinels[@]}"; do
		[[ "$(scli "$s" SENTINEL GET-MASTER-ADDR-BY-NAME "$name" 2>/dev/null | tr '\n' ' ')" == "127.0.0.1 $master " ]] || return 1
		[[ "$(sentinel_field "$s" num-other-sentinels)" == 2 ]] || return 1
		[[ "$(sentinel_field "$s" num-slaves)" == 1 ]] || return 1
	done
}

replica_linked() {
	cli "$replica" INFO replication 2>/dev/null | grep -q '^master_link_status:up' &&
		cli "$master" INFO replication 2>/dev/null | grep -q '^connected_slaves:1'
}

healthy() {
	local p
	for p in "$master" "$replica"; do
		pid_alive "$LAB_RUN/redis-$p.pid" redis-server || return 1
		[[ "$(cli "$p" CONFIG GET bind 2>/dev/null | sed -n 2p)" == "127.0.0.1 $gateway" ]] || return 1
	done
	for p in "${sentinels[@]}"; do pid_alive "$LAB_RUN/sentinel-$p.pid" redis-sentinel || return 1; done
	cli "$master" INFO replication 2>/dev/null | grep -q '^role:master' || return 1
	replica_linked && sentinels_agree
}

# tls_conf: the TLS lines every instance shares (the server certificate,
# replication and Sentinel links over TLS, no client certificates).
tls_conf() {
	printf '%s\n' "tls-cert-file $tls/server.crt" "tls-key-file $tls/server.key" \
		"tls-ca-cert-file $tls/ca.crt" "tls-auth-clients no" "tls-replication yes"
}

# redis_conf PORT [extra lines...]: a fresh config for one data node.
redis_conf() {
	local p="$1"
	shift
	mkdir -p "$dir/$p"
	cat >"$dir/$p/redis.conf" <<EOF
port 0
tls-port $p
$(tls_conf)
requirepass $password
masterauth $password
bind 127.0.0.1 $gateway
protected-mode no
daemonize yes
pidfile $LAB_RUN/redis-$p.pid
logfile $LAB_LOG/redis-$p.log
dir $dir/$p
unixsocket $LAB_RUN/redis-$p.sock
unixsocketperm 777
save ""
appendonly no
EOF
	printf '%s\n' "$@" >>"$dir/$p/redis.conf"
}

sentinel_conf() {
	local p="$1"
	mkdir -p "$dir/sentinel-$p"
	cat >"$dir/sentinel-$p/sentinel.conf" <<EOF
port 0
tls-port $p
$(tls_conf)
requirepass $spassword
bind 127.0.0.1
protected-mode no
daemonize yes
pidfile $LAB_RUN/sentinel-$p.pid
logfile $LAB_LOG/sentinel-$p.log
dir $dir/sentinel-$p
unixsocket $LAB_RUN/sentinel-$p.sock
unixsocketperm 777
sentinel monitor $name 127.0.0.1 $master 2
sentinel auth-pass $name $password
sentinel sentinel-pass $spassword
sentinel down-after-milliseconds $name 1000
sentinel failover-timeout $name 5000
sentinel parallel-syncs $name 1
EOF
}

stop_all() {
	local p
	for p in "${sentinels[@]}"; do stop_pid "sentinel $p" "$LAB_RUN/sentinel-$p.pid" redis-sentinel; done
	for p in "$replica" "$master"; do stop_pid "redis $p" "$LAB_RUN/redis-$p.pid" redis-server; done
	rm -f "$LAB_RUN"/redis-*.sock "$LAB_RUN"/sentinel-*.sock
}

if ! healthy; then
	stop_all
	rm -rf "$dir"
	for p in "$master" "$replica" "${sentinels[@]}"; do
		require_free_port redis "$p" "$LAB_LOG/redis-$p.log"
	done
	redis_conf "$master"
	redis_conf "$replica" "replicaof 127.0.0.1 $master"
	for p in "$master" "$replica"; do
		redis-server "$dir/$p/redis.conf" >>"$LAB_LOG/redis-$p.log" 2>&1 ||
			lab_fail "redis $p" "redis-server exited" "$LAB_LOG/redis-$p.log"
	done
	for p in "${sentinels[@]}"; do
		sentinel_conf "$p"
		redis-sentinel "$dir/sentinel-$p/sentinel.conf" >>"$LAB_LOG/sentinel-$p.log" 2>&1 ||
			lab_fail "sentinel $p" "redis-sentinel exited" "$LAB_LOG/sentinel-$p.log"
	done
	wait_for 15 replica_linked ||
		lab_fail "redis replica $replica" "replica did not sync with master $master within 15 s" "$LAB_LOG/redis-$replica.log"
	wait_for 30 sentinels_agree ||
		lab_fail sentinel "sentinels did not agree on $name at 127.0.0.1:$master and see each other within 30 s" "$LAB_LOG/sentinel-${sentinels[0]}.log"
	lab_say "redis master $master, replica $replica, sentinels ${sentinels[*]} started"
fi

env_begin redis
env_put REDIS_HOST 127.0.0.1
env_put REDIS_MASTER_PORT "$master"
env_put REDIS_REPLICA_PORT "$replica"
env_put SENTINEL_PORTS "$LAB_SENTINEL_PORTS"
env_put REDIS_MASTER_NAME "$name"
env_put REDIS_CONTAINER_ADDR "redis-master:$master"
env_put REDIS_URL "rediss://127.0.0.1:$master"
env_put REDIS_SOCKET_DIR "$LAB_RUN"
env_put REDIS_CA_FILE "$tls/ca.crt"
env_put REDIS_PASSWORD_FILE "$LAB_REDIS_PASSWORD_FILE"
env_put SENTINEL_PASSWORD_FILE "$LAB_SENTINEL_PASSWORD_FILE"
lab_say "redis ready ($(elapsed "$started") s)"
