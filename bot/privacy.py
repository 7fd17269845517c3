"""Finding and masking personal data in Japanese chat text.

``find_pii(text)`` returns where phone numbers, e-mail addresses and street
addresses (with 〒 postal codes) are; ``mask_pii(text)`` replaces each with a
label: [電話番号] [メールアドレス] [住所]. The console highlights the spans
for the counsellor (bot.console.present); CSV exports and anything else that
leaves the service masks them, and so does what is kept for good: the closing
record (記録簿) is masked when it is written (``mask_pii_deep``, bot.handoff.transitions).
The live transcript is not masked: a child in danger who gives an address is
giving it to the counsellor who must send help; it is sealed at rest instead
(bot.crypto) and purged with the handoff.

Children type on phones with Japanese input methods, so full-width digits,
full-width ＠, the long-vowel mark ー used as a hyphen and ideographic spaces are
all accepted. False positives are kept low on purpose (a highlighted word the
counsellor must read past costs attention): a phone number needs the 10 or 11
digits of a Japanese number starting with 0 (or +81), an address needs a
municipality (…市/区/町/村/郡) directly before its block number (丁目, 番地, 番,
号 or 1-2-3). The hotline numbers in the bot's own texts (0120-0-78310 and the
like) are phone numbers too and are masked in exports; three-digit numbers such
as 110 and 189 are not matched. Things this does not find: names, school names,
LINE ids, addresses written without a municipality ("三宮町1-2-3").
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

__all__ = ["Span", "LABELS", "find_pii", "mask_pii", "mask_pii_deep"]

LABELS = {"phone": "[電話番号]", "email": "[メールアドレス]", "address": "[住所]"}


class Span(NamedTuple):
    start: int
    end: int
    kind: str  # "phone" | "email" | "address"


# --- character classes (half- and full-width) -------------------------------------------

_D = "0-9０-９"
_DIGIT = f"[{_D}]"
#: Hyphen-like characters people put between digits, including ー typed by an IME.
_HYPH = "\\-‐‑‒–—―−－ー～~"
_SEP = f"[{_HYPH} \u3000.．]"
_KANJI_NUM = "一二三四五六七八九十百千〇"
_NUM = f"[{_D}{_KANJI_NUM}]{{1,5}}"
#: Characters of a place name: kanji, the iteration mark, katakana (…ヶ丘, ニュータウン).
_PLACE = "[\u4e00-\u9fff\u3005\u30a1-\u30fa\u30fc]"
_TO_ASCII = str.maketrans("０１２３４５６７８９", "0123456789")

# --- phone numbers ----------------------------------------------------------------------

# A run of digits with at most two separator or bracket characters between digits, starting
# with 0, (0 or +81; checked for a Japanese length afterwards. Not preceded or followed by a
# digit, so part of a longer number (an order id, a timestamp) is not taken.
_PHONE = re.compile(
    rf"(?<![{_D}])"
    rf"(?:[+＋][8８][1１](?:{_SEP}?[(（][0０][)）])?{_SEP}?|[(（]?(?=[0０]))"
    rf"{_DIGIT}(?:(?:{_SEP}|[()（）]){{0,2}}{_DIGIT}){{6,11}}"
    rf"(?![{_D}])"
)
#: 11-digit numbers: mobile, IP phones, M2M. Everything else has 10 digits.
_ELEVEN_DIGIT_PREFIXES = ("020", "050", "060", "070", "080", "090")


def _national_digits(match: str) -> str:
    digits = "".join(c for c in match.translate(_TO_ASCII) if c.isascii() and c.isdigit())
    if match.lstrip("(（").startswith(("+", "＋")):
        digits = digits[2:]  # the country code 81; "+81 (0)3…" keeps its 0, "+81 3…" gets it back
        if not digits.startswith("0"):
            digits = "0" + digits
    return digits


def _is_phone(match: str) -> bool:
    digits = _national_digits(match)
    if not digits.startswith("0") or digits.startswith("00"):
        return False  # 00…: an international call prefix, or not a number at all
    if len(digits) == 11:
        return digits[:3] in _ELEVEN_DIGIT_PREFIXES
    return len(digits) == 10


def _phones(text: str) -> list[Span]:
    spans = []
    for match in _PHONE.finditer(text):
        found = match.group()
        # The pattern is greedy: "090-1234-5678 3時" takes the 3 too. Try the candidate
        # without its last groups of digits before giving up on it.
        ends = [len(found)] + [g.start() for g in reversed(list(_GROUP_GAP.finditer(found)))]
        for end in ends:
            if _is_phone(found[:end]):
                spans.append(Span(match.start(), match.start() + end, "phone"))
                break
    return spans


_GROUP_GAP = re.compile(rf"(?<=[{_D}])(?:{_SEP}|[()（）])+(?=[{_D}])")


# --- e-mail addresses -------------------------------------------------------------------

_MAIL_CHARS = "A-Za-z0-9Ａ-Ｚａ-ｚ０-９"
_EMAIL = re.compile(
    rf"[{_MAIL_CHARS}._%+\-＿．－]{{1,64}}"
    rf"[@＠]"
    rf"[{_MAIL_CHARS}\-－]{{1,63}}(?:[.．][{_MAIL_CHARS}\-－]{{1,63}}){{0,8}}"
    rf"[.．][A-Za-zＡ-Ｚａ-ｚ]{{2,24}}"
    rf"(?![{_MAIL_CHARS}])"
)

# --- street addresses -------------------------------------------------------------------

_PREFECTURES = (
    "北海道|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|千葉県|東京都|"
    "神奈川県|新潟県|富山県|石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|京都府|"
    "大阪府|兵庫県|奈良県|和歌山県|鳥取県|島根県|岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|"
    "福岡県|佐賀県|長崎県|熊本県|大分県|宮崎県|鹿児島県|沖縄県"
)
#: Municipalities written (partly) in hiragana, which the kanji/katakana class would miss.
_HIRAGANA_CITIES = (
    "さいたま市|つくば市|つくばみらい市|いわき市|ひたちなか市|かすみがうら市|ふじみ野市|"
    "みどり市|たつの市|南あわじ市|あま市|うきは市|えびの市|いちき串木野市|にかほ市|むつ市|"
    "あわら市|かほく市|つがる市|みよし市|せたな町|ときがわ町"
)
_MARK = "(?:丁目|番地|番|号)"
#: The block number: 1丁目2番3号, 2番地の1, 1-2-3, １－２－３ … (checked below to hold a
#: 丁目/番/号 or a hyphen, so a lone "1" is not a block).
_BLOCK = re.compile(
    rf"{_NUM}(?:(?:{_MARK}の?|[{_HYPH}]|の){_NUM}){{0,4}}{_MARK}?"
)
#: What must stand right before a block: [prefecture] municipality [town and ward].
#: Matched against the few characters before a block, anchored at their end.
_PLACE_BEFORE = re.compile(
    rf"(?:{_PREFECTURES})?"
    rf"(?:{_HIRAGANA_CITIES}|{_PLACE}{{1,10}}?[市区町村郡])"
    rf"{_PLACE}{{0,12}}$"
)
_POSTAL = re.compile(
    rf"(?:〒|郵便番号[:：]?)[ \u3000]?[{_D}]{{3}}[{_HYPH}]?[{_D}]{{4}}(?![{_D}])"
)
#: How far back from a block a municipality may start (prefecture + city + town).
_LOOKBACK = 40


def _addresses(text: str) -> list[Span]:
    spans = [Span(m.start(), m.end(), "address") for m in _POSTAL.finditer(text)]
    for block in _BLOCK.finditer(text):
        found = block.group()
        if not (re.search(_MARK, found) or re.search(f"[{_D}][{_HYPH}][{_D}]", found)):
            continue
        window_start = max(0, block.start() - _LOOKBACK)
        place = _PLACE_BEFORE.search(text, window_start, block.start())
        if place is None:
            continue
        spans.append(Span(place.start(), block.end(), "address"))
    return spans


# --- putting it together ----------------------------------------------------------------

def find_pii(text: str) -> list[Span]:
    """Phone numbers, e-mail addresses and street addresses in ``text``, in order, not overlapping."""
    if not isinstance(text, str) or not text:
        return []
    candidates = [Span(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]
    candidates += _phones(text)
    candidates += _addresses(text)
    # Earliest first, and of two starting together the longer: an e-mail address whose
    # local part is a phone number is one e-mail address.
    candidates.sort(key=lambda s: (s.start, -(s.end - s.start)))
    spans: list[Span] = []
    for span in candidates:
        if spans and span.start < spans[-1].end:
            continue
        previous = spans[-1] if spans else None
        # 〒650-0001 神戸市中央区…: one address, not two.
        if (previous is not None and previous.kind == span.kind == "address"
                and not text[previous.end:span.start].strip()):
            spans[-1] = Span(previous.start, span.end, "address")
            continue
        spans.append(span)
    return spans


def mask_pii(text: str) -> str:
    """``text`` with every phone number, e-mail and street address replaced by its label.

    Masking is repeated until nothing is found, so the result never contains a
    detected span and masking twice gives the same text (a removal can bring
    two pieces together that read as a new number).
    """
    if not isinstance(text, str):
        return text
    for _ in range(8):
        spans = find_pii(text)
        if not spans:
            return text
        text = _replace(text, spans)
    return text


def mask_pii_deep(value: Any) -> Any:
    """``value`` (parsed JSON: dicts, lists, strings, numbers) with every string masked.

    For what is kept for the long term as it was written (the closing record, 記録簿):
    codes such as ``self_harm`` or ``sos_dial`` never look like personal data, so every
    string is masked, and a free-text field added later is masked too.
    """
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {key: mask_pii_deep(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_pii_deep(item) for item in value]
    return value


def _replace(text: str, spans: list[Span]) -> str:
    parts: list[str] = []
    position = 0
    for span in spans:
        parts.append(text[position:span.start])
        parts.append(LABELS[span.kind])
        position = span.end
    parts.append(text[position:])
    return "".join(parts)
