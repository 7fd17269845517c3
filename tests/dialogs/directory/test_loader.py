"""dialogs.directory.loader: the data match the seed documents, every entry is
complete in every language, and broken data fail loudly with the file, entry
and field named."""

from __future__ import annotations

import copy
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogs.directory import (
    LANGS,
    NATIONAL_SOURCE,
    SEED_FILES,
    Directory,
    DirectoryError,
    load_directory,
    tel_link,
)
from dialogs.hours import TOKYO

ROOT = Path(__file__).resolve().parents[3]
RESOURCES = ROOT / "resources"
TEST_PROFILE = ROOT / "tests" / "data" / "profiles" / "test_prefecture.yaml"

S000 = "000_cc21f3be6f83b1bf.txt"
S001 = "001_f74e64c36d621d47.txt"
S002 = "002_abe28b3a21da5b14.txt"
S003 = "003_2b7ccc2d5f82a724.txt"
S004 = "004_b58c78e7698d38bf.txt"
NAT = NATIONAL_SOURCE

# Written by hand from the seed documents (and the national list for the rows
# marked NAT): id -> (numbers as printed, tel links, address as printed in the
# seed without scheme or None, sources). The directory must say exactly this.
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None, set[str]]] = {
    # seed 002 spelling; seed 001 prints www.mhlw.go.jp/mamoruoyokoro
    "mamorouyokokoro": ((), (), "www.mhlw.go.jp/mamorouyokokoro", {S001, S002}),
    "houterasu": (("0570-078374",), ("tel:0570078374",), "www.houterasu.or.jp", {S001, S002, NAT}),
    "cyber_police": ((), (), "www.npa.go.jp/cyber/soudan.html", {S001, S002}),
    "ihaho": ((), (), "www.ihaho.jp", {S000, S001, S002}),
    "jinken": (("0570-003-110",), ("tel:0570003110",), "www.jinken.go.jp", {S001, S002}),
    "bullying_hotline": ((), (), "www.saferinternet.or.jp/bullying/", {S000, S001, S002}),
    "safeline": ((), (), "www.safe-line.jp", {S001, S002}),
    "internet_hotline_center": ((), (), "www.internethotline.jp", {S001, S002, S004}),
    "ipa": (("03-5978-7509",), ("tel:0359787509",), "www.ipa.go.jp/security/anshin/", {S001, S002, NAT}),  # url: issue 12
    "kodomo_soudan": ((), (), "www.kodomo.cfa.go.jp/soudan/", {S002}),
    "sos_dial": (
        ("0120-0-78310",),
        ("tel:0120078310",),
        "www.mext.go.jp/a_menu/shotou/seitoshidou/06112210.htm",
        {S002},
    ),
    "kodomo_jinken110": (("0120-007-110",), ("tel:0120007110",), "www.moj.go.jp/JINKEN/jinken112.html", {S002}),
    "line_jinken": ((), (), "www.moj.go.jp/JINKEN/jinken03_00034.html", {S002}),
    "sos_mini_letter": ((), (), "www.moj.go.jp/JINKEN/jinken03_00013.html", {S002}),
    "sos_email": ((), (), "www.jinken.go.jp/gorinyou/annai_ch/", {S002}),
    "young_telephone": ((), (), "www.npa.go.jp/bureau/safetylife/syonen/soudan.html", {S002}),
    "police_110": (("110",), ("tel:110",), None, {NAT}),
    "ambulance_119": (("119",), ("tel:119",), None, {NAT}),
    "police_consult_9110": (("#9110",), ("tel:%239110",), None, {NAT}),
    "consumer_188": (("188",), ("tel:188",), None, {NAT}),
    "child_abuse_189": (("189",), ("tel:189",), None, {NAT}),
}

