"""Charts: SVG text with Japanese labels when a CJK font is installed, the codes
(romanised) when not, never boxes instead of words."""

from __future__ import annotations

from bot.records import charts
from bot.records.report import Count

COUNTS = [Count("child", "児童生徒", 5), Count("guardian", "保護者", 3)]


def test_a_chart_is_inline_svg_with_the_numbers():
    svg = charts.bars(COUNTS, "相談者 (role)")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert ">5<" in svg.replace(" ", "") or " 5" in svg


def test_without_a_cjk_font_labels_fall_back_to_codes(monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    svg = charts.bars(COUNTS, "相談者 (role)")
    assert "child" in svg and "role" in svg
    assert "児童生徒" not in svg and "相談者" not in svg


def test_with_a_cjk_font_labels_are_japanese(monkeypatch):
    monkeypatch.setattr(charts, "cjk_font", lambda: "Noto Sans CJK JP")
    svg = charts.bars(COUNTS, "相談者 (role)")
    assert "児童生徒" in svg and "相談者" in svg and "(role)" not in svg
