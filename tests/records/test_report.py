"""The report's numbers on a generated month, against numbers computed here from
what the generator planned (not from the stored records)."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from bot.records import html, report
from bot.records.output import build
from tests.records.conftest import MONTH


def p90(values):
    return statistics.quantiles(values, n=10, method="inclusive")[8]


@pytest.fixture(scope="module")
def made(month_records, directory):
    return build(MONTH, month_records, directory)


def counts(items):
    return {c.code: c.count for c in items if c.count}


def test_every_planned_consultation_is_one_record(generated, month_records):
    _, _, plan = generated
    assert len(plan) == 300 and len(month_records) == 300
    assert sorted(r.started_at for r in month_records) == sorted(p.start.timestamp() for p in plan)


def test_counts_by_category_role_level_language(generated, made):
    _, _, plan = generated
    assert made.total == 300
    assert counts(made.by_category) == Counter(p.crisis[0] if p.crisis else p.branch for p in plan)
    assert counts(made.by_role) == Counter(p.role for p in plan)
    assert counts(made.by_level) == Counter(p.level or "unknown" for p in plan)
    assert counts(made.by_lang) == Counter(p.lang for p in plan)
    assert [c.count for c in made.by_category] == sorted((c.count for c in made.by_category), reverse=True)


def test_weekday_hour_and_outside_staffed_hours(generated, made):
    _, _, plan = generated
    assert [c.count for c in made.by_weekday] == [sum(p.start.weekday() == d for p in plan) for d in range(7)]
    assert [c.count for c in made.by_hour] == [sum(p.start.hour == h for p in plan) for h in range(24)]
    assert made.outside_hours == sum(p.outside_hours for p in plan)
    assert 0 < made.outside_hours < made.total  # the generated month has both


def test_urgent_cases_and_how_fast_they_were_claimed(generated, made):
    _, _, plan = generated
    waits = [p.wait for p in plan if p.crisis]
    assert made.urgent == len(waits) > 5
    assert made.urgent_claimed == len(waits)
    assert made.urgent_claim.n == len(waits)
    assert made.urgent_claim.median == pytest.approx(statistics.median(waits), rel=1e-12)
    assert made.urgent_claim.p90 == pytest.approx(p90(waits), rel=1e-12)


def test_handoffs_and_first_response_times(generated, made):
    _, _, plan = generated
    handed = [p for p in plan if p.handoff]
    first = [p.first_response for p in handed]
    assert made.handoffs == made.handoffs_closed == len(handed) > 20
    assert made.first_response.n == len(first)
    assert made.first_response.median == pytest.approx(statistics.median(first), rel=1e-12)
    assert made.first_response.p90 == pytest.approx(p90(first), rel=1e-12)
    waits = [p.wait for p in handed]
    assert made.wait.median == pytest.approx(statistics.median(waits), rel=1e-12)


def test_most_referred_hotlines(generated, made, directory):
    _, _, plan = generated
    referred = Counter(h for p in plan for h in p.referred)
    shown = Counter(h for p in plan for h in p.hotlines)
    expected = sorted(set(referred) | set(shown), key=lambda h: (-referred[h], -shown[h], h))[:10]
    assert [h.id for h in made.hotlines] == expected
    for h in made.hotlines:
        assert (h.referred, h.shown) == (referred[h.id], shown[h.id])
        assert h.name == directory.get(h.id).name_in("ja")


def test_percentiles_interpolate_between_ranks():
    assert report.percentile([], 0.9) is None
    assert report.percentile([5.0], 0.9) == 5.0
    assert report.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert report.percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    assert report.times([None, 3.0, None]) == report.Times(1, 3.0, 3.0)


def test_an_empty_month_reports_zeros_without_failing(directory):
    made = build("2027-02", [], directory)
    assert made.total == 0 and made.urgent_claim == report.Times(0, None, None)
    assert report.minutes(None) == "—" and report.minutes(90) == "1.5分"


def test_a_report_of_generated_data_says_so_and_a_real_one_does_not(made, directory):
    desk = directory.desk.name_in("ja")
    demo = html.standalone(made, desk, "2026-12-01 09:00", demo=True)
    real = html.standalone(made, desk, "2026-12-01 09:00")
    assert "<title>【デモデータ】" in demo and "2026年11月（デモデータ）</h1>" in demo
    assert 'class="demo-mark"' in demo and 'class="demo-banner"' in demo
    assert "デモデータ" not in real and "demo-mark" not in real.split("</style>", 1)[1]
