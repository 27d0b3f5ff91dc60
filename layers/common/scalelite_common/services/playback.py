"""Playback of protected recordings (Scalelite §5.5, docs/playback.md "Protected recordings").

getRecordings hands out, per format of a published protected recording, `/recording/<recordID>/<format>?token=…`:
an HS256 JWT (`sub` = `/<format>/<recordID>`, `tid` = tenant, `jti` = random, `exp` = now + the token timeout),
stateless when issued. Following it (`open`) checks the token, spends its `jti` once (a conditional write with a
DynamoDB TTL), and grants the cookie `recording_<format>_<recordID>` = `<exp>.<hex HMAC-SHA256(key,
"/<format>/<recordID>:<exp>")>`, which the CloudFront Function `cloudfront/functions/recording.js` checks on every
file request with the same key. The JWT and the cookie are signed with the same key (PLAYBACK_COOKIE_SECRET)."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from scalelite_common.bbb.metadata import RECORD_ID
from scalelite_common.config import Settings
from scalelite_common.domain.entities import Recording, RecordingState
from scalelite_common.domain.storage import is_protected
from scalelite_common.observability import logger
from scalelite_common.services.context import RequestContext
from scalelite_common.services.ports import Store

MAX_TOKEN = 2048  # a token of ours is ~300 characters
FORMAT = re.compile(r"[a-z][a-z0-9_-]{0,31}")
JTI = re.compile(r"[0-9a-f]{32}")
LEEWAY = 60  # seconds the spent jti outlives its token (clock skew between Lambdas)


class PlaybackRefused(Exception):
    """The playback URL does not open the recording; the message says why (for the log, never for the viewer: every
    refusal answers the same 404 page, so a refusal does not tell whether the recording exists)."""


def cookie_name(fmt: str, record_id: str) -> str:
    return f"recording_{fmt}_{record_id}"


def cookie_path(fmt: str, record_id: str) -> str:
    return f"/{fmt}/{record_id}"


def cookie_signature(key: bytes, fmt: str, record_id: str, exp: int) -> str:
    """Lowercase hex HMAC-SHA256 of `/<format>/<recordID>:<exp>`: the bytes recording.js signs too."""
    message = f"{cookie_path(fmt, record_id)}:{exp}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def cookie_value(key: bytes, fmt: str, record_id: str, exp: int) -> str:
    return f"{exp}.{cookie_signature(key, fmt, record_id, exp)}"


def verify_cookie(key: bytes, fmt: str, record_id: str, value: str, *, now: float | None = None) -> bool:
    """What recording.js checks: the signature matches and `exp` is in the future."""
    exp_text, _, sig = value.partition(".")
    if not exp_text.isdigit() or len(exp_text) > 12 or len(sig) != 64:
        return False
    exp = int(exp_text)
    if exp <= (time.time() if now is None else now):
        return False
    return hmac.compare_digest(sig, cookie_signature(key, fmt, record_id, exp))


@dataclass(frozen=True)
class PlaybackCookie:
    name: str
    value: str
    path: str
    max_age: int  # seconds

    def header(self) -> str:
        """The Set-Cookie value. SameSite=None: the player is often embedded in the LMS's page (Scalelite)."""
        return f"{self.name}={self.value}; Path={self.path}; Max-Age={self.max_age}; Secure; HttpOnly; SameSite=None"


@dataclass(frozen=True)
class PlaybackGrant:
    path: str  # the format's playback URL as stored at import (host-less; the caller puts it under its base URL)
    cookie: PlaybackCookie | None  # only for a protected recording


