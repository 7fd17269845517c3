"""Labelled messages: the training corpus and the evaluation sets.

One JSON object per line (``resources/schemas/nlu_corpus.schema.json``), in
files named after who wrote them, so held-out figures can leave a whole writer
out and so a reader can trace any message to its writer's brief
(``resources/nlu/corpus/README.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from dialogs import schemas
from dialogs.i18n import RESOURCES

CORPUS_DIR = RESOURCES / "nlu" / "corpus"

URGENT_CATEGORIES = ("suicide", "grooming", "abuse", "sexual_images", "threat", "violence_by_writer")
BRANCHES = ("talk", "advice", "delete", "damages", "danger", "report", "mail", "bill", "security", "none")
ROLES = ("child", "guardian", "teacher", "other")
_ROLE_OF_WRITER = {
    "elementary": "child", "junior_high": "child", "high_school": "child", "friend": "child",
    "guardian": "guardian", "teacher": "teacher", "adult_other": "other", "unknown": "other",
}


class CorpusError(ValueError):
    """A labelled file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    urgency: str
    category: str
    about: str
    writer: str
    lang: str
    branch: str
    hard_negative: bool
    source: str  # the file (writer) it came from
    line: int
    kind: str = ""
    #: The heads this message teaches; () for all of them.
    heads: tuple[str, ...] = ()

    def teaches(self, head: str) -> bool:
        return not self.heads or head in self.heads

    @property
    def urgent(self) -> bool:
        return self.urgency == "urgent"

    @property
    def role(self) -> str:
        return _ROLE_OF_WRITER[self.writer]


def load_file(path: Path) -> list[Example]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{n}: not JSON: {exc}") from None
        try:
            schemas.check(item, "nlu_corpus.schema.json", file=path)
        except schemas.SchemaError as exc:
            raise CorpusError(f"{path}:{n}: {exc.where}: {exc.error.message}") from None
        out.append(Example(
            text=item["text"], urgency=item["urgency"], category=item["category"], about=item["about"],
            writer=item["writer"], lang=item["lang"], branch=item["branch"],
            hard_negative=bool(item.get("hard_negative", False)), source=path.stem, line=n,
            kind=item.get("kind", ""), heads=tuple(item.get("heads", ())),
        ))
    return out


def load_dir(directory: Path = CORPUS_DIR) -> list[Example]:
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise CorpusError(f"{directory}: no *.jsonl files")
    return [e for f in files for e in load_file(f)]


def dedupe(examples: Iterable[Example]) -> list[Example]:
    """First of each text; the same text labelled twice differently is an error."""
    seen: dict[str, Example] = {}
    for e in examples:
        key = e.text.strip()
        if key in seen:
            first = seen[key]
            if (first.urgency, first.category) != (e.urgency, e.category):
                raise CorpusError(f"{e.source}:{e.line}: {e.text!r} is labelled "
                                  f"{e.urgency}/{e.category} here and {first.urgency}/{first.category} "
                                  f"in {first.source}:{first.line}")
            continue
        seen[key] = e
    return list(seen.values())
