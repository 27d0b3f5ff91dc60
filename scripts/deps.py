"""Write (or with --check, verify) layers/common/requirements.txt from pyproject's runtime dependencies."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "layers" / "common" / "requirements.txt"
HEADER = "# GENERATED from pyproject.toml [project.dependencies] by `make deps`; checked by `make deps-check`.\n"


def expected() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return HEADER + "\n".join(deps) + "\n"


def main() -> int:
    want = expected()
    if "--check" in sys.argv:
        if not TARGET.exists() or TARGET.read_text() != want:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `make deps`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(want)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
