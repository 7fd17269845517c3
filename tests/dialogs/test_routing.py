"""Free-text routing: keywords are normalised when loaded, a sentence naming
one branch goes there, two branches are reported as two (never guessed
between), roles and school levels are recognised, and malformed routing data
fails at load with the section and entry named."""

from __future__ import annotations

import pytest
import yaml

from dialogs.routing import ROUTING_PATH, Route, Router, RoutingError
from dialogs.triage import normalize

BRANCHES = ("talk", "advice", "delete", "damages", "danger", "report", "mail", "bill", "security")


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.load()


def tiny(**override) -> dict:
    """Smallest valid routing data; sections can be overridden."""
    data = {
        "branches": {"delete": ["削除"], "mail": ["メール"]},
        "commands": {"menu": ["メニュー"]},
        "roles": {"child": ["生徒"], "guardian": ["保護者"]},
        "levels": {"elementary": ["小学"]},
    }
    data.update(override)
    return data


# -- normalisation at load ----------------------------------------------------------

def test_keywords_are_stored_normalised():
    r = Router(tiny(branches={"security": ["ウイルス", "ＳＰＡＭ", "乗っ 取り"]}))
    assert r.branches["security"] == tuple(normalize(w) for w in ("ウイルス", "ＳＰＡＭ", "乗っ 取り"))
    assert "ウイルス" not in r.branches["security"], "katakana keyword kept as written"


@pytest.mark.parametrize("keyword,message", [
    ("サクジョ", "さくじょしてほしい"),        # katakana keyword, hiragana message
    ("さくじょ", "ｻｸｼﾞｮしてほしい"),          # half-width katakana message
    ("ＤＥＬＥＴＥ", "please delete it"),      # full-width keyword, ASCII message
    ("take down", "can you TAKEDOWN this"),  # spaces in the keyword, case in the message
    ("消 し た い", "写真を消したい"),           # spaces inside a Japanese keyword
])
def test_keyword_written_one_way_matches_a_message_typed_another(keyword, message):
    r = Router(tiny(branches={"delete": [keyword], "mail": ["メール"]}))
    assert r.route(message).branch == "delete"


def test_keywords_that_normalise_alike_are_kept_once():
    r = Router(tiny(branches={"security": ["ウイルス", "ういるす", "ウ イ ル ス"], "mail": ["メール"]}))
    assert len(r.branches["security"]) == 1


def test_shipped_keywords_are_all_normalised(router):
    for table in (router.branches, router.commands, router.roles, router.levels):
        for name, words in table.items():
            for word in words:
                assert word == normalize(word), (name, word)


# -- branches -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,branch", [
    ("悪口を書かれた", "delete"),
    ("ネットに勝手に写真を載せられた", "delete"),
    ("だれにもいえなくてさみしい", "talk"),
    ("どうしたらいいの", "advice"),
    ("慰謝料を請求したい", None),  # 請求 (bill) and 慰謝料 (damages): two branches
    ("弁護士に相談して訴えたい", "damages"),
    ("ずっとつきまとわれてこわい", "danger"),
    ("闇バイトの募集をみつけた", "report"),
    ("変なメッセージが毎日くる", "mail"),
    ("身に覚えのない登録料", "bill"),
    ("アカウントを乗っ取られた", "security"),
    ("My photo was posted, I want it removed", "delete"),
    ("I got a bill I never ordered", "bill"),
])
def test_a_sentence_naming_one_branch_goes_there(router, text, branch):
    assert router.route(text).branch == branch


def test_each_shipped_branch_is_reachable_by_free_text(router):
    assert set(router.branches) == set(BRANCHES)
    for name, words in router.branches.items():
        route = router.route(words[0])
        assert name in route.branches, (name, words[0], route)


@pytest.mark.parametrize("text,both", [
    ("請求のメールが来た", {"mail", "bill"}),
    ("ウイルスに感染したと料金を請求された", {"security", "bill"}),
    ("悪口を書かれて、脅されている", {"delete", "danger"}),
])
def test_a_sentence_naming_two_branches_gives_both_and_no_single_branch(router, text, both):
    route = router.route(text)
    assert set(route.branches) == both
    assert route.branch is None and route.command is None


def test_longer_keyword_of_one_branch_does_not_hide_another_branch(router):
    # 迷惑メール (5) is longer than 請求 (2), but both branches are named.
    route = router.route("迷惑メールで請求が来た")
    assert set(route.branches) == {"mail", "bill"} and route.branch is None


@pytest.mark.parametrize("text", ["あのー", "えっと", "こんにちは", "", "   ", "！？", "😢"])
def test_a_sentence_naming_nothing_routes_nowhere(router, text):
    route = router.route(text)
    assert route == Route(), route


