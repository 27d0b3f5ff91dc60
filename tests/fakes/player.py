"""FakePlayerSource: the PlayerSource port over a dict of URLs (a BBB server's player files)."""

from __future__ import annotations

import threading

from scalelite_common.bbb.player import PlayerFetchError


class FakePlayerSource:
    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.errors: dict[str, PlayerFetchError] = {}  # URL -> what its GET raises
        self.requested: list[str] = []
        self._lock = threading.Lock()

    def get(self, url: str, *, max_bytes: int) -> bytes:
        with self._lock:
            self.requested.append(url)
        if url in self.errors:
            raise self.errors[url]
        body = self.files.get(url)
        if body is None:
            raise PlayerFetchError("HTTP 404", status=404)
        if len(body) > max_bytes:
            raise PlayerFetchError(f"larger than {max_bytes} bytes")
        return body