EXPECTED_HOURS_KIND = {
    "mamorouyokokoro": "anytime",
    "houterasu": "weekly",
    "cyber_police": "unspecified",
    "ihaho": "anytime",
    "jinken": "unspecified",
    "bullying_hotline": "anytime",
    "safeline": "anytime",
    "internet_hotline_center": "anytime",
    "ipa": "weekly",
    "kodomo_soudan": "anytime",
    "sos_dial": "always",
    "kodomo_jinken110": "weekly",
    "line_jinken": "weekly",
    "sos_mini_letter": "anytime",
    "sos_email": "anytime",
    "young_telephone": "unspecified",
    "police_110": "always",
    "ambulance_119": "always",
    "police_consult_9110": "weekly",
    "consumer_188": "unspecified",
    "child_abuse_189": "always",
}


def tokyo(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


# --------------------------------------------------------------------------
# The national entries match the seeds


def test_every_window_is_present_and_nothing_else(directory: Directory) -> None:
    national = {h.id for h in directory.national}
    assert national == set(EXPECTED)


@pytest.mark.parametrize("hid", sorted(EXPECTED))
def test_numbers_urls_and_sources_match_the_seeds(directory: Directory, hid: str) -> None:
    numbers, tels, seed_url, sources = EXPECTED[hid]
    hotline = directory.get(hid)
    assert tuple(p.number for p in hotline.phones) == numbers
    assert tuple(p.tel for p in hotline.phones) == tels
    assert hotline.url == (None if seed_url is None else "https://" + seed_url)
    assert set(hotline.source) == sources


@pytest.mark.parametrize("hid", sorted(EXPECTED_HOURS_KIND))
def test_hours_kind(directory: Directory, hid: str) -> None:
    assert directory.get(hid).hours.kind == EXPECTED_HOURS_KIND[hid]


def test_line_jinken_has_the_seed_line_id(directory: Directory) -> None:
    hotline = directory.get("line_jinken")
    assert hotline.line_id == "@linejinkensoudan"
    assert "line" in hotline.channels
    assert [h.id for h in directory.all() if h.line_id] == ["line_jinken"]


def test_mamorouyokokoro_records_the_spelling_discrepancy(directory: Directory) -> None:
    note = directory.get("mamorouyokokoro").source_note or ""
    assert "mamoruoyokoro" in note and "mamorouyokokoro" in note


@pytest.mark.parametrize(
    ("hid", "at", "open_"),
    [
        # 平日 8:30-17:15, closed on holidays and 12/29-1/3
        ("kodomo_jinken110", "2025-12-01T08:30", True),
        ("kodomo_jinken110", "2025-12-01T17:15", False),
        ("kodomo_jinken110", "2025-11-03T10:00", False),  # 文化の日 (Monday)
        ("kodomo_jinken110", "2025-12-29T10:00", False),  # Monday in 年末年始
        ("kodomo_jinken110", "2025-11-29T10:00", False),  # Saturday
        ("line_jinken", "2025-12-02T12:00", True),
        ("line_jinken", "2025-11-30T12:00", False),  # Sunday
        ("police_consult_9110", "2025-12-03T09:00", True),
        ("police_consult_9110", "2025-11-24T09:00", False),  # 振替休日
        # 法テラス: 平日 9-21, 土曜 9-17
        ("houterasu", "2025-12-01T20:59", True),
        ("houterasu", "2025-11-29T16:59", True),
        ("houterasu", "2025-11-29T17:00", False),
        ("houterasu", "2025-11-30T10:00", False),
        # IPA: 平日 10-12, 13:30-17
        ("ipa", "2025-12-01T11:59", True),
        ("ipa", "2025-12-01T12:30", False),
        ("ipa", "2025-12-01T13:30", True),
        ("sos_dial", "2026-01-01T03:00", True),
        ("child_abuse_189", "2026-01-01T03:00", True),
    ],
)
def test_opening_hours_follow_the_sources(directory: Directory, hid: str, at: str, open_: bool) -> None:
    assert directory.get(hid).hours.is_open(tokyo(at)) is open_


def test_windows_whose_hours_vary_by_prefecture_say_so(directory: Directory) -> None:
    for hid in ("cyber_police", "young_telephone", "police_consult_9110"):
        note = directory.get(hid).hours_note
        assert note is not None and "都道府県" in note["ja"], hid


def test_every_tel_link_is_digits_of_its_number(directory: Directory) -> None:
    phones = [p for h in directory.all() for p in h.phones]
    assert len(phones) == 10
    for phone in phones:
        assert phone.tel == tel_link(phone.number)
        assert phone.tel.removeprefix("tel:").replace("%23", "").isdigit()


# --------------------------------------------------------------------------
# Completeness


def test_every_entry_has_every_language(directory: Directory) -> None:
    for hotline in directory.all():
        for text in (hotline.name, hotline.summary, hotline.hours_note, hotline.contact_note, hotline.area):
            if text is not None:
                assert set(text.langs) == set(LANGS), hotline.id
        assert {"ja", "en"} <= set(hotline.organisation.langs), hotline.id
        for lang in LANGS:
            assert hotline.name_in(lang) and hotline.summary_in(lang)


def test_every_source_is_a_seed_file_or_the_national_phrase(directory: Directory) -> None:
    for hotline in directory.all():
        assert hotline.source, hotline.id
        for item in hotline.source:
            assert item in SEED_FILES or item == NATIONAL_SOURCE, (hotline.id, item)
        # partly from the national list: the note says which part
        if NATIONAL_SOURCE in hotline.source and len(hotline.source) > 1:
            assert hotline.source_note and "national list" in hotline.source_note


def test_ids_are_unique_and_ordered(directory: Directory) -> None:
    assert len(directory.ids) == len(set(directory.ids)) == len(directory)
    assert directory.ids[: len(EXPECTED)] == tuple(h.id for h in directory.national)
    assert [h.id for h in directory.all()] == list(directory.ids)


# --------------------------------------------------------------------------
# Hyogo profile


def test_hyogo_desk(directory: Directory) -> None:
    desk = directory.profile.desk
    assert desk.name_in("ja") == "ひょうごっ子「ネットいじめ情報」相談窓口"
    assert desk.source == (S004,)
    assert desk.allows_anonymous("child") and desk.allows_anonymous("guardian")
    assert not desk.allows_anonymous("teacher")
    assert desk.required_identity("teacher") == ("school", "name")
    assert desk.required_identity("child") == ()


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        ("2025-12-01T13:59", False),
        ("2025-12-01T14:00", True),  # Monday
        ("2025-12-01T18:59", True),
        ("2025-12-01T19:00", False),
        ("2025-11-29T15:00", True),  # Saturday
        ("2025-11-30T15:00", False),  # Sunday
        ("2025-11-24T15:00", False),  # 振替休日
        ("2025-12-27T15:00", True),  # Saturday before 年末年始
        ("2025-12-29T15:00", False),
        ("2026-01-03T15:00", False),
        ("2026-01-05T15:00", True),
    ],
)
def test_hyogo_desk_hours(directory: Directory, at: str, open_: bool) -> None:
    assert directory.profile.desk.hours.is_open(tokyo(at)) is open_


