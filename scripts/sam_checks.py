"""Offline checks of template.yaml: no AWS credentials, no Docker, no network.

Run with the SAM venv's interpreter (scripts/sam-venv.sh creates it)::

    .venv-sam/bin/python scripts/sam_checks.py [--template template.yaml] [--keep-translated out.json]

Started with another interpreter, the script re-executes itself with ``.venv-sam/bin/python``.

Steps (all run, the exit status is 1 if any failed):

1. ``cfn-lint template.yaml``
2. ``sam validate --region us-east-1``: SAM's own validation. It is the only one of these that rejects an
   S3 event whose bucket is not in the template.
3. ``sam validate --lint``
4. Offline SAM -> CloudFormation translation (samtranslator with a managed-policy loader that never calls
   IAM, local CodeUri/ContentUri replaced by placeholder S3 URIs as ``sam package`` would), then
   ``cfn-lint`` on the translated JSON. This is the only step that sees the S3-notification circular
   dependency (E3004): steps 1-3 all pass a template that CloudFormation rejects at deploy time.
5. IAM least privilege (scripts/iam_check.py) on the translated template, where SAM's policy templates are
   expanded: no wildcard write action, no write action on a `*` resource.
6. Canary: the same translation of a copy of the template with a deliberate cycle (ImporterFunction's
   environment referencing SpoolBucket) must produce E3004, proving that step 4 can fail.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, so its own directory (scripts/) is already sys.path[0].
from iam_check import check_template

ROOT = Path(__file__).resolve().parent.parent
SAM_VENV_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
REGION = "us-east-1"

# Offline, quiet, deterministic: no telemetry, no credentials (so nothing can reach an AWS account, even by
# accident), no instance-metadata lookups, a fixed region.
OFFLINE_ENV = {
    "SAM_CLI_TELEMETRY": "0",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def _offline_environ() -> None:
    for name in CREDENTIAL_ENV:
        os.environ.pop(name, None)
    os.environ.update(OFFLINE_ENV)


# Findings on the *translated* template that are accepted. Keep this list short and justified.
# (rule id, substring of the message) -> why it is harmless.
ACCEPTED_TRANSLATED_FINDINGS: dict[tuple[str, str], str] = {
    # none needed today: the placeholder S3 URIs below are syntactically valid bucket names and keys, so
    # E1161/E3033-style complaints about the code location do not occur.
}


def _reexec_in_sam_venv() -> None:
    """Prefer the project's SAM venv (pinned SAM CLI / cfn-lint) over whatever interpreter started us."""
    in_sam_venv = Path(sys.prefix).resolve() == SAM_VENV_PYTHON.parent.parent.resolve()
    if not in_sam_venv and SAM_VENV_PYTHON.exists():
        os.execv(str(SAM_VENV_PYTHON), [str(SAM_VENV_PYTHON), __file__, *sys.argv[1:]])  # noqa: S606
    try:
        import cfnlint  # noqa: F401
        import samtranslator  # noqa: F401
    except ImportError:
        sys.exit(
            "sam_checks: samtranslator/cfn-lint are not importable. Create the SAM venv first "
            "(scripts/sam-venv.sh) and run this script with .venv-sam/bin/python."
        )


def _tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    sys.exit(f"sam_checks: {name} not found next to {sys.executable}")


def _run(cmd: list[str]) -> tuple[int, str]:
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


# ------------------------------------------------------------------------------------------------------------
# Offline translation
# ------------------------------------------------------------------------------------------------------------


class _NoManagedPolicies:
    """Managed-policy loader for samtranslator that never calls IAM.

    AWS managed policies given by name (AWSXrayWriteOnlyAccess, ...) still resolve through the translator's
    bundled name->ARN map; only unknown names would need this loader, and those should fail anyway.
    """

    def load(self) -> dict[str, str]:
        return {}


_LOCAL_URI_PROPS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def _placeholder_uri(logical_id: str) -> str:
    # A syntactically valid bucket name and key: what `sam package` would write, minus the upload.
    return f"s3://placeholder-artifacts-bucket/{logical_id.lower()}.zip"


def _replace_local_uris(template: dict[str, Any]) -> None:
    globals_fn = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_fn.get("CodeUri"), str) and not globals_fn["CodeUri"].startswith("s3://"):
        globals_fn["CodeUri"] = _placeholder_uri("globals")
    for logical_id, resource in template.get("Resources", {}).items():
        prop = _LOCAL_URI_PROPS.get(resource.get("Type", ""))
        if not prop:
            continue
        props = resource.setdefault("Properties", {})
        value = props.get(prop)
        if value is None and resource["Type"] == "AWS::Serverless::Function" and "InlineCode" not in props:
            value = "."  # CodeUri defaults to the template directory
        if isinstance(value, str) and not value.startswith("s3://"):
            props[prop] = _placeholder_uri(logical_id)


def load_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import decode

    template, errors = decode(str(path))
    if errors or template is None:
        raise SystemExit(f"sam_checks: cannot parse {path}: {errors}")
    return dict(template)


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """SAM -> CloudFormation, offline. Returns the translated template."""
    from samtranslator.translator.transform import transform

    tpl = copy.deepcopy(template)
    _replace_local_uris(tpl)
    return dict(transform(tpl, {}, _NoManagedPolicies()))


