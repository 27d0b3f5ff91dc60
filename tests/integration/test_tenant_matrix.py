"""The cross-tenant matrix (issue 12): every BBB endpoint, the playback token route and the recording-ready callback
× the caller {own tenant, other tenant, unknown tenant host, bare URL_HOST, LB secret on a tenant host, multitenancy
off}, through the real API handler over moto and a simulated BBB server.

Each cell is one test: it asserts the answer (returncode:messageKey, or the HTTP status) from the table below, that
the answer shows nothing the caller does not own, and that nothing the caller does not own was written: every
DynamoDB item and every recordings-bucket object that changed belongs to the caller's tenant (servers' load is
shared), and no BBB call about another tenant's meeting reached the server. A caller whose host names no tenant
writes nothing at all. Also: secret rotation within the tenant cache's 10 s window."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3
import jwt
import pytest

from bbbsim import BBBSimulator
from scalelite_common.config import DEFAULT_TENANT, get_settings
from scalelite_common.domain.entities import PlaybackFormat, Recording, RecordingState
from scalelite_common.domain.tenants import Tenant
from scalelite_common.services.context import UNRESOLVED_TENANT
from tests.conftest import TEST_SECRET
from tests.fakes.http import FakePoster
from tests.helpers import sign
from tests.integration.api_support import Reply, call_api, register
from tests.integration.conftest import fresh_settings

pytestmark = pytest.mark.usefixtures("aws")

URL_HOST = "lb.example.com"
BUCKET = "test-recordings"
KEY = "matrix-playback-key-0123456789abcdefABCDEF"
T1 = Tenant(id="0f5c7a52-0000-4000-8000-0000000000a1", name="t1", secrets=("t1-old", "t1-new"))
T2 = Tenant(id="0f5c7a52-0000-4000-8000-0000000000a2", name="t2", secrets=("t2-secret",))
TARGET, BYSTANDER = "m-target", "m-bystander"  # the owner's meeting (every call aims at it), T2's own meeting
RID = "1111111111111111111111111111111111111111-1700000000000"  # the owner's recording
RID2 = "2222222222222222222222222222222222222222-1700000000000"  # T2's recording
SHARED, TOKEN = "(servers)", "(playback token)"  # owners of items that are no tenant's data

SCENARIOS = ("own", "other", "unknown", "bare", "lb-secret", "off")
CALLERS: dict[str, tuple[str, str]] = {  # (host, secret)
    "own": ("t1.lb.example.com", "t1-new"),
    "other": ("t2.lb.example.com", "t2-secret"),
    "unknown": ("t9.lb.example.com", "t1-new"),  # no such tenant (with a real tenant's secret)
    "bare": (URL_HOST, TEST_SECRET),
    "lb-secret": ("t1.lb.example.com", TEST_SECRET),  # the LB secret on a tenant host
    "off": ("t1.lb.example.com", TEST_SECRET),  # multitenancy off: the host names no tenant, the LB secret signs
}


@dataclass
class World:
    scenario: str
    owner: str  # the tenant id owning TARGET and RID: T1, or the default tenant with multitenancy off
    caller: tuple[str, str]
    caller_tenant: str | None  # None: the host and secret name no tenant
    host_tenant: str | None  # the tenant the host alone names (the playback route takes no secret)
    sim: BBBSimulator
    store: Any
    token: str = ""  # a playback token the owner's getRecordings would list for RID's presentation
    private: dict[str, list[str]] = field(default_factory=dict)  # tenant id → texts only its own calls may show

    def bbb(
        self, call: str, params: dict[str, str], *, method: str = "GET", body: bytes = b"", content_type: str = ""
    ) -> Reply:
        host, secret = self.caller
        headers = {**forwarded(host), **({"content-type": content_type} if content_type else {})}
        query = sign(call, urlencode(params), secret=secret)
        return call_api(method, f"/bigbluebutton/api/{call}", query, body=body or None, headers=headers)

    def owner_of_meeting(self, meeting_id: str) -> str:
        return {TARGET: self.owner, BYSTANDER: T2.id}.get(meeting_id, "?")

    def owner_of_recording(self, record_id: str) -> str:
        return {RID: self.owner, RID2: T2.id}.get(record_id, "?")


def forwarded(host: str) -> dict[str, str]:
    """A viewer's request as CloudFront hands it to the API: the API's host in Host, the viewer's in
    X-Forwarded-Host (set by cloudfront/functions/api.js)."""
    return {"host": "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-host": host}


def _as(caller: tuple[str, str], call: str, params: dict[str, str]) -> Reply:
    return call_api(
        "GET",
        f"/bigbluebutton/api/{call}",
        sign(call, urlencode(params), secret=caller[1]),
        headers={"host": caller[0]},
    )


def _recording(record_id: str, tenant_id: str, meeting_id: str, name: str) -> Recording:
    return Recording(
        record_id=record_id,
        tenant_id=tenant_id,
        meeting_id=meeting_id,
        name=name,
        state=RecordingState.PUBLISHED,
        published=True,
        protected=True,
        start_time=1_700_000_000_000,
        end_time=1_700_000_060_000,
        formats={"presentation": PlaybackFormat("presentation", f"/playback/presentation/2.3/{record_id}", 1)},
    )


def _put_files(record_id: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    for name in ("metadata.xml", "shapes.svg"):
        s3.put_object(Bucket=BUCKET, Key=f"protected/presentation/{record_id}/{name}", Body=b"x")


def build_world(scenario: str, env: pytest.MonkeyPatch, store: Any, sim: BBBSimulator) -> World:
    env.setenv("MULTITENANCY_ENABLED", "true")
    env.setenv("URL_HOST", URL_HOST)
    env.setenv("PROTECTED_RECORDINGS_ENABLED", "true")
    env.setenv("PLAYBACK_COOKIE_SECRET", KEY)
    fresh_settings()
    store.add_tenant(T1)
    store.add_tenant(T2)
    register(store, sim, "a")
    bystander = {
        "meetingID": BYSTANDER,
        "name": "Bystander Room",
        "moderatorPW": "bystander-pw",
        "meta_bbb-recording-ready-url": "https://t2-lms.example/ready",
    }
    assert _as(CALLERS["other"], "create", bystander).text("returncode") == "SUCCESS"
    sim.add_attendee(BYSTANDER, "Bystander Attendee")  # running: isMeetingRunning and chat tell it from an empty one
    store.save_recording(_recording(RID2, T2.id, BYSTANDER, "Bystander Recording"), previous=None)
    _put_files(RID2)
    owner, owner_caller = T1.id, CALLERS["own"]
    if scenario == "off":  # switched off after the tenants made their meetings and recordings
        env.setenv("MULTITENANCY_ENABLED", "false")
        fresh_settings()
        owner, owner_caller = DEFAULT_TENANT, CALLERS["off"]
    target = {
        "meetingID": TARGET,
        "name": "Target Room",
        "moderatorPW": "target-pw",
        "meta_bbb-recording-ready-url": "https://owner-lms.example/ready",
    }
    assert _as(owner_caller, "create", target).text("returncode") == "SUCCESS"
    sim.add_attendee(TARGET, "Target Attendee")
    store.save_recording(_recording(RID, owner, TARGET, "Target Recording"), previous=None)
    _put_files(RID)
    from scalelite_common.services import wiring

    caller_tenant = {"own": T1.id, "other": T2.id, "off": DEFAULT_TENANT}.get(scenario)
    host_tenant = T1.id if scenario == "lb-secret" else caller_tenant
    world = World(scenario, owner, CALLERS[scenario], caller_tenant, host_tenant, sim, store)
    world.token = wiring.container().playback.token(owner, RID, "presentation")
    meetings = {m["meetingID"]: m for m in sim.state()["meetings"]}
    assert set(meetings) == {TARGET, BYSTANDER}
    world.private = {
        owner: [
            "Target Room",
            "target-pw",
            "Target Attendee",
            "Target Recording",
            *([T1.id] if owner == T1.id else []),
        ],
        T2.id: ["Bystander Room", "bystander-pw", "Bystander Attendee", "Bystander Recording", T2.id],
    }
    return world


# ------------------------------------------------------------------------------------------- the snapshot
Snapshot = dict[tuple[str, str], Any]


def snapshot() -> Snapshot:
    """Every DynamoDB item (by table and key) and every recordings-bucket object (by key, its ETag)."""
    dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
    seen: Snapshot = {}
    for table in dynamodb.tables.all():
        keys = [k["AttributeName"] for k in table.key_schema]
        for item in table.scan()["Items"]:  # a handful of items: one page
            seen[(table.name, json.dumps([item[k] for k in keys]))] = item
    s3 = boto3.client("s3", region_name="us-east-1")
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        seen[("s3", obj["Key"])] = obj["ETag"]
    return seen


def owner_of(world: World, where: tuple[str, str], item: Any) -> str:
    """Whose data a changed item or object is."""
    table, key = where
    if table == "s3":
        return world.owner_of_recording(key.split("/")[2])
    if table == get_settings().servers_table:  # load counters: no tenant's data
        return SHARED
    if isinstance(item, dict):
        if item.get("tenant_id"):
            return str(item["tenant_id"])
        pk = str(item.get("pk") or item.get("record_id") or "")
        if pk.startswith("jti#playback#"):
            return TOKEN
        if pk.startswith("#counts#"):
            return pk.removeprefix("#counts#")
        if item.get("meeting_pk"):
            return str(item["meeting_pk"]).split("#", 1)[0]
    return "?"


def changed(before: Snapshot, after: Snapshot) -> dict[tuple[str, str], Any]:
    return {k: after.get(k, before.get(k)) for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


# --------------------------------------------------------------------------------------------- endpoints
def _outcome(reply: Reply) -> str:
    if 300 <= reply.status < 400:
        return f"redirect {reply.status}"
    if reply.headers.get("content-type", "").startswith("application/json"):
        response = json.loads(reply.body)["response"]
        return f"{response['returncode']}:{response.get('messageKey', '')}"
    if reply.xml is None:
        return f"HTTP {reply.status}"
    running = reply.xml.findtext("running") if reply.xml.find("meetingName") is None else None  # isMeetingRunning
    suffix = f" running={running}" if running is not None else ""
    return f"{reply.text('returncode')}:{reply.text('messageKey')}{suffix}"


def _put_text_track(w: World) -> Reply:
    boundary = "matrixboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="en.vtt"\r\n'
        "Content-Type: text/vtt\r\n\r\nWEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhello\n"
        f"\r\n--{boundary}--\r\n"
    ).encode()
    params = {"recordID": RID, "kind": "subtitles", "lang": "en"}
    content_type = f"multipart/form-data; boundary={boundary}"
    return w.bbb("putRecordingTextTrack", params, method="POST", body=body, content_type=content_type)


def _playback(w: World, token: str | None = None) -> Reply:
    query = f"token={token or w.token}"
    return call_api("GET", f"/recording/{RID}/presentation", query, headers=forwarded(w.caller[0]))


def _playback_own_token(w: World) -> Reply:
    """A token minted for RID with the caller's tenant in `tid` (as if its getRecordings had listed RID)."""
    from scalelite_common.services import wiring

    tenant = w.host_tenant or UNRESOLVED_TENANT
    return _playback(w, wiring.container().playback.token(tenant, RID, "presentation"))


