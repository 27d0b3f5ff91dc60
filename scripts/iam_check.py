"""Least-privilege check of the IAM policies in a (translated) CloudFormation template. Pure Python, no deps.

A finding is a write action granted too broadly:

- a wildcard action that can write: ``*``, ``s3:*``, ``dynamodb:Put*``, ``sqs:*Message`` ... (any ``*`` or ``?`` in
  the action name, since a pattern may match a write action added to the service later);
- a write action (anything not ``Get``/``List``/``Describe``/... by name, see ``READ_PREFIXES``) on ``Resource: "*"``
  or on a resource ARN whose resource part is only ``*`` (``arn:aws:dynamodb:*:*:table/*`` ...);
- ``NotAction`` / ``NotResource`` in an Allow statement (they grant everything else).

Checked: inline ``Policies`` of ``AWS::IAM::Role``, ``AWS::IAM::Policy``, ``AWS::IAM::RolePolicy`` and
``AWS::IAM::ManagedPolicy`` resources. Resource policies (bucket and queue policies) are not identity grants and
are not checked. Managed policies attached by ARN (``AWSLambdaBasicExecutionRole``, X-Ray's write-only access: both
need ``*`` for ``logs``/``xray`` by AWS's design) cannot be read offline; they are listed in ``ALLOWED_MANAGED``.

Run on the SAM translation (``scripts/sam_checks.py`` does): the SAM policy templates (DynamoDBCrudPolicy ...)
are expanded there. ``python scripts/iam_check.py translated.json`` also works on its own.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Action names that only read (IAM's "Read"/"List" access levels follow these verbs throughout AWS).
READ_PREFIXES = ("Get", "List", "Describe", "BatchGet", "Query", "Scan", "Head", "Lookup", "Search", "Select")
# Managed policies SAM attaches by ARN; their wildcards are AWS's (logs:CreateLogStream on *, xray:Put* on *).
ALLOWED_MANAGED = (
    "service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess",
    "service-role/AWSLambdaSQSQueueExecutionRole",
)
POLICY_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True)
class Finding:
    resource: str
    sid: str
    message: str

    def __str__(self) -> str:
        return f"{self.resource} [{self.sid or 'no Sid'}]: {self.message}"


def is_write(action: str) -> bool:
    """True if `action` (service:Name) may change something. Unknown shapes count as writes."""
    _, _, name = action.partition(":")
    if action == "*" or not name:
        return True
    return not name.startswith(READ_PREFIXES)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(node: Any) -> Iterator[str]:
    """Every literal string in a (possibly intrinsic) value: `Fn::Sub` templates, `Fn::Join` parts ..."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)


def _resource_is_wildcard(resource: Any) -> bool:
    """`*`, or an ARN that names nothing in particular (its resource part is `*`, `table/*`, `*/*`...). An intrinsic
    (Ref/GetAtt of a resource of the template) names one thing; a Sub/Join is judged by its literal text."""
    if isinstance(resource, dict) and ("Ref" in resource or "Fn::GetAtt" in resource):
        return False
    if isinstance(resource, dict) and "Fn::If" in resource:
        branches = resource["Fn::If"][1:]
        return any(_resource_is_wildcard(b) for b in branches if b != {"Ref": "AWS::NoValue"})
    text = "".join(_strings(resource)) if not isinstance(resource, str) else resource
    text = re.sub(r"\$\{[^}]+\}", "X", text)  # ${Var} names something specific
    if text.strip() == "*":
        return True
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        service, rest = (parts[2], parts[5]) if len(parts) == 6 else ("", "")
        segments = re.split(r"[/:]", rest)
        if service != "s3":  # `table/*`, `secret:*`: every resource of that type (S3 ARNs have no type part)
            segments = segments[1:] if len(segments) > 1 else segments
        return all(seg in ("*", "") for seg in segments)
    return False


def check_statement(owner: str, statement: dict[str, Any]) -> list[Finding]:
    if statement.get("Effect") != "Allow":
        return []
    sid = str(statement.get("Sid", ""))
    findings: list[Finding] = []
    if "NotAction" in statement:
        findings.append(Finding(owner, sid, "NotAction in an Allow statement"))
    if "NotResource" in statement:
        findings.append(Finding(owner, sid, "NotResource in an Allow statement"))
    actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
    resources = _as_list(statement.get("Resource", []))
    wild_resources = [r for r in resources if _resource_is_wildcard(r)]
    for action in actions:
        if "*" in action or "?" in action:
            findings.append(Finding(owner, sid, f"wildcard action {action!r}"))
        elif is_write(action) and wild_resources:
            findings.append(
                Finding(owner, sid, f"write action {action!r} on a wildcard resource {wild_resources[0]!r}")
            )
    return findings


def _documents(props: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if isinstance(props.get("PolicyDocument"), dict):
        yield props["PolicyDocument"]
    for policy in props.get("Policies", []) or []:
        if isinstance(policy, dict) and isinstance(policy.get("PolicyDocument"), dict):
            yield policy["PolicyDocument"]


def _statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for statement in _as_list(document.get("Statement", [])):
        if isinstance(statement, dict) and "Fn::If" in statement:
            for branch in statement["Fn::If"][1:]:
                if isinstance(branch, dict) and branch != {"Ref": "AWS::NoValue"}:
                    yield branch
        elif isinstance(statement, dict):
            yield statement


def _managed_arns(props: dict[str, Any]) -> Iterator[str]:
    for arn in props.get("ManagedPolicyArns", []) or []:
        text = "".join(_strings(arn))
        if ":aws:policy/" in text or text.startswith("arn:aws:iam::aws:") or "iam::aws:policy" in text:
            yield text


def check_template(template: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") not in POLICY_TYPES:
            continue
        props = resource.get("Properties") or {}
        for document in _documents(props):
            for statement in _statements(document):
                findings += check_statement(logical_id, statement)
        for arn in _managed_arns(props):
            if not arn.endswith(ALLOWED_MANAGED):
                findings.append(Finding(logical_id, "", f"AWS managed policy not reviewed: {arn}"))
    return findings


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: iam_check.py TRANSLATED_TEMPLATE.json", file=sys.stderr)
        return 2
    findings = check_template(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