def lint_translated(translated: dict[str, Any], out_path: Path) -> tuple[list[str], list[str]]:
    """cfn-lint the translated template. Returns (blocking findings, accepted findings)."""
    out_path.write_text(json.dumps(translated, indent=1, default=str))
    _, output = _run([_tool("cfn-lint"), "--format", "parseable", "--", str(out_path)])
    blocking: list[str] = []
    accepted: list[str] = []
    for line in output.splitlines():
        if not line.strip():
            continue
        # parseable: <file>:<line>:<col>:<end line>:<end col>:<rule>:<message>
        parts = line.split(":", 6)
        rule, message = (parts[5], parts[6]) if len(parts) == 7 else ("?", line)
        if any(rule == r and s in message for (r, s) in ACCEPTED_TRANSLATED_FINDINGS):
            accepted.append(line)
        else:
            blocking.append(line)
    return blocking, accepted


# ------------------------------------------------------------------------------------------------------------
# Steps
# ------------------------------------------------------------------------------------------------------------


def step_cfn_lint(template_path: Path, _: argparse.Namespace) -> tuple[bool, str]:
    rc, out = _run([_tool("cfn-lint"), "--", str(template_path)])
    return rc == 0, out


def step_sam_validate(template_path: Path, _: argparse.Namespace) -> tuple[bool, str]:
    rc, out = _run([_tool("sam"), "validate", "--region", REGION, "--template-file", str(template_path)])
    return rc == 0, out


def step_sam_validate_lint(template_path: Path, _: argparse.Namespace) -> tuple[bool, str]:
    rc, out = _run([_tool("sam"), "validate", "--lint", "--region", REGION, "--template-file", str(template_path)])
    return rc == 0, out


def step_translate_and_lint(template_path: Path, args: argparse.Namespace) -> tuple[bool, str]:
    translated = translate(load_template(template_path))
    with tempfile.TemporaryDirectory(prefix="sam-checks-") as tmp:
        out_path = Path(args.keep_translated) if args.keep_translated else Path(tmp) / "translated.json"
        blocking, accepted = lint_translated(translated, out_path)
    n_res = len(translated.get("Resources", {}))
    cycles = [b for b in blocking if ":E3004:" in b]
    lines = [f"{n_res} CloudFormation resources after translation"]
    if args.keep_translated:
        lines.append(f"translated template kept at {args.keep_translated}")
    if cycles:
        lines.append("CIRCULAR DEPENDENCY (E3004) - CloudFormation would reject this template at deploy time:")
    lines += blocking
    lines += [f"accepted: {a}" for a in accepted]
    return not blocking, "\n".join(lines)


def step_iam_least_privilege(template_path: Path, _: argparse.Namespace) -> tuple[bool, str]:
    findings = check_template(translate(load_template(template_path)))
    return not findings, "\n".join(str(f) for f in findings)


def step_cycle_canary(template_path: Path, _: argparse.Namespace) -> tuple[bool, str]:
    template = load_template(template_path)
    importer = template.get("Resources", {}).get("ImporterFunction")
    if not importer or "SpoolBucket" not in template["Resources"]:
        return False, "ImporterFunction or SpoolBucket missing: canary cannot be built"
    env = importer.setdefault("Properties", {}).setdefault("Environment", {}).setdefault("Variables", {})
    env["SPOOL_BUCKET"] = {"Ref": "SpoolBucket"}  # the classic mistake
    with tempfile.TemporaryDirectory(prefix="sam-checks-canary-") as tmp:
        blocking, _accepted = lint_translated(translate(template), Path(tmp) / "canary.json")
    cycles = [b for b in blocking if ":E3004:" in b]
    if cycles:
        return True, f"deliberate cycle detected as expected ({len(cycles)} E3004 findings)"
    return False, "deliberate SpoolBucket cycle was NOT detected: the translate+lint check is blind\n" + "\n".join(
        blocking
    )


STEPS: list[tuple[str, Callable[[Path, argparse.Namespace], tuple[bool, str]]]] = [
    ("cfn-lint template", step_cfn_lint),
    ("sam validate --region us-east-1", step_sam_validate),
    ("sam validate --lint", step_sam_validate_lint),
    ("offline translate + cfn-lint (E3004 cycles)", step_translate_and_lint),
    ("IAM least privilege (translated)", step_iam_least_privilege),
    ("cycle canary", step_cycle_canary),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--keep-translated", metavar="PATH", help="write the translated template here")
    parser.add_argument("--no-canary", action="store_true", help="skip the cycle canary (saves ~3 s)")
    args = parser.parse_args(argv)
    _offline_environ()  # also for the in-process translation: samtranslator reads the region from the env
    # samtranslator warns "There are unpublished metrics" when its (unused) metrics object is collected.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    template_path = Path(args.template).resolve()

    failed: list[str] = []
    ran = 0
    total_start = time.monotonic()
    for name, step in STEPS:
        if args.no_canary and step is step_cycle_canary:
            continue
        ran += 1
        start = time.monotonic()
        try:
            ok, output = step(template_path, args)
        except Exception as exc:  # a crash in a step is a failed check, not a traceback
            ok, output = False, f"{type(exc).__name__}: {exc}"
        status = "ok  " if ok else "FAIL"
        print(f"[{status}] {name} ({time.monotonic() - start:.1f} s)", flush=True)
        if output and (not ok or os.environ.get("SAM_CHECKS_VERBOSE")):
            print("       " + output.replace("\n", "\n       "), flush=True)
        if not ok:
            failed.append(name)
    print(f"sam_checks: {ran - len(failed)} ok, {len(failed)} failed ({time.monotonic() - total_start:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    _reexec_in_sam_venv()
    sys.exit(main())
