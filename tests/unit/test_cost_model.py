"""The cost model's arithmetic (bench/cost_model.py): counts in, dollars out, against hand-computed figures."""

from __future__ import annotations

import pytest

from bench import cost_model as cm
from bench.cost_model import Fixed, Function, OpCost, Workload

ARM = Function(1024, "arm64")
FUNCTIONS = {"ApiFunction": ARM, "PollerFunction": Function(512, "x86_64")}
NOTHING_FIXED = Fixed(secrets=0, alarms=0, dashboards=0, custom_metrics=0, sqs_event_sources=0)
QUIET = Workload(playback_tb_per_month=0, recordings_gb=0, cold_starts_per_day=0, warm_containers=0)


@pytest.mark.parametrize(
    ("size", "kw", "units"),
    [
        (0, {}, 0.5),  # a read of nothing still costs the minimum
        (4096, {}, 0.5),
        (4097, {}, 1.0),
        (4097, {"consistent": True}, 2.0),
        (100, {"transactional": True}, 2.0),
        (9000, {"transactional": True}, 6.0),
    ],
)
def test_read_units_are_4_kb_halved_when_eventually_consistent(size: int, kw: dict[str, bool], units: float) -> None:
    assert cm.read_units(size, **kw) == units


@pytest.mark.parametrize(
    ("size", "transactional", "units"), [(0, False, 1.0), (1024, False, 1.0), (1025, False, 2.0), (1025, True, 4.0)]
)
def test_write_units_are_1_kb_doubled_in_transactions(size: int, transactional: bool, units: float) -> None:
    assert cm.write_units(size, transactional=transactional) == units


def test_item_size_counts_names_and_values() -> None:
    assert cm.item_size({"pk": {"S": "abc"}}) == 5
    assert cm.item_size({"pk": {"S": "é"}}) == 4  # UTF-8 bytes
    assert cm.item_size({"n": {"N": "12345"}}) == 1 + 1 + 3  # 1 byte per 2 significant digits, + 1
    assert cm.item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    assert cm.item_size({"m": {"M": {"k": {"S": "vv"}}}}) == 1 + 3 + 1 + 1 + 2
    assert cm.item_size({"l": {"L": [{"S": "a"}, {"S": "b"}]}}) == 1 + 3 + 2 * 2
    with pytest.raises(ValueError, match="unknown DynamoDB type"):
        cm.item_size({"x": {"Q": 1}})


def test_lambda_is_billed_per_gb_second_and_per_request_rounded_up_to_the_ms() -> None:
    compute, requests = cm.lambda_cost(OpCost(function="ApiFunction", duration_ms=100), 1_000_000, ARM)
    assert compute == pytest.approx(1_000_000 * 0.1 * 1.0 * 0.0000133334)
    assert requests == pytest.approx(0.20)
    tiny, _ = cm.lambda_cost(OpCost(duration_ms=0.2), 1000, Function(2048, "x86_64"))
    assert tiny == pytest.approx(1000 * 0.001 * 2 * 0.0000166667)


def test_the_poller_bills_the_waits_between_its_cycles_below_60_s() -> None:
    assert cm.poller_invocation_seconds(60, 0.3) == (1.0, 0.3)
    per_invocation, billed = cm.poller_invocation_seconds(20, 0.3)
    assert per_invocation == pytest.approx(1 / 3)
    assert billed == pytest.approx((2 * 20 + 0.3) / 3)


def test_monthly_operations_follow_the_workload() -> None:
    ops = cm.monthly_ops(Workload())
    assert ops["create (new)"] == pytest.approx(1000 * 30.4)
    assert ops["join"] == pytest.approx(20_000 * 30.4)
    assert ops["poll cycle (busy)"] + ops["poll cycle (idle)"] == pytest.approx(730 * 3600 / 60)
    assert ops["import"] == pytest.approx(1000 * 30.4 * 0.1)


def test_an_api_call_costs_its_requests_units_and_compute() -> None:
    op = OpCost(
        function="ApiFunction",
        duration_ms=50,
        rru=2,
        wru=3,
        s3_tier2=1,
        log_bytes=700,
        response_bytes=1000,
        http_api=True,
    )
    month = cm.monthly_cost({"join": op}, FUNCTIONS, QUIET, NOTHING_FIXED, counts={"join": 1_000_000})
    s = month.services
    assert s["DynamoDB requests"] == pytest.approx(2 * 0.125 + 3 * 0.625)
    assert s["S3 requests"] == pytest.approx(1000 * 0.0004)
    assert s["API Gateway (HTTP API)"] == pytest.approx(1.00)
    answer_gb = 1_000_000 * 1000 / 1024**3
    assert s["CloudFront"] == pytest.approx(100 * 0.01 + 0.10 + answer_gb * 0.085)
    assert s["Lambda"] == pytest.approx(1_000_000 * 0.05 * 0.0000133334 + 0.20)
    log_gb = 1_000_000 * (700 + cm.LAMBDA_PLATFORM_LOG_BYTES) / 1024**3
    assert s["CloudWatch Logs"] == pytest.approx(log_gb * (0.50 + 0.03))
    assert s["X-Ray"] == pytest.approx(5.00)
    assert month.total == pytest.approx(sum(s.values()))


