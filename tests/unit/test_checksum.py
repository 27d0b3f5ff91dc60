"""Checksum vectors from bbb-api.md §1.3 and the raw-query rules (`+` vs `%20`, position of the checksum)."""

from __future__ import annotations

import pytest

from scalelite_common.bbb import checksum
from scalelite_common.errors import ChecksumError

SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
VECTORS = {
    "SHA1": "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17",
    "SHA256": "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e",
    "SHA384": "891ac633df39d0a1b4f8d597f3e190833216c4b29c4fb51ea3ca72757eeb958d6e7b49a845cf29f5c6019c7d29d029d1",
    "SHA512": "de73ad61d11a5c801b68d4bd6ec5248546085cefb0b25c85f3c46249ea93a3a4b120f92c0a8a58d7512cb77821884951"
    "a3b01245f3435dbbef49fff3cc3988b4",
}
ALL = ("SHA1", "SHA256", "SHA384", "SHA512")


@pytest.mark.parametrize("algorithm", list(VECTORS))
def test_documented_vectors(algorithm: str) -> None:
    assert checksum.digest(algorithm, f"create{QUERY}{SECRET}") == VECTORS[algorithm]
    checksum.verify("create", f"{QUERY}&checksum={VECTORS[algorithm]}", [SECRET], ALL)


def test_empty_query_vector() -> None:
    checksum.verify("getMeetings", "checksum=2027baa7771026e9e93392f55031535d1444c41f", [SECRET], ALL)


def test_plus_and_percent20_each_verify_as_sent_but_not_interchangeably() -> None:
    plus = "name=Test+Meeting&meetingID=abc"
    pct = "name=Test%20Meeting&meetingID=abc"
    sig_plus = checksum.digest("SHA1", f"create{plus}{SECRET}")
    sig_pct = checksum.digest("SHA1", f"create{pct}{SECRET}")
    checksum.verify("create", f"{plus}&checksum={sig_plus}", [SECRET], ALL)
    checksum.verify("create", f"{pct}&checksum={sig_pct}", [SECRET], ALL)
    with pytest.raises(ChecksumError):
        checksum.verify("create", f"{pct}&checksum={sig_plus}", [SECRET], ALL)


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_checksum_anywhere_in_the_query(position: str) -> None:
    sig = checksum.digest("SHA256", f"createa=1&b=2{SECRET}")
    raw = {"first": f"checksum={sig}&a=1&b=2", "middle": f"a=1&checksum={sig}&b=2", "last": f"a=1&b=2&checksum={sig}"}
    checksum.verify("create", raw[position], [SECRET], ALL)


def test_second_secret_matches_for_rotation() -> None:
    sig = checksum.digest("SHA1", f"getMeetings{SECRET}")
    checksum.verify("getMeetings", f"checksum={sig}", ["old-secret", SECRET], ALL)


@pytest.mark.parametrize(
    ("raw", "algorithms"),
    [
        ("", ALL),  # missing
        ("checksum=", ALL),  # blank
        ("checksum=abc", ALL),  # unknown length
        (f"checksum={VECTORS['SHA1']}", ALL),  # wrong call/query
        (f"{QUERY}&checksum={VECTORS['SHA1']}", ("SHA256", "SHA512")),  # algorithm not allowed
    ],
)
def test_rejections(raw: str, algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ChecksumError):
        checksum.verify("create", raw, [SECRET], algorithms)


def test_no_secrets_configured_rejects_everything() -> None:
    with pytest.raises(ChecksumError):
        checksum.verify("create", f"{QUERY}&checksum={VECTORS['SHA1']}", [], ALL)


def test_uppercase_hex_accepted_like_bbb() -> None:
    checksum.verify("create", f"{QUERY}&checksum={VECTORS['SHA256'].upper()}", [SECRET], ALL)


def test_body_only_post_hashes_an_empty_query() -> None:
    sig = checksum.digest("SHA1", f"getMeetingInfo{SECRET}")
    checksum.verify("getMeetingInfo", "", [SECRET], ALL, checksum=sig)


def test_sign_query_encodes_once_and_signs_that() -> None:
    signed = checksum.sign_query("create", [("name", "A B"), ("meetingID", "x/y")], SECRET, "SHA256")
    query, _, sig = signed.rpartition("&checksum=")
    assert query == "name=A+B&meetingID=x%2Fy"
    assert sig == checksum.digest("SHA256", f"create{query}{SECRET}")
