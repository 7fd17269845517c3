"""Messages LINE would refuse are refused, with the property LINE names, and
messages exactly at LINE's limits are accepted."""

from __future__ import annotations

import pytest

from bot.line.standin import validate_messages
from tests.line.standin.kit import TEXT, push


# --- validation like LINE -------------------------------------------------------------


@pytest.mark.parametrize(
    "messages, problem",
    [
        ([], "messages"),
        ([TEXT] * 6, "messages"),
        ([{"type": "song"}], "messages[0].type"),
        (["hello"], "messages[0].type"),
        ([{"type": "text", "text": ""}], "messages[0].text"),
        ([{"type": "text", "text": "あ" * 5001}], "messages[0].text"),
        ([{"type": "text", "text": "😀" * 2501}], "messages[0].text"),  # 5002 UTF-16 units
        ([{"type": "flex", "contents": {"type": "bubble"}}], "messages[0].altText"),
        ([{"type": "flex", "altText": "a", "contents": {"type": "carousel",
                                                        "contents": [{"type": "bubble"}] * 13}}],
         "messages[0].contents.contents"),
        ([{"type": "flex", "altText": "a" * 1501, "contents": {"type": "bubble"}}], "messages[0].altText"),
        ([{"type": "flex", "altText": "a", "contents": {"type": "bubble", "footer": {
            "type": "box", "layout": "vertical", "contents": [
                {"type": "button", "action": {"type": "uri", "label": "x", "uri": "javascript:alert(1)"}}]}}}],
         "messages[0].contents.footer.contents[0].action.uri"),
        ([{**TEXT, "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "label": "x", "data": "d"}}] * 14}}],
         "messages[0].quickReply.items"),
        ([{**TEXT, "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "label": "あ" * 21, "data": "d"}}]}}],
         "messages[0].quickReply.items[0].action.label"),
        ([{**TEXT, "quickReply": {"items": [{"type": "action", "action": {"type": "postback", "data": "d"}}]}}],
         "messages[0].quickReply.items[0].action.label"),
        ([{**TEXT, "quickReply": {"items": [
            {"type": "action", "action": {"type": "postback", "label": "x", "data": "d" * 301}}]}}],
         "messages[0].quickReply.items[0].action.data"),
    ],
)
def test_messages_line_would_refuse_are_refused_with_the_property(line, client, messages, problem):
    assert problem in [p for _, p in validate_messages(messages)]
    response = push(client, "U1", messages=messages)
    assert response.status_code == 400
    assert "error" in response.json["message"]
    assert problem in [d["property"] for d in response.json["details"]]
    assert line.deliveries() == []


def test_limits_exactly_are_accepted():
    assert validate_messages([{"type": "text", "text": "😀" * 2500}] * 5) == []
    items = [{"type": "action", "action": {"type": "postback", "label": "あ" * 20, "data": "d" * 300}}] * 13
    assert validate_messages([{**TEXT, "quickReply": {"items": items}}]) == []
