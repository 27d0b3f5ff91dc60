"""Recordings benchmarks, next to the targets of the recordings issue. moto runs as a server in a process of its own
(as S3 and DynamoDB are other machines), one fresh server per section; figures are printed, never asserted.

1. Import of a large archive: BENCH_RECORDING_MB (default 1024; `make bench` uses the default) of tar on local disk,
   built by a generator (4 large media files + 2,000 files of 2–6 KiB, never held in memory), uploaded to the spool
   bucket under `imports/` (no origin needed) in one PUT (as a BBB server's presigned upload), then
   `RecordingImporter.import_object` in a child process whose peak RSS is measured (its own VmHWM: ru_maxrss would
   carry this process's peak, see _IMPORT). Target: peak RSS ≤ 256 MiB. Throughput is the
   archive's size over the import's wall time (the importer reads the archive twice: validate, then copy), next to
   two plain boto3 transfers of the same bytes with the same TransferConfig: a streamed get_object → upload_fileobj
   (one read and one write through the client) and a managed `s3.copy` (server-side UploadPartCopy).
2. getRecordings with 1k, 10k and 100k recordings stored (BatchWrite of RecordingItem items + the counters item; when
   the 100k load would take over LOAD_BUDGET seconds in moto, 20k, and the printed line says so): one meeting's
   recordings, one recordID, the first `limit=100` page, and deeper pages (offset 500 and 5000, limit 100): DynamoDB
   requests (PynamoDB's API-call hook) and time (median of REPEAT; deep pages: one call). Target: ≤ 2 requests, flat
   across sizes; deep pages grow with the offset, not the table. moto answers an index Query by going over the whole
   table, which real DynamoDB does not: the wall time grows with the table in moto, so the client's CPU time is
   printed as well, and offset 5000 (51 Queries) is not run on the 100k table (≈ 8 min in moto).
3. publishRecordings (publish=false) of a 2,000-file recording: wall time of `RecordingService.publish` (2,000
   HEADs and copies, 32 at a time, the store, the deletes), with the S3 requests it made and moto's own cost per
   request (moto serves one at a time). Target: within the API's 30 s timeout.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.bench_api import counting_round_trips
from bench.common import moto_process, use_bench_env

SECRET = "bench-secret"
SPOOL, BUCKET = "bench-spool", "bench-recordings"
MiB = 1024 * 1024
ARCHIVE_MB = int(os.environ.get("BENCH_RECORDING_MB", "1024"))
LARGE_FILES = 4
SMALL_FILES = 2000
RSS_TARGET_MB = 256
SIZES = (1_000, 10_000, 100_000)
FALLBACK_SIZE = 20_000  # when loading SIZES[-1] into moto would take over LOAD_BUDGET
DEEP_MAX_TABLE = 10_000  # offset=5000 runs on tables up to this size: 51 Queries of ≈ 9 s each in moto at 100k
LOAD_BUDGET = 180.0  # seconds
PER_MEETING = 10  # recordings per meeting in the listing benchmark, at every size
REPEAT = 3
PUBLISH_FILES = 2000
API_TIMEOUT = 30.0

# The importer, alone in its process: prints what it did, its wall time, its S3 requests and its memory (VmRSS before,
# VmHWM after: the peak of its own address space. Not ru_maxrss: Linux carries the parent's peak into the child's
# across vfork + exec, which is how subprocess starts it).
_IMPORT = """
import json, sys, threading, time
from collections import Counter
from botocore.client import BaseClient
from scalelite_common.services import wiring

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0

requests, lock, original = Counter(), threading.Lock(), BaseClient._make_api_call
def counted(self, operation, params):
    if self.meta.service_model.service_name == "s3":
        with lock:
            requests[operation] += 1
    return original(self, operation, params)
BaseClient._make_api_call = counted

