"""The lexicon read from its YAML file, checked and compiled; the shipped one loaded once.

``resources/triage/lexicon.yaml`` is checked against its JSON Schema and then
by running every entry's own examples and not-examples, so a lexicon edit that
stops catching what it was written for fails start-up and the tests, naming
the entry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from dialogs import schemas
from dialogs.i18n import RESOURCES
from dialogs.triage.matcher import Entry, Lexicon, Modifier, Rule, Triage, compile_pattern
from dialogs.triage.normalise import normalize

LEXICON_PATH = RESOURCES / "triage" / "lexicon.yaml"


class LexiconError(ValueError):
    """The lexicon is invalid. ``entry`` names the offending entry or section."""

    def __init__(self, message: str, *, entry: str | None = None, path: Path | None = None):
        self.entry = entry
        self.path = path
        where = f"{path}: " if path else ""
        where += f"entry {entry!r}: " if entry else ""
        super().__init__(where + message)


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
