"""Account administration in a real browser (issue 15).

A supervisor opens 管理 from the header, adds the counsellor tanaka and is shown
a one-time password once. Tanaka signs in with it, is sent to choose her own
password, and signs in with that. The supervisor sees her signed in, then
disables the account; tanaka's open queue page finds its session ended and goes
to the login form by itself.

Screenshots (UPDATE_SCREENSHOTS=1 writes them to docs/): the administration
page at 1440×900 (with the one-time password just shown) and 390×844 (with
tanaka signed in).
"""

from __future__ import annotations

import re

from tests.console.test_browser import (  # noqa: F401  (the fixture)
    DESKTOP,
    PHONE,
    TIMEOUT_MS,
    console_context,
    log_in,
    only_this_server,
    screenshot_path,
    served,
    watch,
)

NEW_PASSWORD = "violet-Kettle-river-47"


def test_a_supervisor_adds_a_counsellor_who_signs_in_and_is_then_disabled(served, browser, add_account, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base_url, _runtime, _secret = served
    add_account("boss", "supervisor")
    problems: list[str] = []
    elsewhere: list[str] = []
    desk, newcomer = console_context(browser, DESKTOP), console_context(browser, DESKTOP)
    phone = console_context(browser, PHONE)
    try:
        boss = log_in(desk, base_url, "boss")
        watch(boss, problems)
        only_this_server(boss, base_url, elsewhere)
        boss.on("dialog", lambda dialog: dialog.accept())  # the confirmation before disabling
        expect(boss.locator("#nav-report")).to_have_text("月次報告")
        expect(boss.locator("#nav-audit")).to_have_text("監査ログ")
        boss.locator("#nav-admin").click()
        expect(boss).to_have_url(base_url + "/console/admin")

        boss.locator("#new-name").fill("tanaka")
        boss.locator("#new-role").select_option("counsellor")
        boss.get_by_role("button", name="追加して一時パスワードを発行").click()
        expect(boss.locator("#admin-done")).to_contain_text("tanaka（相談員）を追加しました")
        one_time = boss.locator("#one-time-password").inner_text().strip()
        assert len(one_time) >= 16
        expect(boss.locator("tr[data-account='tanaka'] .state")).to_contain_text("一時パスワードのまま")
        boss.screenshot(path=str(screenshot_path("console-admin-1440x900.png", tmp_path)), full_page=True)

        # Tanaka signs in with the one-time password and must choose her own first.
        tanaka = newcomer.new_page()
        tanaka_problems: list[str] = []  # the 401 at the end is the point; anything else is not
        watch(tanaka, tanaka_problems, expected=("/api/queue/version", "/api/handoffs"))
        tanaka.goto(base_url + "/console/")
        tanaka.locator("#name").fill("tanaka")
        tanaka.locator("#password").fill(one_time)
        tanaka.get_by_role("button", name="ログイン").click()
        expect(tanaka).to_have_url(base_url + "/console/password")
        expect(tanaka.locator("#must-change")).to_be_visible()
        tanaka.locator("#current").fill(one_time)
        tanaka.locator("#new").fill(NEW_PASSWORD)
        tanaka.locator("#again").fill(NEW_PASSWORD)
        tanaka.get_by_role("button", name="変更する").click()
        expect(tanaka.locator(".notice")).to_contain_text("パスワードを変更しました")
        tanaka.get_by_role("link", name="ログイン画面へ").click()
        tanaka.locator("#name").fill("tanaka")
        tanaka.locator("#password").fill(NEW_PASSWORD)
        tanaka.get_by_role("button", name="ログイン").click()
        expect(tanaka).to_have_url(base_url + "/console/")
        expect(tanaka.locator("#count-waiting")).to_have_text("0件")
        expect(tanaka.locator("#nav-admin")).to_have_count(0)

        # The supervisor sees her signed in (on a phone too), then disables her.
        small = log_in(phone, base_url, "boss")
        watch(small, problems)
        small.goto(base_url + "/console/admin")
        expect(small.locator("#signed-in")).to_contain_text("tanaka")
        expect(small.locator("tr[data-account='tanaka'] .sessions")).to_have_text("1件")
        small.screenshot(path=str(screenshot_path("console-admin-390x844.png", tmp_path)), full_page=True)

        boss.goto(base_url + "/console/admin")
        boss.locator("tr[data-account='tanaka']").get_by_role("button", name="無効にする").click()
        expect(boss.locator("#admin-done")).to_contain_text("tanaka を無効にしました")
        expect(boss.locator("tr[data-account='tanaka'] .state")).to_contain_text("無効")

        # Tanaka's open queue page finds its session ended at its next poll.
        expect(tanaka).to_have_url(re.compile(r"/console/login\?next="))
        assert problems == [], problems
        assert [p for p in tanaka_problems if "status of 401" not in p] == [], tanaka_problems
        assert elsewhere == [], elsewhere
    finally:
        for context in (desk, newcomer, phone):
            context.close()
