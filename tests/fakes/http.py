"""FakePoster (the HttpPoster port): answers scripted statuses (or raises) and records every POST (form or JSON)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Answer = int | BaseException


@dataclass(frozen=True)
class Posted:
    url: str
    fields: dict[str, str]  # a form POST's fields; {} for a JSON POST
    body: bytes = b""  # a JSON POST's body
    headers: dict[str, str] = field(default_factory=dict)  # a JSON POST's added headers


class FakePoster:
    """Answers `answers` in turn (the last one again once they run out); an exception is raised instead. With
    `pick`, the answer is `pick(url, fields)` (e.g. chosen by the JWT's signing secret)."""

    def __init__(self, *answers: Answer, pick: Callable[[str, Mapping[str, str]], Answer] | None = None) -> None:
        self.answers = list(answers) or [200]
        self.pick = pick
        self.posts: list[Posted] = []
        self._lock = threading.Lock()

    def post_form(self, url: str, fields: Mapping[str, str]) -> int:
        return self._answer(Posted(url, dict(fields)), fields)

    def post_json(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """Recorded like a form POST; `pick` sees the headers (the bearer token) as its fields."""
        return self._answer(Posted(url, {}, body, dict(headers)), headers)

    def _answer(self, posted: Posted, seen: Mapping[str, str]) -> int:
        with self._lock:
            self.posts.append(posted)
            answer = self.answers[min(len(self.posts), len(self.answers)) - 1]
        if self.pick:
            answer = self.pick(posted.url, seen)  # outside the lock: concurrent posts stay concurrent
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeRetryQueue:
    """The RetryQueue port: records (queue ARN, receipt handle, delay); `fail` makes retry_later raise."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.fail = fail

    def retry_later(self, queue_arn: str, receipt_handle: str, delay: int) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((queue_arn, receipt_handle, delay))
