"""The consultation chart: loading, the JSON Schema check, and semantic rules.

The chart is data (``resources/chart.yaml``).  It is checked once at start-up,
first against ``resources/schemas/chart.schema.json`` and then by the rules
below; each rule fails with its own exception naming the state, so a broken
chart stops the bot and the tests with a message an operator can act on, and
never surfaces at a user's message.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Iterable, Mapping

import yaml

from dialogs import schemas
from dialogs.i18n import LANGS, RESOURCES, Catalogs

CHART_PATH = RESOURCES / "chart.yaml"

#: LINE's limit for a quick-reply label; longer labels are rejected by the API.
MAX_LABEL_CHARS = 20


class ChartError(ValueError):
    """The chart is invalid. ``state`` names the offending state, if any."""

    def __init__(self, message: str, *, state: str | None = None, path: Path | None = None):
        self.state = state
        self.path = path
        where = f"{path}: " if path else ""
        where += f"state {state!r}: " if state else ""
        super().__init__(where + message)


class ChartSchemaError(ChartError):
    """The chart does not match the JSON Schema."""


class UnknownStateError(ChartError):
    """An option or a chart root names a state that does not exist."""


class UnreachableStateError(ChartError):
    """No path of options leads from the start to this state."""


class DeadEndError(ChartError):
    """A state offers no way back to the menu or, where required, to a person."""


class UnknownHotlineError(ChartError):
    """A state shows a hotline id that is not in the directory."""


class MissingMessageError(ChartError):
    """A message key used by a state is missing in a language's catalog."""


class LabelTooLongError(ChartError):
    """An option label is longer than LINE accepts for a quick reply."""


class DuplicateOptionError(ChartError):
    """Two options of one state share an id (the id is the machine trigger)."""


@dataclass(frozen=True)
class When:
    """Who an item is for; an empty constraint means everyone."""

    roles: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()

    def matches(self, role: str | None, level: str | None) -> bool:
        # "unknown" is someone who has not said who they are (and whose
        # wording did not show it).
        if self.roles and (role or "unknown") not in self.roles:
            return False
        if self.levels and level not in self.levels:
            return False
        return True


ALWAYS = When()


@dataclass(frozen=True)
class TextItem:
    key: str
    when: When = ALWAYS


@dataclass(frozen=True)
class HotlineRef:
    id: str
    when: When = ALWAYS


@dataclass(frozen=True)
class Option:
    id: str
    label: str
    to: str
    label_closed: str | None = None
    staffed_only: bool = False
    sets: Mapping[str, str] = field(default_factory=dict)
    #: Who sees the button; the trigger itself works for everyone (typed words
    #: route to it), so a shorter menu hides nothing that cannot be asked for.
    when: When = ALWAYS


@dataclass(frozen=True)
class State:
    id: str
    kind: str
    texts: tuple[TextItem, ...]
    hotlines: tuple[HotlineRef, ...]
    options: tuple[Option, ...]
    branch: str | None = None
    entry: str | None = None
    needs_role: bool = False

    def option(self, option_id: str) -> Option | None:
        for option in self.options:
            if option.id == option_id:
                return option
        return None


@dataclass(frozen=True)
class Chart:
    version: int
    start: str
    menu: str
    human: str
    crisis: str
    ask_role: str
    ask_level: str
    states: Mapping[str, State]
    path: Path | None = None

    def state(self, state_id: str) -> State:
        return self.states[state_id]


def _when(data: Mapping[str, Any] | None) -> When:
    if not data:
        return ALWAYS
    return When(frozenset(data.get("role", ())), frozenset(data.get("level", ())))


def _state(state_id: str, data: Mapping[str, Any]) -> State:
    texts = tuple(
        TextItem(t) if isinstance(t, str) else TextItem(t["key"], _when(t.get("when")))
        for t in data.get("texts", ())
    )
    hotlines = tuple(
        HotlineRef(h) if isinstance(h, str) else HotlineRef(h["id"], _when(h.get("when")))
        for h in data.get("hotlines", ())
    )
    options = tuple(
        Option(
            id=o["id"],
            label=o["label"],
            to=o["to"],
            label_closed=o.get("label_closed"),
            staffed_only=bool(o.get("staffed_only", False)),
            sets=dict(o.get("sets", {})),
            when=_when(o.get("when")),
        )
        for o in data["options"]
    )
    return State(
        id=state_id,
        kind=data["kind"],
        texts=texts,
        hotlines=hotlines,
        options=options,
        branch=data.get("branch"),
        entry=data.get("entry"),
        needs_role=bool(data.get("needs_role", False)),
    )