def test_kawanishi_ombudsperson_says_only_what_seed_003_says(directory: Directory) -> None:
    hotline = directory.get("kawanishi_ombudsperson")
    assert hotline.local
    assert hotline.source == (S003,)
    assert hotline.phones == () and hotline.url is None and hotline.line_id is None
    assert hotline.hours.kind == "unspecified"
    assert hotline.area is not None and hotline.area["ja"] == "川西市"
    assert hotline.contact_note is not None


def test_a_window_with_an_area_must_say_how_people_name_it(tmp_path: Path) -> None:
    text = TEST_PROFILE.read_text(encoding="utf-8")
    broken = tmp_path / "test_prefecture.yaml"
    broken.write_text(text.replace("    area_words: [テスト市]\n", ""), encoding="utf-8")
    with pytest.raises(DirectoryError, match="area_words"):
        load_directory(broken)


def test_a_profile_sets_its_prefectures_own_hours_for_9110(tmp_path: Path) -> None:
    text = TEST_PROFILE.read_text(encoding="utf-8")
    national = load_directory(TEST_PROFILE).get("police_consult_9110")
    assert national.hours.usual
    assert national.hours.is_open(tokyo("2025-12-01T09:00"))  # Monday: usually 8:30-17:15
    local = tmp_path / "test_prefecture.yaml"
    local.write_text(text + """
hotline_hours:
  police_consult_9110:
    hours:
      type: weekly
      slots:
        - {days: [mon, tue, wed, thu, fri], open: "09:00", close: "17:45"}
      closed_on_holidays: true
    source: https://www.police.example.jp/soudan/9110.html
""", encoding="utf-8")
    own = load_directory(local).get("police_consult_9110")
    assert not own.hours.usual and own.source == ("https://www.police.example.jp/soudan/9110.html",)
    assert not own.hours.is_open(tokyo("2025-12-01T08:45")) and own.hours.is_open(tokyo("2025-12-01T17:30"))
    local.write_text(text + "\nhotline_hours:\n  police_consult_911:\n    hours: {type: always}\n"
                     "    source: https://www.police.example.jp/\n", encoding="utf-8")
    with pytest.raises(DirectoryError, match="did you mean 'police_consult_9110'"):
        load_directory(local)