def _callback(w: World) -> Reply:
    """The caller names its own recording-ready URL for TARGET (create); then the callback the importer would queue
    for RID (tenant from the recording, URL from that tenant's callback data) is delivered."""
    return w.bbb("create", {"meetingID": TARGET, "name": "Mine", "meta_bbb-recording-ready-url": _lms(w)})


def _lms(w: World) -> str:
    return f"https://{w.scenario}-lms.example/ready"


def _describe_callback(w: World, reply: Reply) -> str:
    from scalelite_common.services.callbacks import CallbackDelivery

    recording = w.store.get_recording(RID)
    callbacks = w.store.get_callbacks(recording.tenant_id, recording.meeting_id)
    message = {
        "kind": "recording_ready",
        "url": callbacks.recording_ready_url,
        "tenant_id": recording.tenant_id,
        "meeting_id": recording.meeting_id,
        "record_id": RID,
    }
    settings = get_settings()
    poster = FakePoster(200)
    CallbackDelivery(poster, settings, tenants=w.store if settings.multitenancy_enabled else None).deliver(message)
    [posted] = poster.posts
    signers = {"t1": T1.secrets, "t2": T2.secrets, "lb": (TEST_SECRET,)}
    token = posted.fields["signed_parameters"]
    signer = [name for name, secrets in signers.items() if any(_signed_by(token, s) for s in secrets)]
    return f"{_outcome(reply)} -> {urlsplit(posted.url).hostname} signed {'+'.join(signer)}"


