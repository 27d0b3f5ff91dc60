"""Every DynamoDB action a function performs in the tests is one its role in template.yaml grants.

moto enforces no IAM, so a grant missing from a function's policy (ConditionCheckItem inside a transaction is the
easy one to forget) passes every test here and fails every such request in AWS. This plugin records, for each
DynamoDB request made on behalf of a function (its handler package, `scalelite_api` …, is on the calling stack, or
the thread was started from such a stack, as the poller's workers are), the IAM actions and resources it needs:
a transaction needs each of its items' actions (ConditionCheckItem, PutItem, UpdateItem, DeleteItem), a Query on an
index that index's ARN. At the end of the session (with pytest-xdist, on the controller, from every worker) any
action the template does not grant fails the run with a list of what is missing.

Requests the tests make themselves are not counted: set-up outside a handler, and test doubles injected into a
function (a fake BBB client that creates a meeting mid-poll) are on the stack before any handler frame.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The handler package of each function (CONVENTIONS.md): whoever has one of these on its stack acts as that function.
FUNCTION_PACKAGES = {
    "scalelite_api": "ApiFunction",
    "scalelite_poller": "PollerFunction",
    "scalelite_importer": "ImporterFunction",
    "scalelite_admin": "AdminFunction",
    "scalelite_callbacks": "CallbackFunction",
}
# SAM's DynamoDBCrudPolicy, on the table and its indexes.
CRUD = (
    "dynamodb:GetItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:BatchGetItem",
    "dynamodb:DescribeTable",
    "dynamodb:ConditionCheckItem",
)
_TRANSACT_WRITE = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
}
_ARN = re.compile(r"^\$\{(\w+)\.Arn\}(?:/index/([\w.*-]+))?$")


@dataclass(frozen=True, order=True)
class Use:
    function: str  # logical id
    action: str  # dynamodb:…
    table: str  # the table's logical id
    index: str | None = None


# ------------------------------------------------------------------------------------------------ recording
def needed(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """(IAM action, table name, index) for each permission one DynamoDB request needs."""
    if operation == "TransactWriteItems":
        return [
            (_TRANSACT_WRITE[kind], body["TableName"], None)
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
            if kind in _TRANSACT_WRITE
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", item["Get"]["TableName"], None) for item in params.get("TransactItems", [])]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table, None) for table in params.get("RequestItems", {})]
    if "TableName" in params:
        return [(f"dynamodb:{operation}", params["TableName"], params.get("IndexName"))]
    return []


def acting_function() -> str | None:
    """The function on whose behalf the current code runs: the innermost handler package on the stack, else the one
    the thread was started from. None for the tests' own requests (a `tests.` frame comes first)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("tests.") and module != __name__:
            return None
        function = FUNCTION_PACKAGES.get(module.partition(".")[0])
        if function is not None:
            return function
        frame = frame.f_back  # type: ignore[assignment]
    inherited = getattr(threading.current_thread(), "_acting_function", None)
    return inherited if isinstance(inherited, str) else None


class Recorder:
    def __init__(self, table_vars: Mapping[str, str]) -> None:
        self._table_vars = table_vars  # env var → table logical id (SERVERS_TABLE → ServersTable)
        self._lock = threading.Lock()
        self.uses: set[Use] = set()

    def _table(self, name: str) -> str | None:
        """A table name → its logical id: Settings' defaults are the logical ids; else an env var names it."""
        if name in self._table_vars.values():
            return name
        for var, logical in self._table_vars.items():
            if os.environ.get(var) == name:
                return logical
        return None

    def record(self, operation: str, params: Mapping[str, Any]) -> None:
        function = acting_function()
        if function is None:
            return
        for action, name, index in needed(operation, params):
            table = self._table(name)
            if table is not None:
                with self._lock:
                    self.uses.add(Use(function, action, table, index))

    def install(self) -> None:
        """Wrap botocore's request entry point and Thread.start (the started thread acts for its starter)."""
        from botocore.client import BaseClient

        recorder = self
        client_class: Any = BaseClient  # _make_api_call is private: not in the stubs
        thread_class: Any = threading.Thread
        original_call = client_class._make_api_call
        original_start = thread_class.start

        def _make_api_call(client: Any, operation: str, params: Any) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                recorder.record(operation, params)
            return original_call(client, operation, params)

        def start(thread: threading.Thread) -> None:
            thread._acting_function = acting_function()  # type: ignore[attr-defined]
            original_start(thread)

        client_class._make_api_call = _make_api_call
        thread_class.start = start

    def dump(self) -> str:
        return json.dumps([[u.function, u.action, u.table, u.index] for u in sorted(self.uses)])

    def load(self, text: str) -> None:
        with self._lock:
            self.uses |= {Use(f, a, t, i) for f, a, t, i in json.loads(text)}