# --------------------------------------------------------------------------
# A second prefecture is just another file


def test_second_profile_from_a_path() -> None:
    directory = load_directory(TEST_PROFILE)
    assert directory.profile.id == "test_prefecture"
    assert "kawanishi_ombudsperson" not in directory
    assert [h.id for h in directory.for_branch("delete", near=["test_city_window"])] == ["test_city_window"]
    assert directory.for_branch("talk") == []
    desk = directory.profile.desk
    assert desk.hours.is_open(tokyo("2025-12-01T10:00"))  # Monday morning
    assert not desk.hours.is_open(tokyo("2025-12-01T15:00"))  # Hyogo would be open
    assert desk.hours.is_open(tokyo("2025-11-24T10:00"))  # open on holidays
    assert desk.required_identity("guardian") == ("name",)
    # the national windows come along unchanged
    assert directory.get("sos_dial").phones[0].number == "0120-0-78310"


def test_second_profile_by_id_from_the_profiles_folder(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    shutil.copy(RESOURCES / "hotlines.yaml", tmp_path / "hotlines.yaml")
    shutil.copy(TEST_PROFILE, tmp_path / "profiles" / "test_prefecture.yaml")
    directory = load_directory("test_prefecture", resources=tmp_path)
    assert directory.profile.name["en"] == "Test Prefecture"
    assert "test_city_window" in directory


def test_unknown_profile_lists_the_available_ones() -> None:
    with pytest.raises(DirectoryError, match=r"no profile 'osaka'.*available: hyogo"):
        load_directory("osaka")


# --------------------------------------------------------------------------
# Validation errors name the file, the entry and the field


def _national() -> dict[str, Any]:
    return yaml.safe_load((RESOURCES / "hotlines.yaml").read_text(encoding="utf-8"))


def _hyogo() -> dict[str, Any]:
    return yaml.safe_load((RESOURCES / "profiles" / "hyogo.yaml").read_text(encoding="utf-8"))


def _entry(data: dict[str, Any], hid: str, key: str = "hotlines") -> dict[str, Any]:
    return next(h for h in data[key] if h["id"] == hid)


def _load(tmp_path: Path, national: dict[str, Any] | None = None, profile: dict[str, Any] | None = None) -> Directory:
    (tmp_path / "profiles").mkdir(exist_ok=True)
    dump = lambda data: yaml.safe_dump(data, allow_unicode=True, sort_keys=False)  # noqa: E731
    (tmp_path / "hotlines.yaml").write_text(dump(national or _national()), encoding="utf-8")
    (tmp_path / "profiles" / "hyogo.yaml").write_text(dump(profile or _hyogo()), encoding="utf-8")
    return load_directory("hyogo", resources=tmp_path)


def _error(tmp_path: Path, **kwargs: Any) -> str:
    with pytest.raises(DirectoryError) as err:
        _load(tmp_path, **kwargs)
    return str(err.value)


def test_unchanged_copies_load(tmp_path: Path) -> None:
    assert len(_load(tmp_path)) == len(EXPECTED) + 1


def test_duplicate_id_in_the_national_file(tmp_path: Path) -> None:
    data = _national()
    data["hotlines"].append(copy.deepcopy(_entry(data, "sos_dial")))
    message = _error(tmp_path, national=data)
    assert "hotlines.yaml" in message and "'sos_dial'" in message and "'id'" in message and "duplicate" in message


def test_duplicate_id_between_profile_and_national(tmp_path: Path) -> None:
    profile = _hyogo()
    profile["local_hotlines"][0]["id"] = "police_110"
    message = _error(tmp_path, profile=profile)
    assert "hyogo.yaml" in message and "'police_110'" in message and "hotlines.yaml" in message


@pytest.mark.parametrize(("field", "lang"), [("name", "ja_easy"), ("summary", "en"), ("hours_note", "ja_easy")])
def test_missing_language(tmp_path: Path, field: str, lang: str) -> None:
    data = _national()
    del _entry(data, "cyber_police")[field][lang]
    message = _error(tmp_path, national=data)
    assert "hotlines.yaml" in message and "'cyber_police'" in message and f"'{field}'" in message and lang in message


def test_missing_language_in_a_local_window(tmp_path: Path) -> None:
    profile = _hyogo()
    del profile["local_hotlines"][0]["contact_note"]["en"]
    message = _error(tmp_path, profile=profile)
    assert "hyogo.yaml" in message and "'kawanishi_ombudsperson'" in message and "'contact_note'" in message


def test_misspelt_language_is_not_silently_ignored(tmp_path: Path) -> None:
    data = _national()
    name = _entry(data, "ihaho")["name"]
    name["ja-easy"] = name.pop("ja_easy")
    message = _error(tmp_path, national=data)
    assert "'ihaho'" in message and "'name'" in message


def test_tel_link_that_does_not_match_the_number(tmp_path: Path) -> None:
    data = _national()
    _entry(data, "sos_dial")["phones"][0]["tel"] = "tel:0120078311"
    message = _error(tmp_path, national=data)
    assert "'sos_dial'" in message and "phones[0].tel" in message and "tel:0120078310" in message


def test_tel_link_with_separators_is_rejected(tmp_path: Path) -> None:
    data = _national()
    _entry(data, "houterasu")["phones"][0]["tel"] = "tel:0570-078374"
    message = _error(tmp_path, national=data)
    assert "'houterasu'" in message and "phones[0].tel" in message


def test_unknown_source(tmp_path: Path) -> None:
    data = _national()
    _entry(data, "ihaho")["source"] = ["005_made_up.txt"]
    message = _error(tmp_path, national=data)
    assert "'ihaho'" in message and "'source'" in message and "005_made_up.txt" in message


def test_national_phrase_must_be_exact(tmp_path: Path) -> None:
    data = _national()
    _entry(data, "police_110")["source"] = "national number"
    message = _error(tmp_path, national=data)
    assert "'police_110'" in message and "'source'" in message


def _weekly(open_: Any = "09:00", close: Any = "17:00") -> dict[str, Any]:
    return {"type": "weekly", "slots": [{"days": ["mon"], "open": open_, "close": close}], "closed_on_holidays": True}


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        (_weekly(open_="25:00", close="26:00"), "hours.slots[0].open"),
        (_weekly(open_=510, close="17:15"), "hours.slots[0].open"),  # unquoted 8:30 in YAML
        ({k: v for k, v in _weekly().items() if k != "closed_on_holidays"}, "hours.closed_on_holidays"),
        ({"type": "sometimes"}, "hours.type"),
    ],
)
def test_bad_hours(tmp_path: Path, hours: dict[str, Any], field: str) -> None:
    data = _national()
    _entry(data, "kodomo_jinken110")["hours"] = hours
    message = _error(tmp_path, national=data)
    assert "hotlines.yaml" in message and "'kodomo_jinken110'" in message and field in message


