#!/usr/bin/env bash
# `make lab`: bring the lab up — idempotent. Installs what is missing, starts
# what is not running (independent servers in parallel), builds the ToolboxAI
# images and containers (the main stack and the scenario-3 one, backed up
# by infra-backup), writes .lab/env and (via lab/drhost-toml.sh, when the
# project provides it) .lab/drhost.toml. Everything binds 127.0.0.1 only.
# On failure it prints `lab: <service> did not start: <reason> (log: <path>)`
# and exits non-zero. See lab/README.md.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/lib.sh"

started="$(now)"
rm -f "$LAB_DIR/env" # never leave an env file describing a half-started lab

bash "$LAB_SRC/services/packages.sh" apt

# Independent servers start in parallel; the containers wait only for what
# they need, not for the slower raft init. A failing script has already
# printed its own `did not start` line; wait_jobs adds which scripts failed.
declare -A jobs=() # pid -> script

# start_jobs SCRIPT...: run each script in the background.
start_jobs() {
	local script
	for script in "$@"; do
		# shellcheck disable=SC2086 # "script arg" splits on purpose
		bash "$LAB_SRC/"$script &
		jobs[$!]="$script"
	done
}

# wait_jobs [SCRIPT...]: wait for those scripts (default: all started ones).
wait_jobs() {
	local pid failed=()
	for pid in "${!jobs[@]}"; do
		if (($# == 0)) || [[ " $* " == *" ${jobs[$pid]} "* ]]; then
			wait "$pid" || failed+=("${jobs[$pid]}")
			unset "jobs[$pid]"
		fi
	done
	if ((${#failed[@]})); then
		wait # let the others finish their own reports
		printf 'lab: up failed in: %s\n' "${failed[*]}" >&2
		exit 1
	fi
}

start_jobs "services/packages.sh venv" services/postgres.sh services/redis.sh \
	services/docker.sh stack/images.sh services/registry.sh services/statuspage.sh
wait_jobs "services/packages.sh venv"
start_jobs services/s3.sh services/vault.sh services/vault-raft.sh "services/packages.sh tools" stack/openbao-image.sh
wait_jobs services/postgres.sh services/redis.sh services/docker.sh stack/images.sh
start_jobs stack/containers.sh
# The scenario-3 stack (compose project phase2): its Vault image too.
wait_jobs stack/openbao-image.sh
start_jobs stack/phase2.sh
wait_jobs

# .lab/env: KEY=value lines, in a fixed order.
{
	echo "LAB_DIR=$LAB_DIR"
	for part in postgres redis s3 vault vault-raft docker registry statuspage stack phase2; do
		cat "$LAB_ENVD/$part"
	done
} >"$LAB_DIR/env.tmp"
mv "$LAB_DIR/env.tmp" "$LAB_DIR/env"

if [[ -f "$LAB_SRC/drhost-toml.sh" ]]; then
	bash "$LAB_SRC/drhost-toml.sh" || lab_fail drhost.toml "lab/drhost-toml.sh failed" "$LAB_DIR/env"
fi
# infra-backup, through drhost and .lab/drhost.toml, unless S3 holds current
# backups of the scenario-3 stack (said, not failed, when drhost is not built yet).
bash "$LAB_SRC/stack/phase2.sh" backup

lab_say "up in $(elapsed "$started") s — settings in $LAB_DIR/env"
