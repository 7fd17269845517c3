"""What the bot does with each message of a labelled set, as a person would see it.

``python -m bot triage-report --set NAME`` runs every message of
``tests/data/sets/NAME.jsonl`` (or a path) through the real dialogue as a
first message, at a staffed hour, and counts:

* urgent recall, overall and per category: the reply is urgent (the 24-hour
  number first, the chat queued for a person);
* the safety net: of the urgent messages missed, how many still got
  0120-0-78310 in that first reply;
* false alarms on calm messages, hard negatives apart;
* routing: calm messages that asked for a branch and went straight to it
  (its answer, or the role question on the way to it);

and lists every miss, false alarm and misrouting.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

from dialogs.nlu.corpus import BRANCHES, URGENT_CATEGORIES, Example, load_file

SETS_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "sets"
SOS = "0120-0-78310"
#: A weekday afternoon in the desk's staffed hours (seed 004: 月〜土 14:00〜19:00).
STAFFED = datetime(2026, 12, 8, 15, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


@dataclass(frozen=True)
class Outcome:
    example: Example
    urgent: bool
    sos_shown: bool
    branch: str | None  # where a calm reply went (its branch, or the branch pending a role question)
    texts: tuple[str, ...]


@dataclass
class SetReport:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    def _urgent(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.example.urgent]

    def _calm(self, hard: bool | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if not o.example.urgent
                and (hard is None or o.example.hard_negative == hard)]

    @property
    def misses(self) -> list[Outcome]:
        return [o for o in self._urgent() if not o.urgent]

    @property
    def recall(self) -> float:
        u = self._urgent()
        return sum(o.urgent for o in u) / len(u) if u else 1.0

    def recall_by(self, key: str) -> dict[str, tuple[int, int]]:
        total, caught = Counter(), Counter()
        for o in self._urgent():
            k = getattr(o.example, key) if key != "kind" else (o.example.kind or "-")
            total[k] += 1
            caught[k] += o.urgent
        return {k: (caught[k], total[k]) for k in sorted(total)}

    @property
    def safety_net(self) -> tuple[int, int]:
        m = self.misses
        return sum(o.sos_shown for o in m), len(m)

    def false_alarms(self, hard: bool) -> tuple[list[Outcome], int]:
        calm = self._calm(hard)
        return [o for o in calm if o.urgent], len(calm)

    @property
    def routable(self) -> list[Outcome]:
        return [o for o in self._calm() if o.example.branch != "none" and not o.urgent]

    @property
    def misrouted(self) -> list[Outcome]:
        return [o for o in self.routable if o.branch != o.example.branch]

    @property
    def routing(self) -> float:
        r = self.routable
        return (len(r) - len(self.misrouted)) / len(r) if r else 1.0


def run(examples: Sequence[Example], name: str = "set", dialogue=None, now: datetime = STAFFED) -> SetReport:
    from dialogs.engine import Dialogue, Event, handle

    dialogue = dialogue or Dialogue.load()
    chart = dialogue.chart
    # A branch is reached when the reply is in the state its menu button leads
    # to: "advice" is the chart's advice question, which carries no hotline branch.
    branch_of_state = {o.to: o.id for o in chart.state(chart.menu).options if o.id in BRANCHES}
    report = SetReport(name)
    # As on LINE: the account is added (a follow event, the greeting) and then
    # the first message is typed. handle() never changes the session it is
    # given, so one greeted session serves every message.
    greeted, _ = handle(dialogue, None, Event("follow"), now)
    for e in examples:
        session, reply = handle(dialogue, greeted, Event("text", text=e.text), now)
        said = "\n".join(reply.texts) + "\n" + "\n".join(
            p.number for c in reply.cards for p in getattr(c, "phones", ()) or ())
        branch = branch_of_state.get(reply.state) or (
            reply.branch if reply.branch and reply.state != chart.menu else None)
        if reply.state == chart.ask_role and session.pending:
            branch = session.pending
        report.outcomes.append(Outcome(e, reply.urgent, SOS in said, branch, reply.texts))
    return report


def resolve(name: str) -> Path:
    path = Path(name)
    if path.suffix == ".jsonl" and path.exists():
        return path
    candidate = SETS_DIR / f"{name}.jsonl"
    if candidate.exists():
        return candidate
    known = ", ".join(sorted(p.stem for p in SETS_DIR.glob("*.jsonl"))) or "(none)"
    raise FileNotFoundError(f"no labelled set {name!r}: give a .jsonl path or one of {known}")


def _pct(a: int, b: int) -> str:
    # Two decimals: the bars are whole percentages, and 192/198 printed as
    # "97.0%" read as meeting a 97 % bar it misses (96.97 %).
    return f"{a}/{b} ({100 * a / b:.2f}%)" if b else "0/0"


def format_report(r: SetReport) -> str:
    lines = [f"# {r.name}: {len(r.outcomes)} messages"]
    u = r.recall_by("category")
    caught = sum(c for c, _ in u.values())
    total = sum(t for _, t in u.values())
    lines.append(f"urgent recall           {_pct(caught, total)}")
    for cat in URGENT_CATEGORIES:
        if cat in u:
            lines.append(f"  {cat:22}{_pct(*u[cat])}")
    for key in ("about", "lang", "writer", "kind"):
        by = r.recall_by(key)
        if len(by) > 1:
            lines.append(f"  by {key}: " + ", ".join(f"{k} {c}/{t}" for k, (c, t) in by.items()))
    net, missed = r.safety_net
    lines.append(f"safety net (missed urgent with {SOS} in the first reply) {_pct(net, missed)}")
    fa, n = r.false_alarms(hard=False)
    hfa, hn = r.false_alarms(hard=True)
    lines.append(f"false alarms            {_pct(len(fa), n)} (hard negatives apart)")
    lines.append(f"hard-negative alarms    {_pct(len(hfa), hn)}")
    lines.append(f"routed straight         {_pct(len(r.routable) - len(r.misrouted), len(r.routable))}")
    lines.append("")
    lines.append("## missed urgent")
    lines += [f"- [{o.example.category}/{o.example.about}] {o.example.text!r}"
              f"{'' if o.sos_shown else '  (NO 24h NUMBER)'}" for o in r.misses] or ["- none"]
    lines.append("## false alarms")
    lines += [f"- {'(hard) ' if o.example.hard_negative else ''}{o.example.text!r}" for o in fa + hfa] or ["- none"]
    lines.append("## misrouted")
    lines += [f"- want {o.example.branch}, got {o.branch or 'no branch'}: {o.example.text!r}"
              for o in r.misrouted] or ["- none"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot triage-report --set NAME")
    parser.add_argument("--set", required=True)
    args = parser.parse_args(argv)
    try:
        path = resolve(args.set)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run(load_file(path), path.stem)
    print(format_report(report))
    return 0
