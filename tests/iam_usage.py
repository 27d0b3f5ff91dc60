"""Every AWS action a function performs in the tests is one its role in template.yaml grants.

moto enforces no IAM, so a grant missing from a function's policy (ConditionCheckItem inside a transaction is the
easy one to forget) passes every test here and fails every such request in AWS. This plugin records, for each
request made on behalf of a function (its handler package, `scalelite_api` …, is on the calling stack, or the
thread was started from such a stack, as the poller's workers are), the IAM actions and resources it needs:

* DynamoDB: a transaction needs each of its items' actions (ConditionCheckItem, PutItem, UpdateItem, DeleteItem),
  a Query on an index that index's ARN;
* S3: the object (or, to list, the bucket) of each request, a copy's source and target, and a presigned PUT's
  object (the URL is signed with the function's role);
* SQS and Secrets Manager: the queue and the secret.

Names are mapped back to the template's resources through the functions' environment (SPOOL_BUCKET →
SpoolBucket …); a name that maps to none is not checked. At the end of the session (with pytest-xdist, on the
controller, from every worker) any action the template does not grant fails the run with a list of what is
missing. `IAM_USAGE_REPORT=path.json` writes every use seen there.

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
# Resource kinds: the template's resource types, and the prefix of a recorded resource.
KINDS = {
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::S3::Bucket": "s3",
    "AWS::SQS::Queue": "sqs",
    "AWS::SecretsManager::Secret": "secretsmanager",
}
# SAM's policy templates in use, as the actions they grant on their one resource.
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
SECRET_READ = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
_TRANSACT_WRITE = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
}
_S3_OBJECT = {  # operation → the action on the object it names
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}
_S3_BUCKET = {"ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket"}
_SQS = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
_ARN = re.compile(r"^\$\{(\w+)\.Arn\}(/.*)?$")
_S3_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:s3:::([^/]+)(/.*)?$")


@dataclass(frozen=True, order=True)
class Use:
    function: str  # logical id
    action: str  # dynamodb:PutItem …
    resource: str  # kind:Logical[/rest]: dynamodb:MeetingsTable/index/server-index, s3:SpoolBucket/uploads/a.tar


# ------------------------------------------------------------------------------------------------ recording
Need = tuple[str, str, str]  # (action, kind, name[/rest]) before the name is mapped to a logical id


def needed(service: str, operation: str, params: Mapping[str, Any]) -> list[Need]:
    """What one request needs: (IAM action, kind, name or name/rest) per permission."""
    if service == "dynamodb":
        return _dynamodb(operation, params)
    if service == "s3":
        return _s3(operation, params)
    if service == "sqs" and operation in _SQS and "QueueUrl" in params:
        return [(_SQS[operation], "sqs", params["QueueUrl"])]
    if service == "secretsmanager" and "SecretId" in params:
        return [(f"secretsmanager:{operation}", "secretsmanager", params["SecretId"])]
    return []


def _dynamodb(operation: str, params: Mapping[str, Any]) -> list[Need]:
    if operation == "TransactWriteItems":
        return [
            (_TRANSACT_WRITE[kind], "dynamodb", body["TableName"])
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
            if kind in _TRANSACT_WRITE
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", "dynamodb", item["Get"]["TableName"]) for item in params.get("TransactItems", [])]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", "dynamodb", table) for table in params.get("RequestItems", {})]
    if "TableName" in params:
        index = params.get("IndexName")
        return [(f"dynamodb:{operation}", "dynamodb", params["TableName"] + (f"/index/{index}" if index else ""))]
    return []


def _s3(operation: str, params: Mapping[str, Any]) -> list[Need]:
    bucket = params.get("Bucket")
    if not isinstance(bucket, str):
        return []
    if operation in _S3_BUCKET:
        return [(_S3_BUCKET[operation], "s3", bucket)]
    if operation == "DeleteObjects":
        return [("s3:DeleteObject", "s3", f"{bucket}/{o['Key']}") for o in params.get("Delete", {}).get("Objects", [])]
    if operation not in _S3_OBJECT or "Key" not in params:
        return []
    out = [(_S3_OBJECT[operation], "s3", f"{bucket}/{params['Key']}")]
    source = params.get("CopySource")
    if isinstance(source, Mapping):
        out.append(("s3:GetObject", "s3", f"{source['Bucket']}/{source['Key']}"))
    elif isinstance(source, str):
        out.append(("s3:GetObject", "s3", source.lstrip("/").split("?")[0]))
    return out


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
    def __init__(self, names: Mapping[str, tuple[str, str]], logical: Mapping[str, str]) -> None:
        self._names = names  # env var → (kind, logical id) of the resource it names (SPOOL_BUCKET → s3, SpoolBucket)
        self._logical = logical  # logical id → kind, for names that are logical ids (Settings' table defaults)
        self._lock = threading.Lock()
        self.uses: set[Use] = set()

    def resource(self, kind: str, name: str) -> str | None:
        """`kind:Logical[/rest]` for a name as sent (a table, a bucket/key, a queue URL, a secret ARN), or None."""
        head, sep, rest = name.partition("/") if kind in ("dynamodb", "s3") else (name, "", "")
        logical = head if self._logical.get(head) == kind else None
        for var, (var_kind, target) in self._names.items():
            if logical is None and var_kind == kind and os.environ.get(var) == head:
                logical = target
        return f"{kind}:{logical}{sep}{rest}" if logical else None

    def record(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        needs = needed(service, operation, params)
        function = acting_function() if needs else None
        if function is None:
            return
        for action, kind, name in needs:
            resource = self.resource(kind, name)
            if resource is not None:
                with self._lock:
                    self.uses.add(Use(function, action, resource))

    def install(self) -> None:
        """Wrap botocore's request entry point, S3 presigning (a presigned PUT acts with the signer's role) and
        Thread.start (the started thread acts for its starter)."""
        from botocore import signers
        from botocore.client import BaseClient

        recorder = self
        client_class: Any = BaseClient  # _make_api_call is private: not in the stubs
        thread_class: Any = threading.Thread
        original_call = client_class._make_api_call
        signers_module: Any = signers
        original_presign = signers_module.generate_presigned_url
        original_start = thread_class.start

        def _make_api_call(client: Any, operation: str, params: Any) -> Any:
            recorder.record(client.meta.service_model.service_name, operation, params)
            return original_call(client, operation, params)

        def generate_presigned_url(client: Any, ClientMethod: str, Params: Any = None, **kw: Any) -> Any:
            operation = client.meta.method_to_api_mapping.get(ClientMethod, ClientMethod)
            recorder.record(client.meta.service_model.service_name, operation, Params or {})
            return original_presign(client, ClientMethod, Params, **kw)

        def start(thread: threading.Thread) -> None:
            thread._acting_function = acting_function()  # type: ignore[attr-defined]
            original_start(thread)

        client_class._make_api_call = _make_api_call
        # botocore gives each client class made from now on the module's function (signers.add_generate_presigned_url).
        signers_module.generate_presigned_url = generate_presigned_url
        thread_class.start = start

    def dump(self) -> str:
        return json.dumps([[u.function, u.action, u.resource] for u in sorted(self.uses)])

    def load(self, text: str) -> None:
        with self._lock:
            self.uses |= {Use(f, a, r) for f, a, r in json.loads(text)}


# ------------------------------------------------------------------------------------------------ the template
def _template() -> dict[str, Any]:
    import yaml

    from scalelite_local.template import CfnLoader

    with open(ROOT / "template.yaml", encoding="utf-8") as stream:
        return dict(yaml.load(stream, Loader=CfnLoader))  # noqa: S506 - our own template, CloudFormation tags only


def logical_kinds(template: Mapping[str, Any]) -> dict[str, str]:
    """Logical id → kind, for the resources whose access is checked."""
    return {k: KINDS[v["Type"]] for k, v in template["Resources"].items() if v.get("Type") in KINDS}


def _literal_names(template: Mapping[str, Any]) -> dict[str, str]:
    """A resource's literal name, as written (BucketName: !Sub "…-spool-…") → its logical id."""
    names = {}
    for logical, resource in template["Resources"].items():
        name = resource.get("Properties", {}).get("BucketName")
        if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
            names[name["Fn::Sub"]] = logical
    return names


