#!/usr/bin/env bash
# Create (idempotently) the app/test venv `.venv`: the exact versions locked in uv.lock (runtime + `dev` extra,
# hashes checked; `uv pip sync` also removes anything not in the lock), then the project itself editable (--no-deps).
# Re-installs only when pyproject.toml, uv.lock or this script changed since the last successful install.
# uv comes from scripts/uv.sh (pinned, installs itself). APP_VENV=/path installs elsewhere.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${APP_VENV:-$ROOT/.venv}"
# shellcheck source=scripts/find-python.sh
source "$ROOT/scripts/find-python.sh"

[[ -f "$ROOT/uv.lock" ]] || { echo "app-venv: uv.lock is missing: run \`make deps\`" >&2; exit 1; }
# The editable install's .pth lists the package folders that exist at install time: a new package re-installs.
key="$( (cat "$ROOT/pyproject.toml" "$ROOT/uv.lock" "$ROOT/scripts/app-venv.sh"; cd "$ROOT" && ls -d layers/*/*/ functions/*/*/ cli/*/ devtools/*/ 2>/dev/null) | sha1sum | cut -c1-12)"
stamp="$VENV/.installed-$key"
if [[ -f "$stamp" && -x "$VENV/bin/python" ]]; then
  echo "app-venv: $VENV is up to date" >&2
  exit 0
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  PY="$(find_python_312)" || { echo "app-venv: no usable Python 3 interpreter found" >&2; exit 1; }
  echo "app-venv: creating $VENV with $PY" >&2
  "$PY" -m venv "$VENV"
fi
UV="$ROOT/scripts/uv.sh"
reqs="$(mktemp)"
trap 'rm -f "$reqs"' EXIT
# --frozen: install uv.lock as committed (`make deps-check` tells whether it matches pyproject.toml).
"$UV" export --quiet --frozen --extra dev --no-emit-project --format requirements-txt --no-header -o "$reqs" \
  || { echo "app-venv: uv export from uv.lock failed" >&2; exit 1; }
"$UV" pip sync --quiet --python "$VENV/bin/python" --require-hashes "$reqs" \
  || { echo "app-venv: installing the locked dependencies failed" >&2; exit 1; }
"$UV" pip install --quiet --python "$VENV/bin/python" --no-deps -e "$ROOT" \
  || { echo "app-venv: editable install of the project failed" >&2; exit 1; }
"$VENV/bin/python" -c "import scalelite_common, fastapi, pynamodb, moto" \
  || { echo "app-venv: install failed" >&2; exit 1; }
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "app-venv: ready ($("$VENV/bin/python" --version))" >&2
