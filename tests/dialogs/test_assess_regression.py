"""The regression pool: every set the bot was once judged or tuned on, read by
the whole of crisis triage (classifier and lexicon, dialogs.assess).

These are fit figures, not blind ones (the classifier learned from these
messages): they hold what was reached, so a change that loses it fails here.
Blind figures are in docs/triage.md."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from dialogs.assess import assess
from dialogs.nlu.corpus import dedupe, load_dir
from dialogs.nlu.model import default_model
from dialogs.triage import default_lexicon
from dialogs.triage_report import DEFAULT_SET

DATA = DEFAULT_SET.parent
EARLIER = ["triage_labelled", "triage_heldout", "triage_blind3", "triage_blind4", "triage_blind5"]


@pytest.fixture(scope="module")
def read():
    lexicon, model = default_lexicon(), default_model()
    return lambda text: assess(text, lexicon, model)


@pytest.mark.parametrize("name", EARLIER)
def test_earlier_sets_every_crisis_urgent_and_few_alarms(read, name):
    items = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    crisis = [i["text"] for i in items if i["label"] == "crisis"]
    benign = [i["text"] for i in items if i["label"] != "crisis"]
    missed = [t for t in crisis if not read(t).urgent]
    alarms = [t for t in benign if read(t).urgent]
    assert not missed
    assert len(alarms) / len(benign) <= 0.05, alarms


@pytest.mark.slow  # the whole corpus through triage
def test_the_corpus_is_read_as_labelled(read):
    corpus = dedupe(load_dir())
    levels = Counter((e.urgency, e.hard_negative, read(e.text).level) for e in corpus)
    urgent = sum(n for (u, _, _), n in levels.items() if u == "urgent")
    caught = levels[("urgent", False, "urgent")]
    calm = sum(n for (u, h, _), n in levels.items() if u == "calm" and not h)
    hard = sum(n for (u, h, _), n in levels.items() if u == "calm" and h)
    assert caught / urgent >= 0.995
    assert levels[("calm", False, "urgent")] / calm <= 0.02
    assert levels[("calm", True, "urgent")] / hard <= 0.05
    assert not any(level == "calm" for (u, _, level) in levels if u == "urgent"), \
        "an urgent message of the corpus was answered as calm: no number shown"
