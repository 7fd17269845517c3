"""The transcript as the user had it, in a real browser (issue 15): an English-
speaking child taps through the menu and asks for a person; the counsellor reads
the bot's messages in English as they were sent (marked 英語で送信), with the
buttons they offered and each tap by its label, in the order it happened; the
message typed before the handoff is there as a fact, not as text."""

from __future__ import annotations

from tests.console.test_browser import (  # noqa: F401  (the fixture)
    DESKTOP,
    TIMEOUT_MS,
    console_context,
    line_event,
    log_in,
    post_webhook,
    said_to,
    screenshot_path,
    served,
    wait_until,
    watch,
)

ENGLISH = "U" + "e" * 32


def test_the_counsellor_reads_what_an_english_speaking_child_saw_and_tapped(served, browser, fake_line, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base_url, runtime, secret = served
    problems: list[str] = []
    context = console_context(browser, DESKTOP)
    try:
        sato = log_in(context, base_url, "sato")
        watch(sato, problems)
        fake_line.add_user(ENGLISH, language="en")
        for n, event in enumerate([
            line_event(fake_line, ENGLISH, "follow"),
            line_event(fake_line, ENGLISH, "postback", postback={"data": "t=role_child"}),
            line_event(fake_line, ENGLISH, "message", message={"type": "text", "id": "800001",
                                                               "text": "someone posted my photo, call me 090-3333-4444"}),
            line_event(fake_line, ENGLISH, "postback", postback={"data": "t=human"}),
        ]):
            assert post_webhook(base_url, secret, event) == 200
            wait_until(lambda n=n: len(fake_line.deliveries(ENGLISH)) > n, what=f"answer {n}")
        wait_until(lambda: runtime.queue.list("waiting"), what="the chat waits for a counsellor")
        [handoff] = runtime.queue.list("waiting")
        sato.goto(f"{base_url}/console/h/{handoff.id}")
        transcript = sato.locator("#transcript")
        first = transcript.locator(".entry").first
        expect(first).to_have_class("entry from-bot kind-text")
        expect(first).to_contain_text("英語で送信")
        expect(first).to_contain_text("Hello.")
        expect(first.locator(".choice-chip").first).to_be_visible()  # the buttons it offered
        # The child's tap, by the label of the English button it was.
        tap = transcript.locator(".entry.from-user").first
        expect(tap).to_contain_text("[")
        tapped = tap.inner_text()
        assert any(c.isascii() and c.isalpha() for c in tapped), tapped
        # The typed message before the handoff: a fact, never the text.
        expect(transcript).to_contain_text("文字でメッセージを送りました")
        expect(transcript).not_to_contain_text("090-3333-4444")
        expect(transcript).not_to_contain_text("someone posted my photo")
        order = transcript.locator(".entry").evaluate_all("nodes => nodes.map(n => n.classList[1])")
        assert order[:4] == ["from-bot", "from-user", "from-bot", "from-user"], order
        sato.screenshot(path=str(screenshot_path("console-transcript-1440x900.png", tmp_path)), full_page=True)
    finally:
        context.close()
    assert problems == []
    assert "Hello." in said_to(fake_line, ENGLISH)
