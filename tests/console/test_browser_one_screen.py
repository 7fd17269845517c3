"""One screen for a shift, in a real browser (issue 15): the queue filtered and
searched, moved through and taken from the keyboard, and on a desktop the queue
beside the open chat, where j/k go to the next chat without going back. On a
phone the chat has the width and the link back to the queue.

Screenshots (UPDATE_SCREENSHOTS=1 writes them to docs/): the queue and chat on
one screen at 1440×900, and the chat at 390×844."""

from __future__ import annotations

import re

from tests.console.test_browser import (  # noqa: F401  (the fixture)
    CHILD,
    DESKTOP,
    GUARDIAN,
    TIMEOUT_MS,
    console_context,
    log_in,
    screenshot_path,
    served,
    watch,
)


def test_filters_search_and_the_keyboard_then_the_queue_beside_the_chat(served, browser, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base_url, runtime, _secret = served
    problems: list[str] = []
    context = console_context(browser, DESKTOP)
    try:
        sato = log_in(context, base_url, "sato")
        watch(sato, problems, expected=())
        child = runtime.queue.open(CHILD, role="child", level=None, lang="ja", category="self_harm", urgent=True,
                                   severity="high", reasons=["self_harm.wish_to_die"])
        guardian = runtime.queue.open(GUARDIAN, role="guardian", level=None, lang="ja", category="delete",
                                      urgent=False, severity=None, reasons=[])
        waiting = sato.locator("#waiting .item")
        expect(waiting).to_have_count(2)

        # Filters: the guardian's chats only, and the count says of how many.
        sato.locator("#f-role").select_option("guardian")
        expect(waiting).to_have_count(1)
        expect(waiting.first).to_contain_text(guardian.user[:8])
        expect(sato.locator("#count-waiting")).to_have_text("1件（全2件）")
        sato.locator("#f-clear").click()
        expect(waiting).to_have_count(2)

        # The keyboard: / to search, Esc out, j to select, c to take.
        sato.locator("body").press("/")
        expect(sato.locator("#f-q")).to_be_focused()
        sato.keyboard.type(child.user[:8])
        expect(waiting).to_have_count(1)
        sato.keyboard.press("Escape")
        sato.locator("#f-clear").click()
        sato.locator("body").press("?")
        expect(sato.locator("#help")).to_be_visible()
        expect(sato.locator("#help")).to_contain_text("キーボード操作")
        sato.keyboard.press("Escape")
        expect(sato.locator("#help")).to_be_hidden()
        sato.locator("body").press("j")
        expect(waiting.first).to_have_class(re.compile(r"\bselected\b"))
        sato.locator("body").press("c")  # the urgent chat is first: she takes it
        expect(sato).to_have_url(f"{base_url}/console/h/{child.id}")
        expect(sato.locator("#h-holder")).to_have_text("担当：sato")
        assert runtime.queue.get(child.id).claimed_by == "sato"

        # One screen: the queue beside the chat, the open one marked; j opens the next.
        side = sato.locator("#side-queue")
        expect(side).to_be_visible()
        expect(side.locator(".side-item.current")).to_contain_text(child.user[:8])
        expect(side.locator("#side-waiting .item")).to_have_count(1)
        expect(sato.locator("#chat-app .back")).to_be_hidden()
        sato.screenshot(path=str(screenshot_path("console-one-screen-1440x900.png", tmp_path)), full_page=False)
        sato.locator("body").press("j")
        expect(sato).to_have_url(f"{base_url}/console/h/{guardian.id}")
        expect(sato.locator("#side-queue .side-item.current")).to_contain_text(guardian.user[:8])
        sato.locator("body").press("k")
        expect(sato).to_have_url(f"{base_url}/console/h/{child.id}")

        # On a phone: no side queue, the link back, nothing wider than the screen.
        sato.set_viewport_size({"width": 390, "height": 844})
        expect(side).to_be_hidden()
        expect(sato.locator("#chat-app .back")).to_be_visible()
        assert sato.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        sato.screenshot(path=str(screenshot_path("console-one-screen-390x844.png", tmp_path)), full_page=False)
    finally:
        context.close()
    assert problems == []
