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

    def text(self, lang: str) -> str:
        """The reply in the user's language; Japanese for any other."""
        found = dict(self.texts)
        return found.get(lang) or found["ja"]

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "source": self.source, "texts": dict(self.texts)}


@dataclass(frozen=True)
class EscalationStep:
    text: str
    source: str


@dataclass(frozen=True)
class Escalation:
    title: str
    source: str
    steps: tuple[EscalationStep, ...]
    contact: str
    contact_source: str
    cards: tuple[str, ...]

    def to_api(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "source": self.source,
            "steps": [{"text": s.text, "source": s.source} for s in self.steps],
            "contact": self.contact,
            "contact_source": self.contact_source,
            "cards": list(self.cards),
        }


@dataclass(frozen=True)
class Canned:
    replies: tuple[CannedReply, ...]
    escalation: Escalation


def load_canned(hotline_ids: Container[str], path: Path = CANNED_PATH) -> Canned:
    """Read and check the file; ``hotline_ids``: the directory's ids (for the cards)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CannedError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise CannedError(f"{path}: expected a mapping with 'replies' and 'escalation'")
    return Canned(replies=_replies(raw.get("replies"), path),
                  escalation=_escalation(raw.get("escalation"), path, hotline_ids))


def _replies(raw: Any, path: Path) -> tuple[CannedReply, ...]:
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
        replies.append(CannedReply(id=rid, title=_string(item, "title", where),
                                   source=_string(item, "source", where), texts=pairs))
    return tuple(replies)


def _escalation(raw: Any, path: Path, hotline_ids: Container[str]) -> Escalation:
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
        steps.append(EscalationStep(text=_string(step, "text", f"{where}.steps[{n}]"),
                                    source=_string(step, "source", f"{where}.steps[{n}]")))
    cards = raw.get("cards") or []
    if not isinstance(cards, list) or not all(isinstance(c, str) for c in cards):
        raise CannedError(f"{where}.cards: must be a list of hotline ids")
    unknown = [c for c in cards if c not in hotline_ids]
    if unknown:
        raise CannedError(f"{where}.cards: not in the hotline directory: {', '.join(unknown)}")
    return Escalation(
        title=_string(raw, "title", where), source=_string(raw, "source", where), steps=tuple(steps),
        contact=_string(raw, "contact", where), contact_source=_string(raw, "contact_source", where),
        cards=tuple(cards),
    )


def _string(data: Mapping[str, Any], name: str, where: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CannedError(f"{where}: '{name}' must be a non-empty string")
    return " ".join(value.split()) if "\n" in value else value.strip()
