"""The audit log's store: who did what in the console, and when.

Every console action is appended to one Redis stream (``keys.audit_log()``):
who (the account name), when (epoch seconds), the action ("view_transcript",
"claim", "reply", "login_failed", ...), the handoff it concerned, how the
person was signed in (session or token) and a few small details (the hotline
of a card, who a chat was transferred to, a record's category). Never message
text, never a LINE id: the log says that a counsellor read a chat, not what
the chat said, so reading the log is not a second way to read the chats.

The log is never trimmed (no MAXLEN) and nothing purges it. It must outlive the
records it describes: the question "who read this child's chat" can come after
the transcript itself was purged, and the consultation records it refers to are
kept for good, so the log that says who touched them is kept too. An entry is
a few hundred bytes; a busy year is a few megabytes.

So no anonymous request may append to it, or a stranger could fill Redis (it
runs ``noeviction``: a full Redis stops the webhook). Entries are made only by
signed-in accounts, and by logins that name an existing account: a failed one
(with the address; the lock-out lets through at most 5 per account in 15
minutes, the last marked ``lock``) and a successful one. Attempts refused while
locked and failed logins on names that do not exist are *counted* instead
(``count_refused``): one hash a month, ``keys.audit_refused(month)``, with one
counter per day and kind, whatever the number of requests.

This module is the store and nothing else: it knows nothing of who is signed
in, so both bot.console.auth (logins, logouts) and bot.console.audit (the
views' ``record_action`` and the supervisors' page) write through it, and
neither imports the other's way round. ``write(action, who=..., via=...)``
takes the person explicitly; ``AuditLog(client, keys, clock)`` is the store,
for code outside a request (a CLI export names ``who`` itself).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

import redis
from flask import current_app

from bot.privacy import mask_pii
from bot.storage.keys import KeyBuilder

# The lines keep the logger they always had (bot.console.audit), whatever module writes them.
log = logging.getLogger("bot.console.audit")

AUDIT_EXTENSION = "netsoudan.console.audit"
#: The actions the console records, with what supervisors read for each.
ACTIONS: dict[str, str] = {
    "login": "ログイン",
    "login_failed": "ログイン失敗",
    "login_locked": "ログイン制限中の試行",
    "logout": "ログアウト",
    "view_transcript": "やりとりの閲覧",
    "view_history": "過去の相談の閲覧",
    "follow_up_done": "フォローアップ完了",
    "search": "終了した相談の検索",
    "canned_add": "自分の定型文の追加",
    "canned_delete": "自分の定型文の削除",
    "claim": "担当",
    "reply": "返信",
    "card": "窓口カード送信",
    "note": "メモ",
    "transfer": "引き継ぎ",
    "requeue": "待機に戻す",
    "return": "ボットに戻す",
    "escalate": "緊急対応の開始",
    "close": "終了（記録簿）",
    "alert_clear": "アラート確認",
    "export": "記録のエクスポート",
    "view_report": "月次報告の閲覧",
    "view_audit": "監査ログの閲覧",
    "end_sessions": "セッションの強制終了",
    "account_add": "アカウントの追加",
    "account_disable": "アカウントの無効化",
    "account_enable": "アカウントの有効化",
    "password_reset": "パスワードの再設定（一時パスワード）",
    "password_change": "自分のパスワードの変更",
    "token_revoke": "API トークンの無効化",
    "role_change": "役割の変更",
}
#: Anonymous refusals, counted per day rather than logged one by one (see the docstring).
REFUSED_KINDS: dict[str, str] = {
    "login_failed": "存在しないユーザー名でのログイン失敗",
    "login_locked": "ログイン制限中の試行",
}
#: Details are for a few codes and names, never free text: bounded in number and size.
MAX_DETAILS = 12
MAX_DETAIL_CHARS = 120
MAX_LIST = 500
#: How many entries one listing reads at most while filtering (newest first).
MAX_SCAN = 50_000
#: How far out of order two processes' clocks may put entries (seconds).
CLOCK_SKEW = 3600
_DETAIL_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
_TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class AuditEntry:
    id: str
    at: float
    who: str
    action: str
    handoff_id: str | None = None
    via: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["action_label"] = ACTIONS.get(self.action, self.action)
        data["at_text"] = datetime.fromtimestamp(self.at, _TOKYO).strftime("%Y-%m-%d %H:%M:%S")
        return data


#: A chat read again by the same sign-in within the same quarter hour is one entry.
READ_WINDOW_SECONDS = 15 * 60


class AuditLog:
    """The stream. ``clock``: epoch seconds (tests pass a manual one)."""

    def __init__(self, client: redis.Redis, keys: KeyBuilder, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._keys = keys
        self.clock = clock

    def append(self, action: str, who: str, *, handoff_id: str | None = None, via: str | None = None,
               details: dict[str, Any] | None = None) -> str:
        fields = {
            "at": repr(float(self.clock())),
            "who": _small(who or ""),
            "action": _small(action),
            "handoff": _small(handoff_id or ""),
            "via": _small(via or ""),
            "details": json.dumps(_clean_details(details or {}), ensure_ascii=False, sort_keys=True),
        }
        entry_id = self._client.xadd(self._keys.audit_log(), fields)  # no MAXLEN: see the module's docstring
        return _text(entry_id)

    def append_read(self, action: str, who: str, *, credential: str, handoff_id: str, what: str = "",
                    via: str | None = None, details: dict[str, Any] | None = None) -> str | None:
        """Append a read of one chat unless this sign-in (``credential``: a digest of its
        session id or token) already had one of ``what`` in that chat recorded in this
        quarter hour (READ_WINDOW_SECONDS). The id of the entry, or None when it was
        already recorded. The mark is taken first and given back if the entry cannot
        be written, so a failed write never hides the next read."""
        window = int(self.clock() // READ_WINDOW_SECONDS)
        digest = hashlib.sha256(f"{credential}\0{handoff_id}\0{what}\0{window}".encode()).hexdigest()
        mark = self._keys.audit_read_mark(digest)
        if not self._client.set(mark, b"1", nx=True, ex=READ_WINDOW_SECONDS * 2):
            return None
        try:
            return self.append(action, who, handoff_id=handoff_id, via=via, details=details)
        except redis.RedisError:
            self._client.delete(mark)
            raise

    def list(self, *, since: float | None = None, until: float | None = None, limit: int = 100,
             action: str | None = None, who: str | None = None,
             handoff_id: str | None = None) -> list[AuditEntry]:
        """Newest first, at most ``limit``, filtered by time (epoch seconds), action, who, handoff."""
        limit = max(1, min(int(limit), MAX_LIST))
        key = self._keys.audit_log()
        # Entries are filtered by their own "at" (this log's clock), not by the stream ids
        # (the Redis server's clock): the two may differ. The stream is in append order,
        # which is time order give or take clock skew between processes, so reading stops
        # once entries are well before ``since``.
        high = "+"
        found: list[AuditEntry] = []
        scanned = 0
        while len(found) < limit and scanned < MAX_SCAN:
            batch = self._client.xrevrange(key, max=high, min="-", count=500)
            if not batch:
                break
            for entry_id, raw in batch:
                scanned += 1
                entry = _entry(_text(entry_id), raw)
                if since is not None and entry.at < since - CLOCK_SKEW:
                    return found
                if since is not None and entry.at < since or until is not None and entry.at > until:
                    continue
                if action and entry.action != action or who and entry.who != who:
                    continue
                if handoff_id and entry.handoff_id != handoff_id:
                    continue
                found.append(entry)
                if len(found) >= limit:
                    break
            high = "(" + _text(batch[-1][0])  # exclusive: continue below the last one read
        return found

    def count(self) -> int:
        return int(self._client.xlen(self._keys.audit_log()))

    def count_refused(self, kind: str) -> None:
        """One more anonymous refusal of ``kind`` today (Tokyo): a counter, never an entry."""
        if kind not in REFUSED_KINDS:
            raise ValueError(f"refused kind {kind!r} is not one of {', '.join(REFUSED_KINDS)}")
        day = datetime.fromtimestamp(self.clock(), _TOKYO)
        self._client.hincrby(self._keys.audit_refused(day.strftime("%Y-%m")), f"{day:%Y-%m-%d}:{kind}", 1)

    def refused(self, month: str) -> dict[str, dict[str, int]]:
        """The month's (YYYY-MM) counted refusals: {day: {kind: n}}, days in order."""
        raw = self._client.hgetall(self._keys.audit_refused(month))
        days: dict[str, dict[str, int]] = {}
        for field_name, value in raw.items():
            day, _, kind = _text(field_name).partition(":")
            try:
                days.setdefault(day, {})[kind] = int(value)
            except ValueError:
                continue
        return dict(sorted(days.items()))