container = wiring.container()
importer = container.importer
container.store  # binds the models to the endpoint
rss_before = status("VmRSS")
t0 = time.monotonic()
result = importer.import_object(sys.argv[1], sys.argv[2])
wall = time.monotonic() - t0
print(json.dumps({"status": result.status, "reason": result.reason, "record_id": result.record_id,
                  "formats": result.formats, "wall": wall, "rss_before": rss_before, "hwm": status("VmHWM"),
                  "s3": dict(requests)}))
"""


# ----------------------------------------------------------------------------------------------- infrastructure
@contextmanager
def moto_server() -> Iterator[str]:
    """A fresh moto server in its own process, AWS_ENDPOINT_URL pointing at it, the tables and buckets created."""
    from scalelite_common.db.models import create_tables
    from scalelite_common.services import wiring

    with moto_process() as (endpoint, _), _restored_env():
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "SPOOL_BUCKET": SPOOL, "RECORDINGS_BUCKET": BUCKET})
        os.environ.pop("CALLBACK_QUEUE_URL", None)
        wiring.reset_all()
        wiring.store()  # binds the models to the endpoint
        create_tables(wait=True)
        s3 = s3_client(endpoint)
        for bucket in (SPOOL, BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield endpoint


@contextmanager
def _restored_env() -> Iterator[None]:
    """Forget the endpoint and buckets `moto_server` set, and the clients bound to them."""
    from scalelite_common.services import wiring

    try:
        yield
    finally:
        for name in ("AWS_ENDPOINT_URL", "SPOOL_BUCKET", "RECORDINGS_BUCKET"):
            os.environ.pop(name, None)
        wiring.reset_all()


def s3_client(endpoint: str) -> Any:
    """The bench's own S3 client. No flexible checksums: moto 5.1 answers a GET of a multipart object with the
    checksum of its parts' checksums as if it were the whole object's, which botocore then rejects."""
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=32,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint, config=config)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """fn()'s result, its wall and its client CPU seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - t0, time.process_time() - c0


# ------------------------------------------------------------------------------------------------ 1. the import
class _Filler(io.RawIOBase):
    """`size` bytes of a repeated random block, produced as they are read (a large media file, never in memory)."""

    def __init__(self, size: int, block: bytes) -> None:
        self._left = size
        self._block = block
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._left, len(self._block) - self._pos)
        view[:n] = self._block[self._pos : self._pos + n]
        self._pos = (self._pos + n) % len(self._block)
        self._left -= n
        return n


