"""The local stack as a user meets it: HTTP gateway, Lambda Invoke API, CLI, schedules and S3 events."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import boto3
import pytest
from botocore.config import Config as BotoConfig
from defusedxml import ElementTree

from scalelite_local.gateway import build_event
from scalelite_local.stack import LocalStack

pytestmark = pytest.mark.e2e


def lambda_client(stack: LocalStack) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=stack.lambda_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=BotoConfig(retries={"max_attempts": 1}),
    )


def test_version_through_the_gateway(stack: LocalStack) -> None:
    with urlopen(stack.api_url) as resp:
        doc = ElementTree.fromstring(resp.read())
    assert (doc.findtext("returncode"), doc.findtext("version")) == ("SUCCESS", "2.0")


def test_raw_query_string_kept_byte_for_byte() -> None:
    event = build_event(
        "GET",
        "/bigbluebutton/api/create?name=a%20b+c&x=%2F&x=2&checksum=abc",
        [("Host", "h"), ("Cookie", "a=1; b=2")],
        b"",
        "127.0.0.1",
    )
    assert event["rawQueryString"] == "name=a%20b+c&x=%2F&x=2&checksum=abc"
    assert event["queryStringParameters"]["x"] == "/,2"
    assert event["cookies"] == ["a=1", "b=2"] and event["version"] == "2.0"


def test_cli_lists_two_enabled_servers_online_after_one_poll(stack: LocalStack) -> None:
    """The installed `scalelite` command, as an operator runs it, with no AWS configuration at all."""
    scalelite = str(Path(sys.executable).parent / "scalelite")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    done = subprocess.run(
        [scalelite, "--endpoint-url", stack.lambda_url, "servers", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    servers = json.loads(done.stdout)
    assert len(servers) == 2
    assert {s["state"] for s in servers} == {"enabled"}
    assert {s["online"] for s in servers} == {"online"}


def test_boto3_invoke_and_unknown_function(stack: LocalStack) -> None:
    client = lambda_client(stack)
    reply = client.invoke(FunctionName="AdminFunction", Payload=json.dumps({"command": "servers.list", "args": {}}))
    assert reply["StatusCode"] == 200 and "FunctionError" not in reply
    assert json.loads(reply["Payload"].read())["ok"] is True
    arn = "arn:aws:lambda:us-east-1:123456789012:function:AdminFunction"
    assert client.invoke(FunctionName=arn, Payload=b'{"command": "status"}')["StatusCode"] == 200
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")


def test_requests_are_served_concurrently(stack: LocalStack) -> None:
    """A hanging BBB server must not hold up other requests (API Gateway + Lambda scale out)."""
    from bbbsim import BBBSimulator
    from scalelite_common.domain.entities import ServerState

    hung = BBBSimulator("hung-secret").start()
    try:
        stack.admin("servers.add", url=hung.url, secret=hung.secret, id="hung", tag="slow")
        from scalelite_common.db import get_store

        get_store().update_server("hung", {"state": ServerState.ENABLED, "online": True, "load": 0.0})
        hung.set_fault("hang")
        from tests.helpers import signed

        slow_url = (
            stack.api_url
            + "create?"
            + signed("create", {"meetingID": "slow", "name": "S", "meta_server-tag": "slow!"}, secret="e2e-secret")
        )
        threading.Thread(target=lambda: _quietly(slow_url), daemon=True).start()
        time.sleep(0.3)
        started = time.monotonic()
        for _ in range(5):
            with urlopen(stack.api_url) as resp:
                assert resp.status == 200
        assert time.monotonic() - started < 2
    finally:
        hung.set_fault(None)
        hung.stop()
        stack.admin("servers.remove", id="hung")


def _quietly(url: str) -> None:
    with contextlib.suppress(Exception):  # only its concurrency matters
        urlopen(url, timeout=30).read()


def test_scheduled_poll_invokes_the_poller(stack: LocalStack) -> None:
    assert stack.schedule is not None
    before = stack.schedule.runs
    stack.schedule.fire()
    deadline = time.monotonic() + 20
    while stack.schedule.runs == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stack.schedule.runs == before + 1


def test_spool_upload_reaches_the_importer_with_an_encoded_key(stack: LocalStack) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=stack.aws_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    s3.put_object(Bucket="spoolbucket", Key="spool/rec one.tar", Body=b"tar")
    assert stack.watcher is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        keys = [e["Records"][0]["s3"]["object"]["key"] for e in stack.watcher.delivered]
        if "spool/rec+one.tar" in keys:
            break
        time.sleep(0.2)
    assert "spool/rec+one.tar" in keys
