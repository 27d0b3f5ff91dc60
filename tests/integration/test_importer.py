"""Until recordings are built the importer only reports what arrived (decoded key), touching nothing."""

from __future__ import annotations

import copy

from scalelite_importer.handler import handler
from tests.conftest import FakeLambdaContext
from tests.helpers import load_event


def test_logs_arrivals_with_decoded_keys() -> None:
    event = copy.deepcopy(load_event("importer/object_created.json"))
    event["Records"][0]["s3"]["object"]["key"] = "spool/a+b%2Fc.tar"
    result = handler(event, FakeLambdaContext())
    assert result == {
        "arrived": [
            {
                "bucket": "spoolbucket",
                "key": "spool/a b/c.tar",
                "size": 1024,
                "etag": "d41d8cd98f00b204e9800998ecf8427e",
            }
        ],
        "imported": 0,
    }
