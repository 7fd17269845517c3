"""Issue 13, finding 11: deeply nested JSON sent to the logged-in API is a 400, never
a 500 (Python's JSON parser recursed until RecursionError)."""

from __future__ import annotations

import pytest

from tests.console.test_api import (  # noqa: F401  (fixtures)
    as_user,
    open_chat,
    people,
    runtime,
    sato,
)

DEEP = 100_000


@pytest.mark.parametrize("route,body", [
    ("reply", b'{"text": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    ("note", b"[" * DEEP + b"]" * DEEP),
    ("close", b'{"record": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}"),
    ("claim", b"[" * DEEP),  # unclosed as well
])
def test_deeply_nested_json_is_a_400(runtime, sato, route, body):
    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    before = runtime.queue.transcript(handoff.id)
    response = sato.post(f"/api/handoffs/{handoff.id}/{route}", raw=body)
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert response.json["error"] == "too_deep" and "入れ子" in response.json["message"]
    assert runtime.queue.transcript(handoff.id) == before
    assert runtime.queue.get(handoff.id).status == "claimed"


def test_nesting_just_under_the_limit_is_read_as_usual(runtime, sato):
    from bot.console.validate import MAX_JSON_DEPTH

    handoff = open_chat(runtime)
    sato.post(f"/api/handoffs/{handoff.id}/claim")
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    response = sato.post(f"/api/handoffs/{handoff.id}/reply", raw=f'{{"text": {nested}}}'.encode())
    assert response.status_code == 400 and response.json["error"] == "bad_type"  # the usual answer
    # Brackets inside strings are text, not nesting.
    text = "[" * 500 + "{\\\"" + "}" * 3
    response = sato.post(f"/api/handoffs/{handoff.id}/reply", raw=f'{{"text": "{text}"}}'.encode())
    assert response.status_code == 200, response.get_data(as_text=True)[:200]


@pytest.mark.parametrize("raw,depth", [
    (b"{}", 1), (b'{"a": [1, {"b": 2}]}', 3), (b'"[[["', 0), (b'{"a": "\\"[["}', 1),
    (b'["\\\\", [[]]]', 3), (b"", 0),
])
def test_json_depth_counts_brackets_outside_strings(raw, depth):
    from bot.console.validate import json_depth

    assert json_depth(raw, 100) == depth
