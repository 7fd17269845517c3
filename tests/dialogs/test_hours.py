import csv
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from dialogs.hours import (
    HoursError,
    HoursStatus,
    OpeningHours,
    format_when,
    is_national_holiday,
    parse_hours,
)

TOKYO = ZoneInfo("Asia/Tokyo")
HOLIDAY_CSV = Path(__file__).resolve().parents[1] / "data" / "cabinet_office_holidays_2025_2027.csv"


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TOKYO)


# Seed 004: 月～土（日、祝日と12月29日～1月3日を除く）14：00～19：00
HYOGO = parse_hours(
    yaml.safe_load(
        """
type: weekly
slots:
  - {days: [mon, tue, wed, thu, fri, sat], open: "14:00", close: "19:00"}
closed_on_holidays: true
closures:
  - {from: "12-29", to: "01-03"}
"""
    )
)

# Seed 002: こどもの人権110番 (平日8:30～17:15); 平日 excludes holidays and 年末年始.
KODOMO_JINKEN = parse_hours(
    {
        "type": "weekly",
        "slots": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "08:30", "close": "17:15"}],
        "closed_on_holidays": True,
        "closures": [{"from": "12-29", "to": "01-03"}],
    }
)

IPA = parse_hours(
    {
        "type": "weekly",
        "slots": [
            {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "10:00", "close": "12:00"},
            {"days": ["mon", "tue", "wed", "thu", "fri"], "open": "13:30", "close": "17:00"},
        ],
        "closed_on_holidays": True,
        "closures": [{"from": "12-29", "to": "01-03"}],
    }
)


def closed_until(status: HoursStatus, expected: datetime) -> None:
    assert status.open_now is False
    assert status.closes_at is None
    assert status.next_open == expected


def open_until(status: HoursStatus, expected: datetime) -> None:
    assert status.open_now is True
    assert status.next_open is None
    assert status.closes_at == expected


# ---------------------------------------------------------------- holidays


