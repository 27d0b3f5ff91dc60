#!/usr/bin/env bash
# Run the project's pinned uv (the lock tool), installing it first if needed: `pip install uv==$UV_VERSION` into a
# small tools venv `.venv-uv` (a fresh machine has only CPython). Arguments are passed to uv.
#
# Usage: scripts/uv.sh lock --check       UV_TOOLS_VENV=/path scripts/uv.sh ...
#
# uv never downloads a Python here (UV_PYTHON_DOWNLOADS=never: no network but the package registries); it uses
# the interpreter find_python_312 picks (3.12 = the Lambda runtime, else 3.13) unless UV_PYTHON is set.
set -euo pipefail

UV_VERSION=0.13.9   # the lock tool; after a bump run `make deps` (it may re-write uv.lock in the new format)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${UV_TOOLS_VENV:-$ROOT/.venv-uv}"
UV="$TOOLS/bin/uv"

# shellcheck source=scripts/find-python.sh
source "$ROOT/scripts/find-python.sh"

if [[ ! -x "$UV" || "$("$UV" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
  PY="$(find_python_312)" || { echo "uv.sh: no usable Python 3 interpreter found" >&2; exit 1; }
  echo "uv.sh: installing uv==$UV_VERSION into $TOOLS" >&2
  [[ -x "$TOOLS/bin/python" ]] || "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" 2>&1 \
    | grep -v "^WARNING: Location .* is ignored" >&2 || true
  if [[ "$("$UV" --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
    echo "uv.sh: installation of uv==$UV_VERSION into $TOOLS failed" >&2
    exit 1
  fi
fi

export UV_PYTHON_DOWNLOADS=never
if [[ -z "${UV_PYTHON:-}" ]]; then
  UV_PYTHON="$(find_python_312)" || { echo "uv.sh: no usable Python 3 interpreter found" >&2; exit 1; }
  export UV_PYTHON
fi
exec "$UV" "$@"