def env_names(template: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """The env vars that name a checked resource, as the functions' environments set them (SERVERS_TABLE →
    (dynamodb, ServersTable); SPOOL_BUCKET, a literal name, → (s3, SpoolBucket))."""
    kinds = logical_kinds(template)
    literal = _literal_names(template)
    found: dict[str, tuple[str, str]] = {}
    for resource in template["Resources"].values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        for var, value in variables.items():
            if not isinstance(value, dict):
                continue
            target = value.get("Ref") or literal.get(str(value.get("Fn::Sub")))
            if target in kinds:
                found[var] = (kinds[target], target)
    return found


def _statements(policies: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Inline statements, both branches of an Fn::If (a grant that some configuration has), SAM's templates."""
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
        elif "AWSSecretsManagerGetSecretValuePolicy" in policy:
            secret = policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
            yield {"Effect": "Allow", "Action": list(SECRET_READ), "Resource": secret}


def _pattern(node: Any, kinds: Mapping[str, str], literal: Mapping[str, str]) -> str | None:
    """A statement's resource as a glob over recorded resources (`s3:SpoolBucket/uploads/*`), or None."""
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        parts = target.split(".") if isinstance(target, str) else list(target)
        return f"{kinds[parts[0]]}:{parts[0]}" if parts[1:] == ["Arn"] and parts[0] in kinds else None
    if isinstance(node, dict) and node.get("Ref") in kinds:
        return f"{kinds[node['Ref']]}:{node['Ref']}"  # a secret's Ref is its ARN
    if isinstance(node, dict) and isinstance(node.get("Fn::Sub"), str):
        text = node["Fn::Sub"]
        if match := _ARN.match(text):
            logical, rest = match.group(1), match.group(2) or ""
            return f"{kinds[logical]}:{logical}{rest}" if logical in kinds else None
        if (match := _S3_ARN.match(text)) and match.group(1) in literal:
            return f"s3:{literal[match.group(1)]}{match.group(2) or ''}"
    return None


def grants(template: Mapping[str, Any], function: str) -> list[tuple[list[str], list[str]]]:
    """The function's Allow statements as (action patterns, resource patterns)."""
    kinds, literal = logical_kinds(template), _literal_names(template)
    policies = template["Resources"][function]["Properties"].get("Policies", [])
    out = []
    for statement in _statements(policies):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        patterns = [p for p in (_pattern(r, kinds, literal) for r in resources) if p is not None]
        out.append(([str(a) for a in actions], patterns))
    return out


def granted(template: Mapping[str, Any], use: Use) -> bool:
    for actions, resources in grants(template, use.function):
        if any(fnmatch.fnmatchcase(use.action, a) for a in actions) and any(
            fnmatch.fnmatchcase(use.resource, r) for r in resources
        ):
            return True
    return False


def missing(template: Mapping[str, Any], uses: Iterable[Use]) -> list[Use]:
    return sorted(use for use in uses if not granted(template, use))


# ------------------------------------------------------------------------------------------------ pytest hooks
_recorder: Recorder | None = None
MAX_REPORTED = 60


def configure(config: Any) -> None:
    global _recorder
    template = _template()
    _recorder = Recorder(env_names(template), logical_kinds(template))
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
    report = os.environ.get("IAM_USAGE_REPORT")
    if report:  # every use seen, for a look at what the check covers
        Path(report).write_text(json.dumps(json.loads(_recorder.dump()), indent=1), encoding="utf-8")
    gaps = missing(_template(), _recorder.uses)
    if not gaps:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    title = "IAM: actions the functions performed that template.yaml does not grant them (tests/iam_usage.py)"
    lines = [f"{u.function}: {u.action} on {u.resource}" for u in gaps[:MAX_REPORTED]]
    lines += [f"… and {len(gaps) - MAX_REPORTED} more"] if len(gaps) > MAX_REPORTED else []
    if reporter is not None:
        reporter.write_sep("=", title, red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join([title, *lines]), file=sys.stderr)
    session.exitstatus = 1
