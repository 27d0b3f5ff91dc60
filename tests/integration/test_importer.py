"""The ImporterFunction's envelope: S3 events (URL-encoded keys) and the scheduled sweep (on moto)."""

from __future__ import annotations

import copy
from typing import Any

import boto3

from scalelite_importer.handler import handler
from tests.conftest import FakeLambdaContext
from tests.helpers import load_event

SPOOL = "test-spool"


def test_an_s3_event_key_is_decoded_before_import(store: Any) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    key = "uploads/bbb 1/x+y.tar"
    s3.put_object(Bucket=SPOOL, Key=key, Body=b"not a tar")
    event = copy.deepcopy(load_event("importer/object_created.json"))
    event["Records"][0]["s3"]["bucket"]["name"] = SPOOL
    event["Records"][0]["s3"]["object"]["key"] = "uploads/bbb+1/x%2By.tar"  # as S3 encodes it
    event["Records"][0]["s3"]["object"]["eTag"] = ""
    result = handler(event, FakeLambdaContext())
    assert [(r["key"], r["status"]) for r in result["results"]] == [(key, "failed")]
    assert s3.head_object(Bucket=SPOOL, Key=f"failed/{key}")["Metadata"]["reason"]


def test_the_scheduled_event_sweeps_the_spool(store: Any) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=SPOOL, Key="imports/fresh.tar", Body=b"x")
    event = load_event("poller/scheduled.json")  # an EventBridge scheduled event, as for the poller
    result = handler(event, FakeLambdaContext())
    assert result == {"swept": []}  # too recent: its own S3 event imports it
    assert s3.list_objects_v2(Bucket=SPOOL)["KeyCount"] == 1
