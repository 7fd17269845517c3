"""bot.privacy: phone numbers, e-mail and street addresses in Japanese text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.privacy import LABELS, Span, find_pii, mask_pii


def kinds(text: str) -> list[tuple[str, str]]:
    return [(text[s.start:s.end], s.kind) for s in find_pii(text)]


@pytest.mark.parametrize("text, found", [
    ("電話は090-1234-5678です", "090-1234-5678"),
    ("09012345678", "09012345678"),
    ("080 1234 5678", "080 1234 5678"),
    ("０９０ー１２３４ー５６７８", "０９０ー１２３４ー５６７８"),
    ("０９０－１２３４－５６７８", "０９０－１２３４－５６７８"),
    ("家は078-123-4567", "078-123-4567"),
    ("03-1234-5678", "03-1234-5678"),
    ("03(1234)5678", "03(1234)5678"),
    ("+81 90-1234-5678", "+81 90-1234-5678"),
    ("＋８１９０１２３４５６７８", "＋８１９０１２３４５６７８"),
    ("+81(0)3-1234-5678", "+81(0)3-1234-5678"),
    ("090-1234-5678 3時以降に", "090-1234-5678"),  # a number after the phone is not part of it
])
def test_phone_numbers(text: str, found: str) -> None:
    assert kinds(text) == [(found, "phone")]


@pytest.mark.parametrize("text, found", [
    ("メールは taro.yamada+1@example.co.jp まで", "taro.yamada+1@example.co.jp"),
    ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ("a_b@mail.example.com。", "a_b@mail.example.com"),
])
def test_email_addresses(text: str, found: str) -> None:
    assert kinds(text) == [(found, "email")]


@pytest.mark.parametrize("text, found", [
    ("住所は兵庫県神戸市中央区加納町6丁目5番1号です", "兵庫県神戸市中央区加納町6丁目5番1号"),
    ("東京都港区六本木6-10-1に来て", "東京都港区六本木6-10-1"),
    ("大阪市北区梅田１－２－３", "大阪市北区梅田１－２－３"),
    ("さいたま市浦和区高砂3丁目15番1号", "さいたま市浦和区高砂3丁目15番1号"),
    ("姫路市本町68番地の1", "姫路市本町68番地の1"),
    ("〒650-0001", "〒650-0001"),
    ("〒650-0001 神戸市中央区加納町6丁目5番1号", "〒650-0001 神戸市中央区加納町6丁目5番1号"),
    ("郵便番号：６５０－０００１", "郵便番号：６５０－０００１"),
])
def test_street_addresses(text: str, found: str) -> None:
    assert kinds(text) == [(found, "address")]


@pytest.mark.parametrize("text", [
    "出席番号3番です", "3年2組の田中です", "2026-11-30 12:00 に送った", "110番して", "189に電話した",
    "123-4567", "番号は12345678901", "1234567890", "@taro を見て", "神戸市に住んでる", "クラスで2番目",
    "0.5秒", "データは 0123 456", "東京都で1番",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert mask_pii(text) == text


def test_hotline_numbers_in_the_bots_texts_are_masked_but_short_numbers_are_not() -> None:
    # Documented: exports mask 0120 numbers too; 110 / 189 stay.
    assert mask_pii("24時間子供SOSダイヤル 0120-0-78310、警察は110") == "24時間子供SOSダイヤル [電話番号]、警察は110"


def test_mask_labels_each_kind() -> None:
    text = "090-1234-5678 と a@b.jp と 神戸市中央区1-2-3"
    assert mask_pii(text) == "[電話番号] と [メールアドレス] と [住所]"
    assert [s.kind for s in find_pii(text)] == ["phone", "email", "address"]


def test_an_email_whose_local_part_is_a_phone_number_is_one_email() -> None:
    assert kinds("09012345678@docomo.ne.jp") == [("09012345678@docomo.ne.jp", "email")]


def test_spans_are_ordered_and_disjoint() -> None:
    spans = find_pii("a@b.jp09012345678 神戸市中央区1-2-3 03-1234-5678")
    assert spans == sorted(spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert all(isinstance(s, Span) for s in spans)


def test_not_text() -> None:
    assert find_pii("") == []
    assert find_pii(None) == []  # type: ignore[arg-type]
    assert mask_pii("") == ""


def test_huge_text_is_fast() -> None:
    import time
    text = ("神戸市中央区" * 5000) + ("0" * 20000) + ("a" * 20000 + "@") + ("一番" * 5000)
    started = time.perf_counter()
    find_pii(text)
    mask_pii(text)
    assert time.perf_counter() - started < 5


# --- properties -------------------------------------------------------------------------

# Pieces that make numbers, addresses and e-mail likely, mixed with anything at all.
_PIECES = st.sampled_from([
    "0", "０", "9", "1", "-", "ー", "－", " ", "\u3000", "(", ")", "+81", "＋８１", "090", "03",
    "1234", "５６７８", "@", "＠", "a", "ｂ", ".", "．", "jp", "com", "神戸市", "中央区", "東京都",
    "港区", "丁目", "番地", "番", "号", "の", "〒", "650-0001", "[電話番号]", "[住所]", "[メールアドレス]",
    "です", "\n", "\x00", "\u200b",
])
_TEXTS = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=40).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_masked_text_contains_nothing_detected(text: str) -> None:
    assert find_pii(mask_pii(text)) == []


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_spans_are_within_the_text_and_disjoint(text: str) -> None:
    spans = find_pii(text)
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
        assert span.kind in LABELS
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=100))
def test_text_without_digits_or_at_signs_has_no_phone(text: str) -> None:
    assert all(s.kind != "phone" for s in find_pii(text))
