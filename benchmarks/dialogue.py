"""In-process figures for one dialogue step and for crisis triage (issue 6, items 3 and 5).

Pure measurement: the functions return dictionaries of microseconds and print
nothing, so ``python -m benchmarks`` can put them in docs/performance.md.

* :func:`step_figures` times :func:`dialogs.engine.handle` (triage + state
  machine + rendering) over a fixed, realistic mix of events, and the same mix
  with :class:`MachinePerMessage`, the naive design that builds a
  ``transitions.Machine`` for every message, as the baseline ratio.
* :func:`triage_figures` times crisis triage alone over every labelled message
  in tests/data (the sets ``python -m bot triage-report`` reads), split
  Japanese / English and calm / crisis.

Every call is timed on its own with ``time.perf_counter_ns`` after a warm-up
round, and the events are interleaved round-robin so that no one message is
timed many times in a row (the figures are for a stream of different users).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from transitions import Machine, MachineError

from dialogs.chart import Chart
from dialogs.engine import Dialogue, Event, handle
from dialogs.reply import Reply
from dialogs.session import Session
from dialogs.triage import Lexicon, default_lexicon
from dialogs.triage_report import DEFAULT_SET, Labelled, load_labelled

TOKYO = ZoneInfo("Asia/Tokyo")
#: Wednesday 15:00, counsellors on duty (14:00-19:00), and the same night, off duty:
#: the two renderings of the human and crisis answers.
STAFFED = datetime(2026, 11, 25, 15, 0, tzinfo=TOKYO)
NIGHT = datetime(2026, 11, 25, 23, 0, tzinfo=TOKYO)

#: The labelled sets crisis triage is held to (labelled, held-out and blind).
TRIAGE_SETS = tuple(sorted(DEFAULT_SET.parent.glob("triage_*.yaml")))


def _follow(lang: str | None = None) -> Event:
    return Event("follow", lang=lang)


def _tap(trigger: str, lang: str | None = None) -> Event:
    return Event("postback", data=f"t={trigger}", lang=lang)


def _say(text: str, lang: str | None = None) -> Event:
    return Event("text", text=text, lang=lang)


#: Conversations as users have them: a child tapping through the chart, adults
#: typing sentences the router places, crisis messages, English, a sticker.
#: Each is replayed once to get the session before every step; the steps are
#: then timed one by one.
CONVERSATIONS: tuple[tuple[datetime, tuple[Event, ...]], ...] = (
    (STAFFED, (_follow("ja"), _tap("role_child"), _tap("level_junior_high"), _tap("delete"),
               _tap("menu"), _tap("talk"), _tap("human"))),
    (STAFFED, (_say("中学生の娘の母親です"), _say("SNSに娘の写真を勝手に載せられました"), _tap("danger"),
               _say("メニューに戻りたい"))),
    (NIGHT, (_follow(), _say("中学校の教員です"), _say("生徒の悪口がネットに書き込まれています"),
             _tap("human"), Event("media", data="sticker"))),
    (STAFFED, (_follow(), _tap("role_child"), _tap("level_elementary"), _say("知らない人からお金を請求された"),
               _say("もう死にたい"), _say("屋上にいる。みんなさようなら"))),
    (NIGHT, (_say("高校生です"), _say("裸の写真送れって脅されてる"), _say("こわい"))),
    (STAFFED, (_follow("en"), _tap("language", "en"), _tap("lang_en", "en"),
               _say("someone posted my photo without asking", "en"),
               _say("I want to kill myself", "en"), _say("how can I talk to a person", "en"))),
    (STAFFED, (_follow(), _tap("role_guardian"), _say("アカウントを乗っ取られたかもしれない"),
               _say("ゲームの課金で高額請求がきた"), _tap("menu"))),
)


@dataclass(frozen=True)
class Step:
    """One event to time, with the session it arrives to."""

    kind: str  # follow | tap | text | crisis | english | media
    session: Session | None
    event: Event
    now: datetime


def _kind(event: Event, reply: Reply) -> str:
    if event.kind == "follow":
        return "follow"
    if event.kind == "postback":
        return "tap"
    if event.kind == "media":
        return "media"
    if reply.urgent:
        return "crisis"
    return "english" if event.lang == "en" else "text"


def dialogue_steps(dialogue: Dialogue) -> list[Step]:
    """The fixed mix of steps, each with the session it meets (replayed once)."""
    steps = []
    for now, events in CONVERSATIONS:
        session: Session | None = None
        for event in events:
            after, reply = handle(dialogue, session, event, now)
            steps.append(Step(_kind(event, reply), session, event, now))
            session = after
    return steps


class MachinePerMessage:
    """The baseline: a ``transitions.Machine`` built for each message.

    The same interface as :class:`dialogs.machine.ChartMachine`. ``fire`` (the
    one call that moves a message's state) builds a Machine around a model in
    the stored state, as a straightforward implementation would; ``can`` only
    reads a prebuilt table, so the baseline is not charged for the several
    look-ups per tap and its cost is, if anything, understated.
    """

    def __init__(self, chart: Chart):
        self.chart = chart
        self._transitions = [
            {"trigger": option.id, "source": state.id, "dest": option.to}
            for state in chart.states.values()
            for option in state.options
        ]
        self._sources: dict[str, set[str]] = {}
        for t in self._transitions:
            self._sources.setdefault(t["trigger"], set()).add(t["source"])

    def _machine(self, state: str) -> Any:
        class Model:
            pass

        model = Model()
        Machine(
            model=model,
            states=list(self.chart.states),
            transitions=self._transitions,
            initial=state,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        return model

    def can(self, state: str, trigger: str) -> bool:
        return state in self._sources.get(trigger, ())

    def fire(self, state: str, trigger: str) -> str:
        model = self._machine(state)
        if trigger not in self._sources:
            raise ValueError(f"unknown trigger {trigger!r}")
        try:
            model.trigger(trigger)
        except MachineError as exc:
            raise ValueError(str(exc)) from exc
        return model.state

    def triggers(self, state: str) -> list[str]:
        return self._machine(state).machine.get_triggers(state)

    def mermaid(self) -> str:  # pragma: no cover - the baseline is only timed
        raise NotImplementedError


def _summary(samples_ns: Sequence[int]) -> dict[str, float]:
    us = [s / 1000 for s in samples_ns]
    p90 = statistics.quantiles(us, n=10)[8] if len(us) > 1 else us[0]
    return {"median_us": round(statistics.median(us), 1), "p90_us": round(p90, 1), "n": len(us)}


def _time_round_robin(calls: Sequence[Callable[[], object]], repeat: int) -> list[list[int]]:
    """Per call, ``repeat`` single-call timings in ns, after one warm-up round."""
    for call in calls:
        call()
    samples: list[list[int]] = [[] for _ in calls]
    clock = time.perf_counter_ns
    for _ in range(repeat):
        for i, call in enumerate(calls):
            t0 = clock()
            call()
            samples[i].append(clock() - t0)
    return samples


def _grouped(labels: Sequence[str], samples: Sequence[list[int]]) -> dict[str, dict[str, float]]:
    out: dict[str, list[int]] = {}
    for label, s in zip(labels, samples):
        out.setdefault(label, []).extend(s)
    return {label: _summary(s) for label, s in sorted(out.items())}


def _time_steps(dialogue: Dialogue, steps: Sequence[Step], repeat: int) -> dict[str, Any]:
    calls = [lambda st=st: handle(dialogue, st.session, st.event, st.now) for st in steps]
    samples = _time_round_robin(calls, repeat)
    return {
        **_summary([x for s in samples for x in s]),
        "by_kind": _grouped([st.kind for st in steps], samples),
    }


def step_figures(repeat: int = 200, dialogue: Dialogue | None = None) -> dict[str, Any]:
    """Median and p90 µs of one dialogue step over the fixed mix, ours and the
    Machine-per-message baseline, with the ratio baseline / ours (overall and
    per kind of event)."""
    dialogue = dialogue or Dialogue.load()
    baseline = replace(dialogue, machine=MachinePerMessage(dialogue.chart))
    steps = dialogue_steps(dialogue)
    # The baseline must give the same answers, or the ratio compares two different things.
    for st in steps:
        if handle(dialogue, st.session, st.event, st.now) != handle(baseline, st.session, st.event, st.now):
            raise AssertionError(f"the baseline answers {st.event} differently")
    ours = _time_steps(dialogue, steps, repeat)
    base = _time_steps(baseline, steps, max(1, repeat // 3))
    return {
        "steps": len(steps),
        "repeat": repeat,
        "ours": ours,
        "baseline": base,
        "ratio": round(base["median_us"] / ours["median_us"], 2),
        "ratio_by_kind": {
            kind: round(base["by_kind"][kind]["median_us"] / fig["median_us"], 2)
            for kind, fig in ours["by_kind"].items()
        },
    }


def _is_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uff61" <= ch <= "\uff9f"
               for ch in text)


def labelled_messages(sets: Iterable[Path] = TRIAGE_SETS) -> list[Labelled]:
    """Every message of the labelled sets, in file order."""
    return [item for path in sets for item in load_labelled(path)]


def triage_figures(repeat: int = 20, lexicon: Lexicon | None = None,
                   sets: Iterable[Path] = TRIAGE_SETS) -> dict[str, Any]:
    """Median and p90 µs of crisis triage per message over the labelled sets:
    all, Japanese / English, calm (benign) / crisis."""
    lexicon = lexicon or default_lexicon()
    items = labelled_messages(sets)
    samples = _time_round_robin([lambda t=i.text: lexicon.triage(t) for i in items], repeat)
    every = [x for s in samples for x in s]
    lang = ["ja" if _is_japanese(i.text) else "en" for i in items]
    label = ["calm" if i.label == "benign" else "crisis" for i in items]
    return {
        "messages": len(items),
        "repeat": repeat,
        "all": _summary(every),
        "by_language": _grouped(lang, samples),
        "by_label": _grouped(label, samples),
    }
