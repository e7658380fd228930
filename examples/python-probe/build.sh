#!/usr/bin/env bash
# Builds examples/python-probe/py-probe.wasm from app.py and the repo's wit/0.2.0/
# with componentize-py (pinned in requirements.txt, installed in the repo's
# git-ignored .venv). Idempotent and quiet: does nothing when the .wasm is
# newer than app.py, requirements.txt and wit/0.2.0/*.wit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv"
bindings="$root/target/py-probe-bindings"
out="$here/py-probe.wasm"

# Up to date? (find prints any input newer than the output)
if [[ -f "$out" && -z "$(find "$here/app.py" "$here/requirements.txt" "$root"/wit/0.2.0/*.wit -newer "$out" -print -quit)" ]]; then
	exit 0
fi

# The venv, with the pinned componentize-py (reinstalled only if the pin changed).
if [[ ! -x "$venv/bin/python" ]]; then
	python3 -m venv "$venv"
fi
if ! cmp -s "$here/requirements.txt" "$venv/.py-probe-requirements"; then
	"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
	cp "$here/requirements.txt" "$venv/.py-probe-requirements"
fi

# Bindings (also for editors: point them at target/py-probe-bindings), then
# the component, built from a copy of app.py there so that nothing (e.g.
# __pycache__) lands in examples/. A temp file: a failed build leaves no .wasm.
cpy=("$venv/bin/componentize-py" -d "$root/wit/0.2.0" -w plugin)
rm -rf "$bindings"
"${cpy[@]}" bindings "$bindings" >/dev/null
cp "$here/app.py" "$bindings/app.py"
trap 'rm -f "$out.tmp"' EXIT
(cd "$bindings" && "${cpy[@]}" componentize app -o "$out.tmp" >/dev/null)
mv "$out.tmp" "$out"
