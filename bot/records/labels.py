"""Japanese words for the codes a consultation record holds: the person's role,
the category, the answer about contacting the school, the language.

The monthly report, the CSV export (bot.records) and the console's pages and
JSON API (bot.console.labels, which takes these from here) all show the same
words, so they are defined once, here, with the records: bot.records does not
import the console.
"""

from __future__ import annotations

ROLE_LABELS: dict[str, str] = {
    "child": "児童生徒",
    "guardian": "保護者",
    "teacher": "教職員",
    "unknown": "不明",
}

#: The chart's branches (dialogs.directory.BRANCHES), triage's crisis
#: categories and the handoff's own ("human", "other").
CATEGORY_LABELS: dict[str, str] = {
    "self_harm": "自殺・自傷のおそれ",
    "threat": "命や身体への脅し",
    "extortion": "脅迫・性的画像の脅し",
    "grooming": "誘い出し・グルーミングのおそれ",
    "abuse": "家庭での虐待のおそれ",
    "violence_by_writer": "本人による加害・予告のおそれ",
    "crisis": "緊急",
    "talk": "悩みを話したい",
    "expert": "専門家に相談したい",
    "delete": "書き込み・画像の削除",
    "damages": "損害賠償",
    "danger": "身の危険・脅迫",
    "report": "違法・有害情報の通報",
    "mail": "いやがらせメール",
    "bill": "身に覚えのない請求",
    "security": "ウイルス・不正アクセス",
    "human": "相談員と話したい",
    "other": "その他",
}

#: The record's answer to "may the school be contacted?" (取扱要領 I-1 (7)).
SCHOOL_CONTACT_LABELS: dict[str, str] = {
    "yes": "了解を得た",
    "no": "了解は得られなかった",
    "not_asked": "確認していない",
}

LANG_LABELS: dict[str, str] = {"ja": "日本語", "ja_easy": "やさしい日本語", "en": "英語"}