def load_cabinet_office_list() -> dict[date, str]:
    lines = [line for line in HOLIDAY_CSV.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return {date.fromisoformat(row["date"]): row["name"] for row in csv.DictReader(lines)}


def test_fixture_has_the_official_number_of_holidays():
    by_year: dict[int, int] = {}
    for d in load_cabinet_office_list():
        by_year[d.year] = by_year.get(d.year, 0) + 1
    assert by_year == {2025: 19, 2026: 18, 2027: 17}


def test_is_national_holiday_matches_cabinet_office_list_every_day_2025_2027():
    official = load_cabinet_office_list()
    day = date(2025, 1, 1)
    mismatches = []
    while day <= date(2027, 12, 31):
        if is_national_holiday(day) != (day in official):
            mismatches.append(day)
        day += timedelta(days=1)
    assert mismatches == []


@pytest.mark.parametrize("d", [date(2026, 5, 6), date(2027, 3, 22), date(2025, 11, 24)])
def test_substitute_holidays(d):
    assert is_national_holiday(d)


def test_citizens_holiday_between_two_holidays():
    # 2026-09-22 lies between 敬老の日 (21) and 秋分の日 (23).
    assert is_national_holiday(date(2026, 9, 22))
    assert not is_national_holiday(date(2026, 9, 24))


def test_ordinary_sunday_is_not_a_national_holiday():
    assert not is_national_holiday(date(2026, 6, 7))


def test_is_national_holiday_rejects_datetime():
    with pytest.raises(TypeError):
        is_national_holiday(jst(2026, 1, 1))


# ---------------------------------------------------------------- Hyogo desk


def test_hyogo_weekday_opening_minute_is_open():
    open_until(HYOGO.status(jst(2026, 6, 1, 14, 0)), jst(2026, 6, 1, 19, 0))


def test_hyogo_one_minute_before_opening_is_closed():
    closed_until(HYOGO.status(jst(2026, 6, 1, 13, 59)), jst(2026, 6, 1, 14, 0))


def test_hyogo_last_minute_is_open_and_closes_at_19():
    open_until(HYOGO.status(jst(2026, 6, 1, 18, 59)), jst(2026, 6, 1, 19, 0))


def test_hyogo_closing_minute_is_closed_until_next_day():
    closed_until(HYOGO.status(jst(2026, 6, 1, 19, 0)), jst(2026, 6, 2, 14, 0))


def test_hyogo_saturday_afternoon_is_open():
    open_until(HYOGO.status(jst(2026, 6, 6, 15, 0)), jst(2026, 6, 6, 19, 0))


def test_hyogo_saturday_evening_reopens_monday():
    closed_until(HYOGO.status(jst(2026, 6, 6, 19, 0)), jst(2026, 6, 8, 14, 0))


def test_hyogo_sunday_noon_reopens_monday():
    closed_until(HYOGO.status(jst(2026, 6, 7, 12, 0)), jst(2026, 6, 8, 14, 0))


def test_hyogo_sunday_before_a_holiday_monday_reopens_tuesday():
    # 2026-01-12 is 成人の日.
    closed_until(HYOGO.status(jst(2026, 1, 11, 12, 0)), jst(2026, 1, 13, 14, 0))


def test_hyogo_national_holiday_is_closed():
    # 2026-11-23 (Mon) 勤労感謝の日.
    closed_until(HYOGO.status(jst(2026, 11, 23, 15, 0)), jst(2026, 11, 24, 14, 0))


def test_hyogo_year_end_closure_reopens_january_4():
    closed_until(HYOGO.status(jst(2026, 12, 30, 15, 0)), jst(2027, 1, 4, 14, 0))


def test_hyogo_new_years_day_is_closed():
    closed_until(HYOGO.status(jst(2027, 1, 1, 15, 0)), jst(2027, 1, 4, 14, 0))


def test_hyogo_year_end_closure_skips_following_sunday():
    # Closed 2025-12-28 (Sun) and 12-29..01-03; 2026-01-04 is a Sunday.
    closed_until(HYOGO.status(jst(2025, 12, 27, 19, 0)), jst(2026, 1, 5, 14, 0))


def test_hyogo_closure_edges_are_inclusive():
    assert HYOGO.is_open(jst(2026, 12, 28, 15, 0))
    assert not HYOGO.is_open(jst(2026, 12, 29, 15, 0))
    assert not HYOGO.is_open(jst(2027, 1, 2, 15, 0))  # Saturday inside the closure


def test_hyogo_weekday_late_night_reopens_next_afternoon():
    closed_until(HYOGO.status(jst(2026, 6, 2, 23, 59)), jst(2026, 6, 3, 14, 0))


def test_hyogo_silver_week_long_weekend():
    # Sat 19, Sun 20, 敬老の日 21, 国民の休日 22, 秋分の日 23 September 2026.
    closed_until(HYOGO.status(jst(2026, 9, 19, 19, 0)), jst(2026, 9, 24, 14, 0))


def test_hyogo_golden_week():
    # Sat 2 May open; Sun 3 and holidays 4, 5, 6 (振替休日) closed.
    assert HYOGO.is_open(jst(2026, 5, 2, 15, 0))
    closed_until(HYOGO.status(jst(2026, 5, 2, 19, 0)), jst(2026, 5, 7, 14, 0))


def test_other_time_zones_are_converted_to_tokyo():
    # 06:00 UTC = 15:00 JST on a Monday.
    assert HYOGO.is_open(datetime(2026, 6, 1, 6, 0, tzinfo=timezone.utc))
    # 13:00 on Monday in New York = 03:00 Tuesday JST.
    status = HYOGO.status(datetime(2026, 6, 1, 13, 0, tzinfo=ZoneInfo("America/New_York")))
    closed_until(status, jst(2026, 6, 2, 14, 0))
    assert status.next_open.tzinfo is not None
    assert status.next_open.utcoffset() == timedelta(hours=9)


# ---------------------------------------------------------------- 平日 8:30-17:15


def test_kodomo_jinken_weekday_hours():
    closed_until(KODOMO_JINKEN.status(jst(2026, 6, 1, 8, 29)), jst(2026, 6, 1, 8, 30))
    open_until(KODOMO_JINKEN.status(jst(2026, 6, 1, 8, 30)), jst(2026, 6, 1, 17, 15))
    open_until(KODOMO_JINKEN.status(jst(2026, 6, 1, 17, 14)), jst(2026, 6, 1, 17, 15))


def test_kodomo_jinken_friday_evening_reopens_monday():
    closed_until(KODOMO_JINKEN.status(jst(2026, 6, 5, 17, 15)), jst(2026, 6, 8, 8, 30))


def test_kodomo_jinken_closed_on_saturday():
    closed_until(KODOMO_JINKEN.status(jst(2026, 6, 6, 10, 0)), jst(2026, 6, 8, 8, 30))


def test_kodomo_jinken_skips_substitute_holiday():
    # 2027-03-22 (Mon) is the 振替休日 for 春分の日 on Sunday.
    closed_until(KODOMO_JINKEN.status(jst(2027, 3, 19, 17, 15)), jst(2027, 3, 23, 8, 30))


def test_kodomo_jinken_year_end():
    closed_until(KODOMO_JINKEN.status(jst(2026, 12, 28, 17, 15)), jst(2027, 1, 4, 8, 30))


# ---------------------------------------------------------------- two slots a day


def test_ipa_lunch_break():
    open_until(IPA.status(jst(2026, 6, 1, 11, 59)), jst(2026, 6, 1, 12, 0))
    closed_until(IPA.status(jst(2026, 6, 1, 12, 0)), jst(2026, 6, 1, 13, 30))
    closed_until(IPA.status(jst(2026, 6, 1, 12, 30)), jst(2026, 6, 1, 13, 30))
    open_until(IPA.status(jst(2026, 6, 1, 13, 30)), jst(2026, 6, 1, 17, 0))


def test_ipa_before_the_morning_slot():
    closed_until(IPA.status(jst(2026, 6, 1, 9, 0)), jst(2026, 6, 1, 10, 0))


# ---------------------------------------------------------------- touching slots


def test_slot_until_midnight_merges_with_next_day_from_midnight():
    hours = parse_hours(
        {
            "type": "weekly",
            "slots": [
                {"days": ["mon"], "open": "23:00", "close": "24:00"},
                {"days": ["tue"], "open": "00:00", "close": "02:00"},
            ],
            "closed_on_holidays": True,
        }
    )
    open_until(hours.status(jst(2026, 6, 1, 23, 30)), jst(2026, 6, 2, 2, 0))
    open_until(hours.status(jst(2026, 6, 2, 1, 0)), jst(2026, 6, 2, 2, 0))
    # A holiday Tuesday breaks the chain: 2026-11-03 (Tue) is 文化の日.
    open_until(hours.status(jst(2026, 11, 2, 23, 30)), jst(2026, 11, 3, 0, 0))


def test_slots_touching_on_the_same_day_merge():
    hours = parse_hours(
        {
            "type": "weekly",
            "slots": [
                {"days": ["mon"], "open": "10:00", "close": "12:00"},
                {"days": ["mon"], "open": "12:00", "close": "13:00"},
            ],
            "closed_on_holidays": False,
        }
    )
    open_until(hours.status(jst(2026, 6, 1, 11, 0)), jst(2026, 6, 1, 13, 0))


def test_weekly_round_the_clock_never_closes_within_horizon():
    everyday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    hours = parse_hours(
        {"type": "weekly", "slots": [{"days": everyday, "open": "00:00", "close": "24:00"}], "closed_on_holidays": False}
    )
    status = hours.status(jst(2026, 6, 1, 12, 0))
    assert status.open_now is True
    assert status.closes_at is None


def test_closed_all_year_has_no_next_open():
    hours = parse_hours(
        {
            "type": "weekly",
            "slots": [{"days": ["mon"], "open": "10:00", "close": "11:00"}],
            "closed_on_holidays": False,
            "closures": [{"from": "01-01", "to": "12-31"}],
        }
    )
    assert hours.status(jst(2026, 6, 1, 10, 30)) == HoursStatus("weekly", False, None, None)


def test_holidays_ignored_when_not_closed_on_holidays():
    hours = parse_hours(
        {"type": "weekly", "slots": [{"days": ["mon"], "open": "14:00", "close": "19:00"}], "closed_on_holidays": False}
    )
    assert hours.is_open(jst(2026, 11, 23, 15, 0))


# ---------------------------------------------------------------- other kinds


def test_always_is_open_any_moment():
    hours = OpeningHours.from_dict({"type": "always"})
    for at in (jst(2026, 1, 1, 0, 0), jst(2026, 12, 31, 23, 59), jst(2026, 9, 22, 3, 0)):
        assert hours.status(at) == HoursStatus("always", True, None, None)
        assert hours.is_open(at)


def test_anytime_is_not_claimed_open():
    hours = parse_hours({"type": "anytime"})
    status = hours.status(jst(2026, 6, 1, 3, 0))
    assert status == HoursStatus("anytime", None, None, None)
    assert hours.is_open(jst(2026, 6, 1, 3, 0)) is False


def test_unspecified_never_claims_open():
    hours = parse_hours({"type": "unspecified"})
    status = hours.status(jst(2026, 6, 1, 15, 0))
    assert status.kind == "unspecified"
    assert status.open_now is None
    assert hours.is_open(jst(2026, 6, 1, 15, 0)) is False


@pytest.mark.parametrize("hours", [HYOGO, parse_hours({"type": "always"}), parse_hours({"type": "unspecified"})])
def test_naive_datetime_is_rejected(hours):
    with pytest.raises(ValueError, match="naive"):
        hours.status(datetime(2026, 6, 1, 15, 0))


# ---------------------------------------------------------------- malformed data


def weekly(**overrides):
    data = {
        "type": "weekly",
        "slots": [{"days": ["mon"], "open": "14:00", "close": "19:00"}],
        "closed_on_holidays": True,
    }
    data.update(overrides)
    return data


def slot(**overrides):
    data = {"days": ["mon"], "open": "14:00", "close": "19:00"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("always", r"^hours: .*'always'"),
        ({}, r"^type: missing"),
        ({"type": "sometimes"}, r"^type: .*'sometimes'"),
        ({"type": "always", "slots": []}, r"^slots: unknown field"),
        (weekly(closed_on_holiday=True), r"^closed_on_holiday: unknown field"),
        ({"type": "weekly", "slots": [slot()]}, r"^closed_on_holidays: missing"),
        (weekly(closed_on_holidays="yes"), r"^closed_on_holidays: .*'yes'"),
        (weekly(slots=[]), r"^slots: "),
        (weekly(slots=[slot(days=["monday"])]), r"^slots\[0\]\.days\[0\]: .*'monday'"),
        (weekly(slots=[slot(days=[])]), r"^slots\[0\]\.days: "),
        (weekly(slots=[slot(days=["mon", "mon"])]), r"^slots\[0\]\.days\[1\]: mon is listed twice"),
        (weekly(slots=[slot(), slot(open="25:00")]), r"^slots\[1\]\.open: '25:00'"),
        (weekly(slots=[slot(open="24:00")]), r"^slots\[0\]\.open: '24:00'"),
        (weekly(slots=[slot(close="24:30")]), r"^slots\[0\]\.close: '24:30'"),
        (weekly(slots=[slot(open="2pm")]), r"^slots\[0\]\.open: .*'2pm'"),
        (weekly(slots=[slot(open=840)]), r'^slots\[0\]\.open: 840 is a number; quote'),
        (weekly(slots=[slot(open="19:00", close="14:00")]), r"^slots\[0\]\.close: '14:00' is not after"),
        (weekly(slots=[{"days": ["mon"], "open": "14:00"}]), r"^slots\[0\]\.close: missing"),
        (weekly(slots=[slot(hours="x")]), r"^slots\[0\]\.hours: unknown field"),
        (weekly(closures=[{"from": "12-29"}]), r"^closures\[0\]\.to: missing"),
        (weekly(closures=[{"from": "12-32", "to": "01-03"}]), r"^closures\[0\]\.from: '12-32'"),
        (weekly(closures=[{"from": "12-29", "to": "13-01"}]), r"^closures\[0\]\.to: '13-01'"),
        (weekly(closures=[{"from": "12/29", "to": "01-03"}]), r"^closures\[0\]\.from: .*'12/29'"),
        (weekly(closures="12-29"), r"^closures: "),
    ],
)
def test_malformed_data_names_the_field_and_value(data, expected):
    with pytest.raises(HoursError, match=expected):
        parse_hours(data)


