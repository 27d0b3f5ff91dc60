"""Read template.yaml (the one source of truth for tables, buckets, functions and their environment)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags into their long form (`!Ref X` → `{"Ref": "X"}`,
    `!Sub s` → `{"Fn::Sub": s}`, scalar `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`)."""


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


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str  # dotted path, e.g. scalelite_api.handler.handler
    timeout: int
    memory: int
    environment: Mapping[str, Any] = field(default_factory=dict)

    def load_handler(self) -> Callable[[Any, Any], Any]:
        module, _, name = self.handler.rpartition(".")
        fn: Callable[[Any, Any], Any] = getattr(importlib.import_module(module), name)
        return fn


@dataclass(frozen=True)
class Template:
    raw: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.raw.get("Resources", {})
        return resources

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties", {}) for k, v in self.resources.items() if v.get("Type") == kind}

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::DynamoDB::Table")

    @property
    def buckets(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::S3::Bucket")

    @property
    def functions(self) -> dict[str, Function]:
        defaults = self.raw.get("Globals", {}).get("Function", {})
        out = {}
        for logical_id, props in self.of_type("AWS::Serverless::Function").items():
            env = dict(defaults.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            out[logical_id] = Function(
                logical_id=logical_id,
                handler=props["Handler"],
                timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                memory=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                environment=env,
            )
        return out

    def parameter_default(self, name: str) -> str | None:
        param = self.raw.get("Parameters", {}).get(name)
        if param is None or "Default" not in param:
            return None
        return str(param["Default"])

    def local_bucket_name(self, logical_id: str) -> str:
        return logical_id.lower()

    def resolve(self, value: Any) -> str | None:
        """A function env value as the local stack sees it: tables by logical id, buckets by their local name,
        parameters by default. Anything else (secret ARNs, account-specific values) is not set locally."""
        if isinstance(value, str | int | float | bool):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            kind = self.resources.get(ref, {}).get("Type")
            if kind == "AWS::DynamoDB::Table":
                return str(ref)
            if kind == "AWS::S3::Bucket":
                return self.local_bucket_name(ref)
            if kind is None:
                return self.parameter_default(ref)
            return None
        if isinstance(value, dict) and "Fn::Sub" in value:
            # A bucket named literally (to avoid the S3-notification cycle) is referenced by the same !Sub.
            for logical_id, props in self.buckets.items():
                if props.get("BucketName") == value:
                    return self.local_bucket_name(logical_id)
        return None

    def environment(self, function: Function) -> dict[str, str]:
        out = {}
        for name, value in function.environment.items():
            resolved = self.resolve(value)
            if resolved is not None:
                out[name] = resolved
        return out
