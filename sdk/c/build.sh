#!/usr/bin/env bash
# Builds a C drhost plugin into a component, with no SDK:
#   sdk/c/build.sh APP_DIR OUT.wasm
# APP_DIR holds the plugin's *.c (and *.h), written against the bindings
# `wit-bindgen c` generates from the repo's wit/0.2.0 (world `plugin`:
# #include "plugin.h"). Installs what is missing, idempotently (quick when
# present): Debian's clang, lld, wasi-libc and libclang-rt-dev-wasm32 (apt),
# and builds sdk/c/componentize under target/ (the generator of `wit-bindgen
# c`, wit-component and wasmtime 48's preview1 adapter, from crates.io). Then:
# bindings, clang for a wasm32-wasi reactor, the preview1 adapter. Quiet; does
# nothing when OUT is newer than every input.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 APP_DIR OUT.wasm" >&2
	exit 2
fi
sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$sdk/../.." && pwd)"
app="$(cd "$1" && pwd)"
out="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
wit="$root/wit/0.2.0"
build="$root/target/c-build/$(basename "$out" .wasm)"
componentize="$root/target/c-tools/release/drhost-c-componentize"
CARGO="${CARGO:-cargo}"

# Up to date? (find prints any input newer than the output)
if [[ -f "$out" && -z "$(find "$app" "$sdk" "$wit" -type f -newer "$out" -print -quit)" ]]; then
	exit 0
fi

# Debian's C compiler for wasm: clang, its wasm linker (lld's wasm-ld), the
# WASI libc and the compiler runtime for wasm32. Only what is missing; the
# package lists are refreshed only when an install fails without.
packages=(clang lld wasi-libc libclang-rt-dev-wasm32)
missing=()
for p in "${packages[@]}"; do
	if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if ! command -v sudo >/dev/null; then
			echo "$0: needs ${missing[*]} (Debian): apt-get install ${missing[*]}, then run again" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}")
	# A fresh image has no package lists: the first try then fails quietly.
	if ! "${apt[@]}" >/dev/null 2>&1; then
		"${sudo[@]}" apt-get update -qq
		"${apt[@]}" >/dev/null
	fi
fi

# The bindings generator and the componentizer: one small tool (a few
# minutes to build once, then cargo finds it up to date).
CARGO_TARGET_DIR="$root/target/c-tools" "$CARGO" build --quiet --release --locked \
	--manifest-path "$sdk/componentize/Cargo.toml"

# Bindings (also for editors: point them at target/c-build/<name>/bindings),
# then one core module: a reactor (no main; the host calls the exports), with
# the component type wit-bindgen made linked in. A temp file: a failed build
# leaves no .wasm.
rm -rf "$build"
mkdir -p "$build/bindings"
"$componentize" bindings "$wit" "$build/bindings"
clang --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Werror \
	-I "$build/bindings" -I "$app" -o "$build/core.wasm" \
	"$app"/*.c "$build/bindings/plugin.c" "$build/bindings/plugin_component_type.o" -Wl,--strip-debug
trap 'rm -f "$out.tmp"' EXIT
"$componentize" component "$build/core.wasm" "$out.tmp"
mv "$out.tmp" "$out"
