"""Blind sets 6-23, after their first run (docs/triage.md): now in the
regression pool; 6-21 also in the training corpus (resources/nlu/corpus/X*). The
whole bot's first reply to each message, as `python -m bot triage-report --set
NAME` prints it. These are no longer measures of the next child (the first
runs in docs/triage.md are); the floors hold what the model learned from them,
so a change that loses it fails here."""

from __future__ import annotations

import pytest

from dialogs.nlu.corpus import load_file
from dialogs.nlu.report import SETS_DIR, format_report, main, run

#: name: (urgent recall, worst category, false alarms, hard-negative alarms, routed straight)
FLOORS = {name: (0.99, 0.97, 0.02, 0.05, 0.95)
          for name in ("blind6", "blind7", "blind8", "blind9", "blind10", "blind11", "blind12", "blind13",
                       "blind14", "blind15", "blind16", "blind17", "blind18", "blind19", "blind20", "blind21")}
# Not learned from (yet): they hold their first run's figures, so a change that
# makes the shipped model worse on text it has not seen fails here.
FLOORS |= {"blind22": (0.99, 0.969, 0.0, 0.076, 0.918), "blind23": (0.994, 0.967, 0.0, 0.028, 0.937)}


@pytest.fixture(scope="module")
def reports(dialogue):
    return {name: run(load_file(SETS_DIR / f"{name}.jsonl"), name, dialogue) for name in FLOORS}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_set_holds_its_first_run(reports, name):
    recall, worst, alarms, hard, routed = FLOORS[name]
    r = reports[name]
    assert r.recall >= recall, format_report(r)
    assert min(c / t for c, t in r.recall_by("category").values()) >= worst, format_report(r)
    fa, n = r.false_alarms(hard=False)
    hfa, hn = r.false_alarms(hard=True)
    assert len(fa) / n <= alarms and len(hfa) / hn <= hard, format_report(r)
    assert r.routing >= routed, format_report(r)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_every_missed_urgent_message_still_gets_the_24_hour_number(reports, name):
    net, missed = reports[name].safety_net
    assert net == missed


def test_a_figure_just_under_a_bar_is_not_printed_as_meeting_it():
    from dialogs.nlu.report import _pct

    assert _pct(192, 198) == "192/198 (96.97%)"


def test_the_report_command_names_every_miss(capsys):
    assert main(["--set", "blind8"]) == 0
    out = capsys.readouterr().out
    assert "urgent recall" in out and "## missed urgent" in out and "## misrouted" in out
    assert main(["--set", "no-such-set"]) == 2


def test_a_message_answered_with_the_charts_advice_question_counts_as_routed_to_advice(dialogue):
    # The advice question (どうしたらよいか分からない) is a chart state with no
    # hotline branch of its own; reaching it is reaching the branch asked for.
    from dialogs.nlu.corpus import Example

    asked = Example("小3の息子にスマホを持たせるか迷っています。フィルタリングはどう設定すればいいですか",
                    "calm", "none", "self", "guardian", "ja", "advice", False, "test", 1)
    r = run([asked], "one", dialogue)
    assert r.outcomes[0].branch == "advice" and r.routing == 1.0
    wrong = Example(asked.text, "calm", "none", "self", "guardian", "ja", "bill", False, "test", 2)
    assert run([wrong], "one", dialogue).routing == 0.0
