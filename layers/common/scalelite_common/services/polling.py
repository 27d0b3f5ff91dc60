"""The poller (Scalelite's `poll:all`, §4): health, load and statistics of every server, the meetings sweep and BBB
versions, in one pass over the servers.

One cycle:

1. Read all servers (any state) once.
2. Ask every server concurrently (a thread pool of min(servers, POLLER_THREADS)) for `getMeetings` and, when due,
   its version. Each worker then stores its own result, so DynamoDB writes overlap the other servers' HTTP waits:
   workers that finish together share one write (`WriteBatcher`, a group commit: one request costs ≈ 1.3 ms of
   CPU in botocore whatever its size). Whatever has not answered by the deadline counts as a failure; a per-server
   claim makes sure a late worker never writes after the main thread recorded that failure.
3. Sweep the meeting mappings with the getMeetings lists already fetched (no getMeetingInfo per meeting): a
   running meeting's TTL is pushed forward, a mapping whose meeting is gone from a healthy server is deleted.

`run_scheduled` runs several cycles per Lambda invocation when POLL_INTERVAL is below the schedule period.
See docs/poller.md.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from scalelite_common.bbb.client import BBBTransportError, Target
from scalelite_common.bbb.replies import PollFailure
from scalelite_common.config import DEFAULT_TENANT, Settings
from scalelite_common.domain.entities import Meeting, Server, ServerState
from scalelite_common.domain.health import Health, after_poll
from scalelite_common.domain.load import MeetingSample, ServerStats, server_stats
from scalelite_common.errors import BBBError, MeetingNotFoundError, ServerGone
from scalelite_common.observability import emit, logger, traced
from scalelite_common.services.ports import POLL_WRITE_BATCH, BBBGateway, PollWrite, Store

PollWhat = Literal["all", "servers", "meetings", "versions"]
POLL_WHATS: tuple[str, ...] = ("all", "servers", "meetings", "versions")

SCHEDULE_PERIOD = 60.0  # seconds between EventBridge ticks (template.yaml: rate(1 minute))
SAFETY_MARGIN = 3.0  # seconds kept free before the Lambda timeout to store the last results
MIN_CYCLE = 1.0  # do not start a cycle with less time than this left
MEETING_GRACE = 60  # seconds: BBB may not list a meeting created this recently yet (Scalelite #320)
VERSION_REFRESH = 3600.0  # seconds: each known version is re-read about once an hour
WRITE_LINGER = 0.01  # seconds a worker's result waits for others to share its write


# ------------------------------------------------------------------------------------------------- panic
@dataclass
class Cleared:
    meeting_ids: list[str] = field(default_factory=list)
    end_errors: dict[str, str] = field(default_factory=dict)


def clear_meetings(
    store: Store,
    client: BBBGateway,
    server: Server,
    *,
    end_calls: bool = True,
    short_timeouts: bool = True,
    stop_at: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Cleared:
    """Remove every mapping on `server` (so the next create places the meeting anew), then try `end` on each.

    Mappings go first, as in Scalelite: ending is best effort. A mapping re-placed on another server meanwhile is
    left alone (conditional delete). After the first transport failure the remaining end calls are skipped: the
    server is unreachable and each attempt would only wait for its timeout. `stop_at` (monotonic) bounds them too.
    """
    result = Cleared()
    removed: list[Meeting] = []
    for meeting in store.meetings_on_server(server.id):
        if store.release_meeting(meeting):
            removed.append(meeting)
            result.meeting_ids.append(meeting.meeting_id)
    if not end_calls:
        return result
    target = Target(url=server.url, secret=server.secret, offline=short_timeouts)
    unreachable: str | None = None
    for meeting in removed:
        if unreachable is None and stop_at is not None and monotonic() >= stop_at:
            unreachable = "not attempted: out of time"
        if unreachable is not None:
            result.end_errors[meeting.meeting_id] = unreachable
            continue
        params = [("meetingID", meeting.meeting_id)]
        if meeting.moderator_pw:
            params.append(("password", meeting.moderator_pw))
        try:
            client.call(target, "end", params)
        except BBBTransportError as exc:
            result.end_errors[meeting.meeting_id] = f"server unreachable ({exc})"
            unreachable = "not attempted: server unreachable"
        except BBBError as exc:
            if exc.message_key != MeetingNotFoundError.message_key:  # notFound: it had ended already
                result.end_errors[meeting.meeting_id] = f"{exc.message_key}: {exc.message}"
        except Exception as exc:  # best effort: one odd answer must not stop the rest
            result.end_errors[meeting.meeting_id] = type(exc).__name__
    return result


# ------------------------------------------------------------------------------------------- group commit
@dataclass
class _Batch:
    polls: list[PollWrite] = field(default_factory=list)
    taken: bool = False  # a thread is writing it; later results go to the next batch
    done: threading.Event = field(default_factory=threading.Event)
    stored: list[bool] = field(default_factory=list)
    error: BaseException | None = None


class WriteBatcher:
    """Poll results of concurrent workers written together. A worker adds its result to the open batch and waits
    for it to be written: the worker that fills the batch writes it, else the first whose wait of `linger` runs
    out. Each gets its own outcome (False: the server was removed) or the write's exception."""

    def __init__(self, store: Store, *, size: int = POLL_WRITE_BATCH, linger: float = WRITE_LINGER) -> None:
        self._store = store
        self._size = size
        self._linger = linger
        self._lock = threading.Lock()
        self._open = _Batch()

    def _take(self, batch: _Batch) -> bool:
        """Caller holds the lock. True if the caller is to write `batch` (nobody took it yet)."""
        if batch.taken:
            return False
        batch.taken = True
        self._open = _Batch()
        return True

    def write(self, poll: PollWrite) -> bool:
        with self._lock:
            batch = self._open
            index = len(batch.polls)
            batch.polls.append(poll)
            mine = len(batch.polls) >= self._size and self._take(batch)
        if not mine and not batch.done.wait(self._linger):
            with self._lock:
                mine = self._take(batch)
        if mine:
            try:
                batch.stored = self._store.record_polls(batch.polls)
            except BaseException as exc:  # every worker of the batch sees it, as it would its own write's
                batch.error = exc
            finally:
                batch.done.set()
        batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.stored[index]


