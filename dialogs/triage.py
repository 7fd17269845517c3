"""Crisis triage: is a child in danger? Checked on every message, before anything else.

A pure function of the message text. The words are data
(``resources/triage/lexicon.yaml``), checked at load against
``resources/schemas/lexicon.schema.json`` and then by running every entry's own
examples and not-examples, so a lexicon edit that stops catching what it was
written for fails start-up and the tests, naming the entry.

How a message is read:

1. ``normalize`` folds the ways children write the same word: full- and
   half-width forms, katakana and hiragana, upper and lower case, spaces,
   punctuation, emoji and long marks (死 に た い, ｼﾆﾀｲ, しにたーい), and the
   net spellings of 死 (タヒ, 氏, 4) where they are followed by the kana that
   make them a word (タヒにたい, 4にたい), not in またひとり or 2024ねん.
2. Idioms (死ぬほど, ゲームで死, 殺虫, 必死 ...) are cut out of the normalized
   text, so that 死ぬほどつらい、死にたい still reads 死にたい.
3. Every entry whose patterns match fires; the severity is the highest of
   them, raised to critical by a modifier (a plan, a place, a time, a method,
   a farewell, a weapon) for the categories the modifier applies to.

The lexicon errs towards asking: a false alarm costs a child one message with
the 24-hour number and an offer of a person; a miss may cost a life. Recall
and false alarms on the labelled set are printed by ``python -m bot
triage-report`` and held at 100 % / at most 5 % by the tests.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import jaconv
import yaml

from dialogs import schemas
from dialogs.i18n import RESOURCES
from dialogs.severity import RANK as _RANK

LEXICON_PATH = RESOURCES / "triage" / "lexicon.yaml"

CATEGORIES = ("self_harm", "threat", "extortion")

#: Categories where any high or critical signal means a life may be at stake:
#: the first reply then also gives 110 and 119.
LIFE_CATEGORIES = frozenset({"self_harm", "threat"})


class LexiconError(ValueError):
    """The lexicon is invalid. ``entry`` names the offending entry or section."""

    def __init__(self, message: str, *, entry: str | None = None, path: Path | None = None):
        self.entry = entry
        self.path = path
        where = f"{path}: " if path else ""
        where += f"entry {entry!r}: " if entry else ""
        super().__init__(where + message)


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


# ---------------------------------------------------------------- normalization

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


_LATIN = re.compile(r"^[a-z0-9 '\u2019]+\*?$")
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
# ``Lexicon.triage_reference`` (tests/test_triage_fast.py holds it to that).

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


# ---------------------------------------------------------------- loading


def _rule(raw: Mapping[str, Any], entry: str, path: Path | None) -> Rule:
    try:
        if "any" in raw:
            groups = (tuple(compile_pattern(p) for p in raw["any"]),)
        else:
            groups = tuple(tuple(compile_pattern(p) for p in group) for group in raw["all"])
        unless = tuple(compile_pattern(p) for p in raw.get("unless", ()))
    except (ValueError, re.error) as exc:
        raise LexiconError(f"bad pattern: {exc}", entry=entry, path=path) from None
    return Rule(groups, unless)


def parse_lexicon(data: Any, path: Path | None = None) -> Lexicon:
    """Validate and compile lexicon data (already parsed from YAML)."""
    try:
        schemas.check(data, "lexicon.schema.json", file=path)
    except schemas.SchemaError as exc:
        at, entry = exc.location, None
        if len(at) >= 2 and at[0] in ("entries", "modifiers"):
            item = data[at[0]][at[1]]
            entry = item.get("id") if isinstance(item, dict) else None
        raise LexiconError(exc.mismatch, entry=entry, path=path) from None

    seen: set[str] = set()
    for item in [*data["entries"], *data.get("modifiers", [])]:
        if item["id"] in seen:
            raise LexiconError("id used twice; reasons must name one rule", entry=item["id"], path=path)
        seen.add(item["id"])

    try:
        idioms = tuple(sorted({normalize(i) for i in data.get("idioms", [])}, key=len, reverse=True))
    except Exception as exc:  # pragma: no cover - normalize does not raise on str
        raise LexiconError(str(exc), entry="idioms", path=path) from None
    if "" in idioms:
        raise LexiconError("an idiom is empty once normalized", entry="idioms", path=path)
    idiom_re = re.compile("|".join(re.escape(i) for i in idioms)) if idioms else None

    entries = tuple(
        Entry(e["id"], e["category"], e["severity"], _rule(e, e["id"], path)) for e in data["entries"]
    )
    modifiers = tuple(
        Modifier(m["id"], frozenset(m["categories"]), _rule(m, m["id"], path))
        for m in data.get("modifiers", [])
    )
    lexicon = Lexicon(data["version"], idioms, entries, modifiers, idiom_re)
    _check_examples(lexicon, data, path)
    return lexicon


def _check_examples(lexicon: Lexicon, data: Mapping[str, Any], path: Path | None) -> None:
    """Each entry must catch its examples and leave its not-examples alone;
    each modifier must raise its examples to critical. Run at load, so the
    lexicon cannot drift from what it was written to catch."""
    for raw in data["entries"]:
        for text in raw["examples"]:
            result = lexicon.triage(text)
            if raw["id"] not in result.reasons:
                raise LexiconError(f"does not catch its own example {text!r} "
                                   f"(fired: {list(result.reasons) or 'nothing'})", entry=raw["id"], path=path)
        for text in raw.get("not_examples", []):
            if raw["id"] in lexicon.triage(text).reasons:
                raise LexiconError(f"fires on its not-example {text!r}", entry=raw["id"], path=path)
    for raw in data.get("modifiers", []):
        for text in raw["examples"]:
            result = lexicon.triage(text)
            if raw["id"] not in result.reasons or result.severity != "critical":
                raise LexiconError(f"does not raise its example {text!r} to critical "
                                   f"(fired: {list(result.reasons) or 'nothing'})", entry=raw["id"], path=path)
    for text in data.get("idiom_examples", []):
        result = lexicon.triage(text)
        if result.urgent:
            raise LexiconError(f"idiom example {text!r} still fires {list(result.reasons)}",
                               entry="idioms", path=path)


def load_lexicon(path: Path | str = LEXICON_PATH) -> Lexicon:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LexiconError(f"cannot read the lexicon: {exc.strerror}", path=path) from None
    except yaml.YAMLError as exc:
        raise LexiconError(f"not valid YAML: {exc}", path=path) from None
    return parse_lexicon(data, path)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return load_lexicon(LEXICON_PATH)


def triage(text: str, lexicon: Lexicon | None = None) -> Triage:
    """Triage one message with the shipped lexicon (or the one given)."""
    return (lexicon or default_lexicon()).triage(text)


def examples(lexicon_data: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(entry id, example) pairs, for tests that parametrize over the lexicon."""
    for raw in lexicon_data["entries"]:
        for text in raw["examples"]:
            yield raw["id"], text
