"""Which language a typed message is written in, from its script alone.

The LINE profile says what the phone is set to, not what the person writes:
an English-speaking pupil on a family phone set to Japanese types English,
and must be answered in English (issue 12). Script tells Japanese from the
rest with certainty; among Latin-script messages, romanised Japanese
(「mou shinitai」) is told from English by whether every word splits into
Japanese syllables. Anything in another script (한국어, ไทย, Русский) is
answered in English, the bot's one non-Japanese language, with the language
choice offered.

Pure functions, no model: a language-identification library would read two
words of romaji as Indonesian or Finnish, and the bot needs only "Japanese,
English, or cannot tell".
"""

from __future__ import annotations

import re
import unicodedata

#: Kana (hiragana, katakana, half-width katakana) settle it on their own.
_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\uff66-\uff9f]")
#: Kanji alone (殺害予告) is Japanese here too: the bot's users write Japanese or English.
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3005]")
_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
#: One romanised Japanese syllable (Hepburn and kunrei), or a doubled consonant / ん.
_ROMAJI = re.compile(
    r"(?:(?:ky|gy|sh|sy|ch|ty|cy|ny|hy|by|py|my|ry|ts|dz|j|f|[kgsztdnhbpmyrwv])?[aiueo]"
    r"|n(?![aiueoy])|([kgsztdhbpmrfj])(?=\1)|t(?=ch))+"
)
#: Words common in English messages that also split into Japanese syllables.
_ENGLISH_SYLLABIC = frozenset(
    "a i me to so no go he we be do are were here there more some one home take make "
    "hate site game mine name time sure use due ok okay hi"
    .split()
)
#: Single words that say "I write English" clearly enough to answer in it.
_ENGLISH_ALONE = frozenset("help hello hi hey please english".split())


def written_language(text: str) -> str | None:
    """"ja", "en", or None when the message does not show its language.

    None (a sticker code, 「ok」, a URL, digits) keeps whatever language the
    conversation had.
    """
    if _KANA.search(text):
        return "ja"
    if len(_KANJI.findall(text)) >= 2:
        return "ja"
    if _other_script(text):
        return "en"
    words = [w for w in _LATIN_WORD.findall(_folded(_without_links(text))) if len(w) > 1 or w in "ai"]
    if not words:
        return None
    if len(words) == 1:
        return "en" if words[0] in _ENGLISH_ALONE else None
    english = [w for w in words if w in _ENGLISH_SYLLABIC or not _ROMAJI.fullmatch(w)]
    if len(english) * 2 >= len(words):
        return "en"
    if len(english) == 0:
        return "ja"  # romaji: 「tasukete kudasai」
    return None


def _folded(text: str) -> str:
    """ｈｅｌｌｏ → hello, alguém → alguem: width and accents do not change the language."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _without_links(text: str) -> str:
    return re.sub(r"\S+://\S+|www\.\S+|\S+@\S+", " ", text)


def _other_script(text: str) -> bool:
    """Letters of a script that is neither Japanese nor Latin (Hangul, Thai, Cyrillic ...)."""
    for ch in text:
        if not ch.isalpha() or ch.isascii():
            continue
        name = unicodedata.name(ch, "")
        if name.startswith(("LATIN", "CJK", "HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA", "FULLWIDTH LATIN")):
            continue
        return True
    return False