# ----------------------------------------------------------------------------------------------- a cycle
def _target(server: Server) -> Target:
    return Target(url=server.url, secret=server.secret)


@dataclass(frozen=True)
class _Plan:
    health: bool  # update online/counters/load/stats
    meetings: bool  # sweep the mappings
    versions: Literal["no", "due", "all"]
    now: float  # wall clock at the start of the cycle
    stop_at: float  # monotonic deadline for BBB answers
    writes: WriteBatcher


@dataclass
class _Job:
    server: Server
    started: bool = False
    _claim: threading.Lock = field(default_factory=threading.Lock)

    def claim(self) -> bool:
        """Exactly one of the worker (after its HTTP calls) and the main thread (at the deadline) wins."""
        return self._claim.acquire(blocking=False)


@dataclass
class _Result:
    server: Server
    online: bool
    load: float | None
    error: str | None = None
    timed_out: bool = False
    running: frozenset[str] | None = None  # meetingIDs listed by a healthy answer
    participants: dict[str, int] = field(default_factory=dict)  # meetingID → participantCount, same answer
    came_online: bool = False
    panicked: bool = False
    cleared: list[str] = field(default_factory=list)
    disabled: bool = False
    version_updated: bool = False
    removed: bool = False
    skipped: bool = False


@dataclass
class CycleSummary:
    what: str
    servers: int = 0
    online: int = 0
    offline: int = 0
    failed: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # never contacted before the deadline: health unchanged
    came_online: list[str] = field(default_factory=list)
    panicked: list[str] = field(default_factory=list)
    meetings_cleared: int = 0  # mappings removed by panics
    disabled: list[str] = field(default_factory=list)  # cordoned servers drained to zero load
    meetings_running: int = 0
    meetings_ended: int = 0
    meetings_extended: int = 0
    versions_updated: int = 0
    total_load: float = 0.0
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "servers": self.servers,
            "online": self.online,
            "offline": self.offline,
            "failed": sorted(self.failed),
            "timed_out": sorted(self.timed_out),
            "skipped": sorted(self.skipped),
            "came_online": sorted(self.came_online),
            "panicked": sorted(self.panicked),
            "meetings_cleared": self.meetings_cleared,
            "disabled": sorted(self.disabled),
            "meetings_running": self.meetings_running,
            "meetings_ended": self.meetings_ended,
            "meetings_extended": self.meetings_extended,
            "versions_updated": self.versions_updated,
            "total_load": round(self.total_load, 3),
            "duration": round(self.duration, 3),
        }


