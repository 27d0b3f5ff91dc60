"""Metrics: declared names with bounded dimensions, one EMF line per dimension set, silenced by
POWERTOOLS_METRICS_DISABLED (tests, benches) but printed for real otherwise; the API's Call/Outcome mapping."""

from __future__ import annotations

import json

import pytest

from scalelite_common import observability as obs


def test_a_real_flush_prints_emf_with_the_dimensions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ScaleliteServerless")
    obs.emit("ApiCalls", Call="create", Outcome="SUCCESS")
    obs.emit("ApiCalls", Call="create", Outcome="SUCCESS")
    obs.emit("ApiCalls", Call="join", Outcome="checksumError")
    obs.emit("ServersOnline", 3)
    obs.emit("PollDuration", 12.5)
    obs.flush_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3  # one per dimension set: (create, SUCCESS), (join, checksumError), none
    by_call = {blob.get("Call"): blob for blob in lines}
    create = by_call["create"]
    directive = create["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ScaleliteServerless"
    assert directive["Dimensions"] == [["service", "Call", "Outcome"]]
    assert directive["Metrics"] == [{"Name": "ApiCalls", "Unit": "Count"}]
    assert create["Outcome"] == "SUCCESS" and create["ApiCalls"] == [1.0, 1.0]
    assert by_call["join"]["Outcome"] == "checksumError" and by_call["join"]["ApiCalls"] == 1.0
    plain = by_call[None]
    assert plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert plain["ServersOnline"] == 3.0 and plain["PollDuration"] == 12.5
    units = {m["Name"]: m["Unit"] for m in plain["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"ServersOnline": "Count", "PollDuration": "Milliseconds"}
    obs.flush_metrics()
    assert capsys.readouterr().out == ""  # the buffer was emptied


def test_disabled_metrics_print_nothing_and_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(150):  # beyond Powertools' 100-value auto-flush, which ignores the disabled flag
        obs.emit("ApiCalls", Call="join", Outcome="SUCCESS")
    obs.flush_metrics()
    assert capsys.readouterr().out == ""
    assert obs.serialize_metrics() == []


def test_undeclared_metrics_and_dimensions_are_refused() -> None:
    with pytest.raises(ValueError):
        obs.emit("Call_create")
    with pytest.raises(ValueError):
        obs.emit("ApiCalls", Call="create")  # Outcome missing


def test_dimension_values_are_bounded() -> None:
    assert obs.bounded("create", {"create": 1}) == "create"
    assert obs.bounded("evil-<script>", {"create": 1}) == obs.UNKNOWN
    assert obs.api_outcome("SUCCESS") == "SUCCESS"
    assert obs.api_outcome("checksumError") == "checksumError"
    assert obs.api_outcome("someBackendKey") == obs.OTHER_ERROR
    assert set(obs.METRIC_NAMES) >= {"ApiCalls", "ChecksumRejected", "PollOverrun", "CallbacksDeadLettered"}


def test_more_than_100_values_are_split_into_emf_sized_lines() -> None:
    for _ in range(150):
        obs.emit("ServersOnline", 1)
    blobs = obs.serialize_metrics()
    assert [len(b["ServersOnline"]) for b in blobs] == [100, 50]


def test_lambda_handler_flushes_once_per_invocation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import FakeLambdaContext

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    @obs.lambda_handler(correlation_id=lambda event, context: "corr-1")
    def handler(event: object, context: object) -> str:
        obs.emit("AdminCommands", Command="servers.list")
        return "ok"

    assert handler({}, FakeLambdaContext()) == "ok"
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    assert {b.get("Command") for b in emf} >= {"servers.list"}
    assert any(b.get("ColdStart") == 1.0 for b in emf)
