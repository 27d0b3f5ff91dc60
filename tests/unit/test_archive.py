"""Recording archives read as streams (`bbb.archive`): the good tree, both passes, and every hostile archive."""

from __future__ import annotations

import gzip
import inspect
import io
import tarfile
import tracemalloc
from collections.abc import Callable, Iterable
from typing import IO, Any

import pytest

from scalelite_common.bbb import archive
from scalelite_common.bbb.archive import ArchiveRejected, Manifest, Member
from scalelite_common.domain.entities import RecordingState, Thumbnail

RID = "834c9292041b9047ebe2061075cf2984b80e6a2d-1741369843904"
OTHER = "0123456789abcdef0123456789abcdef01234567-1741369843904"
PRES = "d2d9a672040fbde2a47a10bf6c37b6a4b5ae187f-1741369843912"
HOST = "https://bbb3.example"


def metadata_xml(record_id: str = RID, fmt: str = "presentation", *, published: str = "true") -> bytes:
    link = f"{HOST}/playback/presentation/2.3/{record_id}" if fmt == "presentation" else f"{HOST}/{fmt}/{record_id}/"
    thumbs = "".join(
        f'<image width="176" height="136" alt="Slide {n}">'
        f"{HOST}/presentation/{record_id}/presentation/{PRES}/thumbnails/thumb-{n}.png</image>"
        for n in (1, 2)
    )
    return f"""<?xml version="1.0"?>
<recording>
  <id>{record_id}</id>
  <state>published</state>
  <published>{published}</published>
  <start_time>1741369843904</start_time>
  <end_time>1741375480408</end_time>
  <participants>20</participants>
  <meeting id="{record_id}" externalId="course-42" name="Week 1" breakout="false"/>
  <meta>
    <isBreakout>false</isBreakout>
    <meetingId>course-42</meetingId>
    <meetingName>Week 1</meetingName>
    <bbb-origin>Moodle</bbb-origin>
    <tenant-id>t1</tenant-id>
  </meta>
  <playback>
    <format>{fmt}</format>
    <link>{link}</link>
    <processing_time>652354</processing_time>
    <duration>4684838</duration>
    <extensions><preview><images>{thumbs if fmt == "presentation" else ""}</images></preview></extensions>
    <size>59181388</size>
  </playback>
  <raw_size>95830302</raw_size>
</recording>
""".encode()


Entry = tuple[tarfile.TarInfo, bytes]


def file(name: str, data: bytes = b"x") -> Entry:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1741375480
    return info, data


def special(name: str, kind: bytes, linkname: str = "") -> Entry:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, b""


def directory(name: str) -> Entry:
    return special(name, tarfile.DIRTYPE)


