"""`python -m bot richmenu deploy` against the fake LINE API, through the real
line-bot-sdk over HTTP: both menus registered with their images, the
children's the default, aliases to find them again; a second run replaces
them (two menus, not four); a failed run takes back what it made; every
mistake an operator can make is told with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.line.richmenu import ADULT, CALL_NOW, CHILD, CONSULT, DIRECTORY, IMAGES_DIR, LANGUAGE, NAME_PREFIX, menus

DEPLOY_CALLS = [
    ("GET", "/v2/bot/richmenu/list"),
    ("POST", "/v2/bot/richmenu"), ("POST", "/v2/bot/richmenu/<id>/content"),
    ("POST", "/v2/bot/richmenu"), ("POST", "/v2/bot/richmenu/<id>/content"),
    ("POST", "/v2/bot/user/all/richmenu/<id>"),
    ("GET", "/v2/bot/richmenu/alias/netsoudan-child"),
]


@pytest.fixture
def line_env(fake_line, monkeypatch):
    """The operator's shell: the channel's token and the API pointed at the fake."""
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", fake_line.access_token)
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "richmenu-test-channel-secret-0123")
    monkeypatch.setenv("LINE_API_BASE_URL", fake_line.base_url)
    monkeypatch.delenv("LINE_DATA_API_BASE_URL", raising=False)
    return fake_line


def deploy(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["richmenu", "deploy", *args])
    out, err = capsys.readouterr()
    return code, out, err


def shape(calls) -> list[tuple[str, str]]:
    """Calls with the menu ids blanked, to compare with an expected sequence."""
    out = []
    for c in calls:
        parts = ["<id>" if p.startswith("richmenu-") else p for p in c.path.split("/")]
        out.append((c.method, "/".join(parts)))
    return out


def test_deploy_registers_both_menus_with_their_images_and_makes_the_childrens_the_default(line_env, capsys):
    line = line_env
    code, out, err = deploy(capsys)
    assert code == 0, err

    registered = line.rich_menus()
    assert [m.body["name"] for m in registered] == [NAME_PREFIX + CHILD, NAME_PREFIX + ADULT]
    for menu, spec in zip(registered, menus()):
        assert menu.image == (IMAGES_DIR / spec.image_name).read_bytes()
        assert menu.content_type == "image/png"
        assert menu.body["size"] == {"width": 2500, "height": 843} and menu.body["selected"] is True
        actions = [a["action"] for a in menu.body["areas"]]
        assert [a["data"] for a in actions] == [f"t={t}" for t in (CONSULT, DIRECTORY, CALL_NOW, LANGUAGE)]
        assert all(a["type"] == "postback" and a["displayText"] and a["label"] for a in actions)
    child, adult = registered
    assert line.default_rich_menu() == child.id
    assert line.rich_menu_aliases() == {"netsoudan-child": child.id, "netsoudan-adult": adult.id}
    assert child.id in out and adult.id in out and "netsoudan-adult" in out

    assert shape(line.calls())[:len(DEPLOY_CALLS)] == DEPLOY_CALLS
    assert all(200 <= c.status < 300 or c.path.startswith("/v2/bot/richmenu/alias/") for c in line.calls())


def test_the_childrens_buttons_are_in_hiragana_and_the_adults_in_kanji():
    child, adult = menus()
    child_words = [w for b in child.buttons for w in (*b.lines, b.label, b.said)] + [child.chat_bar_text]
    kanji = [ch for w in child_words for ch in w if "\u4e00" <= ch <= "\u9fff"]
    assert kanji == [], "a child reads every button of the default menu"
    assert [b.label for b in adult.buttons] == ["相談する", "相談先一覧", "いますぐ電話", "言語 Language"]
    assert [b.trigger for b in child.buttons] == [b.trigger for b in adult.buttons], "same buttons, same places"


def test_deploying_twice_leaves_two_menus_with_the_aliases_and_default_moved_to_the_new_ones(line_env, capsys):
    line = line_env
    assert deploy(capsys)[0] == 0
    first = {m.id for m in line.rich_menus()}
    code, out, err = deploy(capsys)
    assert code == 0, err
    second = line.rich_menus()
    assert len(second) == 2 and not first & {m.id for m in second}
    child, adult = second
    assert line.default_rich_menu() == child.id
    assert line.rich_menu_aliases() == {"netsoudan-child": child.id, "netsoudan-adult": adult.id}
    assert "deleted: 2" in out
    # The aliases were updated in place, not deleted and made again.
    updates = [c for c in line.calls("/v2/bot/richmenu/alias/") if c.method == "POST"]
    assert [c.body for c in updates] == [{"richMenuId": child.id}, {"richMenuId": adult.id}]


def test_a_deploy_leaves_menus_that_are_not_the_projects_alone(line_env, capsys):
    line = line_env
    from bot.line.apiclient import LineApi
    from linebot.v3.messaging import RichMenuRequest

    foreign = menus()[0].request().to_dict()
    foreign["name"] = "campaign-2026"
    with LineApi.open(line.base_url, line.access_token) as api:
        kept = api.api.create_rich_menu(RichMenuRequest.from_dict(foreign)).rich_menu_id
    assert deploy(capsys)[0] == 0 and deploy(capsys)[0] == 0
    assert sorted(m.body["name"] for m in line.rich_menus()) == sorted(
        ["campaign-2026", NAME_PREFIX + CHILD, NAME_PREFIX + ADULT])
    assert kept in {m.id for m in line.rich_menus()}


def test_a_run_that_fails_half_way_takes_back_its_menus_and_leaves_the_earlier_ones_in_place(line_env, capsys):
    line = line_env
    assert deploy(capsys)[0] == 0
    before = [m.id for m in line.rich_menus()]
    default = line.default_rich_menu()
    # The second image upload fails: LINE has a server error.
    line.fail_next(1, 500, "/v2/bot/richmenu/richmenu-", skip=1)
    code, out, err = deploy(capsys)
    assert code == 2
    assert "try again later" in err and "unchanged" in err
    assert [m.id for m in line.rich_menus()] == before
    assert line.default_rich_menu() == default


def test_without_a_token_deploy_says_where_to_get_one(monkeypatch, capsys):
    for name in ("LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET", "LINE_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = deploy(capsys)
    assert code == 2
    assert "LINE_CHANNEL_ACCESS_TOKEN is not set" in err and "Channel access token" in err


def test_a_refused_token_is_told_as_such(line_env, monkeypatch, capsys):
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "not-the-channels-token")
    code, _, err = deploy(capsys)
    assert code == 2
    assert "refused the channel access token (401)" in err and "LINE_CHANNEL_ACCESS_TOKEN" in err
    assert line_env.rich_menus() == []


def test_an_unreachable_api_names_lines_address_setting(line_env, monkeypatch, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("LINE_API_BASE_URL", f"http://127.0.0.1:{port}")
    code, _, err = deploy(capsys)
    assert code == 2
    assert f"cannot reach the LINE API at http://127.0.0.1:{port}" in err and "LINE_API_BASE_URL" in err


def test_missing_images_are_told_to_be_drawn_before_anything_is_created(line_env, tmp_path, capsys):
    code, _, err = deploy(capsys, "--images", str(tmp_path))
    assert code == 2 and "python -m bot richmenu draw" in err
    assert line_env.calls() == []


def test_the_committed_images_are_what_line_takes_and_docs_shows_them():
    from PIL import Image

    docs = Path(__file__).resolve().parents[2] / "docs"
    for spec in menus():
        path = IMAGES_DIR / spec.image_name
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size == (2500, 843)
        assert path.stat().st_size < 1024 * 1024
        assert (docs / f"richmenu-{spec.image_name}").read_bytes() == path.read_bytes(), (
            "docs/ shows another image than the one deployed: run `python -m bot richmenu draw`")


def test_the_fake_line_refuses_an_image_that_is_not_the_menus(line_env):
    """The deploy is tested against a fake that would catch a wrong image: a JPEG
    of another size, or the same image twice, is refused like LINE does."""
    import io

    from linebot.v3.messaging.exceptions import ApiException
    from PIL import Image

    from bot.line.apiclient import LineApi

    line = line_env
    small = io.BytesIO()
    Image.new("RGB", (1200, 405), (0, 0, 0)).save(small, "JPEG")
    png = (IMAGES_DIR / "child.png").read_bytes()
    with LineApi.open(line.base_url, line.access_token) as api:
        menu_id = api.api.create_rich_menu(menus()[0].request()).rich_menu_id
        with pytest.raises(ApiException) as refused:
            api.blob.set_rich_menu_image(menu_id, small.getvalue(), _headers={"Content-Type": "image/jpeg"})
        assert refused.value.status == 400 and "does not match" in refused.value.body
        with pytest.raises(ApiException) as refused:
            api.blob.set_rich_menu_image(menu_id, png, _headers={"Content-Type": "image/gif"})
        assert refused.value.status == 415
        api.blob.set_rich_menu_image(menu_id, png, _headers={"Content-Type": "image/png"})
        with pytest.raises(ApiException) as refused:
            api.blob.set_rich_menu_image(menu_id, png, _headers={"Content-Type": "image/png"})
        assert refused.value.status == 400 and "already" in refused.value.body
        assert bytes(api.blob.get_rich_menu_image(menu_id)) == png


def test_no_http_retries_hide_behind_the_sdk():
    """Every retry is the deploy's own decision: urllib3's are off."""
    from bot.line.apiclient import LineApi

    with LineApi.open("http://127.0.0.1:1", "token") as api:
        assert api.api.api_client.configuration.retries is False
        assert api.blob.api_client.configuration.retries is False
        assert api.blob.api_client.configuration.host == "http://127.0.0.1:1"
