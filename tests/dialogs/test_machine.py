"""The chart as one shared transitions machine: every option of the chart is a
trigger to its state, anything else is refused (including transitions' own
``to_<state>`` shortcuts, which a forged postback could otherwise use), the
machine holds no per-user state and is never rebuilt per message, and its
Mermaid diagram shows every state and transition."""

from __future__ import annotations

import threading

import pytest
import transitions

from dialogs.chart import load_chart
from dialogs.machine import ChartMachine, Cursor
from tests.conftest import tokyo

NOW = tokyo("2026-11-25 15:00")


@pytest.fixture(scope="module")
def chart():
    return load_chart()


@pytest.fixture(scope="module")
def machine(chart):
    return ChartMachine(chart)


def edges(chart):
    return [(state.id, option.id, option.to) for state in chart.states.values() for option in state.options]


def test_every_option_fires_to_its_destination(chart, machine):
    assert len(edges(chart)) > 50
    for source, trigger, dest in edges(chart):
        assert machine.can(source, trigger), (source, trigger)
        assert machine.fire(source, trigger) == dest, (source, trigger)


def test_one_trigger_means_different_things_only_by_its_source(machine):
    # role_child from the role question goes to the level question, from start too.
    assert machine.fire("start", "role_child") == "level"
    assert machine.fire("who", "role_child") == "level"
    assert machine.fire("menu", "delete") == "delete"
    assert machine.fire("advice", "delete") == "delete"


def test_triggers_of_a_state_are_its_options(chart, machine):
    for state in chart.states.values():
        assert set(machine.triggers(state.id)) == {o.id for o in state.options}, state.id


def test_unknown_trigger_is_refused(machine):
    assert not machine.can("menu", "no_such_option")
    with pytest.raises(ValueError, match="no_such_option"):
        machine.fire("menu", "no_such_option")


def test_trigger_not_offered_by_the_state_is_refused(machine):
    # level_elementary exists, but only on the level question.
    assert machine.can("level", "level_elementary")
    assert not machine.can("menu", "level_elementary")
    with pytest.raises(ValueError):
        machine.fire("menu", "level_elementary")


@pytest.mark.parametrize("trigger", ["to_crisis", "to_human", "to_menu", "trigger", "may_delete"])
def test_no_automatic_shortcuts(machine, trigger):
    """Postback data is user-controlled: 't=to_human' must not jump anywhere."""
    assert not machine.can("menu", trigger)
    with pytest.raises(ValueError):
        machine.fire("menu", trigger)


def test_unknown_source_state_is_refused(machine):
    assert not machine.can("a_removed_state", "delete")
    with pytest.raises(ValueError):
        machine.fire("a_removed_state", "delete")


def test_the_machine_holds_no_model_and_no_state(machine):
    """Each message gets its own Cursor; nothing of a user stays in the machine."""
    models_before = list(machine._machine.models)
    machine.fire("menu", "delete")
    machine.fire("start", "role_guardian")
    assert machine._machine.models == models_before == []
    # a cursor is a plain holder of a state name
    assert Cursor("menu").state == "menu"


def test_firing_does_not_move_other_users(machine):
    """Two users at different places fire in any order; each gets only its own move."""
    a = machine.fire("menu", "bill")
    b = machine.fire("level", "level_elementary")
    c = machine.fire("menu", "security")
    assert (a, b, c) == ("bill", "menu", "security")


def test_shared_machine_is_safe_across_threads(chart, machine):
    work = edges(chart)
    errors: list[object] = []

    def run():
        try:
            for _ in range(20):
                for source, trigger, dest in work:
                    got = machine.fire(source, trigger)
                    if got != dest:
                        errors.append((source, trigger, got, dest))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- one machine for the whole process ---------------------------------------------------------

def test_the_dialogue_holds_one_machine_for_its_chart(dialogue):
    assert isinstance(dialogue.machine, ChartMachine)
    assert dialogue.machine.chart is dialogue.chart


