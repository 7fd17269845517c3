"""dialogs.triage_report: the lexicon on the labelled sets (every crisis caught,
few false alarms), the report's verdicts, malformed sets named, and the
`python -m bot triage-report` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dialogs.triage import triage
from dialogs.triage_report import (
    DEFAULT_SET,
    MAX_FALSE_ALARM_RATE,
    LabelledSetError,
    evaluate,
    load_labelled,
    main,
)

ROOT = Path(__file__).resolve().parents[2]
RANK = {None: 0, "medium": 1, "high": 2, "critical": 3}


HELDOUT_SET = ROOT / "tests" / "data" / "triage_heldout.yaml"
#: Sets the lexicon is tuned on and held to (100 % recall, <= 5 % false alarms).
#: triage_heldout and triage_blind3..5 were written blind and scored 62.5 %, 57.0 %, 58.2 %
#: and 70.6 % recall before the lexicon was tuned on them; see their commits.
BLIND3_SET = ROOT / "tests" / "data" / "triage_blind3.yaml"
BLIND4_SET = ROOT / "tests" / "data" / "triage_blind4.yaml"
BLIND5_SET = ROOT / "tests" / "data" / "triage_blind5.yaml"
TUNED_SETS = (DEFAULT_SET, HELDOUT_SET, BLIND3_SET, BLIND4_SET, BLIND5_SET)


def _labelled(label):
    return [
        pytest.param(i, id=f"{path.stem}:{i.text[:30]}")
        for path in TUNED_SETS
        for i in load_labelled(path)
        if i.label == label
    ]


@pytest.mark.parametrize("item", _labelled("crisis"))
def test_every_crisis_message_is_caught_with_its_category_and_severity(item):
    result = triage(item.text)
    assert result.urgent, item.note
    assert item.category in result.categories
    assert RANK[result.severity] >= RANK[item.severity]


@pytest.mark.parametrize("path", TUNED_SETS, ids=lambda p: p.stem)
def test_labelled_set_recall_and_false_alarms(path):
    report = evaluate(path)
    assert len(report.crisis) >= 60 and len(report.benign) >= 85
    assert report.recall == 1.0, [o.item.text for o in report.misses]
    assert report.false_alarm_rate <= MAX_FALSE_ALARM_RATE, [o.item.text for o in report.false_alarms]
    assert report.passed


def test_report_fails_on_a_miss_and_on_too_many_false_alarms(tmp_path, capsys):
    missed = tmp_path / "missed.yaml"
    missed.write_text(
        '- {text: "ふつうの文", label: crisis, category: self_harm, severity: high}\n'
        '- {text: "宿題が多い", label: benign}\n',
        encoding="utf-8",
    )
    assert main(["--set", str(missed)]) == 1
    out = capsys.readouterr().out
    assert "ふつうの文" in out and "not urgent" in out and "FAIL" in out

    alarms = tmp_path / "alarms.yaml"
    alarms.write_text(
        '- {text: "死にたい", label: crisis, category: self_harm, severity: high}\n'
        '- {text: "死にたい", label: benign}\n'
        + "".join(f'- {{text: "宿題{n}", label: benign}}\n' for n in range(10)),
        encoding="utf-8",
    )
    report = evaluate(alarms)
    assert report.recall == 1.0 and len(report.false_alarms) == 1 and not report.passed
    assert main(["--set", str(alarms)]) == 1


def test_a_severity_below_the_label_is_a_miss(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text('- {text: "消えたい", label: crisis, category: self_harm, severity: critical}\n', encoding="utf-8")
    report = evaluate(path)
    assert report.recall == 0.0
    assert report.misses[0].why_missed == "severity medium < critical"


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("[]", "non-empty list"),
        ('- {text: "x", label: maybe}\n', "label must be crisis or benign"),
        ('- {text: "x", label: crisis, category: fear, severity: high}\n', "needs category"),
        ('- {text: "x", label: benign, category: threat}\n', "has no category"),
        ('- {label: benign}\n', "non-empty 'text'"),
    ],
)
def test_malformed_labelled_set_names_the_item(tmp_path, body, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(LabelledSetError, match=fragment):
        load_labelled(path)


@pytest.mark.e2e  # starts `python -m bot triage-report`
def test_triage_report_command_prints_the_figures():
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "triage-report"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recall      100.00%" in proc.stdout
    assert "false alarm" in proc.stdout and proc.stdout.rstrip().endswith("PASS")


@pytest.mark.e2e  # starts `python -m bot triage-report`
def test_report_command_names_a_bad_file_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "triage-report", "--set", str(tmp_path / "none.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "cannot read the labelled set" in proc.stderr and "Traceback" not in proc.stderr
