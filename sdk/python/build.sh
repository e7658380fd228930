#!/usr/bin/env bash
# Builds a Python drhost plugin into a component:
#   sdk/python/build.sh APP_DIR OUT.wasm
# APP_DIR holds app.py (the module with `WitWorld = export_plugin(…)`) and
# any other *.py it imports. Uses the repo's git-ignored .venv with this
# package installed (which pins componentize-py), the bindings of the
# repo's wit/0.2.0, and the SDK's source (sdk/python/src). Idempotent and
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
venv="$root/.venv"
build="$root/target/py-build/$(basename "$out" .wasm)"

# Up to date? (find prints any input newer than the output)
if [[ -f "$out" && -z "$(find "$app" "$sdk/src" "$sdk/pyproject.toml" "$wit" -type f ! -path '*/__pycache__/*' -newer "$out" -print -quit)" ]]; then
	exit 0
fi

# The venv with this package and its pinned componentize-py (reinstalled
# only when pyproject.toml changed).
if [[ ! -x "$venv/bin/python" ]]; then
	python3 -m venv "$venv"
fi
if ! cmp -s "$sdk/pyproject.toml" "$venv/.drhost-sdk-pyproject"; then
	"$venv/bin/pip" install --quiet --disable-pip-version-check "$sdk"
	cp "$sdk/pyproject.toml" "$venv/.drhost-sdk-pyproject"
fi

# Bindings (also for editors: point them at target/py-build/<name>) and a
# copy of the app's modules beside them, so that nothing (e.g. __pycache__)
# lands in APP_DIR. The SDK comes from its source, ahead of the installed copy.
# A temp file: a failed build leaves no .wasm.
cpy=("$venv/bin/componentize-py" -d "$wit" -w plugin)
rm -rf "$build"
mkdir -p "$build"
"${cpy[@]}" bindings "$build" >/dev/null
cp "$app"/*.py "$build/"
trap 'rm -f "$out.tmp"' EXIT
(cd "$build" && "${cpy[@]}" componentize -p "$build" -p "$sdk/src" app -o "$out.tmp" >/dev/null)
mv "$out.tmp" "$out"