def test_branch_property_needs_exactly_one():
    assert Route(branches=("mail",)).branch == "mail"
    assert Route(branches=("mail", "bill")).branch is None
    assert Route().branch is None


# -- commands -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,command", [
    ("相談員と話したい", "human"),
    ("人間と話したい", "human"),
    ("メニューに戻る", "menu"),
    ("最初からやりなおし", "menu"),
    ("English please", "lang_en"),
    ("日本語でお願いします", "lang_ja"),
    ("やさしい日本語でお願い", "lang_ja_easy"),  # longest match: not 日本語で
    ("ひらがなでかいて", "lang_ja_easy"),
])
def test_commands(router, text, command):
    route = router.route(text)
    assert route.command == command and route.branches == ()


def test_a_command_wins_over_a_branch(router):
    route = router.route("削除のことで相談員と話したい")
    assert route.command == "human" and route.branches == ()


# -- who is writing ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,role,level", [
    ("児童生徒です", "child", None),
    ("生徒です", "child", None),
    ("保護者です", "guardian", None),
    ("母親です", "guardian", None),
    ("教職員です", "teacher", None),
    ("担任をしています", "teacher", None),
    ("小学生です", "child", "elementary"),
    ("しょうがく4ねん", "child", "elementary"),
    ("中学生です", "child", "junior_high"),
    ("中学2年", "child", "junior_high"),
    ("高校生です", "child", "high_school"),
    ("高専の1年", "child", "high_school"),
    ("I am a parent", "guardian", None),
    ("I'm a teacher", "teacher", None),
    ("junior high student", "child", "junior_high"),
])
def test_roles_and_levels_are_recognised(router, text, role, level):
    route = router.route(text)
    assert (route.role, route.level) == (role, level), route


def test_a_role_does_not_hide_the_branch_in_the_same_sentence(router):
    route = router.route("中学生です。悪口を書かれた")
    assert (route.role, route.level, route.branch) == ("child", "junior_high", "delete")


def test_two_adult_roles_are_ambiguous(router):
    assert router.route("保護者で教員です").role is None


@pytest.mark.parametrize("text,role", [
    ("中学校の教員です", "teacher"),
    ("高校の担任です", "teacher"),
    ("中学生の娘の母親です", "guardian"),
])
def test_an_adult_naming_a_school_level_is_not_taken_for_a_child(router, text, role):
    assert router.route(text).role == role


# -- malformed data fails at load, naming section and entry -------------------------------------

def write(tmp_path, data, name="custom_routing.yaml"):
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path) -> str:
    with pytest.raises(RoutingError) as err:
        Router.load(path)
    return str(err.value)


def test_the_shipped_file_loads():
    assert Router.load(ROUTING_PATH).branches


@pytest.mark.parametrize("section", ["branches", "commands", "roles", "levels"])
def test_missing_section_is_named(tmp_path, section):
    data = tiny()
    del data[section]
    assert f"{section!r}" in load_error(write(tmp_path, data))


@pytest.mark.parametrize("section", ["branches", "levels"])
def test_empty_or_non_mapping_section_is_named(tmp_path, section):
    for bad in ({}, ["削除"], "削除"):
        assert f"{section!r}" in load_error(write(tmp_path, tiny(**{section: bad})))


@pytest.mark.parametrize("words", ["削除", [], None, {"a": "b"}])
def test_entry_that_is_not_a_list_of_words_is_named(tmp_path, words):
    data = tiny(branches={"delete": words, "mail": ["メール"]})
    assert "branches.delete" in load_error(write(tmp_path, data))


@pytest.mark.parametrize("word", ["", "   ", "！？", 42, None])
def test_word_empty_after_normalisation_or_not_text_is_named(tmp_path, word):
    data = tiny(commands={"menu": ["メニュー", word]})
    msg = load_error(write(tmp_path, data))
    assert "commands.menu" in msg and repr(word) in msg


def test_unparsable_yaml_names_the_file(tmp_path):
    path = write(tmp_path, "branches: [unclosed\n")
    assert str(path) in load_error(path)


def test_top_level_not_a_mapping_names_the_file(tmp_path):
    path = write(tmp_path, "- just\n- a list\n")
    assert str(path) in load_error(path)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "absent.yaml"
    assert str(path) in load_error(path)


def test_routing_error_is_a_value_error():
    assert issubclass(RoutingError, ValueError)


def test_entry_error_names_the_file_that_was_loaded(tmp_path):
    path = write(tmp_path, tiny(branches={"delete": [], "mail": ["メール"]}))
    msg = load_error(path)
    assert path.name in msg and "routing.yaml:" not in msg.replace(path.name, "")
