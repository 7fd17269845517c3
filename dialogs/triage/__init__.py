"""Crisis triage: is a child in danger? Checked on every message, before anything else.

A pure function of the message text. The words are data
(``resources/triage/lexicon.yaml``), checked at load against
``resources/schemas/lexicon.schema.json`` and then by running every entry's own
examples and not-examples, so a lexicon edit that stops catching what it was
written for fails start-up and the tests, naming the entry.

How a message is read:

1. ``normalize`` folds the ways children write the same word: full- and
   half-width forms, katakana and hiragana, upper and lower case, spaces,
   punctuation, emoji and long marks (死 に た い, ｼﾆﾀｲ, しにたーい), and the
   net spellings of 死 (タヒ, 氏, 4) where they are followed by the kana that
   make them a word (タヒにたい, 4にたい), not in またひとり or 2024ねん.
2. Idioms (死ぬほど, ゲームで死, 殺虫, 必死 ...) are cut out of the normalized
   text, so that 死ぬほどつらい、死にたい still reads 死にたい.
3. Every entry whose patterns match fires; the severity is the highest of
   them, raised to critical by a modifier (a plan, a place, a time, a method,
   a farewell, a weapon) for the categories the modifier applies to.

The lexicon errs towards asking: a false alarm costs a child one message with
the 24-hour number and an offer of a person; a miss may cost a life. Recall
and false alarms on the labelled set are printed by ``python -m bot
triage-report`` and held at 100 % / at most 5 % by the tests.

The modules: :mod:`~dialogs.triage.normalise` (the forms of a message),
:mod:`~dialogs.triage.matcher` (patterns, rules, the lexicon and its verdict),
:mod:`~dialogs.triage.loader` (the YAML file, its checks, the shipped lexicon).
"""

from dialogs.triage.loader import LEXICON_PATH, LexiconError, default_lexicon, load_lexicon, parse_lexicon, triage
from dialogs.triage.matcher import CATEGORIES, Lexicon, Triage
from dialogs.triage.normalise import normalize, romaji_kana, words

__all__ = [
    "CATEGORIES",
    "LEXICON_PATH",
    "Lexicon",
    "LexiconError",
    "Triage",
    "default_lexicon",
    "load_lexicon",
    "normalize",
    "parse_lexicon",
    "romaji_kana",
    "triage",
    "words",
]
