"""The JSON Schema check every data file of the dialogue library goes through.

The chart, the lexicon, the dangers, the hotline directory and the NLU corpus
are edited by operators, not programmers; each is checked against its schema
in ``resources/schemas/`` before any code reads it, so a typo stops start-up
with the file and the place in it named instead of surfacing later as a
KeyError at some child's message.

Each loader turns :class:`SchemaError` into its own error (``LexiconError``,
``ChartSchemaError``, ...), which adds what it alone knows: the entry or state
at that place. The command line and the tests know those errors by name.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from dialogs.i18n import RESOURCES

SCHEMAS = RESOURCES / "schemas"

#: Chooses the error to report when the data break several rules.
Pick = Callable[[Sequence[ValidationError]], ValidationError]


class SchemaError(ValueError):
    """Data that do not match their schema. The message is the form operators
    know: ``<file>: does not match <schema> at <json/path>: <problem>``."""

    def __init__(self, error: ValidationError, *, schema: str, file: Path | None, count: int) -> None:
        #: The jsonschema error reported (the best match, unless the caller chose).
        self.error = error
        self.schema = schema
        self.file = file
        #: The JSON path of the offending value: keys and list indexes.
        self.location: tuple[str | int, ...] = tuple(error.absolute_path)
        #: How many errors the data have in all, this one included.
        self.count = count
        super().__init__(f"{file}: {self.mismatch}" if file else self.mismatch)

    @property
    def where(self) -> str:
        return "/".join(str(part) for part in self.location) or "(top level)"

    @property
    def mismatch(self) -> str:
        """``does not match <schema> at <json/path>: <problem>``, without the file."""
        return f"does not match {self.schema} at {self.where}: {self.error.message}"


def earliest(errors: Sequence[ValidationError]) -> ValidationError:
    """The error that comes first in the document (by JSON path), for data
    whose readers want the first broken place rather than the likeliest cause."""
    return min(errors, key=lambda error: list(error.absolute_path))


def check(data: Any, schema: str, *, file: Path | None = None, pick: Pick = best_match) -> None:
    """Raise :class:`SchemaError` unless ``data`` match ``resources/schemas/<schema>``.

    ``file`` is where the data were read from, for the message."""
    errors = list(validator(schema).iter_errors(data))
    if errors:
        raise SchemaError(pick(errors), schema=schema, file=file, count=len(errors))


@functools.cache
def validator(schema: str) -> Draft202012Validator:
    """The validator of one schema file, built once per process."""
    return Draft202012Validator(_contents(schema), registry=_registry(schema))


@functools.cache
def _contents(schema: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / schema).read_text(encoding="utf-8"))


def _registry(schema: str) -> Registry:
    """The schema and every schema file it refers to, under their ``$id``: a
    ``$ref`` such as ``hotlines.schema.json#/$defs/text`` names a file of this
    folder. Registered up front so that validating never goes looking."""
    names, todo = [], [schema]
    while todo:
        name = todo.pop()
        if name not in names:
            names.append(name)
            todo += [ref.partition("#")[0].rsplit("/", 1)[-1] for ref in _refs(_contents(name))
                     if not ref.startswith("#")]
    return Registry().with_resources(
        (_contents(name)["$id"], Resource.from_contents(_contents(name)))
        for name in names if "$id" in _contents(name)
    )


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)
