#!/usr/bin/env bash
# PostgreSQL 15: a throwaway cluster under .lab/pg (fsync off), TCP on
# 127.0.0.1 and a unix socket in .lab/pg/socket (bind-mounted into the backend
# containers). The socket trusts; TCP asks for the password (scram-sha-256,
# .lab/secrets/pg-password) and offers TLS with a certificate from the lab's
# own CA (.lab/pg/tls/ca.crt) without requiring it. pg_hba.conf, the TLS
# settings and the password are put back on every run, so an existing cluster
# is converted in place (with a reload, never a restart). Seeds database
# `toolboxai` (users + projects) and keeps a custom-format dump of it at
# .lab/pg/backup_latest.dump for the S3 seed.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
pgdir="$LAB_DIR/pg"
data="$pgdir/data"
log="$LAB_LOG/postgres.log"
port="$LAB_PG_PORT"
dump="$pgdir/backup_latest.dump"
tls="$LAB_PG_TLS_DIR"

as_pg() { runuser -u postgres -- "$@"; }
psql_lab() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$LAB_PG_SOCKET_DIR" -p "$port" -U postgres "$@"; }

mkdir -p "$pgdir" "$LAB_PG_SOCKET_DIR"
chown postgres:postgres "$pgdir" "$LAB_PG_SOCKET_DIR"
touch "$log" && chown postgres:postgres "$log"
password="$(pg_password)" || lab_fail postgres "cannot create $LAB_PG_PASSWORD_FILE" "$log"
reader_password="$(pg_reader_password)" || lab_fail postgres "cannot create $LAB_PG_READER_PASSWORD_FILE" "$log"

# The lab CA and the server's certificate, made once (10 years). The server
# key belongs to the cluster's user with mode 0600, as Postgres insists.
lab_tls "$tls" postgres "$log"
chown postgres:postgres "$tls/server.key" && chmod 600 "$tls/server.key"

# put_file FILE CONTENT: FILE (owned by postgres) holds CONTENT; true when it changed.
put_file() {
	[[ -f "$1" && "$(<"$1")" == "$2" ]] && return 1
	printf '%s\n' "$2" >"$1.tmp" && chown postgres:postgres "$1.tmp" && chmod 600 "$1.tmp" && mv -f "$1.tmp" "$1"
}

# configure: pg_hba.conf and the TLS settings (lab.conf, included from
# postgresql.conf) as they must be; true when something changed.
configure() {
	local changed=1
	put_file "$data/pg_hba.conf" "# Written by lab/services/postgres.sh on every make lab; edits are undone.
# The unix socket (the backends, the lab scripts) trusts; TCP needs the
# password in $LAB_PG_PASSWORD_FILE, with or without TLS.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    all          all   ::1/128       scram-sha-256
local   replication  all                 trust
host    replication  all   127.0.0.1/32  scram-sha-256
host    replication  all   ::1/128       scram-sha-256" && changed=0
	put_file "$data/lab.conf" "# Written by lab/services/postgres.sh on every make lab; edits are undone.
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '$tls/server.crt'
ssl_key_file = '$tls/server.key'" && changed=0
	if ! grep -qx "include_if_exists = 'lab.conf'" "$data/postgresql.conf"; then
		printf '\n%s\n' "include_if_exists = 'lab.conf'" >>"$data/postgresql.conf"
		changed=0
	fi
	return "$changed"
}

# set_password: the postgres user's password, every run, through the socket
# (which needs none). Sent on stdin, and the session keeps statements out of
# the server log, errors included, so the value never lands there.
# The read-only role drhost_reader (pg_read_all_data, nothing else: no
# superuser, no server files, no COPY TO PROGRAM) is what `read_user` in the
# lab's drhost.toml logs in as for plugins granted only `read`.
set_password() {
	psql_lab -d postgres >>"$log" 2>&1 <<SQL || lab_fail postgres "cannot set the postgres user's password" "$log"
SET log_min_error_statement = panic;
SET log_statement = none;
ALTER USER postgres PASSWORD '$password';
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drhost_reader') THEN
    CREATE ROLE drhost_reader LOGIN;
  END IF;
END \$\$;
ALTER ROLE drhost_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD '$reader_password';
GRANT pg_read_all_data TO drhost_reader;
SQL
}

