"""The fast path of crisis triage gives exactly the verdict of the reference.

``Lexicon.triage`` (combined regexes, a prefilter, buckets) is what every
message goes through; ``Lexicon.triage_reference`` tries every pattern in
turn and is plainly right. Whether a child in danger gets the 24-hour number
must not depend on an optimisation, so any difference at all fails here:
urgency, severity, categories, the order of reasons, life at stake.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.triage import LEXICON_PATH, default_lexicon, normalize, parse_lexicon

ROOT = Path(__file__).resolve().parents[3]
SETS = sorted((ROOT / "tests" / "data").glob("triage_*.yaml"))
LEXICON_DATA = yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))


def _messages() -> list[str]:
    texts = [item["text"] for path in SETS for item in yaml.safe_load(path.read_text(encoding="utf-8"))]
    for raw in [*LEXICON_DATA["entries"], *LEXICON_DATA.get("modifiers", [])]:
        texts += raw["examples"] + raw.get("not_examples", [])
    return texts + LEXICON_DATA.get("idiom_examples", [])


MESSAGES = _messages()


def test_the_sets_are_all_there():
    # labelled, held-out and three blind sets: a renamed file must not silently shrink the check
    assert len(SETS) >= 5 and len(MESSAGES) > 900


def test_every_labelled_heldout_blind_and_lexicon_message_gets_the_reference_verdict():
    lexicon = default_lexicon()
    different = [(t, lexicon.triage(t), lexicon.triage_reference(t)) for t in MESSAGES
                 if lexicon.triage(t) != lexicon.triage_reference(t)]
    assert different == []


# Pieces that make the generated text hit patterns, idioms and laughter, in
# every written form: the lexicon's own patterns and examples, cut at random.
def _fragments() -> list[str]:
    out: set[str] = set(LEXICON_DATA.get("idioms", []))
    for raw in [*LEXICON_DATA["entries"], *LEXICON_DATA.get("modifiers", [])]:
        groups = [raw["any"]] if "any" in raw else raw["all"]
        for pattern in [p for g in groups for p in g] + raw.get("unless", []):
            if not pattern.startswith("re:"):
                out.add(pattern)
        out.update(raw["examples"])
    return sorted(out)


FRAGMENTS = _fragments()
NOISE = "。、！？w笑草ｗ😂💀🔪 　ーｰ〜～4タヒ氏ｼﾆﾀｲアイウabcdefghijklmnopqrstuvwxyz'’-"

piece = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.sampled_from(FRAGMENTS).flatmap(lambda f: st.integers(0, len(f)).map(lambda i: f[:i])),
    st.sampled_from(FRAGMENTS).flatmap(lambda f: st.integers(0, len(f)).map(lambda i: f[i:])),
    st.text(alphabet=NOISE, max_size=4),
    st.text(max_size=4),
)
message = st.lists(piece, max_size=6).map("".join)


@pytest.mark.slow  # 1,500 generated messages: about 6 s
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message)
def test_generated_text_gets_the_reference_verdict(text):
    lexicon = default_lexicon()
    assert lexicon.triage(text) == lexicon.triage_reference(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=2, max_size=5).map(" ".join))
def test_several_signals_in_one_message_get_the_reference_verdict(text):
    # several entries and modifiers firing together: the order of reasons counts too
    lexicon = default_lexicon()
    assert lexicon.triage(text) == lexicon.triage_reference(text)


# A lexicon with what a combined regex could get wrong: a back-reference
# (group numbers shift), the same group name twice, an inline flag, a pattern
# that only matches an empty string, a latin phrase and unless.
ODD_LEXICON = {
    "version": 1,
    "entries": [
        {"id": "self_harm.backref", "category": "self_harm", "severity": "high",
         "any": ["re:(あ)\\1", "re:(?P<g>い)う"], "examples": ["ああ"]},
        {"id": "threat.same_name", "category": "threat", "severity": "medium",
         "any": ["re:(?P<g>え)お", "re:(?P<h>か)(?P=h)"], "examples": ["えお", "かか"]},
        {"id": "threat.flags", "category": "threat", "severity": "high",
         "any": ["re:(?s)き.く", "re:^$"], "examples": ["きxく"]},
        {"id": "extortion.latin", "category": "extortion", "severity": "high",
         "all": [["pay me*", "ばらす"], ["money", "金"]], "unless": ["冗談", "jk"],
         "examples": ["pay me money", "ばらすぞ金"]},
    ],
    "modifiers": [
        {"id": "modifier.now", "categories": ["threat"], "any": ["今すぐ", "right now"],
         "examples": ["今すぐえお"]},
    ],
}


@pytest.mark.parametrize("text", [
    "ああ", "あいう", "いう", "えお", "かか", "かきく", "きxく", "", "!!!", "pay me money", "payment money",
    "ばらすぞ金", "ばらすぞ金 jk", "冗談だよばらす金", "今すぐえお", "right now kaka", "ＡＡ", "ｱｱ",
])
def test_patterns_a_combined_regex_could_misread_are_searched_alone(text):
    lexicon = parse_lexicon(ODD_LEXICON)
    assert lexicon.triage(text) == lexicon.triage_reference(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="あいうえおかきくx金ばらす冗談今すぐ pay me money jk", max_size=12))
def test_odd_lexicon_generated_text_gets_the_reference_verdict(text):
    lexicon = parse_lexicon(ODD_LEXICON)
    assert lexicon.triage(text) == lexicon.triage_reference(text)


def _normalize_reference(text: str) -> str:
    """normalize as it was written before the fast path: every substitution
    tried, katakana folded by a regex callback."""
    import re
    import unicodedata

    from dialogs.triage import normalise as t

    s = unicodedata.normalize("NFKC", text).translate(t._EMOJI).lower()
    s = t._NOISE.sub("", s)
    for _marker, pattern, replacement in t._NET_SPELLINGS:
        s = pattern.sub(replacement, s)
    return re.sub(r"[\u30a1-\u30f6]", lambda m: chr(ord(m.group()) - 0x60), s)


@settings(max_examples=500, deadline=None)
@given(st.one_of(message, st.text(alphabet="ァアィイヴヵヶヷヸヹヺーｰタヒ氏4にねぬんニネヌン", max_size=10)))
def test_normalize_is_unchanged(text):
    assert normalize(text) == _normalize_reference(text)