def init_app(app, runtime) -> None:  # type: ignore[no-untyped-def]
    """The store for this app (bot.console.audit.init_app adds the supervisors' page and API)."""
    app.extensions[AUDIT_EXTENSION] = AuditLog(runtime.client, runtime.keys)


def audit_log(app=None) -> AuditLog:  # type: ignore[no-untyped-def]
    return (app or current_app).extensions[AUDIT_EXTENSION]


def write(action: str, *, who: str | None, via: str | None = None, handoff_id: str | None = None,
          details: dict[str, Any] | None = None, strict: bool = False) -> None:
    """Append one entry by ``who`` (signed in by ``via``: "session", "token" or None).

    ``strict=True`` (a view that *shows* something): if the log cannot be written the
    error goes up and nothing is shown. Otherwise a failed write is logged and the
    action that already happened stays a success.
    """
    try:
        audit_log().append(action, who or "", handoff_id=handoff_id, via=via, details=details)
    except redis.RedisError:
        log.error("audit: could not record %r", action)
        if strict:
            raise


def count_refused(kind: str) -> None:
    """Count one anonymous refusal (see the module's docstring); a Redis error is only logged."""
    try:
        audit_log().count_refused(kind)
    except redis.RedisError:
        log.error("audit: could not count %r", kind)


# --- inside -----------------------------------------------------------------------------

def _clean_details(details: dict[str, Any]) -> dict[str, str]:
    """A few short values under plain keys; personal data masked in case a caller slipped."""
    clean: dict[str, str] = {}
    for key, value in list(details.items())[:MAX_DETAILS]:
        if not isinstance(key, str) or not _DETAIL_KEY.fullmatch(key) or value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        clean[key] = _small(mask_pii(str(value)))
    return clean


def _small(value: str) -> str:
    value = "".join(c for c in str(value) if c.isprintable())
    return value[:MAX_DETAIL_CHARS]


def _entry(entry_id: str, raw: dict[Any, Any]) -> AuditEntry:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    try:
        at = float(fields.get("at", "0"))
    except ValueError:
        at = 0.0
    try:
        details = json.loads(fields.get("details") or "{}")
    except ValueError:
        details = {}
    if not isinstance(details, dict):
        details = {}
    return AuditEntry(id=entry_id, at=at, who=fields.get("who", ""), action=fields.get("action", ""),
                      handoff_id=fields.get("handoff") or None, via=fields.get("via") or None,
                      details={str(k): str(v) for k, v in details.items()})


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
