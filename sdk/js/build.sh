#!/usr/bin/env bash
# Builds a JavaScript drhost plugin into a component:
#   sdk/js/build.sh APP_DIR OUT.wasm
# APP_DIR holds app.js (the module with `export const { describe, run } =
# exportPlugin(…)`) and any other *.js it imports; it imports the SDK as
# 'drhost-sdk'. Installs the SDK's pinned tools (sdk/js/package-lock.json:
# componentize-js, rolldown) with `npm ci` when the lock changed, bundles the
# app with the SDK into one module (rolldown; the contract's interfaces stay
# imports) and componentizes it against the repo's wit/0.2.0. Idempotent and
# quiet: does nothing when OUT is newer than every input.
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
build="$root/target/js-build/$(basename "$out" .wasm)"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "$0: node and npm are needed to build JavaScript plugins: install them (Debian: apt-get install nodejs npm), then run again" >&2
	exit 1
fi
# The oldest node the pinned tools run on (rolldown's engines: ^20.19).
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
	echo "$0: node $(node --version) is too old to build JavaScript plugins: install node 20.19 or newer, then run again" >&2
	exit 1
fi

# Up to date? (find prints any input newer than the output)
if [[ -f "$out" && -z "$(find "$app" "$sdk/src" "$sdk/package-lock.json" "$wit" -type f ! -path '*/node_modules/*' -newer "$out" -print -quit)" ]]; then
	exit 0
fi

# The pinned tools, reinstalled only when the lock file changed.
if ! cmp -s "$sdk/package-lock.json" "$sdk/node_modules/.drhost-sdk-lock"; then
	(cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	cp "$sdk/package-lock.json" "$sdk/node_modules/.drhost-sdk-lock"
fi

# The app's modules, with the SDK as its package 'drhost-sdk', bundled into
# one module; every interface of the contract stays an import.
rm -rf "$build"
mkdir -p "$build/node_modules"
cp "$app"/*.js "$build/"
ln -s "$sdk" "$build/node_modules/drhost-sdk"
externals="$(sed -n 's/^interface \([a-z0-9-]*\).*/drhost:runbook\/\1@0.2.0/p' "$wit"/*.wit | paste -sd, -)"
(cd "$build" && "$sdk/node_modules/.bin/rolldown" app.js --file plugin.js --format esm --platform node \
	--external "$externals" --logLevel silent >/dev/null)

# A temp file: a failed build leaves no .wasm. componentize-js maps the
# working directory into the component, so it runs in the build directory.
trap 'rm -f "$out.tmp"' EXIT
(cd "$build" && "$sdk/node_modules/.bin/componentize-js" plugin.js --wit "$wit" --world-name plugin \
	--disable http fetch-event --out "$out.tmp" >/dev/null)
mv "$out.tmp" "$out"
