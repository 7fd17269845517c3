"""dialogs.directory.model: lookups by id, branch and area, the Japanese
fallback of a text, who a window serves, and tel links."""

from __future__ import annotations

import pytest

from dialogs.directory import BRANCHES, Directory, tel_link


def test_tel_link_derivation() -> None:
    assert tel_link("0120-0-78310") == "tel:0120078310"
    assert tel_link("#9110") == "tel:%239110"
    assert tel_link("03-5978-7509") == "tel:0359787509"


def test_language_fallback_is_japanese(directory: Directory) -> None:
    hotline = directory.get("sos_dial")
    assert hotline.name_in("ko") == hotline.name_in("ja") == "24時間子供SOSダイヤル"
    assert hotline.name_in("en") == "24-hour Child SOS Dial"
    # organisation has no ja_easy: the child reads the Japanese proper name
    assert hotline.organisation_in("ja_easy") == "文部科学省"


def test_get_and_contains(directory: Directory) -> None:
    assert "sos_dial" in directory
    assert "nope" not in directory
    with pytest.raises(KeyError) as err:
        directory.get("sos_dail")
    assert "sos_dail" in str(err.value) and "sos_dial" in str(err.value) and "hyogo" in str(err.value)


def test_serves(directory: Directory) -> None:
    assert directory.get("sos_mini_letter").serves("child")
    assert not directory.get("sos_mini_letter").serves("teacher")
    assert directory.get("police_110").serves("teacher")  # anyone


def test_for_branch_returns_local_windows_only(directory: Directory) -> None:
    assert [h.id for h in directory.for_branch("talk", near=["kawanishi_ombudsperson"])] == ["kawanishi_ombudsperson"]
    assert directory.for_branch("delete", near=["kawanishi_ombudsperson"]) == []
    for branch in BRANCHES:
        assert all(h.local for h in directory.for_branch(branch))
    with pytest.raises(ValueError, match="unknown branch"):
        directory.for_branch("chat")


def test_a_city_window_is_offered_only_to_someone_who_named_the_city(directory: Directory) -> None:
    assert directory.for_branch("talk") == []
    assert directory.areas_named("川西市に住んでいる中学生の親です") == ("kawanishi_ombudsperson",)
    assert directory.areas_named("ｶﾜﾆｼ") == ("kawanishi_ombudsperson",)  # half-width katakana
    assert directory.areas_named("神戸市の小学校です") == ()