def test_hours_error_is_a_value_error():
    assert issubclass(HoursError, ValueError)


def test_unquoted_yaml_time_gets_a_hint():
    data = yaml.safe_load('type: weekly\nclosed_on_holidays: true\nslots: [{days: [mon], open: 14:00, close: "19:00"}]')
    with pytest.raises(HoursError, match="quote the time"):
        parse_hours(data)


def test_leap_day_closure_is_accepted():
    hours = parse_hours(weekly(slots=[slot(days=["tue"])], closures=[{"from": "02-29", "to": "02-29"}]))
    # 2028-02-29 is a Tuesday.
    closed_until(hours.status(jst(2028, 2, 29, 15, 0)), jst(2028, 3, 7, 14, 0))
    assert hours.is_open(jst(2028, 2, 22, 15, 0))


# ---------------------------------------------------------------- format_when

NOW = jst(2026, 12, 1, 10, 0)  # Tuesday


@pytest.mark.parametrize(
    ("lang", "today", "tomorrow", "later"),
    [
        ("ja", "今日 14:00", "明日 9:05", "12月7日(月) 14:00"),
        ("ja_easy", "きょう 14じ", "あした 9じ5ふん", "12/7（げつようび） 14じ"),
        ("en", "today 14:00", "tomorrow 09:05", "Mon 7 Dec, 14:00"),
    ],
)
def test_format_when(lang, today, tomorrow, later):
    assert format_when(jst(2026, 12, 1, 14, 0), lang, NOW) == today
    assert format_when(jst(2026, 12, 2, 9, 5), lang, NOW) == tomorrow
    assert format_when(jst(2026, 12, 7, 14, 0), lang, NOW) == later


