#!/usr/bin/env bash
# Builds the ToolboxAI images locally (nothing can be pulled): a root file
# system under .lab/stack/<image>-rootfs holding host binaries, their `ldd`
# libraries and a static busybox with applet links, `docker import`ed.
#
#   toolboxai/backend:latest    lab/backend (VERSION 1.1.0)
#   toolboxai/backend:previous  the same binary, VERSION 1.0.0 (for rollbacks)
#   toolboxai/nginx:latest      Debian's nginx + lab/stack/nginx/*
#   toolboxai/redis:latest      Debian's redis-server and redis-cli, for the
#                               scenario-3 stack (lab/stack/phase2/redis-node.sh)
#
# Both also get lab/stack/bin/{nc,curl}: busybox-based stand-ins for the
# `nc -zv` and `curl` calls in the runbook.
#
# Every image carries the label lab.source-hash (a hash of its inputs) and
# lab.version; an image is re-imported only when its tag is missing or
# either label differs (e.g. after a rollback test retagged :latest), and
# cargo runs only when the backend's sources changed.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
stack="$LAB_DIR/stack"
log="$LAB_LOG/images.log"
mkdir -p "$stack"
: >"$log"

wait_for 60 docker info || lab_fail images "docker does not answer" "$LAB_LOG/dockerd.log"

applets=(sh ash cat cp mv rm ls ln mkdir rmdir echo printf sleep ping nc wget ps kill
	env grep sed awk head tail cut tr wc test true false id hostname date du df
	find xargs sort uniq chmod chown touch stat readlink vi netstat nslookup ip top)

# image_label REF LABEL: a label of a local image (empty if no such image).
image_label() {
	docker image inspect "$1" --format "{{ index .Config.Labels \"$2\" }}" 2>/dev/null || true
}

# base_rootfs DIR BINARY...: busybox, the binaries' libraries, passwd/group.
base_rootfs() {
	local root="$1" bin lib
	shift
	rm -rf "$root"
	mkdir -p "$root"/{bin,etc,tmp,run,var/lock,lab/pg,lab/run}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in "${applets[@]}"; do ln -s busybox "$root/bin/$a"; done
	mkdir -p "$root/usr/local/bin"
	cp "$LAB_SRC/stack/bin/nc" "$LAB_SRC/stack/bin/curl" "$root/usr/local/bin/"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	for bin in "$@"; do
		for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
			cp -L --parents "$lib" "$root/"
		done
	done
}

# import ROOTFS REF VERSION HASH CHANGE...: docker import the tree as REF.
import() {
	local root="$1" ref="$2" version="$3" hash="$4"
	shift 4
	local changes=(--change "LABEL lab.source-hash=$hash" --change "LABEL lab.version=$version"
		--change "LABEL org.opencontainers.image.version=$version")
	local c
	for c in "$@"; do changes+=(--change "$c"); done
	tar -C "$root" -c . | docker import "${changes[@]}" - "$ref" >>"$log" 2>&1 ||
		lab_fail images "docker import of $ref failed" "$log"
	lab_say "image $ref imported (version $version)"
}

# --- toolboxai/backend -------------------------------------------------------
backend_hash="$(cat "$LAB_SRC/backend/Cargo.toml" "$LAB_SRC"/backend/src/*.rs "$LAB_SRC"/stack/bin/* "$0" | sha256sum | cut -c1-16)"
backend_root="$stack/backend-rootfs"
want_latest=1.1.0
want_previous=1.0.0
need_backend=""
for tag_version in "latest:$want_latest" "previous:$want_previous"; do
	ref="toolboxai/backend:${tag_version%%:*}"
	if [[ "$(image_label "$ref" lab.source-hash)" != "$backend_hash" ||
		"$(image_label "$ref" lab.version)" != "${tag_version#*:}" ]]; then
		need_backend=1
	fi
