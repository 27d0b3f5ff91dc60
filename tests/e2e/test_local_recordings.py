"""A recording end to end through the local stack: a meeting created through the balancer, its recording written
as a BBB server writes it, `bbb-server/post_publish.py` (as the BBB server runs it) asks for an upload URL and
PUTs the archive to the spool bucket (moto), the S3 notification runs the importer, the LMS's recording-ready URL
gets its callback (a local sink, down at first), and the BBB API lists, publishes, updates and deletes it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

import jwt
import pytest
from defusedxml import ElementTree

from bbbsim import BBBSimulator
from scalelite_local.stack import LocalStack
from tests.e2e.conftest import CLI, E2E_SECRET
from tests.helpers import sign
from tests.recordings_support import record_id_for, write_tree
from tests.sink import CallbackSink

pytestmark = pytest.mark.e2e
POST_PUBLISH = Path(__file__).resolve().parents[2] / "bbb-server" / "post_publish.py"


def api(stack: LocalStack, call: str, params: dict[str, str]) -> ElementTree.Element:
    query = sign(call, urlencode(params), secret=E2E_SECRET)
    with urlopen(f"{stack.api_url}{call}?{query}", timeout=30) as resp:
        return ElementTree.fromstring(resp.read())


def post_publish(
    stack: LocalStack, record_id: str, published: Path, state: Path, sim: BBBSimulator
) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable,
        str(POST_PUBLISH),
        "-m",
        record_id,
        "--published-dir",
        str(published),
        "--url",
        stack.gateway_url,
        "--server-url",
        sim.url,
        "--secret",
        sim.secret,
        "--state-dir",
        str(state),
        "--retries",
        "2",
        "--backoff",
        "0.1",
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_a_recording_travels_from_the_bbb_server_to_the_lms(stack: LocalStack, tmp_path: Path) -> None:
    sink = CallbackSink(503, 200).start()  # the LMS is down for the first attempt
    try:
        created = api(
            stack,
            "create",
            {
                "meetingID": "e2e-rec",
                "name": "E2E recording",
                "record": "true",
                "meta_bbb-recording-ready-url": sink.url,
            },
        )
        assert created.findtext("returncode") == "SUCCESS"
        record_id = created.findtext("internalMeetingID") or ""
        server_url = stack.admin("meetings.info", meeting_id="e2e-rec")["server_url"]
        sim = next(s for s in stack.simulators if s.url.rstrip("/") == server_url.rstrip("/"))
        other = next(s for s in stack.simulators if s is not sim)
        published = tmp_path / "published"
        write_tree(published, record_id)

        refused = post_publish(stack, record_id, published, tmp_path / "state-other", other)
        assert refused.returncode == 2, refused.stderr  # not the server that hosted the meeting

        sent = post_publish(stack, record_id, published, tmp_path / "state", sim)
        assert sent.returncode == 0, sent.stderr

        def listed() -> bool:
            return bool(
                api(stack, "getRecordings", {"meetingID": "e2e-rec"}).findtext("recordings/recording/recordID")
                == record_id
            )

        wait_for(listed)
        doc = api(stack, "getRecordings", {"recordID": record_id})
        assert doc.findtext("recordings/recording/published") == "true"
        assert {f.findtext("type") for f in doc.findall("recordings/recording/playback/format")} == {
            "presentation",
            "video",
        }

        (callback,) = sink.wait(2, timeout=30)[1:]  # the retry after the 503
        claims = jwt.decode(callback.form["signed_parameters"][0], E2E_SECRET, algorithms=["HS256"])
        assert claims == {"meeting_id": "e2e-rec", "record_id": record_id}

        assert (
            api(stack, "publishRecordings", {"recordID": record_id, "publish": "false"}).findtext("published")
            == "false"
        )
        assert (
            api(stack, "getRecordings", {"recordID": record_id}).findtext("recordings/recording/state") == "unpublished"
        )
        assert (
            api(stack, "updateRecordings", {"recordID": record_id, "meta_gl-listed": "true"}).findtext("updated")
            == "true"
        )
        assert api(stack, "deleteRecordings", {"recordID": record_id}).findtext("deleted") == "true"
        assert api(stack, "getRecordings", {"recordID": record_id}).findtext("messageKey") == "noRecordings"
        assert stack.admin("recordings.check")["ok"] is True
    finally:
        sink.stop()


def test_an_operator_imports_recordings_from_disk_with_the_cli(stack: LocalStack, cli: CLI, tmp_path: Path) -> None:
    """`scalelite recordings import` of the parent of published/ and unpublished/ (a Scalelite migration), then the
    other recordings commands on what arrived."""
    published_id, unpublished_id = record_id_for("migrated-1"), record_id_for("migrated-2")
    write_tree(tmp_path / "published", published_id, ["presentation"], meeting_id="migrated-1")
    write_tree(tmp_path / "unpublished", unpublished_id, ["video"], meeting_id="migrated-2", published=False)
    (tmp_path / "broken.tar").write_bytes(b"not an archive")
    imported = cli("recordings", "import", str(tmp_path), str(tmp_path / "broken.tar"), "--json").json()
    assert {u["record_id"] for u in imported["uploaded"]} == {published_id, unpublished_id, ""}

    def arrived() -> bool:
        return {r["record_id"] for r in cli("recordings", "list", "--state", "any", "--json").json()["recordings"]} >= {
            published_id,
            unpublished_id,
        }

    wait_for(arrived)
    info = cli("recordings", "info", published_id, "--json").json()
    assert (info["meeting_id"], info["state"], info["formats"]) == ("migrated-1", "published", ["presentation"])
    wait_for(lambda: any(f["key"].endswith(".tar") for f in cli("recordings", "failed", "--json").json()["failed"]))
    failed = cli("recordings", "failed", "--json").json()["failed"]
    assert any("not a tar archive" in f["reason"] for f in failed)
    assert cli("recordings", "unpublish", published_id).code == 0
    assert (
        cli("recordings", "list", "--meeting-id", "migrated-1", "--json").json()["recordings"][0]["state"]
        == "unpublished"
    )
    assert cli("recordings", "check", "--json").json()["ok"] is True
    assert cli("recordings", "delete", "--yes", published_id, unpublished_id).code == 0
    assert cli("recordings", "info", "nope-1").code != 0