if ! as_pg "$LAB_PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
	if [[ ! -f "$data/PG_VERSION" ]]; then
		as_pg "$LAB_PGBIN/initdb" -D "$data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >>"$log" 2>&1 ||
			lab_fail postgres "initdb failed" "$log"
	fi
	configure || true
	require_free_port postgres "$port" "$log"
	as_pg "$LAB_PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 30 start \
		-o "-p $port -c listen_addresses=127.0.0.1 -k $LAB_PG_SOCKET_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		>/dev/null 2>&1 || lab_fail postgres "pg_ctl start failed: $(tail -1 "$log")" "$log"
	set_password
	lab_say "postgres started on 127.0.0.1:$port"
else
	set_password # before TCP starts asking for it
	if configure; then
		# A running cluster from before (e.g. trust on TCP, no TLS): both
		# take effect on reload; sessions already open are not touched.
		as_pg "$LAB_PGBIN/pg_ctl" -D "$data" reload >/dev/null 2>&1 || lab_fail postgres "pg_ctl reload failed" "$log"
		ssl_on() { [[ "$(psql_lab -d postgres -tAc 'SHOW ssl')" == on ]]; }
		wait_for 10 ssl_on || lab_fail postgres "ssl still off after reload: $(tail -1 "$log")" "$log"
		lab_say "postgres reloaded: password (scram-sha-256) over TCP, TLS on"
	fi
fi

# Seed once: database toolboxai with a users table of LAB_PG_USERS rows.
has_users="$(psql_lab -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'toolboxai'" 2>>"$log")" ||
	lab_fail postgres "server does not answer on $LAB_PG_SOCKET_DIR/.s.PGSQL.$port" "$log"
if [[ "$has_users" == 1 ]]; then
	has_users="$(psql_lab -d toolboxai -tAc "SELECT 1 FROM pg_tables WHERE tablename = 'users'" 2>>"$log")"
fi
if [[ "$has_users" != 1 ]]; then
	psql_lab -d postgres >>"$log" 2>&1 <<SQL || lab_fail postgres "seeding database toolboxai failed" "$log"
DROP DATABASE IF EXISTS toolboxai;
CREATE DATABASE toolboxai;
\\connect toolboxai
CREATE TABLE users (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text NOT NULL,
    plan       text NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO users (email, name, plan, created_at)
SELECT 'user' || g || '@toolboxai.lab', 'User ' || g, (ARRAY['free', 'pro', 'team'])[1 + g % 3],
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, $LAB_PG_USERS) AS g;
CREATE TABLE projects (
    id         bigserial PRIMARY KEY,
    owner_id   bigint NOT NULL REFERENCES users (id),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projects (owner_id, name)
SELECT 1 + (g % $LAB_PG_USERS), 'project-' || g FROM generate_series(1, 100) AS g;
SQL
	rm -f "$dump"
	lab_say "postgres seeded database toolboxai ($LAB_PG_USERS users)"
fi

if [[ ! -s "$dump" ]]; then
	as_pg pg_dump -Fc -h "$LAB_PG_SOCKET_DIR" -p "$port" -U postgres -d toolboxai -f "$pgdir/dump.tmp" 2>>"$log" ||
		lab_fail postgres "pg_dump of toolboxai failed" "$log"
	mv "$pgdir/dump.tmp" "$dump"
fi

# What the tests rely on: a TCP login with the password, TLS verified
# against the lab CA (verify-full: the certificate names 127.0.0.1).
tcp_tls_login() {
	[[ "$(PGPASSWORD="$password" PGCONNECT_TIMEOUT=5 psql -X -tA \
		"host=127.0.0.1 port=$port user=postgres dbname=toolboxai sslmode=verify-full sslrootcert=$tls/ca.crt" \
		-c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()' 2>>"$log")" == t ]]
}
tcp_tls_login || lab_fail postgres "no TLS login with the password on 127.0.0.1:$port (sslmode=verify-full)" "$log"

env_begin postgres
env_put PG_HOST 127.0.0.1
env_put PG_PORT "$port"
env_put PG_USER postgres
env_put PG_DATABASE toolboxai
env_put PG_SOCKET_DIR "$LAB_PG_SOCKET_DIR"
env_put PG_URL "postgresql://postgres@127.0.0.1:$port/toolboxai"
env_put PG_PASSWORD_FILE "$LAB_PG_PASSWORD_FILE"
env_put PG_READER_USER drhost_reader
env_put PG_READER_PASSWORD_FILE "$LAB_PG_READER_PASSWORD_FILE"
env_put PG_CA_FILE "$tls/ca.crt"
env_put PG_SEED_USERS "$LAB_PG_USERS"
env_put PG_DUMP_FILE "$dump"
lab_say "postgres ready ($(elapsed "$started") s)"