def build_archive(path: Path, record_id: str, total_mb: int) -> tuple[int, int]:
    """A recording archive at `path`: presentation (metadata.xml, SMALL_FILES slides/thumbnails/shapes of 2–6 KiB,
    2 webcam/deskshare files) and video (metadata.xml, 2 files); the 4 large files make up the rest of `total_mb`.
    Returns (members, bytes of the archive)."""
    from tests.recordings_support import metadata_xml

    rng = random.Random(20250101)
    block = rng.randbytes(MiB)
    small_sizes = [rng.randint(2048, 6144) for _ in range(SMALL_FILES)]
    large = max(1, (total_mb * MiB - sum(small_sizes)) // LARGE_FILES)
    large_files = {
        "presentation": ["video/webcams.webm", "deskshare/deskshare.webm"],
        "video": ["video-0.m4v", "video-1.m4v"],
    }
    members = 0

    def add(tar: tarfile.TarFile, name: str, size: int, body: io.RawIOBase | io.BytesIO) -> None:
        nonlocal members
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(time.time())
        tar.addfile(info, body)
        members += 1

    with tarfile.TarFile(path, mode="w", format=tarfile.PAX_FORMAT, copybufsize=MiB) as tar:
        for fmt in ("presentation", "video"):
            meta = metadata_xml(record_id, fmt, meeting_id="bench-class", name="Bench class")
            add(tar, f"{fmt}/{record_id}/metadata.xml", len(meta), io.BytesIO(meta))
            if fmt == "presentation":
                for n, size in enumerate(small_sizes):
                    doc = f"d{n // 200}"
                    kind = ("slide-{}.png", "thumbnails/thumb-{}.png", "shapes-{}.svg", "text/slide-{}.txt")[n % 4]
                    name = f"{fmt}/{record_id}/presentation/{doc}/{kind.format(n)}"
                    add(tar, name, size, io.BytesIO(block[(n * 4096) % (MiB - size) :][:size]))
            for name in large_files[fmt]:
                add(tar, f"{fmt}/{record_id}/{name}", large, _Filler(large, block))
    return members, path.stat().st_size


def _run_importer(key: str) -> tuple[dict[str, Any], float]:
    """The importer in a child process: (its report, the child's whole wall time)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT, SPOOL, key], capture_output=True, text=True, check=False, timeout=3600
    )
    wall = time.monotonic() - started
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"the importer failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report, wall


def import_bench() -> dict[str, float]:
    from scalelite_common.aws.s3 import TRANSFER
    from tests.recordings_support import record_id_for

    started = time.monotonic()
    record_id = record_id_for("bench-class")
    key = f"imports/bench/{record_id}.tar"
    print(
        f"== Recordings: import of a {ARCHIVE_MB} MiB archive ({LARGE_FILES} large media files + {SMALL_FILES:,} files"
        f" of 2–6 KiB) from the spool, in a child process (target: peak RSS ≤ {RSS_TARGET_MB} MiB)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-recordings-") as tmp, moto_server() as endpoint:
        path = Path(tmp) / "recording.tar"
        t0 = time.monotonic()
        members, size = build_archive(path, record_id, ARCHIVE_MB)
        built = time.monotonic() - t0
        s3 = s3_client(endpoint)
        t0 = time.monotonic()
        with path.open("rb") as archive:  # one PUT, as a BBB server's presigned upload (bbb-server/post_publish.py)
            s3.put_object(Bucket=SPOOL, Key=key, Body=archive, ContentLength=size, ContentType="application/x-tar")
        uploaded = time.monotonic() - t0
        path.unlink()  # the spool has it now
        size_mb = size / MiB
        print(
            f"  archive: {members:,} members, {size_mb:,.0f} MiB, built on disk in {built:.1f} s, uploaded to the "
            f"spool in {uploaded:.1f} s ({size_mb / uploaded:.0f} MiB/s)"
        )

        # The plain boto3 transfers first: the import deletes the spool object.
        t0 = time.monotonic()
        body = s3.get_object(Bucket=SPOOL, Key=key)["Body"]
        s3.upload_fileobj(body, BUCKET, "bench/stream-copy.tar", Config=TRANSFER)
        streamed = time.monotonic() - t0
        s3.delete_object(Bucket=BUCKET, Key="bench/stream-copy.tar")
        t0 = time.monotonic()
        s3.copy({"Bucket": SPOOL, "Key": key}, BUCKET, "bench/managed-copy.tar", Config=TRANSFER)
        copied = time.monotonic() - t0
        s3.delete_object(Bucket=BUCKET, Key="bench/managed-copy.tar")

        report, child_wall = _run_importer(key)
        listed = [
            obj
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="published/")
            for obj in page.get("Contents", [])
        ]
        stored_mb = sum(int(obj["Size"]) for obj in listed) / MiB
    wall, peak = float(report["wall"]), float(report["hwm"])
    verdict = "ok" if peak <= RSS_TARGET_MB else "OVER TARGET"
    ops = ", ".join(f"{k}×{v:,}" for k, v in sorted(report["s3"].items(), key=lambda kv: -kv[1]))
    print(
        f"  importer: {report['status']} {report['formats']} ({len(listed):,} objects, {stored_mb:,.0f} MiB stored) in"
        f" {wall:.1f} s = {size_mb / wall:.1f} MiB/s of archive (it reads the archive twice: validate, then copy;"
        f" child process {child_wall:.1f} s in all)"
    )
    print(f"            S3 requests: {ops}")
    print(
        f"  importer peak RSS {peak:.0f} MiB (the child's VmHWM; {report['rss_before']:.0f} MiB before the import)"
        f"  (≤ {RSS_TARGET_MB} MiB) {verdict}"
    )
    print(
        f"  plain boto3, same bytes, same TransferConfig: get_object → upload_fileobj stream {size_mb / streamed:.1f}"
        f" MiB/s ({streamed:.1f} s: one read, one write); s3.copy (server-side UploadPartCopy) {size_mb / copied:.1f}"
        f" MiB/s ({copied:.1f} s)"
    )
    print(
        f"  (section {time.monotonic() - started:.0f} s; BENCH_RECORDING_MB={ARCHIVE_MB}, `make bench` runs the"
        " default 1024)"
    )
    return {"rss_mb": peak, "import_mib_s": size_mb / wall, "stream_mib_s": size_mb / streamed}


# ----------------------------------------------------------------------------------------- 2. getRecordings
def _template(record_id: str) -> Any:
    from scalelite_common.domain.entities import PlaybackFormat, Recording, Thumbnail

    return Recording(
        record_id=record_id,
        tenant_id="default",
        meeting_id="",
        name="",
        participants=20,
        raw_size=95_830_302,
        internal_meeting_id=record_id,
        metadata={"bbb-origin": "Moodle", "bbb-origin-version": "4.1", "gl-listed": "false", "bbb-context": "Course"},
        formats={
            "presentation": PlaybackFormat(
                format="presentation",
                url=f"/playback/presentation/2.3/{record_id}",
                length=78,
                processing_time=652_354,
                size=59_181_388,
                thumbnails=[
                    Thumbnail(f"/presentation/{record_id}/presentation/d1/thumbnails/thumb-{n}.png", "176", "136", "")
                    for n in (1, 2, 3)
                ],
            ),
            "video": PlaybackFormat(format="video", url=f"/playback/video/{record_id}/", length=78, size=120_000_000),
        },
        server_id="bbb1",
        ready_notified=True,
        updated_at=int(time.time()),
        version=1,
    )


def _recording(i: int) -> Any:
    """Recording number i: meeting `class-<i // PER_MEETING>`, one minute after recording i − 1."""
    from tests.recordings_support import START_MS, record_id_for

    meeting = f"class-{i // PER_MEETING}"
    start = START_MS + i * 60_000
    record_id = record_id_for(meeting, start)
    return dataclasses.replace(
        _template(record_id),
        meeting_id=meeting,
        name=f"Class {i // PER_MEETING}",
        start_time=start,
        end_time=start + 4_684_838,
    )


def load(first: int, last: int, total: int) -> float:
    """Write recordings first..last−1 (BatchWrite, 25 per request, 4 writers) and the counters item for `total`."""
    from scalelite_common.db.models import RecordingCountsItem, RecordingItem
    from scalelite_common.db.recordings import _item, counts_key

    t0 = time.monotonic()

    def write(chunk: range) -> None:
        with RecordingItem.batch_write() as batch:
            for i in chunk:
                batch.save(_item(_recording(i)))

    step = 2_500
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, [range(s, min(s + step, last)) for s in range(first, last, step)]))
    RecordingCountsItem(counts_key("default"), published=total).save()
    return time.monotonic() - t0


def get_recordings_bench() -> dict[str, float]:
    from scalelite_common.services import context, wiring

    started = time.monotonic()
    print(
        f"== Recordings: getRecordings with {' / '.join(f'{n:,}' for n in SIZES)} recordings stored (targets: ≤ 2 "
        "DynamoDB requests and flat time for a meeting, a recordID, the first page; deep pages grow with the offset)"
    )
    figures: dict[str, float] = {}
    rows: dict[str, list[str]] = {}
    with moto_server():
        settings = wiring.container().settings
        service = wiring.container().recordings
        ctx = context.resolve(settings, host="lb.example.com")
        loaded = 0
        sizes = list(SIZES)
        for n, size in enumerate(sizes):
            took = load(loaded, size, size)
            rate = (size - loaded) / took
            print(f"  {size:,} recordings: loaded {size - loaded:,} more in {took:.1f} s ({rate:,.0f}/s)")
            loaded = size
            if n + 1 < len(sizes) and (sizes[n + 1] - size) / rate > LOAD_BUDGET:
                estimate = (sizes[n + 1] - size) / rate
                print(
                    f"  ({sizes[n + 1]:,} would take ≈ {estimate:.0f} s to load into moto (> {LOAD_BUDGET:.0f} s): "
                    f"{FALLBACK_SIZE:,} instead)"
                )
                sizes[n + 1] = max(FALLBACK_SIZE, size + 1)
            probe = _recording(size // 2)
            queries: list[tuple[str, list[tuple[str, str]], int]] = [
                (f"meetingID ({PER_MEETING} recordings)", [("meetingID", probe.meeting_id)], 2),
                ("recordID", [("recordID", probe.record_id)], 2),
                ("first page, limit=100", [("limit", "100")], 2),
                ("offset=500, limit=100", [("offset", "500"), ("limit", "100")], 0),
                ("offset=5000, limit=100", [("offset", "5000"), ("limit", "100")], 0),
            ]
            for label, params, target in queries:
                if label.startswith("offset=5000") and size > DEEP_MAX_TABLE:
                    rows.setdefault(label, []).append(
                        f"    {size:>7,}: not run (in moto each of its 51 Queries goes over the whole table: ≈ 8 min "
                        f"at 100,000); its requests depend on the offset only, as at {DEEP_MAX_TABLE:,}"
                    )
                    continue
                call = functools.partial(service.get_recordings, ctx, params)
                with counting_round_trips() as counts:
                    listing, wall, cpu = _timed(call)  # the first call (cold), counted
                timing = "1 call"
                if target:  # the cheap ones: the median of REPEAT more (a deep page costs seconds per call in moto)
                    runs = [_timed(call)[1:] for _ in range(REPEAT)]
                    wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
                    timing = f"median of {REPEAT}"
                requests = sum(counts.values())
                ops = ", ".join(f"{k}×{v}" for k, v in counts.items())
                verdict = ("ok" if requests <= target else "OVER TARGET") if target else ""
                goal = f"(≤ {target})" if target else "(grows with offset)"
                total = "" if listing.total is None else f", totalElements {listing.total:,}"
                rows.setdefault(label, []).append(
                    f"    {size:>7,}: {requests:3d} requests {goal:20s} {verdict:11s} {wall * 1000:8.1f} ms wall, "
                    f"{cpu * 1000:6.1f} ms client CPU ({timing}), {len(listing.recordings)} recordings{total} [{ops}]"
                )
                figures[f"{label} @{size}"] = wall
    for label, lines in rows.items():
        print(f"  {label}:")
        for line in lines:
            print(line)
    print(
        "  (moto answers an index Query by going over the whole table, DynamoDB by the key: in moto the wall time "
        "grows with the table, the requests and the client CPU do not; a page past the end of the table stops there; "
        f"section {time.monotonic() - started:.0f} s)"
    )
    return figures


# ---------------------------------------------------------------------------------------- 3. publishRecordings
class _Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def counting_s3_requests() -> Iterator[Counter[str]]:
    """S3 requests by operation, counted at botocore's single API-call hook (every client, every thread)."""
    from botocore.client import BaseClient

    counts: Counter[str] = Counter()
    lock = threading.Lock()
    hook = "_make_api_call"  # private, so not in botocore's stubs
    original = getattr(BaseClient, hook)

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "s3":
            with lock:
                counts[operation_name] += 1
        return original(self, operation_name, api_params)

    setattr(BaseClient, hook, counted)
    try:
        yield counts
    finally:
        setattr(BaseClient, hook, original)


def publish_bench() -> dict[str, float]:
    from scalelite_common.domain.entities import PlaybackFormat, Recording
    from scalelite_common.services import context, wiring
    from scalelite_common.services.recordings import MOVE_TIMEOUT, MOVE_WORKERS
    from tests.recordings_support import record_id_for

    record_id = record_id_for("bench-publish")
    print(
        f"== Recordings: publishRecordings (publish=false) of a {PUBLISH_FILES:,}-file recording (target: within the "
        f"API's {API_TIMEOUT:g} s timeout)"
    )
    with moto_server() as endpoint:
        s3 = s3_client(endpoint)
        prefix = f"published/presentation/{record_id}/"
        names = ["metadata.xml"] + [f"presentation/d{n // 200}/slide-{n}.png" for n in range(PUBLISH_FILES - 1)]
        body = random.Random(7).randbytes(4096)
        t0 = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda name: s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=body), names))
        print(
            f"  {len(names):,} objects of 4 KiB put under published/presentation/<id>/ in {time.monotonic() - t0:.1f} s"
        )
        # moto's own cost per S3 request (one at a time; the server applies requests one after the other).
        t0 = time.monotonic()
        for name in names[:200]:
            s3.head_object(Bucket=BUCKET, Key=prefix + name)
        per_request = (time.monotonic() - t0) / 200
        container = wiring.container()
        fmt = PlaybackFormat(format="presentation", url=f"/playback/presentation/2.3/{record_id}", length=78)
        recording = Recording(
            record_id=record_id, tenant_id="default", meeting_id="bench-publish", formats={"presentation": fmt}
        )
        container.store.save_recording(recording, previous=None)
        ctx = context.resolve(container.settings, host="lb.example.com")
        service = container.recordings
        pool_log = logging.getLogger("urllib3.connectionpool")
        discarded = _Counting()
        pool_log.addHandler(discarded)
        pool_log.propagate = False
        failure = ""
        try:
            with counting_round_trips() as dynamodb, counting_s3_requests() as counted:
                t0 = time.monotonic()
                try:
                    service.publish(ctx, [("recordID", record_id), ("publish", "false")])
                except Exception as exc:  # a figure too: e.g. the copies' deadline (MOVE_TIMEOUT) passed
                    failure = f"{type(exc).__name__}: {exc}"
                wall = time.monotonic() - t0
                s3_requests = Counter(counted)  # abandoned copies may still be running: not theirs
        finally:
            pool_log.removeHandler(discarded)
            pool_log.propagate = True

        def count(under: str) -> int:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=under)
            return sum(len(page.get("Contents", [])) for page in pages)

        moved, left = count("unpublished/"), count("published/")
        if failure:  # let the abandoned copies finish before the server goes
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(2)
                settled = count("unpublished/")
                if settled == moved:
                    break
                moved = settled
    ok = not failure and wall <= API_TIMEOUT and moved == len(names) and not left
    outcome = (
        f"{moved:,} objects under unpublished/, {left:,} left under published/"
        if not failure
        else f"FAILED: {failure} (the copies' deadline is {MOVE_TIMEOUT:g} s; {moved:,} copies under unpublished/ "
        "once the abandoned ones settled; the recording stays published)"
    )
    print(f"  publish=false {wall:5.1f} s  (≤ {API_TIMEOUT:g} s) {'ok' if ok else 'OVER TARGET'}: {outcome}")
    total = sum(s3_requests.values())
    print(
        f"  S3 requests: {total:,} [{', '.join(f'{k}×{v:,}' for k, v in s3_requests.most_common())}]; DynamoDB "
        f"[{', '.join(f'{k}×{v}' for k, v in dynamodb.items())}]; {discarded.count:,} urllib3 'pool is full' "
        f"warnings ({MOVE_WORKERS} copy workers)"
    )
    print(
        f"  moto serves one S3 request at a time, {per_request * 1000:.1f} ms each (200 HEADs, one after the other): "
        f"{total:,} requests ≈ {total * per_request:.1f} s of moto alone; S3 serves them {MOVE_WORKERS} at a time"
    )
    return {"publish": wall, "moto_request": per_request}


def main() -> None:
    use_bench_env(SECRET)
    import_bench()
    print()
    get_recordings_bench()
    print()
    publish_bench()


if __name__ == "__main__":
    main()
