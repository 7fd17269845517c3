"""How serious a danger signal is: the one definition every layer uses.

The lexicon and the classifier give a severity; the session keeps the
highest seen; the handoff queue orders chats by it (its Lua scripts get the
same table); the records keep the highest of a consultation.
"""

from __future__ import annotations

#: From least to most serious.
SEVERITIES: tuple[str, ...] = ("medium", "high", "critical")
#: Rank of each severity; no signal at all ranks 0.
RANK: dict[str | None, int] = {None: 0, **{s: n for n, s in enumerate(SEVERITIES, start=1)}}


def rank(severity: str | None) -> int:
    """0 for no signal or an unknown word (a value from an older stored document)."""
    return RANK.get(severity, 0)

