"""The benchmark's moving parts do what the figures assume (the figures themselves are
written by `python -m benchmarks`, never asserted here)."""

from __future__ import annotations

import json

import pytest
from linebot.v3.webhook import WebhookParser

from benchmarks.load import LoadResult, Sample, percentile, seq_of, webhook_bodies
from benchmarks.stack import CHANNEL_SECRET
from benchmarks.webhook import RatePoint, max_sustained
from bot.line.intake import read_events
from bot.pipeline.enqueue import event_id, partition_for


def test_generated_webhooks_are_bodies_the_bot_accepts_from_distinct_users_in_script_order():
    bodies = webhook_bodies("T", 30, 10, CHANNEL_SECRET, first_seq=100, first_user=5, rate=100)
    parser = WebhookParser(CHANNEL_SECRET)
    events = [read_events(body, headers["X-Line-Signature"], parser) for body, headers in bodies]
    assert all(len(e) == 1 for e in events), "every body is signed right and its event answered"
    flat = [e[0] for e in events]
    assert len({event_id(e) for e in flat}) == 30
    assert len({e["source"]["userId"] for e in flat}) == 10
    first = [e for e in flat if e["source"]["userId"] == flat[0]["source"]["userId"]]
    assert [e["type"] for e in first] == ["follow", "postback", "message"]
    assert [seq_of(e["replyToken"], "T") for e in first] == [100, 110, 120]
    assert flat[29]["timestamp"] - flat[0]["timestamp"] == 290  # each event stamped when it is due
    assert len({partition_for(e, 16) for e in flat}) > 4, "users spread over the partitions"


def test_percentile_is_nearest_rank_and_failures_count_as_slowest():
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    result = LoadResult(10, 1.0, [Sample(200, 0.001, 0, 0)] * 98 + [Sample(None, 0.0005, 0, 0)] * 2)
    assert percentile(result.latencies_ms(), 99) == float("inf")
    assert RatePoint.of(result).errors == 2 and not RatePoint.of(result).sustained


def _point(rate: float, p99: float, errors: int = 0) -> RatePoint:
    return RatePoint(rate, int(rate), p99 / 2, p99, errors, rate, 0.0)


@pytest.mark.parametrize("points, best", [
    ([_point(100, 5), _point(300, 9), _point(1000, 60)], 300),
    ([_point(100, 5), _point(300, 70), _point(1000, 20)], 100),  # nothing above a failed rate counts
    ([_point(100, 5), _point(300, 9, errors=1)], 100),
    ([_point(100, 80)], 0),
])
def test_the_highest_sustained_rate_stops_at_the_first_failure(points, best):
    assert max_sustained(points) == best


def test_report_renders_every_target_from_a_run(tmp_path):
    from benchmarks import report

    figures = json.loads((report.ROOT / "docs" / "performance.json").read_text(encoding="utf-8"))
    text = report.render(figures, "performance.svg")
    for what, *_ in report.TARGETS:
        assert what in text
    assert "not measured" not in text
