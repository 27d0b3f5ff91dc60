"""The one fan-out with a deadline (issue 9 item 4)."""

from __future__ import annotations

import threading

from scalelite_common.concurrency import fan_out


def test_results_and_exceptions_come_back_in_item_order() -> None:
    def fn(n: int) -> int:
        if n == 2:
            raise ValueError("two")
        return n * 10

    out = fan_out([1, 2, 3], fn, workers=3, timeout=5)
    assert out[0] == 10 and out[2] == 30
    assert isinstance(out[1], ValueError) and str(out[1]) == "two"


def test_an_unfinished_item_is_a_timeout_and_is_not_waited_for() -> None:
    release = threading.Event()

    def fn(n: int) -> int:
        if n == 1:
            release.wait(10)  # hangs until the test lets it go
        return n

    try:
        out = fan_out([0, 1], fn, workers=2, timeout=0.2)
        assert out[0] == 0 and isinstance(out[1], TimeoutError)
    finally:
        release.set()


def test_no_items_no_threads() -> None:
    assert fan_out([], lambda n: n, workers=4, timeout=1) == []
