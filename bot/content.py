"""What the bot says, before any channel shapes it.

A :class:`Part` is one answer as the dialogue or the handoff desk made it:
texts in the user's language, hotline cards and tappable choices. The LINE
adapter renders parts as LINE messages, the simulator as JSON lines; the
conversation core keeps them, not a channel's messages, in the outbox, so an
event run again is answered with the same words on whatever channel asks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from dialogs.reply import Choice, HotlineCard, PhoneLink, Reply


@dataclass(frozen=True)
class Part:
    lang: str
    texts: tuple[str, ...] = ()
    cards: tuple[HotlineCard, ...] = ()
    choices: tuple[Choice, ...] = ()

    @classmethod
    def of(cls, reply: Reply) -> Part:
        return cls(reply.lang, tuple(reply.texts), tuple(reply.cards), tuple(reply.choices))

    @classmethod
    def text(cls, lang: str, *texts: str) -> Part:
        return cls(lang, tuple(texts))

    def as_reply(self) -> Reply:
        """The part as the renderers read it (they take the dialogue's Reply)."""
        return Reply(texts=self.texts, cards=self.cards, choices=self.choices, state="", lang=self.lang)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"lang": self.lang, "texts": list(self.texts)}
        if self.cards:
            # Lists, not tuples: the outbox is stored as JSON and must come back the same.
            doc["cards"] = [{**asdict(card), "phones": [asdict(p) for p in card.phones]} for card in self.cards]
        if self.choices:
            doc["choices"] = [[c.label, c.data] for c in self.choices]
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Part:
        cards = tuple(
            HotlineCard(**{**card, "phones": tuple(PhoneLink(**p) for p in card.get("phones", ()))})
            for card in doc.get("cards", ())
        )
        choices = tuple(Choice(label, data) for label, data in doc.get("choices", ()))
        return cls(str(doc.get("lang") or "ja"), tuple(doc.get("texts", ())), cards, choices)
