"""One reading of a typed message: is someone in danger, whose danger, and what is asked.

The learned classifier (dialogs.nlu) is the recall engine; the lexicon
(dialogs.triage) stays as the floor and as the explanation a counsellor reads.
Three outcomes:

* **urgent** (the 24-hour number first, a person): the classifier's
  probability is above its urgent threshold, or the lexicon fired and the
  classifier is not sure the message is calm (above its uncertain threshold);
* **uncertain**: the probability is between the two thresholds, or the lexicon
  fired on a message the classifier is sure is calm (a game, an idiom, a news
  story). The person is asked gently whether they are safe, the 24-hour number
  is shown, one tap (「いま あぶない」) makes it urgent, and what they asked for
  is still answered;
* **calm**.

So nothing the lexicon catches is ever answered as calm: it is the floor. Its
false alarms on stories full of scary words (a quarter of the corpus's hard
negatives) are what the classifier's confidence turns into a question instead
of an alarm; ``docs/triage.md`` has the figures that chose this join.

A pure function of the text, the lexicon and the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal, Mapping

from dialogs.dangers import Danger, by_model, default_dangers
from dialogs.nlu.model import Model, Scores
from dialogs.triage import Lexicon, Triage

Level = Literal["urgent", "uncertain", "calm"]

#: Lexicon signals the classifier's confidence never turns into a question when
#: the message laughs: an act of self-harm already done (リスカしちゃった笑). A
#: joke marker does not undo an act. (Without laughter the classifier's calm
#: reading stands: 昔リスカしてたけど今は元気. Every act, and everything the lexicon
#: calls critical, were tried as never demoted: on blind sets 7-9 they added 3-7
#: points of hard-negative alarms and caught nothing more.)
_LAUGHTER = re.compile(r"[笑草😂🤣ｗ]|(?<![a-z])(?:w{1,}|lol|lmao)(?![a-z])", re.IGNORECASE)
NEVER_DEMOTED = frozenset({"self_harm.act", "self_harm.cutting", "self_harm.overdose", "self_harm.marks"})
#: The lexicon makes an uncertain reading urgent only from this probability on.
#: Below it, 殺す or 死にたい in what the classifier reads as a calm story (a
#: game, homework, a past that is over) gets the caring question, the 24-hour
#: number and the one tap 「いま あぶない」, not the whole crisis answer. With the
#: model frozen for blind sets 6-9 (not trained on them), 0.15 instead of the
#: uncertain threshold cost 1 of their 831 urgent messages and spared 12 of their
#: 304 hard negatives an alarm.
LEXICON_CONFIRMS = 0.15
#: An answer to the bot's own question is urgent from the classifier alone only above this.
ANSWER_URGENT = 0.9


@dataclass(frozen=True)
class Assessment:
    level: Level
    triage: Triage  # the verdict as the rest of the bot reads it (urgent, severity, reasons ...)
    category: str | None  # the crisis category the reply is written for
    about_other: bool  # someone else's danger, reported by a friend, guardian or teacher
    scores: Scores | None = None
    lexicon_fired: bool = False

    @property
    def urgent(self) -> bool:
        return self.level == "urgent"

    def only_if_sure(self) -> "Assessment":
        """Urgent only on a lexicon signal or a classifier near certainty; else calm.

        For messages that are not first messages of a story: the answer to a
        question the bot asked (who are you, which school year, the teacher's
        school and name: 中学2年です or 県立○○高校の山田です are not
        disclosures, and the classifier learned from first messages), and a
        message to a counsellor who is already reading the chat (the alert and
        the 24-hour number then go out on clear signals only)."""
        if self.lexicon_fired or (self.scores is not None and self.scores.urgency >= ANSWER_URGENT):
            return self
        return replace(self, level="calm", triage=Triage.calm(), category=None)


def assess(text: str, lexicon: Lexicon, model: Model | None, role: str | None = None,
           dangers: Mapping[str, Danger] | None = None) -> Assessment:
    """Read one typed message. ``role`` is what the session knows of the writer;
    ``dangers`` the kinds of danger (resources/triage/dangers.yaml)."""
    dangers = dangers if dangers is not None else default_dangers()
    lex = lexicon.triage(text)
    if model is None:
        level: Level = "urgent" if lex.urgent else "calm"
        category = lex.categories[0] if lex.categories else None
        return Assessment(level, lex, category, role in ("guardian", "teacher") and lex.urgent,
                          lexicon_fired=lex.urgent)
    scores = model.read(text)
    th = model.thresholds
    model_level: Level = (
        "urgent" if scores.urgency >= th["urgent"]
        else "uncertain" if scores.urgency >= th["uncertain"] else "calm"
    )
    # The classifier learned laughter as a sign of a joke; after an act it is not.
    certain = lex.urgent and not NEVER_DEMOTED.isdisjoint(lex.reasons) and _LAUGHTER.search(text) is not None
    confirmed = lex.urgent and model_level == "uncertain" and scores.urgency >= LEXICON_CONFIRMS
    if model_level == "urgent" or confirmed or certain:
        level = "urgent"
    elif lex.urgent or model_level == "uncertain":
        level = "uncertain"
    else:
        level = "calm"
    model_category = by_model(dangers)[scores.top("category")]
    # Whoever made it urgent names the kind of danger: the lexicon, unless the
    # classifier alone was sure.
    lexicon_decided = lex.urgent and model_level != "urgent"
    category = lex.categories[0] if lexicon_decided or (model_level == "calm" and lex.categories) else model_category
    # A guardian or teacher is usually writing about a child; the model says so
    # from the wording (息子, 生徒, my friend ...) when the role is not known.
    about_other = scores.about >= (0.35 if role in ("guardian", "teacher") else 0.5)
    if level == "urgent":
        categories = tuple(dict.fromkeys([category, *lex.categories]))
        danger = dangers[category]
        severity = lex.severity or danger.severity
        # The first reason names the category the reply was written for (the
        # handoff and the records take their category from it).
        reasons = lex.reasons if lexicon_decided else (f"{category}.nlu", *lex.reasons)
        life = lex.life_at_stake or danger.life_at_stake
        verdict = Triage(True, severity, categories, tuple(reasons), life)
    else:
        verdict = Triage.calm()
    # What a calm message asks for is read from scores.branch by the engine,
    # together with the keyword router (dialogs.engine._branches_asked).
    return Assessment(level, verdict, category if level != "calm" else None, about_other,
                      scores, lexicon_fired=lex.urgent)