def _signed_by(token: str, secret: str) -> bool:
    try:
        jwt.decode(token, secret, algorithms=["HS256", "HS512"])
    except jwt.PyJWTError:
        return False
    return True


@dataclass(frozen=True)
class Endpoint:
    run: Callable[[World], Reply]
    describe: Callable[[World, Reply], str] | None = None
    secretless: bool = False  # the host alone picks the tenant (no checksum)
    effect: Callable[[World], None] | None = None  # what the owner's successful call must have done


def _get(call: str, **params: str) -> Callable[[World], Reply]:
    return lambda w: w.bbb(call, dict(params))


def _ended(w: World) -> None:
    assert w.store.get_meeting(w.owner, TARGET) is None


def _unpublished(w: World) -> None:
    assert not w.store.get_recording(RID).published


def _updated(w: World) -> None:
    assert w.store.get_recording(RID).metadata.get("x") == "y"


def _deleted(w: World) -> None:
    recording = w.store.get_recording(RID)
    assert recording is None or recording.state is RecordingState.DELETED


def _captioned(w: World) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.head_object(Bucket=BUCKET, Key=f"protected/presentation/{RID}/caption_en.vtt")


DOC = b'<modules><module name="presentation"><document url="https://x.example/a.pdf"/></module></modules>'
JOIN = {"meetingID": TARGET, "fullName": "U", "role": "MODERATOR"}
ENDPOINTS: dict[str, Endpoint] = {
    "create": Endpoint(_get("create", meetingID=TARGET, name="Mine")),
    "join": Endpoint(_get("join", **JOIN)),
    "isMeetingRunning": Endpoint(_get("isMeetingRunning", meetingID=TARGET)),
    "getMeetingInfo": Endpoint(_get("getMeetingInfo", meetingID=TARGET)),
    "getMeetings": Endpoint(_get("getMeetings")),
    "end": Endpoint(_get("end", meetingID=TARGET), effect=_ended),
    "insertDocument": Endpoint(
        lambda w: w.bbb("insertDocument", {"meetingID": TARGET}, method="POST", body=DOC, content_type="text/xml")
    ),
    "sendChatMessage": Endpoint(_get("sendChatMessage", meetingID=TARGET, message="hello")),
    "getRecordings": Endpoint(_get("getRecordings")),
    "getRecordings-recordID": Endpoint(_get("getRecordings", recordID=RID)),
    "getRecordings-meetingID": Endpoint(_get("getRecordings", meetingID=TARGET)),
    "getRecordings-both": Endpoint(_get("getRecordings", recordID=f"{RID},{RID2}")),  # each caller sees its own
    "getRecordings-prefix": Endpoint(_get("getRecordings", recordID=RID[:40])),  # recordID prefixes match
    "publishRecordings": Endpoint(_get("publishRecordings", recordID=RID, publish="false"), effect=_unpublished),
    "publishRecordings-both": Endpoint(
        _get("publishRecordings", recordID=f"{RID},{RID2}", publish="false"), effect=_unpublished
    ),
    # Scalelite: every listed id must be the tenant's, else nothing is updated (`updated` false)
    "updateRecordings-both": Endpoint(
        _get("updateRecordings", recordID=f"{RID},{RID2}", meta_x="y"),
        describe=lambda _w, r: f"{_outcome(r)} updated={r.text('updated')}",
    ),
    "deleteRecordings-both": Endpoint(_get("deleteRecordings", recordID=f"{RID},{RID2}"), effect=_deleted),
    "updateRecordings": Endpoint(_get("updateRecordings", recordID=RID, meta_x="y"), effect=_updated),
    "deleteRecordings": Endpoint(_get("deleteRecordings", recordID=RID), effect=_deleted),
    "getRecordingTextTracks": Endpoint(_get("getRecordingTextTracks", recordID=RID)),
    "putRecordingTextTrack": Endpoint(_put_text_track, effect=_captioned),
    "playback": Endpoint(_playback, secretless=True),  # the owner's token, on the caller's host
    "playback-callers-token": Endpoint(_playback_own_token, secretless=True),
    "recordingReady": Endpoint(_callback, describe=_describe_callback),
}