def test_work_outside_lambda_costs_no_lambda_and_no_http_api() -> None:
    put = OpCost(function="", invocations=0, s3_tier1=1)
    month = cm.monthly_cost(
        {"spool PUT (BBB server)": put}, FUNCTIONS, QUIET, NOTHING_FIXED, counts={"spool PUT (BBB server)": 2000}
    )
    assert month.services["Lambda"] == 0
    assert month.services["API Gateway (HTTP API)"] == 0
    assert month.services["S3 requests"] == pytest.approx(2 * 0.005)


def test_fixed_costs_storage_and_playback() -> None:
    fixed = Fixed(secrets=2, alarms=10, dashboards=1, custom_metrics=20, sqs_event_sources=1, table_bytes=2 * 1024**3)
    load = Workload(recordings_gb=500, playback_tb_per_month=2, cold_starts_per_day=0, warm_containers=0)
    month = cm.monthly_cost({}, FUNCTIONS, load, fixed, counts={})
    s = month.services
    assert s["Secrets Manager"] == pytest.approx(0.80)
    assert s["CloudWatch (metrics, alarms, dashboard)"] == pytest.approx(20 * 0.30 + 10 * 0.10 + 3.00)
    assert s["S3 storage"] == pytest.approx(500 * 0.023)
    assert s["DynamoDB storage + PITR"] == pytest.approx(2 * (0.25 + 0.20))
    assert s["SQS"] == pytest.approx(load.sqs_idle_receives_per_month / 1e6 * 0.40)
    requests = 2 * 1024**4 / load.playback_bytes_per_request
    assert s["CloudFront"] == pytest.approx(2048 * 0.085 + requests / 1e4 * 0.01 + requests / 1e6 * 0.10)
    assert s["S3 requests"] == pytest.approx(requests * 0.5 / 1000 * 0.0004)


def test_the_secret_is_read_at_each_cold_start_and_each_refresh() -> None:
    load = Workload(cold_starts_per_day=100, warm_containers=2, secret_refresh_s=300)
    month = cm.monthly_cost({}, FUNCTIONS, load, Fixed(secrets=1, sqs_event_sources=0), counts={})
    reads = 100 * 30.4 + 2 * 730 * 3600 / 300
    assert month.services["Secrets Manager"] == pytest.approx(0.40 + reads / 1e4 * 0.05)


def test_init_is_billed_per_cold_start() -> None:
    load = Workload(cold_starts_per_day=10, warm_containers=0)
    month = cm.monthly_cost({}, FUNCTIONS, load, NOTHING_FIXED, init_s={"ApiFunction": 0.5}, counts={})
    assert month.services["Lambda"] == pytest.approx(10 * 30.4 * 0.5 * 1.0 * 0.0000133334)


def test_idle_has_no_meetings_and_no_playback_and_costs_less() -> None:
    op = OpCost(function="ApiFunction", duration_ms=40, wru=3, http_api=True)
    poll = OpCost(function="PollerFunction", duration_ms=150, rru=2.5)
    ops = {"join": op, "poll cycle (idle)": poll, "poll cycle (busy)": poll}
    busy = cm.monthly_cost(ops, FUNCTIONS, Workload(), Fixed())
    idle = cm.monthly_cost(ops, FUNCTIONS, cm.idle_load(Workload()), Fixed())
    assert idle.ops_per_month["join"] == 0 and idle.ops_per_month["poll cycle (idle)"] == pytest.approx(43_800)
    assert idle.services["API Gateway (HTTP API)"] == 0 and idle.services["CloudFront"] == 0
    assert idle.services["S3 storage"] == busy.services["S3 storage"]
    assert idle.total < busy.total


def test_ec2_comparison_adds_instances_volumes_and_egress() -> None:
    out = cm.ec2_cost(Workload(recordings_gb=500, playback_tb_per_month=2), api_response_gb=10)
    assert out.total == pytest.approx(
        0.096 * 730 + (50 + 500) * 0.08 + 0.032 * 730 + 20 * 0.115 + 0.016 * 730 + (2048 + 10) * 0.09
    )


def test_free_tier_is_capped_by_what_each_service_costs() -> None:
    month = cm.Breakdown(services={"CloudFront": 10.0, "Lambda": 100.0})
    assert cm.free_tier_note(month) == pytest.approx(10.0 + 400_000 * 0.0000133334 + 0.20)


def test_waf_bills_the_acl_its_rules_and_every_edge_request() -> None:
    load = Workload(playback_tb_per_month=1, playback_bytes_per_request=1024**3)  # 1,024 playback requests
    ops = {"join": OpCost(http_api=True), "import": OpCost()}
    requests = cm.edge_requests(ops, {"join": 1_000_000, "import": 50}, load)
    assert requests == 1_000_000 + 1024
    assert cm.waf_cost(requests) == pytest.approx(5.00 + 1.00 + requests / 1e6 * 0.60)
