"""The features a linear model reads from one analysed message.

Families, compared held out by writer in ``docs/triage.md`` (``python -m bot
nlu compare``):

* ``chars``: character 1–4-grams of the folded surface only (the baseline a
  five-minute check started from);
* ``morph``: the same, plus character 2–4-grams of the reading (kana and kanji
  spellings of one word meet there), the dictionary forms of the words and
  their pairs, and lemmatised English words and pairs;
* ``morph2``: ``morph`` without single characters of the surface,
  whose weights made short everyday messages (明日友達の家に行く) loud;
* ``wide`` (shipped): ``morph`` with 5-grams and word triples (a little better held
  out, twice the weights).

Each feature is a short string with a one-letter family prefix, so a
counsellor-facing explanation or a reviewer can read what the model weighed.
"""

from __future__ import annotations

from dialogs.nlu.text import Analysis

FAMILIES = ("chars", "morph", "wide", "morph2")


def _char_ngrams(prefix: str, text: str, low: int, high: int) -> list[str]:
    out: list[str] = []
    n = len(text)
    for size in range(low, high + 1):
        out += [prefix + text[i:i + size] for i in range(n - size + 1)]
    return out


def features(analysis: Analysis, family: str = "morph") -> list[str]:
    """Feature strings of one message (repeats removed, order kept)."""
    wide = family == "wide"
    low = 2 if family == "morph2" else 1
    out = _char_ngrams("s:", analysis.surface, low, 5 if wide else 4)
    if family in ("morph", "wide", "morph2"):
        out += _char_ngrams("r:", analysis.reading, 2, 5 if wide else 4)
        lemmas = analysis.lemmas
        out += ["l:" + w for w in lemmas]
        out += [f"b:{a}_{b}" for a, b in zip(lemmas, lemmas[1:])]
        if wide:
            out += [f"t:{a}_{b}_{c}" for a, b, c in zip(lemmas, lemmas[1:], lemmas[2:])]
        eng = analysis.english
        out += ["e:" + w for w in eng]
        out += [f"f:{a}_{b}" for a, b in zip(eng, eng[1:])]
    elif family != "chars":
        raise ValueError(f"unknown feature family {family!r}; known: {FAMILIES}")
    return list(dict.fromkeys(out))
