#!/usr/bin/env bash
# Create (idempotently) the app/test venv `.venv` with the project installed editable plus dev tools.
# Re-installs only when pyproject.toml changed since the last successful install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${APP_VENV:-$ROOT/.venv}"
# shellcheck source=scripts/find-python.sh
source "$ROOT/scripts/find-python.sh"

# The editable install's .pth lists the package folders that exist at install time: a new package re-installs.
key="$( (cat "$ROOT/pyproject.toml"; cd "$ROOT" && ls -d layers/*/*/ functions/*/*/ cli/*/ devtools/*/ 2>/dev/null) | sha1sum | cut -c1-12)"
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
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "is ignored" || true
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]" 2>&1 | grep -v "is ignored" || true
"$VENV/bin/python" -c "import scalelite_common, fastapi, pynamodb, moto" \
  || { echo "app-venv: install failed" >&2; exit 1; }
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "app-venv: ready ($("$VENV/bin/python" --version))" >&2
