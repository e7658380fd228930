#!/usr/bin/env bash
# Builds shipped plugins exactly as they were for contract drhost:runbook@0.1.2,
# from the commit pinned below, into tests/plugins/compat-0.1/<id>.wasm (git-
# ignored; `make sign` signs them). tests/tests/compat.rs runs them on today's
# host to prove 0.1.x plugins keep running unchanged.
#
# Idempotent: does nothing when every output is newer than this script (the
# pin lives here). --locked, from the commit's own Cargo.lock
# (its crates, wit-bindgen 0.63, are those today's plugins already fetched).
# Its own target directory (target/wasm-0.1), so the main build's cache is
# untouched. Run by `make compat` (after `make plugins`, whose crates it shares) (and so by `make build` and `make test`).
set -euo pipefail

# The last commit whose sdk/, wit/ and plugins/ are contract 0.1.2: the next
# one moved the contract to 0.2.0 (wit/0.2.0/, wit/0.1.2/ frozen). Change it
# only to build 0.1 plugins from a later 0.1.x commit.
COMMIT=1e256d909517934d3e29bebd2a95c6af167609e9
# The plugins of that commit to build; db-restore uses `vault.secret`, which
# 0.2 moved to its own `secret` interface, so it exercises the conversions.
PLUGINS=(hello status service-recover db-restore)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
script="$root/tests/compat/build-0.1.sh"
work="$root/target/compat-0.1"
out="$root/tests/plugins/compat-0.1"
cargo="${CARGO:-cargo}"
say() { echo "compat: $*" >&2; }

# Up to date? (every output exists and is newer than this script)
fresh=1
for id in "${PLUGINS[@]}"; do
	if [[ ! -f "$out/$id.wasm" || "$script" -nt "$out/$id.wasm" ]]; then fresh=0; fi
done
if ((fresh)); then exit 0; fi

# The commit: a shallow clone (CI) may lack it; fetch it once, else say how.
has_commit() { git -C "$root" cat-file -e "$COMMIT^{commit}" 2>/dev/null; }
if ! has_commit && [[ "$(git -C "$root" rev-parse --is-shallow-repository)" == true ]]; then
	say "fetching ${COMMIT:0:7} (the last 0.1.2 contract commit) into this shallow clone"
	git -C "$root" fetch --quiet --depth=1 origin "$COMMIT" 2>/dev/null ||
		git -C "$root" fetch --quiet --unshallow 2>/dev/null || true
fi
if ! has_commit; then
	say "commit ${COMMIT:0:7} (the last drhost:runbook@0.1.2 commit, pinned in tests/compat/build-0.1.sh) is not in this clone: clone with full history (no --depth) or run \`git fetch --unshallow\`, then retry"
	exit 1
fi

# The sources of that commit: the SDK and its wit/, the plugins' workspace,
# and the root manifest the SDK inherits edition, rust-version and license
# from, with its members cut down to the SDK (host/ and tests/ are not here).
rm -rf "$work/src"
mkdir -p "$work/src"
git -C "$root" archive "$COMMIT" Cargo.toml sdk wit plugins | tar -x -C "$work/src"
sed -i 's/^members = \[.*\]$/members = ["sdk"]/' "$work/src/Cargo.toml"
if ! grep -qx 'members = \["sdk"\]' "$work/src/Cargo.toml"; then
	say "cannot cut the root Cargo.toml of ${COMMIT:0:7} down to the SDK (no one-line \`members = [...]\`): update tests/compat/build-0.1.sh"
	exit 1
fi

packages=()
for id in "${PLUGINS[@]}"; do packages+=(-p "$id"); done
if ! (cd "$work/src/plugins" && CARGO_TARGET_DIR="$root/target/wasm-0.1" \
	"$cargo" build --quiet --locked --release --target wasm32-wasip2 "${packages[@]}"); then
	say "building the 0.1.2 plugins of ${COMMIT:0:7} failed (above): check the network for crates.io, or fetch once with \`cargo fetch --manifest-path target/compat-0.1/src/plugins/Cargo.toml\`, and retry"
	exit 1
fi

# Each must import the 0.1.2 contract and nothing of a later one; the names
# of a component's imports are plain strings in the binary.
mkdir -p "$out"
built="$root/target/wasm-0.1/wasm32-wasip2/release"
for id in "${PLUGINS[@]}"; do
	wasm="$built/${id//-/_}.wasm"
	if ! grep -aq 'drhost:runbook/[a-z0-9-]*@0\.1\.2' "$wasm" || grep -aq 'drhost:runbook/[a-z0-9-]*@0\.[2-9]' "$wasm"; then
		say "$wasm does not import drhost:runbook@0.1.2 alone: the sources of ${COMMIT:0:7} are not the 0.1.2 contract"
		exit 1
	fi
	cp "$wasm" "$out/$id.wasm.tmp"
	mv "$out/$id.wasm.tmp" "$out/$id.wasm"
done
