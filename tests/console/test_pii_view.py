"""Personal data inside a user's message is marked for the counsellor: the API gives
the spans (UTF-16 offsets, as the page's script counts) and chat.js wraps them
in <mark class="pii"> with text nodes only."""

from __future__ import annotations

from pathlib import Path

from bot.console.present import pii_spans
from tests.console.test_api import open_chat, people, runtime, sato, as_user  # noqa: F401

CHAT_JS = Path(__file__).resolve().parents[2] / "bot" / "console" / "static" / "chat.js"


def js_slice(text: str, start: int, end: int) -> str:
    """What JavaScript's text.slice(start, end) gives (UTF-16 code units)."""
    units = text.encode("utf-16-le")
    return units[start * 2:end * 2].decode("utf-16-le")


def test_spans_are_in_utf16_units():
    text = "😢😢 電話は090-1234-5678、メール a@b.jp、神戸市中央区1-2-3"
    spans = pii_spans(text)
    assert [(s["kind"], js_slice(text, s["start"], s["end"])) for s in spans] == [
        ("phone", "090-1234-5678"), ("email", "a@b.jp"), ("address", "神戸市中央区1-2-3")]


def test_the_api_marks_only_the_users_text(runtime, sato):
    h = open_chat(runtime)
    runtime.queue.append(h.id, {"from": "user", "kind": "text", "text": "090-1234-5678 にかけて"})
    runtime.queue.append(h.id, {"from": "bot", "kind": "text", "text": "0120-0-78310 へどうぞ"})
    transcript = sato.get(f"/api/handoffs/{h.id}").get_json()["transcript"]
    user = [e for e in transcript if e["from"] == "user" and e["kind"] == "text"]
    assert user[-1]["pii"] == [{"start": 0, "end": 13, "kind": "phone"}]
    assert all("pii" not in e for e in transcript if e["from"] != "user")


def test_chat_js_builds_marks_from_text_nodes():
    source = CHAT_JS.read_text(encoding="utf-8")
    assert 'K.el("mark"' in source and "createTextNode" in source
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
