#!/usr/bin/env bash
# PostgreSQL 15: a throwaway cluster under .lab/pg (trust auth, fsync off),
# TCP on 127.0.0.1 and a unix socket in .lab/pg/socket (bind-mounted into the
# backend containers). Seeds database `toolboxai` (users + projects) and keeps
# a custom-format dump of it at .lab/pg/backup_latest.dump for the S3 seed.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
pgdir="$LAB_DIR/pg"
data="$pgdir/data"
log="$LAB_LOG/postgres.log"
port="$LAB_PG_PORT"
dump="$pgdir/backup_latest.dump"

as_pg() { runuser -u postgres -- "$@"; }
psql_lab() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$LAB_PG_SOCKET_DIR" -p "$port" -U postgres "$@"; }

mkdir -p "$pgdir" "$LAB_PG_SOCKET_DIR"
chown postgres:postgres "$pgdir" "$LAB_PG_SOCKET_DIR"
touch "$log" && chown postgres:postgres "$log"

if ! as_pg "$LAB_PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
	if [[ ! -f "$data/PG_VERSION" ]]; then
		as_pg "$LAB_PGBIN/initdb" -D "$data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 >>"$log" 2>&1 ||
			lab_fail postgres "initdb failed" "$log"
	fi
	require_free_port postgres "$port" "$log"
	as_pg "$LAB_PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 30 start \
		-o "-p $port -c listen_addresses=127.0.0.1 -k $LAB_PG_SOCKET_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		>/dev/null 2>&1 || lab_fail postgres "pg_ctl start failed: $(tail -1 "$log")" "$log"
	lab_say "postgres started on 127.0.0.1:$port"
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
-- Some password, so that URLs carrying one (as in Vault) look real; trust auth ignores it.
ALTER USER postgres PASSWORD 'toolboxai-lab-password';
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

env_begin postgres
env_put PG_HOST 127.0.0.1
env_put PG_PORT "$port"
env_put PG_USER postgres
env_put PG_DATABASE toolboxai
env_put PG_SOCKET_DIR "$LAB_PG_SOCKET_DIR"
env_put PG_URL "postgresql://postgres@127.0.0.1:$port/toolboxai"
env_put PG_SEED_USERS "$LAB_PG_USERS"
env_put PG_DUMP_FILE "$dump"
lab_say "postgres ready ($(elapsed "$started") s)"
