"""The IAM usage check (tests/iam_usage.py): what a request needs, what a template grants, who is acting."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable
from typing import Any

from tests.iam_usage import Use, acting_function, missing, needed


def test_a_transaction_needs_each_of_its_items_actions() -> None:
    params = {
        "TransactItems": [
            {"ConditionCheck": {"TableName": "VoiceBridgesTable", "Key": {}}},
            {"Put": {"TableName": "MeetingsTable", "Item": {}}},
            {"Update": {"TableName": "ServersTable", "Key": {}}},
            {"Delete": {"TableName": "TenantsTable", "Key": {}}},
        ]
    }
    assert needed("TransactWriteItems", params) == [
        ("dynamodb:ConditionCheckItem", "VoiceBridgesTable", None),
        ("dynamodb:PutItem", "MeetingsTable", None),
        ("dynamodb:UpdateItem", "ServersTable", None),
        ("dynamodb:DeleteItem", "TenantsTable", None),
    ]
    assert needed("Query", {"TableName": "MeetingsTable", "IndexName": "server-index"}) == [
        ("dynamodb:Query", "MeetingsTable", "server-index")
    ]
    assert needed("BatchGetItem", {"RequestItems": {"RecordingsTable": {}}}) == [
        ("dynamodb:BatchGetItem", "RecordingsTable", None)
    ]
    assert needed("ListTables", {}) == []


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Fn": {
            "Properties": {
                "Policies": [
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["dynamodb:GetItem", "dynamodb:Query"],
                                "Resource": [{"Fn::GetAtt": ["T", "Arn"]}, {"Fn::Sub": "${T.Arn}/index/i"}],
                            }
                        ]
                    },
                    {"DynamoDBCrudPolicy": {"TableName": {"Ref": "U"}}},
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
                ]
            }
        }
    }
}


def test_only_what_no_statement_grants_is_missing() -> None:
    granted = [
        Use("Fn", "dynamodb:GetItem", "T"),
        Use("Fn", "dynamodb:Query", "T", "i"),
        Use("Fn", "dynamodb:PutItem", "T"),  # in an Fn::If branch
        Use("Fn", "dynamodb:ConditionCheckItem", "U"),  # SAM's CRUD template
        Use("Fn", "dynamodb:Query", "U", "any-index"),
    ]
    refused = [
        Use("Fn", "dynamodb:ConditionCheckItem", "T"),
        Use("Fn", "dynamodb:Query", "T", "j"),  # another index
        Use("Fn", "dynamodb:UpdateItem", "T"),
        Use("Fn", "dynamodb:GetItem", "V"),  # another table
    ]
    assert missing(TEMPLATE, granted + refused) == sorted(refused)


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