class Poller:
    def __init__(
        self,
        store: Store,
        client: BBBGateway,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.client = client
        self.settings = settings
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep

    # ------------------------------------------------------------------ scheduling
    def run_scheduled(self, remaining_ms: int) -> dict[str, Any]:
        """One EventBridge tick: as many cycles as fit, POLL_INTERVAL apart (interval 20 → 3 cycles per minute),
        each finished before the next one starts and all before the Lambda times out."""
        start = self.monotonic()
        remaining = max(0.0, remaining_ms / 1000.0)
        hard_end = start + remaining - min(SAFETY_MARGIN, remaining / 4)
        interval = self.settings.poll_interval
        cycles = max(1, int(SCHEDULE_PERIOD // interval)) if interval < SCHEDULE_PERIOD else 1
        summaries: list[CycleSummary] = []
        for index in range(cycles):
            begin = start + index * interval
            if index and begin + MIN_CYCLE > hard_end:
                break
            delay = begin - self.monotonic()
            if delay > 0:
                self.sleep(delay)
            next_begin = start + (index + 1) * interval if index + 1 < cycles else hard_end
            deadline = min(self.monotonic() + self.settings.poller_wait_timeout, next_begin, hard_end)
            summaries.append(self.cycle("all", stop_at=max(deadline, self.monotonic() + 0.1)))
        return aggregate(summaries, self.monotonic() - start)

    # ----------------------------------------------------------------------- cycle
    @traced
    def cycle(self, what: str = "all", *, stop_at: float | None = None) -> CycleSummary:
        if what not in POLL_WHATS:
            raise ValueError(f"unknown poll target {what!r}")
        started = self.monotonic()
        plan = _Plan(
            health=what in ("all", "servers"),
            meetings=what in ("all", "meetings"),
            versions="all" if what == "versions" else "due" if what == "all" else "no",
            now=self.clock(),
            stop_at=stop_at if stop_at is not None else started + self.settings.poller_wait_timeout,
            writes=WriteBatcher(self.store),
        )
        summary = CycleSummary(what=what)
        # The mappings are read while the servers are polled (the sweep's writes are conditional, so a snapshot
        # taken a moment earlier is safe): the scan's round trips overlap the BBB calls instead of following them.
        prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-meetings") if plan.meetings else None
        mappings = prefetch.submit(lambda: list(self.store.all_meetings())) if prefetch else None
        try:
            servers = self.store.list_servers()
            summary.servers = len(servers)
            results = self._poll_servers(servers, plan, summary) if servers else []
            for res in results:
                self._count(res, summary)
            if mappings is not None:
                self._sweep(results, plan, summary, mappings.result())
        finally:
            if prefetch is not None:
                prefetch.shutdown(wait=False)
        summary.duration = self.monotonic() - started
        if plan.health:
            emit("ServersOnline", summary.online)
            emit("ServersOffline", summary.offline)
            emit("TotalLoad", summary.total_load)
            emit("PollFailures", len(summary.failed))
        if plan.meetings:
            emit("Meetings", summary.meetings_running)
        emit("PollDuration", summary.duration * 1000)
        emit("PollOverrun", 1 if summary.duration > self.settings.poll_interval else 0)
        logger.info("poll cycle done", extra=summary.as_dict())
        return summary

    def _poll_servers(self, servers: list[Server], plan: _Plan, summary: CycleSummary) -> list[_Result]:
        jobs = [_Job(server) for server in servers]
        pool = ThreadPoolExecutor(max_workers=min(len(jobs), self.settings.poller_threads), thread_name_prefix="poll")
        try:
            futures: dict[Future[_Result | None], _Job] = {pool.submit(self._work, job, plan): job for job in jobs}
            done, pending = wait(futures, timeout=max(0.0, plan.stop_at - self.monotonic()))
            late: list[_Job] = []
            results_skipped: list[_Result] = []
            settling: list[Future[_Result | None]] = []
            for future in pending:
                job = futures[future]
                if not job.claim():
                    settling.append(future)  # its answer came in time; it is storing it now
                elif job.started:
                    late.append(job)
                else:  # never asked (the pool was busy with slow servers): no verdict on its health
                    results_skipped.append(_Result(job.server, job.server.online, job.server.load, skipped=True))
            results = _collect(done) + self._settle_late(late, plan)
            wait(settling)
            results += _collect(settling) + results_skipped
        finally:
            # Workers still waiting on a hung server finish on their own (bounded by the client timeouts); their
            # claim is lost, so they write nothing.
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def _settle_late(self, late: list[_Job], plan: _Plan) -> list[_Result]:
        """Record the servers that did not answer in time as failures (in parallel: a partition can hit many)."""
        if not late:
            return []
        with ThreadPoolExecutor(max_workers=min(len(late), self.settings.poller_threads)) as pool:
            fetched = [
                _Fetched(job.server, error="timeout: no answer before the poll deadline", timed_out=True)
                for job in late
            ]
            return list(pool.map(lambda f: self._settle(f, plan), fetched))

    # ---------------------------------------------------------------- one server
    def _work(self, job: _Job, plan: _Plan) -> _Result | None:
        job.started = True
        fetched = self._fetch(job.server, plan)
        if not job.claim():
            return None  # too late: the main thread already recorded this server as failed
        return self._settle(fetched, plan)

    def _fetch(self, server: Server, plan: _Plan) -> _Fetched:
        fetched = _Fetched(server)
        if plan.health or plan.meetings:
            try:
                fetched.meetings = self.client.get_meetings(_target(server))
            except Exception as exc:  # any failure (transport, FAILED, malformed) is a failed poll
                fetched.error = poll_error(exc)
        if fetched.error is None and self._version_due(server, plan):
            try:
                fetched.version = self.client.bbb_version(_target(server))
            except Exception as exc:  # a version is nice to have; it never affects health
                logger.debug("version not read", server=server.id, error=_describe(exc))
        return fetched

    def _version_due(self, server: Server, plan: _Plan) -> bool:
        if plan.versions == "all":
            return True
        if plan.versions == "no":
            return False
        if not server.bbb_version or not server.online:
            return True  # unknown, or the server may come back upgraded
        # Spread the hourly refresh: each server has a stable slot among the cycles of an hour.
        interval = max(1.0, self.settings.poll_interval)
        slots = max(1, round(VERSION_REFRESH / interval))
        return zlib.crc32(server.id.encode()) % slots == int(plan.now // interval) % slots

    def _settle(self, fetched: _Fetched, plan: _Plan) -> _Result:
        server = fetched.server
        res = _Result(
            server=server, online=server.online, load=server.load, error=fetched.error, timed_out=fetched.timed_out
        )
        try:
            if fetched.meetings is not None:
                res.running = frozenset(m.meeting_id for m in fetched.meetings)
                res.participants = {m.meeting_id: m.participants for m in fetched.meetings}
            if plan.health:
                self._record_health(fetched, res, plan)
            elif fetched.version and fetched.version != server.bbb_version:
                self.store.update_server(server.id, {"bbb_version": fetched.version})
                res.version_updated = True
        except ServerGone:
            res.removed, res.running = True, None
        except Exception:  # one server's storage error must not lose the others' results
            logger.exception("could not store a poll result", server=server.id)
            res.running = None  # not trusted for the sweep either
        return res

    def _record_health(self, fetched: _Fetched, res: _Result, plan: _Plan) -> None:
        s = self.settings
        server = fetched.server
        transition = after_poll(
            Health(server.online, server.healthy_counter, server.unhealthy_counter),
            fetched.error is None,
            healthy_threshold=s.server_healthy_threshold,
            unhealthy_threshold=s.server_unhealthy_threshold,
        )
        changes: dict[str, Any] = {
            "online": transition.health.online,
            "healthy_counter": transition.health.healthy_counter,
            "unhealthy_counter": transition.health.unhealthy_counter,
            "last_error": fetched.error or "",  # "" (not stored) once a poll succeeds
        }
        adjust_seen: float | None = None
        stats: ServerStats | None = None
        if transition.went_offline:
            changes.update(load=None, meetings=0, users=0, largest_meeting=0, videos=0)
            adjust_seen = server.load_adjust
        elif transition.stats_current:
            stats = server_stats(
                fetched.meetings or [],
                plan.now,
                min_user_count=s.load_min_user_count,
                buffer_minutes=s.load_join_buffer_time,
                multiplier=server.load_multiplier,
            )
            changes.update(
                meetings=stats.meetings, users=stats.users, largest_meeting=stats.largest_meeting, videos=stats.videos
            )
            # Disabled servers have no load (Scalelite); cordoned ones keep it for the drain rule below.
            changes["load"] = None if server.state is ServerState.DISABLED else stats.load
            # The poll now accounts for the reservations made before it started: subtract exactly those.
            adjust_seen = server.load_adjust
        if fetched.version and fetched.version != server.bbb_version:
            changes["bbb_version"] = fetched.version
            res.version_updated = True
        # Only what differs from the snapshot read at the start of the cycle is written: a steady server costs no
        # write at all, a busy one a short update (and a field changed meanwhile by an operator is not clobbered
        # with the value it already had when we read it).
        changes = {name: value for name, value in changes.items() if getattr(server, name) != value}
        if (adjust_seen or changes) and not plan.writes.write(PollWrite(server.id, changes, adjust_seen or None)):
            res.removed = True  # deleted while we polled it
            res.running = None
            return
        res.online, res.load = changes.get("online", server.online), changes.get("load", server.load)
        res.came_online = transition.came_online
        if fetched.error is not None:
            logger.warning(
                "server poll failed",
                server=server.id,
                error=fetched.error,
                unhealthy_counter=transition.health.unhealthy_counter,
            )
        if transition.came_online:
            logger.info("server is healthy: online", server=server.id)
        if transition.went_offline:
            logger.warning("server is unhealthy: offline, panicking its meetings", server=server.id)
            res.panicked = True
            cleared = clear_meetings(
                self.store,
                self.client,
                server,
                end_calls=not fetched.timed_out,  # it did not even answer getMeetings in time
                stop_at=plan.stop_at,
                monotonic=self.monotonic,
            )
            res.cleared = cleared.meeting_ids
        drained = stats is not None and server.state is ServerState.CORDONED and stats.load == 0
        if drained and self.store.disable_if_cordoned(server.id):
            logger.info("cordoned server drained: disabled", server=server.id)
            res.disabled = True
            res.load = None

    # ----------------------------------------------------------------- summary
    @staticmethod
    def _count(res: _Result, summary: CycleSummary) -> None:
        sid = res.server.id
        if res.removed:
            return
        if res.skipped:
            summary.skipped.append(sid)
        if res.error is not None:
            summary.failed.append(sid)
        if res.timed_out:
            summary.timed_out.append(sid)
        if res.came_online:
            summary.came_online.append(sid)
        if res.panicked:
            summary.panicked.append(sid)
            summary.meetings_cleared += len(res.cleared)
        if res.disabled:
            summary.disabled.append(sid)
        if res.version_updated:
            summary.versions_updated += 1
        if res.online:
            summary.online += 1
        else:
            summary.offline += 1
        if res.online and res.load is not None and res.server.state is ServerState.ENABLED and not res.disabled:
            summary.total_load += res.load

    # ------------------------------------------------------------------- sweep
    def _sweep(self, results: list[_Result], plan: _Plan, summary: CycleSummary, mappings: list[Meeting]) -> None:
        """Mappings against the meetings their server listed. Only healthy answers count: a mapping whose server
        failed, timed out, was panicked or is gone is left to its TTL (or to the panic)."""
        listed = {r.server.id: r.running for r in results if r.running is not None and not r.panicked}
        counted = {r.server.id: r.participants for r in results}
        now = plan.now
        ttl = self.settings.default_meeting_ttl
        # Refresh a running meeting's TTL once it has lost `slack` seconds, not on every poll: one write per
        # meeting per hour (default TTL) instead of one per minute, and it still never comes near expiry.
        slack = min(3600, ttl // 4)
        extend: list[Meeting] = []
        end: list[Meeting] = []
        attendance: list[Meeting] = []  # with the polled participants
        for meeting in mappings:
            running = listed.get(meeting.server_id)
            if running is None or (meeting.expires_at and meeting.expires_at < now):
                continue
            if meeting.meeting_id in running:
                summary.meetings_running += 1
                if meeting.expires_at < now + ttl - slack:
                    extend.append(meeting)
                # Tenant attendee limits count these (multitenancy only; a write only when something changed).
                users = counted[meeting.server_id].get(meeting.meeting_id, 0)
                tenant_meeting = meeting.tenant_id != DEFAULT_TENANT
                if tenant_meeting and (users != meeting.participants or meeting.joins != meeting.polled_joins):
                    attendance.append(dataclasses.replace(meeting, participants=users))
            elif meeting.last_create <= now - MEETING_GRACE:
                end.append(meeting)
        if not extend and not end and not attendance:
            return
        expires_at = int(now) + ttl

        def extend_one(meeting: Meeting) -> bool:
            return self.store.extend_meeting(meeting, expires_at)

        def end_one(meeting: Meeting) -> bool:
            # Not while a create or end holds it, nor if a create reached it since it was read.
            if not self.store.release_meeting(meeting, idle=True, now=now):
                return False  # re-placed or re-created meanwhile
            logger.info("meeting ended", meeting_id=meeting.meeting_id, server=meeting.server_id)
            return True

        def attendance_one(meeting: Meeting) -> bool:
            # `joins` as read with this cycle's mappings: joins counted after that stay "since the poll".
            return self.store.record_attendance(meeting, meeting.participants, meeting.joins)

        workers = min(len(extend) + len(end) + len(attendance), self.settings.poller_threads)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep") as pool:
            extended = list(pool.map(_guarded(extend_one), extend))
            ended = list(pool.map(_guarded(end_one), end))
            list(pool.map(_guarded(attendance_one), attendance))
        summary.meetings_extended = sum(extended)
        summary.meetings_ended = sum(ended)


@dataclass
class _Fetched:
    server: Server
    meetings: list[MeetingSample] | None = None
    error: str | None = None
    timed_out: bool = False
    version: str | None = None


def _collect(futures: Iterable[Future[_Result | None]]) -> list[_Result]:
    results = []
    for future in futures:
        exc = future.exception()
        if exc is not None:  # a bug in one server's handling must not lose the others' results
            logger.error("poll worker failed", error=_describe(exc))
        elif (result := future.result()) is not None:
            results.append(result)
    return results


LAST_ERROR_MAX = 200  # characters kept of a poll error (a server's last_error)


def poll_error(exc: BaseException) -> str:
    """A short reason for a failed poll, as stored in the server's `last_error`: BBB's own `messageKey: message`
    (a wrong secret gives `checksumError: …`), `HTTP 404`, `malformed XML`, `connection refused`, `timeout`, …"""
    reason = exc.reason if isinstance(exc, PollFailure | BBBTransportError) else _describe(exc)
    return reason if len(reason) <= LAST_ERROR_MAX else reason[: LAST_ERROR_MAX - 1] + "…"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BBBTransportError | PollFailure):
        return str(exc) or type(exc).__name__
    if isinstance(exc, BBBError):
        return f"{exc.message_key}: {exc.message}"
    return type(exc).__name__


def _guarded(fn: Callable[[Meeting], bool]) -> Callable[[Meeting], bool]:
    def run(meeting: Meeting) -> bool:
        try:
            return fn(meeting)
        except Exception:  # the next poll retries; the others must go on
            logger.exception("meeting sweep step failed", meeting_id=meeting.meeting_id)
            return False

    return run


def aggregate(summaries: list[CycleSummary], duration: float) -> dict[str, Any]:
    """A scheduled run's result: the last cycle's picture, events of every cycle."""
    out: dict[str, Any] = summaries[-1].as_dict() if summaries else CycleSummary(what="all").as_dict()
    for name in ("came_online", "panicked", "disabled"):
        out[name] = sorted({sid for s in summaries for sid in getattr(s, name)})
    for name in ("meetings_cleared", "meetings_ended", "meetings_extended", "versions_updated"):
        out[name] = sum(getattr(s, name) for s in summaries)
    out["cycles"] = len(summaries)
    out["duration"] = round(duration, 3)
    return out