CHK = "FAILED:checksumError"
NF = "FAILED:notFound"
# endpoint → the answer per scenario: own, other, unknown, bare, lb-secret, off (off: the default tenant's own calls)
EXPECTED: dict[str, tuple[str, str, str, str, str, str]] = {
    "create": ("SUCCESS:duplicateWarning", "FAILED:idNotUnique", CHK, CHK, CHK, "SUCCESS:duplicateWarning"),
    "join": ("redirect 302", NF, CHK, CHK, CHK, "redirect 302"),
    "isMeetingRunning": (
        "SUCCESS: running=true",
        "SUCCESS: running=false",
        CHK,
        CHK,
        CHK,
        "SUCCESS: running=true",
    ),
    "getMeetingInfo": ("SUCCESS:", NF, CHK, CHK, CHK, "SUCCESS:"),
    "getMeetings": ("SUCCESS:", "SUCCESS:", CHK, CHK, CHK, "SUCCESS:"),  # what each lists: test_get_meetings_lists
    "end": ("SUCCESS:sentEndMeetingRequest", NF, CHK, CHK, CHK, "SUCCESS:sentEndMeetingRequest"),
    "insertDocument": ("SUCCESS:", NF, CHK, CHK, CHK, "SUCCESS:"),
    "sendChatMessage": ("SUCCESS:", NF, CHK, CHK, CHK, "SUCCESS:"),
    "getRecordings": ("SUCCESS:", "SUCCESS:", CHK, CHK, CHK, "SUCCESS:"),  # T2 sees its own: RID2
    "getRecordings-recordID": ("SUCCESS:", "SUCCESS:noRecordings", CHK, CHK, CHK, "SUCCESS:"),
    "getRecordings-meetingID": ("SUCCESS:", "SUCCESS:noRecordings", CHK, CHK, CHK, "SUCCESS:"),
    "getRecordings-both": ("SUCCESS:", "SUCCESS:", CHK, CHK, CHK, "SUCCESS:"),
    "getRecordings-prefix": ("SUCCESS:", "SUCCESS:noRecordings", CHK, CHK, CHK, "SUCCESS:"),
    "publishRecordings": ("SUCCESS:", NF, CHK, CHK, CHK, "SUCCESS:"),
    # one of the two ids is the caller's (T2's RID2 for `other`): only that one is changed (the write check)
    "publishRecordings-both": ("SUCCESS:", "SUCCESS:", CHK, CHK, CHK, "SUCCESS:"),
    "updateRecordings-both": (
        "SUCCESS: updated=false",
        "SUCCESS: updated=false",
        f"{CHK} updated=",
        f"{CHK} updated=",
        f"{CHK} updated=",
        "SUCCESS: updated=false",
    ),
    "deleteRecordings-both": ("SUCCESS:", "SUCCESS:", CHK, CHK, CHK, "SUCCESS:"),
    "updateRecordings": ("SUCCESS:", NF, CHK, CHK, CHK, "SUCCESS:"),
    "deleteRecordings": ("SUCCESS:", NF, CHK, CHK, CHK, "SUCCESS:"),
    "getRecordingTextTracks": (
        "FAILED:noCaptionsFound",
        "FAILED:noRecordings",
        CHK,
        CHK,
        CHK,
        "FAILED:noCaptionsFound",
    ),
    "putRecordingTextTrack": (
        "SUCCESS:upload_text_track_success",
        "FAILED:noRecordings",
        CHK,
        CHK,
        CHK,
        "SUCCESS:upload_text_track_success",
    ),
    "playback": ("redirect 307", "HTTP 404", "HTTP 404", "HTTP 404", "redirect 307", "redirect 307"),
    "playback-callers-token": ("redirect 307", "HTTP 404", "HTTP 404", "HTTP 404", "redirect 307", "redirect 307"),
    "recordingReady": (
        "SUCCESS:duplicateWarning -> own-lms.example signed t1",
        "FAILED:idNotUnique -> owner-lms.example signed t1",
        f"{CHK} -> owner-lms.example signed t1",
        f"{CHK} -> owner-lms.example signed t1",
        f"{CHK} -> owner-lms.example signed t1",
        "SUCCESS:duplicateWarning -> off-lms.example signed lb",
    ),
}
assert set(EXPECTED) == set(ENDPOINTS)

