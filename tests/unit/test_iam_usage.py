"""The IAM usage check (tests/iam_usage.py): what a request needs, what a template grants, who is acting."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from tests.iam_usage import Recorder, Use, acting_function, env_names, logical_kinds, missing, needed


def test_a_transaction_needs_each_of_its_items_actions() -> None:
    params = {
        "TransactItems": [
            {"ConditionCheck": {"TableName": "VoiceBridgesTable", "Key": {}}},
            {"Put": {"TableName": "MeetingsTable", "Item": {}}},
            {"Update": {"TableName": "ServersTable", "Key": {}}},
            {"Delete": {"TableName": "TenantsTable", "Key": {}}},
        ]
    }
    assert needed("dynamodb", "TransactWriteItems", params) == [
        ("dynamodb:ConditionCheckItem", "dynamodb", "VoiceBridgesTable"),
        ("dynamodb:PutItem", "dynamodb", "MeetingsTable"),
        ("dynamodb:UpdateItem", "dynamodb", "ServersTable"),
        ("dynamodb:DeleteItem", "dynamodb", "TenantsTable"),
    ]
    assert needed("dynamodb", "Query", {"TableName": "MeetingsTable", "IndexName": "server-index"}) == [
        ("dynamodb:Query", "dynamodb", "MeetingsTable/index/server-index")
    ]
    assert needed("dynamodb", "BatchGetItem", {"RequestItems": {"RecordingsTable": {}}}) == [
        ("dynamodb:BatchGetItem", "dynamodb", "RecordingsTable")
    ]
    assert needed("dynamodb", "ListTables", {}) == []


def test_s3_sqs_and_secrets_requests_name_what_they_need() -> None:
    copy = {"Bucket": "rec", "Key": "published/r1/a", "CopySource": {"Bucket": "spool", "Key": "uploads/r1/a"}}
    assert needed("s3", "CopyObject", copy) == [
        ("s3:PutObject", "s3", "rec/published/r1/a"),
        ("s3:GetObject", "s3", "spool/uploads/r1/a"),
    ]
    assert needed("s3", "HeadObject", {"Bucket": "rec", "Key": "k"}) == [("s3:GetObject", "s3", "rec/k")]
    assert needed("s3", "ListObjectsV2", {"Bucket": "rec", "Prefix": "p/"}) == [("s3:ListBucket", "s3", "rec")]
    deleted = {"Bucket": "rec", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}}
    assert needed("s3", "DeleteObjects", deleted) == [
        ("s3:DeleteObject", "s3", "rec/a"),
        ("s3:DeleteObject", "s3", "rec/b"),
    ]
    assert needed("sqs", "SendMessageBatch", {"QueueUrl": "https://q"}) == [("sqs:SendMessage", "sqs", "https://q")]
    assert needed("secretsmanager", "GetSecretValue", {"SecretId": "arn:s"}) == [
        ("secretsmanager:GetSecretValue", "secretsmanager", "arn:s")
    ]
    assert needed("sqs", "ReceiveMessage", {"QueueUrl": "https://q"}) == []  # the event source's, not a function's


SPOOL_NAME = "${AWS::StackName}-spool-${AWS::AccountId}-${AWS::Region}"
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "T": {"Type": "AWS::DynamoDB::Table"},
        "U": {"Type": "AWS::DynamoDB::Table"},
        "V": {"Type": "AWS::DynamoDB::Table"},
        "Spool": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": SPOOL_NAME}}},
        "Rec": {"Type": "AWS::S3::Bucket"},
        "Key": {"Type": "AWS::SecretsManager::Secret"},
        "Fn": {
            "Properties": {
                "Environment": {"Variables": {"SPOOL": {"Fn::Sub": SPOOL_NAME}, "REC": {"Ref": "Rec"}}},
                "Policies": [
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                                "Resource": [{"Fn::GetAtt": ["T", "Arn"]}, {"Fn::Sub": "${T.Arn}/index/i"}],
                            },
                            {
                                "Effect": "Allow",
                                "Action": ["s3:PutObject"],
                                "Resource": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{SPOOL_NAME}/uploads/*"},
                            },
                            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${Rec.Arn}/*"}},
                        ]
                    },
                    {"DynamoDBCrudPolicy": {"TableName": {"Ref": "U"}}},
                    {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "Key"}}},
                    {
                        "Fn::If": [
                            "Cond",
                            {
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "dynamodb:PutItem",
                                        "Resource": {"Fn::GetAtt": "T.Arn"},
                                    }
                                ]
                            },
                            {"Ref": "AWS::NoValue"},
                        ]
                    },
                    {"Fn::If": ["Other", {"Ref": "AWS::NoValue"}, {"Statement": []}]},
                ],
            }
        },
    }
}


def test_only_what_no_statement_grants_is_missing() -> None:
    granted = [
        Use("Fn", "dynamodb:GetItem", "dynamodb:T"),
        Use("Fn", "dynamodb:Query", "dynamodb:T/index/i"),
        Use("Fn", "dynamodb:PutItem", "dynamodb:T"),  # in an Fn::If branch
        Use("Fn", "dynamodb:ConditionCheckItem", "dynamodb:U"),  # SAM's CRUD template
        Use("Fn", "dynamodb:Query", "dynamodb:U/index/any-index"),
        Use("Fn", "s3:PutObject", "s3:Spool/uploads/bbb1/r1/a.tar"),  # the bucket by its literal name
        Use("Fn", "s3:GetObject", "s3:Rec/published/x"),
        Use("Fn", "secretsmanager:GetSecretValue", "secretsmanager:Key"),
    ]
    refused = [
        Use("Fn", "dynamodb:ConditionCheckItem", "dynamodb:T"),
        Use("Fn", "dynamodb:Query", "dynamodb:T/index/j"),  # another index
        Use("Fn", "dynamodb:UpdateItem", "dynamodb:T"),
        Use("Fn", "dynamodb:GetItem", "dynamodb:V"),  # another table
        Use("Fn", "s3:PutObject", "s3:Spool/failed/a.tar"),  # another prefix
        Use("Fn", "s3:ListBucket", "s3:Rec"),
        Use("Fn", "secretsmanager:PutSecretValue", "secretsmanager:Key"),
    ]
    assert missing(TEMPLATE, granted + refused) == sorted(refused)


def test_names_map_to_the_template_resources_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(env_names(TEMPLATE), logical_kinds(TEMPLATE))
    monkeypatch.setenv("SPOOL", "my-stack-spool-1234-eu-west-1")
    monkeypatch.setenv("REC", "my-stack-recordings")
    assert recorder.resource("s3", "my-stack-spool-1234-eu-west-1/uploads/a.tar") == "s3:Spool/uploads/a.tar"
    assert recorder.resource("s3", "my-stack-recordings") == "s3:Rec"
    assert recorder.resource("dynamodb", "T/index/i") == "dynamodb:T/index/i"  # Settings' defaults: logical ids
    assert recorder.resource("s3", "someone-elses-bucket/k") is None  # not ours: not checked
    assert recorder.resource("dynamodb", "Spool") is None  # a bucket's logical id is no table


def _as_if_in(module: str, fn: Callable[..., Any], **names: Any) -> Callable[..., Any]:
    """`fn` with `module` as its module (the check knows functions by their modules) and `names` as its globals."""
    namespace = {"__name__": module, "__builtins__": __builtins__, **names}
    return types.FunctionType(fn.__code__, namespace, fn.__name__)


def _ask() -> str | None:
    return acting_function()


def _call(inner: Callable[[], Any]) -> Any:
    return inner()


def _record() -> None:
    seen.append(acting_function())  # type: ignore[name-defined]  # noqa: F821


def _in_a_thread() -> None:
    thread = threading.Thread(target=worker)  # type: ignore[name-defined]  # noqa: F821
    thread.start()
    thread.join()


def test_the_acting_function_is_the_innermost_handler_package_on_the_stack() -> None:
    assert acting_function() is None  # the tests' own requests count for no function
    service = _as_if_in("scalelite_common.services.fake", _ask, acting_function=acting_function)
    assert service() is None  # the layer alone names no function
    api = _as_if_in("scalelite_api.fake", _call)
    assert api(service) == "ApiFunction"
    # A test double called from inside a function (a fake BBB client) acts for the test, not the function.
    assert api(_ask) is None


def test_a_thread_acts_for_the_function_that_started_it() -> None:
    seen: list[str | None] = []
    worker = _as_if_in("scalelite_common.services.fake", _record, acting_function=acting_function, seen=seen)
    _as_if_in("scalelite_poller.fake", _in_a_thread, threading=threading, worker=worker)()
    thread = threading.Thread(target=worker)  # started by a test
    thread.start()
    thread.join()
    assert seen == ["PollerFunction", None]
