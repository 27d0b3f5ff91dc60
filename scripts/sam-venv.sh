#!/usr/bin/env bash
# Create (idempotently) the SAM tooling venv `.venv-sam` with aws-sam-cli (which brings cfn-lint and
# aws-sam-translator). It is kept apart from the app venv on purpose: aws-sam-cli pins boto3, click,
# pydantic, ... and would drag the app's dependencies back (see docs/deploy.md).
#
# Usage: scripts/sam-venv.sh            # creates/updates .venv-sam in the repo root
#        SAM_VENV=/path scripts/sam-venv.sh
# Prints the venv path on the last line of stdout.
#
# Interpreter choice (first that actually runs): python3.12 on PATH, pyenv's 3.12.x, python3.13 on PATH,
# pyenv's 3.13.x, python3 (with a warning). A pyenv *shim* for a version that is not active fails with
# "command not found", so every candidate is test-run, not just looked up.
set -euo pipefail

SAM_CLI_VERSION="${SAM_CLI_VERSION:-1.170.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SAM_VENV:-$ROOT/.venv-sam}"
export SAM_CLI_TELEMETRY=0

# shellcheck source=scripts/find-python.sh
source "$ROOT/scripts/find-python.sh"

if [[ -x "$VENV/bin/sam" && -x "$VENV/bin/cfn-lint" ]] \
   && [[ "$("$VENV/bin/sam" --version 2>/dev/null)" == "SAM CLI, version $SAM_CLI_VERSION" ]]; then
  echo "sam-venv: $VENV already has SAM CLI $SAM_CLI_VERSION" >&2
  echo "$VENV"
  exit 0
fi

PY="$(find_python_312)" || { echo "sam-venv: no usable Python 3 interpreter found" >&2; exit 1; }
echo "sam-venv: creating $VENV with $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))" >&2

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 \
  | grep -v "^WARNING: Location .* is ignored" >&2 || true
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION" 2>&1 \
  | grep -v "^WARNING: Location .* is ignored" >&2 || true

# The grep above swallows pip's exit status, so check the result explicitly.
if ! "$VENV/bin/sam" --version >/dev/null 2>&1 || ! "$VENV/bin/cfn-lint" --version >/dev/null 2>&1; then
  echo "sam-venv: installation of aws-sam-cli==$SAM_CLI_VERSION into $VENV failed" >&2
  exit 1
fi
echo "sam-venv: $("$VENV/bin/sam" --version), $("$VENV/bin/cfn-lint" --version)" >&2
echo "$VENV"