def tree(record_id: str = RID) -> list[Entry]:
    """A recording as BBB publishes it: presentation (slides, thumbnails, webcams) and video, with directories."""
    pres, video = f"presentation/{record_id}", f"video/{record_id}"
    return [
        directory("presentation"),
        directory(pres),
        file(f"{pres}/metadata.xml", metadata_xml(record_id)),
        file(f"{pres}/shapes.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        file(f"{pres}/panzooms.xml", b"<recording/>"),
        file(f"{pres}/captions.json", b"[]"),
        directory(f"{pres}/presentation/{PRES}"),
        file(f"{pres}/presentation/{PRES}/slide-1.png", b"\x89PNG" + b"1" * 700),
        file(f"{pres}/presentation/{PRES}/thumbnails/thumb-1.png", b"\x89PNG" + b"t" * 30),
        file(f"{pres}/presentation/{PRES}/thumbnails/thumb-2.png", b"\x89PNG" + b"u" * 31),
        file(f"{pres}/presentation/{PRES}/{PRES}.pdf", b"%PDF-1.4 " + b"p" * 100),
        file(f"{pres}/video/webcams.webm", bytes(range(256)) * 20),
        file(f"{pres}/empty.txt", b""),
        directory("video"),
        directory(video),
        file(f"{video}/metadata.xml", metadata_xml(record_id, "video")),
        file(f"{video}/video-0.m4v", b"\0\0\0\x18ftypmp42" * 50),
        file(f"{video}/index.html", b"<html></html>"),
    ]


def build(entries: Iterable[Entry], *, gz: bool = False, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """An archive written by tarfile itself (`tar -c`, or `tar -cz` with gz)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out.getvalue()


def raw(entries: Iterable[Entry], *, end: bool = True) -> bytes:
    """An archive serialised by hand: headers may declare sizes their bodies do not have."""
    out = b""
    for info, data in entries:
        out += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data
        out += b"\0" * (-len(data) % tarfile.BLOCKSIZE)
    return out + (b"\0" * 2 * tarfile.BLOCKSIZE if end else b"")


def scan(body: bytes, **limits: int) -> Manifest:
    return archive.scan(io.BytesIO(body), **limits)


def rejected(body: bytes, **limits: int) -> str:
    with pytest.raises(ArchiveRejected) as info:
        scan(body, **limits)
    assert str(info.value) == info.value.reason
    return info.value.reason


def collect(body: bytes, manifest: Manifest) -> list[tuple[Member, bytes]]:
    seen: list[tuple[Member, bytes]] = []

    def write(member: Member, fileobj: IO[bytes]) -> None:
        seen.append((member, fileobj.read()))

    archive.copy(io.BytesIO(body), manifest, write)
    return seen


def files_of(entries: list[Entry]) -> list[tuple[str, bytes]]:
    return [(info.name, data) for info, data in entries if info.isfile()]


# ---------------------------------------------------------------------------------------------- the good archive
def test_manifest_of_a_two_format_recording() -> None:
    entries = tree()
    manifest = scan(build(entries))
    assert manifest.record_id == RID
    assert sorted(manifest.formats) == ["presentation", "video"]
    assert [m.name for m in manifest.members] == [name for name, _ in files_of(entries)]
    assert manifest.total_bytes == sum(len(data) for _, data in files_of(entries))
    first = manifest.members[0]
    assert first == Member(f"presentation/{RID}/metadata.xml", "presentation", "metadata.xml", len(entries[2][1]))
    thumb = next(m for m in manifest.members if m.name.endswith("thumb-2.png"))
    assert (thumb.format, thumb.path, thumb.size) == ("presentation", f"presentation/{PRES}/thumbnails/thumb-2.png", 35)
    assert {m.format for m in manifest.members if m.path == "metadata.xml"} == {"presentation", "video"}


def test_formats_are_parsed() -> None:
    formats = scan(build(tree())).formats
    pres, video = formats["presentation"], formats["video"]
    assert (pres.record_id, pres.state, pres.published, pres.meeting_id, pres.name) == (
        RID,
        RecordingState.PUBLISHED,
        True,
        "course-42",
        "Week 1",
    )
    assert pres.metadata == {"bbb-origin": "Moodle", "tenant-id": "t1"}
    assert pres.playback.url == f"/playback/presentation/2.3/{RID}"
    assert pres.playback.length == 78
    assert pres.playback.thumbnails == [
        Thumbnail(f"/presentation/{RID}/presentation/{PRES}/thumbnails/thumb-{n}.png", "176", "136", f"Slide {n}")
        for n in (1, 2)
    ]
    assert video.format == video.playback.format == "video"
    assert video.playback.url == f"/video/{RID}/"
    assert video.playback.thumbnails == []


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_copy_delivers_every_file_in_order(gz: bool, fmt: int) -> None:
    entries = tree()
    body = build(entries, gz=gz, fmt=fmt)
    manifest = scan(body)
    seen = collect(body, manifest)
    assert [m for m, _ in seen] == manifest.members
    assert [(m.name, data) for m, data in seen] == files_of(entries)


def test_copy_skips_what_the_writer_does_not_read() -> None:
    entries = tree()
    body = build(entries)
    manifest = scan(body)
    seen: list[tuple[str, bytes]] = []

    def write(member: Member, fileobj: IO[bytes]) -> None:
        if member.format == "video":  # the importer skips unchanged formats this way
            seen.append((member.name, fileobj.read()))
        elif member.path == "shapes.svg":
            fileobj.read(3)  # a partial read

    archive.copy(io.BytesIO(body), manifest, write)
    assert seen == [(name, data) for name, data in files_of(entries) if name.startswith("video/")]


def test_copy_lets_the_writers_errors_through() -> None:
    body = build(tree())
    manifest = scan(body)

    def write(member: Member, fileobj: IO[bytes]) -> None:
        raise ConnectionResetError("S3 went away")  # transient: must not turn into a rejection

    with pytest.raises(ConnectionResetError):
        archive.copy(io.BytesIO(body), manifest, write)


def test_segmented_record_id() -> None:
    segmented = f"{RID}-1741370000000"
    entries = tree(segmented)
    manifest = scan(build(entries, gz=True))
    assert manifest.record_id == segmented
    assert manifest.formats["video"].record_id == segmented
    assert all(m.name.split("/")[1] == segmented for m in manifest.members)


def test_long_names_and_dot_prefixes_are_normalised() -> None:
    deep = "/".join(["d" * 60] * 5) + "/slide.svg"  # > 255 characters: pax (or GNU long-name) headers
    entries = [
        directory("."),
        directory("./presentation/"),
        file(f"./presentation/{RID}/metadata.xml", metadata_xml()),
        file(f"presentation//{RID}/./{deep}", b"svg"),
    ]
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        manifest = scan(build(entries, fmt=fmt))
        assert [m.name for m in manifest.members] == [f"presentation/{RID}/metadata.xml", f"presentation/{RID}/{deep}"]
        assert manifest.members[1].path == deep
        assert [data for _, data in collect(build(entries, fmt=fmt), manifest)] == [metadata_xml(), b"svg"]


def test_one_format_alone() -> None:
    manifest = scan(build([file(f"video/{RID}/metadata.xml", metadata_xml(fmt="video"))]))
    assert list(manifest.formats) == ["video"] and len(manifest.members) == 1


def test_limits_at_their_boundary_pass() -> None:
    entries = tree()
    count = len(entries)
    size = sum(len(data) for _, data in files_of(entries))
    manifest = scan(build(entries), max_members=count, max_bytes=size, max_metadata_bytes=len(metadata_xml()))
    assert manifest.total_bytes == size


# --------------------------------------------------------------------------------------------------- rejections
def with_extra(*extra: Entry) -> bytes:
    return build([*tree(), *extra])


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (file(f"presentation/{RID}/../../x"), f"member path escapes the archive: presentation/{RID}/../../x"),
        (file("../x"), "member path escapes the archive: ../x"),
        (directory(".."), "member path escapes the archive: .."),
        (file("/etc/passwd"), "absolute member path: /etc/passwd"),
        (file(f"/presentation/{RID}/x"), f"absolute member path: /presentation/{RID}/x"),
        (file("C:/x"), "absolute member path: C:/x"),
        (file(f"presentation/{RID}\\..\\x"), f"member name not allowed: presentation/{RID}\\..\\x"),
        (
            special(f"presentation/{RID}/a", tarfile.SYMTYPE, "/etc/passwd"),
            f"symlink not allowed: presentation/{RID}/a",
        ),
        (special(f"presentation/{RID}/b", tarfile.SYMTYPE, "shapes.svg"), f"symlink not allowed: presentation/{RID}/b"),
        (
            special(f"presentation/{RID}/h", tarfile.LNKTYPE, f"presentation/{RID}/shapes.svg"),
            f"hardlink not allowed: presentation/{RID}/h",
        ),
        (special(f"presentation/{RID}/tty", tarfile.CHRTYPE), f"device file not allowed: presentation/{RID}/tty"),
        (special(f"presentation/{RID}/sda", tarfile.BLKTYPE), f"device file not allowed: presentation/{RID}/sda"),
        (special(f"presentation/{RID}/pipe", tarfile.FIFOTYPE), f"fifo not allowed: presentation/{RID}/pipe"),
        (file("foo"), "member outside <format>/<recordID>/: foo"),
        (file("presentation/foo"), "member outside <format>/<recordID>/: presentation/foo"),
        (file(f"presentation/{RID}"), f"member outside <format>/<recordID>/: presentation/{RID}"),
        (file("presentation/not-an-id/x"), "member outside <format>/<recordID>/: presentation/not-an-id/x"),
        (file(f"pres.entation/{RID}/x"), f"member outside <format>/<recordID>/: pres.entation/{RID}/x"),
        (directory("raw/stuff"), "member outside <format>/<recordID>/: raw/stuff"),
        (file(f"presentation/{RID}\n/x"), f"member outside <format>/<recordID>/: presentation/{RID}\\n/x"),
        (file(f"presentation/{RID}/shapes.svg"), f"duplicate member: presentation/{RID}/shapes.svg"),
        (file(f"video/{OTHER}/x"), f"several record ids: {RID}, {OTHER}"),
        (directory(f"video/{OTHER}"), f"several record ids: {RID}, {OTHER}"),
    ],
)
def test_hostile_members(entry: Entry, reason: str) -> None:
    assert rejected(with_extra(entry)) == reason


def test_hostile_member_first() -> None:
    assert rejected(build([file("../evil"), *tree()])) == "member path escapes the archive: ../evil"


def test_too_many_members() -> None:
    assert rejected(build(tree()), max_members=5) == "more than 5 members"
    assert rejected(build([file(f"video/{RID}/f{n}", b"") for n in range(101)]), max_members=100) == (
        "more than 100 members"
    )


def test_default_limits() -> None:
    parameters = inspect.signature(archive.scan).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert defaults == {"max_members": 50_000, "max_bytes": 10 * 1024**3, "max_metadata_bytes": 4 * 1024**2}


def test_too_many_declared_bytes() -> None:
    entries = tree()
    size = sum(len(data) for _, data in files_of(entries))
    assert rejected(build(entries), max_bytes=size - 1) == f"declared size exceeds {size - 1} bytes"


def test_one_huge_header_is_rejected_from_the_header_alone() -> None:
    huge, _ = file(f"presentation/{RID}/video/webcams.webm")
    huge.size = 20 * 1024**3  # a pax `size` record; the body that follows is a few bytes, and no end marker
    body = raw([*tree()[:3], (huge, b"tiny")], end=False)
    assert rejected(body) == "declared size exceeds 10737418240 bytes"


def test_huge_extended_header_is_not_read() -> None:
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = 2 * 1024**3
    header = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
    assert rejected(raw(tree()[:3], end=False) + header + b"tiny") == "extended header larger than 1048576 bytes"


def test_metadata_too_large_is_not_read() -> None:
    assert rejected(build(tree()), max_metadata_bytes=100) == "metadata.xml of presentation is larger than 100 bytes"


def replace_metadata(body: bytes, fmt: str = "presentation") -> bytes:
    entries = [e if e[0].name != f"{fmt}/{RID}/metadata.xml" else file(e[0].name, body) for e in tree()]
    return build(entries)


def test_xml_bomb_in_metadata() -> None:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE recording [<!ENTITY l0 "lol">{levels}]><recording>&l9;</recording>'
    assert rejected(replace_metadata(bomb.encode())) == (
        "metadata.xml invalid: presentation: entity declarations are not allowed"
    )


def test_external_entity_in_metadata() -> None:
    xxe = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><recording><id>&x;</id></recording>'
    assert (
        rejected(replace_metadata(xxe, "video")) == "metadata.xml invalid: video: entity declarations are not allowed"
    )


def test_invalid_metadata_xml() -> None:
    assert rejected(replace_metadata(b"<recording><id>")) == (
        "metadata.xml invalid: presentation: not well-formed XML: no element found: line 1, column 15"
    )
    assert rejected(replace_metadata(metadata_xml().replace(f"<id>{RID}</id>".encode(), b""))) == (
        "metadata.xml invalid: presentation: <id> is missing"
    )


def test_no_metadata_xml() -> None:
    assert rejected(build([file(f"presentation/{RID}/shapes.svg")])) == f"no metadata.xml in presentation/{RID}/"
    without_video_metadata = [e for e in tree() if e[0].name != f"video/{RID}/metadata.xml"]
    assert rejected(build(without_video_metadata)) == f"no metadata.xml in video/{RID}/"
    assert rejected(build([])) == "no metadata.xml"
    assert rejected(build([directory("presentation"), directory(f"presentation/{RID}")])) == "no metadata.xml"


def test_metadata_elsewhere_does_not_count() -> None:
    entries = [file(f"presentation/{RID}/sub/metadata.xml", metadata_xml())]
    assert rejected(build(entries)) == f"no metadata.xml in presentation/{RID}/"


def test_metadata_id_differs_from_dir() -> None:
    assert rejected(replace_metadata(metadata_xml(OTHER))) == f"record id mismatch: dir {RID}, metadata {OTHER}"


def test_metadata_format_differs_from_dir() -> None:
    assert rejected(replace_metadata(metadata_xml(fmt="video"))) == "format mismatch: dir presentation, metadata video"


@pytest.mark.parametrize(
    "cut",
    [
        lambda body: body[: len(body) // 2],  # inside some member's data
        lambda body: body[:-1024],  # the end-of-archive blocks removed
        lambda body: body[: -1024 - 512 * 3],  # at a block boundary inside the last member
        lambda body: body[: -1024 - 512 * 4 + 100],  # inside the last member's header
        lambda body: body[: 512 * 3],  # after the first member's data
    ],
)
def test_truncated_archive(cut: Callable[[bytes], bytes]) -> None:
    entries = [*tree(), file(f"video/{RID}/last.bin", b"z" * 1400)]  # last: 3 data blocks
    body = raw(entries)
    assert scan(body).total_bytes > 0  # uncut, the hand-made archive is fine
    assert rejected(cut(body)).startswith("truncated or corrupt archive")


def test_truncated_in_metadata_data() -> None:
    body = build(tree(), fmt=tarfile.USTAR_FORMAT)
    assert rejected(body[: 512 * 4 + 100]).startswith("truncated or corrupt archive")


def test_garbage_where_a_header_should_be() -> None:
    body = raw(tree(), end=False) + b"garbage!" * 64 + b"\0" * 1024
    assert rejected(body) == "truncated or corrupt archive"


def test_truncated_gzip() -> None:
    body = build(tree(), gz=True)
    assert rejected(body[: len(body) - 40]).startswith("truncated or corrupt archive")


def test_corrupt_gzip() -> None:
    body = bytearray(build(tree(), gz=True))
    body[len(body) // 2 : len(body) // 2 + 64] = b"\xff" * 64
    assert rejected(bytes(body)).startswith("truncated or corrupt archive")


@pytest.mark.parametrize(
    "body",
    [b"", b"hello, not a tarball" * 100, gzip.compress(b"a gzip that holds no tar" * 100), b"PK\x03\x04" + b"\0" * 600],
    ids=["empty", "text", "gzip-of-text", "zip"],  # stable ids: gzip embeds a timestamp (xdist compares ids)
)
def test_not_a_tar(body: bytes) -> None:
    assert rejected(body).startswith("not a tar archive")


def test_reasons_escape_control_characters() -> None:
    assert rejected(with_extra(file("evil\nINFO forged log line"))) == (
        "member outside <format>/<recordID>/: evil\\nINFO forged log line"
    )


# -------------------------------------------------------------------------------------- changed between passes
def changed_copies() -> list[list[Entry]]:
    base = tree()
    grown = [*base[:5], file(base[5][0].name, base[5][1] + b"!"), *base[6:]]
    swapped = [*base[:3], base[4], base[3], *base[5:]]
    return [
        [*base, file(f"video/{RID}/extra.txt")],  # one more file
        base[:-1],  # one file less
        grown,  # a size changed
        swapped,  # order changed
        [*base, file("../escape")],  # now hostile
    ]


@pytest.mark.parametrize("index", range(5))
def test_archive_changed_between_passes(index: int) -> None:
    manifest = scan(build(tree()))
    body = build(changed_copies()[index])
    with pytest.raises(ArchiveRejected) as info:
        collect(body, manifest)
    assert info.value.reason == "archive changed between passes"


def test_copy_of_a_truncated_second_stream() -> None:
    body = raw(tree())  # (tarfile pads its own archives with zero blocks to 10 KiB records)
    manifest = scan(body)
    with pytest.raises(ArchiveRejected) as info:
        collect(body[:-1024], manifest)
    assert info.value.reason.startswith("truncated or corrupt archive")


def test_copy_of_a_non_tar() -> None:
    manifest = scan(build(tree()))
    with pytest.raises(ArchiveRejected) as info:
        collect(b"not a tar" * 100, manifest)
    assert info.value.reason.startswith("not a tar archive")


# ------------------------------------------------------------------------------------------------ content types
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("shapes.svg", "image/svg+xml"),
        ("video/webcams.webm", "video/webm"),
        ("video-0.m4v", "video/mp4"),
        ("deskshare/deskshare.mp4", "video/mp4"),
        ("caption_en-US.vtt", "text/vtt"),
        ("captions.json", "application/json"),
        ("metadata.xml", "application/xml"),
        ("presentation/x/slide-1.PNG", "image/png"),
        ("index.html", "text/html"),
        ("presentation/x/x.pdf", "application/pdf"),
        ("audio/audio.ogg", "audio/ogg"),
        ("notes.weird-extension", "application/octet-stream"),
        ("README", "application/octet-stream"),
    ],
)
def test_content_type(path: str, expected: str) -> None:
    assert archive.content_type(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("x/slides.pdf", "attachment"), ("audio/audio.OGG", "attachment"), ("video.webm", None), ("pdf", None)],
)
def test_content_disposition(path: str, expected: str | None) -> None:
    assert archive.content_disposition(path) == expected


# ------------------------------------------------------------------------------------------------ bounded memory
class LazyArchive(io.RawIOBase):
    """A tar stream of `head`, then `size` bytes of one member's data made up on the fly, then `tail`."""

    def __init__(self, head: bytes, size: int, tail: bytes) -> None:
        self.parts = [(head, len(head)), (b"", size), (tail, len(tail))]
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        start, view = self.position, memoryview(buffer)
        for data, length in self.parts:
            if start < length:
                count = min(len(view), length - start)
                view[:count] = data[start : start + count] if data else bytes(count)
                self.position += count
                return count
            start -= length
        return 0


def test_scan_and_copy_hold_no_member_in_memory() -> None:
    size = 40 * 1024**2  # five times the peak allowed
    big, _ = file(f"presentation/{RID}/video/webcams.webm")
    big.size = size
    head = raw(tree()[:3], end=False) + big.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    tail = b"\0" * (-size % tarfile.BLOCKSIZE) + b"\0" * 1024
    tracemalloc.start()
    try:
        manifest = archive.scan(io.BufferedReader(LazyArchive(head, size, tail)))
        counted: list[int] = []

        def write(member: Member, fileobj: IO[bytes]) -> None:
            counted.append(sum(len(chunk) for chunk in iter(lambda: fileobj.read(1024**2), b"")))

        archive.copy(io.BufferedReader(LazyArchive(head, size, tail)), manifest, write)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert manifest.total_bytes == size + len(metadata_xml())
    assert counted == [len(metadata_xml()), size]
    assert peak < 8 * 1024**2, peak
