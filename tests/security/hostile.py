"""Hypothesis strategies for hostile input, and a snapshot of what Redis holds."""

from __future__ import annotations

from typing import Any

import redis
from hypothesis import strategies as st

#: Strings that broke (or could break) something somewhere: control characters, lone
#: surrogates, right-to-left marks, combining marks, very long text, path tricks.
NASTY = [
    "", " ", "\x00", "\x00\x01\x1f\x7f", "\n\r\t", "\u200b\u200e\u202e", "\ud800", "\udfff", "\ufeff",
    "\U0001f600" * 3, "e\u0301" * 5, "ｱｲｳ", "死にたい", "090-1234-5678", "<script>alert(1)</script>",
    "'; DROP TABLE x; --", "../../etc/passwd", "..", ".", "%00", "%2e%2e%2f", "{{7*7}}", "${jndi:x}",
    "null", "true", "0", "-1", "1e309", "NaN", "Infinity", "A" * 70, "x" * 5000, "x" * 200_000,
    "sato", "boss", "sos_dial", "self_harm", "child", "waiting", "closed",
]

hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=50),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=10),
)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), hostile_text,
)

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(hostile_text, children, max_size=4)),
    max_leaves=12,
)


def snapshot(client: redis.Redis, *, skip: tuple[str, ...]) -> dict[bytes, bytes | None]:
    """DUMP of every key but those containing one of ``skip`` (the audit stream and the
    login-failure counters, which a refused request is meant to change)."""
    found: dict[bytes, Any] = {}
    for key in client.scan_iter(count=1000):
        text = key.decode("utf-8", "replace")
        if any(part in text for part in skip):
            continue
        found[key] = client.dump(key)
    return found


def changed(before: dict[bytes, Any], after: dict[bytes, Any]) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k.decode("utf-8", "replace") for k in keys if before.get(k) != after.get(k))
