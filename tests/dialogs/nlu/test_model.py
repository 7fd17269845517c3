"""dialogs.nlu.model: the shipped weights load, read a message, and fail clearly."""

import json
import shutil

import pytest

from dialogs.nlu.model import MODEL_DIR, ModelError, default_model, load


def test_the_shipped_model_reads_every_head():
    m = default_model()
    s = m.read("もう死にたい")
    assert 0.0 <= s.urgency <= 1.0 and s.features_known > 0
    assert abs(sum(s.category.values()) - 1) < 1e-6
    assert abs(sum(s.branch.values()) - 1) < 1e-6
    assert set(s.role) == {"child", "guardian", "teacher", "other"}
    assert 0 < m.thresholds["uncertain"] < m.thresholds["urgent"] < 1


def test_a_message_with_no_known_feature_is_read_too():
    s = default_model().read("")
    assert s.features_known == 0 and 0 <= s.urgency <= 1


@pytest.mark.parametrize("text, head, expected", [
    ("娘がSNSで知り合った男に今夜会うと言っています", "category", "grooming"),
    ("お父さんに毎日なぐられる。家に帰りたくない", "category", "abuse"),
    ("裸の写真を送らないとばらまくって言われた", "category", "sexual_images"),
    ("インスタに勝手に写真を載せられたので消してほしい", "branch", "delete"),
    ("身に覚えのない請求のメールが来ました", "branch", "bill"),
    ("LINEのアカウントを乗っ取られたみたい", "branch", "security"),
])
def test_plain_messages_are_read_as_any_person_would(text, head, expected):
    assert default_model().read(text).top(head) == expected


def test_the_weights_are_text_and_a_broken_file_says_how_to_rebuild(tmp_path):
    first = (MODEL_DIR / "weights.tsv").read_text(encoding="utf-8").splitlines()[1]
    assert "\t" in first  # a feature, a tab, then numbers: nothing to unpickle
    broken = tmp_path / "nlu"
    broken.mkdir()
    shutil.copy(MODEL_DIR / "model.json", broken / "model.json")
    (broken / "weights.tsv").write_text("# header\nfeature\t1 2\n", encoding="utf-8")
    with pytest.raises(ModelError, match="python -m bot nlu train"):
        load(broken)
    doc = json.loads((MODEL_DIR / "model.json").read_text(encoding="utf-8"))
    doc["format"] = 99
    (broken / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ModelError, match="format"):
        load(broken)


def test_the_parsed_weights_are_cached_by_content_and_a_bad_cache_is_parsed_again(tmp_path):
    import numpy as np

    first = load(MODEL_DIR, cache_dir=tmp_path)
    (matrix,) = (tmp_path / "nlu").glob("weights-*.npy")
    again = load(MODEL_DIR, cache_dir=tmp_path)  # from the cache
    assert again.vocab == first.vocab and np.array_equal(again.weights, first.weights)
    assert again.read("もう死にたい").urgency == first.read("もう死にたい").urgency
    matrix.write_bytes(b"not an array")
    mended = load(MODEL_DIR, cache_dir=tmp_path)
    assert np.array_equal(mended.weights, first.weights)
    assert np.load(matrix).shape == first.weights.shape  # written anew


def test_a_changed_weights_file_is_never_served_from_an_old_cache(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(MODEL_DIR / "model.json", model / "model.json")
    lines = (MODEL_DIR / "weights.tsv").read_text(encoding="utf-8").splitlines()
    (model / "weights.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cache = tmp_path / "cache"
    before = load(model, cache_dir=cache)
    feature, pairs = lines[1].split("\t")
    column = int(pairs.split(" ")[0].split(":")[0])
    lines[1] = f"{feature}\t{column}:9.000"
    (model / "weights.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    after = load(model, cache_dir=cache)
    assert after.weights[after.vocab[feature], column] == 9.0 != before.weights[before.vocab[feature], column]