def test_bad_desk_hours(tmp_path: Path) -> None:
    profile = _hyogo()
    profile["desk"]["hours"]["slots"][0]["close"] = "13:00"
    message = _error(tmp_path, profile=profile)
    assert "hyogo.yaml" in message and "desk" in message and "hours.slots[0].close" in message


def test_window_without_any_contact_needs_a_contact_note(tmp_path: Path) -> None:
    profile = _hyogo()
    del profile["local_hotlines"][0]["contact_note"]
    message = _error(tmp_path, profile=profile)
    assert "'kawanishi_ombudsperson'" in message and "contact_note" in message


def test_phone_channel_without_a_number_needs_a_contact_note(tmp_path: Path) -> None:
    data = _national()
    del _entry(data, "young_telephone")["contact_note"]
    message = _error(tmp_path, national=data)
    assert "'young_telephone'" in message and "'phones'" in message


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    data = _national()
    _entry(data, "safeline")["telephone"] = "0120-000-000"
    message = _error(tmp_path, national=data)
    assert "'safeline'" in message and "telephone" in message


def test_unknown_branch_in_show_in(tmp_path: Path) -> None:
    profile = _hyogo()
    profile["local_hotlines"][0]["show_in"] = ["talk", "gossip"]
    message = _error(tmp_path, profile=profile)
    assert "'kawanishi_ombudsperson'" in message and "show_in[1]" in message