CELLS = [
    pytest.param(endpoint, scenario, answers[i], id=f"{endpoint}-{scenario}")
    for endpoint, answers in EXPECTED.items()
    for i, scenario in enumerate(SCENARIOS)
]


@pytest.mark.parametrize(("endpoint", "scenario", "expected"), CELLS)
def test_cell(
    endpoint: str, scenario: str, expected: str, env: pytest.MonkeyPatch, store: Any, sims: list[BBBSimulator]
) -> None:
    world = build_world(scenario, env, store, sims[0])
    spec = ENDPOINTS[endpoint]
    before = snapshot()
    sims[0].clear_requests()

    reply = spec.run(world)
    caller = world.host_tenant if spec.secretless else world.caller_tenant

    assert (spec.describe or (lambda _w, r: _outcome(r)))(world, reply) == expected
    # Nothing the caller does not own is shown...
    shown = reply.body + reply.headers.get("location", "")
    for tenant_id, texts in world.private.items():
        if tenant_id != caller:
            assert not [t for t in texts if t in shown], f"{endpoint} showed {tenant_id}'s data"
    # ... or written (tables, bucket) ...
    allowed = {caller, SHARED, TOKEN} if caller else set()
    writes = {k: owner_of(world, k, v) for k, v in changed(before, snapshot()).items()}
    assert {k: o for k, o in writes.items() if o not in allowed} == {}
    # ... or asked of BBB.
    for request in sims[0].requests:
        for meeting_id in request.params.get("meetingID", []):
            assert world.owner_of_meeting(meeting_id) == caller, (request.call, meeting_id)
    if spec.effect is not None and caller == world.owner:
        spec.effect(world)


