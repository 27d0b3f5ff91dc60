"""Cold start: the API's app is built at import and reused; init-time priming is static outside Lambda (botocore's
parsed data shared by every session, models on one connection) and never fatal inside it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from mangum import Mangum

from scalelite_common import lifecycle
from scalelite_common.aws import sdk
from tests.conftest import FakeLambdaContext
from tests.helpers import http_event


def test_the_api_app_is_built_at_import_and_a_request_builds_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import scalelite_api.app
    from scalelite_api import handler as module

    assert isinstance(module._mangum, Mangum)
    built = module._mangum

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a request built the app or its adapter")

    monkeypatch.setattr(scalelite_api.app, "create_app", refuse)
    monkeypatch.setattr(Mangum, "__init__", refuse)
    reply = module.handler(http_event("GET", "/no/such/path"), FakeLambdaContext())

    assert reply["statusCode"] == 200
    assert "<messageKey>unsupportedRequest</messageKey>" in reply["body"]
    assert module.asgi_handler() is built


class _RecordingEnviron(dict[str, str]):
    """os.environ that remembers which variables were read."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


@pytest.fixture
def fresh_sdk_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[Any, Any]]:
    """An empty shared cache, so `preload` really parses; botocore's own loader factory restored afterwards."""
    cache: dict[Any, Any] = {}
    monkeypatch.setattr(sdk, "_cache", cache)
    monkeypatch.setattr(botocore.session, "create_loader", botocore.session.create_loader)
    yield cache


def test_preload_reads_no_environment_and_shares_parsed_models(
    monkeypatch: pytest.MonkeyPatch, fresh_sdk_cache: dict[Any, Any]
) -> None:
    environ = _RecordingEnviron(dict(os.environ))
    monkeypatch.setattr(os, "environ", environ)
    sdk.preload("dynamodb")
    assert environ.read == set()
    assert sdk.shared_entries() > 0

    monkeypatch.setattr(os, "environ", dict(environ))
    first = botocore.session.Session().get_component("data_loader")
    second = botocore.session.Session().get_component("data_loader")
    assert isinstance(first, sdk.SharedCacheLoader)
    assert first is not second  # each session keeps its own search paths (boto3 appends to them)
    parsed = first.load_service_model("dynamodb", "service-2")
    assert second.load_service_model("dynamodb", "service-2") is parsed


def test_a_custom_data_path_keeps_botocores_own_loader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, fresh_sdk_cache: dict[Any, Any]
) -> None:
    sdk.preload()
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    loader = botocore.session.Session().get_component("data_loader")
    assert not isinstance(loader, sdk.SharedCacheLoader)
    assert str(tmp_path) in loader.search_paths


def test_the_models_share_the_stores_connection() -> None:
    from pynamodb.connection import Connection

    from scalelite_common.db import models

    def bind() -> None:
        models.bind(
            servers_table="S",
            meetings_table="M",
            voice_bridges_table="V",
            callbacks_table="C",
            recordings_table="R",
            uploads_table="U",
            tenants_table="T",
            region="us-east-1",
            host=None,
        )

    bind()
    shared = Connection(region="us-east-1")
    models.share_connection(shared)
    on_shared = {m for m in models.ALL_MODELS if m._get_connection().connection is shared}
    assert {models.ServerItem, models.MeetingItem, models.VoiceBridgeItem, models.CallbackItem} <= on_shared
    assert {models.UploadItem, models.TenantItem, models.RecordingItem} <= on_shared
    # Two models on one table with different schemas: the second keeps a connection of its own, with its schema.
    counts = models.RecordingCountsItem._get_connection()
    same_schema = shared.get_meta_table("R").data == counts.connection.get_meta_table("R").data
    assert (models.RecordingCountsItem in on_shared) == same_schema
    bind()  # the next test starts from unshared models


def test_priming_clients_never_fails_the_init(monkeypatch: pytest.MonkeyPatch) -> None:
    from scalelite_common import config
    from scalelite_common.observability import logger

    def broken() -> Any:
        raise config.ConfigError("LOADBALANCER_CHECKSUM_ALGORITHM has unknown algorithms: MD5")

    warnings: list[dict[str, Any]] = []
    monkeypatch.setattr(config, "get_settings", broken)
    monkeypatch.setattr(sdk, "prime_default_session", lambda: None)
    monkeypatch.setattr(logger, "warning", lambda message, **extra: warnings.append(extra))
    lifecycle.prime_clients()  # logged, not raised: the first request reports the error itself
    assert warnings == [{"error": "ConfigError"}]


def test_in_lambda_follows_the_runtimes_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    assert lifecycle.in_lambda() is False
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "ApiFunction")
    assert lifecycle.in_lambda() is True


def test_restore_hooks_refresh_then_prime(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    registered: list[Any] = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    assert lifecycle.register_restore_hooks(prime=True) is True
    assert registered == [lifecycle.refresh_after_restore, lifecycle.prime_clients]


def test_a_restore_forgets_boto3s_default_session() -> None:
    import boto3

    boto3.setup_default_session()
    lifecycle.refresh_after_restore()
    assert boto3.DEFAULT_SESSION is None
