"""BBB's built playback (bbb-playback) as a BBB server serves it at `/playback/presentation/2.3/`: the outbound GETs
that copy it (`HttpPlayerSource`, the `PlayerSource` port) and what its `index.html` and `asset-manifest.json`
reference (parsed with html.parser and json, never with regexes)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import urllib3

from scalelite_common.bbb.client import _urllib3_reason

PLAYER_PATH = "/playback/presentation/2.3/"
_REFERENCES = {"script": "src", "link": "href", "img": "src"}


class PlayerFetchError(Exception):
    """A player file could not be fetched; `status` is the HTTP status when the server answered one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HttpPlayerSource:
    """GETs with BBBClient's approach: one urllib3 pool, no retries, no redirects, bounded connect/read timeouts;
    the body is read in chunks and abandoned past `max_bytes`."""

    def __init__(self, *, connect_timeout: float, response_timeout: float) -> None:
        self._timeout = urllib3.Timeout(
            connect=connect_timeout, read=response_timeout, total=connect_timeout + response_timeout
        )
        self._http = urllib3.PoolManager(num_pools=16, maxsize=8, retries=False, block=False)

    def get(self, url: str, *, max_bytes: int) -> bytes:
        try:
            resp = self._http.request("GET", url, timeout=self._timeout, redirect=False, preload_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise PlayerFetchError(_urllib3_reason(exc) or type(exc).__name__) from exc
        complete = False
        try:
            if resp.status != 200:
                raise PlayerFetchError(f"HTTP {resp.status}", status=resp.status)
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise PlayerFetchError(f"larger than {max_bytes} bytes")
            parts: list[bytes] = []
            got = 0
            for chunk in resp.stream(64 * 1024):
                got += len(chunk)
                if got > max_bytes:
                    raise PlayerFetchError(f"larger than {max_bytes} bytes")
                parts.append(chunk)
            complete = True
            return b"".join(parts)
        except urllib3.exceptions.HTTPError as exc:
            raise PlayerFetchError(_urllib3_reason(exc) or type(exc).__name__) from exc
        finally:
            if complete:
                resp.release_conn()
            else:  # a body left unread would be the next request's answer on a pooled connection
                resp.close()
                resp.release_conn()


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = _REFERENCES.get(tag)
        for name, value in attrs:
            if name == wanted and value and value.strip():
                self.found.append(value.strip())

    handle_startendtag = handle_starttag


def html_references(html: bytes) -> list[str]:
    """`script src`, `link href` and `img src` values of a page, in document order (not resolved)."""
    parser = _References()
    parser.feed(html.decode("utf-8", "replace"))
    parser.close()
    return parser.found


def asset_manifest_references(body: bytes) -> list[str]:
    """The file paths a create-react-app `asset-manifest.json` lists (`files` values, `entrypoints`); [] for anything
    that is not such a manifest."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    found: list[str] = []
    files = data.get("files")
    if isinstance(files, dict):
        found += [v for v in files.values() if isinstance(v, str)]
    entrypoints = data.get("entrypoints")
    if isinstance(entrypoints, list):
        found += [v for v in entrypoints if isinstance(v, str)]
    return found
