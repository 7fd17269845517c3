"""Canned replies (定型文) and the escalation steps, from resources/console/canned.yaml.

The data is the desk's written procedure (seed 004's 取扱要領), so it lives in a
data file that names its source passage for every entry, not in code. It is
loaded and checked once when the console is set up (bot.console.views.init_app):
a reply without a Japanese, easy-Japanese or English text, an entry without a
source, or an escalation card naming a hotline the directory does not have
stops the web process at start-up, not in front of a counsellor.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CANNED_PATH = Path(__file__).resolve().parents[2] / "resources" / "console" / "canned.yaml"
#: Every reply is written in each language the bot speaks.
LANGS = ("ja", "ja_easy", "en")


class CannedError(ValueError):
    """The canned data is malformed; the message names the entry and field."""


@dataclass(frozen=True)
class CannedReply:
    id: str
    title: str
    source: str
    texts: tuple[tuple[str, str], ...]  # (lang, text) pairs: hashable
    #: The source as counsellors read it: document titles instead of file names.
    source_label: str = ""
    #: For a child at risk (the console lists these first on an urgent chat).
    crisis: bool = False

    def text(self, lang: str) -> str:
        """The reply in the user's language; Japanese for any other."""
        found = dict(self.texts)
        return found.get(lang) or found["ja"]

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "source": self.source, "source_label": self.source_label,
                "crisis": self.crisis, "texts": dict(self.texts)}


@dataclass(frozen=True)
class EscalationStep:
    text: str
    source: str
    source_label: str = ""


@dataclass(frozen=True)
class Escalation:
    title: str
    source: str
    steps: tuple[EscalationStep, ...]
    contact: str
    contact_source: str
    cards: tuple[str, ...]

    contact_source_label: str = ""

    def to_api(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source": self.source,
            "steps": [{"text": s.text, "source": s.source, "source_label": s.source_label} for s in self.steps],
            "contact": self.contact,
            "contact_source": self.contact_source,
            "contact_source_label": self.contact_source_label,
            "cards": list(self.cards),
        }


@dataclass(frozen=True)
class Canned:
    replies: tuple[CannedReply, ...]
    escalation: Escalation

    def for_chat(self, urgent: bool) -> tuple[CannedReply, ...]:
        """The replies in the order a chat needs them: on an urgent one, those for a
        child at risk first; on any other, after the rest (each group in the file's order)."""
        return tuple(sorted(self.replies, key=lambda r: r.crisis != urgent))


def load_canned(hotline_ids: Container[str], path: Path = CANNED_PATH) -> Canned:
    """Read and check the file; ``hotline_ids``: the directory's ids (for the cards)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CannedError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise CannedError(f"{path}: expected a mapping with 'sources', 'replies' and 'escalation'")
    sources = raw.get("sources")
    if not isinstance(sources, Mapping) or not sources or not all(
            isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in sources.items()):
        raise CannedError(f"{path}: 'sources' must map each document a source may name to its title")
    label = _labeller(dict(sources), path)
    return Canned(replies=_replies(raw.get("replies"), path, label),
                  escalation=_escalation(raw.get("escalation"), path, hotline_ids, label))


def _labeller(sources: dict[str, str], path: Path):  # type: ignore[no-untyped-def]
    """source text -> the same with each document named by its title. A source that
    names none of ``sources`` is refused: every entry must say where it comes from."""
    # Longest first, so a key inside another ("issue 4" in "issue 45") is not cut.
    keys = sorted(sources, key=len, reverse=True)

    def label(source: str, where: str) -> str:
        if not any(k in source for k in keys):
            raise CannedError(f"{where}: source {source!r} names none of the documents in {path}'s 'sources' "
                              f"({', '.join(sorted(sources))}); add the document there or name one of them")
        out = source
        for k in keys:
            out = out.replace(k, f"\0{keys.index(k)}\0")
        for n, k in enumerate(keys):
            out = out.replace(f"\0{n}\0", sources[k])
        return out

    return label


def _replies(raw: Any, path: Path, label) -> tuple[CannedReply, ...]:  # type: ignore[no-untyped-def]
    if not isinstance(raw, list) or not raw:
        raise CannedError(f"{path}: 'replies' must be a non-empty list")
    replies: list[CannedReply] = []
    seen: set[str] = set()
    for n, item in enumerate(raw):
        where = f"{path}: replies[{n}]"
        if not isinstance(item, Mapping):
            raise CannedError(f"{where}: must be a mapping")
        rid = _string(item, "id", where)
        if rid in seen:
            raise CannedError(f"{where}: id {rid!r} is used twice")
        seen.add(rid)
        texts = item.get("text")
        if not isinstance(texts, Mapping):
            raise CannedError(f"{where} ({rid}): 'text' must map each of {', '.join(LANGS)} to a text")
        pairs = tuple((lang, _string(texts, lang, f"{where} ({rid}).text")) for lang in LANGS)
        crisis = item.get("crisis", False)
        if not isinstance(crisis, bool):
            raise CannedError(f"{where} ({rid}): 'crisis' must be true or false")
        source = _string(item, "source", where)
        replies.append(CannedReply(id=rid, title=_string(item, "title", where), source=source, texts=pairs,
                                   source_label=label(source, f"{where} ({rid})"), crisis=crisis))
    return tuple(replies)


def _escalation(raw: Any, path: Path, hotline_ids: Container[str], label) -> Escalation:  # type: ignore[no-untyped-def]
    where = f"{path}: escalation"
    if not isinstance(raw, Mapping):
        raise CannedError(f"{where}: must be a mapping")
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise CannedError(f"{where}.steps: must be a non-empty list")
    steps = []
    for n, step in enumerate(steps_raw):
        if not isinstance(step, Mapping):
            raise CannedError(f"{where}.steps[{n}]: must be a mapping with text and source")
        source = _string(step, "source", f"{where}.steps[{n}]")
        steps.append(EscalationStep(text=_string(step, "text", f"{where}.steps[{n}]"), source=source,
                                    source_label=label(source, f"{where}.steps[{n}]")))
    cards = raw.get("cards") or []
    if not isinstance(cards, list) or not all(isinstance(c, str) for c in cards):
        raise CannedError(f"{where}.cards: must be a list of hotline ids")
    unknown = [c for c in cards if c not in hotline_ids]
    if unknown:
        raise CannedError(f"{where}.cards: not in the hotline directory: {', '.join(unknown)}")
    contact_source = _string(raw, "contact_source", where)
    return Escalation(
        title=_string(raw, "title", where), source=_string(raw, "source", where), steps=tuple(steps),
        contact=_string(raw, "contact", where), contact_source=contact_source,
        cards=tuple(cards), contact_source_label=label(contact_source, f"{where}.contact_source"),
    )


def _string(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CannedError(f"{where}: '{name}' must be a non-empty string")
    return " ".join(value.split()) if "\n" in value else value.strip()
