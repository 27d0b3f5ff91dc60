"""The IAM least-privilege checker (scripts/iam_check.py): it fails on bad policies (so it can fail), passes on the
shapes the template uses, and the template's own function policies pass it (raw SAM statements here; the expanded
translation is checked by scripts/sam_checks.py, run in test_template.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.template.test_template import FUNCTIONS, props

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("iam_check", ROOT / "scripts" / "iam_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["iam_check"] = module
    spec.loader.exec_module(module)
    return module


iam = _load()


def role(*statements: dict[str, Any]) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": document}]}}}}


def allow(action: Any, resource: Any) -> dict[str, Any]:
    return {"Sid": "S", "Effect": "Allow", "Action": action, "Resource": resource}


TABLE = {"Fn::GetAtt": ["ServersTable", "Arn"]}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (allow("dynamodb:*", TABLE), "wildcard action 'dynamodb:*'"),
        (allow(["s3:GetObject", "s3:Put*"], "arn:aws:s3:::b/*"), "wildcard action 's3:Put*'"),
        (allow("*", "*"), "wildcard action '*'"),
        (allow("sqs:SendMessage*", {"Fn::GetAtt": ["Q", "Arn"]}), "wildcard action 'sqs:SendMessage*'"),
        (allow("dynamodb:PutItem", "*"), "write action 'dynamodb:PutItem' on a wildcard resource '*'"),
        (allow(["s3:DeleteObject"], ["arn:aws:s3:::*"]), "write action 's3:DeleteObject'"),
        (allow("dynamodb:UpdateItem", {"Fn::Sub": "arn:${AWS::Partition}:dynamodb:*:*:table/*"}), "write action"),
        (allow("secretsmanager:PutSecretValue", "arn:aws:secretsmanager:us-east-1:1:secret:*"), "write action"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction in an Allow statement"),
        ({"Effect": "Allow", "Action": "s3:PutObject", "NotResource": "arn:aws:s3:::b/*"}, "NotResource"),
    ],
)
def test_bad_policies_fail(statement: dict[str, Any], expected: str) -> None:
    findings = [str(f) for f in iam.check_template(role(statement))]
    assert findings and any(expected in f for f in findings), findings


@pytest.mark.parametrize(
    "statement",
    [
        allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], TABLE),
        allow("s3:PutObject", {"Fn::Sub": "${RecordingsBucket.Arn}/*"}),
        allow("s3:PutObject", {"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::StackName}-spool/uploads/*"}),
        allow("dynamodb:Query", {"Fn::Sub": "${MeetingsTable.Arn}/index/server-index"}),
        allow(["xray:GetSamplingRules", "s3:ListBucket"], "*"),  # reads may be broad
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},  # a Deny narrows, never grants
    ],
)
def test_least_privilege_shapes_pass(statement: dict[str, Any]) -> None:
    assert iam.check_template(role(statement)) == []


def test_unreviewed_aws_managed_policy_fails_and_lambdas_defaults_pass() -> None:
    def with_arns(*arns: Any) -> dict[str, Any]:
        return {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": list(arns)}}}}

    basic = {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
    assert iam.check_template(with_arns(basic, "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess")) == []
    (finding,) = iam.check_template(with_arns("arn:aws:iam::aws:policy/AmazonS3FullAccess"))
    assert "AmazonS3FullAccess" in str(finding)


def test_conditional_statements_are_checked_in_both_branches() -> None:
    statement = {"Fn::If": ["C", allow("dynamodb:DeleteItem", "*"), {"Ref": "AWS::NoValue"}]}
    assert iam.check_template(role(statement))


def test_write_classification() -> None:
    assert not iam.is_write("dynamodb:GetItem") and not iam.is_write("s3:ListBucket")
    assert iam.is_write("dynamodb:UpdateItem") and iam.is_write("sqs:ChangeMessageVisibility")
    assert iam.is_write("*") and iam.is_write("garbage")


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_inline_statements_pass(logical_id: str) -> None:
    statements: list[Any] = []
    for policy in props(logical_id)["Policies"]:
        branches = policy["Fn::If"][1:] if isinstance(policy, dict) and "Fn::If" in policy else [policy]
        for branch in branches:
            if isinstance(branch, dict) and "Statement" in branch:
                statements += branch["Statement"]
    assert statements, logical_id
    assert iam.check_template(role(*statements)) == [], logical_id
