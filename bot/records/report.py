"""The monthly report's numbers, computed from the stored records alone.

Everything a board member reads is here as plain data (counts, medians, 90th
percentiles); bot.records.charts draws it and bot.records.html lays it out.
Percentiles interpolate linearly between the closest ranks (numpy's default,
``statistics.quantiles(method="inclusive")``): with few cases a "90th
percentile" should not jump to the single slowest one.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.records.labels import CATEGORY_LABELS, LANG_LABELS, ROLE_LABELS
from bot.records.book import Record

WEEKDAYS_JA = ("月", "火", "水", "木", "金", "土", "日")
LEVEL_LABELS: dict[str, str] = {
    "elementary": "小学生", "junior_high": "中学生", "high_school": "高校生",
}
UNKNOWN = "不明・該当なし"


@dataclass(frozen=True)
class Count:
    code: str
    label: str
    count: int


@dataclass(frozen=True)
class Times:
    """Seconds for a set of cases: how many, median and 90th percentile (None if none)."""

    n: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class HotlineUse:
    id: str
    name: str
    referred: int  # closing records that name it (a counsellor pointed the user there)
    shown: int  # consultations in which the bot showed its card


@dataclass(frozen=True)
class MonthReport:
    month: str
    total: int
    outside_hours: int
    by_category: list[Count]
    by_role: list[Count]
    by_level: list[Count]
    by_lang: list[Count]
    by_weekday: list[Count]  # Monday first, all seven
    by_hour: list[Count]  # 0..23, all 24
    urgent: int
    urgent_claimed: int
    urgent_claim: Times
    handoffs: int
    handoffs_closed: int
    wait: Times  # queued -> claimed, every handoff
    first_response: Times  # queued -> first counsellor reply
    hotlines: list[HotlineUse]


def is_month(value: object) -> bool:
    """YYYY-MM in ASCII digits with a real month (strptime alone would take '２０２６-11')."""
    return (isinstance(value, str) and re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", value) is not None
            and value >= "1970-01")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def times(values: Iterable[float | None]) -> Times:
    found = [v for v in values if v is not None]
    return Times(n=len(found), median=percentile(found, 0.5), p90=percentile(found, 0.9))


def _counts(values: Iterable[str | None], labels: dict[str, str], order: Sequence[str] = ()) -> list[Count]:
    """Most frequent first (ties by code); codes in ``order`` keep that order instead."""
    counter = Counter(v or "unknown" for v in values)
    if order:
        return [Count(c, labels.get(c, c), counter.get(c, 0)) for c in order]
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [Count(c, labels.get(c, UNKNOWN if c == "unknown" else c), n) for c, n in ranked]


def build(month: str, records: Sequence[Record], hotline_name: Callable[[str], str] = str,
          top_hotlines: int = 10) -> MonthReport:
    """The month's report from its records (those started in ``month``, Tokyo)."""
    handed = [r for r in records if r.handed_off]
    urgent = [r for r in records if r.urgent]
    referred = Counter(h for r in records if r.closing for h in dict.fromkeys(r.closing.get("referred") or []))
    shown = Counter(h for r in records for h in dict.fromkeys(r.hotlines))
    ranked = sorted(set(referred) | set(shown), key=lambda h: (-referred[h], -shown[h], h))[:top_hotlines]
    return MonthReport(
        month=month,
        total=len(records),
        outside_hours=sum(1 for r in records if r.outside_hours),
        by_category=_counts((r.category for r in records), CATEGORY_LABELS),
        by_role=_counts((r.role for r in records), ROLE_LABELS),
        by_level=_counts((r.level for r in records), LEVEL_LABELS),
        by_lang=_counts((r.lang for r in records), LANG_LABELS),
        by_weekday=[Count(str(d), WEEKDAYS_JA[d], sum(1 for r in records if r.weekday == d)) for d in range(7)],
        by_hour=[Count(str(h), f"{h}時", sum(1 for r in records if r.hour == h)) for h in range(24)],
        urgent=len(urgent),
        urgent_claimed=sum(1 for r in urgent if r.wait_seconds is not None),
        urgent_claim=times(r.wait_seconds for r in urgent if r.handed_off),
        handoffs=len(handed),
        handoffs_closed=sum(1 for r in handed if r.closed_at is not None),
        wait=times(r.wait_seconds for r in handed),
        first_response=times(r.first_response_seconds for r in handed),
        hotlines=[HotlineUse(h, hotline_name(h), referred[h], shown[h]) for h in ranked],
    )


def minutes(seconds: float | None) -> str:
    """For people: '12.5分', or '—' when there is nothing to measure."""
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f}分"