# ------------------------------------------------------------------------------------------------ the template
def _template() -> dict[str, Any]:
    import yaml

    from scalelite_local.template import CfnLoader

    with open(ROOT / "template.yaml", encoding="utf-8") as stream:
        return dict(yaml.load(stream, Loader=CfnLoader))  # noqa: S506 - our own template, CloudFormation tags only


def table_vars(template: Mapping[str, Any]) -> dict[str, str]:
    """The env vars that name a table, as the functions' environments set them (SERVERS_TABLE → ServersTable)."""
    tables = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}
    found: dict[str, str] = {}
    for resource in template["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for var, value in variables.items():
            if isinstance(value, dict) and value.get("Ref") in tables:
                found[var] = value["Ref"]
    return found


def _statements(policies: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Inline statements, both branches of an Fn::If (a grant that some configuration has), SAM's CRUD template."""
    for policy in policies:
        if not isinstance(policy, dict):
            continue
        if "Fn::If" in policy:
            yield from _statements(policy["Fn::If"][1:])
        elif "Statement" in policy:
            yield from policy["Statement"]
        elif "DynamoDBCrudPolicy" in policy:
            table = policy["DynamoDBCrudPolicy"]["TableName"]["Ref"]
            yield {
                "Effect": "Allow",
                "Action": list(CRUD),
                "Resource": [{"Fn::GetAtt": [table, "Arn"]}, {"Fn::Sub": f"${{{table}.Arn}}/index/*"}],
            }


def _resource(node: Any) -> tuple[str, str | None] | None:
    """(table, index or None or '*') of a resource written as !GetAtt T.Arn or !Sub '${T.Arn}/index/NAME'."""
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        parts = target.split(".") if isinstance(target, str) else list(target)
        return (parts[0], None) if parts[1:] == ["Arn"] else None
    if isinstance(node, dict) and isinstance(node.get("Fn::Sub"), str):
        match = _ARN.match(node["Fn::Sub"])
        return (match.group(1), match.group(2)) if match else None
    return None


def grants(template: Mapping[str, Any], function: str) -> list[tuple[list[str], list[tuple[str, str | None]]]]:
    """The function's Allow statements as (action patterns, resources it can express as table/index)."""
    policies = template["Resources"][function]["Properties"].get("Policies", [])
    out = []
    for statement in _statements(policies):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        out.append(([str(a) for a in actions], [r for r in map(_resource, resources) if r is not None]))
    return out


def granted(template: Mapping[str, Any], use: Use) -> bool:
    for actions, resources in grants(template, use.function):
        if not any(fnmatch.fnmatchcase(use.action, pattern) for pattern in actions):
            continue
        for table, index in resources:
            if table == use.table and (index == use.index or (index == "*" and use.index is not None)):
                return True
    return False


def missing(template: Mapping[str, Any], uses: Iterable[Use]) -> list[Use]:
    return sorted(use for use in uses if not granted(template, use))


# ------------------------------------------------------------------------------------------------ pytest hooks
_recorder: Recorder | None = None


def configure(config: Any) -> None:
    global _recorder
    _recorder = Recorder(table_vars(_template()))
    _recorder.install()


def node_down(node: Any) -> None:
    """xdist controller: a worker's uses."""
    output = getattr(node, "workeroutput", {}).get("iam_usage")
    if _recorder is not None and output:
        _recorder.load(output)


def session_finish(session: Any) -> None:
    if _recorder is None:
        return
    config = session.config
    if hasattr(config, "workeroutput"):  # an xdist worker: hand over to the controller
        config.workeroutput["iam_usage"] = _recorder.dump()
        return
    gaps = missing(_template(), _recorder.uses)
    if not gaps:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    title = "IAM: actions the functions performed that template.yaml does not grant them (tests/iam_usage.py)"
    lines = [f"{u.function}: {u.action} on {u.table}{f' index {u.index}' if u.index else ''}" for u in gaps]
    if reporter is not None:
        reporter.write_sep("=", title, red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join([title, *lines]), file=sys.stderr)
    session.exitstatus = 1
