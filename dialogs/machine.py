"""The chart as one shared ``transitions`` state machine.

One :class:`transitions.Machine` is built per chart, with no model attached;
each message gets a tiny :class:`Cursor` holding the state loaded from storage,
and an event is fired on it directly.  Building a Machine per message costs
about 70 times more (measured in the issue: ~430 µs against ~6 µs), and
``add_model`` per message would grow the machine's model list and race between
threads, so the machine stays model-free and is safe to share.  As the chart's
transitions have no conditions or callbacks, a valid tap only needs the
destination, which ``fire`` reads from a table made from the machine's events
(benchmarks/dialogue.py, issue 6); anything else still goes through
transitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from transitions import Machine, MachineError

from dialogs.chart import Chart


@dataclass
class Cursor:
    """The per-message model: only the state, as transitions expects."""

    state: str


class ChartMachine:
    """Triggers are option ids; each state's options become its transitions."""

    def __init__(self, chart: Chart):
        self.chart = chart
        transitions = [
            {"trigger": option.id, "source": state.id, "dest": option.to}
            for state in chart.states.values()
            for option in state.options
        ]
        self._machine = Machine(
            model=None,
            states=list(chart.states),
            transitions=transitions,
            initial=chart.start,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        # Where each (state, trigger) leads, read from the machine's own events.
        # The chart's transitions have no conditions and no callbacks, so
        # firing one only reads its destination; going through
        # Event.trigger for that was a third of a tap's time (~11 µs).
        # Anything not in the table still goes through transitions, which
        # refuses it with its own message.
        self._dests: dict[tuple[str, str], str] = {}
        m = self._machine
        plain_machine = not (m.before_state_change or m.after_state_change or m.prepare_event
                             or m.finalize_event or m.on_exception
                             or any(st.on_enter or st.on_exit for st in m.states.values()))
        for trigger, event in m.events.items():
            for source, found in event.transitions.items():
                first = found[0]
                if plain_machine and first.dest is not None and not (
                        first.conditions or first.prepare or first.before or first.after):
                    self._dests[(source, trigger)] = first.dest

    def can(self, state: str, trigger: str) -> bool:
        event = self._machine.events.get(trigger)
        return event is not None and state in event.transitions

    def fire(self, state: str, trigger: str) -> str:
        """The state reached from ``state`` by ``trigger``; ValueError if none."""
        dest = self._dests.get((state, trigger))
        if dest is not None:
            return dest
        event = self._machine.events.get(trigger)
        if event is None:
            raise ValueError(f"unknown trigger {trigger!r}")
        cursor = Cursor(state)
        try:
            event.trigger(cursor)
        except MachineError as exc:
            raise ValueError(str(exc)) from exc
        return cursor.state

    def triggers(self, state: str) -> list[str]:
        return self._machine.get_triggers(state)

    def mermaid(self) -> str:
        """A Mermaid state diagram of the chart (transitions' own renderer)."""
        from transitions.extensions import GraphMachine

        class _Model:
            pass

        graph = GraphMachine(
            model=_Model(),
            states=list(self.chart.states),
            transitions=[
                {"trigger": option.id, "source": state.id, "dest": option.to}
                for state in self.chart.states.values()
                for option in state.options
            ],
            initial=self.chart.start,
            auto_transitions=False,
            graph_engine="mermaid",
            title="Consultation chart",
            show_state_attributes=False,
        )
        return graph.model.get_graph().draw(None)
