#!/bin/sh
# redis-node ROLE: the entry point of toolboxai/redis (lab/stack/images.sh)
# for the scenario-3 stack's Redis, as the runbook has it: TLS only (the
# stack's own certificates directory, mounted at /etc/redis/tls), the data
# nodes with a password (requirepass and masterauth), the Sentinels with
# their own; replication and Sentinel links over TLS with those passwords.
# ROLE is master, replica (of 127.0.0.1:MASTER_PORT) or sentinel. Every
# instance also listens on a unix socket in /run/redis (redis-PORT.sock,
# sentinel-PORT.sock), the volume the backends share.
#
# Environment: PORT (the TLS port, on 127.0.0.1: the containers use the
# host's network), MASTER_PORT, MASTER_NAME. Passwords: the files
# /run/secrets/redis-password and /run/secrets/sentinel-password.
#
# The config is written once per container (Sentinel rewrites its own and
# the data nodes' files, and a restarted container keeps what they wrote);
# a recreated container starts from a fresh one.
set -eu
role="${1:?usage: redis-node master|replica|sentinel}"
: "${PORT:?PORT is not set}" "${MASTER_PORT:?MASTER_PORT is not set}" "${MASTER_NAME:?MASTER_NAME is not set}"
conf="/data/$role.conf"
tls=/etc/redis/tls
for f in "$tls/server.crt" "$tls/server.key" "$tls/ca.crt"; do
	[ -s "$f" ] || { echo "redis-node: $f is missing: restore the certificates first (infra-restore does)" >&2; exit 2; }
done
if [ ! -s "$conf" ]; then
	umask 077
	mkdir -p /data
	password="$(cat /run/secrets/redis-password)"
	spassword="$(cat /run/secrets/sentinel-password)"
	{
		echo "port 0"
		echo "tls-port $PORT"
		echo "tls-cert-file $tls/server.crt"
		echo "tls-key-file $tls/server.key"
		echo "tls-ca-cert-file $tls/ca.crt"
		echo "tls-auth-clients no"
		echo "tls-replication yes"
		echo "bind 127.0.0.1"
		echo "protected-mode no"
		echo "dir /data"
		case "$role" in
		sentinel)
			echo "requirepass $spassword"
			echo "unixsocket /run/redis/sentinel-$PORT.sock"
			echo "unixsocketperm 777"
			echo "sentinel monitor $MASTER_NAME 127.0.0.1 $MASTER_PORT 2"
			echo "sentinel auth-pass $MASTER_NAME $password"
			echo "sentinel sentinel-pass $spassword"
			echo "sentinel down-after-milliseconds $MASTER_NAME 1000"
			echo "sentinel failover-timeout $MASTER_NAME 5000"
			echo "sentinel parallel-syncs $MASTER_NAME 1"
			;;
		master | replica)
			echo "requirepass $password"
			echo "masterauth $password"
			echo "unixsocket /run/redis/redis-$PORT.sock"
			echo "unixsocketperm 777"
			echo 'save ""'
			echo "appendonly no"
			[ "$role" = master ] || echo "replicaof 127.0.0.1 $MASTER_PORT"
			;;
		*)
			echo "redis-node: unknown role $role (master, replica or sentinel)" >&2
			exit 2
			;;
		esac
	} >"$conf.tmp"
	mv "$conf.tmp" "$conf"
fi
mkdir -p /run/redis
if [ "$role" = sentinel ]; then exec redis-server "$conf" --sentinel; fi
exec redis-server "$conf"
