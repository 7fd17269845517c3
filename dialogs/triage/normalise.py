"""The forms of a message that the lexicon's patterns are matched against.

Children write the same word many ways (死 に た い, ｼﾆﾀｲ, しにたーい, タヒにたい,
shinitai); each is folded here into the one form a pattern is written for, so
that the lexicon names a word once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import jaconv

# Net spellings of 死. Each needs the kana after it, so that names (田中氏),
# years (2024ねん), school years (4ねんせい) and またひとり stay what they are.
# (marker, pattern, replacement): the pattern can only match where its marker is.
_NET_SPELLINGS = (
    ("タヒ", re.compile(r"タヒ(?=[にねぬんニネヌン])"), "死"),
    ("氏", re.compile(r"(?<![\u3400-\u9fff])氏(?=[にねぬニネヌ])"), "死"),
    ("4", re.compile(r"(?<![0-9])4(?=[にニ][^ん]|[ねネ](?![んン]))"), "死"),
)
# Emoji children use instead of words: laughter survives as 笑 so that hyperbole
# (親に殺されるw 😂, 💀💀) can be told apart; a knife, blood or pills are words.
_EMOJI = str.maketrans({
    "😂": "笑", "🤣": "笑", "😆": "笑", "💀": "笑",
    "🔪": "ナイフ", "🩸": "血", "💊": "薬",
})
# Katakana ァ..ヶ folded to hiragana by one table lookup per character (a
# regex with a callback per character cost more than the rest of normalize).
_KATAKANA = str.maketrans({chr(c): chr(c - 0x60) for c in range(0x30A1, 0x30F7)})
# Everything that is not a letter, a digit or a CJK character goes, and the
# long marks and wave dashes children stretch words with.
_NOISE = re.compile(r"[\W_ー〜～\u30fc\uff70]+", re.UNICODE)
_WORDS_NOISE = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """The compact form every Japanese pattern is matched against."""
    t = unicodedata.normalize("NFKC", text).translate(_EMOJI).lower()
    t = _NOISE.sub("", t)
    for marker, pattern, replacement in _NET_SPELLINGS:
        # A substitution cannot apply without its marker: skip the regex.
        if marker in t:
            t = pattern.sub(replacement, t)
    return t.translate(_KATAKANA)


def words(text: str) -> str:
    """The spaced latin form English patterns are matched against: ' i want to die '."""
    t = unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")
    return " " + _WORDS_NOISE.sub(" ", t).strip() + " "


_ROMAJI_RUN = re.compile(r"[a-z]{3,}")


def romaji_kana(spaced: str) -> str:
    """Japanese typed in romaji (shinitai, korosu tte), read as kana, so the
    Japanese patterns find it; "" when the message has no latin words."""
    if not _ROMAJI_RUN.search(spaced):
        return ""
    return normalize(jaconv.alphabet2kana(spaced))


@dataclass(frozen=True)
class Forms:
    """The forms of one message that patterns are matched against."""

    compact: str  # normalized, idioms cut
    spaced: str  # latin words
    kana: str  # romaji read as kana, idioms cut ("" if none)
    raw_compact: str  # normalized, idioms kept (for ``unless``)
    raw_kana: str

    def raw(self) -> "Forms":
        return Forms(self.raw_compact, self.spaced, self.raw_kana, self.raw_compact, self.raw_kana)