done
if [[ -n "$need_backend" ]]; then
	if [[ "$(cat "$stack/backend.hash" 2>/dev/null)" != "$backend_hash" || ! -x "$backend_root/usr/local/bin/toolboxai-backend" ]]; then
		# Own target dir: the std-only backend builds in seconds and never waits
		# for the workspace's target/ lock while a host build holds it.
		lab_say "building lab/backend (cargo build --release -p toolboxai-backend)"
		(cd "$LAB_ROOT" && CARGO_TARGET_DIR="$LAB_DIR/target" cargo build --release -p toolboxai-backend) >>"$log" 2>&1 ||
			lab_fail images "cargo build -p toolboxai-backend failed" "$log"
		binary="$LAB_DIR/target/release/toolboxai-backend"
		base_rootfs "$backend_root" "$binary"
		mkdir -p "$backend_root/usr/local/bin"
		cp "$binary" "$backend_root/usr/local/bin/toolboxai-backend"
		echo "$backend_hash" >"$stack/backend.hash"
	fi
	for tag_version in "latest:$want_latest" "previous:$want_previous"; do
		echo "${tag_version#*:}" >"$backend_root/VERSION"
		import "$backend_root" "toolboxai/backend:${tag_version%%:*}" "${tag_version#*:}" "$backend_hash" \
			'CMD ["/usr/local/bin/toolboxai-backend"]' 'ENV PATH=/usr/local/bin:/bin' 'ENV PORT=8000' 'EXPOSE 8000'
	done
fi

# --- toolboxai/nginx ---------------------------------------------------------
nginx_hash="$(cat "$LAB_SRC"/stack/nginx/* "$LAB_SRC"/stack/bin/* /usr/sbin/nginx "$0" | sha256sum | cut -c1-16)"
nginx_version="$(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///; s/ .*//')"
if [[ "$(image_label toolboxai/nginx:latest lab.source-hash)" != "$nginx_hash" ]]; then
	root="$stack/nginx-rootfs"
	base_rootfs "$root" /usr/sbin/nginx
	mkdir -p "$root"/usr/sbin "$root"/etc/nginx/sites-enabled "$root"/var/log/nginx \
		"$root"/var/lib/nginx/{body,proxy,fastcgi,uwsgi,scgi} "$root"/usr/share/nginx/maintenance
	cp /usr/sbin/nginx "$root/usr/sbin/nginx"
	cp /etc/nginx/mime.types "$root/etc/nginx/mime.types"
	cp "$LAB_SRC/stack/nginx/nginx.conf" "$root/etc/nginx/nginx.conf"
	cp "$LAB_SRC/stack/nginx/toolboxai.conf" "$root/etc/nginx/sites-enabled/default.conf"
	cp "$LAB_SRC/stack/nginx/toolboxai.conf" "$root/etc/nginx/sites-enabled/toolboxai.conf.backup"
	cp "$LAB_SRC/stack/nginx/maintenance.conf" "$root/etc/nginx/maintenance.conf"
	cp "$LAB_SRC/stack/nginx/maintenance.html" "$root/usr/share/nginx/maintenance/maintenance.html"
	import "$root" toolboxai/nginx:latest "$nginx_version" "$nginx_hash" \
		'CMD ["/usr/sbin/nginx"]' 'ENV PATH=/usr/local/bin:/usr/sbin:/bin' 'EXPOSE 80'
fi

# --- toolboxai/redis ---------------------------------------------------------
# The scenario-3 stack's Redis master, replica and Sentinels: Debian's
# redis-server (a multi-call binary: the name it runs as picks the role),
# redis-cli for the runbook's `docker exec … redis-cli`, and the entry point
# lab/stack/phase2/redis-node.sh.
redis_bin="$(readlink -f /usr/bin/redis-server)"
redis_hash="$(cat "$redis_bin" /usr/bin/redis-cli "$LAB_SRC/stack/phase2/redis-node.sh" "$0" | sha256sum | cut -c1-16)"
redis_version="$(redis-server --version | sed 's/.* v=//; s/ .*//')"
if [[ "$(image_label toolboxai/redis:latest lab.source-hash)" != "$redis_hash" ]]; then
	root="$stack/redis-rootfs"
	base_rootfs "$root" "$redis_bin" /usr/bin/redis-cli
	mkdir -p "$root"/usr/bin "$root"/data "$root"/run/redis "$root"/etc/redis/tls
	cp "$redis_bin" "$root/usr/bin/redis-server"
	cp /usr/bin/redis-cli "$root/usr/bin/redis-cli"
	cp "$LAB_SRC/stack/phase2/redis-node.sh" "$root/usr/local/bin/redis-node"
	import "$root" toolboxai/redis:latest "$redis_version" "$redis_hash" \
		'ENTRYPOINT ["/usr/local/bin/redis-node"]' 'CMD ["master"]' 'ENV PATH=/usr/local/bin:/usr/bin:/bin'
fi

lab_say "images ready ($(elapsed "$started") s)"
