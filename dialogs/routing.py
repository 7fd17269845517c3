"""Free-text routing: place a typed sentence on the chart, or admit it can't.

Children type sentences, not button labels. A message that clearly names one
branch goes there; a message naming several gets a question with buttons for
just those; a message naming none gets the menu's buttons. The router never
guesses between branches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import yaml

from dialogs.i18n import RESOURCES
from dialogs.triage import normalize

ROUTING_PATH = RESOURCES / "routing.yaml"

#: Roles that are not the child: they win over school words in the same sentence.
ADULT_ROLES = ("guardian", "teacher")


class RoutingError(ValueError):
    """The routing data is malformed; the message names the section and entry."""


@dataclass(frozen=True)
class Route:
    """What a message asks for. At most one of command / branches is set."""

    command: str | None = None
    branches: tuple[str, ...] = ()
    role: str | None = None
    level: str | None = None

    @property
    def branch(self) -> str | None:
        """The branch, when exactly one was named."""
        return self.branches[0] if len(self.branches) == 1 else None


def _keywords(section: str, data: object, source: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(data, dict) or not data:
        raise RoutingError(f"{source}: section {section!r} must be a non-empty mapping")
    out: dict[str, tuple[str, ...]] = {}
    for name, words in data.items():
        if not isinstance(words, list) or not words:
            raise RoutingError(f"{source}: {section}.{name} must be a non-empty list of words")
        normalized = []
        for word in words:
            if not isinstance(word, str) or not normalize(word):
                raise RoutingError(
                    f"{source}: {section}.{name} has {word!r}, which is empty after normalisation"
                )
            normalized.append(normalize(word))
        out[name] = tuple(dict.fromkeys(normalized))
    return out


class Router:
    def __init__(self, data: Mapping[str, object], source: Path | str = ROUTING_PATH):
        self.branches = _keywords("branches", data.get("branches"), str(source))
        self.commands = _keywords("commands", data.get("commands"), str(source))
        self.roles = _keywords("roles", data.get("roles"), str(source))
        self.levels = _keywords("levels", data.get("levels"), str(source))
        # Most messages name no role, level or command: one search over all of
        # a table's words answers "none" without trying the words one by one.
        self._any_word = tuple(
            (table, re.compile("|".join(re.escape(w) for name in table for w in table[name])))
            for table in (self.branches, self.commands, self.roles, self.levels)
        )

    @classmethod
    def load(cls, path: Path = ROUTING_PATH) -> "Router":
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RoutingError(f"{path}: cannot be read: {exc}") from exc
        if not isinstance(data, dict):
            raise RoutingError(f"{path}: expected a mapping with branches, commands, roles, levels")
        return cls(data, path)

    def _best(self, table: Mapping[str, tuple[str, ...]], text: str) -> list[str]:
        """Names whose keywords occur in ``text``, longest match first.

        Longest match decides between overlapping keywords of one table
        (やさしい日本語 must beat 日本語); callers treat ties as ambiguity.
        """
        for known, any_word in self._any_word:
            if known is table and any_word.search(text) is None:
                return []  # no keyword of the table occurs: every score would be 0
        scores = {
            name: max((len(w) for w in words if w in text), default=0)
            for name, words in table.items()
        }
        hits = [name for name, score in scores.items() if score]
        return sorted(hits, key=lambda n: -scores[n])

    def _role_and_level(self, norm: str) -> tuple[str | None, str | None]:
        """An adult who names the school (中学校の教員です, 中学生の娘の母親です)
        is that adult, not a pupil: the school words are also child words, so
        adult roles are decided first, and only a child has a school level."""
        roles = self._best(self.roles, norm)
        adults = [r for r in roles if r in ADULT_ROLES]
        if len(adults) > 1:
            return None, None
        if adults:
            return adults[0], None
        levels = self._best(self.levels, norm)
        level = levels[0] if levels else None
        if level or roles:
            return "child", level
        return None, None

    def route(self, text: str) -> Route:
        norm = normalize(text)
        if not norm:
            return Route()
        role, level = self._role_and_level(norm)
        commands = self._best(self.commands, norm)
        if commands:
            return Route(command=commands[0], role=role, level=level)
        branches = tuple(self._best(self.branches, norm))
        return Route(branches=branches, role=role, level=level)
