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
