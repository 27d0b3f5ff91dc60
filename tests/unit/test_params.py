from __future__ import annotations

from scalelite_common.bbb import params as P
from scalelite_common.config import Settings, parse_param_list


def test_shape_precedence_and_exclusion() -> None:
    request = [("meetingID", "m"), ("record", "true"), ("welcome", "hi"), ("checksum", "x"), ("format", "xml")]
    shaped = P.shape(
        request,
        exclude=["welcome"],
        defaults={"record": "false", "welcome": "default-welcome", "logo": "l"},
        overrides={"record": "forced"},
    )
    assert shaped == {"record": "forced", "welcome": "default-welcome", "logo": "l", "meetingID": "m"}


def test_blank_values_kept_and_first_value_wins() -> None:
    assert P.parse("a=&b=1&b=2") == [("a", ""), ("b", "1"), ("b", "2")]
    assert P.single(P.parse("a=&b=1&b=2")) == {"a": "", "b": "1"}


def test_values_sanitised_as_bbb_does() -> None:
    assert P.parse("meetingID=%20room%09%00&name=a%0Ab") == [("meetingID", "room"), ("name", "ab")]
    # One rule for a repeated name: the value that is mapped (`first`) is the value that is forwarded (`shape`).
    params = P.parse("meetingID=one&meetingID=two")
    assert P.first(params, "meetingID") == P.shape(params)["meetingID"] == "one"


def test_param_list_format() -> None:
    assert parse_param_list("a=1, b=x=y,,c") == {"a": "1", "b": "x=y", "c": ""}


def test_settings_from_env() -> None:
    s = Settings.from_env(
        {
            "LOADBALANCER_SECRET": "one",
            "LOADBALANCER_SECRETS": "two:three",
            "LOADBALANCER_CHECKSUM_ALGORITHM": "SHA1:SHA256",
            "CREATE_EXCLUDE_PARAMS": "a, b",
            "DEFAULT_CREATE_PARAMS": "record=true",
        }
    )
    assert s.loadbalancer_secrets == ("one", "two", "three")
    assert s.checksum_algorithms == ("SHA1", "SHA256")
    assert s.outbound_algorithm == "SHA256"
    assert s.create_exclude_params == ("a", "b")
    assert s.default_create_params == {"record": "true"}
    assert Settings.from_env({}).outbound_algorithm == "SHA256"
    assert Settings.from_env({"LOADBALANCER_CHECKSUM_ALGORITHM": "SHA1:SHA512"}).outbound_algorithm == "SHA512"
