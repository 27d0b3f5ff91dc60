"""Placement rules: tags (optional, required, `none`, fallback), least-loaded order, availability."""

from __future__ import annotations

import random

import pytest

from scalelite_common.domain.balancing import TagRequest, candidates
from scalelite_common.domain.entities import Server, ServerState
from scalelite_common.errors import NoAvailableServerError, ServerTagUnavailableError


def srv(
    sid: str,
    load: float | None = 0,
    tag: str | None = None,
    state: ServerState = ServerState.ENABLED,
    online: bool = True,
    adjust: float = 0,
) -> Server:
    return Server(
        id=sid,
        url=f"https://{sid}/bigbluebutton/api/",
        secret="s",
        state=state,
        online=online,
        load=load,
        load_adjust=adjust,
        tag=tag,
    )


def ids(servers: list[Server]) -> list[str]:
    return [s.id for s in servers]


def test_tag_parsing() -> None:
    assert TagRequest.parse(None) == TagRequest()
    assert TagRequest.parse("!") == TagRequest()
    assert TagRequest.parse("a;b!") == TagRequest(("a", "b"), True)
    assert TagRequest.parse(" a ; ;b ") == TagRequest(("a", "b"), False)


def test_least_loaded_counts_between_poll_adjustments() -> None:
    servers = [srv("a", 10), srv("b", 5, adjust=20), srv("c", 12)]
    assert ids(candidates(servers, TagRequest())) == ["a", "c", "b"]


def test_only_enabled_online_polled_servers_are_candidates() -> None:
    servers = [
        srv("off", online=False),
        srv("cord", state=ServerState.CORDONED),
        srv("dis", state=ServerState.DISABLED),
        srv("unpolled", load=None),
        srv("ok", 50),
    ]
    assert ids(candidates(servers, TagRequest())) == ["ok"]


def test_untagged_meetings_never_go_to_tagged_servers() -> None:
    with pytest.raises(NoAvailableServerError):
        candidates([srv("t", tag="gpu")], TagRequest())


def test_optional_tag_prefers_match_then_falls_back_to_untagged() -> None:
    servers = [srv("plain", 0), srv("gpu", 100, tag="gpu"), srv("other", 0, tag="other")]
    assert ids(candidates(servers, TagRequest.parse("gpu"))) == ["gpu", "plain"]
    assert ids(candidates(servers, TagRequest.parse("missing"))) == ["plain"]


def test_required_tag_has_no_fallback() -> None:
    servers = [srv("plain", 0)]
    with pytest.raises(ServerTagUnavailableError) as err:
        candidates(servers, TagRequest.parse("gpu;big!"))
    assert err.value.message == "There is no available server with the required tag=gpu;big."


def test_none_pseudo_tag_matches_untagged_servers() -> None:
    servers = [srv("plain", 5), srv("gpu", 1, tag="gpu")]
    assert ids(candidates(servers, TagRequest.parse("none;gpu!"))) == ["gpu", "plain"]


def test_ties_are_spread_randomly() -> None:
    servers = [srv(c, 0) for c in "abcd"]
    firsts = {candidates(servers, TagRequest(), rng=random.Random(i))[0].id for i in range(40)}
    assert len(firsts) > 1
