"""Structural checks of template.yaml against CONVENTIONS.md (pure YAML, no SAM tooling needed), plus one test
that runs the full offline SAM checks (scripts/sam_checks.py) when the SAM venv exists."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalelite_local.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_VENV = ROOT / ".venv-sam"

FUNCTIONS = {
    "ApiFunction": ("functions/api/", "scalelite_api.handler.handler"),
    "PollerFunction": ("functions/poller/", "scalelite_poller.handler.handler"),
    "ImporterFunction": ("functions/importer/", "scalelite_importer.handler.handler"),
    "AdminFunction": ("functions/admin/", "scalelite_admin.handler.handler"),
}
TABLES = {
    # logical id: (env var, hash key, TTL attribute or None)
    "ServersTable": ("SERVERS_TABLE", "id", None),
    "MeetingsTable": ("MEETINGS_TABLE", "pk", "expires_at"),
    "VoiceBridgesTable": ("VOICE_BRIDGES_TABLE", "voice_bridge", "expires_at"),
    "CallbacksTable": ("CALLBACKS_TABLE", "pk", "expires_at"),
}
# parameter: (env var, Scalelite's default as the template states it)
TUNABLES = {
    "PollInterval": ("POLL_INTERVAL", 60),
    "ServerHealthyThreshold": ("SERVER_HEALTHY_THRESHOLD", 1),
    "ServerUnhealthyThreshold": ("SERVER_UNHEALTHY_THRESHOLD", 2),
    "LoadMinUserCount": ("LOAD_MIN_USER_COUNT", 15),
    "LoadJoinBufferTime": ("LOAD_JOIN_BUFFER_TIME", 15),
    "ConnectTimeout": ("CONNECT_TIMEOUT", 5),
    "ResponseTimeout": ("RESPONSE_TIMEOUT", 10),
    "DefaultMeetingTtl": ("DEFAULT_MEETING_TTL", 86400),
    "CallbackDataTtl": ("CALLBACK_DATA_TTL", 2592000),
    "MaxMeetingDuration": ("MAX_MEETING_DURATION", 0),
    "GetMeetingsApiDisabled": ("GET_MEETINGS_API_DISABLED", "false"),
    "LoadBalancerChecksumAlgorithm": ("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA1:SHA256:SHA384:SHA512"),
    "AdminApiEnabled": ("ADMIN_API_ENABLED", "false"),
    "UrlHost": ("URL_HOST", ""),
}
REQUIRED_OUTPUTS = {
    "ApiUrl",
    "CloudFrontUrl",
    "BigBlueButtonApiUrl",
    "ApiFunctionName",
    "PollerFunctionName",
    "ImporterFunctionName",
    "AdminFunctionName",  # the CLI resolves the admin function through this key
    "ServersTableName",
    "MeetingsTableName",
    "VoiceBridgesTableName",
    "CallbacksTableName",
    "SpoolBucketName",
    "RecordingsBucketName",
}
SPOOL_BUCKET_NAME = "${AWS::StackName}-spool-${AWS::AccountId}-${AWS::Region}"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def cfn_load(stream: Any) -> Any:
    # The local stack's loader (it reads the same template): one implementation of the short-tag rules.
    return yaml.load(stream, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass


@cache
def template() -> dict[str, Any]:
    with TEMPLATE.open(encoding="utf-8") as fh:
        loaded = cfn_load(fh)
    assert isinstance(loaded, dict)
    return loaded


def resources() -> dict[str, Any]:
    res: dict[str, Any] = template()["Resources"]
    return res


def props(logical_id: str) -> dict[str, Any]:
    p: dict[str, Any] = resources()[logical_id].get("Properties", {})
    return p


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def references(node: Any) -> set[str]:
    """Logical ids / parameters a subtree refers to through Ref, GetAtt or ${...} in Sub."""
    found: set[str] = set()
    for item in walk(node):
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("Ref"), str):
            found.add(item["Ref"])
        getatt = item.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            found.add(str(getatt[0]))
        sub = item.get("Fn::Sub")
        text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) and sub else ""
        for var in re.findall(r"\$\{([^}!][^}]*)\}", text if isinstance(text, str) else ""):
            found.add(var.split(".", 1)[0])
    return found


def function_env(logical_id: str) -> dict[str, Any]:
    """Globals + function environment, as SAM merges them."""
    merged: dict[str, Any] = dict(template()["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    merged.update(props(logical_id).get("Environment", {}).get("Variables", {}))
    return merged


def functions() -> dict[str, Any]:
    return {k: v for k, v in resources().items() if v["Type"] == "AWS::Serverless::Function"}


# ------------------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------------------


def test_loader_understands_short_tags() -> None:
    doc = cfn_load(
        "a: !Ref X\nb: !GetAtt B.Arn\nc: !Sub '${X}-y'\n"
        "d: !If [C, !Ref A, !Ref AWS::NoValue]\ne: !Select [0, !GetAZs '']\n"
    )
    assert doc == {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": ["B", "Arn"]},
        "c": {"Fn::Sub": "${X}-y"},
        "d": {"Fn::If": ["C", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]},
        "e": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
    }


def test_is_a_sam_template() -> None:
    assert template()["Transform"] == "AWS::Serverless-2016-10-31"
    assert set(functions()) == set(FUNCTIONS)


def test_globals() -> None:
    g = template()["Globals"]["Function"]
    assert g["Runtime"] == "python3.12"
    assert g["Architectures"] == ["x86_64"]
    assert g["Layers"] == [{"Ref": "CommonLayer"}]
    assert g["Tracing"] == "Active"
    env = g["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ScaleliteServerless"
    assert "POWERTOOLS_SERVICE_NAME" in env
    assert "LOG_LEVEL" in env


def test_common_layer() -> None:
    layer = resources()["CommonLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert layer["Properties"]["ContentUri"] == "layers/common/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_code_and_handler_follow_conventions(logical_id: str) -> None:
    code_uri, handler = FUNCTIONS[logical_id]
    assert props(logical_id)["CodeUri"] == code_uri
    assert props(logical_id)["Handler"] == handler


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_is_importable_callable(logical_id: str) -> None:
    module_name, _, attr = props(logical_id)["Handler"].rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attr)), f"{logical_id}: {module_name}.{attr} is not callable"


@pytest.mark.parametrize("logical_id", ["PollerFunction", "ImporterFunction"])
def test_single_concurrency_for_background_functions(logical_id: str) -> None:
    assert props(logical_id)["ReservedConcurrentExecutions"] == 1


def test_function_sizes() -> None:
    assert props("ApiFunction")["MemorySize"] == 1024
    assert props("ApiFunction")["Timeout"] == 30
    assert props("PollerFunction")["Timeout"] == 60
    assert props("AdminFunction")["Timeout"] == 120


def test_poller_runs_every_minute() -> None:
    events = props("PollerFunction")["Events"]
    schedules = [e["Properties"] for e in events.values() if e["Type"] == "Schedule"]
    assert len(schedules) == 1
    assert schedules[0]["Schedule"] == "rate(1 minute)"


def test_admin_function_has_no_event_source() -> None:
    assert not props("AdminFunction").get("Events")


def test_http_api_payload_2_and_catch_all_routes() -> None:
    assert resources()["HttpApi"]["Type"] == "AWS::Serverless::HttpApi"
    events = props("ApiFunction")["Events"]
    routes = set()
    for event in events.values():
        assert event["Type"] == "HttpApi"
        p = event["Properties"]
        assert p["ApiId"] == {"Ref": "HttpApi"}
        assert p["PayloadFormatVersion"] == "2.0"
        routes.add((p["Method"].upper(), p["Path"]))
    assert routes == {("ANY", "/{proxy+}"), ("ANY", "/")}


@pytest.mark.parametrize("logical_id", sorted(TABLES))
def test_tables(logical_id: str) -> None:
    env_var, hash_key, ttl = TABLES[logical_id]
    table = resources()[logical_id]
    p = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True
    assert p["KeySchema"] == [{"AttributeName": hash_key, "KeyType": "HASH"}]
    assert {"AttributeName": hash_key, "AttributeType": "S"} in p["AttributeDefinitions"]
    if ttl:
        assert p["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in p
    for fn in FUNCTIONS:
        assert function_env(fn)[env_var] == {"Ref": logical_id}


def test_meetings_server_index() -> None:
    p = props("MeetingsTable")
    assert {"AttributeName": "server_id", "AttributeType": "S"} in p["AttributeDefinitions"]
    (gsi,) = p["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "server-index"
    assert gsi["KeySchema"] == [{"AttributeName": "server_id", "KeyType": "HASH"}]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}


def test_table_access_policies() -> None:
    for fn in ("ApiFunction", "PollerFunction", "AdminFunction"):
        crud = {
            str(p["DynamoDBCrudPolicy"]["TableName"]["Ref"])
            for p in props(fn)["Policies"]
            if isinstance(p, dict) and "DynamoDBCrudPolicy" in p
        }
        # The poller never reads callback data (it outlives the mappings the poller sweeps).
        assert crud == set(TABLES) - ({"CallbacksTable"} if fn == "PollerFunction" else set()), fn


def test_no_plain_secret_anywhere_but_the_secrets_manager_secret() -> None:
    for fn in FUNCTIONS:
        env = function_env(fn)
        assert "LOADBALANCER_SECRET" not in env, fn
        assert "LOADBALANCER_SECRETS" not in env, fn
        assert env["LOADBALANCER_SECRET_ARN"] == {"Ref": "LoadBalancerSecretStore"}
        assert "LoadBalancerSecret" not in references(env), fn
    assert template()["Parameters"]["LoadBalancerSecret"]["NoEcho"] is True
    store = resources()["LoadBalancerSecretStore"]
    assert store["Type"] == "AWS::SecretsManager::Secret"
    assert store["Properties"]["SecretString"] == {"Ref": "LoadBalancerSecret"}
    users = {k for k, v in resources().items() if "LoadBalancerSecret" in references(v)}
    assert users == {"LoadBalancerSecretStore"}
    assert "LoadBalancerSecret" not in references(template().get("Outputs", {}))


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_functions_may_read_only_that_secret(logical_id: str) -> None:
    policies = props(logical_id)["Policies"]
    secret_policies = [p for p in policies if isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p]
    assert secret_policies == [
        {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "LoadBalancerSecretStore"}}}
    ]
    for item in walk(policies):
        if isinstance(item, dict) and "Action" in item:
            actions = item["Action"] if isinstance(item["Action"], list) else [item["Action"]]
            assert not any(str(a).startswith("secretsmanager:") for a in actions), logical_id


@pytest.mark.parametrize("parameter", sorted(TUNABLES))
def test_tunable_parameters_have_scalelite_defaults_and_reach_the_env(parameter: str) -> None:
    env_var, default = TUNABLES[parameter]
    param = template()["Parameters"][parameter]
    assert param["Default"] == default
    globals_env = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert globals_env[env_var] == {"Ref": parameter}


def test_env_var_names_are_from_conventions() -> None:
    conventions = (ROOT / "CONVENTIONS.md").read_text(encoding="utf-8")
    known = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", conventions))
    known |= {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
    for fn in FUNCTIONS:
        unknown = set(function_env(fn)) - known
        assert not unknown, f"{fn}: env vars not in CONVENTIONS.md: {sorted(unknown)}"


def test_importer_trigger_and_buckets() -> None:
    p = props("ImporterFunction")
    (event,) = p["Events"].values()
    assert event["Type"] == "S3"
    assert event["Properties"]["Bucket"] == {"Ref": "SpoolBucket"}
    assert event["Properties"]["Events"] in ("s3:ObjectCreated:*", ["s3:ObjectCreated:*"])
    env = function_env("ImporterFunction")
    assert env["SPOOL_BUCKET"] == {"Fn::Sub": SPOOL_BUCKET_NAME}
    assert env["RECORDINGS_BUCKET"] == {"Ref": "RecordingsBucket"}
    assert props("SpoolBucket")["BucketName"] == {"Fn::Sub": SPOOL_BUCKET_NAME}


def test_importer_does_not_reference_the_spool_bucket() -> None:
    """SAM makes SpoolBucket depend on the importer's invoke permission; any Ref/GetAtt/${SpoolBucket} from
    the function (env, policies) closes a cycle CloudFormation rejects (sam validate does not see it)."""
    p = dict(props("ImporterFunction"))
    p.pop("Events")
    assert "SpoolBucket" not in references(p)
    assert "SpoolBucket" not in references(template()["Globals"])


def test_buckets_are_private_and_encrypted() -> None:
    for logical_id in ("SpoolBucket", "RecordingsBucket"):
        p = props(logical_id)
        assert all(p["PublicAccessBlockConfiguration"].values()), logical_id
        assert len(p["PublicAccessBlockConfiguration"]) == 4
        (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props("RecordingsBucket")["VersioningConfiguration"] == {"Status": "Enabled"}
    assert resources()["RecordingsBucket"]["DeletionPolicy"] == "Retain"
    assert resources()["RecordingsBucket"]["UpdateReplacePolicy"] == "Retain"
    spool_rules = props("SpoolBucket")["LifecycleConfiguration"]["Rules"]
    assert any("AbortIncompleteMultipartUpload" in r and r["Status"] == "Enabled" for r in spool_rules)


def test_recordings_bucket_policy_allows_only_this_distribution() -> None:
    policy = props("RecordingsBucketPolicy")
    assert policy["Bucket"] == {"Ref": "RecordingsBucket"}
    allow = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1
    assert allow[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow[0]["Action"] == "s3:GetObject"
    assert "Distribution" in references(allow[0]["Condition"])


def test_cloudfront_fronts_the_api_without_caching_and_with_raw_query_strings() -> None:
    config = props("Distribution")["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    default = config["DefaultCacheBehavior"]
    api_origin = origins[default["TargetOriginId"]]
    assert "HttpApi" in references(api_origin["DomainName"])
    assert api_origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert set(default["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert "FunctionAssociations" not in default  # a viewer function could re-serialise the query string


def test_cloudfront_serves_recordings_through_origin_access_control() -> None:
    config = props("Distribution")["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    for pattern in ("/playback/*", "/presentation/*", "/video/*"):
        origin = origins[behaviours[pattern]["TargetOriginId"]]
        assert "RecordingsBucket" in references(origin["DomainName"]), pattern
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["RecordingsOriginAccessControl", "Id"]}
        assert set(behaviours[pattern]["AllowedMethods"]) == {"GET", "HEAD"}


def test_outputs() -> None:
    outputs = template()["Outputs"]
    assert set(outputs) >= REQUIRED_OUTPUTS
    for fn in FUNCTIONS:
        assert outputs[f"{fn}Name"]["Value"] == {"Ref": fn}
    assert outputs["ApiUrl"]["Value"]["Fn::Sub"].endswith("/bigbluebutton/api")
    assert "HttpApi" in references(outputs["ApiUrl"])
    assert "Distribution" in references(outputs["BigBlueButtonApiUrl"])


@pytest.mark.slow
@pytest.mark.skipif(
    not (SAM_VENV / "bin" / "sam").exists(),
    reason="SAM venv .venv-sam missing (scripts/sam-venv.sh creates it; `make test` always does)",
)
def test_offline_sam_checks_pass() -> None:
    """cfn-lint, sam validate (+ --lint), offline translation linted for E3004 cycles, cycle canary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run(
        [str(SAM_VENV / "bin" / "python"), str(ROOT / "scripts" / "sam_checks.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