def test_format_when_next_year_within_weeks_has_no_year():
    assert format_when(jst(2027, 1, 4, 14, 0), "ja", jst(2026, 12, 30, 15, 0)) == "1月4日(月) 14:00"


def test_format_when_far_away_shows_the_year():
    assert format_when(jst(2027, 9, 1, 14, 0), "en", NOW) == "Wed 1 Sep 2027, 14:00"
    assert format_when(jst(2027, 9, 1, 14, 0), "ja", NOW) == "2027年9月1日(水) 14:00"


def test_format_when_uses_tokyo_calendar_days():
    # 23:30 UTC on 1 Dec is 08:30 on 2 Dec in Tokyo; "now" is 1 Dec in Tokyo.
    when = datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc)
    assert format_when(when, "ja", NOW) == "明日 8:30"
    # Seen from 2 Dec 01:00 Tokyo (= 1 Dec 16:00 UTC) the same moment is today.
    assert format_when(when, "en", datetime(2026, 12, 1, 16, 0, tzinfo=timezone.utc)) == "today 08:30"


def test_format_when_rejects_naive_and_unknown_language():
    with pytest.raises(ValueError, match="naive"):
        format_when(datetime(2026, 12, 1, 14, 0), "ja", NOW)
    with pytest.raises(ValueError, match="naive"):
        format_when(jst(2026, 12, 1, 14, 0), "ja", datetime(2026, 12, 1, 10, 0))
    with pytest.raises(ValueError, match="lang"):
        format_when(jst(2026, 12, 1, 14, 0), "fr", NOW)