def parse_chart(data: Any, path: Path | None = None) -> Chart:
    """Check ``data`` against the JSON Schema and build a :class:`Chart`."""
    try:
        # The first broken place in the file, not the likeliest cause: what
        # operators of the chart have always been shown.
        schemas.check(data, "chart.schema.json", file=path, pick=schemas.earliest)
    except schemas.SchemaError as exc:
        at = exc.location
        state = at[1] if len(at) > 1 and at[0] == "states" else None
        raise ChartSchemaError(exc.mismatch, state=state if isinstance(state, str) else None, path=path) from None
    states = {sid: _state(sid, sdata) for sid, sdata in data["states"].items()}
    return Chart(
        version=data["version"],
        start=data["start"],
        menu=data["menu"],
        human=data["human"],
        crisis=data["crisis"],
        ask_role=data["ask_role"],
        ask_level=data["ask_level"],
        states=states,
        path=path,
    )


def load_chart(path: Path = CHART_PATH) -> Chart:
    """Read and schema-check a chart file (semantic checks: :func:`validate_chart`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ChartError(f"cannot be read: {exc}", path=path) from exc
    return parse_chart(data, path)


def validate_chart(
    chart: Chart,
    hotline_ids: Collection[str],
    catalogs: Catalogs,
    extra_keys: Iterable[str] = (),
    langs: tuple[str, ...] = LANGS,
) -> None:
    """Apply the semantic rules; raise the first violation found.

    ``extra_keys`` are message keys the engine itself uses (crisis, handoff,
    clarification texts), checked like the chart's own.
    """
    path = chart.path
    for root in ("start", "menu", "human", "crisis", "ask_role", "ask_level"):
        target = getattr(chart, root)
        if target not in chart.states:
            raise UnknownStateError(f"chart {root!r} names unknown state {target!r}", path=path)

    for state in chart.states.values():
        seen: set[str] = set()
        for option in state.options:
            if option.id in seen:
                raise DuplicateOptionError(f"option id {option.id!r} appears twice", state=state.id, path=path)
            seen.add(option.id)
            if option.to not in chart.states:
                raise UnknownStateError(
                    f"option {option.id!r} leads to unknown state {option.to!r}",
                    state=state.id,
                    path=path,
                )

    _check_reachable(chart)
    _check_no_dead_end(chart)

    for state in chart.states.values():
        for ref in state.hotlines:
            if ref.id not in hotline_ids:
                raise UnknownHotlineError(
                    f"shows hotline {ref.id!r}, which is not in the hotline directory "
                    "(resources/hotlines.yaml or the deployment profile)",
                    state=state.id,
                    path=path,
                )

    for state in chart.states.values():
        keys = [t.key for t in state.texts]
        for option in state.options:
            keys.append(option.label)
            if option.label_closed:
                keys.append(option.label_closed)
        for key in keys:
            for lang in langs:
                if not catalogs.has(lang, key):
                    raise MissingMessageError(
                        f"message key {key!r} is missing in the {lang!r} catalog",
                        state=state.id,
                        path=path,
                    )
        for option in state.options:
            for key in filter(None, (option.label, option.label_closed)):
                for lang in langs:
                    label = catalogs.text(lang, key)
                    if len(label) > MAX_LABEL_CHARS:
                        raise LabelTooLongError(
                            f"label {key!r} in {lang!r} is {len(label)} characters "
                            f"({label!r}); LINE allows {MAX_LABEL_CHARS}",
                            state=state.id,
                            path=path,
                        )

    for key in extra_keys:
        for lang in langs:
            if not catalogs.has(lang, key):
                raise MissingMessageError(
                    f"message key {key!r} used by the engine is missing in the {lang!r} catalog",
                    path=path,
                )


def _check_reachable(chart: Chart) -> None:
    roots = [chart.start] + [s.id for s in chart.states.values() if s.entry]
    seen = set(roots)
    queue = deque(roots)
    while queue:
        for option in chart.states[queue.popleft()].options:
            if option.to not in seen:
                seen.add(option.to)
                queue.append(option.to)
    for state_id in chart.states:
        if state_id not in seen:
            raise UnreachableStateError(
                f"no option leads here from {chart.start!r}; add an option that "
                "leads to it or remove the state",
                state=state_id,
                path=chart.path,
            )


def _check_no_dead_end(chart: Chart) -> None:
    """Every state leads back to the menu, and (except the handoff) to a person.

    A person is offered through an option to the handoff state; options marked
    ``staffed_only`` appear only while counsellors are on duty, which is what
    the rule asks for.
    """
    for state in chart.states.values():
        # A button shown only to some writers is no way out for the others.
        targets = {o.to for o in state.options if o.when == ALWAYS}
        if state.id != chart.menu and chart.menu not in targets:
            raise DeadEndError(
                f"offers no way back to the menu {chart.menu!r}; add an option "
                f"with `to: {chart.menu}`",
                state=state.id,
                path=chart.path,
            )
        if state.id != chart.human and chart.human not in targets:
            raise DeadEndError(
                f"offers no way to a person; add an option with `to: {chart.human}` "
                "(staffed_only: true shows it only while counsellors are on duty)",
                state=state.id,
                path=chart.path,
            )
