"""What a message says, whatever way it was typed: the forms the classifier reads.

Children, teenagers and adults write the same word in many ways: 死にたい,
しにたい, シニタイ, ｼﾆﾀｲ, し に た い, しにたぁい, ﾀﾋにたい, ○にたい, shinitai. A
word list has to enumerate them; here they are folded, and a morphological
analyser (SudachiPy with its core dictionary) gives each word its reading and
its dictionary form, so that kana, katakana, kanji and conjugations of the same
word meet:

* ``surface``: the folded text (NFKC, lower case, emoji read as words,
  spaced-out letters joined, masks filled where they hide a known word, net
  spellings such as タヒ read as 死, katakana as hiragana, small and repeated
  letters and long marks folded, punctuation and spaces gone);
* ``reading``: the same text as the analyser reads it aloud, in hiragana
  (死にたい and しにたい both read しにたい; 叩かれた and たたかれた meet);
* ``lemmas``: each word's dictionary form (殺されて → 殺す, しぬ → 死ぬ);
* ``english``: latin words lemmatised (killed → kill, pills → pill) by
  simplemma, whose data ships in its package.

Everything here is a pure function of the text and of
``resources/nlu/normalize.yaml``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from dialogs.i18n import RESOURCES

NORMALIZE_PATH = RESOURCES / "nlu" / "normalize.yaml"

#: Longest message the analyser reads: LINE allows 5,000 characters; the
#: danger in a long story is in its words, not its length, and the cost of
#: analysis grows with length.
MAX_CHARS = 1200


class NormalizeDataError(ValueError):
    """``resources/nlu/normalize.yaml`` is malformed; the message says where."""


@dataclass(frozen=True)
class Analysis:
    surface: str
    reading: str
    lemmas: tuple[str, ...]
    english: tuple[str, ...]


# ---------------------------------------------------------------- folding tables

_KATAKANA = str.maketrans({chr(c): chr(c - 0x60) for c in range(0x30A1, 0x30F7)})
_SMALL = {"ぁ": "あ", "ぃ": "い", "ぅ": "う", "ぇ": "え", "ぉ": "お", "ゎ": "わ"}


def _vowel(kana: str) -> str | None:
    name = unicodedata.name(kana, "")
    if name.startswith("HIRAGANA LETTER") and name[-1] in "AIUEO":
        return name[-1]
    return None


# A small vowel after a kana ending in that vowel stretches it (しにたぁい,
# たすけてぇ) and goes; after another kana it spells a sound (ふぁ, てぃ) and stays.
_STRETCH = {k: v for k in (chr(c) for c in range(0x3041, 0x3097)) if (v := _vowel(k))}
_STRETCH.update({chr(ord(k) + 0x60): v for k, v in _STRETCH.items()})  # katakana too
_SMALL_VOWEL = {"ぁ": "A", "ぃ": "I", "ぅ": "U", "ぇ": "E", "ぉ": "O",
                "ァ": "A", "ィ": "I", "ゥ": "U", "ェ": "E", "ォ": "O"}

_SPACES = re.compile(r"\s+")
# Japanese letters on both sides of a space: the space is spacing-out, not a word break.
_JA = r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f々〆]"
_JA_SPACE = re.compile(rf"(?<={_JA})\s+(?={_JA})")
# k i l l  m y s e l f: single latin letters spaced out.
_SPACED_LATIN = re.compile(r"\b(?:[a-z] ){2,}[a-z]\b")
_NOISE = re.compile(r"[\W_]+", re.UNICODE)
_REPEAT = re.compile(r"(.)\1{2,}")
_LONG = re.compile(r"[ー〜～\u30fc\uff70~]+")
_LATIN_WORD = re.compile(r"[a-z][a-z']*")


@dataclass(frozen=True)
class _Tables:
    mask_class: str
    unmask: tuple[tuple[re.Pattern[str], str], ...]
    mask_any: re.Pattern[str] | None
    net: tuple[tuple[str, re.Pattern[str], str], ...]
    emoji: dict[int, str]


def _load_tables(data: Any) -> _Tables:
    if not isinstance(data, dict):
        raise NormalizeDataError(f"{NORMALIZE_PATH}: expected a mapping")
    for key in ("masks", "unmask", "net_spellings", "emoji"):
        if key not in data:
            raise NormalizeDataError(f"{NORMALIZE_PATH}: missing {key!r}")
    masks = str(data["masks"])
    mask_class = "[" + re.escape(masks) + "]"
    unmask: list[tuple[re.Pattern[str], str]] = []
    for word in data["unmask"]:
        word = unicodedata.normalize("NFKC", str(word))
        if len(word) < 2:
            # Masked whole, a one-letter word would turn every mask into itself.
            raise NormalizeDataError(f"{NORMALIZE_PATH}: unmask word {word!r} is shorter than two letters")
        for i in range(len(word)):
            masked = re.escape(word[:i]) + mask_class + re.escape(word[i + 1:])
            unmask.append((re.compile(masked), word))
    # Longer words first, so 殺すぞ is preferred to 殺す when both fit.
    unmask.sort(key=lambda pair: -len(pair[1]))
    net = []
    for item in data["net_spellings"]:
        try:
            marker, before, means = item["marker"], item["before"], item["means"]
            lookbehind = f"(?<!{item['not_after']})" if item.get("not_after") else ""
            net.append((marker, re.compile(lookbehind + re.escape(marker) + f"(?={before})"), means))
        except (KeyError, TypeError, re.error) as exc:
            raise NormalizeDataError(f"{NORMALIZE_PATH}: net_spellings entry {item!r}: {exc}") from None
    emoji = {ord(k): str(v) for k, v in data["emoji"].items() if len(k) == 1}
    return _Tables(mask_class, tuple(unmask), re.compile(mask_class) if masks else None, tuple(net), emoji)


@lru_cache(maxsize=1)
def tables() -> _Tables:
    try:
        data = yaml.safe_load(NORMALIZE_PATH.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise NormalizeDataError(f"{NORMALIZE_PATH}: cannot be read: {exc}") from None
    return _load_tables(data)


def _fill_masks(t: str, tb: _Tables) -> str:
    if tb.mask_any is None or tb.mask_any.search(t) is None:
        return t
    for pattern, word in tb.unmask:
        t = pattern.sub(word, t)
    return t


def _unstretch(t: str) -> str:
    """Stretching small vowels (しにたぁい, タスケテェ) and letters repeated three
    times or more (たすけてええええ, ｗｗｗ) folded."""
    out: list[str] = []
    for ch in t:
        if ch in _SMALL_VOWEL and out and _STRETCH.get(out[-1]) == _SMALL_VOWEL[ch]:
            continue
        out.append(ch)
    return _REPEAT.sub(r"\1", "".join(out))


def _fold_kana(t: str) -> str:
    """Katakana as hiragana, long marks gone, stretching folded."""
    return _unstretch(_LONG.sub("", t.translate(_KATAKANA)))


def prepare(text: str) -> str:
    """The message with its spelling tricks undone, still in its own script
    (the analyser needs katakana to know a loan word)."""
    tb = tables()
    t = unicodedata.normalize("NFKC", text[:MAX_CHARS]).translate(tb.emoji).lower()
    t = _JA_SPACE.sub("", t)
    t = _SPACED_LATIN.sub(lambda m: m.group(0).replace(" ", ""), t)
    t = _fill_masks(t, tb)
    for marker, pattern, means in tb.net:
        if marker in t:
            t = pattern.sub(means, t)
    return _SPACES.sub(" ", _unstretch(t.replace("〜", "").replace("～", "").replace("~", ""))).strip()


def fold(text: str) -> str:
    """The compact folded form: what the character n-grams are taken from."""
    return _fold_kana(_NOISE.sub("", prepare(text)))


# ---------------------------------------------------------------- the analyser


@lru_cache(maxsize=1)
def _dictionary() -> Any:
    # Imported here: loading the dictionary takes ~0.2 s, paid once per process
    # by whoever first reads a message, never at import.
    from sudachipy import Dictionary

    return Dictionary(dict="core")


_per_thread = threading.local()
_dictionary_lock = threading.Lock()


def _tokenizer() -> Any:
    """This thread's tokenizer. A Sudachi tokenizer cannot be used by two threads at
    once (it raises "already in use"), and a worker reads the messages of its
    partitions on a thread each; the dictionary behind them is loaded once."""
    tokenizer = getattr(_per_thread, "tokenizer", None)
    if tokenizer is None:
        from sudachipy import SplitMode

        with _dictionary_lock:
            tokenizer = _dictionary().tokenizer(mode=SplitMode.C)
        _per_thread.tokenizer = tokenizer
    return tokenizer


@lru_cache(maxsize=1)
def _lemmatizer() -> Any:
    import simplemma

    return simplemma


_SYMBOL_READING = "キゴウ"


def analyse(text: str) -> Analysis:
    """The forms of one message (see the module's docstring)."""
    prepared = prepare(text)
    surface = _fold_kana(_NOISE.sub("", prepared))
    japanese = _LATIN_WORD.sub(" ", prepared)
    readings: list[str] = []
    lemmas: list[str] = []
    if surface and japanese.strip():
        for m in _tokenizer().tokenize(japanese):
            pos = m.part_of_speech()[0]
            if pos in ("補助記号", "空白"):
                continue
            reading = m.reading_form()
            if reading and reading != _SYMBOL_READING:
                readings.append(reading)
            lemmas.append(_fold_kana(m.normalized_form()))
    simplemma = _lemmatizer()
    english = tuple(
        simplemma.lemmatize(w.replace("'", ""), lang="en") for w in _LATIN_WORD.findall(prepared)
    )
    reading = _fold_kana(_NOISE.sub("", "".join(readings)))
    return Analysis(surface, reading, tuple(lemmas), english)
