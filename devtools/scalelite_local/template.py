"""Read template.yaml, the one source of truth for the local stack: tables, buckets, queues, functions (handler,
timeout, memory, reserved concurrency, environment) and their event sources (schedules, S3 notifications, SQS)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "scalelite-local"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK_NAME,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}

Handler = Callable[[Any, Any], Any]


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags into their long form (`!Ref X` → `{"Ref": "X"}`,
    `!Sub s` → `{"Fn::Sub": s}`, scalar `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!If`, `!Equals`, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """`rate(5 minutes)` → 300.0; cron expressions (not emulated) → None."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return float(int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")])


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str  # dotted path, e.g. scalelite_api.handler.handler
    timeout: int
    memory: int
    reserved_concurrency: int | None = None
    environment: Mapping[str, Any] = field(default_factory=dict)
    events: Mapping[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.logical_id}"

    def load_handler(self) -> Handler:
        module, _, name = self.handler.rpartition(".")
        fn: Handler = getattr(importlib.import_module(module), name)
        return fn


@dataclass(frozen=True)
class ScheduleSource:
    """An `Events: {Type: Schedule}` entry; SAM names the EventBridge rule `<Function><EventId>`."""

    function: str
    rule: str
    expression: str


@dataclass(frozen=True)
class S3Source:
    """An `Events: {Type: S3}` entry: ObjectCreated events of `bucket` (logical id) go to `function`."""

    function: str
    bucket: str
    event_id: str
    prefix: str = ""
    suffix: str = ""

    def matches(self, key: str) -> bool:
        return key.startswith(self.prefix) and key.endswith(self.suffix)


@dataclass(frozen=True)
class SqsSource:
    """An `Events: {Type: SQS}` entry: Lambda's event source mapping polls `queue` (logical id) for `function`."""

    function: str
    queue: str
    event_id: str
    batch_size: int = 10
    report_failures: bool = False  # FunctionResponseTypes: [ReportBatchItemFailures]
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency


