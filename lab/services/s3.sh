#!/usr/bin/env bash
# S3: moto_server (in-memory) on 127.0.0.1, bucket LAB_S3_BUCKET, and the
# runbook's backup at supabase/backup_latest.dump: a real `pg_dump -Fc` of the
# seeded toolboxai database (made by services/postgres.sh, which may still be
# running in parallel — this script waits for the dump file).
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
port="$LAB_S3_PORT"
bucket="$LAB_S3_BUCKET"
endpoint="http://127.0.0.1:$port"
log="$LAB_LOG/moto.log"
pidfile="$LAB_RUN/moto.pid"
key="supabase/backup_latest.dump"
dump="$LAB_DIR/pg/backup_latest.dump"

answers() { curl -s --max-time 3 "$endpoint/" | grep -q ListAllMyBucketsResult; }
# s3_status PATH [CURL ARGS...]: status of a SigV4-signed request (moto takes any keys).
s3_status() {
	local path="$1"
	shift
	http_status "$endpoint/$path" --aws-sigv4 "aws:amz:us-east-1:s3" --user lab:lab-secret "$@"
}

if ! pid_alive "$pidfile" moto_server || ! answers; then
	stop_pid moto "$pidfile" moto_server
	require_free_port s3 "$port" "$log"
	start_bg "$pidfile" "$log" "$LAB_VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
	wait_for 20 answers || lab_fail "s3 (moto)" "no answer on $endpoint within 20 s" "$log"
	lab_say "s3 (moto) started on $endpoint"
fi

if [[ "$(s3_status "$bucket")" != 200 ]]; then
	[[ "$(s3_status "$bucket" -X PUT)" == 200 ]] ||
		lab_fail "s3 (moto)" "cannot create bucket $bucket" "$log"
fi
if [[ "$(s3_status "$bucket/$key" -I)" != 200 ]]; then
	wait_for 60 test -s "$dump" || lab_fail "s3 (moto)" "no dump to seed: $dump missing (see postgres)" "$LAB_LOG/postgres.log"
	[[ "$(s3_status "$bucket/$key" -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$dump")" == 200 ]] ||
		lab_fail "s3 (moto)" "cannot upload s3://$bucket/$key" "$log"
	lab_say "s3 seeded s3://$bucket/$key ($(stat -c %s "$dump") bytes)"
fi

env_begin s3
env_put S3_ENDPOINT "$endpoint"
env_put S3_BUCKET "$bucket"
env_put S3_REGION us-east-1
env_put S3_BACKUP_KEY "$key"
env_put AWS_ACCESS_KEY_ID lab
env_put AWS_SECRET_ACCESS_KEY lab-secret
lab_say "s3 ready ($(elapsed "$started") s)"
