"""PlaybackService over the fakes: tokens, their single use, the cookie's bytes and lifetime."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time

import jwt
import pytest

from scalelite_common.config import ConfigError, Settings, playback_cookie_key
from scalelite_common.domain.entities import PlaybackFormat, Recording, RecordingState
from scalelite_common.services import context
from scalelite_common.services.context import RequestContext
from scalelite_common.services.playback import (
    PlaybackRefused,
    PlaybackService,
    cookie_signature,
    cookie_value,
    verify_cookie,
)
from tests.fakes.store import InMemoryStore

KEY = "test-playback-cookie-key-0123456789abcdef"
RID = "0123456789abcdef0123456789abcdef01234567-1700000000000"
NOW = 1_800_000_000.0


@pytest.fixture
def pb_settings() -> Settings:
    return Settings.from_env(
        {"LOADBALANCER_SECRET": "lb-secret", "PROTECTED_RECORDINGS_ENABLED": "true", "PLAYBACK_COOKIE_SECRET": KEY}
    )


@pytest.fixture
def pb_ctx(pb_settings: Settings) -> RequestContext:
    return context.resolve(pb_settings, "lb.example.com")


@pytest.fixture
def playback(store: InMemoryStore, pb_settings: Settings) -> PlaybackService:
    return PlaybackService(store, pb_settings, lambda: playback_cookie_key(pb_settings))


def add(store: InMemoryStore, *, protected: bool = True, published: bool = True, minutes: int = 1) -> Recording:
    recording = Recording(
        record_id=RID,
        tenant_id="default",
        meeting_id="m",
        state=RecordingState.PUBLISHED if published else RecordingState.UNPUBLISHED,
        published=published,
        protected=protected,
        start_time=1_700_000_000_000,
        end_time=1_700_000_000_000 + minutes * 60_000,
        formats={
            "presentation": PlaybackFormat("presentation", f"/playback/presentation/2.3/{RID}", minutes),
            "video": PlaybackFormat("video", f"/playback/video/{RID}/", minutes),
        },
    )
    return store.save_recording(recording, previous=None)


def token_of(url: str) -> str:
    return url.split("?token=", 1)[1]


def test_the_cookie_signature_is_hmac_sha256_hex_of_path_and_exp() -> None:
    """The bytes recording.js checks: a fixed key, exp and ids, against an HMAC computed here (and by openssl:
    `printf '%s' '/presentation/<RID>:1800000000' | openssl dgst -sha256 -hmac "$KEY"`)."""
    exp = 1_800_000_000
    expected = hmac.new(KEY.encode(), f"/presentation/{RID}:{exp}".encode(), hashlib.sha256).hexdigest()
    assert cookie_signature(KEY.encode(), "presentation", RID, exp) == expected
    assert expected == "f35825ca3f5be2e9ea53c3bfc029ecbad0b1dd1b4bd97cc22aa2a5a048b27c34"
    assert cookie_value(KEY.encode(), "presentation", RID, exp) == f"{exp}.{expected}"


def test_verify_cookie_checks_signature_scope_and_expiry() -> None:
    key = KEY.encode()
    value = cookie_value(key, "presentation", RID, int(NOW) + 60)
    assert verify_cookie(key, "presentation", RID, value, now=NOW)
    assert not verify_cookie(key, "presentation", RID, value, now=NOW + 60)  # exp must be > now
    assert not verify_cookie(key, "video", RID, value, now=NOW)  # another format
    assert not verify_cookie(key, "presentation", RID[:-1] + "1", value, now=NOW)  # another recording
    assert not verify_cookie(b"another-key-0123456789abcdef012345", "presentation", RID, value, now=NOW)
    exp, sig = value.split(".")
    assert not verify_cookie(key, "presentation", RID, f"{int(exp) + 1}.{sig}", now=NOW)  # exp is signed
    assert not verify_cookie(key, "presentation", RID, "junk", now=NOW)


def test_a_token_opens_once_and_sets_the_cookie(
    playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext
) -> None:
    recording = add(store)
    url = playback.token_url(pb_ctx, recording, "presentation")
    assert url.startswith(f"https://lb.example.com/recording/{RID}/presentation?token=")
    claims = jwt.decode(token_of(url), KEY, algorithms=["HS256"])
    assert claims["sub"] == f"/presentation/{RID}" and claims["tid"] == "default"
    assert claims["exp"] - claims["iat"] == 3600 and len(claims["jti"]) == 32

    grant = playback.open(pb_ctx, RID, "presentation", token_of(url))
    assert grant.path == f"/playback/presentation/2.3/{RID}"
    assert grant.cookie is not None
    assert grant.cookie.name == f"recording_presentation_{RID}" and grant.cookie.path == f"/presentation/{RID}"
    assert verify_cookie(KEY.encode(), "presentation", RID, grant.cookie.value)
    assert not verify_cookie(KEY.encode(), "video", RID, grant.cookie.value)
    assert 6 * 3600 - 2 <= grant.cookie.max_age <= 6 * 3600 + 1  # PROTECTED_RECORDINGS_TIMEOUT: 360 minutes
    assert grant.cookie.header() == (
        f"recording_presentation_{RID}={grant.cookie.value}; Path=/presentation/{RID}; "
        f"Max-Age={grant.cookie.max_age}; Secure; HttpOnly; SameSite=None"
    )
    with pytest.raises(PlaybackRefused, match="used before"):
        playback.open(pb_ctx, RID, "presentation", token_of(url))


def test_tokens_differ_per_call(playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext) -> None:
    recording = add(store)
    first, second = (playback.token_url(pb_ctx, recording, "presentation") for _ in range(2))
    assert first != second
    playback.open(pb_ctx, RID, "presentation", token_of(first))
    playback.open(pb_ctx, RID, "presentation", token_of(second))


def test_refusals(playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext) -> None:
    recording = add(store)
    token = token_of(playback.token_url(pb_ctx, recording, "presentation"))
    other_tenant = dataclasses.replace(pb_ctx, tenant_id="other")
    cases = {
        "another format": (pb_ctx, RID, "video", token),
        "unknown recording": (pb_ctx, RID[:-1] + "9", "presentation", token),
        "another tenant": (other_tenant, RID, "presentation", token),
        "no token": (pb_ctx, RID, "presentation", None),
        "junk token": (pb_ctx, RID, "presentation", "abc"),
        "forged token": (
            pb_ctx,
            RID,
            "presentation",
            jwt.encode(
                {"sub": f"/presentation/{RID}", "tid": "default", "jti": "0" * 32, "iat": 1, "exp": int(NOW) * 2},
                "not-the-key-0123456789abcdef0123456789",
                algorithm="HS256",
            ),
        ),
        "malformed format": (pb_ctx, RID, "Presentation!", token),
        "format it does not have": (pb_ctx, RID, "podcast", token),
    }
    for name, (ctx, record_id, fmt, tok) in cases.items():
        with pytest.raises(PlaybackRefused):
            playback.open(ctx, record_id, fmt, tok)
            pytest.fail(name)
    playback.open(pb_ctx, RID, "presentation", token)  # none of the refusals spent it


def test_only_recording_playback_formats_play(store: InMemoryStore, pb_settings: Settings) -> None:
    narrow = dataclasses.replace(pb_settings, recording_playback_formats=("presentation",))
    service = PlaybackService(store, narrow, lambda: KEY.encode())
    add(store, protected=False)
    assert service.open(context.resolve(narrow), RID, "presentation", None).path.startswith("/playback/")
    with pytest.raises(PlaybackRefused, match="RECORDING_PLAYBACK_FORMATS"):
        service.open(context.resolve(narrow), RID, "video", None)


def test_another_tenants_token_is_refused(
    playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext
) -> None:
    recording = add(store)
    other = dataclasses.replace(pb_ctx, tenant_id="other")
    token = token_of(playback.token_url(other, recording, "presentation"))  # tid=other
    with pytest.raises(PlaybackRefused, match="another tenant"):
        playback.open(pb_ctx, RID, "presentation", token)


def test_an_expired_token_is_refused(playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext) -> None:
    add(store)
    token = playback.token("default", RID, "presentation", now=NOW - 3601)
    with pytest.raises(PlaybackRefused, match="expired"):
        playback.open(pb_ctx, RID, "presentation", token, now=NOW)
    fresh = playback.token("default", RID, "presentation", now=NOW - 3599)
    assert playback.open(pb_ctx, RID, "presentation", fresh, now=NOW).cookie is not None


def test_unpublished_is_refused_and_unprotected_needs_no_token(
    playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext
) -> None:
    recording = add(store, published=False)
    token = token_of(playback.token_url(pb_ctx, recording, "presentation"))
    with pytest.raises(PlaybackRefused, match="not published"):
        playback.open(pb_ctx, RID, "presentation", token)
    store.save_recording(
        dataclasses.replace(recording, published=True, state=RecordingState.PUBLISHED, protected=False),
        previous=recording,
    )
    grant = playback.open(pb_ctx, RID, "video", None)
    assert grant.cookie is None and grant.path == f"/playback/video/{RID}/"


def test_protection_means_nothing_while_disabled(store: InMemoryStore) -> None:
    settings = Settings.from_env({"PLAYBACK_COOKIE_SECRET": KEY})
    service = PlaybackService(store, settings, lambda: pytest.fail("no key needed"))
    add(store, protected=True)
    assert service.open(context.resolve(settings), RID, "presentation", None).cookie is None


def test_the_cookie_outlives_a_long_recording(
    playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext
) -> None:
    add(store, minutes=500)  # longer than PROTECTED_RECORDINGS_TIMEOUT (360)
    token = playback.token("default", RID, "presentation", now=NOW)
    grant = playback.open(pb_ctx, RID, "presentation", token, now=NOW)
    assert grant.cookie is not None and grant.cookie.max_age == 500 * 60


def test_fractional_timeouts(store: InMemoryStore) -> None:
    settings = Settings.from_env(
        {
            "PROTECTED_RECORDINGS_ENABLED": "true",
            "PLAYBACK_COOKIE_SECRET": KEY,
            "PROTECTED_RECORDINGS_TOKEN_TIMEOUT": "0.5",
            "PROTECTED_RECORDINGS_TIMEOUT": "2.5",
        }
    )
    service = PlaybackService(store, settings, lambda: KEY.encode())
    add(store, minutes=0)
    token = service.token("default", RID, "presentation", now=NOW)
    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims["exp"] - claims["iat"] == 30
    grant = service.open(context.resolve(settings), RID, "presentation", token, now=NOW)
    assert grant.cookie is not None and grant.cookie.max_age == 150
    assert verify_cookie(KEY.encode(), "presentation", RID, grant.cookie.value, now=NOW + 149)
    assert not verify_cookie(KEY.encode(), "presentation", RID, grant.cookie.value, now=NOW + 150)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROTECTED_RECORDINGS_TOKEN_TIMEOUT", "soon"),
        ("PROTECTED_RECORDINGS_TOKEN_TIMEOUT", "0"),
        ("PROTECTED_RECORDINGS_TIMEOUT", "-5"),
        ("PROTECTED_RECORDINGS_TIMEOUT", "nan"),
        ("RECORDING_PLAYBACK_FORMATS", "presentation:../x"),
    ],
)
def test_junk_settings_are_config_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_settings_defaults_and_the_key() -> None:
    s = Settings.from_env({"RECORDING_PLAYBACK_FORMATS": "presentation:video"})
    assert s.protected_recordings_token_timeout == 60 and s.protected_recordings_timeout == 360
    assert s.recording_playback_formats == ("presentation", "video")
    assert Settings.from_env({}).recording_playback_formats[0] == "presentation"
    with pytest.raises(ConfigError, match="PLAYBACK_COOKIE_SECRET"):
        playback_cookie_key(s)  # none configured
    with pytest.raises(ConfigError, match="PLAYBACK_COOKIE_SECRET"):
        playback_cookie_key(Settings.from_env({"PLAYBACK_COOKIE_SECRET": "short"}))
    assert playback_cookie_key(Settings.from_env({"PLAYBACK_COOKIE_SECRET": KEY})) == KEY.encode()


def test_the_key_from_secrets_manager_is_read_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from scalelite_common import config

    calls: list[str] = []

    def fetch(arn: str) -> str:
        calls.append(arn)
        return KEY

    monkeypatch.setattr(config, "_fetch_secret", fetch)
    s = Settings.from_env({"PLAYBACK_COOKIE_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:k"})
    assert calls == []  # not when settings are parsed
    assert playback_cookie_key(s) == KEY.encode() and calls == ["arn:aws:secretsmanager:us-east-1:1:secret:k"]


def test_now_defaults_to_the_clock(playback: PlaybackService, store: InMemoryStore, pb_ctx: RequestContext) -> None:
    add(store)
    grant = playback.open(pb_ctx, RID, "presentation", playback.token("default", RID, "presentation"))
    assert grant.cookie is not None
    assert int(grant.cookie.value.split(".")[0]) > time.time() + 6 * 3600 - 5