class PlaybackService:
    def __init__(self, store: Store, settings: Settings, key: Callable[[], bytes]) -> None:
        self.store = store
        self.settings = settings
        self._key = key  # read on first use (Secrets Manager in AWS)

    # --------------------------------------------------------------------- listing
    def token(self, tenant_id: str, record_id: str, fmt: str, *, now: float | None = None) -> str:
        moment = int(time.time() if now is None else now)
        claims = {
            "sub": cookie_path(fmt, record_id),
            "tid": tenant_id,
            "jti": secrets.token_hex(16),
            "iat": moment,
            "exp": moment + math.ceil(self.settings.protected_recordings_token_timeout * 60),
        }
        return jwt.encode(claims, self._key(), algorithm="HS256")

    def token_url(self, ctx: RequestContext, recording: Recording, fmt: str) -> str:
        """The one-time URL getRecordings lists for a protected recording's format."""
        token = self.token(ctx.tenant_id, recording.record_id, fmt)
        return f"{ctx.base_url}/recording/{recording.record_id}/{fmt}?token={token}"

    # ----------------------------------------------------------------- the token URL
    def open(
        self, ctx: RequestContext, record_id: str, fmt: str, token: str | None, *, now: float | None = None
    ) -> PlaybackGrant:
        """`GET /recording/<recordID>/<format>`: the recording must be published, of the request's tenant and have
        that format; a protected one needs a valid token, spent here. Raises PlaybackRefused."""
        moment = time.time() if now is None else now
        if not valid_path(record_id, fmt) or fmt not in self.settings.recording_playback_formats:
            raise PlaybackRefused("malformed recordID, or not a playback format (RECORDING_PLAYBACK_FORMATS)")
        recording = self.store.get_recording(record_id)
        if recording is None or recording.tenant_id != ctx.tenant_id:
            raise PlaybackRefused("no such recording for this tenant")
        if recording.state is not RecordingState.PUBLISHED or not recording.published:
            raise PlaybackRefused("the recording is not published")
        playback = recording.formats.get(fmt)
        if playback is None:
            raise PlaybackRefused(f"the recording has no {fmt} format")
        if not is_protected(recording, self.settings.protected_recordings_enabled):
            return PlaybackGrant(playback.url, None)
        key = self._key()
        self._spend(key, ctx.tenant_id, recording.record_id, fmt, token, moment)
        exp = math.ceil(moment + self._cookie_lifetime(recording))
        cookie = PlaybackCookie(
            name=cookie_name(fmt, recording.record_id),
            value=cookie_value(key, fmt, recording.record_id, exp),
            path=cookie_path(fmt, recording.record_id),
            max_age=exp - int(moment),
        )
        logger.info("protected playback opened", record_id=recording.record_id, format=fmt)
        return PlaybackGrant(playback.url, cookie)

    def _spend(self, key: bytes, tenant_id: str, record_id: str, fmt: str, token: str | None, now: float) -> None:
        if not token or len(token) > MAX_TOKEN:
            raise PlaybackRefused("no token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                # exp is checked below against `now` (one clock for the whole call)
                options={"require": ["sub", "tid", "jti", "iat", "exp"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise PlaybackRefused("the token is not ours") from None
        exp = claims["exp"]
        if not isinstance(exp, int | float) or exp <= now:
            raise PlaybackRefused("the token expired")
        if claims["sub"] != cookie_path(fmt, record_id):
            raise PlaybackRefused("the token is for another recording or format")
        if claims["tid"] != tenant_id:
            raise PlaybackRefused("the token is for another tenant")
        jti = claims["jti"]
        if not isinstance(jti, str) or not JTI.fullmatch(jti):
            raise PlaybackRefused("the token has no valid jti")
        # Last, with everything else valid: the one write that makes the token single use.
        if not self.store.claim_token(f"playback#{jti}", expires_at=math.ceil(exp) + LEEWAY):
            raise PlaybackRefused("the token was used before")

    def _cookie_lifetime(self, recording: Recording) -> float:
        """PROTECTED_RECORDINGS_TIMEOUT, and never shorter than the recording (it must play to its end)."""
        duration = max(0, recording.end_time - recording.start_time) / 1000
        longest = max((f.length for f in recording.formats.values()), default=0) * 60
        return max(self.settings.protected_recordings_timeout * 60, duration, longest)


def valid_path(record_id: str, fmt: str) -> bool:
    """The token route's path segments, checked before any lookup (the importer's recordID rule)."""
    return RECORD_ID.match(record_id) is not None and FORMAT.fullmatch(fmt) is not None
