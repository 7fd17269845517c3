"""The verdict on one message: which lexicon entries fire, how severe, whether a life may be at stake.

Patterns are compiled for the form of text they apply to
(:mod:`dialogs.triage.normalise`); a :class:`Lexicon` is the compiled entries
and modifiers, and answers either by its fast path (combined regexes, a
prefilter, buckets) or by trying every pattern in turn, which the fast path is
held to.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterable

from dialogs.severity import RANK as _RANK
from dialogs.triage.normalise import Forms, normalize, romaji_kana, words

CATEGORIES = ("self_harm", "threat", "extortion")

#: Categories where any high or critical signal means a life may be at stake:
#: the first reply then also gives 110 and 119.
LIFE_CATEGORIES = frozenset({"self_harm", "threat"})


@dataclass(frozen=True)
class Triage:
    """The verdict on one message. ``reasons`` are the ids of what fired."""

    urgent: bool
    severity: str | None
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    life_at_stake: bool

    @classmethod
    def calm(cls) -> "Triage":
        return cls(False, None, (), (), False)


# ---------------------------------------------------------------- patterns


@dataclass(frozen=True)
class Pattern:
    """One lexicon pattern, compiled for the form of text it applies to."""

    source: str
    regex: re.Pattern[str]
    latin: bool

    def found(self, forms: Forms) -> bool:
        if self.latin:
            return self.regex.search(forms.spaced) is not None
        return self.regex.search(forms.compact) is not None or (
            bool(forms.kana) and self.regex.search(forms.kana) is not None
        )


_LATIN = re.compile(r"^[a-z0-9 '\u2019]+\*?$")


def compile_pattern(source: str) -> Pattern:
    """``re:...`` is a regex on the compact form; a latin phrase matches whole
    words (``word*`` a prefix); anything else is normalized and matched as a
    substring of the compact form."""
    if source.startswith("re:"):
        return Pattern(source, re.compile(source[3:]), latin=False)
    folded = unicodedata.normalize("NFKC", source).lower()
    if _LATIN.match(folded):
        prefix = folded.endswith("*")
        phrase = words(folded.rstrip("*")).strip()
        if not phrase:
            raise ValueError(f"pattern {source!r} has no letters")
        body = re.escape(phrase).replace(r"\ ", " ")
        tail = "" if prefix else "(?![a-z0-9])"
        return Pattern(source, re.compile(rf"(?<![a-z0-9]){body}{tail}"), latin=True)
    compact = normalize(source)
    if not compact:
        raise ValueError(f"pattern {source!r} is empty once normalized")
    return Pattern(source, re.compile(re.escape(compact)), latin=False)


@dataclass(frozen=True)
class Rule:
    """Matches when any pattern of ``any`` is found, or one of every group of ``all``."""

    groups: tuple[tuple[Pattern, ...], ...]
    unless: tuple[Pattern, ...] = ()

    def matches(self, forms: Forms) -> bool:
        # ``unless`` looks at the text before idioms are cut, so laughter
        # anywhere in the message counts.
        if self.unless:
            raw = forms.raw()
            if any(p.found(raw) for p in self.unless):
                return False
        return all(any(p.found(forms) for p in group) for group in self.groups)


# ---------------------------------------------------------------- the fast path
#
# Matching each of ~1,000 patterns in turn cost ~500 µs a message, nearly all
# of it Python calls. The fast path asks the same questions with one search of
# a combined regex per group of patterns and form of text, and first one
# search per form over every entry's most selective group, which proves for
# most calm messages that no entry can fire. It gives exactly the verdict of
# ``Lexicon.triage_reference`` (tests/dialogs/triage/test_matcher_fast.py
# holds it to that).

# A back-reference or a conditional counts groups, which a combined regex
# renumbers: such a pattern is searched on its own.
_GROUP_REFERENCE = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")
_PLAIN_FLAGS = re.compile("").flags


def _combinable(pattern: Pattern) -> bool:
    source = pattern.regex.pattern
    if pattern.regex.flags != _PLAIN_FLAGS or _GROUP_REFERENCE.search(source):
        return False  # inline flags apply to the whole regex; group numbers shift
    try:
        re.compile(f"(?:{source})")
    except re.error:
        return False
    return True


# Python's re finds a position worth trying by a set of first characters only
# when every branch of an alternation starts with a plain character, and a
# lookbehind that opens every latin pattern hides that set: so patterns are
# combined by how they start, and a shared opening lookbehind is written once
# (ahead of the alternation it is the same test for every branch). On the
# labelled set this took the latin search from ~90 µs to ~4 µs.
_LATIN_OPENING = "(?<![a-z0-9])"
_SPECIAL = frozenset("\\()[].^$*+?{|")


def _lead(source: str) -> str:
    if source.startswith(_LATIN_OPENING):
        return _LATIN_OPENING
    if source and source[0] not in _SPECIAL and source[1:2] not in ("*", "?", "{"):
        return "plain"
    return "other"


def _alternations(patterns: list[Pattern]) -> tuple[list[re.Pattern[str]], list[Pattern]]:
    """Regexes found wherever one of ``patterns`` is found (an alternation
    matches at a position when one of its branches does), and the patterns
    that must still be searched on their own."""
    classes: dict[str, list[Pattern]] = {}
    for p in patterns:
        classes.setdefault(_lead(p.regex.pattern), []).append(p)
    regexes, alone = [], []
    for lead, members in classes.items():
        sources = [p.regex.pattern for p in members]
        try:
            if lead == _LATIN_OPENING:
                rests = [src[len(lead):] for src in sources]
                for rest in rests:
                    re.compile(f"(?:{rest})")  # the rest alone must be a regex, or do not factor
                regexes.append(re.compile(lead + "(?:" + "|".join(f"(?:{r})" for r in rests) + ")"))
            else:
                regexes.append(re.compile("|".join(f"(?:{src})" for src in sources)))
        except re.error:  # e.g. two patterns naming the same group
            try:
                regexes.append(re.compile("|".join(f"(?:{src})" for src in sources)))
            except re.error:
                alone += members
    return regexes, alone


class _AnyOf:
    """``any(p.found(forms) for p in patterns)``, with a search or two per form."""

    __slots__ = ("_japanese", "_latin", "_alone")

    def __init__(self, patterns: Iterable[Pattern]):
        unique = list(dict.fromkeys(patterns))
        alone = [p for p in unique if not _combinable(p)]
        japanese, japanese_alone = _alternations([p for p in unique if not p.latin and p not in alone])
        latin, latin_alone = _alternations([p for p in unique if p.latin and p not in alone])
        self._japanese = tuple(japanese)
        self._latin = tuple(latin)
        self._alone = tuple(alone + japanese_alone + latin_alone)

    def found(self, forms: Forms) -> bool:
        compact, kana = forms.compact, forms.kana
        for regex in self._japanese:
            if regex.search(compact) is not None or (kana != "" and regex.search(kana) is not None):
                return True
        spaced = forms.spaced
        for regex in self._latin:
            if regex.search(spaced) is not None:
                return True
        if self._alone:
            return any(p.found(forms) for p in self._alone)
        return False


def _gate_index(groups: tuple[tuple[Pattern, ...], ...]) -> int:
    """The group least likely to be found in a calm message: the one whose
    shortest pattern is longest (死 or もう alone are everywhere). Any choice
    gives the same verdicts; this one only makes the prefilter sharper."""
    return max(range(len(groups)), key=lambda i: min((len(p.source) for p in groups[i]), default=0))


class _FastRule:
    """``Rule.matches``, checking the gate group first and ``unless`` last."""

    __slots__ = ("gate", "_others", "_unless")

    def __init__(self, rule: Rule):
        groups = rule.groups
        gate = _gate_index(groups) if groups else None
        self.gate = _AnyOf(groups[gate]) if gate is not None else None
        self._others = tuple(_AnyOf(g) for i, g in enumerate(groups) if i != gate)
        self._unless = _AnyOf(rule.unless) if rule.unless else None

    def matches(self, forms: Forms, raw: Forms) -> bool:
        if self.gate is not None and not self.gate.found(forms):
            return False
        for group in self._others:
            if not group.found(forms):
                return False
        return self._unless is None or not self._unless.found(raw)


#: Entries per bucket: a message that passes the prefilter tries the gate of
#: each bucket, then only the entries of the buckets whose gate is found
#: (~9 + a few searches instead of one per entry).
_BUCKET = 8


class _FastLexicon:
    """The compiled fast path of one lexicon."""

    __slots__ = ("buckets", "modifiers", "prefilter")

    def __init__(self, entries: tuple["Entry", ...], modifiers: tuple["Modifier", ...]):
        rules = [(e, _FastRule(e.rule)) for e in entries]
        self.modifiers = tuple(_FastRule(m.rule) for m in modifiers)
        # No entry fires unless its gate group is found, so when no gate
        # pattern of a bucket is found none of its entries fires, and when
        # none at all is found the message is calm. An entry without groups
        # would fire on anything: its bucket then has no gate.
        self.buckets: list[tuple[_AnyOf | None, tuple[tuple[Entry, _FastRule], ...]]] = []
        for i in range(0, len(rules), _BUCKET):
            members = tuple(rules[i:i + _BUCKET])
            self.buckets.append((_gate_of(e for e, _ in members), members))
        self.prefilter = _gate_of(entries)

    def fired(self, forms: Forms, raw: Forms) -> list["Entry"]:
        """The entries that fire, in lexicon order (the order of ``reasons``)."""
        if self.prefilter is not None and not self.prefilter.found(forms):
            return []
        out = []
        for gate, members in self.buckets:
            if gate is None or gate.found(forms):
                out += [entry for entry, rule in members if rule.matches(forms, raw)]
        return out


def _gate_of(entries: Iterable["Entry"]) -> _AnyOf | None:
    """Found whenever one of ``entries`` could fire; None if any could fire on anything."""
    patterns: list[Pattern] = []
    for e in entries:
        if not e.rule.groups:
            return None
        patterns += e.rule.groups[_gate_index(e.rule.groups)]
    return _AnyOf(patterns)


@dataclass(frozen=True)
class Entry:
    id: str
    category: str
    severity: str
    rule: Rule


@dataclass(frozen=True)
class Modifier:
    id: str
    categories: frozenset[str]
    rule: Rule


@dataclass(frozen=True)
class Lexicon:
    version: int
    idioms: tuple[str, ...]
    entries: tuple[Entry, ...]
    modifiers: tuple[Modifier, ...]
    _idiom_re: re.Pattern[str] | None = None
    _fast: _FastLexicon = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled once per lexicon, here, so every way of building one has it.
        object.__setattr__(self, "_fast", _FastLexicon(self.entries, self.modifiers))

    def _cut(self, compact: str) -> str:
        # Cut idioms, leaving a mark so the pieces on either side do not join
        # into a new word.
        return self._idiom_re.sub("|", compact) if self._idiom_re and compact else compact

    def forms(self, text: str) -> Forms:
        """The forms of ``text`` the patterns are matched against."""
        raw_compact, spaced = normalize(text), words(text)
        raw_kana = romaji_kana(spaced)
        return Forms(self._cut(raw_compact), spaced, self._cut(raw_kana), raw_compact, raw_kana)

    def triage(self, text: str) -> Triage:
        """The verdict on one message (the fast path)."""
        forms = self.forms(text)
        raw = forms.raw()
        fast = self._fast
        return self._verdict(fast.fired(forms, raw), lambda i: fast.modifiers[i].matches(forms, raw))

    def triage_reference(self, text: str) -> Triage:
        """The verdict by trying every pattern in turn: slow, plainly right,
        and what the fast path is tested against."""
        forms = self.forms(text)
        fired = [e for e in self.entries if e.rule.matches(forms)]
        return self._verdict(fired, lambda i: self.modifiers[i].rule.matches(forms))

    def _verdict(self, fired: list[Entry], modifier_matches: Callable[[int], bool]) -> Triage:
        if not fired:
            return Triage.calm()
        categories = tuple(c for c in CATEGORIES if any(e.category == c for e in fired))
        severity = max((e.severity for e in fired), key=_RANK.__getitem__)
        reasons = [e.id for e in fired]
        for i, m in enumerate(self.modifiers):
            if m.categories.intersection(categories) and modifier_matches(i):
                severity = "critical"
                reasons.append(m.id)
        life = severity == "critical" or (
            _RANK[severity] >= _RANK["high"] and bool(LIFE_CATEGORIES.intersection(categories))
        )
        return Triage(True, severity, categories, tuple(reasons), life)
