"""The local chat page in a real browser: a newcomer's first conversation.

Headless Chromium (Debian's ``chromium`` package, driven by Playwright; never
a browser Playwright downloads) on a phone-sized screen opens the page of the
real app, served on a free port in local mode, adds the account as a friend,
sees the greeting, taps a quick reply, types a sentence and gets hotline cards
with a phone link. The page may not load anything from elsewhere, and the
browser must report no error, a Content-Security-Policy refusal included.

Without chromium or playwright the test is skipped locally, but FAILS when
the environment variable CI is set, so a CI image without them cannot pass
silently (as tests/redis_server.py does for redis-server).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.web import serve_local_bot

PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000








@pytest.fixture
def bot(tmp_path):
    running = serve_local_bot(tmp_path / "mo")
    yield running
    running.stop()




def test_a_newcomer_talks_to_the_bot_in_the_browser(bot, browser, tmp_path):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="ja-JP")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} for {r.url}") if r.status >= 400 else None)
    elsewhere: list[str] = []
    own = urlsplit(bot.url).netloc

    def only_this_server(route):
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)

    try:
        page.goto(bot.url + "/")
        expect(page.locator("#banner")).to_contain_text("ローカル試用モード — LINEには接続していません")
        expect(page.locator("#banner")).to_contain_text("Local trial mode: not connected to LINE")
        expect(page.locator(".bot-badge")).to_be_visible()

        # Add the account as a friend: the greeting says it is a bot and asks who you are.
        page.locator("#btn-follow-start").click()
        expect(page.locator(".msg.bot .bubble", has_text="ボット")).to_be_visible()
        child = page.locator("#quick .chip", has_text="児童・生徒")
        expect(child).to_be_visible()

        # Tap a quick reply: it shows as what you said, and the next question comes.
        child.click()
        expect(page.locator(".msg.user .bubble", has_text="児童・生徒")).to_be_visible()
        expect(page.locator("#quick .chip", has_text="中学生")).to_be_visible()

        # Type a sentence: the answer has hotline cards with a phone link.
        page.locator("#text").fill("SNSで悪口を書かれた。消したい")
        page.locator("#text").press("Enter")
        expect(page.locator(".msg.user .bubble", has_text="SNSで悪口を書かれた。消したい")).to_be_visible()
        call = page.locator(".card a.fx-button[href^='tel:']").first
        expect(call).to_be_visible()
        assert call.get_attribute("href").startswith("tel:0")
        web = page.locator(".card a.fx-button[href^='https://']").first
        expect(web).to_have_attribute("target", "_blank")
        expect(page.locator(".msg.user .read", has_text="既読").first).to_be_visible()

        # A phone screen: nothing wider than it, the input box on it.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        box = page.locator("#composer").bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"]

        page.screenshot(path=str(tmp_path / "localchat.png"), full_page=True)
    finally:
        context.close()

    assert elsewhere == [], f"the page tried to load from elsewhere: {elsewhere}"
    assert problems == [], "\n".join(problems)


def test_the_simulated_actions_and_a_new_user(bot, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"{r.status} for {r.url}") if r.status >= 400 else None)
    try:
        page.goto(bot.url + "/")
        first_user = page.locator("#user-id").text_content()
        page.locator("#btn-follow").click()
        expect(page.locator(".msg.bot")).not_to_have_count(0)
        answered = page.locator(".msg.bot").count

        for button, shown in (("#btn-sticker", ".sticker"), ("#btn-image", ".sample-image"),
                              ("#btn-location", ".place")):
            before = answered()
            page.locator(button).click()
            expect(page.locator(f".msg.user {shown}").last).to_be_visible()
            # Each gets a kind answer in words.
            expect(page.locator(".msg.bot").nth(before)).to_be_visible()
        # The sample picture is a picture, not a placeholder (the server sends the same file).
        page.wait_for_function("() => { const i = document.querySelector('.msg.user .sample-image');"
                               " return i !== null && i.complete && i.naturalWidth > 0; }")

        # English profile: a new user whose greeting is in English.
        page.locator("#language").select_option("en")
        assert page.locator("#user-id").text_content() != first_user
        expect(page.locator(".msg")).to_have_count(0)
        page.locator("#btn-follow-start").click()
        expect(page.locator(".msg.bot .bubble", has_text="bot").first).to_be_visible()

        page.locator("#btn-new-user").click()
        expect(page.locator(".msg")).to_have_count(0)
        expect(page.locator("#btn-follow-start")).to_be_visible()
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
