"""What counsellors read for the queue's codes: roles, categories, severities,
statuses and transcript events, in Japanese.

The queue and the dialogue keep short English codes (``self_harm``,
``guardian``, ``claimed``); the console shows these words instead, in the
pages and next to the codes in the JSON API, so a script using the API and a
counsellor reading the page see the same thing.
"""

from __future__ import annotations

# The record's own codes (role, category, school contact, language, severity, the
# signs triage saw): defined with the records, which show them in the report and the CSV.
from bot.records.labels import (
    CATEGORY_LABELS,
    LANG_LABELS,
    REASON_KINDS,
    REASON_LABELS,
    ROLE_LABELS,
    SCHOOL_CONTACT_LABELS,
    SEVERITY_LABELS,
    reason_label,
)

__all__ = [
    "ALERT_LABELS", "CATEGORY_LABELS", "EVENT_LABELS", "LANG_LABELS", "ROLE_LABELS", "SCHOOL_CONTACT_LABELS",
    "REASON_KINDS", "REASON_LABELS", "SEVERITY_LABELS", "STATUS_LABELS", "SYSTEM_TEXT_LABELS", "alert_label", "category_label",
    "event_label", "reason_label", "role_label", "severity_label", "status_label", "system_text",
]


STATUS_LABELS: dict[str, str] = {
    "waiting": "待機中",
    "claimed": "対応中",
    "closed": "終了",
    "bot": "ボットに戻した",
}

ALERT_LABELS: dict[str, str] = {
    "danger": "新たな危険のサイン",
    "idle": "対応が止まっています",
}

#: System entries of the transcript (bot.handoff.transitions, bridge notes).
EVENT_LABELS: dict[str, str] = {
    "claimed": "{by} さんが担当しました",
    "transferred": "{by} さんが {to} さんに引き継ぎました",
    "requeued": "{by} さんが待機列に戻しました",
    "returned_to_bot": "{by} さんがボットに戻しました",
    "closed": "{by} さんが相談を終了しました",
    "escalated": "{by} さんが緊急対応（エスカレーション）を開始しました",
}

#: The few English notes the worker writes into transcripts (bot.handoff.bridge).
SYSTEM_TEXT_LABELS: dict[str, str] = {
    "image received": "画像を受け取りました",
    "user blocked the bot": "利用者がボットをブロックしました（この相談は続けられません）",
    "[image: LINE no longer has it]": "［画像：LINEに残っていなかったため保存できませんでした］",
    "[followed the bot again]": "［友だち追加し直しました］",
    "[sticker]": "［スタンプ］",
    "[image]": "［画像］",
    "[video]": "［動画］",
    "[audio]": "［音声］",
    "[file]": "［ファイル］",
    "[location]": "［位置情報］",
    "[tap]": "［ボタンを押しました］",
    "[typed before the handoff: not kept]": "［文字でメッセージを送りました（相談員につながる前のため、内容は保存していません）］",
}


def role_label(role: str | None) -> str:
    return ROLE_LABELS.get(role or "unknown", role or "不明")


def category_label(category: str | None) -> str:
    return CATEGORY_LABELS.get(category or "other", category or "その他")


def severity_label(severity: str | None) -> str:
    return SEVERITY_LABELS.get(severity, severity or "通常")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def alert_label(alert: str | None) -> str | None:
    return None if alert is None else ALERT_LABELS.get(alert, alert)


def event_label(event: str, by: str | None, to: str | None = None) -> str:
    template = EVENT_LABELS.get(event)
    if template is None:
        return event
    return template.format(by=by or "システム", to=to or "?")


def system_text(text: str) -> str:
    return SYSTEM_TEXT_LABELS.get(text, text)
