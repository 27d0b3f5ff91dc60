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

from scalelite_common.db.models import MeetingItem
from scalelite_local.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM_VENV = ROOT / ".venv-sam"

FUNCTIONS = {
    "ApiFunction": ("functions/api/", "scalelite_api.handler.handler"),
    "PollerFunction": ("functions/poller/", "scalelite_poller.handler.handler"),
    "ImporterFunction": ("functions/importer/", "scalelite_importer.handler.handler"),
    "AdminFunction": ("functions/admin/", "scalelite_admin.handler.handler"),
    "CallbackFunction": ("functions/callbacks/", "scalelite_callbacks.handler.handler"),
}
TABLES = {
    # logical id: (env var, hash key, TTL attribute or None, range key or None)
    "ServersTable": ("SERVERS_TABLE", "id", None, None),
    "MeetingsTable": ("MEETINGS_TABLE", "pk", "expires_at", None),
    "VoiceBridgesTable": ("VOICE_BRIDGES_TABLE", "voice_bridge", "expires_at", None),
    "CallbacksTable": ("CALLBACKS_TABLE", "pk", "expires_at", None),
    "RecordingsTable": ("RECORDINGS_TABLE", "record_id", None, None),
    "UploadsTable": ("UPLOADS_TABLE", "pk", "expires_at", "sk"),
    "TenantsTable": ("TENANTS_TABLE", "pk", None, "sk"),
}
# Least privilege: the tables each function reaches (its table env vars and IAM statements). The poller never reads
# callback data (it outlives the mappings the poller sweeps) nor recordings; the importer no servers or meetings;
# the callback function only the tenants (per-tenant signing). AdminFunction, the operator's, has CRUD on all.
TABLE_ACCESS = {
    "ApiFunction": set(TABLES),
    "ImporterFunction": {"RecordingsTable", "UploadsTable", "CallbacksTable", "TenantsTable"},
    "AdminFunction": set(TABLES),
    "PollerFunction": {"ServersTable", "MeetingsTable", "VoiceBridgesTable"},
    "CallbackFunction": {"TenantsTable"},
}
# The functions that check or sign with the LB secret (the API: inbound checksums; callbacks: signed POSTs).
LB_SECRET_READERS = {"ApiFunction", "CallbackFunction"}
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# The functions that queue recording-ready callbacks (CALLBACK_QUEUE_URL, sqs:SendMessage).
CALLBACK_SENDERS = ("ApiFunction", "ImporterFunction", "AdminFunction")
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
    "MultitenancyEnabled": ("MULTITENANCY_ENABLED", "false"),
    "UrlHost": ("URL_HOST", ""),
    "RecordingDisabled": ("RECORDING_DISABLED", "false"),
    "RecordingImportUnpublished": ("RECORDING_IMPORT_UNPUBLISHED", "false"),
    "ProtectedRecordingsEnabled": ("PROTECTED_RECORDINGS_ENABLED", "false"),
    "GetRecordingsApiFiltered": ("GET_RECORDINGS_API_FILTERED", "false"),
    "RecordingImportMaxMembers": ("RECORDING_IMPORT_MAX_MEMBERS", 50000),
    "RecordingImportMaxBytes": ("RECORDING_IMPORT_MAX_BYTES", 10737418240),
    "CallbackRetryDelays": ("CALLBACK_RETRY_DELAYS", "30,120,600,1800,3600"),
}
REQUIRED_OUTPUTS = {
    "ApiUrl",
    "CloudFrontUrl",
    "BigBlueButtonApiUrl",
    "ApiFunctionName",
    "PollerFunctionName",
    "ImporterFunctionName",
    "AdminFunctionName",  # the CLI resolves the admin function through this key
    "CallbackFunctionName",
    "ServersTableName",
    "MeetingsTableName",
    "VoiceBridgesTableName",
    "CallbacksTableName",
    "RecordingsTableName",
    "UploadsTableName",
    "CallbackQueueUrl",
    "CallbackDeadLetterQueueUrl",
    "ImporterDeadLetterQueueUrl",
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
    assert g["Architectures"] == ["arm64"]
    assert g["Layers"] == [{"Ref": "CommonLayer"}]
    assert g["Tracing"] == "Active"
    env = g["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ScaleliteServerless"
    assert "POWERTOOLS_SERVICE_NAME" in env
    assert "LOG_LEVEL" in env
    # Everything else is per function (each reads only what it needs).
    assert set(env) == {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}


def test_common_layer() -> None:
    layer = resources()["CommonLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    assert layer["Properties"]["ContentUri"] == "layers/common/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    # The layer's native wheels must match the functions' architecture (sam build picks them by BuildArchitecture).
    arch = template()["Globals"]["Function"]["Architectures"]
    assert layer["Properties"]["CompatibleArchitectures"] == arch
    assert [layer["Metadata"]["BuildArchitecture"]] == arch


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
    assert props("CallbackFunction")["Timeout"] == 60


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
    env_var, hash_key, ttl, range_key = TABLES[logical_id]
    table = resources()[logical_id]
    p = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["SSESpecification"]["SSEEnabled"] is True
    assert p["KeySchema"] == [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
        [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else []
    )
    assert {"AttributeName": hash_key, "AttributeType": "S"} in p["AttributeDefinitions"]
    if ttl:
        assert p["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in p
    for fn in FUNCTIONS:
        if logical_id in TABLE_ACCESS[fn]:
            assert function_env(fn)[env_var] == {"Ref": logical_id}, fn
        else:
            assert env_var not in function_env(fn), fn


def test_meetings_server_index() -> None:
    p = props("MeetingsTable")
    assert {"AttributeName": "server_id", "AttributeType": "S"} in p["AttributeDefinitions"]
    gsi, tenants = p["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "server-index"
    assert gsi["KeySchema"] == [{"AttributeName": "server_id", "KeyType": "HASH"}]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    # The tenant limits' index, as the model declares it (db/models.py TenantMeetingsIndex).
    assert {"AttributeName": "scoped_tenant", "AttributeType": "S"} in p["AttributeDefinitions"]
    assert tenants["IndexName"] == MeetingItem.tenant_index.Meta.index_name
    assert tenants["KeySchema"] == [{"AttributeName": "scoped_tenant", "KeyType": "HASH"}]
    projection = MeetingItem.tenant_index.Meta.projection
    assert tenants["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": projection.non_key_attributes}


def dynamodb_grants(logical_id: str, *, conditional: bool = False) -> dict[str, set[str]]:
    """table logical id → the DynamoDB actions the function's policies grant on it (DynamoDBCrudPolicy: 'crud');
    `conditional`: also the statements under an Fn::If."""
    grants: dict[str, set[str]] = {}
    for policy in props(logical_id)["Policies"]:
        if isinstance(policy, dict) and "DynamoDBCrudPolicy" in policy:
            grants.setdefault(str(policy["DynamoDBCrudPolicy"]["TableName"]["Ref"]), set()).add("crud")
    for statement in statements(logical_id, conditional=conditional):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for table in references(resources) & set(TABLES):
            grants.setdefault(table, set()).update(a for a in actions if str(a).startswith("dynamodb:"))
    return {k: v for k, v in grants.items() if v}


def test_table_access_policies() -> None:
    assert set(TABLE_ACCESS) == set(FUNCTIONS)
    for fn, tables in TABLE_ACCESS.items():
        assert set(dynamodb_grants(fn, conditional=True)) == tables, fn
        crud = {t for t, actions in dynamodb_grants(fn).items() if "crud" in actions}
        assert crud == (set(TABLES) if fn == "AdminFunction" else set()), fn


def test_only_the_admin_function_changes_servers() -> None:
    """The API (load reservations) and the poller (observations) may only UpdateItem existing servers: adding and
    removing servers is AdminFunction's, or the API's only with Scalelite's admin JSON API turned on."""
    for fn in FUNCTIONS:
        servers = dynamodb_grants(fn).get("ServersTable", set())
        if fn == "AdminFunction":
            assert servers == {"crud"}
        else:
            assert not servers & {"crud", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}, fn
    (conditional,) = [
        p
        for p in props("ApiFunction")["Policies"]
        if isinstance(p, dict) and "Fn::If" in p and "ServersTable" in references(p["Fn::If"][1])
    ]
    condition, granted, otherwise = conditional["Fn::If"]
    assert condition == "AdminApiIsEnabled" and otherwise == {"Ref": "AWS::NoValue"}
    assert template()["Conditions"]["AdminApiIsEnabled"] == {"Fn::Equals": [{"Ref": "AdminApiEnabled"}, "true"]}
    (statement,) = [s for s in granted["Statement"] if "ServersTable" in references(s["Resource"])]
    assert set(statement["Action"]) == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert references(statement["Resource"]) == {"ServersTable"}


def test_read_only_table_grants() -> None:
    assert not dynamodb_grants("CallbackFunction")["TenantsTable"] & DYNAMODB_WRITES
    assert not dynamodb_grants("ImporterFunction")["CallbacksTable"] & DYNAMODB_WRITES
    assert not dynamodb_grants("ImporterFunction")["TenantsTable"] & DYNAMODB_WRITES
    assert not dynamodb_grants("ApiFunction")["TenantsTable"] & DYNAMODB_WRITES


# PynamoDB model → the table it lives in (the models' Meta.table_name is rebound at run time).
MODEL_TABLES = {
    "ServerItem": "ServersTable",
    "MeetingItem": "MeetingsTable",
    "VoiceBridgeItem": "VoiceBridgesTable",
    "CallbackItem": "CallbacksTable",
    "RecordingItem": "RecordingsTable",
    "UploadItem": "UploadsTable",
}


@pytest.mark.parametrize("model_name", sorted(MODEL_TABLES))
def test_tables_match_the_pynamodb_models_exactly(model_name: str) -> None:
    """Key schema, attribute definitions, GSIs (keys, projection) and TTL as scalelite_common.db.models declares
    them: a table the code queries differently than it is deployed fails here, not in AWS."""
    from scalelite_common.db import models

    model = getattr(models, model_name)
    schema = model._get_schema()
    p = props(MODEL_TABLES[model_name])

    def keys(key_schema: list[dict[str, str]]) -> set[tuple[str, str]]:
        return {(k["AttributeName"], k["KeyType"]) for k in key_schema}

    assert keys(p["KeySchema"]) == keys(schema["key_schema"])
    assert {(a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"]} == {
        (a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]
    }
    expected = {
        i["index_name"]: (keys(i["key_schema"]), i["projection"]["ProjectionType"])
        for i in schema["global_secondary_indexes"]
    }
    deployed = {
        i["IndexName"]: (keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
        for i in p.get("GlobalSecondaryIndexes", [])
    }
    assert deployed == expected
    assert not schema["local_secondary_indexes"] and "LocalSecondaryIndexes" not in p
    has_ttl = "expires_at" in model.get_attributes()
    assert ("TimeToLiveSpecification" in p) == has_ttl


def test_no_plain_secret_anywhere_but_the_secrets_manager_secret() -> None:
    for fn in FUNCTIONS:
        env = function_env(fn)
        assert "LOADBALANCER_SECRET" not in env, fn
        assert "LOADBALANCER_SECRETS" not in env, fn
        if fn in LB_SECRET_READERS:
            assert env["LOADBALANCER_SECRET_ARN"] == {"Ref": "LoadBalancerSecretStore"}
        else:
            assert "LOADBALANCER_SECRET_ARN" not in env, fn
        assert "LoadBalancerSecret" not in references(env), fn
    assert template()["Parameters"]["LoadBalancerSecret"]["NoEcho"] is True
    store = resources()["LoadBalancerSecretStore"]
    assert store["Type"] == "AWS::SecretsManager::Secret"
    assert store["Properties"]["SecretString"] == {"Ref": "LoadBalancerSecret"}
    users = {k for k, v in resources().items() if "LoadBalancerSecret" in references(v)}
    assert users == {"LoadBalancerSecretStore"}
    assert "LoadBalancerSecret" not in references(template().get("Outputs", {}))


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_functions_may_read_only_their_secrets(logical_id: str) -> None:
    policies = props(logical_id)["Policies"]
    secret_policies = [p for p in policies if isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p]
    readable = {str(p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Ref"]) for p in secret_policies}
    assert ("LoadBalancerSecretStore" in readable) == (logical_id in LB_SECRET_READERS)
    assert ("OriginVerifySecret" in readable) == (logical_id == "ApiFunction")
    for secret in readable:  # only what the function's env names
        assert secret in references(function_env(logical_id)), (logical_id, secret)
    for item in walk(policies):
        if isinstance(item, dict) and "Action" in item:
            actions = item["Action"] if isinstance(item["Action"], list) else [item["Action"]]
            assert not any(str(a).startswith("secretsmanager:") for a in actions), logical_id


@pytest.mark.parametrize("parameter", sorted(TUNABLES))
def test_tunable_parameters_have_scalelite_defaults_and_reach_the_env(parameter: str) -> None:
    env_var, default = TUNABLES[parameter]
    param = template()["Parameters"][parameter]
    assert param["Default"] == default
    readers = [fn for fn in FUNCTIONS if env_var in function_env(fn)]
    assert readers, f"{env_var} reaches no function"
    for fn in readers:
        assert function_env(fn)[env_var] == {"Ref": parameter}, fn


def test_env_var_names_are_from_conventions() -> None:
    conventions = (ROOT / "CONVENTIONS.md").read_text(encoding="utf-8")
    known = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", conventions))
    known |= {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
    for fn in FUNCTIONS:
        unknown = set(function_env(fn)) - known
        assert not unknown, f"{fn}: env vars not in CONVENTIONS.md: {sorted(unknown)}"


def test_importer_trigger_and_buckets() -> None:
    p = props("ImporterFunction")
    events = {e["Type"]: e["Properties"] for e in p["Events"].values()}
    assert len(events) == len(p["Events"]) == 2
    assert events["S3"]["Bucket"] == {"Ref": "SpoolBucket"}
    assert events["S3"]["Events"] in ("s3:ObjectCreated:*", ["s3:ObjectCreated:*"])
    assert events["Schedule"]["Schedule"] == "rate(15 minutes)"  # the sweep (source aws.events)
    assert "EphemeralStorage" not in p or p["EphemeralStorage"]["Size"] == 512
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
    # Its one viewer function never modifies uri or query string, so CloudFront forwards both as received
    # (tests/template/test_cloudfront_functions.py and cloudfront/tests/api.test.cjs).
    assert default["FunctionAssociations"] == [
        {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": ["ApiViewerRequestFunction", "FunctionARN"]}}
    ]


def test_cloudfront_serves_recordings_through_origin_access_control() -> None:
    config = props("Distribution")["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    for pattern in ("/playback/*", "/presentation/*", "/video/*"):
        origin = origins[behaviours[pattern]["TargetOriginId"]]
        assert "RecordingsBucket" in references(origin["DomainName"]), pattern
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["RecordingsOriginAccessControl", "Id"]}
        assert set(behaviours[pattern]["AllowedMethods"]) == {"GET", "HEAD"}


NO_VALUE = object()  # AWS::NoValue: the property is left out


def render(node: Any, parameters: dict[str, str]) -> Any:
    """`node` as CloudFormation resolves it for these parameter values: conditions, Fn::If, Fn::Sub over
    parameters, Ref of parameters and AWS::NoValue (what the distribution's names and certificate use)."""
    if isinstance(node, list):
        return [v for v in (render(item, parameters) for item in node) if v is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
        rendered = {k: render(v, parameters) for k, v in node.items()}
        return {k: v for k, v in rendered.items() if v is not NO_VALUE}
    [(key, arg)] = node.items()
    if key == "Ref":
        return NO_VALUE if arg == "AWS::NoValue" else parameters[arg]
    if key == "Condition":
        return render(template()["Conditions"][arg], parameters)
    if key == "Fn::Equals":
        left, right = (render(v, parameters) for v in arg)
        return left == right
    if key == "Fn::Not":
        return not render(arg[0], parameters)
    if key == "Fn::And":
        return all(render(v, parameters) for v in arg)
    if key == "Fn::If":
        condition, then, otherwise = arg
        return render(then if render({"Condition": condition}, parameters) else otherwise, parameters)
    if key == "Fn::Sub" and isinstance(arg, str):
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: parameters[m.group(1)], arg)
    raise AssertionError(f"render does not know {key}")


CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


@pytest.mark.parametrize(
    ("url_host", "certificate", "multitenancy", "aliases"),
    [
        ("lb.example.com", CERT, "false", ["lb.example.com"]),
        ("lb.example.com", CERT, "true", ["lb.example.com", "*.lb.example.com"]),  # every tenant's host
        ("lb.example.com", "", "true", None),  # no certificate: only the *.cloudfront.net name
        ("", CERT, "true", None),
        ("", "", "false", None),
    ],
)
def test_distribution_names_follow_the_domain_and_multitenancy(
    url_host: str, certificate: str, multitenancy: str, aliases: list[str] | None
) -> None:
    parameters = {"UrlHost": url_host, "CloudFrontCertificateArn": certificate, "MultitenancyEnabled": multitenancy}
    config = props("Distribution")["DistributionConfig"]
    rendered = render(config["Aliases"], parameters)
    assert (None if rendered is NO_VALUE else rendered) == aliases
    certificate_config = render(config["ViewerCertificate"], parameters)
    if aliases is None:
        assert certificate_config == {"CloudFrontDefaultCertificate": True}
    else:  # one certificate for all the names: it must cover UrlHost and *.UrlHost (docs/deployment.md)
        assert certificate_config == {
            "AcmCertificateArn": certificate,
            "SslSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
        }


def test_outputs() -> None:
    outputs = template()["Outputs"]
    assert set(outputs) >= REQUIRED_OUTPUTS
    for fn in FUNCTIONS:
        assert outputs[f"{fn}Name"]["Value"] == {"Ref": fn}
    assert outputs["ApiUrl"]["Value"]["Fn::Sub"].endswith("/bigbluebutton/api")
    assert "HttpApi" in references(outputs["ApiUrl"])
    assert "Distribution" in references(outputs["BigBlueButtonApiUrl"])


def statements(logical_id: str, *, conditional: bool = False) -> list[dict[str, Any]]:
    """The inline `Statement` entries of a function's policies (`conditional`: also those under an Fn::If)."""
    out: list[dict[str, Any]] = []
    for policy in props(logical_id)["Policies"]:
        if conditional and isinstance(policy, dict) and "Fn::If" in policy:
            out += [
                s for branch in policy["Fn::If"][1:] if isinstance(branch, dict) for s in branch.get("Statement", [])
            ]
        if isinstance(policy, dict) and "Statement" in policy:
            out += policy["Statement"]
    return out


def spool_arn(suffix: str = "") -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{SPOOL_BUCKET_NAME}{suffix}"}


def test_callback_queue_retries_then_dead_letters() -> None:
    queue, dlq = resources()["CallbackQueue"], resources()["CallbackDeadLetterQueue"]
    assert queue["Type"] == dlq["Type"] == "AWS::SQS::Queue"
    q = queue["Properties"]
    assert q["SqsManagedSseEnabled"] is True and dlq["Properties"]["SqsManagedSseEnabled"] is True
    assert q["VisibilityTimeout"] >= 6 * props("CallbackFunction")["Timeout"]
    assert q["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["CallbackDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 6,
    }
    # One receive per delay plus the first: the default delays use every receive the redrive policy allows.
    delays = template()["Parameters"]["CallbackRetryDelays"]["Default"].split(",")
    assert q["RedrivePolicy"]["maxReceiveCount"] == len(delays) + 1
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    assert dlq["Properties"]["MessageRetentionPeriod"] >= q.get("MessageRetentionPeriod", 4 * 86400)


def test_callback_function_consumes_the_queue_with_partial_batch_responses() -> None:
    p = props("CallbackFunction")
    (event,) = p["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"] == {
        "Queue": {"Fn::GetAtt": ["CallbackQueue", "Arn"]},
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    assert p["LoggingConfig"] == {"LogGroup": {"Ref": "CallbackLogGroup"}}
    log_group = props("CallbackLogGroup")
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}/CallbackFunction"}
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    (visibility,) = [s for s in statements("CallbackFunction") if s.get("Sid") == "CallbackRetryDelay"]
    assert visibility["Action"] == ["sqs:ChangeMessageVisibility"]
    assert visibility["Resource"] == {"Fn::GetAtt": ["CallbackQueue", "Arn"]}
    assert "CALLBACK_QUEUE_URL" not in function_env("CallbackFunction")  # it answers the queue named by the event


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_only_the_callback_senders_queue_callbacks(logical_id: str) -> None:
    env = function_env(logical_id)
    send = [s for s in statements(logical_id) if "sqs:SendMessage" in s["Action"]]
    if logical_id in CALLBACK_SENDERS:
        assert env["CALLBACK_QUEUE_URL"] == {"Ref": "CallbackQueue"}
        # Not SQSSendMessagePolicy: it grants sqs:SendMessage* (a wildcard write action).
        assert [(s["Action"], s["Resource"]) for s in send] == [
            (["sqs:SendMessage"], {"Fn::GetAtt": ["CallbackQueue", "Arn"]})
        ]
    else:
        assert "CALLBACK_QUEUE_URL" not in env and not send


def test_every_function_logs_to_its_own_group() -> None:
    for fn in FUNCTIONS:
        group = props(fn)["LoggingConfig"]["LogGroup"]["Ref"]
        assert props(group)["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{fn}"}


def test_importer_sweeps_retries_twice_and_keeps_failed_events() -> None:
    p = props("ImporterFunction")
    assert p["EventInvokeConfig"] == {
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {
            "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["ImporterDeadLetterQueue", "Arn"]}}
        },
    }
    dlq = props("ImporterDeadLetterQueue")
    assert dlq["SqsManagedSseEnabled"] is True and dlq["MessageRetentionPeriod"] == 14 * 86400
    rejected = [s for s in statements("ImporterFunction") if s.get("Sid") == "SpoolRejected"]
    assert rejected and rejected[0]["Resource"] == spool_arn("/failed/*")


def test_api_presigns_uploads_and_moves_recordings() -> None:
    env = function_env("ApiFunction")
    assert env["SPOOL_BUCKET"] == {"Fn::Sub": SPOOL_BUCKET_NAME}  # the literal name, as the importer's
    assert env["RECORDINGS_BUCKET"] == {"Ref": "RecordingsBucket"}
    by_sid = {s.get("Sid"): s for s in statements("ApiFunction")}
    assert by_sid["RecordingFiles"]["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/*"}
    assert by_sid["RecordingFilesList"] == {
        "Sid": "RecordingFilesList",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": {"Fn::GetAtt": ["RecordingsBucket", "Arn"]},
    }
    assert not any("S3CrudPolicy" in p for p in props("ApiFunction")["Policies"] if isinstance(p, dict))
    spool = [s for s in statements("ApiFunction") if "SpoolBucket" in str(s) or "spool" in str(s)]
    assert spool == [
        {
            "Sid": "SpoolPresignedUploads",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": spool_arn("/uploads/*"),
        }
    ]


def test_admin_reaches_what_its_recording_commands_need() -> None:
    env = function_env("AdminFunction")
    assert env["SPOOL_BUCKET"] == {"Fn::Sub": SPOOL_BUCKET_NAME}
    assert env["RECORDINGS_BUCKET"] == {"Ref": "RecordingsBucket"}
    by_sid = {s["Sid"]: s for s in statements("AdminFunction")}
    assert by_sid["SpoolImportUploads"]["Resource"] == spool_arn("/imports/*")  # presigned `recordings import`
    assert by_sid["SpoolFailedRead"]["Resource"] == spool_arn("/failed/*")
    assert by_sid["SpoolList"]["Resource"] == spool_arn()


def test_spool_keeps_rejected_archives_90_days_and_operators_may_only_import() -> None:
    rules = {r["Id"]: r for r in props("SpoolBucket")["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireRejectedArchives"] == {
        "Id": "ExpireRejectedArchives",
        "Status": "Enabled",
        "Prefix": "failed/",
        "ExpirationInDays": 90,
    }
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    (statement,) = props("SpoolUploadPolicy")["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::Sub": "${SpoolBucket.Arn}/imports/*"}
    assert "SpoolUploadPolicyArn" in template()["Outputs"]


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
