"""Open now / next open for every hotline of the Hyogo deployment at ten
instants: a weekday afternoon, 23:59, a national holiday, a Sunday, a
Saturday, 12/30, a lunch break, a minute before opening, closing time, and
the first working day of the year. Every window must be classified here, so
a new one cannot ship without its hours being checked."""

from __future__ import annotations

import pytest

from dialogs.cards import hotline_card, status_text
from dialogs.directory import load_directory
from tests.conftest import tokyo

ALWAYS = {"sos_dial", "police_110", "ambulance_119", "child_abuse_189"}
ANYTIME = {"mamorouyokokoro", "ihaho", "bullying_hotline", "safeline", "internet_hotline_center",
           "kodomo_soudan", "sos_mini_letter", "sos_email"}
UNSPECIFIED = {"cyber_police", "jinken", "young_telephone", "consumer_188", "kawanishi_ombudsperson"}
# 平日 8:30-17:15 (seed 002 for the 法務省 lines)
WEEKDAY_0830 = {"kodomo_jinken110", "line_jinken"}
# #9110: 平日 8:30-17:15 in most prefectures only, so "usually" (issue 12)
USUAL_0830 = {"police_consult_9110"}
HOUTERASU = {"houterasu"}  # 平日 9:00-21:00, 土 9:00-17:00
IPA = {"ipa"}  # 平日 10:00-12:00, 13:30-17:00

OPEN = "いま受付中（{}まで）"
NEXT = "いまは受付時間外です。次は{}から"

# instant -> expected ja status per weekly group, and for the counsellor desk
# (月〜土 14:00-19:00, closed Sundays, national holidays, 12/29-1/3).
CASES = {
    "2026-11-25 15:00": {  # Wednesday afternoon
        "weekday": OPEN.format("今日 17:15"), "houterasu": OPEN.format("今日 21:00"),
        "ipa": OPEN.format("今日 17:00"), "desk": OPEN.format("今日 19:00")},
    "2026-11-25 23:59": {  # a weekday, one minute before midnight
        "weekday": NEXT.format("明日 8:30"), "houterasu": NEXT.format("明日 9:00"),
        "ipa": NEXT.format("明日 10:00"), "desk": NEXT.format("明日 14:00")},
    "2026-11-23 10:00": {  # 勤労感謝の日, a Monday
        "weekday": NEXT.format("明日 8:30"), "houterasu": NEXT.format("明日 9:00"),
        "ipa": NEXT.format("明日 10:00"), "desk": NEXT.format("明日 14:00")},
    "2026-11-29 10:00": {  # Sunday
        "weekday": NEXT.format("明日 8:30"), "houterasu": NEXT.format("明日 9:00"),
        "ipa": NEXT.format("明日 10:00"), "desk": NEXT.format("明日 14:00")},
    "2026-11-28 10:00": {  # Saturday: 法テラス open, the desk opens at 14:00
        "weekday": NEXT.format("11月30日(月) 8:30"), "houterasu": OPEN.format("今日 17:00"),
        "ipa": NEXT.format("11月30日(月) 10:00"), "desk": NEXT.format("今日 14:00")},
    "2026-12-30 10:00": {  # year-end closure 12/29-1/3
        "weekday": NEXT.format("1月4日(月) 8:30"), "houterasu": NEXT.format("1月4日(月) 9:00"),
        "ipa": NEXT.format("1月4日(月) 10:00"), "desk": NEXT.format("1月4日(月) 14:00")},
    "2026-11-26 12:30": {  # IPA's lunch break
        "weekday": OPEN.format("今日 17:15"), "houterasu": OPEN.format("今日 21:00"),
        "ipa": NEXT.format("今日 13:30"), "desk": NEXT.format("今日 14:00")},
    "2026-11-26 08:29": {  # a minute before the first window opens
        "weekday": NEXT.format("今日 8:30"), "houterasu": NEXT.format("今日 9:00"),
        "ipa": NEXT.format("今日 10:00"), "desk": NEXT.format("今日 14:00")},
    "2026-11-26 17:15": {  # closing time is already closed
        "weekday": NEXT.format("明日 8:30"), "houterasu": OPEN.format("今日 21:00"),
        "ipa": NEXT.format("明日 10:00"), "desk": OPEN.format("今日 19:00")},
    "2027-01-04 09:00": {  # first working day of 2027
        "weekday": OPEN.format("今日 17:15"), "houterasu": OPEN.format("今日 21:00"),
        "ipa": NEXT.format("今日 10:00"), "desk": NEXT.format("今日 14:00")},
}


@pytest.fixture(scope="module")
def directory():
    return load_directory("hyogo")


def test_every_hotline_is_classified(directory):
    groups = [ALWAYS, ANYTIME, UNSPECIFIED, WEEKDAY_0830, USUAL_0830, HOUTERASU, IPA]
    classified = set().union(*groups)
    assert sum(len(g) for g in groups) == len(classified), "a window is in two groups"
    assert set(directory.ids) == classified


@pytest.mark.parametrize("instant", list(CASES))
def test_status_of_every_hotline(directory, catalogs, instant):
    now = tokyo(instant)
    want = CASES[instant]
    for hotline in directory.all():
        card = hotline_card(hotline, now, "ja", catalogs)
        if hotline.id in ALWAYS:
            assert card.status == "24時間・年中無休" and card.open_now is True, hotline.id
        elif hotline.id in ANYTIME:
            assert card.status == "いつでも利用できます" and card.open_now is None, hotline.id
        elif hotline.id in UNSPECIFIED:
            # Never claims to be open when the sources do not give hours.
            assert card.status == "受付時間は窓口に確かめてください" and card.open_now is None, hotline.id
        elif hotline.id in USUAL_0830:
            # The weekday hours, but said as usual: never "closed now" as a certainty.
            weekday = want["weekday"]
            if weekday.startswith("いま受付中"):
                assert card.status.startswith("ふだんは受付している時間です（" + weekday[6:-1]), (card.status, instant)
            else:
                assert card.status.startswith("ふだんは" + weekday.split("次は")[1]), (card.status, instant)
                assert "時間外は音声案内などで対応することがあります" in card.status
            assert "都道府県によって異なります" in card.status and card.open_now is None
        else:
            group = "weekday" if hotline.id in WEEKDAY_0830 else hotline.id
            assert card.status == want[group], (hotline.id, instant)
            assert card.open_now is want[group].startswith("いま受付中"), hotline.id
    desk = directory.profile.desk
    assert status_text(desk.hours, now, "ja", catalogs) == want["desk"]


def test_status_in_english_and_easy_japanese(directory, catalogs):
    now = tokyo("2026-11-28 10:00")
    hotline = directory.get("kodomo_jinken110")
    en = hotline_card(hotline, now, "en", catalogs).status
    easy = hotline_card(hotline, now, "ja_easy", catalogs).status
    assert "Mon 30 Nov" in en and "08:30" in en
    assert "11/30（げつようび） 8じ30ぷん" in easy


def test_card_carries_tel_links(directory, catalogs):
    card = hotline_card(directory.get("sos_dial"), tokyo("2026-11-25 15:00"), "ja", catalogs)
    assert [(p.number, p.tel) for p in card.phones] == [("0120-0-78310", "tel:0120078310")]
    assert "0120-0-78310" in card.as_text()
