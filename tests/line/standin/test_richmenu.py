"""The stand-in's rich menus and loading animation refuse what LINE refuses, so a
test of the bot against it fails where LINE would: menus out of LINE's size
rules, areas outside the image or more than 20, images of the wrong type,
size or weight, menus shown before they have an image, and the animation
anywhere but a one-to-one chat. Calls it does not serve are unexpected."""

from __future__ import annotations

import copy
import io

import pytest
from PIL import Image

from bot.line.richmenu import IMAGES_DIR, menus
from tests.line.standin.kit import AUTH

USER = "U" + "0123456789abcdef" * 2


def menu_body() -> dict:
    return menus()[0].request().to_dict()


def create(client, body) -> tuple[int, dict]:
    response = client.post("/v2/bot/richmenu", json=body, headers=AUTH)
    return response.status_code, response.json


def upload(client, menu_id, data: bytes, content_type: str = "image/png"):
    return client.post(f"/v2/bot/richmenu/{menu_id}/content", data=data,
                       headers={**AUTH, "Content-Type": content_type})


def picture(size=(2500, 843), kind="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, kind)
    return out.getvalue()


def test_the_projects_menus_are_accepted(client):
    for spec in menus():
        status, answer = create(client, spec.request().to_dict())
        assert status == 200 and answer["richMenuId"].startswith("richmenu-")


@pytest.mark.parametrize("change, where", [
    (lambda b: b["size"].update(width=2600), "size.width"),
    (lambda b: b["size"].update(height=200), "size.height"),
    (lambda b: b["size"].update(width=1200, height=1000), "size"),  # narrower than 1.45 : 1
    (lambda b: b.update(chatBarText="そうだんメニューをひらいてください"), "chatBarText"),
    (lambda b: b.update(name=""), "name"),
    (lambda b: b.pop("selected"), "selected"),
    (lambda b: b.update(areas=[]), "areas"),
    (lambda b: b.update(areas=b["areas"] * 6), "areas"),  # 24 > 20
    (lambda b: b["areas"][3]["bounds"].update(width=626), "areas[3].bounds"),  # past the right edge
    (lambda b: b["areas"][0]["bounds"].update(y=1), "areas[0].bounds"),  # past the bottom
    (lambda b: b["areas"][0]["action"].update(data="x" * 301), "areas[0].action.data"),
    (lambda b: b["areas"][0]["action"].update(label="そうだん" * 6), "areas[0].action.label"),
    (lambda b: b["areas"][0].update(action={"type": "call"}), "areas[0].action.type"),
])
def test_a_menu_line_would_refuse_is_refused(client, line, change, where):
    body = copy.deepcopy(menu_body())
    change(body)
    status, answer = create(client, body)
    assert status == 400
    assert where in [d["property"] for d in answer["details"]]
    assert line.rich_menus() == []


def test_an_image_must_be_a_png_or_jpeg_of_the_menus_size_under_1_mb_and_uploaded_once(client, line):
    _, created = create(client, menu_body())
    menu_id = created["richMenuId"]
    assert upload(client, menu_id, picture(), "image/gif").status_code == 415
    assert upload(client, menu_id, picture((2500, 1686))).status_code == 400
    assert upload(client, menu_id, b"\x89PNG\r\n\x1a\n" + bytes(1024 * 1024)).status_code == 413
    assert upload(client, menu_id, b"not an image").status_code == 400
    assert upload(client, "richmenu-" + "0" * 32, picture()).status_code == 404
    assert upload(client, menu_id, picture(kind="JPEG"), "image/jpeg").status_code == 200
    again = upload(client, menu_id, (IMAGES_DIR / "child.png").read_bytes())
    assert again.status_code == 400 and "already" in again.json["message"]
    [menu] = line.rich_menus()
    assert menu.content_type == "image/jpeg"


def test_a_menu_is_shown_to_nobody_before_it_has_its_image(client, line):
    _, created = create(client, menu_body())
    menu_id = created["richMenuId"]
    assert client.post(f"/v2/bot/user/all/richmenu/{menu_id}", headers=AUTH).status_code == 400
    assert client.post(f"/v2/bot/user/{USER}/richmenu/{menu_id}", headers=AUTH).status_code == 400
    alias = {"richMenuAliasId": "netsoudan-child", "richMenuId": menu_id}
    assert client.post("/v2/bot/richmenu/alias", json=alias, headers=AUTH).status_code == 400
    assert upload(client, menu_id, picture()).status_code == 200
    assert client.post(f"/v2/bot/user/all/richmenu/{menu_id}", headers=AUTH).status_code == 200
    assert client.post(f"/v2/bot/user/{USER}/richmenu/{menu_id}", headers=AUTH).status_code == 200
    assert client.post("/v2/bot/richmenu/alias", json=alias, headers=AUTH).status_code == 200
    assert client.post("/v2/bot/richmenu/alias", json=alias, headers=AUTH).status_code == 400  # taken
    assert (line.default_rich_menu(), line.rich_menu_of(USER)) == (menu_id, menu_id)
    # Deleting the menu unlinks it from everyone.
    assert client.delete(f"/v2/bot/richmenu/{menu_id}", headers=AUTH).status_code == 200
    assert (line.default_rich_menu(), line.rich_menu_of(USER)) == (None, None)
    assert client.delete(f"/v2/bot/richmenu/{menu_id}", headers=AUTH).status_code == 404


def test_the_loading_animation_only_in_a_one_to_one_chat_for_5_to_60_seconds(client, line):
    def start(body):
        return client.post("/v2/bot/chat/loading/start", json=body, headers=AUTH).status_code

    assert start({"chatId": USER, "loadingSeconds": 5}) == 202
    assert start({"chatId": "C" + "0" * 32, "loadingSeconds": 5}) == 400  # a group
    assert start({"chatId": "R" + "0" * 32, "loadingSeconds": 5}) == 400  # a room
    assert start({"chatId": USER, "loadingSeconds": 7}) == 400
    assert start({"chatId": USER, "loadingSeconds": 65}) == 400
    assert [(x.chat_id, x.seconds) for x in line.loadings()] == [(USER, 5)]


def test_rich_menu_calls_need_the_token_and_unknown_ones_are_unexpected(client, line):
    assert client.get("/v2/bot/richmenu/list").status_code == 401
    assert client.post("/v2/bot/richmenu/bulk/link", json={}, headers=AUTH).status_code == 404
    assert [c.path for c in line.unexpected()] == ["/v2/bot/richmenu/bulk/link"]
