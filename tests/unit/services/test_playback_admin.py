"""The player as a versioned artifact (services/admin/playback.py) over in-memory fakes: file-list rules, the
upload → commit → activate sequence and its order, rollback, refusals, status, and --from-server's crawl."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from scalelite_common.bbb.player import PlayerFetchError, asset_manifest_references, html_references
from scalelite_common.config import Settings
from scalelite_common.errors import AdminConflict, AdminError, AdminNotFound, AdminUpstreamError
from scalelite_common.services.admin import playback as pb
from scalelite_common.services.admin.context import AdminContext
from scalelite_common.services.admin.registry import dispatch
from tests.fakes.bbb import FakeBBB
from tests.fakes.objects import InMemoryObjectStore, RecordingEdgeCache
from tests.fakes.player import FakePlayerSource
from tests.fakes.store import InMemoryStore
from tests.unit.services.conftest import add_server

BUCKET = "rec"
ORIGIN = "https://bbb1.example.com"
BASE = ORIGIN + "/playback/presentation/2.3/"


class LoggingObjects(InMemoryObjectStore):
    """Remembers the order of writes: ("put" | "copy" | "delete", key)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str]] = []

    def put(self, bucket: str, key: str, *args: Any, **kwargs: Any) -> None:
        super().put(bucket, key, *args, **kwargs)
        self.log.append(("put", key))

    def copy(self, bucket: str, source: str, target: str, *, metadata: Mapping[str, str] | None = None) -> None:
        super().copy(bucket, source, target, metadata=metadata)
        self.log.append(("copy", target))

    def delete(self, bucket: str, keys: Sequence[str]) -> None:
        super().delete(bucket, keys)
        self.log += [("delete", k) for k in keys]


@pytest.fixture
def objects() -> LoggingObjects:
    return LoggingObjects()


@pytest.fixture
def source() -> FakePlayerSource:
    return FakePlayerSource()


@pytest.fixture
def edge() -> RecordingEdgeCache:
    return RecordingEdgeCache()


@pytest.fixture
def admin(
    store: InMemoryStore, objects: LoggingObjects, source: FakePlayerSource, edge: RecordingEdgeCache
) -> AdminContext:
    settings = Settings.from_env({"LOADBALANCER_SECRET": "lb", "RECORDINGS_BUCKET": BUCKET})
    return AdminContext(store=store, client=FakeBBB(), settings=settings, objects=objects, edge=edge, player=source)


def listing(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in files.items()]


BUILD_A = {
    "index.html": b"<html>A</html>",
    "static/js/main.a1.js": b"console.log('a')",
    "static/css/main.a1.css": b"body{}",
    "static/media/font.woff2": b"\x00woff2",
}
BUILD_B = {"index.html": b"<html>B</html>", "static/js/main.b2.js": b"console.log('b')"}


def upload(admin: AdminContext, objects: InMemoryObjectStore, files: dict[str, bytes], **kw: Any) -> str:
    """What `scalelite playback install DIR` does, with the PUTs done straight into the fake."""
    prepared = dispatch("playback.prepare", {"files": listing(files), **kw}, admin)
    version: str = prepared["version"]
    if not prepared["installed"]:
        grants = dispatch("playback.upload_urls", {"version": version, "paths": list(files)}, admin)["uploads"]
        for grant in grants:
            objects.put(
                BUCKET,
                f"player/{version}/{grant['path']}",
                io.BytesIO(files[grant["path"]]),
                content_type=grant["headers"]["Content-Type"],
                cache_control=grant["headers"]["Cache-Control"],
            )
        dispatch("playback.commit", {"version": version, "files": listing(files), "source": "directory /b"}, admin)
    return version


def live_keys(objects: InMemoryObjectStore) -> set[str]:
    return {k for k in objects.bucket(BUCKET) if k.startswith("playback/presentation/2.3/")}


# ------------------------------------------------------------------------------------------------ the rules
@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("static/js/main.js", "text/javascript; charset=utf-8"),
        ("static/css/main.css", "text/css; charset=utf-8"),
        ("asset-manifest.json", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("static/media/x.woff2", "font/woff2"),
        ("x.wasm", "application/wasm"),
        ("static/media/a.png", "image/png"),
        ("README", "application/octet-stream"),
    ],
)
def test_content_types(path: str, content_type: str) -> None:
    assert pb.content_type(path) == content_type


