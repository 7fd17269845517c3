"""The tools beside an urgent chat in a real browser (issue 15): the replies for
a child at risk first and searchable, sent with Ctrl+Enter, a counsellor's own
canned reply, the 24-hour line at the top of the cards, and the closing record
ticked with what the chat gave."""

from __future__ import annotations

from tests.console.test_browser import (  # noqa: F401  (the fixture)
    CHILD,
    TIMEOUT_MS,
    console_context,
    line_event,
    log_in,
    post_webhook,
    said_to,
    served,
    wait_until,
    watch,
)


def test_crisis_replies_search_keyboard_sending_and_cards_given(served, browser, fake_line):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base_url, runtime, secret = served
    problems: list[str] = []
    context = console_context(browser)
    try:
        sato = log_in(context, base_url, "sato")
        watch(sato, problems)
        assert post_webhook(base_url, secret, line_event(
            fake_line, CHILD, "message", message={"type": "text", "id": "700001", "text": "もう死にたい"})) == 200
        wait_until(lambda: "0120-0-78310" in said_to(fake_line, CHILD), what="the 24-hour number")
        sato.locator("#waiting .item button.claim").first.click()
        expect(sato.locator("#h-holder")).to_have_text("担当：sato")

        # The replies for a child at risk come first, each with its source in words.
        first = sato.locator("#canned-list .canned-item").first
        expect(first).to_have_class("canned-item crisis")
        expect(first).to_contain_text("いま安全かを確かめる")
        expect(first.locator(".source")).to_contain_text("文部科学省")
        # Searching narrows them as she types.
        sato.locator("#canned-search").fill("時間外")
        visible = sato.locator("#canned-list .canned-item:visible")
        expect(visible).to_have_count(1)
        expect(visible).to_contain_text("受付時間外の引き継ぎ")
        sato.locator("#canned-search").fill("存在しないことば")
        expect(sato.locator("#canned-none")).to_be_visible()
        sato.locator("#canned-search").fill("")

        # A reply goes into the box; Ctrl+Enter sends it.
        sato.locator(".canned-button[data-id='safe_now']").click()
        expect(sato.locator("#reply-text")).to_have_value("話してくれて、ありがとう。いま、あなたは安全な場所にいますか？ 近くに、だれかいますか？")
        sato.locator("#reply-text").press("Control+Enter")
        expect(sato.locator("#transcript .entry.from-counsellor .bubble")).to_contain_text("安全な場所")
        wait_until(lambda: "【相談員】話してくれて、ありがとう。" in said_to(fake_line, CHILD), what="the push")
        expect(sato.locator("#reply-text")).to_have_value("")

        # Her own canned reply: the reply box's text under a name, for her only.
        sato.locator("#reply-text").fill("週末はどうでしたか？")
        sato.locator("#own-title").fill("月曜日の声かけ")
        sato.locator("#btn-own-add").click()
        own = sato.locator("#canned-list .canned-item.own")
        expect(own).to_contain_text("月曜日の声かけ")
        expect(own).to_contain_text("出典なし")

        # The 24-hour line heads the cards; sending another ticks it in the record.
        expect(sato.locator(".hotlines .hotline").first).to_contain_text("24時間子供SOSダイヤル")
        sato.locator('.hotlines .card-button[data-hotline="jinken"]').click()
        expect(sato.locator("#status")).to_have_text("窓口カードを送りました。")
        sato.locator("#btn-close-open").click()
        expect(sato.locator('input[name="referred"][value="sos_dial"]')).to_be_checked()  # the bot gave it
        expect(sato.locator('input[name="referred"][value="jinken"]')).to_be_checked()  # she did
        expect(sato.locator('input[name="referred"][value="houterasu"]')).not_to_be_checked()
    finally:
        context.close()
    assert problems == []