# --------------------------------------------------------------------------------------- listings by tenant
@pytest.mark.parametrize("scenario", ["own", "other", "off"])
def test_listings_show_only_the_callers_own(
    scenario: str, env: pytest.MonkeyPatch, store: Any, sims: list[BBBSimulator]
) -> None:
    world = build_world(scenario, env, store, sims[0])
    mine = {"own": TARGET, "off": TARGET, "other": BYSTANDER}[scenario]
    meetings = [m.findtext("meetingID") for m in world.bbb("getMeetings", {}).xml.iter("meeting")]
    assert meetings == [mine]
    recordings = [r.findtext("recordID") for r in world.bbb("getRecordings", {}).xml.iter("recording")]
    assert recordings == [RID2 if scenario == "other" else RID]


# ------------------------------------------------------------------------------------------ secret rotation
def test_secret_rotation_takes_effect_within_the_cache_window(env: pytest.MonkeyPatch, store: Any) -> None:
    """A tenant's secrets `a:b` both sign; after `b:c` the old `a` is refused once the 10 s tenant cache has
    expired (until then the cached tenant still takes it, and `c` is not yet known)."""
    from scalelite_common.services import wiring
    from scalelite_common.services.tenants import TENANT_CACHE_SECONDS, TenantDirectory

    env.setenv("MULTITENANCY_ENABLED", "true")
    env.setenv("URL_HOST", URL_HOST)
    fresh_settings()
    tenant = Tenant(id="0f5c7a52-0000-4000-8000-0000000000a3", name="rot", secrets=("a", "b"))
    store.add_tenant(tenant)
    now = [1000.0]
    container = wiring.container()
    container.__dict__["tenant_directory"] = TenantDirectory(store, clock=lambda: now[0])  # the cached_property

    def answer(secret: str) -> str:
        reply = _as(("rot.lb.example.com", secret), "isMeetingRunning", {"meetingID": "x"})
        return reply.text("returncode") or reply.text("messageKey")

    assert [answer(s) for s in ("a", "b", "c", TEST_SECRET)] == ["SUCCESS", "SUCCESS", "FAILED", "FAILED"]
    store.update_tenant(Tenant(id=tenant.id, name="rot", secrets=("b", "c")), previous=tenant)
    now[0] += TENANT_CACHE_SECONDS - 1  # within the window: the cached secrets
    assert [answer(s) for s in ("a", "b", "c")] == ["SUCCESS", "SUCCESS", "FAILED"]
    now[0] += 1.5  # past it: the new secrets, and the LB secret is still no tenant's
    assert [answer(s) for s in ("a", "b", "c", TEST_SECRET)] == ["FAILED", "SUCCESS", "SUCCESS", "FAILED"]
    assert _as(("rot.lb.example.com", "a"), "isMeetingRunning", {"meetingID": "x"}).text("messageKey") == (
        "checksumError"
    )
