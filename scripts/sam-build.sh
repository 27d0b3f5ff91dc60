#!/usr/bin/env bash
# `sam build` without Docker: SAM's Python builder needs an interpreter of the Lambda runtime's version
# (python3.12) on PATH. pyenv shims for a non-active version fail ("command not found"), so the real
# interpreter's bin dir is put first on PATH. Extra arguments are passed to `sam build`.
#
# Usage: scripts/sam-build.sh [sam build options]     (make build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export SAM_CLI_TELEMETRY=0
RUNTIME_VERSION=3.12   # keep in line with Globals.Function.Runtime in template.yaml

VENV="$("$ROOT/scripts/sam-venv.sh")"

# shellcheck source=scripts/find-python.sh
source "$ROOT/scripts/find-python.sh"
PY=""
while read -r c; do
  [[ -n "$c" ]] || continue
  if _py_runs "$c" "$RUNTIME_VERSION"; then
    PY="$("$c" -c 'import sys; print(sys.executable)')"
    break
  fi
done < <(_py_candidates "$RUNTIME_VERSION")
if [[ -z "$PY" ]]; then
  echo "sam-build: no working python$RUNTIME_VERSION found (PATH, pyenv). sam build needs the Lambda runtime's" >&2
  echo "sam-build: Python version; install it (e.g. pyenv install $RUNTIME_VERSION) and retry." >&2
  exit 1
fi

if [[ ! -f layers/common/requirements.txt ]]; then
  echo "sam-build: layers/common/requirements.txt is missing (make deps generates it)" >&2
  exit 1
fi

PY_BIN="$(dirname "$PY")"
# The interpreter's directory may not contain a `python3.12` name (e.g. only `python3`): provide one.
if [[ ! -x "$PY_BIN/python$RUNTIME_VERSION" ]]; then
  SHIM_DIR="$(mktemp -d)"
  trap 'rm -rf "$SHIM_DIR"' EXIT
  ln -s "$PY" "$SHIM_DIR/python$RUNTIME_VERSION"
  PY_BIN="$SHIM_DIR"
fi
echo "sam-build: python$RUNTIME_VERSION = $PY" >&2

# pyenv: also make the shim resolve to the same version, in case a tool looks the shim up first.
if command -v pyenv >/dev/null 2>&1; then
  py_version="$("$PY" -c 'import platform; print(platform.python_version())')"
  if [[ -d "$(pyenv root)/versions/$py_version" ]]; then
    export PYENV_VERSION="${PYENV_VERSION:-$(pyenv global 2>/dev/null | head -1)}:$py_version"
    PYENV_VERSION="${PYENV_VERSION#:}"
  fi
fi

PATH="$PY_BIN:$PATH" exec "$VENV/bin/sam" build "$@"
