"""The person's history and the 要フォロー list in a real browser (issue 15).

A child's urgent chat was closed by sato with a follow-up and a note. A minute
later the same child writes again over the signed webhook. Suzuki, who did not
handle the first chat, sees in her queue that this child was here before and
that a follow-up is open; the chat page shows the earlier chat's record, its
follow-up and sato's note (not the earlier transcript, which Hyogo's read policy
keeps to those who handled it); she marks the follow-up done from the queue.

Screenshots (UPDATE_SCREENSHOTS=1 writes them to docs/): the queue with the
badge and the 要フォロー list, and the chat with its history panel, at 1440×900
and 390×844.
"""

from __future__ import annotations

from tests.console.test_api import good_record
from tests.console.test_browser import (  # noqa: F401  (the fixture)
    CHILD,
    DESKTOP,
    PHONE,
    TIMEOUT_MS,
    console_context,
    line_event,
    log_in,
    only_this_server,
    post_webhook,
    said_to,
    screenshot_path,
    served,
    wait_until,
    watch,
)


def shots(page, name: str, tmp_path, check=lambda: None) -> None:
    """The page at 1440×900, then at 390×844 (nothing wider than the phone), and back."""
    for viewport, size in ((DESKTOP, "1440x900"), (PHONE, "390x844")):
        page.set_viewport_size(viewport)
        check()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), size
        page.screenshot(path=str(screenshot_path(f"{name}-{size}.png", tmp_path)), full_page=True)
    page.set_viewport_size(DESKTOP)


def earlier_chat(runtime) -> str:
    """Sato's chat with the child, closed with a follow-up and a private note."""
    h = runtime.queue.open(CHILD, role="child", level=None, lang="ja", category="self_harm", urgent=True,
                           severity="high", reasons=["self_harm.wish_to_die"])
    runtime.queue.claim(h.id, "sato")
    runtime.queue.append(h.id, {"from": "note", "by": "sato", "kind": "text", "at": h.queued_at + 60,
                                "text": "母親には知られたくないと話していた。"})
    record = good_record(follow_up={"needed": True, "text": "翌日、学校での様子を確認する", "due": "2026-11-26"})
    runtime.queue.close(h.id, "sato", record)
    return h.id


def test_a_child_who_comes_back_is_shown_with_the_earlier_chat_and_its_follow_up(
        served, browser, fake_line, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base_url, runtime, secret = served
    first_id = earlier_chat(runtime)
    problems: list[str] = []
    elsewhere: list[str] = []
    context = console_context(browser, DESKTOP)
    try:
        suzuki = log_in(context, base_url, "suzuki")
        watch(suzuki, problems)
        only_this_server(suzuki, base_url, elsewhere)

        follow_ups = suzuki.locator("#follow-ups .item")
        expect(follow_ups).to_have_count(1)
        expect(follow_ups.first).to_contain_text("翌日、学校での様子を確認する")
        expect(follow_ups.first).to_contain_text("2026-11-26")

        assert post_webhook(base_url, secret, line_event(
            fake_line, CHILD, "message", message={"type": "text", "id": "600001", "text": "またしにたくなった"})) == 200
        wait_until(lambda: "0120-0-78310" in said_to(fake_line, CHILD), what="the 24-hour number")
        top = suzuki.locator("#waiting .item").first
        expect(top).to_contain_text("過去の相談 1件")
        expect(top).to_contain_text("前回 要フォロー")
        shots(suzuki, "console-queue-history", tmp_path)

        top.get_by_role("link", name="見る").click()
        history = suzuki.locator("#history")
        expect(history).to_be_visible()
        expect(suzuki.locator("#history-count")).to_have_text("1件")
        item = history.locator(".history-item")
        expect(item).to_contain_text("要フォロー（期限 2026-11-26）")
        expect(item).to_contain_text("翌日、学校での様子を確認する")
        expect(item).to_contain_text("母親には知られたくないと話していた。")
        expect(item).to_contain_text("対応：sato")
        expect(item).to_contain_text("話を聴き、保護者に相談することを勧めた")
        # Suzuki did not handle it: the earlier transcript does not open for her.
        expect(item.locator("a.history-open")).to_have_count(0)
        history.scroll_into_view_if_needed()
        shots(suzuki, "console-chat-history", tmp_path, check=lambda: expect(history).to_be_visible())

        # Back on the queue, she marks the follow-up done (it asks first; the action is audited).
        suzuki.goto(base_url + "/console/")
        suzuki.once("dialog", lambda dialog: dialog.accept())
        suzuki.locator(f'#follow-ups button.follow-done[data-id="{first_id}"]').click()
        expect(suzuki.locator("#follow-ups .item")).to_have_count(0)
        expect(suzuki.locator("#follow-ups-empty")).to_be_visible()
        expect(suzuki.locator("#waiting .item").first).not_to_contain_text("前回 要フォロー")
        assert runtime.queue.get(first_id).follow_up_done_by == "suzuki"
    finally:
        context.close()
    assert problems == []
    assert elsewhere == []
