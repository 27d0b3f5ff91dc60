"""The `sam build` artifacts, as Lambda gets them: every function's Handler resolves in a clean interpreter that has
only that function's built code dir and the built layer on sys.path (never the repo or a venv), and the arm64
build really holds arm64 native code.

Two builds, both with `scripts/sam-build.sh --cached` under `.aws-sam/` (dependencies are reused between runs):
the template as it is (arm64), and, on a host of another architecture, the same template for the host's
architecture, because an x86_64 interpreter cannot load the arm64 extension modules (pydantic-core, PyYAML,
wrapt). Only the layer's third-party wheels differ between the two; our code is copied as is.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalelite_local.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
SAM_VENV = ROOT / ".venv-sam"
WORK = ROOT / ".aws-sam" / "ci"
ELF_MACHINE = {0x3E: "x86_64", 0xB7: "arm64"}
HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower()
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (SAM_VENV / "bin" / "sam").exists(),
        reason="SAM venv .venv-sam missing (scripts/sam-venv.sh creates it; `make test` always does)",
    ),
]


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        loaded = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(loaded, dict)
    return loaded


def elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return ELF_MACHINE.get(int.from_bytes(header[18:20], "little"), f"machine {header[18:20].hex()}")


@cache
def build(arch: str) -> tuple[Path, str]:
    """`sam build` of template.yaml for `arch` → (build dir, the python3.12 sam-build.sh used)."""
    template = ROOT / "template.yaml"
    if arch != load(template)["Globals"]["Function"]["Architectures"][0]:
        # Same template, other architecture; local paths made absolute since the copy lives under .aws-sam/.
        text = template.read_text(encoding="utf-8")
        text = re.sub(r"\b(arm64|x86_64)\b(?=\]|\s*(#|$))", arch, text, flags=re.MULTILINE)
        text = re.sub(r"^(\s+(?:CodeUri|ContentUri): )(\S+/)$", lambda m: f"{m[1]}{ROOT / m[2]}/", text, flags=re.M)
        (WORK / arch).mkdir(parents=True, exist_ok=True)
        template = WORK / arch / "template.yaml"
        template.write_text(text, encoding="utf-8")
    build_dir = WORK / arch / "build"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"SAM_CLI_TELEMETRY": "0"}
    cmd = [
        str(ROOT / "scripts" / "sam-build.sh"),
        "--template-file",
        str(template),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(WORK / arch / "cache"),
        "--cached",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"sam-build: python3\.12 = (\S+)", proc.stderr)
    assert found, proc.stderr
    return build_dir, found[1]


def built_functions(build_dir: Path) -> dict[str, dict[str, Any]]:
    resources = load(build_dir / "template.yaml")["Resources"]
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}


def test_arm64_build_has_only_arm64_native_code() -> None:
    build_dir, _ = build("arm64")
    objects = sorted(build_dir.rglob("*.so"))
    assert objects, "no extension modules found: the layer's dependencies are missing"
    wrong = {str(p.relative_to(build_dir)): elf_machine(p) for p in objects if elf_machine(p) != "arm64"}
    assert not wrong, f"native code for another architecture in the arm64 build: {wrong}"
    assert (build_dir / "CommonLayer" / "python" / "scalelite_common").is_dir()


CHECK = """
import importlib, json, sys
code_dir, layer, handler = sys.argv[1:4]
sys.path[:0] = [code_dir, layer]
module_name, _, attr = handler.rpartition(".")
module = importlib.import_module(module_name)
import scalelite_common
print(json.dumps({
    "callable": callable(getattr(module, attr, None)),
    "module": module.__file__,
    "common": scalelite_common.__file__,
    "fastapi": "fastapi" in sys.modules,
}))
"""


@pytest.mark.skipif(HOST_ARCH is None, reason=f"unknown host architecture {platform.machine()}")
@pytest.mark.parametrize(
    "logical_id", ["ApiFunction", "PollerFunction", "ImporterFunction", "AdminFunction", "CallbackFunction"]
)
def test_handler_resolves_in_the_built_artifact(logical_id: str) -> None:
    assert HOST_ARCH is not None
    build_dir, python = build(HOST_ARCH)
    fn = built_functions(build_dir)[logical_id]
    code_dir = (build_dir / fn["CodeUri"]).resolve()
    layer = (build_dir / "CommonLayer" / "python").resolve()
    # -I: no PYTHONPATH, no user site, no cwd on sys.path; -S: no site-packages. Nothing of the repo or a venv.
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    proc = subprocess.run(
        [python, "-I", "-S", "-c", CHECK, str(code_dir), str(layer), fn["Handler"]],
        cwd=code_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["callable"], f"{logical_id}: {fn['Handler']} is not callable"
    assert Path(found["module"]).is_relative_to(code_dir), found
    assert Path(found["common"]).is_relative_to(layer), found
    if logical_id != "ApiFunction":
        assert not found["fastapi"], f"{logical_id} imports FastAPI (only the API function may)"