def test_only_the_root_index_html_is_cached_briefly() -> None:
    assert pb.cache_control("index.html") == "max-age=60"
    assert pb.cache_control("static/js/main.js") == "public, max-age=31536000, immutable"
    assert pb.cache_control("sub/index.html") == "public, max-age=31536000, immutable"


def test_the_content_version_names_the_files_not_their_order() -> None:
    files = pb.parse_files(listing(BUILD_A))
    version = pb.content_version(files)
    assert len(version) == 12 and int(version, 16) >= 0
    assert pb.content_version(list(reversed(files))) == version
    changed = pb.parse_files(listing({**BUILD_A, "index.html": b"<html>A2</html>"}))
    assert pb.content_version(changed) != version


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"static/x.js": b"x"}, "no index.html"),
        ({"index.html": b"x", "../x.js": b"x"}, "Invalid player file path"),
        ({"index.html": b"x", "/abs.js": b"x"}, "Invalid player file path"),
        ({"index.html": b"x", "a//b.js": b"x"}, "Invalid player file path"),
        ({"index.html": b"x", "a b.js": b"x"}, "Invalid player file path"),
        ({"index.html": b"x", "scalelite-player.json": b"{}"}, "reserved"),
    ],
)
def test_file_lists_refused(files: dict[str, bytes], message: str) -> None:
    with pytest.raises(AdminError, match=message):
        pb.parse_files(listing(files))


def test_file_list_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    sha = "0" * 64
    with pytest.raises(AdminError, match="at most 2000"):
        pb.parse_files([{"path": f"f{i}.js", "size": 1, "sha256": sha} for i in range(2001)])
    with pytest.raises(AdminError, match="larger than the limit"):
        pb.parse_files([{"path": "index.html", "size": pb.MAX_FILE_BYTES + 1, "sha256": sha}])
    monkeypatch.setattr(pb, "MAX_TOTAL_BYTES", 10)
    with pytest.raises(AdminError, match="at most 10"):
        pb.parse_files([{"path": "index.html", "size": 6, "sha256": sha}, {"path": "a.js", "size": 6, "sha256": sha}])
    with pytest.raises(AdminError, match="listed twice"):
        pb.parse_files([{"path": "index.html", "size": 1, "sha256": sha}] * 2)
    with pytest.raises(AdminError, match="sha256"):
        pb.parse_files([{"path": "index.html", "size": 1, "sha256": "xyz"}])
    with pytest.raises(AdminError, match="size"):
        pb.parse_files([{"path": "index.html", "size": True, "sha256": sha}])


def test_versions_are_plain_names(admin: AdminContext) -> None:
    for bad in ("", "../x", "a/b", "-x", "x" * 65):
        with pytest.raises(AdminError, match="Invalid player version"):
            dispatch("playback.prepare", {"files": listing(BUILD_A), "version": bad}, admin)


def test_the_file_list_must_be_a_list(admin: AdminContext) -> None:
    with pytest.raises(AdminError, match="'files' must be a list"):
        dispatch("playback.prepare", {"files": "index.html"}, admin)


# ------------------------------------------------------------------------------------- upload and activate
def test_upload_urls_carry_the_content_type_and_cache_control(admin: AdminContext) -> None:
    grants = dispatch("playback.upload_urls", {"version": "v1", "paths": ["index.html", "static/js/a.js"]}, admin)
    by_path = {g["path"]: g for g in grants["uploads"]}
    assert by_path["index.html"]["headers"] == {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "max-age=60",
    }
    assert by_path["static/js/a.js"]["headers"]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "/player/v1/static/js/a.js" in by_path["static/js/a.js"]["url"] and by_path["index.html"]["method"] == "PUT"
    with pytest.raises(AdminError, match="At most 200"):
        dispatch("playback.upload_urls", {"version": "v1", "paths": [f"f{i}.js" for i in range(201)]}, admin)