def test_profile_id_must_match_the_file_name(tmp_path: Path) -> None:
    profile = _hyogo()
    profile["id"] = "hyougo"
    message = _error(tmp_path, profile=profile)
    assert "hyogo.yaml" in message and "'id'" in message and "hyougo.yaml" in message


def test_mixed_source_needs_a_note(tmp_path: Path) -> None:
    data = _national()
    del _entry(data, "ipa")["source_note"]
    message = _error(tmp_path, national=data)
    assert "'ipa'" in message and "'source_note'" in message


def test_nothing_is_read_until_asked(tmp_path: Path) -> None:
    # Loading reads the files named at call time, so a missing folder fails
    # then, with the path in the message (and importing never read anything).
    with pytest.raises(DirectoryError, match="hotlines.yaml: file not found"):
        load_directory(TEST_PROFILE, resources=tmp_path)


def test_the_sos_dial_link_is_the_ministrys_page_not_the_seeds_typo():
    """Issue 12: seed 002 gives …/061122210.htm (one 2 too many); the web button of
    every crisis card must open the ministry's page, and the data says why."""
    from dialogs.directory import load_directory

    sos = load_directory("hyogo").get("sos_dial")
    assert sos.url == "https://www.mext.go.jp/a_menu/shotou/seitoshidou/06112210.htm"
    assert "061122210" in sos.source_note and "typo" in sos.source_note


def test_ipa_card_links_its_official_page_and_says_to_check_the_hours(directory: Directory) -> None:
    # Issue 12: the national list gives the hours without a source, so the card
    # does not stand on them alone; the official page is named in the issue.
    ipa = directory.get("ipa")
    assert ipa.url == "https://www.ipa.go.jp/security/anshin/"
    assert "確かめて" in ipa.hours_note_in("ja") and "check" in ipa.hours_note_in("en")
    assert "issue 12" in (ipa.source_note or "")
