"""The console's pages: refused to strangers, rendered for counsellors, and served
so that no inline script could run (CSP script-src 'self', no inline script or
handler anywhere in them, every script a file of the console)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from bot.web import runtime_of
from tests.conftest import tokyo
from tests.console.conftest import login

STAFFED = tokyo("2026-11-25 15:00")
CHILD = "U" + "c" * 32
TEACHER = "U" + "t" * 32


class _Page(HTMLParser):
    """Collects what CSP would refuse: inline scripts, on* handlers, javascript: URLs, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.handlers.append(f"<{tag} {name}=javascript:>")
            if name == "style":
                self.handlers.append(f"<{tag} style>")
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:60])


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture
def runtime(app):
    runtime = runtime_of(app)
    runtime.clock = lambda: STAFFED
    return runtime


@pytest.fixture
def counsellor(app, add_account):
    add_account("sato")
    client = app.test_client()
    login(client, "sato")
    return client


@pytest.fixture
def handoff(runtime):
    handoff = runtime.queue.open(TEACHER, role="teacher", level=None, lang="ja", category="delete",
                                 urgent=False, severity=None, reasons=[], identity="県立○○高校の山田です")
    runtime.queue.append(handoff.id, {"from": "user", "kind": "text", "text": "<script>alert(1)</script>"})
    return handoff


def pages(handoff_id: str) -> list[str]:
    return ["/console/", f"/console/h/{handoff_id}"]


def test_pages_send_anonymous_visitors_to_the_login_form(client, handoff):
    for path in pages(handoff.id):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/console/login?next=")


def test_pages_refuse_a_disabled_account(app, counsellor, accounts, handoff):
    accounts.disable("sato")
    for path in pages(handoff.id):
        response = counsellor.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_the_queue_page_renders_for_a_counsellor(counsellor, handoff):
    response = counsellor.get("/console/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "待機中の相談" in html and "対応中の相談" in html
    assert "受付時間中" in html, "the desk is staffed at the fixed instant"
    assert 'id="enable-alerts"' in html
    assert '<meta name="csrf-token"' in html


def test_the_chat_page_renders_the_tools(counsellor, handoff):
    response = counsellor.get(f"/console/h/{handoff.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-hid="{handoff.id}"' in html
    assert handoff.user[:8] in html and TEACHER not in html
    assert "県立○○高校の山田です" in html, "a teacher's school and name are shown to the counsellor"
    for tool in ("定型文", "画面を保存してもらう", "削除依頼の注意", "メールアドレスやIDを変える",
                 "保護者や先生に相談する", "保護者を通じて警察に相談する",
                 "窓口カードを送る", "24時間子供SOSダイヤル", "緊急対応（命に関わる）", "義務教育課", "記録簿",
                 "学校へ連絡することの了解", "フォローアップ", "引き継ぐ", "待機列に戻す", "ボットに戻す",
                 "メモを残す"):
        assert tool in html, tool
    # The transcript is not in the page: it is fetched as JSON and set as text by chat.js.
    assert "<script>alert(1)</script>" not in html


def test_an_unknown_chat_is_a_404_page(counsellor):
    response = counsellor.get("/console/h/0123456789abcdef")
    assert response.status_code == 404
    assert "この相談は見つかりません" in response.get_data(as_text=True)


def test_pages_have_a_csp_without_unsafe_inline_and_no_inline_script(counsellor, handoff):
    for path in pages(handoff.id):
        response = counsellor.get(path)
        csp = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"]
        page = parse(response.get_data(as_text=True))
        assert page.inline == [], f"inline script or style on {path}: {page.inline}"
        assert page.handlers == [], f"inline handlers on {path}: {page.handlers}"
        assert page.scripts, "the pages need their scripts"
        for script in page.scripts:
            assert re.fullmatch(r"/console/static/[a-z-]+\.js", script.get("src") or ""), script


def test_the_scripts_and_styles_are_served(counsellor):
    for name in ("console-common.js", "queue.js", "chat.js", "console-views.css"):
        response = counsellor.get(f"/console/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_scripts_never_write_html_from_data():
    """Chat texts come from strangers: the scripts set text, never HTML."""
    from pathlib import Path

    static = Path(__file__).resolve().parents[2] / "bot" / "console" / "static"
    for name in ("console-common.js", "queue.js", "chat.js"):
        source = (static / name).read_text(encoding="utf-8")
        for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                      "new Function"):
            assert risky not in source, f"{name} uses {risky}"