def test_install_then_activate_copies_the_version_live(
    admin: AdminContext, objects: LoggingObjects, edge: RecordingEdgeCache
) -> None:
    version = upload(admin, objects, BUILD_A)
    sealed = json.loads(objects.bucket(BUCKET)[f"player/{version}/scalelite-player.json"].body)
    assert sealed["version"] == version and sealed["source"] == "directory /b"
    assert sorted(f["path"] for f in sealed["files"]) == sorted(BUILD_A)
    objects.log.clear()

    live = dispatch("playback.activate", {"version": version}, admin)
    assert live["version"] == version and live["files"] == 4 and live["previous"] is None
    stored = objects.bucket(BUCKET)
    for path, body in BUILD_A.items():
        assert stored[f"playback/presentation/2.3/{path}"].body == body
        assert stored[f"playback/presentation/2.3/{path}"].cache_control == pb.cache_control(path)
        assert stored[f"playback/presentation/2.3/{path}"].content_type == pb.content_type(path)
    manifest = json.loads(stored["playback/presentation/2.3/scalelite-player.json"].body)
    assert set(manifest) == {"version", "source", "installed_at", "files"}
    assert manifest["version"] == version and manifest["installed_at"].endswith("Z")
    # Assets first, index.html after them, the manifest last.
    order = [key for _, key in objects.log]
    assert order[-1] == "playback/presentation/2.3/scalelite-player.json"
    assert order.index("playback/presentation/2.3/index.html") == len(BUILD_A) - 1
    assert edge.paths == {"/playback/presentation/2.3/*"}


def test_rollback_deletes_live_files_after_copying(admin: AdminContext, objects: LoggingObjects) -> None:
    a = upload(admin, objects, BUILD_A)
    b = upload(admin, objects, BUILD_B)
    dispatch("playback.activate", {"version": a}, admin)
    dispatch("playback.activate", {"version": b}, admin)
    assert live_keys(objects) == {f"playback/presentation/2.3/{p}" for p in [*BUILD_B, "scalelite-player.json"]}
    objects.log.clear()
    back = dispatch("playback.activate", {"version": a}, admin)
    assert back["previous"] == b and back["deleted"] == 1
    assert live_keys(objects) == {f"playback/presentation/2.3/{p}" for p in [*BUILD_A, "scalelite-player.json"]}
    kinds = [kind for kind, _ in objects.log]
    assert kinds.index("delete") > max(i for i, k in enumerate(kinds) if k == "copy")
    assert objects.log[-1] == ("put", "playback/presentation/2.3/scalelite-player.json")
    assert objects.bucket(BUCKET)["playback/presentation/2.3/index.html"].body == BUILD_A["index.html"]


def test_reinstalling_the_same_build_uploads_nothing(admin: AdminContext, objects: LoggingObjects) -> None:
    version = upload(admin, objects, BUILD_A)
    again = dispatch("playback.prepare", {"files": listing(BUILD_A)}, admin)
    assert again == {"version": version, "installed": True, "files": 4, "bytes": sum(map(len, BUILD_A.values()))}
    with pytest.raises(AdminConflict, match="already installed: its files cannot change"):
        dispatch("playback.upload_urls", {"version": version, "paths": ["index.html"]}, admin)


def test_a_sealed_version_that_lost_files_is_uploaded_again(admin: AdminContext, objects: LoggingObjects) -> None:
    version = upload(admin, objects, BUILD_A)
    del objects.bucket(BUCKET)[f"player/{version}/static/js/main.a1.js"]
    assert dispatch("playback.prepare", {"files": listing(BUILD_A)}, admin)["installed"] is False
    assert upload(admin, objects, BUILD_A) == version
    assert dispatch("playback.activate", {"version": version}, admin)["files"] == len(BUILD_A)


def test_a_version_name_is_never_reused_for_other_files(admin: AdminContext, objects: LoggingObjects) -> None:
    upload(admin, objects, BUILD_A, version="5.0.0")
    with pytest.raises(AdminConflict, match="already installed with other files"):
        dispatch("playback.prepare", {"files": listing(BUILD_B), "version": "5.0.0"}, admin)
    with pytest.raises(AdminConflict, match="already installed with other files"):
        dispatch("playback.commit", {"version": "5.0.0", "files": listing(BUILD_B)}, admin)


