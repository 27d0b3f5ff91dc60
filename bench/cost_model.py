"""Monthly AWS cost of a deployment at the reference load, from counts MEASURED on the real handlers (`make cost`).

`bench/cost_measure.py` runs each operation through its real Lambda handler over in-process moto (and simulated BBB
servers) and records what it cost: DynamoDB read/write request units, S3, SQS and Secrets Manager requests, the
handler's wall time, the bytes it wrote to stdout (= CloudWatch Logs) and the bytes of its answer. This module is
the arithmetic: counts in, dollars out (pure functions, tested by tests/unit/test_cost_model.py), with the
published prices as named constants and every assumption about the workload as a named, stated field.

Prices: us-east-1, on-demand, list prices as published on the AWS pricing pages named next to each constant, as
known on 2025-06-01 (the last time they were read; this machine has no internet access to re-check them). No free
tier is applied (it is per account, not per stack); `free_tier_note` says what the always-free allowances would take
off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

HOURS_PER_MONTH = 730.0  # AWS's own convention in its pricing calculator
DAYS_PER_MONTH = 30.4
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
GB = 1024**3

# --- Prices (USD, us-east-1). Source: the service's pricing page on aws.amazon.com, as of 2025-06-01. -----------------
# https://aws.amazon.com/lambda/pricing/ (first pricing tier, 0-6 billion GB-s/month)
LAMBDA_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
LAMBDA_PER_MILLION_REQUESTS = 0.20
# https://aws.amazon.com/api-gateway/pricing/ HTTP APIs, first 300 million requests/month (per 512 KB increment)
HTTP_API_PER_MILLION = 1.00
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (after the 2024-11-01 reduction); PITR per GB-month of table size
DYNAMODB_PER_MILLION_RRU = 0.125
DYNAMODB_PER_MILLION_WRU = 0.625
DYNAMODB_STORAGE_GB_MONTH = 0.25
DYNAMODB_PITR_GB_MONTH = 0.20
# https://aws.amazon.com/s3/pricing/ S3 Standard, first 50 TB; tier 1 = PUT, COPY, POST, LIST; tier 2 = GET, HEAD, ...
S3_STORAGE_GB_MONTH = 0.023
S3_TIER1_PER_1000 = 0.005
S3_TIER2_PER_1000 = 0.0004
# https://aws.amazon.com/cloudfront/pricing/ North America/Europe (PriceClass_100), first 10 TB/month
CLOUDFRONT_PER_GB_OUT = 0.085
CLOUDFRONT_HTTPS_PER_10K = 0.0100
CLOUDFRONT_FUNCTIONS_PER_MILLION = 0.10
# https://aws.amazon.com/sqs/pricing/ standard queues (each 64 KB chunk of a request is one request)
SQS_PER_MILLION = 0.40
# https://aws.amazon.com/cloudwatch/pricing/ standard logs ingestion and storage, custom metrics (first 10,000),
# standard-resolution alarms (per alarm metric), dashboards (beyond the 3 free ones)
LOGS_INGEST_PER_GB = 0.50
LOGS_STORAGE_GB_MONTH = 0.03
METRIC_PER_MONTH = 0.30
ALARM_PER_MONTH = 0.10
DASHBOARD_PER_MONTH = 3.00
# https://aws.amazon.com/secrets-manager/pricing/
SECRET_PER_MONTH = 0.40
SECRETS_PER_10K_CALLS = 0.05
# https://aws.amazon.com/xray/pricing/ traces recorded
XRAY_PER_MILLION_TRACES = 5.00
# https://aws.amazon.com/waf/pricing/ (the optional web ACL: WafRateLimit > 0 or WebAclArn; not in the totals)
WAF_WEB_ACL_MONTH = 5.00
WAF_RULE_MONTH = 1.00
WAF_PER_MILLION_REQUESTS = 0.60
# https://aws.amazon.com/eventbridge/pricing/ scheduled rules on the default event bus (what `Type: Schedule` creates)
# are not charged; EventBridge Scheduler would be $1.00 per million invocations after 14 million free.
EVENTBRIDGE_SCHEDULED_RULE = 0.0

# --- Scalelite on EC2 + RDS + ElastiCache, sized for the same 20 BBB servers (one of each, single AZ) --------------
# https://aws.amazon.com/ec2/pricing/on-demand/ (Linux), https://aws.amazon.com/ebs/pricing/ (gp3),
# https://aws.amazon.com/rds/postgresql/pricing/ (single-AZ), https://aws.amazon.com/elasticache/pricing/,
# https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer (internet egress, first 10 TB)
EC2_INSTANCE = ("m6i.large", 0.096)  # 2 vCPU, 8 GiB: Scalelite's api, poller, recording-importer and nginx containers
EC2_ROOT_GB = 50
EBS_GP3_GB_MONTH = 0.08  # root volume, and the recordings volume served by nginx (and shared with BBB over NFS)
RDS_INSTANCE = ("db.t4g.small", 0.032)  # PostgreSQL, 2 vCPU, 2 GiB
RDS_STORAGE_GB = 20
RDS_GP2_GB_MONTH = 0.115
ELASTICACHE_NODE = ("cache.t4g.micro", 0.016)  # Redis, 0.5 GiB
EC2_EGRESS_PER_GB = 0.09


@dataclass(frozen=True)
class OpCost:
    """What one operation cost when it was measured. `invocations` is the Lambda invocations it takes (0 for work
    that runs no function, e.g. a BBB server's PUT to the spool); `http_api` whether it came through CloudFront and
    the HTTP API."""

    function: str = ""
    invocations: float = 1.0
    duration_ms: float = 0.0  # handler wall time per invocation
    rru: float = 0.0
    wru: float = 0.0
    s3_tier1: float = 0.0
    s3_tier2: float = 0.0
    sqs: float = 0.0
    secrets_calls: float = 0.0
    log_bytes: float = 0.0  # written to stdout by the handler (logs and EMF metrics)
    response_bytes: float = 0.0
    http_api: bool = False


@dataclass(frozen=True)
class Function:
    memory_mb: int
    architecture: str  # "arm64" or "x86_64"
    snapstart: bool = False  # its cache and restore charges are not modelled (see docs/cost.md)


@dataclass(frozen=True)
class Workload:
    """The reference load of issue 13, and the stated assumptions that turn it into operations."""

    meetings_per_day: float = 1_000
    joins_per_day: float = 20_000
    servers: int = 20
    poll_interval_s: float = 60
    recordings_gb: float = 500
    playback_tb_per_month: float = 2.0
    # assumptions
    repeat_creates_per_meeting: float = 1.0  # the LMS calls create again when the moderator re-enters the room
    is_meeting_running_per_meeting: float = 10.0  # waiting-room polls before the moderator arrives
    get_meeting_info_per_meeting: float = 5.0
    ends_per_meeting: float = 1.0  # the LMS's "end" button, or its end on a schedule
    get_recordings_per_join: float = 1.0  # Moodle lists the room's recordings on the page the user joins from
    recorded_share: float = 0.1  # meetings with a recording: each one upload, one import, one callback
    busy_cycle_share: float = 0.5  # poll cycles with meetings running (≈ 12 school hours a day)
    meetings_per_server_busy: float = 4.0  # running meetings per server in a busy cycle (1,000/day × 1 h / 12 h / 20)
    import_sweeps_per_day: float = 96  # ImporterFunction's rate(15 minutes) sweep
    cold_starts_per_day: float = 200  # new execution environments, all functions (INIT is billed since 2025-08-01)
    avg_recording_mb: float = 100  # 500 GB stored ≈ 5,000 recordings (DynamoDB storage)
    playback_bytes_per_request: float = 512 * 1024  # slides, thumbnails, ranges of the media files
    cloudfront_hit_ratio: float = 0.5  # recordings are watched a few times each, from many edge locations
    secret_refresh_s: float = 300  # each warm container re-reads LOADBALANCER_SECRET every 5 minutes
    warm_containers: float = 4  # execution environments alive on average (all functions)
    log_storage_months: float = 1.0  # LogRetentionDays 30: a month of logs is kept
    sqs_idle_receives_per_month: float = 5 * 3 * 60 * HOURS_PER_MONTH  # 5 pollers, 20 s long polls, per queue


@dataclass(frozen=True)
class Fixed:
    """Resources billed per month whatever the traffic (counted in template.yaml and in the metrics seen)."""

    secrets: int = 1
    alarms: int = 0
    dashboards: int = 0
    custom_metrics: int = 0
    sqs_event_sources: int = 1  # queues that a Lambda event source mapping long-polls
    table_bytes: float = 0.0  # DynamoDB table size (for storage and PITR)


@dataclass
class Breakdown:
    """Monthly dollars by service, and the operations behind them."""

    services: dict[str, float] = field(default_factory=dict)
    ops_per_month: dict[str, float] = field(default_factory=dict)

    def add(self, service: str, dollars: float) -> None:
        self.services[service] = self.services.get(service, 0.0) + dollars

    @property
    def total(self) -> float:
        return sum(self.services.values())


# --------------------------------------------------------------------------------------------- DynamoDB units
def read_units(item_bytes: float, *, consistent: bool = False, transactional: bool = False) -> float:
    """On-demand RRU of reading `item_bytes` (one item, or the summed items of one Query/Scan page): 4 KB units,
    at least one; an eventually consistent read costs half, a transactional one double."""
    units = max(1, math.ceil(item_bytes / 4096))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2.0


def write_units(item_bytes: float, *, transactional: bool = False) -> float:
    """On-demand WRU of writing (or deleting, or condition-checking) an item of `item_bytes`: 1 KB units, at least
    one; transactional writes cost double."""
    units = max(1, math.ceil(item_bytes / 1024))
    return 2.0 * units if transactional else float(units)


def _value_size(value: Mapping[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "B":
        return len(raw)
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").lstrip("0") or "0"
        return 1 + math.ceil(len(digits) / 2)  # DynamoDB: ≈ 1 byte per 2 significant digits, plus 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS", "NS"):
        return sum(_value_size({kind[0]: v}) for v in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB bills for an item in its wire JSON: attribute names plus values (AWS's documented rules)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


# --------------------------------------------------------------------------------------------- the model
def monthly_ops(load: Workload) -> dict[str, float]:
    """Operations per month at `load`: the names are those `cost_measure` measures."""
    meetings = load.meetings_per_day * DAYS_PER_MONTH
    recorded = meetings * load.recorded_share
    cycles = SECONDS_PER_MONTH / load.poll_interval_s
    return {
        "create (new)": meetings,
        "create (existing)": meetings * load.repeat_creates_per_meeting,
        "join": load.joins_per_day * DAYS_PER_MONTH,
        "isMeetingRunning": meetings * load.is_meeting_running_per_meeting,
        "getMeetingInfo": meetings * load.get_meeting_info_per_meeting,
        "end": meetings * load.ends_per_meeting,
        "getRecordings": load.joins_per_day * DAYS_PER_MONTH * load.get_recordings_per_join,
        "recordingUpload": recorded,
        "spool PUT (BBB server)": recorded,
        "import": recorded,
        "callback": recorded,
        "import sweep": load.import_sweeps_per_day * DAYS_PER_MONTH,
        "poll cycle (busy)": cycles * load.busy_cycle_share,
        "poll cycle (idle)": cycles * (1 - load.busy_cycle_share),
    }


def poller_invocation_seconds(poll_interval_s: float, cycle_s: float) -> tuple[float, float]:
    """(invocations per cycle, billed seconds per cycle): one invocation a minute runs ⌊60 / interval⌋ cycles and
    sleeps between them, so below 60 s each cycle also bills the wait up to the next one."""
    if poll_interval_s >= 60:
        return 1.0, cycle_s
    cycles = max(1, int(60 // poll_interval_s))
    return 1.0 / cycles, ((cycles - 1) * poll_interval_s + cycle_s) / cycles


def lambda_cost(op: OpCost, count: float, fn: Function) -> tuple[float, float]:
    """(compute, requests) dollars of `count` operations: GB-seconds at the function's memory, billed per ms."""
    invocations = count * op.invocations
    billed_s = math.ceil(op.duration_ms) / 1000.0
    compute = invocations * billed_s * fn.memory_mb / 1024 * LAMBDA_GB_SECOND[fn.architecture]
    return compute, invocations / 1e6 * LAMBDA_PER_MILLION_REQUESTS


def request_costs(breakdown: Breakdown, ops: Mapping[str, OpCost], counts: Mapping[str, float]) -> None:
    """Everything proportional to the operations: DynamoDB, S3 and SQS requests, HTTP API and CloudFront requests
    of the API calls, Secrets Manager, log ingestion, X-Ray traces."""
    rru = wru = tier1 = tier2 = sqs = secrets = log_bytes = api_requests = api_bytes = traces = 0.0
    for name, count in counts.items():
        op = ops.get(name)
        if op is None:
            continue
        rru += op.rru * count
        wru += op.wru * count
        tier1 += op.s3_tier1 * count
        tier2 += op.s3_tier2 * count
        sqs += op.sqs * count
        secrets += op.secrets_calls * count
        log_bytes += op.log_bytes * count
        traces += op.invocations * count
        if op.http_api:
            api_requests += count
            api_bytes += op.response_bytes * count
    breakdown.add("DynamoDB requests", rru / 1e6 * DYNAMODB_PER_MILLION_RRU + wru / 1e6 * DYNAMODB_PER_MILLION_WRU)
    breakdown.add("S3 requests", tier1 / 1000 * S3_TIER1_PER_1000 + tier2 / 1000 * S3_TIER2_PER_1000)
    breakdown.add("SQS", sqs / 1e6 * SQS_PER_MILLION)
    breakdown.add("Secrets Manager", secrets / 1e4 * SECRETS_PER_10K_CALLS)
    breakdown.add("API Gateway (HTTP API)", api_requests / 1e6 * HTTP_API_PER_MILLION)
    breakdown.add(
        "CloudFront",
        api_requests / 1e4 * CLOUDFRONT_HTTPS_PER_10K
        + api_requests / 1e6 * CLOUDFRONT_FUNCTIONS_PER_MILLION
        + api_bytes / GB * CLOUDFRONT_PER_GB_OUT,
    )
    breakdown.add("CloudWatch Logs", log_bytes / GB * (LOGS_INGEST_PER_GB + LOGS_STORAGE_GB_MONTH))
    breakdown.add("X-Ray", traces / 1e6 * XRAY_PER_MILLION_TRACES)


# Lambda writes START, END and REPORT lines (≈ 300 bytes) for every invocation on top of the handler's own output.
LAMBDA_PLATFORM_LOG_BYTES = 300


def monthly_cost(
    ops: Mapping[str, OpCost],
    functions: Mapping[str, Function],
    load: Workload,
    fixed: Fixed,
    *,
    init_s: Mapping[str, float] | None = None,
    counts: Mapping[str, float] | None = None,
) -> Breakdown:
    """The month at `load` (or at explicit operation `counts`): per-operation costs × counts, plus what is billed
    for existing (storage, secrets, alarms, dashboards, metrics, the SQS event source's idle polls)."""
    counts = dict(monthly_ops(load) if counts is None else counts)
    breakdown = Breakdown(ops_per_month=counts)
    priced: dict[str, OpCost] = {}
    for name, measured in ops.items():
        if name.startswith("poll cycle"):
            per_invocation, billed = poller_invocation_seconds(load.poll_interval_s, measured.duration_ms / 1000)
            measured = replace(measured, invocations=per_invocation, duration_ms=billed * 1000 / per_invocation)
        priced[name] = replace(
            measured, log_bytes=measured.log_bytes + measured.invocations * LAMBDA_PLATFORM_LOG_BYTES
        )
    compute = requests = 0.0
    for name, count in counts.items():
        op = priced.get(name)
        if op is None or op.invocations == 0 or not op.function:
            continue
        c, r = lambda_cost(op, count, functions[op.function])
        compute, requests = compute + c, requests + r
    cold = load.cold_starts_per_day * DAYS_PER_MONTH
    for name, seconds in (init_s or {}).items():  # INIT billed like the handler (AWS, from 2025-08-01)
        fn = functions[name]
        share = cold / max(1, len(init_s or {}))
        compute += share * seconds * fn.memory_mb / 1024 * LAMBDA_GB_SECOND[fn.architecture]
    breakdown.add("Lambda", compute + requests)
    request_costs(breakdown, priced, counts)
    # Secrets Manager: one read per cold start, and the refresh of every warm container.
    refreshes = cold + load.warm_containers * SECONDS_PER_MONTH / load.secret_refresh_s
    breakdown.add("Secrets Manager", fixed.secrets * SECRET_PER_MONTH + refreshes / 1e4 * SECRETS_PER_10K_CALLS)
    breakdown.add("SQS", fixed.sqs_event_sources * load.sqs_idle_receives_per_month / 1e6 * SQS_PER_MILLION)
    breakdown.add(
        "CloudWatch (metrics, alarms, dashboard)",
        fixed.custom_metrics * METRIC_PER_MONTH
        + fixed.alarms * ALARM_PER_MONTH
        + fixed.dashboards * DASHBOARD_PER_MONTH,
    )
    breakdown.add(
        "DynamoDB storage + PITR", fixed.table_bytes / GB * (DYNAMODB_STORAGE_GB_MONTH + DYNAMODB_PITR_GB_MONTH)
    )
    breakdown.add("S3 storage", load.recordings_gb * S3_STORAGE_GB_MONTH)
    playback(breakdown, load)
    breakdown.add("EventBridge", EVENTBRIDGE_SCHEDULED_RULE)
    return breakdown


def playback(breakdown: Breakdown, load: Workload) -> None:
    """Recordings watched through CloudFront: data out, HTTPS requests, the viewer-request function, and the S3 GETs
    of the cache misses (S3 → CloudFront transfer is free)."""
    data = load.playback_tb_per_month * 1024 * GB
    requests = data / load.playback_bytes_per_request
    breakdown.add(
        "CloudFront",
        data / GB * CLOUDFRONT_PER_GB_OUT
        + requests / 1e4 * CLOUDFRONT_HTTPS_PER_10K
        + requests / 1e6 * CLOUDFRONT_FUNCTIONS_PER_MILLION,
    )
    breakdown.add("S3 requests", requests * (1 - load.cloudfront_hit_ratio) / 1000 * S3_TIER2_PER_1000)


def waf_cost(requests: float, rules: int = 1) -> float:
    """The optional web ACL: a month of the ACL and its rules, plus every request CloudFront has it inspect."""
    return WAF_WEB_ACL_MONTH + rules * WAF_RULE_MONTH + requests / 1e6 * WAF_PER_MILLION_REQUESTS


def edge_requests(ops: Mapping[str, OpCost], counts: Mapping[str, float], load: Workload) -> float:
    """Requests reaching CloudFront in a month: the API calls and the playback requests."""
    api = sum(count for name, count in counts.items() if name in ops and ops[name].http_api)
    return api + load.playback_tb_per_month * 1024 * GB / load.playback_bytes_per_request


def idle_load(load: Workload) -> Workload:
    """No meetings, no recordings watched: polling every interval and the fixed costs; the stored recordings stay."""
    return replace(
        load,
        meetings_per_day=0,
        joins_per_day=0,
        playback_tb_per_month=0,
        busy_cycle_share=0,
        cold_starts_per_day=24 * 4,  # the poller's environment recycled every few hours, the others rarely
        warm_containers=1,
    )


def ec2_cost(load: Workload, api_response_gb: float = 0.0) -> Breakdown:
    """Scalelite as its own docs deploy it, on one EC2 instance with RDS and ElastiCache (single AZ, on demand),
    recordings on an EBS volume of the instance; the same playback egress, from EC2 instead of CloudFront."""
    out = Breakdown()
    out.add(f"EC2 {EC2_INSTANCE[0]}", EC2_INSTANCE[1] * HOURS_PER_MONTH)
    out.add(f"EBS gp3 ({EC2_ROOT_GB} GB root + recordings)", (EC2_ROOT_GB + load.recordings_gb) * EBS_GP3_GB_MONTH)
    out.add(
        f"RDS PostgreSQL {RDS_INSTANCE[0]} + {RDS_STORAGE_GB} GB",
        RDS_INSTANCE[1] * HOURS_PER_MONTH + RDS_STORAGE_GB * RDS_GP2_GB_MONTH,
    )
    out.add(f"ElastiCache {ELASTICACHE_NODE[0]}", ELASTICACHE_NODE[1] * HOURS_PER_MONTH)
    out.add("data transfer out", (load.playback_tb_per_month * 1024 + api_response_gb) * EC2_EGRESS_PER_GB)
    return out


def free_tier_note(breakdown: Breakdown) -> float:
    """Dollars the always-free allowances would take off (CloudFront 1 TB + 10 M requests, Lambda 400,000 GB-s +
    1 M requests, DynamoDB 25 GB, X-Ray 100,000 traces, SQS 1 M requests), capped at what each service costs."""
    off = {
        "CloudFront": 1024 * CLOUDFRONT_PER_GB_OUT + 1000 * CLOUDFRONT_HTTPS_PER_10K,
        "Lambda": 400_000 * LAMBDA_GB_SECOND["arm64"] + LAMBDA_PER_MILLION_REQUESTS,
        "DynamoDB storage + PITR": 25 * DYNAMODB_STORAGE_GB_MONTH,
        "X-Ray": 0.1 * XRAY_PER_MILLION_TRACES,
        "SQS": SQS_PER_MILLION,
    }
    return sum(min(dollars, breakdown.services.get(name, 0.0)) for name, dollars in off.items())


# --------------------------------------------------------------------------------------------- report
def _money(dollars: float) -> str:
    return f"${dollars:,.2f}"


def render(
    ops: Mapping[str, OpCost],
    functions: Mapping[str, Function],
    load: Workload,
    fixed: Fixed,
    *,
    init_s: Mapping[str, float],
    calls: Mapping[str, Mapping[str, int]] | None = None,
) -> list[str]:
    """The report `make cost` prints (lines)."""
    month = monthly_cost(ops, functions, load, fixed, init_s=init_s)
    idle = monthly_cost(ops, functions, idle_load(load), fixed, init_s=init_s)
    api_gb = sum(op.response_bytes * month.ops_per_month.get(name, 0.0) for name, op in ops.items() if op.http_api) / GB
    ec2 = ec2_cost(load, api_gb)
    lines = [
        "== Cost model: a month at the reference load (us-east-1 list prices as of 2025-06-01, no free tier)",
        f"  load: {load.meetings_per_day:,.0f} meetings/day, {load.joins_per_day:,.0f} joins/day, {load.servers} BBB "
        f"servers polled every {load.poll_interval_s:g} s, {load.recordings_gb:,.0f} GB of recordings, "
        f"{load.playback_tb_per_month:g} TB/month of playback",
        f"  assumed per meeting: {1 + load.repeat_creates_per_meeting:g} creates (1 new), "
        f"{load.is_meeting_running_per_meeting:g} isMeetingRunning, {load.get_meeting_info_per_meeting:g} "
        f"getMeetingInfo, {load.ends_per_meeting:g} end; {load.get_recordings_per_join:g} getRecordings per join; "
        f"{load.recorded_share:.0%} of meetings recorded; {load.busy_cycle_share:.0%} of poll cycles busy "
        f"({load.meetings_per_server_busy:g} meetings per server); CloudFront hit ratio "
        f"{load.cloudfront_hit_ratio:.0%} on playback, {load.playback_bytes_per_request / 1024:,.0f} KiB per request",
        "  measured per operation (median of the runs; ms = handler wall time in this process, taken as the Lambda's "
        "duration at its memory):",
        f"    {'operation':24s} {'function':24s} {'ms':>7s} {'RRU':>6s} {'WRU':>6s} {'S3 t1':>6s} {'S3 t2':>6s} "
        f"{'SQS':>4s} {'log B':>7s} {'per month':>11s}",
    ]
    for name, op in ops.items():
        fn = functions.get(op.function)
        where = f"{op.function.removesuffix('Function')} {fn.memory_mb} MB {fn.architecture}" if fn else "(BBB server)"
        ms = f"{op.duration_ms:7.1f}" if fn else f"{'–':>7s}"
        lines.append(
            f"    {name:24s} {where:24s} {ms} {op.rru:6.1f} {op.wru:6.1f} {op.s3_tier1:6.0f} "
            f"{op.s3_tier2:6.0f} {op.sqs:4.0f} {op.log_bytes:7,.0f} {month.ops_per_month.get(name, 0):11,.0f}"
        )
        if calls and name in calls:
            detail = ", ".join(f"{k}×{v}" for k, v in sorted(calls[name].items()))
            lines.append(f"    {'':24s} [{detail or 'no AWS request'}]")
    for name in ("poll cycle (busy)", "poll cycle (idle)"):
        if name in ops:
            op, n = ops[name], load.servers
            lines.append(
                f"    {name} per server ({n} servers): {op.rru / n:.3f} RRU, {op.wru / n:.2f} WRU, "
                f"{op.duration_ms / n:.1f} ms of the cycle (they are polled concurrently)"
            )
    if init_s:
        inits = ", ".join(
            f"{name.removesuffix('Function')} {seconds * 1000:.0f} ms" for name, seconds in init_s.items()
        )
        lines.append(
            f"  INIT (handler module import in a fresh interpreter; {load.cold_starts_per_day:g} cold starts/day"
            f" billed): {inits}"
        )
    snap = [name for name, fn in functions.items() if fn.snapstart]
    if snap:
        lines.append(f"  SnapStart on {', '.join(snap)}: its cache and restore charges are not in the figures below")
    lines.append(
        f"  fixed: {fixed.secrets} secrets, {fixed.alarms} alarms, {fixed.dashboards} dashboards, "
        f"{fixed.custom_metrics} custom metrics (metric × dimension values seen in the measured runs), "
        f"{fixed.sqs_event_sources} SQS event source(s) long-polling"
    )
    width = max(len(k) for k in month.services) + 2
    lines.append(f"  {'monthly cost by service':{width}s} {'reference':>11s} {'idle':>11s}")
    for service, dollars in sorted(month.services.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {service:{width - 2}s} {_money(dollars):>11s} {_money(idle.services.get(service, 0)):>11s}")
    lines.append(f"    {'TOTAL':{width - 2}s} {_money(month.total):>11s} {_money(idle.total):>11s}")
    lines.append(
        "  idle = no meetings and no playback: polling every interval, the stored recordings, secrets, alarms, "
        "dashboard, metrics"
    )
    waf = waf_cost(edge_requests(ops, month.ops_per_month, load))
    lines.append(f"  with the optional WAF web ACL (WafRateLimit > 0, one rate-based rule): + {_money(waf)} a month")
    lines.append(
        f"  always-free allowances (per account) would take ≈ {_money(free_tier_note(month))} off the reference month"
    )
    lines.append(
        f"  Scalelite on EC2 + RDS + ElastiCache, same load (on demand, single AZ): {_money(ec2.total)} "
        f"({'; '.join(f'{k} {_money(v)}' for k, v in ec2.services.items())}), whether busy or idle except the "
        f"{_money(ec2.services['data transfer out'])} of transfer"
    )
    return lines


def main() -> None:
    from bench.cost_measure import measure

    load = Workload()
    measured = measure(busy_meetings_per_server=int(load.meetings_per_server_busy))
    stored_recordings = load.recordings_gb * 1024 / load.avg_recording_mb
    fixed = replace(
        measured.fixed,
        custom_metrics=measured.metrics_seen,
        table_bytes=stored_recordings * measured.table_bytes_per_recording,
    )
    for line in render(measured.ops, measured.functions, load, fixed, init_s=measured.init_s, calls=measured.calls):
        print(line)
    print(f"  (measured in {measured.seconds:.0f} s)")


if __name__ == "__main__":
    main()
