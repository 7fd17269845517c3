"""The rich menu follows the role the dialogue learns, through the worker's
handler and the real SDK to the fake LINE API: the children's menu for
everyone at first, the adults' linked once a guardian or teacher is known,
the default again for someone who turns out to be a child, each switch one
call; and a missing or failing menu never costs an answer."""

from __future__ import annotations

import logging

import pytest

from bot.line.apiclient import LineApi
from bot.line.richmenu import menus
from bot.line.richmenu_deploy import Deployer, read_images
from bot.line.usermenu import UserMenus
from tests.line.handler_kit import event, handle, make_handler, tap, text

GUARDIAN = "U" + "9a" * 16
CHILD = "U" + "c1" * 16
LINKS = "/v2/bot/user/"


def deploy(line) -> dict[str, str]:
    """Both menus registered, as `python -m bot richmenu deploy` does: audience -> menu id."""
    with LineApi.open(line.base_url, line.access_token) as api:
        outcome = Deployer(api, line.base_url).deploy(menus(), read_images(menus()))
    return {d.spec.audience: d.menu_id for d in outcome.menus}


@pytest.fixture
def handler(fake_line, dialogue):
    made = make_handler(fake_line, dialogue)
    made.menus = UserMenus(LineApi.open(fake_line.base_url, fake_line.access_token), made.client, made.keys)
    yield made
    made.menus.close()


def link_calls(line) -> list[tuple[str, str]]:
    """Calls that link or unlink one user's menu (not the deploy's default for all)."""
    return [(c.method, c.path) for c in line.calls(LINKS) if not c.path.startswith(f"{LINKS}all/")]


def test_a_guardian_gets_the_adults_menu_once_and_keeps_it(fake_line, handler):
    ids = deploy(fake_line)
    handle(handler, event(fake_line, GUARDIAN, "follow"))
    assert fake_line.rich_menu_of(GUARDIAN) is None, "unknown writer: the children's default"
    handle(handler, tap(fake_line, GUARDIAN, "t=role_guardian"))
    assert fake_line.rich_menu_of(GUARDIAN) == ids["adult"]
    handle(handler, text(fake_line, GUARDIAN, "娘がネットで悪口を書かれています"))
    handle(handler, tap(fake_line, GUARDIAN, "t=menu"))
    assert link_calls(fake_line) == [("POST", f"{LINKS}{GUARDIAN}/richmenu/{ids['adult']}")], \
        "linked once, not at every message"
    assert len(fake_line.deliveries(GUARDIAN)) == 4


def test_a_child_keeps_the_default_and_an_adult_who_says_child_goes_back_to_it(fake_line, handler):
    ids = deploy(fake_line)
    handle(handler, tap(fake_line, CHILD, "t=role_child"))
    assert fake_line.rich_menu_of(CHILD) is None and link_calls(fake_line) == []

    handle(handler, tap(fake_line, GUARDIAN, "t=role_teacher"))
    assert fake_line.rich_menu_of(GUARDIAN) == ids["adult"]
    handle(handler, tap(fake_line, GUARDIAN, "t=role"))
    handle(handler, tap(fake_line, GUARDIAN, "t=role_child"))
    assert fake_line.rich_menu_of(GUARDIAN) is None
    assert [m for m, _ in link_calls(fake_line)] == ["POST", "DELETE"]


def test_after_a_new_deploy_the_next_message_links_the_new_adults_menu(fake_line, dialogue):
    handler = make_handler(fake_line, dialogue)
    handler.menus = UserMenus(LineApi.open(fake_line.base_url, fake_line.access_token), handler.client,
                              handler.keys, alias_ttl=0.0)
    try:
        deploy(fake_line)
        handle(handler, tap(fake_line, GUARDIAN, "t=role_guardian"))
        again = deploy(fake_line)  # the old adults' menu is deleted: its links with it
        assert fake_line.rich_menu_of(GUARDIAN) is None
        handle(handler, tap(fake_line, GUARDIAN, "t=menu"))
        assert fake_line.rich_menu_of(GUARDIAN) == again["adult"]
    finally:
        handler.menus.close()


def test_before_any_deploy_nothing_is_linked_and_the_alias_is_asked_once(fake_line, handler):
    handle(handler, tap(fake_line, GUARDIAN, "t=role_guardian"))
    handle(handler, tap(fake_line, GUARDIAN, "t=menu"))
    assert link_calls(fake_line) == []
    assert len(fake_line.calls("/v2/bot/richmenu/alias/netsoudan-adult")) == 1
    assert len(fake_line.deliveries(GUARDIAN)) == 2


def test_a_failing_link_costs_no_answer_and_is_tried_again_next_time(fake_line, handler, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.line.usermenu")
    ids = deploy(fake_line)
    fake_line.fail_next(1, 500, f"{LINKS}{GUARDIAN}/richmenu")
    handle(handler, tap(fake_line, GUARDIAN, "t=role_guardian"))  # raises nothing
    assert len(fake_line.deliveries(GUARDIAN)) == 1 and fake_line.rich_menu_of(GUARDIAN) is None
    assert "rich menu not switched: status 500" in caplog.text and GUARDIAN not in caplog.text
    handle(handler, tap(fake_line, GUARDIAN, "t=menu"))
    assert fake_line.rich_menu_of(GUARDIAN) == ids["adult"]