def test_commit_refuses_an_incomplete_upload_and_drops_leftovers(admin: AdminContext, objects: LoggingObjects) -> None:
    files = listing(BUILD_A)
    for path in ["index.html", "static/js/main.a1.js"]:
        objects.put(BUCKET, f"player/v1/{path}", io.BytesIO(BUILD_A[path]), content_type="x")
    with pytest.raises(AdminConflict, match="incomplete: 2 of 4 files missing"):
        dispatch("playback.commit", {"version": "v1", "files": files}, admin)
    objects.put(BUCKET, "player/v1/static/css/main.a1.css", io.BytesIO(b"truncated-or-longer"), content_type="x")
    objects.put(
        BUCKET, "player/v1/static/media/font.woff2", io.BytesIO(BUILD_A["static/media/font.woff2"]), content_type="x"
    )
    with pytest.raises(AdminConflict, match="1 of 4 files missing or of the wrong size .e.g. static/css/main.a1.css"):
        dispatch("playback.commit", {"version": "v1", "files": files}, admin)
    objects.put(
        BUCKET, "player/v1/static/css/main.a1.css", io.BytesIO(BUILD_A["static/css/main.a1.css"]), content_type="x"
    )
    objects.put(BUCKET, "player/v1/old-attempt.js", io.BytesIO(b"x"), content_type="x")
    dispatch("playback.commit", {"version": "v1", "files": files}, admin)
    assert "player/v1/old-attempt.js" not in objects.bucket(BUCKET)


def test_activate_refuses_unknown_and_incomplete_versions(admin: AdminContext, objects: LoggingObjects) -> None:
    with pytest.raises(AdminNotFound, match=r"No player version nope \(installed: none\)"):
        dispatch("playback.activate", {"version": "nope"}, admin)
    objects.put(BUCKET, "player/half/index.html", io.BytesIO(b"x"), content_type="text/html")
    with pytest.raises(AdminConflict, match="half is incomplete .its upload did not finish"):
        dispatch("playback.activate", {"version": "half"}, admin)
    version = upload(admin, objects, BUILD_A)
    del objects.bucket(BUCKET)[f"player/{version}/static/js/main.a1.js"]  # sealed, then a file went missing
    with pytest.raises(AdminConflict, match="1 of 4 files missing"):
        dispatch("playback.activate", {"version": version}, admin)
    assert live_keys(objects) == set()  # nothing was touched


def test_status_lists_the_live_version_and_every_installed_one(admin: AdminContext, objects: LoggingObjects) -> None:
    assert dispatch("playback.status", {}, admin) == {"live": None, "versions": []}
    a = upload(admin, objects, BUILD_A, version="a")
    upload(admin, objects, BUILD_B, version="b")
    objects.put(BUCKET, "player/c/index.html", io.BytesIO(b"x"), content_type="text/html")
    dispatch("playback.activate", {"version": a}, admin)
    status = dispatch("playback.status", {}, admin)
    assert status["live"]["version"] == "a" and status["live"]["files"] == 4
    assert status["live"]["source"] == "directory /b" and status["live"]["installed_at"].endswith("Z")
    by_name = {v["version"]: v for v in status["versions"]}
    assert set(by_name) == {"a", "b", "c"}
    assert by_name["a"]["live"] and not by_name["b"]["live"]
    assert by_name["b"]["complete"] and by_name["b"]["files"] == 2
    assert by_name["c"] == {
        "version": "c",
        "source": None,
        "uploaded_at": None,
        "files": 0,
        "bytes": 0,
        "complete": False,
        "live": False,
    }
    assert status["versions"][-1]["version"] == "c"  # incomplete uploads last


def test_list_folders_of_the_fake() -> None:
    objects = InMemoryObjectStore()
    for key in ["player/a/index.html", "player/a/static/x.js", "player/b/index.html", "player/top.txt", "other/x"]:
        objects.put("b", key, io.BytesIO(b""), content_type="x")
    assert objects.list_folders("b", "player/") == ["player/a/", "player/b/"]


# --------------------------------------------------------------------------------------------- --from-server
INDEX = (
    b"<!doctype html><html><head>"
    b'<link rel="stylesheet" href="/playback/presentation/2.3/static/css/main.c.css">'
    b'<link rel="icon" href="https://cdn.example.com/favicon.ico">'
    b'<link rel="manifest" href="manifest.json?v=2">'
    b'<img src="data:image/png;base64,AAAA"><img src="../../presentation/x.png"><img src="//evil.example/x.png">'
    b'</head><body><script src="static/js/main.j.js"></script><script>inline()</script></body></html>'
)


def serve(source: FakePlayerSource, files: dict[str, bytes]) -> None:
    source.files.update({BASE + p: b for p, b in files.items()})


