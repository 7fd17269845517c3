"""The labelled corpus the classifier learns from: big, varied and well formed."""

from collections import Counter

import pytest

from dialogs.nlu.corpus import BRANCHES, URGENT_CATEGORIES, CorpusError, dedupe, load_dir, load_file


@pytest.fixture(scope="module")
def corpus():
    return dedupe(load_dir())


def test_corpus_is_large_and_written_by_many_writers(corpus):
    assert len(corpus) >= 6000
    assert len({e.source for e in corpus}) >= 8


def test_every_category_branch_voice_and_language_is_covered(corpus):
    cats = Counter(e.category for e in corpus if e.urgent)
    assert all(cats[c] >= 200 for c in URGENT_CATEGORIES), cats
    branches = Counter(e.branch for e in corpus if not e.urgent)
    assert all(branches[b] >= 150 for b in BRANCHES), branches
    writers = Counter(e.writer for e in corpus)
    assert all(writers[w] >= 100 for w in ("elementary", "junior_high", "high_school", "guardian", "teacher", "friend"))
    assert Counter(e.lang for e in corpus)["en"] >= 500
    assert sum(e.hard_negative for e in corpus) >= 1000
    assert sum(e.urgent and e.about == "other" for e in corpus) >= 500


def test_a_malformed_line_names_its_file_and_line(tmp_path):
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"text": "a", "urgency": "urgent", "category": "none", "about": "self", '
                   '"writer": "unknown", "lang": "ja", "branch": "talk"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="x.jsonl:1"):
        load_file(bad)


def test_the_same_text_labelled_two_ways_is_refused(tmp_path):
    line = '{{"text": "同じ文", "urgency": "{u}", "category": "{c}", "about": "self", "writer": "unknown", "lang": "ja", "branch": "talk"}}\n'
    (tmp_path / "a.jsonl").write_text(line.format(u="calm", c="none"), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(line.format(u="urgent", c="suicide"), encoding="utf-8")
    with pytest.raises(CorpusError, match="labelled"):
        dedupe(load_dir(tmp_path))


def test_the_blind_sets_in_the_corpus_are_the_regression_pools_own_files():
    # Blind sets join the corpus after their first run; the copy must not drift
    # from the file the regression tests and docs/triage.md report on.
    from dialogs.nlu.corpus import CORPUS_DIR
    from dialogs.nlu.report import SETS_DIR

    copies = sorted(CORPUS_DIR.glob("X*_earlier_blind*.jsonl"))
    assert copies
    for copy in copies:
        name = copy.stem.split("_earlier_")[1]
        assert copy.read_bytes() == (SETS_DIR / f"{name}.jsonl").read_bytes(), copy.name
