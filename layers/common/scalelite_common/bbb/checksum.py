"""BBB checksums: pure functions, no I/O.

Inbound: the hash covers `callName + rawQueryWithoutChecksum + secret`, where the raw query is exactly what the
client sent (never decoded and re-encoded: `+` vs `%20` matter) and the checksum pair is cut out by string
surgery, as BBB and Scalelite do. Outbound: parameters are encoded once and that exact string is signed and sent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlencode

from scalelite_common.errors import ChecksumError

# BBB infers the algorithm from the hex length; Scalelite lacks SHA-384 but BBB accepts it, so we do too.
ALGORITHM_BY_LENGTH = {40: "SHA1", 64: "SHA256", 96: "SHA384", 128: "SHA512"}
_HASHES = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}
_CHECKSUM_VALUE = re.compile(r"(?:^|&)checksum=([^&]*)")


def digest(algorithm: str, data: str) -> str:
    return _HASHES[algorithm](data.encode("utf-8")).hexdigest()


def checksum_from_query(raw_query: str) -> str | None:
    match = _CHECKSUM_VALUE.search(raw_query)
    return match.group(1) if match else None


def strip_checksum(raw_query: str, checksum: str) -> str:
    """Remove the checksum pair the way BBB does: `&checksum=X`, then `checksum=X&`, then `checksum=X`."""
    for pattern in (f"&checksum={checksum}", f"checksum={checksum}&", f"checksum={checksum}"):
        if pattern in raw_query:
            return raw_query.replace(pattern, "", 1)
    return raw_query


def verify(
    call_name: str,
    raw_query: str,
    secrets: Sequence[str],
    allowed_algorithms: Iterable[str],
    *,
    checksum: str | None = None,
) -> None:
    """Raise ChecksumError unless the request is signed with one of `secrets`.

    `checksum` is the value found in the parameters (it may come from a form body); by default it is read from
    the raw query string.
    """
    given = checksum if checksum is not None else checksum_from_query(raw_query)
    if not given or not secrets:
        raise ChecksumError()
    algorithm = ALGORITHM_BY_LENGTH.get(len(given))
    if algorithm is None or algorithm not in set(allowed_algorithms):
        raise ChecksumError()
    query = strip_checksum(raw_query, given) if checksum_from_query(raw_query) == given else raw_query
    # Scalelite compares case-sensitively; BBB 2.5+ ignores case. Lowercase both: every client emits lowercase.
    given_bytes = given.lower().encode()
    matched = False
    for secret in secrets:
        expected = digest(algorithm, f"{call_name}{query}{secret}").encode()
        matched |= hmac.compare_digest(expected, given_bytes)  # no early exit: constant time over all secrets
    if not matched:
        raise ChecksumError()


def encode_params(params: Sequence[tuple[str, str]]) -> str:
    return urlencode(list(params))


def sign_query(call_name: str, params: Sequence[tuple[str, str]], secret: str, algorithm: str = "SHA256") -> str:
    """Encode `params` once, sign exactly that string, return `query&checksum=…`."""
    query = encode_params(params)
    checksum = digest(algorithm, f"{call_name}{query}{secret}")
    return f"{query}&checksum={checksum}" if query else f"checksum={checksum}"