def test_from_server_copies_index_and_what_it_references(
    admin: AdminContext, store: InMemoryStore, objects: LoggingObjects, source: FakePlayerSource
) -> None:
    add_server(store, "bbb1")
    asset_manifest = json.dumps(
        {
            "files": {"main.js": "/playback/presentation/2.3/static/js/main.j.js", "map": "static/js/main.j.js.map"},
            "entrypoints": ["static/media/logo.svg"],
        }
    ).encode()
    served = {
        "index.html": INDEX,
        "static/css/main.c.css": b"css",
        "manifest.json": b"{}",
        "static/js/main.j.js": b"js",
        "asset-manifest.json": asset_manifest,
        "static/media/logo.svg": b"<svg/>",
    }
    serve(source, served)  # the .map the asset manifest lists is missing: skipped, not fatal
    result = dispatch("playback.install_from_server", {"server_id": "bbb1"}, admin)
    assert result["uploaded"] == len(served)
    assert result["skipped"] == [{"path": "static/js/main.j.js.map", "reason": "HTTP 404"}]
    version = result["version"]
    assert result["activated"]["version"] == version and result["activated"]["source"] == f"server bbb1 ({ORIGIN})"
    stored = objects.bucket(BUCKET)
    for path, body in served.items():
        assert stored[f"player/{version}/{path}"].body == body
        assert stored[f"playback/presentation/2.3/{path}"].cache_control == pb.cache_control(path)
    assert all(url.startswith(BASE) for url in source.requested)  # nothing outside the player, no other origin
    # The same player again: the same version, nothing stored again.
    assert dispatch("playback.install_from_server", {"server_id": "bbb1"}, admin)["uploaded"] == 0


def test_from_server_refusals(
    admin: AdminContext, store: InMemoryStore, source: FakePlayerSource, objects: LoggingObjects
) -> None:
    with pytest.raises(AdminNotFound, match="No server found with id: nope"):
        dispatch("playback.install_from_server", {"server_id": "nope"}, admin)
    add_server(store, "bbb1")
    with pytest.raises(
        AdminUpstreamError,
        match=r"Server bbb1: https://bbb1.example.com/playback/presentation/2.3/index.html: HTTP 404",
    ):
        dispatch("playback.install_from_server", {"server_id": "bbb1"}, admin)
    serve(source, {"index.html": INDEX, "static/css/main.c.css": b"css", "manifest.json": b"{}"})
    with pytest.raises(AdminUpstreamError, match="static/js/main.j.js: HTTP 404"):  # index.html needs it
        dispatch("playback.install_from_server", {"server_id": "bbb1"}, admin)
    source.errors[BASE + "static/css/main.c.css"] = PlayerFetchError("timeout")
    with pytest.raises(AdminUpstreamError, match="main.c.css: timeout"):
        dispatch("playback.install_from_server", {"server_id": "bbb1"}, admin)
    assert live_keys(objects) == set()


def test_from_server_limits(
    admin: AdminContext, store: InMemoryStore, source: FakePlayerSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_server(store, "bbb1")
    many = b"".join(b'<script src="s%d.js"></script>' % i for i in range(5))
    serve(source, {"index.html": many, **{f"s{i}.js": b"x" * 10 for i in range(5)}})
    monkeypatch.setattr(pb, "MAX_FILES", 4)
    with pytest.raises(AdminError, match="references 6 files: at most 4"):
        dispatch("playback.install_from_server", {"server_id": "bbb1"}, admin)
    monkeypatch.setattr(pb, "MAX_FILES", 2000)
    monkeypatch.setattr(pb, "MAX_FETCH_BYTES", len(many) + 25)  # room for two scripts, not five
    with pytest.raises(AdminUpstreamError, match="larger than"):
        dispatch("playback.install_from_server", {"server_id": "bbb1"}, admin)


def test_the_player_is_found_at_the_servers_origin() -> None:
    assert pb.server_origin("https://BBB1.example.com/bigbluebutton/api/") == "https://bbb1.example.com"
    assert pb.server_origin("http://127.0.0.1:8090/bigbluebutton/api") == "http://127.0.0.1:8090"
    assert pb.server_origin("https://user@[::1]:8443/bigbluebutton/api") == "https://[::1]:8443"


def test_references_are_read_with_an_html_parser() -> None:
    page = b"<html><head><LINK HREF='a.css'><script src = \"b.js\" ></script><!-- <script src='c.js'> --></head>"
    assert html_references(page + b"<img src='d.png'/><a href='e.html'>x</a></html>") == ["a.css", "b.js", "d.png"]
    assert asset_manifest_references(b"[1]") == [] and asset_manifest_references(b"not json") == []
    assert asset_manifest_references(b'{"files": {"a": "x.js", "b": 3}, "entrypoints": ["y.js"]}') == ["x.js", "y.js"]
