"""python -m bot report writes report.html and records.csv, from a real
redis-server's records or from a generated month (--demo)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.records.demo import generate
from bot.storage.keys import KeyBuilder
from tests.records.test_purge import _env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e  # every test starts `python -m bot report`


def test_report_from_the_stores_records(redis_settings, redis_client, directory, tmp_path):
    keys = KeyBuilder(secret=b"cli-purge-secret-0123456789abcdef")
    generate(redis_client, keys, directory, month="2026-11", count=40, seed=5)
    done = subprocess.run([sys.executable, "-m", "bot", "report", "--month", "2026-11", "--out", str(tmp_path)],
                          cwd=ROOT, env=_env(redis_settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "40 consultations" in done.stdout
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 7 and "@page" in html and "size: A4" in html
    assert (tmp_path / "records.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_report_demo_needs_no_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "bot", "report", "--month", "2026-11", "--demo", "--out",
                           str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
    assert len((tmp_path / "out" / "records.csv").read_text(encoding="utf-8-sig").splitlines()) == 301
    assert "デモデータ" in done.stdout
    assert "<title>【デモデータ】" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


@pytest.mark.browser
def test_every_printed_page_of_a_demo_report_says_demo_data(tmp_path, browser):
    """Chromium prints a fixed element on every sheet: the mark is one, in print too."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    subprocess.run([sys.executable, "-m", "bot", "report", "--month", "2026-11", "--demo", "--out", str(tmp_path)],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto((tmp_path / "report.html").as_uri())
        page.emulate_media(media="print")
        mark = page.locator(".demo-mark")
        assert mark.text_content() == "デモデータ" and mark.is_visible()
        assert mark.evaluate("m => getComputedStyle(m).position") == "fixed"
        pdf = page.pdf(format="A4")
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2  # more than one sheet to mark
    finally:
        context.close()


def test_a_bad_month_is_refused_by_the_parser():
    done = subprocess.run([sys.executable, "-m", "bot", "report", "--month", "11/2026"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "2026-11" in done.stderr
