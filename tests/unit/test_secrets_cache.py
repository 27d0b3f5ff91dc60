"""Secret rotation without a redeploy (moto Secrets Manager): a rotated LB secret is accepted once the 5-minute
cache expires, the previous one only within SECRET_ROTATION_GRACE; a failed refresh keeps the last values; a
SnapStart restore drops the cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scalelite_common import lifecycle, secrets
from scalelite_common.config import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.now


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        yield client
    secrets.cache().clear()


def test_rotated_secret_is_accepted_after_the_refresh_period(sm: Any) -> None:
    arn = sm.create_secret(Name="lb", SecretString="first-secret")["ARN"]
    clock = Clock()
    cache = secrets.SecretCache(clock=clock, client_factory=lambda: sm)
    assert cache.values(arn, grace=3600) == ("first-secret",)  # never rotated: no AWSPREVIOUS
    sm.put_secret_value(SecretId=arn, SecretString="second-secret")
    assert cache.values(arn, grace=3600) == ("first-secret",)  # cached for up to 5 minutes
    clock.now += secrets.REFRESH_SECONDS + 1
    assert cache.values(arn, grace=3600) == ("second-secret", "first-secret")  # previous within its grace
    assert cache.values(arn, grace=0) == ("second-secret",)
    clock.now += 3600
    assert cache.values(arn, grace=3600) == ("second-secret",)  # grace over: the old one is refused


def test_a_failed_refresh_keeps_the_last_values(sm: Any) -> None:
    arn = sm.create_secret(Name="lb", SecretString="first-secret")["ARN"]
    clock = Clock()
    cache = secrets.SecretCache(clock=clock, client_factory=lambda: sm)
    assert cache.current(arn) == "first-secret"
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    clock.now += secrets.REFRESH_SECONDS + 1
    assert cache.current(arn) == "first-secret"
    with pytest.raises(secrets.SecretUnavailable):
        secrets.SecretCache(client_factory=lambda: sm).current(arn)


def test_settings_accept_the_rotated_secret_without_a_restart(sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = sm.create_secret(Name="lb", SecretString="first-secret")["ARN"]
    clock = Clock()
    monkeypatch.setattr(secrets, "_cache", secrets.SecretCache(clock=clock, client_factory=lambda: sm))
    settings = Settings.from_env({"LOADBALANCER_SECRET_ARN": arn, "SECRET_ROTATION_GRACE": "60"})
    assert settings.secret_rotation_grace == 3600
    assert settings.accepted_secrets() == ("first-secret",)
    sm.put_secret_value(SecretId=arn, SecretString="second-secret")
    clock.now += secrets.REFRESH_SECONDS + 1
    assert settings.accepted_secrets() == ("second-secret", "first-secret")


def test_restore_hook_reseeds_and_drops_cached_state(sm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from scalelite_common.config import get_settings
    from scalelite_common.services import wiring

    arn = sm.create_secret(Name="lb", SecretString="first-secret")["ARN"]
    cache = secrets.SecretCache(client_factory=lambda: sm)
    monkeypatch.setattr(secrets, "_cache", cache)
    cache.current(arn)
    before = get_settings()
    container = wiring.container()
    random.seed(1)
    lifecycle.refresh_after_restore()
    assert random.random() != random.Random(1).random()
    sm.put_secret_value(SecretId=arn, SecretString="second-secret")
    assert cache.current(arn) == "second-secret"  # no 5-minute wait after a restore
    assert get_settings() is not before and wiring.container() is not container


def test_restore_hooks_register_only_where_the_runtime_has_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    assert lifecycle.register_restore_hooks() is False  # locally: no snapshot_restore_py
    registered: list[Any] = []
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    assert lifecycle.register_restore_hooks() is True
    assert registered == [lifecycle.refresh_after_restore]