def test_no_machine_is_built_and_no_model_added_per_message(dialogue, monkeypatch):
    """The issue's design note: building a Machine per message costs ~70x, and
    add_model per message grows the shared machine and races between threads."""
    from bot.service import ConsultationService
    from bot.storage import MemoryStorage
    from dialogs.engine import Event

    calls = {"init": 0, "add_model": 0}
    real_init, real_add = transitions.Machine.__init__, transitions.Machine.add_model

    def counting_init(self, *args, **kwargs):
        calls["init"] += 1
        real_init(self, *args, **kwargs)

    def counting_add(self, *args, **kwargs):
        calls["add_model"] += 1
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "__init__", counting_init)
    monkeypatch.setattr(transitions.Machine, "add_model", counting_add)

    service = ConsultationService(dialogue, MemoryStorage(), clock=lambda: NOW)
    for user in ("u1", "u2"):
        service.handle(user, Event("follow"))
        service.handle(user, Event("postback", data="t=role_guardian"))
        service.handle(user, Event("text", text="悪口を書かれた"))
        service.handle(user, Event("postback", data="t=menu"))
        service.handle(user, Event("text", text="請求のメールが来た"))
    assert calls == {"init": 0, "add_model": 0}
    assert dialogue.machine._machine.models == []


def test_engine_moves_through_the_shared_machine(dialogue, monkeypatch):
    """A tap reaches its state through ChartMachine.fire, not around it."""
    from dialogs.engine import Event, handle

    fired: list[tuple[str, str]] = []
    real_fire = ChartMachine.fire

    def spy(self, state, trigger):
        fired.append((state, trigger))
        return real_fire(self, state, trigger)

    monkeypatch.setattr(ChartMachine, "fire", spy)
    session, _ = handle(dialogue, None, Event("follow"), NOW)
    session, reply = handle(dialogue, session, Event("postback", data="t=role_guardian"), NOW)
    assert reply.state == "menu" and ("start", "role_guardian") in fired
    session, reply = handle(dialogue, session, Event("postback", data="t=bill"), NOW)
    assert reply.state == "bill" and ("menu", "bill") in fired


# -- diagram ---------------------------------------------------------------------------------

def test_mermaid_shows_every_state_and_transition(chart, machine):
    diagram = machine.mermaid()
    assert "stateDiagram" in diagram
    for state_id in chart.states:
        assert f'state "{state_id}" as {state_id}' in diagram, state_id
    lines = [line.strip() for line in diagram.splitlines()]
    for source, trigger, dest in edges(chart):
        arrow = f"{source} --> {dest}:"
        line = next((l for l in lines if l.startswith(arrow)), None)
        assert line is not None, arrow
        assert trigger in [t.strip() for t in line[len(arrow):].split("|")], (line, trigger)


def test_mermaid_does_not_touch_the_shared_machine(machine):
    before = (machine.fire("menu", "mail"), list(machine._machine.models))
    machine.mermaid()
    assert (machine.fire("menu", "mail"), list(machine._machine.models)) == before



def test_fire_reaches_where_transitions_itself_would(chart, machine):
    """fire reads a table built from the machine's events (issue 6: a third of a
    tap went into Event.trigger); the table must agree with transitions for every
    state and trigger, and refuse what transitions refuses, with its message."""
    triggers = {option.id for state in chart.states.values() for option in state.options} | {"to_menu", "nope"}
    for state in chart.states:
        for trigger in sorted(triggers):
            event = machine._machine.events.get(trigger)
            try:
                cursor = Cursor(state)
                event.trigger(cursor)
                expected = cursor.state
            except (AttributeError, transitions.MachineError) as exc:
                expected = exc
            if isinstance(expected, str):
                assert machine.fire(state, trigger) == expected, (state, trigger)
            else:
                with pytest.raises(ValueError):
                    machine.fire(state, trigger)
