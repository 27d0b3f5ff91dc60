"""LOADBALANCER_SECRET_ARN: the secret is read at init (fail fast) and re-read on use through the 5-minute cache,
so a rotation takes effect in a warm container without a redeploy; plain secrets stay as they were."""

from __future__ import annotations

import pytest

from scalelite_common import config
from scalelite_common.config import Settings
from scalelite_common.services.context import resolve

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lb-AbCdEf"


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A stand-in for Secrets Manager behind Powertools' cache (the cache itself is Powertools')."""
    values = {ARN: "first-secret"}
    monkeypatch.setattr(config, "_fetch_secret", lambda arn: values[arn])
    return values


def test_rotated_secret_is_accepted_without_a_new_settings(stored: dict[str, str]) -> None:
    settings = Settings.from_env({"LOADBALANCER_SECRET_ARN": ARN})
    assert settings.loadbalancer_secrets == ()  # the value is not frozen into the settings
    assert resolve(settings, "bbb.example.com").secrets == ("first-secret",)
    stored[ARN] = "rotated-secret"
    assert settings.accepted_secrets() == ("rotated-secret",)
    assert resolve(settings, "bbb.example.com").secrets == ("rotated-secret",)


def test_secret_is_read_at_init(stored: dict[str, str]) -> None:
    del stored[ARN]
    with pytest.raises(KeyError):
        Settings.from_env({"LOADBALANCER_SECRET_ARN": ARN})


def test_plain_secrets_win_and_never_touch_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(arn: str) -> str:
        raise AssertionError("Secrets Manager read although a plain secret is configured")

    monkeypatch.setattr(config, "_fetch_secret", fail)
    settings = Settings.from_env({"LOADBALANCER_SECRET": "plain", "LOADBALANCER_SECRET_ARN": ARN})
    assert settings.accepted_secrets() == ("plain",)
    assert Settings(loadbalancer_secrets=("a", "b")).accepted_secrets() == ("a", "b")
