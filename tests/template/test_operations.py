"""Production parts of template.yaml: SnapStart on the API's alias, a dead-letter queue (and an alarm) behind every
asynchronous invocation, the alarms on the metrics the code emits, the dashboard, the edge's origin header and WAF."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from scalelite_common.observability import METRICS, NAMESPACE
from tests.template.test_template import FUNCTIONS, props, references, resources, template

ALARMS = {k: v for k, v in resources().items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def test_api_function_uses_snapstart_through_its_alias() -> None:
    p = props("ApiFunction")
    assert p["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert p["AutoPublishAlias"] == "live"  # SAM points the HttpApi routes at the alias (see sam_checks' translation)
    assert template()["Globals"]["Function"]["Runtime"] >= "python3.12"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_has_a_log_group_with_retention(logical_id: str) -> None:
    group = props(logical_id)["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources()[group]["Type"] == "AWS::Logs::LogGroup"
    assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def _queue_alarm(queue: str) -> str:
    found = [
        k
        for k, a in ALARMS.items()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and references(a["Properties"]["Dimensions"]) == {queue}
    ]
    assert len(found) == 1, f"{queue}: alarms {found}"
    return found[0]


def test_every_asynchronous_invocation_ends_in_a_dead_letter_queue_with_an_alarm() -> None:
    dlqs: set[str] = set()
    for fn in FUNCTIONS:
        p = props(fn)
        for name, event in (p.get("Events") or {}).items():
            kind = event["Type"]
            if kind in ("Schedule", "S3"):  # asynchronous invocations: the function's on-failure destination
                destination = p["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
                assert destination["Type"] == "SQS", (fn, name)
                dlqs |= references(destination["Destination"])
            if kind == "Schedule":  # and EventBridge's own delivery failures
                dlqs |= references(event["Properties"]["DeadLetterConfig"]["Arn"])
            if kind == "SQS":
                queue = references(event["Properties"]["Queue"]).pop()
                dlqs |= references(props(queue)["RedrivePolicy"]["deadLetterTargetArn"])
    assert dlqs == {
        "PollerDeadLetterQueue",
        "ImporterDeadLetterQueue",
        "ScheduleDeadLetterQueue",
        "CallbackDeadLetterQueue",
    }
    for queue in dlqs:
        assert props(queue)["SqsManagedSseEnabled"] is True
        _queue_alarm(queue)
    # EventBridge may write to the schedules' queue, only from this stack's rules.
    (statement,) = props("ScheduleDeadLetterQueuePolicy")["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(":rule/${AWS::StackName}-*")


def test_the_poller_is_never_retried() -> None:
    p = props("PollerFunction")
    assert p["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    (event,) = p["Events"].values()
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] == 0


def _metrics_of(alarm: dict[str, Any]) -> list[tuple[str, str]]:
    p = alarm["Properties"]
    if "MetricName" in p:
        return [(p["Namespace"], p["MetricName"])]
    return [
        (m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
        for m in p["Metrics"]
        if "MetricStat" in m
    ]


@pytest.mark.parametrize("logical_id", sorted(ALARMS))
def test_alarms_notify_the_topic_and_watch_real_metrics(logical_id: str) -> None:
    p = ALARMS[logical_id]["Properties"]
    assert p["AlarmActions"] == [{"Ref": "AlarmTopic"}] and p["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert p["AlarmDescription"].strip() and p["TreatMissingData"] in ("notBreaching", "breaching")
    for namespace, name in _metrics_of(ALARMS[logical_id]):
        if namespace == NAMESPACE:
            # Our metrics carry exactly Powertools' service dimension plus the declared ones.
            assert name in METRICS, name
            assert METRICS[name][1] == (), f"{name}: an alarm cannot sum over dimension values"
            assert p["Dimensions"] == [{"Name": "service", "Value": "scalelite-serverless"}]
            env = template()["Globals"]["Function"]["Environment"]["Variables"]
            assert env["POWERTOOLS_SERVICE_NAME"] == "scalelite-serverless"
        else:
            assert namespace in ("AWS/Lambda", "AWS/SQS", "AWS/ApiGateway"), namespace


def test_the_issues_alarms_exist() -> None:
    watched = {name for alarm in ALARMS.values() for _, name in _metrics_of(alarm)}
    assert {"ServersOffline", "PollOverrun", "RecordingsRejected", "5xx", "Errors", "Invocations"} <= watched
    lambda_errors = {
        references(a["Properties"]["Dimensions"]).pop()
        for a in ALARMS.values()
        if a["Properties"].get("MetricName") == "Errors"
    }
    assert lambda_errors == {"ApiFunction", "PollerFunction", "ImporterFunction"}


def test_alarm_email_is_optional() -> None:
    assert template()["Parameters"]["AlarmEmail"]["Default"] == ""
    sub = resources()["AlarmEmailSubscription"]
    assert sub["Condition"] == "HasAlarmEmail"
    assert sub["Properties"]["Protocol"] == "email" and sub["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
    assert "AlarmTopicArn" in template()["Outputs"]


def _dashboard() -> dict[str, Any]:
    body = props("Dashboard")["DashboardBody"]["Fn::Sub"]
    assert isinstance(body, str)
    for var in set(re.findall(r"\$\{([^}]+)\}", body)):
        name = var.split(".")[0]
        assert name.startswith("AWS::") or name in resources() or name in template()["Parameters"], var
    substituted = re.sub(r"\$\{PollInterval\}", "60", body)
    substituted = re.sub(r"\$\{[^}]+\}", "X", substituted)
    loaded = json.loads(substituted)
    assert isinstance(loaded, dict)
    return loaded


def test_dashboard_shows_the_pool_and_every_alarm() -> None:
    widgets = _dashboard()["widgets"]
    text = json.dumps(widgets)
    for name in ("ServersOnline", "ServersOffline", "TotalLoad", "Meetings", "ApiCalls", "PollDuration"):
        assert f'"{name}' in text or f'\\"{name}\\"' in text, name
    for widget in widgets:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], str) and metric[0] == NAMESPACE:
                assert metric[1] in METRICS, metric[1]
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    body = props("Dashboard")["DashboardBody"]["Fn::Sub"]
    assert len(alarm_widget["properties"]["alarms"]) == len(ALARMS)
    for alarm in ALARMS:
        assert f"${{{alarm}.Arn}}" in body, alarm


def test_cloudfront_adds_the_origin_header_the_api_checks() -> None:
    config = props("Distribution")["DistributionConfig"]
    (api,) = [o for o in config["Origins"] if o["Id"] == "api"]
    (header,) = api["OriginCustomHeaders"]
    assert header["HeaderName"] == "X-Origin-Verify"
    assert references(header["HeaderValue"]) == {"OriginVerifySecret"}
    assert "{{resolve:secretsmanager:" in json.dumps(header["HeaderValue"])
    assert props("ApiFunction")["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET_ARN"] == {"Ref": "OriginVerifySecret"}
    generated = props("OriginVerifySecret")["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32 and generated["ExcludePunctuation"] is True


def test_bumping_edge_secrets_version_updates_both_resources_that_embed_edge_secrets() -> None:
    """CloudFormation re-resolves a dynamic reference only when its resource changes: the two resources that embed a
    secret at the edge carry EdgeSecretsVersion, so bumping it (docs/runbook.md) updates them."""
    embedding = {
        logical_id
        for logical_id, resource in resources().items()
        if "{{resolve:secretsmanager:" in json.dumps(resource.get("Properties", {}))
    }
    assert embedding == {"RecordingViewerRequestFunction", "Distribution"}
    assert "EdgeSecretsVersion" in references(props("RecordingViewerRequestFunction")["FunctionConfig"]["Comment"])
    assert "EdgeSecretsVersion" in references(props("Distribution")["DistributionConfig"]["Comment"])
    assert template()["Parameters"]["EdgeSecretsVersion"]["Default"] == "1"


def test_waf_is_optional_and_rate_limits_the_bbb_api() -> None:
    config = props("Distribution")["DistributionConfig"]
    assert config["WebACLId"] == {
        "Fn::If": [
            "HasWebAclArn",
            {"Ref": "WebAclArn"},
            {"Fn::If": ["CreateWebAcl", {"Fn::GetAtt": ["ApiWebAcl", "Arn"]}, {"Ref": "AWS::NoValue"}]},
        ]
    }
    acl = resources()["ApiWebAcl"]
    assert acl["Condition"] == "CreateWebAcl" and acl["Properties"]["Scope"] == "CLOUDFRONT"
    (rule,) = acl["Properties"]["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["Limit"] == {"Ref": "WafRateLimit"}
    match = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["SearchString"], match["PositionalConstraint"]) == ("/bigbluebutton/api/", "STARTS_WITH")
    assert template()["Parameters"]["WafRateLimit"]["Default"] == 0
    assert template()["Parameters"]["WebAclArn"]["Default"] == ""
