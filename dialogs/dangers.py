"""The kinds of danger crisis triage tells apart, as data (resources/triage/dangers.yaml).

The ids are a contract of the code (sessions store them, catalogs key the
crisis texts by them: ``crisis.<id>`` and ``crisis.<id>.other``), so they are
listed here; everything else about a danger (the classifier category it comes
from, its severity, whether a life may be at stake, the hotline cards for the
one in danger and for someone reporting it) is data, checked against
``resources/schemas/dangers.schema.json`` and then against these ids and the
classifier's categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

from dialogs import schemas
from dialogs.i18n import RESOURCES

DANGERS_PATH = RESOURCES / "triage" / "dangers.yaml"

#: Crisis categories, in the order a reply picks the first of several.
CATEGORY_ORDER = ("self_harm", "threat", "extortion", "grooming", "abuse", "violence_by_writer")


class DangersError(ValueError):
    """dangers.yaml is invalid; ``danger`` names the entry."""

    def __init__(self, message: str, danger: str | None = None, path: Path = DANGERS_PATH):
        self.danger = danger
        super().__init__(f"{path}: " + (f"danger {danger!r}: " if danger else "") + message)


@dataclass(frozen=True)
class Danger:
    id: str
    model: str
    severity: str
    life_at_stake: bool
    cards: tuple[str, ...]
    cards_other: tuple[str, ...]


def parse_dangers(data: Any, model_categories: tuple[str, ...], path: Path = DANGERS_PATH) -> dict[str, Danger]:
    try:
        schemas.check(data, "dangers.schema.json", file=path)
    except schemas.SchemaError as exc:
        raise DangersError(exc.mismatch, path=path) from None
    dangers = {d["id"]: Danger(d["id"], d["model"], d["severity"], d["life_at_stake"],
                               tuple(d["cards"]), tuple(d["cards_other"])) for d in data["dangers"]}
    if tuple(dangers) != CATEGORY_ORDER:
        raise DangersError(f"the dangers must be exactly {list(CATEGORY_ORDER)}, in that order "
                           f"(found {list(dangers)})", path=path)
    for d in dangers.values():
        if d.model not in model_categories:
            raise DangersError(f"model category {d.model!r} is not one of the classifier's "
                               f"{list(model_categories)}", d.id, path)
    missing = set(model_categories) - {d.model for d in dangers.values()}
    if missing:
        raise DangersError(f"the classifier's categories {sorted(missing)} have no danger", path=path)
    return dangers


def load_dangers(model_categories: tuple[str, ...], path: Path = DANGERS_PATH) -> dict[str, Danger]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DangersError(f"cannot be read: {exc}", path=path) from None
    return parse_dangers(data, model_categories, path)


@lru_cache(maxsize=1)
def default_dangers() -> Mapping[str, Danger]:
    from dialogs.nlu.corpus import URGENT_CATEGORIES

    return load_dangers(URGENT_CATEGORIES)


def by_model(dangers: Mapping[str, Danger]) -> dict[str, str]:
    return {d.model: d.id for d in dangers.values()}
