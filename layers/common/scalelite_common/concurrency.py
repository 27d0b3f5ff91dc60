"""The one fan-out with a deadline: getMeetings across servers and the admin commands that ask every server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait


def fan_out[T, R](items: Sequence[T], fn: Callable[[T], R], *, workers: int, timeout: float) -> list[R | BaseException]:
    """`fn` over `items` on up to `workers` threads, waiting at most `timeout` seconds in all. One entry per item, in
    order: its result, the exception it raised, or a TimeoutError if it had not finished (it is abandoned, never
    waited for: the caller's deadline wins)."""
    if not items:
        return []
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(items), workers)))
    try:
        futures = [pool.submit(fn, item) for item in items]
        wait(futures, timeout=timeout)
        out: list[R | BaseException] = []
        for future in futures:
            if not future.done():
                out.append(TimeoutError("no answer in time"))
            elif (exc := future.exception()) is not None:
                out.append(exc)
            else:
                out.append(future.result())
        return out
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
