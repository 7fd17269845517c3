"""Recall and false alarms of crisis triage on a labelled set of messages.

``python -m bot triage-report [--set PATH] [--lexicon PATH]`` prints the figures
and every miss and false alarm, and exits non-zero when recall falls below
100 % or false alarms rise above 5 %, so the same command serves a person
tuning the lexicon and a CI step.

A crisis message counts as caught only when triage marks it urgent, names
its category and gives at least its labelled severity: telling a child
with a plan that it is "medium" is a miss.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from dialogs.severity import RANK, SEVERITIES
from dialogs.triage import CATEGORIES, Lexicon, Triage, default_lexicon, load_lexicon

DEFAULT_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "triage_labelled.yaml"

#: Targets the tests and the exit status hold the lexicon to.
MIN_RECALL = 1.0
MAX_FALSE_ALARM_RATE = 0.05


class LabelledSetError(ValueError):
    """The labelled set is malformed; the message names the item."""


@dataclass(frozen=True)
class Labelled:
    text: str
    label: str
    category: str | None = None
    severity: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Outcome:
    item: Labelled
    result: Triage

    @property
    def caught(self) -> bool:
        i, r = self.item, self.result
        return r.urgent and i.category in r.categories and RANK[r.severity] >= RANK[i.severity]

    @property
    def why_missed(self) -> str:
        i, r = self.item, self.result
        if not r.urgent:
            return "not urgent"
        if i.category not in r.categories:
            return f"category {list(r.categories)} lacks {i.category}"
        return f"severity {r.severity} < {i.severity}"


@dataclass
class Report:
    crisis: list[Outcome] = field(default_factory=list)
    benign: list[Outcome] = field(default_factory=list)

    @property
    def misses(self) -> list[Outcome]:
        return [o for o in self.crisis if not o.caught]

    @property
    def false_alarms(self) -> list[Outcome]:
        return [o for o in self.benign if o.result.urgent]

    @property
    def recall(self) -> float:
        return 1 - len(self.misses) / len(self.crisis) if self.crisis else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / len(self.benign) if self.benign else 0.0

    def recall_by_category(self) -> dict[str, tuple[int, int]]:
        out = {}
        for c in CATEGORIES:
            items = [o for o in self.crisis if o.item.category == c]
            out[c] = (sum(o.caught for o in items), len(items))
        return out

    @property
    def passed(self) -> bool:
        return self.recall >= MIN_RECALL and self.false_alarm_rate <= MAX_FALSE_ALARM_RATE


def load_labelled(path: Path | str) -> list[Labelled]:
    path = Path(path)
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelledSetError(f"{path}: cannot read the labelled set: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise LabelledSetError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, list) or not data:
        raise LabelledSetError(f"{path}: expected a non-empty list of messages")
    items = []
    for n, raw in enumerate(data, 1):
        where = f"{path}: item {n}"
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str) or not raw["text"].strip():
            raise LabelledSetError(f"{where}: needs a non-empty 'text'")
        label = raw.get("label")
        if label == "crisis":
            if raw.get("category") not in CATEGORIES or raw.get("severity") not in SEVERITIES:
                raise LabelledSetError(f"{where} ({raw['text']!r}): a crisis item needs category "
                                       f"{CATEGORIES} and severity {SEVERITIES}")
        elif label == "benign":
            if raw.get("category") or raw.get("severity"):
                raise LabelledSetError(f"{where} ({raw['text']!r}): a benign item has no category or severity")
        else:
            raise LabelledSetError(f"{where} ({raw['text']!r}): label must be crisis or benign, not {label!r}")
        items.append(Labelled(raw["text"], label, raw.get("category"), raw.get("severity"), raw.get("note")))
    return items


def evaluate(path: Path | str = DEFAULT_SET, lexicon: Lexicon | None = None) -> Report:
    lexicon = lexicon or default_lexicon()
    report = Report()
    for item in load_labelled(path):
        outcome = Outcome(item, lexicon.triage(item.text))
        (report.crisis if item.label == "crisis" else report.benign).append(outcome)
    return report


def format_report(report: Report, source: Path | str) -> str:
    lines = [
        f"Crisis triage on {source}",
        f"  crisis messages  {len(report.crisis):4}   caught {len(report.crisis) - len(report.misses):4}"
        f"   recall      {report.recall:7.2%}  (target {MIN_RECALL:.0%})",
    ]
    for category, (caught, total) in report.recall_by_category().items():
        lines.append(f"    {category:14} {caught:4} / {total:<4}")
    lines.append(
        f"  benign messages  {len(report.benign):4}   alarms {len(report.false_alarms):4}"
        f"   false alarm {report.false_alarm_rate:7.2%}  (target <= {MAX_FALSE_ALARM_RATE:.0%})"
    )
    if report.misses:
        lines.append("Missed:")
        lines += [f"  - {o.item.text}  [{o.item.category}/{o.item.severity}: {o.why_missed}]" for o in report.misses]
    if report.false_alarms:
        lines.append("False alarms:")
        lines += [f"  - {o.item.text}  [{o.result.severity}: {', '.join(o.result.reasons)}]" for o in report.false_alarms]
    lines.append("PASS" if report.passed else "FAIL")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot triage-report", description=__doc__.splitlines()[0])
    parser.add_argument("--set", default=str(DEFAULT_SET), help="labelled YAML set (default: %(default)s)")
    parser.add_argument("--lexicon", help="lexicon YAML (default: the shipped one)")
    args = parser.parse_args(argv)
    lexicon = load_lexicon(args.lexicon) if args.lexicon else None
    report = evaluate(args.set, lexicon)
    print(format_report(report, args.set))
    return 0 if report.passed else 1
