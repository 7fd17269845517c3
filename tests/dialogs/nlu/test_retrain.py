"""The shipped weights are what `python -m bot nlu train` makes from the corpus.

A retrain fits every head again with the fixed seed (about 15 s); the weights
it would write must be the shipped ones, to their three decimals. Thresholds
come from the held-out run of the same command (minutes): the test checks that
model.json records the corpus they were chosen on."""

from __future__ import annotations

import pytest

from dialogs.nlu import train
from dialogs.nlu.corpus import dedupe, load_dir
from dialogs.nlu.model import MODEL_DIR, default_model, save

pytestmark = pytest.mark.slow


def test_the_shipped_weights_are_a_retrain_of_the_corpus(tmp_path):
    shipped = default_model()
    corpus = dedupe(load_dir())
    assert shipped.meta["corpus_sha256"] == train.corpus_digest(corpus), \
        "the corpus changed since the model was trained: run `python -m bot nlu train`"
    fitted = train.fit(corpus, shipped.family)
    save(tmp_path, shipped.family, fitted.vocab, fitted.weights, fitted.heads, shipped.thresholds,
         {}, prune=train.PRUNE)
    assert (tmp_path / "weights.tsv").read_text(encoding="utf-8") == \
        (MODEL_DIR / "weights.tsv").read_text(encoding="utf-8")
    for head in fitted.heads:
        assert [round(b, 6) for b in head.intercept] == list(shipped.heads[head.name].intercept)
