"""The month's records as CSV for Excel in Japan: UTF-8 with a BOM (without it
Excel reads Shift_JIS and shows mojibake), CRLF line ends, one row per
consultation, Japanese column names, codes kept beside their labels.

No message text is in a record; the counsellor's free-text fields (advice,
follow-up) may still hold a phone number or an address a child gave, so they
are masked with bot.privacy.mask_pii before they leave the system.

Every cell goes through :func:`neutralise` on its way out, in the console's
download and ``python -m bot report`` alike (both write :func:`to_csv`): a cell
that a spreadsheet would take for a formula (``=HYPERLINK(...)``,
``+cmd|...``, ``@SUM(...)``) is written as text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.records.labels import (
    CATEGORY_LABELS,
    ENDED_LABELS,
    LANG_LABELS,
    ROLE_LABELS,
    SCHOOL_CONTACT_LABELS,
    SEVERITY_LABELS,
    reason_label,
)
from bot.privacy import mask_pii
from bot.records.book import Record
from bot.records.report import LEVEL_LABELS, WEEKDAYS_JA
from dialogs.hours import TOKYO

BOM = "\ufeff"
#: A column named "…（コード）" holds the codes of the column before it, for a
#: script or a pivot table; people read the words.
COLUMNS = (
    "記録ID", "利用者（仮名）", "開始日", "曜日", "時", "開始時刻", "受付時間外", "相談者", "学校種別", "言語",
    "相談の種類", "相談の種類（コード）", "到達した分岐", "到達した分岐（コード）", "表示した窓口",
    "表示した窓口（コード）", "緊急", "重大度", "重大度（コード）", "危険のサイン", "危険のサイン（コード）",
    "相談員へ引き継ぎ", "待機時間（秒）", "初回応答（秒）", "終了理由", "終了理由（コード）", "記録簿：相談者",
    "記録簿：種類", "記録簿：紹介した窓口", "記録簿：紹介した窓口（コード）", "記録簿：学校連絡の了解",
    "記録簿：フォローアップ要", "記録簿：助言（マスク済）", "記録簿：フォローアップ内容（マスク済）",
)
#: Several values in one cell: joined so Excel's text functions split them.
_AND = "、"

#: Columns whose cells are numbers the bot wrote (hour, seconds): a real number stays a number.
NUMERIC_COLUMNS = frozenset(COLUMNS.index(name) for name in ("時", "待機時間（秒）", "初回応答（秒）"))

#: A cell starting with one of these is read as a formula by Excel, LibreOffice and Google
#: Sheets (OWASP, "CSV Injection"); tab and carriage return because they are skipped before one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def neutralise(cell: str, *, numeric: bool = False) -> str:
    """The cell, as text a spreadsheet shows and never runs: a leading ``'`` before one that
    starts like a formula (Excel hides the quote and reads the rest as text; OWASP's advice).
    ``numeric``: the column holds numbers, and a cell that is one (``-3``) is kept readable."""
    if numeric and _NUMBER.fullmatch(cell):
        return cell
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _time(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, TOKYO).strftime("%Y-%m-%d %H:%M:%S") if epoch else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _yes(value: bool) -> str:
    return "はい" if value else "いいえ"


def row(record: Record, hotline_name: Callable[[str], str] = str) -> list[str]:
    """One record's cells. ``hotline_name``: a hotline id's name (the directory's;
    bot.records.output.hotline_namer), the id itself when none is given."""
    closing = record.closing or {}
    follow = closing.get("follow_up") or {}
    referred = [h for h in closing.get("referred") or [] if isinstance(h, str)]
    return [
        record.id, record.user[:8], record.date, WEEKDAYS_JA[record.weekday], str(record.hour),
        _time(record.started_at), _yes(record.outside_hours),
        ROLE_LABELS.get(record.role or "", "不明"), LEVEL_LABELS.get(record.level or "", ""),
        LANG_LABELS.get(record.lang or "", record.lang or ""),
        CATEGORY_LABELS.get(record.category, record.category), record.category,
        _AND.join(CATEGORY_LABELS.get(b, b) for b in record.branches), " ".join(record.branches),
        _AND.join(hotline_name(h) for h in record.hotlines), " ".join(record.hotlines),
        _yes(record.urgent), SEVERITY_LABELS.get(record.severity, record.severity or ""), record.severity or "",
        _AND.join(reason_label(r) for r in record.reasons), " ".join(record.reasons),
        _yes(record.handed_off), _seconds(record.wait_seconds), _seconds(record.first_response_seconds),
        ENDED_LABELS.get(record.ended_by or "", record.ended_by or ""), record.ended_by or "",
        ROLE_LABELS.get(closing.get("role") or "", "") if closing else "",
        CATEGORY_LABELS.get(closing.get("category") or "", "") if closing else "",
        _AND.join(hotline_name(h) for h in referred), " ".join(referred),
        SCHOOL_CONTACT_LABELS.get(closing.get("school_contact_agreed") or "", ""),
        (_yes(bool(follow.get("needed"))) if closing else ""),
        mask_pii(str(closing.get("advice") or "")),
        mask_pii(str(follow.get("text") or "")),
    ]


def to_csv(records: Sequence[Record], hotline_name: Callable[[str], str] = str) -> str:
    """The CSV text, BOM first (``hotline_name`` as for :func:`row`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([neutralise(cell, numeric=n in NUMERIC_COLUMNS)
                         for n, cell in enumerate(row(record, hotline_name))])
    return BOM + buffer.getvalue()