@dataclass(frozen=True)
class Template:
    raw: dict[str, Any]
    queue_urls: Mapping[str, str] = field(default_factory=dict)  # logical id → URL, once the queues exist (moto)

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.raw.get("Resources") or {}
        return resources

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties") or {} for k, v in self.resources.items() if v.get("Type") == kind}

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::DynamoDB::Table")

    @property
    def buckets(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::S3::Bucket")

    @property
    def queues(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::SQS::Queue")

    def queue_arn(self, logical_id: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}"

    @property
    def functions(self) -> dict[str, Function]:
        defaults = (self.raw.get("Globals") or {}).get("Function") or {}
        out = {}
        for logical_id, props in self.of_type("AWS::Serverless::Function").items():
            env = dict(((defaults.get("Environment") or {}).get("Variables")) or {})
            env.update(((props.get("Environment") or {}).get("Variables")) or {})
            reserved = props.get("ReservedConcurrentExecutions", defaults.get("ReservedConcurrentExecutions"))
            out[logical_id] = Function(
                logical_id=logical_id,
                handler=props["Handler"],
                timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                memory=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                reserved_concurrency=None if reserved is None else int(reserved),
                environment=env,
                events=props.get("Events") or {},
            )
        return out

    @property
    def schedules(self) -> list[ScheduleSource]:
        out = []
        for function in self.functions.values():
            for event_id, event in function.events.items():
                props = event.get("Properties") or {}
                if event.get("Type") != "Schedule" or str(props.get("State", "ENABLED")).upper() == "DISABLED":
                    continue
                if props.get("Enabled", True) in (False, "false"):
                    continue
                out.append(ScheduleSource(function.logical_id, function.logical_id + event_id, props["Schedule"]))
        return out

    @property
    def s3_sources(self) -> list[S3Source]:
        out = []
        for function in self.functions.values():
            for event_id, event in function.events.items():
                props = event.get("Properties") or {}
                bucket = props.get("Bucket")
                if event.get("Type") != "S3" or not isinstance(bucket, dict) or "Ref" not in bucket:
                    continue
                kinds = props.get("Events") or []
                kinds = [kinds] if isinstance(kinds, str) else kinds
                if not any(str(kind).startswith("s3:ObjectCreated:") for kind in kinds):
                    continue  # only creations are observed locally
                rules = {
                    str(rule.get("Name", "")).lower(): str(rule.get("Value", ""))
                    for rule in ((props.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
                }
                out.append(
                    S3Source(
                        function.logical_id,
                        str(bucket["Ref"]),
                        event_id,
                        prefix=rules.get("prefix", ""),
                        suffix=rules.get("suffix", ""),
                    )
                )
        return out

    @property
    def sqs_sources(self) -> list[SqsSource]:
        out = []
        for function in self.functions.values():
            for event_id, event in function.events.items():
                props = event.get("Properties") or {}
                queue = _getatt_target(props.get("Queue"), "Arn")
                if event.get("Type") != "SQS" or queue not in self.queues:
                    continue
                if props.get("Enabled", True) in (False, "false"):
                    continue
                concurrency = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
                out.append(
                    SqsSource(
                        function.logical_id,
                        queue,
                        event_id,
                        batch_size=int(props.get("BatchSize", 10)),
                        report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                        max_concurrency=None if concurrency is None else int(concurrency),
                    )
                )
        return out

    def parameter_default(self, name: str) -> str | None:
        param = (self.raw.get("Parameters") or {}).get(name)
        if param is None or "Default" not in param:
            return None
        return _scalar(param["Default"])

    def local_bucket_name(self, logical_id: str) -> str:
        return logical_id.lower()

    def resolve(self, value: Any) -> str | None:
        """A function env value as the local stack sees it: tables by logical id, buckets by their local name,
        parameters by default. Anything else (secret ARNs, attributes of resources that do not exist locally)
        resolves to None and is not set."""
        if isinstance(value, str | int | float | bool):
            return _scalar(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        if "Ref" in value:
            return self._ref(str(value["Ref"]))
        if "Fn::GetAtt" in value:
            return self._getatt(value["Fn::GetAtt"])
        if "Fn::Sub" in value:
            # A bucket named literally (to avoid the S3-notification cycle) is referenced by the same !Sub.
            for logical_id, props in self.buckets.items():
                if props.get("BucketName") == value:
                    return self.local_bucket_name(logical_id)
            if isinstance(value["Fn::Sub"], str):
                return self._sub(value["Fn::Sub"])
        return None

    def _ref(self, name: str) -> str | None:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        kind = (self.resources.get(name) or {}).get("Type")
        if kind == "AWS::DynamoDB::Table":
            return name
        if kind == "AWS::S3::Bucket":
            return self.local_bucket_name(name)
        if kind == "AWS::Serverless::Function":
            return name  # the local Lambda API knows each function by its logical id
        if kind == "AWS::SQS::Queue":
            return self.queue_urls.get(name)  # known once the queues exist
        if kind is None:
            return self.parameter_default(name)
        return None

    def _getatt(self, target: Any) -> str | None:
        """Queue attributes (Arn, QueueName, QueueUrl); nothing else has a local value."""
        if not isinstance(target, list) or len(target) != 2 or target[0] not in self.queues:
            return None
        name, attribute = str(target[0]), target[1]
        if attribute == "Arn":
            return self.queue_arn(name)
        if attribute == "QueueName":
            return name
        if attribute == "QueueUrl":
            return self.queue_urls.get(name)
        return None

    def _sub(self, text: str) -> str | None:
        unresolved = False

        def replace(match: re.Match[str]) -> str:
            nonlocal unresolved
            resolved = self._ref(match.group(1))
            unresolved = unresolved or resolved is None
            return resolved or ""

        # ${Name} and ${Resource.Attribute} (the latter never resolves locally: the whole value is then unknown).
        out = re.sub(r"\$\{([^}!][^}]*)\}", replace, text)
        return None if unresolved else out

    def outputs(self, known: dict[str, str] | None = None) -> dict[str, str]:
        """The stack outputs that mean something locally (function, table and bucket names), plus `known` ones
        the stack supplies itself (URLs); outputs naming resources that do not exist locally are left out."""
        out: dict[str, str] = {}
        for key, output in (self.raw.get("Outputs") or {}).items():
            resolved = self.resolve((output or {}).get("Value"))
            if resolved is not None:
                out[key] = resolved
        out.update(known or {})
        return out

    def environment(self, function: Function) -> dict[str, str]:
        out = {}
        for name, value in function.environment.items():
            resolved = self.resolve(value)
            if resolved is not None:
                out[name] = resolved
        return out


def _getatt_target(value: Any, attribute: str) -> str | None:
    """`X` of `!GetAtt X.<attribute>`, else None."""
    if isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list) and len(value["Fn::GetAtt"]) == 2:
        name, attr = value["Fn::GetAtt"]
        return str(name) if attr == attribute else None
    return None


def _scalar(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
