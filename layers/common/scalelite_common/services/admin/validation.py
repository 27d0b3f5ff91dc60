"""Validation of the server fields the admin commands accept: each refusal is an `AdminError`."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from scalelite_common.errors import AdminError

SERVER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
LOAD_MULTIPLIER_ERROR = "Load-multiplier must be a non-zero number"


def validate_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise AdminError("Server needs a URL and a secret")
    text: str = url.strip()
    if not text.lower().startswith(("http://", "https://")):
        raise AdminError("Server URL must start with http:// or https://")
    try:
        host = urlsplit(text).hostname
    except ValueError:
        host = None
    if not host:
        raise AdminError(f"Server URL has no host name: {text}")
    return text


def validate_secret(secret: Any) -> str:
    if not isinstance(secret, str) or not secret.strip():
        raise AdminError("Server needs a URL and a secret")
    return secret.strip()


def validate_multiplier(value: Any) -> float:
    """A positive number (`0`, text and negatives are refused: Scalelite silently turned them into 1.0)."""
    if isinstance(value, bool):
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} (got {value!r})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} (got {value!r})") from None
    if not math.isfinite(number) or number == 0:
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} (got {value!r})")
    if number < 0:
        raise AdminError(f"{LOAD_MULTIPLIER_ERROR} greater than 0 (got {value!r})")
    return number


def validate_tag(value: Any) -> str | None:
    """`""` (or None) means untagged. `;` and a trailing `!` are request syntax (tag lists, required tags)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise AdminError(f"Tag must be text (got {value!r})")
    tag = value.strip()
    if ";" in tag or tag.endswith("!"):
        raise AdminError(f"Tag must not contain ';' or end with '!' (got {tag!r})")
    return tag or None


def validate_id(value: Any) -> str:
    if not isinstance(value, str) or not SERVER_ID.match(value):
        raise AdminError(f"Server id={value} contains invalid characters (allowed: letters, digits, _ . -)")
    return value
