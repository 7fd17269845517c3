"""The monthly report as HTML: a standalone A4 document (CLI, docs/) or the body
of the supervisor's console page.

Charts are SVG. In the standalone file they are inline ``<svg>`` elements. The
console is served with ``style-src 'self'``, which would strip the style
attributes matplotlib writes into SVG, so there each chart is an ``<img>`` of a
``data:`` URL: an image is its own document, untouched by the page's policy.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot.records import charts
from bot.records.report import MonthReport, minutes

HERE = Path(__file__).parent
CSS = (HERE / "static" / "report").with_suffix(".css")  # not a "name.ext" literal: see output.HTML_NAME


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str

    def inline(self) -> Markup:
        return Markup(self.svg)

    def as_img(self) -> Markup:
        data = base64.b64encode(self.svg.encode("utf-8")).decode("ascii")
        return Markup('<img class="chart" alt="{}" src="data:image/svg+xml;base64,{}">').format(self.title, data)


def build_charts(report: MonthReport) -> dict[str, Chart]:
    """Each chart once, so the standalone file and the page show the same drawing."""
    specs = {
        "category": ("相談の種類 (category)", report.by_category, True),
        "role": ("相談者 (role)", report.by_role, True),
        "level": ("学校種別 (school level)", report.by_level, True),
        "lang": ("言語 (language)", report.by_lang, True),
        "weekday": ("曜日 (weekday)", report.by_weekday, False),
        "hour": ("時間帯 (hour)", report.by_hour, False),
    }
    made = {name: Chart(title, charts.bars(counts, title, horizontal))
            for name, (title, counts, horizontal) in specs.items()}
    hotlines = [charts.Count(h.id, h.name, h.referred + h.shown) for h in report.hotlines]
    made["hotlines"] = Chart("紹介・表示の多い窓口 (hotlines)",
                             charts.bars(hotlines, "紹介・表示の多い窓口 (hotlines)", True))
    return made


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["minutes"] = minutes
    return env


def standalone(report: MonthReport, desk_name: str, generated_at: str, *, demo: bool = False) -> str:
    """The report file: one file with its CSS and inline SVG, to print on A4 or mail.
    ``demo``: the records were generated; every page says デモデータ."""
    made = build_charts(report)
    return _environment().get_template("records/report.html").render(
        report=report, charts={k: c.inline() for k, c in made.items()}, desk_name=desk_name,
        generated_at=generated_at, css=Markup(CSS.read_text(encoding="utf-8")), demo=demo)


def context(report: MonthReport, *, demo: bool = False) -> dict:
    """What the console page's template needs beside the report: the charts as images,
    and whether the records were generated (デモデータ on the page)."""
    return {"charts": {k: c.as_img() for k, c in build_charts(report).items()}, "demo": demo}
