"""The counsellor console in a real browser, against the whole bot.

Headless Chromium (Debian's ``chromium``, driven by Playwright; never a browser
Playwright downloads) talks to the real app served over HTTP on a free port,
with worker threads, a real redis-server and the stand-in LINE API
(tests/fake_line.py). The clocks are fixed in staffed hours.

Two counsellors log in and keep the queue page open. A child's crisis message
arrives over the signed webhook; without a reload the urgent chat appears at
the top of the first counsellor's queue, with a sound, a notification and a
title badge. She takes it, reads the transcript (the bot's part, an evidence
image), replies (the stand-in LINE receives the push with 【相談員】), and
closes it with the record (記録簿). The second counsellor, whose page still
shows the chat as waiting, clicks to take it too and is told who has it.

Screenshots of the queue and the chat view are written to docs/ when
UPDATE_SCREENSHOTS=1 (that is how docs/console-queue.png and
docs/console-chat.png were made), otherwise to the test's tmp dir.

Without chromium or playwright the test is skipped locally, but FAILS when the
environment variable CI is set (as tests/web/test_localchat_browser.py does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import struct
import threading
import time
import urllib.request
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from bot.web import runtime_of
from tests.conftest import tokyo
from tests.console.conftest import PASSWORD
from tests.waiting import wait_until  # noqa: F401  (the browser tests import it from here)

STAFFED = tokyo("2026-11-25 15:00")  # Wednesday, the Hyogo desk is staffed 14:00-19:00
CHILD = "U" + "c" * 32
GUARDIAN = "U" + "g" * 32
LAPTOP = {"width": 1280, "height": 900}
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
TIMEOUT_MS = 15_000
DOCS = Path(__file__).resolve().parents[2] / "docs"
_ids = itertools.count(1)

# Records what the page asks of the browser's notification and sound APIs, so the
# test can check them in headless Chromium. Injected by Playwright (not subject to
# the page's CSP), it wraps the real APIs and leaves them working.
SPY = """
window.__notified = [];
window.__beeps = 0;
(function () {
  const Real = window.Notification;
  if (Real) {
    const Spy = function (title, options) { window.__notified.push(title); return new Real(title, options); };
    Object.defineProperty(Spy, "permission", { get: () => Real.permission });
    Spy.requestPermission = (...args) => Real.requestPermission(...args);
    window.Notification = Spy;
  }
  const Context = window.AudioContext;
  if (Context) {
    const create = Context.prototype.createOscillator;
    Context.prototype.createOscillator = function () { window.__beeps += 1; return create.call(this); };
  }
})();
"""










class _Quiet(WSGIRequestHandler):
    def log_request(self, code="-", size="-") -> None:
        pass


@pytest.fixture
def served(app, console_env, add_account):
    """The app on a real port, its workers running, two counsellors with accounts."""
    runtime = runtime_of(app)
    runtime.clock = runtime.service.clock = lambda: STAFFED
    runtime.start_workers(2, lease_ms=2000, block_ms=100, backoff_base_ms=50, backoff_cap_ms=200)
    add_account("sato")
    add_account("suzuki")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="console-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", runtime, console_env["LINE_CHANNEL_SECRET"]
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def _until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll an expression until it is true. page.evaluate is run by the driver,
    so the console's CSP, which forbids eval in the page (and with it
    wait_for_function's polling), does not apply."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"never became true: {expression}"
        page.wait_for_timeout(50)


def post_webhook(url: str, secret: str, *events: dict) -> int:
    """What LINE does: POST the events to /callback, signed with the channel secret."""
    body = json.dumps({"destination": "Uxxxxxxxx", "events": list(events)}, ensure_ascii=False).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    request = urllib.request.Request(url + "/callback", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Line-Signature": signature})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def line_event(fake_line, user: str, kind: str, **fields) -> dict:
    n = next(_ids)
    now = time.time()
    return {
        "type": kind, "mode": "active", "timestamp": int(now * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": f"01CONSOLE{n:017d}",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": fake_line.issue_reply_token(user, issued_at=now),
        **fields,
    }


def said_to(fake_line, user: str) -> str:
    return "\n".join(m.get("text", "") for d in fake_line.deliveries(user) for m in d.messages)


def evidence_png() -> bytes:
    """A small picture of a post (grey lines of 'text' in a red frame), as a child's screenshot."""
    width, height = 240, 150
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            frame = x < 4 or y < 4 or x >= width - 4 or y >= height - 4
            line = 20 <= x < (220 if (y // 22) % 2 else 170) and 14 <= (y % 22) <= 20 and y > 20
            avatar = 12 <= x < 36 and 8 <= y < 20
            colour = (200, 40, 40) if frame else (120, 120, 130) if line or avatar else (250, 250, 252)
            row += bytes(colour)
        rows.append(b"\x00" + bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def screenshot_path(name: str, tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        return DOCS / name
    return tmp_path / name


def watch(page, problems: list[str], *, expected: tuple[str, ...] = ()) -> None:
    """Collect browser errors (a CSP refusal included) and failed requests, except ``expected`` URL parts."""
    def console(message) -> None:
        if message.type != "error":
            return
        if expected and "409" in message.text:
            return  # the browser's own note of the refused claim the test provokes
        problems.append(f"console {message.type}: {message.text}")

    def response(r) -> None:
        if r.status >= 400 and not any(part in r.url for part in expected):
            problems.append(f"{r.status} for {r.url}")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", response)


def only_this_server(page, base_url: str, elsewhere: list[str]) -> None:
    own = urlsplit(base_url).netloc

    def route(r):
        if urlsplit(r.request.url).netloc == own:
            r.continue_()
        else:
            elsewhere.append(r.request.url)
            r.abort()

    page.route("**/*", route)


def console_context(browser, viewport: dict[str, int] = LAPTOP):
    """A browser context as a counsellor's at the desk: Japanese, Tokyo time, the tests' timeout."""
    context = browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(TIMEOUT_MS)
    return context


def log_in(context, base_url: str, name: str):
    """Through the login form, as a counsellor does; ends on the queue page."""
    from playwright.sync_api import expect

    page = context.new_page()
    page.goto(base_url + "/console/")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.locator("#name").fill(name)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(base_url + "/console/")
    expect(page.locator("#count-waiting")).to_have_text("0件")
    return page


def test_an_urgent_chat_reaches_a_counsellor_who_answers_and_closes_it(served, browser, fake_line, tmp_path):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)

    base_url, runtime, secret = served
    fake_line.add_content("777001", evidence_png(), "image/png")
    problems: list[str] = []
    problems_second: list[str] = []
    elsewhere: list[str] = []

    first, second = console_context(browser), console_context(browser)
    try:
        for context in (first, second):
            context.add_init_script(SPY)
        first.grant_permissions(["notifications"], origin=base_url)

        sato = log_in(first, base_url, "sato")
        watch(sato, problems)
        only_this_server(sato, base_url, elsewhere)
        suzuki = log_in(second, base_url, "suzuki")
        watch(suzuki, problems_second, expected=("/claim",))
        only_this_server(suzuki, base_url, elsewhere)

        # Sato allows sound and notifications (a click: browsers ask for one).
        sato.locator("#enable-alerts").click()
        expect(sato.locator("#alert-state")).to_contain_text("通知：有効")
        sato.evaluate("window.__still_the_same_page = true")

        # A guardian already waits for a person, not urgently.
        post_webhook(base_url, secret, line_event(fake_line, GUARDIAN, "postback", postback={"data": "t=role_guardian"}))
        fake_line.wait_for_deliveries(1, user_id=GUARDIAN)
        post_webhook(base_url, secret, line_event(fake_line, GUARDIAN, "postback", postback={"data": "t=human"}))
        wait_until(lambda: "番目" in said_to(fake_line, GUARDIAN), what="the guardian is told their place")
        expect(sato.locator("#waiting .item")).to_have_count(1)

        # A child's crisis message arrives over the signed webhook.
        started = time.monotonic()
        assert post_webhook(base_url, secret, line_event(
            fake_line, CHILD, "message", message={"type": "text", "id": "500001", "text": "もう死にたい"})) == 200
        top = sato.locator("#waiting .item").first
        expect(top).to_contain_text("自殺・自傷のおそれ")
        expect(top).to_have_class(re.compile(r"\burgent\b"))
        expect(top).to_contain_text("自殺・自傷：死にたいという言葉")  # words, the code on hover
        expect(sato.locator("#waiting .item")).to_have_count(2)
        seen_after = time.monotonic() - started
        assert sato.evaluate("window.__still_the_same_page") is True, "the queue updated without a reload"
        expect(sato).to_have_title(re.compile(r"^\(1\) 相談コンソール"))
        _until(sato, "window.__notified.length > 0 && window.__beeps > 0")
        assert sato.evaluate("window.__notified") == ["緊急の相談があります"]
        wait_until(lambda: "0120-0-78310" in said_to(fake_line, CHILD), what="the 24-hour number")

        # Evidence: the child sends a screenshot while waiting.
        post_webhook(base_url, secret, line_event(
            fake_line, CHILD, "message", message={"type": "image", "id": "777001"}))
        [handoff] = [h for h in runtime.queue.list("waiting") if h.urgent]
        wait_until(lambda: runtime.queue.image(handoff.id, 1), what="the image kept with the handoff")
        sato.screenshot(path=str(screenshot_path("console-queue.png", tmp_path)), full_page=True)

        # Suzuki's page still shows the chat as waiting: its polls answer with what it
        # already knew, as when two counsellors click at the same moment.
        expect(suzuki.locator("#waiting .item")).to_have_count(2)
        stale = suzuki.evaluate("fetch('/api/queue/version').then(r => r.text())")
        polls: list[str] = []

        def frozen(route) -> None:
            polls.append(route.request.url)
            route.fulfill(status=200, content_type="application/json", body=stale)

        suzuki.route("**/api/queue/version", frozen)
        # Two frozen polls: a redraw the first may have caused is done before the second.
        deadline = time.monotonic() + 10
        while len(polls) < 2 and time.monotonic() < deadline:
            suzuki.wait_for_timeout(100)
        assert len(polls) >= 2
        expect(suzuki.locator("#waiting .item").first).to_contain_text("自殺・自傷のおそれ")

        # Sato takes the urgent chat.
        top.locator("button.claim").click()
        expect(sato).to_have_url(f"{base_url}/console/h/{handoff.id}")
        expect(sato.locator("#h-holder")).to_have_text("担当：sato")
        wait_until(lambda: "相談員がつながりました" in said_to(fake_line, CHILD), what="the child told a person joined")

        # Suzuki clicks to take it too and is told who has it.
        suzuki_top = suzuki.locator("#waiting .item").first
        expect(suzuki_top).to_contain_text("自殺・自傷のおそれ")
        suzuki_top.locator("button.claim").click()
        expect(suzuki.locator("#status")).to_have_text("この相談は sato さんが対応中です。")
        assert runtime.queue.get(handoff.id).claimed_by == "sato"
        suzuki.unroute("**/api/queue/version")

        # The transcript: the child's words, the bot's part set apart, the image, the claim.
        transcript = sato.locator("#transcript")
        expect(transcript.locator(".entry.from-user .bubble", has_text="もう死にたい")).to_be_visible()
        expect(transcript.locator(".entry.from-bot .bubble").first).to_contain_text("0120-0-78310")
        image = transcript.locator(".entry.kind-image img")
        expect(image).to_be_visible()
        # Waited for with the locator's own polling: wait_for_function evals a
        # string in the page, which the console's CSP (script-src 'self') refuses.
        expect(image).to_have_js_property("naturalWidth", 240)
        expect(transcript.locator(".entry.from-system", has_text="sato さんが担当しました")).to_be_visible()

        # A canned reply goes into the box; the counsellor edits it and sends.
        sato.locator(".canned-button", has_text="保護者や先生に相談する").click()
        expect(sato.locator("#reply-text")).to_have_value(re.compile("信頼できる大人"))
        sato.locator("#reply-text").fill("話してくれてありがとう。いま、あなたは安全な場所にいますか？")
        sato.locator("#reply-text").press("Control+Enter")  # the keyboard sends, as the hint says
        expect(transcript.locator(".entry.from-counsellor .bubble", has_text="安全な場所")).to_be_visible()
        pushed = wait_until(lambda: [d for d in fake_line.deliveries(CHILD) if d.kind == "push" and any(
            m.get("text", "").startswith("【相談員】") for m in d.messages)], what="the counsellor's push")
        assert pushed[0].retry_key
        assert pushed[0].messages[0]["text"] == "【相談員】話してくれてありがとう。いま、あなたは安全な場所にいますか？"

        # A private note, and the child answers: the page shows it without reload.
        sato.locator("#note-text").fill("SOSダイヤルを伝えた。返事を待つ。")
        sato.locator("#btn-note").click()
        expect(transcript.locator(".entry.from-note .bubble", has_text="SOSダイヤル")).to_be_visible()
        post_webhook(base_url, secret, line_event(
            fake_line, CHILD, "message", message={"type": "text", "id": "500002",
                                                  "text": "いまは家にいます。家の電話は078-123-4567"}))
        expect(transcript.locator(".entry.from-user .bubble", has_text="いまは家にいます")).to_be_visible()
        # Personal data in the child's words is marked for the counsellor (text, never HTML).
        expect(transcript.locator(".entry.from-user mark.pii.pii-phone")).to_have_text("078-123-4567")
        # 命に関わる: the escalation steps of seed 004 ③ are shown, and that they were is recorded.
        sato.once("dialog", lambda dialog: dialog.accept())
        sato.locator("#btn-escalate").click()
        expect(sato.locator("#escalation")).to_be_visible()
        expect(sato.locator("#escalation")).to_contain_text("義務教育課")
        expect(sato.locator("#escalation")).to_contain_text("警察に通報")
        expect(transcript.locator(".entry.from-system", has_text="緊急対応")).to_be_visible()
        assert runtime.queue.get(handoff.id).escalated

        # The whole transcript in view for the screenshot (it scrolls inside 65% of the window).
        sato.set_viewport_size({"width": LAPTOP["width"], "height": 2100})
        sato.locator("#transcript .entry").last.scroll_into_view_if_needed()
        sato.evaluate("window.scrollTo(0, 0)")
        sato.screenshot(path=str(screenshot_path("console-chat.png", tmp_path)), full_page=True)

        # Closing asks for the record (記録簿).
        sato.locator("#btn-close-open").click()
        expect(sato.locator("#close-panel")).to_be_visible()
        expect(sato.locator("#rec-category")).to_have_value("self_harm")
        sato.locator("#rec-role").select_option("child")  # learnt in the conversation
        sato.locator("#rec-advice").fill("気持ちを受け止め、保護者に話すことを勧めた。24時間子供SOSダイヤルを伝えた。")
        sato.locator('input[name="referred"][value="sos_dial"]').check()
        sato.locator('input[name="school_contact_agreed"][value="not_asked"]').check()
        sato.locator("#rec-follow").check()
        sato.locator("#rec-follow-text").fill("明日の受付開始後に様子を確認")
        sato.locator("#btn-close").click()
        expect(sato.locator("#record-view")).to_be_visible()
        expect(sato.locator("#record-view")).to_contain_text("気持ちを受け止め")
        expect(sato.locator("#h-status")).to_have_text("終了")
        wait_until(lambda: "相談員との相談は、これで終わりです" in said_to(fake_line, CHILD), what="the end told")
        closed = runtime.queue.get(handoff.id)
        assert closed.status == "closed" and closed.closed_by == "sato"
        assert closed.record == {
            "role": "child", "category": "self_harm",
            "advice": "気持ちを受け止め、保護者に話すことを勧めた。24時間子供SOSダイヤルを伝えた。",
            # The cards the bot gave in its first reply were ticked already (issue 15).
            "referred": ["sos_dial", "ambulance_119", "police_110"], "school_contact_agreed": "not_asked",
            "follow_up": {"needed": True, "text": "明日の受付開始後に様子を確認", "due": "2026-11-28"},
        }

        # The queue page, read on a tablet: the guardian still waits, nothing wider than the screen.
        # Suzuki did not handle the closed chat: the read policy (issue 13) keeps it out of her list.
        suzuki.set_viewport_size(TABLET)
        suzuki.goto(base_url + "/console/")
        expect(suzuki.locator("#waiting .item")).to_have_count(1)
        expect(suzuki.locator("#closed .item")).to_have_count(0)
        assert suzuki.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # Sato closed it: listed for her, and its record reads on a tablet too.
        sato.set_viewport_size(TABLET)
        sato.goto(base_url + "/console/")
        expect(sato.locator("#closed .item")).to_have_count(1)
        sato.goto(f"{base_url}/console/h/{handoff.id}")
        expect(sato.locator("#record-view")).to_contain_text("明日の受付開始後に様子を確認")
        assert sato.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        first.close()
        second.close()

    assert seen_after < 10, f"the urgent chat took {seen_after:.1f} s to show"
    print(f"urgent chat shown after {seen_after:.2f} s")
    assert elsewhere == [], f"the console tried to load from elsewhere: {elsewhere}"
    assert problems == [], "\n".join(problems)
    assert problems_second == [], "\n".join(problems_second)
    for line_id in (CHILD, GUARDIAN):
        assert line_id not in json.dumps([h.to_api() for h in runtime.queue.list("closed")])
