"""Tenants (multitenancy): who a request belongs to, and the rules on their names and secrets. Pure rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from scalelite_common.config import DEFAULT_TENANT

# A tenant name is one DNS label in front of URL_HOST (`t1.lb.example.com` → `t1`): lowercase, so it is found
# whatever case the viewer typed the host in.
TENANT_NAME = re.compile(r"[a-z0-9-]{1,63}")
MAX_SECRETS = 16  # more has no use (rotation needs two) and makes every checksum check slower
MAX_SECRET_LENGTH = 512


class TenantValueError(ValueError):
    """A tenant name, secret list or limit that cannot be stored; the message says why."""


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    secrets: tuple[str, ...]  # any of them signs this tenant's BBB API requests
    max_meetings: int = 0  # concurrent meetings; 0 = unlimited
    max_attendees: int = 0  # concurrent attendees; 0 = unlimited


class SettingMode(StrEnum):
    DEFAULT = "default"  # the request's value wins
    OVERRIDE = "override"  # forced, whatever the request says
    CAP = "cap"  # a numeric maximum
    APPEND = "append"  # appended to the request's comma list


@dataclass(frozen=True)
class TenantSetting:
    id: str
    tenant_id: str
    param: str
    value: str
    mode: SettingMode = SettingMode.DEFAULT


def valid_name(name: str) -> str:
    """The name as stored (lowercase), or TenantValueError."""
    lowered = name.strip().lower()
    if not TENANT_NAME.fullmatch(lowered):
        raise TenantValueError(
            f"Invalid tenant name {name!r}: one DNS label of 1-63 characters a-z, 0-9 and '-' is required"
        )
    return lowered


def parse_secrets(text: str) -> tuple[str, ...]:
    """A colon-separated secret list (Scalelite's format): at least one, duplicates dropped, order kept."""
    parts = tuple(dict.fromkeys(p.strip() for p in text.split(":") if p.strip()))
    if not parts:
        raise TenantValueError("A tenant needs at least one secret (colon-separated list)")
    if len(parts) > MAX_SECRETS:
        raise TenantValueError(f"A tenant has at most {MAX_SECRETS} secrets")
    if any(len(p) > MAX_SECRET_LENGTH or not p.isprintable() or " " in p for p in parts):
        raise TenantValueError(f"Each secret is printable text without spaces, at most {MAX_SECRET_LENGTH} chars")
    return parts


def valid_limit(name: str, value: object) -> int:
    """A per-tenant limit: a whole number >= 0 (0 = unlimited)."""
    if isinstance(value, bool):
        raise TenantValueError(f"{name} must be a whole number >= 0")
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise TenantValueError(f"{name} must be a whole number >= 0")
        return int(value)
    if isinstance(value, int) and 0 <= value < 10**9:
        return value
    raise TenantValueError(f"{name} must be a whole number >= 0")


@dataclass(frozen=True)
class TenantUsage:
    """A tenant's live meetings and attendees, as its limits count them (one read of the tenant's mappings)."""

    meetings: int = 0  # live mappings, not counting the meetingID asked about
    attendees: int = 0  # users as last polled plus joins since, over all its live meetings


def host_name(host: str | None) -> str:
    """The host part of a Host header value, lowercase, without port or a trailing dot ("" for none)."""
    text = (host or "").strip().lower()
    if text.startswith("["):  # an IPv6 literal: never under URL_HOST
        return text.split("]", 1)[0] + "]"
    return text.rsplit(":", 1)[0].rstrip(".") if ":" in text else text.rstrip(".")


def tenant_label(host: str | None, url_host: str) -> str | None:
    """The tenant name a viewer host names: the single DNS label in front of URL_HOST (`t1.lb.example.com` with
    URL_HOST `lb.example.com` → `t1`). None for the bare URL_HOST, a host not under it (an IP, another domain), more
    than one label in front, or an empty host."""
    base = host_name(url_host)
    name = host_name(host)
    if not base or not name.endswith("." + base):
        return None
    label = name[: -len(base) - 1]
    return label if TENANT_NAME.fullmatch(label) else None


def meeting_id_claim(tenant_id: str, meeting_id: str) -> str | None:
    """The key of the claim that keeps a tenant's meetingID unique across tenants (they share one namespace, as in
    Scalelite, so one BBB server never holds two tenants' meetings under one id). Claims live beside the voice
    bridge claims (a voice bridge is digits, never `id#…`). None for the default tenant: without multitenancy the
    mapping's own key is the whole namespace (its create checks that no tenant's claim holds the id,
    `meeting_id_claim_key`, and a tenant's create that no live default mapping has it)."""
    return None if tenant_id == DEFAULT_TENANT else meeting_id_claim_key(meeting_id)


def meeting_id_claim_key(meeting_id: str) -> str:
    """The key of the claim on `meeting_id`, whichever tenant holds it."""
    return f"id#{meeting_id}"


# ------------------------------------------------------------------------------------------ tenant settings
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
MAX_SETTING_VALUE = 4096
MAX_CAP = 10**9


def valid_setting(param: str, value: str, mode: SettingMode) -> tuple[str, str]:
    """A setting's parameter name and value as stored, or TenantValueError. A cap is a whole number > 0."""
    param = param.strip()
    if not PARAM_NAME.fullmatch(param):
        raise TenantValueError(f"Invalid parameter name {param!r}")
    if len(value) > MAX_SETTING_VALUE or not value.isprintable():
        raise TenantValueError(f"A setting's value is printable text of at most {MAX_SETTING_VALUE} characters")
    if mode is SettingMode.CAP:
        text = value.strip()
        if not text.isascii() or not text.isdigit() or not 0 < int(text) <= MAX_CAP:
            raise TenantValueError(f"A cap is a whole number between 1 and {MAX_CAP}, got {value!r}")
        value = str(int(text))
    return param, value


@dataclass(frozen=True)
class ParamRules:
    """One tenant's settings as create and join apply them (the same list for both, as in Scalelite)."""

    defaults: dict[str, str]
    overrides: dict[str, str]
    caps: dict[str, int]
    appends: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, settings: tuple[TenantSetting, ...] | list[TenantSetting]) -> ParamRules:
        rules = cls({}, {}, {}, {})
        for s in sorted(settings, key=lambda x: x.id):  # a stable winner when a param is set twice
            if s.mode is SettingMode.DEFAULT:
                rules.defaults[s.param] = s.value
            elif s.mode is SettingMode.OVERRIDE:
                rules.overrides[s.param] = s.value
            elif s.mode is SettingMode.CAP and s.value.isdigit():
                rules.caps[s.param] = min(rules.caps.get(s.param, MAX_CAP), int(s.value))
            elif s.mode is SettingMode.APPEND:
                rules.appends[s.param] = rules.appends.get(s.param, ()) + _items(s.value)
        return rules

    def apply(self, params: dict[str, str]) -> None:
        """Caps and appends on the already shaped parameters (defaults and overrides are merged by the shaping).
        A cap also applies when the parameter is missing, `0` or junk: BBB reads 0 (and junk) as unlimited."""
        for name, cap in self.caps.items():
            text = params.get(name, "").strip()
            value = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0
            params[name] = str(cap if value <= 0 or value > cap else value)
        for name, extra in self.appends.items():
            merged = tuple(dict.fromkeys(_items(params.get(name, "")) + extra))  # the request's order first
            params[name] = ",".join(merged)


def _items(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
