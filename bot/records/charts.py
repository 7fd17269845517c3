"""The report's charts: matplotlib (Agg, no display), as inline SVG text.

Japanese labels need a CJK font. Noto Sans CJK JP (Debian's fonts-noto-cjk) is
used when installed; without it, labels fall back to the codes' romanised
forms, since boxes instead of words would be worse than English.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")  # no display in a web or CLI process

from matplotlib import font_manager  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bot.records.report import Count  # noqa: E402

CJK_FAMILIES = ("Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAGothic", "TakaoPGothic")
BAR = "#2f6f9f"
ACCENT = "#c0504d"
# One chart is half an A4 page wide when printed: drawn at about that size (inches),
# so 9-point labels stay 9 points on paper instead of being scaled down.
WIDTH, HEIGHT = 3.9, 2.4
FONT = 8.5
# rcParams are global: two supervisors' pages drawn at once in one web process would
# mix their settings. Drawing is quick (well under a second a chart), so one at a time.
_DRAWING = threading.Lock()


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first installed CJK family, or None (labels then use the codes)."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in installed), None)


def _label(count: Count) -> str:
    return count.label if cjk_font() else count.code


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    # Inline in HTML: drop the XML prolog and DOCTYPE; keep the <svg> element.
    svg = svg[svg.index("<svg"):]
    # Unique ids per chart would be needed if two charts shared clip-path ids; matplotlib
    # derives them from a hash of the content, so prefixing keeps them apart regardless.
    return svg


def _figure(height: float = HEIGHT):
    family = cjk_font()
    params = {"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
              # Glyphs as paths: the chart looks the same on a PC without a Japanese font
              # and inside an <img> (which may not use the page's fonts); prints sharp as vectors.
              "svg.fonttype": "path",
              # Ids from the content, not a random salt: the same month gives the same file.
              "svg.hashsalt": "netsoudan-report", "svg.id": None,
              "axes.spines.top": False, "axes.spines.right": False}
    with rc_context(params):
        # A bare Figure, not pyplot: no global figure registry to leak into or to close.
        fig = Figure(figsize=(WIDTH, height))
        ax = fig.subplots()
    return fig, ax, params


def bars(counts: Sequence[Count], title: str, horizontal: bool = True, highlight: set[str] | None = None) -> str:
    """A bar chart of counts, labelled with the numbers themselves."""
    with _DRAWING:
        return _bars(counts, title, horizontal, highlight)


def _bars(counts: Sequence[Count], title: str, horizontal: bool, highlight: set[str] | None) -> str:
    fig, ax, params = _figure(max(1.4, 0.24 * len(counts) + 0.6) if horizontal else HEIGHT)
    with rc_context(params):
        labels = [_label(c) for c in counts]
        values = [c.count for c in counts]
        colors = [ACCENT if highlight and c.code in highlight else BAR for c in counts]
        if horizontal:
            positions = list(range(len(counts)))[::-1]
            ax.barh(positions, values, color=colors)
            ax.set_yticks(positions, labels)
            for y, v in zip(positions, values):
                ax.text(v, y, f" {v}", va="center", fontsize=FONT - 1)
            ax.set_xlim(0, max(values + [1]) * 1.15)
        else:
            ax.bar(range(len(counts)), values, color=colors)
            # 24 hours do not fit side by side: every third is labelled (0, 3, 6, ...).
            step = 3 if len(counts) > 12 else 1
            ticks = list(range(0, len(counts), step))
            ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=FONT)
            ax.set_ylim(0, max(values + [1]) * 1.15)
        ax.set_title(_title(title), fontsize=FONT + 1.5, loc="left")
        ax.tick_params(labelsize=FONT)
        return _svg(fig)


def _title(title: str) -> str:
    """'相談者 (role)': the Japanese part with a CJK font, else the English in parentheses."""
    found = re.search(r"\s*\(([^)]*)\)\s*$", title)
    if cjk_font():
        return title[:found.start()] if found else title
    return found.group(1) if found else "chart"
